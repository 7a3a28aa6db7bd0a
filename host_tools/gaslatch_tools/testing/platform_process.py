"""`gaslatch platform ARGS` as a real process for a test, stopped with Ctrl-C as a person stops it.

A shell's background job ignores SIGINT and a child inherits that: the process gets Ctrl-C's default back, so
that a test run in the background (as CI may run) still stops it. One that does not stop within STOP_S is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

STOP_S = 30.0


class PlatformProcess(subprocess.Popen):
    """The process; once stopped, `said` holds what it wrote to stderr."""

    said = ""


@contextmanager
def platform_process(*args: str, **env: str) -> Iterator[PlatformProcess]:
    """Runs `gaslatch platform ARGS` (stdout discarded, stderr kept; `env` added to the environment) for the
    block, then stops it with SIGINT and waits (killed after STOP_S)."""
    proc = PlatformProcess([sys.executable, "-m", "gaslatch_tools.cli", "platform", *args],
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **env),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate(timeout=10)
        proc.said = stderr.decode("utf-8", "replace")
