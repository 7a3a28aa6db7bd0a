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

from gaslatch import event_text, recorded_text
from gaslatch.core import events as E
from gaslatch.unit import cli as unit_cli
from gaslatch import translation
from gaslatch.translation import N_, _
from gaslatch_tools import click_words

click_words.install()  # click's own words (Usage:, Options:, its errors) in the reader's language


class HostGroup(NamedTuple):
    """A command group of the host tools: where it lives and the extra that installs what it imports."""

    module: str
    attribute: str
    extra: str
    summary: str


# The host's command groups (tests/test_dependency_sets.py checks each extra covers its group's imports).
HOST_GROUPS = {
    "bench": HostGroup("gaslatch_tools.bench_cli", "bench", "bench",
                       N_("Hardware-in-the-loop bench: scenarios, emulators, reports (docs/bench.md).")),
    "commission": HostGroup("gaslatch_tools.commission.cli", "commission", "commission",
                            N_("Installer's commissioning tools: find and set up detectors, prove the trips, sign off.")),
    "platform": HostGroup("gaslatch_tools.platform.cli", "platform", "platform",
                          N_("The reference platform: store the fleet's events, raise warnings, notify, acknowledge.")),
}
# Click's words for the two options of gaslatch itself (see _Commands): listed in click_words.
HELP_HELP = N_("Show this message and exit.")
VERSION_HELP = N_("Show the version and exit.")
VERSION_MESSAGE = N_("%(prog)s, version %(version)s")
_STYLE = {E.SEVERITY_ALARM: "bold red", E.SEVERITY_FAULT: "yellow", E.SEVERITY_WARNING: "magenta", E.SEVERITY_INFO: ""}


def missing_extra(what: str, extra: str, err: ModuleNotFoundError) -> click.ClickException:
    """The error for a command whose extra is not installed: what is missing and the pip command."""
    return click.ClickException(_("%(what)s needs %(module)s, which is not installed: pip install "
                                  "'gaslatch[%(extra)s]'") % {"what": what, "module": err.name, "extra": extra})


class _ShownTranslated:
    """A command or option defined here, when this module is imported, before --lang is read: its help is given in
    English (marked N_) and looked up when shown, so it follows --lang like the commands imported after it."""

    help: str | None
    short_help: str | None

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _translated(self):
            super().format_help_text(ctx, formatter)  # type: ignore[misc]

    def get_short_help_str(self, limit: int = 45) -> str:
        with _translated(self):
            return super().get_short_help_str(limit)  # type: ignore[misc]

    def get_help_record(self, ctx: click.Context):
        with _translated(self):
            return super().get_help_record(ctx)  # type: ignore[misc]


class _translated:
    """Within: the object's help (and short help) in the reader's language; after: the English again."""

    def __init__(self, thing) -> None:
        self.thing = thing
        self.saved: tuple = ()

    def __enter__(self) -> None:
        self.saved = (self.thing.help, getattr(self.thing, "short_help", None))
        self.thing.help = _(self.saved[0]) if self.saved[0] else self.saved[0]
        if self.saved[1]:
            self.thing.short_help = _(self.saved[1])

    def __exit__(self, *exc_info) -> None:
        self.thing.help = self.saved[0]
        if self.saved[1]:
            self.thing.short_help = self.saved[1]


class _LookedUpWhenFilled(str):
    """A message click fills with % later (--version's): looked up in the reader's language when filled."""

    def __mod__(self, values):
        return _(str(self)) % values


class ShownTranslatedOption(_ShownTranslated, click.Option):
    """An option of gaslatch itself or of the demo (defined before --lang is read)."""


class ShownTranslatedCommand(_ShownTranslated, click.Command):
    """The demo and the unit's commands (defined before --lang is read)."""


class _Commands(_ShownTranslated, click.Group):
    """The click group: the unit's commands and the demo listed as they are, host groups imported on demand."""

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        # click makes gaslatch's own --help before --lang is read: its help is looked up each time it is shown
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = _(HELP_HELP)
        return option

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
    @click.command(name, help=_("%(summary)s (not installed: pip install 'gaslatch[%(extra)s]')") % {
                       "summary": _(group.summary), "extra": group.extra},
                   short_help=_("not installed: pip install 'gaslatch[%s]'") % group.extra,
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


@click.group(cls=_Commands, help=N_("gaslatch: restaurant gas-leak protection controller and tools."))
@click.version_option(package_name="gaslatch", cls=ShownTranslatedOption, help=VERSION_HELP,
                      message=_LookedUpWhenFilled(VERSION_MESSAGE))
@click.option("--lang", type=click.Choice(translation.LANGUAGES), default=None, is_eager=True, expose_value=False,
              callback=_choose_language, cls=ShownTranslatedOption,
              help=N_("The language of messages and prompts: zh (中文) or en [default: from LC_ALL, LC_MESSAGES or "
                      "LANG; zh_CN.UTF-8 gives Chinese, anything else English]."))
def main() -> None:
    pass


def _unit_command(command: unit_cli.Command) -> click.Command:
    """The unit's command, listed here and run by gaslatch.unit.cli with its own arguments and --help."""
    @click.command(command.name, cls=ShownTranslatedCommand, help=command.summary, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.pass_context
    def delegate(ctx: click.Context) -> None:
        sys.exit(unit_cli.main([command.name, *ctx.args]))
    return delegate


for _command in unit_cli.COMMANDS:
    main.add_command(_unit_command(_command))


@main.command(cls=ShownTranslatedCommand, help=N_(
    "A leak in an emulated kitchen, handled by the real controller, shown live; then the report.\n\n"
    "The real `gaslatch-unit run` against two emulated Modbus detectors on a 9600-baud bus, a gas valve and a fan: "
    "the leak trips the valve, a reset is refused while gas is present and accepted after it clears. No hardware, "
    "no broker needed (a local mosquitto, if installed, receives the events). Exit code 0 when every expectation "
    "of the demo scenario held."))
@click.option("--out", "out_root", default="demo-report", show_default=True, type=click.Path(file_okay=False),
              cls=ShownTranslatedOption, help=N_("Folder for the report (summary, trace, plot)."))
@click.option("--live/--no-live", default=None, cls=ShownTranslatedOption,
              help=N_("The live view of the kitchen [default: on a terminal that can redraw; off when piped, in CI "
                      "or with TERM=dumb, where progress lines are printed instead]."))
@click.option("--simulated", is_flag=True, cls=ShownTranslatedOption, help=N_(
    "Instead: the controller core alone in simulated time (a second, no processes), printing the reference "
    "scenario's timeline."))
@click.option("--json", "as_json", is_flag=True, cls=ShownTranslatedOption,
              help=N_("With --simulated: the canonical event lines."))
@click.option("--outputs/--no-outputs", default=True, cls=ShownTranslatedOption,
              help=N_("With --simulated: show output-line changes."))
def demo(out_root: str, live: bool | None, simulated: bool, as_json: bool, outputs: bool) -> None:
    """The demo: see its help above (given as help= so that it is translated)."""
    given = click.get_current_context().get_parameter_source
    if not simulated and (as_json or given("outputs") is not click.core.ParameterSource.DEFAULT):
        # a newcomer's `demo --json` must not start the minute-long live demo as if the option were understood
        raise click.UsageError(_("--json and --outputs/--no-outputs go with --simulated"))
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
    table = Table(title=_("Simulated kitchen: leak, fault and closing time"), show_lines=False)
    # TRANSLATORS: the columns of `gaslatch demo --simulated`: time in seconds, what happened, the core's detail
    for column in (_("t (s)"), _("event"), _("detail (as recorded)")):
        table.add_column(column)
    for record in sim.events:
        if record["type"] == E.OUTPUT and not outputs:
            continue
        table.add_row("%.1f" % (record["t_ms"] / 1000), event_text.headline(record),
                      recorded_text.translate(record["reason"]),
                      style=_STYLE.get(record["severity"], ""))
    console.print(table)
    trips = [r for r in sim.events if r["type"] == E.TRIP]
    message = (_("%(events)d events, %(trips)d trips; the valve is open at the end.") if sim.outputs.get("valve") else
               _("%(events)d events, %(trips)d trips; the valve is closed at the end."))
    console.print(message % {"events": len(sim.events), "trips": len(trips)})
