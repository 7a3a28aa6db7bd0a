"""The scan loop holds its period on absolute deadlines, skips missed ones, and guards the watchdog kick."""

import contextlib
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import compat
from gaslatch.core.compat import TickUnwrapper
from gaslatch.core.scan_loop import Histogram, RealClock, ScanLoop, SimClock
from gaslatch_tools.micropython_runner import run_micropython


def recording_loop(period_ms, cost_us, start_us=0, wake_late_us=0, **kwargs):
    """A SimClock loop whose scans record the simulated time they started at."""
    clock = SimClock(start_us=start_us, wake_late_us=wake_late_us)
    starts_us = []
    scan = clock.timed(lambda now_ms: starts_us.append(clock.now_us()), cost_us)
    loop = ScanLoop(period_ms, clock, scan, **kwargs)
    return loop, starts_us


def test_period_is_held_with_zero_drift_over_many_scans():
    loop, starts_us = recording_loop(10, cost_us=lambda i: 1000 + (i * 7919) % 8000, start_us=123456)

    loop.run(max_scans=10000)

    assert starts_us == [123456 + k * 10000 for k in range(10000)]
    assert (loop.stats.scans, loop.stats.overruns, loop.stats.missed_deadlines) == (10000, 0, 0)
    assert loop.stats.start_jitter.max_us == 0


def test_the_wait_between_scans_goes_through_idle_up_to_each_deadline():
    clock = SimClock()
    waits = []

    def idle(t_us):
        waits.append(t_us)
        clock.sleep_until_us(t_us)

    loop = ScanLoop(10, clock, clock.timed(lambda now_ms: None, 2000), idle=idle)
    loop.run(max_scans=5)
    assert waits == [0, 10000, 20000, 30000, 40000]
    assert loop.stats.start_jitter.max_us == 0


def test_late_wake_ups_do_not_accumulate_into_drift():
    loop, starts_us = recording_loop(100, cost_us=5000, wake_late_us=lambda i: (i * 37) % 900)

    loop.run(max_scans=1000)

    assert starts_us == [k * 100000 + (k * 37) % 900 for k in range(1000)]
    assert loop.stats.start_jitter.max_us == max((k * 37) % 900 for k in range(1000))


def test_overrun_is_counted_and_missed_deadlines_are_skipped():
    loop, starts_us = recording_loop(10, cost_us=[1000, 25000, 1000, 1000])

    loop.run(max_scans=4)

    assert starts_us == [0, 10000, 40000, 50000]
    assert (loop.stats.overruns, loop.stats.missed_deadlines) == (1, 2)
    assert loop.stats.start_jitter.max_us == 0
    assert loop.stats.execution.max_us == 25000


def test_long_overrun_is_followed_by_no_burst_of_catch_up_scans():
    loop, starts_us = recording_loop(10, cost_us=[95000] + [100] * 20)

    loop.run(max_scans=20)

    gaps_us = [later - earlier for earlier, later in zip(starts_us, starts_us[1:])]
    assert gaps_us == [100000] + [10000] * 18
    assert (loop.stats.overruns, loop.stats.missed_deadlines) == (1, 9)


def test_scan_ending_exactly_on_the_next_deadline_is_not_an_overrun():
    loop, starts_us = recording_loop(10, cost_us=10000)

    loop.run(max_scans=5)

    assert starts_us == [0, 10000, 20000, 30000, 40000]
    assert loop.stats.overruns == 0


def test_scan_receives_its_start_time_in_ms():
    clock = SimClock(start_us=7999)
    seen_ms = []

    ScanLoop(100, clock, seen_ms.append).run(max_scans=3)

    assert seen_ms == [7, 107, 207]


def test_watchdog_is_kicked_once_after_each_completed_scan():
    events = []
    clock = SimClock()
    scan = lambda now_ms: events.append("scan")
    loop = ScanLoop(10, clock, scan, kick_watchdog=lambda: events.append("kick"))

    loop.run(max_scans=3)

    assert events == ["scan", "kick"] * 3


def test_watchdog_is_not_kicked_when_scan_raises_and_on_error_gets_the_exception():
    events = []
    failure = RuntimeError("bus 1 driver crashed")

    def scan(now_ms):
        events.append("scan")
        if len(events) > 3:
            raise failure

    loop = ScanLoop(
        10,
        SimClock(),
        scan,
        kick_watchdog=lambda: events.append("kick"),
        on_error=lambda exc: events.append(("safe state", exc)),
    )

    with pytest.raises(RuntimeError, match="bus 1 driver crashed"):
        loop.run()

    assert events == ["scan", "kick", "scan", "kick", "scan", ("safe state", failure)]
    assert loop.stats.scans == 2


def test_should_stop_is_asked_before_every_scan():
    scans = []
    loop = ScanLoop(10, SimClock(), scans.append)

    loop.run(should_stop=lambda: len(scans) >= 4)

    assert len(scans) == 4


@pytest.mark.parametrize("period_ms", [0, -10, 2.5, None])
def test_period_must_be_a_positive_whole_number_of_ms(period_ms):
    with pytest.raises(ValueError, match="scan period"):
        ScanLoop(period_ms, SimClock(), lambda now_ms: None)


def nearest_rank(values, percent):
    ordered = sorted(values)
    return ordered[max(1, -((-percent * len(ordered)) // 100)) - 1]


@given(
    values=st.lists(st.integers(min_value=0, max_value=30000), min_size=1, max_size=500),
    percent=st.integers(min_value=1, max_value=100),
)
def test_histogram_percentile_is_within_one_bucket_of_the_sorted_list(values, percent):
    histogram = Histogram(bucket_us=10, limit_us=20000)
    for value in values:
        histogram.add(value)

    reported = histogram.percentile_us(percent)
    true = nearest_rank(values, percent)

    if true >= 20000:
        assert reported == max(values)
    else:
        assert true <= reported <= true + 10
    assert histogram.max_us == max(values)
    assert histogram.count == len(values)


def test_empty_histogram_reports_no_percentiles():
    assert Histogram().as_dict() == {"count": 0, "p50_us": None, "p99_us": None, "max_us": None}


def test_stats_as_dict_is_plain_json():
    loop, _ = recording_loop(10, cost_us=[1000, 25000, 1000])
    loop.run(max_scans=3)

    stats = json.loads(json.dumps(loop.stats.as_dict()))

    assert stats == {
        "period_ms": 10,
        "scans": 3,
        "overruns": 1,
        "missed_deadlines": 2,
        "start_jitter": {"count": 3, "p50_us": 0, "p99_us": 0, "max_us": 0},
        # percentiles report the upper edge of their 10 µs bucket, capped at the exact maximum
        "execution": {"count": 3, "p50_us": 1010, "p99_us": 25000, "max_us": 25000},
    }


SIM_RUN_SCRIPT = """
import json
from gaslatch.core.scan_loop import ScanLoop, SimClock
clock = SimClock(start_us=5000, wake_late_us=lambda i: (i * 131) % 700)
kicks = []
cost_us = lambda i: 2000 + (i * 977) % 9000 + (30000 if i % 50 == 7 else 0)
loop = ScanLoop(10, clock, clock.timed(lambda now_ms: None, cost_us), kick_watchdog=lambda: kicks.append(1))
loop.run(max_scans=300)
print(json.dumps({"stats": loop.stats.as_dict(), "kicks": len(kicks), "now_us": clock.now_us()}))
"""


def test_loop_gives_the_same_stats_under_micropython_as_under_cpython():
    cpython_out = io.StringIO()
    with contextlib.redirect_stdout(cpython_out):
        exec(SIM_RUN_SCRIPT, {})

    cpython = json.loads(cpython_out.getvalue())
    micropython = json.loads(run_micropython(SIM_RUN_SCRIPT))

    assert micropython == cpython
    assert cpython["stats"]["overruns"] > 0 and cpython["kicks"] == 300


TICKS_PERIOD = 1 << 30  # MicroPython's ticks_us wraps at 2**30


def wrapping_ticks_diff(new, old):
    return ((new - old + TICKS_PERIOD // 2) % TICKS_PERIOD) - TICKS_PERIOD // 2


@given(
    start_ticks=st.integers(min_value=0, max_value=TICKS_PERIOD - 1),
    steps=st.lists(st.integers(min_value=0, max_value=TICKS_PERIOD // 2 - 1), max_size=50),
)
def test_tick_unwrapper_counts_on_through_wraps(start_ticks, steps):
    ticks = [start_ticks]
    unwrapper = TickUnwrapper(lambda: ticks[0], wrapping_ticks_diff)
    expected = start_ticks
    readings = [unwrapper.read()]
    for step in steps:
        ticks[0] = (ticks[0] + step) % TICKS_PERIOD
        expected += step
        readings.append(unwrapper.read())

    assert readings[-1] == expected
    assert readings == sorted(readings)


def test_real_clock_loop_keeps_the_period():
    clock = RealClock()
    t0_us = clock.now_us()
    loop = ScanLoop(5, clock, lambda now_ms: None)

    loop.run(max_scans=4)

    assert clock.now_us() - t0_us >= 15000
    assert loop.stats.scans == 4


def test_sleep_until_us_returns_at_once_for_a_time_in_the_past():
    now_us = compat.monotonic_us()

    compat.sleep_until_us(now_us - 1000000)

    assert compat.monotonic_us() - now_us < 100000


def test_compat_clock_under_micropython_is_monotonic_and_sleeps_until_the_time():
    script = (
        "from gaslatch.core import compat\n"
        "t = compat.monotonic_us() + 3000\n"
        "compat.sleep_until_us(t)\n"
        "after = compat.monotonic_us()\n"
        "print(compat.IS_MICROPYTHON, after >= t, compat.monotonic_ms() >= after // 1000)\n"
    )

    assert run_micropython(script) == "True True True\n"
