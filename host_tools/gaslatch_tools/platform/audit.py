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
    text = json.dumps({str(k): v for k, v in (detail or {}).items()}, ensure_ascii=False, sort_keys=True,
                      default=str)
    execute(_INSERT_SQL, (int(at_ms), E.safe_text(actor, 100), E.safe_text(action, 60),
                          None if site is None else E.safe_text(site, 100), E.safe_text(target, 200),
                          E.safe_text(text, MAX_DETAIL_CHARS), E.safe_text(origin, 100)))


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
