"""The fleet as the console lists it: every unit in a person's scope with its status (online, offline or silent),
when it was last heard, whether its gas is off, and its open warnings by grade.

Read from the small per-unit tables (status, state, heard) and the open warnings only, never by scanning the
events, so a page costs the same with a hundred units' history or a city's (the CLI's fleet table, with its
counts of every event, gap and lost seq, is storage.fleet()).
"""

from __future__ import annotations

import json
from typing import NamedTuple

from gaslatch_tools.platform import liveness as L
from gaslatch_tools.platform.access import Actor, sql_scope

MAX_UNITS = 2000  # a page never lists more (the filters narrow it)


class UnitRow(NamedTuple):
    site: str
    unit: str
    status: str  # online, offline, silent, unknown
    heard_ms: int | None
    gas_off: bool | None  # the state report's latch (None: no report yet)
    trip_reason: str
    open_by_grade: dict[int, int]


def units(storage, actor: Actor, now_ms: int, silent_after_ms: int, site: str | None = None) -> list[UnitRow]:
    """The units in the actor's scope (one site's with site=), by site and unit; at most MAX_UNITS."""
    where, params = sql_scope(actor, "k.site")
    if site is not None:
        where, params = where + " AND k.site = ?", params + (site,)
    scope, scope_params = sql_scope(actor)
    if site is not None:
        scope, scope_params = scope + " AND site = ?", scope_params + (site,)

    def read(x):
        return (L.units(x, where, params)[:MAX_UNITS],
                dict(((s, u), p) for s, u, p in x("SELECT site, unit, payload FROM unit_state WHERE " + scope,
                                                   scope_params).fetchall()),
                x("SELECT site, unit, grade, COUNT(*) FROM warnings WHERE state <> 'cleared' AND %s "
                  "GROUP BY site, unit, grade" % scope, scope_params).fetchall())

    lives, payloads, counts = storage.read(read)
    open_by: dict[tuple[str, str], dict[int, int]] = {}
    for s, u, grade, count in counts:
        open_by.setdefault((s, u), {})[grade] = count
    out = []
    for life in lives:
        shown = (L.OFFLINE if life.status == L.OFFLINE else L.SILENT if L.silent(life, now_ms, silent_after_ms)
                 else life.status or "unknown")
        state = _state(payloads.get((life.site, life.unit)))
        out.append(UnitRow(life.site, life.unit, shown, life.heard_ms,
                           None if state is None else bool(state.get("latched")),
                           "" if state is None else str(state.get("trip_reason", "")),
                           open_by.get((life.site, life.unit), {})))
    return out


def _state(payload: str | None) -> dict | None:
    try:
        doc = json.loads(payload) if payload else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
