"""The report folder of a bench run: trace.csv, plot.png (one time axis), summary.json and summary.md.

A test engineer reads summary.md first, looks at the plot to see why, and takes the CSV to a
spreadsheet; summary.json is for CI and for comparing runs (its keys and details stay in English).

summary.md and the plot are in the reader's language. Chinese in a plot needs a CJK font (Debian's
fonts-wqy-microhei, or Noto Sans CJK): where none is installed the plot is drawn in English rather than with
empty boxes for the characters.
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gaslatch import translation  # noqa: E402
from gaslatch.translation import N_, _  # noqa: E402
from gaslatch_tools.bench.event_labels import Moment, moments  # noqa: E402
from gaslatch_tools.bench.expectations import VALVE_POSITION, detail_text  # noqa: E402
from gaslatch_tools.bench.words import scenario_text  # noqa: E402

OUTPUT_LINES = ("valve", "fan", "sounder", "beacon", "fault_relay")
MARKED_EVENTS = ("trip", "detector", "reset", "reset_refused", "interlock", "schedule", "silence", "inhibit",
                 "valve_fault", "proving", "startup", "shutdown", "bus")
DPI = 90
LIST_LINE_PT = 11  # line height of the event list beside the plot
MARGIN_FRACTION = 0.015
# CJK fonts matplotlib may find, first found wins: (proportional, monospace).
CJK_FONTS = (("WenQuanYi Micro Hei", "WenQuanYi Micro Hei Mono"), ("Noto Sans CJK SC", "Noto Sans Mono CJK SC"),
             ("Noto Sans CJK JP", "Noto Sans Mono CJK JP"), ("Source Han Sans SC", "Source Han Sans SC"))
OUTPUT_LABELS = {"valve": N_("valve"), "fan": N_("fan"), "sounder": N_("sounder"), "beacon": N_("beacon"),
                 "fault_relay": N_("fault relay")}


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
    shown = dict(summary, expectations=[dict(e, shown=detail_text(o)) for e, o in
                                        zip(summary["expectations"], result.outcomes)])
    with open(paths["markdown"], "w", encoding="utf-8") as f:
        f.write(summary_markdown(shown))
    return paths


def summary_dict(result) -> dict:
    expectations = [expectation_dict(o) for o in result.outcomes]
    return {
        "scenario": result.name,
        "summary": result.scenario.get("summary", ""),
        "passed": result.passed,
        "duration_s": result.scenario["duration_s"],
        "wall_s": round(result.wall_s, 2),
        "problems": list(result.problems),
        "expectations": expectations,
        "min_slack_s": min((e["slack_s"] for e in expectations if "slack_s" in e), default=None),
        "events": len(result.trace.events),
        "controller_runs": 1 + sum(1 for a in result.trace.actions if a["do"] == "_power_back"),
        "delivered": len(result.trace.delivered),
    }


def expectation_dict(judged) -> dict:
    """One outcome for summary.json; a timed one (then/within) also has slack_s, its limit less the time
    measured: how close the run came to failing it (negative: it failed by that much)."""
    out = {"name": judged.name, "passed": judged.passed,
           "measured_s": None if judged.measured_s is None else round(judged.measured_s, 4),
           "limit_s": judged.limit_s, "detail": judged.detail}
    if judged.measured_s is not None and judged.limit_s is not None:
        out["slack_s"] = round(judged.limit_s - judged.measured_s, 4)
    return out


def summary_markdown(summary: dict) -> str:
    """summary.md: the run's result in the reader's language (from summary_dict and the phrases of its outcomes)."""
    title = _("Bench run: %(scenario)s — PASS") if summary["passed"] else _("Bench run: %(scenario)s — FAIL")
    lines = ["# " + title % {"scenario": summary["scenario"]}, "", scenario_text(summary["summary"]), "",
             _("Scenario %(duration)g s, wall %(wall)g s, %(events)d events, %(runs)d controller run(s).") % {
                 "duration": summary["duration_s"], "wall": summary["wall_s"], "events": summary["events"],
                 "runs": summary["controller_runs"]}, ""]
    if summary["problems"]:
        lines += ["## " + _("Bench problems"), ""] + ["- %s" % p for p in summary["problems"]] + [""]
    lines += ["| %s | %s | %s | %s | %s |" % (_("expectation"), _("result"), _("measured"), _("limit"), _("detail")),
              "|---|---|---|---|---|"]
    for e in summary["expectations"]:
        lines.append("| %s | %s | %s | %s | %s |" % (
            scenario_text(e["name"]).replace("|", "/"), _("pass") if e["passed"] else "**%s**" % _("FAIL"),
            "" if e["measured_s"] is None else "%.3f s" % e["measured_s"],
            "" if e["limit_s"] is None else "%g s" % e["limit_s"], e.get("shown", e["detail"]).replace("|", "/")))
    lines += ["", _("Files: trace.csv (every sample, event and action), plot.png, summary.json, journal.log, "
                    "controller.json."), ""]
    return "\n".join(lines)


def plot(result, path: str) -> None:
    """Writes the figure of draw(result) to path as PNG, in the reader's language where a font can show it."""
    gettext, fonts, mono = plot_language()
    with plt.rc_context(fonts):
        fig = draw(result, gettext, mono)
        fig.savefig(path, dpi=DPI)
    plt.close(fig)


def cjk_fonts() -> tuple[str, str] | None:
    """(proportional, monospace) CJK fonts matplotlib can use here, or None."""
    names = {font.name for font in font_manager.fontManager.ttflist}
    for sans, mono in CJK_FONTS:
        if sans in names:
            return sans, (mono if mono in names else sans)
    return None


def plot_language() -> tuple:
    """(the gettext the plot is drawn with, the matplotlib settings it needs, the family of its monospace list):
    the reader's language, with a CJK font after matplotlib's own (which lacks the characters: matplotlib falls
    back from one named font to the next), in English too (its texts keep 人走阀关, and a detector may be named in
    Chinese); English where the language needs one and none is installed."""
    english = _(OUTPUT_LABELS["valve"]) == OUTPUT_LABELS["valve"]  # the reader reads English
    fonts = cjk_fonts()
    if fonts is None:
        return (_ if english else translation.in_language(translation.ENGLISH).gettext), {}, "monospace"
    return _, {"font.family": ["DejaVu Sans", fonts[0]]}, ["DejaVu Sans Mono", fonts[1]]


def draw(result, gettext=_, mono="monospace") -> Figure:
    """Gas against the thresholds, the outputs and the valve, and the events, on one time axis; the events'
    words in a numbered list beside it (bench/event_labels.py); the words in the language of `gettext`."""
    trace = result.trace
    duration = result.scenario["duration_s"]
    start_s = min(0.0, min((e["t_s"] for e in trace.events), default=0.0))
    end_s = max([duration] + [e["t_s"] for e in trace.events])
    marks = moments([e for e in trace.events if e["type"] in MARKED_EVENTS], trace.actions, end_s - start_s,
                    gettext=gettext)
    margin_s = (end_s - start_s) * MARGIN_FRACTION  # a mark at either end stays inside the axis
    list_lines = sum(len(mark.lines) for mark in marks)
    height_in = max(8.0, (list_lines + 3) * LIST_LINE_PT / 72 + 1.5)
    fig = plt.figure(figsize=(15, height_in))
    grid = fig.add_gridspec(3, 2, height_ratios=[3, 2, 1.2], width_ratios=[3.2, 1.3])
    ax_gas = fig.add_subplot(grid[0, 0])
    ax_out = fig.add_subplot(grid[1, 0], sharex=ax_gas)
    ax_ev = fig.add_subplot(grid[2, 0], sharex=ax_gas)
    ax_list = fig.add_subplot(grid[:, 1])
    title = gettext("%(scenario)s — PASS") if result.passed else gettext("%(scenario)s — FAIL")
    fig.suptitle(title % {"scenario": result.name})
    _draw_gas(ax_gas, result, duration, gettext)
    _draw_outputs(ax_out, trace, duration, gettext)
    _draw_marks(ax_ev, trace, marks, gettext)
    _draw_list(ax_list, marks, gettext, mono)
    ax_ev.set_xlim(start_s - margin_s, end_s + margin_s)
    for ax in (ax_gas, ax_out):
        ax.tick_params(labelbottom=False)
    fig.tight_layout()
    return fig


def _draw_gas(ax_gas, result, duration: float, gettext) -> None:
    trace = result.trace
    detectors = result.config.get("detectors", {}) if result.config else {}
    thresholds: dict[tuple, list[str]] = {}
    for name in sorted(result.gases):
        series = trace.signals.get("gas:" + name, [])
        if series:
            series = series + [(max(duration, series[-1][0]), series[-1][1])]  # a value holds to the end
            ax_gas.step([t for t, _v in series], [v for _t, v in series], where="post", label=name)
        det = detectors.get(name, {})
        for key in ("high_alarm_pct_lel", "low_alarm_pct_lel", "high_alarm_ppm", "low_alarm_ppm"):
            if det.get(key) is not None:
                thresholds.setdefault((key.split("_")[0], det[key]), []).append(name)
    for (kind, level), names in sorted(thresholds.items()):
        ax_gas.axhline(level, linestyle="--" if kind == "high" else ":", linewidth=0.8, color="grey")
        who = "" if len(names) == len(result.gases) else " (%s)" % ", ".join(names)
        # TRANSLATORS: a threshold's label on the plot: high (alarm) or low (alarm), then its level
        words = gettext("high %(level)g%(who)s") if kind == "high" else gettext("low %(level)g%(who)s")
        ax_gas.text(duration, level, " " + words % {"level": level, "who": who}, fontsize=7, va="center")
    ax_gas.set_ylabel(gettext("gas reported, %LEL (CO, CO2: ppm)"))
    if result.gases:
        ax_gas.legend(loc="upper left", fontsize=8)


def _draw_outputs(ax_out, trace, duration: float, gettext) -> None:
    rows = [(VALVE_POSITION, gettext("valve position (1 = open)"))] + [
        ("line:" + name, gettext(OUTPUT_LABELS[name])) for name in OUTPUT_LINES] + [
        ("line:fan_proven", gettext("fan airflow proven")), ("line:gas_pressure", gettext("gas pressure downstream")),
        ("line:power", gettext("controller power"))]
    ticks = []
    for offset, (signal, label) in enumerate(rows):
        series = trace.signals.get(signal, [])
        if not series:
            continue
        xs = [t for t, _v in series] + [duration]
        ys = [offset + 0.8 * float(v or 0) for _t, v in series]
        ax_out.step(xs, ys + ys[-1:], where="post")
        ticks.append((offset + 0.4, label))
    ax_out.set_yticks([tick[0] for tick in ticks], [tick[1] for tick in ticks], fontsize=8)
    ax_out.set_ylabel(gettext("outputs"))


def _draw_marks(ax_ev, trace, marks: list[Moment], gettext) -> None:
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
    ax_ev.set_ylabel(gettext("events"))
    ax_ev.set_xlabel(gettext("scenario time, s"))


def _draw_list(ax_list, marks: list[Moment], gettext, mono) -> None:
    """The numbered moments' events, one per line, top down at a fixed line height."""
    ax_list.axis("off")
    ax_list.set_title(gettext("events (numbers as marked on the time axis)"), fontsize=8, loc="left")
    line = 0
    for mark in marks:
        for index, text in enumerate(mark.lines):
            ax_list.annotate("%3s  %s" % (mark.number if index == 0 else "", text), (0, 1), xycoords="axes fraction",
                             xytext=(0, -LIST_LINE_PT * line), textcoords="offset points", va="top", fontsize=8,
                             family=mono)
            line += 1


def _colour(severity: str) -> str:
    return "tab:red" if severity in ("alarm", "fault") else "tab:blue"
