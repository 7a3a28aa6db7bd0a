"""Record values as the short text a report cell shows: units from the key's name, local times, coded words.

The layout and the plots print values through here, so a number reads the same in every table and plot.
"""

from __future__ import annotations

import datetime
import math
from typing import Any, Callable

from gaslatch_tools.commission.report_record import VERDICT_KEYS, as_list, number
from gaslatch_tools.commission.report_text import has_text, text_for

# Fields kept in the record (JSON) but left out of the printed report: prompt logs, raw registers, limits
# the report states once in section 2, and the verdicts the report judges for itself.
HIDDEN = {"answers", "registers_read", "profile_candidates", "limits_s", "utc", "failures", "calibrations",
          "bump_tests", "any_alarm", "register", "value_written", "baud", "parity", "stop_bits"} | set(VERDICT_KEYS)
MAX_CELL_LINES = 20


def when(utc: Any) -> str:
    """A record timestamp (UTC) in the local time of this computer; the header names the offset."""
    if not isinstance(utc, str) or not utc:
        return "—"
    try:
        moment = datetime.datetime.fromisoformat(utc.replace("Z", "+00:00"))
    except ValueError:
        return utc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def utc_offset() -> str:
    """This computer's offset from UTC now, as +08:00."""
    offset = datetime.datetime.now().astimezone().strftime("%z")
    return "%s:%s" % (offset[:3], offset[3:])


def plain(t: Callable[..., str], value: Any, depth: int = 0) -> str:
    """Any record value as short text: numbers without noise, yes/no, nested objects as key: value."""
    if value is None or value == "" or value == [] or value == {}:
        return t("none")
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, float):
        return ("%.2f" % value).rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        if depth > 2:
            return "{…}"
        return "; ".join("%s: %s" % (k, plain(t, value[k], depth + 1)) for k in sorted(value, key=str))
    if isinstance(value, list):
        if len(value) > 8:
            return "[%d]" % len(value)
        return ", ".join(plain(t, v, depth + 1) for v in value)
    text = str(value)
    return text if len(text) <= 300 else text[:299] + "…"


def _with_unit(t: Callable[..., str], value: Any, unit: str) -> str:
    """A number rounded to hundredths with its unit; anything else as it is."""
    measured = number(value)
    return plain(t, value) if measured is None else "%s %s" % (plain(t, round(measured, 2)), unit)


def seconds(t: Callable[..., str], value: Any) -> str:
    return _with_unit(t, value, "s")


def pct_lel(t: Callable[..., str], value: Any) -> str:
    return _with_unit(t, value, "%LEL")


def word(t: Callable[..., str], prefix: str, value: Any) -> str:
    """A coded value (reset outcome, detector state, gas, mode) in words when the table has it, else as recorded."""
    key = prefix + str(value)
    return t(key) if has_text(key) else plain(t, value)


def field_value(t: Callable[..., str], key: str, value: Any) -> str:
    """A value shown with the unit its key names (_s, _ms, _pct_lel), a time for utc-like keys."""
    if key.endswith("_s") and number(value) is not None:
        return seconds(t, value)
    if key.endswith("_ms") and number(value) is not None:
        return "%s ms" % plain(t, value)
    if key.endswith("_pct_lel"):
        return pct_lel(t, value)
    if key in ("last_seen", "pushed_at"):
        return when(value)
    if key == "gas":
        return word(t, "gas_", value)
    if key in ("valve_type", "feedback") and has_text("valve_%s_%s" % (key.replace("valve_", ""), value)):
        return t("valve_%s_%s" % (key.replace("valve_", ""), value))
    if key in ("reset", "fault_state"):
        return word(t, "reset_" if key == "reset" else "state_", value)
    if key == "scan_reading" and isinstance(value, dict):
        return t("with_note", pct_lel(t, value.get("pct_lel")), word(t, "state_", value.get("status")))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value) or t("none")
    return plain(t, value)


def line_text(entry: dict) -> str:
    """A detector's serial line as installers write it: 9600 8N1."""
    return "%s 8%s%s" % (plain(text_for("en"), entry.get("baud")), entry.get("parity") or "N",
                         entry.get("stop_bits") or 1)


def limit_text(limit_s: float | None) -> str:
    return "—" if limit_s is None else "≤ %g s" % limit_s


def set_points_text(t: Callable[..., str], detector: dict) -> str:
    low, high = detector.get("low_alarm_pct_lel"), detector.get("high_alarm_pct_lel")
    if low is None and high is None:
        return t("none")
    return "%s / %s %%LEL" % (plain(t, low), plain(t, high))


def status_word(t: Callable[..., str], status: str | None) -> str:
    return t("status_" + status) if status else t("status_recorded")


def field_label(t: Callable[..., str], key: str) -> str:
    """The label of a record field: from the string table when it has one, else the key itself."""
    label = "field_" + str(key)
    return t(label) if has_text(label) else str(key)


def others(t: Callable[..., str], entry: dict, shown: set) -> str:
    """The fields the layout does not show, one "label: value" line each."""
    rest = [k for k in sorted(entry, key=str) if k not in shown and k not in HIDDEN]
    return _cell_lines([t("label", field_label(t, k), field_value(t, k, entry[k])) for k in rest])


def failures_text(entry: dict) -> str:
    return _cell_lines([str(f) for f in as_list(entry.get("failures"))])


def _cell_lines(lines: list) -> str:
    """Lines for one table cell, at most MAX_CELL_LINES (a cell must fit on a printed page)."""
    if len(lines) > MAX_CELL_LINES:
        lines = lines[:MAX_CELL_LINES - 1] + ["… (%d)" % (len(lines) - MAX_CELL_LINES + 1)]
    return "\n".join(lines)
