"""Bus commands: scan, live, set-address, set-baud, calibrate.

From an unknown RS-485 bus to identified detectors with their own addresses, one baud rate and a checked
zero and span: every change is read back from the device and written to the commissioning record.
"""

from __future__ import annotations

import collections
import grp
import io
import os
import shutil
import statistics
import time
from typing import Any, Callable, NamedTuple

import click
import serial
from rich import box
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gaslatch.core import modbus_rtu as rtu
from gaslatch.core.constants import CENTI, LEL_PCT_VOL, STATUS_FAULT, STATUS_NORMAL, STATUS_WARMUP
from gaslatch.core.detector_profile import Profile, Sample, list_profiles, load_profile, round_half_away
from gaslatch.core.profile_check import BAUDS, KIND_MODBUS, PARITIES, SPAN_GAS_RAW, ProfileError, check_document
from gaslatch_tools.commission.bus_client import CRC_HINT, DEFAULT_TIMEOUT_S, NO_REPLY_HINT, BusClient, BusError
from gaslatch_tools.commission.cli import EXIT_FAILED, EXIT_OK, commission, fail, finish
from gaslatch_tools.commission.record import Record, RecordError, utc_now

# A probe reads holding register 0 of an address. Any answer (registers, an exception, even a damaged frame)
# means something is there; silence means nothing is, at that line setting.
PROBE_FUNCTION = rtu.FUNCTION_READ_HOLDING
PROBE_REGISTER = 0
PROBE_REPLY_BYTES = 7
# How long scan waits at a silent address beyond the reply's own wire time: room for a 30 ms turnaround. At
# 9600 baud a silent address then costs ~50 ms (request, wait, 3.5-character gap): a full 1-247 scan at one
# baud takes ~12 s. Slower devices need --timeout-ms; scan warns when a reply used most of the wait.
SCAN_TIMEOUT_MS = 30
SLOW_REPLY_SHARE = 0.7
# A device known to be there is asked again after a damaged or lost reply, up to this many tries in all.
ATTEMPTS = 3
DEFAULT_BAUD = 9600
DEFAULT_GAS = "methane"
# After an address or baud write the device must answer at its new setting within this time.
VERIFY_S = 3.0
# calibrate: the reading must hold still this long, within this band, and settle within the limit.
STABLE_S = 10.0
TOLERANCE_PCT = 1.0
CALIBRATION_LIMIT_S = 180.0
VERIFY_READINGS = 3  # consecutive readings on target after a zero or span write
# A "zero air" reading above this is gas or a bad cylinder, not sensor drift: zeroing it would blind the detector.
MAX_ZERO_OFFSET_PCT = 5.0
# A sensor reading less than half the span gas has lost its sensitivity: replace it rather than amplify it.
MIN_SPAN_SENSITIVITY = 0.5

SILENT, ANSWER, GARBLED, STRAY = "silent", "answer", "garbled", "stray"
DUPLICATE_HINT = ("two devices with one address answer together and garble each other: connect the detectors "
                  "one at a time (or power all but one off), scan, and give each its own address with set-address")
UNKNOWN_HINT = ("no profile's identity registers match: choose the profile by hand (--profile, or in the "
                "configuration); some models, such as xgard-bright, cannot be recognised from their registers")
MIXED_BAUD_HINT = ("every device on one bus must use one baud rate and parity: change the odd ones with set-baud "
                   "(or on the detector), then scan again")
SLOW_HINT = "scan again with a longer --timeout-ms (e.g. 100) so that no slow device is missed"
PORT_HINT = "give --port (the USB-RS485 adapter, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...) or run scan first"


# ---------------------------------------------------------------------------------------------
# What the installer types


def _decimal(text: str, what: str) -> int:
    if not text or any(char not in "0123456789" for char in text):
        raise ValueError("%r is not %s" % (text, what))
    return int(text)


def parse_addresses(text: str) -> list[int]:
    """'1-247', '5' or '1,5,10-12' -> the sorted distinct addresses; ValueError says what is wrong."""
    addresses: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        low, dash, high = item.partition("-")
        what = "an address or a range like 1-247"
        first = _decimal(low.strip(), what)
        last = _decimal(high.strip(), what) if dash else first
        if not rtu.MIN_SLAVE <= first <= last <= rtu.MAX_SLAVE:
            raise ValueError("%r: addresses are %d..%d, a range is low-high" % (item, rtu.MIN_SLAVE, rtu.MAX_SLAVE))
        addresses.update(range(first, last + 1))
    return sorted(addresses)


def parse_bauds(text: str, profile_bauds: list[int]) -> list[int]:
    """'9600,19200', 'all' (every standard rate) or 'profiles' (the rates detector profiles use) -> sorted bauds."""
    text = text.strip().lower()
    if text == "all":
        return list(BAUDS)
    if text == "profiles":
        if not profile_bauds:
            raise ValueError("no detector profile names a baud rate: give the rates, e.g. 9600,19200")
        return sorted(set(profile_bauds))
    bauds = set()
    for item in text.split(","):
        baud = _decimal(item.strip(), "a baud rate")
        if baud not in BAUDS:
            raise ValueError("%d is not a standard baud rate (%s)" % (baud, ", ".join(str(b) for b in BAUDS)))
        bauds.add(baud)
    return sorted(bauds)


def parse_parities(text: str, profile_parities: list[str]) -> list[str]:
    """'N', 'N,E,O' or 'profiles' (the parities detector profiles use) -> parity letters in N, E, O order."""
    if text.strip().lower() == "profiles":
        wanted = set(profile_parities) or {"N"}
    else:
        wanted = {item.strip().upper() for item in text.split(",")}
        unknown = sorted(wanted - set(PARITIES))
        if unknown:
            raise ValueError("parity %s: use N (none), E (even) or O (odd)" % ", ".join(repr(p) for p in unknown))
    return [parity for parity in PARITIES if parity in wanted]


# ---------------------------------------------------------------------------------------------
# The wire


class Line(NamedTuple):
    """A serial line setting: 8 data bits always."""

    baud: int
    parity: str = "N"
    stop_bits: int = 1

    def __str__(self) -> str:
        return "%d 8%s%d" % (self.baud, self.parity, self.stop_bits)

    def wire_ms(self, n_bytes: int) -> float:
        return n_bytes * rtu.bits_per_char(self.parity, self.stop_bits) * 1000.0 / self.baud


def scan_wait_s(line: Line, timeout_ms: float) -> float:
    """BusClient timeout for a probe: the probe reply's wire time plus timeout_ms of turnaround."""
    return (timeout_ms + line.wire_ms(PROBE_REPLY_BYTES)) / 1000.0


def client_line(client: BusClient) -> Line:
    return Line(client.baud, client.parity, client.stop_bits)


class Tally:
    """Outcomes of the requests to one address: answers (registers or exception replies), errors, reply times.

    reply_ms: request sent to reply complete; turnaround_ms: that less both frames' wire time (the device's delay).
    """

    def __init__(self) -> None:
        self.requests = 0
        self.answers = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.reply_ms: list[float] = []
        self.turnaround_ms: list[float] = []

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "answers": self.answers, "errors": dict(sorted(self.errors.items())),
                "reply_ms": timing(self.reply_ms)}


def timing(values_ms: list[float]) -> dict[str, float] | None:
    if not values_ms:
        return None
    return {"p50": round(statistics.median(values_ms), 1), "max": round(max(values_ms), 1)}


def transact(client: BusClient, tally: Tally, request: bytes, timeout_s: float | None = None,
             attempts: int = ATTEMPTS) -> Any:
    """The reply's value; a lost or damaged reply is tried again, every try is counted, the last error raised.

    An exception reply is an answer: it is counted as one and raised at once (asking again gets the same).
    """
    last: BusError | None = None
    for _ in range(attempts):
        tally.requests += 1
        try:
            value = client.transact(request, timeout_s)
        except BusError as error:
            if error.kind == "exception":
                tally.answers += 1
                raise
            tally.errors[error.kind] += 1
            last = error
            continue
        tally.answers += 1
        reply_ms = client.reply_ms[-1]
        line = client_line(client)
        tally.reply_ms.append(reply_ms)
        tally.turnaround_ms.append(reply_ms - line.wire_ms(len(request))
                                   - line.wire_ms(rtu.expected_response_length(request)))
        return value
    assert last is not None
    raise last


def read(client: BusClient, tally: Tally, address: int, function: int, register: int, count: int = 1,
         attempts: int = ATTEMPTS) -> list[int]:
    return transact(client, tally, rtu.read_registers_request(address, function, register, count), attempts=attempts)


def probe(client: BusClient, tally: Tally, address: int, timeout_s: float) -> str:
    """SILENT, ANSWER, GARBLED (only damaged replies: two devices at one address?) or STRAY (damage, then silence)."""
    request = rtu.read_registers_request(address, PROBE_FUNCTION, PROBE_REGISTER, 1)
    damaged = 0
    for _ in range(ATTEMPTS):
        try:
            transact(client, tally, request, timeout_s, attempts=1)
        except BusError as error:
            if error.kind == "exception":
                return ANSWER
            if error.kind == "no_reply":
                return STRAY if damaged else SILENT
            damaged += 1
            continue
        return ANSWER
    return GARBLED


def answering_line(client: BusClient, address: int) -> Line | None:
    """After silence: another standard baud rate (same parity) that `address` answers at, or None."""
    tried = client_line(client)
    try:
        for baud in BAUDS:
            if baud == tried.baud:
                continue
            line = Line(baud, tried.parity, tried.stop_bits)
            client.reconfigure(*line)
            if probe(client, Tally(), address, scan_wait_s(line, SCAN_TIMEOUT_MS)) in (ANSWER, GARBLED):
                return line
        return None
    finally:
        client.reconfigure(*tried)


def fail_bus(ctx: click.Context, error: BusError, client: BusClient | None = None, address: int | None = None) -> None:
    """Reports a bus error; silence is checked against the other baud rates first (a wrong --baud says so)."""
    if error.kind == "no_reply" and client is not None and address is not None:
        line = client_line(client)
        other = answering_line(client, address)
        if other is not None:
            fail(ctx, "wrong_baud", "address %d is silent at %s but answers at %d baud" % (address, line, other.baud),
                 "use --baud %d; every device on one bus must use the same baud rate (set-baud changes a "
                 "detector's)" % other.baud)
        fail(ctx, error.kind, "%s (and at every other baud rate)" % error.message, error.hint)
    fail(ctx, error.kind, error.message, error.hint)


def group_hint(port: str, fallback: str) -> str:
    """Which group to join for `port`: the one that owns it (dialout on Debian and Raspberry Pi OS)."""
    try:
        group = grp.getgrgid(os.stat(port).st_gid).gr_name
    except (OSError, KeyError):
        return fallback
    return ("join the group %s, which owns %s: sudo usermod -aG %s $USER, then log out and in again"
            % (group, port, group))


def open_bus(ctx: click.Context, port: str, line: Line, timeout_s: float = DEFAULT_TIMEOUT_S) -> BusClient:
    try:
        return BusClient(port, line.baud, line.parity, line.stop_bits, timeout_s)
    except BusError as error:
        hint = group_hint(port, error.hint) if error.kind == "permission" else error.hint
        fail(ctx, error.kind, error.message, hint)
        raise  # fail() exits; this line only tells the type checker


def port_lost(ctx: click.Context, port: str, error: BaseException) -> None:
    fail(ctx, "port_lost", "%s stopped working during the command (%s)" % (port, error),
         "check the USB-RS485 adapter and its cable (ls /dev/serial/by-id/), then run the command again")


# ---------------------------------------------------------------------------------------------
# Profiles: which device is this, and what does it say


def modbus_profiles(ctx: click.Context) -> dict[str, Profile]:
    """Every Modbus detector profile shipped or added, by name; a broken profile file stops the command."""
    try:
        loaded = [load_profile(name) for name in list_profiles()]
    except ProfileError as error:
        fail(ctx, "profile", str(error), "fix the profile file (docs/detector-profiles.md describes the format)")
        raise
    return {profile.name: profile for profile in loaded if profile.kind == KIND_MODBUS}


def one_profile(ctx: click.Context, name: str) -> Profile:
    try:
        profile = load_profile(name)
    except ProfileError as error:
        fail(ctx, "profile", str(error), "profiles: %s" % ", ".join(list_profiles()))
        raise
    if profile.kind != KIND_MODBUS:
        fail(ctx, "profile", "%s is a %s profile, not a Modbus detector" % (name, profile.kind), "")
    return profile


def rule_holds(rule: dict, values: dict[tuple[int, int], int]) -> bool:
    value = values.get((rule["function"], rule["register"]))
    return value is not None and ((value & rule["mask"]) >> rule["shift"]) in rule["one_of"]


class Identity(NamedTuple):
    """profile: the one profile that fits best, or None; candidates: every profile whose identity and reads fit."""

    profile: str | None
    candidates: list[str]
    registers: list[dict[str, Any]]
    sample: Sample | None


def poll(client: BusClient, tally: Tally, address: int, profile: Profile, gas: str, attempts: int = ATTEMPTS) -> Sample:
    """One complete read of the profile's registers, decoded."""
    blocks = [read(client, tally, address, function, first, count, attempts)
              for function, first, count in profile.reads]
    return profile.decode(blocks, gas)


def identify(client: BusClient, tally: Tally, address: int, profiles: dict[str, Profile],
             gas: str = DEFAULT_GAS) -> Identity:
    """Reads every register an identity rule names; a profile fits when all its rules hold and its reads work.

    Of several that fit, the one with the most identity rules wins (more evidence); a tie is no answer.
    Raises BusError when the device stops answering (an exception reply only means "not that register").
    """
    wanted = sorted({(rule["function"], rule["register"])
                     for profile in profiles.values() for rule in profile.commissioning["identity"]})
    values: dict[tuple[int, int], int] = {}
    registers = []
    for function, register in wanted:
        entry: dict[str, Any] = {"function": function, "register": register}
        try:
            values[(function, register)] = entry["value"] = read(client, tally, address, function, register)[0]
        except BusError as error:
            if error.kind != "exception":
                raise
            entry["error"] = "exception %02X %s" % (error.exception_code or 0, rtu.exception_name(error.exception_code))
        registers.append(entry)
    fitting: dict[str, Sample] = {}
    for name in sorted(profiles):
        rules = profiles[name].commissioning["identity"]
        if rules and all(rule_holds(rule, values) for rule in rules):
            try:
                fitting[name] = poll(client, tally, address, profiles[name], gas)
            except BusError as error:
                if error.kind != "exception":
                    raise
    evidence = {name: len(profiles[name].commissioning["identity"]) for name in fitting}
    best = [name for name in fitting if evidence[name] == max(evidence.values())]
    chosen = best[0] if len(best) == 1 else None
    return Identity(chosen, sorted(fitting), registers, fitting.get(chosen) if chosen else None)


def pct_lel(centi: int | None) -> float | None:
    return None if centi is None else round(centi / CENTI, 2)


def show_pct(centi: int | None) -> str:
    return "—" if centi is None else "%.2f" % (centi / CENTI)


# ---------------------------------------------------------------------------------------------
# The record


def load_record(ctx: click.Context) -> Record:
    try:
        return Record.load(ctx.obj["record"])
    except RecordError as error:
        fail(ctx, "record", str(error), "give another file with --record, or move this one aside")
        raise


def save_record(ctx: click.Context, record: Record) -> None:
    try:
        record.save()
    except RecordError as error:
        fail(ctx, "record", str(error), "check the folder exists and is writable, then run the command again")


def record_port(ctx: click.Context, record: Record, port: str | None) -> str:
    port = port or record.data["bus"].get("port")
    if not port:
        fail(ctx, "bad_input", "no port given and none in the record %s" % record.path, PORT_HINT)
    return port


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


def log_change(record: Record, name: str, setting: str, old: Any, new: Any) -> None:
    entry = record.detector(name)
    entry.setdefault("setting_changes", []).append(
        {"utc": utc_now(), "setting": setting, "from": old, "to": new, "verified": True})


class Target(NamedTuple):
    """One detector a command acts on: its record entry (None if unrecorded), address and line setting."""

    name: str | None
    entry: dict | None
    address: int
    line: Line


def target(ctx: click.Context, record: Record, name: str | None, address: int | None, baud: int | None) -> Target:
    if name is not None:
        entry = record.data["detectors"].get(name)
        if entry is None or not isinstance(entry.get("address"), int):
            known = ", ".join(sorted(record.data["detectors"])) or "none yet"
            fail(ctx, "bad_input", "the record %s has no detector %r with an address" % (record.path, name),
                 "run scan first, or use --address (recorded detectors: %s)" % known)
        if address is not None and address != entry["address"]:
            fail(ctx, "bad_input", "%s is at address %d, not %d" % (name, entry["address"], address),
                 "give the detector's name or its address, not both")
        return Target(name, entry, entry["address"], detector_line(record, entry, baud))
    if address is None:
        fail(ctx, "bad_input", "which detector? give its name from the record or --address", "")
    found_name, entry = find_detector(record, address, baud)
    if entry is None and baud is None:
        found_name, entry = find_detector(record, address)
    return Target(found_name, entry, address, detector_line(record, entry, baud))


def target_profile(ctx: click.Context, client: BusClient, tally: Tally, tgt: Target, profile_name: str | None,
                   gas: str) -> Profile:
    """--profile, else the recorded profile, else the one the device's registers identify."""
    recorded = (tgt.entry or {}).get("profile")
    if profile_name or (recorded and recorded != "unknown"):
        return one_profile(ctx, profile_name or recorded)
    profiles = modbus_profiles(ctx)
    try:
        identity = identify(client, tally, tgt.address, profiles, gas)
    except BusError as error:
        fail_bus(ctx, error, client, tgt.address)
        raise
    if identity.profile is None:
        fits = ", ".join(identity.candidates) if identity.candidates else "none"
        fail(ctx, "unknown_profile", "cannot tell which profile address %d uses (profiles that fit: %s)"
             % (tgt.address, fits), "give --profile NAME (one of: %s)" % ", ".join(sorted(profiles)))
    return profiles[identity.profile]


def detector_gas(entry: dict | None, gas: str | None = None) -> str:
    return gas or (entry or {}).get("gas") or DEFAULT_GAS


def render(renderable: Any) -> str:
    """A rich table as plain text at the terminal's width, for finish()."""
    console = Console(file=io.StringIO(), width=shutil.get_terminal_size((120, 24)).columns, color_system=None)
    console.print(renderable)
    return console.file.getvalue().rstrip("\n")  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# scan


def problem(kind: str, message: str, hint: str, address: int | None = None) -> dict[str, Any]:
    return {"kind": kind, "address": address, "message": message, "hint": hint}


def examine(client: BusClient, tally: Tally, address: int, outcome: str, profiles: dict[str, Profile]) -> dict:
    """What scan learns about one address that answered: its profile, registers, reading, problems."""
    found: dict[str, Any] = {"address": address, "line": client_line(client), "tally": tally, "profile": None,
                             "candidates": [], "registers": [], "sample": None, "problems": []}
    if outcome == GARBLED:
        found["problems"].append(problem(
            "duplicate_address", "every reply from address %d arrived damaged: possible duplicate address" % address,
            DUPLICATE_HINT, address))
        return found
    try:
        identity = identify(client, tally, address, profiles)
    except BusError as error:
        found["problems"].append(problem(
            error.kind, "address %d stopped answering while being identified: %s" % (address, error.message),
            error.hint or CRC_HINT, address))
        return found
    found.update(profile=identity.profile, candidates=identity.candidates, registers=identity.registers,
                 sample=identity.sample)
    if identity.profile is None:
        what = ("fits several profiles equally (%s)" % ", ".join(identity.candidates) if identity.candidates
                else "matches no detector profile")
        found["problems"].append(problem("unknown_profile", "address %d answers but %s" % (address, what),
                                         UNKNOWN_HINT, address))
    return found


def bus_health(found: list[dict], timeout_ms: float) -> tuple[dict[str, Any], list[dict], list[dict]]:
    """(health, problems, warnings) over every request to an address that answered."""
    tallies = [item["tally"] for item in found]
    requests = sum(t.requests for t in tallies)
    errors = sum(t.error_count for t in tallies)
    reply_ms = [ms for t in tallies for ms in t.reply_ms]
    health = {"requests": requests, "errors": errors,
              "error_rate": round(errors / requests, 4) if requests else 0.0, "reply_ms": timing(reply_ms)}
    problems, warnings = [], []
    unexplained = [item for item in found if item["tally"].error_count
                   and not any(p["kind"] == "duplicate_address" for p in item["problems"])]
    if unexplained:
        lost = sum(item["tally"].error_count for item in unexplained)
        asked = sum(item["tally"].requests for item in unexplained)
        where = ", ".join(str(item["address"]) for item in unexplained)
        problems.append(problem("damaged_replies", "%d of %d requests to address %s got a damaged or no reply (%.0f %%)"
                                % (lost, asked, where, 100.0 * lost / asked), CRC_HINT))
    bauds = sorted({(item["line"].baud, item["line"].parity) for item in found})
    if len(bauds) > 1:
        problems.append(problem("mixed_baud", "detectors answer at different line settings: %s"
                                % ", ".join("%d %s" % baud for baud in bauds), MIXED_BAUD_HINT))
    turnaround = [ms for t in tallies for ms in t.turnaround_ms]
    if turnaround and max(turnaround) > SLOW_REPLY_SHARE * timeout_ms:
        warnings.append(problem("slow_replies", "the slowest device took %.0f ms to answer, close to the %d ms "
                                "scan wait" % (max(turnaround), timeout_ms), SLOW_HINT))
    return health, problems, warnings


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


PROBLEM_LABELS = {"duplicate_address": "possible duplicate address", "unknown_profile": "profile unknown",
                  "no_reply": "stopped answering", "crc": "damaged replies", "frame": "damaged replies"}


def scan_table(rows: list[dict]) -> Table:
    table = Table(title="Detectors found")
    for column in ("name", "address", "line", "profile", "%LEL", "status", "answers", "errors", "reply ms p50/max",
                   "problem"):
        table.add_column(column)
    for row in rows:
        reply = row["replies"]["reply_ms"]
        table.add_row(row["name"], str(row["address"]), row["line"], row["profile"],
                      "—" if row["reading_pct_lel"] is None else "%.2f" % row["reading_pct_lel"],
                      row["status"] or "—", str(row["replies"]["answers"]),
                      str(sum(row["replies"]["errors"].values())),
                      "%.1f / %.1f" % (reply["p50"], reply["max"]) if reply else "—",
                      ", ".join(PROBLEM_LABELS.get(kind, kind) for kind in row["problem_kinds"]))
    return table


@commission.command("scan")
@click.option("--port", help="Serial port of the USB-RS485 adapter (default: the record's).")
@click.option("--baud", "bauds_text", default="profiles", show_default=True,
              help="Baud rates to try: a list (9600,19200), 'all' (1200-115200), or 'profiles' (the rates the "
                   "detector profiles use).")
@click.option("--parity", "parities_text", default="profiles", show_default=True,
              help="Parities to try at each baud: N, E, O as a list, or 'profiles'.")
@click.option("--addresses", "addresses_text", default="1-247", show_default=True,
              help="Addresses to probe: 1-247, 5, or 1,5,10-12.")
@click.option("--timeout-ms", type=click.IntRange(5, 2000), default=SCAN_TIMEOUT_MS, show_default=True,
              help="Wait at each address beyond the reply's wire time. 30 ms: a full 1-247 scan at 9600 baud "
                   "takes about 12 s. Raise it for slow devices.")
@click.pass_context
def scan(ctx: click.Context, port: str | None, bauds_text: str, parities_text: str, addresses_text: str,
         timeout_ms: int) -> None:
    """Find every detector on the bus: probe each address at each baud, identify its profile, check bus health.

    Records what it found (address, baud, profile or "unknown", the registers read) in the record.
    Exit 0: detectors found, all identified, no problems; 1: problems found (duplicate address, damaged
    replies, unknown device, mixed baud rates); 2: nothing answered, or the port could not be used.
    """
    record = load_record(ctx)
    port = record_port(ctx, record, port)
    profiles = modbus_profiles(ctx)
    try:
        addresses = parse_addresses(addresses_text)
        bauds = parse_bauds(bauds_text, [p.serial["baud"] for p in profiles.values()])
        parities = parse_parities(parities_text, [p.serial["parity"] for p in profiles.values()])
    except ValueError as error:
        fail(ctx, "bad_input", str(error), "see gaslatch commission scan --help")
        raise
    lines = [Line(baud, parity) for baud in bauds for parity in parities]
    found: list[dict] = []
    strays: list[dict] = []
    started = time.monotonic()
    client = open_bus(ctx, port, lines[0])
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=False)
    try:
        with client, progress:
            task = progress.add_task("scanning", total=len(lines) * len(addresses))
            for line in lines:
                client.reconfigure(*line)
                wait_s = scan_wait_s(line, timeout_ms)
                for address in addresses:
                    progress.update(task, description="scan %s  address %3d  found %d" % (line, address, len(found)))
                    tally = Tally()
                    outcome = probe(client, tally, address, wait_s)
                    if outcome == STRAY:
                        strays.append(problem("stray_reply", "damaged bytes, then silence, at address %d (%s): "
                                              "a late reply from a slow device that scan missed?" % (address, line),
                                              SLOW_HINT, address))
                    elif outcome != SILENT:
                        found.append(examine(client, tally, address, outcome, profiles))
                    progress.advance(task)
            progress.update(task, description="scan done: found %d" % len(found))
    except (serial.SerialException, OSError) as error:
        port_lost(ctx, port, error)
    elapsed_s = time.monotonic() - started
    if not found:
        fail(ctx, "no_reply", "no device answered at %s, addresses %s%s" % (
            ", ".join(str(line) for line in lines), addresses_text,
            "; stray bytes while probing address %s" % ", ".join(str(p["address"]) for p in strays) if strays else ""),
            (SLOW_HINT + "; else " if strays else "") + NO_REPLY_HINT
            + "; try every baud rate with --baud all, and check the 120 ohm termination")
    health, bus_problems, warnings = bus_health(found, timeout_ms)
    problems = [p for item in found for p in item["problems"]] + strays + bus_problems
    summary = {"lines": [str(line) for line in lines], "addresses": addresses_text, "timeout_ms": timeout_ms,
               "elapsed_s": round(elapsed_s, 1), "found": len(found), "health": health,
               "problems": [p["message"] for p in problems], "warnings": [w["message"] for w in warnings]}
    names = record_scan(record, port, found, summary)
    record.note("scan", "%d detector(s) found at %s, %d problem(s)" % (len(found), ", ".join(summary["lines"]),
                                                                       len(problems)))
    save_record(ctx, record)
    rows = []
    for name, item in zip(names, found):
        sample = item["sample"]
        rows.append({"name": name, "address": item["address"], "line": str(item["line"]),
                     "baud": item["line"].baud, "parity": item["line"].parity,
                     "profile": item["profile"] or "unknown", "candidates": item["candidates"],
                     "registers": item["registers"],
                     "reading_pct_lel": pct_lel(sample.concentration_centi_pct_lel) if sample else None,
                     "status": sample.status if sample else None, "replies": item["tally"].summary(),
                     "problems": [p["message"] for p in item["problems"]],
                     "problem_kinds": [p["kind"] for p in item["problems"]]})
    payload = {"port": port, "detectors": rows, "health": health, "problems": problems, "warnings": warnings,
               "lines": summary["lines"], "elapsed_s": summary["elapsed_s"], "record": record.path}
    reply = health["reply_ms"]
    text = [render(scan_table(rows)),
            "bus health: %d requests to the detectors, %d errors (%.1f %%), reply time p50 %s ms, max %s ms"
            % (health["requests"], health["errors"], 100 * health["error_rate"],
               reply["p50"] if reply else "—", reply["max"] if reply else "—"),
            "scanned %s, addresses %s in %.1f s" % (", ".join(summary["lines"]), addresses_text, elapsed_s)]
    for item in problems + warnings:
        text.append("%s: %s\n  what to check: %s" % ("problem" if item in problems else "warning",
                                                     item["message"], item["hint"]))
    text.append("recorded in %s" % record.path)
    finish(ctx, payload, "\n".join(text), EXIT_FAILED if problems else EXIT_OK)


# ---------------------------------------------------------------------------------------------
# live


class Watched:
    """One detector in the live table: what it last said, and how its polls went.

    profile None: identified at the first poll from `profiles`; a device no profile fits is polled at the
    probe register only (it answers or not).
    """

    def __init__(self, address: int, name: str | None, entry: dict | None, profile: Profile | None,
                 profiles: dict[str, Profile]):
        self.address = address
        self.name = name or ""
        self.entry = entry or {}
        self.profile = profile
        self.profiles = profiles
        self.tally = Tally()
        self.sample: Sample | None = None
        self.last_error = ""
        self.answered = False

    def set_points(self) -> str:
        low, high = self.entry.get("low_alarm_pct_lel"), self.entry.get("high_alarm_pct_lel")
        return "—" if low is None and high is None else "%s / %s" % (low, high)

    def poll(self, client: BusClient) -> None:
        try:
            if self.profile is None and self.profiles:
                identity = identify(client, self.tally, self.address, self.profiles, detector_gas(self.entry))
                self.profile = self.profiles[identity.profile] if identity.profile else None
                self.profiles = {}  # identified once: a device no profile fits stays unknown
            if self.profile is None:
                read(client, self.tally, self.address, PROBE_FUNCTION, PROBE_REGISTER, attempts=1)
            else:
                self.sample = poll(client, self.tally, self.address, self.profile, detector_gas(self.entry), 1)
            self.answered = True
            self.last_error = ""
        except BusError as error:
            if error.kind == "exception":
                self.answered = True
            self.last_error = error.message

    def row(self) -> dict[str, Any]:
        sample = self.sample
        return {"address": self.address, "name": self.name,
                "profile": self.profile.name if self.profile else "unknown",
                "concentration_pct_lel": pct_lel(sample.concentration_centi_pct_lel) if sample else None,
                "status": sample.status if sample else None, "detail": sample.detail if sample else "",
                "set_points_pct_lel": {"low": self.entry.get("low_alarm_pct_lel"),
                                       "high": self.entry.get("high_alarm_pct_lel")},
                "reply_ms_last": round(self.tally.reply_ms[-1], 1) if self.tally.reply_ms else None,
                "polls": self.tally.requests, "errors": self.tally.error_count, "last_error": self.last_error}


def live_table(watched: list[Watched], line: Line, elapsed_s: float) -> Table:
    table = Table(title="live at %s, %.0f s (Ctrl-C to stop)" % (line, elapsed_s), box=box.SIMPLE_HEAD)
    for column in ("addr", "name", "profile", "%LEL", "status", "set pts", "ms", "polls", "err"):
        table.add_column(column, no_wrap=True)
    table.add_column("last error")
    for item in watched:
        row = item.row()
        status = row["status"] or ("no reply" if not item.answered else "—")
        if row["detail"]:
            status = "%s (%s)" % (status, row["detail"])
        style = "" if row["status"] in (None, STATUS_NORMAL) else "bold red"
        table.add_row(str(item.address), item.name, row["profile"], show_pct(
            item.sample.concentration_centi_pct_lel if item.sample else None), status, item.set_points(),
            "—" if row["reply_ms_last"] is None else "%.1f" % row["reply_ms_last"], str(row["polls"]),
            str(row["errors"]), row["last_error"][:60], style=style)
    return table


@commission.command("live")
@click.option("--port", help="Serial port (default: the record's).")
@click.option("--baud", type=click.Choice([str(b) for b in BAUDS]), default=None,
              help="Baud rate (default: the bus's, from the record; else 9600).")
@click.option("--parity", type=click.Choice(PARITIES), default=None, help="Parity (default: the record's; else N).")
@click.option("--addresses", "addresses_text", default=None,
              help="Addresses to watch (default: every detector the record has at this baud).")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this long (default: until Ctrl-C).")
@click.pass_context
def live(ctx: click.Context, port: str | None, baud: str | None, parity: str | None, addresses_text: str | None,
         seconds: float | None) -> None:
    """A live table of every detector: reading, status, set points, reply time and errors, refreshing in place.

    Exit 0: every detector answered every poll; 1: some polls failed; 2: no detector answered at all.
    """
    record = load_record(ctx)
    port = record_port(ctx, record, port)
    line = detector_line(record, None, int(baud) if baud else None, parity)
    if addresses_text:
        try:
            addresses = parse_addresses(addresses_text)
        except ValueError as error:
            fail(ctx, "bad_input", str(error), "see gaslatch commission live --help")
            raise
    else:
        addresses = sorted({entry["address"] for entry in record.data["detectors"].values()
                            if isinstance(entry.get("address"), int) and entry.get("baud", line.baud) == line.baud})
        if not addresses:
            fail(ctx, "bad_input", "the record has no detectors at %d baud to watch" % line.baud,
                 "run scan first, or give --addresses")
    watched = []
    profiles: dict[str, Profile] = {}
    for address in addresses:
        name, entry = find_detector(record, address, line.baud)
        recorded = (entry or {}).get("profile")
        if not recorded or recorded == "unknown":
            profiles = profiles or modbus_profiles(ctx)
        profile = one_profile(ctx, recorded) if recorded and recorded != "unknown" else None
        watched.append(Watched(address, name, entry, profile, {} if profile else profiles))
    period_s = max([(w.profile.min_poll_interval_ms if w.profile else 1000) for w in watched]) / 1000.0
    console = Console(stderr=ctx.obj["json"])
    client = open_bus(ctx, port, line)
    started = time.monotonic()
    stopped_by = "time"
    try:
        with client, Live(live_table(watched, line, 0), console=console, auto_refresh=False,
                          transient=False) as view:
            while True:
                round_start = time.monotonic()
                for item in watched:
                    item.poll(client)
                    view.update(live_table(watched, line, time.monotonic() - started), refresh=True)
                if seconds is not None and time.monotonic() - started >= seconds:
                    break
                pause = period_s - (time.monotonic() - round_start)
                if seconds is not None:
                    pause = min(pause, seconds - (time.monotonic() - started))
                if pause > 0:
                    time.sleep(pause)
    except KeyboardInterrupt:
        stopped_by = "ctrl-c"
    except (serial.SerialException, OSError) as error:
        port_lost(ctx, port, error)
    if not console.is_terminal:
        console.line()  # a captured Live leaves its last frame without the line's end
    if not any(item.answered for item in watched):
        with open_bus(ctx, port, line) as client:
            fail_bus(ctx, BusError("no_reply", "no detector answered at %s (addresses %s)" % (
                line, ", ".join(str(a) for a in addresses)), NO_REPLY_HINT), client, addresses[0])
    rows = [item.row() for item in watched]
    failed = [row for row in rows if row["errors"]]
    payload = {"port": port, "line": str(line), "seconds": round(time.monotonic() - started, 1),
               "stopped_by": stopped_by, "detectors": rows}
    text = "watched %d detector(s) for %.0f s; every poll answered" % (len(rows), payload["seconds"])
    if failed:
        damaged = any(item.tally.errors["crc"] + item.tally.errors["frame"] for item in watched)
        text = "watched %d detector(s) for %.0f s; failed polls at address %s\n  what to check: %s" % (
            len(rows), payload["seconds"], ", ".join(str(row["address"]) for row in failed),
            CRC_HINT if damaged else NO_REPLY_HINT)
    finish(ctx, payload, text, EXIT_FAILED if failed else EXIT_OK)


# ---------------------------------------------------------------------------------------------
# set-address, set-baud


def require_present(ctx: click.Context, client: BusClient, tally: Tally, address: int, profile: Profile,
                    gas: str) -> Sample:
    try:
        return poll(client, tally, address, profile, gas)
    except BusError as error:
        fail_bus(ctx, error, client, address)
        raise


def answers_within(client: BusClient, address: int, profile: Profile, gas: str, within_s: float) -> bool:
    """True once `address` answers a complete poll at the client's line setting, trying until within_s."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            poll(client, Tally(), address, profile, gas, attempts=1)
            return True
        except BusError:
            if time.monotonic() >= deadline:
                return False


def write_setting(ctx: click.Context, client: BusClient, address: int, register: int, value: int,
                  what: str) -> str:
    """Writes one commissioning register; a refusal stops the command, a lost reply is left to the read-back."""
    try:
        client.write_register(address, register, value)
    except BusError as error:
        if error.kind == "exception":
            fail(ctx, "refused", "the detector refused the %s: %s" % (what, error.message),
                 "check the profile's commissioning registers against the detector's manual", EXIT_FAILED)
        return error.message
    return ""


@commission.command("set-address")
@click.option("--port", help="Serial port (default: the record's).")
@click.option("--address", "old", type=click.IntRange(rtu.MIN_SLAVE, rtu.MAX_SLAVE), required=True,
              help="The detector's address now.")
@click.option("--new", "new", type=click.IntRange(rtu.MIN_SLAVE, rtu.MAX_SLAVE), required=True,
              help="The address to give it.")
@click.option("--baud", type=click.Choice([str(b) for b in BAUDS]), default=None,
              help="The bus's baud rate (default: the record's; else 9600).")
@click.option("--profile", "profile_name", help="Detector profile (default: recorded, else identified).")
@click.pass_context
def set_address(ctx: click.Context, port: str | None, old: int, new: int, baud: str | None,
                profile_name: str | None) -> None:
    """Give a detector a new address through its profile's commissioning register, and prove it took.

    Refuses an address another device answers at (or the record gives another detector). Verified by a
    complete read at the new address and silence at the old one. Exit 0 done; 1 refused or not verified; 2 error.
    """
    record = load_record(ctx)
    port = record_port(ctx, record, port)
    tgt = target(ctx, record, None, old, int(baud) if baud else None)
    if new == old:
        fail(ctx, "bad_input", "the detector is already at address %d" % old, "give another --new address")
    gas = detector_gas(tgt.entry)
    with open_bus(ctx, port, tgt.line) as client:
        tally = Tally()
        profile = target_profile(ctx, client, tally, tgt, profile_name, gas)
        spec = profile.commissioning["address"]
        if spec is None:
            fail(ctx, "unsupported", "profile %s has no address register" % profile.name,
                 "set the address on the detector itself (its manual: DIP switches, magnet or display menu)")
        if not spec["min"] <= new <= spec["max"]:
            fail(ctx, "bad_input", "%s takes addresses %d..%d" % (profile.name, spec["min"], spec["max"]), "")
        require_present(ctx, client, tally, old, profile, gas)
        holder, holder_entry = find_detector(record, new, tgt.line.baud)
        if probe(client, Tally(), new, scan_wait_s(tgt.line, SCAN_TIMEOUT_MS * 3)) != SILENT:
            fail(ctx, "address_taken", "address %d is already taken: a device answers there at %s" % (new, tgt.line),
                 "choose a free address (scan lists the used ones)", EXIT_FAILED)
        if holder is not None and holder != tgt.name:
            fail(ctx, "address_taken", "the record gives address %d to %s (silent now: unplugged?)" % (new, holder),
                 "choose another address, or correct the record if %s is gone" % holder, EXIT_FAILED)
        write_problem = write_setting(ctx, client, old, spec["register"], new, "new address")
        moved = answers_within(client, new, profile, gas, VERIFY_S)
        old_silent = moved and probe(client, Tally(), old, scan_wait_s(tgt.line, SCAN_TIMEOUT_MS * 3)) == SILENT
    if not (moved and old_silent):
        what = ("address %d is silent after the change" % new if not moved
                else "address %d still answers after the change" % old)
        fail(ctx, "not_verified", "%s%s" % (what, " (the write got: %s)" % write_problem if write_problem else ""),
             "scan to see where the detector is; some detectors apply a new address only after a power cycle",
             EXIT_FAILED)
    name = tgt.name or free_name(record, new, tgt.line.baud)
    if tgt.name == auto_name(old) and auto_name(new) not in record.data["detectors"]:
        name = auto_name(new)
        record.data["detectors"][name] = record.data["detectors"].pop(tgt.name)
    entry = record.detector(name)
    entry.update(address=new, baud=tgt.line.baud, parity=tgt.line.parity, profile=profile.name)
    log_change(record, name, "address", old, new)
    record.note("set-address", "%s: address %d -> %d, verified" % (name, old, new))
    save_record(ctx, record)
    payload = {"detector": name, "profile": profile.name, "line": str(tgt.line), "address": {"from": old, "to": new},
               "verified": {"answers_at_new": True, "silent_at_old": True}, "record": record.path}
    finish(ctx, payload, "%s: address %d -> %d, verified (answers at %d, silent at %d); recorded in %s"
           % (name, old, new, new, old, record.path))


@commission.command("set-baud")
@click.option("--port", help="Serial port (default: the record's).")
@click.option("--address", type=click.IntRange(rtu.MIN_SLAVE, rtu.MAX_SLAVE), required=True,
              help="The detector's address.")
@click.option("--new-baud", type=click.Choice([str(b) for b in BAUDS]), required=True, help="The baud rate to give it.")
@click.option("--baud", type=click.Choice([str(b) for b in BAUDS]), default=None,
              help="Its baud rate now (default: the record's; else 9600).")
@click.option("--profile", "profile_name", help="Detector profile (default: recorded, else identified).")
@click.pass_context
def set_baud(ctx: click.Context, port: str | None, address: int, new_baud: str, baud: str | None,
             profile_name: str | None) -> None:
    """Give a detector a new baud rate through its profile's commissioning register, and prove it took.

    Refuses when another device already answers at that address at the new baud. Verified by a complete
    read at the new baud and silence at the old one. Exit 0 done; 1 refused or not verified; 2 error.
    """
    record = load_record(ctx)
    port = record_port(ctx, record, port)
    tgt = target(ctx, record, None, address, int(baud) if baud else None)
    new_line = tgt.line._replace(baud=int(new_baud))
    if new_line.baud == tgt.line.baud:
        fail(ctx, "bad_input", "address %d is already at %d baud" % (address, new_line.baud), "give another --new-baud")
    gas = detector_gas(tgt.entry)
    with open_bus(ctx, port, tgt.line) as client:
        tally = Tally()
        profile = target_profile(ctx, client, tally, tgt, profile_name, gas)
        spec = profile.commissioning["baud"]
        if spec is None:
            fail(ctx, "unsupported", "profile %s has no baud rate register" % profile.name,
                 "set the baud rate on the detector itself (its manual: DIP switches, magnet or display menu)")
        codes = {rate: code for code, rate in spec["codes"].items()}
        if new_line.baud not in codes:
            fail(ctx, "unsupported", "%s offers %s baud, not %d" % (
                profile.name, ", ".join(str(rate) for rate in sorted(codes)), new_line.baud), "")
        require_present(ctx, client, tally, address, profile, gas)
        client.reconfigure(*new_line)
        taken = probe(client, Tally(), address, scan_wait_s(new_line, SCAN_TIMEOUT_MS * 3)) != SILENT
        client.reconfigure(*tgt.line)
        if taken:
            fail(ctx, "address_taken", "another device already answers at address %d at %s" % (address, new_line),
                 "give this detector another address first (set-address), then change its baud rate", EXIT_FAILED)
        write_problem = write_setting(ctx, client, address, spec["register"], codes[new_line.baud], "new baud rate")
        client.reconfigure(*new_line)
        moved = answers_within(client, address, profile, gas, VERIFY_S)
        client.reconfigure(*tgt.line)
        old_silent = moved and probe(client, Tally(), address, scan_wait_s(tgt.line, SCAN_TIMEOUT_MS * 3)) == SILENT
    if not (moved and old_silent):
        what = ("address %d is silent at %s after the change" % (address, new_line) if not moved
                else "address %d still answers at %s" % (address, tgt.line))
        fail(ctx, "not_verified", "%s%s" % (what, " (the write got: %s)" % write_problem if write_problem else ""),
             "scan --baud all to see where the detector is; some detectors apply a new baud rate only after a "
             "power cycle", EXIT_FAILED)
    name = tgt.name or free_name(record, address, new_line.baud)
    entry = record.detector(name)
    entry.update(address=address, baud=new_line.baud, parity=new_line.parity, profile=profile.name)
    log_change(record, name, "baud", tgt.line.baud, new_line.baud)
    others = sorted(other for other, item in record.data["detectors"].items()
                    if other != name and item.get("baud") == tgt.line.baud)
    if not others:
        record.data["bus"]["baud"] = new_line.baud
    record.note("set-baud", "%s: %d -> %d baud, verified" % (name, tgt.line.baud, new_line.baud))
    save_record(ctx, record)
    warning = ("" if not others else "\nwarning: %s still at %d baud: every device on one bus must use one baud rate"
               % (", ".join(others), tgt.line.baud))
    payload = {"detector": name, "profile": profile.name, "address": address,
               "baud": {"from": tgt.line.baud, "to": new_line.baud},
               "verified": {"answers_at_new": True, "silent_at_old": True}, "still_at_old_baud": others,
               "record": record.path}
    finish(ctx, payload, "%s (address %d): %d -> %d baud, verified; recorded in %s%s"
           % (name, address, tgt.line.baud, new_line.baud, record.path, warning))


# ---------------------------------------------------------------------------------------------
# calibrate


class Steadiness:
    """Is the reading steady? Every reading since the window began lies within tolerance of the window's first.

    A reading outside starts a new window; no reading (None) empties it.
    """

    def __init__(self, tolerance_centi: int):
        self.tolerance_centi = tolerance_centi
        self.since_s: float | None = None
        self.values: list[int] = []

    def add(self, now_s: float, centi: int | None) -> float:
        """Seconds the reading has been steady, now."""
        if centi is None:
            self.since_s, self.values = None, []
            return 0.0
        if self.since_s is None or abs(centi - self.values[0]) > self.tolerance_centi:
            self.since_s, self.values = now_s, []
        self.values.append(centi)
        return now_s - self.since_s

    def mean_centi(self) -> int:
        return round_half_away(sum(self.values) / len(self.values))


class CalibrationReader:
    """One reading per call for calibrate: (centi %LEL or None, why not).

    Warm-up and fault readings do not count; a lost or damaged reply is shown and skipped, but ATTEMPTS
    failures in a row raise the last BusError.
    """

    def __init__(self, client: BusClient, address: int, profile: Profile, gas: str):
        self.client, self.address, self.profile, self.gas = client, address, profile, gas
        self.failures_in_a_row = 0

    def __call__(self) -> tuple[int | None, str]:
        try:
            sample = poll(self.client, Tally(), self.address, self.profile, self.gas, attempts=1)
        except BusError as error:
            self.failures_in_a_row += 1
            if error.kind == "exception" or self.failures_in_a_row >= ATTEMPTS:
                raise
            return None, error.message
        self.failures_in_a_row = 0
        if sample.status in (STATUS_WARMUP, STATUS_FAULT) or sample.concentration_centi_pct_lel is None:
            return None, "detector reports %s%s" % (sample.status, " (%s)" % sample.detail if sample.detail else "")
        return sample.concentration_centi_pct_lel, ""


def wait_steady(read_centi: Callable[[], tuple[int | None, str]], stable_s: float, tolerance_pct: float,
                limit_s: float, period_s: float, console: Console, what: str) -> tuple[int | None, str]:
    """Polls until the reading held within tolerance for stable_s, showing the countdown on console.

    (the steady reading's mean in centi %LEL, or None when limit_s passed first; why the last reading
    that did not count did not).
    """
    steady = Steadiness(round_half_away(tolerance_pct * CENTI))
    started = time.monotonic()
    why = ""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[countdown]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(what, total=stable_s or 1, countdown="")
        while True:
            poll_start = time.monotonic()
            centi, reason = read_centi()
            why = reason or why
            held_s = steady.add(poll_start - started, centi)
            left_s = limit_s - (time.monotonic() - started)
            shown = "no reading: %s" % reason if centi is None else "%s %%LEL" % show_pct(centi)
            progress.update(task, completed=min(held_s, stable_s), description="%s: %s" % (what, shown),
                            countdown="steady for %.1f s more (±%g %%LEL), gives up in %.0f s"
                            % (max(0.0, stable_s - held_s), tolerance_pct, max(0.0, left_s)))
            if centi is not None and held_s >= stable_s:
                progress.update(task, countdown="steady at %s %%LEL" % show_pct(steady.mean_centi()))
                return steady.mean_centi(), why
            if left_s <= 0:
                return None, why
            pause = period_s - (time.monotonic() - poll_start)
            if pause > 0:
                time.sleep(min(pause, left_s))


def wait_on_target(read_centi: Callable[[], tuple[int | None, str]], target_centi: int, tolerance_centi: int,
                   limit_s: float, period_s: float) -> tuple[int | None, int | None]:
    """After a write: (mean of VERIFY_READINGS readings in a row on target, or None; the last reading)."""
    deadline = time.monotonic() + limit_s
    streak: list[int] = []
    last = None
    while True:
        poll_start = time.monotonic()
        centi, _ = read_centi()
        last = centi if centi is not None else last
        if centi is not None and abs(centi - target_centi) <= tolerance_centi:
            streak.append(centi)
            if len(streak) >= VERIFY_READINGS:
                return round_half_away(sum(streak) / len(streak)), last
        else:
            streak = []
        if time.monotonic() >= deadline:
            return None, last
        pause = period_s - (time.monotonic() - poll_start)
        if pause > 0:
            time.sleep(pause)


def span_raw_value(profile: Profile, registers: dict[int, int], span_pct: float, gas: str) -> int:
    """The span gas in the raw scale of the concentration register, in the unit and decimals the device reports."""
    spec = check_document(profile.document, profile.name + ".json")["concentration"]

    def field(item: dict) -> Any:
        if "fixed" in item:
            return item["fixed"]
        return item["codes"].get((registers[item["register"]] & item["mask"]) >> item["shift"])

    unit = field(spec["unit"])
    decimals = 0 if spec["type"] == "float32" else field(spec["decimals"])
    per_pct_lel = {"pct_lel": 1.0, "pct_vol": LEL_PCT_VOL[gas] / 100.0, "ppm": LEL_PCT_VOL[gas] * 100.0}.get(unit)
    if per_pct_lel is None or decimals is None:
        raise ValueError("the detector reports a unit or scale the profile cannot convert (%r, %r)" % (unit, decimals))
    return round_half_away(span_pct * per_pct_lel * 10**decimals)


def concentration_registers(client: BusClient, tally: Tally, address: int, profile: Profile) -> dict[int, int]:
    registers: dict[int, int] = {}
    for function, first, count in profile.reads:
        for offset, value in enumerate(read(client, tally, address, function, first, count)):
            registers[first + offset] = value
    return registers


@commission.command("calibrate")
@click.argument("kind", type=click.Choice(["zero", "span"]))
@click.argument("detector", required=False)
@click.option("--address", type=click.IntRange(rtu.MIN_SLAVE, rtu.MAX_SLAVE), help="The detector's address "
              "(instead of its name in the record).")
@click.option("--port", help="Serial port (default: the record's).")
@click.option("--baud", type=click.Choice([str(b) for b in BAUDS]), default=None,
              help="Baud rate (default: the detector's in the record; else 9600).")
@click.option("--profile", "profile_name", help="Detector profile (default: recorded, else identified).")
@click.option("--gas", type=click.Choice(sorted(LEL_PCT_VOL)), default=None,
              help="The gas the detector measures (default: the record's; else methane).")
@click.option("--span-gas-pct", type=click.FloatRange(min=0, min_open=True, max=100), default=None,
              help="Span gas concentration in %LEL, from the cylinder's label (span only).")
@click.option("--stable-s", type=click.FloatRange(min=0), default=STABLE_S, show_default=True,
              help="The reading must stay within the tolerance this long before the write.")
@click.option("--tolerance-pct", type=click.FloatRange(min=0, min_open=True), default=TOLERANCE_PCT,
              show_default=True, help="Band in %LEL for 'stable', and for the check after the write.")
@click.option("--limit-s", type=click.FloatRange(min=0, min_open=True), default=CALIBRATION_LIMIT_S,
              show_default=True, help="Give up (exit 1) when the reading is not stable within this time.")
@click.option("--yes", is_flag=True, help="The gas is already applied: do not ask.")
@click.pass_context
def calibrate(ctx: click.Context, kind: str, detector: str | None, address: int | None, port: str | None,
              baud: str | None, profile_name: str | None, gas: str | None, span_gas_pct: float | None,
              stable_s: float, tolerance_pct: float, limit_s: float, yes: bool) -> None:
    """Guided zero or span calibration of one detector (by name in the record, or --address).

    Asks for zero air or span gas, waits for a stable reading with a countdown, writes zero or span through
    the profile's registers, then checks the reading (zero near 0, span near the span gas). Refuses
    (exit 1) an unstable reading, a zero above 5 %LEL (that is gas, not drift) and a sensor that reads
    under half the span gas. Exit 0 calibrated and verified; 1 refused or not verified; 2 error.
    """
    record = load_record(ctx)
    port = record_port(ctx, record, port)
    if kind == "span" and span_gas_pct is None:
        fail(ctx, "bad_input", "span calibration needs --span-gas-pct", "the %LEL on the span gas cylinder's label")
    tgt = target(ctx, record, detector, address, int(baud) if baud else None)
    gas = detector_gas(tgt.entry, gas)
    target_pct = 0.0 if kind == "zero" else float(span_gas_pct or 0)
    tolerance_centi = round_half_away(tolerance_pct * CENTI)
    with open_bus(ctx, port, tgt.line) as client:
        tally = Tally()
        profile = target_profile(ctx, client, tally, tgt, profile_name, gas)
        spec = profile.commissioning[kind]
        if spec is None:
            fail(ctx, "unsupported", "profile %s has no %s calibration register" % (profile.name, kind),
                 "calibrate it as its manual says (vendor tool or magnet), then record the result by hand")
        first = require_present(ctx, client, tally, tgt.address, profile, gas)
        name = tgt.name or free_name(record, tgt.address, tgt.line.baud)
        label = "%s (address %d, %s)" % (name, tgt.address, profile.name)
        attempt: dict[str, Any] = {"utc": utc_now(), "kind": kind, "gas": gas, "address": tgt.address,
                                   "baud": tgt.line.baud, "profile": profile.name, "stable_s": stable_s,
                                   "tolerance_pct": tolerance_pct, "ok": False}
        if kind == "span":
            attempt["span_gas_pct_lel"] = target_pct

        def refuse(failure: str, message: str, hint: str) -> None:
            """Records the failed attempt, then stops with exit 1."""
            attempt["reason"] = message
            entry = record.detector(name)
            entry.setdefault("address", tgt.address)
            entry["calibrations"].append(attempt)
            record.note("calibrate", "%s %s refused: %s" % (name, kind, message))
            save_record(ctx, record)
            fail(ctx, failure, message, hint, EXIT_FAILED)

        click.echo("%s reads %s %%LEL, status %s" % (label, show_pct(first.concentration_centi_pct_lel),
                                                     first.status), err=True)
        if kind == "zero":
            click.echo("Apply zero air (clean air, or a zero-air cylinder with the flow hood) to %s." % label, err=True)
        else:
            click.echo("Apply span gas of %g %%LEL (%.2f %%vol %s) to %s." % (
                target_pct, target_pct * LEL_PCT_VOL[gas] / 100.0, gas, label), err=True)
        if not yes and not click.confirm("Is the gas applied and flowing?", default=True, err=True):
            fail(ctx, "cancelled", "calibration cancelled: nothing was written", "", EXIT_FAILED)
        reader = CalibrationReader(client, tgt.address, profile, gas)
        period_s = profile.min_poll_interval_ms / 1000.0
        try:
            before, why = wait_steady(reader, stable_s, tolerance_pct, limit_s, period_s, Console(stderr=True),
                                      "waiting for a stable reading")
            if before is None:
                refuse("unstable", "the reading did not hold within ±%g %%LEL for %g s within %g s%s"
                       % (tolerance_pct, stable_s, limit_s, " (%s)" % why if why else ""),
                       "check the gas flow and the hood, keep draughts away, let a new sensor warm up; then try again")
            attempt["before_pct_lel"] = pct_lel(before)
            if kind == "zero" and abs(before) > MAX_ZERO_OFFSET_PCT * CENTI:
                refuse("refused", "the detector reads %s %%LEL in zero air: that is gas, not drift" % show_pct(before),
                       "ventilate, check the zero-air cylinder and hood; zeroing now would blind the detector")
            if kind == "span" and before < MIN_SPAN_SENSITIVITY * target_pct * CENTI:
                refuse("refused", "the detector reads %s %%LEL on %g %%LEL span gas: under half" % (
                    show_pct(before), target_pct), "check the gas reaches the sensor (hood, flow, cylinder "
                    "concentration); a sensor this weak needs replacing, not amplifying")
            value = spec["write"]
            if value == SPAN_GAS_RAW:
                try:
                    value = span_raw_value(profile, concentration_registers(client, tally, tgt.address, profile),
                                           target_pct, gas)
                except ValueError as error:
                    refuse("unsupported", str(error), "calibrate it with the vendor's tool")
            attempt.update(register=spec["register"], value_written=value)
            try:
                client.write_register(tgt.address, spec["register"], value)
            except BusError as error:
                if error.kind != "exception":
                    raise
                refuse("refused", "the detector refused the %s: %s" % (kind, error.message),
                       "a detector refuses while warming up or when the sensor does not respond to the gas")
            click.echo("%s written (register %d = %d); checking the reading: %d in a row within %g ±%g %%LEL ..."
                       % (kind, spec["register"], value, VERIFY_READINGS, target_pct, tolerance_pct), err=True)
            after, last = wait_on_target(reader, round_half_away(target_pct * CENTI), tolerance_centi, limit_s,
                                         period_s)
        except BusError as error:
            fail_bus(ctx, error)
            raise
    attempt["after_pct_lel"] = pct_lel(after if after is not None else last)
    if after is None:
        refuse("not_verified", "after the %s write the detector reads %s %%LEL, not %g ±%g" % (
            kind, show_pct(last), target_pct, tolerance_pct),
            "repeat the calibration; if it fails again the sensor or the profile's calibration registers are wrong")
    attempt["ok"] = True
    entry = record.detector(name)
    entry.update(address=tgt.address, baud=tgt.line.baud, profile=profile.name)
    entry["calibrations"].append(attempt)
    record.note("calibrate", "%s %s: %s -> %s %%LEL, verified" % (name, kind, attempt["before_pct_lel"],
                                                                  attempt["after_pct_lel"]))
    save_record(ctx, record)
    done = "remove the span gas: the reading must fall back to 0" if kind == "span" else "remove the zero-air hood"
    finish(ctx, dict(attempt, detector=name, record=record.path),
           "%s: %s calibrated, %s -> %s %%LEL (target %g ±%g), verified; %s. Recorded in %s" % (
               label, kind, attempt["before_pct_lel"], attempt["after_pct_lel"], target_pct, tolerance_pct, done,
               record.path))
