"""The `gaslatch commission` command group: shared options and how every command reports.

Each command prints for a person by default and one JSON object with --json; exit codes:
0 done / passed, 1 a test failed or a check found problems, 2 the command could not run (bus, port,
unit unreachable, bad input).
"""

from __future__ import annotations

import json
import sys

import click

from gaslatch_tools.commission.record import DEFAULT_PATH

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


@click.group()
@click.option("--record", "record_path", default=DEFAULT_PATH, show_default=True, type=click.Path(dir_okay=False),
              help="The commissioning record every command adds to (JSON).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout instead of text.")
@click.pass_context
def commission(ctx: click.Context, record_path: str, as_json: bool) -> None:
    """Installer's commissioning tools: find and set up detectors, prove the trips, sign off (docs/commissioning.md)."""
    ctx.obj = {"record": record_path, "json": as_json}


def finish(ctx: click.Context, payload: dict, text: str, code: int = EXIT_OK) -> None:
    """Prints the result (text, or payload as JSON with "ok") and exits with code."""
    if ctx.obj["json"]:
        out = dict(payload)
        out.setdefault("ok", code == EXIT_OK)
        click.echo(json.dumps(out, sort_keys=True, ensure_ascii=False))
    elif text:
        click.echo(text)
    sys.exit(code)


def fail(ctx: click.Context, kind: str, message: str, hint: str = "", code: int = EXIT_ERROR) -> None:
    """An error a person can act on: what happened, then what to check."""
    if ctx.obj["json"]:
        click.echo(json.dumps({"ok": False, "error": kind, "message": message, "hint": hint}, sort_keys=True,
                              ensure_ascii=False))
    else:
        click.echo("error: %s" % message, err=True)
        if hint:
            click.echo("  what to check: %s" % hint, err=True)
    sys.exit(code)


def _register() -> None:
    """Each module adds its commands to the group when imported."""
    from gaslatch_tools.commission import (bump_check, bus_commands, config_commands, interlock_check,  # noqa: F401
                                           report, valve_check)


_register()
