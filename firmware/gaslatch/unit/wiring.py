"""Checks that the configuration's GPIO map wires every line the safety logic relies on.

The core validates the logic; this validates the hardware description, with the same Problem
format, so `gaslatch check-config` and `gaslatch run` list both kinds of mistake together.
"""

import os

from gaslatch.core.config import Problem
from gaslatch.core.modbus_rtu import bits_per_char
from gaslatch.unit.adc_ads1115 import AdcError, choose_gain
from gaslatch.unit.control_socket import MAX_SOCKET_PATH_BYTES
from gaslatch.unit.gpio_lines import INPUT_LINES, OUTPUT_LINES as SAFETY_OUTPUTS, line_directions

ANALOG_CHANNELS = ("ain0", "ain1", "ain2", "ain3")


def required_lines(cfg: dict) -> dict[str, str]:
    """Line name -> why it must be wired, for this configuration."""
    need = {
        "valve": "the shutoff valve is the point of the controller",
        "reset_button": "the local reset is the only way to reopen the gas",
    }
    if cfg["interlocks"]["fire_input"]:
        need["fire_input"] = "interlocks.fire_input is true"
    if cfg["interlocks"]["estop_input"]:
        need["estop_input"] = "interlocks.estop_input is true"
    if cfg["fan"]["proving"]:
        need["fan_proven"] = "fan.proving is true"
    if cfg["proving"]["mode"] == "switch":
        need["gas_pressure"] = "proving.mode is switch"
    if cfg["valve"]["feedback"] in ("closed", "both"):
        need["valve_feedback_closed"] = "valve.feedback is %s" % cfg["valve"]["feedback"]
    if cfg["valve"]["feedback"] == "both":
        need["valve_feedback_open"] = "valve.feedback is both"
    for name, det in sorted(cfg["detectors"].items()):
        if det["kind"] == "contact":
            need[det["line"]] = "contact detector %s" % name
            if det.get("fault_line"):
                need[det["fault_line"]] = "contact detector %s's fault contact" % name
    for name, bus in sorted(cfg["buses"].items()):
        if bus["direction"] == "gpio":
            if bus.get("de_line"):
                need[bus["de_line"]] = "bus %s switches its transceiver with a GPIO line" % name
    return need


# With a GPIO-driven DE line the frame is sent inside the scan: keep it to a fifth of the period.
GPIO_DIRECTION_SHARE = 0.2


def _role_problems(cfg: dict) -> list[Problem]:
    """A line has one job: a DE line or a contact line must never be a safety output or input."""
    problems = []
    roles: dict[str, str] = {}
    for line in SAFETY_OUTPUTS:
        roles[line] = "the %s output" % line
    for line in INPUT_LINES:
        roles[line] = "the %s input" % line
    uses = []
    for name, det in sorted(cfg["detectors"].items()):
        if det["kind"] == "contact":
            uses.append(("$.detectors.%s.line" % name, det["line"], "contact detector %s" % name))
            if det.get("fault_line"):
                uses.append(("$.detectors.%s.fault_line" % name, det["fault_line"], "contact detector %s" % name))
    for name, bus in sorted(cfg["buses"].items()):
        if bus.get("de_line"):
            uses.append(("$.buses.%s.de_line" % name, bus["de_line"], "the DE line of bus %s" % name))
    for path, line, role in uses:
        if line in roles:
            problems.append(Problem(path, "line %s is already %s; it cannot also be %s" % (line, roles[line], role),
                                    "give it a line name of its own, wired to its own pin"))
        else:
            roles[line] = role
    return problems


def wiring_problems(cfg: dict) -> list[Problem]:
    """Every wiring mistake in a normalised config (core validation already passed)."""
    problems = []
    lines = cfg["lines"]
    for line, why in sorted(required_lines(cfg).items()):
        if line not in lines:
            problems.append(Problem("$.lines", "line %s is not wired (%s)" % (line, why),
                                    'add "%s": {"pin": N, "active": "high" or "low"} under "lines"' % line))
    inputs, outputs = line_directions(cfg)
    for line in sorted(set(lines) - inputs - outputs):
        problems.append(Problem("$.lines.%s" % line, "no line is called %s" % line,
                                "line names: %s, or a contact detector's line / a bus's de_line"
                                % ", ".join(sorted(inputs | outputs))))
    owners: dict[int, str] = {}
    for line in sorted(lines):
        pin = lines[line]["pin"]
        if pin in owners:
            problems.append(Problem("$.lines.%s.pin" % line, "GPIO%d is also used by line %s" % (pin, owners[pin]),
                                    "give each line its own pin"))
        else:
            owners[pin] = line
    problems.extend(_role_problems(cfg))
    for name, bus in sorted(cfg["buses"].items()):
        if bus["direction"] == "gpio" and not bus.get("de_line"):
            problems.append(Problem("$.buses.%s.de_line" % name, "direction gpio needs a de_line",
                                    "name the line wired to the transceiver's DE/RE pins, and map it under lines"))
        if bus["direction"] == "gpio":
            frame_ms = 8 * bits_per_char(bus["parity"], bus["stop_bits"]) * 1000.0 / bus["baud"]
            if frame_ms > cfg["scan"]["period_ms"] * GPIO_DIRECTION_SHARE:
                problems.append(Problem(
                    "$.buses.%s.direction" % name,
                    "with direction gpio each request holds the scan for its wire time (%.1f ms at %d baud), more "
                    "than a fifth of the %d ms scan" % (frame_ms, bus["baud"], cfg["scan"]["period_ms"]),
                    "use an adapter with automatic direction (auto) or the UART's RS-485 mode (kernel), a higher "
                    "baud rate, or a longer scan.period_ms"))
    if any(det["kind"] == "analog" for det in cfg["detectors"].values()):
        try:
            choose_gain(cfg["analog"]["shunt_ohm"])
        except AdcError as err:
            problems.append(Problem("$.analog.shunt_ohm", str(err), "150 ohm is the usual shunt"))
    for name, det in sorted(cfg["detectors"].items()):
        if det["kind"] == "analog" and det["channel"] not in ANALOG_CHANNELS:
            problems.append(Problem("$.detectors.%s.channel" % name,
                                    "no ADC channel %r" % det["channel"],
                                    "use one of %s (ADS1115 inputs AIN0-AIN3)" % ", ".join(ANALOG_CHANNELS)))
    proving = cfg["proving"]
    if proving["mode"] == "transmitter":
        channel = proving["transmitter"]["channel"]
        if channel not in ANALOG_CHANNELS:
            problems.append(Problem("$.proving.transmitter.channel", "no ADC channel %r" % channel,
                                    "use one of %s (ADS1115 inputs AIN0-AIN3)" % ", ".join(ANALOG_CHANNELS)))
        users = [name for name, det in sorted(cfg["detectors"].items())
                 if det["kind"] == "analog" and det["channel"] == channel]
        if users:
            problems.append(Problem("$.proving.transmitter.channel", "channel %s is also detector %s's" % (
                channel, users[0]), "give the pressure transmitter a channel of its own"))
    problems.extend(_shared_path_problems(cfg))
    socket_bytes = len(cfg["control"]["socket"].encode("utf-8"))
    if socket_bytes > MAX_SOCKET_PATH_BYTES:
        problems.append(Problem("$.control.socket", "%d bytes long; a UNIX socket path holds at most %d"
                                % (socket_bytes, MAX_SOCKET_PATH_BYTES), "choose a shorter path, e.g. "
                                "/run/gaslatch/control.sock"))
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
            problems.append(Problem("$." + where, "is the same path as %s" % seen[path],
                                    "give each its own path, e.g. the defaults"))
        else:
            seen[path] = where
    return problems
