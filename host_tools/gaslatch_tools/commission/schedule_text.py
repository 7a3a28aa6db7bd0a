"""Attended hours (人走阀关) as an installer types them: 'mon-fri 09:00-23:00; sat,sun 08:00-01:00', or 'off'.
config init asks for them and writes the periods into the controller's schedule; the record keeps the text."""

from __future__ import annotations

import re

from gaslatch.translation import N_, _

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class ScheduleError(ValueError):
    """Attended hours that cannot be read; the message shows the part and the expected form."""


# Translated where shown (translation.py).
SCHEDULE_FORM = N_("e.g. 'mon-fri 09:00-23:00; sat,sun 08:00-01:00', 'daily 06:00-23:00', or 'off'")


def parse_schedule(text: str) -> list[dict] | None:
    """Attended periods from text ('mon-fri 09:00-23:00; sat,sun 08:00-01:00'); None for 'off'.

    Days: mon..sun, ranges (fri-mon wraps), commas, 'daily'. A 'to' before 'from' runs past midnight.
    """
    text = text.strip().lower()
    if text in ("off", "none", "no", ""):
        return None
    periods = []
    for part in text.replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        fields = part.split()
        if len(fields) != 2:
            raise ScheduleError(_("%(part)r: a period is DAYS FROM-TO, %(form)s")
                                % {"part": part, "form": _(SCHEDULE_FORM)})
        days = _parse_days(fields[0], part)
        start, sep, end = fields[1].partition("-")
        if not sep or not _TIME.match(start) or not _TIME.match(end):
            raise ScheduleError(_("%(part)r: hours are HH:MM-HH:MM, 24-hour, %(form)s")
                                % {"part": part, "form": _(SCHEDULE_FORM)})
        if start == end:
            raise ScheduleError(_("%r: from and to are the same time") % part)
        periods.append({"days": days, "from": start, "to": end})
    if not periods:
        raise ScheduleError(_("no attended period given, %s") % _(SCHEDULE_FORM))
    return periods


def _parse_days(text: str, part: str) -> list[str]:
    if text in ("daily", "everyday", "all"):
        return list(DAYS)
    chosen: set[str] = set()
    for item in text.split(","):
        first, sep, last = item.partition("-")
        if first not in DAYS or (sep and last not in DAYS):
            raise ScheduleError(_("%r: days are mon tue wed thu fri sat sun, a range (mon-fri) or a list (sat,sun)")
                                % part)
        if not sep:
            chosen.add(first)
            continue
        index = DAYS.index(first)
        while True:
            chosen.add(DAYS[index])
            if DAYS[index] == last:
                break
            index = (index + 1) % len(DAYS)
    return [day for day in DAYS if day in chosen]


def format_schedule(periods: list[dict] | None) -> str:
    """The text parse_schedule reads back to the same periods."""
    if not periods:
        return "off"
    return "; ".join("%s %s-%s" % (_format_days(period["days"]), period["from"], period["to"]) for period in periods)


def _format_days(days: list[str]) -> str:
    if len(days) == len(DAYS):
        return "daily"
    indexes = sorted(DAYS.index(day) for day in days)
    runs: list[list[int]] = []
    for index in indexes:
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append("%s-%s" % (DAYS[run[0]], DAYS[run[-1]]))
        else:
            parts.extend(DAYS[index] for index in run)
    return ",".join(parts)
