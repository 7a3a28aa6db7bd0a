"""What mosquitto's persistence costs and what it saves, with the deploy configuration: the figures behind
autosave_interval in deploy/mosquitto/gaslatch.conf (docs/benchmarks.md, "Broker persistence").

Against a mosquitto on loopback running deploy/mosquitto/gaslatch.conf (gaslatch_tools.testing.broker):
(a) save cost: a city's retained messages (--units x state, status and ack), then --queued QoS 1 events queued
    for the platform's persistent session while the platform is away. mosquitto saves in its one thread: a
    client pinging it throughout a save (SIGUSR1, the same save autosave makes) waits as long as the save
    lasts, so the longest ping is how long every client stalls at each autosave. Also the file's size, the
    broker's resident memory per queued event, and how long a restart takes to load the file.
(b) crash loss: events published at a steady --rate into the platform's queue, mosquitto SIGKILLed at a
    random moment one to two autosave intervals after it started, restarted on the same files; the platform
    reconnects and counts what survived (a marker published after the restart ends the count), for each
    autosave_interval in --intervals.

    .venv/bin/python benchmarks/broker_persistence.py [--units 20000] [--queued 0,10000,100000,200000]
                                                      [--intervals 5,60] [--kills 3] [--rate 200] [--json]

About 6 minutes with the defaults (the 60 s interval's kills take most of it). Prints a table, then one JSON
line (only the JSON document with --json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import threading
import time

import paho.mqtt.client as mqtt

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.testing.broker import Broker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_load import connect_packet, publish_packet  # noqa: E402  (the minimal MQTT 3.1.1 packets)

SITE = "city"
PLATFORM_ID = "gaslatch-platform-bench"
EVENTS = "gaslatch/+/+/event"
MARKER_TOPIC = W.topics(SITE, "marker")["event"]
WINDOW = 1000  # publishes in flight at once on the raw connection (packet ids 1..WINDOW)
TICK_S = 0.01  # the paced publisher's step
SAVES = 3  # saves timed per queue size
TIMEOUT_S = 120.0
WALL_TS = "2026-11-24T21:50:41.123Z"
STATE = {"latched": False, "trip_reason": "", "valve_fault": "",
         "outputs": {"valve": True, "fan": True, "sounder": False, "beacon": False, "fault_relay": True},
         "interlocks": {"fire_alarm": False, "emergency_stop": False, "ventilation": False},
         "inhibits": {}, "silenced_s": None, "schedule": "attended",
         "detectors": {"hood1": {"state": "normal", "centi_pct_lel": 120},
                       "hood2": {"state": "normal", "centi_pct_lel": 80}},
         "clock_synced": True, "config": {"identity": "ab" * 32, "version": 1}}


def event(unit: int, seq: int) -> tuple[bytes, bytes]:
    """(topic, payload) of a unit's ordinary detector event in the real wire format."""
    row = {"id": "%016x-%012d" % (unit, seq), "seq": seq, "t_ms": 100 * seq, "wall_ts": WALL_TS,
           "clock_synced": True, "type": E.DETECTOR, "severity": E.SEVERITY_INFO, "source": "hood1",
           "state": "normal", "value": 120, "reason": "hood1 back to normal"}
    return W.topics(SITE, "unit-%05d" % unit)["event"].encode(), W.encode_event(row)


class RawClient:
    """One MQTT 3.1.1 connection on a blocking socket: QoS 1 publishes in windows, and pings."""

    def __init__(self, port: int, client_id: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(client_id, 600))
        if self._read(4) != b"\x20\x02\x00\x00":
            raise SystemExit("broker_persistence: mosquitto refused the connection")

    def _read(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("mosquitto closed the connection")
            data += chunk
        return bytes(data)

    def publish(self, messages: list[tuple[bytes, bytes]], retain: bool = False) -> None:
        """Publishes (topic, payload) pairs with QoS 1 and returns once mosquitto acknowledged every one."""
        for start in range(0, len(messages), WINDOW):
            chunk = messages[start:start + WINDOW]
            packets = [publish_packet(topic, n + 1, payload) for n, (topic, payload) in enumerate(chunk)]
            if retain:
                packets = [b"\x33" + p[1:] for p in packets]
            self.sock.sendall(b"".join(packets))
            self._read(4 * len(chunk))  # one PUBACK (4 bytes) each

    def ping_s(self) -> float:
        started = time.perf_counter()
        self.sock.sendall(b"\xc0\x00")
        if self._read(2) != b"\xd0\x00":
            raise SystemExit("broker_persistence: not a PINGRESP")
        return time.perf_counter() - started

    def close(self) -> None:
        self.sock.close()


class Platform:
    """The platform's persistent session (clean session off, QoS 1): subscribed, then away, then back to count."""

    def __init__(self, port: int):
        self.port = port
        self.seqs: set[int] = set()
        self.marker = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=PLATFORM_ID, clean_session=False)
        self.client.on_message = self._on_message

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == MARKER_TOPIC:
            self.marker.set()
        else:
            self.seqs.add(json.loads(message.payload)["seq"])

    def subscribe_and_leave(self) -> None:
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        self.client.subscribe(EVENTS, qos=1)
        if not subscribed.wait(TIMEOUT_S):
            raise SystemExit("broker_persistence: the platform's subscription was not confirmed")
        self.client.disconnect()
        self.client.loop_stop()

    def come_back_and_count(self, publisher: RawClient) -> int:
        """Reconnects, then has a marker published behind whatever survived; returns the events received."""
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        if not connected.wait(TIMEOUT_S):
            raise SystemExit("broker_persistence: the platform did not reconnect")
        publisher.publish([(MARKER_TOPIC.encode(), b"{}")])
        if not self.marker.wait(TIMEOUT_S):
            raise SystemExit("broker_persistence: the marker never arrived")
        self.client.disconnect()
        self.client.loop_stop()
        return len(self.seqs)


def rss_bytes(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SystemExit("broker_persistence: no VmRSS for mosquitto")


def save_stall_s(broker: Broker, probe: RawClient) -> float:
    """Makes mosquitto save and pings it until the new file is in place; the longest ping is the stall."""
    path = os.path.join(broker.directory, "mosquitto.db")
    before = os.stat(path).st_ino if os.path.exists(path) else None
    broker.save(wait=False)  # the pings below wait, and measure the stall
    longest = 0.0
    deadline = time.monotonic() + TIMEOUT_S
    while not os.path.exists(path) or os.stat(path).st_ino == before:
        longest = max(longest, probe.ping_s())
        if time.monotonic() > deadline:
            raise SystemExit("broker_persistence: mosquitto did not write %s" % path)
    return max(longest, probe.ping_s())


def measure_save(units: int, queued: int) -> dict:
    broker = Broker().start()
    try:
        platform = Platform(broker.port)
        platform.subscribe_and_leave()
        publisher = RawClient(broker.port, "publisher")
        retained = []
        for unit in range(units):
            topics = W.topics(SITE, "unit-%05d" % unit)
            retained += [(topics["state"].encode(), W.encode_state(STATE)), (topics["status"].encode(), b"online"),
                         (topics["ack"].encode(), W.encode_ack("%016x" % unit, 1000))]
        publisher.publish(retained, retain=True)
        assert broker.proc is not None
        rss_before = rss_bytes(broker.proc.pid)
        publisher.publish([event(n % max(units, 1), n + 1) for n in range(queued)])
        rss_after = rss_bytes(broker.proc.pid)
        probe = RawClient(broker.port, "probe")
        idle_ping_s = min(probe.ping_s() for _ in range(20))
        stalls = sorted(save_stall_s(broker, probe) for _ in range(SAVES))
        size = os.path.getsize(os.path.join(broker.directory, "mosquitto.db"))
        probe.close()
        publisher.close()
        broker.stop()
        started = time.perf_counter()
        broker.start()
        load_s = time.perf_counter() - started
        delivered = platform.come_back_and_count(RawClient(broker.port, "marker"))
    finally:
        broker.close()
    return {"retained": 3 * units, "queued": queued, "delivered_after_restart": delivered,
            "stall_ms_median": 1000 * stalls[len(stalls) // 2], "stall_ms_max": 1000 * stalls[-1],
            "idle_ping_ms": 1000 * idle_ping_s, "file_mb": size / 1e6, "restart_s": load_s,
            "rss_bytes_per_queued": (rss_after - rss_before) / queued if queued else None}


def measure_crash(interval_s: int, rate: float, rng: random.Random) -> dict:
    broker = Broker(overrides={"autosave_interval": str(interval_s)}).start()
    started = time.monotonic()
    try:
        platform = Platform(broker.port)
        platform.subscribe_and_leave()
        broker.save()  # the platform's session is on disk from now on, as it is on a broker that has run a while
        publisher = RawClient(broker.port, "publisher")
        kill_at = started + interval_s * (1 + rng.random()) + 1  # autosave fires once now exceeds start + interval
        published = 0
        while time.monotonic() < kill_at:
            due = int(rate * (time.monotonic() - started))
            if due > published:
                publisher.publish([event(seq % 1000, seq) for seq in range(published + 1, due + 1)])
                published = due
            time.sleep(TICK_S)  # pacing the publisher
        broker.kill()
        publisher.close()
        broker.start()
        survived = platform.come_back_and_count(RawClient(broker.port, "marker"))
    finally:
        broker.close()
    return {"autosave_interval_s": interval_s, "killed_after_s": kill_at - started, "published": published,
            "survived": survived, "lost": published - survived, "lost_s": (published - survived) / rate}


def report(doc: dict) -> str:
    lines = ["save cost (%d retained messages)" % doc["save"][0]["retained"],
             "%9s %10s %10s %9s %9s %10s %12s %10s" % ("queued", "stall p50", "stall max", "idle ping", "file",
                                                      "restart", "RSS/queued", "delivered")]
    for r in doc["save"]:
        per = "-" if r["rss_bytes_per_queued"] is None else "%.0f B" % r["rss_bytes_per_queued"]
        lines.append("%9d %8.1f ms %8.1f ms %6.2f ms %6.1f MB %8.2f s %12s %10d" % (
            r["queued"], r["stall_ms_median"], r["stall_ms_max"], r["idle_ping_ms"], r["file_mb"], r["restart_s"],
            per, r["delivered_after_restart"]))
    lines += ["", "crash loss at %g events/s (SIGKILL, restart on the same files)" % doc["rate"],
              "%9s %10s %10s %9s %7s %8s" % ("autosave", "killed at", "published", "survived", "lost", "lost s")]
    for r in doc["crash"]:
        lines.append("%7d s %8.1f s %10d %9d %7d %6.1f s" % (
            r["autosave_interval_s"], r["killed_after_s"], r["published"], r["survived"], r["lost"], r["lost_s"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=20000, help="units whose state, status and ack are retained")
    parser.add_argument("--queued", default="0,10000,100000,200000", help="events queued for the absent platform")
    parser.add_argument("--intervals", default="5,60", help="autosave_interval values for the crash runs, in s")
    parser.add_argument("--kills", type=int, default=3, help="crash runs per interval")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s published during the crash runs")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    doc = {"units": args.units, "rate": args.rate,
           "save": [measure_save(args.units, int(q)) for q in args.queued.split(",")],
           "crash": [measure_crash(int(i), args.rate, rng) for i in args.intervals.split(",")
                     for _ in range(args.kills)]}
    if args.json:
        print(json.dumps(doc))
    else:
        print(report(doc))
        print(json.dumps(doc))


if __name__ == "__main__":
    main()
