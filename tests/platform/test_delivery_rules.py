"""The rules of the platform's acknowledgements, without a broker or a database: the walk, the resend schedule.

Checked against a brute-force reference on generated stores: an ack may only ever cover stored or lost seqs.
"""

from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import events as E
from gaslatch_tools.platform import delivery as D
from gaslatch_tools.platform.receiver import safe_text
from gaslatch_tools.platform.storage import merged, without

KEY = D.StoreKey("site", "unit", "ab12")


def runs_of(seqs):
    """Sorted seqs as runs of consecutive ones, as the storage reads them."""
    out = []
    for seq in sorted(seqs):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def reference_walk(through, stored, lost):
    """One seq at a time: the next is stored, or lost below a stored one."""
    lost_seqs = {seq for first, last in lost for seq in range(first, last + 1)}
    while True:
        beyond = [s for s in stored if s > through + 1]
        if through + 1 in stored or (through + 1 in lost_seqs and beyond):
            through += 1
        else:
            break
    above = [s for s in stored if s > through]
    return through, ((through + 1, min(above) - 1) if above else None)


seq_sets = st.sets(st.integers(1, 60), max_size=40)
lost_ranges = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 10)).map(lambda t: (t[0], t[0] + t[1])),
                       max_size=5)


@given(st.integers(0, 30), seq_sets, lost_ranges)
def test_the_walk_covers_only_stored_seqs_and_lost_ones_below_a_stored_one(start, stored, lost):
    through, hole = D.walk(start, [r for r in runs_of(stored) if r[1] > start], lost)
    assert (through, hole) == reference_walk(start, stored, lost)
    assert through == start or through <= max(stored)


def test_a_lost_range_closes_a_hole_but_never_acknowledges_beyond_the_highest_stored_seq():
    assert D.walk(2, [(5, 5)], [(3, 4)]) == (5, None)
    assert D.walk(2, [(5, 5)], [(3, 100)]) == (5, None)
    assert D.walk(2, [], [(3, 100)]) == (2, None)
    assert D.walk(2, [(9, 9)], [(3, 4)]) == (4, (5, 8))


def test_a_hole_is_asked_for_after_two_seconds_then_every_5_s_doubling_to_60_s():
    gaps = D.GapRequests()
    gaps.update(KEY, (3, 4), 100.0)
    assert gaps.due(101.9) == []
    times = [t for t in (102.0, 106.9, 107.0, 116.9, 117.0, 137.0, 177.0, 237.0, 297.0) if gaps.due(t)]
    assert times == [102.0, 107.0, 117.0, 137.0, 177.0, 237.0, 297.0]
    gaps.update(KEY, (3, 7), 300.0)  # the same hole, grown: the schedule goes on
    assert gaps.due(356.0) == [] and gaps.due(357.0) == [(KEY, (3, 7))]
    gaps.update(KEY, (5, 7), 358.0)  # the ack advanced: a new hole, asked for 2 s later
    assert gaps.due(359.9) == [] and gaps.due(360.0) == [(KEY, (5, 7))]
    gaps.update(KEY, None, 361.0)
    assert gaps.keys() == [] and gaps.due(1000.0) == []


def test_one_request_asks_for_at_most_1000_events():
    assert D.resend_range((3, 4)) == (3, 4)
    assert D.resend_range((1, 5000)) == (1, 1000)


def test_a_repeated_ack_is_sent_at_most_once_a_second_per_store():
    reacks = D.Reacks()
    assert reacks.allowed(KEY, 10.0)
    reacks.sent(KEY, 10.0)
    assert not reacks.allowed(KEY, 10.9)
    assert reacks.allowed(KEY._replace(store="cd34"), 10.9)
    assert reacks.allowed(KEY, 11.0)


@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 5)).map(lambda t: (t[0], t[0] + t[1])), max_size=6),
       st.integers(1, 40), st.integers(0, 10))
def test_gaps_leave_out_exactly_the_lost_seqs(lost, first, length):
    hole = (first, first + length)
    parts = without(hole, merged(lost))
    lost_seqs = {s for a, b in lost for s in range(a, b + 1)}
    assert [s for a, b in parts for s in range(a, b + 1)] == [s for s in range(first, first + length + 1)
                                                             if s not in lost_seqs]


@given(st.text(st.characters(exclude_categories=()), max_size=1100)
       | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=995, max_size=1005))
def test_the_receivers_safe_text_is_the_units(text):
    assert safe_text(text) == E.safe_text(text)


def test_a_request_spans_every_hole_below_the_highest_stored_seq_up_to_the_units_limit():
    assert D.request_span((3, 4), 5) == (3, 4)  # one hole: just it
    assert D.request_span((3, 4), 100) == (3, 99)  # holes beyond it too, the stored ones between re-sent
    assert D.request_span((3, 4), None) == (3, 4)
    assert D.request_span((10, 20), 10 ** 6) == (10, 10 + D.MAX_RESEND - 1)
    assert D.request_span((10, 5000), 10 ** 6) == (10, 5000)  # resend_range caps what one request asks
    assert D.resend_range(D.request_span((10, 5000), 10 ** 6)) == (10, 10 + D.MAX_RESEND - 1)
