"""Which stored events the uplink publishes next, and which are delivered: what the platform acknowledged.

An event is delivered only when the platform's `ack` covers it (docs/platform.md, "Delivery"): the
platform publishes, per unit and event store, the highest seq up to which it has committed every
event. The broker's PUBACK only paces the window (at most MAX_INFLIGHT_EVENTS unanswered PUBLISHes);
a broker that acknowledged an event and then crashed loses nothing, because the unit keeps every
event until the platform's ack and sends again from the ack point:
- after every (re)connect;
- when the ack stalls (events went out, no ack moved for ACK_STALL_S, doubling to ACK_STALL_MAX_S
  while nothing answers, back to ACK_STALL_S on the next progress);
- for a range the platform asks for (`resend`): those rows are read again from the store; the
  ones retention deleted are answered with a `gone` range.
At most SEND_AHEAD_SEQS seqs go out beyond the ack point, so an absent platform costs the broker
a bounded queue per unit, not the unit's whole store.

Long backlog: while more than BACKLOG_LONG_SEQS events wait, alarm and fault events among the
newest PRIORITY_TAIL_ROWS jump the queue; the in-order pass skips them later.

Pure bookkeeping on the worker thread: the store is read here, never written; the uplink publishes.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

from gaslatch.core import events as E

MAX_INFLIGHT_EVENTS = 64  # QoS 1 events published and not yet PUBACKed (AWS IoT allows 100 per connection)
SEND_AHEAD_SEQS = 2000  # seqs published beyond the platform's ack point at most
FETCH_ROWS = 500  # events read from the store in one query
BACKLOG_LONG_SEQS = 200  # beyond this many undelivered seqs, live alarms and faults go first
PRIORITY_TAIL_ROWS = 200  # "live": among the newest this many recorded events
PRIORITY_CHECK_S = 0.5
PRIORITY_SEVERITIES = (E.SEVERITY_ALARM, E.SEVERITY_FAULT)
ACK_STALL_S = 10.0  # events out and no ack progress this long: send again from the ack point
ACK_STALL_MAX_S = 300.0  # the pause doubles up to this while nothing answers (no platform running)
RESEND_MAX_ROWS = 1000  # one resend request is served up to this many seqs; the platform asks again
GONE_REASON = "deleted by the unit's store retention (store.max_events) before the platform had it"


class AckProblem(ValueError):
    """An acknowledgement the unit cannot take (it would mark events delivered that cannot be)."""


class Delivery:
    """The send-and-acknowledge bookkeeping of one store: next_rows() to publish, on_ack() from the platform."""

    def __init__(self, store, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.store_key = getattr(store, "store_key", None)  # None for an UnavailableStore: nothing to deliver
        self._clock = clock
        self.acked = self._delivered_in_store()  # the platform's ack point (what the store marks delivered)
        self.counts = {"acks": 0, "acks_other_store": 0, "stalls": 0, "resend_requests": 0, "resent": 0,
                       "gone": 0}
        self._cursor = self.acked  # every undelivered row up to here has been fetched
        self._buffer: collections.deque = collections.deque()  # fetched rows in seq order, not yet sent
        self._mid_seq: dict = {}  # PUBLISH mid -> seq, until its PUBACK
        self._ahead: set = set()  # seqs sent ahead of the in-order pass since the last restart
        self._priority: collections.deque = collections.deque()
        self._resend: collections.deque = collections.deque()  # (first, last) asked for again
        self._priority_checked = float("-inf")
        self._top_sent = self.acked  # highest seq sent since the last restart
        self._waiting_since: float | None = None  # events out beyond the ack point, unanswered since then
        self.stall_s = ACK_STALL_S

    def _delivered_in_store(self) -> int:
        """The store's delivered marks form a prefix: everything below its first undelivered row."""
        try:
            rows = self.store.unacked(1)
            return rows[0]["seq"] - 1 if rows else self.store.recorded_seq()
        except Exception:  # an UnavailableStore or a closed one: nothing to deliver
            return 0

    # ---- the connection ----

    def restart(self) -> None:
        """After a (re)connect or a stall: everything after the ack point goes out again (the platform
        de-duplicates on id), and nothing waits for a PUBACK that belonged to a lost connection."""
        self._cursor = self.acked
        self._buffer.clear()
        self._mid_seq.clear()
        self._ahead.clear()
        self._priority.clear()
        self._top_sent = self.acked
        self._waiting_since = None

    @property
    def in_flight(self) -> int:
        return len(self._mid_seq)

    def sent(self, mid: int, seq: int) -> None:
        self._mid_seq[mid] = seq
        if seq > self._top_sent:
            self._top_sent = seq
        if self._waiting_since is None:
            self._waiting_since = self._clock()

    def puback(self, mid: int) -> None:
        """The broker has the PUBLISH: room for one more in the window (delivery waits for the platform)."""
        self._mid_seq.pop(mid, None)

    # ---- the platform ----

    def on_ack(self, store: str, through: int, resend: tuple[int, int] | None) -> bool:
        """One parsed `ack`. True when the ack point moved; AckProblem when it cannot be true of this store."""
        if store != self.store_key:
            self.counts["acks_other_store"] += 1  # an old store's retained ack (a replaced SD card)
            return False
        recorded = self.store.recorded_seq()
        if through > recorded:
            raise AckProblem("the platform acknowledges seq %d of store %s, which has recorded only up to %d: "
                             "ignored (is another unit using this unit's name and a copy of its store?)"
                             % (through, store, recorded))
        self.counts["acks"] += 1
        moved = through > self.acked
        if moved:
            self.acked = through
            self.stall_s = ACK_STALL_S
            self._waiting_since = self._clock() if self._top_sent > through else None
            if self._cursor_sent() < through:  # it has these already (sent before a restart)
                self._buffer.clear()
                self._cursor = through
        if resend is not None and resend[0] <= self._top_sent:
            self.counts["resend_requests"] += 1
            first, last = resend[0], min(resend[1], self._top_sent, resend[0] + RESEND_MAX_ROWS - 1)
            if (first, last) not in self._resend:
                self._resend.append((first, last))
        return moved

    def stalled(self) -> bool:
        """True (and the window restarts from the ack point) when events went out and no ack moved for stall_s."""
        if self._waiting_since is None or self._top_sent <= self.acked:
            self._waiting_since = None
            return False
        if self._clock() - self._waiting_since < self.stall_s:
            return False
        self.counts["stalls"] += 1
        self.stall_s = min(self.stall_s * 2, ACK_STALL_MAX_S)
        self.restart()
        return True

    # ---- what to publish ----

    def next_rows(self) -> tuple[list[dict], list[tuple[int, int]]]:
        """(rows to publish now, in this order; gone ranges to report), within the in-flight window and
        SEND_AHEAD_SEQS. Raises what the store raises (the caller reports it and tries again later)."""
        room = MAX_INFLIGHT_EVENTS - len(self._mid_seq)
        rows: list[dict] = []
        gone: list[tuple[int, int]] = []
        while self._resend and len(rows) < room:
            resent, missing = self._take_resend(room - len(rows))
            rows += resent
            gone += missing
        if len(rows) < room:
            self._check_priority()
            while self._priority and len(rows) < room:
                row = self._priority.popleft()
                if row["seq"] > self._cursor_sent() and row["seq"] not in self._ahead:
                    self._ahead.add(row["seq"])
                    rows.append(row)
        while len(rows) < room and self._cursor_sent() - self.acked < SEND_AHEAD_SEQS:
            if not self._buffer and not self._fetch():
                break
            row = self._buffer.popleft()
            if row["seq"] in self._ahead:  # sent out of order already
                self._ahead.discard(row["seq"])
            else:
                rows.append(row)
        return rows, gone

    def _take_resend(self, room: int) -> tuple[list[dict], list[tuple[int, int]]]:
        first, last = self._resend[0]
        upto = min(last, first + room - 1)
        rows = [r for r in self.store.query(since=first, limit=upto - first + 1) if r["seq"] <= upto]
        if upto >= last:
            self._resend.popleft()
        else:
            self._resend[0] = (upto + 1, last)
        self.counts["resent"] += len(rows)
        have = {r["seq"] for r in rows}
        gone = _ranges([seq for seq in range(first, upto + 1) if seq not in have])
        self.counts["gone"] += sum(b - a + 1 for a, b in gone)
        return rows, gone

    def _cursor_sent(self) -> int:
        """Highest seq taken out of the in-order buffer."""
        return self._buffer[0]["seq"] - 1 if self._buffer else self._cursor

    def _fetch(self) -> bool:
        """Refill the in-order buffer from the store; False when there is nothing new."""
        recorded = self.store.recorded_seq()
        if recorded <= self._cursor:
            return False
        rows = self.store.unacked(FETCH_ROWS, self._cursor)
        if len(rows) < FETCH_ROWS:
            self._cursor = max([recorded] + [r["seq"] for r in rows])
        else:
            self._cursor = rows[-1]["seq"]
        self._buffer.extend(rows)
        return bool(rows)

    def _check_priority(self) -> None:
        mono = self._clock()
        if mono < self._priority_checked + PRIORITY_CHECK_S:
            return
        self._priority_checked = mono
        recorded = self.store.recorded_seq()
        if recorded - self.acked <= BACKLOG_LONG_SEQS:
            return
        after = max(self._cursor_sent(), recorded - PRIORITY_TAIL_ROWS)
        queued = {r["seq"] for r in self._priority}
        for row in self.store.unacked(PRIORITY_TAIL_ROWS, after):
            if row["severity"] in PRIORITY_SEVERITIES and row["seq"] not in queued and row["seq"] not in self._ahead:
                self._priority.append(row)

    def backlog(self) -> int:
        """Seqs recorded and not yet acknowledged by the platform (an upper bound)."""
        try:
            recorded = self.store.recorded_seq()
        except Exception:  # an UnavailableStore or a closed one
            recorded = self.acked
        return max(0, recorded - self.acked)


def _ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """Sorted seqs -> [(first, last)] of their consecutive runs."""
    out: list[tuple[int, int]] = []
    for seq in seqs:
        if out and out[-1][1] == seq - 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out
