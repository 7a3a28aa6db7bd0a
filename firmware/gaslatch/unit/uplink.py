"""The unit's uplink to the monitoring platform: stored events, state, telemetry and commands over MQTT.

It runs in its own thread so a slow or absent network never reaches the scan loop: the scan hands
over through lock-protected slots and bounded queues and never waits on the network or the disk.

Delivery (delivery.py). Events are read from the event store in seq order and published with QoS 1 to
`event`; an event counts as delivered only when the platform's `ack` covers it (the broker's PUBACK
only paces the window). The unit keeps every event until then and sends again from the ack point
after a reconnect, when the ack stalls, and for a range the platform asks for; events its store no
longer holds are answered on `gone`. The acker, a second small thread, marks the acknowledged ones
in the store (one SQLite commit per ACK_EVERY_SEQS / ACK_EVERY_S), so the worker never waits for an
SD card's fsync. Re-sent events keep their `id`: the platform stores each once.

State and telemetry. The scan hands over plain dicts (publish_state, publish_telemetry); the worker
encodes them with uplink_wire.encode_state / encode_telemetry (docs/schemas/), publishes the state
retained when its bytes change and every state_s, and the newest readings every telemetry_s.

Problems. Every failure is counted in health() with an installer-facing text (an untrusted or
wrong-name broker certificate, refused credentials, a broker that hangs up before accepting the
connection...); take_reports() hands each new problem, and the recovery, to the runtime's journal once.

Commands. `cmd` payloads are checked with uplink_wire.verify_command against the key in
hmac_key_file (the file's bytes, trailing CR/LF removed). Accepted ones go to take_commands() and
the runtime answers them with reply(); refused ones are counted per refusal code, with the first of each
code kept as a sample, for take_refusals() (the runtime records them in digests: a flood of junk costs a
few events, docs/events.md), and the worker answers those itself with ok false and the reason. Without a readable key
every command is refused (code "no_key"); events are still published. The ids of accepted commands
are kept in replay_file (replay_ids.py), written before the command reaches the scan, so a command
captured on the wire cannot be replayed after a restart or a power cut.
"""

from __future__ import annotations

import collections
import json
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from gaslatch.core import uplink_wire as W
from gaslatch.core.commands import remote_enabled
from gaslatch.core.config_schema import UPLINK
from gaslatch.translation import N_
from gaslatch.unit.delivery import GONE_REASON, MAX_INFLIGHT_EVENTS, AckProblem, Delivery
from gaslatch.unit.private_file import PrivateFileError, read_private, read_private_bytes
from gaslatch.unit.replay_ids import ReplayFileError, load_seen, save_seen

ACK_EVERY_SEQS = 1000  # store.ack() (one SQLite commit) at most this many seqs apart...
ACK_EVERY_S = 0.2  # ...or this long after the previous one
ACK_RETRY_S = 1.0  # a failed store.ack() is tried again after this
ACK_STOP_S = 3.0  # at close, the last ack may take this long
LOOP_TIMEOUT_S = 0.02  # longest a new event waits before the worker looks at the store
BACKOFF_MIN_S = 1.0  # the first reconnection waits up to this; doubles per failure up to backoff_max_s
MAX_COMMANDS = 16  # verified commands waiting for the scan; more are refused as busy
MAX_REPLIES = 64  # replies waiting for the connection; the oldest are dropped (counted in health)
# Replies to commands that could not be authenticated (anyone with publish rights can send those): at most
# this many a second, the rest are dropped (counted in health), so junk cannot fill the uplink.
UNSIGNED_REPLIES_PER_S = 10
MAX_REPORTS = 16  # problems and recoveries waiting for the journal; the oldest are dropped
CLOSE_FLUSH_S = 2.0  # close() waits this long for "offline" to reach the broker
OFFLINE_HEALTH_S = 1.0  # while waiting to reconnect, health's backlog is refreshed this often
REFUSED_NO_KEY = "no_key"
UNSIGNED_CODES = (W.REFUSED_MALFORMED, W.REFUSED_FIELDS, W.REFUSED_TYPES, W.REFUSED_HMAC, REFUSED_NO_KEY)
ONLINE = b"online"
OFFLINE = b"offline"


class UplinkError(Exception):
    """The uplink cannot start as configured: which setting, what is wrong and what to do."""

    def __init__(self, setting: str, problem: str, hint: str):
        Exception.__init__(self, "uplink.%s: %s (%s)" % (setting, problem, hint))
        self.setting = setting
        self.problem = problem
        self.hint = hint


def uplink_settings(cfg: dict) -> dict:
    """The uplink section with the schema's defaults filled in for missing keys."""
    out = {}
    for key, schema in UPLINK["properties"].items():
        out[key] = cfg.get(key, schema.get("default"))
    return out


def backoff_delay_s(failures: int, cap_s: float, rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential back-off: uniform in [0, min(cap, BACKOFF_MIN_S * 2**failures)]."""
    return rand() * min(cap_s, BACKOFF_MIN_S * (2 ** min(failures, 30)))


def connect_problem(err: BaseException, host: str, port: int, tls: bool) -> str:
    """What a failed connect() means for the installer, with the setting to check."""
    where = "%s:%s" % (host, port)
    if isinstance(err, ssl.SSLCertVerificationError):
        detail = err.verify_message or str(err)
        if "mismatch" in detail or "not valid for" in detail:
            return ("the broker's certificate is not valid for %s (%s): uplink.host must be a name the "
                    "certificate was issued for" % (host, detail))
        return ("the broker's certificate at %s is not trusted (%s): uplink.ca_file must hold the CA "
                "that signed it" % (where, detail))
    if isinstance(err, ssl.SSLError) or (tls and isinstance(err, ConnectionResetError)):
        return ("the TLS handshake with %s failed (%s): check that uplink.port is the broker's TLS port and "
                "the TLS files" % (where, err))
    if isinstance(err, ConnectionRefusedError):
        return "nothing accepts connections at %s (connection refused): is the broker running, uplink.port right?" % where
    if isinstance(err, socket.gaierror):
        return ("cannot resolve the broker's host name %s (%s): check uplink.host and the DNS, and that the service's "
                "IPAddressAllow= includes the DNS server (docs/install.md, \"The broker's address\")" % (host, err))
    if isinstance(err, PermissionError):
        return ("the system does not let the service reach %s (%s): allow the broker's address with IPAddressAllow= "
                "in a drop-in (docs/install.md, \"The broker's address\")" % (where, err))
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "no answer from %s (timed out): check the network and the firewall" % where
    return "cannot connect to %s: %s" % (where, err)


class _FirstError(logging.Logger):
    """paho's logger: keeps the first error logged since `text` was cleared (why a socket read failed: the
    root cause). paho logs every packet; anything else is dropped after one comparison."""

    def __init__(self):
        logging.Logger.__init__(self, "gaslatch.uplink.paho", logging.ERROR)  # not registered: nothing global
        self.propagate = False
        self.text = ""

    def log(self, level, msg, *args, **kwargs) -> None:
        if level < logging.ERROR or self.text:
            return
        try:
            self.text = msg % args if args else str(msg)
        except Exception:  # a bad log format must not break the worker
            self.text = str(msg)


class Uplink:
    """The MQTT worker. start() once, close() at shutdown; the other public methods are for the scan thread
    and never block on the network or the disk. monotonic_s: the clock (seconds) state_s and telemetry_s are
    counted on."""

    def __init__(self, cfg: dict, store, site: str, unit: str, now_s: Callable[[], float] = time.time,
                 clock_synced: Callable[[], bool] = lambda: True, replay_file: str = "",
                 monotonic_s: Callable[[], float] = time.monotonic):
        self.cfg = uplink_settings(cfg)
        self.store = store
        self.site = site
        self.unit = unit
        self._now_s = now_s
        self._monotonic_s = monotonic_s
        self._clock_synced = clock_synced
        self.topics = W.topics(site, unit)  # TopicNameError for a name that cannot be a topic level
        self.client_id = "gaslatch-%s-%s" % (site, unit)
        if not self.cfg["host"]:
            raise UplinkError("host", "no broker host name", "set uplink.host, or uplink.enabled false")
        self._key, self._key_problem = self._load_key()
        self._client = self._make_client()
        self._allowed_cmds = remote_enabled(self.cfg)
        # scan-side slots and queues, under _lock (held only for a few dict/deque operations)
        self._lock = threading.Lock()
        self._state: dict | None = None
        self._state_version = 0
        self._telemetry: dict | None = None
        self._telemetry_version = 0
        self._reports: collections.deque = collections.deque(maxlen=MAX_REPORTS)
        self._last_report = ""
        self._commands: collections.deque = collections.deque()
        self._refusals: dict = {}  # code -> [id, cmd, reason of the first since the last take, count]
        self._replies: collections.deque = collections.deque(maxlen=MAX_REPLIES)
        self._delivery = Delivery(store)
        self._health = {"connected": False, "backlog": 0, "delivered_seq": self._delivery.acked,
                        "platform_ack_seq": self._delivery.acked, "last_platform_ack_wall_s": None,
                        "last_publish_wall_s": None, "last_ack_wall_s": None, "errors": 0, "last_error": "",
                        "connect_attempts": 0, "connects": 0, "in_flight": 0, "commands_refused": 0,
                        "replies_dropped": 0, "acks_refused": 0, "resend_stalls": 0, "resend_requests": 0,
                        "gone_reported": 0, "command_key": "ok" if self._key is not None else self._key_problem}
        # worker-thread state (only the worker thread touches these)
        self._replay_file = replay_file  # "": the ids of accepted commands are kept in memory only
        self._seen: dict = {}
        self._blind_until_s = 0.0  # while the saved ids are unknown, every command may be a replay
        if replay_file:
            try:
                self._seen = load_seen(replay_file)
            except ReplayFileError as err:
                self._blind_until_s = now_s() + W.COMMAND_WINDOW_S
                self._error(str(err))
        self._saved_ids = set(self._seen)
        self._unsigned_second = 0  # the wall second of the latest reply to an unauthenticated command...
        self._unsigned_replies = 0  # ...and how many such replies were sent in it
        self._connected = False
        self._refused_connack = False
        self._connack_seen = False
        self._events_sent = 0
        self._ack_requested = self._delivery.acked  # last seq handed to the acker
        self._last_ack_mono = 0.0
        # the acker thread marks acknowledged events in the store: the worker never waits on the disk
        self._ack_target = 0  # under _lock: the seq to mark up to
        self._ack_stopping = False  # under _lock
        self._ack_wake = threading.Event()
        self._acker = threading.Thread(target=self._ack_loop, name="gaslatch-uplink-ack", daemon=True)
        self._state_published: bytes | None = None
        self._state_published_version = -1
        self._state_due_mono = 0.0
        self._telemetry_due_mono = 0.0
        self._telemetry_published_version = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gaslatch-uplink", daemon=True)

    # ---- set-up ----

    def _load_key(self) -> tuple[bytes | None, str]:
        path = self.cfg["hmac_key_file"]
        if not path:
            return None, "no uplink.hmac_key_file: every remote command is refused"
        try:
            key = read_private_bytes(path, N_("command key")).rstrip(b"\r\n")
        except PrivateFileError as err:
            if err.os_error is not None:
                return None, ("cannot read the command key %s (%s): every remote command is refused; install the "
                              "key given by the platform there, mode 0600, owned by gaslatch"
                              % (path, err.os_error.strerror))
            return None, ("%s: every remote command is refused until only its owner can read it: sudo chown "
                          "gaslatch: %s && sudo chmod 600 %s, then restart (sudo systemctl restart gaslatch); a key "
                          "others could read may be known: ask the platform for a new one" % (err, path, path))
        if not key:
            return None, "the command key file %s is empty: every remote command is refused" % path
        return key, ""

    def _make_client(self) -> mqtt.Client:
        cfg = self.cfg
        client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=False, protocol=mqtt.MQTTv311)
        # The worker bounds what it has in flight itself (MAX_INFLIGHT_EVENTS events, one state, the replies).
        # paho's own limit would rescan every message in flight on each PUBACK: 0 turns it off.
        client.max_inflight_messages_set(0)
        self._paho_errors = _FirstError()
        client.enable_logger(self._paho_errors)
        client.will_set(self.topics["status"], OFFLINE, qos=1, retain=True)
        if cfg["username"]:
            password = None
            if cfg["password_file"]:
                try:
                    password = read_private(cfg["password_file"], N_("MQTT password file")).rstrip("\r\n")
                except PrivateFileError as err:
                    raise UplinkError("password_file", str(err),
                                      "put the MQTT password there, mode 0600, owned by gaslatch") from None
            client.username_pw_set(cfg["username"], password)
        if cfg["tls"]:
            for setting in ("ca_file", "cert_file", "key_file"):
                if cfg[setting]:
                    try:
                        open(cfg[setting], "rb").close()
                    except OSError as err:
                        raise UplinkError(setting, "cannot read %s: %s" % (cfg[setting], err.strerror),
                                          "install the file, readable by the gaslatch user") from None
            if bool(cfg["cert_file"]) != bool(cfg["key_file"]):
                raise UplinkError("key_file", "mutual TLS needs both cert_file and key_file",
                                  "set both, or neither")
            try:
                client.tls_set(ca_certs=cfg["ca_file"] or None, certfile=cfg["cert_file"] or None,
                               keyfile=cfg["key_file"] or None, cert_reqs=ssl.CERT_REQUIRED,
                               tls_version=ssl.PROTOCOL_TLS_CLIENT)
            except (ssl.SSLError, ValueError, OSError) as err:
                raise UplinkError("ca_file", "cannot load the TLS files: %s" % err,
                                  "check ca_file, cert_file and key_file are PEM files that belong together") from None
            client.tls_insecure_set(False)  # the broker's host name is verified
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        return client

    def start(self) -> None:
        self._acker.start()
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> bool:
        """Publish "offline", disconnect and stop the worker; False if it did not stop in time."""
        self._stop.set()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # ---- the scan's side: never blocks on I/O ----

    def publish_state(self, snapshot: dict) -> None:
        """The current state (a fresh dict the caller no longer changes): retained, on change and every state_s."""
        with self._lock:
            self._state = snapshot
            self._state_version += 1

    def publish_telemetry(self, readings: dict) -> None:
        """The latest readings (a fresh dict for encode_telemetry): published with QoS 0 every telemetry_s.

        Readings are published once at most: a scan that stops handing them over stops the telemetry."""
        with self._lock:
            self._telemetry = readings
            self._telemetry_version += 1

    def take_commands(self) -> list:
        """Verified commands since the last call: [{"id", "cmd", "args"}]; answer each with reply()."""
        with self._lock:
            out = list(self._commands)
            self._commands.clear()
        return out

    def take_refusals(self) -> list:
        """Refused commands since the last call, one entry per refusal code, in the order the codes first came:
        [(id or None, cmd or None, reason, code, count)], id, cmd and reason those of the first with that code.

        However many arrive, this stays as small as the list of codes. The worker has already replied to them."""
        with self._lock:
            out = [(id_, cmd, reason, code, count) for code, (id_, cmd, reason, count) in self._refusals.items()]
            self._refusals.clear()
        return out

    def state_text(self, snapshot: dict) -> str:
        """The state as the platform receives it (uplink_wire.encode_state), for the answer to its status command."""
        return W.encode_state(snapshot).decode("utf-8")

    def reply(self, id_: str | None, ok: bool, message: str) -> None:
        """Queue the `cmd/reply` answer to a command from take_commands()."""
        payload = W.encode_reply(id_, ok, message)
        self._queue_reply(payload)

    def health(self) -> dict:
        """JSON-ready: connected, backlog (undelivered seqs, an upper bound, also while offline), delivered_seq
        (marked delivered in the store up to it), last publish and ack times, errors and last_error."""
        with self._lock:
            return dict(self._health)

    def take_reports(self) -> list:
        """New problems and recoveries since the last call, for the journal: [("error" | "info", text)].

        The same text is not reported twice in a row: a broker that keeps refusing is one line until
        something else happens."""
        with self._lock:
            out = list(self._reports)
            self._reports.clear()
        return out

    def _queue_reply(self, payload: bytes) -> None:
        with self._lock:
            if len(self._replies) == self._replies.maxlen:
                self._health["replies_dropped"] += 1
            self._replies.append(payload)

    def _note(self, **values) -> None:
        with self._lock:
            self._health.update(values)

    def _error(self, text: str) -> None:
        with self._lock:
            self._health["errors"] += 1
            self._health["last_error"] = text
            self._report("error", text)

    def _report(self, level: str, text: str) -> None:
        """Under _lock: queue text for take_reports() unless it repeats the previous report."""
        if text != self._last_report:
            self._last_report = text
            self._reports.append((level, text))

    # ---- the worker thread ----

    def _run(self) -> None:
        try:
            self._connect_loop()
        finally:
            self._stop_acker()

    def _connect_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._refused_connack = False
            self._connack_seen = False
            self._paho_errors.text = ""
            with self._lock:
                self._health["connect_attempts"] += 1
            try:
                self._client.connect(self.cfg["host"], self.cfg["port"], keepalive=self.cfg["keepalive_s"])
            except (OSError, ssl.SSLError, ValueError) as err:  # refused, unreachable, TLS or host name mismatch
                self._error(connect_problem(err, self.cfg["host"], self.cfg["port"], self.cfg["tls"]))
            else:
                while not self._stop.is_set():
                    rc = self._client.loop(timeout=LOOP_TIMEOUT_S)
                    if rc != mqtt.MQTT_ERR_SUCCESS or self._refused_connack:
                        if rc != mqtt.MQTT_ERR_SUCCESS and not self._refused_connack:
                            self._error(self._lost_problem(rc))
                        break
                    if self._connected:
                        failures = 0
                        self._service()
                if self._stop.is_set():
                    self._shutdown()
                self._connected = False
                self._note(connected=False)
                self._maybe_ack(force=True)  # what was acknowledged before the loss stays delivered
            if self._stop.is_set():
                break
            delay_s = backoff_delay_s(failures, self.cfg["backoff_max_s"])
            failures += 1
            self._wait_offline(delay_s)

    def _wait_offline(self, delay_s: float) -> None:
        """The back-off pause; health's backlog keeps counting the events that pile up meanwhile."""
        deadline = time.monotonic() + delay_s
        while True:
            self._note(backlog=self._delivery.backlog(), in_flight=0)
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0 or self._stop.wait(min(remaining_s, OFFLINE_HEALTH_S)):
                return

    def _shutdown(self) -> None:
        if self._connected:
            try:
                info = self._client.publish(self.topics["status"], OFFLINE, qos=1, retain=True)
                deadline = time.monotonic() + CLOSE_FLUSH_S
                while not info.is_published() and time.monotonic() < deadline:
                    if self._client.loop(timeout=LOOP_TIMEOUT_S) != mqtt.MQTT_ERR_SUCCESS:
                        break
                self._maybe_ack(force=True)
                self._client.disconnect()
                self._client.loop(timeout=LOOP_TIMEOUT_S)
            except (OSError, ValueError, RuntimeError) as err:
                self._error("while closing: %s" % err)
        self._connected = False
        self._note(connected=False)

    def _lost_problem(self, rc: int) -> str:
        where = "%s:%s" % (self.cfg["host"], self.cfg["port"])
        detail = self._paho_errors.text or mqtt.error_string(rc)
        if self._connack_seen:
            return "connection to %s lost: %s" % (where, detail)
        if self.cfg["tls"]:
            hint = ("with TLS this usually means it wants a client certificate it trusts: check uplink.cert_file "
                    "and key_file")
        else:
            hint = "check that uplink.port is its plain MQTT port (for a TLS port set uplink.tls true)"
        return "the broker at %s closed the connection before accepting it (%s): %s" % (where, detail, hint)

    # paho callbacks: called from the worker thread inside loop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connack_seen = True
        if reason_code.is_failure:
            self._refused_connack = True
            self._error("the broker at %s:%s refused the connection: %s (check uplink.username and password_file, "
                        "and the client certificate)" % (self.cfg["host"], self.cfg["port"], reason_code))
            return
        self._connected = True
        self._delivery.restart()
        client.publish(self.topics["status"], ONLINE, qos=1, retain=True)
        client.subscribe([(self.topics["cmd"], 1), (self.topics["ack"], 1)])
        self._state_published_version = -1  # republish the retained state on every connect
        self._state_due_mono = 0.0
        with self._lock:
            self._health["connected"] = True
            self._health["connects"] += 1
            self._report("info", "connected to %s:%s" % (self.cfg["host"], self.cfg["port"]))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected = False
        self._note(connected=False)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._delivery.puback(mid)

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == self.topics["ack"]:
            self._on_ack(bytes(message.payload))
            return
        if message.topic != self.topics["cmd"]:
            return
        if self._key is None:
            self._refuse(_lenient_field(message.payload, "id"), _lenient_field(message.payload, "cmd"),
                         self._key_problem, REFUSED_NO_KEY)
            return
        now_s = self._now_s()
        if now_s < self._blind_until_s:
            self._refuse(_lenient_field(message.payload, "id"), _lenient_field(message.payload, "cmd"),
                         "the ids of commands accepted before the restart are unknown: every command may be a "
                         "replay until %d" % self._blind_until_s, W.REFUSED_REPLAY)
            return
        check = W.verify_command(bytes(message.payload), self._key, int(now_s), self._seen,
                                 self._allowed_cmds, clock_trusted=self._clock_synced())
        if check.id in self._seen and check.id not in self._saved_ids:
            self._save_seen()  # before anything is carried out: a power cut from here on cannot make it new
        if not check.ok:
            self._refuse(check.id, check.cmd, check.reason, check.code)
            return
        with self._lock:
            busy = len(self._commands) >= MAX_COMMANDS
            if not busy:
                self._commands.append({"id": check.id, "cmd": check.cmd, "args": check.args})
        if busy:
            self._refuse(check.id, check.cmd, "busy: %d commands are waiting" % MAX_COMMANDS, W.REFUSED_BUSY)

    def _on_ack(self, payload: bytes) -> None:
        """The platform's acknowledgement: what it stored moves the ack point; a resend range is queued."""
        try:
            store, through, resend = W.parse_ack(payload)
            moved = self._delivery.on_ack(store, through, resend)
        except (ValueError, AckProblem) as err:  # AckProblem is a ValueError; both are refused, never fatal
            with self._lock:
                self._health["acks_refused"] += 1
            self._error("refused an acknowledgement from the platform: %s" % err)
            return
        except Exception as err:  # the store could not be read: the next ack will do
            self._error("cannot check an acknowledgement against the store: %s" % err)
            return
        values = {"platform_ack_seq": self._delivery.acked, "resend_requests": self._delivery.counts["resend_requests"]}
        if moved:
            values["last_platform_ack_wall_s"] = self._now_s()
        self._note(**values)

    def _save_seen(self) -> None:
        if not self._replay_file:
            return
        try:
            save_seen(self._replay_file, self._seen)
        except ReplayFileError as err:  # the command is still carried out: refusing close_valve is no safer
            self._error(str(err))
            return
        self._saved_ids = set(self._seen)

    def _refuse(self, id_, cmd, reason: str, code: str) -> None:
        with self._lock:
            self._health["commands_refused"] += 1
            first = self._refusals.setdefault(code, [id_, cmd, reason, 0])
            first[3] += 1
        if code in UNSIGNED_CODES:
            second = int(self._now_s())
            if second != self._unsigned_second:
                self._unsigned_second, self._unsigned_replies = second, 0
            self._unsigned_replies += 1
            if self._unsigned_replies > UNSIGNED_REPLIES_PER_S:
                with self._lock:
                    self._health["replies_dropped"] += 1
                return
        self._queue_reply(W.encode_reply(id_ if isinstance(id_, str) else None, False, reason))

    # one pass of publishing, between network reads

    def _service(self) -> None:
        mono = self._monotonic_s()
        sent_before = self._events_sent
        self._publish_replies()
        self._publish_state(mono)
        self._publish_telemetry(mono)
        self._publish_events(mono)
        self._maybe_ack()
        values = {"backlog": self._delivery.backlog(), "in_flight": self._delivery.in_flight}
        if self._events_sent != sent_before:
            values["last_publish_wall_s"] = self._now_s()
        self._note(**values)

    def _publish_replies(self) -> None:
        while True:
            with self._lock:
                if not self._replies:
                    return
                payload = self._replies.popleft()
            self._client.publish(self.topics["cmd/reply"], payload, qos=1)

    def _publish_state(self, mono: float) -> None:
        with self._lock:
            snapshot, version = self._state, self._state_version
        if snapshot is None:
            return
        if version == self._state_published_version and mono < self._state_due_mono:
            return
        self._state_published_version = version
        try:
            payload = W.encode_state(snapshot)
        except (ValueError, TypeError, KeyError) as err:  # a runtime bug: reported, the next snapshot is tried
            self._error("cannot encode the state: %s" % err)
            self._state_due_mono = mono + self.cfg["state_s"]
            return
        if payload == self._state_published and mono < self._state_due_mono:
            return
        self._client.publish(self.topics["state"], payload, qos=1, retain=True)
        self._state_published = payload
        self._state_due_mono = mono + self.cfg["state_s"]
        self._published()

    def _publish_telemetry(self, mono: float) -> None:
        if mono < self._telemetry_due_mono:
            return
        with self._lock:
            readings, version = self._telemetry, self._telemetry_version
        if readings is None or version == self._telemetry_published_version:
            return
        self._telemetry_published_version = version
        self._telemetry_due_mono = mono + self.cfg["telemetry_s"]
        try:
            payload = W.encode_telemetry(readings)
        except (ValueError, TypeError, KeyError) as err:  # a runtime bug: reported, tried again next period
            self._error("cannot encode the telemetry: %s" % err)
            return
        self._client.publish(self.topics["telemetry"], payload, qos=0)
        self._published()

    def _publish_events(self, mono: float) -> None:
        delivery = self._delivery
        waited_s = delivery.stall_s
        if delivery.stalled():
            with self._lock:
                self._health["resend_stalls"] = delivery.counts["stalls"]
                self._report("error", "no acknowledgement from the platform for %.0f s: sending again from seq %d "
                                      "(next wait %.0f s); are the platform's receivers running, and may this unit "
                                      "publish to %s (uplink.username %s/%s with the shipped broker ACL, "
                                      "docs/broker.md)?" % (waited_s, delivery.acked + 1, delivery.stall_s,
                                                            self.topics["event"], self.site, self.unit))
        if delivery.in_flight >= MAX_INFLIGHT_EVENTS:
            return
        gone: list = []
        try:
            rows, gone = delivery.next_rows()
            for first, last in gone:
                self._client.publish(self.topics["gone"], W.encode_gone(delivery.store_key, first, last,
                                                                         GONE_REASON), qos=1)
            for row in rows:
                info = self._client.publish(self.topics["event"], W.encode_event(row), qos=1)
                delivery.sent(info.mid, row["seq"])
                self._events_sent += 1
        except Exception as err:  # StoreError, or a row the wire format rejects: reported, retried later
            self._error("cannot read or encode events: %s" % err)
        if gone:
            self._note(gone_reported=delivery.counts["gone"])

    def _maybe_ack(self, force: bool = False) -> None:
        """Hand the acker the platform's new ack point, every ACK_EVERY_SEQS seqs or ACK_EVERY_S (at once if force)."""
        due = self._delivery.acked
        if due <= self._ack_requested:
            return
        mono = time.monotonic()
        if not force and due - self._ack_requested < ACK_EVERY_SEQS and mono - self._last_ack_mono < ACK_EVERY_S:
            return
        with self._lock:
            self._ack_target = due
        self._ack_wake.set()
        self._ack_requested = due
        self._last_ack_mono = mono

    def _ack_loop(self) -> None:
        """The acker thread: store.ack() up to the latest target; a failure is reported and retried."""
        marked = 0
        retry_s = None
        while True:
            self._ack_wake.wait(retry_s)
            self._ack_wake.clear()
            with self._lock:
                target, stopping = self._ack_target, self._ack_stopping
            retry_s = None
            if target > marked:
                try:
                    self.store.ack(target)
                except Exception as err:  # StoreError: retried; if never, a restart re-sends with the same ids
                    self._error("cannot mark events delivered in the store: %s" % err)
                    retry_s = ACK_RETRY_S
                else:
                    marked = target
                    self._note(delivered_seq=marked, last_ack_wall_s=self._now_s())
            if stopping:
                return

    def _stop_acker(self) -> None:
        """Let the acker mark the last ack point (the worker's _maybe_ack(force=True) came first) and end."""
        with self._lock:
            self._ack_stopping = True
        self._ack_wake.set()
        self._acker.join(ACK_STOP_S)

    def _published(self) -> None:
        self._note(last_publish_wall_s=self._now_s())


def _no_delay(client, userdata, sock) -> None:
    """TCP_NODELAY: a lone PUBLISH is sent at once, not held back by Nagle's algorithm."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a TCP socket (a test double): nothing to tune
        pass


def _lenient_field(payload: bytes, name: str):
    """A text field of a JSON command that could not be verified, for the refusal record; None otherwise."""
    try:
        value = json.loads(bytes(payload).decode("utf-8")).get(name)
    except Exception:
        return None
    return value if isinstance(value, str) and len(value) <= W.MAX_ID_CHARS else None
