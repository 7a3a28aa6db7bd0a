"""Refusals from outside (unsigned, forged, replayed platform commands) as a bounded number of events.

Anyone who may publish on a unit's `cmd` topic can send junk as fast as the network carries it; one
event each would fill the SD card, the uplink and the platform. The first refusal after a quiet period
is recorded at once; the rest of each period become one digest with the count per refusal code and a
sample. Fed the time (`now_ms`), it reads no clock.
"""

# One digest at most per this long while refusals keep coming: a flood costs 1 event a minute.
DIGEST_PERIOD_MS = 60000


class RefusalDigest:
    """refused() for each batch of refusals, due() every scan, flush() at shutdown; each returns the
    events to record as (count, reason text) pairs."""

    def __init__(self, what: str, period_ms: int = DIGEST_PERIOD_MS):
        self.what = what  # "platform commands": says what was refused in a digest's text
        self.period_ms = period_ms
        self._opened_ms: int | None = None  # start of the current period; None while quiet
        self._counts: dict[str, int] = {}  # refusal code -> count held for the digest
        self._sample = ""

    def refused(self, now_ms: int, code: str, text: str, count: int = 1) -> list[tuple[int, str]]:
        """`count` refusals with this code, `text` the first one's description."""
        if self._opened_ms is None:
            self._opened_ms = now_ms
            if count > 1:
                self._hold(code, text, count - 1)
            return [(1, text)]
        self._hold(code, text, count)
        return []

    def due(self, now_ms: int) -> list[tuple[int, str]]:
        """The digest of the period just ended, if it held refusals; a period without any ends the flood."""
        if self._opened_ms is None or now_ms - self._opened_ms < self.period_ms:
            return []
        if not self._counts:
            self._opened_ms = None
            return []
        self._opened_ms = now_ms
        return self._digest("in the last %d s" % (self.period_ms // 1000))

    def flush(self) -> list[tuple[int, str]]:
        """What is held, whatever the time (at shutdown: no count is lost)."""
        self._opened_ms = None
        return self._digest("before the stop") if self._counts else []

    def _hold(self, code: str, text: str, count: int) -> None:
        if not self._counts:
            self._sample = text
        self._counts[code] = self._counts.get(code, 0) + count

    def _digest(self, when: str) -> list[tuple[int, str]]:
        total = sum(self._counts.values())
        by_code = ", ".join("%s %d" % (code, n) for code, n in sorted(self._counts.items()))
        text = "%d more %s refused %s (%s); the first: %s" % (total, self.what, when, by_code, self._sample)
        self._counts = {}
        self._sample = ""
        return [(total, text)]
