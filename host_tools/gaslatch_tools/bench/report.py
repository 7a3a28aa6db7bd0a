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

from gaslatch_tools.bench.expectations import VALVE_POSITION  # noqa: E402

OUTPUT_LINES = ("valve", "fan", "sounder", "beacon", "fault_relay")
MARKED_EVENTS = ("trip", "detector", "reset", "reset_refused", "interlock", "schedule", "silence", "inhibit",
                 "valve_fault", "startup", "shutdown", "bus")


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
    """Gas against the thresholds, the outputs and the valve, and the events, on one time axis."""
    trace = result.trace
    duration = result.scenario["duration_s"]
    fig, (ax_gas, ax_out, ax_ev) = plt.subplots(3, 1, figsize=(11, 8), sharex=True,
                                                gridspec_kw={"height_ratios": [3, 2, 1.2]})
    fig.suptitle("%s — %s" % (result.name, "PASS" if result.passed else "FAIL"))
    detectors = result.config.get("detectors", {}) if result.config else {}
    thresholds: dict[tuple, list[str]] = {}
    for name in sorted(result.gases):
        series = trace.signals.get("gas:" + name, [])
        if series:
            series = series + [(max(duration, series[-1][0]), series[-1][1])]  # a value holds to the end
            ax_gas.step([t for t, _ in series], [v for _, v in series], where="post", label=name)
        det = detectors.get(name, {})
        for key in ("high_alarm_pct_lel", "low_alarm_pct_lel"):
            if det.get(key) is not None:
                thresholds.setdefault((key.split("_")[0], det[key]), []).append(name)
    for (kind, level), names in sorted(thresholds.items()):
        ax_gas.axhline(level, linestyle="--" if kind == "high" else ":", linewidth=0.8, color="grey")
        who = "" if len(names) == len(result.gases) else " (%s)" % ", ".join(names)
        ax_gas.text(duration, level, " %s %g%s" % (kind, level, who), fontsize=7, va="center")
    ax_gas.set_ylabel("gas reported, %LEL")
    if result.gases:
        ax_gas.legend(loc="upper left", fontsize=8)
    rows = [(VALVE_POSITION, "valve position (1 = open)")] + [("line:" + name, name) for name in OUTPUT_LINES] + [
        ("line:fan_proven", "fan airflow proven"), ("line:power", "controller power")]
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
    shown = [e for e in trace.events if e["type"] in MARKED_EVENTS]
    for index, e in enumerate(shown):
        ax_ev.axvline(e["t_s"], color="tab:red" if e["severity"] in ("alarm", "fault") else "tab:blue",
                      linewidth=0.8)
        ax_ev.text(e["t_s"], (index % 4) * 0.25 + 0.05, " %s %s %s" % (
            e["type"], e.get("source") or "", e.get("state") or ""), fontsize=6, rotation=0)
    for a in trace.actions:
        ax_ev.plot([a["t_s"]], [1.05], marker="v", color="black" if a["ok"] else "red")
        ax_ev.text(a["t_s"], 1.1, a["do"].lstrip("_"), fontsize=6, rotation=30)
    ax_ev.set_ylim(0, 1.5)
    ax_ev.set_yticks([])
    ax_ev.set_ylabel("events")
    ax_ev.set_xlabel("scenario time, s")
    ax_ev.set_xlim(min(0.0, min((e["t_s"] for e in trace.events), default=0.0)), duration)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
