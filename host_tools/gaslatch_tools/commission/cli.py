"""The `gaslatch commission` command group: its shared options, and the table of the commands it holds.

How each command reports and its exit codes: command_outcome.py. The commands do not import this module.
"""

from __future__ import annotations

import click

from gaslatch_tools.commission import bump_check, bus_commands, config_commands, interlock_check, report, valve_check
from gaslatch_tools.commission.record import DEFAULT_PATH
from gaslatch.translation import _


@click.group(help=_(
    "Installer's commissioning tools: find and set up detectors, prove the trips, sign off (docs/commissioning.md)."))
@click.option("--record", "record_path", default=DEFAULT_PATH, show_default=True, type=click.Path(dir_okay=False),
              help=_("The commissioning record every command adds to (JSON)."))
@click.option("--json", "as_json", is_flag=True, help=_("One JSON object on stdout instead of text."))
@click.pass_context
def commission(ctx: click.Context, record_path: str, as_json: bool) -> None:
    ctx.obj = {"record": record_path, "json": as_json}


COMMANDS = (
    bus_commands.scan, bus_commands.live, bus_commands.set_address, bus_commands.set_baud, bus_commands.calibrate,
    config_commands.config_group,
    bump_check.bump_test, valve_check.valve_test, interlock_check.interlock_test,
    report.report,
)
for _command in COMMANDS:
    commission.add_command(_command)
