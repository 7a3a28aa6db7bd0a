"""gaslatch commission valve-test: the unit closes the gas valve, timed; it must not reopen without the RESET button.
It proves the valve's closing, its travel time and the manual reset on site, and keeps the times in the record."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from gaslatch.unit.control_client import ControlClient, ControlUnreachable
from gaslatch_tools.commission.command_outcome import EXIT_FAILED, EXIT_OK, CommandStop, finish
from gaslatch_tools.commission.prompts import interaction_options
from gaslatch_tools.commission.record import LIMITS_S
from gaslatch_tools.commission.unit_connection import (STATUS_TIMEOUT_S, Site, UnitLost, open_site, refusal_text,
                                                       reasons_text, seconds_text, since, unit_options, wait_for_unit)
from gaslatch_tools.commission.valve_move import ValveMove, supervision_s
from gaslatch.translation import _

VALVE_HELP = _("""Valve test: close the gas valve from the unit and time it; prove it cannot be reopened
without the manual reset; reset by hand and time the reopening.

\b
Steps: the valve must be open (the command asks for RESET if it is not); the unit closes it
(test_output valve = close); the command times the controller's command (limit %g s) and the
closed limit switch (limit valve.travel_s; without feedback in the unit's status the unit's
own valve supervision, which raises a valve fault after travel_s, stands for it; without any
feedback the installer is asked). A reset over the socket must wait for the RESET button; the
installer then tries to bring the gas back without RESET and says whether it stayed off; then
presses RESET and the reopening is timed.

\b
Questions [answers-file keys]: close_valve, valve_closed (only without feedback),
reopen_refused, reopen_by_hand (pulse / hand-reopened valves).
Exit codes: 0 passed, 1 a step failed, 2 the test could not run.
""") % LIMITS_S["linkage"]


@click.command("valve-test", help=VALVE_HELP)
@unit_options
@interaction_options()
@click.pass_context
def valve_test(ctx: click.Context, socket_path: str | None, config_path: str | None, answers_path: str | None,
               yes: bool) -> None:
    site = open_site(ctx, socket_path, config_path, answers_path, yes)
    try:
        entry = _valve_test(site)
    except ControlUnreachable as err:
        raise UnitLost(err) from None
    failures = entry["failures"]
    entry["passed"] = not failures
    entry["answers"] = site.prompter.log
    site.record.add("valve_tests", entry)
    site.record.note("valve-test", _("PASS") if entry["passed"] else _("FAIL: %s") % "; ".join(failures))
    site.record.save()
    table = Table(title=_("Valve test"))
    table.add_column(_("step"))
    table.add_column(_("time (s)"))
    for label, key in ((_("close command"), "close_command_s"), (_("closed"), "closed_s"), (_("reopen"), "reopen_s")):
        table.add_row(label, seconds_text(entry.get(key)))
    site.console.print(table)
    finish(ctx, dict(entry, command="valve-test"),
           _("valve test: passed") if entry["passed"] else _("valve test: FAILED: %s") % "; ".join(failures),
           EXIT_OK if entry["passed"] else EXIT_FAILED)


def _valve_test(site: Site) -> dict:
    facts = site.facts
    prompter = site.prompter
    entry: dict[str, Any] = {"test": "valve", "valve_type": facts.valve_type, "feedback": facts.valve_feedback,
                             "travel_s": facts.travel_s, "limits_s": {"command": LIMITS_S["linkage"]}}
    failures: list[str] = []
    entry["failures"] = failures
    site.arm(_("the valve must be open to time its closing"))
    if not prompter.confirm("close_valve", _("The valve test CLOSES the gas valve now: burners go out until RESET. "
                                             "Close it?")):
        raise CommandStop("declined", _("valve test not started"))
    t0 = time.monotonic()
    reply = site.link.request("test_output", {"line": "valve", "ms": 1000})
    if not reply.get("ok"):
        raise CommandStop("refused", _("the unit refused to close the valve: %s") % refusal_text(reply))
    closing = ValveMove(facts, closed=True)
    site.watcher().until(closing.done, LIMITS_S["linkage"] + supervision_s(facts) + 1.0, _("valve closing"), t0,
                         closing.seen)
    entry["close_command_s"] = since(closing.command_t, t0)
    entry["closed_s"] = since(closing.switch_t, t0)
    entry["closed_source"] = closing.source()
    failures.extend(closing.failures(prompter, "valve_closed", t0))
    # The socket alone must not reopen it: a reset request waits for the button.
    with ControlClient(site.link.path, facts.group, timeout_s=STATUS_TIMEOUT_S) as client:
        remote = client.request("reset")
    entry["socket_reset"] = remote.get("state") or ("refused" if not remote.get("ok") else "?")
    still = site.status()
    entry["remote_reopen_refused"] = remote.get("state") != "accepted" and bool(still.get("latched"))
    if not entry["remote_reopen_refused"]:
        failures.append(_("the valve reopened without the RESET button"))
    stayed = prompter.confirm("reopen_refused", _("Try to bring the gas back WITHOUT the RESET button (at the valve, "
                                                  "at the appliances, or by switching the controller off and on). "
                                                  "Did the gas stay off?"))
    entry["reopen_without_reset_refused"] = stayed
    status = wait_for_unit(site)
    if not stayed or not status.get("latched"):
        failures.append(_("the gas came back without the manual reset"))
    outcome = site.press_reset(_("reopen the valve by hand (RESET)"))
    entry["reset"] = outcome["state"]
    if outcome["state"] != "accepted":
        failures.append(_("the reset was %(state)s: %(reasons)s")
                        % {"state": outcome["state"], "reasons": reasons_text(outcome)})
        return entry
    if facts.reopened_by_hand:
        prompter.act("reopen_by_hand", _("Re-open the valve by hand at the valve"))
    opening = ValveMove(facts, closed=False)
    site.watcher().until(opening.done, LIMITS_S["linkage"] + supervision_s(facts) + 1.0, _("valve opening"),
                         outcome["at"], opening.seen)
    entry["reopen_command_s"] = since(opening.command_t, outcome["at"])
    entry["reopen_s"] = since(opening.switch_t, outcome["at"])
    entry["reopen_source"] = opening.source()
    failures.extend(opening.failures(prompter, "valve_opened", outcome["at"]))
    return entry


