"""A unit Runtime built in the test's own process: it installs SIGTERM and SIGINT handlers of its own (to stop
the scan loop), which must not outlive the test and take Ctrl-C away from pytest."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def signal_handlers_kept() -> Iterator[None]:
    """The process's SIGTERM and SIGINT handlers as they were before the block, whatever it installed."""
    handlers = [signal.getsignal(number) for number in SIGNALS]
    try:
        yield
    finally:
        for number, handler in zip(SIGNALS, handlers):
            signal.signal(number, handler)
