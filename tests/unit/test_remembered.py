"""What the store gives back at start: each reminder's last stage and the last daily check (attack16)."""

from gaslatch.core import events as E
from gaslatch.unit.remembered import RECALL_LIMIT, remembered
from tests.unit.test_event_store import open_store, rec


def test_years_of_daily_checks_do_not_push_an_old_reminder_out_of_what_is_read_back(tmp_path):
    # Found by attack16: one query with one limit for both types: after RECALL_LIMIT daily checks (about ten years
    # of one or two a day) the valve's end-of-life reminder, announced once years before, was no longer read back,
    # and every restart announced it again.
    store = open_store(tmp_path / "events.db", max_events=RECALL_LIMIT * 2)
    try:
        records = [rec(1, E.MAINTENANCE_DUE, E.SEVERITY_WARNING, "valve:end_of_life", "due", "2030-03-01")]
        for i in range(RECALL_LIMIT):
            records.append(rec(i + 2, E.DAILY_CHECK, E.SEVERITY_INFO, "panel operator", "done", "2031-01-01"))
        records.append(rec(RECALL_LIMIT + 2, E.DAILY_CHECK, E.SEVERITY_WARNING, "daily_check", "missed",
                           "2031-01-02"))
        store.append(records)
        assert store.flush(10.0)
        announced, last_check = remembered(store)
    finally:
        store.close()
    assert announced == {"valve:end_of_life": ("due", "2030-03-01")}
    assert last_check == ("missed", "2031-01-02", "daily_check")
