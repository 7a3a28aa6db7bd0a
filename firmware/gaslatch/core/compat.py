"""One monotonic microsecond clock on CPython (monotonic_ns) and MicroPython (wrapping ticks_us).

The only core module that touches `time`; everything else is handed integer times.
"""

import sys
import time

IS_MICROPYTHON = sys.implementation.name == "micropython"


class TickUnwrapper:
    """Turns a wrapping tick counter into one that never wraps.

    read_ticks() -> int ticks; ticks_diff(new, old) -> signed int difference, as time.ticks_diff.
    read() must be called at least once per half tick period (about 9 min for 30-bit µs ticks),
    which any scan loop does.
    """

    def __init__(self, read_ticks, ticks_diff):
        self._read_ticks = read_ticks
        self._ticks_diff = ticks_diff
        self._last_ticks = read_ticks()
        self._total = self._last_ticks

    def read(self):
        """Ticks since the counter's origin, without wrapping (int)."""
        ticks = self._read_ticks()
        self._total += self._ticks_diff(ticks, self._last_ticks)
        self._last_ticks = ticks
        return self._total


if IS_MICROPYTHON:
    _unwrapped_us = TickUnwrapper(time.ticks_us, time.ticks_diff)

    def monotonic_us():
        """Microseconds from an arbitrary origin; never wraps, never goes back (int)."""
        return _unwrapped_us.read()

    def _sleep_us(duration_us):
        time.sleep_us(duration_us)

else:

    def monotonic_us():
        """Microseconds from an arbitrary origin; never wraps, never goes back (int)."""
        return time.monotonic_ns() // 1000

    def _sleep_us(duration_us):
        time.sleep(duration_us / 1000000)


def monotonic_ms():
    """Milliseconds on the same time base as monotonic_us() (int)."""
    return monotonic_us() // 1000


def sleep_until_us(t_us):
    """Sleeps until monotonic_us() >= t_us; returns at once if that time has passed."""
    remaining_us = t_us - monotonic_us()
    while remaining_us > 0:
        _sleep_us(remaining_us)
        remaining_us = t_us - monotonic_us()
