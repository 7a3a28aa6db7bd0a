"""The scan thread's operating-system settings: real-time scheduling, a frozen GC heap and tight timers.

`gaslatch run` enters them once before the first scan (the figures in docs/benchmarks.md assume them);
the benchmarks call the same functions so that they measure what the unit does.
"""

from __future__ import annotations

import ctypes
import gc
import os

FIFO_PRIORITY = 50
# prctl(2): a thread's timer slack is how late the kernel may fire its timers to batch wake-ups; the
# default 50 µs makes every select() timeout up to 50 µs late, which is 1 % of a poll at 115200 baud.
PR_SET_TIMERSLACK = 29
PR_GET_TIMERSLACK = 30
TIGHT_SLACK_NS = 1


def _prctl(option: int, value: int) -> int:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: no prctl, nothing to tighten
        return -1


def timer_slack_ns() -> int:
    """This thread's timer slack (ns), or -1 where it cannot be read."""
    return _prctl(PR_GET_TIMERSLACK, 0)


def set_timer_slack_ns(ns: int) -> bool:
    """Set this thread's timer slack (threads started later inherit it); True when the kernel took it."""
    return _prctl(PR_SET_TIMERSLACK, ns) == 0


def enter_realtime() -> str:
    """What `gaslatch run` does before its first scan: a collected and frozen GC heap, 1 ns timer slack,
    and SCHED_FIFO when allowed (the systemd unit grants it). Returns what was applied, in words."""
    gc.collect()
    gc.freeze()
    applied = ["gc.freeze"]
    if set_timer_slack_ns(TIGHT_SLACK_NS):
        applied.append("timer slack %d ns" % TIGHT_SLACK_NS)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
    except (PermissionError, OSError) as exc:
        return " + ".join(applied) + " (SCHED_FIFO refused: %s)" % exc
    return "SCHED_FIFO %d + %s" % (FIFO_PRIORITY, " + ".join(applied))
