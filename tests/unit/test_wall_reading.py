"""The unit's scan reads the local minute and the local date from one reading of the clock (attack16)."""

import io
import os
import time

import pytest

from gaslatch.core import civil_date as C
from gaslatch.core.config import load_config
from gaslatch.core.detector_profile import list_profiles, load_profile
from gaslatch.unit.runtime import Runtime
from gaslatch.unit.wall_clock import WallClock
from gaslatch_tools.testing.kitchen_config import kitchen_config
from tests.in_process_runtime import signal_handlers_kept


class Ticking:
    """A clock that moves on 1 ms at every reading, as a real one does between two calls."""

    def __init__(self, start_s):
        self.t = start_s

    def __call__(self):
        self.t += 0.001
        return self.t


@pytest.fixture
def utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_a_reading_just_before_midnight_gives_that_days_minute_and_date(utc):
    tuesday = C.parse("2026-12-08")
    clock = Ticking(tuesday * 86400 - 0.0025)
    local, today = WallClock(now_s=clock).reading()
    assert (local, today) == ((C.weekday(tuesday - 1), 1439), tuesday - 1)


def test_the_scan_at_midnight_raises_no_missed_check_for_the_day_just_begun(utc, tmp_path):
    # Found by attack16: the scan asked the clock twice (wall.local(), then wall.today()); across midnight it got
    # 23:59 and the next day's date, so the next day's check was "missed" at 00:00 (minute 1439 >= due_by) and the
    # staff's confirmation that morning was recorded as late.
    doc = kitchen_config(str(tmp_path), [str(tmp_path / "ttyNONE")], 1, control_socket=str(tmp_path / "c.sock"),
                         lines={"valve": {"pin": 17}, "reset_button": {"pin": 5}},
                         daily_check={"enabled": True, "due_by": "11:00", "days": ["tue"]})
    profiles = dict((name, load_profile(name)) for name in list_profiles())
    cfg = load_config(doc, dict((name, profile.kind) for name, profile in profiles.items()))
    tuesday = C.parse("2026-12-08")
    clock = Ticking(tuesday * 86400 - 3600)
    with signal_handlers_kept():
        runtime = Runtime(cfg, profiles, wall=WallClock(now_s=clock, synced_flag=str(tmp_path / "synced")),
                          log_stream=io.StringIO())
        try:
            clock.t = tuesday * 86400 - 0.0025  # the scan reads the clock just before midnight
            runtime.scan(runtime.clock.now_us() // 1000)
            status = runtime.controller.status(0)["daily_check"]
        finally:
            runtime.shutdown("test")
    assert status["today"] == "not_today"  # Monday 23:59: no check due
    assert runtime.store.query(types=["daily_check"]) == []
