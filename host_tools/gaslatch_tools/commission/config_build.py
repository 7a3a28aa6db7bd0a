"""config init's decision: the controller configuration that the record's scanned detectors make over a unit's hardware.
Pure (record and base in, configuration and notes out), so the command around it only reads, asks and writes."""

from __future__ import annotations

import copy
import re
from typing import Any

from gaslatch.core import constants as C
from gaslatch.core.detector_profile import list_profiles, load_profile
from gaslatch.translation import _

DEFAULT_UNIT_PORT = "/dev/ttyUSB0"
BUS_NAMES = ("rs485a", "rs485b", "rs485c", "rs485d")

# The unit's hardware when no --base is given: deploy/config.example.json's wiring, without fan proving
# (a fan that runs only on alarm can never prove airflow at rest: proving needs fan.mode continuous).
DEFAULT_HARDWARE: dict[str, Any] = {
    "scan": {"period_ms": C.DEFAULT_SCAN_PERIOD_MS},
    "valve": {"type": "hold", "travel_s": C.DEFAULT_VALVE_TRAVEL_S, "feedback": "closed", "startup": "manual_reset"},
    "fan": {"mode": "alarm", "run_on_s": C.DEFAULT_FAN_RUN_ON_S, "proving": False},
    "interlocks": {"fire_input": True, "estop_input": False},
    "gpio": {"backend": "gpiod"},
    "lines": {
        "valve": {"pin": 17, "active": "high"},
        "fan": {"pin": 27, "active": "high"},
        "sounder": {"pin": 22, "active": "high"},
        "beacon": {"pin": 23, "active": "high"},
        "fault_relay": {"pin": 24, "active": "high"},
        "valve_feedback_closed": {"pin": 25, "active": "high"},
        "fire_input": {"pin": 26, "active": "low"},
        "reset_button": {"pin": 20, "active": "high"},
        "silence_button": {"pin": 21, "active": "high"},
    },
}
# What config init writes itself; everything else comes from --base (or DEFAULT_HARDWARE).
SITE_SECTIONS = ("unit", "buses", "detectors", "zones", "schedule")


class InitError(Exception):
    """The record cannot make a configuration; the message names the detector or setting and what to do."""


def config_name(name: str) -> str:
    """A record's detector name as a config name: a-z, 0-9, '_' and '-', 1-32 characters, starting a-z/0-9."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower())
    slug = slug.lstrip("_-")[:32].rstrip("-") or "d"
    return slug


def addressed_detectors(record: dict) -> dict:
    """The record's detectors that have a bus address, by name; InitError when there are none."""
    detectors = record.get("detectors")
    found = {name: entry for name, entry in sorted((detectors if isinstance(detectors, dict) else {}).items())
             if isinstance(entry, dict) and entry.get("address") is not None}
    if not found:
        raise InitError(_("the record has no detectors with an address: run gaslatch commission scan first"))
    return found


def build_config(record: dict, base: dict | None, unit_port: str | None, zone: str,
                 schedule: list[dict] | None, site: str, unit_name: str) -> tuple[dict, list[str]]:
    """The controller configuration for the record's detectors over the base's hardware, and notes for
    the installer (defaults taken, names changed). Raises InitError when the record cannot make one."""
    notes: list[str] = []
    found = addressed_detectors(record)
    bus = record.get("bus") or {}
    lines: dict[tuple, list[str]] = {}
    settings: dict[str, tuple] = {}
    profiles = set(list_profiles())
    for name, entry in found.items():
        profile = entry.get("profile")
        if profile not in profiles:
            why = (_("scan could not identify its model") if profile in (None, "", "unknown")
                   else _("no profile %r is installed") % profile)
            raise InitError(_("detector %(name)s (address %(address)s): %(why)s; set its profile in the record "
                              "(detectors.%(name)s.profile: one of %(profiles)s) or calibrate/scan again")
                            % {"name": name, "address": entry["address"], "why": why,
                               "profiles": ", ".join(sorted(profiles))})
        port = entry.get("port") or bus.get("port") or DEFAULT_UNIT_PORT
        line = (entry.get("baud") or bus.get("baud") or load_profile(profile).serial["baud"],
                entry.get("parity") or bus.get("parity") or "N", entry.get("stop_bits") or bus.get("stop_bits") or 1)
        lines.setdefault((port,) + line, []).append(name)
        settings[name] = (port,) + line
    ports = sorted({key[0] for key in lines})
    for port in ports:
        speeds = sorted({key[1:] for key in lines if key[0] == port})
        if len(speeds) > 1:
            raise InitError(_("detectors on %(port)s answer at different line settings (%(settings)s): one bus runs "
                              "at one speed; gaslatch commission set-baud them to one rate, then scan again") % {
                                "port": port,
                                "settings": "; ".join("%s: %d %s %d" % (", ".join(lines[(port,) + s]), *s)
                                                      for s in speeds)})
    if len(ports) > len(BUS_NAMES):
        raise InitError(_("detectors on %(ports)d ports; the unit has at most %(buses)d RS-485 buses")
                        % {"ports": len(ports), "buses": len(BUS_NAMES)})
    if unit_port and len(ports) > 1:
        raise InitError(_("--port gives one port, but the record has detectors on %s") % ", ".join(ports))
    doc = copy.deepcopy(base) if base is not None else copy.deepcopy(DEFAULT_HARDWARE)
    for key in SITE_SECTIONS:
        doc.pop(key, None)
    buses = {}
    bus_of_port = {}
    for index, port in enumerate(ports):
        baud, parity, stop_bits = [key[1:] for key in lines if key[0] == port][0]
        bus_of_port[port] = BUS_NAMES[index]
        buses[BUS_NAMES[index]] = {"port": unit_port or port, "baud": baud, "parity": parity, "stop_bits": stop_bits}
    detectors = {}
    used: set[str] = set()
    for name, entry in found.items():
        cfg_name = config_name(name)
        while cfg_name in used:
            cfg_name = "%s-%d" % (cfg_name[:29], entry["address"])
        used.add(cfg_name)
        if cfg_name != name:
            notes.append(_("detector %(name)s is called %(config_name)s in the configuration (names: a-z, 0-9, _ "
                           "and -)") % {"name": name, "config_name": cfg_name})
        profile = load_profile(entry["profile"])
        low, high = _set_points(name, entry, notes)
        detectors[cfg_name] = {
            "kind": "modbus", "bus": bus_of_port[settings[name][0]], "address": int(entry["address"]),
            "profile": entry["profile"],
            "poll_interval_ms": max(C.DEFAULT_POLL_INTERVAL_MS, profile.min_poll_interval_ms or 0),
            "zone": config_name(str(entry.get("zone") or zone)), "location": str(entry.get("location") or "")[:128],
            "gas": entry.get("gas") if entry.get("gas") in C.LEL_PCT_VOL else "methane",
            "low_alarm_pct_lel": low, "high_alarm_pct_lel": high,
        }
        if not entry.get("location"):
            notes.append(_("detector %s has no location yet: add where it is mounted") % cfg_name)
    out: dict[str, Any] = {"unit": {"site": site, "name": unit_name}}
    out.update({key: doc.pop(key) for key in ("scan",) if key in doc})
    out["buses"] = buses
    out["detectors"] = detectors
    zones = {zone_name: spec for zone_name, spec in ((base or {}).get("zones") or {}).items()
             if any(det["zone"] == zone_name for det in detectors.values())}
    if zones:
        out["zones"] = zones
    out["schedule"] = {"enabled": True, "attended": schedule} if schedule else {"enabled": False}
    if not schedule:
        notes.append(_("schedule off: the gas is not shut outside attended hours (人走阀关)"))
    out.update(doc)
    return out, notes


def _set_points(name: str, entry: dict, notes: list[str]) -> tuple[float, float]:
    """The detector's own set points (read by scan) when the configuration allows them, else the defaults."""
    low = entry.get("low_alarm_pct_lel")
    high = entry.get("high_alarm_pct_lel")
    fits = (isinstance(low, (int, float)) and isinstance(high, (int, float)) and not isinstance(low, bool)
            and not isinstance(high, bool) and C.MIN_ALARM_PCT_LEL <= low <= C.MAX_LOW_ALARM_PCT_LEL
            and low < high <= C.MAX_HIGH_ALARM_PCT_LEL and C.DEFAULT_HYSTERESIS_PCT_LEL < low)
    if fits:
        return low, high
    if low is not None or high is not None:
        notes.append(_("detector %(name)s's own set points (%(low)s / %(high)s %%LEL) are outside what the controller "
                       "allows: using %(default_low)d / %(default_high)d %%LEL")
                     % {"name": name, "low": low, "high": high, "default_low": C.DEFAULT_LOW_ALARM_PCT_LEL,
                        "default_high": C.DEFAULT_HIGH_ALARM_PCT_LEL})
    return C.DEFAULT_LOW_ALARM_PCT_LEL, C.DEFAULT_HIGH_ALARM_PCT_LEL
