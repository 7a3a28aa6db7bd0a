"""Checks that the configuration's GPIO map wires every line the safety logic relies on.

The core validates the logic; this validates the hardware description, with the same Problem
format, so `gaslatch check-config` and `gaslatch run` list both kinds of mistake together.
"""

import os

from gaslatch.core.config import Problem
from gaslatch.core.modbus_rtu import bits_per_char
from gaslatch.core.text import N_
from gaslatch.unit.adc_ads1115 import AdcError, choose_gain
from gaslatch.unit.control_socket import MAX_SOCKET_PATH_BYTES
from gaslatch.unit.gpio_lines import INPUT_LINES, OUTPUT_LINES as SAFETY_OUTPUTS, line_directions

ANALOG_CHANNELS = ("ain0", "ain1", "ain2", "ain3")


def required_lines(cfg: dict) -> dict[str, str]:
    """Line name -> why it must be wired, for this configuration (English)."""
    return {line: str(why) for line, why in _required_lines(cfg).items()}


def _required_lines(cfg: dict) -> dict:
    """Line name -> why it must be wired, as a text.Text (read in the reader's language by problem_text)."""
    need = {
        "valve": N_("the shutoff valve is the point of the controller"),
        "reset_button": N_("the local reset is the only way to reopen the gas"),
    }
    if cfg["interlocks"]["fire_input"]:
        need["fire_input"] = N_("interlocks.fire_input is true")
    if cfg["interlocks"]["estop_input"]:
        need["estop_input"] = N_("interlocks.estop_input is true")
    if cfg["fan"]["proving"]:
        need["fan_proven"] = N_("fan.proving is true")
    if cfg["proving"]["mode"] == "switch":
        need["gas_pressure"] = N_("proving.mode is switch")
    if cfg["valve"]["feedback"] in ("closed", "both"):
        need["valve_feedback_closed"] = N_("valve.feedback is %(feedback)s", feedback=cfg["valve"]["feedback"])
    if cfg["valve"]["feedback"] == "both":
        need["valve_feedback_open"] = N_("valve.feedback is both")
    for name, det in sorted(cfg["detectors"].items()):
        if det["kind"] == "contact":
            need[det["line"]] = N_("contact detector %(name)s", name=name)
            if det.get("fault_line"):
                need[det["fault_line"]] = N_("contact detector %(name)s's fault contact", name=name)
    for name, bus in sorted(cfg["buses"].items()):
        if bus["direction"] == "gpio":
            if bus.get("de_line"):
                need[bus["de_line"]] = N_("bus %(name)s switches its transceiver with a GPIO line", name=name)
    return need


# With a GPIO-driven DE line the frame is sent inside the scan: keep it to a fifth of the period.
GPIO_DIRECTION_SHARE = 0.2


def _role_problems(cfg: dict) -> list[Problem]:
    """A line has one job: a DE line or a contact line must never be a safety output or input."""
    problems = []
    roles: dict = {}
    for line in SAFETY_OUTPUTS:
        roles[line] = N_("the %(line)s output", line=line)
    for line in INPUT_LINES:
        roles[line] = N_("the %(line)s input", line=line)
    uses = []
    for name, det in sorted(cfg["detectors"].items()):
        if det["kind"] == "contact":
            uses.append(("$.detectors.%s.line" % name, det["line"], N_("contact detector %(name)s", name=name)))
            if det.get("fault_line"):
                uses.append(("$.detectors.%s.fault_line" % name, det["fault_line"],
                             N_("contact detector %(name)s", name=name)))
    for name, bus in sorted(cfg["buses"].items()):
        if bus.get("de_line"):
            uses.append(("$.buses.%s.de_line" % name, bus["de_line"], N_("the DE line of bus %(name)s", name=name)))
    for path, line, role in uses:
        if line in roles:
            problems.append(Problem(path, N_("line %(line)s is already %(role)s; it cannot also be %(other)s",
                                             line=line, role=roles[line], other=role),
                                    N_("give it a line name of its own, wired to its own pin")))
        else:
            roles[line] = role
    return problems


def wiring_problems(cfg: dict) -> list[Problem]:
    """Every wiring mistake in a normalised config (core validation already passed)."""
    problems = []
    lines = cfg["lines"]
    for line, why in sorted(_required_lines(cfg).items()):
        if line not in lines:
            problems.append(Problem("$.lines", N_("line %(line)s is not wired (%(why)s)", line=line, why=why),
                                    N_('add "%(line)s": {"pin": N, "active": "high" or "low"} under "lines"',
                                       line=line)))
    inputs, outputs = line_directions(cfg)
    for line in sorted(set(lines) - inputs - outputs):
        problems.append(Problem("$.lines.%s" % line, N_("no line is called %(line)s", line=line),
                                N_("line names: %(lines)s, or a contact detector's line / a bus's de_line",
                                   lines=", ".join(sorted(inputs | outputs)))))
    owners: dict[int, str] = {}
    for line in sorted(lines):
        pin = lines[line]["pin"]
        if pin in owners:
            problems.append(Problem("$.lines.%s.pin" % line, N_("GPIO%(pin)d is also used by line %(line)s", pin=pin,
                                                                  line=owners[pin]),
                                    N_("give each line its own pin")))
        else:
            owners[pin] = line
    problems.extend(_role_problems(cfg))
    for name, bus in sorted(cfg["buses"].items()):
        if bus["direction"] == "gpio" and not bus.get("de_line"):
            problems.append(Problem("$.buses.%s.de_line" % name, N_("direction gpio needs a de_line"),
                                    N_("name the line wired to the transceiver's DE/RE pins, and map it under lines")))
        if bus["direction"] == "gpio":
            frame_ms = 8 * bits_per_char(bus["parity"], bus["stop_bits"]) * 1000.0 / bus["baud"]
            if frame_ms > cfg["scan"]["period_ms"] * GPIO_DIRECTION_SHARE:
                problems.append(Problem(
                    "$.buses.%s.direction" % name,
                    N_("with direction gpio each request holds the scan for its wire time (%(frame).1f ms at "
                       "%(baud)d baud), more than a fifth of the %(period)d ms scan", frame=frame_ms,
                       baud=bus["baud"], period=cfg["scan"]["period_ms"]),
                    N_("use an adapter with automatic direction (auto) or the UART's RS-485 mode (kernel), a higher "
                       "baud rate, or a longer scan.period_ms")))
    if any(det["kind"] == "analog" for det in cfg["detectors"].values()):
        try:
            choose_gain(cfg["analog"]["shunt_ohm"])
        except AdcError as err:
            problems.append(Problem("$.analog.shunt_ohm", str(err), N_("150 ohm is the usual shunt")))
    for name, det in sorted(cfg["detectors"].items()):
        if det["kind"] == "analog" and det["channel"] not in ANALOG_CHANNELS:
            problems.append(Problem("$.detectors.%s.channel" % name,
                                    N_("no ADC channel %(channel)r", channel=det["channel"]),
                                    N_("use one of %(channels)s (ADS1115 inputs AIN0-AIN3)",
                                       channels=", ".join(ANALOG_CHANNELS))))
    proving = cfg["proving"]
    if proving["mode"] == "transmitter":
        channel = proving["transmitter"]["channel"]
        if channel not in ANALOG_CHANNELS:
            problems.append(Problem("$.proving.transmitter.channel", N_("no ADC channel %(channel)r", channel=channel),
                                    N_("use one of %(channels)s (ADS1115 inputs AIN0-AIN3)",
                                       channels=", ".join(ANALOG_CHANNELS))))
        users = [name for name, det in sorted(cfg["detectors"].items())
                 if det["kind"] == "analog" and det["channel"] == channel]
        if users:
            problems.append(Problem("$.proving.transmitter.channel", N_("channel %(channel)s is also detector "
                                                                       "%(detector)s's", channel=channel,
                                                                       detector=users[0]),
                                    N_("give the pressure transmitter a channel of its own")))
    problems.extend(_shared_path_problems(cfg))
    socket_bytes = len(cfg["control"]["socket"].encode("utf-8"))
    if socket_bytes > MAX_SOCKET_PATH_BYTES:
        problems.append(Problem("$.control.socket", N_("%(n)d bytes long; a UNIX socket path holds at most %(limit)d",
                                                       n=socket_bytes, limit=MAX_SOCKET_PATH_BYTES),
                                N_("choose a shorter path, e.g. /run/gaslatch/control.sock")))
    return problems


def _shared_path_problems(cfg: dict) -> list[Problem]:
    """The store, the control socket and the sim GPIO directory each need a path of their own."""
    keys = [("store", "path"), ("control", "socket")] + ([("gpio", "sim_dir")] if cfg["gpio"]["backend"] == "sim"
                                                         else [])
    problems = []
    seen: dict[str, str] = {}
    for section, key in keys:
        where = "%s.%s" % (section, key)
        path = os.path.normpath(os.path.abspath(cfg[section][key]))
        if path in seen:
            problems.append(Problem("$." + where, N_("is the same path as %(other)s", other=seen[path]),
                                    N_("give each its own path, e.g. the defaults")))
        else:
            seen[path] = where
    return problems
