"""Checks a controller configuration against SCHEMA and the rules a schema cannot express, and fills defaults.

A config with any problem is refused whole; every problem is listed with its JSON path and what to write instead.
"""

import json

from gaslatch.core import civil_date
from gaslatch.core import constants
from gaslatch.core import config_schema
from gaslatch.core import modbus_rtu
from gaslatch.core.detector_state import link_budget_ms
from gaslatch.core.config_schema import SCHEMA
# closest and edit_distance are unused here but stay part of config's API (tests import them from config).
from gaslatch.core.json_schema_subset import (
    ROOT,
    Interpreter,
    Problem,
    child_path,
    closest,
    did_you_mean,
    edit_distance,
    is_integer,
    is_number,
    list_of,
    quote,
    show,
)
from gaslatch.core.text import N_

# The key whose const picks a oneOf branch of SCHEMA (a detector's kind).
DISCRIMINATOR = "kind"
# The valve's lifecycle reminders are raised as "valve:<task>" (lifecycle.VALVE): no detector may share it.
VALVE_ASSET = "valve"


def format_problems(problems):
    """The installer-facing report of a list of problems, one problem (and its hint) per entry."""
    count = len(problems)
    lines = ["configuration has %d problem%s; the controller will not start:" % (count, "" if count == 1 else "s")]
    for problem in problems:
        lines.append("  %s: %s" % (problem.path, problem.message))
        lines.append("      hint: %s" % problem.hint)
    return "\n".join(lines)


class ConfigError(Exception):
    """The config cannot be used; `problems` lists every reason (list of Problem)."""

    def __init__(self, problems):
        super().__init__(format_problems(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------------
# The patterns SCHEMA uses, each checked by hand (MicroPython has no full `re`). ECMA-262 semantics:
# `$` matches only at the very end, so a trailing newline is not allowed.

def _is_name_char(char, first):
    if "a" <= char <= "z" or "0" <= char <= "9":
        return True
    return not first and (char == "_" or char == "-")


def _matches_name(text):
    if not 1 <= len(text) <= 32:
        return False
    for i in range(len(text)):
        if not _is_name_char(text[i], i == 0):
            return False
    return True


def _matches_time(text):
    if len(text) != 5 or text[2] != ":":
        return False
    for i in (0, 1, 3, 4):
        if not "0" <= text[i] <= "9":
            return False
    return int(text[0:2]) <= 23 and int(text[3:5]) <= 59


def _is_text_char(char):
    code = ord(char)
    return not (code <= 0x1F or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF)


def _matches_text(text):
    for char in text:
        if not _is_text_char(char):
            return False
    return True


def _matches_identity(text):
    for char in text:
        if not _is_text_char(char) or char in "/+#":
            return False
    return True


PATTERNS = {
    config_schema.TEXT_PATTERN: (
        _matches_text,
        N_("text without control characters (NUL, tab, newline...) or lone UTF-16 surrogates"),
        "/dev/ttyUSB0",
    ),
    config_schema.IDENTITY_PATTERN: (
        _matches_identity,
        N_("text without control characters, lone UTF-16 surrogates, '/', '+' or '#' (it is an MQTT topic level)"),
        "main-kitchen",
    ),
    config_schema.NAME_PATTERN: (
        _matches_name,
        N_("a name of 1-32 characters: lower-case letters a-z, digits, '_' or '-', starting with a letter or digit"),
        "hood1",
    ),
    config_schema.TIME_PATTERN: (_matches_time, N_("a 24-hour time HH:MM"), "08:30"),
    config_schema.DATE_PATTERN: (lambda text: civil_date.parse(text) is not None,
                                 N_("a date YYYY-MM-DD of 2000-2099 that exists"), "2026-03-15"),
}


# ---------------------------------------------------------------------------------------------
# The structural phase: SCHEMA enforced by the JSON Schema subset interpreter, defaults filled by it.

_SCHEMA_SUBSET = Interpreter(PATTERNS, DISCRIMINATOR)
check_supported = _SCHEMA_SUBSET.check_supported
describe = _SCHEMA_SUBSET.describe


def schema_problems(doc, schema=None):
    """The problems of `doc` against `schema` (default SCHEMA) alone: the structural phase of validate()."""
    return _SCHEMA_SUBSET.problems(SCHEMA if schema is None else schema, doc)


def _zone_schema():
    return SCHEMA["properties"]["zones"]["additionalProperties"]


DETECTOR_KINDS = tuple([branch["properties"][DISCRIMINATOR]["const"]
                        for branch in SCHEMA["properties"]["detectors"]["additionalProperties"]["oneOf"]])


# ---------------------------------------------------------------------------------------------
# Semantic rules: what JSON Schema cannot say. They read the config with defaults filled and skip
# any value the structural phase already reported, so one mistake is reported once.

class _Semantics:
    def __init__(self, doc, config, structural, profile_kinds):
        self.doc = doc
        self.config = config
        self.bad_paths = [problem.path for problem in structural]
        self.profile_kinds = profile_kinds
        self.out = []

    def trusted(self, path):
        for bad in self.bad_paths:
            if bad == path or bad.startswith(path + ".") or bad.startswith(path + "["):
                return False
        return True

    def get(self, section, key, check, path=None):
        """config[section][key] if it passed the structural phase and `check`, else None."""
        if not isinstance(section, dict) or key not in section:
            return None
        value = section[key]
        if path is not None and not self.trusted(path):
            return None
        return value if check(value) else None

    def add(self, path, message, hint):
        self.out.append(Problem(path, message, hint))


def _written(doc, keys):
    """True if the installer wrote the value at `keys` (a list of keys) in `doc`, False if it is a default."""
    node = doc
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _section(config, name):
    value = config.get(name) if isinstance(config, dict) else None
    return value if isinstance(value, dict) else {}


# A detector's keys that belong to one unit: combustible gas in %LEL, CO and CO2 in ppm. A key of the other
# unit is refused (a CO channel with %LEL set points would compare ppm with %LEL); `gas` only sets an LEL.
_UNIT_KEYS = {
    "pct_lel": ("low_alarm_pct_lel", "high_alarm_pct_lel", "hysteresis_pct_lel", "full_scale_pct_lel", "gas"),
    "ppm": ("low_alarm_ppm", "high_alarm_ppm", "hysteresis_ppm", "full_scale_ppm"),
}
_UNIT_TEXT = {"pct_lel": "%LEL", "ppm": "ppm"}


def _measurand_of(detector):
    """The detector's measurand when it is a known one (the structural phase reports any other), else None."""
    measurand = detector.get("measurand") if isinstance(detector, dict) else None
    return measurand if measurand in constants.MEASURANDS else None


def _fill_measurand_defaults(config):
    """A CO or CO2 detector's entry: its ppm set points filled with that measurand's defaults, and the %LEL
    defaults (and `gas`) the schema filled for every detector taken out, so nothing of the other unit is left."""
    detectors = config.get("detectors") if isinstance(config, dict) else None
    if not isinstance(detectors, dict):
        return
    for name in detectors:
        detector = detectors[name]
        measurand = _measurand_of(detector)
        if measurand not in constants.TOXIC_MEASURANDS:
            continue
        for key in _UNIT_KEYS["pct_lel"]:
            detector.pop(key, None)
        low, high, hysteresis = constants.TOXIC_DEFAULTS[measurand]
        for key, value in (("low_alarm_ppm", low), ("high_alarm_ppm", high), ("hysteresis_ppm", hysteresis)):
            if key not in detector:
                detector[key] = value


def _measurand_rules(rules, name, detector, kind):
    """Keys of the other unit refused; a CO or CO2 loop's full scale required; a trip level within its cap.

    Returns the unit of the detector's set points, or None when its measurand is unknown."""
    path = child_path(child_path(ROOT, "detectors"), name)
    measurand = _measurand_of(detector)
    if measurand is None or not rules.trusted(child_path(path, "measurand")):
        return None
    unit = constants.MEASURAND_UNIT[measurand]
    other = "ppm" if unit == "pct_lel" else "pct_lel"
    for key in _UNIT_KEYS[other]:
        if not _written(rules.doc, ["detectors", name, key]):
            continue
        if key == "gas":
            rules.add(child_path(path, key), N_("gas sets the explosive limit of a combustible-gas detector; a "
                                                "%(measurand)s detector measures ppm and has none",
                                                measurand=measurand),
                      N_('remove "gas" from this detector'))
        elif unit == "ppm":
            rules.add(child_path(path, key), N_("a %(measurand)s detector's levels are in ppm, never %%LEL: %(key)s is "
                                                "for combustible-gas detectors", measurand=measurand, key=key),
                      N_("write %(key)s instead (default %(default)s ppm)", key=key.replace("pct_lel", "ppm"),
                         default=_toxic_default(measurand, key.replace("_pct_lel", "_ppm"))))
        else:
            rules.add(child_path(path, key), N_("%(key)s is for CO and CO2 detectors; this detector measures "
                                                "combustible gas in %%LEL", key=key),
                      N_('write %(key)s, or "measurand": "co" or "co2" for a CO or CO2 detector',
                         key=key.replace("_ppm", "_pct_lel")))
    if unit == "pct_lel":
        return unit
    if kind == "analog" and not _written(rules.doc, ["detectors", name, "full_scale_ppm"]):
        rules.add(child_path(path, "full_scale_ppm"),
                  N_("a %(measurand)s 4-20 mA detector needs its full scale in ppm: 20 mA means a different "
                     "concentration on each model", measurand=measurand),
                  N_("write full_scale_ppm from the data sheet, e.g. 5000 or 10000 for a CO2 transmitter"))
    high_path = child_path(path, "high_alarm_ppm")
    high = rules.get(detector, "high_alarm_ppm", is_number, high_path)
    cap = constants.TOXIC_MAX_HIGH[measurand]
    if high is not None and high > cap:
        rules.add(high_path, N_("a %(measurand)s trip level of %(value)s ppm is above the %(limit)d ppm limit",
                                measurand=measurand, value=show(high), limit=cap),
                  N_("write at most %(limit)d (%(source)s)", limit=cap, source=_CAP_SOURCE[measurand]))
    hysteresis_path = child_path(path, "hysteresis_ppm")
    hysteresis = rules.get(detector, "hysteresis_ppm", is_number, hysteresis_path)
    cap = constants.TOXIC_MAX_HYSTERESIS[measurand]
    if hysteresis is not None and hysteresis > cap:
        rules.add(hysteresis_path, N_("a %(measurand)s hysteresis of %(value)s ppm is above the %(limit)d ppm limit",
                                      measurand=measurand, value=show(hysteresis), limit=cap),
                  N_("write at most %(limit)d: a wider band would hold an alarm long after the air is clear",
                     limit=cap))
    return unit


_CAP_SOURCE = {
    constants.MEASURAND_CO2: N_("IGEM/UP/19: isolate at 2800 ppm in new kitchens, 5000 ppm in existing ones; "
                                "no overrides"),
    constants.MEASURAND_CO: N_("EN 50291-1 sounds within 3 minutes at 300 ppm; EH40: 100 ppm over 15 minutes"),
}


def _toxic_default(measurand, key):
    low, high, hysteresis = constants.TOXIC_DEFAULTS[measurand]
    return {"low_alarm_ppm": low, "high_alarm_ppm": high, "hysteresis_ppm": hysteresis}.get(key, "none")


def _set_point_rules(rules, name, detector, kind, unit="pct_lel"):
    path = child_path(child_path(ROOT, "detectors"), name)
    text = _UNIT_TEXT[unit]
    low_key, high_key, hysteresis_key, scale_key = ("low_alarm_" + unit, "high_alarm_" + unit,
                                                    "hysteresis_" + unit, "full_scale_" + unit)
    if unit == "pct_lel":
        defaults = (constants.DEFAULT_LOW_ALARM_PCT_LEL, constants.DEFAULT_HIGH_ALARM_PCT_LEL,
                    constants.DEFAULT_HYSTERESIS_PCT_LEL)
    else:
        defaults = constants.TOXIC_DEFAULTS[detector["measurand"]]
    low_path = child_path(path, low_key)
    high_path = child_path(path, high_key)
    low = rules.get(detector, low_key, is_number, low_path)
    high = rules.get(detector, high_key, is_number, high_path)
    if low is not None and high is not None and not low < high:
        wrote_low = _written(rules.doc, ["detectors", name, low_key])
        rules.add(low_path if wrote_low else high_path,
                  N_("low alarm %(low)s %(unit)s must be below the high alarm %(high)s %(unit)s", low=show(low),
                     high=show(high), unit=text),
                  N_("set %(low_key)s below %(high_key)s (defaults %(low)s and %(high)s)", low_key=low_key,
                     high_key=high_key, low=defaults[0], high=defaults[1]))
    hysteresis_path = child_path(path, hysteresis_key)
    hysteresis = rules.get(detector, hysteresis_key, is_number, hysteresis_path)
    if low is not None and hysteresis is not None and not hysteresis < low:
        rules.add(hysteresis_path,
                  N_("hysteresis %(hysteresis)s %(unit)s is not below the low alarm %(low)s %(unit)s, so the low "
                     "alarm could never clear", hysteresis=show(hysteresis), low=show(low), unit=text),
                  N_("set %(key)s below %(low_key)s (default %(default)s)", key=hysteresis_key, low_key=low_key,
                     default=defaults[2]))
    if kind != "analog":
        return
    scale_path = child_path(path, scale_key)
    scale = rules.get(detector, scale_key, is_number, scale_path)
    if high is not None and scale is not None and high > scale:
        wrote_high = _written(rules.doc, ["detectors", name, high_key])
        rules.add(high_path if wrote_high else scale_path,
                  N_("high alarm %(high)s %(unit)s is above the detector's full scale %(scale)s %(unit)s, so it can "
                     "never be reached", high=show(high), scale=show(scale), unit=text),
                  N_("set %(key)s to at most %(scale)s, or correct %(scale_key)s from the data sheet", key=high_key,
                     scale=show(scale), scale_key=scale_key))


def _profile_rules(rules, name, detector, kind):
    kinds = rules.profile_kinds
    if kinds is None:
        return
    path = child_path(child_path(child_path(ROOT, "detectors"), name), "profile")
    profile = rules.get(detector, "profile", lambda value: isinstance(value, str), path)
    if profile is None:
        return
    fitting = sorted([key for key in kinds if kinds[key] == kind])
    if profile not in kinds:
        listing = N_("%(kind)s profiles: %(profiles)s", kind=kind, profiles=list_of(fitting)) if fitting else N_(
            "no %(kind)s profile is installed", kind=kind)
        rules.add(path, N_("no detector profile named %(profile)s", profile=quote(profile)),
                  did_you_mean(profile, fitting, listing))
    elif kinds[profile] != kind:
        listing = N_("use one of the %(kind)s profiles: %(profiles)s", kind=kind, profiles=list_of(fitting)) \
            if fitting else N_("use one of the no %(kind)s profile is installed", kind=kind)
        rules.add(path, N_("profile %(profile)s is for %(profile_kind)s detectors, this detector is %(kind)s",
                           profile=quote(profile), profile_kind=kinds[profile], kind=kind), listing)


def _detector_rules(rules):
    detectors = _section(rules.config, "detectors")
    buses = _section(rules.config, "buses")
    bus_names = sorted(buses)
    owners = {}
    for name in sorted(detectors):
        detector = detectors[name]
        path = child_path(child_path(ROOT, "detectors"), name)
        kind = rules.get(detector, "kind", lambda value: value in DETECTOR_KINDS, child_path(path, "kind"))
        if kind is None:
            continue
        unit = _measurand_rules(rules, name, detector, kind)
        if unit is not None:
            _set_point_rules(rules, name, detector, kind, unit)
        _profile_rules(rules, name, detector, kind)
        _date_rules(rules, name, detector, path)
        if kind != "modbus":
            continue
        bus_path = child_path(path, "bus")
        bus = rules.get(detector, "bus", lambda value: isinstance(value, str), bus_path)
        if bus is not None and bus not in buses:
            listing = N_("buses defined: %(buses)s", buses=list_of(bus_names)) if bus_names else \
                N_('define it under "buses", e.g. "buses": {%(bus)s: {"port": "/dev/ttyUSB0"}}', bus=quote(bus))
            rules.add(bus_path, N_("no bus named %(bus)s", bus=quote(bus)), did_you_mean(bus, bus_names, listing))
        address_path = child_path(path, "address")
        address = rules.get(detector, "address", is_integer, address_path)
        if bus is None or address is None:
            continue
        key = (bus, address)
        if key in owners:
            rules.add(address_path, N_("address %(address)d on bus %(bus)s is also used by detector %(detector)s",
                                       address=address, bus=quote(bus), detector=quote(owners[key])),
                      N_("give each detector on a bus its own address (%(low)d-%(high)d)",
                         low=modbus_rtu.MIN_SLAVE, high=modbus_rtu.MAX_SLAVE))
        else:
            owners[key] = name


def _alarm_rules(rules):
    alarm = _section(rules.config, "alarm")
    path = child_path(ROOT, "alarm")
    lost_path = child_path(path, "comm_lost_after_s")
    trip_path = child_path(path, "fault_trip_after_s")
    lost = rules.get(alarm, "comm_lost_after_s", is_integer, lost_path)
    trip = rules.get(alarm, "fault_trip_after_s", is_integer, trip_path)
    if lost is None or trip is None or lost + trip <= constants.MAX_FAULT_DECLARE_TOTAL_S:
        return
    rules.add(trip_path,
              N_("comm_lost_after_s + fault_trip_after_s = %(lost)d + %(trip)d = %(total)d s, above the %(limit)d s "
                 "limit", lost=lost, trip=trip, total=lost + trip, limit=constants.MAX_FAULT_DECLARE_TOTAL_S),
              N_("lower one of them so the sum is at most %(limit)d s (GB 16808 / GB 50166: a lost or broken "
                 "detector acted on within 100 s)", limit=constants.MAX_FAULT_DECLARE_TOTAL_S))


def alarm_latency_ms(period_ms, detectors_on_bus, poll_interval_ms, confirm_samples, poll_wire_ms=0):
    """Worst case from gas at a Modbus detector to a confirmed high alarm, in ms, every poll answered.

    Each poll takes at most two scans (a master stepped only by the scans: the reply seen in one, the
    silent interval kept before the next) or its time on the wire, whichever is longer (poll_wire_ms,
    known once the profiles are: the controller checks again with it). So a detector is sampled every
    max(poll interval, n x max(2 x period, poll_wire_ms)).
    """
    return confirm_samples * sample_interval_ms(period_ms, detectors_on_bus, poll_interval_ms, poll_wire_ms) + period_ms


def sample_interval_ms(period_ms, detectors_on_bus, poll_interval_ms, poll_wire_ms=0):
    """How often each detector of a bus is sampled when every poll is answered (see alarm_latency_ms)."""
    return max(poll_interval_ms, detectors_on_bus * max(2 * period_ms, poll_wire_ms))


def bus_budget_problem(period_ms, detectors_on_bus, poll_interval_ms, confirm_samples, confirm_window_ms,
                       poll_wire_ms=0):
    """Why a bus cannot keep the alarm budget (a text.Text), or "".

    Two assumptions, both checked: with every poll answered a high alarm is confirmed within
    ALARM_LATENCY_BUDGET_MS; and a detector may miss one poll (all its retries) without being declared
    comm lost, since one is comm lost (a fault) as soon as its newest good sample is older than the link
    budget (detector_state.link_budget_ms), so that a degraded link is a declared fault within the budget.
    """
    interval = sample_interval_ms(period_ms, detectors_on_bus, poll_interval_ms, poll_wire_ms)
    latency = confirm_samples * interval + period_ms
    if latency > constants.ALARM_LATENCY_BUDGET_MS:
        return N_("each detector is sampled every %(interval)d ms, so a high alarm is confirmed only after up to "
                  "%(latency)d ms, above the %(budget)d ms alarm budget", interval=interval, latency=latency,
                  budget=constants.ALARM_LATENCY_BUDGET_MS)
    link_ms = link_budget_ms(period_ms, confirm_samples, confirm_window_ms)
    if 2 * interval > link_ms:
        return N_("each detector is sampled every %(interval)d ms: one missed poll leaves a gap of %(gap)d ms, "
                  "longer than the %(link)d ms link budget (the longest gap that still confirms a leak inside the "
                  "%(budget)d ms alarm budget), so a single lost reply would declare the detector comm lost",
                  interval=interval, gap=2 * interval, link=link_ms, budget=constants.ALARM_LATENCY_BUDGET_MS)
    return ""


def _bus_latency_rules(rules):
    detectors = _section(rules.config, "detectors")
    alarm = _section(rules.config, "alarm")
    period = rules.get(_section(rules.config, "scan"), "period_ms", is_integer, "$.scan.period_ms")
    confirm = rules.get(alarm, "confirm_samples", is_integer, "$.alarm.confirm_samples")
    window = rules.get(alarm, "confirm_window_ms", is_integer, "$.alarm.confirm_window_ms")
    if period is None or confirm is None or window is None:
        return
    on_bus = {}
    for name in sorted(detectors):
        detector = detectors[name]
        if not isinstance(detector, dict) or detector.get("kind") != "modbus" or not isinstance(detector.get("bus"), str):
            continue
        interval = detector.get("poll_interval_ms")
        if not is_integer(interval):
            return
        on_bus.setdefault(detector["bus"], []).append(interval)
    for bus in sorted(on_bus):
        problem = bus_budget_problem(period, len(on_bus[bus]), max(on_bus[bus]), confirm, window)
        if problem:
            rules.add(child_path(child_path(ROOT, "buses"), bus),
                      N_("%(n)d detectors on this bus at a %(period)d ms scan period: %(problem)s",
                         n=len(on_bus[bus]), period=period, problem=problem),
                      N_("lower scan.period_ms, lower alarm.confirm_samples or poll_interval_ms, or split the "
                         "detectors over more buses (GB 16808: alarm within 10 s)"))


def _valve_rules(rules):
    valve = _section(rules.config, "valve")
    path = child_path(ROOT, "valve")
    is_text = lambda value: isinstance(value, str)
    kind = rules.get(valve, "type", is_text, child_path(path, "type"))
    feedback = rules.get(valve, "feedback", is_text, child_path(path, "feedback"))
    startup = rules.get(valve, "startup", is_text, child_path(path, "startup"))
    if kind == "motorised" and feedback is not None and feedback != "both":
        rules.add(child_path(path, "feedback"),
                  N_('a motorised valve needs feedback "both", found %(found)s', found=quote(feedback)),
                  N_('write "feedback": "both" and wire both limit switches of the valve'))
    if startup == "auto_arm_external_manual_valve" and kind is not None and kind != "hold":
        rules.add(child_path(path, "startup"),
                  N_('startup "auto_arm_external_manual_valve" needs a hold valve, this valve is %(kind)s',
                     kind=quote(kind)),
                  N_('write "startup": "manual_reset"; auto-arm is only for a hold valve that is reopened by hand'))


def _proving_rules(rules):
    proving = _section(rules.config, "proving")
    path = child_path(ROOT, "proving")
    mode = rules.get(proving, "mode", lambda value: isinstance(value, str), child_path(path, "mode"))
    if mode in (None, "none"):
        return
    valve = _section(rules.config, "valve")
    kind = rules.get(valve, "type", lambda value: isinstance(value, str), child_path(child_path(ROOT, "valve"), "type"))
    if kind == "pulse":
        rules.add(child_path(path, "mode"), N_("proving needs a valve the controller can open: this valve is pulse"),
                  N_('use a hold or motorised valve, or write "mode": "none"'))
    startup = rules.get(valve, "startup", lambda value: isinstance(value, str),
                        child_path(child_path(ROOT, "valve"), "startup"))
    if startup == "auto_arm_external_manual_valve":
        rules.add(child_path(path, "mode"), N_("proving runs after a local reset; this valve arms itself at power-on"),
                  N_('write "startup": "manual_reset" under valve'))
    fill_s = rules.get(proving, "fill_s", lambda value: isinstance(value, int), child_path(path, "fill_s"))
    travel_s = rules.get(valve, "travel_s", lambda value: isinstance(value, int),
                         child_path(child_path(ROOT, "valve"), "travel_s"))
    if fill_s is not None and travel_s is not None and fill_s < travel_s:
        rules.add(child_path(path, "fill_s"), N_("fill_s %(fill)d is shorter than the valve's travel_s %(travel)d: "
                                                 "the valve might not be open before the fill fails",
                                                 fill=fill_s, travel=travel_s),
                  N_("make fill_s at least valve.travel_s"))
    if mode != "transmitter":
        return
    transmitter = _section(proving, "transmitter")
    tpath = child_path(path, "transmitter")
    number = lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)
    values = dict((key, rules.get(transmitter, key, number, child_path(tpath, key)))
                  for key in ("range_kpa", "low_kpa", "fill_kpa", "max_drop_kpa"))
    if None in values.values():
        return
    if not values["low_kpa"] < values["fill_kpa"] <= values["range_kpa"]:
        rules.add(child_path(tpath, "fill_kpa"), N_("fill_kpa %(fill)s must be above low_kpa %(low)s and at most "
                                                    "range_kpa %(range)s", fill=values["fill_kpa"],
                                                    low=values["low_kpa"], range=values["range_kpa"]),
                  N_("the fill must reach a pressure the check calls present, inside the transmitter's range"))
    elif values["max_drop_kpa"] >= values["fill_kpa"] - values["low_kpa"]:
        rules.add(child_path(tpath, "max_drop_kpa"), N_("max_drop_kpa %(drop)s would let the pressure fall to "
                                                        "nothing", drop=values["max_drop_kpa"]),
                  N_("keep it well below fill_kpa - low_kpa"))


def _fan_rules(rules):
    fan = _section(rules.config, "fan")
    path = child_path(ROOT, "fan")
    proving = rules.get(fan, "proving", lambda value: isinstance(value, bool), child_path(path, "proving"))
    mode = rules.get(fan, "mode", lambda value: isinstance(value, str), child_path(path, "mode"))
    bs6173 = rules.get(fan, "bs6173", lambda value: isinstance(value, bool), child_path(path, "bs6173"))
    if bs6173 and proving is False:
        rules.add(child_path(path, "proving"),
                  N_("BS 6173 mode interlocks the gas with proven extract airflow; it cannot be switched off"),
                  N_('wire the airflow switch to fan_proven and write "proving": true, or "bs6173": false where '
                     "BS 6173 does not apply"))
    if proving and mode == "alarm":
        rules.add(child_path(path, "proving"),
                  N_('airflow proving needs the fan running whenever the gas is on, but fan mode "alarm" runs it '
                     "only in an alarm: the gas could never be opened"),
                  N_('write "mode": "continuous" (BS 6173: gas only with proven extract ventilation), or '
                     '"proving": false if no airflow switch is wired'))


def _schedule_rules(rules):
    schedule = _section(rules.config, "schedule")
    path = child_path(ROOT, "schedule")
    attended_path = child_path(path, "attended")
    enabled = rules.get(schedule, "enabled", lambda value: isinstance(value, bool), child_path(path, "enabled"))
    attended = schedule.get("attended")
    if not isinstance(attended, list):
        return
    if enabled and not attended and rules.trusted(attended_path):
        rules.add(attended_path,
                  N_("the schedule is enabled but has no attended period, so the gas would stay off all week"),
                  N_('add a period, e.g. {"days": ["mon", "tue"], "from": "08:00", "to": "22:00"}, '
                     'or write "enabled": false'))
    for i in range(len(attended)):
        period = attended[i]
        period_path = child_path(attended_path, i)
        is_text = lambda value: isinstance(value, str)
        start = rules.get(period, "from", is_text, child_path(period_path, "from"))
        end = rules.get(period, "to", is_text, child_path(period_path, "to"))
        if start is not None and start == end:
            rules.add(child_path(period_path, "to"), N_("the period starts and ends at %(time)s, so it is empty",
                                                        time=start),
                      N_('make "to" differ from "from"; a "to" earlier than "from" runs past midnight'))


def _date_rules(rules, name, detector, path):
    """A calibration date needs the install date, and cannot be before it. A detector named like the valve's
    reminders (source "valve:end_of_life") cannot have reminders: the two would share one source and each would
    undo the other's stage every day (a due and an ok event daily, the platform's warning opened and cleared)."""
    is_date = lambda value: civil_date.parse(value) is not None
    installed = rules.get(detector, "installed", is_date, child_path(path, "installed"))
    if name == VALVE_ASSET and "installed" in detector:
        rules.add(child_path(path, "installed"),
                  N_("a detector named %(name)s cannot have lifecycle reminders: their source %(valve)s:end_of_life "
                     "is the shutoff valve's", name=quote(name), valve=VALVE_ASSET),
                  N_("rename the detector, e.g. %(example)s", example=quote(VALVE_ASSET + "-area")))
    calibrated_path = child_path(path, "calibrated")
    calibrated = rules.get(detector, "calibrated", is_date, calibrated_path)
    if calibrated is None or not rules.trusted(calibrated_path):
        return
    if "installed" not in detector:
        rules.add(calibrated_path, N_("a calibration date without an install date"),
                  N_('add "installed": the date the detector was put in (its end of life is counted from it)'))
    elif installed is not None and civil_date.parse(calibrated) < civil_date.parse(installed):
        rules.add(calibrated_path, N_("calibrated %(calibrated)s is before installed %(installed)s",
                                      calibrated=calibrated, installed=installed),
                  N_("correct one of the two dates"))


def _daily_check_rules(rules):
    section = _section(rules.config, "daily_check")
    path = child_path(ROOT, "daily_check")
    items = section.get("items")
    if not isinstance(items, list):
        return
    items_path = child_path(path, "items")
    enabled = rules.get(section, "enabled", lambda value: isinstance(value, bool), child_path(path, "enabled"))
    if enabled and not items and rules.trusted(items_path):
        rules.add(items_path, N_("the daily check is enabled but has no item to check"),
                  N_('list the items, or leave "items" out for the standard four (stove, hose, valve, detector '
                     'lamps)'))
    if enabled:
        _daily_check_day_rules(rules, section, path)
    seen = []
    for i in range(len(items)):
        item_path = child_path(child_path(items_path, i), "id")
        item_id = rules.get(items[i], "id", lambda value: isinstance(value, str), item_path) \
            if isinstance(items[i], dict) else None
        if item_id is None:
            continue
        if item_id in seen:
            rules.add(item_path, N_("item %(item)s is listed twice", item=quote(item_id)),
                      N_("give each item its own id"))
        seen.append(item_id)


def _daily_check_day_rules(rules, section, path):
    """An enabled check is due on some day, and not before the kitchen opens that day (else it is missed every
    such day before anyone is in, and the owner warned for nothing)."""
    days_path = child_path(path, "days")
    days = rules.get(section, "days", lambda value: isinstance(value, list) and
                     all(day in config_schema.DAYS for day in value), days_path)
    due_by = rules.get(section, "due_by", lambda value: isinstance(value, str) and _matches_time(value),
                       child_path(path, "due_by"))
    if days is None:
        return
    if not days:
        rules.add(days_path, N_("the daily check is enabled but due on no day, so it is never missed"),
                  N_('list the days it is due, or leave "days" out for every day'))
        return
    schedule = _section(rules.config, "schedule")
    schedule_path = child_path(ROOT, "schedule")
    attended = schedule.get("attended")
    if rules.get(schedule, "enabled", lambda value: value is True, child_path(schedule_path, "enabled")) is None \
            or not isinstance(attended, list) or not rules.trusted(child_path(schedule_path, "attended")):
        return
    opens = {}  # day -> the earliest start of a period starting that day, in minutes
    for period in attended:
        if not isinstance(period, dict) or not isinstance(period.get("days"), list) \
                or not isinstance(period.get("from"), str) or not _matches_time(period["from"]):
            return
        start = int(period["from"][0:2]) * 60 + int(period["from"][3:5])
        for day in period["days"]:
            opens[day] = min(opens.get(day, start), start)
    check_days = [day for day in days if day in opens]
    if not check_days:
        rules.add(days_path, N_("no attended period starts on any of the check days (%(days)s), so the check is "
                                "never due", days=", ".join(days)),
                  N_("list the days the kitchen opens: %(days)s", days=", ".join(
                      [day for day in config_schema.DAYS if day in opens])))
        return
    if due_by is None:
        return
    due = int(due_by[0:2]) * 60 + int(due_by[3:5])
    late = [day for day in check_days if opens[day] >= due]
    if late:
        latest = max(opens[day] for day in late)
        rules.add(child_path(path, "due_by"),
                  N_("the check is due by %(due_by)s but the kitchen opens at that time or later on %(days)s: it "
                     "would be missed there every week before anyone is in", due_by=due_by, days=", ".join(
                         "%s (%02d:%02d)" % (day, opens[day] // 60, opens[day] % 60) for day in late)),
                  N_('set "due_by" after the kitchen opens, e.g. "%(time)s", or leave those days out of "days"',
                     time="%02d:%02d" % divmod(min(latest + 60, 23 * 60 + 59), 60)))


def _detectors_by_zone(rules, measurand=None):
    """Zone -> how many detectors are in it (of `measurand` only, when given)."""
    counts = {}
    detectors = _section(rules.config, "detectors")
    for name in sorted(detectors):
        path = child_path(child_path(child_path(ROOT, "detectors"), name), "zone")
        zone = rules.get(detectors[name], "zone", lambda value: isinstance(value, str), path)
        if zone is not None and (measurand is None or _measurand_of(detectors[name]) == measurand):
            counts[zone] = counts.get(zone, 0) + 1
    return counts


def _zone_rules(rules):
    zones = _section(rules.config, "zones")
    counts = _detectors_by_zone(rules)
    # Two-detector confirmation is of combustible gas only: a CO or CO2 trip level acts alone (IGEM/UP/19: no
    # overrides), and such a detector confirms no gas alarm.
    combustible = _detectors_by_zone(rules, constants.MEASURAND_COMBUSTIBLE)
    used = sorted(counts)
    for name in sorted(zones):
        path = child_path(child_path(ROOT, "zones"), name)
        count = counts.get(name, 0)
        if count == 0:
            if rules.trusted(path):
                rules.add(path, N_("no detector is in zone %(zone)s", zone=quote(name)),
                          did_you_mean(name, used, N_("zones with detectors: %(zones)s", zones=list_of(used))))
            continue
        flag_path = child_path(path, "two_detector_confirmation")
        confirm = rules.get(zones[name], "two_detector_confirmation", lambda value: isinstance(value, bool), flag_path)
        if confirm and combustible.get(name, 0) < 2:
            rules.add(flag_path, N_("two-detector confirmation needs at least 2 combustible-gas detectors in zone "
                                    "%(zone)s, it has %(n)d", zone=quote(name), n=combustible.get(name, 0)),
                      N_('put a second detector in the zone, or write "two_detector_confirmation": false'))


def semantic_problems(doc, config, structural, profile_kinds=None):
    """Problems with the rules JSON Schema cannot express, in `config` (doc with defaults filled)."""
    rules = _Semantics(doc, config, structural, profile_kinds)
    _detector_rules(rules)
    _alarm_rules(rules)
    _bus_latency_rules(rules)
    _valve_rules(rules)
    _proving_rules(rules)
    _fan_rules(rules)
    _schedule_rules(rules)
    _daily_check_rules(rules)
    _zone_rules(rules)
    return rules.out


# ---------------------------------------------------------------------------------------------
# Public entry points.

# A kitchen's config is a few kB and 6 levels deep; the limits refuse a file that is not one before
# the parser or the validator (both recursive) could run out of stack on it.
MAX_CONFIG_CHARS = 262144
MAX_CONFIG_DEPTH = 32
_DEPTH_HINT = N_("a config is at most %(depth)d objects or lists deep; look for brackets opened and never closed",
                 depth=MAX_CONFIG_DEPTH)


def _depth_problem(doc):
    """A Problem at the first value nested deeper than MAX_CONFIG_DEPTH, or None (iterative: no recursion)."""
    stack = [(doc, ROOT, 1)]
    while stack:
        value, path, depth = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_CONFIG_DEPTH:
            return Problem(path, N_("nested more than %(depth)d levels deep", depth=MAX_CONFIG_DEPTH), _DEPTH_HINT)
        keys = sorted(value) if isinstance(value, dict) else range(len(value))
        for key in keys:
            stack.append((value[key], child_path(path, key), depth + 1))
    return None


def _analyse(doc, profile_kinds):
    too_deep = _depth_problem(doc)
    if too_deep is not None:
        return [too_deep], None
    structural = schema_problems(doc)
    config = _SCHEMA_SUBSET.with_defaults(SCHEMA, doc)
    _fill_measurand_defaults(config)
    return structural + semantic_problems(doc, config, structural, profile_kinds), config


def validate(doc, profile_kinds=None):
    """Every problem of `doc` (parsed JSON) as a list of Problem; empty when it is a valid config.

    profile_kinds: optional dict profile name -> 'modbus' | 'analog' | 'contact' of the installed profiles.
    """
    return _analyse(doc, profile_kinds)[0]


def load_config(doc, profile_kinds=None):
    """The normalised config: a copy of `doc` with every default filled; raises ConfigError listing every problem.

    Every zone a detector names is present in config["zones"], with defaults if the file does not list it.
    """
    problems, config = _analyse(doc, profile_kinds)
    if problems:
        raise ConfigError(problems)
    zones = config["zones"]
    for name in sorted(config["detectors"]):
        zone = config["detectors"][name]["zone"]
        if zone not in zones:
            zones[zone] = _SCHEMA_SUBSET.with_defaults(_zone_schema(), {})
    return config


def _duplicate_keys(text):
    """Problems for keys repeated within one object of JSON `text` (json.loads keeps only the last).

    Raises ConfigError for nesting deeper than MAX_CONFIG_DEPTH: it runs before json.loads, which would
    recurse that deep, so it reads any text, valid JSON or not.
    """
    out = []
    frames = []  # [is_object, path, keys seen, expecting a key, current key, item index]
    line = 1
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            frame = frames[-1] if frames else None
            if frame is not None and frame[0] and frame[3]:
                try:
                    key = json.loads(text[i:end + 1])
                except ValueError:  # not valid JSON: json.loads below says where
                    key = text[i + 1:end]
                if key in frame[2]:
                    out.append(Problem(child_path(frame[1], key),
                                       N_("key %(key)s appears twice in one object (line %(line)d); only the last "
                                          "one would count", key=quote(key), line=line),
                                       N_("rename or remove one of them")))
                frame[2][key] = True
                frame[3] = False
                frame[4] = key
            i = end + 1
            continue
        if char == "\n":
            line += 1
        elif char == "{" or char == "[":
            if not frames:
                path = ROOT
            elif frames[-1][0]:
                # An object's value without a key before it ('{{') is not JSON: json.loads says where.
                path = child_path(frames[-1][1], "" if frames[-1][4] is None else frames[-1][4])
            else:
                path = child_path(frames[-1][1], frames[-1][5])
            if len(frames) >= MAX_CONFIG_DEPTH:
                raise ConfigError([Problem(path, N_("nested more than %(depth)d levels deep (line %(line)d)",
                                                    depth=MAX_CONFIG_DEPTH, line=line), _DEPTH_HINT)])
            frames.append([char == "{", path, {}, char == "{", None, 0])
        elif (char == "}" or char == "]") and frames:
            frames.pop()
        elif char == "," and frames:
            if frames[-1][0]:
                frames[-1][3] = True
            else:
                frames[-1][5] += 1
        i += 1
    return out


def parse_config_text(text):
    """Parse JSON config text; raises ConfigError for bad JSON (with line and column where the platform gives them)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigError([Problem(ROOT, N_("%(length)d characters long, more than %(limit)d", length=len(text),
                                            limit=MAX_CONFIG_CHARS),
                                   N_("a kitchen's config is a few kB: give the right file"))])
    duplicates = _duplicate_keys(text)
    try:
        doc = json.loads(text)
    except ValueError as error:
        line = getattr(error, "lineno", None)
        column = getattr(error, "colno", None)
        reason = getattr(error, "msg", None) or str(error)
        if line is not None and column is not None:
            message = N_("not valid JSON: %(reason)s at line %(line)d, column %(column)d", reason=reason, line=line,
                         column=column)
            hint = N_("look at line %(line)d for a missing or extra comma, a missing quote or bracket, or a comment "
                      "(JSON has no comments)", line=line)
        else:
            message = N_("not valid JSON: %(reason)s", reason=reason)
            hint = N_("look for a missing or extra comma, a missing quote or bracket, or a comment (JSON has no "
                      "comments)")
        raise ConfigError([Problem(ROOT, message, hint)])
    if duplicates:
        raise ConfigError(duplicates)
    return doc


def load_config_text(text, profile_kinds=None):
    """load_config() of JSON `text`."""
    return load_config(parse_config_text(text), profile_kinds)


def load_config_file(path, profile_kinds=None):
    """load_config() of the JSON file at `path`; unreadable or bad JSON raises ConfigError too."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(4 * MAX_CONFIG_CHARS + 1)  # UTF-8: at most 4 bytes a character
    except OSError as error:
        raise ConfigError([Problem(ROOT, N_("cannot read %(path)s: %(error)s", path=path, error=error),
                                   N_("check that the file exists and is readable"))])
    try:
        text = data.decode("utf-8")
    except UnicodeError:
        raise ConfigError([Problem(ROOT, N_("%(path)s is not UTF-8 text", path=path), N_("save the file as UTF-8"))])
    return load_config_text(text, profile_kinds)


check_supported(SCHEMA)
