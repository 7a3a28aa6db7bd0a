"""The bus commands: scan, live, set-address, set-baud, calibrate, as the installer types them.

Options in, the work done by bus_scan, bus_settings, calibration and live_table, results out through finish() or a
CommandStop (command_outcome.py).
"""

from __future__ import annotations

import contextlib
import grp
import io
import os
import shutil
import time
from typing import Any, Iterator

import click
import serial
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gaslatch.core import modbus_rtu as rtu
from gaslatch.core.constants import LEL_PCT_VOL
from gaslatch.core.detector_profile import Profile, Sample, list_profiles, load_profile
from gaslatch.core.profile_check import ProfileError
from gaslatch.core.profile_schema import KIND_MODBUS
from gaslatch_tools.commission.bus_client import CRC_HINT, DEFAULT_TIMEOUT_S, NO_REPLY_HINT, BusClient, BusError
from gaslatch_tools.commission.bus_record import (Target, detector_gas, detector_line, find_detector, free_name,
                                                  record_address_change, record_baud_change, record_calibration,
                                                  record_refused_calibration, record_scan)
from gaslatch_tools.commission.bus_scan import (ALL_ADDRESSES, SCAN_TIMEOUT_MS, SLOW_HINT, Line, Tally, answering_line,
                                                bus_health, client_line, identify, parse_addresses, parse_bauds,
                                                parse_parities, poll, scan_rows, show_pct, sweep)
from gaslatch_tools.commission.bus_settings import answers_at, verify_change
from gaslatch_tools.commission.calibration import (CALIBRATION_LIMIT_S, STABLE_S, TOLERANCE_PCT, Calibration,
                                                   CalibrationRefused, Settling)
from gaslatch_tools.commission.command_outcome import EXIT_FAILED, EXIT_OK, CommandStop, finish
from gaslatch_tools.commission.live_table import Watched, watch
from gaslatch_tools.commission.record import Record
from gaslatch_tools.commission.state_words import state_word
from gaslatch.translation import N_, _, named, ngettext

# Texts kept in constants, in English here and translated where shown (translation.py).
PORT_HINT = N_("give --port (the USB-RS485 adapter, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...) or run scan first")
PROBLEM_LABELS = {"duplicate_address": N_("possible duplicate address"), "unknown_profile": N_("profile unknown"),
                  "no_reply": N_("stopped answering"), "crc": N_("damaged replies"), "frame": N_("damaged replies")}


# ---------------------------------------------------------------------------------------------
# From a bus or profile problem to a CommandStop: what happened and what to check


def bus_stop(error: BusError, client: BusClient | None = None, address: int | None = None) -> CommandStop:
    """The stop for a bus error; silence is checked against the other baud rates first (a wrong --baud says so)."""
    if error.kind == "no_reply" and client is not None and address is not None:
        line = client_line(client)
        other = answering_line(client, address)
        if other is not None:
            return CommandStop("wrong_baud", _("address %(address)d is silent at %(line)s but answers at %(baud)d baud")
                               % {"address": address, "line": line, "baud": other.baud},
                               _("use --baud %d; every device on one bus must use the same baud rate (set-baud "
                                 "changes a detector's)") % other.baud)
        return CommandStop(error.kind, _("%s (and at every other baud rate)") % error.message, error.hint)
    return CommandStop(error.kind, error.message, error.hint)


def group_hint(port: str, fallback: str) -> str:
    """Which group to join for `port`: the one that owns it (dialout on Debian and Raspberry Pi OS)."""
    try:
        group = grp.getgrgid(os.stat(port).st_gid).gr_name
    except (OSError, KeyError):
        return fallback
    return (_("join the group %(group)s, which owns %(port)s: sudo usermod -aG %(group)s $USER, then log out and in "
              "again") % {"group": group, "port": port})


def open_bus(port: str, line: Line, timeout_s: float = DEFAULT_TIMEOUT_S) -> BusClient:
    try:
        return BusClient(port, line.baud, line.parity, line.stop_bits, timeout_s)
    except BusError as error:
        hint = group_hint(port, error.hint) if error.kind == "permission" else error.hint
        raise CommandStop(error.kind, error.message, hint) from None


def port_lost(port: str, error: BaseException) -> CommandStop:
    return CommandStop("port_lost", _("%(port)s stopped working during the command (%(error)s)")
                       % {"port": port, "error": error},
                       _("check the USB-RS485 adapter and its cable (ls /dev/serial/by-id/), then run the command "
                         "again"))


def modbus_profiles() -> dict[str, Profile]:
    """Every Modbus detector profile shipped or added, by name; a broken profile file stops the command."""
    try:
        loaded = [load_profile(name) for name in list_profiles()]
    except ProfileError as error:
        raise CommandStop("profile", str(error),
                          _("fix the profile file (docs/detector-profiles.md describes the format)")) from None
    return {profile.name: profile for profile in loaded if profile.kind == KIND_MODBUS}


def one_profile(name: str) -> Profile:
    try:
        profile = load_profile(name)
    except ProfileError as error:
        raise CommandStop("profile", str(error), _("profiles: %s") % ", ".join(list_profiles())) from None
    if profile.kind != KIND_MODBUS:
        raise CommandStop("profile", _("%(profile)s is a %(kind)s profile, not a Modbus detector")
                          % {"profile": name, "kind": profile.kind})
    return profile


def register_spec(profile: Profile, key: str, message: str, hint: str) -> dict:
    """The profile's commissioning register `key`; a profile without it stops the command with message and hint."""
    spec = profile.commissioning[key]
    if spec is None:
        raise CommandStop("unsupported", message % profile.name, hint)
    return spec


def record_port(record: Record, port: str | None) -> str:
    port = port or record.data["bus"].get("port")
    if not port:
        raise CommandStop("bad_input", _("no port given and none in the record %s") % record.path, _(PORT_HINT))
    return port


def target(record: Record, name: str | None, address: int | None, baud: int | None) -> Target:
    if name is not None:
        entry = record.data["detectors"].get(name)
        if entry is None or not isinstance(entry.get("address"), int):
            known = ", ".join(sorted(record.data["detectors"])) or _("none yet")
            raise CommandStop("bad_input", _("the record %(record)s has no detector %(name)r with an address")
                              % {"record": record.path, "name": name},
                              _("run scan first, or use --address (recorded detectors: %s)") % known)
        if address is not None and address != entry["address"]:
            raise CommandStop("bad_input", _("%(name)s is at address %(address)d, not %(given)d")
                              % {"name": name, "address": entry["address"], "given": address},
                              _("give the detector's name or its address, not both"))
        return Target(name, entry, entry["address"], detector_line(record, entry, baud))
    if address is None:
        raise CommandStop("bad_input", _("which detector? give its name from the record or --address"))
    found_name, entry = find_detector(record, address, baud)
    if entry is None and baud is None:
        found_name, entry = find_detector(record, address)
    return Target(found_name, entry, address, detector_line(record, entry, baud))


def target_profile(client: BusClient, tally: Tally, tgt: Target, profile_name: str | None, gas: str) -> Profile:
    """--profile, else the recorded profile, else the one the device's registers identify."""
    recorded = (tgt.entry or {}).get("profile")
    if profile_name or (recorded and recorded != "unknown"):
        return one_profile(profile_name or recorded)
    profiles = modbus_profiles()
    try:
        identity = identify(client, tally, tgt.address, profiles, gas)
    except BusError as error:
        raise bus_stop(error, client, tgt.address) from None
    if identity.profile is None:
        fits = ", ".join(identity.candidates) if identity.candidates else _("none")
        raise CommandStop("unknown_profile", _("cannot tell which profile address %(address)d uses (profiles that "
                                               "fit: %(profiles)s)") % {"address": tgt.address, "profiles": fits},
                          _("give --profile NAME (one of: %s)") % ", ".join(sorted(profiles)))
    return profiles[identity.profile]


@contextlib.contextmanager
def detector_bus(port: str, tgt: Target, profile_name: str | None,
                 gas: str) -> Iterator[tuple[BusClient, Tally, Profile]]:
    """The bus open at tgt's line setting, the tally of tgt's requests, and tgt's profile (see target_profile)."""
    with open_bus(port, tgt.line) as client:
        tally = Tally()
        yield client, tally, target_profile(client, tally, tgt, profile_name, gas)


def require_present(client: BusClient, tally: Tally, address: int, profile: Profile, gas: str) -> Sample:
    try:
        return poll(client, tally, address, profile, gas)
    except BusError as error:
        raise bus_stop(error, client, address) from None


def write_setting(client: BusClient, address: int, register: int, value: int, refused: str) -> str:
    """Writes one commissioning register; a refusal stops the command (refused: its message, with the detector's
    reply in %s), a lost reply is left to the read-back."""
    try:
        client.write_register(address, register, value)
    except BusError as error:
        if error.kind == "exception":
            raise CommandStop("refused", refused % error.message,
                              _("check the profile's commissioning registers against the detector's manual"),
                              EXIT_FAILED) from None
        return error.message
    return ""


def not_verified(what: str, write_problem: str, hint: str) -> CommandStop:
    return CommandStop("not_verified", "%s%s" % (what, _(" (the write got: %s)") % write_problem if write_problem
                                                 else ""), hint, EXIT_FAILED)


def render(renderable: Any) -> str:
    """A rich table as plain text at the terminal's width, for finish()."""
    console = Console(file=io.StringIO(), width=shutil.get_terminal_size((120, 24)).columns, color_system=None)
    console.print(renderable)
    return console.file.getvalue().rstrip("\n")  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# scan


def scan_table(rows: list[dict]) -> Table:
    table = Table(title=_("Detectors found"))
    for column in (_("name"), _("address"), _("line"), _("profile"), "%LEL", _("status"), _("answers"), _("errors"),
                   _("reply ms p50/max"), _("problem")):
        table.add_column(column)
    for row in rows:
        reply = row["replies"]["reply_ms"]
        table.add_row(row["name"], str(row["address"]), row["line"], row["profile"],
                      "—" if row["reading_pct_lel"] is None else "%.2f" % row["reading_pct_lel"],
                      state_word(row["status"]) if row["status"] else "—", str(row["replies"]["answers"]),
                      str(sum(row["replies"]["errors"].values())),
                      "%.1f / %.1f" % (reply["p50"], reply["max"]) if reply else "—",
                      ", ".join(named(PROBLEM_LABELS, kind)
                                for kind in row["problem_kinds"]))
    return table


# The option types every bus command shares: a Modbus slave address and a baud rate the protocol allows.
ADDRESS = click.IntRange(rtu.MIN_SLAVE, rtu.MAX_SLAVE)
BAUD = click.Choice([str(b) for b in rtu.BAUDS])

@click.command("scan", help=_(
    "Find every detector on the bus: probe each address at each baud, identify its profile, check bus health.\n"
    "\n"
    "Records what it found (address, baud, profile or \"unknown\", the registers read) in the record.\n"
    "Exit 0: detectors found, all identified, no problems; 1: problems found (duplicate address, damaged\n"
    "replies, unknown device, mixed baud rates); 2: nothing answered, or the port could not be used."))
@click.option("--port", help=_("Serial port of the USB-RS485 adapter (default: the record's)."))
@click.option("--baud", "bauds_text", default="profiles", show_default=True,
              help=_("Baud rates to try: a list (9600,19200), 'all' (%d-%d), or 'profiles' (the rates the "
                     "detector profiles use).") % (rtu.BAUDS[0], rtu.BAUDS[-1]))
@click.option("--parity", "parities_text", default="profiles", show_default=True,
              help=_("Parities to try at each baud: N, E, O as a list, or 'profiles'."))
@click.option("--addresses", "addresses_text", default=ALL_ADDRESSES, show_default=True,
              help=_("Addresses to probe: %s, 5, or 1,5,10-12.") % ALL_ADDRESSES)
@click.option("--timeout-ms", type=click.IntRange(5, 2000), default=SCAN_TIMEOUT_MS, show_default=True,
              help=_("Wait at each address beyond the reply's wire time. 30 ms: a full %s scan at 9600 baud "
                     "takes about 12 s. Raise it for slow devices.") % ALL_ADDRESSES)
@click.pass_context
def scan(ctx: click.Context, port: str | None, bauds_text: str, parities_text: str, addresses_text: str,
         timeout_ms: int) -> None:
    record = Record.load(ctx.obj["record"])
    port = record_port(record, port)
    profiles = modbus_profiles()
    try:
        addresses = parse_addresses(addresses_text)
        bauds = parse_bauds(bauds_text, [p.serial["baud"] for p in profiles.values()])
        parities = parse_parities(parities_text, [p.serial["parity"] for p in profiles.values()])
    except ValueError as error:
        raise CommandStop("bad_input", str(error), _("see gaslatch commission scan --help")) from None
    lines = [Line(baud, parity) for baud in bauds for parity in parities]
    probes = len(lines) * len(addresses)
    started = time.monotonic()
    client = open_bus(port, lines[0])
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=False)
    try:
        with client, progress:
            task = progress.add_task(_("scanning"), total=probes)

            def show(done: int, line: Line, address: int, found: int) -> None:
                progress.update(task, completed=done, description=_("scan %(line)s  address %(address)3d  found "
                                                                     "%(found)d")
                                % {"line": line, "address": address, "found": found})

            found, strays = sweep(client, lines, addresses, timeout_ms, profiles, show)
            progress.update(task, completed=probes, description=_("scan done: found %d") % len(found))
    except (serial.SerialException, OSError) as error:
        raise port_lost(port, error) from None
    elapsed_s = time.monotonic() - started
    if not found:
        raise CommandStop("no_reply", _("no device answered at %(lines)s, addresses %(addresses)s") % {
            "lines": ", ".join(str(line) for line in lines), "addresses": addresses_text}
            + (_("; stray bytes while probing address %s") % ", ".join(str(p["address"]) for p in strays)
               if strays else ""),
            (_(SLOW_HINT) + _("; else ") if strays else "") + _(NO_REPLY_HINT)
            + _("; try every baud rate with --baud all, and check the 120 ohm termination"))
    health, bus_problems, warnings = bus_health(found, timeout_ms)
    problems = [p for item in found for p in item["problems"]] + strays + bus_problems
    summary = {"lines": [str(line) for line in lines], "addresses": addresses_text, "timeout_ms": timeout_ms,
               "elapsed_s": round(elapsed_s, 1), "found": len(found), "health": health,
               "problems": [p["message"] for p in problems], "warnings": [w["message"] for w in warnings]}
    names = record_scan(record, port, found, summary)
    record.note("scan", ngettext("%(found)d detector found at %(lines)s, %(problems)d problem(s)",
                                 "%(found)d detectors found at %(lines)s, %(problems)d problem(s)", len(found))
                % {"found": len(found), "lines": ", ".join(summary["lines"]), "problems": len(problems)})
    record.save()
    rows = scan_rows(names, found)
    payload = {"port": port, "detectors": rows, "health": health, "problems": problems, "warnings": warnings,
               "lines": summary["lines"], "elapsed_s": summary["elapsed_s"], "record": record.path}
    reply = health["reply_ms"]
    text = [render(scan_table(rows)),
            _("bus health: %(requests)d requests to the detectors, %(errors)d errors (%(pct).1f %%), reply time p50 "
              "%(p50)s ms, max %(max)s ms")
            % {"requests": health["requests"], "errors": health["errors"], "pct": 100 * health["error_rate"],
               "p50": reply["p50"] if reply else "—", "max": reply["max"] if reply else "—"},
            _("scanned %(lines)s, addresses %(addresses)s in %(seconds).1f s")
            % {"lines": ", ".join(summary["lines"]), "addresses": addresses_text, "seconds": elapsed_s}]
    for item in problems + warnings:
        text.append((_("problem: %(message)s\n  what to check: %(hint)s") if item in problems else
                     _("warning: %(message)s\n  what to check: %(hint)s")) % item)
    text.append(_("recorded in %s") % record.path)
    finish(ctx, payload, "\n".join(text), EXIT_FAILED if problems else EXIT_OK)


# ---------------------------------------------------------------------------------------------
# live


@click.command("live", help=_(
    "A live table of every detector: reading, status, set points, reply time and errors, refreshing in place.\n"
    "\n"
    "Exit 0: every detector answered every poll; 1: some polls failed; 2: no detector answered at all."))
@click.option("--port", help=_("Serial port (default: the record's)."))
@click.option("--baud", type=BAUD, default=None,
              help=_("Baud rate (default: the bus's, from the record; else 9600)."))
@click.option("--parity", type=click.Choice(rtu.PARITIES), default=None,
              help=_("Parity (default: the record's; else N)."))
@click.option("--addresses", "addresses_text", default=None,
              help=_("Addresses to watch (default: every detector the record has at this baud)."))
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help=_("Stop after this long (default: until Ctrl-C)."))
@click.pass_context
def live(ctx: click.Context, port: str | None, baud: str | None, parity: str | None, addresses_text: str | None,
         seconds: float | None) -> None:
    record = Record.load(ctx.obj["record"])
    port = record_port(record, port)
    line = detector_line(record, None, int(baud) if baud else None, parity)
    if addresses_text:
        try:
            addresses = parse_addresses(addresses_text)
        except ValueError as error:
            raise CommandStop("bad_input", str(error), _("see gaslatch commission live --help")) from None
    else:
        addresses = sorted({entry["address"] for entry in record.data["detectors"].values()
                            if isinstance(entry.get("address"), int) and entry.get("baud", line.baud) == line.baud})
        if not addresses:
            raise CommandStop("bad_input", _("the record has no detectors at %d baud to watch") % line.baud,
                              _("run scan first, or give --addresses"))
    watched = []
    profiles: dict[str, Profile] = {}
    for address in addresses:
        name, entry = find_detector(record, address, line.baud)
        recorded = (entry or {}).get("profile")
        if not recorded or recorded == "unknown":
            profiles = profiles or modbus_profiles()
        profile = one_profile(recorded) if recorded and recorded != "unknown" else None
        watched.append(Watched(address, name, entry, profile, {} if profile else profiles))
    console = Console(stderr=ctx.obj["json"])
    client = open_bus(port, line)
    started = time.monotonic()
    try:
        with client:
            stopped_by = watch(client, watched, line, seconds, console, started)
    except (serial.SerialException, OSError) as error:
        raise port_lost(port, error) from None
    if not console.is_terminal:
        console.line()  # a captured Live leaves its last frame without the line's end
    if not any(item.answered for item in watched):
        with open_bus(port, line) as client:
            raise bus_stop(BusError("no_reply", _("no detector answered at %(line)s (addresses %(addresses)s)") % {
                "line": line, "addresses": ", ".join(str(a) for a in addresses)}, _(NO_REPLY_HINT)), client,
                addresses[0])
    rows = [item.row() for item in watched]
    failed = [row for row in rows if row["errors"]]
    payload = {"port": port, "line": str(line), "seconds": round(time.monotonic() - started, 1),
               "stopped_by": stopped_by, "detectors": rows}
    text = ngettext("watched %(detectors)d detector for %(seconds).0f s; every poll answered",
                    "watched %(detectors)d detectors for %(seconds).0f s; every poll answered", len(rows)) % {
        "detectors": len(rows), "seconds": payload["seconds"]}
    if failed:
        damaged = any(item.tally.errors["crc"] + item.tally.errors["frame"] for item in watched)
        text = _("watched %(detectors)d detector(s) for %(seconds).0f s; failed polls at address %(addresses)s\n"
                 "  what to check: %(hint)s") % {
            "detectors": len(rows), "seconds": payload["seconds"],
            "addresses": ", ".join(str(row["address"]) for row in failed), "hint": _(CRC_HINT if damaged else
                                                                                     NO_REPLY_HINT)}
    finish(ctx, payload, text, EXIT_FAILED if failed else EXIT_OK)


# ---------------------------------------------------------------------------------------------
# set-address, set-baud


@click.command("set-address", help=_(
    "Give a detector a new address through its profile's commissioning register, and prove it took.\n"
    "\n"
    "Refuses an address another device answers at (or the record gives another detector). Verified by a\n"
    "complete read at the new address and silence at the old one. Exit 0 done; 1 refused or not verified; 2 error."))
@click.option("--port", help=_("Serial port (default: the record's)."))
@click.option("--address", "old", type=ADDRESS, required=True,
              help=_("The detector's address now."))
@click.option("--new", "new", type=ADDRESS, required=True,
              help=_("The address to give it."))
@click.option("--baud", type=BAUD, default=None,
              help=_("The bus's baud rate (default: the record's; else 9600)."))
@click.option("--profile", "profile_name", help=_("Detector profile (default: recorded, else identified)."))
@click.pass_context
def set_address(ctx: click.Context, port: str | None, old: int, new: int, baud: str | None,
                profile_name: str | None) -> None:
    record = Record.load(ctx.obj["record"])
    port = record_port(record, port)
    tgt = target(record, None, old, int(baud) if baud else None)
    if new == old:
        raise CommandStop("bad_input", _("the detector is already at address %d") % old,
                          _("give another --new address"))
    gas = detector_gas(tgt.entry)
    with detector_bus(port, tgt, profile_name, gas) as (client, tally, profile):
        spec = register_spec(profile, "address", _("profile %s has no address register"),
                             _("set the address on the detector itself (its manual: DIP switches, magnet or display "
                               "menu)"))
        if not spec["min"] <= new <= spec["max"]:
            raise CommandStop("bad_input", _("%(profile)s takes addresses %(min)d..%(max)d")
                              % {"profile": profile.name, "min": spec["min"], "max": spec["max"]})
        require_present(client, tally, old, profile, gas)
        holder = find_detector(record, new, tgt.line.baud)[0]
        if answers_at(client, new, tgt.line):
            raise CommandStop("address_taken", _("address %(address)d is already taken: a device answers there at "
                                                 "%(line)s") % {"address": new, "line": tgt.line},
                              _("choose a free address (scan lists the used ones)"), EXIT_FAILED)
        if holder is not None and holder != tgt.name:
            raise CommandStop("address_taken", _("the record gives address %(address)d to %(name)s (silent now: "
                                                 "unplugged?)") % {"address": new, "name": holder},
                              _("choose another address, or correct the record if %s is gone") % holder, EXIT_FAILED)
        write_problem = write_setting(client, old, spec["register"], new,
                                      _("the detector refused the new address: %s"))
        moved, old_silent = verify_change(client, profile, gas, old, new, tgt.line)
    if not (moved and old_silent):
        raise not_verified(_("address %d is silent after the change") % new if not moved
                           else _("address %d still answers after the change") % old, write_problem,
                           _("scan to see where the detector is; some detectors apply a new address only after a "
                             "power cycle"))
    name = record_address_change(record, tgt, new, profile.name)
    record.save()
    payload = {"detector": name, "profile": profile.name, "line": str(tgt.line), "address": {"from": old, "to": new},
               "verified": {"answers_at_new": True, "silent_at_old": True}, "record": record.path}
    finish(ctx, payload, _("%(name)s: address %(old)d -> %(new)d, verified (answers at %(new)d, silent at %(old)d); "
                           "recorded in %(record)s") % {"name": name, "old": old, "new": new, "record": record.path})


@click.command("set-baud", help=_(
    "Give a detector a new baud rate through its profile's commissioning register, and prove it took.\n"
    "\n"
    "Refuses when another device already answers at that address at the new baud. Verified by a complete\n"
    "read at the new baud and silence at the old one. Exit 0 done; 1 refused or not verified; 2 error."))
@click.option("--port", help=_("Serial port (default: the record's)."))
@click.option("--address", type=ADDRESS, required=True,
              help=_("The detector's address."))
@click.option("--new-baud", type=BAUD, required=True,
              help=_("The baud rate to give it."))
@click.option("--baud", type=BAUD, default=None,
              help=_("Its baud rate now (default: the record's; else 9600)."))
@click.option("--profile", "profile_name", help=_("Detector profile (default: recorded, else identified)."))
@click.pass_context
def set_baud(ctx: click.Context, port: str | None, address: int, new_baud: str, baud: str | None,
             profile_name: str | None) -> None:
    record = Record.load(ctx.obj["record"])
    port = record_port(record, port)
    tgt = target(record, None, address, int(baud) if baud else None)
    new_line = tgt.line._replace(baud=int(new_baud))
    if new_line.baud == tgt.line.baud:
        raise CommandStop("bad_input", _("address %(address)d is already at %(baud)d baud")
                          % {"address": address, "baud": new_line.baud}, _("give another --new-baud"))
    gas = detector_gas(tgt.entry)
    with detector_bus(port, tgt, profile_name, gas) as (client, tally, profile):
        spec = register_spec(profile, "baud", _("profile %s has no baud rate register"),
                             _("set the baud rate on the detector itself (its manual: DIP switches, magnet or display "
                               "menu)"))
        codes = {rate: code for code, rate in spec["codes"].items()}
        if new_line.baud not in codes:
            raise CommandStop("unsupported", _("%(profile)s offers %(bauds)s baud, not %(baud)d") % {
                "profile": profile.name, "bauds": ", ".join(str(rate) for rate in sorted(codes)),
                "baud": new_line.baud})
        require_present(client, tally, address, profile, gas)
        if answers_at(client, address, new_line):
            raise CommandStop("address_taken", _("another device already answers at address %(address)d at %(line)s")
                              % {"address": address, "line": new_line},
                              _("give this detector another address first (set-address), then change its baud rate"),
                              EXIT_FAILED)
        write_problem = write_setting(client, address, spec["register"], codes[new_line.baud],
                                      _("the detector refused the new baud rate: %s"))
        moved, old_silent = verify_change(client, profile, gas, address, address, new_line)
    if not (moved and old_silent):
        raise not_verified(_("address %(address)d is silent at %(line)s after the change")
                           % {"address": address, "line": new_line} if not moved
                           else _("address %(address)d still answers at %(line)s")
                           % {"address": address, "line": tgt.line}, write_problem,
                           _("scan --baud all to see where the detector is; some detectors apply a new baud rate only "
                             "after a power cycle"))
    name, others = record_baud_change(record, tgt, new_line, profile.name)
    record.save()
    warning = ("" if not others else "\n" + _("warning: %(names)s still at %(baud)d baud: every device on one bus "
                                              "must use one baud rate") % {"names": ", ".join(others),
                                                                            "baud": tgt.line.baud})
    payload = {"detector": name, "profile": profile.name, "address": address,
               "baud": {"from": tgt.line.baud, "to": new_line.baud},
               "verified": {"answers_at_new": True, "silent_at_old": True}, "still_at_old_baud": others,
               "record": record.path}
    finish(ctx, payload, _("%(name)s (address %(address)d): %(old)d -> %(new)d baud, verified; recorded in "
                           "%(record)s") % {"name": name, "address": address, "old": tgt.line.baud,
                                            "new": new_line.baud, "record": record.path} + warning)


# ---------------------------------------------------------------------------------------------
# calibrate


@click.command("calibrate", help=_(
    "Guided zero or span calibration of one detector (by name in the record, or --address).\n"
    "\n"
    "Asks for zero air or span gas, waits for a stable reading with a countdown, writes zero or span through\n"
    "the profile's registers, then checks the reading (zero near 0, span near the span gas). Refuses\n"
    "(exit 1) an unstable reading, a zero above 5 %LEL (that is gas, not drift) and a sensor that reads\n"
    "under half the span gas. Exit 0 calibrated and verified; 1 refused or not verified; 2 error."))
@click.argument("kind", type=click.Choice(["zero", "span"]))
@click.argument("detector", required=False)
@click.option("--address", type=ADDRESS, help=_("The detector's address "
              "(instead of its name in the record)."))
@click.option("--port", help=_("Serial port (default: the record's)."))
@click.option("--baud", type=BAUD, default=None,
              help=_("Baud rate (default: the detector's in the record; else 9600)."))
@click.option("--profile", "profile_name", help=_("Detector profile (default: recorded, else identified)."))
@click.option("--gas", type=click.Choice(sorted(LEL_PCT_VOL)), default=None,
              help=_("The gas the detector measures (default: the record's; else methane)."))
@click.option("--span-gas-pct", type=click.FloatRange(min=0, min_open=True, max=100), default=None,
              help=_("Span gas concentration in %LEL, from the cylinder's label (span only)."))
@click.option("--stable-s", type=click.FloatRange(min=0), default=STABLE_S, show_default=True,
              help=_("The reading must stay within the tolerance this long before the write."))
@click.option("--tolerance-pct", type=click.FloatRange(min=0, min_open=True), default=TOLERANCE_PCT,
              show_default=True, help=_("Band in %LEL for 'stable', and for the check after the write."))
@click.option("--limit-s", type=click.FloatRange(min=0, min_open=True), default=CALIBRATION_LIMIT_S,
              show_default=True, help=_("Give up (exit 1) when the reading is not stable within this time."))
@click.option("--yes", is_flag=True, help=_("The gas is already applied: do not ask."))
@click.pass_context
def calibrate(ctx: click.Context, kind: str, detector: str | None, address: int | None, port: str | None,
              baud: str | None, profile_name: str | None, gas: str | None, span_gas_pct: float | None,
              stable_s: float, tolerance_pct: float, limit_s: float, yes: bool) -> None:
    record = Record.load(ctx.obj["record"])
    port = record_port(record, port)
    if kind == "span" and span_gas_pct is None:
        raise CommandStop("bad_input", _("span calibration needs --span-gas-pct"),
                          _("the %LEL on the span gas cylinder's label"))
    tgt = target(record, detector, address, int(baud) if baud else None)
    gas = detector_gas(tgt.entry, gas)
    target_pct = 0.0 if kind == "zero" else float(span_gas_pct or 0)
    with detector_bus(port, tgt, profile_name, gas) as (client, tally, profile):
        register_spec(profile, kind, _("profile %s has no zero calibration register") if kind == "zero"
                      else _("profile %s has no span calibration register"),
                      _("calibrate it as its manual says (vendor tool or magnet), then record the result by hand"))
        first = require_present(client, tally, tgt.address, profile, gas)
        name = tgt.name or free_name(record, tgt.address, tgt.line.baud)
        label = _("%(name)s (address %(address)d, %(profile)s)") % {"name": name, "address": tgt.address,
                                                                     "profile": profile.name}
        calibration = Calibration(kind, target_pct, gas, tgt.address, tgt.line.baud, profile,
                                  Settling(stable_s, tolerance_pct, limit_s))
        click.echo(_("%(detector)s reads %(reading)s %%LEL, status %(status)s") % {
            "detector": label, "reading": show_pct(first.concentration_centi_pct_lel),
            "status": state_word(first.status)}, err=True)
        click.echo(calibration.instruction(label), err=True)
        if not yes and not click.confirm(_("Is the gas applied and flowing?"), default=True, err=True):
            raise CommandStop("cancelled", _("calibration cancelled: nothing was written"), exit_code=EXIT_FAILED)
        try:
            calibration.run(client, tally, Console(stderr=True), lambda text: click.echo(text, err=True))
        except CalibrationRefused as refusal:
            record_refused_calibration(record, name, tgt.address, calibration.attempt, refusal.message)
            record.save()
            raise
        except BusError as error:
            raise bus_stop(error) from None
    attempt = calibration.attempt
    record_calibration(record, name, tgt, profile.name, attempt)
    record.save()
    done = (_("%(detector)s: span calibrated, %(before)s -> %(after)s %%LEL (target %(target)g ±%(tolerance)g), "
              "verified; remove the span gas: the reading must fall back to 0. Recorded in %(record)s")
            if kind == "span" else
            _("%(detector)s: zero calibrated, %(before)s -> %(after)s %%LEL (target %(target)g ±%(tolerance)g), "
              "verified; remove the zero-air hood. Recorded in %(record)s"))
    finish(ctx, dict(attempt, detector=name, record=record.path), done % {
        "detector": label, "before": attempt["before_pct_lel"], "after": attempt["after_pct_lel"],
        "target": target_pct, "tolerance": tolerance_pct, "record": record.path})
