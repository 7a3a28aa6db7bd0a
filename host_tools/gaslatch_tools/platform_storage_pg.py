"""EventStorage in PostgreSQL (psycopg 3): for a city-wide fleet and for several receivers on one database.

Same tables, unique key and queries as SqliteStorage; `gaslatch platform --db postgresql://...` selects it.
"""

from __future__ import annotations

import json
from typing import Callable, Iterator, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from gaslatch_tools.platform_receiver import (EVENTS_SELECT_SQL, GAPS_SQL, SCHEMA_SQL, Event, FleetRow, Gap, Inserted,
                                              StorageError, fleet_from)

CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "gaslatch-platform"
SCHEMA_LOCK_KEY = 0x6761736C  # "gasl": one receiver at a time creates the tables
SCHEMA_OBJECTS = ("events", "events_unit_seq", "unit_state", "unit_status")  # what SCHEMA_SQL creates
T = TypeVar("T")

_INSERT_SQL = """
    WITH previous AS (SELECT MAX(seq) AS max_seq FROM events WHERE site = %(site)s AND unit = %(unit)s),
    taken AS (SELECT EXISTS (SELECT 1 FROM events WHERE site = %(site)s AND unit = %(unit)s AND seq = %(seq)s
                             AND id <> %(id)s) AS seq_taken),
    inserted AS (
        INSERT INTO events (site, unit, id, seq, ts, t_ms, clock_synced, type, severity, source, state, value, reason,
                            received_at)
        VALUES (%(site)s, %(unit)s, %(id)s, %(seq)s, %(ts)s, %(t_ms)s, %(clock_synced)s, %(type)s, %(severity)s,
                %(source)s, %(state)s, %(value)s, %(reason)s, %(received_at)s)
        ON CONFLICT (site, unit, id) DO NOTHING RETURNING 1)
    SELECT (SELECT COUNT(*) FROM inserted), previous.max_seq, taken.seq_taken FROM previous, taken"""
_UPSERT_SQL = """
    INSERT INTO {table} (site, unit, {column}, received_at) VALUES (%s, %s, %s, %s)
    ON CONFLICT (site, unit) DO UPDATE SET {column} = excluded.{column}, received_at = excluded.received_at"""
_PUT_STATE_SQL = _UPSERT_SQL.format(table="unit_state", column="payload")
_PUT_STATUS_SQL = _UPSERT_SQL.format(table="unit_status", column="status")


def redacted(url: str) -> str:
    """The URL as it may be shown or logged: the password replaced by ***."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an unparseable PostgreSQL URL)"
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**params)


class PgStorage:
    """EventStorage in a PostgreSQL database given by URL (postgresql://user@host:port/db).

    The tables are created when missing. An insert is one statement, one round trip and one commit:
    the unique key decides, so each event is stored once whichever receiver got it. What it reports
    besides (the unit's max seq before, a seq already taken) is read in the same statement's snapshot:
    exact for one receiver, a hint when another receiver commits the same unit's events at the same
    moment (gaps() reads the table and is always exact). A call that finds the connection lost
    (server restart, fail-over) reconnects and runs once more: every call is idempotent (an insert
    that did commit comes back as a duplicate). When that fails too, StorageError or psycopg's error
    goes up and the receiver leaves the message unacknowledged.
    """

    def __init__(self, url: str):
        self.url = url
        self._conn = self._connect()
        try:
            if not self._schema_present():
                with self._conn.transaction():
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                    for statement in SCHEMA_SQL:
                        self._conn.execute(statement)
        except psycopg.Error as err:
            self._conn.close()
            raise StorageError("cannot create the tables in %s: %s" % (redacted(self.url), err)) from None

    def _schema_present(self) -> bool:
        """Whether every table and index exists: then a role without CREATE rights can run the receiver."""
        row = self._conn.execute("SELECT to_regclass(%s), to_regclass(%s), to_regclass(%s), to_regclass(%s)",
                                 SCHEMA_OBJECTS).fetchone()
        return all(name is not None for name in row)

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                   application_name=APPLICATION_NAME)
        except psycopg.Error as err:
            raise StorageError("cannot connect to PostgreSQL at %s: %s" % (redacted(self.url), err)) from None

    def _run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """work(connection), once more on a new connection when the first one turns out to be lost."""
        if self._conn.closed:
            self._conn = self._connect()
        try:
            return work(self._conn)
        except psycopg.OperationalError:
            if not self._conn.closed:
                raise
        self._conn = self._connect()
        return work(self._conn)

    def insert_event(self, event: Event, received_at: str) -> Inserted:
        params = event._asdict()
        params["clock_synced"] = int(event.clock_synced)
        params["received_at"] = received_at

        def insert(conn: psycopg.Connection) -> Inserted:
            count, previous, taken = conn.execute(_INSERT_SQL, params).fetchone()
            return Inserted(count == 1, previous, taken)

        return self._run(insert)

    def put_state(self, site: str, unit: str, payload: str, received_at: str) -> None:
        self._run(lambda conn: conn.execute(_PUT_STATE_SQL, (site, unit, payload, received_at)))

    def put_status(self, site: str, unit: str, status: str, received_at: str) -> None:
        self._run(lambda conn: conn.execute(_PUT_STATUS_SQL, (site, unit, status, received_at)))

    def state(self, site: str, unit: str) -> dict | None:
        row = self._run(lambda conn: conn.execute("SELECT payload FROM unit_state WHERE site = %s AND unit = %s",
                                                  (site, unit)).fetchone())
        return json.loads(row[0]) if row else None

    def status(self, site: str, unit: str) -> str | None:
        row = self._run(lambda conn: conn.execute("SELECT status FROM unit_status WHERE site = %s AND unit = %s",
                                                  (site, unit)).fetchone())
        return row[0] if row else None

    def gaps(self) -> list[Gap]:
        return self._run(lambda conn: [Gap(*row) for row in conn.execute(GAPS_SQL)])

    def fleet(self) -> list[FleetRow]:
        def read(conn: psycopg.Connection) -> list[FleetRow]:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return fleet_from(lambda sql: conn.execute(sql).fetchall())

        return self._run(read)

    def iter_events(self) -> Iterator[tuple]:
        """Every stored event as a CSV_COLUMNS tuple, by site, unit and seq."""
        return iter(self._run(lambda conn: conn.execute(EVENTS_SELECT_SQL).fetchall()))

    def close(self) -> None:
        self._conn.close()
