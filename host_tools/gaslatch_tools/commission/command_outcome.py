"""How a `gaslatch commission` command ends: finish() prints its result, CommandStop stops it with what to check.

Each command prints for a person by default and one JSON object with --json; exit codes:
0 done / passed, 1 a test failed or a check found problems, 2 the command could not run (bus, port,
unit unreachable, bad input).
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from gaslatch.translation import _

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


def finish(ctx: click.Context, payload: dict, text: str, code: int = EXIT_OK) -> None:
    """Prints the result (text, or payload as JSON with "ok") and exits with code."""
    if ctx.obj["json"]:
        out = dict(payload)
        out.setdefault("ok", code == EXIT_OK)
        click.echo(json.dumps(out, sort_keys=True, ensure_ascii=False))
    elif text:
        click.echo(text)
    sys.exit(code)


class CommandStop(click.ClickException):
    """The command cannot go on: kind, message and what to check (hint), for a person or as JSON.

    Raised anywhere below a command; click shows it once and exits with exit_code (2: could not run,
    1: refused or failed).
    """

    def __init__(self, kind: str, message: str, hint: str = "", exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.kind = kind
        self.hint = hint
        self.exit_code = exit_code
        # The context is gone by the time click shows the stop: take --json now, as click takes the colour.
        ctx = click.get_current_context(silent=True)
        self.as_json = bool(ctx is not None and isinstance(ctx.obj, dict) and ctx.obj.get("json"))

    def show(self, file: IO[Any] | None = None) -> None:
        """What happened, then what to check; with --json one object on stdout."""
        if self.as_json:
            click.echo(json.dumps({"ok": False, "error": self.kind, "message": self.message, "hint": self.hint},
                                  sort_keys=True, ensure_ascii=False), file=file)
            return
        click.echo(_("error: %s") % self.message, file=file, err=True)
        if self.hint:
            click.echo(_("  what to check: %s") % self.hint, file=file, err=True)
