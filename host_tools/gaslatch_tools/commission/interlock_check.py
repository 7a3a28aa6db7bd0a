"""gaslatch commission interlock-test: fire input, emergency stop, fan proving, CO2 and CO trip the gas; power and
open line. It proves on site that each safety input closes the valve in time and a broken detector line shows as a
fault."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from gaslatch.core.constants import TOXIC_DEFAULTS
from gaslatch.unit.control_client import ControlUnreachable
from gaslatch_tools.commission.command_outcome import EXIT_FAILED, EXIT_OK, CommandStop, finish
from gaslatch_tools.commission.prompts import interaction_options
from gaslatch_tools.commission.record import LIMITS_S
from gaslatch_tools.commission.state_words import state_word
from gaslatch_tools.commission.unit_connection import (Site, UnitFacts, UnitLost, Watcher, chosen_detectors,
                                                       detector_ppm, detector_view, feedback, open_site, reading_info,
                                                       reasons_text, seconds_text, since, unit_options, wait_for_unit)
from gaslatch_tools.commission.valve_move import ValveMove, supervision_s
from gaslatch.translation import N_, _

PERSON_WAIT_S = 300.0  # how long a command waits for the person to operate an input or a line
POWER_OBSERVE_S = 10.0  # the unit must keep running this long on backup power
UNHEALTHY_STATES = ("fault", "comm_lost")

# test name -> (interlock in the status, the input line, config key enabling it, operate, restore)
INTERLOCKS = {
    "fire": ("fire_alarm", "fire_input", "fire_input",
             N_("Operate the fire alarm input now: have the fire panel signal (or open its contact at the unit)"),
             N_("Restore the fire input now: reset the fire panel (or close the contact)")),
    "estop": ("emergency_stop", "estop_input", "estop_input",
              N_("Press the emergency stop now"),
              N_("Release the emergency stop now")),
    "fan": ("ventilation", "fan_proven", None,
            N_("Stop the extract fan now (its isolator), or pull the pressure switch's tube: airflow must be lost"),
            N_("Restore the extract fan now: airflow must be proven again")),
}
# test name -> (what it proves, operate with test gas above the trip level, restore). One run per detector of that
# measurand: the installer's test gas must pass the detector's warning and its trip level.
TOXIC_TESTS = {
    "co2": ("CO2 isolation (IGEM/UP/19)",
            N_("Apply CO2 test gas above %(ppm)s ppm to %(detector)s now (a CO2 canister through its calibration "
               "cap)"),
            N_("Remove the CO2 test gas from %s and ventilate: the gas must stay off until RESET")),
    "co": ("CO detector linkage (CJJ/T 146)",
           N_("Apply CO test gas above %(ppm)s ppm to %(detector)s now (CO in air through its calibration cap)"),
           N_("Remove the CO test gas from %s and ventilate: the gas must stay off until RESET")),
}
INTERLOCK_TESTS = ("fire", "estop", "fan", "proving", "co2", "co", "power", "open-line")
# TRANSLATORS: an interlock's name, put into sentences such as "waiting for the fire alarm".
INTERLOCK_WORDS = {"fire_alarm": N_("fire alarm"), "emergency_stop": N_("emergency stop"),
                   "ventilation": N_("ventilation")}

INTERLOCK_HELP = _("""Interlock test: each safety input trips the gas, and a broken detector line shows as a fault.

\b
  fire       the fire alarm input (GB 50116 linkage)
  estop      the emergency stop
  fan        airflow proving, only with fan.proving (BS 6173: fan failure closes the gas
             within fan.loss_confirm_s)
             For each of these the installer operates the input; the command times the trip
             (valve commanded closed, limit %g s from the interlock) and the valve's closing,
             then asks to restore the input and press RESET; the gas must not come back alone.
  proving    gas pressure proving, only with proving.mode: the gas closed (the valve test), a reset
             must prove the pipework (timed against check + fill + watch); closed again, a burner
             opened during the watch must fail it; closed burner, a last reset proves it again.
  co2, co    each CO2 (IGEM/UP/19) and CO (CJJ/T 146) detector, with test gas above its trip
             level: its warning runs the fan and the sounder with the gas on, its trip closes
             the gas (timed from its high alarm, same limit), which stays off after the gas is
             removed until RESET; readings in ppm.
  power      backup-power changeover (CJJ/T 146): mains off, the unit must keep running on its
             backup supply (watched %g s), confirmed by the installer; mains back on.
  open-line  disconnect a detector's line: the fault must show within %g s of its last reply
             (GB 16808 / GB 50166 commissioning limit); reconnect, RESET if it tripped.

\b
Default: the inputs the configuration enables (fire, estop, fan), the proving, the CO2 and CO detectors,
then power and open-line.
Questions [answers-file keys]: vent, burner_open, burner_closed, mains_off, backup_running, mains_on,
open_line.DETECTOR, reconnect.DETECTOR, valve_closed (only without feedback), reopen_by_hand; the CO2
and CO tests need none (the command watches the detector).
Operating an input needs no answer: the command watches the unit.
Exit codes: 0 all passed, 1 a test failed, 2 the test could not run.
""") % (LIMITS_S["linkage"], POWER_OBSERVE_S, LIMITS_S["open_line_fault"])


@click.command("interlock-test", help=INTERLOCK_HELP)
@unit_options
@click.option("--only", help=_("Comma-separated tests to run: %s.") % ", ".join(INTERLOCK_TESTS))
@click.option("--open-line-detector", "open_line_detector",
              help=_("Detector whose line is disconnected (default: the first one)."))
@interaction_options()
@click.pass_context
def interlock_test(ctx: click.Context, socket_path: str | None, config_path: str | None, only: str | None,
                   open_line_detector: str | None, answers_path: str | None, yes: bool) -> None:
    site = open_site(ctx, socket_path, config_path, answers_path, yes)
    tests = _interlock_tests(site.facts, only)
    detectors = sorted(site.status().get("detectors", {}))
    if "open-line" in tests:
        open_line_detector = chosen_detectors(open_line_detector, detectors)[0]
    entries = []
    steps = [(test, name) for test in tests for name in (_measuring(site, test) if test in TOXIC_TESTS else [None])]
    try:
        for test, name in steps:
            site.prompter.say("")
            site.prompter.say("== %s ==" % (test if name is None else "%s: %s" % (test, name)), "bold")
            if test in INTERLOCKS:
                entry = _interlock(site, test)
            elif test == "proving":
                entry = _proving(site)
            elif test in TOXIC_TESTS:
                entry = _toxic(site, test, name)
            elif test == "power":
                entry = _backup_power(site)
            else:
                entry = _open_line(site, open_line_detector)
            entry["passed"] = not entry["failures"]
            entry["answers"] = site.prompter.log
            site.prompter.log = []
            site.record.add("interlock_tests", entry)
            verdict = "%s: %s" % (test, _("PASS") if entry["passed"] else
                                  _("FAIL: %s") % "; ".join(entry["failures"]))
            site.record.note("interlock-test", verdict)
            site.record.save()
            site.prompter.say(verdict, "bold green" if entry["passed"] else "bold red")
            entries.append(entry)
    except ControlUnreachable as err:
        raise UnitLost(err) from None
    table = Table(title=_("Interlock tests"))
    for column in (_("test"), _("time (s)"), _("limit (s)"), _("result")):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry["test"], seconds_text(entry.get("measured_s")), seconds_text(entry.get("limit_s")),
                      _("PASS") if entry["passed"] else _("FAIL: %s") % "; ".join(entry["failures"]))
    site.console.print(table)
    passed = all(entry["passed"] for entry in entries)
    finish(ctx, {"command": "interlock-test", "tests": [{k: v for k, v in e.items() if k != "answers"}
                                                        for e in entries], "passed": passed},
           _("interlock test: every test passed") if passed else _("interlock test: FAILED"),
           EXIT_OK if passed else EXIT_FAILED)


def _interlock_tests(facts: UnitFacts, only: str | None) -> list[str]:
    if only:
        tests = [test.strip() for test in only.split(",") if test.strip()]
        unknown = [test for test in tests if test not in INTERLOCK_TESTS]
        if unknown:
            raise CommandStop("usage", _("no interlock test %s") % ", ".join(unknown),
                              _("tests: %s") % ", ".join(INTERLOCK_TESTS))
        return tests
    tests = []
    for test in ("fire", "estop"):
        if facts.interlock_enabled(INTERLOCKS[test][2]) is not False:
            tests.append(test)
    if facts.fan_proving:
        tests.append("fan")
    if facts.proving_mode != "none":
        tests.append("proving")
    measurands = [det.get("measurand") for det in (facts.cfg or {}).get("detectors", {}).values()]
    tests += [test for test in TOXIC_TESTS if test in measurands]
    return tests + ["power", "open-line"]


def _measuring(site: Site, measurand: str) -> list[str]:
    """The detectors of the unit that measure `measurand` (co2, co); stops the command when there are none."""
    detectors = site.status().get("detectors", {})
    names = sorted(name for name, det in detectors.items() if det.get("measurand") == measurand)
    if not names:
        raise CommandStop("no_detectors", _("the unit has no %s detector to test") % measurand.upper(),
                          _("leave %s out of --only, or check the configuration's measurand") % measurand)
    return names


def _ppm_levels(facts: UnitFacts, name: str, measurand: str) -> tuple[float, float]:
    """(warning, trip) in ppm of a CO or CO2 detector: from the configuration, else the measurand's defaults."""
    det = ((facts.cfg or {}).get("detectors") or {}).get(name) or {}
    low, high, _hysteresis = TOXIC_DEFAULTS[measurand]
    return det.get("low_alarm_ppm", low), det.get("high_alarm_ppm", high)


def _toxic(site: Site, test: str, name: str) -> dict:
    """One CO2 or CO detector with test gas: warning with the gas on, trip timed from its high alarm, no return."""
    what, operate, restore = TOXIC_TESTS[test]
    facts = site.facts
    low_ppm, high_ppm = _ppm_levels(facts, name, test)
    entry: dict[str, Any] = {"test": test, "detector": name, "interlock": what, "limit_s": LIMITS_S["linkage"],
                             "warning_ppm": low_ppm, "trip_ppm": high_ppm, "failures": []}
    failures = entry["failures"]
    site.arm(_("the valve must be open to see %s close it") % name)
    site.prompter.say("→ " + _(operate) % {"ppm": "%g" % high_ppm, "detector": name}, "bold")
    t_asked = time.monotonic()
    times: dict[str, float] = {}
    peak: dict[str, float] = {}
    closing = ValveMove(facts, closed=True)

    def seen(t: float, status: dict) -> None:
        state = detector_view(status, name)[0]
        ppm = detector_ppm(status, name)
        if ppm is not None:
            peak["ppm"] = max(ppm, peak.get("ppm", ppm))
        outputs = status.get("outputs", {})
        if state == "low_alarm" and "high" not in times:
            times.setdefault("warning", t)
            if outputs.get("fan") and outputs.get("sounder"):
                times.setdefault("warning_outputs", t)
            if outputs.get("valve") is False:
                times.setdefault("warning_closed", t)
        if state == "high_alarm":
            times.setdefault("high", t)
        if "high" in times:
            closing.seen(t, status)

    watcher = site.watcher()
    found = watcher.until(lambda s: detector_view(s, name)[0] == "high_alarm", PERSON_WAIT_S,
                          _("%s: waiting for its trip level") % name, t_asked, seen, reading_info(name))
    if found is None:
        failures.append(_("%(detector)s never reached its trip level (%(ppm)g ppm) within %(seconds)g s")
                        % {"detector": name, "ppm": high_ppm, "seconds": PERSON_WAIT_S})
        return entry
    watcher.until(closing.done, LIMITS_S["linkage"] + supervision_s(facts) + 1.0, _("valve closing"), found, seen,
                  reading_info(name))
    entry["measured_s"] = entry["trip_s"] = since(closing.command_t, found)
    entry["valve_closed_s"] = since(closing.switch_t, found)
    entry["valve_source"] = closing.source()
    entry["warning_seen"] = "warning" in times
    if "warning" in times:
        # The test gas may rise past both levels between two readings; when the warning shows, it must act.
        entry["warning_outputs_s"] = since(times.get("warning_outputs"), times["warning"])
        if "warning_outputs" not in times:
            failures.append(_("the %s warning did not run the fan and the sounder") % test.upper())
        if "warning_closed" in times:
            failures.append(_("the %s warning closed the gas: only the trip level may") % test.upper())
    failures.extend(closing.failures(site.prompter, "valve_closed", found))
    site.prompter.say("→ " + _(restore) % name, "bold")
    t_restore = time.monotonic()
    back = watcher.until(lambda s: detector_view(s, name)[0] == "normal", PERSON_WAIT_S,
                         _("%s: waiting for clear air") % name, t_restore, seen, reading_info(name))
    entry["peak_ppm"] = peak.get("ppm")
    entry["cleared_after_instruction_s"] = since(back, t_restore)
    if back is None:
        failures.append(_("%(detector)s did not read normal within %(seconds)g s of removing the gas")
                        % {"detector": name, "seconds": PERSON_WAIT_S})
        return entry
    if not site.status().get("latched"):
        failures.append(_("the gas came back by itself when %s cleared") % name)
    _reset_after_test(site, entry, name)
    return entry


def _interlock(site: Site, test: str) -> dict:
    interlock, line, _key, operate, restore = INTERLOCKS[test]
    facts = site.facts
    entry: dict[str, Any] = {"test": test, "interlock": interlock, "limit_s": LIMITS_S["linkage"], "failures": []}
    failures = entry["failures"]
    what = _(INTERLOCK_WORDS[interlock])
    site.arm(_("the valve must be open to see the %s close it") % what)
    site.prompter.say("→ " + _(operate), "bold")
    t_asked = time.monotonic()
    times: dict[str, float] = {}
    closing = ValveMove(facts, closed=True)

    def seen(t: float, status: dict) -> None:
        level = feedback(status, line)
        if level is not None and (level if test != "fan" else not level):
            times.setdefault("input", t)
        if status.get("interlocks", {}).get(interlock):
            times.setdefault("interlock", t)
        if "interlock" in times:
            closing.seen(t, status)

    watcher = site.watcher()
    found = watcher.until(lambda s: bool(s.get("interlocks", {}).get(interlock)), PERSON_WAIT_S,
                          _("waiting for the %s") % what, t_asked, seen)
    if found is None:
        failures.append(_("the unit never saw the %(interlock)s within %(seconds)g s")
                        % {"interlock": what, "seconds": PERSON_WAIT_S})
        return entry
    watcher.until(closing.done, LIMITS_S["linkage"] + supervision_s(facts) + 1.0, _("valve closing"), found, seen)
    entry["seen_after_instruction_s"] = since(found, t_asked)
    entry["input_to_interlock_s"] = since(found, times["input"]) if "input" in times else None
    entry["measured_s"] = entry["trip_s"] = since(closing.command_t, found)
    entry["valve_closed_s"] = since(closing.switch_t, found)
    entry["valve_source"] = closing.source()
    if test == "fan" and entry["input_to_interlock_s"] is not None:
        # Once proven, airflow lost for loss_confirm_s trips (shorter drop-outs are gusts, not a dead fan).
        entry["loss_confirm_s"] = facts.loss_confirm_s
        if entry["input_to_interlock_s"] > facts.loss_confirm_s + LIMITS_S["linkage"]:
            failures.append(_("ventilation interlock %(seconds).1f s after the airflow was lost, limit loss_confirm_s "
                              "%(confirm_s)g s + %(linkage_s)g s")
                            % {"seconds": entry["input_to_interlock_s"], "confirm_s": facts.loss_confirm_s,
                               "linkage_s": LIMITS_S["linkage"]})
    failures.extend(closing.failures(site.prompter, "valve_closed", found))
    site.prompter.say("→ " + _(restore), "bold")
    t_restore = time.monotonic()
    cleared = watcher.until(lambda s: not s.get("interlocks", {}).get(interlock), PERSON_WAIT_S,
                            _("waiting for the %s to clear") % what, t_restore)
    entry["cleared_after_instruction_s"] = since(cleared, t_restore)
    if cleared is None:
        failures.append(_("the %(interlock)s did not clear within %(seconds)g s")
                        % {"interlock": what, "seconds": PERSON_WAIT_S})
        return entry
    if not site.status().get("latched"):
        failures.append(_("the gas came back by itself when the %s cleared") % what)
    _reset_after_test(site, entry, what)
    return entry


def _reset_after_test(site: Site, entry: dict, what: str) -> None:
    """The RESET that ends a test of `what`: its outcome recorded, anything but accepted (or not needed) a failure."""
    outcome = site.press_reset(_("the %s test is over: reopen the gas") % what)
    entry["reset"] = outcome["state"]
    if outcome["state"] not in ("accepted", "not_needed"):
        entry["failures"].append(_("reset %(state)s after the test: %(reasons)s")
                                 % {"state": outcome["state"], "reasons": reasons_text(outcome)})


# The gas left in the pipe after the valve closed would fail the proving's check (as a passing valve would).
VENT = N_("Let the gas left in the pipe out: with the valve closed, open a burner's tap for a few seconds, then close "
          "it")


def _close_gas(site: Site) -> bool:
    """The gas closed by the valve test (test_output valve: the only local close); True once latched."""
    site.link.request("test_output", {"line": "valve", "ms": 1000})
    return site.watcher().until(lambda s: bool(s.get("latched")), LIMITS_S["linkage"], _("closing the gas")) \
        is not None


def _proving(site: Site) -> dict:
    """A reset proves the pipework in time; a burner open in the watch fails it; closed, a reset proves it again."""
    facts = site.facts
    entry: dict[str, Any] = {"test": "proving", "mode": facts.proving_mode, "limit_s": facts.proving_s + 1.0,
                             "failures": []}
    failures = entry["failures"]
    if not _close_gas(site):
        failures.append(_("the valve test did not close the gas"))
        return entry
    site.prompter.act("vent", _(VENT))
    outcome = site.proved(site.press_reset(_("pressure proving: start one")))
    entry["measured_s"] = entry["proving_s"] = outcome.get("proving_s")
    if outcome["state"] != "accepted":
        failures.append(_("the proving of the tight pipework did not pass: %s")
                        % (reasons_text(outcome) or outcome["state"]))
        return entry
    if entry["proving_s"] > entry["limit_s"]:
        failures.append(_("the proving took %(seconds).1f s, limit %(limit)g s")
                        % {"seconds": entry["proving_s"], "limit": entry["limit_s"]})
    if not _close_gas(site):
        failures.append(_("the valve test did not close the gas"))
        return entry
    site.prompter.act("vent", _(VENT))
    pressed = site.press_reset(_("pressure proving with a burner open: start one"))
    watching = site.watcher().until(lambda s: (s.get("proving") or {}).get("phase") == "watch",
                                    facts.proving_s + 5.0, _("waiting for the watch phase"), pressed["at"])
    if watching is None:
        failures.append(_("the proving never reached its watch phase"))
        return entry
    opened = site.prompter.act("burner_open", _("Open one burner's gas tap now (do not light it): the proving must "
                                                "see the pressure fall"))
    watcher = site.watcher()
    ended = watcher.until(lambda s: not s.get("latched") or bool((s.get("proving") or {}).get("failure")),
                          facts.proving_s + 5.0, _("waiting for the proving to fail"), opened)
    failure = (watcher.last.get("proving") or {}).get("failure", "")
    entry["leak_found_s"] = since(ended, opened) if ended is not None else None
    if ended is None or "watch" not in failure:
        failures.append(_("the proving did not find the open burner: %s") % (failure or _("it passed")))
    site.prompter.act("burner_closed", _("Close the burner's tap again"))
    outcome = site.proved(site.press_reset(_("the proving test is over: reopen the gas")))
    entry["reset"] = outcome["state"]
    if outcome["state"] != "accepted":
        failures.append(_("the last proving did not pass: %s") % (reasons_text(outcome)
                                                                   or outcome["state"]))
    return entry


def _backup_power(site: Site) -> dict:
    prompter = site.prompter
    entry: dict[str, Any] = {"test": "power", "observed_s": POWER_OBSERVE_S, "failures": []}
    before = site.status()
    scans_before = before.get("scan", {}).get("scans", 0)
    prompter.act("mains_off", _("Switch the MAINS supply of the unit off (leave the backup battery / UPS "
                                "connected), then press Enter"))
    t_off = time.monotonic()
    problems: list[str] = []
    latched = before.get("latched")

    def probe() -> dict:
        try:
            status = site.status()
        except ControlUnreachable as err:
            problems.append(_("the unit stopped answering on backup power: %s") % err)
            return {}
        if status.get("scan", {}).get("scans", 0) < scans_before:
            problems.append(_("the unit restarted at the changeover (its scan count started again)"))
        if status.get("latched") != latched:
            problems.append(_("the latch changed at the changeover (%(before)s -> %(after)s)") % {
                "before": _("latched") if latched else _("armed"),
                "after": _("latched") if status.get("latched") else _("armed")})
        return status

    Watcher(site.console, probe, 0.2).until(lambda s: bool(problems), POWER_OBSERVE_S, _("on backup power"), t_off)
    entry["unit_stayed_up"] = not problems
    running = prompter.confirm("backup_running", _("Is the unit running on its backup supply (UPS / battery "
                                                   "indicator), with the alarm and the valve as before?"))
    entry["backup_running_confirmed"] = running
    prompter.act("mains_on", _("Switch the MAINS supply back on, then press Enter"))
    try:
        wait_for_unit(site)
    except ControlUnreachable as err:
        problems.append(_("the unit did not answer after the mains came back: %s") % err)
    entry["failures"] = sorted(set(problems)) + ([] if running else
                                                 [_("the installer did not confirm the backup supply")])
    return entry


def _open_line(site: Site, name: str) -> dict:
    limit_s = LIMITS_S["open_line_fault"]
    entry: dict[str, Any] = {"test": "open-line", "detector": name, "limit_s": limit_s, "failures": []}
    failures = entry["failures"]
    state = detector_view(site.status(), name)[0]
    if state != "normal":
        failures.append(_("%(name)s was %(state)s before the test: it must be normal")
                        % {"name": name, "state": state_word(state)})
        return entry
    t_asked = site.prompter.act("open_line.%s" % name, _("Disconnect %s's line now (unplug its RS-485 A/B or its "
                                                         "connector), then press Enter") % name)
    last_reply: dict[str, float] = {}
    trips: dict[str, float] = {}

    def seen(t: float, status: dict) -> None:
        det = status.get("detectors", {}).get(name) or {}
        if det.get("state") not in UNHEALTHY_STATES and det.get("last_sample_age_ms") is not None:
            last_reply["t"] = t - det["last_sample_age_ms"] / 1000.0
        if status.get("latched"):
            trips.setdefault("t", t)

    found = site.watcher().until(lambda s: detector_view(s, name)[0] in UNHEALTHY_STATES, limit_s + 60.0,
                                 _("%s: waiting for the fault") % name, t_asked, seen, reading_info(name))
    if found is None:
        failures.append(_("no fault shown for %(name)s within %(seconds)g s")
                        % {"name": name, "seconds": limit_s + 60.0})
        return entry
    start = min(last_reply.get("t", t_asked), found)
    entry["measured_s"] = entry["fault_s"] = round(found - start, 3)
    entry["fault_after_instruction_s"] = round(found - t_asked, 3)
    entry["fault_state"] = detector_view(site.status(), name)[0]
    if entry["fault_s"] > limit_s:
        failures.append(_("fault shown %(seconds).1f s after the detector's last reply, limit %(limit)g s")
                        % {"seconds": entry["fault_s"], "limit": limit_s})
    t_back = site.prompter.act("reconnect.%s" % name, _("Reconnect %s's line now, then press Enter") % name)
    back = site.watcher().until(lambda s: detector_view(s, name)[0] == "normal", LIMITS_S["recovery"],
                                _("%s: back to normal") % name, t_back, seen, reading_info(name))
    entry["restored_s"] = since(back, t_back)
    if back is None:
        failures.append(_("%(name)s did not read normal within %(seconds)g s of reconnecting")
                        % {"name": name, "seconds": LIMITS_S["recovery"]})
        return entry
    if "t" in trips:
        entry["tripped_after_s"] = round(trips["t"] - start, 3)
    outcome = site.press_reset(_("the open-line test is over: reopen the gas"))
    entry["reset"] = outcome["state"]
    return entry
