"""The `gaslatch` command: one entry point for the demo now, and for run/commission/bench later."""

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from gaslatch.core import events as E

_STYLE = {E.SEVERITY_ALARM: "bold red", E.SEVERITY_FAULT: "yellow", E.SEVERITY_WARNING: "magenta", E.SEVERITY_INFO: ""}


@click.group()
@click.version_option(package_name="gaslatch")
def main() -> None:
    """gaslatch: restaurant gas-leak protection controller and tools."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the canonical event lines instead of a table.")
@click.option("--outputs/--no-outputs", default=True, help="Show output-line changes (valve, fan, sounder...).")
def demo(as_json: bool, outputs: bool) -> None:
    """Run a simulated kitchen leak on the real controller core and print its timeline.

    Two cn-generic detectors on a 9600-baud bus, a hold valve, attended hours 10:00-22:00 with the
    simulated clock starting at 21:58: the leak trips the valve, a reset is refused while gas is
    present, a detector falls silent, and at 22:00 the schedule shuts the gas (人走阀关).
    """
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


@main.command("check-config")
@click.argument("path", type=click.Path(dir_okay=False))
def check_config(path: str) -> None:
    """Validate a controller configuration file; lists every problem with its JSON path."""
    from gaslatch.core.config import ConfigError, load_config_file
    from gaslatch.core.detector_profile import list_profiles, load_profile

    kinds = {name: load_profile(name).kind for name in list_profiles()}
    try:
        cfg = load_config_file(path, kinds)
    except ConfigError as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    click.echo("%s: valid (%d detectors)" % (path, len(cfg["detectors"])))


if __name__ == "__main__":
    main()
