"""The plot's event labels: events and bench actions close in time share one numbered mark, and their words
go in a list beside the plot, so a burst (start-up, a trip) stays readable however many events it holds.

Pure: events and actions in, numbered moments out; bench/report.py draws them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from gaslatch.event_text import headline
from gaslatch.translation import _
from gaslatch_tools.bench.words import action_text, shown

# Marks closer than this share a number: a fiftieth of the time axis keeps two numbers from touching.
MIN_GAP_FRACTION = 0.02
SEVERITY_RANK = {"alarm": 3, "fault": 2, "warning": 1, "info": 0}


class Moment(NamedTuple):
    """One numbered mark on the time axis: when, the worst severity in it, and one line per event or action."""

    number: int
    t_s: float
    severity: str
    lines: tuple[str, ...]


def moments(events: list[dict], actions: list[dict], span_s: float,
            min_gap_fraction: float = MIN_GAP_FRACTION, gettext: Callable[[str], str] = _) -> list[Moment]:
    """Events (t_s, type, severity, source, state, value) and actions (t_s, do, label, ok) grouped into numbered
    moments, their words in the language of `gettext` (an event's headline, what the bench did).

    A moment starts at its first item and takes every item within min_gap_fraction * span_s of the previous.
    """
    items = [(e["t_s"], e.get("severity") or "info", shown(headline(e, gettext))) for e in events]
    items += [(a["t_s"], "info" if a.get("ok", True) else "fault",
               gettext("bench: %(action)s") % {"action": action_text(a, gettext)}) for a in actions]
    items.sort(key=lambda item: item[0])
    gap_s = span_s * min_gap_fraction
    groups: list[list[tuple[float, str, str]]] = []
    for item in items:
        if groups and item[0] - groups[-1][-1][0] <= gap_s:
            groups[-1].append(item)
        else:
            groups.append([item])
    return [Moment(number, group[0][0], max((item[1] for item in group), key=lambda s: SEVERITY_RANK.get(s, 0)),
                   tuple("%6.1f s  %s" % (t_s, " ".join(text.split())) for t_s, _severity, text in group))
            for number, group in enumerate(groups, start=1)]
