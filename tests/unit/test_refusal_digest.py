"""Refusals from outside cost a bounded number of events: the first at once, then one digest a period."""

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.unit.refusal_digest import RefusalDigest

PERIOD_MS = 60000


def test_the_first_refusal_after_a_quiet_period_is_recorded_at_once():
    digest = RefusalDigest("platform commands", PERIOD_MS)
    assert digest.refused(1000, "hmac", "close_valve refused (hmac): wrong hmac") == [
        (1, "close_valve refused (hmac): wrong hmac")]
    assert digest.due(1000 + PERIOD_MS) == []  # nothing more came: the period ends quietly
    assert digest.refused(1000 + PERIOD_MS + 5, "stale", "first again") == [(1, "first again")]


def test_refusals_inside_a_period_become_one_digest_with_the_count_per_code_and_a_sample():
    digest = RefusalDigest("platform commands", PERIOD_MS)
    digest.refused(0, "malformed", "first")
    assert digest.refused(10, "malformed", "second", count=40) == []
    assert digest.refused(20, "hmac", "third", count=2) == []
    assert digest.due(PERIOD_MS - 1) == []
    assert digest.due(PERIOD_MS) == [(42, "42 more platform commands refused in the last 60 s (hmac 2, "
                                          "malformed 40); the first: second")]
    assert digest.due(2 * PERIOD_MS) == []
    assert digest.flush() == []


def test_a_stop_records_what_is_held_so_no_count_is_lost():
    digest = RefusalDigest("platform commands", PERIOD_MS)
    digest.refused(0, "fields", "first", count=5)
    assert digest.flush() == [(4, "4 more platform commands refused before the stop (fields 4); the first: first")]


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 5000), st.sampled_from(["hmac", "malformed", "stale"]),
                          st.integers(1, 1000)), max_size=300))
def test_a_flood_of_any_shape_costs_at_most_two_events_a_period_and_every_refusal_is_counted(batches):
    digest = RefusalDigest("platform commands", PERIOD_MS)
    now_ms = 0
    events = []
    for step_ms, code, count in batches:
        now_ms += step_ms
        events += [(now_ms, n) for n, _ in digest.refused(now_ms, code, code, count)]
        events += [(now_ms, n) for n, _ in digest.due(now_ms)]
    events += [(now_ms, n) for n, _ in digest.flush()]
    assert sum(n for _, n in events) == sum(count for _, _, count in batches)
    assert len(events) <= 2 * (now_ms // PERIOD_MS + 1) + 1
