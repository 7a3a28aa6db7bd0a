"""What the platform keeps of the fleet's messages: the tables, the queries, and the SQLite storage.

A batch of messages is stored in one transaction, and the same transaction works out how far each unit's
store is now delivered (platform.delivery.walk): an acknowledgement never covers a row not yet committed.
PostgreSQL (platform.storage_pg) runs the same SQL through the same SqlStorage.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, NamedTuple, TypeVar

from gaslatch.core import uplink_wire as W
from gaslatch.translation import N_
from gaslatch_tools.platform import delivery as D
from gaslatch_tools.platform.delivery import StoreKey
from gaslatch.told import Told

SQLITE_BUSY_TIMEOUT_S = 30.0  # receivers sharing one SQLite file wait for each other's short transactions
MAX_SEQ = W.MAX_SEQ
CSV_COLUMNS = ("site", "unit", "id", "seq", "ts", "t_ms", "clock_synced", "type", "severity", "source", "state",
               "value", "reason", "received_at")
SEQ12 = re.compile(r"SEQ12\(([a-z_.]+)\)")  # see _dialect()
LATCH_KEY = "~latch"  # a trip stays open until a reset, whatever their sources
T = TypeVar("T")


class StorageError(Told, RuntimeError):
    """The database cannot be opened: which one (never its password) and why."""


class Event(NamedTuple):
    """One validated event as the platform stores it; value is canonical JSON text (int, text or null)."""

    site: str
    unit: str
    id: str
    seq: int
    ts: str
    t_ms: int
    clock_synced: bool
    type: str
    severity: str
    source: str
    state: str
    value: str
    reason: str


class Gone(NamedTuple):
    """A unit's word that seqs first..last of its store no longer exist (retention deleted them undelivered)."""

    site: str
    unit: str
    store: str
    first: int
    last: int
    reason: str


class Gap(NamedTuple):
    """Sequence numbers first_seq..last_seq (inclusive) the platform has not received and the unit has not
    reported lost; store is the unit's store key ("" for events whose ids carry none)."""

    site: str
    unit: str
    first_seq: int
    last_seq: int
    store: str = ""


class LostRange(NamedTuple):
    """Seqs first_seq..last_seq of a unit's store that the unit reported gone, and why."""

    site: str
    unit: str
    store: str
    first_seq: int
    last_seq: int
    reason: str
    received_at: str


class FleetRow(NamedTuple):
    """One unit in the fleet table."""

    site: str
    unit: str
    status: str  # online, offline or unknown
    last_event: str  # "<type> <state> at <ts>", or "" before the first event
    open_alarms: int
    trips: int
    gaps: int  # missing sequence numbers not reported lost (still asked for)
    events: int
    lost: int  # sequence numbers the unit reported lost


class Delivery(NamedTuple):
    """How far one store is delivered after a transaction: every seq up to `through` is stored or lost.
    moved: `through` rose in this transaction; hole: the missing seqs that stop it (None: nothing beyond);
    replaced: the store is new and its unit had another (its store was replaced: an SD card, a reinstall)."""

    key: StoreKey
    through: int
    moved: bool
    hole: tuple[int, int] | None
    replaced: bool = False


@dataclass
class Batch:
    """The messages stored by one transaction. states and statuses keep the last one per unit."""

    events: list[tuple[Event, str]] = field(default_factory=list)  # (event, received_at)
    gones: list[tuple[Gone, str]] = field(default_factory=list)
    states: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (site, unit) -> (json, at)
    statuses: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    readings: list[tuple[str, str, int, int, str]] = field(default_factory=list)  # (site, unit, received_ms, t_ms,
    #                                                                                 centi_pct_lel JSON)
    rewalk: set[StoreKey] = field(default_factory=set)  # stores to walk even without a message


class Committed(NamedTuple):
    """What a committed batch did: stored[i] is False when batch.events[i] was a duplicate; previous_max is
    each unit's highest seq before the batch; deliveries covers every store the batch touched."""

    stored: list[bool]
    previous_max: dict[tuple[str, str], int | None]
    deliveries: list[Delivery]


def store_key(event: Event) -> StoreKey | None:
    """The store an event belongs to, or None when its id carries no store key (stored, never acknowledged)."""
    key = W.store_key_of(event.id, event.seq)
    return None if key is None else StoreKey(event.site, event.unit, key)


SCHEMA_SQL = (
    """CREATE TABLE IF NOT EXISTS events (
        site TEXT NOT NULL, unit TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT NOT NULL, ts TEXT NOT NULL,
        t_ms BIGINT NOT NULL, clock_synced INTEGER NOT NULL, type TEXT NOT NULL, severity TEXT NOT NULL,
        source TEXT NOT NULL, state TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL,
        received_at TEXT NOT NULL, UNIQUE (site, unit, id))""",
    "CREATE INDEX IF NOT EXISTS events_unit_seq ON events (site, unit, seq)",
    """CREATE TABLE IF NOT EXISTS unit_state (site TEXT NOT NULL, unit TEXT NOT NULL, payload TEXT NOT NULL,
        received_at TEXT NOT NULL, PRIMARY KEY (site, unit))""",
    """CREATE TABLE IF NOT EXISTS unit_status (site TEXT NOT NULL, unit TEXT NOT NULL, status TEXT NOT NULL,
        received_at TEXT NOT NULL, PRIMARY KEY (site, unit))""",
    """CREATE TABLE IF NOT EXISTS unit_delivery (site TEXT NOT NULL, unit TEXT NOT NULL, store_key TEXT NOT NULL,
        through_seq BIGINT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (site, unit, store_key))""",
    """CREATE TABLE IF NOT EXISTS lost_ranges (site TEXT NOT NULL, unit TEXT NOT NULL, store_key TEXT NOT NULL,
        first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL, reason TEXT NOT NULL, received_at TEXT NOT NULL,
        UNIQUE (site, unit, store_key, first_seq, last_seq))""",
    # Each unit's telemetry (its detectors' readings every uplink.telemetry_s), for the plots around a warning;
    # kept READINGS_KEEP_MS (the notifier's step prunes older ones).
    """CREATE TABLE IF NOT EXISTS readings (site TEXT NOT NULL, unit TEXT NOT NULL, received_ms BIGINT NOT NULL,
        t_ms BIGINT NOT NULL, centi_pct_lel TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS readings_unit_time ON readings (site, unit, received_ms)",
)
READINGS_KEEP_MS = 48 * 3600 * 1000
INSERT_READING_SQL = "INSERT INTO readings (site, unit, received_ms, t_ms, centi_pct_lel) VALUES (?, ?, ?, ?, ?)"

# Plain SQL that SQLite (>= 3.35) and PostgreSQL both accept, but for the spellings each storage's _dialect()
# rewrites: ? placeholders (psycopg: %s), GREATEST (SQLite: MAX), SEQ12(x), x as event_id() writes it
# (zero-padded to 12 digits), so a store's events are found exactly by their ids, and in CREATE TABLE the column
# types AUTO_ID (an integer key the database assigns) and BINARY_DATA (SQLite: BLOB; PostgreSQL: BYTEA).
EVENT_COLUMNS = ("site", "unit", "id", "seq", "ts", "t_ms", "clock_synced", "type", "severity", "source", "state",
                 "value", "reason", "received_at")
# {rows}: a set of rows given as parameters, spelt by each storage's _row_set(): SQLite VALUES (?, ...), (?, ...);
# PostgreSQL one array per column through unnest (one short statement, parsed once, whatever the number of rows).
INSERT_EVENTS_SQL = "INSERT INTO events (%s) {rows} ON CONFLICT (site, unit, id) DO NOTHING" % (
    ", ".join(EVENT_COLUMNS))
EVENT_TYPES = ("text", "text", "text", "bigint", "text", "bigint", "integer", "text", "text", "text", "text", "text",
               "text", "text")  # EVENT_COLUMNS' SQL types
MAX_ROWS_PER_INSERT = 1000  # 14,000 parameters: within SQLite's 32,766 and PostgreSQL's 65,535
INSERT_LOST_SQL = """
    INSERT INTO lost_ranges (site, unit, store_key, first_seq, last_seq, reason, received_at)
    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, unit, store_key, first_seq, last_seq) DO NOTHING"""
_UPSERT_SQL = """
    INSERT INTO {table} (site, unit, {column}, received_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (site, unit) DO UPDATE SET {column} = excluded.{column}, received_at = excluded.received_at"""
PUT_STATE_SQL = _UPSERT_SQL.format(table="unit_state", column="payload")
PUT_STATUS_SQL = _UPSERT_SQL.format(table="unit_status", column="status")
MAX_SEQ_SQL = "SELECT MAX(seq) FROM events WHERE site = ? AND unit = ?"
THROUGH_SQL = "SELECT through_seq FROM unit_delivery WHERE site = ? AND unit = ? AND store_key = ?"
# A unit's stored seqs above one, in chunks by the (site, unit, seq) index; the walk reads them only as far
# as the first hole. (Finding a run's end in SQL with NOT EXISTS cost PostgreSQL a scan of the table per walk.)
RUN_CHUNK = 1000
SEQS_AFTER_SQL = "SELECT seq, id FROM events WHERE site = ? AND unit = ? AND seq > ? ORDER BY seq, id LIMIT %d" % RUN_CHUNK
# The same queries for every unit or store a batch touched at once, KEYS_AT_ONCE a statement: a batch from a
# fleet touches hundreds of units, and a round trip each was most of a receiver's time per event.
KEYS_AT_ONCE = 500
KEY_TYPES = ("text", "text", "text")  # site, unit, store_key
UNIT_TYPES = ("text", "text")
SPAN_TYPES = ("text", "text", "bigint", "bigint")  # site, unit, after, upto
MAX_SEQS_SQL = """WITH k(site, unit) AS ({rows})
    SELECT k.site, k.unit, (SELECT MAX(seq) FROM events e WHERE e.site = k.site AND e.unit = k.unit) FROM k"""
THROUGHS_SQL = """WITH k(site, unit, store_key) AS ({rows})
    SELECT d.site, d.unit, d.store_key, d.through_seq FROM k
    JOIN unit_delivery d ON d.site = k.site AND d.unit = k.unit AND d.store_key = k.store_key"""
STORES_LOST_SQL = """WITH k(site, unit, store_key, after) AS ({rows})
    SELECT l.site, l.unit, l.store_key, l.first_seq, l.last_seq FROM k
    JOIN lost_ranges l ON l.site = k.site AND l.unit = k.unit AND l.store_key = k.store_key AND l.last_seq > k.after"""
# Each store's first RUN_CHUNK seqs above its point (by seq, every store of the unit), and the unit's lowest seq
# beyond them (NULL: the window holds everything above the point).
WINDOWS_SQL = """WITH k(site, unit, after, upto) AS ({rows})
    SELECT k.site, k.unit, k.after, e.seq, e.id FROM k
    JOIN events e ON e.site = k.site AND e.unit = k.unit AND e.seq > k.after AND e.seq <= k.upto"""
BEYOND_SQL = """WITH k(site, unit, after, upto) AS ({rows})
    SELECT k.site, k.unit, k.after,
           (SELECT MIN(seq) FROM events e WHERE e.site = k.site AND e.unit = k.unit AND e.seq > k.upto) FROM k"""
OTHER_STORES_ALL_SQL = """WITH k(site, unit, store_key) AS ({rows})
    SELECT k.site, k.unit, k.store_key, (SELECT COUNT(*) FROM unit_delivery d
        WHERE d.site = k.site AND d.unit = k.unit AND d.store_key <> k.store_key) FROM k"""
# Several receivers may walk one store at once: the stored point only ever rises.
UPSERT_THROUGHS_SQL = """
    INSERT INTO unit_delivery (site, unit, store_key, through_seq, updated_at) {rows}
    ON CONFLICT (site, unit, store_key) DO UPDATE
    SET through_seq = GREATEST(unit_delivery.through_seq, excluded.through_seq), updated_at = excluded.updated_at
    RETURNING site, unit, store_key, through_seq"""
STATE_SQL = "SELECT payload FROM unit_state WHERE site = ? AND unit = ?"
STATUS_SQL = "SELECT status FROM unit_status WHERE site = ? AND unit = ?"

# Units whose events carry no store key: gaps between the lowest and highest seq received.
UNKEYED_GAPS_SQL = """
    SELECT site, unit, seq + 1, next_seq - 1 FROM (
        SELECT site, unit, seq, LEAD(seq) OVER (PARTITION BY site, unit ORDER BY seq) AS next_seq FROM events e
        WHERE NOT EXISTS (SELECT 1 FROM unit_delivery d WHERE d.site = e.site AND d.unit = e.unit)
    ) AS ordered WHERE next_seq - seq > 1 ORDER BY site, unit, seq"""
# Stores: everything up to through_seq is stored or lost; the holes are between it and the store's events above.
# (next_seq - seq > 1, not next_seq > seq + 1: a seq of 2^63-1, which a 64-bit column holds, has no + 1.)
KEYED_HOLES_SQL = """
    WITH keyed AS (
        SELECT site, unit, store_key, through_seq AS seq FROM unit_delivery
        UNION ALL
        SELECT d.site, d.unit, d.store_key, e.seq FROM unit_delivery d
        JOIN events e ON e.site = d.site AND e.unit = d.unit AND e.seq > d.through_seq
                     AND e.id = d.store_key || '-' || SEQ12(e.seq)
    )
    SELECT site, unit, store_key, seq + 1, next_seq - 1 FROM (
        SELECT site, unit, store_key, seq,
               LEAD(seq) OVER (PARTITION BY site, unit, store_key ORDER BY seq) AS next_seq FROM keyed
    ) AS ordered WHERE next_seq - seq > 1 ORDER BY site, unit, store_key, seq"""
LOST_SQL = """
    SELECT site, unit, store_key, first_seq, last_seq, reason, received_at FROM lost_ranges
    ORDER BY site, unit, store_key, first_seq, last_seq"""
_OPEN_ALARMS_SQL = """
    WITH keyed AS (
        SELECT site, unit, seq, severity,
               CASE WHEN type IN ('trip', 'reset') THEN '%s' ELSE type || ':' || source END AS k FROM events
    ), latest AS (SELECT site, unit, k, MAX(seq) AS seq FROM keyed GROUP BY site, unit, k)
    SELECT keyed.site, keyed.unit, COUNT(*) FROM keyed
        JOIN latest ON keyed.site = latest.site AND keyed.unit = latest.unit AND keyed.k = latest.k
                    AND keyed.seq = latest.seq
    WHERE keyed.severity = 'alarm' GROUP BY keyed.site, keyed.unit""" % LATCH_KEY
_UNIT_SUMMARY_SQL = """
    SELECT site, unit, COUNT(*), SUM(CASE WHEN type = 'trip' THEN 1 ELSE 0 END) FROM events GROUP BY site, unit"""
_LAST_EVENT_SQL = """
    SELECT e.site, e.unit, e.type, e.state, e.ts FROM events e
    JOIN (SELECT site, unit, MAX(seq) AS seq FROM events GROUP BY site, unit) m
        ON e.site = m.site AND e.unit = m.unit AND e.seq = m.seq"""
EVENTS_SELECT_SQL = "SELECT %s FROM events ORDER BY site, unit, seq, id" % ", ".join(CSV_COLUMNS)

Query = Callable[[str], Iterable[tuple]]
# execute(sql, params=()) -> cursor, in the storage's dialect, inside a transaction (write() and read(), the hooks);
# an Executor, whose each() runs a statement over a set of rows
Execute = Callable[..., Any]
# hook(execute, batch, stored): runs in every batch's transaction after the batch is written (add_store_hook)
StoreHook = Callable[[Execute, "Batch", list[bool]], None]


def merged(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(first, last) ranges merged where they overlap or touch, in order."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def without(hole: tuple[int, int], lost: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of hole that no (merged, ordered) lost range covers."""
    out = []
    first, last = hole
    for lost_first, lost_last in lost:
        if lost_last < first or lost_first > last:
            continue
        if lost_first > first:
            out.append((first, lost_first - 1))
        first = lost_last + 1
        if first > last:
            return out
    out.append((first, last))
    return out


def lost_from(query: Query) -> list[LostRange]:
    return [LostRange(*row) for row in query(LOST_SQL)]


def gaps_from(query: Query, lost: list[LostRange]) -> list[Gap]:
    """Missing seqs per unit (and store), not counting those the unit reported lost."""
    lost_by_store: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for r in lost:
        lost_by_store.setdefault((r.site, r.unit, r.store), []).append((r.first_seq, r.last_seq))
    lost_by_store = {key: merged(ranges) for key, ranges in lost_by_store.items()}
    out = [Gap(site, unit, first, last) for site, unit, first, last in query(UNKEYED_GAPS_SQL)]
    for site, unit, store, first, last in query(KEYED_HOLES_SQL):
        for part in without((first, last), lost_by_store.get((site, unit, store), [])):
            out.append(Gap(site, unit, part[0], part[1], store))
    return sorted(out, key=lambda g: (g.site, g.unit, g.store, g.first_seq))


def fleet_from(query: Query) -> list[FleetRow]:
    """The fleet table from a storage's `query(sql) -> rows` (the same SQL on SQLite and PostgreSQL)."""
    units: dict[tuple[str, str], dict] = {}

    def unit(site: str, name: str) -> dict:
        return units.setdefault((site, name), {"status": "unknown", "last": "", "alarms": 0, "trips": 0,
                                               "gaps": 0, "events": 0, "lost": 0})

    for site, name, status in query("SELECT site, unit, status FROM unit_status"):
        unit(site, name)["status"] = status
    for site, name in query("SELECT site, unit FROM unit_state"):
        unit(site, name)
    for site, name, count, trips in query(_UNIT_SUMMARY_SQL):
        u = unit(site, name)
        u["events"], u["trips"] = count, trips
    for site, name, type_, state, ts in query(_LAST_EVENT_SQL):
        unit(site, name)["last"] = "%s %s at %s" % (type_, state, ts)
    for site, name, count in query(_OPEN_ALARMS_SQL):
        unit(site, name)["alarms"] = count
    lost = lost_from(query)
    for gap in gaps_from(query, lost):
        unit(gap.site, gap.unit)["gaps"] += gap.last_seq - gap.first_seq + 1
    by_store: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for r in lost:
        by_store.setdefault((r.site, r.unit, r.store), []).append((r.first_seq, r.last_seq))
    for (site, name, _), ranges in by_store.items():
        unit(site, name)["lost"] += sum(last - first + 1 for first, last in merged(ranges))
    return [FleetRow(site, name, u["status"], u["last"], u["alarms"], u["trips"], u["gaps"], u["events"], u["lost"])
            for (site, name), u in sorted(units.items())]


class SqlStorage:
    """The storage the receiver needs, over a DB-API connection whose execute() returns a cursor.

    Subclasses give the transaction (_write, _read), the event insert (_insert_events) and the dialect
    (_dialect, _row_set). Every method holds the storage's lock: a reader (the bench, an export) never sees a batch
    half-written.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._dialects: dict[str, str] = {}
        self._store_hooks: list[StoreHook] = []

    # --- the dialect and the transaction, per driver ---

    def _dialect(self, text: str) -> str:
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        out = self._dialects.get(text)
        if out is None:
            out = self._dialects[text] = self._dialect(text)
        return out

    def _write(self, work: Callable[..., T]) -> T:
        raise NotImplementedError

    def _read(self, work: Callable[..., T]) -> T:
        raise NotImplementedError

    def _insert_events(self, conn, rows: list[tuple]) -> list[bool]:
        raise NotImplementedError

    def create_tables(self, statements: Iterable[str], objects: Iterable[str]) -> None:
        """Runs CREATE ... IF NOT EXISTS statements (in the dialect) unless every named table and index exists."""
        raise NotImplementedError

    # --- writing ---

    def add_store_hook(self, hook: StoreHook) -> None:
        """hook(execute, batch, stored) runs inside every batch's transaction, after the batch is written:
        what it writes commits with the batch's events (stored[i]: batch.events[i] was new). An exception it
        lets out fails the batch, which the receiver tries again."""
        self._store_hooks.append(hook)

    def write(self, work: Callable[[Execute], T]) -> T:
        """work(execute) in one write transaction (the other platform modules' tables)."""
        with self._lock:
            return self._write(lambda conn: work(Executor(self, conn)))

    def read(self, work: Callable[[Execute], T]) -> T:
        """work(execute) in one read-only snapshot."""
        with self._lock:
            return self._read(lambda conn: work(Executor(self, conn)))

    def store(self, batch: Batch, now: str) -> Committed:
        """Stores the batch in one transaction and walks every store it touched; now is the walk's updated_at.

        Rows are written in key order (events, lost ranges, states, statuses, delivery points), so receivers
        writing one PostgreSQL database at once take their row locks in the same order and never deadlock.
        """
        with self._lock:
            return self._write(lambda conn: self._store(conn, batch, now))

    def _store(self, conn, batch: Batch, now: str) -> Committed:
        x = self._execute
        units = sorted({(e.site, e.unit) for e, _ in batch.events})
        previous_max = {(site, unit): seq for site, unit, seq in self._each(conn, MAX_SEQS_SQL, UNIT_TYPES, units)}
        order = sorted(range(len(batch.events)), key=lambda i: batch.events[i][0][:3])
        rows = []
        for i in order:
            event, received_at = batch.events[i]
            rows.append(event[:6] + (int(event.clock_synced),) + event[7:] + (received_at,))
        flags = self._insert_events(conn, rows)
        stored = [False] * len(batch.events)
        for i, flag in zip(order, flags):
            stored[i] = flag
        for gone, received_at in sorted(batch.gones):
            x(conn, INSERT_LOST_SQL, tuple(gone) + (received_at,))
        for (site, unit), (payload, received_at) in sorted(batch.states.items()):
            x(conn, PUT_STATE_SQL, (site, unit, payload, received_at))
        for (site, unit), (status, received_at) in sorted(batch.statuses.items()):
            x(conn, PUT_STATUS_SQL, (site, unit, status, received_at))
        for reading in batch.readings:
            x(conn, INSERT_READING_SQL, reading)
        for hook in self._store_hooks:
            hook(Executor(self, conn), batch, stored)
        keys = set(batch.rewalk)
        keys.update(k for k in (store_key(e) for e, _ in batch.events) if k is not None)
        keys.update(StoreKey(g.site, g.unit, g.store) for g, _ in batch.gones)
        return Committed(stored, previous_max, self._deliver(conn, sorted(keys), now))

    def _row_set(self, types: tuple[str, ...], rows: list[tuple]) -> tuple[str, list]:
        """(SQL, parameters) of `rows` (each a tuple of len(types) values) as a set of rows: VALUES lists."""
        row = "(%s)" % ", ".join("?" * len(types))
        return "VALUES " + ", ".join([row] * len(rows)), [value for r in rows for value in r]

    def _each(self, conn, sql: str, types: tuple[str, ...], rows: list[tuple]) -> list[tuple]:
        """sql (one of the *_SQL with {rows}) over `rows` (columns of SQL `types`), KEYS_AT_ONCE a statement:
        the rows it returns, if any."""
        out: list[tuple] = []
        for chunk in chunks(rows, KEYS_AT_ONCE):
            row_set, params = self._row_set(types, chunk)
            cursor = self._execute(conn, sql.format(rows=row_set), params)
            if cursor.description is not None:  # a statement that returns rows
                out.extend(cursor.fetchall())
        return out

    def _deliver(self, conn, keys: list[StoreKey], now: str) -> list[Delivery]:
        """Walks every store in `keys` (in key order) from its delivery point; a few statements for them all.

        Another receiver may commit the same store between this walk and the point's upsert (PostgreSQL, READ
        COMMITTED): the upsert then returns its higher point, and the events this transaction stored above it
        were invisible to that receiver's walk. Neither walk reached them, so the store is walked again from
        the point written (a new statement sees what the other one committed) until this walk holds; taking
        the other point as final left a unit's acked point short, with no hole to look at again."""
        if not keys:
            return []
        before = {StoreKey(*row[:3]): row[3] for row in self._each(conn, THROUGHS_SQL, KEY_TYPES, keys)}
        starts = {key: before.get(key) or 0 for key in keys}
        new = [k for k in keys if k not in before]
        others = {StoreKey(*row[:3]): row[3] for row in self._each(conn, OTHER_STORES_ALL_SQL, KEY_TYPES, new)}
        replaced: dict[StoreKey, bool] = {}
        new_units: set[tuple[str, str]] = set()  # units with a store recorded earlier in this batch
        for key in keys:
            replaced[key] = key in others and (others[key] > 0 or (key.site, key.unit) in new_units)
            if key in others:
                new_units.add((key.site, key.unit))
        points = dict(before)  # each store's point as this transaction knows it
        walked: dict[StoreKey, tuple[int, tuple[int, int] | None]] = {}
        todo = keys
        while todo:
            walks = self._walks(conn, todo, {key: points.get(key) or 0 for key in todo})
            upserts = [tuple(k) + (t, now) for k, (t, _) in walks.items() if k not in points or t > points[k]]
            written = {StoreKey(*row[:3]): row[3]
                       for row in self._each(conn, UPSERT_THROUGHS_SQL, KEY_TYPES + ("bigint", "text"), upserts)}
            walked.update(walks)
            todo = []
            for key, (through, _) in walks.items():
                points[key] = max(through, written.get(key, through))
                if points[key] > through:  # another receiver got further: walk on from its point
                    todo.append(key)
        return [Delivery(key, walked[key][0], walked[key][0] > starts[key], walked[key][1], replaced[key])
                for key in keys]

    def _walks(self, conn, keys: list[StoreKey], starts: dict[StoreKey, int]
               ) -> dict[StoreKey, tuple[int, tuple[int, int] | None]]:
        """(through, hole) of each store in `keys` walked from its start, in key order (platform.delivery.walk)."""
        lost: dict[StoreKey, list[tuple[int, int]]] = {}
        for site, unit, store, first, last in self._each(conn, STORES_LOST_SQL, KEY_TYPES + ("bigint",),
                                                         [tuple(k) + (starts[k],) for k in keys]):
            lost.setdefault(StoreKey(site, unit, store), []).append((first, last))
        spans = sorted({(k.site, k.unit, starts[k], min(starts[k] + RUN_CHUNK, MAX_SEQ)) for k in keys})
        window: dict[tuple, list[tuple[int, str]]] = {span[:3]: [] for span in spans}
        for site, unit, after, seq, id_ in self._each(conn, WINDOWS_SQL, SPAN_TYPES, spans):
            window[(site, unit, after)].append((seq, id_))
        beyond = {row[:3]: row[3] for row in self._each(conn, BEYOND_SQL, SPAN_TYPES, spans)}
        out = {}
        for key in keys:
            start = starts[key]
            span = (key.site, key.unit, start)
            runs = self._runs(conn, key, start, sorted(window[span]),
                              None if beyond[span] is None else start + RUN_CHUNK)
            through, hole = D.walk(start, runs, lost.get(key, ()))
            if hole is not None:  # ask for every seq up to the highest stored one in one request (see D.request_span)
                hole = D.request_span(hole, self._execute(conn, MAX_SEQ_SQL, (key.site, key.unit)).fetchone()[0])
            out[key] = (through, hole)
        return out

    def _runs(self, conn, key: StoreKey, after: int, window: list[tuple[int, str]],
              more_after: int | None) -> Iterator[tuple[int, int]]:
        """The store's runs of consecutive stored seqs above `after`, ascending, read as the walk asks: first
        from `window` (the unit's (seq, id) rows just above `after`, by seq), then, when more_after is not None,
        from the rows above more_after.

        Only this store's events count (id == W.event_id(key, seq)): after a replaced SD card the unit's other
        store has events under the same seqs."""
        first = last = None
        for seq, id_ in itertools.chain(window, self._rows_above(conn, key, more_after)):
            if id_ != W.event_id(key.store, seq):
                continue
            if last is not None and seq == last + 1:
                last = seq
                continue
            if first is not None:
                yield first, last
            first = last = seq
        if first is not None:
            yield first, last

    def _rows_above(self, conn, key: StoreKey, after: int | None) -> Iterator[tuple[int, str]]:
        """The unit's (seq, id) rows above `after` (none when it is None), by seq, RUN_CHUNK a query."""
        while after is not None:
            rows = self._execute(conn, SEQS_AFTER_SQL, (key.site, key.unit, after)).fetchall()
            full = len(rows) == RUN_CHUNK
            if full:  # the next chunk starts at the last seq again: its other stores' rows may straddle the limit
                rows = [row for row in rows if row[0] < rows[-1][0]] or rows
            yield from rows
            after = rows[-1][0] if full else None

    def _execute(self, conn, sql: str, params: tuple = ()):
        return conn.execute(self._sql(sql), params)

    # --- reading ---

    def _one(self, sql: str, params: tuple):
        with self._lock:
            return self._read(lambda conn: self._execute(conn, sql, params).fetchone())

    def _all(self, work: Callable[[Query], T]) -> T:
        with self._lock:
            return self._read(lambda conn: work(lambda sql: self._execute(conn, sql).fetchall()))

    def state(self, site: str, unit: str) -> dict | None:
        row = self._one(STATE_SQL, (site, unit))
        return json.loads(row[0]) if row else None

    def status(self, site: str, unit: str) -> str | None:
        row = self._one(STATUS_SQL, (site, unit))
        return row[0] if row else None

    def through(self, key: StoreKey) -> int | None:
        """The seq up to which the store is acknowledged (None before its first event)."""
        row = self._one(THROUGH_SQL, tuple(key))
        return row[0] if row else None

    def lost(self) -> list[LostRange]:
        return self._all(lost_from)

    def gaps(self) -> list[Gap]:
        return self._all(lambda query: gaps_from(query, lost_from(query)))

    def fleet(self) -> list[FleetRow]:
        return self._all(fleet_from)

    def iter_events(self) -> Iterator[tuple]:
        """Every stored event as a CSV_COLUMNS tuple, by site, unit and seq."""
        return iter(self._all(lambda query: query(EVENTS_SELECT_SQL)))


class Executor:
    """What write(), read() and the store hooks are given: execute(sql, params=()) -> cursor in the storage's
    dialect, inside its transaction; each(sql, types, rows) runs a statement with {rows} over a set of rows."""

    def __init__(self, storage: SqlStorage, conn):
        self._storage = storage
        self._conn = conn

    def __call__(self, sql: str, params: tuple | list = ()):
        return self._storage._execute(self._conn, sql, params)

    def each(self, sql: str, types: tuple[str, ...], rows: list[tuple]) -> list[tuple]:
        return self._storage._each(self._conn, sql, types, rows)


class SqliteStorage(SqlStorage):
    """The storage in one SQLite file (WAL): nothing to install, fine for a bench or a pilot site.

    Several receivers (processes) may share the file: each batch is one short write transaction.
    """

    def __init__(self, path: str):
        SqlStorage.__init__(self)
        self.path = path
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                         timeout=SQLITE_BUSY_TIMEOUT_S)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")  # on disk before the PUBACK, even through a power cut
            for statement in SCHEMA_SQL:
                self._conn.execute(statement)
        except sqlite3.Error as err:
            raise StorageError(N_("cannot open the SQLite database %(path)s: %(error)s"), path=path,
                               error=err) from None

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            result = work(c)
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        return result

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        self._conn.execute("BEGIN")  # one snapshot for every query, while other receivers write
        try:
            return work(self._conn)
        finally:
            self._conn.execute("COMMIT")

    def _dialect(self, text: str) -> str:
        text = text.replace("GREATEST(", "MAX(").replace("AUTO_ID", "INTEGER PRIMARY KEY")
        text = text.replace("BINARY_DATA", "BLOB")
        return SEQ12.sub(r"printf('%012d', \1)", text.replace(" FOR UPDATE SKIP LOCKED", ""))

    def create_tables(self, statements: Iterable[str], objects: Iterable[str]) -> None:
        with self._lock:
            for statement in statements:
                self._conn.execute(self._sql(statement))

    def _insert_events(self, conn: sqlite3.Connection, rows: list[tuple]) -> list[bool]:
        """Which rows are new, then all of them in one statement: SQLite releases Python's lock for each
        statement it runs, and waiting to get it back from the MQTT thread is what a backlog would wait on.
        Exact, as this transaction holds the database's write lock."""
        ids: dict[tuple[str, str], set[str]] = {}
        for row in rows:
            ids.setdefault(row[:2], set()).add(row[2])
        present = set()
        for (site, unit), unit_ids in ids.items():
            for chunk in chunks(sorted(unit_ids), MAX_ROWS_PER_INSERT):
                sql = "SELECT id FROM events WHERE site = ? AND unit = ? AND id IN (%s)" % ", ".join("?" * len(chunk))
                present.update((site, unit, id_) for (id_,) in conn.execute(sql, (site, unit) + tuple(chunk)))
        flags = []
        for row in rows:
            flags.append(row[:3] not in present)
            present.add(row[:3])
        for chunk in chunks(rows, MAX_ROWS_PER_INSERT):
            row_set, params = self._row_set(EVENT_TYPES, chunk)
            conn.execute(INSERT_EVENTS_SQL.format(rows=row_set), params)
        return flags

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def open_storage(location: str) -> SqlStorage:
    """A postgresql:// (or postgres://) URL -> PgStorage; anything else is a SQLite file path."""
    if location.startswith(("postgresql://", "postgres://")):
        from gaslatch_tools.platform.storage_pg import PgStorage

        return PgStorage(location)
    return SqliteStorage(location)


def export_csv(storage: SqlStorage, path_or_file: str | os.PathLike | io.TextIOBase) -> int:
    """Every event in storage as CSV (header CSV_COLUMNS; value decoded, null as empty) -> rows written."""
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "w", newline="", encoding="utf-8") as f:
            return _write_csv(storage, f)
    return _write_csv(storage, path_or_file)


def _write_csv(storage: SqlStorage, f) -> int:
    writer = csv.writer(f)
    writer.writerow(CSV_COLUMNS)
    value_at = CSV_COLUMNS.index("value")
    count = 0
    for row in storage.iter_events():
        row = list(row)
        value = json.loads(row[value_at])
        row[value_at] = "" if value is None else value
        writer.writerow(row)
        count += 1
    return count
