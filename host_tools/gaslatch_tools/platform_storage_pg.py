"""The platform's storage in PostgreSQL (psycopg 3): for a city-wide fleet and for several receivers on one database.

Same tables, SQL and batches as SqliteStorage; `gaslatch platform --db postgresql://...` selects it.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from gaslatch_tools.platform_storage import (MAX_ROWS_PER_INSERT, SCHEMA_SQL, SEQ12, SqlStorage, StorageError,
                                             chunks)

CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "gaslatch-platform"
SCHEMA_LOCK_KEY = 0x6761736C  # "gasl": one receiver at a time creates the tables
# What SCHEMA_SQL creates.
SCHEMA_OBJECTS = ("events", "events_unit_seq", "unit_state", "unit_status", "unit_delivery", "lost_ranges")
T = TypeVar("T")


def redacted(url: str) -> str:
    """The URL as it may be shown or logged: the password replaced by ***."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an unparseable PostgreSQL URL)"
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**params)


class PgStorage(SqlStorage):
    """The storage in a PostgreSQL database given by URL (postgresql://user@host:port/db).

    The tables are created when missing. A batch is one transaction, its events inserted by one pipelined
    executemany; the unique key decides, so each event is stored once whichever receiver got it. A call
    that finds the connection lost (server restart, fail-over) reconnects and runs once more: every call
    is idempotent (an insert that did commit comes back as a duplicate). When that fails too, StorageError
    or psycopg's error goes up and the receiver leaves the batch unacknowledged and tries it again.
    """

    def __init__(self, url: str):
        SqlStorage.__init__(self)
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
        row = self._conn.execute("SELECT %s" % ", ".join(["to_regclass(%s)"] * len(SCHEMA_OBJECTS)),
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

    def _dialect(self, text: str) -> str:
        seq12 = r"CASE WHEN \1 < 1000000000000 THEN lpad(\1::text, 12, '0') ELSE \1::text END"  # as %012d
        return SEQ12.sub(seq12, text.replace("?", "%s"))

    def _write(self, work: Callable[[psycopg.Connection], T]) -> T:
        def transaction(conn: psycopg.Connection) -> T:
            with conn.transaction():
                return work(conn)

        return self._run(transaction)

    def _read(self, work: Callable[[psycopg.Connection], T]) -> T:
        def snapshot(conn: psycopg.Connection) -> T:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return work(conn)

        return self._run(snapshot)

    def _insert_events(self, conn: psycopg.Connection, rows: list[tuple]) -> list[bool]:
        """One statement per MAX_ROWS_PER_INSERT rows; RETURNING names the rows this receiver inserted (another
        receiver may be inserting the same ids at this moment: the unique key decides)."""
        inserted = set()
        for chunk in chunks(rows, MAX_ROWS_PER_INSERT):
            sql = self._sql(self._insert_sql(len(chunk))) + " RETURNING site, unit, id"
            inserted.update(conn.execute(sql, [value for row in chunk for value in row]).fetchall())
        flags = []
        for row in rows:
            flags.append(row[:3] in inserted)
            inserted.discard(row[:3])
        return flags

    def close(self) -> None:
        with self._lock:
            self._conn.close()
