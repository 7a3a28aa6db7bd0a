"""Runs a `gaslatch-unit` command in this process, as a terminal would: argv in, exit code and text out.

Shared by the tests of the unit's commands (status, reset, ..., events).
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import NamedTuple

from gaslatch.unit.cli import main


class Result(NamedTuple):
    """exit_code as the shell sees it; output is stdout and stderr in the order written, stderr alone too."""

    exit_code: int
    output: str
    stderr: str


class _Both(io.StringIO):
    """stderr that also lands in the combined output, in order."""

    def __init__(self, combined: io.StringIO) -> None:
        super().__init__()
        self.combined = combined

    def write(self, text: str) -> int:
        self.combined.write(text)
        return super().write(text)


def run_unit_command(*argv: str, input: str = "") -> Result:
    combined = io.StringIO()
    stderr = _Both(combined)
    stdin = sys.stdin
    sys.stdin = io.StringIO(input)
    try:
        with contextlib.redirect_stdout(combined), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(argv))
            except SystemExit as exit_:  # argparse: --help, usage errors
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.stdin = stdin
    return Result(code, combined.getvalue(), stderr.getvalue())
