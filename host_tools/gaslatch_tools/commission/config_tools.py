"""Configuration: config init (from the scan), config validate, config push (to the unit).

The controller's own loader judges every file before it is written or installed, and a pushed file is
installed atomically and the service restarted, after which the unit must come up with the valve closed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shlex
import subprocess
import time
from typing import Any, Callable

import click

from gaslatch.core import constants as C
from gaslatch.core.config import ConfigError
from gaslatch.core.detector_profile import list_profiles, load_profile
from gaslatch_tools.commission.cli import EXIT_FAILED, EXIT_OK, commission, fail, finish
from gaslatch_tools.commission.record import Record, RecordError, utc_now
from gaslatch_tools.control_client import ControlClient, ControlUnreachable

CONFIG_MODE = 0o640  # root:gaslatch 0640 on the unit (docs/install.md)
DEFAULT_OUT = "gaslatch.json"
DEFAULT_TARGET = "/etc/gaslatch/config.json"
DEFAULT_SERVICE = "gaslatch"
DEFAULT_RESTART = "systemctl restart {service}"
DEFAULT_UNIT_PORT = "/dev/ttyUSB0"
DEFAULT_ZONE = "kitchen"
RESTART_WAIT_S = 60.0
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

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def interaction_options(command: Callable) -> Callable:
    """--answers FILE and --yes (as site_tests'; command modules must not import each other at import time:
    cli.py imports every one of them)."""
    command = click.option("--yes", is_flag=True, help="Answer yes to every question; take every default.")(command)
    return click.option("--answers", "answers_path", type=click.Path(dir_okay=False),
                        help="JSON or YAML answers: a list taken in order, or a map of question keys "
                             "(shown in brackets in the help) to answers.")(command)


class InitError(Exception):
    """The record cannot make a configuration; the message names the detector or setting and what to do."""


# ---- the attended hours, as an installer types them ----

class ScheduleError(ValueError):
    """Attended hours that cannot be read; the message shows the part and the expected form."""


SCHEDULE_FORM = "e.g. 'mon-fri 09:00-23:00; sat,sun 08:00-01:00', 'daily 06:00-23:00', or 'off'"


def parse_schedule(text: str) -> list[dict] | None:
    """Attended periods from text ('mon-fri 09:00-23:00; sat,sun 08:00-01:00'); None for 'off'.

    Days: mon..sun, ranges (fri-mon wraps), commas, 'daily'. A 'to' before 'from' runs past midnight.
    """
    text = text.strip().lower()
    if text in ("off", "none", "no", ""):
        return None
    periods = []
    for part in text.replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        fields = part.split()
        if len(fields) != 2:
            raise ScheduleError("%r: a period is DAYS FROM-TO, %s" % (part, SCHEDULE_FORM))
        days = _parse_days(fields[0], part)
        start, sep, end = fields[1].partition("-")
        if not sep or not _TIME.match(start) or not _TIME.match(end):
            raise ScheduleError("%r: hours are HH:MM-HH:MM, 24-hour, %s" % (part, SCHEDULE_FORM))
        if start == end:
            raise ScheduleError("%r: from and to are the same time" % part)
        periods.append({"days": days, "from": start, "to": end})
    if not periods:
        raise ScheduleError("no attended period given, %s" % SCHEDULE_FORM)
    return periods


def _parse_days(text: str, part: str) -> list[str]:
    if text in ("daily", "everyday", "all"):
        return list(DAYS)
    chosen: set[str] = set()
    for item in text.split(","):
        first, sep, last = item.partition("-")
        if first not in DAYS or (sep and last not in DAYS):
            raise ScheduleError("%r: days are mon tue wed thu fri sat sun, a range (mon-fri) or a list (sat,sun)"
                                % part)
        if not sep:
            chosen.add(first)
            continue
        index = DAYS.index(first)
        while True:
            chosen.add(DAYS[index])
            if DAYS[index] == last:
                break
            index = (index + 1) % len(DAYS)
    return [day for day in DAYS if day in chosen]


def format_schedule(periods: list[dict] | None) -> str:
    """The text parse_schedule reads back to the same periods."""
    if not periods:
        return "off"
    return "; ".join("%s %s-%s" % (_format_days(period["days"]), period["from"], period["to"]) for period in periods)


def _format_days(days: list[str]) -> str:
    if len(days) == len(DAYS):
        return "daily"
    indexes = sorted(DAYS.index(day) for day in days)
    runs: list[list[int]] = []
    for index in indexes:
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append("%s-%s" % (DAYS[run[0]], DAYS[run[-1]]))
        else:
            parts.extend(DAYS[index] for index in run)
    return ",".join(parts)


# ---- config init: from the record's detectors to a controller configuration ----

def config_name(name: str) -> str:
    """A record's detector name as a config name: a-z, 0-9, '_' and '-', 1-32 characters, starting a-z/0-9."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower())
    slug = slug.lstrip("_-")[:32].rstrip("-") or "d"
    return slug


def build_config(record: dict, base: dict | None, unit_port: str | None, zone: str,
                 schedule: list[dict] | None, site: str, unit_name: str) -> tuple[dict, list[str]]:
    """The controller configuration for the record's detectors over the base's hardware, and notes for
    the installer (defaults taken, names changed). Raises InitError when the record cannot make one."""
    notes: list[str] = []
    found = {name: entry for name, entry in sorted(record.get("detectors", {}).items())
             if isinstance(entry, dict) and entry.get("address") is not None}
    if not found:
        raise InitError("the record has no detectors with an address: run gaslatch commission scan first")
    bus = record.get("bus") or {}
    lines: dict[tuple, list[str]] = {}
    settings: dict[str, tuple] = {}
    profiles = set(list_profiles())
    for name, entry in found.items():
        profile = entry.get("profile")
        if profile not in profiles:
            raise InitError("detector %s (address %s): %s" % (
                name, entry["address"], "scan could not identify its model" if profile in (None, "", "unknown") else
                "no profile %r is installed" % profile) + "; set its profile in the record (detectors.%s.profile: "
                "one of %s) or calibrate/scan again" % (name, ", ".join(sorted(profiles))))
        port = entry.get("port") or bus.get("port") or DEFAULT_UNIT_PORT
        line = (entry.get("baud") or bus.get("baud") or load_profile(profile).serial["baud"],
                entry.get("parity") or bus.get("parity") or "N", entry.get("stop_bits") or bus.get("stop_bits") or 1)
        lines.setdefault((port,) + line, []).append(name)
        settings[name] = (port,) + line
    ports = sorted({key[0] for key in lines})
    for port in ports:
        speeds = sorted({key[1:] for key in lines if key[0] == port})
        if len(speeds) > 1:
            raise InitError("detectors on %s answer at different line settings (%s): one bus runs at one speed; "
                            "gaslatch commission set-baud them to one rate, then scan again" % (
                                port, "; ".join("%s: %d %s %d" % (", ".join(lines[(port,) + s]), *s) for s in speeds)))
    if len(ports) > len(BUS_NAMES):
        raise InitError("detectors on %d ports; the unit has at most %d RS-485 buses" % (len(ports), len(BUS_NAMES)))
    if unit_port and len(ports) > 1:
        raise InitError("--port gives one port, but the record has detectors on %s" % ", ".join(ports))
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
            notes.append("detector %s is called %s in the configuration (names: a-z, 0-9, _ and -)" % (name, cfg_name))
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
            notes.append("detector %s has no location yet: add where it is mounted" % cfg_name)
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
        notes.append("schedule off: the gas is not shut outside attended hours (人走阀关)")
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
        notes.append("detector %s's own set points (%s / %s %%LEL) are outside what the controller allows: "
                     "using %d / %d %%LEL" % (name, low, high, C.DEFAULT_LOW_ALARM_PCT_LEL,
                                              C.DEFAULT_HIGH_ALARM_PCT_LEL))
    return C.DEFAULT_LOW_ALARM_PCT_LEL, C.DEFAULT_HIGH_ALARM_PCT_LEL


def validate_file(path: str) -> tuple[dict | None, list]:
    """(normalised config, []) or (None, every problem): the controller's own loader, as check-config uses it."""
    from gaslatch.unit.unit_config import load_unit_config

    try:
        cfg, _profiles = load_unit_config(path)
    except ConfigError as err:
        return None, err.problems
    return cfg, []


def write_atomically(path: str, data: bytes, mode: int = CONFIG_MODE) -> None:
    """Temp file beside path, fsync, rename over it, fsync the folder; keeps an existing file's owner."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    try:
        owner = os.stat(path)
    except FileNotFoundError:
        owner = None
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)  # whatever the umask
            if owner is not None and (owner.st_uid, owner.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(handle.fileno(), owner.st_uid, owner.st_gid)
                except PermissionError:
                    pass  # not root: the file keeps ours, and the mode still limits it
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    folder = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _problems_payload(problems: list) -> list[dict]:
    return [{"path": p.path, "message": p.message, "hint": p.hint} for p in problems]


def _load_record(ctx: click.Context, path: str) -> Record:
    try:
        return Record.load(path)
    except RecordError as err:
        fail(ctx, "record", str(err), "give another --record file, or move the damaged one away")
    raise AssertionError("fail() exits")


def _save_record(ctx: click.Context, record: Record) -> None:
    try:
        record.save()
    except RecordError as err:
        fail(ctx, "record", str(err), "check the folder's free space and permissions")


@commission.group("config")
def config_group() -> None:
    """The controller's configuration: make it from the scan, check it, install it on the unit."""


@config_group.command("init")
@click.option("--from-record", "from_record", type=click.Path(dir_okay=False),
              help="Take the detectors from this commissioning record (default: the --record of commission).")
@click.option("--out", "out_path", default=DEFAULT_OUT, show_default=True, type=click.Path(dir_okay=False),
              help="Configuration file to write.")
@click.option("--base", "base_path", type=click.Path(dir_okay=False),
              help="A configuration whose hardware (valve, fan, interlocks, lines, GPIO, store, control, alarm "
                   "timing...) is kept, e.g. the unit's current one; default: the reference wiring of "
                   "deploy/config.example.json.")
@click.option("--port", "unit_port", help="The bus's serial port ON THE UNIT (the laptop's may differ); "
                                          "default: the record's.")
@click.option("--zone", default=DEFAULT_ZONE, show_default=True, help="Zone of detectors the record gives none.")
@click.option("--schedule", "schedule_text",
              help="Attended hours (人走阀关), %s; asked when not given." % SCHEDULE_FORM)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@interaction_options
@click.pass_context
def config_init(ctx: click.Context, from_record: str | None, out_path: str, base_path: str | None,
                unit_port: str | None, zone: str, schedule_text: str | None, force: bool, answers_path: str | None,
                yes: bool) -> None:
    """Write a controller configuration with every detector the scan found, checked by the controller's own
    loader before it is written.

    \b
    Per detector (from the record): bus, address and profile as scanned; its own set points when the
    controller allows them, else 10 / 25 %LEL (restaurant practice; design codes cap 25 / 50 %LEL);
    poll interval 500 ms or the profile's minimum; zone, location and gas as recorded.
    The schedule is asked for (or --schedule); site and unit names come from the record or are asked.
    Questions [answers-file keys]: site, unit_name, schedule.
    Exit codes: 0 written, 1 the controller refuses the result (problems listed), 2 could not run.
    """
    from gaslatch_tools.commission.site_tests import PromptError, make_prompter

    prompter = make_prompter(ctx, answers_path, yes)
    record = _load_record(ctx, ctx.obj["record"])
    source = record if from_record is None else _load_record(ctx, from_record)
    if os.path.exists(out_path) and not force:
        fail(ctx, "exists", "%s already exists" % out_path, "give another --out, or --force to overwrite it")
    base = None
    if base_path:
        try:
            with open(base_path, encoding="utf-8") as handle:
                base = json.load(handle)
        except (OSError, ValueError) as err:
            fail(ctx, "base", "cannot read the base configuration %s: %s" % (base_path, err),
                 "give a controller configuration file (JSON)")
        if not isinstance(base, dict):
            fail(ctx, "base", "%s is not a controller configuration (a JSON object)" % base_path, "")
    data = source.data
    site_section = data.get("site") or {}
    base_unit = (base or {}).get("unit") or {}
    try:
        site = site_section.get("id") or site_section.get("name") or base_unit.get("site") or \
            prompter.ask("site", "Site identifier (e.g. the restaurant's registration number):", "site")
        unit_name = (data.get("unit") or {}).get("name") or base_unit.get("name") or \
            prompter.ask("unit_name", "Name of this controller:", "main kitchen")
        schedule = _schedule(ctx, prompter, schedule_text, data, base)
    except PromptError as err:
        fail(ctx, "no_answer", str(err), "run it at a terminal, or give --yes / --answers FILE")
    try:
        doc, notes = build_config(data, base, unit_port, zone, schedule, str(site)[:64], str(unit_name)[:64])
    except InitError as err:
        fail(ctx, "record", str(err), "")
    text = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    temp = out_path + ".%d.check" % os.getpid()
    try:
        write_atomically(temp, text)
        cfg, problems = validate_file(temp)
        if problems:
            os.unlink(temp)
            _report_problems(ctx, "the controller refuses the configuration made from the record", problems)
        os.replace(temp, out_path)
    except OSError as err:
        fail(ctx, "write", "cannot write %s: %s" % (out_path, err.strerror or err), "check the folder's permissions")
    record.data["schedule"] = {"enabled": bool(schedule), "attended": schedule or [], "text": format_schedule(schedule)}
    record.note("config init", "%s: %d detectors, schedule %s" % (out_path, len(doc["detectors"]),
                                                                   format_schedule(schedule)))
    _save_record(ctx, record)
    for note in notes:
        prompter.say("note: " + note)
    finish(ctx, {"command": "config init", "path": out_path, "detectors": sorted(doc["detectors"]),
                 "schedule": schedule, "notes": notes, "sha256": hashlib.sha256(text).hexdigest()},
           "%s: valid configuration with %d detectors (%s); check it, then gaslatch commission config push %s"
           % (out_path, len(doc["detectors"]), ", ".join(sorted(doc["detectors"])), out_path))


def _schedule(ctx: click.Context, prompter, schedule_text: str | None, data: dict, base: dict | None):
    """The attended hours: --schedule, else asked, with the record's (or the base's) as the default."""
    recorded = data.get("schedule") or {}
    default = recorded.get("text") if isinstance(recorded, dict) and recorded.get("text") else None
    if default is None and base and (base.get("schedule") or {}).get("enabled"):
        default = format_schedule(base["schedule"].get("attended"))
    while True:
        text = schedule_text if schedule_text is not None else prompter.ask(
            "schedule", "Attended hours (人走阀关: gas off outside them), %s:" % SCHEDULE_FORM, default or "off")
        try:
            return parse_schedule(text)
        except ScheduleError as err:
            if schedule_text is not None or prompter.yes or prompter.answers is not None:
                fail(ctx, "schedule", str(err), "write the hours %s" % SCHEDULE_FORM)
            prompter.say(str(err))


def _report_problems(ctx: click.Context, what: str, problems: list) -> None:
    from gaslatch.core.config import format_problems

    finish(ctx, {"valid": False, "problems": _problems_payload(problems), "message": what},
           "%s:\n%s" % (what, format_problems(problems)), EXIT_FAILED)


@config_group.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@click.pass_context
def config_validate(ctx: click.Context, path: str) -> None:
    """Check a controller configuration as the unit will: the core rules, the installed detector profiles and
    the wiring (the same checks and messages as gaslatch check-config). Every problem is listed with its JSON
    path and a hint. Exit codes: 0 valid, 1 problems.
    """
    cfg, problems = validate_file(path)
    if problems:
        _report_problems(ctx, "%s is not valid" % path, problems)
    assert cfg is not None
    finish(ctx, {"valid": True, "path": path, "detectors": sorted(cfg["detectors"]), "buses": sorted(cfg["buses"]),
                 "lines": sorted(cfg["lines"])},
           "%s: valid (%d detectors, %d buses, %d lines)" % (path, len(cfg["detectors"]), len(cfg["buses"]),
                                                           len(cfg["lines"])))


@config_group.command("push")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--target", default=DEFAULT_TARGET, show_default=True, type=click.Path(dir_okay=False),
              help="Where the unit reads its configuration.")
@click.option("--service", default=DEFAULT_SERVICE, show_default=True, help="The controller's systemd service.")
@click.option("--restart-command", "restart_command", default=DEFAULT_RESTART, show_default=True,
              help="Command that restarts the controller ({service} is replaced).")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False),
              help="Control socket to check the restarted unit on (default: control.socket of the pushed file).")
@click.option("--wait", "wait_s", type=click.FloatRange(1, 600), default=RESTART_WAIT_S, show_default=True,
              help="Seconds the restarted unit has to answer.")
@interaction_options
@click.pass_context
def config_push(ctx: click.Context, path: str, target: str, service: str, restart_command: str,
                socket_path: str | None, wait_s: float, answers_path: str | None, yes: bool) -> None:
    """Install a configuration on the unit (run it on the unit, with sudo) and restart the controller.

    \b
    1. validated with the controller's own loader: nothing is written when anything is wrong;
    2. written atomically (temp file, fsync, rename; mode 0640, the old file's owner; the old file
       kept as TARGET.previous);
    3. the service restarted (systemctl restart gaslatch);
    4. the restarted unit must answer on its control socket with the valve closed (latched) until
       someone presses RESET on site.
    The path and sha256 of the installed file go into the commissioning record.
    Questions [answers-file keys]: push.
    Exit codes: 0 installed and the unit came back latched, 1 refused (problems) or the unit did not come
    back as it must, 2 could not run (permission, restart command).
    """
    from gaslatch_tools.commission.site_tests import PromptError, make_prompter

    prompter = make_prompter(ctx, answers_path, yes)
    cfg, problems = validate_file(path)
    if problems:
        _report_problems(ctx, "%s is not valid; nothing was installed" % path, problems)
    assert cfg is not None
    with open(path, "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    record = _load_record(ctx, ctx.obj["record"])
    try:
        if not prompter.confirm("push", "Install %s as %s and restart %s? The gas valve closes and stays closed "
                                        "until RESET is pressed on site." % (path, target, service)):
            fail(ctx, "declined", "nothing installed", "")
    except PromptError as err:
        fail(ctx, "no_answer", str(err), "run it at a terminal, or give --yes / --answers FILE")
    try:
        if os.path.exists(target):
            with open(target, "rb") as handle:
                write_atomically(target + ".previous", handle.read())
        write_atomically(target, data)
    except PermissionError as err:
        fail(ctx, "permission", "permission denied writing %s: %s" % (target, err.strerror or err),
             "run it on the unit with sudo (the file is root:gaslatch 0640)")
    except OSError as err:
        fail(ctx, "write", "cannot write %s: %s" % (target, err.strerror or err), "check the disk and the folder")
    with open(target, "rb") as handle:
        if hashlib.sha256(handle.read()).hexdigest() != digest:
            fail(ctx, "write", "%s does not read back as written" % target, "check the disk (dmesg)")
    prompter.say("installed %s (sha256 %s); restarting %s" % (target, digest[:16], service))
    argv = shlex.split(restart_command.format(service=service))
    restarted_at = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=wait_s)
    except (OSError, subprocess.TimeoutExpired) as err:
        fail(ctx, "restart", "the configuration is installed but %s failed: %s" % (" ".join(argv), err),
             "restart the controller by hand: sudo systemctl restart %s" % service)
    if done.returncode != 0:
        fail(ctx, "restart", "the configuration is installed but %s exited with %d: %s" % (
            " ".join(argv), done.returncode, (done.stderr or done.stdout).strip()[-500:]),
             "journalctl -u %s shows why; the previous file is %s.previous" % (service, target))
    status = _restarted_status(socket_path or cfg["control"]["socket"], cfg["control"]["group"],
                               cfg["scan"]["period_ms"], restarted_at, wait_s)
    entry = {"path": os.path.abspath(target), "source": os.path.abspath(path), "sha256": digest,
             "pushed_at": utc_now(), "service": service, "detectors": sorted(cfg["detectors"]),
             "unit_answered": status is not None,
             "latched_after_restart": None if status is None else bool(status.get("latched"))}
    record.data["config"] = entry
    must_latch = cfg["valve"]["startup"] == "manual_reset"
    ok = status is not None and (bool(status.get("latched")) or not must_latch)
    record.note("config push", "%s sha256 %s: %s" % (target, digest, "unit back, valve closed until RESET" if ok else
                                                     "unit did not come back latched"))
    _save_record(ctx, record)
    if status is None:
        finish(ctx, dict(entry, command="config push"),
               "installed, but the unit did not answer within %g s of the restart: journalctl -u %s"
               % (wait_s, service),
               EXIT_FAILED)
    if not ok:
        finish(ctx, dict(entry, command="config push"),
               "installed, but the unit came up with the valve OPEN: it must stay closed until RESET", EXIT_FAILED)
    finish(ctx, dict(entry, command="config push", trip_reason=status.get("trip_reason", "")),
           "installed %s and restarted %s: the unit is back, the valve stays closed until someone presses RESET "
           "on site (%s)" % (target, service, status.get("trip_reason") or "latched"), EXIT_OK)


def _restarted_status(socket_path: str, group: str, period_ms: int, restarted_at: float, wait_s: float) -> dict | None:
    """The status of the controller started by the restart, or None if none answers within wait_s.

    A status counts only if its scan count fits in the time since the restart began: the old process,
    still answering before systemd stops it, has scanned for longer than that.
    """
    deadline = restarted_at + wait_s
    while time.monotonic() < deadline:
        try:
            with ControlClient(socket_path, group, timeout_s=2.0) as client:
                reply = client.request("status")
        except ControlUnreachable:
            reply = None
        if reply and reply.get("ok"):
            status = reply.get("status", reply)
            scans = status.get("scan", {}).get("scans", 0)
            if scans * period_ms / 1000.0 <= time.monotonic() - restarted_at + 1.0:
                return status
        time.sleep(0.1)
    return None

