"""The reference platform receiver: the ground truth of what the fleet delivered over MQTT.

Subscribes to every unit's event, gone, state, status and telemetry topics, validates each payload at the edge (an event
against docs/schemas/event.schema.json, with jsonschema), stores
them in batches (one transaction each) and only then acknowledges them to the broker; tells each unit how far
its events are stored (its `ack` topic) and asks it again for what is missing. Several receivers can share a
fleet's events (MQTT 5 shared subscription) on one database.
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import logging
import os
import queue
import socket
import ssl
import threading
import time
from typing import Callable, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools import payload_schemas
from gaslatch.told import Told
from gaslatch.translation import N_
from gaslatch_tools.platform import delivery as D
from gaslatch_tools.platform.delivery import StoreKey
from gaslatch_tools.platform.storage import (CSV_COLUMNS, Batch, Committed, Delivery, Event, FleetRow, Gap, Gone,
                                             LostRange, SqliteStorage, SqlStorage, StorageError, export_csv,
                                             open_storage, store_key)

# The receiver's importers (the bench, the benchmarks, the CLI) find the storage here too.
__all__ = ["CSV_COLUMNS", "Event", "FleetRow", "Gap", "Gone", "LostRange", "PayloadError", "PlatformReceiver",
           "SqliteStorage", "StorageError", "SUBSCRIPTIONS", "export_csv", "open_storage", "parse_event",
           "parse_gone", "parse_status", "parse_topic", "share_name_problem", "subscriptions", "wait_quiet"]

log = logging.getLogger("gaslatch.platform")

KINDS = ("event", "state", "status", "gone", "telemetry")  # what the receiver subscribes to
SHARED_KINDS = ("event", "gone", "telemetry")  # with --shared, one receiver of the group takes each of these
SUBSCRIPTIONS = tuple("%s/+/+/%s" % (W.TOPIC_ROOT, kind) for kind in KINDS)
QOS = 1
KEEPALIVE_S = 30
# MQTT 5 session expiry: never, as a 3.1.1 persistent session; queued events wait for the receiver.
SESSION_EXPIRY_NEVER_S = 0xFFFFFFFF
SHARE_NAME_FORBIDDEN = ("/", "+", "#")  # MQTT 5.0 section 4.8.2
BATCH_MAX = 500  # messages per transaction: one commit (one fsync) for a whole backlog's worth
# Unacknowledged messages the broker may send at once: two batches, one filling while one commits. MQTT 5
# receivers ask for it (Receive Maximum); for 3.1.1 the broker's max_inflight_messages decides (docs/broker.md).
RECEIVE_MAXIMUM = 2 * BATCH_MAX
HOLE_CHECK_S = 0.25  # how often the storage thread looks at the holes without new traffic
RETRY_FIRST_S = 0.1  # a batch that failed to commit is tried again after this, doubling...
RETRY_MAX_S = 5.0  # ...up to this
SOCKET_READ_BYTES = 65536
MAX_INT64 = 2 ** 63 - 1  # seq and t_ms are stored as 64-bit integers
TEXT = "text (Unicode without NUL, which PostgreSQL cannot store)"
MAX_TEXT_CHARS = E.MAX_TEXT_CHARS  # what a unit's safe_text lets through, stored as it came
# An event is usually a few hundred bytes; at most, its four free texts (source, state, value, reason) of
# MAX_TEXT_CHARS each, every character escaped as a \u surrogate pair (12 bytes), and the fixed fields.
MAX_PAYLOAD_BYTES = 4 * 12 * MAX_TEXT_CHARS + 4096
TOPIC_CACHE = 8192  # topics parsed once each (a fleet has a few per unit)
STATUSES = ("online", "offline")
TOPIC_KEYS = ("site", "unit")  # an event may name its site and unit too; they must be the topic's
EVENT_SCHEMA = payload_schemas.FastValidator(payload_schemas.load("event"))
TELEMETRY_SCHEMA = payload_schemas.FastValidator(payload_schemas.load("telemetry"))
# Schema keywords that a missing or unknown field fails (tallied as "fields"; every other failure as "types").
FIELD_KEYWORDS = ("required", "additionalProperties", "not")
MAX_PROBLEM_CHARS = 200  # a refusal quotes the payload's value, cut to this


class BrokerUnreachable(Told, ConnectionError):
    """The broker cannot be reached, or did not take the subscriptions: where, and the system's reason."""


class PayloadError(ValueError):
    """A message the receiver refuses: which topic, and why (`code` is the counter it is tallied under)."""

    def __init__(self, topic: str, code: str, problem: str):
        ValueError.__init__(self, "%s refused (%s): %s" % (topic, code, problem))
        self.topic = topic
        self.code = code
        self.problem = problem


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
    """The topic filters a receiver subscribes to. With a group, events and gone reports are shared among
    the group's receivers ($share/<group>/...); state and status stay plain so every receiver applies each
    unit's changes in order (and gets the retained ones): their upserts converge to the latest."""
    if shared_group is None:
        return SUBSCRIPTIONS
    return tuple("$share/%s/%s" % (shared_group, topic) if topic.rsplit("/", 1)[1] in SHARED_KINDS else topic
                 for topic in SUBSCRIPTIONS)


@functools.lru_cache(maxsize=TOPIC_CACHE)
def parse_topic(topic: str) -> tuple[str, str, str]:
    """"gaslatch/<site>/<unit>/<kind>" -> (site, unit, kind) for a kind of KINDS; else PayloadError."""
    levels = topic.split("/")
    if len(levels) != 4 or levels[0] != W.TOPIC_ROOT or levels[3] not in KINDS:
        raise PayloadError(topic, "topic", "not gaslatch/<site>/<unit>/%s" % "|".join(KINDS))
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


def _is_storable_text(value: str) -> bool:
    """Text a database can hold: no NUL (PostgreSQL refuses it) and no lone surrogate (not UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_calendar_time(ts: str) -> bool:
    """A ts the schema's pattern let through that names a real instant (no 2026-13-45)."""
    try:
        datetime.datetime.fromisoformat(ts[:-1])
    except ValueError:
        return False
    return True


def safe_text(text: str) -> str:
    """E.safe_text(text), without its loop over every character for printable ASCII (which it keeps as it is)."""
    if len(text) <= MAX_TEXT_CHARS and text.isascii() and text.isprintable():
        return text
    return E.safe_text(text)


# The reason of a lost range the platform recorded itself (a refused event), not the unit (gone).
REFUSED_AT_PLATFORM = "refused by the platform"


def _schema_refusal(validator: payload_schemas.FastValidator, msg: dict) -> tuple[str, str]:
    """(code, problem) of a message that fails `validator`'s schema: the most relevant error, with its place."""
    error = validator.error(msg)
    code = "fields" if error.validator in FIELD_KEYWORDS else "types"
    where = "$" + "".join(".%s" % step if isinstance(step, str) else "[%d]" % step for step in error.absolute_path)
    message = error.message if error.validator != "not" else "must not match %s" % json.dumps(error.validator_value)
    problem = "%s: %s" % (where, message)
    if len(problem) > MAX_PROBLEM_CHARS:
        problem = problem[:MAX_PROBLEM_CHARS - 3] + "..."
    return code, problem


def _storage_problem(msg: dict) -> str | None:
    """What the event schema allows but the platform cannot store or order (None when there is nothing)."""
    if not _is_storable_text(msg["id"]):
        return "id must be %s, not %r" % (TEXT, msg["id"])
    for field, low in (("seq", 1), ("t_ms", 0)):
        if not low <= msg[field] <= MAX_INT64:
            return "%s must be an integer from %d to 2^63-1 (a 64-bit column), not %d" % (field, low, msg[field])
    if not _is_calendar_time(msg["ts"]):
        return "ts must be a real UTC time, not %r" % msg["ts"]
    if "detector" in msg and msg["detector"] != msg["source"]:
        return "detector must equal source"
    return None


def _topic_of_kind(topic: str, kind: str) -> tuple[str, str]:
    site, unit, got = parse_topic(topic)
    if got != kind:
        raise PayloadError(topic, "topic", "not %s %s topic" % ("an" if kind[0] in "aeiou" else "a", kind))
    return site, unit


def parse_event(topic: str, payload: bytes) -> Event:
    """One `event` message -> Event; PayloadError (never anything else) when it is not a valid event."""
    site, unit = _topic_of_kind(topic, "event")
    msg = _json_object(topic, payload)
    for key, expected in zip(TOPIC_KEYS, (site, unit)):
        if key in msg:
            if msg[key] != expected:
                raise PayloadError(topic, "mismatch", "payload %s %r is not the topic's %r" % (key, msg[key], expected))
            del msg[key]
    # is_valid first: the errors (and the best of them) are gathered only for a message that fails.
    if not EVENT_SCHEMA.is_valid(msg):
        raise PayloadError(topic, *_schema_refusal(EVENT_SCHEMA, msg))
    problem = _storage_problem(msg)
    if problem:
        raise PayloadError(topic, "types", problem)
    value = msg["value"]
    if isinstance(value, str):
        value = safe_text(value)
    elif isinstance(value, float):  # JSON Schema's integer: 2550.0 is 2550, stored as such
        value = int(value)
    # The free texts are made safe as the unit makes them (a NUL or a lone surrogate shown escaped, the length
    # bounded): an event is never refused for its text, which would leave a gap that nothing can fill.
    return Event(site, unit, msg["id"], int(msg["seq"]), msg["ts"], int(msg["t_ms"]), msg["clock_synced"], msg["type"],
                 msg["severity"], safe_text(msg["source"]), safe_text(msg["state"]), E.encode_value(value),
                 safe_text(msg["reason"]))


def refused_seq(topic: str, payload: bytes, code: str, problem: str) -> Gone | None:
    """A refused event whose store and seq can still be read, as a range lost at the platform: recorded with
    why, so that the delivery walk goes past it. Without this one event the platform cannot take (a newer
    unit's event type, a unit's bug) would stay a hole for ever, the ack would stop below it and the unit
    would send nothing new after its window. None when the message is no event or has no readable id."""
    try:
        site, unit, kind = parse_topic(topic)
        msg = json.loads(payload) if kind == "event" else None
    except (PayloadError, ValueError, RecursionError):
        return None
    if not isinstance(msg, dict):
        return None
    seq = msg.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_INT64:
        return None
    store = W.store_key_of(msg.get("id"), seq)
    if store is None:
        return None
    why = safe_text("%s (%s): %s" % (REFUSED_AT_PLATFORM, code, problem.split(": ", 1)[-1]))
    return Gone(site, unit, store, seq, seq, why[:MAX_PROBLEM_CHARS])


def parse_gone(topic: str, payload: bytes) -> Gone:
    """One `gone` message -> Gone (uplink_wire.parse_gone checks it); PayloadError for anything else."""
    site, unit = _topic_of_kind(topic, "gone")
    try:
        store, first, last, reason = W.parse_gone(payload)
    except ValueError as err:
        raise PayloadError(topic, "gone", str(err)) from None
    return Gone(site, unit, store, first, last, reason)


def parse_telemetry(topic: str, payload: bytes, received_at: str) -> tuple[str, str, int, int, str]:
    """A `telemetry` payload checked against its schema -> a readings row (site, unit, received_ms, t_ms, the
    readings as canonical JSON); PayloadError otherwise."""
    site, unit = _topic_of_kind(topic, "telemetry")
    msg = _json_object(topic, payload)
    if not TELEMETRY_SCHEMA.is_valid(msg):
        code, problem = _schema_refusal(TELEMETRY_SCHEMA, msg)
        raise PayloadError(topic, code, problem)
    if not 0 <= msg["t_ms"] <= MAX_INT64:
        raise PayloadError(topic, "types", "t_ms must fit 64 bits")
    received_ms = int(datetime.datetime.fromisoformat(received_at[:-1]).replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1000)
    return site, unit, received_ms, msg["t_ms"], W.canonical_json(msg["centi_pct_lel"])


def parse_status(topic: str, payload: bytes) -> str:
    """A `status` payload: the text online or offline (a JSON string of either is accepted too)."""
    text = payload.decode("utf-8", "replace").strip()
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        text = text[1:-1]
    if text not in STATUSES:
        raise PayloadError(topic, "status", "status must be online or offline, not %r" % text[:40])
    return text


_second = (0, "")  # (a UTC second, that second as ISO 8601 text): formatted once a second, not per message


def iso_utc_now() -> str:
    """The receiver's clock as UTC ISO 8601 with ms (received_at)."""
    global _second
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return "%s.%03dZ" % (_second[1], int((now - second) * 1000))


def default_client_id() -> str:
    """Stable per host, so the broker keeps this receiver's persistent session across restarts."""
    return "gaslatch-platform-%s" % socket.gethostname()[:40]


class Message(NamedTuple):
    """One received message, validated: kind is event, gone, state, status, cleared or refused; mid and qos
    are the broker's (None for handle()), to acknowledge it once its batch is committed."""

    kind: str
    value: object  # Event, Gone, (site, unit, text) for state and status, None otherwise
    received_at: str
    mid: int | None
    qos: int


class _BufferedSocket:
    """A socket (or TLS socket) read SOCKET_READ_BYTES at a time: paho reads a packet's header one byte
    per recv(). pending() is paho's own hook (meant for TLS): while bytes wait here it does not select()."""

    def __init__(self, sock):
        self._sock = sock
        self._buffer = b""
        self._at = 0

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._buffer):
            data = self._sock.recv(max(size, SOCKET_READ_BYTES))
            if not data:
                return data
            self._buffer, self._at = data, 0
        out = self._buffer[self._at:self._at + size]
        self._at += len(out)
        return out

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return len(self._buffer) - self._at + (inner() if inner is not None else 0)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class _Client(mqtt.Client):
    """paho's client over a _BufferedSocket: a backlog arrives several times faster (one recv per 64 KiB)."""

    def _create_socket(self):
        return _BufferedSocket(super()._create_socket())


_STOP = object()


class PlatformReceiver:
    """Receives the fleet's messages from one broker and keeps them in `storage`.

    The MQTT thread validates each message and queues it; the storage thread stores what waits (up to
    BATCH_MAX) in one transaction and only then acknowledges those messages to the broker (PUBACK), so a
    crash before that leaves them with the broker for redelivery. After each batch it publishes each
    unit's `ack` (how far its store is delivered) and, for holes that last, a resend request. `handle()`
    is the same path for one message, synchronously; it never raises for a bad message.

    With `shared_group`, the receiver speaks MQTT 5 and takes its share of the events through
    $share/<group>/...: several receivers (each with its own client id) on one database split the
    load, and the database's unique key stores each event once. Without it, MQTT 3.1.1.
    monotonic: the clock of the resend requests and repeated acks (tests drive it).
    """

    def __init__(self, storage: SqlStorage, host: str = "127.0.0.1", port: int = 1883,
                 client_id: str | None = None, now: Callable[[], str] = iso_utc_now,
                 username: str | None = None, password: str | None = None, shared_group: str | None = None,
                 ca_file: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic, batch_max: int = BATCH_MAX):
        if shared_group is not None and share_name_problem(shared_group):
            raise ValueError("shared subscription group %r: %s" % (shared_group, share_name_problem(shared_group)))
        self.storage = storage
        self.host = host
        self.port = port
        self.client_id = client_id or default_client_id()
        self.shared_group = shared_group
        self.subscriptions = subscriptions(shared_group)
        self.batch_max = batch_max
        # Shared receivers store a unit's events in no set order: a gap that opens and closes is routine.
        self._gap_log_level = logging.INFO if shared_group is not None else logging.WARNING
        self._now = now
        self._monotonic = monotonic
        self._counts_lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.refused: dict[str, int] = {}  # PayloadError.code -> how many
        self._store_lock = threading.RLock()  # one batch at a time; guards the holes and repeated acks
        self._holes = D.GapRequests()
        self._reacks = D.Reacks()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        # Messages taken from the broker (paho's thread alone adds to it), and those of them settled: stored or
        # refused, or left to the broker (the storage thread, or start() while it does not run, alone adds to it).
        self._received = 0
        self._settled = 0
        self._stopping = threading.Event()
        self._storage_thread: threading.Thread | None = None
        self._subscribed = threading.Event()
        if shared_group is None:
            self._client = _Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                   clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
        else:
            self._client = _Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                   protocol=mqtt.MQTTv5, manual_ack=True)
        if username is not None:
            self._client.username_pw_set(username, password)
        if ca_file is not None:  # TLS to a broker on another host: its certificate and host name verified
            self._client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 30)

    # --- the edge: one message in, validated, never an exception out ---

    def _validated(self, topic: str, payload: bytes, mid: int | None, qos: int) -> Message:
        received_at = self._now()
        try:
            site, unit, kind = parse_topic(topic)
            if kind == "event":
                return Message(kind, parse_event(topic, payload), received_at, mid, qos)
            if kind == "gone":
                return Message(kind, parse_gone(topic, payload), received_at, mid, qos)
            if not payload:  # a retained message being cleared
                return Message("cleared", None, received_at, mid, qos)
            if kind == "telemetry":
                return Message(kind, parse_telemetry(topic, payload, received_at), received_at, mid, qos)
            if kind == "state":
                text = json.dumps(_json_object(topic, payload), sort_keys=True)
            else:
                text = parse_status(topic, payload)
            return Message(kind, (site, unit, text), received_at, mid, qos)
        except PayloadError as err:
            code, problem = err.code, str(err)
        except Exception as err:  # a bug of ours must not stop the receiver: the message is refused, and shown
            log.exception("validating %r", topic)
            code, problem = "error", "%s refused (error): %r" % (topic, err)
        with self._counts_lock:
            self.refused[code] = self.refused.get(code, 0) + 1
        log.warning("%s", problem)
        return Message("refused", refused_seq(topic, payload, code, problem), received_at, mid, qos)

    def handle(self, topic: str, payload: bytes) -> str:
        """Stores or refuses one message now; returns the outcome: stored, duplicate, gone, state, status,
        cleared or refused. A storage failure raises (nothing was committed)."""
        message = self._validated(topic, bytes(payload), None, 0)
        return self._commit([message])[0]

    def _on_message(self, client, userdata, message) -> None:
        self._received += 1  # before it is queued: it is never settled before it is counted
        self._queue.put(self._validated(message.topic, message.payload, message.mid, message.qos))

    def received(self) -> int:
        """Messages taken from the broker so far."""
        return self._received

    def unsettled(self) -> int:
        """Messages taken from the broker and not yet stored, refused or left to it (0: the queue is worked off)."""
        return self._received - self._settled

    # --- the storage thread: batches, acknowledgements, holes ---

    def _storage_loop(self) -> None:
        next_check_s = time.monotonic() + HOLE_CHECK_S
        stopping = False
        while not stopping:
            messages = self._take(max(0.0, next_check_s - time.monotonic()))
            if messages and messages[-1] is _STOP:
                messages.pop()
                stopping = True
            if messages:
                self._commit_until_stored(messages)
                self._settled += len(messages)
            if time.monotonic() >= next_check_s:
                next_check_s = time.monotonic() + HOLE_CHECK_S
                try:
                    self.check_holes()
                except Exception:  # the database is away: the next check tries again
                    log.exception("checking the holes")

    def _take(self, timeout_s: float) -> list:
        """What waits in the queue, up to batch_max messages (up to the stop mark); waits timeout_s for one."""
        try:
            first = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return []
        messages = [first]
        while first is not _STOP and len(messages) < self.batch_max:
            try:
                first = self._queue.get_nowait()
            except queue.Empty:
                break
            messages.append(first)
        return messages

    def _commit_until_stored(self, messages: list[Message]) -> None:
        """Commits the batch, trying again (RETRY_FIRST_S doubling to RETRY_MAX_S) while the database fails;
        the messages stay unacknowledged meanwhile, and are left to the broker when the receiver stops."""
        delay_s = RETRY_FIRST_S
        while True:
            try:
                self._commit(messages)
                return
            except Exception as err:
                self._count("store_errors")
                log.error("could not store %d messages (%s); not acknowledged, trying again in %.1f s",
                          len(messages), err, delay_s)
            if self._stopping.wait(delay_s):
                return
            delay_s = min(2 * delay_s, RETRY_MAX_S)

    def _commit(self, messages: list[Message]) -> list[str]:
        """Stores the messages in one transaction, then acknowledges them and publishes the units' acks."""
        batch = Batch()
        outcomes = [m.kind for m in messages]
        events_at = []
        for i, m in enumerate(messages):
            if m.kind == "event":
                events_at.append(i)
                batch.events.append((m.value, m.received_at))
            elif m.kind == "gone" or (m.kind == "refused" and m.value is not None):
                batch.gones.append((m.value, m.received_at))
            elif m.kind in ("state", "status"):
                site, unit, text = m.value
                (batch.states if m.kind == "state" else batch.statuses)[(site, unit)] = (text, m.received_at)
            elif m.kind == "telemetry":
                batch.readings.append(m.value)
        with self._store_lock:
            committed = self.storage.store(batch, self._now())
            for i, stored in zip(events_at, committed.stored):
                outcomes[i] = "stored" if stored else "duplicate"
            for m in messages:
                if m.mid is not None:
                    self._client.ack(m.mid, m.qos)
            duplicates = {store_key(messages[i].value) for i in events_at if outcomes[i] == "duplicate"}
            self._publish_acks(committed.deliveries, duplicates)
            self._tally(messages, outcomes, committed)  # last: a count seen means the acks are out
        return outcomes

    def _tally(self, messages: list[Message], outcomes: list[str], committed: Committed) -> None:
        """Counts a committed batch: its outcomes and the gaps it opened or filled, in one step, so that a reader
        never sees a batch's events counted without its gaps."""
        highest = dict(committed.previous_max)
        tally: dict[str, int] = {}
        for outcome in outcomes:
            tally[outcome] = tally.get(outcome, 0) + 1
        for m, outcome in zip(messages, outcomes):
            if outcome != "stored":
                continue
            event = m.value
            previous = highest[(event.site, event.unit)]
            highest[(event.site, event.unit)] = event.seq if previous is None else max(previous, event.seq)
            where = "%s/%s" % (event.site, event.unit)
            if previous is not None and event.seq > previous + 1:
                tally["gaps_opened"] = tally.get("gaps_opened", 0) + 1
                log.log(self._gap_log_level, "%s: gap, seq %d..%d missing", where, previous + 1, event.seq - 1)
            elif previous is not None and event.seq < previous:
                tally["seqs_filled"] = tally.get("seqs_filled", 0) + 1
                log.info("%s: seq %d arrived late and fills a gap", where, event.seq)
        with self._counts_lock:
            for key, n in tally.items():
                self.counts[key] = self.counts.get(key, 0) + n

    def _publish_acks(self, deliveries: list[Delivery], duplicates: set[StoreKey | None]) -> None:
        """The ack of every store whose point moved, or that is being re-sent (at most every REACK_EVERY_S)."""
        now_s = self._monotonic()
        for d in deliveries:
            if d.replaced:
                log.warning("%s/%s: a new event store %s (the unit's store was replaced?); acknowledged apart",
                            d.key.site, d.key.unit, d.key.store)
            if d.moved or (d.key in duplicates and self._reacks.allowed(d.key, now_s)):
                self._publish_ack(d.key, d.through, None)
                self._reacks.sent(d.key, now_s)
            self._holes.update(d.key, d.hole, now_s)

    def _publish_ack(self, key: StoreKey, through: int, resend: tuple[int, int] | None) -> None:
        """Retained without a resend range (a reconnecting unit learns its point at once), plain with one."""
        try:
            self._client.publish(W.topics(key.site, key.unit)["ack"], W.encode_ack(key.store, through, resend),
                                 qos=QOS, retain=resend is None)
        except Exception:  # paho or the encoder refused: the next batch or check sends it again
            log.exception("publishing the ack of %s/%s store %s", key.site, key.unit, key.store)
            self._count("ack_errors")
            return
        self._count("acks" if resend is None else "resend_requests")

    def check_holes(self) -> None:
        """Walks every store with a hole again (another receiver may have filled it, or the unit sent it)
        and asks the unit for the part of each remaining hole whose request is due (platform.delivery)."""
        with self._store_lock:
            keys = self._holes.keys()
            if not keys:
                return
            committed = self.storage.store(Batch(rewalk=set(keys)), self._now())
            self._publish_acks(committed.deliveries, set())
            for key, hole in self._holes.due(self._monotonic()):
                log.info("%s/%s: asking store %s for seq %d..%d again", key.site, key.unit, key.store, *hole)
                self._publish_ack(key, hole[0] - 1, D.resend_range(hole))

    def _count(self, key: str, n: int = 1) -> None:
        with self._counts_lock:
            self.counts[key] = self.counts.get(key, 0) + n

    # --- queries ---

    def gaps(self) -> list[Gap]:
        """Missing sequence numbers not reported lost, per unit and store, by site and unit."""
        return self.storage.gaps()

    def lost(self) -> list[LostRange]:
        """The ranges units reported gone from their stores (deleted by retention before we had them)."""
        return self.storage.lost()

    def fleet(self) -> list[FleetRow]:
        """One row per unit ever heard from, by site and unit."""
        return self.storage.fleet()

    def state(self, site: str, unit: str) -> dict | None:
        return self.storage.state(site, unit)

    def status(self, site: str, unit: str) -> str | None:
        return self.storage.status(site, unit)

    def export_csv(self, path_or_file: str | os.PathLike | io.TextIOBase) -> int:
        """Writes every stored event as CSV (header CSV_COLUMNS) to a path or an open text file; returns rows."""
        return export_csv(self.storage, path_or_file)

    # --- MQTT ---

    def start(self, timeout_s: float = 10.0) -> None:
        """Starts the storage thread, connects and subscribes (QoS 1, persistent session); returns once the
        broker confirmed the subscriptions, or raises ConnectionError naming the broker."""
        self._stopping.clear()
        while True:  # what a previous connection left unstored: the broker sends it again in this session
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                break
            self._settled += left is not _STOP
        self._storage_thread = threading.Thread(target=self._storage_loop, name="platform-storage", daemon=True)
        self._storage_thread.start()
        try:
            if self.shared_group is None:
                self._client.connect(self.host, self.port, keepalive=KEEPALIVE_S)
            else:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = SESSION_EXPIRY_NEVER_S
                properties.ReceiveMaximum = RECEIVE_MAXIMUM
                self._client.connect(self.host, self.port, keepalive=KEEPALIVE_S, clean_start=False,
                                     properties=properties)
        except OSError as err:
            self._stop_storage()
            raise BrokerUnreachable(N_("cannot reach the MQTT broker at %(host)s:%(port)d: %(error)s"),
                                    host=self.host, port=self.port, error=err) from None
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.stop()
            raise BrokerUnreachable(N_("the MQTT broker at %(host)s:%(port)d did not accept the subscriptions "
                                       "within %(seconds).0f s"), host=self.host, port=self.port, seconds=timeout_s)

    def stop(self) -> None:
        """Stores and acknowledges what was received, then disconnects; the broker keeps the session and
        queues QoS 1 messages until the next start()."""
        self._stop_storage()
        self._client.disconnect()
        self._client.loop_stop()
        self._subscribed.clear()

    def _stop_storage(self) -> None:
        if self._storage_thread is not None:
            self._queue.put(_STOP)
            self._stopping.set()
            self._storage_thread.join()
            self._storage_thread = None

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


def wait_quiet(receiver: PlatformReceiver, quiet_s: float, limit_s: float) -> None:
    """Returns once no message arrived for quiet_s and every one that did is stored (or after limit_s): how
    `--once` lets a backlog land. A slow commit is waited for, not taken for quiet."""
    deadline = time.monotonic() + limit_s
    last_total, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        total = receiver.received()
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change >= quiet_s and receiver.unsettled() <= 0:
            return
        time.sleep(0.05)
