"""Judges each recorded test against record.LIMITS_S, and whether the whole record may be signed.

Kept apart from the layout so the sign-off rule can be read, and tested, as one piece of logic.
"""

from __future__ import annotations

from typing import Any

from gaslatch_tools.commission.record import LIMITS_S
from gaslatch_tools.commission.report_record import (CHECK_VERDICT_KEYS, blank, detectors_in_order, latest,
                                                     latest_calibration, number, recorded_verdict, section)

PASS, FAIL, MISSING, NA, NOT_TESTED = "pass", "fail", "missing", "na", "not_tested"

# Interlock tests in the order the report lists them, with the names `interlock-test` records (entry "test").
INTERLOCK_KINDS = ("fire", "estop", "fan", "proving", "co2", "co", "power", "open-line")
ALWAYS_REQUIRED_INTERLOCKS = ("power", "open-line")  # CJJ/T 146 power changeover; GB 16808 open-line fault
LINKAGE_OUTPUTS = ("valve", "fan", "sounder")
VALVE_SOURCES = {"limit switch": "source_limit_switch", "closed limit switch": "source_limit_switch",
                 "controller valve supervision": "source_controller", "installer": "source_installer"}
# Identification the signed paper needs; when absent the report leaves the line blank, to fill in by hand.
REQUIRED_FIELDS = (("site", "name", "field_site_name"), ("site", "address", "field_address"),
                   ("unit", "serial", "field_serial"), ("installer", "name", "field_installer_name"),
                   ("installer", "company", "field_company"))


def _against(value: Any, limit_s: float | None) -> str | None:
    """PASS/FAIL against the limit, MISSING when not measured; None when there is no limit to judge by."""
    measured = number(value)
    if measured is None:
        return MISSING
    if limit_s is None:
        return None
    return PASS if measured <= limit_s else FAIL


def _confirmed(value: Any) -> str:
    return PASS if value is True else FAIL if value is False else MISSING


def _overall(statuses: list, passed: bool | None) -> str:
    """One verdict: a failed item or passed=false fails; a missing item leaves it incomplete."""
    if passed is False or FAIL in statuses:
        return FAIL
    if MISSING in statuses:
        return MISSING
    if passed is True or PASS in statuses:
        return PASS
    return MISSING


class Item:
    """One judged line of a test: what, the value as measured, its limit, status, and a note."""

    def __init__(self, key: str, value: Any, limit_s: float | None, status: str | None, note: str = ""):
        self.key = key
        self.value = value
        self.limit_s = limit_s
        self.status = status
        self.note = note


def _timed(key: str, value: Any, limit_s: float) -> Item:
    """A measured time judged against its limit."""
    return Item(key, value, limit_s, _against(value, limit_s))


class Judgement:
    """A test entry judged: its items and the overall status."""

    def __init__(self, items: list, status: str, marked_failed: bool = False):
        self.items = items
        self.status = status
        self.marked_failed = marked_failed

    def lacking(self) -> list:
        return [item.key for item in self.items if item.status == MISSING]


def _linkage_item(output: str, linkage: Any) -> Item:
    """One output of a bump test's linkage: {"s", "budget_s", "ok", "why"} as bump-test records it, or "<output>_s"."""
    key = "linkage_" + output
    if not isinstance(linkage, dict):
        return Item(key, None, LIMITS_S["linkage"], NOT_TESTED)
    check = linkage.get(output)
    if isinstance(check, dict):
        limit_s = number(check.get("budget_s")) or LIMITS_S["linkage"]
        status = _against(check.get("s"), limit_s)
        verdict = recorded_verdict(check, CHECK_VERDICT_KEYS)
        if verdict is False:
            status = FAIL
        elif status == MISSING and verdict is True:
            status = PASS
        return Item(key, check.get("s"), limit_s, status, str(check.get("why") or check.get("note") or ""))
    if output + "_s" in linkage:
        return _timed(key, linkage[output + "_s"], LIMITS_S["linkage"])
    if output == "valve" and any(isinstance(linkage.get(o), dict) for o in ("fan", "sounder")):
        return Item(key, None, None, NA, "valve_not_expected")  # a low alarm runs the fan and sounder only
    return Item(key, None, LIMITS_S["linkage"], MISSING)


def judge_bump(entry: dict) -> Judgement:
    """Time to alarm and recovery against record.LIMITS_S; each linkage output against its budget."""
    items = [_timed("time_to_alarm", entry.get("time_to_alarm_s"), LIMITS_S["time_to_alarm"]),
             _timed("recovery", entry.get("recovery_s"), LIMITS_S["recovery"])]
    linkage = entry.get("linkage")
    items += [_linkage_item(output, linkage) for output in LINKAGE_OUTPUTS]
    closed = linkage.get("valve_closed") if isinstance(linkage, dict) else None
    if isinstance(closed, dict):
        status = _confirmed(recorded_verdict(closed, CHECK_VERDICT_KEYS))
        if status == PASS and number(closed.get("s")) is not None and number(closed.get("budget_s")) is not None:
            status = _against(closed.get("s"), number(closed.get("budget_s")))
        source = VALVE_SOURCES.get(_text(closed.get("source")), str(closed.get("source") or ""))
        items.append(Item("valve_closed", closed.get("s"), number(closed.get("budget_s")), status,
                          str(closed.get("why") or closed.get("note") or source)))
    passed = recorded_verdict(entry)
    status = _overall([item.status for item in items], passed)
    return Judgement(items, status, marked_failed=passed is False and all(i.status != FAIL for i in items))


def linkage_tested(entry: dict) -> bool:
    return isinstance(entry.get("linkage"), dict) and bool(entry["linkage"])


def judge_calibration(entry: dict) -> str | None:
    """PASS/FAIL as the record says; None when it only recorded the calibration."""
    passed = recorded_verdict(entry)
    return None if passed is None else (PASS if passed else FAIL)


def judge_valve(entry: dict) -> Judgement:
    """The close command (linkage limit), the valve's travel, and that only the manual reset reopens it."""
    travel_s = number(entry.get("travel_s"))
    closed_status = _against(entry.get("closed_s"), travel_s)
    if closed_status == MISSING and _text(entry.get("closed_source")) in ("controller valve supervision", "installer"):
        closed_status = None  # no limit switch: its own supervision or the installer stood for it
    reset = entry.get("reset")
    items = [_timed("valve_close_command", entry.get("close_command_s"), LIMITS_S["linkage"]),
             Item("valve_closed", entry.get("closed_s"), travel_s, closed_status,
                  VALVE_SOURCES.get(_text(entry.get("closed_source")), "")),
             Item("valve_remote_refused", entry.get("remote_reopen_refused"), None,
                  _confirmed(entry.get("remote_reopen_refused"))),
             Item("valve_no_reopen", entry.get("reopen_without_reset_refused"), None,
                  _confirmed(entry.get("reopen_without_reset_refused"))),
             Item("valve_reset", None, None, MISSING if reset is None else PASS if reset == "accepted" else FAIL,
                  "" if reset is None else "reset_%s" % reset),
             Item("valve_reopen", entry.get("reopen_s"), travel_s,
                  None if number(entry.get("reopen_s")) is None else _against(entry.get("reopen_s"), travel_s),
                  VALVE_SOURCES.get(_text(entry.get("reopen_source")), ""))]
    return Judgement(items, _overall([item.status for item in items], recorded_verdict(entry)))


def interlock_kind(entry: dict) -> str:
    """The test's name as interlock-test records it (fire, estop, fan, power, open-line)."""
    return str(entry.get("test") or "").strip().lower().replace("_", "-")


def judge_interlock(entry: dict) -> Judgement:
    """Not applicable when recorded so; else the measured time against its limit, and the passed flag."""
    if entry.get("applicable") is False:
        return Judgement([], NA)
    limit_s = number(entry.get("limit_s"))
    if limit_s is None and interlock_kind(entry) == "open-line":
        limit_s = LIMITS_S["open_line_fault"]
    status = _against(entry.get("measured_s"), limit_s)
    if status == MISSING and interlock_kind(entry) == "power":
        status = None  # a confirmed manual step: nothing to time
    item = Item("measured", entry.get("measured_s"), limit_s, status)
    return Judgement([item], _overall([s for s in [status] if s], recorded_verdict(entry)))


def required_interlocks(document: dict | None) -> tuple:
    """(required, unknown): the tests the configuration makes necessary, and those it cannot tell about."""
    if not isinstance(document, dict):
        return ALWAYS_REQUIRED_INTERLOCKS, ("fire", "estop", "fan")
    interlocks = document.get("interlocks") if isinstance(document.get("interlocks"), dict) else {}
    fan = document.get("fan") if isinstance(document.get("fan"), dict) else {}
    proving = document.get("proving") if isinstance(document.get("proving"), dict) else {}
    enabled = [kind for kind, on in (("fire", interlocks.get("fire_input")), ("estop", interlocks.get("estop_input")),
                                     ("fan", fan.get("proving")),
                                     ("proving", proving.get("mode") in ("switch", "transmitter"))) if on is True]
    detectors = document.get("detectors") if isinstance(document.get("detectors"), dict) else {}
    measurands = [det.get("measurand") for det in detectors.values() if isinstance(det, dict)]
    enabled += [kind for kind in ("co2", "co") if kind in measurands]  # a CO2 or CO detector fitted: its trip
    return tuple(enabled) + ALWAYS_REQUIRED_INTERLOCKS, ()


class Readiness:
    """Whether the record may be signed: problems (blocking) and warnings (check or fill in), as (key, args)."""

    def __init__(self, problems: list, warnings: list):
        self.problems = problems
        self.warnings = warnings

    @property
    def ready(self) -> bool:
        return not self.problems


def _detector_problems(name: str, detector: dict) -> list:
    problems = []
    bump = latest(detector.get("bump_tests"))
    if bump is None:
        return [("problem_bump_missing", (name,))]
    judged = judge_bump(bump)
    if judged.status == FAIL:
        problems.append(("problem_bump_failed", (name,)))
    elif judged.status == MISSING:
        problems.append(("problem_bump_incomplete", (name, ["item_" + k for k in judged.lacking()])))
    linked = latest(detector.get("bump_tests"), linkage_tested)
    if linked is None:
        problems.append(("problem_bump_no_linkage", (name,)))
    else:
        valve = _linkage_item("valve", linked["linkage"])
        if linked is not bump and judge_bump(linked).status != PASS:
            problems.append(("problem_bump_linkage_failed", (name,)))
        elif valve.status == NA:
            problems.append(("problem_bump_no_valve", (name,)))
    for kind in ("zero", "span"):
        calibration = latest_calibration(detector, kind)
        if calibration is not None and judge_calibration(calibration) == FAIL:
            problems.append(("problem_calibration_failed", (name, ["cal_" + kind])))
    last_calibration = latest(detector.get("calibrations"), lambda e: judge_calibration(e) != FAIL)
    if last_calibration is not None and str(last_calibration.get("utc", "")) > str(bump.get("utc", "~")):
        problems.append(("problem_bump_before_calibration", (name,)))
    return problems


def readiness(data: dict, document: dict | None = None, config_warnings: tuple = ()) -> Readiness:
    """Every detector bump-tested with linkage and passed, no failed calibration, the valve, the interlocks the
    configuration needs, and a pushed configuration."""
    problems: list = []
    detectors = detectors_in_order(data, document)
    if not detectors:
        problems.append(("problem_no_detectors", ()))
    for name, detector in detectors:
        problems += _detector_problems(name, detector)
    valve = latest(data.get("valve_tests"))
    if valve is None:
        problems.append(("problem_valve_missing", ()))
    else:
        judged = judge_valve(valve)
        if judged.status == FAIL:
            problems.append(("problem_valve_failed", ()))
        elif judged.status == MISSING:
            problems.append(("problem_valve_incomplete", (judged.lacking(),)))
    warnings = list(config_warnings)
    required, unknown = required_interlocks(document)
    for kind in INTERLOCK_KINDS:
        entry = latest(data.get("interlock_tests"), lambda e, kind=kind: interlock_kind(e) == kind)
        status = None if entry is None else judge_interlock(entry).status
        if entry is None and kind in required:
            problems.append(("problem_interlock_missing", (["interlock_" + kind],)))
        elif entry is None and kind in unknown:
            warnings.append(("warn_interlock_unknown", (["interlock_" + kind],)))
        elif status == FAIL:
            problems.append(("problem_interlock_failed", (["interlock_" + kind],)))
        elif status == MISSING:
            problems.append(("problem_interlock_incomplete", (["interlock_" + kind],)))
    config = data.get("config")
    if not isinstance(config, dict) or not config.get("sha256"):
        problems.append(("problem_config_missing", ()))
    warnings += [("warn_missing_field", (["group_" + group], [label]))
                 for group, key, label in REQUIRED_FIELDS if blank(section(data, group).get(key))]
    if data.get("schedule") is None and not isinstance((document or {}).get("schedule"), dict):
        warnings.append(("warn_schedule", ()))
    return Readiness(problems, warnings)


def _text(value) -> str:
    """A record value used as a lookup key: only a string can be one (a hand-edited record may hold anything)."""
    return value if isinstance(value, str) else ""
