"""A live terminal view of a bench run: gas at each detector, what the controller makes of it, the outputs.

Used by `gaslatch demo` and `gaslatch bench run --live`; it only reads the run's state (the
emulators, the kitchen lines, the control socket, the journal), so it cannot change what happens.
"""

from __future__ import annotations

import threading

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gaslatch.event_text import headline
from gaslatch.translation import N_, _
from gaslatch_tools.bench.trace import parse_journal_event
from gaslatch_tools.bench.words import action_text, scenario_text, shown

REFRESH_S = 0.25
STATUS_EVERY = 2  # ask the controller for its status every this many refreshes
EVENT_LINES = 6
_STATE_STYLE = {"normal": "green", "warmup": "yellow", "low_alarm": "bold yellow", "high_alarm": "bold red",
                "fault": "bold magenta", "comm_lost": "bold magenta"}
# A detector's state code (status reply) -> the word shown in the table.
STATE_WORDS = {"normal": N_("normal"), "warmup": N_("warming up"), "low_alarm": N_("low alarm"),
               "high_alarm": N_("high alarm"), "fault": N_("fault"), "comm_lost": N_("communication lost")}
_SEVERITY_STYLE = {"alarm": "bold red", "fault": "magenta", "warning": "yellow", "info": ""}


class LiveView:
    """Renders `run` (a BenchRun) a few times a second until stop()."""

    def __init__(self, run, console) -> None:
        self.run = run
        self.console = console
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status: dict | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bench-live-view", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(3)

    def _loop(self) -> None:
        with Live(self.render(), console=self.console, refresh_per_second=1 / REFRESH_S, transient=False) as live:
            tick = 0
            while not self._stop.wait(REFRESH_S) and self.run.now() < self.run.scenario["duration_s"]:
                if tick % STATUS_EVERY == 0 and hasattr(self.run, "control_socket"):
                    self._status = self.run._status() or self._status
                tick += 1
                live.update(self.render())
            live.update(self.render())  # the last frame: the kitchen at the end, before the bench tears down

    def render(self):
        run = self.run
        t_s = run.now()
        head = Text(_("t = %(t)6.1f s of %(duration)g s") % {"t": t_s, "duration": run.scenario["duration_s"]},
                    style="bold")
        if t_s < 0:
            head.append("   " + _("(starting the controller and opening the valve)"), style="dim")
        last = run.trace.actions[-1] if run.trace.actions else None
        if last is not None:
            head.append("   " + _("last action: %(action)s at %(t).1f s %(detail)s") % {
                "action": action_text(last), "t": last["t_s"], "detail": shown(last.get("detail"))}, style="cyan")
        detectors = Table(title=_("Detectors"), expand=True)
        # TRANSLATORS: the live view's detector table: its name, where it is mounted, the gas the emulator puts at
        # its sensor, the reading the controller received, the controller's state for it
        for column in (_("detector"), _("where"), _("gas at the sensor"), _("controller sees"), _("state")):
            detectors.add_column(column)
        status = self._status.get("detectors") if isinstance(self._status, dict) else None
        status = status if isinstance(status, dict) else {}
        cfg = getattr(run, "config", {}).get("detectors", {})
        for name in sorted(run.scenario["detectors"]):
            gas = run.gases.get(name) if hasattr(run, "gases") else None
            seen = status.get(name)
            seen = seen if isinstance(seen, dict) else {}
            in_ppm = run.scenario["detectors"][name].get("measurand", "combustible") != "combustible"
            centi = seen.get("concentration_centi_ppm" if in_ppm else "concentration_centi_pct_lel")
            if not isinstance(centi, (int, float)) or isinstance(centi, bool) or not -1e12 < centi < 1e12:
                centi = None  # a reply's field that is not a reading is not shown as one
            unit = "%6.0f ppm" if in_ppm else "%5.1f %%LEL"  # a CO or CO2 detector's gas is in ppm, never %LEL
            state = seen.get("state", "…")
            word = STATE_WORDS.get(state) if isinstance(state, str) else None
            detectors.add_row(name, scenario_text(cfg.get(name, {}).get("location", "")),
                              "" if gas is None else unit % max(0.0, gas.sensed_pct(t_s)),
                              "" if centi is None else unit % (centi / 100),
                              Text(_(word) if word else shown(state),
                                   style=_STATE_STYLE.get(state, "") if isinstance(state, str) else ""))
        outputs = Table(title=_("Kitchen"), expand=True)
        # TRANSLATORS: the live view's outputs table
        for column in (_("gas valve"), _("fan"), _("sounder"), _("beacon"), _("fault relay")):
            outputs.add_column(column)
        if hasattr(run, "kitchen"):
            lines = run.kitchen.snapshot()
            position = run.kitchen.valve.position
            valve = (_("OPEN") if position >= 1.0 else _("CLOSED") if position <= 0.0 else
                     _("moving %d %%") % (position * 100))
            outputs.add_row(Text(valve, style="green" if position >= 1.0 else "bold red"),
                            *(_on_off(lines.get(name)) for name in ("fan", "sounder", "beacon")),
                            Text(_("healthy") if lines.get("fault_relay") else _("FAULT"),
                                 style="green" if lines.get("fault_relay") else "bold magenta"))
        events = Table(title=_("Controller events (latest)"), expand=True, show_header=False)
        events.add_column("t")
        events.add_column("event")
        if hasattr(run, "controller"):
            recent = []
            for line in run.controller.journal_lines()[-80:]:
                record = parse_journal_event(line)
                if record is not None and record["type"] != "output":
                    recent.append(record)
            for record in recent[-EVENT_LINES:]:
                severity = record.get("severity")
                text = Text(shown(headline(record)), style=_SEVERITY_STYLE.get(severity, "") if isinstance(severity, str)
                            else "")
                if record.get("reason") not in (None, ""):
                    text.append("  " + shown(record["reason"]), style="dim")
                events.add_row("%.1f" % (record["t_ms"] / 1000.0 - run.t0), text)
        return Panel(Group(head, detectors, outputs, events), title="gaslatch — %s" % run.scenario["name"])


def _on_off(level) -> Text:
    if level is None:
        return Text("?", style="dim")
    return Text(_("ON"), style="bold yellow") if level else Text(_("off"), style="dim")
