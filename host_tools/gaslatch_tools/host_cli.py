"""The host's `gaslatch` command group: the demo, and the bench, commission and platform groups, each loaded
only when asked for; the unit's commands are handed to `gaslatch.unit.cli` unchanged.

A group whose extra is not installed answers with the pip command that installs it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import NamedTuple

import click

from gaslatch.core import events as E
from gaslatch.unit import cli as unit_cli
from gaslatch import translation
from gaslatch.translation import _


class HostGroup(NamedTuple):
    """A command group of the host tools: where it lives and the extra that installs what it imports."""

    module: str
    attribute: str
    extra: str
    summary: str


# The host's command groups (tests/test_dependency_sets.py checks each extra covers its group's imports).
HOST_GROUPS = {
    "bench": HostGroup("gaslatch_tools.bench_cli", "bench", "bench",
                       "Hardware-in-the-loop bench: scenarios, emulators, reports (docs/bench.md)."),
    "commission": HostGroup("gaslatch_tools.commission.cli", "commission", "commission",
                            "Installer's commissioning tools: find and set up detectors, prove the trips, sign off."),
    "platform": HostGroup("gaslatch_tools.platform.cli", "platform", "platform",
                          "The reference platform: store the fleet's events, raise warnings, notify, acknowledge."),
}
_STYLE = {E.SEVERITY_ALARM: "bold red", E.SEVERITY_FAULT: "yellow", E.SEVERITY_WARNING: "magenta", E.SEVERITY_INFO: ""}


def missing_extra(what: str, extra: str, err: ModuleNotFoundError) -> click.ClickException:
    """The error for a command whose extra is not installed: what is missing and the pip command."""
    return click.ClickException(_("%(what)s needs %(module)s, which is not installed: pip install "
                                  "'gaslatch[%(extra)s]'") % {"what": what, "module": err.name, "extra": extra})


class _Commands(click.Group):
    """The click group: the unit's commands and the demo listed as they are, host groups imported on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(HOST_GROUPS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        group = HOST_GROUPS.get(name)
        if group is None:
            return super().get_command(ctx, name)
        try:
            module = importlib.import_module(group.module)
        except ModuleNotFoundError as err:
            if _ours(err):
                raise
            return _not_installed(name, group, err)
        return getattr(module, group.attribute)


def _ours(err: ModuleNotFoundError) -> bool:
    """True when the missing module is one of gaslatch's own: a broken install, not a missing extra."""
    return (err.name or "").split(".")[0] in ("gaslatch", "gaslatch_tools")


def _not_installed(name: str, group: HostGroup, err: ModuleNotFoundError) -> click.Command:
    @click.command(name, help="%s (not installed: pip install 'gaslatch[%s]')" % (group.summary, group.extra),
                   short_help="not installed: pip install 'gaslatch[%s]'" % group.extra,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def stand_in() -> None:
        raise missing_extra("gaslatch %s" % name, group.extra, err)
    return stand_in


def _choose_language(_ctx: click.Context, _param: click.Parameter, flag: str | None) -> str:
    """--lang, else the environment's messages locale: set while the arguments are parsed, before any command's
    module is imported, so every message the command prints is in the chosen language."""
    language = translation.language_from(flag, os.environ)
    translation.use(language)
    return language


@click.group(cls=_Commands)
@click.version_option(package_name="gaslatch")
@click.option("--lang", type=click.Choice(translation.LANGUAGES), default=None, is_eager=True, expose_value=False,
              callback=_choose_language,
              help="The language of messages and prompts: zh (中文) or en [default: from LC_ALL, LC_MESSAGES or "
                   "LANG; zh_CN.UTF-8 gives Chinese, anything else English].")
def main() -> None:
    """gaslatch: restaurant gas-leak protection controller and tools."""


def _unit_command(command: unit_cli.Command) -> click.Command:
    """The unit's command, listed here and run by gaslatch.unit.cli with its own arguments and --help."""
    @click.command(command.name, help=command.summary, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.pass_context
    def delegate(ctx: click.Context) -> None:
        sys.exit(unit_cli.main([command.name, *ctx.args]))
    return delegate


for _command in unit_cli.COMMANDS:
    main.add_command(_unit_command(_command))


@main.command()
@click.option("--out", "out_root", default="demo-report", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the report (summary, trace, plot).")
@click.option("--live/--no-live", default=None,
              help="The live view of the kitchen [default: on a terminal that can redraw; off when piped, in CI or "
                   "with TERM=dumb, where progress lines are printed instead].")
@click.option("--simulated", is_flag=True, help="Instead: the controller core alone in simulated time (a second, "
              "no processes), printing the reference scenario's timeline.")
@click.option("--json", "as_json", is_flag=True, help="With --simulated: the canonical event lines.")
@click.option("--outputs/--no-outputs", default=True, help="With --simulated: show output-line changes.")
def demo(out_root: str, live: bool | None, simulated: bool, as_json: bool, outputs: bool) -> None:
    """A leak in an emulated kitchen, handled by the real controller, shown live; then the report.

    The real `gaslatch-unit run` against two emulated Modbus detectors on a 9600-baud bus, a gas valve
    and a fan: the leak trips the valve, a reset is refused while gas is present and accepted after it
    clears. No hardware, no broker needed (a local mosquitto, if installed, receives the events).
    Exit code 0 when every expectation of the demo scenario held.
    """
    if not simulated:
        from gaslatch_tools.bench_cli import run_demo

        try:
            passed = run_demo(out_root, live)
        except ModuleNotFoundError as err:  # run_demo imports the bench's modules first, before anything runs
            if _ours(err):
                raise
            raise missing_extra("gaslatch demo", "bench", err) from None
        sys.exit(0 if passed else 1)
    from rich.console import Console
    from rich.table import Table

    from gaslatch_tools.kitchen_sim import run_reference_scenario

    sim = run_reference_scenario()
    if as_json:
        for record in sim.events:
            click.echo(E.encode(record))
        return
    console = Console()
    table = Table(title="Simulated kitchen: leak, fault and closing time", show_lines=False)
    for column in ("t (s)", "event", "source", "state", "reason"):
        table.add_column(column)
    for record in sim.events:
        if record["type"] == E.OUTPUT and not outputs:
            continue
        table.add_row(
            "%.1f" % (record["t_ms"] / 1000),
            record["type"],
            record["source"],
            record["state"],
            record["reason"],
            style=_STYLE.get(record["severity"], ""),
        )
    console.print(table)
    trips = [r for r in sim.events if r["type"] == E.TRIP]
    console.print("%d events, %d trips; valve is %s at the end." % (
        len(sim.events), len(trips), "open" if sim.outputs.get("valve") else "closed"))
