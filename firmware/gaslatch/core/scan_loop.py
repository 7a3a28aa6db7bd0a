"""The fixed-period scan loop: one full scan per absolute deadline, jitter statistics, watchdog kick.

Deadlines are t0 + k * period, so the period never drifts; a late scan skips deadlines, never bursts.
"""

from gaslatch.core import compat

DEFAULT_BUCKET_US = 10
DEFAULT_LIMIT_US = 20000


class Histogram:
    """Fixed-bucket histogram of integer microseconds: bounded memory, percentiles within one bucket.

    Buckets are bucket_us wide up to limit_us; larger values share one overflow bucket. Values below
    zero count in the first bucket. The exact maximum is kept.
    """

    def __init__(self, bucket_us=DEFAULT_BUCKET_US, limit_us=DEFAULT_LIMIT_US):
        self.bucket_us = bucket_us
        self.limit_us = limit_us
        self._counts = [0] * (limit_us // bucket_us + 1)
        self.count = 0
        self.max_us = None

    def add(self, value_us):
        """Records one value (int µs)."""
        index = max(0, value_us) // self.bucket_us
        if index >= len(self._counts):
            index = len(self._counts) - 1
        self._counts[index] += 1
        self.count += 1
        if self.max_us is None or value_us > self.max_us:
            self.max_us = value_us

    def percentile_us(self, percent):
        """Nearest-rank percentile (0 < percent <= 100) as int µs, None when empty.

        Reports the upper edge of the value's bucket, capped at the maximum: never below the true
        value and at most one bucket above it; in the overflow bucket it is the maximum.
        """
        if self.count == 0:
            return None
        rank = max(1, -((-percent * self.count) // 100))
        seen = 0
        for index in range(len(self._counts) - 1):
            seen += self._counts[index]
            if seen >= rank:
                return min((index + 1) * self.bucket_us, self.max_us)
        return self.max_us

    def as_dict(self):
        """{"count", "p50_us", "p99_us", "max_us"} (ints, None when empty)."""
        return {
            "count": self.count,
            "p50_us": self.percentile_us(50),
            "p99_us": self.percentile_us(99),
            "max_us": self.max_us,
        }


class ScanStats:
    """Counters and timing histograms of one scan loop."""

    def __init__(self, period_ms):
        self.period_ms = period_ms
        self.scans = 0
        self.overruns = 0
        self.missed_deadlines = 0
        self.start_jitter = Histogram()
        self.execution = Histogram()

    def as_dict(self):
        """Plain dict for JSON: counts, and start jitter / execution time as histogram dicts."""
        return {
            "period_ms": self.period_ms,
            "scans": self.scans,
            "overruns": self.overruns,
            "missed_deadlines": self.missed_deadlines,
            "start_jitter": self.start_jitter.as_dict(),
            "execution": self.execution.as_dict(),
        }


class ScanLoop:
    """Calls scan(now_ms) once per period on absolute deadlines and kicks the watchdog after each.

    clock: now_us() -> int and sleep_until_us(t_us) (RealClock, SimClock).
    scan(now_ms): one complete read inputs -> evaluate -> write outputs -> housekeeping.
    kick_watchdog(): called only after scan returned normally.
    on_error(exc): called when scan raises (drive outputs safe there); the exception then propagates.
    idle(t_us): waits until t_us like clock.sleep_until_us, doing short work meanwhile (the unit's bus
    pump answers the serial ports there); it must return by t_us, not much after. Default: sleep.
    """

    def __init__(self, period_ms, clock, scan, kick_watchdog=None, on_error=None, idle=None):
        if not isinstance(period_ms, int) or period_ms <= 0:
            raise ValueError("scan period must be a positive whole number of ms, got %r" % (period_ms,))
        self.period_us = period_ms * 1000
        self._clock = clock
        self._scan = scan
        self._kick_watchdog = kick_watchdog
        self._on_error = on_error
        self._idle = idle if idle is not None else clock.sleep_until_us
        self.stats = ScanStats(period_ms)

    def run(self, max_scans=None, should_stop=None):
        """Scans until max_scans scans ran or should_stop() is true; the first starts at once."""
        clock = self._clock
        stats = self.stats
        period_us = self.period_us
        t0_us = clock.now_us()
        k = 0
        done = 0
        while (max_scans is None or done < max_scans) and not (should_stop is not None and should_stop()):
            deadline_us = t0_us + k * period_us
            self._guarded(self._idle, deadline_us)
            start_us = clock.now_us()
            stats.start_jitter.add(start_us - deadline_us)
            self._guarded(self._scan, start_us // 1000)
            end_us = clock.now_us()
            stats.execution.add(end_us - start_us)
            stats.scans += 1
            done += 1
            if self._kick_watchdog is not None:
                self._kick_watchdog()
            k += 1
            if end_us > t0_us + k * period_us:  # overrun: resume on the first deadline not yet passed
                next_k = (end_us - t0_us + period_us - 1) // period_us
                stats.overruns += 1
                stats.missed_deadlines += next_k - k
                k = next_k


    def _guarded(self, work, arg):
        """Runs work(arg); if it raises, on_error(exc) first (outputs safe), then the exception goes on."""
        try:
            work(arg)
        except BaseException as exc:
            if self._on_error is not None:
                self._on_error(exc)
            raise exc


class RealClock:
    """The platform's monotonic clock (through compat)."""

    def now_us(self):
        return compat.monotonic_us()

    def sleep_until_us(self, t_us):
        compat.sleep_until_us(t_us)


def _pick(value, index):
    """value as int, list (one per index; 0 past its end) or callable(index) -> int."""
    if callable(value):
        return value(index)
    if isinstance(value, (list, tuple)):
        return value[index] if index < len(value) else 0
    return value


class SimClock:
    """Simulated time for tests and simulations: moves only by sleeping or by injected costs.

    wake_late_us: how late each sleep_until_us wakes (int, list or callable(sleep_index)).
    """

    def __init__(self, start_us=0, wake_late_us=0):
        self._now_us = start_us
        self._wake_late_us = wake_late_us
        self._sleeps = 0

    def now_us(self):
        return self._now_us

    def sleep_until_us(self, t_us):
        late_us = _pick(self._wake_late_us, self._sleeps)
        self._sleeps += 1
        self._now_us = max(self._now_us, t_us + late_us)

    def advance_us(self, duration_us):
        """Lets duration_us of simulated time pass (e.g. the work of a scan)."""
        self._now_us += duration_us

    def timed(self, scan, cost_us):
        """Wraps scan so each call costs simulated time: cost_us is int, list or callable(scan_index)."""
        calls = [0]

        def timed_scan(now_ms):
            index = calls[0]
            calls[0] += 1
            result = scan(now_ms)
            self.advance_us(_pick(cost_us, index))
            return result

        return timed_scan
