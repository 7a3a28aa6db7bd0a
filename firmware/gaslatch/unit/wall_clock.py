"""Wall-clock time for the schedule and the event store, and whether it can be trusted.

A Pi has no real-time clock: after a power cut it boots with the time fake-hwclock saved, until
NTP synchronises. The core's schedule gets None only when the clock is plainly unset.
"""

import os
import time
from collections.abc import Callable

from gaslatch.core import civil_date

# systemd-timesyncd creates this file once the clock is synchronised (systemd >= 239).
TIMESYNC_FLAG = "/run/systemd/timesync/synchronized"
# Before this year the clock cannot be right: the software did not exist.
EARLIEST_PLAUSIBLE_YEAR = 2026


class WallClock:
    def __init__(self, now_s: Callable[[], float] = time.time, synced_flag: str = TIMESYNC_FLAG):
        self._now_s = now_s
        self._flag = synced_flag

    def plausible(self) -> bool:
        return time.gmtime(self._now_s()).tm_year >= EARLIEST_PLAUSIBLE_YEAR

    def synced(self) -> bool:
        """True once NTP has set the clock (events are marked when it was not)."""
        return os.path.exists(self._flag) and self.plausible()

    def local(self) -> tuple[int, int] | None:
        """(weekday 0=Monday, minute of day) in local time, or None when the clock is plainly unset."""
        if not self.plausible():
            return None
        tm = time.localtime(self._now_s())
        return tm.tm_wday, tm.tm_hour * 60 + tm.tm_min

    def today(self) -> int | None:
        """The local date as a day number (gaslatch.core.civil_date), or None when the clock is plainly unset."""
        if not self.plausible():
            return None
        tm = time.localtime(self._now_s())
        return civil_date.from_ymd(tm.tm_year, tm.tm_mon, tm.tm_mday)

    def reading(self) -> tuple[tuple[int, int] | None, int | None]:
        """(local(), today()) from one reading of the clock, so that the two agree at midnight (read apart, the
        minute could be 23:59 of one day and the date the next one's)."""
        now = self._now_s()
        if time.gmtime(now).tm_year < EARLIEST_PLAUSIBLE_YEAR:
            return None, None
        tm = time.localtime(now)
        return (tm.tm_wday, tm.tm_hour * 60 + tm.tm_min), civil_date.from_ymd(tm.tm_year, tm.tm_mon, tm.tm_mday)

    def iso_utc(self) -> str:
        """UTC ISO 8601 with milliseconds, e.g. 2026-11-24T21:50:41.123Z."""
        now = self._now_s()
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % int((now % 1) * 1000)
