"""District metrics (街道指标, issue 15): unit online rate, open warnings by grade, time to acknowledge and to close,
人走阀关 compliance (the share of unattended hours with the valve closed), detectors past their end of life.

Pure functions over rows, and district_metrics(), the one query, which reads them in one snapshot for the sites
an actor may see, grouped by the contacts file's districts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, NamedTuple

from gaslatch.translation import N_
from gaslatch_tools.platform import liveness as L
from gaslatch_tools.platform.contacts import Contacts
from gaslatch_tools.platform.rules import GRADES, SILENT_AFTER_MS
from gaslatch_tools.platform import words
from gaslatch_tools.platform.storage import SqlStorage

ALL = "*"  # every site, when no contacts file groups them
UNLISTED = ""  # sites the contacts file does not list
DAY_MS = 86400000
# A detector's end-of-life reminder as the unit raises it (gaslatch.core.lifecycle): source "<detector>:end_of_life".
END_OF_LIFE_SUFFIX = ":end_of_life"
VALVE_ASSET = "valve"
NO_UNATTENDED = N_("no unattended hours in the window (no schedule events from these units)")

# What says the valve is closed, from the unit's events (docs/events.md): latched by a trip or at start-up, open to
# be reopened after a reset. True for every valve type (a pulse valve's `output valve on` is a closing pulse).
LATCH_EVENTS = {("trip", "latched"): True, ("startup", "latched"): True, ("reset", "armed"): False,
                ("proving", "passed"): False}  # with pressure proving the reset arms nothing until it passed
SCHEDULE = "schedule"
UNATTENDED = "unattended"
_CHANGES_SQL = """SELECT site, unit, type, state, ts, clock_synced, received_at FROM events
    WHERE type IN ('schedule', 'trip', 'startup', 'reset', 'proving') ORDER BY site, unit, seq"""
# Store by store (the event id's store key), each in seq order, the stores in the order the platform first heard
# of them: a unit whose store was renewed numbers from 1 again, so seq alone would put the new store's reminders
# before the old one's; and the time received alone would put a gap filled late after what followed it.
_LIFE_SQL = """SELECT site, unit, source, state, id, seq, received_at FROM events WHERE type = 'maintenance_due'"""
_OPEN_SQL = "SELECT site, grade, COUNT(*) FROM warnings WHERE state <> 'cleared' GROUP BY site, grade"
_TIMES_SQL = """SELECT id, site, rule, grade, opened_ms, acked_ms, cleared_ms, cleared_by FROM warnings
    WHERE opened_ms >= ? AND opened_ms <= ?"""


class WarningTimes(NamedTuple):
    id: int
    site: str
    rule: str
    grade: int
    opened_ms: int
    acked_ms: int | None
    cleared_ms: int | None
    cleared_by: str | None


def cleared_ms(w: WarningTimes) -> int | None:
    """When a warning counts as closed: its clearing. The hook for work orders: pass district_metrics a function
    giving the closing time of the warning's order instead."""
    return w.cleared_ms


ClosedAt = Callable[[WarningTimes], "int | None"]


class Change(NamedTuple):
    """One change of what the compliance needs: at_ms, and kind schedule (value: the schedule's state) or latch
    (value: True when the valve is latched closed)."""

    at_ms: int
    kind: str
    value: object


@dataclass(frozen=True)
class DistrictMetrics:
    district: str  # the contacts file's id; ALL or UNLISTED
    name: str
    sites: int
    units: int
    online: int  # neither offline nor silent (liveness.py)
    open_by_grade: dict[int, int] = field(default_factory=dict)
    acks: int = 0  # warnings opened in the window and acknowledged
    ack_mean_s: float | None = None
    ack_p90_s: float | None = None
    closes: int = 0  # warnings opened in the window and closed
    close_mean_s: float | None = None
    close_p90_s: float | None = None
    unattended_h: float = 0.0
    compliance: float | None = None  # share of the unattended hours with the valve closed
    compliance_note: str = ""  # why compliance is None
    # Detectors whose latest end-of-life reminder says due (a unit without install dates cannot remind: its
    # `gaslatch status` and panel say so).
    past_end_of_life: int = 0

    @property
    def online_rate(self) -> float | None:
        return self.online / self.units if self.units else None


def duration_text(seconds: float | None) -> str:
    """A time to acknowledge or close as people read it: 45 s, 12.5 min, 3.2 h; "-" when there is none."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return "%.0f s" % seconds
    return "%.1f min" % (seconds / 60) if seconds < 7200 else "%.1f h" % (seconds / 3600)


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def p90(values: list[float]) -> float | None:
    """The 90th percentile by nearest rank: the smallest value at least 90 % of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def durations_s(rows: Iterable[WarningTimes], end: ClosedAt) -> list[float]:
    """end(w) - opened_ms in seconds, for the warnings end() gives a time for."""
    out = []
    for w in rows:
        at = end(w)
        if at is not None:
            out.append((at - w.opened_ms) / 1000.0)
    return out


def unattended_closed_ms(changes: Iterable[Change], start_ms: int, end_ms: int) -> tuple[int, int]:
    """(unattended ms, of which valve closed ms) in [start_ms, end_ms), from one unit's changes in time order
    (earlier ones set the state at start_ms). Before its first schedule change a unit is not counted unattended;
    before its first latch change its valve counts as open."""
    schedule, closed = None, False
    at = start_ms
    unattended = closed_ms = 0

    def span(until: int) -> None:
        nonlocal unattended, closed_ms
        length = max(0, min(until, end_ms) - at)
        if schedule == UNATTENDED:
            unattended += length
            if closed:
                closed_ms += length

    for change in changes:
        if change.at_ms > at:
            span(change.at_ms)
            at = min(change.at_ms, end_ms)
        if change.kind == SCHEDULE:
            schedule = change.value
        else:
            closed = bool(change.value)
    span(end_ms)
    return unattended, closed_ms


def change_of(type_: str, state: str, ts: str, clock_synced: int, received_at: str) -> Change | None:
    """An event as a Change, timed by the unit's clock when it was set, else by its arrival."""
    at_ms = L.iso_ms(ts if clock_synced else received_at)
    if type_ == SCHEDULE:
        return Change(at_ms, SCHEDULE, state)
    latched = LATCH_EVENTS.get((type_, state))
    return None if latched is None else Change(at_ms, "latch", latched)


def district_of(contacts: Contacts | None, site: str) -> str:
    if contacts is None:
        return ALL
    entry = contacts.doc["sites"].get(site)
    return UNLISTED if entry is None else entry["district"]


def district_name(contacts: Contacts | None, district: str) -> str:
    if district == ALL:
        return words.pair(N_("all"))
    if district == UNLISTED:
        return words.pair(N_("not in the contacts"))
    return contacts.doc["districts"][district].get("name", district)


def district_metrics(storage: SqlStorage, contacts: Contacts | None, actor_sites: frozenset[str] | None,
                     now_ms: int, window_ms: int, silent_after_ms: int = SILENT_AFTER_MS,
                     closed_at: ClosedAt = cleared_ms) -> list[DistrictMetrics]:
    """The metrics of each district with a site the actor sees (actor_sites: access.Actor.sites, None for all):
    online rate and open warnings now; times to acknowledge and close of the warnings opened in the last
    window_ms; 人走阀关 compliance over the last window_ms. Districts in the contacts' order, then unlisted sites."""
    start_ms = now_ms - window_ms

    def sees(site: str) -> bool:
        return actor_sites is None or site in actor_sites

    def read(x):
        units = [u for u in L.units(x) if sees(u.site)]
        open_rows = [r for r in x(_OPEN_SQL).fetchall() if sees(r[0])]
        times = [WarningTimes(*r) for r in x(_TIMES_SQL, (start_ms, now_ms)).fetchall() if sees(r[1])]
        changes: dict[tuple[str, str], list[Change]] = {}
        for site, unit, type_, state, ts, synced, received_at in x(_CHANGES_SQL).fetchall():
            if sees(site):
                change = change_of(type_, state, ts, synced, received_at)
                if change is not None:
                    changes.setdefault((site, unit), []).append(change)
        rows = [row for row in x(_LIFE_SQL).fetchall() if sees(row[0]) and row[2].endswith(END_OF_LIFE_SUFFIX)
                and not row[2].startswith(VALVE_ASSET + ":")]
        first_heard: dict[tuple[str, str, str], str] = {}
        for site, unit, _, _, id_, _, received_at in rows:
            key = (site, unit, id_.rpartition("-")[0])
            first_heard[key] = min(first_heard.get(key, received_at), received_at)
        rows.sort(key=lambda r: (r[0], r[1], first_heard[(r[0], r[1], r[4].rpartition("-")[0])],
                                 r[4].rpartition("-")[0], r[5]))
        life = {}
        for site, unit, source, state, _, _, _ in rows:
            life[(site, unit, source)] = state
        return units, open_rows, times, changes, life

    units, open_rows, times, changes, life = storage.read(read)
    order = [] if contacts is None else list(contacts.doc["districts"])
    sites_of: dict[str, set[str]] = {}
    listed = [] if contacts is None else [s for s in contacts.doc["sites"] if sees(s)]
    for site in listed + [u.site for u in units]:
        sites_of.setdefault(district_of(contacts, site), set()).add(site)
    out = []
    for district in sorted(sites_of, key=lambda d: (order.index(d) if d in order else len(order), d)):
        mine = sites_of[district]
        in_units = [u for u in units if u.site in mine]
        online = sum(1 for u in in_units if u.status != L.OFFLINE and not L.silent(u, now_ms, silent_after_ms))
        by_grade = {g: 0 for g in GRADES}
        for site, grade, count in open_rows:
            if site in mine:
                by_grade[grade] = by_grade.get(grade, 0) + count
        mine_times = [w for w in times if w.site in mine]
        acks = durations_s(mine_times, lambda w: w.acked_ms)
        closes = durations_s(mine_times, closed_at)
        unattended = closed = 0
        for (site, _), unit_changes in sorted(changes.items()):
            if site in mine:
                u_ms, c_ms = unattended_closed_ms(sorted(unit_changes, key=lambda c: c.at_ms), start_ms, now_ms)
                unattended += u_ms
                closed += c_ms
        out.append(DistrictMetrics(
            district, district_name(contacts, district), len(mine), len(in_units), online, by_grade,
            len(acks), mean(acks), p90(acks), len(closes), mean(closes), p90(closes), unattended / 3600000.0,
            closed / unattended if unattended else None, "" if unattended else NO_UNATTENDED,
            sum(1 for (site, _, _), state in life.items() if site in mine and state == "due")))
    return out
