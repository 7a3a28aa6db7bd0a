"""Everything a bench run saw, on one time axis (seconds of scenario time): signals, events, actions.

Signals are step functions (a value holds until the next); events and actions are instants. The
expectations are judged on this record alone, and it is what the CSV and the plot show.
"""

from __future__ import annotations

import bisect
import csv
import json
import re
from typing import Any, Callable, Iterable

_JOURNAL_EVENT = re.compile(r"^<\d>event t_ms=(\d+) (.*)$")
_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def parse_journal_event(line: str) -> dict | None:
    """One journal line `<N>event t_ms=... seq=... type=... reason="..."` as a dict, or None for other lines."""
    match = _JOURNAL_EVENT.match(line)
    if match is None:
        return None
    record: dict[str, Any] = {"t_ms": int(match.group(1))}
    for key, raw in _FIELD.findall(match.group(2)):
        if raw.startswith('"'):
            value: Any = json.loads(raw)  # the journal writes such values as JSON strings
        elif raw == "-":
            value = None
        else:
            try:
                value = int(raw)
            except ValueError:
                value = raw
        record[key] = value
    return record if "type" in record else None


def matches(record: dict, pattern: dict) -> bool:
    """The record's fields equal every field of pattern; reason_contains: its reason holds that text."""
    for key, value in pattern.items():
        if key == "reason_contains":
            if value not in str(record.get("reason") or ""):
                return False
        elif record.get(key) != value:
            return False
    return True


class Trace:
    """Signals (name -> [(t_s, value)] in time order), events, actions and platform deliveries."""

    def __init__(self) -> None:
        self.signals: dict[str, list[tuple[float, Any]]] = {}
        self.events: list[dict] = []  # journal records with t_s and run added
        self.actions: list[dict] = []  # timeline actions as done: t_s, do, label, ok, detail
        self.delivered: list[dict] = []  # events the platform stored
        self.stored: list[dict] = []  # events in the unit's own store at the end

    def record(self, t_s: float, signal: str, value: Any) -> None:
        """A sample; kept only when the value changed (or the signal is new)."""
        series = self.signals.setdefault(signal, [])
        if series and series[-1][1] == value:
            return
        if series and t_s < series[-1][0]:
            t_s = series[-1][0]  # samplers of one signal never go back in time
        series.append((t_s, value))

    def value_at(self, signal: str, t_s: float) -> Any:
        """The value holding at t_s (None before the first sample)."""
        series = self.signals.get(signal, [])
        index = bisect.bisect_right([t for t, _ in series], t_s) - 1
        return series[index][1] if index >= 0 else None

    def first_time(self, signal: str, test: Callable[[Any], bool], from_s: float,
                   to_s: float | None = None) -> float | None:
        """The first time at or after from_s (and not after to_s) when test(value) holds."""
        if test(self.value_at(signal, from_s)):
            return from_s
        for t_s, value in self.signals.get(signal, []):
            if t_s <= from_s:
                continue
            if to_s is not None and t_s > to_s:
                return None
            if test(value):
                return t_s
        return None

    def always(self, signal: str, test: Callable[[Any], bool], from_s: float, to_s: float) -> tuple[bool, float]:
        """(True, -1) when test holds throughout [from_s, to_s]; else (False, first time it did not)."""
        if not test(self.value_at(signal, from_s)):
            return False, from_s
        for t_s, value in self.signals.get(signal, []):
            if from_s < t_s <= to_s and not test(value):
                return False, t_s
        return True, -1.0

    def events_matching(self, pattern: dict, from_s: float = float("-inf"),
                        to_s: float = float("inf")) -> list[dict]:
        return [e for e in self.events if from_s <= e["t_s"] <= to_s and matches(e, pattern)]

    def action(self, label: str) -> dict | None:
        for action in self.actions:
            if action.get("label") == label:
                return action
        return None

    def write_csv(self, path: str) -> int:
        """One row per sample, event and action, in time order: t_s, kind, name, value, detail."""
        rows: list[tuple] = []
        for signal, series in self.signals.items():
            rows.extend((t_s, "signal", signal, _cell(value), "") for t_s, value in series)
        for e in self.events:
            rows.append((e["t_s"], "event", "%s/%s" % (e["type"], e.get("source")), e.get("state"),
                         "seq=%s run=%s %s" % (e.get("seq"), e.get("run"), e.get("reason") or "")))
        for a in self.actions:
            rows.append((a["t_s"], "action", a["do"], "ok" if a["ok"] else "failed", a.get("detail", "")))
        for d in self.delivered:
            rows.append((d["t_s"], "delivered", "%s/%s" % (d["type"], d.get("source")), d.get("state"),
                         "seq=%s" % d.get("seq")))
        rows.sort(key=lambda row: (row[0], row[1], row[2]))
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(("t_s", "kind", "name", "value", "detail"))
            for row in rows:
                writer.writerow(("%.4f" % row[0],) + tuple(row[1:]))
        return len(rows)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return "%.3f" % value
    return "" if value is None else str(value)


def merge_events(runs: Iterable[list[str]], t0_s: float) -> list[dict]:
    """The journal events of every controller run, each with t_s (scenario time) and run (0 first)."""
    out = []
    for run, lines in enumerate(runs):
        for line in lines:
            record = parse_journal_event(line)
            if record is not None:
                record["t_s"] = record["t_ms"] / 1000.0 - t0_s
                record["run"] = run
                out.append(record)
    out.sort(key=lambda e: (e["t_s"], e["run"], e.get("seq") or 0))
    return out
