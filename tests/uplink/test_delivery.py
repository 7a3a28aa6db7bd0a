"""The unit's delivery bookkeeping (gaslatch.unit.delivery) on a real event store, time driven by a test clock.

What a user would notice: an event counts as delivered only when the platform says it stored it; nothing
the broker accepted and lost stays lost; an absent platform costs a bounded, slowing trickle; a gap the
platform asks for is filled or answered as gone.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gaslatch.core import uplink_wire as W
from gaslatch.unit import delivery as DL
from gaslatch.unit.event_store import EventStore, StoreError, UnavailableStore
from gaslatch_tools.testing.waiting import wait_until
from tests.uplink.test_uplink_worker import append


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    s = EventStore(str(tmp_path / "events.db"), unit="unit1")
    yield s
    s.close()


class Link:
    """The broker side of the window: hands out mids, and PUBACKs what was published."""

    def __init__(self, delivery: DL.Delivery):
        self.delivery = delivery
        self.mids = itertools.count(1)
        self.published: list[int] = []
        self.gone: list[tuple[int, int]] = []
        self._unanswered: list[int] = []

    def pump(self, puback: bool = True) -> list[int]:
        """One publishing pass: what went out now (seqs); with puback the broker answers every PUBLISH at once."""
        if puback:
            self._answer()
        rows, gone = self.delivery.next_rows()
        self.gone += gone
        out = []
        for row in rows:
            mid = next(self.mids)
            self.delivery.sent(mid, row["seq"])
            out.append(row["seq"])
            self._unanswered.append(mid)
        if puback:
            self._answer()
        self.published += out
        return out

    def _answer(self) -> None:
        for mid in self._unanswered:
            self.delivery.puback(mid)
        self._unanswered.clear()

    def drain(self) -> list[int]:
        out = []
        while True:
            got = self.pump()
            if not got:
                return out
            out += got


def test_nothing_is_delivered_until_the_platform_acknowledges_it(store):
    seqs = append(store, 50)
    d = DL.Delivery(store, Clock())
    link = Link(d)
    assert link.drain() == seqs
    assert d.acked == 0 and d.backlog() == 50  # the broker has them all: not delivered
    assert d.on_ack(store.store_key, 30, None)
    assert d.acked == 30 and d.backlog() == 20


def test_the_window_holds_at_most_64_unanswered_and_2000_beyond_the_ack(store):
    append(store, DL.SEND_AHEAD_SEQS + 500)
    d = DL.Delivery(store, Clock())
    link = Link(d)
    assert len(link.pump(puback=False)) == DL.MAX_INFLIGHT_EVENTS
    assert link.pump(puback=False) == []  # nothing more until the broker answers
    link.drain()
    assert len(link.published) == DL.SEND_AHEAD_SEQS  # then the platform's ack is the limit
    d.on_ack(store.store_key, 100, None)
    assert len(link.drain()) == 100


def test_a_reconnect_sends_again_everything_after_the_ack_point(store):
    seqs = append(store, 20)
    d = DL.Delivery(store, Clock())
    link = Link(d)
    link.drain()
    d.on_ack(store.store_key, 5, None)
    d.restart()  # what the broker had of 6..20 may be gone with it
    assert link.drain() == seqs[5:]


def test_a_stalled_ack_sends_again_with_a_doubling_pause_reset_by_progress(store):
    seqs = append(store, 10)
    clock = Clock()
    d = DL.Delivery(store, clock)
    link = Link(d)
    link.drain()
    clock.now += DL.ACK_STALL_S - 0.1
    assert not d.stalled()
    clock.now += 0.1
    assert d.stalled() and d.stall_s == 2 * DL.ACK_STALL_S
    assert link.drain() == seqs  # again, from the ack point
    pauses = []
    for _ in range(8):  # no platform answers: 20, 40, 80, 160, 300, 300 ... s
        clock.now += d.stall_s
        pauses.append(d.stall_s)
        assert d.stalled()
        link.drain()
    assert pauses == [20, 40, 80, 160, 300, 300, 300, 300]
    d.on_ack(store.store_key, 3, None)
    assert d.stall_s == DL.ACK_STALL_S
    clock.now += DL.ACK_STALL_S
    assert d.stalled()  # 4..10 still unanswered
    assert link.drain() == seqs[3:]
    d.on_ack(store.store_key, 10, None)
    clock.now += 1000
    assert not d.stalled()  # everything acknowledged: nothing to wait for


def test_an_ack_for_another_store_is_ignored_and_one_beyond_the_record_refused(store):
    append(store, 10)
    d = DL.Delivery(store, Clock())
    Link(d).drain()
    assert not d.on_ack("0123456789abcdef" if store.store_key != "0123456789abcdef" else "fedcba9876543210", 10, None)
    assert d.acked == 0 and d.counts["acks_other_store"] == 1
    with pytest.raises(DL.AckProblem, match="recorded only up to 10"):
        d.on_ack(store.store_key, 11, None)
    assert d.acked == 0
    assert not d.on_ack(store.store_key, 0, None)  # an older ack never moves the point back
    d.on_ack(store.store_key, 7, None)
    d.on_ack(store.store_key, 4, None)
    assert d.acked == 7


def test_a_resend_request_is_served_from_the_store_before_anything_new(store):
    seqs = append(store, 30)
    d = DL.Delivery(store, Clock())
    link = Link(d)
    link.drain()
    d.on_ack(store.store_key, 10, (12, 14))
    assert link.pump() == [12, 13, 14]
    assert d.counts["resend_requests"] == 1 and d.counts["resent"] == 3
    d.on_ack(store.store_key, 10, (25, 10 ** 9))  # capped at what was sent, and at 1,000 per request
    assert link.pump() == seqs[24:]
    d.on_ack(store.store_key, 30, (31, 40))  # beyond what was sent: the in-order pass brings them
    assert link.pump() == []
    assert link.gone == []


def test_a_range_retention_deleted_is_answered_as_gone(tmp_path):
    store = EventStore(str(tmp_path / "small.db"), max_events=10, unit="unit1")
    try:
        append(store, 15)  # info events, never delivered: retention deletes 1..5
        wait_until(lambda: store.health()["dropped_undelivered"] == 5, 10, what="retention deleted five")
        d = DL.Delivery(store, Clock())
        link = Link(d)
        assert link.drain() == list(range(6, 16))
        d.on_ack(store.store_key, 0, (1, 5))  # the platform saw 6.. and asks for what came before
        assert link.pump() == [] and link.gone == [(1, 5)]
        assert d.counts["gone"] == 5
        d.on_ack(store.store_key, 15, None)  # the platform recorded 1..5 as lost and stored the rest
        assert d.backlog() == 0
    finally:
        store.close()


def test_a_restarted_unit_starts_from_what_its_store_marked_delivered(tmp_path):
    path = str(tmp_path / "events.db")
    store = EventStore(path, unit="unit1")
    append(store, 20)
    store.ack(12)
    store.close()
    store = EventStore(path, unit="unit1")
    try:
        d = DL.Delivery(store, Clock())
        assert d.acked == 12
        assert Link(d).drain() == list(range(13, 21))
    finally:
        store.close()


def test_an_unavailable_store_has_nothing_to_deliver_and_takes_no_ack():
    d = DL.Delivery(UnavailableStore(StoreError("/x", "cannot open", "fix it")), Clock())
    assert d.store_key is None and d.acked == 0 and d.backlog() == 0
    assert Link(d).drain() == []
    assert not d.on_ack("00ff", 5, None)


@settings(max_examples=200, deadline=None)
@example(steps=[("tick", 10.835265448377186, False), ("tick", 20.0, False), ("tick", 40.0, False),
                ("tick", 278.0, False), ("tick", 400.0, False)])
@given(st.lists(st.one_of(
    st.tuples(st.just("ack"), st.integers(0, 70), st.none() | st.tuples(st.integers(1, 80), st.integers(0, 2000))),
    st.tuples(st.just("tick"), st.floats(0, 400), st.booleans()),
    st.tuples(st.just("reconnect"), st.none(), st.none())), max_size=30))
def test_whatever_the_platform_and_the_link_do_the_ack_point_only_rises_and_every_unacked_event_goes_out_again(
        tmp_path_factory, steps):
    """A hostile or confused platform (acks out of order, beyond the record, odd resend ranges), stalls and
    reconnects: the ack point never falls nor passes the record, and once the platform stops answering,
    every event after the ack point is published again within the longest stall pause."""
    path = str(tmp_path_factory.mktemp("d") / "events.db")
    store = EventStore(path, unit="unit1")
    try:
        append(store, 60)
        clock = Clock()
        d = DL.Delivery(store, clock)
        link = Link(d)
        link.drain()
        for kind, a, b in steps:
            before = d.acked
            if kind == "ack":
                resend = None if b is None or b[1] < b[0] or b[0] <= a else b
                try:
                    d.on_ack(store.store_key, a, resend)
                except DL.AckProblem:
                    assert a > 60
            elif kind == "tick":
                clock.now += a
                d.stalled()
            else:
                d.restart()
            link.drain() if (kind != "tick" or b) else link.pump(puback=False)
            assert before <= d.acked <= 60
        link.drain()
        link.published.clear()
        # The longest pause, and a millisecond: the clock's float sums (10.835... + 20 + 40 + 278 + 400, then + 300)
        # may land a hair short of it, which the unit's next check (every scan) passes anyway (hypothesis found it).
        clock.now += DL.ACK_STALL_MAX_S + 0.001
        d.stalled()
        link.drain()
        assert set(range(d.acked + 1, 61)) <= set(link.published)
    finally:
        store.close()


def test_gone_is_encoded_as_the_platform_parses_it(store):
    payload = W.encode_gone(store.store_key, 1, 5, DL.GONE_REASON)
    assert W.parse_gone(payload) == (store.store_key, 1, 5, DL.GONE_REASON)
