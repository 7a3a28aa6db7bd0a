"""The `gaslatch` command: one entry point for the demo now, and for run/commission/bench later."""

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
@click.option("--out", "out_root", default="demo-report", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the report (summary, trace, plot).")
@click.option("--simulated", is_flag=True, help="Instead: the controller core alone in simulated time (a second, "
              "no processes), printing the reference scenario's timeline.")
@click.option("--json", "as_json", is_flag=True, help="With --simulated: the canonical event lines.")
@click.option("--outputs/--no-outputs", default=True, help="With --simulated: show output-line changes.")
def demo(out_root: str, simulated: bool, as_json: bool, outputs: bool) -> None:
    """A leak in an emulated kitchen, handled by the real controller, shown live; then the report.

    The real `gaslatch run` against two emulated Modbus detectors on a 9600-baud bus, a gas valve and a
    fan: the leak trips the valve, a reset is refused while gas is present and accepted after it
    clears. No hardware, no broker needed (a local mosquitto, if installed, receives the events).
    Exit code 0 when every expectation of the demo scenario held.
    """
    if not simulated:
        from gaslatch_tools.bench_cli import run_demo

        sys.exit(0 if run_demo(out_root) else 1)
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
    """Validate a controller configuration file: every problem, with its JSON path and a hint.

    Checks the safety rules, the installed detector profiles and the wiring (every line the
    configuration relies on is mapped to a pin). Exits 1 when there is any problem.
    """
    from gaslatch.core.config import ConfigError
    from gaslatch.unit.unit_config import load_unit_config

    try:
        cfg, _ = load_unit_config(path)
    except ConfigError as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    click.echo("%s: valid (%d detectors, %d buses, %d lines)" % (
        path, len(cfg["detectors"]), len(cfg["buses"]), len(cfg["lines"])))


@main.command()
@click.option("--config", "config_path", default="/etc/gaslatch/config.json", show_default=True,
              type=click.Path(dir_okay=False), help="Controller configuration file.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              help="Override log.level from the configuration.")
def run(config_path: str, log_level: str | None) -> None:
    """Run the kitchen controller (what systemd starts on the unit).

    Refuses an invalid configuration with the same messages as check-config. After a start the
    valve stays closed until the reset button is pressed on site.
    """
    from gaslatch.core.config import ConfigError
    from gaslatch.unit.runtime import Runtime, StartError
    from gaslatch.unit.unit_config import load_unit_config

    try:
        cfg, profiles = load_unit_config(config_path)
    except ConfigError as err:
        click.echo(str(err), err=True)
        sys.exit(2)
    if log_level:
        cfg["log"]["level"] = log_level
    try:
        runtime = Runtime(cfg, profiles)
    except StartError as err:
        click.echo("gaslatch cannot start: %s" % err, err=True)
        sys.exit(1)
    sys.exit(runtime.run())


def _register_commands() -> None:
    from gaslatch_tools.bench_cli import bench
    from gaslatch_tools.commission.cli import commission
    from gaslatch_tools.control_cli import COMMANDS
    from gaslatch_tools.events_cli import events
    from gaslatch_tools.platform_cli import platform

    for command in COMMANDS:
        main.add_command(command)
    main.add_command(events)
    main.add_command(platform)
    main.add_command(bench)
    main.add_command(commission)


_register_commands()

if __name__ == "__main__":
    main()
