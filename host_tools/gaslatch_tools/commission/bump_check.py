"""gaslatch commission bump-test: test gas at each detector, timed to alarm and recovery, with the linkage it drives.
It proves each detector and its valve, fan and sounder against record.LIMITS_S, and records every sample."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.core.config import ConfigError
from gaslatch.core.detector_profile import ProfileError, load_profile
from gaslatch.unit.control_client import ControlUnreachable
from gaslatch_tools.commission.bus_client import BusClient, BusError
from gaslatch_tools.commission.command_outcome import EXIT_FAILED, EXIT_OK, CommandStop, finish
from gaslatch_tools.commission.prompts import Prompter, interaction_options, make_prompter
from gaslatch_tools.commission.record import LIMITS_S, utc_now
from gaslatch_tools.commission.state_words import state_word
from gaslatch_tools.commission.unit_connection import (Site, UnitFacts, UnitLost, Watcher, chosen_detectors,
                                                       config_refused, detector_view, feedback, open_site,
                                                       reading_info, reads_clear, refusal_text, seconds_text, since,
                                                       unit_options)
from gaslatch_tools.commission.valve_move import supervision_s, valve_commanded_closed
from gaslatch.translation import N_, _, named

DEFAULT_GAS_PCT_LEL = 50.0  # a common bump gas: 2.5 %vol methane, above every allowed high set point
TRACE_KEEPALIVE_S = 1.0  # an unchanged reading is still recorded this often, so a plot has its time axis
ALARM_STATES = ("low_alarm", "high_alarm")
# Words and whole sentences put together with values (translation.py): the outputs an alarm must drive.
OUTPUT_WORDS = {"valve": N_("valve"), "fan": N_("fan"), "sounder": N_("sounder")}
NOT_ACTED = {"valve": N_("valve not closed within %g s of the alarm"), "fan": N_("fan not on within %g s of the alarm"),
             "sounder": N_("sounder not on within %g s of the alarm")}


def judge_bump(entry: dict) -> list[str]:
    """What fails a bump test entry against its limits (empty: passed)."""
    if "samples" not in entry:
        return list(entry.get("problems", [])) or [_("not run")]  # stopped before the gas (problems say why)
    failures = []
    limits = entry["limits_s"]
    label = state_word(entry["expected"])
    alarm_s = entry.get("time_to_alarm_s")
    if alarm_s is None:
        failures.append(_("no %(alarm)s within %(limit)g s of the test gas")
                        % {"alarm": label, "limit": limits["time_to_alarm"]})
    elif alarm_s > limits["time_to_alarm"]:
        failures.append(_("%(alarm)s after %(seconds).1f s, limit %(limit)g s")
                        % {"alarm": label, "seconds": alarm_s, "limit": limits["time_to_alarm"]})
    recovery_s = entry.get("recovery_s")
    if alarm_s is not None or entry.get("any_alarm"):
        if recovery_s is None:
            failures.append(_("not back to normal within %g s of removing the gas") % limits["recovery"])
        elif recovery_s > limits["recovery"]:
            failures.append(_("back to normal after %(seconds).1f s, limit %(limit)g s")
                            % {"seconds": recovery_s, "limit": limits["recovery"]})
    for output, check in sorted((entry.get("linkage") or {}).items()):
        if not check.get("ok", True):
            failures.append(check.get("why") or _("%(output)s did not act within %(limit)g s") % {
                "output": named(OUTPUT_WORDS, output),
                "limit": check.get("budget_s", 0)})
    failures.extend(entry.get("problems", []))
    return failures


def expected_alarm(gas_pct: float, low: float, high: float) -> str | None:
    """The alarm a test gas must give: high at or above the high set point, low between, None below."""
    if gas_pct >= high:
        return "high_alarm"
    if gas_pct >= low:
        return "low_alarm"
    return None


class Trace:
    """One detector's samples during a test: [t_s from the gas applied, %LEL, state], on change and every second."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.samples: list[list] = []
        self._last: tuple | None = None
        self._last_t = 0.0

    def add(self, t: float, pct: float | None, state: str | None) -> None:
        key = (pct, state)
        if key == self._last and t - self._last_t < TRACE_KEEPALIVE_S:
            return
        self.samples.append([round(t - self.t0, 3), pct, state])
        self._last = key
        self._last_t = t


class LinkageWatch:
    """The outputs a gas alarm must drive, first seen after the alarm, and the valve's own confirmation."""

    def __init__(self, facts: UnitFacts, name: str, expected: str):
        self.facts = facts
        self.expected_outputs = ["fan", "sounder"] + (["valve"] if expected == "high_alarm" else [])
        self.valve_budget_s = LIMITS_S["linkage"] + facts.confirmation_timeout_s(name)
        self.alarm_t: float | None = None
        self.seen: dict[str, float] = {}
        self.closed_t: float | None = None  # the closed limit switch, when the status reports inputs
        self.valve_fault = ""
        self.inputs_reported = False
        self.already_on: list[str] = []

    def before(self, status: dict) -> None:
        """The outputs before the gas: a fan still running on from an earlier alarm proves nothing now."""
        outputs = status.get("outputs", {})
        self.already_on = [name for name in ("fan", "sounder") if outputs.get(name)]

    def update(self, t: float, status: dict) -> None:
        if self.alarm_t is None:
            return
        outputs = status.get("outputs", {})
        if "fan" not in self.seen and outputs.get("fan"):
            self.seen["fan"] = t
        if "sounder" not in self.seen and outputs.get("sounder"):
            self.seen["sounder"] = t
        if "valve" not in self.seen and valve_commanded_closed(status, self.facts):
            self.seen["valve"] = t
        closed = feedback(status, "valve_feedback_closed")
        if closed is not None:
            self.inputs_reported = True
            if closed and self.closed_t is None and "valve" in self.seen:
                self.closed_t = t
        if status.get("valve_fault") and not self.valve_fault:
            self.valve_fault = status["valve_fault"]

    def outputs_done(self) -> bool:
        return all(output in self.seen for output in self.expected_outputs)

    def valve_settled(self, now: float) -> bool:
        """True once the valve's closing is known: closed switch, a valve fault, or its travel time passed."""
        closed_from = self.seen.get("valve")
        if closed_from is None or self.valve_fault or self.closed_t is not None:
            return True  # never commanded (result() says so), or its closing already known
        if self.facts.valve_feedback in (None, "none"):
            return True  # nothing to wait for: the person is asked
        return now - closed_from >= supervision_s(self.facts)

    def result(self, prompter: Prompter, name: str) -> dict:
        out = {}
        for output in self.expected_outputs:
            budget = self.valve_budget_s if output == "valve" else LIMITS_S["linkage"]
            t = self.seen.get(output)
            seconds = None if t is None or self.alarm_t is None else round(max(0.0, t - self.alarm_t), 3)
            ok = seconds is not None and seconds <= budget
            check = {"s": seconds, "budget_s": budget, "ok": ok, "source": "controller outputs"}
            if output in self.already_on:
                check["note"] = _("already on before the test gas (run-on or continuous): not proven by this alarm")
            if not ok:
                check["why"] = (_(NOT_ACTED[output]) % budget if seconds is None else
                                _("%(output)s acted %(seconds).2f s after the alarm, limit %(limit)g s")
                                % {"output": _(OUTPUT_WORDS[output]), "seconds": seconds, "limit": budget})
            out[output] = check
        if "valve" in self.seen:
            out["valve_closed"] = self._valve_closed(prompter, name)
        return out

    def _valve_closed(self, prompter: Prompter, name: str) -> dict:
        travel_s = self.facts.travel_s
        if self.valve_fault:
            return {"ok": False, "source": "controller valve supervision",
                    "why": _("valve fault: %s") % self.valve_fault}
        if self.closed_t is not None:
            seconds = round(self.closed_t - self.seen["valve"], 3)
            ok = travel_s is None or seconds <= travel_s
            check = {"s": seconds, "budget_s": travel_s, "ok": ok, "source": "closed limit switch"}
            if not ok:
                check["why"] = _("valve closed %(seconds).1f s after its command, longer than valve.travel_s "
                                 "%(limit)g s") % {"seconds": seconds, "limit": travel_s}
            return check
        if self.inputs_reported and self.facts.valve_feedback not in (None, "none"):
            return {"ok": False, "source": "closed limit switch",
                    "why": _("the valve's closed switch did not make within valve.travel_s")}
        if self.facts.valve_feedback not in (None, "none"):
            return {"ok": True, "budget_s": travel_s, "source": "controller valve supervision",
                    "note": _("no valve fault within valve.travel_s (the unit's status does not report the switch)")}
        ok = prompter.confirm("valve_closed.%s" % name, _("No valve feedback is wired: did the gas valve close?"))
        return {"ok": ok, "source": "installer", **({} if ok else {"why": _("the installer saw the valve stay open")})}


def _bump_unit(site: Site, name: str, gas_pct: float, inhibit_min: int | None) -> dict:
    """One detector's bump test with the unit running."""
    facts = site.facts
    prompter = site.prompter
    low, high = facts.set_points(name, site.record.data["detectors"].get(name))
    expected = expected_alarm(gas_pct, low, high)
    entry: dict[str, Any] = {
        "mode": "inhibit" if inhibit_min else "linkage", "source": "unit", "gas_pct_lel": gas_pct,
        "expected": expected, "set_points_pct_lel": [low, high],
        "limits_s": {"time_to_alarm": LIMITS_S["time_to_alarm"], "recovery": LIMITS_S["recovery"],
                     "linkage": LIMITS_S["linkage"]},
        "problems": [],
    }
    state, _pct = detector_view(site.status(), name)
    if state != "normal":
        entry["problems"].append(_("%(name)s was %(state)s before the test: it must be normal")
                                 % {"name": name, "state": state_word(state)})
        return entry
    if inhibit_min:
        reply = site.link.request("inhibit", {"detector": name, "minutes": inhibit_min})
        if not reply.get("ok"):
            entry["problems"].append(_("the unit refused the inhibit: %s") % refusal_text(reply))
            return entry
        entry["inhibit"] = {"minutes": inhibit_min}
        prompter.say(_("%(name)s inhibited for %(minutes)d min: its alarm will not close the valve; the other "
                       "detectors stay live.") % {"name": name, "minutes": inhibit_min})
    else:
        site.arm(_("the valve must be open to see the gas alarm close it"))
    linkage = None if inhibit_min else LinkageWatch(facts, name, expected)
    if linkage is not None:
        linkage.before(site.status())
    try:
        t0 = prompter.act("apply_gas.%s" % name, _("Apply %(pct)g %%LEL test gas to %(name)s now (cap on the "
                                                   "sensor, gas flowing), then press Enter")
                          % {"pct": gas_pct, "name": name})
        trace = Trace(t0)
        times: dict[str, float] = {}
        tripped = {"valve": False, "inhibited": True}

        def seen(t: float, status: dict) -> None:
            state, pct = detector_view(status, name)
            trace.add(t, pct, state)
            if state in ALARM_STATES:
                times.setdefault("alarm", t)
            if state == "high_alarm":
                times.setdefault("high_alarm", t)
            if state == expected and linkage is not None and linkage.alarm_t is None:
                linkage.alarm_t = t
            if linkage is not None:
                linkage.update(t, status)
            if inhibit_min and not tripped["valve"] and status.get("latched") and valve_commanded_closed(status, facts):
                tripped["valve"] = True
                tripped["inhibited"] = name in (status.get("inhibits") or {})

        watcher = site.watcher()
        info = reading_info(name)
        found = watcher.until(lambda s: detector_view(s, name)[0] == expected or (
            expected == "low_alarm" and detector_view(s, name)[0] == "high_alarm"),
            LIMITS_S["time_to_alarm"], _("%s: time to alarm") % name, t0, seen, info)
        if found is not None and linkage is not None:
            linkage.alarm_t = linkage.alarm_t or found
            watcher.until(lambda s: linkage.outputs_done(), linkage.valve_budget_s + 1.0,
                          _("%s: valve, fan and sounder") % name, found, seen, info)
        t_removed = prompter.act("remove_gas.%s" % name, _("Remove the test gas from %s now, then press Enter") % name)
        entry["any_alarm"] = "alarm" in times
        # Recovery is the detector's (GB 50166: back within 60 s); normal comes after the controller's clear hold.
        recovered = watcher.until(lambda s: reads_clear(s, name), LIMITS_S["recovery"],
                                  _("%s: recovery") % name, t_removed, seen, info)
        back = watcher.until(lambda s: detector_view(s, name)[0] == "normal", LIMITS_S["recovery"],
                             _("%s: normal after the clear hold") % name, t_removed, seen, info)
        if linkage is not None and not linkage.valve_settled(time.monotonic()):
            watcher.until(lambda s: linkage.valve_settled(time.monotonic()), supervision_s(facts) + 1.0,
                          _("%s: valve closed? (no valve fault within valve.travel_s)") % name, None, seen)
    finally:
        if inhibit_min:
            reply = site.link.request("end_inhibit", {"detector": name})
            entry["inhibit"]["ended"] = bool(reply.get("ok"))
    entry["time_to_alarm_s"] = since(found, t0)
    entry["first_alarm_s"] = since(times.get("alarm"), t0)
    entry["high_alarm_s"] = since(times.get("high_alarm"), t0)
    entry["gas_removed_s"] = round(t_removed - t0, 3)
    entry["recovery_s"] = since(recovered, t_removed)
    entry["normal_s"] = since(back, t_removed)
    entry["samples"] = trace.samples
    if linkage is not None and linkage.alarm_t is not None:
        entry["linkage"] = linkage.result(prompter, name)
    elif linkage is not None:
        entry["linkage"] = None
        entry["linkage_note"] = _("not tested: the detector gave no %s") % state_word(expected)
    else:
        entry["linkage"] = None
        entry["linkage_note"] = _("not tested: the detector was inhibited (maintenance bump test)")
        if tripped["valve"]:
            entry["problems"].append(_("the valve closed although %s was inhibited") % name if tripped["inhibited"]
                                     else _("the inhibit of %s ran out during the test and its alarm closed the valve")
                                     % name)
    if not inhibit_min and site.status().get("latched"):
        outcome = site.press_reset(_("the bump test of %s is over: reopen the gas") % name)
        entry["reset"] = outcome["state"]
    return entry


class BusDetector:
    """Stand-alone mode: one detector read straight off the bus through its profile, as the unit would."""

    def __init__(self, client: Any, name: str, entry: dict, gas: str, line: tuple[int, str, int]):
        self.client = client
        self.name = name
        self.address = int(entry["address"])
        self.line = line  # (baud, parity, stop_bits) it answers at, as scan recorded it
        self.profile = load_profile(entry["profile"])
        self.gas = gas
        self.poll_s = max(self.profile.min_poll_interval_ms or 0, C.DEFAULT_POLL_INTERVAL_MS) / 1000.0
        self.errors = 0
        self.last_ok = time.monotonic()

    def sample(self):
        blocks = []
        try:
            for function, address, count in self.profile.reads:
                blocks.append(self.client.read_registers(self.address, function, address, count))
        except BusError:
            self.errors += 1
            return None
        self.last_ok = time.monotonic()
        return self.profile.decode(blocks, self.gas)


def standalone_state(status: str, pct: float | None, low: float, high: float) -> str:
    """A detector's state from its own status and reading alone (no controller): what stand-alone mode times."""
    if status in ("high_alarm", "over_range") or (pct is not None and pct >= high):
        return "high_alarm"
    if status == "low_alarm" or (pct is not None and pct >= low):
        return "low_alarm"
    if status in ("fault", "calibration", "end_of_life"):
        return "fault"
    if status == "warmup":
        return "warmup"
    return "normal"


def _bump_bus(site: Site, detector: BusDetector, gas_pct: float) -> dict:
    """One detector's bump test straight on the bus: time to alarm and recovery from its own status and reading."""
    entry_rec = site.record.data["detectors"].get(detector.name, {})
    low, high = site.facts.set_points(detector.name, entry_rec)
    expected = expected_alarm(gas_pct, low, high)
    entry: dict[str, Any] = {
        "mode": "standalone", "source": "bus", "gas_pct_lel": gas_pct, "expected": expected,
        "set_points_pct_lel": [low, high],
        "limits_s": {"time_to_alarm": LIMITS_S["time_to_alarm"], "recovery": LIMITS_S["recovery"]},
        "linkage": None, "linkage_note": _("not tested: stand-alone on the bus, no controller"), "problems": [],
    }

    def probe() -> dict:
        sample = detector.sample()
        if sample is None:
            state = "comm_lost" if time.monotonic() - detector.last_ok > C.DEFAULT_COMM_LOST_AFTER_S else None
            return {"detectors": {detector.name: {"state": state, "concentration_centi_pct_lel": None}}}
        pct = None if sample.concentration_centi_pct_lel is None else sample.concentration_centi_pct_lel / 100.0
        return {"detectors": {detector.name: {
            "state": standalone_state(sample.status, pct, low, high),
            "concentration_centi_pct_lel": sample.concentration_centi_pct_lel, "device_status": sample.status}}}

    watcher = Watcher(site.console, probe, detector.poll_s)
    name = detector.name
    first = probe()
    if detector_view(first, name)[0] != "normal":
        entry["problems"].append(_("%(name)s was %(state)s before the test: it must be normal") % {
            "name": name, "state": state_word(detector_view(first, name)[0] or D.COMM_LOST)})
        return entry
    t0 = site.prompter.act("apply_gas.%s" % name, _("Apply %(pct)g %%LEL test gas to %(name)s now (cap on the "
                                                    "sensor, gas flowing), then press Enter")
                           % {"pct": gas_pct, "name": name})
    trace = Trace(t0)
    times: dict[str, float] = {}

    def seen(t: float, snapshot: dict) -> None:
        state, pct = detector_view(snapshot, name)
        if state is not None:
            trace.add(t, pct, state)
        if state in ALARM_STATES:
            times.setdefault("alarm", t)
        if state == "high_alarm":
            times.setdefault("high_alarm", t)

    info = reading_info(name)
    found = watcher.until(lambda s: detector_view(s, name)[0] in ((expected,) if expected == "high_alarm"
                                                                   else ALARM_STATES),
                          LIMITS_S["time_to_alarm"], _("%s: time to alarm") % name, t0, seen, info)
    t_removed = site.prompter.act("remove_gas.%s" % name,
                                  _("Remove the test gas from %s now, then press Enter") % name)
    recovered = watcher.until(lambda s: detector_view(s, name)[0] == "normal", LIMITS_S["recovery"],
                              _("%s: recovery") % name, t_removed, seen, info)
    entry.update({"time_to_alarm_s": since(found, t0), "first_alarm_s": since(times.get("alarm"), t0),
                  "high_alarm_s": since(times.get("high_alarm"), t0), "gas_removed_s": round(t_removed - t0, 3),
                  "recovery_s": since(recovered, t_removed), "any_alarm": "alarm" in times,
                  "samples": trace.samples, "bus_errors": detector.errors})
    return entry


BUMP_HELP = _("""Bump test: test gas at each detector in turn; times to alarm (limit %g s) and recovery after the
gas is removed (limit %g s), and with the unit running the valve, fan and sounder within %g s of the alarm.

\b
Modes:
  (default)     with the unit running (local control socket). Nothing is inhibited: each
                detector's alarm must really close the valve, start the fan and sound the
                sounder, so the test proves the whole chain. An inhibited detector cannot trip
                anything, so inhibiting the detector under test would hide exactly what is being
                proved; the other detectors stay live anyway. The valve must be open before each
                detector (the command asks for RESET) and closes on its alarm.
  --inhibit MIN maintenance bump test in a working kitchen: the detector under test is inhibited
                for MIN minutes (one at a time, only when it reads normal, never renewed, at most
                inhibit.max_minutes) so its alarm does not close the gas; the other detectors stay
                live and still trip. Times to alarm and recovery are measured from the detector's
                state in the unit's status; the linkage is not tested. The inhibit is ended after
                each detector (gas it still sees then trips at once).
  --port PATH   stand-alone on the bus (no unit, e.g. before the controller is installed): the
                detectors from the record (scan) are read through their profiles; time to alarm
                and recovery from each detector's own status and reading; no linkage.

\b
Questions [answers-file keys]: start, apply_gas.DETECTOR, remove_gas.DETECTOR,
valve_closed.DETECTOR (only without valve feedback), reopen_by_hand (pulse / hand-reopened valves).
Exit codes: 0 every detector passed, 1 a detector failed, 2 the test could not run.
""") % (LIMITS_S["time_to_alarm"], LIMITS_S["recovery"], LIMITS_S["linkage"])


@click.command("bump-test", help=BUMP_HELP)
@unit_options
@click.option("--detectors", "detector_list", help=_("Comma-separated detector names (default: every detector)."))
@click.option("--gas-pct", "gas_pct", type=click.FloatRange(1, 100), default=DEFAULT_GAS_PCT_LEL, show_default=True,
              help=_("Concentration of the test gas, %LEL: at or above the high set point the valve must close."))
@click.option("--inhibit", "inhibit_min", type=click.IntRange(1, C.HARD_INHIBIT_MAX_MIN),
              help=_("Maintenance mode: inhibit the detector under test for this many minutes (see above)."))
@click.option("--port", help=_("Stand-alone mode: the USB-RS485 adapter (no unit running)."))
@click.option("--baud", type=int,
              help=_("Stand-alone mode: line speed (default: the record's bus, else the profile's)."))
@interaction_options()
@click.pass_context
def bump_test(ctx: click.Context, socket_path: str | None, config_path: str | None, detector_list: str | None,
              gas_pct: float, inhibit_min: int | None, port: str | None, baud: int | None,
              answers_path: str | None, yes: bool) -> None:
    if port:
        _bump_test_on_bus(ctx, config_path, detector_list, gas_pct, port, baud, answers_path, yes)
    else:
        _bump_test_on_unit(ctx, socket_path, config_path, detector_list, gas_pct, inhibit_min, answers_path, yes)


def _bump_test_on_unit(ctx: click.Context, socket_path: str | None, config_path: str | None,
                       detector_list: str | None, gas_pct: float, inhibit_min: int | None, answers_path: str | None,
                       yes: bool) -> None:
    site = open_site(ctx, socket_path, config_path, answers_path, yes)
    status = site.status()
    names = chosen_detectors(detector_list, sorted(status.get("detectors", {})))
    if inhibit_min and inhibit_min > site.facts.inhibit_max_min:
        raise CommandStop("usage", _("--inhibit %(minutes)d is more than this unit's inhibit.max_minutes (%(max)d)")
                          % {"minutes": inhibit_min, "max": site.facts.inhibit_max_min},
                          _("give --inhibit %d or less") % site.facts.inhibit_max_min)
    _check_gas(site, names, gas_pct)
    question = (_("Bump test of %(detectors)s: each detector is inhibited in turn for %(minutes)d min (the gas stays "
                  "on; the others stay live). Start?") if inhibit_min else
                _("Bump test of %(detectors)s: each detector's alarm CLOSES the gas valve (burners go out) and sounds "
                  "the alarm; RESET reopens it. Start?"))
    entries = {}
    try:
        if not site.prompter.confirm("start", question % {"detectors": ", ".join(names), "minutes": inhibit_min}):
            raise CommandStop("declined", _("bump test not started"))
        for name in names:
            site.prompter.say("")
            site.prompter.say("== %s ==" % name, "bold")
            entry = _bump_unit(site, name, gas_pct, inhibit_min)
            _keep_bump(site, name, entry)
            entries[name] = entry
    except ControlUnreachable as err:
        raise UnitLost(err) from None
    _finish_bump(site, entries)


def _check_gas(site: Site, names: list[str], gas_pct: float) -> None:
    for name in names:
        low, _high = site.facts.set_points(name, site.record.data["detectors"].get(name))
        if expected_alarm(gas_pct, low, _high) is None:
            raise CommandStop("usage", _("%(pct)g %%LEL test gas is below %(name)s's low set point (%(low)g %%LEL): "
                                         "it cannot alarm") % {"pct": gas_pct, "name": name, "low": low},
                              _("use a test gas above the set points (--gas-pct)"))


def _keep_bump(site: Site, name: str, entry: dict) -> None:
    failures = judge_bump(entry)
    entry["passed"] = not failures
    entry["failures"] = failures
    entry["answers"] = site.prompter.log
    site.prompter.log = []
    site.record.detector(name)["bump_tests"].append(dict(entry, utc=utc_now()))
    verdict = "%s: %s" % (name, _("PASS") if entry["passed"] else _("FAIL: %s") % "; ".join(failures))
    site.record.note("bump-test", verdict)
    site.record.save()
    site.prompter.say(verdict, "bold green" if entry["passed"] else "bold red")


def _finish_bump(site: Site, entries: dict) -> None:
    table = Table(title=_("Bump tests"))
    for column in (_("detector"), _("time to alarm (s)"), _("recovery (s)"), _("linkage (s)"), _("result")):
        table.add_column(column)
    for name, entry in entries.items():
        linkage = entry.get("linkage")
        if linkage:
            times = [check.get("s") for key, check in sorted(linkage.items()) if key != "valve_closed"]
            seen = [t for t in times if t is not None]
            link_text = _("max %.2f") % max(seen) if seen else "-"
        else:
            link_text = _("not tested")
        table.add_row(name, seconds_text(entry.get("time_to_alarm_s")), seconds_text(entry.get("recovery_s")),
                      link_text, _("PASS") if entry["passed"] else _("FAIL: %s") % "; ".join(entry["failures"]))
    site.console.print(table)
    passed = all(entry["passed"] for entry in entries.values())
    summary = {name: {k: v for k, v in entry.items() if k not in ("samples", "answers")}
               for name, entry in entries.items()}
    finish(site.ctx, {"command": "bump-test", "detectors": summary, "passed": passed},
           _("bump test: every detector passed") if passed else _("bump test: FAILED"),
           EXIT_OK if passed else EXIT_FAILED)


def _bump_test_on_bus(ctx: click.Context, config_path: str | None, detector_list: str | None, gas_pct: float,
                      port: str, baud: int | None, answers_path: str | None, yes: bool) -> None:
    prompter = make_prompter(ctx, answers_path, yes)
    try:
        facts = UnitFacts.load(config_path) if config_path else UnitFacts()
    except ConfigError as err:
        raise config_refused(config_path, err) from None
    site = Site(ctx, prompter, facts, None)
    recorded = site.record.data["detectors"]
    modbus = sorted(name for name, entry in recorded.items()
                    if "address" in entry and entry.get("profile") not in (None, "", "unknown"))
    names = chosen_detectors(detector_list, modbus)
    bus = site.record.data.get("bus") or {}
    parity = bus.get("parity", "N")
    stop_bits = bus.get("stop_bits", 1)
    try:
        client = BusClient(port, baud or bus.get("baud") or 9600, parity, stop_bits)
    except BusError as err:
        raise CommandStop(err.kind, err.message, err.hint) from None
    entries = {}
    with client:
        detectors = []
        for name in names:
            entry = recorded[name]
            line = (baud or entry.get("baud") or bus.get("baud") or 9600, entry.get("parity") or parity,
                    entry.get("stop_bits") or stop_bits)
            try:
                detectors.append(BusDetector(client, name, entry, entry.get("gas") or "methane", line))
            except ProfileError as err:
                raise CommandStop("profile", _("%(name)s: profile %(profile)s: %(error)s")
                                  % {"name": name, "profile": entry["profile"], "error": err},
                                  _("run gaslatch commission scan again, or fix the record's profile")) from None
        _check_gas(site, names, gas_pct)
        if not prompter.confirm("start", _("Stand-alone bump test of %(detectors)s on %(port)s (no controller: "
                                           "nothing closes). Start?") % {"detectors": ", ".join(names), "port": port}):
            raise CommandStop("declined", _("bump test not started"))
        for detector in detectors:
            prompter.say("")
            prompter.say(_("== %(name)s (address %(address)d, %(line)s) ==") % {
                "name": detector.name, "address": detector.address, "line": "%d %s %d" % detector.line}, "bold")
            client.reconfigure(*detector.line)
            entry = _bump_bus(site, detector, gas_pct)
            _keep_bump(site, detector.name, entry)
            entries[detector.name] = entry
    _finish_bump(site, entries)


