"""The platform's audit log (审计日志): every action a person takes, who, when, on what, from where.

An action is recorded in the same transaction as the change it describes (record() takes the transaction's
execute), so there is never a change without its audit row or an audit row for a change that was rolled back.
Rows are only ever inserted: no code path updates or deletes them.
"""

from __future__ import annotations

import json
from typing import Any, Callable, NamedTuple

from gaslatch.core import events as E

Execute = Callable[..., Any]

AUDIT_SCHEMA_SQL = (
    """CREATE TABLE IF NOT EXISTS audit_log (
        id AUTO_ID, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, site TEXT,
        target TEXT NOT NULL, detail TEXT NOT NULL, origin TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_log_site ON audit_log (site, at_ms)",
)
AUDIT_SCHEMA_OBJECTS = ("audit_log", "audit_log_site")

MAX_DETAIL_CHARS = 2000
MAX_DETAIL_VALUE_CHARS = 500  # each text in a detail, so the detail stays whole JSON within MAX_DETAIL_CHARS
MAX_DETAIL_KEYS = 10
_COLUMNS = ("id", "at_ms", "actor", "action", "site", "target", "detail", "origin")
_INSERT_SQL = "INSERT INTO audit_log (at_ms, actor, action, site, target, detail, origin) VALUES (?, ?, ?, ?, ?, ?, ?)"


class AuditRow(NamedTuple):
    id: int
    at_ms: int
    actor: str
    action: str
    site: str | None
    target: str
    detail: str  # JSON object
    origin: str  # "console 127.0.0.1", "cli", ...


def record(execute: Execute, at_ms: int, actor: str, action: str, target: str, site: str | None = None,
           detail: dict | None = None, origin: str = "cli") -> None:
    """Appends one audit row inside the caller's transaction. Free text is made safe and clipped (a hostile
    note or user name is recorded as readable text, never refused: the action it describes has happened)."""
    raw = sorted((E.safe_text(str(k), 40), v) for k, v in (detail or {}).items())[:MAX_DETAIL_KEYS]
    limit = MAX_DETAIL_VALUE_CHARS
    while True:  # whole JSON, never cut: shorter texts until it fits
        text = json.dumps({k: _clipped(v, limit) for k, v in raw}, ensure_ascii=False, sort_keys=True)
        if len(text) <= MAX_DETAIL_CHARS or limit <= 10:
            break
        limit //= 2
    execute(_INSERT_SQL, (int(at_ms), E.safe_text(actor, 100), E.safe_text(action, 60),
                          None if site is None else E.safe_text(site, 100), E.safe_text(target, 200),
                          text, E.safe_text(origin, 100)))


def _clipped(value, limit: int) -> object:
    """A detail value as the log keeps it: numbers, booleans and None as they are, anything else as safe text."""
    if value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and value == value
                                                           and abs(value) != float("inf")):
        return value
    return E.safe_text(value if isinstance(value, str) else repr(value), limit)


def prepare(storage) -> None:
    """Creates the audit table when missing."""
    storage.create_tables(AUDIT_SCHEMA_SQL, AUDIT_SCHEMA_OBJECTS)


def rows(storage, sites: frozenset[str] | None = None, limit: int = 500) -> list[AuditRow]:
    """The newest rows first; sites: only rows about those sites (None: every row, for the fleet's roles)."""
    sql = "SELECT %s FROM audit_log" % ", ".join(_COLUMNS)
    params: tuple = ()
    if sites is not None:
        if not sites:
            return []
        sql += " WHERE site IN (%s)" % ", ".join("?" * len(sites))
        params = tuple(sorted(sites))
    sql += " ORDER BY at_ms DESC, id DESC LIMIT %d" % int(limit)
    return storage.read(lambda x: [AuditRow(*row) for row in x(sql, params).fetchall()])
