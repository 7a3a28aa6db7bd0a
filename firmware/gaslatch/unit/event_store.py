"""The kitchen unit's event store: an event counts as recorded only once SQLite has committed it.

A writer thread commits in batches (WAL, synchronous=FULL) so the scan never waits on the disk;
retention bounds the file but never drops an undelivered alarm, fault, trip, reset or maintenance reminder.
"""

from __future__ import annotations

import collections
import datetime as dt
import fcntl
import itertools
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator

from gaslatch.core import events as E
from gaslatch.told import Told
from gaslatch.core.uplink_wire import event_id
from gaslatch.unit import store_health as H
from gaslatch.unit.store_health import STORE_DAMAGED, STORE_ERROR, STORE_WRITE_ERROR, STORE_WRITE_HINTS
from gaslatch.unit.wall_clock import WallClock

SCHEMA_VERSION = 1
APPLICATION_ID = 0x474C4556  # "GLEV" in PRAGMA application_id: this file is a gaslatch event store
DEFAULT_MAX_EVENTS = 100000  # the floor; config store.max_events
FILE_MODE = 0o640  # the unit writes, the gaslatch group (operators) reads
DIR_MODE = 0o750
MAX_PENDING_RECORDS = 20000  # waiting for the disk (a few MB); beyond it append() counts losses
MAX_BATCH_RECORDS = 1000  # records committed in one transaction at most
BUSY_TIMEOUT_MS = 2000  # another process holding the write lock longer is a reported failure
RETRY_MIN_S = 0.2  # a failed commit is retried with a doubling pause up to RETRY_MAX_S
RETRY_MAX_S = 5.0
WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024  # the write-ahead log is cut back to this after a checkpoint

SAFETY_SEVERITIES = (E.SEVERITY_ALARM, E.SEVERITY_FAULT)
SAFETY_TYPES = (E.TRIP, E.RESET, E.RESET_REFUSED)
# Kept like them: the unit reads each reminder's last stage back at start (remembered.py), so a reminder dropped as
# old telemetry would be announced again at the next restart. A few a year per detector and valve.
REMEMBERED_TYPES = (E.MAINTENANCE_DUE,)

# Retention: when over capacity the lowest rank goes first, oldest first within a rank.
RANK_DELIVERED_INFO = 0  # periodic/telemetry-like events the platform already has
RANK_DELIVERED_OTHER = 1
RANK_DELIVERED_SAFETY = 2
RANK_UNDELIVERED_INFO = 3
RANK_UNDELIVERED_OTHER = 4
RANK_KEEP = 9  # undelivered alarm, fault, trip, reset, reset_refused: never dropped
FIRST_UNDELIVERED_RANK = RANK_UNDELIVERED_INFO

SCHEMA_SQL = (
    """CREATE TABLE store (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        store_key TEXT NOT NULL,
        created_wall_ts TEXT NOT NULL,
        unit_name TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        dropped INTEGER NOT NULL,
        dropped_undelivered INTEGER NOT NULL
    )""",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        t_ms INTEGER NOT NULL,
        wall_ts TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        type TEXT NOT NULL,
        severity TEXT NOT NULL,
        source TEXT NOT NULL,
        state TEXT NOT NULL,
        value,
        reason TEXT NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0,
        keep_rank INTEGER NOT NULL
    )""",
    "CREATE INDEX events_retention ON events (keep_rank, seq)",
    "CREATE INDEX events_undelivered ON events (seq) WHERE delivered = 0",
)
COLUMNS = ("id", "seq", "t_ms", "wall_ts", "clock_synced", "type", "severity", "source", "state", "value",
           "reason", "delivered")
_INSERT_SQL = ("INSERT INTO events (id, seq, t_ms, wall_ts, clock_synced, type, severity, source, state, value, "
               "reason, delivered, keep_rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)")
_ACK_SQL = ("UPDATE events SET delivered = 1, keep_rank = CASE keep_rank WHEN %d THEN %d WHEN %d THEN %d ELSE %d END "
            "WHERE delivered = 0 AND seq <= ?" % (RANK_KEEP, RANK_DELIVERED_SAFETY, RANK_UNDELIVERED_INFO,
                                                  RANK_DELIVERED_INFO, RANK_DELIVERED_OTHER))


class StoreError(Told):
    """The event store cannot be used: which file, what went wrong and what to do about it.

    problem and hint are message templates filled from `values` (gaslatch/told.py): str() is the English the unit
    logs and reports; told(gettext) the same in the reader's language (gaslatch events)."""

    def __init__(self, path: str, problem: str, hint: str, **values: object):
        self.path = path
        self.problem = problem % values
        self.hint = hint % values
        super().__init__(STORE_ERROR, path=path, problem=Told(problem, **values), hint=Told(hint, **values))


def retention_rank(severity: str, type_: str, delivered: bool) -> int:
    """Where a row stands in the retention order (see RANK_*)."""
    safety = severity in SAFETY_SEVERITIES or type_ in SAFETY_TYPES or type_ in REMEMBERED_TYPES
    if delivered:
        if safety:
            return RANK_DELIVERED_SAFETY
        return RANK_DELIVERED_INFO if severity == E.SEVERITY_INFO else RANK_DELIVERED_OTHER
    if safety:
        return RANK_KEEP
    return RANK_UNDELIVERED_INFO if severity == E.SEVERITY_INFO else RANK_UNDELIVERED_OTHER


def parse_since(since: int | str) -> tuple[str, int | str]:
    """`since` as a sequence number (digits) or a UTC ISO 8601 time -> ("seq" | "wall_ts", bound).

    A time without an offset is taken as UTC; the bound is in the stored form 2026-11-24T21:50:41.123Z.
    Raises ValueError with a message for the user.
    """
    if isinstance(since, int) and not isinstance(since, bool):
        return "seq", since
    text = str(since).strip()
    if text.isascii() and text.isdigit():
        return "seq", int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("%r is neither a sequence number nor a UTC time like 2026-11-24T21:50:00Z" % (since,)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    moment = moment.astimezone(dt.timezone.utc)
    return "wall_ts", moment.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (moment.microsecond // 1000)


class EventReader:
    """Read-only access to a store file: `gaslatch events`, the uplink and the store's own queries.

    Every call opens its own read-only connection, so readers in any thread never write the file.
    """

    def __init__(self, path: str):
        self.path = path
        conn = self._connect()
        try:
            if _check_schema(conn, path):
                raise StoreError(path, *H.EMPTY)
        finally:
            conn.close()

    def query(self, since: int | str | None = None, types: list[str] | tuple[str, ...] | None = None,
              limit: int | None = None) -> list[dict]:
        """Stored events in seq order.

        since: seq (events from that seq on) or a UTC ISO time (events appended at or after it, by
        the unit's wall clock, which may have been wrong where clock_synced is False).
        types: keep only these types. limit: at most this many: the first ones from `since`, or the
        newest ones when there is no `since`.
        """
        return list(self.iter_query(since, types, limit))

    def iter_query(self, since=None, types=None, limit=None) -> Iterator[dict]:
        """Like query(), one row at a time (for listing a whole store without holding it in memory)."""
        if limit is not None and limit < 0:
            raise ValueError("limit must be 0 or more, not %r" % (limit,))
        if isinstance(types, str):
            types = [types]
        where = []
        params: list = []
        if since is not None:
            column, bound = parse_since(since)
            where.append("%s >= ?" % column)
            params.append(bound)
        if types:
            where.append("type IN (%s)" % ", ".join("?" * len(types)))
            params.extend(types)
        sql = "SELECT %s FROM events" % ", ".join(COLUMNS)
        if where:
            sql += " WHERE " + " AND ".join(where)
        if limit is not None and since is None:
            sql = "SELECT * FROM (%s ORDER BY seq DESC LIMIT ?) ORDER BY seq" % sql
            params.append(limit)
        else:
            sql += " ORDER BY seq"
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
        yield from self._rows(sql, params)

    def unacked(self, limit: int, after_seq: int | None = None) -> list[dict]:
        """Undelivered events in seq order, at most `limit`, only those after `after_seq` if given."""
        if limit < 0:
            raise ValueError("limit must be 0 or more, not %r" % (limit,))
        return list(self._rows("SELECT %s FROM events WHERE delivered = 0 AND seq > ? ORDER BY seq LIMIT ?"
                               % ", ".join(COLUMNS), (after_seq if after_seq is not None else 0, limit)))

    def _rows(self, sql: str, params) -> Iterator[dict]:
        conn = self._connect()
        try:
            for row in conn.execute(sql, params):
                record = dict(zip(COLUMNS, row))
                record["clock_synced"] = bool(record["clock_synced"])
                record["delivered"] = bool(record["delivered"])
                yield record
        except sqlite3.DatabaseError as err:
            raise _damaged(self.path, err) from None
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        """Read-only connection; when the unit is stopped (no -wal file) and the directory is not
        writable for us, SQLite cannot make its shared-memory file, and the file is read as immutable."""
        if not os.path.exists(self.path):
            raise StoreError(self.path, *H.NO_SUCH_FILE)
        if os.path.isdir(self.path):
            raise StoreError(self.path, *H.DIRECTORY_GIVEN)
        uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(self.path))
        try:
            return _probe(sqlite3.connect(uri, uri=True, check_same_thread=False))
        except sqlite3.OperationalError as err:
            if os.path.exists(self.path + "-wal"):
                raise _read_error(self.path, err) from None
            try:
                return _probe(sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False))
            except sqlite3.Error:
                raise _read_error(self.path, err) from None
        except sqlite3.Error as err:
            raise _read_error(self.path, err) from None


class _Batch:
    """Records handed over by one append() call, with the wall time they were appended at."""

    def __init__(self, records: list[dict], wall_ts: str, clock_synced: bool):
        self.records = records
        self.wall_ts = wall_ts
        self.clock_synced = clock_synced


class _Ack:
    """An ack(up_to_seq) waiting for the writer thread."""

    def __init__(self, up_to_seq: int):
        self.up_to_seq = up_to_seq
        self.done = threading.Event()
        self.marked = 0


class EventStore:
    """The unit's store: append() from the scan, a writer thread commits; reads go through EventReader.

    wall_ts() -> UTC ISO 8601 with ms and clock_synced() -> bool are called once per append() call.
    Failures after opening never raise from append(): they show in health() and are retried.
    """

    def __init__(self, path: str, max_events: int = DEFAULT_MAX_EVENTS, *, unit: str = "",
                 wall_ts: Callable[[], str] | None = None, clock_synced: Callable[[], bool] | None = None,
                 busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        if max_events < 1:
            raise ValueError("max_events must be at least 1, not %r" % (max_events,))
        if os.path.isdir(path):
            raise StoreError(path, *H.DIRECTORY_CONFIGURED)
        self.path = path
        self.max_events = max_events
        wall = WallClock()
        self._wall_ts = wall_ts or wall.iso_utc
        self._clock_synced = clock_synced or wall.synced
        self._lock_fd = _take_lock(path)
        try:
            self._conn = _open_writable(path, busy_timeout_ms)
            try:
                self.store_key, self._last_seq, self._rows, self._dropped, self._dropped_undelivered = \
                    _prepare(self._conn, path, unit, self._wall_ts)
                self.reader = EventReader(path)
            except BaseException:
                self._conn.close()
                raise
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()
        self._pending_records = 0
        self._highest_appended = 0
        self._appended_items = 0
        self._done_items = 0
        self._stopping = False
        self._abandoned = False
        self._resync = False
        self._error: str | None = None
        self._lost = 0
        self._rejected = 0
        self._last_rejection = ""
        self._transactions = 0
        self._last_commit_ms = 0.0
        self._integrity = "checking"
        self._thread = threading.Thread(target=self._write_loop, name="gaslatch-store", daemon=True)
        self._thread.start()
        threading.Thread(target=self._check_integrity, name="gaslatch-store-check", daemon=True).start()

    # ---- the scan's side: never blocks, never raises ----

    def next_seq(self) -> int:
        """The seq the core should use next: numbering continues across restarts (1 for a new store)."""
        with self._cond:
            return max(self._last_seq, self._highest_appended) + 1

    def append(self, records: list[dict]) -> None:
        """Hand core event records to the writer thread; returns at once. Losses show in health()."""
        if not records:
            return
        try:
            wall_ts = str(self._wall_ts())
            synced = bool(self._clock_synced())
        except Exception:  # a broken clock must not lose the event: record it as unsynchronised
            wall_ts = _iso_utc(time.time())
            synced = False
        try:
            batch = _Batch([dict(record) for record in records], wall_ts, synced)
        except (TypeError, ValueError):
            with self._cond:
                self._rejected += 1
                self._last_rejection = "append() needs a list of event records, not %r" % (records,)
            return
        with self._cond:
            if self._stopping or self._pending_records + len(batch.records) > MAX_PENDING_RECORDS:
                self._lost += len(batch.records)
                return
            self._queue.append(batch)
            self._pending_records += len(batch.records)
            self._appended_items += 1
            last = batch.records[-1].get("seq")
            if isinstance(last, int) and last > self._highest_appended:
                self._highest_appended = last
            self._cond.notify_all()

    def recorded_seq(self) -> int:
        """Highest seq committed (0 for a new store): every event appended up to it is recorded,
        except any that health() counts as lost or rejected."""
        with self._cond:
            return self._last_seq

    def health(self) -> dict:
        """JSON-ready state for `gaslatch status`: ok is False while writing fails or after any loss."""
        with self._cond:
            return {
                "ok": self._error is None and self._lost == 0 and self._rejected == 0
                and not self._integrity.startswith("damaged"),
                "error": self._error,
                "path": self.path,
                "store_key": self.store_key,
                "recorded_seq": self._last_seq,
                "pending": self._pending_records,
                "rows": self._rows,
                "max_events": self.max_events,
                "over_capacity": max(0, self._rows - self.max_events),
                "dropped": self._dropped,
                "dropped_undelivered": self._dropped_undelivered,
                "lost": self._lost,
                "rejected": self._rejected,
                "last_rejection": self._last_rejection,
                "transactions": self._transactions,
                "last_commit_ms": round(self._last_commit_ms, 3),
                "integrity": self._integrity,
                "closed": self._stopping,
            }

    # ---- callers that may wait ----

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything appended before this call is committed; False if time ran out."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._appended_items
            while self._done_items < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def ack(self, up_to_seq: int, timeout_s: float = 10.0) -> int:
        """Mark every stored event up to `up_to_seq` delivered (the uplink); returns how many changed.

        Raises StoreError when the store is closed or could not commit the mark in time.
        """
        request = _Ack(up_to_seq)
        with self._cond:
            if self._stopping:
                raise StoreError(self.path, *H.CLOSED)
            self._queue.append(request)
            self._appended_items += 1
            self._cond.notify_all()
        if not request.done.wait(timeout_s):
            raise StoreError(self.path, *H.ACK_LATE, seconds=timeout_s,
                             why=self._error or "writer busy")
        return request.marked

    def query(self, since: int | str | None = None, types=None, limit: int | None = None) -> list[dict]:
        """Recorded events (see EventReader.query)."""
        return self.reader.query(since, types, limit)

    def unacked(self, limit: int, after_seq: int | None = None) -> list[dict]:
        """Recorded, undelivered events in seq order (see EventReader.unacked)."""
        return self.reader.unacked(limit, after_seq)

    def close(self, timeout_s: float = 5.0) -> bool:
        """Commit what is queued and stop the writer; False if it could not finish in time."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            with self._cond:
                self._abandoned = True
                self._cond.notify_all()
            return False
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
        return True

    # ---- the writer thread ----

    def _write_loop(self) -> None:
        pause_s = RETRY_MIN_S
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue or self._abandoned:
                    break
                items = self._take()
            try:
                started = time.perf_counter()
                if isinstance(items[0], _Ack):
                    self._commit_ack(items[0])
                else:
                    self._commit_batches(items)
                took_ms = (time.perf_counter() - started) * 1000
            except Exception as err:  # sqlite3.Error, OSError, MemoryError...: reported, retried, never fatal
                with self._cond:
                    self._error = STORE_WRITE_ERROR % {"error": err, "hint": _write_hint(err)}
                    self._resync = True
                    if self._abandoned:
                        break
                    self._cond.wait(pause_s)
                pause_s = min(pause_s * 2, RETRY_MAX_S)
                continue
            pause_s = RETRY_MIN_S
            with self._cond:
                for _ in items:
                    self._queue.popleft()
                self._pending_records -= sum(len(i.records) for i in items if isinstance(i, _Batch))
                self._done_items += len(items)
                self._transactions += 1
                self._last_commit_ms = took_ms
                self._error = None
                self._resync = False
                self._cond.notify_all()
            if isinstance(items[0], _Ack):
                items[0].done.set()
        self._conn.close()

    def _take(self) -> list:
        """The head of the queue: one ack, or consecutive appends up to MAX_BATCH_RECORDS (at least one)."""
        head = self._queue[0]
        if isinstance(head, _Ack):
            return [head]
        items = [head]
        count = len(head.records)
        for item in itertools.islice(self._queue, 1, None):
            if isinstance(item, _Ack) or count + len(item.records) > MAX_BATCH_RECORDS:
                break
            items.append(item)
            count += len(item.records)
        return items

    def _commit_batches(self, batches: list[_Batch]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            last_seq, dropped, dropped_undelivered, rows = self._state_in_transaction()
            top = last_seq
            params = []
            rejections = []
            for batch in batches:
                for record in batch.records:
                    problem = _record_problem(record, top)
                    if problem is None:
                        top = record["seq"]
                        params.append(self._row(record, batch))
                    elif not (self._resync and isinstance(record.get("seq"), int) and record["seq"] <= last_seq):
                        rejections.append(problem)  # after a failed commit, rows already there are skipped
            _insert_rows(conn, params)
            rows += len(params)
            rows, dropped, dropped_undelivered = _apply_retention(conn, rows, self.max_events, dropped,
                                                                  dropped_undelivered)
            conn.execute("UPDATE store SET last_seq = ?, dropped = ?, dropped_undelivered = ?",
                         (top, dropped, dropped_undelivered))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        with self._cond:
            self._last_seq = top
            self._rows = rows
            self._dropped = dropped
            self._dropped_undelivered = dropped_undelivered
            if rejections:
                self._rejected += len(rejections)
                self._last_rejection = rejections[-1]

    def _commit_ack(self, request: _Ack) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            _, dropped, dropped_undelivered, rows = self._state_in_transaction()
            marked = conn.execute(_ACK_SQL, (request.up_to_seq,)).rowcount
            rows, dropped, dropped_undelivered = _apply_retention(conn, rows, self.max_events, dropped,
                                                                  dropped_undelivered)
            conn.execute("UPDATE store SET dropped = ?, dropped_undelivered = ?", (dropped, dropped_undelivered))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        request.marked = marked
        with self._cond:
            self._rows = rows
            self._dropped = dropped
            self._dropped_undelivered = dropped_undelivered

    def _state_in_transaction(self) -> tuple[int, int, int, int]:
        """(last_seq, dropped, dropped_undelivered, rows) as the file has them; rows recounted after a failure."""
        last_seq, dropped, dropped_undelivered = self._conn.execute(
            "SELECT last_seq, dropped, dropped_undelivered FROM store").fetchone()
        with self._cond:
            resync = self._resync
            rows = self._rows
        if resync:
            rows = self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return last_seq, dropped, dropped_undelivered, rows

    def _row(self, record: dict, batch: _Batch) -> tuple:
        """The INSERT parameters; texts pass safe_text() again, so a record that did not come through
        the core's EventLog cannot wedge the store either."""
        seq = record["seq"]
        value = record["value"]
        if isinstance(value, str):
            value = E.safe_text(value)
        return (event_id(self.store_key, seq), seq, record["t_ms"], E.safe_text(batch.wall_ts),
                int(batch.clock_synced), E.safe_text(record["type"]), E.safe_text(record["severity"]),
                E.safe_text(record["source"]), E.safe_text(record["state"]), value, E.safe_text(record["reason"]),
                retention_rank(record["severity"], record["type"], False))

    def _check_integrity(self) -> None:
        """PRAGMA quick_check once after opening, off the scan and the writer; the result is in health()."""
        try:
            conn = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(self.path)), uri=True)
            try:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            finally:
                conn.close()
            result = "ok" if problems == ["ok"] else STORE_DAMAGED % {"problems": " / ".join(problems)}
        except sqlite3.Error as err:
            result = STORE_DAMAGED % {"problems": err}
        with self._cond:
            self._integrity = result


class UnavailableStore:
    """Stands in for a store that could not be opened, so the unit still runs its safety loop.

    Events then reach only the journal; health() says why and what to do. Numbering starts at
    first_seq (1 unless the caller knows better), and a new store starts a new store_key.
    """

    def __init__(self, error: StoreError, first_seq: int = 1):
        self.error = error
        self.path = error.path
        self._first_seq = first_seq
        self._lost = 0

    def next_seq(self) -> int:
        return self._first_seq

    def append(self, records: list[dict]) -> None:
        self._lost += len(records) if isinstance(records, list) else 1

    def recorded_seq(self) -> int:
        return 0

    def health(self) -> dict:
        return {"ok": False, "error": str(self.error), "path": self.path, "recorded_seq": 0, "lost": self._lost,
                "closed": False}

    def flush(self, timeout_s: float) -> bool:
        return self._lost == 0

    def ack(self, up_to_seq: int, timeout_s: float = 10.0) -> int:
        raise self.error

    def query(self, since=None, types=None, limit=None) -> list[dict]:
        return []

    def unacked(self, limit: int, after_seq: int | None = None) -> list[dict]:
        return []

    def close(self, timeout_s: float = 5.0) -> bool:
        return True


def _record_problem(record: dict, last_seq: int) -> str | None:
    """Why a record cannot be stored (None when it can): it must be a core event record, in order."""
    try:
        seq = record["seq"]
        if type(seq) is not int:
            return "seq %r is not an integer" % (seq,)
        if seq >= 2 ** 63:
            return "seq %d is beyond 2^63-1, more than SQLite can number" % seq
        if seq <= last_seq:
            return "seq %d is not above the last recorded seq %d" % (seq, last_seq)
        if type(record["t_ms"]) is not int:
            return "seq %d: t_ms %r is not an integer" % (seq, record["t_ms"])
        for key in ("type", "severity", "source", "state", "reason"):
            if not isinstance(record[key], str):
                return "seq %d: %s %r is not text" % (seq, key, record[key])
        if record["value"] is not None and not isinstance(record["value"], (int, str)):
            return "seq %d: value %r is not an integer, text or null" % (seq, record["value"])
    except KeyError as err:
        return "record without %s: %r" % (err, record)
    except TypeError:
        return "not an event record: %r" % (record,)
    return None


# What SQLite refuses in a row's data (an integer beyond 64 bits, text it cannot encode...), as opposed
# to the file or the disk failing (sqlite3.OperationalError and the like), which is retried.
_ROW_DATA_ERRORS = (sqlite3.InterfaceError, sqlite3.ProgrammingError, sqlite3.DataError, OverflowError, ValueError,
                    TypeError)
_ROW = {name: index for index, name in enumerate(("id", "seq", "t_ms", "wall_ts", "clock_synced", "type", "severity",
                                                  "source", "state", "value", "reason", "keep_rank"))}


def _insert_rows(conn: sqlite3.Connection, params: list[tuple]) -> None:
    """Insert the rows in the open transaction; a row SQLite refuses is inserted in its safe form, so one
    bad row never holds back the rest of its batch (nor, by endless retries, everything after it)."""
    conn.execute("SAVEPOINT batch_rows")
    try:
        conn.executemany(_INSERT_SQL, params)
    except _ROW_DATA_ERRORS:
        conn.execute("ROLLBACK TO batch_rows")
        for row in params:
            try:
                conn.execute(_INSERT_SQL, row)
            except _ROW_DATA_ERRORS as err:
                conn.execute(_INSERT_SQL, safe_row(row, err))
    conn.execute("RELEASE batch_rows")


def safe_row(row: tuple, err: Exception) -> tuple:
    """A row SQLite refused, in a form it takes: texts through safe_text(), an integer beyond 64 bits as
    its digits (t_ms as 0), and the reason saying what was changed and why."""
    out = list(row)
    for index, item in enumerate(out):
        if isinstance(item, bool):
            out[index] = int(item)
        elif isinstance(item, int) and not -2 ** 63 <= item < 2 ** 63:
            out[index] = 0 if index == _ROW["t_ms"] else E.safe_text(str(item), 40)
        elif not isinstance(item, int) and item is not None:
            out[index] = E.safe_text(item)
    out[_ROW["reason"]] = E.safe_text("%s [stored in a safe form: %s]" % (out[_ROW["reason"]], err))
    return tuple(out)


def _apply_retention(conn: sqlite3.Connection, rows: int, max_events: int, dropped: int,
                     dropped_undelivered: int) -> tuple[int, int, int]:
    """Delete the rows beyond max_events in retention order; returns the new (rows, dropped, dropped_undelivered)."""
    excess = rows - max_events
    if excess <= 0:
        return rows, dropped, dropped_undelivered
    victims = conn.execute("SELECT seq, keep_rank FROM events WHERE keep_rank < ? ORDER BY keep_rank, seq LIMIT ?",
                           (RANK_KEEP, excess)).fetchall()
    conn.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _ in victims])
    undelivered = sum(1 for _, rank in victims if rank >= FIRST_UNDELIVERED_RANK)
    return rows - len(victims), dropped + len(victims), dropped_undelivered + undelivered


def _take_lock(path: str) -> int:
    """An exclusive lock on <path>.lock for the store's lifetime: one writing process per store."""
    directory = os.path.dirname(os.path.abspath(path))
    _make_directory(directory, path)
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    except OSError as err:
        raise StoreError(path, *H.NO_LOCK_FILE, lock=lock_path, error=err.strerror, directory=directory) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreError(path, *H.IN_USE) from None
    return fd


def _make_directory(directory: str, path: str) -> None:
    """Create the missing directories with mode 0750 (existing ones are left as they are)."""
    missing = []
    current = directory
    while current and not os.path.isdir(current) and current != os.path.dirname(current):
        missing.append(current)
        current = os.path.dirname(current)
    for name in reversed(missing):
        try:
            os.mkdir(name, DIR_MODE)
            os.chmod(name, DIR_MODE)
        except FileExistsError:
            continue
        except OSError as err:
            raise StoreError(path, *H.NO_DIRECTORY, directory=name, error=err.strerror) from None


def _open_writable(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """Create the file with mode 0640 if missing, then connect (autocommit; transactions are explicit)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as err:
        raise StoreError(path, *H.NO_FILE, error=err.strerror) from None
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
        return _probe(conn)
    except sqlite3.Error as err:
        raise _read_error(path, err) from None


def _prepare(conn: sqlite3.Connection, path: str, unit: str,
             wall_ts: Callable[[], str]) -> tuple[str, int, int, int, int]:
    """Check the schema before changing anything, then WAL + FULL, then create or read the store row.

    Returns (store_key, last_seq, rows, dropped, dropped_undelivered).
    """
    try:
        new = _check_schema(conn, path)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(path, *H.NO_WAL, mode=mode)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA journal_size_limit=%d" % WAL_SIZE_LIMIT_BYTES)
        if new:
            _create_schema(conn, unit, wall_ts)
        key, last_seq, dropped, dropped_undelivered, name = conn.execute(
            "SELECT store_key, last_seq, dropped, dropped_undelivered, unit_name FROM store").fetchone()
        top = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
        rows = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        if unit and unit != name:
            conn.execute("UPDATE store SET unit_name = ?", (unit,))
    except sqlite3.OperationalError as err:
        raise _read_error(path, err) from None
    except (sqlite3.DatabaseError, TypeError) as err:  # TypeError: no store row
        raise _damaged(path, err) from None
    return key, max(last_seq, top), rows, dropped, dropped_undelivered


def _create_schema(conn: sqlite3.Connection, unit: str, wall_ts: Callable[[], str]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA_SQL:
            conn.execute(statement)
        try:
            created = str(wall_ts())
        except Exception:
            created = _iso_utc(time.time())
        conn.execute("INSERT INTO store VALUES (1, ?, ?, ?, 0, 0, 0)", (os.urandom(8).hex(), created, unit))
        conn.execute("PRAGMA application_id = %d" % APPLICATION_ID)
        conn.execute("PRAGMA user_version = %d" % SCHEMA_VERSION)
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _check_schema(conn: sqlite3.Connection, path: str) -> bool:
    """True for an empty database (a new store); StoreError unless it is a store of this schema."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        raise _damaged(path, err) from None
    if app_id == 0 and version == 0 and not tables:
        return True
    if app_id != APPLICATION_ID:
        raise StoreError(path, *H.NOT_OURS)
    if version > SCHEMA_VERSION:
        raise StoreError(path, *H.NEWER, version=version, reads=SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise StoreError(path, *H.UNKNOWN_SCHEMA, version=version)
    if not {"events", "store"} <= tables:
        raise StoreError(path, *H.NO_TABLES,
                         tables=", ".join(sorted(tables)) or "none", **_damaged_values(path))
    return False


def _probe(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Make SQLite actually open and read the file (connect() alone does not)."""
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _read_error(path: str, err: sqlite3.Error) -> StoreError:
    if isinstance(err, sqlite3.OperationalError):
        text = str(err)
        if "readonly" in text or "unable to open" in text:
            return StoreError(path, *H.NO_ACCESS, error=text)
        if "locked" in text:
            return StoreError(path, *H.LOCKED, error=text)
        if "disk" in text or "full" in text:
            return StoreError(path, *H.FULL, error=text)
    return _damaged(path, err)


def _damaged_values(path: str) -> dict:
    return {"directory": os.path.dirname(os.path.abspath(path)), "file": os.path.abspath(path)}


def _damaged(path: str, err: Exception) -> StoreError:
    """The file cannot be read as a store: SQLite's words, and how to start a new one keeping the old."""
    return StoreError(path, *H.UNREADABLE, error=err, **_damaged_values(path))


def _write_hint(err: Exception) -> str:
    """What to do while commits fail (gaslatch status says it in Chinese too: gaslatch/unit/store_health.py)."""
    text = str(err)
    locked, full, readonly, other = STORE_WRITE_HINTS
    if "locked" in text or "busy" in text:
        return locked
    if "full" in text or "disk" in text:
        return full
    if "readonly" in text:
        return readonly
    return other


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _iso_utc(now_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_s)) + ".%03dZ" % int((now_s % 1) * 1000)
