"""The reference platform receiver: the ground truth of what the fleet delivered over MQTT.

Subscribes to every unit's event, state and status topics, validates each payload at the edge,
stores events de-duplicated by id, keeps last state and online status, and reports sequence gaps.
Several receivers can share a fleet's events (MQTT 5 shared subscription) on one database.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from typing import Callable, Iterable, Iterator, NamedTuple, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W

log = logging.getLogger("gaslatch.platform")

SUBSCRIPTIONS = tuple("%s/+/+/%s" % (W.TOPIC_ROOT, kind) for kind in ("event", "state", "status"))
QOS = 1
KEEPALIVE_S = 30
# MQTT 5 session expiry: never, as a 3.1.1 persistent session; queued events wait for the receiver.
SESSION_EXPIRY_NEVER_S = 0xFFFFFFFF
SHARE_NAME_FORBIDDEN = ("/", "+", "#")  # MQTT 5.0 section 4.8.2
SQLITE_BUSY_TIMEOUT_S = 30.0  # receivers sharing one SQLite file wait for each other's short transactions
MAX_INT64 = 2 ** 63 - 1  # seq and t_ms are stored as 64-bit integers
TEXT = "text (Unicode without NUL, which PostgreSQL cannot store)"
MAX_ID_CHARS = 64
MAX_TEXT_CHARS = E.MAX_TEXT_CHARS  # what a unit's safe_text lets through, stored as it came
# An event is usually a few hundred bytes; at most, its four free texts (source, state, value, reason) of
# MAX_TEXT_CHARS each, every character escaped as a \u surrogate pair (12 bytes), and the fixed fields.
MAX_PAYLOAD_BYTES = 4 * 12 * MAX_TEXT_CHARS + 4096
SEVERITIES = (E.SEVERITY_ALARM, E.SEVERITY_FAULT, E.SEVERITY_WARNING, E.SEVERITY_INFO)
STATUSES = ("online", "offline")
EVENT_KEYS = frozenset(W.EVENT_FIELDS)
OPTIONAL_EVENT_KEYS = frozenset(("detector", "site", "unit"))  # site/unit, when sent, must match the topic
CSV_COLUMNS = ("site", "unit", "id", "seq", "ts", "t_ms", "clock_synced", "type", "severity", "source", "state",
               "value", "reason", "received_at")
LATCH_KEY = "~latch"  # a trip stays open until a reset, whatever their sources


class PayloadError(ValueError):
    """A message the receiver refuses: which topic, and why (`code` is the counter it is tallied under)."""

    def __init__(self, topic: str, code: str, problem: str):
        ValueError.__init__(self, "%s refused (%s): %s" % (topic, code, problem))
        self.topic = topic
        self.code = code
        self.problem = problem


class StorageError(RuntimeError):
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


class Inserted(NamedTuple):
    """What storing one event found: stored (False for a duplicate id), the unit's max seq before, and
    whether another event of this unit already had this seq."""

    stored: bool
    previous_max_seq: int | None
    seq_taken: bool


class Gap(NamedTuple):
    """Sequence numbers first_seq..last_seq (inclusive) of one unit that the platform has not received."""

    site: str
    unit: str
    first_seq: int
    last_seq: int


class FleetRow(NamedTuple):
    """One unit in the fleet table."""

    site: str
    unit: str
    status: str  # online, offline or unknown
    last_event: str  # "<type> <state> at <ts>", or "" before the first event
    open_alarms: int
    trips: int
    gaps: int  # missing sequence numbers
    events: int


class EventStorage(Protocol):
    """The storage the receiver needs: SqliteStorage here, PgStorage in platform_storage_pg.

    Every method is called with the receiver's lock held (one caller at a time). Other receivers
    may write the same database at the same time: each insert_event is atomic, and the unique key
    (site, unit, id) stores each event once whichever receiver got it.
    """

    def insert_event(self, event: Event, received_at: str) -> Inserted: ...

    def put_state(self, site: str, unit: str, payload: str, received_at: str) -> None: ...

    def put_status(self, site: str, unit: str, status: str, received_at: str) -> None: ...

    def state(self, site: str, unit: str) -> dict | None: ...

    def status(self, site: str, unit: str) -> str | None: ...

    def gaps(self) -> list[Gap]: ...

    def fleet(self) -> list[FleetRow]: ...

    def iter_events(self) -> Iterator[tuple]: ...

    def close(self) -> None: ...


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
)

# Plain SQL that SQLite (>= 3.25) and PostgreSQL both accept: both storages run the same text.
GAPS_SQL = """
    SELECT site, unit, seq + 1, next_seq - 1 FROM (
        SELECT site, unit, seq, LEAD(seq) OVER (PARTITION BY site, unit ORDER BY seq) AS next_seq FROM events
    ) AS ordered WHERE next_seq > seq + 1 ORDER BY site, unit, seq"""
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
    SELECT site, unit, COUNT(*), SUM(CASE WHEN type = 'trip' THEN 1 ELSE 0 END),
           MAX(seq) - MIN(seq) + 1 - COUNT(DISTINCT seq)
    FROM events GROUP BY site, unit"""
_LAST_EVENT_SQL = """
    SELECT e.site, e.unit, e.type, e.state, e.ts FROM events e
    JOIN (SELECT site, unit, MAX(seq) AS seq FROM events GROUP BY site, unit) m
        ON e.site = m.site AND e.unit = m.unit AND e.seq = m.seq"""


def fleet_from(query: Callable[[str], Iterable[tuple]]) -> list[FleetRow]:
    """The fleet table from a storage's `query(sql) -> rows` (the same SQL on SQLite and PostgreSQL)."""
    units: dict[tuple[str, str], dict] = {}

    def unit(site: str, name: str) -> dict:
        return units.setdefault((site, name), {"status": "unknown", "last": "", "alarms": 0, "trips": 0,
                                               "gaps": 0, "events": 0})

    for site, name, status in query("SELECT site, unit, status FROM unit_status"):
        unit(site, name)["status"] = status
    for site, name in query("SELECT site, unit FROM unit_state"):
        unit(site, name)
    for site, name, count, trips, missing in query(_UNIT_SUMMARY_SQL):
        u = unit(site, name)
        u["events"], u["trips"], u["gaps"] = count, trips, missing
    for site, name, type_, state, ts in query(_LAST_EVENT_SQL):
        unit(site, name)["last"] = "%s %s at %s" % (type_, state, ts)
    for site, name, count in query(_OPEN_ALARMS_SQL):
        unit(site, name)["alarms"] = count
    return [FleetRow(site, name, u["status"], u["last"], u["alarms"], u["trips"], u["gaps"], u["events"])
            for (site, name), u in sorted(units.items())]


EVENTS_SELECT_SQL = "SELECT %s FROM events ORDER BY site, unit, seq, id" % ", ".join(CSV_COLUMNS)


class SqliteStorage:
    """EventStorage in one SQLite file (WAL): nothing to install, fine for a bench or a pilot site.

    Several receivers (processes) may share the file: each insert is one short write transaction.
    """

    def __init__(self, path: str):
        self.path = path
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                         timeout=SQLITE_BUSY_TIMEOUT_S)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")  # on disk before the PUBACK, even through a power cut
            for statement in SCHEMA_SQL:
                self._conn.execute(statement)
        except sqlite3.Error as err:
            raise StorageError("cannot open the SQLite database %s: %s" % (path, err)) from None

    def insert_event(self, event: Event, received_at: str) -> Inserted:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            previous = c.execute("SELECT MAX(seq) FROM events WHERE site = ? AND unit = ?",
                                 (event.site, event.unit)).fetchone()[0]
            taken = c.execute("SELECT 1 FROM events WHERE site = ? AND unit = ? AND seq = ? AND id <> ? LIMIT 1",
                              (event.site, event.unit, event.seq, event.id)).fetchone() is not None
            cur = c.execute("INSERT INTO events (site, unit, id, seq, ts, t_ms, clock_synced, type, severity, "
                            "source, state, value, reason, received_at) VALUES "
                            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, unit, id) DO NOTHING",
                            tuple(event[:6]) + (int(event.clock_synced),) + tuple(event[7:]) + (received_at,))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return Inserted(cur.rowcount == 1, previous, taken)

    def put_state(self, site: str, unit: str, payload: str, received_at: str) -> None:
        self._conn.execute("INSERT INTO unit_state (site, unit, payload, received_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (site, unit) DO UPDATE SET payload = excluded.payload, "
                           "received_at = excluded.received_at", (site, unit, payload, received_at))

    def put_status(self, site: str, unit: str, status: str, received_at: str) -> None:
        self._conn.execute("INSERT INTO unit_status (site, unit, status, received_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (site, unit) DO UPDATE SET status = excluded.status, "
                           "received_at = excluded.received_at", (site, unit, status, received_at))

    def state(self, site: str, unit: str) -> dict | None:
        row = self._conn.execute("SELECT payload FROM unit_state WHERE site = ? AND unit = ?", (site, unit)).fetchone()
        return json.loads(row[0]) if row else None

    def status(self, site: str, unit: str) -> str | None:
        row = self._conn.execute("SELECT status FROM unit_status WHERE site = ? AND unit = ?", (site, unit)).fetchone()
        return row[0] if row else None

    def gaps(self) -> list[Gap]:
        return [Gap(*row) for row in self._conn.execute(GAPS_SQL)]

    def fleet(self) -> list[FleetRow]:
        self._conn.execute("BEGIN")  # one snapshot for every query, while other receivers write
        try:
            return fleet_from(lambda sql: self._conn.execute(sql).fetchall())
        finally:
            self._conn.execute("COMMIT")

    def iter_events(self) -> Iterator[tuple]:
        """Every stored event as a CSV_COLUMNS tuple, by site, unit and seq."""
        return iter(self._conn.execute(EVENTS_SELECT_SQL).fetchall())

    def close(self) -> None:
        self._conn.close()


def open_storage(location: str) -> EventStorage:
    """A postgresql:// (or postgres://) URL -> PgStorage; anything else is a SQLite file path."""
    if location.startswith(("postgresql://", "postgres://")):
        from gaslatch_tools.platform_storage_pg import PgStorage

        return PgStorage(location)
    return SqliteStorage(location)


def share_name_problem(group: str) -> str | None:
    """Why `group` cannot be an MQTT 5 shared-subscription name (None when it can)."""
    if not group:
        return "it is empty"
    for ch in SHARE_NAME_FORBIDDEN:
        if ch in group:
            return "it contains %r" % ch
    if len(group.encode("utf-8")) > W.MAX_NAME_BYTES:
        return "it is longer than %d bytes" % W.MAX_NAME_BYTES
    return None


def subscriptions(shared_group: str | None = None) -> tuple[str, ...]:
    """The topic filters a receiver subscribes to. With a group, events are shared among the group's
    receivers ($share/<group>/...); state and status stay plain so every receiver applies each unit's
    changes in order (and gets the retained ones): their upserts converge to the latest."""
    if shared_group is None:
        return SUBSCRIPTIONS
    return tuple("$share/%s/%s" % (shared_group, topic) if topic.endswith("/event") else topic
                 for topic in SUBSCRIPTIONS)


def parse_topic(topic: str) -> tuple[str, str, str]:
    """"gaslatch/<site>/<unit>/<kind>" -> (site, unit, kind) for kind event, state or status; else PayloadError."""
    levels = topic.split("/")
    if len(levels) != 4 or levels[0] != W.TOPIC_ROOT or levels[3] not in ("event", "state", "status"):
        raise PayloadError(topic, "topic", "not gaslatch/<site>/<unit>/event|state|status")
    site, unit, kind = levels[1], levels[2], levels[3]
    try:
        expected = W.topics(site, unit)[kind]
    except W.TopicNameError as err:
        raise PayloadError(topic, "topic", str(err)) from None
    if expected != topic:
        raise PayloadError(topic, "topic", "does not round-trip to %s" % expected)
    return site, unit, kind


def _json_object(topic: str, payload: bytes) -> dict:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(topic, "size", "%d bytes, more than %d" % (len(payload), MAX_PAYLOAD_BYTES))
    try:
        msg = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PayloadError(topic, "json", "not UTF-8 JSON") from None
    if not isinstance(msg, dict):
        raise PayloadError(topic, "json", "not a JSON object")
    return msg


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: object, max_chars: int, empty_ok: bool = True) -> bool:
    """Text a database can hold: no NUL (PostgreSQL refuses it) and no lone surrogate (not UTF-8)."""
    if not isinstance(value, str) or (not empty_ok and value == "") or len(value) > max_chars or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_iso_utc_ms(ts: object) -> bool:
    if not isinstance(ts, str) or len(ts) != 24 or not ts.isascii():
        return False
    try:
        datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


def _type_problem(msg: dict) -> str | None:
    """Why an event's fields have the wrong types or values (None when they are right)."""
    checks = (
        ("id", _is_text(msg["id"], MAX_ID_CHARS, empty_ok=False), "%s of 1 to %d characters" % (TEXT, MAX_ID_CHARS)),
        ("seq", _is_int(msg["seq"]) and 1 <= msg["seq"] <= MAX_INT64, "an integer from 1 to 2^63-1"),
        ("ts", _is_iso_utc_ms(msg["ts"]), "UTC ISO 8601 with milliseconds (2026-11-24T21:50:41.123Z)"),
        ("t_ms", _is_int(msg["t_ms"]) and 0 <= msg["t_ms"] <= MAX_INT64, "an integer from 0 to 2^63-1"),
        ("clock_synced", isinstance(msg["clock_synced"], bool), "true or false"),
        ("type", _is_text(msg["type"], W.MAX_CMD_CHARS, empty_ok=False), "non-empty " + TEXT),
        ("severity", msg["severity"] in SEVERITIES, "one of %s" % ", ".join(SEVERITIES)),
        ("source", isinstance(msg["source"], str), "text"),
        ("state", isinstance(msg["state"], str), "text"),
        ("value", msg["value"] is None or _is_int(msg["value"]) or isinstance(msg["value"], str),
         "an integer, text or null"),
        ("reason", isinstance(msg["reason"], str), "text"),
    )
    for field, ok, wanted in checks:
        if not ok:
            return "%s must be %s, not %r" % (field, wanted, msg[field])
    if "detector" in msg and msg["detector"] != msg["source"]:
        return "detector must equal source"
    return None


def parse_event(topic: str, payload: bytes) -> Event:
    """One `event` message -> Event; PayloadError (never anything else) when it is not a valid event."""
    site, unit, kind = parse_topic(topic)
    if kind != "event":
        raise PayloadError(topic, "topic", "not an event topic")
    msg = _json_object(topic, payload)
    missing = sorted(EVENT_KEYS - set(msg))
    unknown = sorted(set(msg) - EVENT_KEYS - OPTIONAL_EVENT_KEYS)
    if missing or unknown:
        raise PayloadError(topic, "fields", "missing %s; unknown %s" % (missing or "none", unknown or "none"))
    for key, expected in (("site", site), ("unit", unit)):
        if key in msg and msg[key] != expected:
            raise PayloadError(topic, "mismatch", "payload %s %r is not the topic's %r" % (key, msg[key], expected))
    problem = _type_problem(msg)
    if problem:
        raise PayloadError(topic, "types", problem)
    value = msg["value"]
    if isinstance(value, str):
        value = E.safe_text(value)
    # The free texts are made safe as the unit makes them (a NUL or a lone surrogate shown escaped, the length
    # bounded): an event is never refused for its text, which would leave a gap that nothing can fill.
    return Event(site, unit, msg["id"], msg["seq"], msg["ts"], msg["t_ms"], msg["clock_synced"], msg["type"],
                 msg["severity"], E.safe_text(msg["source"]), E.safe_text(msg["state"]), E.encode_value(value),
                 E.safe_text(msg["reason"]))


def parse_status(topic: str, payload: bytes) -> str:
    """A `status` payload: the text online or offline (a JSON string of either is accepted too)."""
    text = payload.decode("utf-8", "replace").strip()
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        text = text[1:-1]
    if text not in STATUSES:
        raise PayloadError(topic, "status", "status must be online or offline, not %r" % text[:40])
    return text


def iso_utc_now() -> str:
    """The receiver's clock as UTC ISO 8601 with ms (received_at)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (now.microsecond // 1000)


def default_client_id() -> str:
    """Stable per host, so the broker keeps this receiver's persistent session across restarts."""
    return "gaslatch-platform-%s" % socket.gethostname()[:40]


class PlatformReceiver:
    """Receives the fleet's messages from one broker and keeps them in `storage`.

    Every message is acknowledged (PUBACK) only after it is stored or refused, so a crash before that
    leaves it with the broker for redelivery. `handle()` is the edge: it never raises.

    With `shared_group`, the receiver speaks MQTT 5 and takes its share of the events through
    $share/<group>/...: several receivers (each with its own client id) on one database split the
    load, and the database's unique key stores each event once. Without it, MQTT 3.1.1.
    """

    def __init__(self, storage: EventStorage, host: str = "127.0.0.1", port: int = 1883,
                 client_id: str | None = None, now: Callable[[], str] = iso_utc_now,
                 username: str | None = None, password: str | None = None, shared_group: str | None = None):
        if shared_group is not None and share_name_problem(shared_group):
            raise ValueError("shared subscription group %r: %s" % (shared_group, share_name_problem(shared_group)))
        self.storage = storage
        self.host = host
        self.port = port
        self.client_id = client_id or default_client_id()
        self.shared_group = shared_group
        self.subscriptions = subscriptions(shared_group)
        # Shared receivers store a unit's events in no set order: a gap that opens and closes is routine.
        self._gap_log_level = logging.INFO if shared_group is not None else logging.WARNING
        self._now = now
        self._lock = threading.RLock()
        self.counts: dict[str, int] = {}
        self.refused: dict[str, int] = {}  # PayloadError.code -> how many
        self._subscribed = threading.Event()
        if shared_group is None:
            self._client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                       client_id=self.client_id, clean_session=False, protocol=mqtt.MQTTv311,
                                       manual_ack=True)
        else:
            self._client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                       client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 30)

    # --- the edge: one message in, stored or refused, never an exception out ---

    def handle(self, topic: str, payload: bytes) -> str:
        """Stores or refuses one message; returns the outcome: stored, duplicate, state, status or refused."""
        try:
            with self._lock:
                return self._handle(topic, bytes(payload))
        except PayloadError as err:
            with self._lock:
                self.refused[err.code] = self.refused.get(err.code, 0) + 1
                self._count("refused")
            log.warning("%s", err)
            return "refused"

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def _handle(self, topic: str, payload: bytes) -> str:
        site, unit, kind = parse_topic(topic)
        received_at = self._now()
        if kind == "event":
            return self._store_event(parse_event(topic, payload), received_at)
        if not payload:  # a retained message being cleared
            self._count("cleared")
            return "cleared"
        if kind == "state":
            self.storage.put_state(site, unit, json.dumps(_json_object(topic, payload), sort_keys=True), received_at)
            self._count("state")
            return "state"
        status = parse_status(topic, payload)
        self.storage.put_status(site, unit, status, received_at)
        self._count("status")
        log.info("%s/%s is %s", site, unit, status)
        return "status"

    def _store_event(self, event: Event, received_at: str) -> str:
        result = self.storage.insert_event(event, received_at)
        if not result.stored:
            self._count("duplicate")
            return "duplicate"
        self._count("stored")
        where = "%s/%s" % (event.site, event.unit)
        if result.seq_taken:
            self._count("seq_reused")
            log.warning("%s: seq %d arrived again under another id %s (the unit's store was replaced?)",
                        where, event.seq, event.id)
        elif result.previous_max_seq is not None and event.seq > result.previous_max_seq + 1:
            self._count("gaps_opened")
            log.log(self._gap_log_level, "%s: gap, seq %d..%d missing", where, result.previous_max_seq + 1,
                    event.seq - 1)
        elif result.previous_max_seq is not None and event.seq < result.previous_max_seq:
            self._count("seqs_filled")
            log.info("%s: seq %d arrived late and fills a gap", where, event.seq)
        return "stored"

    # --- queries ---

    def gaps(self) -> list[Gap]:
        """Missing sequence numbers per unit (between the lowest and highest received), by site and unit."""
        with self._lock:
            return self.storage.gaps()

    def fleet(self) -> list[FleetRow]:
        """One row per unit ever heard from, by site and unit."""
        with self._lock:
            return self.storage.fleet()

    def state(self, site: str, unit: str) -> dict | None:
        with self._lock:
            return self.storage.state(site, unit)

    def status(self, site: str, unit: str) -> str | None:
        with self._lock:
            return self.storage.status(site, unit)

    def export_csv(self, path_or_file: str | os.PathLike | io.TextIOBase) -> int:
        """Writes every stored event as CSV (header CSV_COLUMNS) to a path or an open text file; returns rows."""
        with self._lock:
            return export_csv(self.storage, path_or_file)

    # --- MQTT ---

    def start(self, timeout_s: float = 10.0) -> None:
        """Connects and subscribes (QoS 1, persistent session); returns once the broker confirmed the
        subscriptions, or raises ConnectionError naming the broker."""
        try:
            if self.shared_group is None:
                self._client.connect(self.host, self.port, keepalive=KEEPALIVE_S)
            else:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = SESSION_EXPIRY_NEVER_S
                self._client.connect(self.host, self.port, keepalive=KEEPALIVE_S, clean_start=False,
                                     properties=properties)
        except OSError as err:
            raise ConnectionError("cannot reach the MQTT broker at %s:%d: %s" % (self.host, self.port, err)) from None
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.stop()
            raise ConnectionError("the MQTT broker at %s:%d did not accept the subscriptions within %.0f s"
                                  % (self.host, self.port, timeout_s))

    def stop(self) -> None:
        """Disconnects; the broker keeps the session and queues QoS 1 messages until the next start()."""
        self._client.disconnect()
        self._client.loop_stop()
        self._subscribed.clear()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.host, self.port, reason_code)
            return
        client.subscribe([(topic, QOS) for topic in self.subscriptions])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("broker %s:%d refused a subscription: %s", self.host, self.port, reason_codes)
            return
        self._subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        try:
            self.handle(message.topic, message.payload)
        except Exception:  # storage failure: leave it unacknowledged, the broker redelivers on reconnect
            log.exception("could not store %s; not acknowledged", message.topic)
            with self._lock:
                self._count("store_errors")
            return
        client.ack(message.mid, message.qos)


def export_csv(storage: EventStorage, path_or_file: str | os.PathLike | io.TextIOBase) -> int:
    """Every event in storage as CSV (header CSV_COLUMNS; value decoded, null as empty) -> rows written."""
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "w", newline="", encoding="utf-8") as f:
            return _write_csv(storage, f)
    return _write_csv(storage, path_or_file)


def _write_csv(storage: EventStorage, f) -> int:
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


def wait_quiet(receiver: PlatformReceiver, quiet_s: float, limit_s: float) -> None:
    """Returns once no message arrived for quiet_s (or after limit_s): how `--once` lets a backlog land."""
    deadline = time.monotonic() + limit_s
    last_total, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        with receiver._lock:
            total = sum(receiver.counts.values())
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change >= quiet_s:
            return
        time.sleep(0.05)
