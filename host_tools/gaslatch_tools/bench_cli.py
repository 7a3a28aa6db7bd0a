"""`gaslatch bench`: run HIL scenarios against the real controller and an emulated kitchen.

`bench list` shows the shipped library, `bench run` runs scenarios and leaves a report folder for
each; the exit code is 0 only when every expectation of every scenario passed.
"""

from __future__ import annotations

import os
import sys

import click


@click.group()
def bench() -> None:
    """Hardware-in-the-loop bench: scenarios, emulators, reports (docs/bench.md)."""


@bench.command("list")
def list_scenarios() -> None:
    """The scenario library: name and what it shows."""
    from gaslatch_tools.bench import scenario as S

    for path in S.library():
        sc = S.load(path)
        click.echo("%-28s %5.0f s  %s" % (sc["name"], sc["duration_s"], sc["summary"]))


@bench.command("run")
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--out", "out_root", default="bench-reports", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the reports: one sub-folder per scenario.")
@click.option("--quiet", is_flag=True, help="Only the result table.")
def run(scenarios: tuple[str, ...], out_root: str, quiet: bool) -> None:
    """Run SCENARIOS (library names or files) one after the other; print a pass/fail table.

    Exit codes: 0 every expectation passed, 1 some failed, 2 a scenario could not be loaded.
    """
    from rich.console import Console

    from gaslatch_tools.bench import scenario as S
    from gaslatch_tools.bench.runner import run_scenario

    console = Console()
    try:
        paths = [S.find(name) for name in scenarios]
        for path in paths:
            S.load(path)
    except S.ScenarioError as err:
        click.echo("gaslatch bench: %s" % err, err=True)
        sys.exit(2)
    failed = 0
    for path in paths:
        progress = None if quiet else (lambda text: console.print("  [dim]%s[/dim]" % text, highlight=False))
        console.print("[bold]%s[/bold]" % os.path.basename(path))
        result = run_scenario(path, out_root, progress)
        print_result(console, result)
        failed += not result.passed
    sys.exit(1 if failed else 0)


def print_result(console, result) -> None:
    """The pass/fail table of one run, its bench problems and where its report is."""
    from rich.table import Table

    table = Table(title="%s: %s" % (result.name, "PASS" if result.passed else "FAIL"), title_justify="left")
    for column in ("expectation", "result", "measured", "limit", "detail"):
        table.add_column(column)
    for o in result.outcomes:
        table.add_row(o.name, "[green]pass[/green]" if o.passed else "[red]FAIL[/red]",
                      "" if o.measured_s is None else "%.3f s" % o.measured_s,
                      "" if o.limit_s is None else "%g s" % o.limit_s, o.detail)
    console.print(table)
    for problem in result.problems:
        console.print("[red]bench problem:[/red] %s" % problem)
    console.print("report: %s   plot: %s" % (os.path.join(result.out_dir, "summary.md"),
                                             os.path.join(result.out_dir, "plot.png")))


def run_demo(out_root: str, live: bool | None = None) -> bool:
    """The README demo: the demo scenario, shown live (or as progress lines when live is False, or None on
    a terminal that cannot redraw); reports to a local broker if mosquitto is here."""
    from rich.console import Console

    from gaslatch_tools.bench import scenario as S
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
        console.print("[dim]mosquitto not installed: the demo runs without the platform uplink[/dim]")
    else:
        scenario["uplink"] = True
        scenario["expect"].append({"name": "every stored event reached the platform", "all_events_delivered": True})
    console.print("[bold]gaslatch demo[/bold]: the real controller (gaslatch-unit run) against an emulated kitchen — "
                  "two Modbus detectors on a 9600-baud bus, a gas valve, a fan. Scenario time %g s." %
                  scenario["duration_s"])
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
