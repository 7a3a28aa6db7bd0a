"""The reference platform receiver: the ground truth of what the fleet delivered over MQTT.

Subscribes to every unit's event, state and status topics, validates each payload at the edge,
stores events de-duplicated by id, keeps last state and online status, and reports sequence gaps.
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
from typing import Callable, Iterator, NamedTuple, Protocol

import paho.mqtt.client as mqtt

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W

log = logging.getLogger("gaslatch.platform")

SUBSCRIPTIONS = tuple("%s/+/+/%s" % (W.TOPIC_ROOT, kind) for kind in ("event", "state", "status"))
QOS = 1
KEEPALIVE_S = 30
MAX_PAYLOAD_BYTES = 8192  # an event is a few hundred bytes; anything this big is not from a unit
MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 1024
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
    """The storage the receiver needs; SqliteStorage implements it, a PostgreSQL one can follow.

    Every method is called with the receiver's lock held (one caller at a time).
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


_SCHEMA = (
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

# Plain SQL that SQLite (>= 3.25) and PostgreSQL both accept, so a PostgreSQL storage can reuse it.
_GAPS_SQL = """
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


class SqliteStorage:
    """EventStorage in one SQLite file (WAL): nothing to install, fine for a bench or a pilot site."""

    def __init__(self, path: str):
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._conn.execute(statement)

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
        return [Gap(*row) for row in self._conn.execute(_GAPS_SQL)]

    def fleet(self) -> list[FleetRow]:
        c = self._conn
        units: dict[tuple[str, str], dict] = {}

        def unit(site: str, name: str) -> dict:
            return units.setdefault((site, name), {"status": "unknown", "last": "", "alarms": 0, "trips": 0,
                                                   "gaps": 0, "events": 0})

        for site, name, status in c.execute("SELECT site, unit, status FROM unit_status"):
            unit(site, name)["status"] = status
        for site, name in c.execute("SELECT site, unit FROM unit_state"):
            unit(site, name)
        for site, name, count, trips, missing in c.execute(_UNIT_SUMMARY_SQL):
            u = unit(site, name)
            u["events"], u["trips"], u["gaps"] = count, trips, missing
        for site, name, type_, state, ts in c.execute(_LAST_EVENT_SQL):
            unit(site, name)["last"] = "%s %s at %s" % (type_, state, ts)
        for site, name, count in c.execute(_OPEN_ALARMS_SQL):
            unit(site, name)["alarms"] = count
        return [FleetRow(site, name, u["status"], u["last"], u["alarms"], u["trips"], u["gaps"], u["events"])
                for (site, name), u in sorted(units.items())]

    def iter_events(self) -> Iterator[tuple]:
        """Every stored event as a CSV_COLUMNS tuple, by site, unit and seq."""
        return iter(self._conn.execute("SELECT %s FROM events ORDER BY site, unit, seq, id" % ", ".join(CSV_COLUMNS))
                    .fetchall())

    def close(self) -> None:
        self._conn.close()


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
    return isinstance(value, str) and (empty_ok or value != "") and len(value) <= max_chars


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
        ("id", _is_text(msg["id"], MAX_ID_CHARS, empty_ok=False), "text of 1 to %d characters" % MAX_ID_CHARS),
        ("seq", _is_int(msg["seq"]) and msg["seq"] >= 1, "an integer >= 1"),
        ("ts", _is_iso_utc_ms(msg["ts"]), "UTC ISO 8601 with milliseconds (2026-11-24T21:50:41.123Z)"),
        ("t_ms", _is_int(msg["t_ms"]) and msg["t_ms"] >= 0, "an integer >= 0"),
        ("clock_synced", isinstance(msg["clock_synced"], bool), "true or false"),
        ("type", _is_text(msg["type"], W.MAX_CMD_CHARS, empty_ok=False), "non-empty text"),
        ("severity", msg["severity"] in SEVERITIES, "one of %s" % ", ".join(SEVERITIES)),
        ("source", _is_text(msg["source"], MAX_TEXT_CHARS), "text"),
        ("state", _is_text(msg["state"], MAX_TEXT_CHARS), "text"),
        ("value", msg["value"] is None or _is_int(msg["value"]) or _is_text(msg["value"], MAX_TEXT_CHARS),
         "an integer, text or null"),
        ("reason", _is_text(msg["reason"], MAX_TEXT_CHARS), "text"),
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
    return Event(site, unit, msg["id"], msg["seq"], msg["ts"], msg["t_ms"], msg["clock_synced"], msg["type"],
                 msg["severity"], msg["source"], msg["state"], E.encode_value(msg["value"]), msg["reason"])


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
    """

    def __init__(self, storage: EventStorage, host: str = "127.0.0.1", port: int = 1883,
                 client_id: str | None = None, now: Callable[[], str] = iso_utc_now,
                 username: str | None = None, password: str | None = None):
        self.storage = storage
        self.host = host
        self.port = port
        self.client_id = client_id or default_client_id()
        self._now = now
        self._lock = threading.RLock()
        self.counts: dict[str, int] = {}
        self.refused: dict[str, int] = {}  # PayloadError.code -> how many
        self._subscribed = threading.Event()
        self._client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                   clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
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
            log.warning("%s: gap, seq %d..%d missing", where, result.previous_max_seq + 1, event.seq - 1)
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
            self._client.connect(self.host, self.port, keepalive=KEEPALIVE_S)
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
        client.subscribe([(topic, QOS) for topic in SUBSCRIPTIONS])

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
