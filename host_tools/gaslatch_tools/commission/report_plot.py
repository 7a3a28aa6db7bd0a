"""The plot of a bump test: readings over time with the set points, the gas period, alarm and recovery.

Matplotlib and the search for a Chinese font live here alone; build_document takes the plotter as an argument.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from functools import lru_cache

from gaslatch_tools.commission.record import LIMITS_S
from gaslatch_tools.commission.report_record import as_list, number
from gaslatch_tools.commission.report_text import text_for
from gaslatch_tools.commission.report_values import plain

CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei",
                "PingFang SC", "Heiti SC", "SimSun")


def bump_samples(entry: dict) -> list:
    """[(t_s, pct_lel)] from samples [[t_s, pct, state...], ...] or [{"t_s":, "pct_lel":}, ...], sorted."""
    points = []
    for sample in as_list(entry.get("samples")):
        if isinstance(sample, (list, tuple)) and len(sample) >= 2:
            t_s, pct = number(sample[0]), number(sample[1])
        elif isinstance(sample, dict):
            t_s, pct = number(sample.get("t_s")), number(sample.get("pct_lel"))
        else:
            continue
        if t_s is not None and pct is not None:
            points.append((t_s, pct))
    return sorted(points)


def bump_marks(entry: dict) -> dict:
    """Times on the samples' axis (0 = test gas applied): alarm, gas removed, recovered, where recorded."""
    marks = {}
    alarm = number(entry.get("time_to_alarm_s"))
    removed = number(entry.get("gas_removed_s"))
    recovery = number(entry.get("recovery_s"))
    if alarm is not None:
        marks["alarm"] = alarm
    if removed is not None:
        marks["removed"] = removed
        if recovery is not None:
            marks["recovered"] = removed + recovery
    return marks


def set_points(entry: dict, detector: dict) -> tuple:
    """(low, high) %LEL: as the bump test recorded them, else the detector's."""
    recorded = as_list(entry.get("set_points_pct_lel"))
    if len(recorded) == 2 and all(number(v) is not None for v in recorded):
        return number(recorded[0]), number(recorded[1])
    return number(detector.get("low_alarm_pct_lel")), number(detector.get("high_alarm_pct_lel"))


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """A font file with Chinese glyphs for the plots (fontconfig, then fonts matplotlib knows), or None."""
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            listing = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=20,
                                     check=False).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        paths = sorted(line.split(":")[0].strip() for line in listing.splitlines() if line.strip())
        paths = [p for p in paths if p.lower().endswith((".ttf", ".otf", ".ttc"))]
        if paths:
            return sorted(paths, key=lambda p: ("sans" not in p.lower() and "hei" not in p.lower(), p))[0]
    from matplotlib import font_manager

    for family in CJK_FAMILIES:
        try:
            return font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
    return None


def plot_language(lang: str) -> str:
    """The plots' language: Chinese only when a Chinese font is at hand, else English labels."""
    return "zh" if lang == "zh" and cjk_font_path() else "en"


def bump_plot_png(entry: dict, detector: dict, lang: str) -> bytes | None:
    """The reading over time with the set points, the gas period, alarm, recovery and the alarm limit; PNG."""
    points = bump_samples(entry)
    if len(points) < 2:
        return None
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    plot_lang = plot_language(lang)
    t = text_for(plot_lang)
    font = FontProperties(fname=cjk_font_path(), size=8) if plot_lang == "zh" else FontProperties(size=8)
    marks = bump_marks(entry)
    figure = Figure(figsize=(6.6, 2.5), dpi=150)
    axes = figure.subplots()
    if "removed" in marks:
        axes.axvspan(0, marks["removed"], color="#dde6f0", label=t("plot_gas_on"))
    axes.plot([p[0] for p in points], [p[1] for p in points], color="#1f4e8c", linewidth=1.5, label=t("plot_curve"))
    low, high = set_points(entry, detector)
    if low is not None:
        axes.axhline(low, color="#d9730d", linestyle="--", linewidth=1, label=t("plot_low"))
    if high is not None and high <= max(p[1] for p in points) * 1.5:
        axes.axhline(high, color="#b00020", linestyle="--", linewidth=1, label=t("plot_high"))
    axes.axvline(LIMITS_S["time_to_alarm"], color="#777777", linestyle=":", linewidth=1,
                 label=t("plot_limit", LIMITS_S["time_to_alarm"]))
    if "alarm" in marks:
        axes.axvline(marks["alarm"], color="#b00020", linewidth=1.2,
                     label=t("plot_alarm", plain(t, round(marks["alarm"], 1))))
    if "recovered" in marks:
        axes.axvline(marks["recovered"], color="#13631d", linewidth=1.2, label=t("plot_recovered"))
    axes.set_xlabel(t("plot_time"), fontproperties=font)
    axes.set_ylabel(t("plot_reading"), fontproperties=font)
    axes.tick_params(labelsize=7)
    axes.grid(True, color="#e4e4e4", linewidth=0.5)
    axes.set_ylim(bottom=0)
    axes.legend(prop=font, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
