"""A bench scenario file: the kitchen to emulate, a timeline of stimuli and faults, and what must happen.

Scenarios are YAML (or JSON) checked against SCHEMA (published as docs/bench.schema.json); the
controller part is checked again by the controller's own config loader, with the same messages.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from gaslatch.core import modbus_rtu
from gaslatch.translation import _
from gaslatch.core.constants import MEASURAND_COMBUSTIBLE, MEASURANDS
from gaslatch.core.config import ConfigError, load_config
from gaslatch.unit.unit_config import load_profiles
from gaslatch_tools import data_file
from gaslatch_tools.bench.emulated_detector import DEFAULT_FULL_SCALE_PPM
from gaslatch_tools.testing.kitchen_config import kitchen_config

LIBRARY_DIR = os.path.join(os.path.dirname(__file__), "scenarios")
SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")

# Scenario time 0 is this long after the controller starts (start: armed): time to come up, read every
# detector for its clear hold's samples (5 polls, 1 s apart with the vendor profiles) and take the bench's
# reset press that opens the valve.
ARMING_S = 9.0

_NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}
_TIME = {"type": "number", "minimum": 0, "maximum": 3600}
_PCT = {"type": "number", "minimum": 0, "maximum": 5000}
# A CO or CO2 detector's gas, in ppm (its gas model's values are ppm); the gas model stops at 5000.
_PPM = {"type": "number", "minimum": 0, "maximum": 5000}

_ACTIONS = {
    "press": ({"line": {"type": "string"}, "hold_s": {"type": "number", "minimum": 0.05, "maximum": 60}},
              ["line"], "Press a button (reset_button, silence_button) and let it go after hold_s (default 0.5 s)."),
    "input": ({"line": {"type": "string"}, "active": {"type": "boolean"}}, ["line", "active"],
              "Set a contact: fire_input, estop_input, a contact detector's line."),
    "cut_wire": ({"line": {"type": "string"}}, ["line"], "Open-circuit an input."),
    "mend_wire": ({"line": {"type": "string"}}, ["line"], "Reconnect an input."),
    "detector_fault": ({"detector": {"type": "string"},
                        "fault": {"enum": ["frozen_heartbeat", "stuck_value", "sensor_fault", "warmup",
                                           "status", "flapping_status", "exception"]},
                        "status": {"type": ["string", "null"]},
                        "code": {"type": "integer", "minimum": 1, "maximum": 255},
                        "on": {"type": "boolean"}}, ["detector", "fault"],
                       "A fault of the detector itself (register level); on: false clears it. status: the given "
                       "status on every read; flapping_status: the given status on every other read, normal "
                       "in between."),
    "bus_fault": ({"detector": {"type": "string"},
                   "fault": {"enum": ["no_reply", "lossy", "late_reply", "crc_corruption", "bit_flip", "truncated",
                                      "garbage", "wrong_address", "exception"]},
                   "count": {"type": "integer", "minimum": 1},
                   "loss_pct": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                   "delay_ms": {"type": "number", "minimum": 0}, "code": {"type": "integer"},
                   "n_bytes": {"type": "integer", "minimum": 1}, "after": {"type": "boolean"},
                   "reply_address": {"type": "integer", "minimum": 0, "maximum": 255}},
                  ["detector", "fault"], "A fault of the detector's replies on the wire (count: the next n replies, "
                  "else until bus_clear)."),
    "bus_clear": ({"detector": {"type": "string"}}, ["detector"], "End the detector's wire faults."),
    "noise": ({"bus": {"type": "string"}, "n_bytes": {"type": "integer", "minimum": 1, "maximum": 4096}},
              ["bus", "n_bytes"], "Garbage bytes on the line now."),
    "port": ({"bus": {"type": "string"}, "state": {"enum": ["vanish", "restore"]}}, ["bus", "state"],
             "The USB adapter pulled out, or plugged back in."),
    "valve_fault": ({"fault": {"enum": ["stuck_open", "no_feedback"]}, "on": {"type": "boolean"}}, ["fault"],
                    "A fault of the valve."),
    "valve_manual_open": ({}, [], "A person re-latches a valve that opens only by hand."),
    "fan_fault": ({"fault": {"type": "string"}, "on": {"type": "boolean"}}, ["fault"], "A fault of the fan."),
    "pipe_fault": ({"fault": {"enum": ["passing_valve", "leak", "appliance_open", "no_supply"]},
                    "on": {"type": "boolean"}}, ["fault"],
                   "A fault of the gas pipework downstream of the valve (its proving switch: line gas_pressure)."),
    "vent": ({}, [], "A person lets the gas trapped downstream of the closed valve out at a burner."),
    "power_cut": ({"restart_after_s": {"type": "number", "minimum": 0, "maximum": 600},
                   "detectors_too": {"type": "boolean"},
                   "random_within_s": {"type": "number", "minimum": 0, "maximum": 600}}, [],
                  "SIGKILL the controller and drop its outputs; power back after restart_after_s (default 2 s). "
                  "With random_within_s the cut comes at a random instant in at_s .. at_s + random_within_s "
                  "(repeatable for the scenario's seed)."),
    "broker": ({"state": {"enum": ["down", "up"]}}, ["state"], "Stop or restart the MQTT broker."),
    "command": ({"cmd": {"enum": ["silence", "inhibit", "end_inhibit", "reset", "status"]},
                 "args": {"type": "object"}}, ["cmd"],
                "A local command over the control socket, as `gaslatch <cmd>` sends it."),
}


def _action_schema(name: str, spec: tuple) -> dict:
    properties, required, description = spec
    props = {"at_s": _TIME, "do": {"const": name}, "label": _NAME}
    props.update(properties)
    return {"type": "object", "description": description, "properties": props,
            "required": ["at_s", "do"] + required, "additionalProperties": False}


_TRIGGER = {
    "type": "object",
    "description": "When the clock of an expectation starts: a time, a detector's reported gas crossing a "
                   "level, a labelled timeline action, the first matching event, or the first time a line "
                   "(output or input, e.g. fan_proven) has a level after t=0.",
    "properties": {
        "at_s": _TIME,
        "detector": {"type": "string"},
        "reaches_pct": _PCT,
        "reaches_ppm": _PPM,
        "action": _NAME,
        "event": {"$ref": "#/$defs/event_match"},
        "line": {"type": "string"},
        "is": {"type": "boolean"},
    },
    "additionalProperties": False,
    "minProperties": 1,
}

_CONDITION = {
    "type": "object",
    "description": "What is looked for: an output line's level, the valve's position, or an event.",
    "properties": {
        "line": {"type": "string"},
        "is": {"type": "boolean"},
        "valve": {"enum": ["closed", "open"]},
        "event": {"$ref": "#/$defs/event_match"},
        "delivered": {"$ref": "#/$defs/event_match"},
    },
    "additionalProperties": False,
    "minProperties": 1,
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gaslatch bench scenario",
    "type": "object",
    "required": ["name", "summary", "duration_s", "detectors", "expect"],
    "additionalProperties": False,
    "properties": {
        "name": _NAME,
        "summary": {"type": "string", "minLength": 1, "maxLength": 300},
        "covers": {"type": "array", "items": {"type": "string"},
                   "description": "Which requirement or standard clause the scenario shows."},
        "duration_s": {"type": "number", "minimum": 1, "maximum": 600},
        "start": {"enum": ["armed", "power_on"],
                  "description": "armed (default): the kitchen runs with the valve open at t=0; power_on: the "
                                 "controller starts at t=0."},
        "seed": {"type": "integer"},
        "controller": {"type": "object", "description": "Merged into the bench's controller configuration "
                                                        "(docs/config.md)."},
        "buses": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False,
            "properties": {"baud": {"type": "integer"}, "parity": {"enum": list(modbus_rtu.PARITIES)},
                           "stop_bits": {"enum": list(modbus_rtu.STOP_BITS)},
                           "turnaround_ms": {"type": "number", "minimum": 0, "maximum": 1000}}}},
        "detectors": {"type": "object", "minProperties": 1, "additionalProperties": {
            "type": "object", "required": ["address"], "additionalProperties": False,
            "properties": {
                "bus": {"type": "string"},
                "address": {"type": "integer", "minimum": modbus_rtu.MIN_SLAVE, "maximum": modbus_rtu.MAX_SLAVE},
                "profile": {"type": "string"},
                "warmup_s": {"type": "number", "minimum": 0, "maximum": 600},
                "full_scale_pct_lel": {"type": "number", "minimum": 1, "maximum": 100},
                "measurand": {"enum": list(MEASURANDS), "description": "What the detector measures (default "
                              "combustible); a co or co2 detector's gas model and full_scale_ppm are in ppm, and "
                              "the controller's entry gets the same measurand."},
                "full_scale_ppm": {"type": "number", "minimum": 1, "maximum": 100000,
                                   "description": "A co or co2 detector's full scale in ppm (default %d)."
                                                  % DEFAULT_FULL_SCALE_PPM},
                "gas": {"type": "object", "description": "The gas model (start_pct, segments, t90_s, noise, "
                                                         "drift_pct_per_hour)."},
                "config": {"type": "object", "description": "The detector's entry in the controller's "
                                                            "configuration, over the bench's defaults."},
            }}},
        "kitchen": {"type": "object", "additionalProperties": False, "properties": {
            "valve_travel_s": {"type": "number", "minimum": 0, "maximum": 120},
            "fan_spin_up_s": {"type": "number", "minimum": 0, "maximum": 120}}},
        "local_time_at_start": {"type": "string", "pattern": "^(mon|tue|wed|thu|fri|sat|sun) [0-2][0-9]:[0-5][0-9]:[0-5][0-9]$",
                                "description": "The controller's local wall-clock time at t=0 (for the schedule)."},
        "uplink": {"type": "boolean", "description": "Run a broker and the platform receiver; the controller "
                                                     "reports to it."},
        "timeline": {"type": "array", "items": {"oneOf": [_action_schema(name, spec)
                                                          for name, spec in sorted(_ACTIONS.items())]}},
        "expect": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "after": _TRIGGER,
                "then": _CONDITION,
                "within_s": {"type": "number", "minimum": 0, "maximum": 600},
                "never": _CONDITION,
                "holds": _CONDITION,
                "from_s": _TIME,
                "to_s": _TIME,
                "count": {"type": "integer", "minimum": 0,
                          "description": "then with an event: at least this many matching events."},
                "at_most": {"type": "integer", "minimum": 0,
                            "description": "then with an event: no more than this many in the window."},
                "not_before_s": {"type": "number", "minimum": 0,
                                 "description": "then: failing if the condition came sooner than this."},
                "all_events_delivered": {"type": "boolean"},
            },
            "oneOf": [{"required": ["then", "within_s"]}, {"required": ["never"]}, {"required": ["holds"]},
                      {"required": ["all_events_delivered"]}]}},
    },
    "$defs": {
        "event_match": {"type": "object", "additionalProperties": False, "minProperties": 1,
                        "description": "An event whose fields equal these (docs/events.md).",
                        "properties": {"type": {"type": "string"}, "source": {"type": "string"},
                                       "state": {"type": "string"}, "severity": {"type": "string"},
                                       "reason_contains": {"type": "string"}}},
    },
}


class ScenarioError(ValueError):
    """A scenario file that cannot run: the message names the file and the field."""


def library() -> list[str]:
    """The shipped scenarios' paths, sorted by name."""
    return sorted(os.path.join(LIBRARY_DIR, name) for name in os.listdir(LIBRARY_DIR)
                  if name.endswith(SCENARIO_SUFFIXES))


def find(name_or_path: str) -> str:
    """A path as given, or the library scenario of that name."""
    if os.path.exists(name_or_path):
        return name_or_path
    for path in library():
        if os.path.splitext(os.path.basename(path))[0] == name_or_path:
            return path
    raise ScenarioError(_("no scenario file %s and no library scenario of that name (gaslatch bench list)")
                        % name_or_path)


def load(path: str) -> dict:
    """The scenario at path, checked; defaults filled in (start, buses, profiles, seed)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = data_file.parse(f.read(), json_only=path.endswith(".json"))
    except (OSError, *data_file.PARSE_ERRORS) as err:
        raise ScenarioError(_("%(scenario)s: cannot read the scenario: %(error)s") % {
            "scenario": path, "error": err}) from None
    return check(doc, path)


def check(doc: Any, source: str = "scenario") -> dict:
    """doc checked against SCHEMA and for cross-references; a normalised copy."""
    problems = data_file.described_schema_problems(SCHEMA, doc)
    if problems:
        raise ScenarioError(_("%(scenario)s is not a bench scenario: %(problems)s")
                            % {"scenario": source, "problems": "; ".join(problems)})
    scenario = copy.deepcopy(doc)
    scenario.setdefault("start", "armed")
    proving = ((scenario.get("controller") or {}).get("proving") or {}).get("mode", "none")
    if proving != "none" and scenario["start"] == "armed":
        raise ScenarioError(_("%s: with pressure proving the kitchen cannot be armed before t=0 (the proving "
                              "takes its check, fill and watch): write start: power_on and press reset in the "
                              "timeline") % source)
    scenario.setdefault("seed", 1)
    scenario.setdefault("uplink", False)
    scenario.setdefault("timeline", [])
    scenario.setdefault("kitchen", {})
    scenario.setdefault("buses", {"bus1": {}})
    for bus in scenario["buses"].values():
        bus.setdefault("baud", 9600)
        bus.setdefault("parity", "N")
        bus.setdefault("stop_bits", 1)
        bus.setdefault("turnaround_ms", 1.0)
    for name, det in scenario["detectors"].items():
        det.setdefault("bus", sorted(scenario["buses"])[0])
        det.setdefault("profile", "cn-generic")
        det.setdefault("warmup_s", 0.0)
        det.setdefault("full_scale_pct_lel", 100)
        det.setdefault("measurand", MEASURAND_COMBUSTIBLE)
        if det["measurand"] != MEASURAND_COMBUSTIBLE:
            det.setdefault("full_scale_ppm", DEFAULT_FULL_SCALE_PPM)
        det.setdefault("gas", {})
        det.setdefault("config", {})
        if det["bus"] not in scenario["buses"]:
            raise ScenarioError(_("%(scenario)s: detector %(detector)s is on bus %(bus)s, which the scenario does "
                                  "not list") % {"scenario": source, "detector": name, "bus": det["bus"]})
    labels = set()
    for index, action in enumerate(scenario["timeline"]):
        where = "%s: timeline[%d] (%s)" % (source, index, action["do"])
        if "detector" in action and action["detector"] not in scenario["detectors"]:
            raise ScenarioError(_("%(where)s: no detector %(detector)s") % {"where": where,
                                                                           "detector": action["detector"]})
        if "bus" in action and action["bus"] not in scenario["buses"]:
            raise ScenarioError(_("%(where)s: no bus %(bus)s") % {"where": where, "bus": action["bus"]})
        latest_s = action["at_s"] + action.get("random_within_s", 0)
        if latest_s > scenario["duration_s"]:
            raise ScenarioError(_("%(where)s: at_s %(at)g is after the end (duration_s %(duration)g)")
                                % {"where": where, "at": latest_s, "duration": scenario["duration_s"]})
        if action["do"] == "broker" and not scenario["uplink"]:
            raise ScenarioError(_("%s: a broker action needs uplink: true") % where)
        if "label" in action:
            labels.add(action["label"])
    for index, expectation in enumerate(scenario["expect"]):
        trigger = expectation.get("after", {})
        where = "%s: expect[%d] (%s)" % (source, index, expectation["name"])
        if "action" in trigger and trigger["action"] not in labels:
            raise ScenarioError(_("%(where)s: no timeline action is labelled %(label)s") % {
                "where": where, "label": trigger["action"]})
        for key in ("reaches_pct", "reaches_ppm"):
            if key in trigger and trigger.get("detector") not in scenario["detectors"]:
                raise ScenarioError(_("%(where)s: %(key)s needs the detector it is about") % {"where": where,
                                                                                            "key": key})
        if ("line" in trigger) != ("is" in trigger):
            raise ScenarioError(_("%s: a line trigger needs both line and is") % where)
        condition = expectation.get("then") or expectation.get("never") or expectation.get("holds") or {}
        if ("line" in condition) != ("is" in condition):
            raise ScenarioError(_("%s: a line condition needs both line and is") % where)
        if ("delivered" in condition or expectation.get("all_events_delivered")) and not scenario["uplink"]:
            raise ScenarioError(_("%s: delivery can only be checked with uplink: true") % where)
    return scenario


BENCH_LINES = {
    "valve": {"pin": 17},
    "fan": {"pin": 27},
    "sounder": {"pin": 22},
    "beacon": {"pin": 23},
    "fault_relay": {"pin": 24},
    "valve_feedback_closed": {"pin": 25},
    "fan_proven": {"pin": 16},
    "gas_pressure": {"pin": 13},
    "fire_input": {"pin": 26, "active": "low"},
    "estop_input": {"pin": 19, "active": "low"},
    "reset_button": {"pin": 20},
    "silence_button": {"pin": 21},
}


def controller_document(scenario: dict, workdir: str, ports: dict[str, str], control_socket: str,
                        group: str, uplink: dict | None = None) -> dict:
    """The controller's configuration for a scenario: the bench's kitchen, then the scenario's overrides."""
    sections: dict[str, Any] = {
        "unit": {"site": "bench", "name": scenario["name"]},
        "buses": {name: {"port": ports[name], "baud": bus["baud"], "parity": bus["parity"],
                         "stop_bits": bus["stop_bits"], "response_timeout_ms": 200, "retries": 1}
                  for name, bus in sorted(scenario["buses"].items())},
        "detectors": {},
        "valve": {"type": "hold", "travel_s": 4, "feedback": "closed", "startup": "manual_reset"},
        "fan": {"mode": "alarm", "run_on_s": 30, "proving": False},
        "interlocks": {"fire_input": True, "estop_input": True},
    }
    for name, det in sorted(scenario["detectors"].items()):
        entry = {"kind": "modbus", "bus": det["bus"], "address": det["address"], "profile": det["profile"]}
        if det.get("measurand", MEASURAND_COMBUSTIBLE) != MEASURAND_COMBUSTIBLE:
            entry["measurand"] = det["measurand"]
        entry.update(det["config"])
        sections["detectors"][name] = entry
    if uplink is not None:
        sections["uplink"] = uplink
    doc = kitchen_config(workdir, period_ms=100, lines=BENCH_LINES, control_socket=control_socket, group=group,
                         **sections)
    return _merged(doc, scenario.get("controller", {}))


def controller_config(doc: dict, source: str) -> dict:
    """The normalised controller configuration, or ScenarioError with the controller's own messages."""
    kinds = {name: profile.kind for name, profile in load_profiles().items()}
    try:
        return load_config(doc, kinds)
    except ConfigError as err:
        raise ScenarioError(_("%(scenario)s: the controller refuses the kitchen: %(error)s") % {
            "scenario": source, "error": err}) from None


def _merged(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
