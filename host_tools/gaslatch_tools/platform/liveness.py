"""Whether the platform still hears each unit: offline (its Last Will or a clean stop), silent (no state report and
no event beyond a limit, though the broker never said offline), or back (online and reporting again).

Pure verdicts over what the database knows of each unit (UnitLife), and the one query that reads it; the notifier's
step turns the verdicts into warnings (warning_store.liveness_in) on its injected clock.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Iterable, NamedTuple

from gaslatch.core import events as E
from gaslatch_tools.platform.rules import Occurrence

OFFLINE, ONLINE = "offline", "online"  # the unit's retained status
SILENT, BACK = "silent", "back"  # what the check observes itself (rules.PLATFORM_TYPES: status)
CHECK_EVERY_MS = 5000  # how often the notifier looks: a silence is seen at most this late (its limit is minutes)

Execute = Callable[..., Any]

# When the platform last heard from each unit: its latest event (a re-sent duplicate too) or state report. Written by
# the receiver's warning hook in the batch's transaction; the state's own received_at counts as well, so a receiver
# without --rules still keeps the heartbeat.
LIVENESS_SCHEMA_SQL = (
    """CREATE TABLE IF NOT EXISTS unit_heard (site TEXT NOT NULL, unit TEXT NOT NULL, heard_ms BIGINT NOT NULL,
        PRIMARY KEY (site, unit))""",
)
LIVENESS_SCHEMA_OBJECTS = ("unit_heard",)
# {rows}: a set of (site, unit, heard_ms), distinct units (a batch's units in one statement; see storage.Executor)
HEARD_TYPES = ("text", "text", "bigint")
HEARD_SQL = """
    INSERT INTO unit_heard (site, unit, heard_ms) {rows}
    ON CONFLICT (site, unit) DO UPDATE SET heard_ms = GREATEST(unit_heard.heard_ms, excluded.heard_ms)"""
UNITS_SQL = """
    SELECT k.site, k.unit, s.status, s.received_at, st.received_at, h.heard_ms FROM (
        SELECT site, unit FROM unit_status UNION SELECT site, unit FROM unit_state
        UNION SELECT site, unit FROM unit_heard) k
    LEFT JOIN unit_status s ON s.site = k.site AND s.unit = k.unit
    LEFT JOIN unit_state st ON st.site = k.site AND st.unit = k.unit
    LEFT JOIN unit_heard h ON h.site = k.site AND h.unit = k.unit
    WHERE {where} ORDER BY k.site, k.unit"""


class UnitLife(NamedTuple):
    """What the platform knows of one unit's connection (times: ms since the epoch, the receivers' clocks).

    status: its latest retained status (online, offline; None before the first); status_ms: when that came;
    heard_ms: the latest state report or event from it (None before the first)."""

    site: str
    unit: str
    status: str | None
    status_ms: int | None
    heard_ms: int | None


def iso_ms(text: str) -> int:
    """UTC ISO 8601 text (the receiver's received_at) -> ms since the epoch."""
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def last_sign_ms(u: UnitLife) -> int | None:
    """The latest sign of life: a state report, an event, or its status online (a unit that just connected has a
    whole limit to report)."""
    signs = [t for t in (u.heard_ms, u.status_ms if u.status != OFFLINE else None) if t is not None]
    return max(signs) if signs else None


def silent(u: UnitLife, now_ms: int, silent_after_ms: int) -> bool:
    """Not offline, yet nothing from it for longer than the limit: a half-open connection the broker has not
    noticed, a frozen unit, a broker that lost the retained status."""
    last = last_sign_ms(u)
    return u.status != OFFLINE and last is not None and now_ms - last > silent_after_ms


def reporting(u: UnitLife) -> bool:
    """It sent a state report or an event since its latest status (online): connected is not enough."""
    return u.heard_ms is not None and (u.status_ms is None or u.heard_ms >= u.status_ms)


def back(u: UnitLife, now_ms: int, silent_after_ms: int, back_after_ms: int) -> bool:
    """Online (or no status known), reporting, not silent, and its latest status came back_after_ms ago or more:
    a unit whose connection flaps never stays up that long, and keeps its one warning."""
    return (u.status != OFFLINE and reporting(u) and not silent(u, now_ms, silent_after_ms)
            and (u.status_ms is None or now_ms - u.status_ms >= back_after_ms))


def verdict(u: UnitLife, now_ms: int, silent_after_ms: int, back_after_ms: int) -> str | None:
    """offline, silent, back, or None (coming back: online but not reporting yet, or not for long enough)."""
    if u.status == OFFLINE:
        return OFFLINE
    if silent(u, now_ms, silent_after_ms):
        return SILENT
    if back(u, now_ms, silent_after_ms, back_after_ms):
        return BACK
    return None


def occurrence(u: UnitLife, state: str, now_ms: int) -> Occurrence:
    """The verdict as the rules see it: a platform status occurrence (value: minutes since the last sign of life)."""
    last = last_sign_ms(u)
    quiet_min = None if last is None else (now_ms - last) // 60000
    if state == BACK:
        reason = "online and reporting again"
    elif state == SILENT:
        reason = "no state report and no event for %d min" % quiet_min
    else:
        reason = "offline (its Last Will or a clean stop)"
    severity = E.SEVERITY_INFO if state == BACK else E.SEVERITY_FAULT
    return Occurrence(u.site, u.unit, "status", severity, "uplink", state, quiet_min, reason,
                      "%s:%d" % (state, now_ms), None, None, now_ms)


def heard_of(events: Iterable[tuple[tuple, str]], states: dict[tuple[str, str], tuple[str, str]]
             ) -> dict[tuple[str, str], int]:
    """(site, unit) -> the latest received_at (ms) of a batch's events (each (event, received_at)) and states."""
    out: dict[tuple[str, str], int] = {}
    received = [((e[0], e[1]), at) for e, at in events] + [(key, at) for key, (_, at) in states.items()]
    for key, at in received:
        ms = iso_ms(at)
        if ms > out.get(key, -1):
            out[key] = ms
    return out


def units(execute: Execute, where: str = "1=1", params: tuple = ()) -> list[UnitLife]:
    """Every unit the platform heard of, by site and unit, inside the caller's transaction; where: a condition on
    k.site and k.unit (access.sql_scope(actor, "k.site"), a site) with its params."""
    out = []
    for site, unit, status, status_at, state_at, heard_ms in execute(UNITS_SQL.format(where=where),
                                                                     params).fetchall():
        heard = [t for t in (heard_ms, None if state_at is None else iso_ms(state_at)) if t is not None]
        out.append(UnitLife(site, unit, status, None if status_at is None else iso_ms(status_at),
                            max(heard) if heard else None))
    return out


def silent_units(storage, now_ms: int, silent_after_ms: int) -> list[UnitLife]:
    """The units silent past the limit now (not those offline: their status says so)."""
    return [u for u in storage.read(units) if silent(u, now_ms, silent_after_ms)]
