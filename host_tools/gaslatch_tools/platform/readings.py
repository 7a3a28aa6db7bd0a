"""The units' telemetry as the platform keeps it: each detector's reading every uplink.telemetry_s, stored by the
receiver, kept READINGS_KEEP_MS (the notifier's step prunes older rows), and drawn around a warning for the
console (the readings before and after it opened, the moment it opened marked)."""

from __future__ import annotations

import io
import json
from typing import Any, Callable, NamedTuple

from gaslatch_tools.platform.storage import READINGS_KEEP_MS

Execute = Callable[..., Any]
AROUND_MS = 15 * 60 * 1000  # a warning's plot: 15 minutes either side of its opening
MAX_POINTS = 5000  # rows one plot reads at most


class Reading(NamedTuple):
    received_ms: int
    centi_pct_lel: dict[str, int | None]


def prune_in(x: Execute, rules, now_ms: int) -> tuple[int, int]:
    """Deletes readings older than READINGS_KEEP_MS (a notifier CHECK: same signature); returns (0, deleted)."""
    return 0, x("DELETE FROM readings WHERE received_ms < ?", (now_ms - READINGS_KEEP_MS,)).rowcount


def around(storage, site: str, unit: str, at_ms: int, span_ms: int = AROUND_MS) -> list[Reading]:
    """The unit's readings from at_ms - span_ms to at_ms + span_ms, oldest first."""
    rows = storage.read(lambda x: x(
        "SELECT received_ms, centi_pct_lel FROM readings WHERE site = ? AND unit = ? AND received_ms BETWEEN ? AND ? "
        "ORDER BY received_ms LIMIT %d" % MAX_POINTS, (site, unit, at_ms - span_ms, at_ms + span_ms)).fetchall())
    out = []
    for received_ms, text in rows:
        try:
            values = json.loads(text)
        except ValueError:
            continue
        if isinstance(values, dict):
            out.append(Reading(received_ms, values))
    return out


def plot_svg(readings: list[Reading], at_ms: int, title: str, tz) -> bytes:
    """Each detector's %LEL against local time, the warning's opening a dashed line; an SVG (no script in it)."""
    import datetime

    import matplotlib.dates as mdates
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3), dpi=100)  # no pyplot: the console draws in several threads at once
    FigureCanvasSVG(fig)
    ax = fig.subplots()
    names = sorted({name for r in readings for name in r.centi_pct_lel})
    for name in names:
        xs = [datetime.datetime.fromtimestamp(r.received_ms / 1000, tz) for r in readings]
        ys = [v / 100 if isinstance(v := r.centi_pct_lel.get(name), int) and not isinstance(v, bool)
              else float("nan") for r in readings]
        ax.plot(xs, ys, label=name.replace("$", r"\$"), linewidth=1.5, drawstyle="steps-post", marker=".")
    ax.axvline(datetime.datetime.fromtimestamp(at_ms / 1000, tz), color="#c00", linestyle="--", linewidth=1,
               label="warning")
    ax.set_ylabel("%LEL")
    ax.set_title(title.replace("$", r"\$"), fontsize=9)  # a $ would start matplotlib's maths
    span_ms = (readings[-1].received_ms - readings[0].received_ms) if readings else 0
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if span_ms > 600_000 else "%H:%M:%S", tz=tz))
    ax.grid(alpha=0.3)
    if not readings:
        ax.text(0.5, 0.5, "no readings stored for this time", transform=ax.transAxes, ha="center")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="svg")
    return out.getvalue()
