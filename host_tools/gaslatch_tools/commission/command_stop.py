"""Why a command stops before its result, raised by the helper modules the commands share (prompts, unit_connection).
cli.py imports every command module as it loads, so a helper that imported cli.fail would close an import cycle."""

from __future__ import annotations


class CommandStop(Exception):
    """The command cannot go on: kind, message and what to check; the command turns it into cli.fail (exit 2)."""

    def __init__(self, kind: str, message: str, hint: str = ""):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint
