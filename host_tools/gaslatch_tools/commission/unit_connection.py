"""The running unit as the site tests see it: its configuration's facts, its control socket, waits on its status.
bump-test, valve-test and interlock-test share it; a stop is a CommandStop (command_outcome.py)."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from gaslatch.core import constants as C
from gaslatch.core.config import ConfigError
from gaslatch.core.config_schema import DEFAULT_CONTROL_GROUP, DEFAULT_CONTROL_SOCKET
from gaslatch.unit.control_client import ControlClient, ControlUnreachable
from gaslatch.unit.unit_config import load_unit_config
from gaslatch_tools.commission.command_outcome import CommandStop
from gaslatch_tools.commission.prompts import Prompter, make_prompter
from gaslatch_tools.commission.record import Record
from gaslatch_tools.commission.state_words import state_word
from gaslatch.recorded_text import translate
from gaslatch.problem_text import problem_lines
from gaslatch.translation import _, ngettext

DEFAULT_UNIT_CONFIG = "/etc/gaslatch/config.json"
POLL_S = 0.05  # the unit's status, asked this often (the scan answers once per scan.period_ms)
RESET_GRACE_S = 15.0  # the reset's outcome may come a little after its window
RESTART_WAIT_S = 60.0  # a unit that lost power (backup test) or restarts gets this long to answer again
STATUS_TIMEOUT_S = 5.0


class UnitFacts:
    """What the unit's configuration says about set points, valve, fan and interlocks (defaults without one)."""

    def __init__(self, cfg: dict | None = None, path: str | None = None):
        self.cfg = cfg
        self.path = path

    @classmethod
    def load(cls, path: str | None) -> UnitFacts:
        """From --config, else /etc/gaslatch/config.json when it is readable, else defaults."""
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
    def proving_mode(self) -> str:
        """none, switch or transmitter: the gas pressure proving after a reset (docs/safety.md)."""
        return self._get("proving", "mode", "none")

    @property
    def proving_s(self) -> float:
        """The longest a proving takes: check, the whole fill and watch."""
        if not self.cfg:
            return C.DEFAULT_PROVING_CHECK_S + C.DEFAULT_PROVING_FILL_S + C.DEFAULT_PROVING_WATCH_S
        proving = self.cfg["proving"]
        return float(proving["check_s"] + proving["fill_s"] + proving["watch_s"])

    @property
    def loss_confirm_s(self) -> float:
        """How long airflow must be lost before the ventilation interlock trips (docs/safety.md, Airflow proving)."""
        return self._get("fan", "loss_confirm_s", C.DEFAULT_FAN_LOSS_CONFIRM_S)

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
            raise ControlUnreachable(_("gaslatch refused status: %s") % refusal_text(reply))
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


def reads_clear(status: dict, name: str) -> bool:
    """The detector's own reading is back: its latest sample clean (the controller's clear hold may still
    run). A unit too old to report it: the detector's state is normal."""
    det = status.get("detectors", {}).get(name) or {}
    if "reads_clear" in det:
        return bool(det["reads_clear"])
    return det.get("state") == "normal"


def feedback(status: dict, line: str) -> bool | None:
    """An input line's level when the unit's status reports its inputs, else None."""
    inputs = status.get("inputs")
    if not isinstance(inputs, dict) or line not in inputs:
        return None
    return bool(inputs[line])


def since(t: float | None, t0: float) -> float | None:
    """Seconds from t0 to t (monotonic times), rounded for the record; None when t never came."""
    return None if t is None else round(t - t0, 3)


def refusal_text(reply: dict) -> str:
    """Why the unit refused a request: the controller's error in the reader's language (recorded_text), else the
    reply as it came."""
    error = reply.get("error")
    return translate(error) if isinstance(error, str) and error else str(reply)


def reasons_text(outcome: dict) -> str:
    """A reset's or a proving's reasons (Site.press_reset, Site.proved) joined, in the reader's language where the
    phrasebook knows them (recorded_text); empty when it gave none."""
    return translate("; ".join(outcome.get("reasons") or []))


def seconds_text(value: float | None) -> str:
    """A measured time as a results table shows it."""
    return "-" if value is None else "%.1f" % value


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
    """A watch's info column: the detector's state and reading (ppm for a CO or CO2 detector, never %LEL)."""
    def info(status: dict) -> str:
        state, pct = detector_view(status, name)
        ppm = detector_ppm(status, name)
        if ppm is not None:
            return "%s: %s, %.0f ppm" % (name, state_word(state), ppm)
        return "%s: %s, %s %%LEL" % (name, state_word(state), "-" if pct is None else "%.2f" % pct)
    return info


def detector_ppm(status: dict, name: str) -> float | None:
    """A CO or CO2 detector's latest reading in ppm in a status snapshot (None: none, or not such a detector)."""
    centi = (status.get("detectors", {}).get(name) or {}).get("concentration_centi_ppm")
    return None if centi is None else centi / 100.0


class Site:
    """One command run on site: the console, the prompter, the unit's facts and socket, and the record."""

    def __init__(self, ctx: click.Context, prompter: Prompter, facts: UnitFacts, link: UnitLink | None):
        self.ctx = ctx
        self.prompter = prompter
        self.console = prompter.console
        self.facts = facts
        self.link = link
        self.record = Record.load(ctx.obj["record"])

    def status(self) -> dict:
        assert self.link is not None
        return self.link.status()

    def watcher(self) -> Watcher:
        return Watcher(self.console, self.status)

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
            self.prompter.say(_("→ Press the RESET button on the controller now (within %(seconds)d s): %(why)s")
                              % {"seconds": window_s, "why": why}, "bold")
            outcome: dict = {}

            def pushed(_status: dict) -> bool:
                message = client.poll(0.01)
                if message is not None and "state" in message:
                    outcome.update(message)
                return bool(outcome) or not _status.get("latched", True)

            found = self.watcher().until(pushed, window_s + RESET_GRACE_S, _("waiting for RESET"))
        if not outcome:
            outcome = {"state": "accepted"} if found is not None else {"state": "expired"}
        outcome["at"] = found if found is not None else time.monotonic()
        return outcome

    def proved(self, outcome: dict) -> dict:
        """After an accepted reset with pressure proving: waits for the proving to end. The outcome, with the
        proving's result (state refused and its failure when it failed) and how long it took (proving_s)."""
        if outcome["state"] != "accepted" or not self.status().get("latched"):
            return outcome
        limit_s = self.facts.proving_s + PROVING_GRACE_S
        watcher = self.watcher()
        ended = watcher.until(lambda s: not s.get("latched") or bool((s.get("proving") or {}).get("failure")),
                                     limit_s, _("proving the gas pipework (check, fill, watch)"), outcome["at"],
                                     info=lambda s: "%s %s s" % ((s.get("proving") or {}).get("phase", ""),
                                                                 (s.get("proving") or {}).get("left_s", "")))
        if ended is None:
            return {"state": "expired", "reasons": [_("the proving did not end within %g s") % limit_s],
                    "at": time.monotonic()}
        failure = (watcher.last.get("proving") or {}).get("failure")
        if failure:
            return {"state": "refused", "reasons": [_("pressure proving failed: %s") % translate(failure)], "at": ended,
                    "proving_s": ended - outcome["at"]}
        return dict(outcome, proving_s=ended - outcome["at"])

    def arm(self, why: str) -> None:
        """The valve open before a test that must see it close; stops the command if it cannot be. With pressure
        proving the gas is open only once the proving after the reset has passed: that is waited for."""
        outcome = self.press_reset(why)
        if self.facts.proving_mode != "none":
            outcome = self.proved(outcome)
        if outcome["state"] in ("accepted", "not_needed"):
            if outcome["state"] == "accepted" and self.facts.reopened_by_hand:
                self.prompter.act("reopen_by_hand", _("Re-open the valve by hand at the valve (it needs it after a "
                                                      "reset)"))
            return
        reasons = reasons_text(outcome) or outcome["state"]
        raise CommandStop("not_armed", _("the valve must be open for this test, but the reset was %(state)s: "
                                         "%(reasons)s") % {"state": outcome["state"], "reasons": reasons},
                          _("clear what blocks the reset (gas, a fault, an interlock, outside attended hours) and "
                            "press RESET"))


# A proving's end is seen within this much of check + fill + watch (the status polls, a scan or two).
PROVING_GRACE_S = 5.0


def unit_options(command: Callable) -> Callable:
    """--socket and --config on a command that talks to the running unit."""
    command = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                           help=_("The unit's configuration (default %s when readable): set points, valve, fan, "
                                  "interlocks and the control socket.") % DEFAULT_UNIT_CONFIG)(command)
    return click.option("--socket", "socket_path", type=click.Path(dir_okay=False),
                        help=_("The unit's control socket (default: control.socket of --config, else %s).")
                             % DEFAULT_CONTROL_SOCKET)(command)


def config_refused(path: str, err: ConfigError) -> CommandStop:
    """The stop of a commission command given a configuration the controller's loader refuses: every problem in
    the reader's language, with its JSON path and hint."""
    count = len(err.problems)
    return CommandStop("config", "%s\n%s" % (
        ngettext("the configuration %(path)s is refused: %(n)d problem",
                 "the configuration %(path)s is refused: %(n)d problems", count) % {"path": path, "n": count},
        problem_lines(err.problems)),
        _("give the configuration the unit runs with (--config), or fix it (gaslatch commission config validate)"))


def open_site(ctx: click.Context, socket_path: str | None, config_path: str | None, answers_path: str | None,
              yes: bool) -> Site:
    """The site of a command that needs the running unit: CommandStop when it cannot be reached."""
    prompter = make_prompter(ctx, answers_path, yes)
    try:
        facts = UnitFacts.load(config_path)
    except ConfigError as err:
        raise config_refused(config_path or DEFAULT_UNIT_CONFIG, err) from None
    link = UnitLink(socket_path or facts.socket, facts.group)
    site = Site(ctx, prompter, facts, link)
    try:
        site.status()
    except ControlUnreachable as err:
        raise CommandStop("unreachable", str(err),
                          _("run this on the unit (or with --socket), with gaslatch running")) from None
    return site


class UnitLost(CommandStop):
    """The unit stopped answering during a test."""

    def __init__(self, err: ControlUnreachable):
        super().__init__("unreachable", _("lost the unit during the test: %s") % err,
                         _("check the unit's power and journalctl -u gaslatch; the record keeps what was measured "
                           "before"))


def wait_for_unit(site: Site) -> dict:
    """The unit's status, waiting for it to come back if the person switched it off and on."""
    deadline = time.monotonic() + RESTART_WAIT_S
    while True:
        try:
            return site.status()
        except ControlUnreachable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def chosen_detectors(detector_list: str | None, known: list[str]) -> list[str]:
    """The detectors a comma-separated --detectors list names (default: every known one)."""
    if not known:
        raise CommandStop("no_detectors", _("no detectors to test"),
                          _("run gaslatch commission scan first, or check the unit"))
    if not detector_list:
        return known
    names = [name.strip() for name in detector_list.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise CommandStop("usage", _("no detector named %s") % ", ".join(unknown),
                          _("detectors: %s") % ", ".join(known))
    return names

