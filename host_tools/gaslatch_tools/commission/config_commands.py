"""gaslatch commission config init / validate / push: a configuration from the scan, checked, installed on the unit.
The controller's own loader judges every file first; a push is atomic, and the unit restarts with the valve closed."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import time

import click

from gaslatch.core.config import ConfigError
from gaslatch.core.config_identity import VERSION_KEY, config_identity, short_identity
from gaslatch.core.config_schema import MAX_CONFIG_VERSION
from gaslatch.problem_text import format_problems
from gaslatch.unit.atomic_file import write_atomically
from gaslatch.unit.control_client import ControlClient, ControlUnreachable
from gaslatch.unit.unit_config import load_profiles, load_unit_config
from gaslatch_tools.commission.command_outcome import EXIT_FAILED, EXIT_OK, CommandStop, finish
from gaslatch_tools.commission.config_build import InitError, addressed_detectors, build_config
from gaslatch_tools.commission.prompts import Prompter, interaction_options, make_prompter
from gaslatch_tools.commission.record import Record, utc_now
from gaslatch_tools.commission.schedule_text import SCHEDULE_FORM, ScheduleError, format_schedule, parse_schedule
from gaslatch.translation import _

CONFIG_MODE = 0o640  # root:gaslatch 0640 on the unit (docs/install.md)
DEFAULT_OUT = "gaslatch.json"
DEFAULT_TARGET = "/etc/gaslatch/config.json"
DEFAULT_SERVICE = "gaslatch"
DEFAULT_RESTART = "systemctl restart {service}"
DEFAULT_ZONE = "kitchen"
RESTART_WAIT_S = 60.0
YES_HELP = _("Answer yes to every question; take every default.")


def validate_file(path: str) -> tuple[dict | None, list]:
    """(normalised config, []) or (None, every problem): the controller's own loader, as check-config uses it."""
    try:
        cfg, _profiles = load_unit_config(path)
    except ConfigError as err:
        return None, err.problems
    return cfg, []


def _problems_payload(problems: list) -> list[dict]:
    """--json's problems: path, message and hint in English whatever the reader's language (a script matches them;
    the text a person reads is rendered by gaslatch.problem_text)."""
    return [{"path": p.path, "message": p.message, "hint": p.hint} for p in problems]


@click.group("config", help=_(
    "The controller's configuration: make it from the scan, check it, install it on the unit."))
def config_group() -> None:
    """The `config` group: init, validate and push (help= says what each is for, in the reader's language)."""


@config_group.command("init", help=_(
    "Write a controller configuration with every detector the scan found, checked by the controller's own\n"
    "loader before it is written.\n"
    "\n"
    "\b\n"
    "Per detector (from the record): bus, address and profile as scanned; its own set points when the\n"
    "controller allows them, else 10 / 25 %LEL (restaurant practice; design codes cap 25 / 50 %LEL);\n"
    "poll interval 500 ms or the profile's minimum; zone, location and gas as recorded.\n"
    "The schedule is asked for (or --schedule); site and unit names come from the record or are asked.\n"
    "Questions [answers-file keys]: site, unit_name, schedule.\n"
    "Exit codes: 0 written, 1 the controller refuses the result (problems listed), 2 could not run."))
@click.option("--from-record", "from_record", type=click.Path(dir_okay=False),
              help=_("Take the detectors from this commissioning record (default: the --record of commission)."))
@click.option("--out", "out_path", default=DEFAULT_OUT, show_default=True, type=click.Path(dir_okay=False),
              help=_("Configuration file to write."))
@click.option("--base", "base_path", type=click.Path(dir_okay=False),
              help=_("A configuration whose hardware (valve, fan, interlocks, lines, GPIO, store, control, alarm "
                     "timing...) is kept, e.g. the unit's current one; default: the reference wiring of "
                     "deploy/config.example.json."))
@click.option("--port", "unit_port", help=_("The bus's serial port ON THE UNIT (the laptop's may differ); "
                                            "default: the record's."))
@click.option("--zone", default=DEFAULT_ZONE, show_default=True, help=_("Zone of detectors the record gives none."))
@click.option("--schedule", "schedule_text",
              help=_("Attended hours (人走阀关), %s; asked when not given.") % _(SCHEDULE_FORM))
@click.option("--force", is_flag=True, help=_("Overwrite --out if it exists."))
@interaction_options(YES_HELP)
@click.pass_context
def config_init(ctx: click.Context, from_record: str | None, out_path: str, base_path: str | None,
                unit_port: str | None, zone: str, schedule_text: str | None, force: bool, answers_path: str | None,
                yes: bool) -> None:
    prompter = make_prompter(ctx, answers_path, yes)
    record = Record.load(ctx.obj["record"])
    if from_record is not None and not os.path.exists(from_record):
        raise CommandStop("no_record", _("no commissioning record at %s") % from_record,
                          _("give the record the commission commands wrote (--from-record), or run gaslatch "
                            "commission scan first"))
    source = record if from_record is None else Record.load(from_record)
    try:
        addressed_detectors(source.data)
    except InitError as err:
        raise CommandStop("record", str(err)) from None
    if os.path.exists(out_path) and not force:
        raise CommandStop("exists", _("%s already exists") % out_path,
                          _("give another --out, or --force to overwrite it"))
    base = None
    if base_path:
        try:
            with open(base_path, encoding="utf-8") as handle:
                base = json.load(handle)
        except (OSError, ValueError) as err:
            raise CommandStop("base", _("cannot read the base configuration %(path)s: %(error)s")
                              % {"path": base_path, "error": err},
                              _("give a controller configuration file (JSON)")) from None
        if not isinstance(base, dict):
            raise CommandStop("base", _("%s is not a controller configuration (a JSON object)") % base_path)
    data = source.data
    site_section = data.get("site") or {}
    base_unit = (base or {}).get("unit") or {}
    site = site_section.get("id") or site_section.get("name") or base_unit.get("site") or \
        prompter.ask("site", _("Site identifier (e.g. the restaurant's registration number):"), "site")
    unit_name = (data.get("unit") or {}).get("name") or base_unit.get("name") or \
        prompter.ask("unit_name", _("Name of this controller:"), "main kitchen")
    schedule = _schedule(prompter, schedule_text, data, base)
    try:
        doc, notes = build_config(data, base, unit_port, zone, schedule, str(site)[:64], str(unit_name)[:64])
    except InitError as err:
        raise CommandStop("record", str(err)) from None
    text = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    check_path = out_path + ".%d.check" % os.getpid()  # beside --out: checked where it will be read
    try:
        write_atomically(check_path, text, CONFIG_MODE, durable=False)
        try:
            _cfg, problems = validate_file(check_path)
        finally:
            os.unlink(check_path)
        if problems:
            _report_problems(ctx, _("the controller refuses the configuration made from the record"), problems)
        write_atomically(out_path, text, CONFIG_MODE)
    except OSError as err:
        raise CommandStop("write", _("cannot write %(path)s: %(error)s")
                          % {"path": out_path, "error": err.strerror or err},
                          _("check the folder's permissions")) from None
    record.data["schedule"] = {"enabled": bool(schedule), "attended": schedule or [], "text": format_schedule(schedule)}
    record.note("config init", _("%(path)s: %(detectors)d detectors, schedule %(schedule)s") % {
        "path": out_path, "detectors": len(doc["detectors"]), "schedule": format_schedule(schedule)})
    record.save()
    for note in notes:
        prompter.say(_("note: %s") % note)
    finish(ctx, {"command": "config init", "path": out_path, "detectors": sorted(doc["detectors"]),
                 "schedule": schedule, "notes": notes, "sha256": hashlib.sha256(text).hexdigest()},
           _("%(path)s: valid configuration with %(count)d detectors (%(detectors)s); check it, then gaslatch "
             "commission config push %(path)s") % {"path": out_path, "count": len(doc["detectors"]),
                                                   "detectors": ", ".join(sorted(doc["detectors"]))})


def _schedule(prompter: Prompter, schedule_text: str | None, data: dict,
              base: dict | None) -> list[dict] | None:
    """The attended hours: --schedule, else asked, with the record's (or the base's) as the default."""
    recorded = data.get("schedule") or {}
    default = recorded.get("text") if isinstance(recorded, dict) and recorded.get("text") else None
    if default is None and base and (base.get("schedule") or {}).get("enabled"):
        default = format_schedule(base["schedule"].get("attended"))
    while True:
        text = schedule_text if schedule_text is not None else prompter.ask(
            "schedule", _("Attended hours (人走阀关: gas off outside them), %s:") % _(SCHEDULE_FORM), default or "off")
        try:
            return parse_schedule(text)
        except ScheduleError as err:
            if schedule_text is not None or prompter.yes or prompter.answers is not None:
                raise CommandStop("schedule", str(err), _("write the hours %s") % _(SCHEDULE_FORM)) from None
            prompter.say(str(err))


def _report_problems(ctx: click.Context, what: str, problems: list) -> None:
    finish(ctx, {"valid": False, "problems": _problems_payload(problems), "message": what},
           "%s:\n%s" % (what, format_problems(problems)), EXIT_FAILED)


@config_group.command("validate", help=_(
    "Check a controller configuration as the unit will: the core rules, the installed detector profiles and\n"
    "the wiring (the same checks and messages as gaslatch check-config). Every problem is listed with its JSON\n"
    "path and a hint. Exit codes: 0 valid, 1 problems."))
@click.argument("path", type=click.Path(dir_okay=False))
@click.pass_context
def config_validate(ctx: click.Context, path: str) -> None:
    cfg, problems = validate_file(path)
    if problems:
        _report_problems(ctx, _("%s is not valid") % path, problems)
    assert cfg is not None
    finish(ctx, {"valid": True, "path": path, "detectors": sorted(cfg["detectors"]), "buses": sorted(cfg["buses"]),
                 "lines": sorted(cfg["lines"])},
           _("%(path)s: valid (%(detectors)d detectors, %(buses)d buses, %(lines)d lines)") % {
               "path": path, "detectors": len(cfg["detectors"]), "buses": len(cfg["buses"]),
               "lines": len(cfg["lines"])})


@config_group.command("push", help=_(
    "Install a configuration on the unit (run it on the unit, with sudo) and restart the controller.\n"
    "\n"
    "\b\n"
    "1. validated with the controller's own loader: nothing is written when anything is wrong;\n"
    "2. written atomically (temp file, fsync, rename; mode 0640, the old file's owner; the old file\n"
    "   kept as TARGET.previous);\n"
    "3. the service restarted (systemctl restart gaslatch);\n"
    "4. the restarted unit must answer on its control socket with the valve closed (latched) until\n"
    "   someone presses RESET on site.\n"
    "The file is installed with its config_version counted up: one more than the unit's present file's (or the\n"
    "pushed file's, if higher). The path and sha256 of the installed file, the configuration identity and the\n"
    "version go into the commissioning record; the restarted unit must report the same identity and a passed\n"
    "self-test.\n"
    "Questions [answers-file keys]: push.\n"
    "Exit codes: 0 installed and the unit came back latched, 1 refused (problems) or the unit did not come\n"
    "back as it must, 2 could not run (permission, restart command)."))
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--target", default=DEFAULT_TARGET, show_default=True, type=click.Path(dir_okay=False),
              help=_("Where the unit reads its configuration."))
@click.option("--service", default=DEFAULT_SERVICE, show_default=True, help=_("The controller's systemd service."))
@click.option("--restart-command", "restart_command", default=DEFAULT_RESTART, show_default=True,
              help=_("Command that restarts the controller ({service} is replaced)."))
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False),
              help=_("Control socket to check the restarted unit on (default: control.socket of the pushed file)."))
@click.option("--wait", "wait_s", type=click.FloatRange(1, 600), default=RESTART_WAIT_S, show_default=True,
              help=_("Seconds the restarted unit has to answer."))
@interaction_options(YES_HELP)
@click.pass_context
def config_push(ctx: click.Context, path: str, target: str, service: str, restart_command: str,
                socket_path: str | None, wait_s: float, answers_path: str | None, yes: bool) -> None:
    prompter = make_prompter(ctx, answers_path, yes)
    cfg, problems = validate_file(path)
    if problems:
        _report_problems(ctx, _("%s is not valid; nothing was installed") % path, problems)
    assert cfg is not None
    with open(path, "rb") as handle:
        source = json.loads(handle.read().decode("utf-8").lstrip("\ufeff"))
    version = max(_installed_version(target), cfg[VERSION_KEY]) + 1
    if version > MAX_CONFIG_VERSION:
        raise CommandStop("version", _("config_version would pass its maximum %d") % MAX_CONFIG_VERSION,
                          _("write \"config_version\": 0 in %(path)s and %(target)s, then push again")
                          % {"path": path, "target": target})
    source[VERSION_KEY] = version
    data = (json.dumps(source, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    identity = config_identity(cfg, load_profiles())  # the version is not part of it
    record = Record.load(ctx.obj["record"])
    if not prompter.confirm("push", _("Install %(path)s as %(target)s and restart %(service)s? The gas valve closes "
                                      "and stays closed until RESET is pressed on site.")
                            % {"path": path, "target": target, "service": service}):
        raise CommandStop("declined", _("nothing installed"))
    try:
        if os.path.exists(target):
            with open(target, "rb") as handle:
                write_atomically(target + ".previous", handle.read(), CONFIG_MODE)
        write_atomically(target, data, CONFIG_MODE)
    except PermissionError as err:
        raise CommandStop("permission", _("permission denied writing %(path)s: %(error)s")
                          % {"path": target, "error": err.strerror or err},
                          _("run it on the unit with sudo (the file is root:gaslatch 0640)")) from None
    except OSError as err:
        raise CommandStop("write", _("cannot write %(path)s: %(error)s")
                          % {"path": target, "error": err.strerror or err},
                          _("check the disk and the folder")) from None
    with open(target, "rb") as handle:
        if hashlib.sha256(handle.read()).hexdigest() != digest:
            raise CommandStop("write", _("%s does not read back as written") % target, _("check the disk (dmesg)"))
    prompter.say(_("installed %(path)s (configuration %(identity)s version %(version)d, sha256 %(sha256)s); "
                   "restarting %(service)s") % {"path": target, "identity": short_identity(identity),
                                                "version": version, "sha256": digest[:16], "service": service})
    argv = shlex.split(restart_command.format(service=service))
    restarted_at = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=wait_s)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CommandStop("restart", _("the configuration is installed but %(command)s failed: %(error)s")
                          % {"command": " ".join(argv), "error": err},
                          _("restart the controller by hand: sudo systemctl restart %s") % service) from None
    if done.returncode != 0:
        raise CommandStop("restart", _("the configuration is installed but %(command)s exited with %(code)d: "
                                       "%(output)s") % {"command": " ".join(argv), "code": done.returncode,
                                                        "output": (done.stderr or done.stdout).strip()[-500:]},
                          _("journalctl -u %(service)s shows why; the previous file is %(path)s.previous")
                          % {"service": service, "path": target})
    status = _restarted_status(socket_path or cfg["control"]["socket"], cfg["control"]["group"],
                               cfg["scan"]["period_ms"], restarted_at, wait_s, version)
    running = status.get("config") if isinstance(status, dict) and isinstance(status.get("config"), dict) else {}
    self_test = status.get("self_test") if isinstance(status, dict) and isinstance(status.get("self_test"), dict) \
        else {}
    entry = {"path": os.path.abspath(target), "source": os.path.abspath(path), "sha256": digest,
             "identity": identity, "version": version,
             "pushed_at": utc_now(), "service": service, "detectors": sorted(cfg["detectors"]),
             "unit_answered": status is not None,
             "latched_after_restart": None if status is None else bool(status.get("latched")),
             "unit_identity": running.get("identity"), "unit_version": running.get("version"),
             "self_test": self_test.get("summary"), "self_test_faults": list(self_test.get("faults") or [])}
    record.data["config"] = entry
    must_latch = cfg["valve"]["startup"] == "manual_reset"
    ok = status is not None and (bool(status.get("latched")) or not must_latch)
    same = status is None or (running.get("identity") == identity and running.get("version") == version)
    record.note("config push", "%s %s" % (_("%(path)s configuration %(identity)s version %(version)d sha256 "
                                              "%(sha256)s:") % {"path": target, "identity": identity,
                                                                "version": version, "sha256": digest},
                                            _("unit back, valve closed until RESET") if ok
                                            else _("unit did not come back latched")))
    record.save()
    if status is None:
        finish(ctx, dict(entry, command="config push"),
               _("installed, but the unit did not answer within %(seconds)g s of the restart: journalctl -u "
                 "%(service)s") % {"seconds": wait_s, "service": service},
               EXIT_FAILED)
    if not ok:
        finish(ctx, dict(entry, command="config push"),
               _("installed, but the unit came up with the valve OPEN: it must stay closed until RESET"), EXIT_FAILED)
    if not same:
        finish(ctx, dict(entry, command="config push"),
               _("installed, but the unit runs configuration %(running)s version %(running_version)s, not the pushed "
                 "%(identity)s version %(version)d: is --target the file the service reads?")
               % {"running": running.get("identity"), "running_version": running.get("version"),
                  "identity": identity, "version": version},
               EXIT_FAILED)
    if entry["self_test_faults"]:
        finish(ctx, dict(entry, command="config push"),
               _("installed, but the unit's self-test failed, so the gas stays off: %s (docs/operations.md, "
                 "\"When the self-test fails\")") % "; ".join(entry["self_test_faults"]), EXIT_FAILED)
    finish(ctx, dict(entry, command="config push", trip_reason=status.get("trip_reason", "")),
           _("installed %(path)s (configuration %(identity)s version %(version)d) and restarted %(service)s: the unit "
             "is back, the valve stays closed until someone presses RESET on site (%(reason)s)")
           % {"path": target, "identity": short_identity(identity), "version": version, "service": service,
              "reason": status.get("trip_reason") or "latched"}, EXIT_OK)


def _installed_version(target: str) -> int:
    """config_version of the unit's present configuration file; 0 when there is none or it carries none."""
    try:
        with open(target, "rb") as handle:
            doc = json.loads(handle.read().decode("utf-8").lstrip("\ufeff"))
    except (OSError, ValueError):
        return 0
    value = doc.get(VERSION_KEY) if isinstance(doc, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _restarted_status(socket_path: str, group: str, period_ms: int, restarted_at: float, wait_s: float,
                      version: int) -> dict | None:
    """The status of the controller started by the restart, or None if none answers within wait_s.

    A status counts only if its scan count fits in the time since the restart began: the old process,
    still answering before systemd stops it, has scanned for longer than that. One that runs the pushed
    version is taken at once; another is taken only when no such one answers within wait_s (the caller says
    which configuration runs): an old process restarted a moment ago passes the scan count too.
    """
    deadline = restarted_at + wait_s
    candidate = None
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
                running = status.get("config")
                if isinstance(running, dict) and running.get("version") == version:
                    return status
                candidate = status
        time.sleep(0.1)
    return candidate

