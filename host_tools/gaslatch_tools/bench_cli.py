"""`gaslatch bench`: run HIL scenarios against the real controller and an emulated kitchen.

`bench list` shows the shipped library, `bench run` runs scenarios and leaves a report folder for
each; the exit code is 0 only when every expectation of every scenario passed.
"""

from __future__ import annotations

import os
import sys

import click

from gaslatch.translation import _

@click.group(help=_("Hardware-in-the-loop bench: scenarios, emulators, reports (docs/bench.md)."))
def bench() -> None:
    pass


@bench.command("list", help=_("The scenario library: name and what it shows."))
def list_scenarios() -> None:
    from gaslatch_tools.bench.words import scenario_text
    from gaslatch_tools.bench import scenario as S

    for path in S.library():
        sc = S.load(path)
        click.echo("%-28s %5.0f s  %s" % (sc["name"], sc["duration_s"], scenario_text(sc["summary"])))


@bench.command("run", help=_(
    "Run SCENARIOS (library names or files) one after the other; print a pass/fail table.\n\n"
    "Exit codes: 0 every expectation passed, 1 some failed, 2 a scenario could not be loaded."))
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--out", "out_root", default="bench-reports", show_default=True, type=click.Path(file_okay=False),
              help=_("Folder for the reports: one sub-folder per scenario."))
@click.option("--quiet", is_flag=True, help=_("Only the result table."))
def run(scenarios: tuple[str, ...], out_root: str, quiet: bool) -> None:
    from rich.console import Console
    from rich.markup import escape

    from gaslatch_tools.bench import scenario as S
    from gaslatch_tools.bench.runner import run_scenario

    console = Console()
    try:
        paths = [S.find(name) for name in scenarios]
        for path in paths:
            S.load(path)
    except S.ScenarioError as err:
        click.echo(_("gaslatch bench: %s") % err, err=True)
        sys.exit(2)
    failed = 0
    for path in paths:
        progress = None if quiet else (lambda text: console.print("  [dim]%s[/dim]" % escape(text), highlight=False))
        console.print("[bold]%s[/bold]" % escape(os.path.basename(path)))
        result = run_scenario(path, out_root, progress)
        print_result(console, result)
        failed += not result.passed
    sys.exit(1 if failed else 0)


def print_result(console, result) -> None:
    """The pass/fail table of one run, its bench problems and where its report is."""

    from rich.markup import escape
    from rich.table import Table

    from gaslatch_tools.bench.expectations import detail_text
    from gaslatch_tools.bench.words import scenario_text, shown

    # TRANSLATORS: the title of a bench run's result table: the scenario's name, then PASS or FAIL
    title = (_("%(scenario)s: PASS") if result.passed else _("%(scenario)s: FAIL")) % {"scenario": result.name}
    table = Table(title=escape(title), title_justify="left")
    # TRANSLATORS: the columns of a bench run's result table
    for column in (_("expectation"), _("result"), _("measured"), _("limit"), _("detail")):
        table.add_column(column)
    for o in result.outcomes:
        table.add_row(escape(scenario_text(o.name)), "[green]%s[/green]" % _("pass") if o.passed else
                      "[red]%s[/red]" % _("FAIL"), "" if o.measured_s is None else "%.3f s" % o.measured_s,
                      "" if o.limit_s is None else "%g s" % o.limit_s, escape(detail_text(o)))
    console.print(table)
    for problem in result.problems:
        console.print("[red]%s[/red] %s" % (escape(_("bench problem:")), escape(shown(problem, 2000))), highlight=False)
    console.print(escape(_("report: %(summary)s   plot: %(plot)s") % {
        "summary": os.path.join(result.out_dir, "summary.md"), "plot": os.path.join(result.out_dir, "plot.png")}),
        highlight=False)


def run_demo(out_root: str, live: bool | None = None) -> bool:
    """The README demo: the demo scenario, shown live (or as progress lines when live is False, or None on
    a terminal that cannot redraw); reports to a local broker if mosquitto is here."""
    from rich.console import Console
    from rich.markup import escape

    from gaslatch_tools.bench import scenario as S
    from gaslatch_tools.bench.words import EVERY_EVENT_DELIVERED
    from gaslatch_tools.testing.broker import BrokerError, mosquitto_binary
    from gaslatch_tools.bench.live_view import LiveView
    from gaslatch_tools.bench.progress_lines import ProgressLines
    from gaslatch_tools.bench.report import write_report
    from gaslatch_tools.bench.runner import BenchRun

    console = Console()
    if live is None:
        live = console.is_terminal and not console.is_dumb_terminal
    scenario = S.load(S.find("demo"))
    try:
        mosquitto_binary()
    except BrokerError:
        console.print("[dim]%s[/dim]" % escape(_("mosquitto not installed: the demo runs without the platform "
                                                  "uplink")))
    else:
        scenario["uplink"] = True
        scenario["expect"].append({"name": EVERY_EVENT_DELIVERED, "all_events_delivered": True})
    console.print("[bold]gaslatch demo[/bold]: %s" % escape(_(
        "the real controller (gaslatch-unit run) against an emulated kitchen — two Modbus detectors on a 9600-baud "
        "bus, a gas valve, a fan. Scenario time %g s.") % scenario["duration_s"]), highlight=False)
    run = BenchRun(scenario, os.path.join(out_root, scenario["name"]), "demo")
    view = LiveView(run, console) if live else ProgressLines(run, console)
    view.start()
    try:
        result = run.run()
    finally:
        view.stop()
    write_report(result)
    print_result(console, result)
    return result.passed
