"""`gaslatch status`, `reset`, `silence`, `inhibit` and `test-outputs`: the operator's side of the control socket.

Exit codes: 0 done, 1 refused or failed, 2 usage, 3 gaslatch cannot be reached (not running, not in its group).
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, Callable

import click
from rich.console import Console
from rich.table import Table

from gaslatch.core.config_schema import DEFAULT_CONTROL_GROUP, DEFAULT_CONTROL_SOCKET, DEFAULT_RESET_WINDOW_S
from gaslatch.core.constants import HARD_INHIBIT_MAX_MIN
from gaslatch_tools.control_client import DEFAULT_TIMEOUT_S, ControlClient, ControlUnreachable

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
# The reset's outcome line may come a little after the window: the scan that notices it has to run.
RESET_GRACE_S = 15.0

# test-outputs: each output in this order (valve last: closing it stops the burners), and the question.
OUTPUT_CHECKS = (
    ("sounder", "Did the sounder sound?"),
    ("beacon", "Did the beacon flash?"),
    ("fan", "Did the extract fan run?"),
    ("fault_relay", "Did the fault relay signal a fault (panel or BMS input)?"),
    ("valve", "Did the gas valve close?"),
)
VALVE_WARNING = ("The valve test CLOSES the gas valve: burners go out, and the gas stays off until someone "
                 "resets at the controller (gaslatch reset, then the RESET button). Close the valve now?")

_STATE_STYLE = {"normal": "green", "warmup": "cyan", "low_alarm": "bold red", "high_alarm": "bold red",
                "fault": "yellow", "comm_lost": "yellow"}
_OUTPUT_MEANING = {
    "valve": {True: "energised", False: "de-energised"},
    "fault_relay": {True: "healthy", False: "fault signalled"},
}


def _connection_options(command: Callable) -> Callable:
    """--socket, --config and --timeout on a command; their values go to ctx.meta for _connect()."""
    def remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.meta["gaslatch_control." + str(param.name)] = value
        return value

    options = (
        click.option("--socket", "socket_path", type=click.Path(dir_okay=False), envvar="GASLATCH_SOCKET",
                     expose_value=False, callback=remember,
                     help="Control socket (default: control.socket of --config, else %s)." % DEFAULT_CONTROL_SOCKET),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="GASLATCH_CONFIG",
                     expose_value=False, callback=remember,
                     help="Controller config file to take the control socket and group from."),
        click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 300), default=DEFAULT_TIMEOUT_S,
                     show_default=True, expose_value=False, callback=remember,
                     help="Seconds to wait for gaslatch to answer."),
    )
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@_connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the controller's raw reply as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show every detector, output, interlock and inhibit, the trip latch and scan statistics."""
    reply = _ask(ctx, "status")
    if as_json:
        click.echo(json.dumps(reply, indent=2, sort_keys=True))
    else:
        _print_status(Console(), reply)
    sys.exit(EXIT_OK if reply.get("ok") else EXIT_REFUSED)


@click.command()
@_connection_options
@click.pass_context
def reset(ctx: click.Context) -> None:
    """Ask for the local reset; it is carried out only when the RESET button on the controller is pressed.

    Refused at once, with the reasons, while anything blocks it (gas, a fault, an interlock, outside
    attended hours). Otherwise someone must press the physical button within the window (60 s by
    default): whoever reaches this socket over SSH is not necessarily standing in the kitchen.
    """
    console = Console()
    with _connect(ctx) as client:
        reply = _call(lambda: client.request("reset"))
        if not reply.get("ok"):
            _print_refusal(console, "Reset refused", reply)
            sys.exit(EXIT_REFUSED)
        if reply.get("state") == "accepted":
            console.print("Reset accepted: the gas valve may open.")
            sys.exit(EXIT_OK)
        if reply.get("state") == "not_needed":
            console.print(reply.get("message") or "Not tripped: nothing to reset.")
            sys.exit(EXIT_OK)
        if reply.get("state") != "waiting_for_button":
            console.print("Unexpected answer from gaslatch: %s" % json.dumps(reply, sort_keys=True))
            sys.exit(EXIT_REFUSED)
        window_s = reply.get("window_s", DEFAULT_RESET_WINDOW_S)
        outcome = _wait_for_button(console, client, window_s)
    state = outcome.get("state")
    if state == "accepted":
        console.print("Reset accepted: the gas valve may open.")
        sys.exit(EXIT_OK)
    if state == "refused":
        _print_refusal(console, "Reset refused when the button was pressed", outcome)
    elif state == "expired":
        console.print("The RESET button was not pressed within %s s: nothing was reset. Run gaslatch reset again "
                      "when someone is at the controller." % window_s)
    else:
        console.print("Reset not done: %s" % (outcome.get("error") or json.dumps(outcome, sort_keys=True)))
    sys.exit(EXIT_REFUSED)


@click.command()
@_connection_options
@click.pass_context
def silence(ctx: click.Context) -> None:
    """Silence the sounder for the configured time (a new alarm sounds again). The beacon stays on."""
    _simple(ctx, "silence", {}, "Sounder silenced.")


@click.command()
@_connection_options
@click.argument("detector")
@click.option("--minutes", type=click.IntRange(1, HARD_INHIBIT_MAX_MIN),
              help="Inhibit for this long (1-%d; the config may allow less). It always ends by itself."
                   % HARD_INHIBIT_MAX_MIN)
@click.option("--end", is_flag=True, help="End the detector's inhibit now.")
@click.pass_context
def inhibit(ctx: click.Context, detector: str, minutes: int | None, end: bool) -> None:
    """Inhibit one DETECTOR for maintenance (a bump test), or end its inhibit with --end.

    One detector at a time, only while it reads normal, never renewed; the others stay live.
    """
    if end == (minutes is not None):
        raise click.UsageError("give either --minutes N (1-%d) or --end" % HARD_INHIBIT_MAX_MIN)
    if end:
        _simple(ctx, "end_inhibit", {"detector": detector}, "Inhibit of %s ended." % detector)
    else:
        _simple(ctx, "inhibit", {"detector": detector, "minutes": minutes},
                "Detector %s inhibited for %d min." % (detector, minutes))


@click.command("test-outputs")
@_connection_options
@click.option("--line", "lines", multiple=True, type=click.Choice([name for name, _ in OUTPUT_CHECKS]),
              help="Test only this output (repeat for more). Default: all, valve last.")
@click.option("--ms", "pulse_ms", type=click.IntRange(100, 10000), default=2000, show_default=True,
              help="How long each output is switched on.")
@click.option("--yes", is_flag=True, help="Do not ask: pulse every output, close the valve, no confirmations.")
@click.pass_context
def test_outputs(ctx: click.Context, lines: tuple[str, ...], pulse_ms: int, yes: bool) -> None:
    """Commissioning: switch each output on in turn and ask whether it worked.

    The valve test can only CLOSE the gas valve, never open it. Exits 0 only if every output tested was
    confirmed (or pulsed, with --yes).
    """
    console = Console()
    chosen = [(name, question) for name, question in OUTPUT_CHECKS if not lines or name in lines]
    results: list[tuple[str, str, bool]] = []
    with _connect(ctx) as client:
        for name, question in chosen:
            if name == "valve" and not yes and not click.confirm(VALVE_WARNING, default=False):
                results.append((name, "skipped: not closed", False))
                continue
            reply = _call(lambda: client.request("test_output", {"line": name, "ms": pulse_ms}))
            if not reply.get("ok"):
                results.append((name, "refused: %s" % reply.get("error", "no reason given"), False))
                console.print("[yellow]%s refused:[/] %s" % (name, reply.get("error", "no reason given")))
                continue
            if name == "valve":
                console.print("Closing the gas valve (it stays closed); waiting %.1f s for it to move…"
                              % (pulse_ms / 1000))
            else:
                console.print("Switching %s on for %.1f s…" % (name, pulse_ms / 1000))
            time.sleep(pulse_ms / 1000)
            if yes:
                results.append((name, "pulsed (not confirmed: --yes)", True))
            elif click.confirm(question, default=False):
                results.append((name, "confirmed", True))
            else:
                results.append((name, "NOT confirmed: check wiring and config lines.%s" % name, False))
    table = Table(title="Output test")
    table.add_column("Output")
    table.add_column("Result")
    for name, text, passed in results:
        table.add_row(name, text, style="" if passed else "bold red")
    console.print(table)
    sys.exit(EXIT_OK if all(passed for _, _, passed in results) else EXIT_REFUSED)


# ---- shared: talking to the socket, printing ----

def socket_settings(socket_path: str | None, config_path: str | None) -> tuple[str, str]:
    """(socket path, group) from --socket, else the config's control section, else the defaults."""
    control: Any = {}
    if config_path:
        try:
            with open(config_path, encoding="utf-8") as f:
                doc = json.load(f)
        except OSError as err:
            raise click.BadParameter("cannot read %s: %s" % (config_path, err.strerror), param_hint="--config")
        except ValueError as err:
            raise click.BadParameter("%s is not valid JSON: %s" % (config_path, err), param_hint="--config")
        control = doc.get("control", {}) if isinstance(doc, dict) else {}
        if not isinstance(control, dict):
            raise click.BadParameter("control in %s is not an object" % config_path, param_hint="--config")
    group = control.get("group") if isinstance(control.get("group"), str) else DEFAULT_CONTROL_GROUP
    path = socket_path or (control.get("socket") if isinstance(control.get("socket"), str) else None)
    return path or DEFAULT_CONTROL_SOCKET, group


def _connect(ctx: click.Context) -> ControlClient:
    meta = ctx.meta
    path, group = socket_settings(meta["gaslatch_control.socket_path"], meta["gaslatch_control.config_path"])
    return _call(lambda: ControlClient(path, group, meta["gaslatch_control.timeout_s"]))


def _call(action: Callable[[], Any]) -> Any:
    """Runs action; a ControlUnreachable becomes its message on stderr and exit code 3."""
    try:
        return action()
    except ControlUnreachable as err:
        click.echo("gaslatch: %s" % err, err=True)
        sys.exit(EXIT_UNREACHABLE)


def _ask(ctx: click.Context, cmd: str, args: dict | None = None) -> dict:
    with _connect(ctx) as client:
        return _call(lambda: client.request(cmd, args))


def _simple(ctx: click.Context, cmd: str, args: dict, done_text: str) -> None:
    reply = _ask(ctx, cmd, args)
    console = Console()
    if reply.get("ok"):
        console.print(reply.get("message") or done_text)
        sys.exit(EXIT_OK)
    _print_refusal(console, "Refused", reply)
    sys.exit(EXIT_REFUSED)


def _print_refusal(console: Console, title: str, reply: dict) -> None:
    """The title and each reason on its own line, else the error text."""
    reasons = reply.get("reasons")
    if isinstance(reasons, list) and reasons:
        console.print("[bold red]%s:[/]" % title)
        for reason in reasons:
            console.print("  - %s" % reason, highlight=False)
    else:
        console.print("[bold red]%s:[/] %s" % (title, reply.get("error") or "no reason given"), highlight=False)


def _wait_for_button(console: Console, client: ControlClient, window_s: Any) -> dict:
    """Counts the window down until gaslatch sends the reset's outcome line."""
    console.print("Press the RESET button on the controller within %s s…" % window_s)
    window_end_s = time.monotonic() + float(window_s)
    give_up_s = window_end_s + RESET_GRACE_S
    with console.status("") as spinner:
        while True:
            now_s = time.monotonic()
            if now_s >= give_up_s:
                click.echo("gaslatch: no outcome of the reset %g s after its window ended: is the scan loop "
                           "stalled? (journalctl -u gaslatch)" % RESET_GRACE_S, err=True)
                sys.exit(EXIT_UNREACHABLE)
            left_s = max(0, math.ceil(window_end_s - now_s))
            spinner.update("Waiting for the RESET button: %d s left" % left_s)
            message = _call(lambda: client.poll(min(1.0, give_up_s - now_s)))
            if message is not None and "state" in message:
                return message


def _print_status(console: Console, reply: dict) -> None:
    if not reply.get("ok"):
        _print_refusal(console, "Status not available", reply)
        return
    if isinstance(reply.get("status"), dict):
        reply = reply["status"]
    _print_unit_health(console, reply)
    latched = reply.get("latched")
    if latched:
        console.print("[bold red]LATCHED[/]: gas off until a local reset", highlight=False)
    elif latched is False:
        console.print("[green]ARMED[/]: gas may flow", highlight=False)
    for label, key in (("Trip reason", "trip_reason"), ("Valve fault", "valve_fault")):
        if reply.get(key):
            console.print("%s: %s" % (label, reply[key]), highlight=False)
    if reply.get("trip_causes"):
        console.print("Trip causes: %s" % "; ".join(str(c) for c in reply["trip_causes"]), highlight=False)
    if reply.get("schedule"):
        console.print("Attended hours: %s" % str(reply["schedule"]).replace("_", " "), highlight=False)
    if reply.get("silenced_s") is not None:
        console.print("Sounder silenced: %s s left" % reply["silenced_s"], highlight=False)
    inhibits = reply.get("inhibits") or {}
    for name in sorted(inhibits):
        console.print("Inhibited: %s, %s s left" % (name, inhibits[name]), highlight=False)
    console.print(_detectors_table(reply.get("detectors") or {}))
    console.print(_outputs_table(reply.get("outputs") or {}))
    console.print(_interlocks_table(reply.get("interlocks") or {}))
    if reply.get("buses"):
        console.print(_buses_table(reply["buses"]))
    if reply.get("scan"):
        console.print(_scan_table(reply["scan"]))


def _print_unit_health(console: Console, status: dict) -> None:
    """Problems of the unit itself: event store, serial ports, clock. Silent when all is well."""
    store = status.get("store")
    if isinstance(store, dict):
        if store.get("ok", True):
            console.print("Event store: OK, %s of %s events, last seq %s" % (
                store.get("rows", "?"), store.get("max_events", "?"), store.get("recorded_seq", "?")), highlight=False)
        else:
            console.print("[bold red]Event store problem:[/] %s (lost %s)" % (
                store.get("error") or store.get("integrity") or "see journalctl -u gaslatch", store.get("lost", 0)),
                highlight=False)
    ports = status.get("ports")
    if isinstance(ports, dict):
        for name in sorted(ports):
            error = ports[name].get("error") if isinstance(ports[name], dict) else None
            if error:
                console.print("[yellow]Serial port of %s:[/] %s" % (name, error), highlight=False)
    if status.get("clock_synced") is False:
        console.print("[yellow]Clock not synchronised:[/] attended hours cannot be checked", highlight=False)


def _detectors_table(detectors: dict) -> Table:
    table = Table(title="Detectors")
    for column in ("Detector", "State", "Reading", "Age", "Inhibited", "Why"):
        table.add_column(column, justify="right" if column in ("Reading", "Age") else "left")
    for name in sorted(detectors):
        det = detectors[name]
        state = str(det.get("state", "?"))
        style = _STATE_STYLE.get(state)
        shown = state.replace("_", " ")
        table.add_row(name, "[%s]%s[/]" % (style, shown) if style else shown,
                      _reading(det.get("concentration_centi_pct_lel")), _age(det.get("last_sample_age_ms")),
                      "yes" if det.get("inhibited") else "no", str(det.get("reason", "")))
    return table


def _outputs_table(outputs: dict) -> Table:
    table = Table(title="Outputs")
    for column in ("Output", "Level", "Meaning"):
        table.add_column(column)
    for name in sorted(outputs):
        level = bool(outputs[name])
        table.add_row(name, "on" if level else "off", _OUTPUT_MEANING.get(name, {}).get(level, ""))
    return table


def _interlocks_table(interlocks: dict) -> Table:
    table = Table(title="Interlocks")
    table.add_column("Interlock")
    table.add_column("State")
    for name in sorted(interlocks):
        table.add_row(name.replace("_", " "), "[bold red]ACTIVE[/]" if interlocks[name] else "clear")
    return table


def _buses_table(buses: dict) -> Table:
    table = Table(title="RS-485 buses")
    columns = (("Bus", None), ("Requests", "requests"), ("OK", "responses_ok"), ("Timeouts", "timeouts"),
               ("CRC errors", "crc_errors"), ("Frame errors", "frame_errors"), ("Last OK", "last_ok_age_ms"))
    for title, _ in columns:
        table.add_column(title, justify="left" if title == "Bus" else "right")
    for name in sorted(buses):
        bus = buses[name]
        cells = [name]
        for _, key in columns[1:]:
            cells.append(_age(bus.get(key)) if key == "last_ok_age_ms" else str(bus.get(key, "")))
        table.add_row(*cells)
    return table


def _scan_table(scan: dict) -> Table:
    table = Table(title="Scan loop (period %s ms)" % scan.get("period_ms", "?"))
    table.add_column("Figure")
    table.add_column("Value", justify="right")
    for label, key in (("scans", "scans"), ("overruns", "overruns"), ("missed deadlines", "missed_deadlines")):
        table.add_row(label, str(scan.get(key, "")))
    for label, key in (("start jitter", "start_jitter"), ("execution time", "execution")):
        hist = scan.get(key) or {}
        table.add_row("%s p50 / p99 / max" % label, " / ".join(
            _micros(hist.get(k)) for k in ("p50_us", "p99_us", "max_us")))
    return table


def _reading(centi_pct_lel: Any) -> str:
    if not isinstance(centi_pct_lel, int) or isinstance(centi_pct_lel, bool):
        return "-"
    return "%.2f %%LEL" % (centi_pct_lel / 100)


def _age(age_ms: Any) -> str:
    if not isinstance(age_ms, (int, float)) or isinstance(age_ms, bool):
        return "-"
    return "%.1f s" % (age_ms / 1000)


def _micros(value_us: Any) -> str:
    if not isinstance(value_us, (int, float)) or isinstance(value_us, bool):
        return "-"
    return "%.2f ms" % (value_us / 1000)


COMMANDS = [status, reset, silence, inhibit, test_outputs]
