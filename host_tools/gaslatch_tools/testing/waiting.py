"""Wait on a condition with a deadline instead of sleeping a fixed time.

Tests and the kit poll real processes, files and sockets; this is the one place that polls.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout_s: float, interval_s: float = 0.01, what: str = "") -> T:
    """Call `predicate` until it returns a truthy value and return that value.

    Raises AssertionError naming `what` (and the last value seen) when `timeout_s` passes first.
    The predicate is always evaluated at least once and once more at the deadline.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval_s, remaining))
    value = predicate()
    if value:
        return value
    raise AssertionError(
        "timed out after %.3f s waiting for %s (last value: %r)" % (timeout_s, what or "condition", value)
    )


def returns(calls: Callable[[], object], within_s: float, what: str) -> None:
    """Runs `calls` in a thread and fails with `what` if it has not returned within `within_s`: how a test shows a
    call does not wait for something it must not wait for (held back meanwhile), without timing it. An exception
    of the call is raised again here."""
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            calls()
        except BaseException as exc:  # raised again in the test's thread
            failure.append(exc)
        done.set()

    threading.Thread(target=run, name="blocking-probe", daemon=True).start()
    assert done.wait(within_s), what
    if failure:
        raise failure[0]
