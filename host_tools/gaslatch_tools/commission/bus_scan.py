"""What answers on an unknown RS-485 bus: addresses and line settings probed, devices identified, health tallied.

scan needs it to find the detectors; live, set-address, set-baud and calibrate use its probes and polls.
"""

from __future__ import annotations

import collections
import statistics
from typing import Any, Callable, NamedTuple

from gaslatch.core import modbus_rtu as rtu
from gaslatch.core.constants import CENTI
from gaslatch.core.detector_profile import Profile, Sample
from gaslatch_tools.commission.bus_client import CRC_HINT, BusClient, BusError
from gaslatch.translation import N_, _

# A probe reads holding register 0 of an address. Any answer (registers, an exception, even a damaged frame)
# means something is there; silence means nothing is, at that line setting.
PROBE_FUNCTION = rtu.FUNCTION_READ_HOLDING
PROBE_REGISTER = 0
PROBE_REPLY_BYTES = 7
# How long scan waits at a silent address beyond the reply's own wire time: room for a 30 ms turnaround. At
# 9600 baud a silent address then costs ~50 ms (request, wait, 3.5-character gap): a full 1-247 scan at one
# baud takes ~12 s. Slower devices need --timeout-ms; scan warns when a reply used most of the wait.
SCAN_TIMEOUT_MS = 30
# Every unicast address, as the installer writes it: the scan's default.
ALL_ADDRESSES = "%d-%d" % (rtu.MIN_SLAVE, rtu.MAX_SLAVE)
SLOW_REPLY_SHARE = 0.7
# A device known to be there is asked again after a damaged or lost reply, up to this many tries in all.
ATTEMPTS = 3
DEFAULT_GAS = "methane"

SILENT, ANSWER, GARBLED, STRAY = "silent", "answer", "garbled", "stray"
# What to check, in English here and translated where shown (translation.py).
DUPLICATE_HINT = N_("two devices with one address answer together and garble each other: connect the detectors "
                  "one at a time (or power all but one off), scan, and give each its own address with set-address")
UNKNOWN_HINT = N_("no profile's identity registers match: choose the profile by hand (--profile, or in the "
                "configuration); some models, such as xgard-bright, cannot be recognised from their registers")
MIXED_BAUD_HINT = N_("every device on one bus must use one baud rate and parity: change the odd ones with set-baud "
                   "(or on the detector), then scan again")
SLOW_HINT = N_("scan again with a longer --timeout-ms (e.g. 100) so that no slow device is missed")


# ---------------------------------------------------------------------------------------------
# What the installer types


def _decimal(text: str, what: str) -> int:
    if not text or any(char not in "0123456789" for char in text):
        raise ValueError(_("%(text)r is not %(what)s") % {"text": text, "what": what})
    return int(text)


def parse_addresses(text: str) -> list[int]:
    """'1-247', '5' or '1,5,10-12' -> the sorted distinct addresses; ValueError says what is wrong."""
    addresses: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        low, dash, high = item.partition("-")
        what = _("an address or a range like %s") % ALL_ADDRESSES
        first = _decimal(low.strip(), what)
        last = _decimal(high.strip(), what) if dash else first
        if not rtu.MIN_SLAVE <= first <= last <= rtu.MAX_SLAVE:
            raise ValueError(_("%(item)r: addresses are %(min)d..%(max)d, a range is low-high")
                             % {"item": item, "min": rtu.MIN_SLAVE, "max": rtu.MAX_SLAVE})
        addresses.update(range(first, last + 1))
    return sorted(addresses)


def parse_bauds(text: str, profile_bauds: list[int]) -> list[int]:
    """'9600,19200', 'all' (every standard rate) or 'profiles' (the rates detector profiles use) -> sorted bauds."""
    text = text.strip().lower()
    if text == "all":
        return list(rtu.BAUDS)
    if text == "profiles":
        if not profile_bauds:
            raise ValueError(_("no detector profile names a baud rate: give the rates, e.g. 9600,19200"))
        return sorted(set(profile_bauds))
    bauds = set()
    for item in text.split(","):
        baud = _decimal(item.strip(), _("a baud rate"))
        if baud not in rtu.BAUDS:
            raise ValueError(_("%(baud)d is not a standard baud rate (%(bauds)s)")
                             % {"baud": baud, "bauds": ", ".join(str(b) for b in rtu.BAUDS)})
        bauds.add(baud)
    return sorted(bauds)


def parse_parities(text: str, profile_parities: list[str]) -> list[str]:
    """'N', 'N,E,O' or 'profiles' (the parities detector profiles use) -> parity letters in N, E, O order."""
    if text.strip().lower() == "profiles":
        wanted = set(profile_parities) or {"N"}
    else:
        wanted = {item.strip().upper() for item in text.split(",")}
        unknown = sorted(wanted - set(rtu.PARITIES))
        if unknown:
            raise ValueError(_("parity %s: use N (none), E (even) or O (odd)") % ", ".join(repr(p) for p in unknown))
    return [parity for parity in rtu.PARITIES if parity in wanted]


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
    for _try in range(attempts):
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
    for _try in range(ATTEMPTS):
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


def silent_at(client: BusClient, address: int) -> bool:
    """True if nothing answers `address` at the client's line setting, probed with three times the scan wait."""
    return probe(client, Tally(), address, scan_wait_s(client_line(client), SCAN_TIMEOUT_MS * 3)) == SILENT


def answering_line(client: BusClient, address: int) -> Line | None:
    """After silence: another standard baud rate (same parity) that `address` answers at, or None. Each rate is
    probed with three times the scan wait, as silent_at does: this runs only after a failure, where naming the
    right rate is worth a fraction of a second more, and a slow reply must not pass for silence."""
    tried = client_line(client)
    try:
        for baud in rtu.BAUDS:
            if baud == tried.baud:
                continue
            line = Line(baud, tried.parity, tried.stop_bits)
            client.reconfigure(*line)
            if probe(client, Tally(), address, scan_wait_s(line, SCAN_TIMEOUT_MS * 3)) in (ANSWER, GARBLED):
                return line
        return None
    finally:
        client.reconfigure(*tried)


# ---------------------------------------------------------------------------------------------
# Profiles: which device is this, and what does it say


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
# The scan: every address at every line setting, and what the answers say about the bus


def problem(kind: str, message: str, hint: str, address: int | None = None) -> dict[str, Any]:
    return {"kind": kind, "address": address, "message": message, "hint": hint}


def examine(client: BusClient, tally: Tally, address: int, outcome: str, profiles: dict[str, Profile]) -> dict:
    """What scan learns about one address that answered: its profile, registers, reading, problems."""
    found: dict[str, Any] = {"address": address, "line": client_line(client), "tally": tally, "profile": None,
                             "candidates": [], "registers": [], "sample": None, "problems": []}
    if outcome == GARBLED:
        found["problems"].append(problem(
            "duplicate_address", _("every reply from address %d arrived damaged: possible duplicate address") % address,
            _(DUPLICATE_HINT), address))
        return found
    try:
        identity = identify(client, tally, address, profiles)
    except BusError as error:
        found["problems"].append(problem(
            error.kind, _("address %(address)d stopped answering while being identified: %(problem)s")
            % {"address": address, "problem": error.message}, error.hint or _(CRC_HINT), address))
        return found
    found.update(profile=identity.profile, candidates=identity.candidates, registers=identity.registers,
                 sample=identity.sample)
    if identity.profile is None:
        message = (_("address %(address)d answers but fits several profiles equally (%(profiles)s)")
                   if identity.candidates else _("address %(address)d answers but matches no detector profile"))
        found["problems"].append(problem("unknown_profile", message % {
            "address": address, "profiles": ", ".join(identity.candidates)}, _(UNKNOWN_HINT), address))
    return found


def sweep(client: BusClient, lines: list[Line], addresses: list[int], timeout_ms: float,
          profiles: dict[str, Profile],
          show: Callable[[int, Line, int, int], None]) -> tuple[list[dict], list[dict]]:
    """Probes every address at every line setting: (examine() of each that answered, stray-reply problems).

    show(done, line, address, found) is called before each probe: probes done so far, where, detectors found.
    """
    found: list[dict] = []
    strays: list[dict] = []
    done = 0
    for line in lines:
        client.reconfigure(*line)
        wait_s = scan_wait_s(line, timeout_ms)
        for address in addresses:
            show(done, line, address, len(found))
            tally = Tally()
            outcome = probe(client, tally, address, wait_s)
            if outcome == STRAY:
                strays.append(problem("stray_reply", _("damaged bytes, then silence, at address %(address)d "
                                                       "(%(line)s): a late reply from a slow device that scan "
                                                       "missed?") % {"address": address, "line": line},
                                      _(SLOW_HINT), address))
            elif outcome != SILENT:
                found.append(examine(client, tally, address, outcome, profiles))
            done += 1
    return found, strays


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
        problems.append(problem("damaged_replies", _("%(lost)d of %(asked)d requests to address %(addresses)s got a "
                                                     "damaged or no reply (%(pct).0f %%)")
                                % {"lost": lost, "asked": asked, "addresses": where, "pct": 100.0 * lost / asked},
                                _(CRC_HINT)))
    bauds = sorted({(item["line"].baud, item["line"].parity) for item in found})
    if len(bauds) > 1:
        problems.append(problem("mixed_baud", _("detectors answer at different line settings: %s")
                                % ", ".join("%d %s" % baud for baud in bauds), _(MIXED_BAUD_HINT)))
    turnaround = [ms for t in tallies for ms in t.turnaround_ms]
    if turnaround and max(turnaround) > SLOW_REPLY_SHARE * timeout_ms:
        warnings.append(problem("slow_replies", _("the slowest device took %(reply_ms).0f ms to answer, close to the "
                                                  "%(timeout_ms)d ms scan wait")
                                % {"reply_ms": max(turnaround), "timeout_ms": timeout_ms}, _(SLOW_HINT)))
    return health, problems, warnings


def scan_rows(names: list[str], found: list[dict]) -> list[dict]:
    """One row per detector found, under its record name: what scan reports."""
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
    return rows
