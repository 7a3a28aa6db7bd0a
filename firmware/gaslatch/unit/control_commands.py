"""`gaslatch status`, `reset`, `silence`, `inhibit` and `test-outputs`: the operator's side of the control socket.

Each takes the parsed arguments (socket_path, config_path, timeout_s and its own) and returns the exit code:
0 done, 1 refused or failed; 2 (usage) and 3 (gaslatch cannot be reached) come as CommandError / ControlUnreachable.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

from gaslatch.core.config_schema import DEFAULT_CONTROL_GROUP, DEFAULT_CONTROL_SOCKET, DEFAULT_RESET_WINDOW_S
from gaslatch.translation import N_, _
from gaslatch.unit.command_error import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CommandError
from gaslatch.unit.control_client import ControlClient, ControlUnreachable
from gaslatch.unit.status_text import OUTPUT_NAMES, recorded, refusal_lines, status_text
from gaslatch.unit.text_table import render

# The reset's outcome line may come a little after the window: the scan that notices it has to run.
RESET_GRACE_S = 15.0
MAX_WINDOW_S = 3600  # a longer reset window in a reply is no window (the config allows far less)

# test-outputs: each output in this order (valve last: closing it stops the burners), and the question.
OUTPUT_CHECKS = (
    ("sounder", N_("Did the sounder sound?")),
    ("beacon", N_("Did the beacon flash?")),
    ("fan", N_("Did the extract fan run?")),
    ("fault_relay", N_("Did the fault relay signal a fault (panel or BMS input)?")),
    ("valve", N_("Did the gas valve close?")),
)
# What --yes leaves in the table for each output: the valve test closes the valve, the fault relay's drops the relay
# (it signals a fault), the others switch their output on for --ms.
UNCONFIRMED = {"valve": N_("closed (not confirmed: --yes)"),
               "fault_relay": N_("dropped briefly (not confirmed: --yes)")}
PULSED_UNCONFIRMED = N_("switched on briefly (not confirmed: --yes)")
VALVE_WARNING = N_("The valve test CLOSES the gas valve: burners go out, and the gas stays off until someone "
                   "resets at the controller (gaslatch reset, then the RESET button). Close the valve now?")


def status(args: argparse.Namespace) -> int:
    """Show every detector, output, interlock and inhibit, the trip latch and scan statistics."""
    reply = _ask(args, "status")
    print(json.dumps(reply, indent=2, sort_keys=True) if args.as_json else status_text(reply))
    return EXIT_OK if reply.get("ok") else EXIT_REFUSED


def reset(args: argparse.Namespace) -> int:
    """Ask for the local reset; it is carried out only when the RESET button on the controller is pressed."""
    with _connect(args) as client:
        reply = client.request("reset")
        if not reply.get("ok"):
            return _refused(_("Reset refused"), reply)
        if reply.get("state") == "accepted":
            print(_("Reset accepted: the gas valve may open."))
            return EXIT_OK
        if reply.get("state") == "not_needed":
            print(_("Not tripped: nothing to reset."))
            return EXIT_OK
        if reply.get("state") != "waiting_for_button":
            print(_("Unexpected answer from gaslatch: %s") % json.dumps(reply, sort_keys=True))
            return EXIT_REFUSED
        window_s = reply.get("window_s")
        if isinstance(window_s, bool) or not isinstance(window_s, (int, float)) or not 0 < window_s <= MAX_WINDOW_S:
            window_s = DEFAULT_RESET_WINDOW_S  # a window that is no number of seconds: gaslatch's own default
        outcome = _wait_for_button(client, window_s)
    state = outcome.get("state")
    if state == "accepted":
        print(_("Reset accepted: the gas valve may open."))
        return EXIT_OK
    if state == "refused":
        return _refused(_("Reset refused when the button was pressed"), outcome)
    if state == "expired":
        print(_("The RESET button was not pressed within %s s: nothing was reset. Run gaslatch reset again "
                "when someone is at the controller.") % window_s)
    else:
        print(_("Reset not done: %s") % (recorded(outcome.get("error")) or json.dumps(outcome, sort_keys=True)))
    return EXIT_REFUSED


def silence(args: argparse.Namespace) -> int:
    """Silence the sounder for the configured time (a new alarm sounds again). The beacon stays on."""
    return _simple(args, "silence", {}, _("Sounder silenced."))


def inhibit(args: argparse.Namespace) -> int:
    """Inhibit one detector for maintenance (a bump test), or end its inhibit with --end."""
    if args.end == (args.minutes is not None):
        raise CommandError(_("give either --minutes N or --end"), EXIT_USAGE)
    if args.end:
        return _simple(args, "end_inhibit", {"detector": args.detector}, _("Inhibit of %s ended.") % args.detector)
    return _simple(args, "inhibit", {"detector": args.detector, "minutes": args.minutes},
                   _("Detector %(detector)s inhibited for %(minutes)d min.") % {"detector": args.detector,
                                                                               "minutes": args.minutes})


def test_outputs(args: argparse.Namespace) -> int:
    """Switch each output on in turn and ask whether it worked; the valve can only be closed, never opened."""
    chosen = [(name, question) for name, question in OUTPUT_CHECKS if not args.lines or name in args.lines]
    named = {name: _(OUTPUT_NAMES[name]) for name, _question in chosen}
    results: list[tuple[str, str, bool]] = []
    with _connect(args) as client:
        for name, question in chosen:
            if name == "valve" and not args.yes and not confirm(_(VALVE_WARNING)):
                results.append((name, _("skipped: not closed"), False))
                continue
            reply = client.request("test_output", {"line": name, "ms": args.pulse_ms})
            if not reply.get("ok"):
                error = recorded(reply.get("error")) or _("no reason given")
                results.append((name, _("refused: %s") % error, False))
                print(_("%(output)s refused: %(error)s") % {"output": named[name], "error": error})
                continue
            if name == "valve":
                print(_("Closing the gas valve (it stays closed); waiting %.1f s for it to move...")
                      % (args.pulse_ms / 1000))
            elif name == "fault_relay":
                print(_("Dropping the fault relay (it signals a fault) for %.1f s...") % (args.pulse_ms / 1000))
            else:
                print(_("Switching %(output)s on for %(seconds).1f s...") % {"output": named[name],
                                                                           "seconds": args.pulse_ms / 1000})
            time.sleep(args.pulse_ms / 1000)  # the person watches the output for this long
            if args.yes:
                results.append((name, _(UNCONFIRMED.get(name, PULSED_UNCONFIRMED)), True))
            elif confirm(_(question)):
                results.append((name, _("confirmed"), True))
            else:
                results.append((name, _("NOT confirmed: check wiring and config lines.%s") % name, False))
    print(render(_("Output test"), (_("Output"), _("Result")), [(named[name], text) for name, text, _passed in results]))
    return EXIT_OK if all(passed for _name, _text, passed in results) else EXIT_REFUSED


def confirm(question: str) -> bool:
    """Asks on the terminal; anything but y/yes, or no answer at all, is no."""
    try:
        answer = input(_("%s [y/N]: ") % question)
    except EOFError:
        print()
        return False
    return answer.strip().lower() in ("y", "yes")


def socket_settings(socket_path: str | None, config_path: str | None) -> tuple[str, str]:
    """(socket path, group) from --socket, else the config's control section, else the defaults."""
    control: Any = {}
    if config_path:
        try:
            with open(config_path, encoding="utf-8") as f:
                doc = json.load(f)
        except OSError as err:
            raise CommandError(_("--config: cannot read %(path)s: %(error)s") % {
                "path": config_path, "error": err.strerror or err}, EXIT_USAGE) from None
        except ValueError as err:
            raise CommandError(_("--config: %(path)s is not valid JSON: %(error)s") % {"path": config_path, "error": err},
                               EXIT_USAGE) from None
        control = doc.get("control", {}) if isinstance(doc, dict) else {}
        if not isinstance(control, dict):
            raise CommandError(_("--config: control in %s is not an object") % config_path, EXIT_USAGE)
    group = control.get("group") if isinstance(control.get("group"), str) else DEFAULT_CONTROL_GROUP
    path = socket_path or (control.get("socket") if isinstance(control.get("socket"), str) else None)
    return path or DEFAULT_CONTROL_SOCKET, group


def _connect(args: argparse.Namespace) -> ControlClient:
    path, group = socket_settings(args.socket_path, args.config_path)
    return ControlClient(path, group, args.timeout_s)


def _ask(args: argparse.Namespace, cmd: str, request_args: dict | None = None) -> dict:
    with _connect(args) as client:
        return client.request(cmd, request_args)


def _simple(args: argparse.Namespace, cmd: str, request_args: dict, done_text: str) -> int:
    reply = _ask(args, cmd, request_args)
    if reply.get("ok"):
        print(recorded(reply.get("message")) or done_text)  # the controller's answer, in the reader's language
        return EXIT_OK
    return _refused(_("Refused"), reply)


def _refused(title: str, reply: dict) -> int:
    print("\n".join(refusal_lines(title, reply)))
    return EXIT_REFUSED


def _wait_for_button(client: ControlClient, window_s: Any) -> dict:
    """Counts the window down (in place on a terminal) until gaslatch sends the reset's outcome line."""
    print(_("Press the RESET button on the controller within %s s...") % window_s, flush=True)
    countdown = sys.stdout.isatty()
    window_end_s = time.monotonic() + float(window_s)
    give_up_s = window_end_s + RESET_GRACE_S
    try:
        while True:
            now_s = time.monotonic()
            if now_s >= give_up_s:
                raise ControlUnreachable("no outcome of the reset %g s after its window ended: is the scan loop "
                                         "stalled? (journalctl -u gaslatch)" % RESET_GRACE_S)
            if countdown:
                print("\r" + _("Waiting for the RESET button: %3d s left") % max(0, math.ceil(window_end_s - now_s)),
                      end="", flush=True)
            message = client.poll(min(1.0, give_up_s - now_s))
            if message is not None and "state" in message:
                return message
    finally:
        if countdown:
            print()

