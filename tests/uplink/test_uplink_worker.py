"""The unit's uplink worker against a real mosquitto, a real event store and a paho subscriber."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from gaslatch.core import uplink_wire as W
from gaslatch.unit import delivery as DL
from gaslatch.unit.event_store import EventStore, StoreError
from gaslatch.unit.replay_ids import load_seen
from gaslatch.unit.uplink import UNSIGNED_REPLIES_PER_S, Uplink, UplinkError, backoff_delay_s, connect_problem
from gaslatch_tools.testing.waiting import wait_until

SITE = "site1"
UNIT = "unit1"
KEY = b"0123456789abcdef0123456789abcdef"
TOPICS = W.topics(SITE, UNIT)


class Subscriber:
    """A platform stand-in: a paho client collecting every message on gaslatch/#.

    With acking (the default) it plays the platform's part of delivery as the receiver does: after each
    event it publishes, retained, the highest seq up to which it has every event of the unit's store."""

    def __init__(self, broker, acking: bool = True, client_id: str = "test-platform", pki=None,
                 username: str | None = None, password: str | None = None, topics: dict = TOPICS):
        self.topics = topics
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.acking = acking
        self._seqs: dict[str, set] = {}  # store key -> seqs received
        self._through: dict[str, int] = {}
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id, clean_session=False)
        if pki is not None:
            self.client.tls_set(ca_certs=pki.ca_file, certfile=pki.client_cert_file, keyfile=pki.client_key_file,
                                cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("gaslatch/#", qos=1)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        wait_until(self.client.is_connected, 10, what="the test subscriber connected")

    def _on_message(self, client, userdata, message):
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
        if self.acking and message.topic == self.topics["event"]:
            event = json.loads(message.payload)
            self.ack(W.store_key_of(event["id"], event["seq"]), event["seq"])

    def ack(self, key: str, seq: int) -> None:
        with self.lock:
            seqs = self._seqs.setdefault(key, set())
            seqs.add(seq)
            through = self._through.get(key, 0)
            while through + 1 in seqs:
                through += 1
            self._through[key] = through
        self.client.publish(self.topics["ack"], W.encode_ack(key, through), qos=1, retain=True)

    def on(self, kind: str) -> list[bytes]:
        with self.lock:
            return [payload for topic, payload, _ in self.messages if topic == self.topics[kind]]

    def kinds(self) -> list[tuple[str, bytes]]:
        """(kind, payload) of every message under the unit's topics, in arrival order."""
        by_topic = {topic: kind for kind, topic in self.topics.items()}
        with self.lock:
            return [(by_topic[t], p) for t, p, _ in self.messages if t in by_topic]

    def events(self) -> list[dict]:
        return [json.loads(p) for p in self.on("event")]

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events()]

    def send(self, payload: bytes) -> None:
        self.client.publish(self.topics["cmd"], payload, qos=1)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def record(seq: int, severity: str = "info", type_: str = "detector") -> dict:
    return {"seq": seq, "t_ms": seq * 100, "type": type_, "severity": severity, "source": "d1",
            "state": "normal", "value": seq, "reason": "test event %d" % seq}


def append(store: EventStore, count: int, severity: str = "info") -> list[int]:
    first = store.next_seq()
    seqs = list(range(first, first + count))
    store.append([record(seq, severity) for seq in seqs])
    wait_until(lambda: store.recorded_seq() >= seqs[-1], 10, what="events committed")
    return seqs


def config(broker, tmp_path, **overrides) -> dict:
    key_file = tmp_path / "uplink.key"
    key_file.write_bytes(KEY + b"\n")
    key_file.chmod(0o600)
    cfg = {"enabled": True, "host": broker.host, "port": broker.port, "tls": False, "hmac_key_file": str(key_file),
           "keepalive_s": 5, "telemetry_s": 5, "state_s": 10, "backoff_max_s": 5}
    cfg.update(overrides)
    return cfg


@pytest.fixture
def store(tmp_path):
    s = EventStore(str(tmp_path / "events.db"), unit=UNIT)
    yield s
    s.close()


@pytest.fixture
def platform(broker):
    sub = Subscriber(broker)
    yield sub
    sub.close()


@pytest.fixture
def make_uplink(store):
    made = []

    def make(cfg, now_s=time.time, replay_file="", monotonic_s=time.monotonic):
        up = Uplink(cfg, store, SITE, UNIT, now_s=now_s, replay_file=replay_file, monotonic_s=monotonic_s)
        made.append(up)
        up.start()
        return up

    yield make
    for up in made:
        up.close()


def all_delivered(store: EventStore, platform: Subscriber, seqs: list[int]):
    got = {e["seq"] for e in platform.events()}
    return set(seqs) <= got and not store.unacked(10)


def test_events_are_delivered_in_order_and_acked_in_the_store(broker, tmp_path, store, platform,
                                                              make_uplink):
    seqs = append(store, 50)
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: all_delivered(store, platform, seqs), 20, what="all 50 events delivered and acked")
    events = platform.events()
    assert [e["seq"] for e in events] == seqs  # in order, none twice
    assert len({e["id"] for e in events}) == len(events)
    assert events[0]["ts"].endswith("Z") and events[0]["clock_synced"] in (True, False)
    live = append(store, 5)
    wait_until(lambda: all_delivered(store, platform, seqs + live), 10, what="live events delivered")
    assert [e["seq"] for e in platform.events()] == seqs + live
    health = wait_until(lambda: (lambda h: h if h["delivered_seq"] == live[-1] else None)(up.health()), 5,
                        what="health shows the delivered seq")
    assert health["connected"] and health["backlog"] == 0 and health["last_publish_wall_s"]


def test_nothing_is_acked_before_the_broker_acknowledges_it(broker, tmp_path, store,
                                                            make_uplink):
    broker.stop()
    seqs = append(store, 30)
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: up.health()["connect_attempts"] >= 2, 20, what="two failed connection attempts")
    assert [r["seq"] for r in store.unacked(100)] == seqs
    assert not up.health()["connected"] and up.health()["last_error"]
    broker.start()
    sub = Subscriber(broker)
    try:
        wait_until(lambda: not store.unacked(100), 30, what="the store acked after the broker came back")
        # the subscriber connected after the events were published: the broker kept nothing for it, so
        # delivery is shown by the acks alone; a fresh event reaches it.
        live = append(store, 1)
        wait_until(lambda: live[0] in {e["seq"] for e in sub.events()}, 10, what="a live event")
    finally:
        sub.close()


def test_a_broker_outage_delays_events_but_loses_none(broker, tmp_path, store, platform,
                                                      make_uplink):
    first = append(store, 20)
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: all_delivered(store, platform, first), 20, what="events before the outage")
    broker.stop()
    wait_until(lambda: not up.health()["connected"], 20, what="the uplink noticed the outage")
    during = append(store, 300)  # a long backlog
    assert len(store.unacked(1000)) == 300
    broker.start()
    # the platform's persistent session survives in the broker's persistence; the worker's too
    wait_until(lambda: all_delivered(store, platform, first + during), 60, what="the backlog drained")
    events = platform.events()
    seqs = [e["seq"] for e in events]
    assert sorted(set(seqs)) == first + during  # none lost
    ids = {}
    for e in events:  # a duplicate (a PUBACK lost in the outage) is an identical re-send
        assert ids.setdefault(e["id"], e) == e
    first_seen = list(dict.fromkeys(seqs))
    assert first_seen == sorted(first_seen)  # no alarms in this backlog: in seq order


def test_live_alarms_jump_a_long_backlog(broker, tmp_path, store, platform, make_uplink):
    backlog = append(store, 600)
    alarm = append(store, 1, severity="alarm")
    make_uplink(config(broker, tmp_path))
    wait_until(lambda: all_delivered(store, platform, backlog + alarm), 60, what="backlog and alarm delivered")
    seqs = [e["seq"] for e in platform.events()]
    assert seqs.index(alarm[0]) < 100  # it did not wait for the 600 before it
    assert sorted(set(seqs)) == backlog + alarm
    ids = {}
    for e in platform.events():  # a duplicate is an identical re-send
        assert ids.setdefault(e["id"], e) == e


def test_status_is_online_with_offline_as_last_will(broker, tmp_path, store, platform, make_uplink):
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: platform.on("status") == [b"online"], 10, what="online published")
    # the connection dies without a DISCONNECT packet: the broker publishes the will
    up._client.socket().shutdown(socket.SHUT_RDWR)
    wait_until(lambda: platform.on("status")[1:2] == [b"offline"], 20, what="the will: offline")
    wait_until(lambda: platform.on("status")[2:3] == [b"online"], 20, what="online again after reconnecting")
    up.close()
    wait_until(lambda: platform.on("status")[-1:] == [b"offline"], 10, what="offline on close")


def snapshot(latched: bool = False, reading: int | None = 0) -> dict:
    """A state snapshot as the runtime hands it over."""
    return {"latched": latched, "trip_reason": "gas: d1 high alarm" if latched else "", "valve_fault": "",
            "outputs": {"valve": not latched, "fan": latched, "sounder": False, "beacon": latched,
                        "fault_relay": True},
            "interlocks": {"fire_alarm": False, "emergency_stop": False, "ventilation": False},
            "inhibits": {}, "silenced_s": None, "schedule": None,
            "detectors": {"d1": {"state": "high_alarm" if latched else "normal", "centi_pct_lel": reading}},
            "clock_synced": True, "config": {"identity": "ab" * 32, "version": 1}}


def readings(t_ms: int, reading: int | None = 0) -> dict:
    return {"ts": "2026-11-24T21:50:41.123Z", "t_ms": t_ms, "clock_synced": True, "centi_pct_lel": {"d1": reading}}


def test_state_is_retained_and_telemetry_published(broker, tmp_path, store, platform, make_uplink):
    up = make_uplink(config(broker, tmp_path))
    up.publish_state(snapshot())
    up.publish_telemetry(readings(1000))
    wait_until(lambda: platform.on("state") and platform.on("telemetry"), 10, what="state and telemetry")
    assert platform.on("state")[0] == W.encode_state(snapshot())
    assert platform.on("telemetry")[0] == W.encode_telemetry(readings(1000))
    up.publish_state(snapshot())
    up.publish_state(snapshot(latched=True, reading=2500))
    wait_until(lambda: len(platform.on("state")) >= 2, 10, what="the changed state")
    assert [json.loads(p)["latched"] for p in platform.on("state")] == [False, True]  # unchanged: not resent
    late = Subscriber(broker, acking=False, client_id="late")
    try:
        wait_until(lambda: late.on("state"), 10, what="the retained state for a late subscriber")
        assert json.loads(late.on("state")[0])["detectors"]["d1"] == {"centi_pct_lel": 2500, "state": "high_alarm"}
    finally:
        late.close()


class WorkerClock:
    """The uplink's monotonic clock, moved by the test; it also tells when the worker has read it."""

    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s
        self.reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.reads += 1
            return self.now_s

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now_s += seconds

    def passes(self) -> None:
        """Returns once the worker has finished a publishing pass begun after the call (it reads the clock at the
        start of every pass: the second read from now starts a pass after one that began after the call)."""
        with self._lock:
            seen = self.reads
        wait_until(lambda: self.reads >= seen + 2, 10, what="a publishing pass of the uplink worker")


def test_telemetry_goes_out_every_period_and_only_with_fresh_readings(broker, tmp_path, store, platform,
                                                                      make_uplink):
    # The periods are counted on the test's clock: four hand-overs are within one period however slowly they run.
    clock = WorkerClock()
    up = make_uplink(config(broker, tmp_path, telemetry_s=0.3), monotonic_s=clock)
    up.publish_telemetry(readings(1000))
    wait_until(lambda: platform.on("telemetry"), 10, what="the first telemetry")
    for t_ms in range(1100, 1500, 100):  # four hand-overs within one period: only the newest goes out
        up.publish_telemetry(readings(t_ms))
        clock.passes()  # the worker has seen each one (and must hold it back)
    clock.advance(0.3)
    wait_until(lambda: len(platform.on("telemetry")) >= 2, 10, what="the next period's telemetry")
    assert [json.loads(p)["t_ms"] for p in platform.on("telemetry")] == [1000, 1400]
    for _ in range(3):  # three periods without fresh readings...
        clock.advance(0.3)
        clock.passes()
    up.publish_telemetry(readings(2000))
    wait_until(lambda: len(platform.on("telemetry")) >= 3, 10, what="telemetry with fresh readings")
    # ...sent nothing: a scan that stops handing readings over stops the telemetry
    assert [json.loads(p)["t_ms"] for p in platform.on("telemetry")] == [1000, 1400, 2000]


def test_a_snapshot_the_encoder_refuses_is_reported_and_the_next_one_published(broker, tmp_path, store, platform,
                                                                               make_uplink):
    up = make_uplink(config(broker, tmp_path))
    bad = snapshot()
    del bad["detectors"]
    up.publish_state(bad)
    wait_until(lambda: "cannot encode the state" in up.health()["last_error"], 10, what="the encoding error")
    assert "detectors is missing" in up.health()["last_error"]
    up.publish_state(snapshot())
    wait_until(lambda: platform.on("state"), 10, what="the good state")
    assert platform.on("state") == [W.encode_state(snapshot())]


def test_problems_and_the_recovery_are_reported_once_for_the_journal(broker, tmp_path, store, make_uplink):
    broker.stop()
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: up.health()["connect_attempts"] >= 2, 20, what="two failed connection attempts")
    reports = up.take_reports()
    assert len(reports) == 1 and reports[0][0] == "error"
    assert "connection refused" in reports[0][1] and "uplink.port" in reports[0][1]
    assert "connection refused" in up.health()["last_error"]
    broker.start()
    wait_until(lambda: up.health()["connected"], 30, what="connected after the broker came back")
    assert up.take_reports() == [("info", "connected to %s:%d" % (broker.host, broker.port))]


def test_a_signed_close_valve_command_reaches_the_scan_and_is_answered(broker, tmp_path, store, platform,
                                                                       make_uplink):
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: platform.on("status"), 10, what="online")
    platform.send(W.sign_command(KEY, "c1", int(time.time()), "close_valve", {}))
    commands = wait_until(up.take_commands, 10, what="the command")
    assert commands == [{"id": "c1", "cmd": "close_valve", "args": {}}]
    up.reply("c1", True, "valve closed")
    wait_until(lambda: platform.on("cmd/reply"), 10, what="the reply")
    assert json.loads(platform.on("cmd/reply")[0]) == {"id": "c1", "ok": True, "message": "valve closed"}
    assert up.take_refusals() == []


def test_replayed_forged_stale_and_reopen_commands_are_refused(broker, tmp_path, store, platform,
                                                               make_uplink):
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: platform.on("status"), 10, what="online")
    now = int(time.time())
    good = W.sign_command(KEY, "c1", now, "close_valve", {})
    platform.send(good)
    wait_until(up.take_commands, 10, what="the first close_valve")
    platform.send(good)  # replayed
    platform.send(W.sign_command(b"not the key", "c2", now, "close_valve", {}))
    platform.send(W.sign_command(KEY, "c3", now - 3600, "close_valve", {}))
    platform.send(W.sign_command(KEY, "c4", now, "open_valve", {}))
    platform.send(b"not json")
    refusals = []
    wait_until(lambda: refusals.extend(up.take_refusals()) or len(refusals) >= 5, 10, what="five refusals")
    codes = {(r[0], r[3]) for r in refusals}
    assert codes == {("c1", W.REFUSED_REPLAY), ("c2", W.REFUSED_HMAC), ("c3", W.REFUSED_STALE),
                     ("c4", W.REFUSED_NOT_ALLOWED), (None, W.REFUSED_MALFORMED)}
    assert ("c4", "open_valve", W.NOT_ALLOWED_REASON, W.REFUSED_NOT_ALLOWED, 1) in refusals
    assert up.take_commands() == []
    wait_until(lambda: len(platform.on("cmd/reply")) >= 5, 10, what="a reply to every refusal")
    assert all(json.loads(p)["ok"] is False for p in platform.on("cmd/reply"))


def test_refusals_are_counted_per_code_with_the_first_of_each_as_the_sample(broker, tmp_path, store, platform,
                                                                            make_uplink):
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: platform.on("status"), 10, what="online")
    for i in range(200):
        platform.send(W.sign_command(b"not the key", "f%d" % i, int(time.time()), "close_valve", {}))
    platform.send(b"not json")
    refusals = []
    wait_until(lambda: refusals.extend(up.take_refusals()) or sum(r[4] for r in refusals) >= 201, 10,
               what="201 refusals")
    assert up.health()["commands_refused"] == 201
    by_code = {}
    for id_, _cmd, _reason, code, count in refusals:
        by_code.setdefault(code, [id_, 0])[1] += count
    assert by_code == {W.REFUSED_HMAC: ["f0", 200], W.REFUSED_MALFORMED: [None, 1]}


def test_accepted_ids_are_saved_before_the_command_reaches_the_scan(broker, tmp_path, store, platform, make_uplink):
    replay_file = str(tmp_path / "seen.json")
    up = make_uplink(config(broker, tmp_path), replay_file=replay_file)
    wait_until(lambda: platform.on("status"), 10, what="online")
    platform.send(W.sign_command(KEY, "c1", int(time.time()), "close_valve", {}))
    platform.send(W.sign_command(b"not the key", "forged", int(time.time()), "close_valve", {}))
    wait_until(up.take_commands, 10, what="the command")
    assert list(load_seen(replay_file)) == ["c1"]  # a forged id is never remembered


def test_with_the_saved_ids_unreadable_every_command_is_refused_for_one_window(broker, tmp_path, store, platform,
                                                                               make_uplink):
    replay_file = tmp_path / "seen.json"
    replay_file.write_bytes(b"garbage")
    now = [float(int(time.time()))]
    up = make_uplink(config(broker, tmp_path), now_s=lambda: now[0], replay_file=str(replay_file))
    assert "unreadable" in up.health()["last_error"]
    wait_until(lambda: platform.on("status"), 10, what="online")
    platform.send(W.sign_command(KEY, "c1", int(now[0]), "close_valve", {}))
    refusals = wait_until(up.take_refusals, 10, what="the refusal")
    assert refusals[0][0] == "c1" and refusals[0][3] == W.REFUSED_REPLAY and "unknown" in refusals[0][2]
    now[0] += W.COMMAND_WINDOW_S
    platform.send(W.sign_command(KEY, "c2", int(now[0]), "close_valve", {}))
    assert wait_until(up.take_commands, 10, what="the command after the window")[0]["id"] == "c2"
    assert load_seen(str(replay_file)) == {"c2": int(now[0])}


def test_junk_gets_at_most_ten_replies_a_second_and_signed_commands_always_get_theirs(broker, tmp_path, store,
                                                                                        platform, make_uplink):
    now_s = float(int(time.time()))
    up = make_uplink(config(broker, tmp_path), now_s=lambda: now_s)
    wait_until(lambda: platform.on("status"), 10, what="online")
    for i in range(100):
        platform.send(b"junk %d" % i)
    platform.send(W.sign_command(KEY, "c1", int(now_s), "open_valve", {}))  # authentic, refused: answered
    wait_until(lambda: up.health()["commands_refused"] == 101, 10, what="every command refused")
    wait_until(lambda: any(b'"c1"' in p for p in platform.on("cmd/reply")), 10, what="the reply to c1")
    assert len(platform.on("cmd/reply")) == UNSIGNED_REPLIES_PER_S + 1
    assert up.health()["replies_dropped"] == 100 - UNSIGNED_REPLIES_PER_S


def test_without_a_key_commands_are_refused_and_events_still_flow(broker, tmp_path, store, platform,
                                                                  make_uplink):
    up = make_uplink(config(broker, tmp_path, hmac_key_file=str(tmp_path / "missing.key")))
    assert "cannot read the command key" in up.health()["command_key"]
    seqs = append(store, 3)
    wait_until(lambda: all_delivered(store, platform, seqs), 10, what="events without a key")
    platform.send(W.sign_command(KEY, "c1", int(time.time()), "close_valve", {}))
    refusals = wait_until(up.take_refusals, 10, what="the refusal")
    assert refusals[0][0] == "c1" and refusals[0][3] == "no_key" and "missing.key" in refusals[0][2]
    assert up.take_commands() == []


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_command_key_others_can_read_is_refused_with_how_to_fix_it(broker, tmp_path, store, mode):
    cfg = config(broker, tmp_path)
    os.chmod(cfg["hmac_key_file"], mode)
    up = Uplink(cfg, store, "bench", "unit-1")  # not started: the key is read when the uplink is made
    problem = up.health()["command_key"]
    assert "mode %04o" % mode in problem and "chmod 600 %s" % cfg["hmac_key_file"] in problem, problem
    assert "every remote command is refused" in problem


@pytest.mark.parametrize("mode", [0o640, 0o644])
def test_an_mqtt_password_file_others_can_read_stops_the_uplink_with_how_to_fix_it(broker, tmp_path, store, mode):
    password_file = tmp_path / "mqtt.password"
    password_file.write_text("secret\n")
    password_file.chmod(mode)
    cfg = dict(config(broker, tmp_path), username="bench/unit-1", password_file=str(password_file))
    with pytest.raises(UplinkError) as err:
        Uplink(cfg, store, "bench", "unit-1")
    assert "open to others" in str(err.value) and "mode %04o" % mode in str(err.value)
    assert "chmod 600 %s" % password_file in str(err.value)


def test_a_command_key_only_its_owner_can_read_is_loaded(broker, tmp_path, store):
    for mode in (0o600, 0o400):
        cfg = config(broker, tmp_path)
        os.chmod(cfg["hmac_key_file"], mode)
        assert Uplink(cfg, store, "bench", "unit-1").health()["command_key"] == "ok"
        os.chmod(cfg["hmac_key_file"], 0o600)


def test_backoff_is_full_jitter_capped():
    assert backoff_delay_s(0, 300, rand=lambda: 1.0) == 1.0
    assert backoff_delay_s(3, 300, rand=lambda: 1.0) == 8.0
    assert backoff_delay_s(50, 300, rand=lambda: 1.0) == 300
    assert backoff_delay_s(50, 300, rand=lambda: 0.0) == 0.0


@pytest.mark.parametrize("err, tls, words", [
    (socket.gaierror(-2, "Name or service not known"), False, ("cannot resolve", "uplink.host", "IPAddressAllow=")),
    (TimeoutError("timed out"), False, ("no answer from", "firewall")),
    (ConnectionRefusedError(111, "Connection refused"), False, ("connection refused", "uplink.port")),
    (PermissionError(1, "Operation not permitted"), False, ("IPAddressAllow=", "broker.example:8883")),
    (ConnectionResetError(104, "Connection reset by peer"), True, ("TLS handshake", "TLS port")),
    (ConnectionResetError(104, "Connection reset by peer"), False, ("cannot connect to broker.example:8883",)),
])
def test_a_failed_connection_is_explained_with_the_setting_to_check(err, tls, words):
    text = connect_problem(err, "broker.example", 8883, tls)

    assert all(word in text for word in words), text


class FlakyAckStore:
    """The real store, whose first ack() fails as a full SD card would make it."""

    def __init__(self, store: EventStore):
        self.store = store
        self.failed = 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def ack(self, up_to_seq: int, timeout_s: float = 10.0) -> int:
        if not self.failed:
            self.failed += 1
            raise StoreError(self.store.path, "cannot be written: disk I/O error", "free space on the SD card")
        return self.store.ack(up_to_seq, timeout_s)


def test_a_failed_mark_in_the_store_is_reported_and_retried(broker, tmp_path, store, platform):
    flaky = FlakyAckStore(store)
    up = Uplink(config(broker, tmp_path), flaky, SITE, UNIT)
    up.start()
    try:
        seqs = append(store, 10)
        wait_until(lambda: all_delivered(store, platform, seqs), 20, what="events delivered and marked after a retry")
        assert flaky.failed == 1 and "cannot mark events delivered in the store" in up.health()["last_error"]
        wait_until(lambda: up.health()["delivered_seq"] == seqs[-1], 5, what="health shows the marked seq")
    finally:
        up.close()


def test_the_backlog_in_health_grows_while_the_broker_is_away(broker, tmp_path, store, make_uplink):
    broker.stop()
    up = make_uplink(config(broker, tmp_path))
    seqs = append(store, 25)
    wait_until(lambda: up.health()["backlog"] == len(seqs), 10, what="the backlog counted while offline")
    assert not up.health()["connected"]


def test_the_connection_sends_without_nagle_delay(broker, tmp_path, store, platform, make_uplink):
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: up.health()["connected"], 10, what="connected")
    assert up._client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_without_the_platforms_ack_events_are_sent_again_and_the_journal_says_what_to_check(
        broker, tmp_path, store, make_uplink, monkeypatch):
    monkeypatch.setattr(DL, "ACK_STALL_S", 0.5)  # the production pause is 10 s: same path, shorter wait
    platform = Subscriber(broker, acking=False)
    try:
        seqs = append(store, 5)
        up = make_uplink(config(broker, tmp_path))
        wait_until(lambda: platform.seqs().count(seqs[0]) >= 2, 20, what="the events sent again without an ack")
        assert [r["seq"] for r in store.unacked(100)] == seqs  # the broker has them: not delivered
        reports = [text for _, text in up.take_reports()]
        assert any("no acknowledgement from the platform" in t and "uplink.username site1/unit1" in t
                   for t in reports), reports
        assert up.health()["resend_stalls"] >= 1 and up.health()["backlog"] == 5
        platform.acking = True  # the platform comes back: the next re-send is acknowledged
        wait_until(lambda: not store.unacked(100), 20, what="delivered once the platform acknowledges")
        # the health follows the store's mark a moment later (the acker notes it after the write)
        wait_until(lambda: up.health()["delivered_seq"] == up.health()["platform_ack_seq"] == seqs[-1], 10,
                   what="the health showing every event delivered and acknowledged")
    finally:
        platform.close()


def test_an_ack_the_store_cannot_have_earned_is_refused_and_a_malformed_one_changes_nothing(
        broker, tmp_path, store, platform, make_uplink):
    seqs = append(store, 3)
    platform.acking = False
    up = make_uplink(config(broker, tmp_path))
    wait_until(lambda: set(seqs) <= set(platform.seqs()), 10, what="the events published")
    for payload in (W.encode_ack(store.store_key, 99), b"\xff\x00junk", b'{"store":"ab","through":1}'):
        platform.client.publish(TOPICS["ack"], payload, qos=1)
    wait_until(lambda: up.health()["acks_refused"] == 3, 10, what="three acknowledgements refused")
    assert "has recorded only up to 3" in up.health()["last_error"] or "ack:" in up.health()["last_error"]
    assert [r["seq"] for r in store.unacked(100)] == seqs and up.health()["platform_ack_seq"] == 0
    platform.client.publish(TOPICS["ack"], W.encode_ack("0" * 16, 3), qos=1)  # another store's: ignored
    platform.ack(store.store_key, 1)
    wait_until(lambda: up.health()["delivered_seq"] == 1, 10, what="the genuine ack taken")
    assert [r["seq"] for r in store.unacked(100)] == seqs[1:]
