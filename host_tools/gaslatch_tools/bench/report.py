"""The report folder of a bench run: trace.csv, plot.png (one time axis), summary.json and summary.md.

A test engineer reads summary.md first, looks at the plot to see why, and takes the CSV to a
spreadsheet; summary.json is for CI and for comparing runs.
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

from matplotlib.figure import Figure  # noqa: E402

from gaslatch_tools.bench.event_labels import Moment, moments  # noqa: E402
from gaslatch_tools.bench.expectations import VALVE_POSITION  # noqa: E402

OUTPUT_LINES = ("valve", "fan", "sounder", "beacon", "fault_relay")
MARKED_EVENTS = ("trip", "detector", "reset", "reset_refused", "interlock", "schedule", "silence", "inhibit",
                 "valve_fault", "proving", "startup", "shutdown", "bus")
DPI = 90
LIST_LINE_PT = 11  # line height of the event list beside the plot
MARGIN_FRACTION = 0.015


def write_report(result) -> dict[str, str]:
    """Writes the four files into result.out_dir; returns their paths by kind."""
    out = result.out_dir
    os.makedirs(out, exist_ok=True)
    paths = {"trace": os.path.join(out, "trace.csv"), "plot": os.path.join(out, "plot.png"),
             "json": os.path.join(out, "summary.json"), "markdown": os.path.join(out, "summary.md")}
    result.trace.write_csv(paths["trace"])
    plot(result, paths["plot"])
    summary = summary_dict(result)
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(paths["markdown"], "w", encoding="utf-8") as f:
        f.write(summary_markdown(summary))
    return paths


def summary_dict(result) -> dict:
    return {
        "scenario": result.name,
        "summary": result.scenario.get("summary", ""),
        "passed": result.passed,
        "duration_s": result.scenario["duration_s"],
        "wall_s": round(result.wall_s, 2),
        "problems": list(result.problems),
        "expectations": [{"name": o.name, "passed": o.passed,
                          "measured_s": None if o.measured_s is None else round(o.measured_s, 4),
                          "limit_s": o.limit_s, "detail": o.detail} for o in result.outcomes],
        "events": len(result.trace.events),
        "controller_runs": 1 + sum(1 for a in result.trace.actions if a["do"] == "_power_back"),
        "delivered": len(result.trace.delivered),
    }


def summary_markdown(summary: dict) -> str:
    lines = ["# Bench run: %s — %s" % (summary["scenario"], "PASS" if summary["passed"] else "FAIL"), "",
             summary["summary"], "",
             "Scenario %g s, wall %g s, %d events, %d controller run(s)." % (
                 summary["duration_s"], summary["wall_s"], summary["events"], summary["controller_runs"]), ""]
    if summary["problems"]:
        lines += ["## Bench problems", ""] + ["- %s" % p for p in summary["problems"]] + [""]
    lines += ["| expectation | result | measured | limit | detail |", "|---|---|---|---|---|"]
    for e in summary["expectations"]:
        lines.append("| %s | %s | %s | %s | %s |" % (
            e["name"], "pass" if e["passed"] else "**FAIL**",
            "" if e["measured_s"] is None else "%.3f s" % e["measured_s"],
            "" if e["limit_s"] is None else "%g s" % e["limit_s"], e["detail"].replace("|", "/")))
    lines += ["", "Files: trace.csv (every sample, event and action), plot.png, summary.json, journal.log, "
              "controller.json.", ""]
    return "\n".join(lines)


def plot(result, path: str) -> None:
    """Writes the figure of draw(result) to path as PNG."""
    fig = draw(result)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def draw(result) -> Figure:
    """Gas against the thresholds, the outputs and the valve, and the events, on one time axis; the events'
    words in a numbered list beside it (bench/event_labels.py)."""
    trace = result.trace
    duration = result.scenario["duration_s"]
    start_s = min(0.0, min((e["t_s"] for e in trace.events), default=0.0))
    end_s = max([duration] + [e["t_s"] for e in trace.events])
    marks = moments([e for e in trace.events if e["type"] in MARKED_EVENTS], trace.actions, end_s - start_s)
    margin_s = (end_s - start_s) * MARGIN_FRACTION  # a mark at either end stays inside the axis
    list_lines = sum(len(mark.lines) for mark in marks)
    height_in = max(8.0, (list_lines + 3) * LIST_LINE_PT / 72 + 1.5)
    fig = plt.figure(figsize=(15, height_in))
    grid = fig.add_gridspec(3, 2, height_ratios=[3, 2, 1.2], width_ratios=[3.2, 1.3])
    ax_gas = fig.add_subplot(grid[0, 0])
    ax_out = fig.add_subplot(grid[1, 0], sharex=ax_gas)
    ax_ev = fig.add_subplot(grid[2, 0], sharex=ax_gas)
    ax_list = fig.add_subplot(grid[:, 1])
    fig.suptitle("%s — %s" % (result.name, "PASS" if result.passed else "FAIL"))
    _draw_gas(ax_gas, result, duration)
    _draw_outputs(ax_out, trace, duration)
    _draw_marks(ax_ev, trace, marks)
    _draw_list(ax_list, marks)
    ax_ev.set_xlim(start_s - margin_s, end_s + margin_s)
    for ax in (ax_gas, ax_out):
        ax.tick_params(labelbottom=False)
    fig.tight_layout()
    return fig


def _draw_gas(ax_gas, result, duration: float) -> None:
    trace = result.trace
    detectors = result.config.get("detectors", {}) if result.config else {}
    thresholds: dict[tuple, list[str]] = {}
    for name in sorted(result.gases):
        series = trace.signals.get("gas:" + name, [])
        if series:
            series = series + [(max(duration, series[-1][0]), series[-1][1])]  # a value holds to the end
            ax_gas.step([t for t, _ in series], [v for _, v in series], where="post", label=name)
        det = detectors.get(name, {})
        for key in ("high_alarm_pct_lel", "low_alarm_pct_lel", "high_alarm_ppm", "low_alarm_ppm"):
            if det.get(key) is not None:
                thresholds.setdefault((key.split("_")[0], det[key]), []).append(name)
    for (kind, level), names in sorted(thresholds.items()):
        ax_gas.axhline(level, linestyle="--" if kind == "high" else ":", linewidth=0.8, color="grey")
        who = "" if len(names) == len(result.gases) else " (%s)" % ", ".join(names)
        ax_gas.text(duration, level, " %s %g%s" % (kind, level, who), fontsize=7, va="center")
    ax_gas.set_ylabel("gas reported, %LEL (CO, CO2: ppm)")
    if result.gases:
        ax_gas.legend(loc="upper left", fontsize=8)


def _draw_outputs(ax_out, trace, duration: float) -> None:
    rows = [(VALVE_POSITION, "valve position (1 = open)")] + [("line:" + name, name) for name in OUTPUT_LINES] + [
        ("line:fan_proven", "fan airflow proven"), ("line:gas_pressure", "gas pressure downstream"),
        ("line:power", "controller power")]
    ticks = []
    for offset, (signal, label) in enumerate(rows):
        series = trace.signals.get(signal, [])
        if not series:
            continue
        xs = [t for t, _ in series] + [duration]
        ys = [offset + 0.8 * float(v or 0) for _, v in series]
        ax_out.step(xs, ys + ys[-1:], where="post")
        ticks.append((offset + 0.4, label))
    ax_out.set_yticks([t for t, _ in ticks], [label for _, label in ticks], fontsize=8)
    ax_out.set_ylabel("outputs")


def _draw_marks(ax_ev, trace, marks: list[Moment]) -> None:
    """A line per event, a triangle per bench action, and each moment's number, in two staggered rows."""
    for e in trace.events:
        if e["type"] in MARKED_EVENTS:
            ax_ev.axvline(e["t_s"], color=_colour(e["severity"]), linewidth=0.8)
    for a in trace.actions:
        ax_ev.plot([a["t_s"]], [0.15], marker="v", color="black" if a["ok"] else "red")
    for index, mark in enumerate(marks):
        ax_ev.text(mark.t_s, 0.75 if index % 2 == 0 else 0.4, str(mark.number), fontsize=8, ha="center", va="center",
                   color=_colour(mark.severity), bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"})
    ax_ev.set_ylim(0, 1)
    ax_ev.set_yticks([])
    ax_ev.set_ylabel("events")
    ax_ev.set_xlabel("scenario time, s")


def _draw_list(ax_list, marks: list[Moment]) -> None:
    """The numbered moments' events, one per line, top down at a fixed line height."""
    ax_list.axis("off")
    ax_list.set_title("events (numbers as marked on the time axis)", fontsize=8, loc="left")
    line = 0
    for mark in marks:
        for index, text in enumerate(mark.lines):
            ax_list.annotate("%3s  %s" % (mark.number if index == 0 else "", text), (0, 1), xycoords="axes fraction",
                             xytext=(0, -LIST_LINE_PT * line), textcoords="offset points", va="top", fontsize=8,
                             family="monospace")
            line += 1


def _colour(severity: str) -> str:
    return "tab:red" if severity in ("alarm", "fault") else "tab:blue"
