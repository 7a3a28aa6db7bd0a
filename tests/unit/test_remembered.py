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
    assert last_check[-2:] == [("done", "2031-01-01", "panel operator"), ("missed", "2031-01-02", "daily_check")]


def test_a_full_store_drops_old_telemetry_before_a_reminder_so_a_restart_does_not_repeat_it(tmp_path):
    # Found by attack16: a "soon" reminder is an info event, and a delivered info event is the first thing retention
    # drops when the store is full; the unit reads each reminder's stage back from the store at start, so once it was
    # dropped every restart announced "soon" again (with the smallest store, 1000 events, within weeks of panel
    # logins and schedule changes).
    store = open_store(tmp_path / "events.db", max_events=1000)
    try:
        store.append([rec(1, E.MAINTENANCE_DUE, E.SEVERITY_INFO, "d1:calibration", "soon", "2027-01-08")])
        store.append([rec(seq, E.SCHEDULE, E.SEVERITY_INFO, "schedule", "attended") for seq in range(2, 1200)])
        assert store.flush(10.0)
        store.ack(1199)
        store.append([rec(seq, E.SCHEDULE, E.SEVERITY_INFO, "schedule", "attended") for seq in range(1200, 1400)])
        assert store.flush(10.0)
        assert store.health()["dropped"] > 0
        announced, _ = remembered(store)
    finally:
        store.close()
    assert announced == {"d1:calibration": ("soon", "2027-01-08")}
