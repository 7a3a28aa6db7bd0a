"""How far a unit's events are delivered, and which missing ones to ask it for: the platform's side of the ack.

Pure (fed stored seqs, lost ranges and the time; no database, no MQTT, no clock), so the rules that decide
what an acknowledgement may cover are in one place and can be checked on generated inputs.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

GAP_REQUEST_AFTER_S = 2.0  # out-of-order arrival is normal (alarms jump the queue, shared receivers race)
GAP_REPEAT_FIRST_S = 5.0  # then ask again while the hole persists, the interval doubling...
GAP_REPEAT_MAX_S = 60.0  # ...up to this
MAX_RESEND = 1000  # the unit sends at most this many events per request
REACK_EVERY_S = 1.0  # a re-sending unit may have missed our ack: repeat it at most this often per store


class StoreKey(NamedTuple):
    """One unit's event store, as the ack names it: a replaced store starts a new key at seq 1."""

    site: str
    unit: str
    store: str


def walk(through: int, runs: Iterable[tuple[int, int]],
         lost: Iterable[tuple[int, int]]) -> tuple[int, tuple[int, int] | None]:
    """From `through`, the highest seq up to which every seq is stored or lost, and the hole that stops it.

    runs: the store's runs of consecutive stored seqs (first, last) above `through`, ascending (read lazily:
    the walk stops at the first hole). lost: (first, last) ranges the unit reported gone. A lost range
    carries the walk only up to the next stored seq, never past the highest one: a `gone` closes holes, it
    cannot acknowledge events not yet sent. The hole is (through + 1, next stored seq - 1), or None when
    nothing is stored beyond.
    """
    ranges = sorted(r for r in lost if r[1] > through)
    i = 0
    for first, last in runs:
        if last <= through:
            continue
        while through < first - 1 and i < len(ranges):
            lost_first, lost_last = ranges[i]
            if lost_last <= through:
                i += 1
            elif lost_first > through + 1:
                break
            else:
                through = min(lost_last, first - 1)
        if first > through + 1:
            return through, (through + 1, first - 1)
        through = last
    return through, None


def request_span(hole: tuple[int, int], highest: int | None) -> tuple[int, int]:
    """What to ask for when the walk stops at `hole`: from its first seq up to the last one below the highest
    stored seq (at most MAX_RESEND in all), the stored ones among them included.

    A broker that crashed, or dropped messages from a full queue, leaves many holes at once (one between
    each pair of alarms that jumped the queue); asking for them one at a time would cost a request interval
    each. The unit sends the whole span again and the platform keeps each event once."""
    if highest is None or highest - 1 <= hole[1]:
        return hole
    return hole[0], max(hole[1], min(highest - 1, hole[0] + MAX_RESEND - 1))


def resend_range(hole: tuple[int, int]) -> tuple[int, int]:
    """The part of a hole one request asks for (the unit sends at most MAX_RESEND events per request)."""
    return hole[0], min(hole[1], hole[0] + MAX_RESEND - 1)


class _Hole:
    __slots__ = ("first", "last", "due_s", "interval_s")

    def __init__(self, first: int, last: int, due_s: float):
        self.first, self.last, self.due_s, self.interval_s = first, last, due_s, GAP_REPEAT_FIRST_S


class GapRequests:
    """The holes a receiver has seen and when to ask for each: GAP_REQUEST_AFTER_S after it was first seen,
    then every GAP_REPEAT_FIRST_S doubling to GAP_REPEAT_MAX_S while it stays. A hole whose start moved
    (the ack advanced) is a new hole."""

    def __init__(self) -> None:
        self._holes: dict[StoreKey, _Hole] = {}

    def update(self, key: StoreKey, hole: tuple[int, int] | None, now_s: float) -> None:
        """Records what the latest walk of `key` found (None: no hole any more)."""
        if hole is None:
            self._holes.pop(key, None)
            return
        known = self._holes.get(key)
        if known is None or known.first != hole[0]:
            self._holes[key] = _Hole(hole[0], hole[1], now_s + GAP_REQUEST_AFTER_S)
        else:
            known.last = hole[1]

    def keys(self) -> list[StoreKey]:
        """The stores with a hole, to walk again (another receiver may have filled it)."""
        return sorted(self._holes)

    def hole(self, key: StoreKey) -> tuple[int, int] | None:
        known = self._holes.get(key)
        return None if known is None else (known.first, known.last)

    def due(self, now_s: float) -> list[tuple[StoreKey, tuple[int, int]]]:
        """The requests to send now, (key, hole) each, and when each one is due again."""
        out = []
        for key in sorted(self._holes):
            known = self._holes[key]
            if now_s >= known.due_s:
                out.append((key, (known.first, known.last)))
                known.due_s = now_s + known.interval_s
                known.interval_s = min(2 * known.interval_s, GAP_REPEAT_MAX_S)
        return out


class Reacks:
    """At most one repeated ack per store every REACK_EVERY_S (a re-sending unit sends many duplicates)."""

    def __init__(self) -> None:
        self._last_s: dict[StoreKey, float] = {}

    def sent(self, key: StoreKey, now_s: float) -> None:
        self._last_s[key] = now_s

    def allowed(self, key: StoreKey, now_s: float) -> bool:
        last = self._last_s.get(key)
        return last is None or now_s - last >= REACK_EVERY_S
