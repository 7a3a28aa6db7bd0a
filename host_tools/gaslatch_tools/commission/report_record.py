"""The commissioning record as the report reads it: any JSON may be in it, so every read is defensive.

The pushed configuration fills in what the record lacks, and a verdict is read here alone ("passed" or "ok").
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Callable

# An entry's own verdict: tests record "passed", calibrations "ok"; a bump test's linkage checks
# ({"s", "budget_s", "ok", "why"}) only ever "ok".
VERDICT_KEYS = ("passed", "ok")
CHECK_VERDICT_KEYS = ("ok",)
# Detector keys copied from the pushed configuration when the record lacks them.
CONFIG_DETECTOR_KEYS = ("address", "profile", "location", "gas", "low_alarm_pct_lel", "high_alarm_pct_lel", "zone",
                        "kind", "model", "serial", "installed", "calibrated")


def number(value: Any) -> float | None:
    """A finite number from the record, or None for anything else (missing, text, bool, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def recorded_verdict(entry: dict, keys: tuple = VERDICT_KEYS) -> bool | None:
    """The entry's own verdict: the first of keys that holds true or false; None if none does."""
    for key in keys:
        if isinstance(entry.get(key), bool):
            return entry[key]
    return None


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def entries(value: Any) -> list:
    """The objects of a list section (bump_tests, valve_tests...), skipping anything else."""
    return [e for e in as_list(value) if isinstance(e, dict)]


def section(data: dict, key: str) -> dict:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def latest(value: Any, accept: Callable[[dict], bool] = lambda e: True) -> dict | None:
    """The last entry (the record appends in order) that accept() takes."""
    found = None
    for entry in entries(value):
        if accept(entry):
            found = entry
    return found


def latest_calibration(detector: dict, kind: str) -> dict | None:
    """The detector's last zero or span calibration."""
    return latest(detector.get("calibrations"), lambda e: e.get("kind") == kind)


def config_document(data: dict) -> tuple:
    """(the pushed configuration or None, warnings): the file at config.path, if it still has the pushed hash."""
    config = section(data, "config")
    path, sha256 = config.get("path"), config.get("sha256")
    if isinstance(config.get("document"), dict):
        return config["document"], []
    if not isinstance(path, str) or not isinstance(sha256, str):
        return None, []
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except (OSError, ValueError):  # not on this computer, or not a usable path
        return None, []
    if hashlib.sha256(raw).hexdigest() != sha256.lower():
        return None, [("warn_config_changed", (path,))]
    try:
        document = json.loads(raw)
    except ValueError:
        return None, []
    return (document if isinstance(document, dict) else None), []


def detectors_in_order(data: dict, document: dict | None = None) -> list:
    """(name, entry) for every detector in the record or the pushed configuration, by address then name.

    Keys the record lacks (location, gas, set points...) come from the configuration. A detector the scan
    recorded under its bus name (d3) is the configured detector at that address when exactly one is there,
    so its calibrations and the bump tests recorded under the configured name make one history."""
    merged: dict = {}
    for name, entry in section(data, "detectors").items():
        merged[str(name)] = dict(entry) if isinstance(entry, dict) else {}
    configured = document.get("detectors") if isinstance(document, dict) else None
    if not isinstance(configured, dict):
        configured = {}
    configured = {str(k): v for k, v in configured.items() if isinstance(v, dict)}
    for name in [n for n in merged if n not in configured]:
        at_address = [c for c, entry in configured.items() if number(merged[name].get("address")) is not None
                      and number(entry.get("address")) == number(merged[name].get("address"))]
        if len(at_address) == 1:
            _fold(merged.setdefault(at_address[0], {}), merged.pop(name))
    for name, entry in configured.items():
        target = merged.setdefault(name, {})
        for key in CONFIG_DETECTOR_KEYS:
            if target.get(key) is None and entry.get(key) is not None:
                target[key] = entry[key]
    return sorted(merged.items(), key=lambda item: (number(item[1].get("address")) or 1e9, item[0]))


def _fold(target: dict, scanned: dict) -> None:
    """Adds a scanned entry's fields and tests to a configured detector's entry; tests stay in time order."""
    for key, value in scanned.items():
        if key in ("calibrations", "bump_tests"):
            both = entries(target.get(key)) + entries(value)
            target[key] = sorted(both, key=lambda e: str(e.get("utc", "")))
        elif target.get(key) is None:
            target[key] = value
