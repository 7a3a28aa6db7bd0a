"""What the bus commands find in and write to the commissioning record: detectors by address, their line settings.

One place decides how a detector found on the bus is named and how a verified change or calibration is kept.
"""

from __future__ import annotations

import collections
from typing import Any, NamedTuple

from gaslatch.core.detector_profile import load_profile
from gaslatch_tools.commission.bus_scan import DEFAULT_GAS, Line, pct_lel
from gaslatch_tools.commission.record import Record, utc_now
from gaslatch.translation import _

DEFAULT_BAUD = 9600


class Target(NamedTuple):
    """One detector a command acts on: its record entry (None if unrecorded), address and line setting."""

    name: str | None
    entry: dict | None
    address: int
    line: Line


def find_detector(record: Record, address: int, baud: int | None = None) -> tuple[str | None, dict | None]:
    """The recorded detector at address (and baud when given): (name, entry), or (None, None)."""
    for name in sorted(record.data["detectors"]):
        entry = record.data["detectors"][name]
        if entry.get("address") == address and (baud is None or entry.get("baud") == baud):
            return name, entry
    return None, None


def auto_name(address: int) -> str:
    return "d%d" % address


def free_name(record: Record, address: int, baud: int) -> str:
    """d<address>, or d<address>-<baud> when taken, for a detector found on the bus (installers rename later)."""
    for name in (auto_name(address), "%s-%d" % (auto_name(address), baud)):
        if name not in record.data["detectors"]:
            return name
    number = 2
    while "%s-%d-%d" % (auto_name(address), baud, number) in record.data["detectors"]:
        number += 1
    return "%s-%d-%d" % (auto_name(address), baud, number)


def detector_line(record: Record, entry: dict | None, baud: int | None, parity: str | None = None) -> Line:
    """The line setting to reach a detector: as given, else as recorded for it, else the bus's, else 9600 8N1."""
    entry = entry or {}
    bus = record.data["bus"]
    return Line(baud or entry.get("baud") or bus.get("baud") or DEFAULT_BAUD,
                parity or entry.get("parity") or bus.get("parity") or "N", entry.get("stop_bits") or 1)


def detector_gas(entry: dict | None, gas: str | None = None) -> str:
    return gas or (entry or {}).get("gas") or DEFAULT_GAS


def log_change(record: Record, name: str, setting: str, old: Any, new: Any) -> None:
    entry = record.detector(name)
    entry.setdefault("setting_changes", []).append(
        {"utc": utc_now(), "setting": setting, "from": old, "to": new, "verified": True})


def record_scan(record: Record, port: str, found: list[dict], summary: dict) -> list[str]:
    """Writes the found detectors and the scan into the record; the names, in the order of `found`."""
    names = []
    for item in found:
        line = item["line"]
        name, entry = find_detector(record, item["address"], line.baud)
        name = name or free_name(record, item["address"], line.baud)
        entry = record.detector(name)
        profile = item["profile"] or "unknown"
        stop_bits = line.stop_bits
        if item["profile"]:
            stop_bits = load_profile(item["profile"]).serial["stop_bits"]  # a scan cannot hear stop bits
        sample = item["sample"]
        entry.update(address=item["address"], baud=line.baud, parity=line.parity, stop_bits=stop_bits,
                     profile=profile, profile_candidates=item["candidates"], registers_read=item["registers"],
                     last_seen=utc_now(), scan_problems=[p["message"] for p in item["problems"]])
        if sample is not None:
            entry["scan_reading"] = {"pct_lel": pct_lel(sample.concentration_centi_pct_lel), "status": sample.status}
        names.append(name)
    identified = [item["line"] for item in found if item["profile"]]
    bus = record.data["bus"]
    bus["port"] = port
    if identified:
        line = collections.Counter(identified).most_common(1)[0][0]
        bus.update(baud=line.baud, parity=line.parity, stop_bits=line.stop_bits)
    bus["scan"] = dict(summary, utc=utc_now())
    return names


def record_address_change(record: Record, tgt: Target, new: int, profile_name: str) -> str:
    """Keeps a verified move of tgt to address `new`; an automatic name d<old> follows to d<new>. The name."""
    old = tgt.address
    name = tgt.name or free_name(record, new, tgt.line.baud)
    if tgt.name == auto_name(old) and auto_name(new) not in record.data["detectors"]:
        name = auto_name(new)
        record.data["detectors"][name] = record.data["detectors"].pop(tgt.name)
    entry = record.detector(name)
    entry.update(address=new, baud=tgt.line.baud, parity=tgt.line.parity, profile=profile_name)
    log_change(record, name, "address", old, new)
    record.note("set-address", _("%(name)s: address %(old)d -> %(new)d, verified")
                % {"name": name, "old": old, "new": new})
    return name


def record_baud_change(record: Record, tgt: Target, new_line: Line, profile_name: str) -> tuple[str, list[str]]:
    """Keeps a verified change of tgt to new_line; the bus's baud follows once no detector is left at the old.

    (the name, the other detectors still at the old baud rate).
    """
    name = tgt.name or free_name(record, tgt.address, new_line.baud)
    entry = record.detector(name)
    entry.update(address=tgt.address, baud=new_line.baud, parity=new_line.parity, profile=profile_name)
    log_change(record, name, "baud", tgt.line.baud, new_line.baud)
    others = sorted(other for other, item in record.data["detectors"].items()
                    if other != name and item.get("baud") == tgt.line.baud)
    if not others:
        record.data["bus"]["baud"] = new_line.baud
    record.note("set-baud", _("%(name)s: %(old)d -> %(new)d baud, verified")
                % {"name": name, "old": tgt.line.baud, "new": new_line.baud})
    return name, others


def record_calibration(record: Record, name: str, tgt: Target, profile_name: str, attempt: dict) -> None:
    """Keeps a verified calibration (attempt, as calibration.run filled it) with the detector."""
    entry = record.detector(name)
    entry.update(address=tgt.address, baud=tgt.line.baud, profile=profile_name)
    entry["calibrations"].append(attempt)
    values = {"name": name, "before": attempt["before_pct_lel"], "after": attempt["after_pct_lel"]}
    record.note("calibrate", (_("%(name)s zero: %(before)s -> %(after)s %%LEL, verified") if attempt["kind"] == "zero"
                              else _("%(name)s span: %(before)s -> %(after)s %%LEL, verified")) % values)


def record_refused_calibration(record: Record, name: str, address: int, attempt: dict, reason: str) -> None:
    """Keeps a calibration that stopped, with why: the record shows every attempt."""
    attempt["reason"] = reason
    entry = record.detector(name)
    entry.setdefault("address", address)
    entry["calibrations"].append(attempt)
    note = (_("%(name)s zero calibration refused: %(reason)s") if attempt["kind"] == "zero"
            else _("%(name)s span calibration refused: %(reason)s"))
    record.note("calibrate", note % {"name": name, "reason": reason})
