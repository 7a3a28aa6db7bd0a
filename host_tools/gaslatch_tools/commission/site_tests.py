"""Site tests with the unit running: bump-test, valve-test, interlock-test.

Each one proves on site, against record.LIMITS_S, that gas, the valve and the interlocks act as the
standards ask, and keeps what it measured (times, samples, answers) in the commissioning record.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, TextIO

import click
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from gaslatch.core import constants as C
from gaslatch.core.config import ConfigError
from gaslatch.core.config_schema import DEFAULT_CONTROL_GROUP, DEFAULT_CONTROL_SOCKET
from gaslatch_tools.commission.cli import EXIT_FAILED, EXIT_OK, commission, fail, finish
from gaslatch_tools.commission.record import LIMITS_S, Record, RecordError, utc_now
from gaslatch_tools.control_client import ControlClient, ControlUnreachable

DEFAULT_UNIT_CONFIG = "/etc/gaslatch/config.json"
DEFAULT_GAS_PCT_LEL = 50.0  # a common bump gas: 2.5 %vol methane, above every allowed high set point
POLL_S = 0.05  # the unit's status, asked this often (the scan answers once per scan.period_ms)
TRACE_KEEPALIVE_S = 1.0  # an unchanged reading is still recorded this often, so a plot has its time axis
PERSON_WAIT_S = 300.0  # how long a command waits for the person to operate an input or a line
RESET_GRACE_S = 15.0  # the reset's outcome may come a little after its window
RESTART_WAIT_S = 60.0  # a unit that lost power (backup test) or restarts gets this long to answer again
POWER_OBSERVE_S = 10.0  # the unit must keep running this long on backup power
INHIBIT_DEFAULT_MIN = 10  # alarm (30 s) + recovery (60 s) + the person's time, well inside one inhibit
STATUS_TIMEOUT_S = 5.0
ALARM_STATES = ("low_alarm", "high_alarm")
UNHEALTHY_STATES = ("fault", "comm_lost")

YES_WORDS = ("y", "yes", "true", "1", "ok", "是", "对")
NO_WORDS = ("n", "no", "false", "0", "否", "不")


# ---- the person on site, or the answers that stand in for them ----

class PromptError(Exception):
    """A question nobody answered: standard input closed, or --answers has no usable answer for it."""


def parse_answers(text: str, source: str = "answers") -> list | dict:
    """An answers file (JSON or YAML): a list of answers taken in order, or a map question key -> answer.

    Answers are scalars (yes/no, text, numbers, null). Raises PromptError naming what is wrong.
    """
    try:
        doc = json.loads(text)  # first: PyYAML reads JSON's surrogate-pair escapes (\ud83d\ude00) as two characters
    except ValueError:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise PromptError("%s is not JSON or YAML: %s" % (source, str(err).splitlines()[0])) from None
    if doc is None:
        return []
    if isinstance(doc, list):
        for index, value in enumerate(doc):
            if not _scalar(value):
                raise PromptError("%s[%d]: an answer is yes/no, a number or text, not %s"
                                  % (source, index, type(value).__name__))
        return doc
    if isinstance(doc, dict):
        for key in sorted(doc, key=str):
            if not isinstance(key, str):
                raise PromptError("%s: question keys are text (e.g. apply_gas.hood1), not %r" % (source, key))
            if not _scalar(doc[key]):
                raise PromptError("%s.%s: an answer is yes/no, a number or text, not %s"
                                  % (source, key, type(doc[key]).__name__))
        return doc
    raise PromptError("%s: expected a list of answers or a map of question keys to answers" % source)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def yes_no(value: Any) -> bool | None:
    """An answer as yes (True) / no (False), or None when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES_WORDS:
        return True
    if text in NO_WORDS:
        return False
    return None


class Prompter:
    """Instructions and questions for the person on site, or answered by --answers FILE / --yes.

    Every question has a key (apply_gas.hood1, reopen_refused...): the key of a map in the answers file;
    a list of answers is taken in order. Everything asked and answered is kept in `log` for the record.
    """

    def __init__(self, console: Console, answers: list | dict | None = None, yes: bool = False,
                 stdin: TextIO | None = None, source: str = "--answers"):
        self.console = console
        self.answers = list(answers) if isinstance(answers, list) else answers
        self.yes = yes
        self.stdin = stdin or sys.stdin
        self.source = source
        self.log: list[dict] = []

    def say(self, text: str, style: str = "") -> None:
        self.console.print(text, style=style or None, markup=False, highlight=False)

    def _scripted(self, key: str) -> tuple[bool, Any]:
        if isinstance(self.answers, dict):
            return (True, self.answers[key]) if key in self.answers else (False, None)
        if self.answers:
            return True, self.answers.pop(0)
        return False, None

    def _line(self, key: str, prompt: str) -> str:
        self.console.print(prompt, end="", markup=False, highlight=False)
        self.console.file.flush()
        line = self.stdin.readline()
        if not line:
            raise PromptError("no answer to %s: standard input is closed (answer with --yes or --answers FILE)" % key)
        return line.strip()

    def act(self, key: str, instruction: str) -> float:
        """The person does something, then says so; returns when they did (monotonic seconds)."""
        self.say("→ " + instruction, "bold")
        found, _value = self._scripted(key)
        if found or self.yes:
            self.say("  (%s: going on)" % (self.source if found else "--yes"))
        else:
            self._line(key, "  press Enter when done ")
        self.log.append({"key": key, "answer": "done"})
        return time.monotonic()

    def confirm(self, key: str, question: str) -> bool:
        found, value = self._scripted(key)
        if found:
            answer = yes_no(value)
            if answer is None:
                raise PromptError("%s: the answer to %s must be yes or no, not %r" % (self.source, key, value))
            self.say("%s %s (%s)" % (question, "yes" if answer else "no", self.source))
        elif self.yes:
            answer = True
            self.say("%s yes (--yes)" % question)
        else:
            while True:
                answer = yes_no(self._line(key, question + " [y/n] "))
                if answer is not None:
                    break
                self.say("  please answer y or n")
        self.log.append({"key": key, "question": question, "answer": answer})
        return answer

    def ask(self, key: str, question: str, default: str) -> str:
        """Free text; an empty answer (or --yes) takes the default."""
        found, value = self._scripted(key)
        if found:
            text = default if value is None else str(value)
            self.say("%s %s (%s)" % (question, text, self.source))
        elif self.yes:
            text = default
            self.say("%s %s (--yes)" % (question, text))
        else:
            text = self._line(key, "%s [%s] " % (question, default)) or default
        self.log.append({"key": key, "question": question, "answer": text})
        return text


def make_prompter(ctx: click.Context, answers_path: str | None, yes: bool) -> Prompter:
    """The prompter of a command run: prompts on stderr when stdout carries --json."""
    console = Console(stderr=bool(ctx.obj["json"]), highlight=False)
    answers = None
    if answers_path:
        try:
            with open(answers_path, encoding="utf-8") as handle:
                answers = parse_answers(handle.read(), answers_path)
        except OSError as err:
            fail(ctx, "answers", "cannot read the answers file %s: %s" % (answers_path, err.strerror or err),
                 "give the path of a JSON or YAML file with the answers")
        except PromptError as err:
            fail(ctx, "answers", str(err), "see the command's --help for the question keys")
    return Prompter(console, answers, yes, source=answers_path or "--answers")


def interaction_options(command: Callable) -> Callable:
    """--answers FILE and --yes on a command."""
    command = click.option("--yes", is_flag=True,
                           help="Answer yes to every question and go on after every instruction at once.")(command)
    return click.option("--answers", "answers_path", type=click.Path(dir_okay=False),
                        help="JSON or YAML answers: a list taken in order, or a map of question keys "
                             "(shown in brackets in the help) to answers.")(command)


# ---- the unit: its configuration and its control socket ----

class UnitFacts:
    """What the unit's configuration says about set points, valve, fan and interlocks (defaults without one)."""

    def __init__(self, cfg: dict | None = None, path: str | None = None):
        self.cfg = cfg
        self.path = path

    @classmethod
    def load(cls, path: str | None) -> UnitFacts:
        """From --config, else /etc/gaslatch/config.json when it is readable, else defaults."""
        from gaslatch.unit.unit_config import load_unit_config

        if path is None:
            if not os.access(DEFAULT_UNIT_CONFIG, os.R_OK):
                return cls()
            path = DEFAULT_UNIT_CONFIG
        cfg, _profiles = load_unit_config(path)
        return cls(cfg, path)

    def _get(self, section: str, key: str, default: Any) -> Any:
        return self.cfg[section][key] if self.cfg else default

    @property
    def socket(self) -> str:
        return self._get("control", "socket", DEFAULT_CONTROL_SOCKET)

    @property
    def group(self) -> str:
        return self._get("control", "group", DEFAULT_CONTROL_GROUP)

    @property
    def valve_type(self) -> str:
        return self._get("valve", "type", "hold")

    @property
    def valve_feedback(self) -> str | None:
        """none / closed / both; None when no configuration says."""
        return self._get("valve", "feedback", None)

    @property
    def travel_s(self) -> float | None:
        return self._get("valve", "travel_s", None)

    @property
    def reopened_by_hand(self) -> bool:
        """A valve a person must also re-open at the valve after a reset (pulse, or hold with manual re-open)."""
        return self.valve_type == "pulse" or self._get("valve", "startup", "") == "auto_arm_external_manual_valve"

    @property
    def fan_proving(self) -> bool:
        return bool(self._get("fan", "proving", False))

    @property
    def proving_grace_s(self) -> float:
        return self._get("fan", "proving_grace_s", C.DEFAULT_FAN_PROVING_GRACE_S)

    def interlock_enabled(self, key: str) -> bool | None:
        return self.cfg["interlocks"][key] if self.cfg else None

    @property
    def inhibit_max_min(self) -> int:
        return self._get("inhibit", "max_minutes", C.DEFAULT_INHIBIT_MAX_MIN)

    @property
    def manual_reset_start(self) -> bool:
        return self._get("valve", "startup", "manual_reset") == "manual_reset"

    def set_points(self, name: str, record_entry: dict | None = None) -> tuple[float, float]:
        """(low, high) %LEL of a detector: the unit's config, else the record, else the defaults."""
        if self.cfg and name in self.cfg["detectors"]:
            det = self.cfg["detectors"][name]
            return float(det["low_alarm_pct_lel"]), float(det["high_alarm_pct_lel"])
        entry = record_entry or {}
        low = entry.get("low_alarm_pct_lel", C.DEFAULT_LOW_ALARM_PCT_LEL)
        high = entry.get("high_alarm_pct_lel", C.DEFAULT_HIGH_ALARM_PCT_LEL)
        return float(low), float(high)

    def confirmation_timeout_s(self, name: str) -> float:
        """How long a lone high alarm may wait for a second detector of its zone (0 without confirmation)."""
        if not self.cfg or name not in self.cfg["detectors"]:
            return 0.0
        zone = self.cfg["zones"].get(self.cfg["detectors"][name]["zone"]) or {}
        return float(zone["two_detector_timeout_s"]) if zone.get("two_detector_confirmation") else 0.0


class UnitLink:
    """The unit's control socket: status snapshots and commands, reconnecting after a restart."""

    def __init__(self, path: str, group: str):
        self.path = path
        self.group = group
        self._client: ControlClient | None = None

    def _connect(self) -> ControlClient:
        if self._client is None:
            self._client = ControlClient(self.path, self.group, timeout_s=STATUS_TIMEOUT_S)
        return self._client

    def request(self, cmd: str, args: dict | None = None) -> dict:
        try:
            return self._connect().request(cmd, args)
        except ControlUnreachable:
            self.close()
            raise

    def status(self) -> dict:
        reply = self.request("status")
        if not reply.get("ok"):
            raise ControlUnreachable("gaslatch refused status: %s" % reply.get("error", reply))
        return reply["status"] if isinstance(reply.get("status"), dict) else reply

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def detector_view(status: dict, name: str) -> tuple[str | None, float | None]:
    """(state, reading %LEL) of one detector in a status snapshot."""
    det = status.get("detectors", {}).get(name) or {}
    centi = det.get("concentration_centi_pct_lel")
    return det.get("state"), (None if centi is None else centi / 100.0)


def valve_commanded_closed(status: dict, facts: UnitFacts) -> bool:
    """The controller has the valve closed: latched, and for a hold or motorised valve its line de-energised."""
    if not status.get("latched"):
        return False
    return facts.valve_type == "pulse" or not status.get("outputs", {}).get("valve", False)


def feedback(status: dict, line: str) -> bool | None:
    """An input line's level when the unit's status reports its inputs, else None."""
    inputs = status.get("inputs")
    if not isinstance(inputs, dict) or line not in inputs:
        return None
    return bool(inputs[line])


def valve_feedback_open(status: dict) -> bool | None:
    opened = feedback(status, "valve_feedback_open")
    if opened is not None:
        return opened
    closed = feedback(status, "valve_feedback_closed")
    return None if closed is None else not closed


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


class Watcher:
    """Polls a probe (the unit's status, or a detector on the bus) and shows the wait against its limit."""

    def __init__(self, console: Console, probe: Callable[[], dict], poll_s: float = POLL_S):
        self.console = console
        self.probe = probe
        self.poll_s = poll_s
        self.last: dict = {}

    def until(self, done: Callable[[dict], bool], limit_s: float, label: str, start: float | None = None,
              seen: Callable[[float, dict], None] | None = None,
              info: Callable[[dict], str] | None = None) -> float | None:
        """Monotonic time of the first snapshot where done() holds, or None once limit_s has passed since start."""
        start = time.monotonic() if start is None else start
        columns = (TextColumn("{task.description}"), BarColumn(bar_width=30),
                   TextColumn("{task.fields[elapsed]:>6.1f} s / {task.total:g} s  {task.fields[info]}"))
        with Progress(*columns, console=self.console, transient=False) as progress:
            task = progress.add_task(label, total=limit_s, elapsed=0.0, info="")
            while True:
                asked = time.monotonic()
                snapshot = self.probe()
                now = time.monotonic()
                self.last = snapshot
                if seen is not None:
                    seen(now, snapshot)
                elapsed = now - start
                progress.update(task, completed=min(elapsed, limit_s), elapsed=elapsed,
                                info=info(snapshot) if info else "")
                if done(snapshot):
                    return now
                if elapsed >= limit_s:
                    return None
                time.sleep(max(0.0, self.poll_s - (time.monotonic() - asked)))


def reading_info(name: str) -> Callable[[dict], str]:
    def info(status: dict) -> str:
        state, pct = detector_view(status, name)
        return "%s: %s, %s %%LEL" % (name, (state or "?").replace("_", " "), "-" if pct is None else "%.2f" % pct)
    return info


class Site:
    """One command run on site: the console, the prompter, the unit's facts and socket, and the record."""

    def __init__(self, ctx: click.Context, prompter: Prompter, facts: UnitFacts, link: UnitLink | None):
        self.ctx = ctx
        self.prompter = prompter
        self.console = prompter.console
        self.facts = facts
        self.link = link
        try:
            self.record = Record.load(ctx.obj["record"])
        except RecordError as err:
            fail(ctx, "record", str(err), "give another --record file, or move the damaged one away")

    def status(self) -> dict:
        assert self.link is not None
        return self.link.status()

    def watcher(self) -> Watcher:
        return Watcher(self.console, self.status)

    def save(self) -> None:
        try:
            self.record.save()
        except RecordError as err:
            fail(self.ctx, "record", str(err), "check the folder's free space and permissions")

    def press_reset(self, why: str) -> dict:
        """Asks the person to press RESET on the controller and waits for the outcome.

        Returns {"state": accepted | refused | expired | not_needed, "reasons": [...], "at": monotonic s}.
        """
        if not self.status().get("latched"):
            return {"state": "not_needed", "at": time.monotonic()}
        assert self.link is not None
        with ControlClient(self.link.path, self.facts.group, timeout_s=STATUS_TIMEOUT_S) as client:
            reply = client.request("reset")
            if not reply.get("ok"):
                return {"state": "refused", "reasons": reply.get("reasons") or [reply.get("error", "refused")],
                        "at": time.monotonic()}
            if reply.get("state") != "waiting_for_button":
                return {"state": reply.get("state", "?"), "at": time.monotonic()}
            window_s = float(reply.get("window_s", 60))
            self.prompter.say("→ Press the RESET button on the controller now (within %d s): %s" % (window_s, why),
                              "bold")
            outcome: dict = {}

            def pushed(_status: dict) -> bool:
                message = client.poll(0.01)
                if message is not None and "state" in message:
                    outcome.update(message)
                return bool(outcome) or not _status.get("latched", True)

            found = self.watcher().until(pushed, window_s + RESET_GRACE_S, "waiting for RESET")
        if not outcome:
            outcome = {"state": "accepted"} if found is not None else {"state": "expired"}
        outcome["at"] = found if found is not None else time.monotonic()
        return outcome

    def arm(self, why: str) -> None:
        """The valve open before a test that must see it close; stops the command if it cannot be."""
        outcome = self.press_reset(why)
        if outcome["state"] in ("accepted", "not_needed"):
            if outcome["state"] == "accepted" and self.facts.reopened_by_hand:
                self.prompter.act("reopen_by_hand", "Re-open the valve by hand at the valve (it needs it after a "
                                                    "reset)")
            return
        reasons = "; ".join(outcome.get("reasons") or []) or outcome["state"]
        fail(self.ctx, "not_armed", "the valve must be open for this test, but the reset was %s: %s"
             % (outcome["state"], reasons),
             "clear what blocks the reset (gas, a fault, an interlock, outside attended hours) and press RESET")


def unit_options(command: Callable) -> Callable:
    """--socket and --config on a command that talks to the running unit."""
    command = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                           help="The unit's configuration (default %s when readable): set points, valve, fan, "
                                "interlocks and the control socket." % DEFAULT_UNIT_CONFIG)(command)
    return click.option("--socket", "socket_path", type=click.Path(dir_okay=False),
                        help="The unit's control socket (default: control.socket of --config, else %s)."
                             % DEFAULT_CONTROL_SOCKET)(command)


def open_site(ctx: click.Context, socket_path: str | None, config_path: str | None, answers_path: str | None,
              yes: bool) -> Site:
    """The site of a command that needs the running unit: stops with exit 2 when it cannot be reached."""
    prompter = make_prompter(ctx, answers_path, yes)
    try:
        facts = UnitFacts.load(config_path)
    except ConfigError as err:
        fail(ctx, "config", "the unit's configuration %s is not valid:\n%s" % (config_path or DEFAULT_UNIT_CONFIG, err),
             "give the configuration the unit runs with (--config), or fix it (gaslatch commission config validate)")
    link = UnitLink(socket_path or facts.socket, facts.group)
    site = Site(ctx, prompter, facts, link)
    try:
        site.status()
    except ControlUnreachable as err:
        fail(ctx, "unreachable", str(err), "run this on the unit (or with --socket), with gaslatch running")
    return site


def _unreachable(ctx: click.Context, err: ControlUnreachable) -> None:
    fail(ctx, "unreachable", "lost the unit during the test: %s" % err,
         "check the unit's power and journalctl -u gaslatch; the record keeps what was measured before")


def _prompt_failed(ctx: click.Context, err: PromptError) -> None:
    fail(ctx, "no_answer", str(err), "run it at a terminal, or give --yes / --answers FILE")


# ---- bump-test ----

def judge_bump(entry: dict) -> list[str]:
    """What fails a bump test entry against its limits (empty: passed)."""
    if "samples" not in entry:
        return list(entry.get("problems", [])) or ["not run"]  # stopped before the gas (problems say why)
    failures = []
    limits = entry["limits_s"]
    label = entry["expected"].replace("_", " ")
    alarm_s = entry.get("time_to_alarm_s")
    if alarm_s is None:
        failures.append("no %s within %g s of the test gas" % (label, limits["time_to_alarm"]))
    elif alarm_s > limits["time_to_alarm"]:
        failures.append("%s after %.1f s, limit %g s" % (label, alarm_s, limits["time_to_alarm"]))
    recovery_s = entry.get("recovery_s")
    if alarm_s is not None or entry.get("any_alarm"):
        if recovery_s is None:
            failures.append("not back to normal within %g s of removing the gas" % limits["recovery"])
        elif recovery_s > limits["recovery"]:
            failures.append("back to normal after %.1f s, limit %g s" % (recovery_s, limits["recovery"]))
    for output, check in sorted((entry.get("linkage") or {}).items()):
        if not check.get("ok", True):
            failures.append(check.get("why") or "%s did not act within %g s" % (output, check.get("budget_s", 0)))
    failures.extend(entry.get("problems", []))
    return failures


def expected_alarm(gas_pct: float, low: float, high: float) -> str | None:
    """The alarm a test gas must give: high at or above the high set point, low between, None below."""
    if gas_pct >= high:
        return "high_alarm"
    if gas_pct >= low:
        return "low_alarm"
    return None


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
        return now - closed_from >= _supervision_s(self.facts)

    def result(self, prompter: Prompter, name: str) -> dict:
        out = {}
        for output in self.expected_outputs:
            budget = self.valve_budget_s if output == "valve" else LIMITS_S["linkage"]
            t = self.seen.get(output)
            seconds = None if t is None or self.alarm_t is None else round(max(0.0, t - self.alarm_t), 3)
            ok = seconds is not None and seconds <= budget
            check = {"s": seconds, "budget_s": budget, "ok": ok, "source": "controller outputs"}
            if output in self.already_on:
                check["note"] = "already on before the test gas (run-on or continuous): not proven by this alarm"
            if not ok:
                check["why"] = ("%s not %s within %g s of the alarm" % (
                    output, "closed" if output == "valve" else "on", budget) if seconds is None else
                    "%s acted %.2f s after the alarm, limit %g s" % (output, seconds, budget))
            out[output] = check
        if "valve" in self.seen:
            out["valve_closed"] = self._valve_closed(prompter, name)
        return out

    def _valve_closed(self, prompter: Prompter, name: str) -> dict:
        travel_s = self.facts.travel_s
        if self.valve_fault:
            return {"ok": False, "source": "controller valve supervision",
                    "why": "valve fault: %s" % self.valve_fault}
        if self.closed_t is not None:
            seconds = round(self.closed_t - self.seen["valve"], 3)
            ok = travel_s is None or seconds <= travel_s
            check = {"s": seconds, "budget_s": travel_s, "ok": ok, "source": "closed limit switch"}
            if not ok:
                check["why"] = "valve closed %.1f s after its command, longer than valve.travel_s %g s" % (
                    seconds, travel_s)
            return check
        if self.inputs_reported and self.facts.valve_feedback not in (None, "none"):
            return {"ok": False, "source": "closed limit switch",
                    "why": "the valve's closed switch did not make within valve.travel_s"}
        if self.facts.valve_feedback not in (None, "none"):
            return {"ok": True, "budget_s": travel_s, "source": "controller valve supervision",
                    "note": "no valve fault within valve.travel_s (the unit's status does not report the switch)"}
        ok = prompter.confirm("valve_closed.%s" % name, "No valve feedback is wired: did the gas valve close?")
        return {"ok": ok, "source": "installer", **({} if ok else {"why": "the installer saw the valve stay open"})}


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
        entry["problems"].append("%s was %s before the test: it must be normal"
                                 % (name, (state or "?").replace("_", " ")))
        return entry
    if inhibit_min:
        reply = site.link.request("inhibit", {"detector": name, "minutes": inhibit_min})
        if not reply.get("ok"):
            entry["problems"].append("the unit refused the inhibit: %s" % reply.get("error", reply))
            return entry
        entry["inhibit"] = {"minutes": inhibit_min}
        prompter.say("%s inhibited for %d min: its alarm will not close the valve; the other detectors stay live."
                     % (name, inhibit_min))
    else:
        site.arm("the valve must be open to see the gas alarm close it")
    linkage = None if inhibit_min else LinkageWatch(facts, name, expected)
    if linkage is not None:
        linkage.before(site.status())
    try:
        t0 = prompter.act("apply_gas.%s" % name, "Apply %g %%LEL test gas to %s now (cap on the sensor, gas "
                          "flowing), then press Enter" % (gas_pct, name))
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
            LIMITS_S["time_to_alarm"], "%s: time to alarm" % name, t0, seen, info)
        if found is not None and linkage is not None:
            linkage.alarm_t = linkage.alarm_t or found
            watcher.until(lambda s: linkage.outputs_done(), linkage.valve_budget_s + 1.0,
                          "%s: valve, fan and sounder" % name, found, seen, info)
        t_removed = prompter.act("remove_gas.%s" % name, "Remove the test gas from %s now, then press Enter" % name)
        entry["any_alarm"] = "alarm" in times
        recovered = watcher.until(lambda s: detector_view(s, name)[0] == "normal", LIMITS_S["recovery"],
                                  "%s: recovery" % name, t_removed, seen, info)
        if linkage is not None and not linkage.valve_settled(time.monotonic()):
            watcher.until(lambda s: linkage.valve_settled(time.monotonic()), _supervision_s(facts) + 1.0,
                          "%s: valve closed? (no valve fault within valve.travel_s)" % name, None, seen)
    finally:
        if inhibit_min:
            reply = site.link.request("end_inhibit", {"detector": name})
            entry["inhibit"]["ended"] = bool(reply.get("ok"))
    entry["time_to_alarm_s"] = _since(found, t0)
    entry["first_alarm_s"] = _since(times.get("alarm"), t0)
    entry["high_alarm_s"] = _since(times.get("high_alarm"), t0)
    entry["gas_removed_s"] = round(t_removed - t0, 3)
    entry["recovery_s"] = _since(recovered, t_removed)
    entry["samples"] = trace.samples
    if linkage is not None and linkage.alarm_t is not None:
        entry["linkage"] = linkage.result(prompter, name)
    elif linkage is not None:
        entry["linkage"] = None
        entry["linkage_note"] = "not tested: the detector gave no %s" % expected.replace("_", " ")
    else:
        entry["linkage"] = None
        entry["linkage_note"] = "not tested: the detector was inhibited (maintenance bump test)"
        if tripped["valve"]:
            entry["problems"].append("the valve closed although %s was inhibited" % name if tripped["inhibited"] else
                                     "the inhibit of %s ran out during the test and its alarm closed the valve" % name)
    if not inhibit_min and site.status().get("latched"):
        outcome = site.press_reset("the bump test of %s is over: reopen the gas" % name)
        entry["reset"] = outcome["state"]
    return entry


def _since(t: float | None, t0: float) -> float | None:
    return None if t is None else round(t - t0, 3)


class BusDetector:
    """Stand-alone mode: one detector read straight off the bus through its profile, as the unit would."""

    def __init__(self, client: Any, name: str, entry: dict, gas: str, line: tuple[int, str, int]):
        from gaslatch.core.detector_profile import load_profile

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
        from gaslatch_tools.commission.bus_client import BusError

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
        "linkage": None, "linkage_note": "not tested: stand-alone on the bus, no controller", "problems": [],
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
        entry["problems"].append("%s was %s before the test: it must be normal" % (
            name, (detector_view(first, name)[0] or "not answering").replace("_", " ")))
        return entry
    t0 = site.prompter.act("apply_gas.%s" % name, "Apply %g %%LEL test gas to %s now (cap on the sensor, gas "
                           "flowing), then press Enter" % (gas_pct, name))
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
                          LIMITS_S["time_to_alarm"], "%s: time to alarm" % name, t0, seen, info)
    t_removed = site.prompter.act("remove_gas.%s" % name, "Remove the test gas from %s now, then press Enter" % name)
    recovered = watcher.until(lambda s: detector_view(s, name)[0] == "normal", LIMITS_S["recovery"],
                              "%s: recovery" % name, t_removed, seen, info)
    entry.update({"time_to_alarm_s": _since(found, t0), "first_alarm_s": _since(times.get("alarm"), t0),
                  "high_alarm_s": _since(times.get("high_alarm"), t0), "gas_removed_s": round(t_removed - t0, 3),
                  "recovery_s": _since(recovered, t_removed), "any_alarm": "alarm" in times,
                  "samples": trace.samples, "bus_errors": detector.errors})
    return entry


BUMP_HELP = """Bump test: test gas at each detector in turn; times to alarm (limit %g s) and recovery after the
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
""" % (LIMITS_S["time_to_alarm"], LIMITS_S["recovery"], LIMITS_S["linkage"])


@commission.command("bump-test", help=BUMP_HELP)
@unit_options
@click.option("--detectors", "detector_list", help="Comma-separated detector names (default: every detector).")
@click.option("--gas-pct", "gas_pct", type=click.FloatRange(1, 100), default=DEFAULT_GAS_PCT_LEL, show_default=True,
              help="Concentration of the test gas, %LEL: at or above the high set point the valve must close.")
@click.option("--inhibit", "inhibit_min", type=click.IntRange(1, C.HARD_INHIBIT_MAX_MIN),
              help="Maintenance mode: inhibit the detector under test for this many minutes (see above).")
@click.option("--port", help="Stand-alone mode: the USB-RS485 adapter (no unit running).")
@click.option("--baud", type=int, help="Stand-alone mode: line speed (default: the record's bus, else the profile's).")
@interaction_options
@click.pass_context
def bump_test(ctx: click.Context, socket_path: str | None, config_path: str | None, detector_list: str | None,
              gas_pct: float, inhibit_min: int | None, port: str | None, baud: int | None,
              answers_path: str | None, yes: bool) -> None:
    if port:
        _bump_test_on_bus(ctx, config_path, detector_list, gas_pct, port, baud, answers_path, yes)
        return
    site = open_site(ctx, socket_path, config_path, answers_path, yes)
    status = site.status()
    names = _chosen(ctx, detector_list, sorted(status.get("detectors", {})))
    if inhibit_min and inhibit_min > site.facts.inhibit_max_min:
        fail(ctx, "usage", "--inhibit %d is more than this unit's inhibit.max_minutes (%d)"
             % (inhibit_min, site.facts.inhibit_max_min), "give --inhibit %d or less" % site.facts.inhibit_max_min)
    _check_gas(ctx, site, names, gas_pct)
    what = ("each detector is inhibited in turn for %d min (the gas stays on; the others stay live)" % inhibit_min
            if inhibit_min else "each detector's alarm CLOSES the gas valve (burners go out) and sounds the alarm; "
            "RESET reopens it")
    entries = {}
    try:
        if not site.prompter.confirm("start", "Bump test of %s: %s. Start?" % (", ".join(names), what)):
            fail(ctx, "declined", "bump test not started", "")
        for name in names:
            site.prompter.say("")
            site.prompter.say("== %s ==" % name, "bold")
            entry = _bump_unit(site, name, gas_pct, inhibit_min)
            _keep_bump(site, name, entry)
            entries[name] = entry
    except ControlUnreachable as err:
        _unreachable(ctx, err)
    except PromptError as err:
        _prompt_failed(ctx, err)
    _finish_bump(site, entries)


def _chosen(ctx: click.Context, detector_list: str | None, known: list[str]) -> list[str]:
    if not known:
        fail(ctx, "no_detectors", "no detectors to test", "run gaslatch commission scan first, or check the unit")
    if not detector_list:
        return known
    names = [name.strip() for name in detector_list.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        fail(ctx, "usage", "no detector named %s" % ", ".join(unknown), "detectors: %s" % ", ".join(known))
    return names


def _check_gas(ctx: click.Context, site: Site, names: list[str], gas_pct: float) -> None:
    for name in names:
        low, _high = site.facts.set_points(name, site.record.data["detectors"].get(name))
        if expected_alarm(gas_pct, low, _high) is None:
            fail(ctx, "usage", "%g %%LEL test gas is below %s's low set point (%g %%LEL): it cannot alarm"
                 % (gas_pct, name, low), "use a test gas above the set points (--gas-pct)")


def _keep_bump(site: Site, name: str, entry: dict) -> None:
    failures = judge_bump(entry)
    entry["passed"] = not failures
    entry["failures"] = failures
    entry["answers"] = site.prompter.log
    site.prompter.log = []
    site.record.detector(name)["bump_tests"].append(dict(entry, utc=utc_now()))
    site.record.note("bump-test", "%s: %s%s" % (name, "PASS" if entry["passed"] else "FAIL",
                                                "" if entry["passed"] else " (" + "; ".join(failures) + ")"))
    site.save()
    site.prompter.say("%s: %s" % (name, "PASS" if entry["passed"] else "FAIL: " + "; ".join(failures)),
                      "bold green" if entry["passed"] else "bold red")


def _finish_bump(site: Site, entries: dict) -> None:
    table = Table(title="Bump tests")
    for column in ("detector", "time to alarm (s)", "recovery (s)", "linkage (s)", "result"):
        table.add_column(column)
    for name, entry in entries.items():
        linkage = entry.get("linkage")
        if linkage:
            times = [check.get("s") for key, check in sorted(linkage.items()) if key != "valve_closed"]
            seen = [t for t in times if t is not None]
            link_text = "max %.2f" % max(seen) if seen else "-"
        else:
            link_text = "not tested"
        table.add_row(name, _fmt(entry.get("time_to_alarm_s")), _fmt(entry.get("recovery_s")), link_text,
                      "PASS" if entry["passed"] else "FAIL: " + "; ".join(entry["failures"]))
    site.console.print(table)
    passed = all(entry["passed"] for entry in entries.values())
    summary = {name: {k: v for k, v in entry.items() if k not in ("samples", "answers")}
               for name, entry in entries.items()}
    finish(site.ctx, {"command": "bump-test", "detectors": summary, "passed": passed},
           "bump test: %s" % ("every detector passed" if passed else "FAILED"), EXIT_OK if passed else EXIT_FAILED)


def _fmt(value: float | None) -> str:
    return "-" if value is None else "%.1f" % value


def _bump_test_on_bus(ctx: click.Context, config_path: str | None, detector_list: str | None, gas_pct: float,
                      port: str, baud: int | None, answers_path: str | None, yes: bool) -> None:
    from gaslatch.core.detector_profile import ProfileError
    from gaslatch_tools.commission.bus_client import BusClient, BusError

    prompter = make_prompter(ctx, answers_path, yes)
    try:
        facts = UnitFacts.load(config_path) if config_path else UnitFacts()
    except ConfigError as err:
        fail(ctx, "config", "the configuration %s is not valid:\n%s" % (config_path, err), "")
    site = Site(ctx, prompter, facts, None)
    recorded = site.record.data["detectors"]
    modbus = sorted(name for name, entry in recorded.items()
                    if "address" in entry and entry.get("profile") not in (None, "", "unknown"))
    names = _chosen(ctx, detector_list, modbus)
    bus = site.record.data.get("bus") or {}
    parity = bus.get("parity", "N")
    stop_bits = bus.get("stop_bits", 1)
    try:
        client = BusClient(port, baud or bus.get("baud") or 9600, parity, stop_bits)
    except BusError as err:
        fail(ctx, err.kind, err.message, err.hint)
    entries = {}
    try:
        with client:
            detectors = []
            for name in names:
                entry = recorded[name]
                line = (baud or entry.get("baud") or bus.get("baud") or 9600, entry.get("parity") or parity,
                        entry.get("stop_bits") or stop_bits)
                try:
                    detectors.append(BusDetector(client, name, entry, entry.get("gas") or "methane", line))
                except ProfileError as err:
                    fail(ctx, "profile", "%s: profile %s: %s" % (name, entry["profile"], err),
                         "run gaslatch commission scan again, or fix the record's profile")
            _check_gas(ctx, site, names, gas_pct)
            if not prompter.confirm("start", "Stand-alone bump test of %s on %s (no controller: nothing "
                                    "closes). Start?" % (", ".join(names), port)):
                fail(ctx, "declined", "bump test not started", "")
            for detector in detectors:
                prompter.say("")
                prompter.say("== %s (address %d, %d %s %d) ==" % ((detector.name, detector.address) + detector.line),
                             "bold")
                client.reconfigure(*detector.line)
                entry = _bump_bus(site, detector, gas_pct)
                _keep_bump(site, detector.name, entry)
                entries[detector.name] = entry
    except PromptError as err:
        _prompt_failed(ctx, err)
    _finish_bump(site, entries)


# ---- valve-test ----

VALVE_HELP = """Valve test: close the gas valve from the unit and time it; prove it cannot be reopened
without the manual reset; reset by hand and time the reopening.

\b
Steps: the valve must be open (the command asks for RESET if it is not); the unit closes it
(test_output valve = close); the command times the controller's command (limit %g s) and the
closed limit switch (limit valve.travel_s; without feedback in the unit's status the unit's
own valve supervision, which raises a valve fault after travel_s, stands for it; without any
feedback the installer is asked). A reset over the socket must wait for the RESET button; the
installer then tries to bring the gas back without RESET and says whether it stayed off; then
presses RESET and the reopening is timed.

\b
Questions [answers-file keys]: close_valve, valve_closed (only without feedback),
reopen_refused, reopen_by_hand (pulse / hand-reopened valves).
Exit codes: 0 passed, 1 a step failed, 2 the test could not run.
""" % LIMITS_S["linkage"]


@commission.command("valve-test", help=VALVE_HELP)
@unit_options
@interaction_options
@click.pass_context
def valve_test(ctx: click.Context, socket_path: str | None, config_path: str | None, answers_path: str | None,
               yes: bool) -> None:
    site = open_site(ctx, socket_path, config_path, answers_path, yes)
    try:
        entry = _valve_test(site)
    except ControlUnreachable as err:
        _unreachable(ctx, err)
    except PromptError as err:
        _prompt_failed(ctx, err)
    failures = entry["failures"]
    entry["passed"] = not failures
    entry["answers"] = site.prompter.log
    site.record.add("valve_tests", entry)
    site.record.note("valve-test", "PASS" if entry["passed"] else "FAIL (%s)" % "; ".join(failures))
    site.save()
    table = Table(title="Valve test")
    table.add_column("step")
    table.add_column("time (s)")
    for label, key in (("close command", "close_command_s"), ("closed", "closed_s"), ("reopen", "reopen_s")):
        table.add_row(label, _fmt(entry.get(key)))
    site.console.print(table)
    finish(ctx, dict(entry, command="valve-test"), "valve test: %s" % (
        "passed" if entry["passed"] else "FAILED: " + "; ".join(failures)), EXIT_OK if entry["passed"] else EXIT_FAILED)


def _valve_test(site: Site) -> dict:
    facts = site.facts
    prompter = site.prompter
    entry: dict[str, Any] = {"test": "valve", "valve_type": facts.valve_type, "feedback": facts.valve_feedback,
                             "travel_s": facts.travel_s, "limits_s": {"command": LIMITS_S["linkage"]}}
    failures: list[str] = []
    entry["failures"] = failures
    site.arm("the valve must be open to time its closing")
    if not prompter.confirm("close_valve", "The valve test CLOSES the gas valve now: burners go out until RESET. "
                                           "Close it?"):
        fail(site.ctx, "declined", "valve test not started", "")
    t0 = time.monotonic()
    reply = site.link.request("test_output", {"line": "valve", "ms": 1000})
    if not reply.get("ok"):
        fail(site.ctx, "refused", "the unit refused to close the valve: %s" % reply.get("error", reply), "")
    closing = ValveMove(facts, closed=True)
    site.watcher().until(closing.done, LIMITS_S["linkage"] + _supervision_s(facts) + 1.0, "valve closing", t0,
                         closing.seen)
    entry["close_command_s"] = _since(closing.command_t, t0)
    entry["closed_s"] = _since(closing.switch_t, t0)
    entry["closed_source"] = closing.source()
    failures.extend(closing.failures(prompter, "valve_closed", t0))
    # The socket alone must not reopen it: a reset request waits for the button.
    with ControlClient(site.link.path, facts.group, timeout_s=STATUS_TIMEOUT_S) as client:
        remote = client.request("reset")
    entry["socket_reset"] = remote.get("state") or ("refused" if not remote.get("ok") else "?")
    still = site.status()
    entry["remote_reopen_refused"] = remote.get("state") != "accepted" and bool(still.get("latched"))
    if not entry["remote_reopen_refused"]:
        failures.append("the valve reopened without the RESET button")
    stayed = prompter.confirm("reopen_refused", "Try to bring the gas back WITHOUT the RESET button (at the valve, "
                                                "at the appliances, or by switching the controller off and on). "
                                                "Did the gas stay off?")
    entry["reopen_without_reset_refused"] = stayed
    status = _wait_for_unit(site)
    if not stayed or not status.get("latched"):
        failures.append("the gas came back without the manual reset")
    outcome = site.press_reset("reopen the valve by hand (RESET)")
    entry["reset"] = outcome["state"]
    if outcome["state"] != "accepted":
        failures.append("the reset was %s: %s" % (outcome["state"], "; ".join(outcome.get("reasons") or [])))
        return entry
    if facts.reopened_by_hand:
        prompter.act("reopen_by_hand", "Re-open the valve by hand at the valve")
    opening = ValveMove(facts, closed=False)
    site.watcher().until(opening.done, LIMITS_S["linkage"] + _supervision_s(facts) + 1.0, "valve opening",
                         outcome["at"], opening.seen)
    entry["reopen_command_s"] = _since(opening.command_t, outcome["at"])
    entry["reopen_s"] = _since(opening.switch_t, outcome["at"])
    entry["reopen_source"] = opening.source()
    failures.extend(opening.failures(prompter, "valve_opened", outcome["at"]))
    return entry


class ValveMove:
    """One movement of the valve seen in the unit's status: the controller's command, then its limit switch."""

    def __init__(self, facts: UnitFacts, closed: bool):
        self.facts = facts
        self.closed = closed
        self.command_t: float | None = None
        self.switch_t: float | None = None
        self.fault = ""
        self.inputs_reported = False
        self.last_t = 0.0

    def seen(self, t: float, status: dict) -> None:
        self.last_t = t
        commanded = valve_commanded_closed(status, self.facts) if self.closed else (
            not status.get("latched") and (self.facts.valve_type == "pulse" or status.get("outputs", {}).get("valve")))
        if commanded and self.command_t is None:
            self.command_t = t
        position = feedback(status, "valve_feedback_closed") if self.closed else valve_feedback_open(status)
        if position is not None:
            self.inputs_reported = True
            if position and self.switch_t is None and self.command_t is not None:
                self.switch_t = t
        if status.get("valve_fault") and self.command_t is not None:
            self.fault = status["valve_fault"]

    def done(self, _status: dict) -> bool:
        if self.fault or self.switch_t is not None:
            return True
        if self.command_t is None:
            return False
        if self.facts.valve_feedback in (None, "none"):
            return True  # the installer is asked
        return not self.inputs_reported and self.last_t - self.command_t >= _supervision_s(self.facts)

    def source(self) -> str:
        if self.switch_t is not None:
            return "limit switch"
        if self.facts.valve_feedback not in (None, "none"):
            return "controller valve supervision"
        return "installer"

    def failures(self, prompter: Prompter, key: str, t0: float) -> list[str]:
        what = "closed" if self.closed else "open"
        out = []
        if self.command_t is None:
            out.append("the controller did not command the valve %s" % what)
            return out
        if self.closed and self.command_t - t0 > LIMITS_S["linkage"]:
            out.append("close command after %.1f s, limit %g s" % (self.command_t - t0, LIMITS_S["linkage"]))
        if self.fault:
            out.append("valve fault: %s" % self.fault)
        elif self.switch_t is not None:
            travel = self.facts.travel_s
            if travel is not None and self.switch_t - self.command_t > travel:
                out.append("valve %s after %.1f s, longer than valve.travel_s %g s"
                           % (what, self.switch_t - self.command_t, travel))
        elif self.inputs_reported and self.facts.valve_feedback not in (None, "none"):
            out.append("the valve's %s switch did not make within valve.travel_s" % what)
        elif self.facts.valve_feedback in (None, "none"):
            if not prompter.confirm(key, "No valve feedback is wired: is the gas valve %s?" % what):
                out.append("the installer saw the valve not %s" % what)
        return out


def _supervision_s(facts: UnitFacts) -> float:
    """How long after its command a valve that did not move shows as a valve fault (travel_s and a scan or so)."""
    return (facts.travel_s or C.DEFAULT_VALVE_TRAVEL_S) + 1.0


def _wait_for_unit(site: Site) -> dict:
    """The unit's status, waiting for it to come back if the person switched it off and on."""
    deadline = time.monotonic() + RESTART_WAIT_S
    while True:
        try:
            return site.status()
        except ControlUnreachable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


# ---- interlock-test ----

# test name -> (interlock in the status, the input line, config key enabling it, operate, restore)
INTERLOCKS = {
    "fire": ("fire_alarm", "fire_input", "fire_input",
             "Operate the fire alarm input now: have the fire panel signal (or open its contact at the unit)",
             "Restore the fire input now: reset the fire panel (or close the contact)"),
    "estop": ("emergency_stop", "estop_input", "estop_input",
              "Press the emergency stop now",
              "Release the emergency stop now"),
    "fan": ("ventilation", "fan_proven", None,
            "Stop the extract fan now (its isolator), or pull the pressure switch's tube: airflow must be lost",
            "Restore the extract fan now: airflow must be proven again"),
}
INTERLOCK_TESTS = ("fire", "estop", "fan", "power", "open-line")

INTERLOCK_HELP = """Interlock test: each safety input trips the gas, and a broken detector line shows as a fault.

\b
  fire       the fire alarm input (GB 50116 linkage)
  estop      the emergency stop
  fan        airflow proving, only with fan.proving (BS 6173: fan failure closes the gas)
             For each of these the installer operates the input; the command times the trip
             (valve commanded closed, limit %g s from the interlock) and the valve's closing,
             then asks to restore the input and press RESET; the gas must not come back alone.
  power      backup-power changeover (CJJ/T 146): mains off, the unit must keep running on its
             backup supply (watched %g s), confirmed by the installer; mains back on.
  open-line  disconnect a detector's line: the fault must show within %g s of its last reply
             (GB 16808 / GB 50166 commissioning limit); reconnect, RESET if it tripped.

\b
Default: the inputs the configuration enables (fire, estop, fan), then power and open-line.
Questions [answers-file keys]: mains_off, backup_running, mains_on, open_line.DETECTOR,
reconnect.DETECTOR, valve_closed (only without feedback), reopen_by_hand.
Operating an input needs no answer: the command watches the unit.
Exit codes: 0 all passed, 1 a test failed, 2 the test could not run.
""" % (LIMITS_S["linkage"], POWER_OBSERVE_S, LIMITS_S["open_line_fault"])


@commission.command("interlock-test", help=INTERLOCK_HELP)
@unit_options
@click.option("--only", help="Comma-separated tests to run: %s." % ", ".join(INTERLOCK_TESTS))
@click.option("--open-line-detector", "open_line_detector",
              help="Detector whose line is disconnected (default: the first one).")
@interaction_options
@click.pass_context
def interlock_test(ctx: click.Context, socket_path: str | None, config_path: str | None, only: str | None,
                   open_line_detector: str | None, answers_path: str | None, yes: bool) -> None:
    site = open_site(ctx, socket_path, config_path, answers_path, yes)
    tests = _interlock_tests(ctx, site.facts, only)
    detectors = sorted(site.status().get("detectors", {}))
    if "open-line" in tests:
        open_line_detector = _chosen(ctx, open_line_detector, detectors)[0]
    entries = []
    try:
        for test in tests:
            site.prompter.say("")
            site.prompter.say("== %s ==" % test, "bold")
            if test in INTERLOCKS:
                entry = _interlock(site, test)
            elif test == "power":
                entry = _backup_power(site)
            else:
                entry = _open_line(site, open_line_detector)
            entry["passed"] = not entry["failures"]
            entry["answers"] = site.prompter.log
            site.prompter.log = []
            site.record.add("interlock_tests", entry)
            site.record.note("interlock-test", "%s: %s" % (test, "PASS" if entry["passed"] else
                                                             "FAIL (%s)" % "; ".join(entry["failures"])))
            site.save()
            site.prompter.say("%s: %s" % (test, "PASS" if entry["passed"] else "FAIL: " + "; ".join(entry["failures"])),
                              "bold green" if entry["passed"] else "bold red")
            entries.append(entry)
    except ControlUnreachable as err:
        _unreachable(ctx, err)
    except PromptError as err:
        _prompt_failed(ctx, err)
    table = Table(title="Interlock tests")
    for column in ("test", "time (s)", "limit (s)", "result"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry["test"], _fmt(entry.get("measured_s")), _fmt(entry.get("limit_s")),
                      "PASS" if entry["passed"] else "FAIL: " + "; ".join(entry["failures"]))
    site.console.print(table)
    passed = all(entry["passed"] for entry in entries)
    finish(ctx, {"command": "interlock-test", "tests": [{k: v for k, v in e.items() if k != "answers"}
                                                        for e in entries], "passed": passed},
           "interlock test: %s" % ("every test passed" if passed else "FAILED"), EXIT_OK if passed else EXIT_FAILED)


def _interlock_tests(ctx: click.Context, facts: UnitFacts, only: str | None) -> list[str]:
    if only:
        tests = [test.strip() for test in only.split(",") if test.strip()]
        unknown = [test for test in tests if test not in INTERLOCK_TESTS]
        if unknown:
            fail(ctx, "usage", "no interlock test %s" % ", ".join(unknown), "tests: %s" % ", ".join(INTERLOCK_TESTS))
        return tests
    tests = []
    for test in ("fire", "estop"):
        if facts.interlock_enabled(INTERLOCKS[test][2]) is not False:
            tests.append(test)
    if facts.fan_proving:
        tests.append("fan")
    return tests + ["power", "open-line"]


def _interlock(site: Site, test: str) -> dict:
    interlock, line, _key, operate, restore = INTERLOCKS[test]
    facts = site.facts
    entry: dict[str, Any] = {"test": test, "interlock": interlock, "limit_s": LIMITS_S["linkage"], "failures": []}
    failures = entry["failures"]
    site.arm("the valve must be open to see the %s close it" % interlock.replace("_", " "))
    site.prompter.say("→ " + operate, "bold")
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
                          "waiting for the %s" % interlock.replace("_", " "), t_asked, seen)
    if found is None:
        failures.append("the unit never saw the %s within %g s" % (interlock.replace("_", " "), PERSON_WAIT_S))
        return entry
    watcher.until(closing.done, LIMITS_S["linkage"] + _supervision_s(facts) + 1.0, "valve closing", found, seen)
    entry["seen_after_instruction_s"] = _since(found, t_asked)
    entry["input_to_interlock_s"] = _since(found, times["input"]) if "input" in times else None
    entry["measured_s"] = entry["trip_s"] = _since(closing.command_t, found)
    entry["valve_closed_s"] = _since(closing.switch_t, found)
    entry["valve_source"] = closing.source()
    if test == "fan" and entry["input_to_interlock_s"] is not None:
        entry["proving_grace_s"] = facts.proving_grace_s
        if entry["input_to_interlock_s"] > facts.proving_grace_s + LIMITS_S["linkage"]:
            failures.append("ventilation interlock %.1f s after the airflow was lost, limit proving_grace_s %g s + %g s"
                            % (entry["input_to_interlock_s"], facts.proving_grace_s, LIMITS_S["linkage"]))
    failures.extend(closing.failures(site.prompter, "valve_closed", found))
    site.prompter.say("→ " + restore, "bold")
    t_restore = time.monotonic()
    cleared = watcher.until(lambda s: not s.get("interlocks", {}).get(interlock), PERSON_WAIT_S,
                            "waiting for the %s to clear" % interlock.replace("_", " "), t_restore)
    entry["cleared_after_instruction_s"] = _since(cleared, t_restore)
    if cleared is None:
        failures.append("the %s did not clear within %g s" % (interlock.replace("_", " "), PERSON_WAIT_S))
        return entry
    if not site.status().get("latched"):
        failures.append("the gas came back by itself when the %s cleared" % interlock.replace("_", " "))
    outcome = site.press_reset("the %s test is over: reopen the gas" % interlock.replace("_", " "))
    entry["reset"] = outcome["state"]
    if outcome["state"] not in ("accepted", "not_needed"):
        failures.append("reset %s after the test: %s" % (outcome["state"], "; ".join(outcome.get("reasons") or [])))
    return entry


def _backup_power(site: Site) -> dict:
    prompter = site.prompter
    entry: dict[str, Any] = {"test": "power", "observed_s": POWER_OBSERVE_S, "failures": []}
    before = site.status()
    scans_before = before.get("scan", {}).get("scans", 0)
    prompter.act("mains_off", "Switch the MAINS supply of the unit off (leave the backup battery / UPS "
                              "connected), then press Enter")
    t_off = time.monotonic()
    problems: list[str] = []
    latched = before.get("latched")

    def probe() -> dict:
        try:
            status = site.status()
        except ControlUnreachable as err:
            problems.append("the unit stopped answering on backup power: %s" % err)
            return {}
        if status.get("scan", {}).get("scans", 0) < scans_before:
            problems.append("the unit restarted at the changeover (its scan count started again)")
        if status.get("latched") != latched:
            problems.append("the latch changed at the changeover (%s -> %s)" % (
                "latched" if latched else "armed", "latched" if status.get("latched") else "armed"))
        return status

    Watcher(site.console, probe, 0.2).until(lambda s: bool(problems), POWER_OBSERVE_S, "on backup power", t_off)
    entry["unit_stayed_up"] = not problems
    running = prompter.confirm("backup_running", "Is the unit running on its backup supply (UPS / battery "
                                                 "indicator), with the alarm and the valve as before?")
    entry["backup_running_confirmed"] = running
    prompter.act("mains_on", "Switch the MAINS supply back on, then press Enter")
    try:
        _wait_for_unit(site)
    except ControlUnreachable as err:
        problems.append("the unit did not answer after the mains came back: %s" % err)
    entry["failures"] = sorted(set(problems)) + ([] if running else ["the installer did not confirm the backup supply"])
    return entry


def _open_line(site: Site, name: str) -> dict:
    limit_s = LIMITS_S["open_line_fault"]
    entry: dict[str, Any] = {"test": "open-line", "detector": name, "limit_s": limit_s, "failures": []}
    failures = entry["failures"]
    state, _ = detector_view(site.status(), name)
    if state != "normal":
        failures.append("%s was %s before the test: it must be normal" % (name, (state or "?").replace("_", " ")))
        return entry
    t_asked = site.prompter.act("open_line.%s" % name, "Disconnect %s's line now (unplug its RS-485 A/B or its "
                                                       "connector), then press Enter" % name)
    last_reply: dict[str, float] = {}
    trips: dict[str, float] = {}

    def seen(t: float, status: dict) -> None:
        det = status.get("detectors", {}).get(name) or {}
        if det.get("state") not in UNHEALTHY_STATES and det.get("last_sample_age_ms") is not None:
            last_reply["t"] = t - det["last_sample_age_ms"] / 1000.0
        if status.get("latched"):
            trips.setdefault("t", t)

    found = site.watcher().until(lambda s: detector_view(s, name)[0] in UNHEALTHY_STATES, limit_s + 60.0,
                                 "%s: waiting for the fault" % name, t_asked, seen, reading_info(name))
    if found is None:
        failures.append("no fault shown for %s within %g s" % (name, limit_s + 60.0))
        return entry
    start = min(last_reply.get("t", t_asked), found)
    entry["measured_s"] = entry["fault_s"] = round(found - start, 3)
    entry["fault_after_instruction_s"] = round(found - t_asked, 3)
    entry["fault_state"] = detector_view(site.status(), name)[0]
    if entry["fault_s"] > limit_s:
        failures.append("fault shown %.1f s after the detector's last reply, limit %g s" % (entry["fault_s"], limit_s))
    t_back = site.prompter.act("reconnect.%s" % name, "Reconnect %s's line now, then press Enter" % name)
    back = site.watcher().until(lambda s: detector_view(s, name)[0] == "normal", LIMITS_S["recovery"],
                                "%s: back to normal" % name, t_back, seen, reading_info(name))
    entry["restored_s"] = _since(back, t_back)
    if back is None:
        failures.append("%s did not read normal within %g s of reconnecting" % (name, LIMITS_S["recovery"]))
        return entry
    if "t" in trips:
        entry["tripped_after_s"] = round(trips["t"] - start, 3)
    outcome = site.press_reset("the open-line test is over: reopen the gas")
    entry["reset"] = outcome["state"]
    return entry
