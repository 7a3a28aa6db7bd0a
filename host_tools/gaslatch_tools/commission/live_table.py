"""The live view: every detector's reading, status, set points, reply time and errors, redrawn in place.

While wiring and gassing detectors the installer watches the bus answer; this polls it and draws what it says.
"""

from __future__ import annotations

import time
from typing import Any

from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from gaslatch.core.constants import STATUS_NORMAL
from gaslatch.core.detector_profile import Profile, Sample
from gaslatch_tools.commission.bus_client import BusClient, BusError
from gaslatch_tools.commission.bus_record import detector_gas
from gaslatch_tools.commission.bus_scan import (PROBE_FUNCTION, PROBE_REGISTER, Line, Tally, identify, pct_lel, poll,
                                                read, show_pct)
from gaslatch_tools.commission.state_words import state_word
from gaslatch.translation import _


class Watched:
    """One detector in the live table: what it last said, and how its polls went.

    profile None: identified at the first poll from `profiles`; a device no profile fits is polled at the
    probe register only (it answers or not).
    """

    def __init__(self, address: int, name: str | None, entry: dict | None, profile: Profile | None,
                 profiles: dict[str, Profile]):
        self.address = address
        self.name = name or ""
        self.entry = entry or {}
        self.profile = profile
        self.profiles = profiles
        self.tally = Tally()
        self.sample: Sample | None = None
        self.last_error = ""
        self.answered = False

    def set_points(self) -> str:
        low, high = self.entry.get("low_alarm_pct_lel"), self.entry.get("high_alarm_pct_lel")
        return "—" if low is None and high is None else "%s / %s" % (low, high)

    def poll(self, client: BusClient) -> None:
        try:
            if self.profile is None and self.profiles:
                identity = identify(client, self.tally, self.address, self.profiles, detector_gas(self.entry))
                self.profile = self.profiles[identity.profile] if identity.profile else None
                self.profiles = {}  # identified once: a device no profile fits stays unknown
            if self.profile is None:
                read(client, self.tally, self.address, PROBE_FUNCTION, PROBE_REGISTER, attempts=1)
            else:
                self.sample = poll(client, self.tally, self.address, self.profile, detector_gas(self.entry), 1)
            self.answered = True
            self.last_error = ""
        except BusError as error:
            if error.kind == "exception":
                self.answered = True
            self.last_error = error.message

    def row(self) -> dict[str, Any]:
        sample = self.sample
        return {"address": self.address, "name": self.name,
                "profile": self.profile.name if self.profile else "unknown",
                "concentration_pct_lel": pct_lel(sample.concentration_centi_pct_lel) if sample else None,
                "status": sample.status if sample else None, "detail": sample.detail if sample else "",
                "set_points_pct_lel": {"low": self.entry.get("low_alarm_pct_lel"),
                                       "high": self.entry.get("high_alarm_pct_lel")},
                "reply_ms_last": round(self.tally.reply_ms[-1], 1) if self.tally.reply_ms else None,
                "polls": self.tally.requests, "errors": self.tally.error_count, "last_error": self.last_error}


def live_table(watched: list[Watched], line: Line, elapsed_s: float) -> Table:
    table = Table(title=_("live at %(line)s, %(seconds).0f s (Ctrl-C to stop)") % {"line": line, "seconds": elapsed_s},
                  box=box.SIMPLE_HEAD)
    for column in (_("addr"), _("name"), _("profile"), "%LEL", _("status"), _("set pts"), "ms", _("polls"), _("err")):
        table.add_column(column, no_wrap=True)
    table.add_column(_("last error"))
    for item in watched:
        row = item.row()
        status = state_word(row["status"]) if row["status"] else (_("no reply") if not item.answered else "—")
        if row["detail"]:
            status = "%s (%s)" % (status, row["detail"])
        style = "" if row["status"] in (None, STATUS_NORMAL) else "bold red"
        table.add_row(str(item.address), item.name, row["profile"], show_pct(
            item.sample.concentration_centi_pct_lel if item.sample else None), status, item.set_points(),
            "—" if row["reply_ms_last"] is None else "%.1f" % row["reply_ms_last"], str(row["polls"]),
            str(row["errors"]), row["last_error"][:60], style=style)
    return table


def watch(client: BusClient, watched: list[Watched], line: Line, seconds: float | None, console: Console,
          started: float) -> str:
    """Polls every detector in turn, redrawing the table after each poll, one round per the slowest profile's
    poll interval, until `seconds` after `started` (monotonic) have passed: "time", or Ctrl-C: "ctrl-c".
    """
    period_s = max([(w.profile.min_poll_interval_ms if w.profile else 1000) for w in watched]) / 1000.0
    try:
        with Live(live_table(watched, line, 0), console=console, auto_refresh=False, transient=False) as view:
            while True:
                round_start = time.monotonic()
                for item in watched:
                    item.poll(client)
                    view.update(live_table(watched, line, time.monotonic() - started), refresh=True)
                if seconds is not None and time.monotonic() - started >= seconds:
                    break
                pause = period_s - (time.monotonic() - round_start)
                if seconds is not None:
                    pause = min(pause, seconds - (time.monotonic() - started))
                if pause > 0:
                    time.sleep(pause)
    except KeyboardInterrupt:
        return "ctrl-c"
    return "time"
