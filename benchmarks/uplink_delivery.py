"""How fast the uplink delivers, and whether it ever disturbs the scan: the uplink figures in docs/benchmarks.md.

Against a mosquitto the script starts on loopback with the deploy configuration (gaslatch_tools.testing.broker),
with the platform's receiver (`gaslatch platform`, SQLite, its own process) subscribed throughout, in one run:
(a) latency online: events appended one at a time to a real EventStore, the Uplink worker running; from
    append() to the publish, to the broker's PUBACK, and to the platform's acknowledgement (stored);
(b) backlog drain: 100,000 stored events drained by the Uplink until the platform has acknowledged them all,
    beside a bare paho-mqtt QoS 1 publish loop of the same payloads (encoded beforehand, untimed) with the same
    in-flight window until the broker's last PUBACK, in alternating rounds; the ratio of the median rates
    (target >= 0.9); and the same bare loop until the platform has stored its events too (the receiver's
    acknowledgement of them): the ratio to that is the cost of the acknowledgement protocol itself;
(c) scan-loop start jitter of a 10 ms ScanLoop doing full kitchen scans (KitchenSim, 8 detectors) that hands
    events, state and telemetry to the real Uplink thread, with the broker up, down and flapping; the longest
    garbage-collection pause of each phase is shown, since any thread's collection stalls the scan too.

    .venv/bin/python benchmarks/uplink_delivery.py [--quick] [--events 100000] [--repeats 3] [--seconds 20]
                                                   [--realtime] [--json]

Default about 2 minutes; --quick is a 20 s smoke run (10,000 events, one round, 4 s phases). Loopback only.
Prints a table, then one JSON line (only the JSON document with --json).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch.core.scan_loop import RealClock, ScanLoop
from gaslatch.unit import uplink as U
from gaslatch.unit.event_store import EventStore
from gaslatch.unit.realtime import enter_realtime
from gaslatch_tools.testing.broker import Broker, BrokerError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_jitter  # noqa: E402  (the jitter benchmark's kitchen loader and real-time set-up)
from report_output import finish  # noqa: E402  (benchmarks/, beside this script)

SITE, UNIT = "bench", "unit-1"
LATENCY_INTERVAL_S = 0.02  # one event every 20 ms: each is delivered alone, nothing batches
JITTER_PERIOD_MS = 10
STATE_EVERY_SCANS = 10  # as the runtime (UPLINK_STATE_SCANS)
EVENT_EVERY_SCANS = 5  # a synthetic event every 50 ms on top of the kitchen's own: the uplink always has work
FLAP_DOWN_S = 2.0  # flapping: the broker is stopped for 2 s, started for 3 s, and so on (the uplink's
FLAP_UP_S = 3.0  # back-off, capped at 5 s here, catches some of the up times and drains the backlog in them)
APPEND_CHUNK = 1000
BARE_QUEUED_MAX = 20000  # the bare loop's lead over its PUBACKs (paho's message ids wrap at 65535)


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(percent / 100 * len(ordered) + 0.5)) - 1))]


class Receiver:
    """The platform's receiver as it runs in production: `gaslatch platform` in its own process, SQLite on disk."""

    def __init__(self, directory: str, port: int):
        self.argv = [sys.executable, "-m", "gaslatch_tools.cli", "platform", "--broker", "127.0.0.1:%d" % port,
                     "--db", os.path.join(directory, "platform.db"), "--client-id", "bench-platform"]
        self.log = os.path.join(directory, "receiver.log")
        self.port = port
        self.proc = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        probe = EventStore(os.path.join(os.path.dirname(self.log), "probe.db"), unit="probe")
        try:  # ready when it acknowledges an event
            probe.append([record(probe.next_seq())])
            up = U.Uplink(uplink_config(self.port), probe, SITE, "probe")
            up.start()
            try:
                wait_for(lambda: up.health()["platform_ack_seq"] >= probe.recorded_seq() > 0, 30,
                         "the receiver acknowledging (see %s)" % self.log)
            finally:
                up.close()
        finally:
            probe.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


class LatencyUplink(U.Uplink):
    """The real Uplink, noting per seq when it is published, PUBACKed and acknowledged by the platform."""

    def __init__(self, *args, **kwargs):
        U.Uplink.__init__(self, *args, **kwargs)
        self.sent_at: dict[int, float] = {}
        self.puback_at: dict[int, float] = {}
        self.stored_at: dict[int, float] = {}
        self._sent_before = self._delivery.sent
        self._delivery.sent = self._sent

    def _sent(self, mid: int, seq: int) -> None:
        self.sent_at.setdefault(seq, time.perf_counter())
        self._sent_before(mid, seq)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        seq = self._delivery._mid_seq.get(mid)
        if seq is not None:
            self.puback_at.setdefault(seq, time.perf_counter())
        U.Uplink._on_publish(self, client, userdata, mid, reason_code, properties)

    def _on_ack(self, payload: bytes) -> None:
        before = self._delivery.acked
        U.Uplink._on_ack(self, payload)
        now = time.perf_counter()
        for seq in range(before + 1, self._delivery.acked + 1):
            self.stored_at.setdefault(seq, now)


class DrainUplink(U.Uplink):
    """The real Uplink, noting its first publish and when the platform's acknowledgement reached `count`."""

    def __init__(self, count: int, *args, **kwargs):
        U.Uplink.__init__(self, *args, **kwargs)
        self.count = count
        self.first_sent = None
        self.all_stored = None

    def _publish_events(self, mono: float) -> None:
        if self.first_sent is None:
            self.first_sent = time.perf_counter()
        U.Uplink._publish_events(self, mono)

    def _on_ack(self, payload: bytes) -> None:
        U.Uplink._on_ack(self, payload)
        if self.all_stored is None and self._delivery.acked >= self.count:
            self.all_stored = time.perf_counter()


def uplink_config(port: int) -> dict:
    return {"enabled": True, "host": "127.0.0.1", "port": port, "tls": False, "hmac_key_file": "",
            "keepalive_s": 10, "telemetry_s": 5, "state_s": 60, "backoff_max_s": 5}


def record(seq: int, alarm: bool = False) -> dict:
    """A core-shaped event: mostly output changes, with detector alarms among them as a trip gives."""
    if alarm:
        return {"seq": seq, "t_ms": seq * 100, "type": E.DETECTOR, "severity": E.SEVERITY_ALARM, "source": "d1",
                "state": "high_alarm", "value": 2550, "reason": "reading 25.50 %LEL >= high set point 25.00 %LEL"}
    return {"seq": seq, "t_ms": seq * 100, "type": E.OUTPUT, "severity": E.SEVERITY_INFO, "source": "fan",
            "state": "on", "value": None, "reason": "trip: extract fan on"}


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit("uplink_delivery: timed out after %g s waiting for %s" % (timeout_s, what))
        time.sleep(0.005)


# ---- (a) latency ----

def measure_latency(directory: str, broker: Broker, count: int) -> dict:
    store = EventStore(os.path.join(directory, "latency.db"), unit=UNIT + "-latency")
    up = LatencyUplink(uplink_config(broker.port), store, SITE, UNIT + "-latency")
    up.start()
    try:
        wait_for(lambda: up.health()["connected"], 10, "the uplink connected")
        appended_at = {}
        first = store.next_seq()
        started = time.perf_counter()
        for i in range(count):
            seq = first + i
            appended_at[seq] = time.perf_counter()
            store.append([record(seq)])
            pause = started + (i + 1) * LATENCY_INTERVAL_S - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        wait_for(lambda: all(s in up.stored_at for s in appended_at), 30, "every event acknowledged by the platform")
        to_stored = [(up.stored_at[s] - appended_at[s]) * 1000 for s in appended_at]
        to_puback = [(up.puback_at[s] - appended_at[s]) * 1000 for s in appended_at if s in up.puback_at]
        to_publish = [(up.sent_at[s] - appended_at[s]) * 1000 for s in appended_at]
        publish_to_puback = [(up.puback_at[s] - up.sent_at[s]) * 1000 for s in appended_at if s in up.puback_at]
    finally:
        up.close()
        store.close()
    return {"events": count, "interval_ms": LATENCY_INTERVAL_S * 1000,
            "append_to_platform_ack_ms": summary(to_stored), "append_to_puback_ms": summary(to_puback),
            "append_to_publish_ms": summary(to_publish), "publish_to_puback_ms": summary(publish_to_puback)}


def summary(values_ms: list[float]) -> dict:
    return {"p50": round(percentile(values_ms, 50), 2), "p99": round(percentile(values_ms, 99), 2),
            "max": round(max(values_ms), 2)}


# ---- (b) backlog drain ----

def fill_store(path: str, count: int) -> tuple[EventStore, float]:
    """A store holding count undelivered events (one alarm in five); returns it and the events/s recorded."""
    store = EventStore(path, max(count, 1), unit=UNIT)
    started = time.perf_counter()
    for first in range(1, count + 1, APPEND_CHUNK):
        last = min(count, first + APPEND_CHUNK - 1)
        store.append([record(seq, alarm=seq % 5 == 0) for seq in range(first, last + 1)])
        if last - store.recorded_seq() > 10 * APPEND_CHUNK:  # stay well under the store's pending bound
            wait_for(lambda: last - store.recorded_seq() <= 5 * APPEND_CHUNK, 120, "the store to catch up")
    wait_for(lambda: store.recorded_seq() >= count, 300, "all events recorded")
    health = store.health()
    if health["lost"] or health["rejected"]:
        sys.exit("uplink_delivery: the store lost events while filling: %r" % health)
    return store, count / (time.perf_counter() - started)


def drain_uplink(store: EventStore, broker: Broker, count: int, unit: str) -> dict:
    """The Uplink drains the store: from its first publish to the platform's acknowledgement of the last event."""
    up = DrainUplink(count, uplink_config(broker.port), store, SITE, unit)
    up.start()
    try:
        wait_for(lambda: up.all_stored is not None, 300, "the platform acknowledged the whole backlog")
        seconds = up.all_stored - up.first_sent
        wait_for(lambda: up.health()["delivered_seq"] >= count, 30, "the store marked every event delivered")
        marked_s = time.perf_counter() - up.first_sent
        health = up.health()
    finally:
        up.close()
    return {"events": count, "seconds": round(seconds, 3), "events_per_s": round(count / seconds),
            "all_marked_in_store_s": round(marked_s, 3), "resend_stalls": health["resend_stalls"]}


def drain_bare(payloads: list[bytes], broker: Broker, inflight: int, unit: str) -> dict:
    """paho-mqtt alone: every payload published with QoS 1 as fast as its network thread takes them.

    paho queues what is beyond its in-flight window; at most BARE_QUEUED_MAX are handed to it ahead of their
    PUBACK, since its message ids wrap at 65535 and a larger queue would reuse ids still waiting. The callback
    only counts (a lock or a notify per PUBACK would slow the bare loop by a third)."""
    acked = [0, 0.0]
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="bare-paho",
                         clean_session=False, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(inflight)

    def on_publish(client, userdata, mid, reason_code, properties):
        acked[0] += 1
        acked[1] = time.perf_counter()

    client.on_publish = on_publish
    stored = [0, 0.0]  # the platform's ack of the bare events, watched by a client of its own

    def on_ack(client, userdata, message):
        stored[0], stored[1] = W.parse_ack(message.payload)[1], time.perf_counter()

    watcher = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="bare-watcher")
    watcher.on_message = on_ack
    watcher.connect("127.0.0.1", broker.port, keepalive=10)
    watcher.subscribe(W.topics(SITE, unit)["ack"], qos=1)
    watcher.loop_start()
    client.connect("127.0.0.1", broker.port, keepalive=10)
    client.loop_start()
    try:
        wait_for(client.is_connected, 10, "the bare client connected")
        topic = W.topics(SITE, unit)["event"]  # the receiver stores these too: the broker's work is the same
        started = time.perf_counter()
        for index, payload in enumerate(payloads):
            if index - acked[0] >= BARE_QUEUED_MAX:  # then wait until half of them are acknowledged
                wait_for(lambda: index - acked[0] < BARE_QUEUED_MAX // 2, 60, "PUBACKs to the bare loop")
            client.publish(topic, payload, qos=1)
        wait_for(lambda: acked[0] == len(payloads), 120, "every PUBACK to the bare loop")
        seconds = acked[1] - started
        wait_for(lambda: stored[0] >= len(payloads), 300, "the platform storing the bare loop's events")
        stored_seconds = stored[1] - started
    finally:
        client.disconnect()
        client.loop_stop()
        watcher.disconnect()
        watcher.loop_stop()
    return {"events": len(payloads), "seconds": round(seconds, 3), "events_per_s": round(len(payloads) / seconds),
            "inflight": inflight, "stored_seconds": round(stored_seconds, 3),
            "stored_events_per_s": round(len(payloads) / stored_seconds)}


def measure_drain(directory: str, broker: Broker, count: int, repeats: int) -> dict:
    """repeats rounds, each a fresh store of count events drained by the Uplink and by the bare loop (the order
    alternates between rounds, so a machine getting busier or quieter favours neither); medians compared."""
    rounds = []
    for index in range(repeats):
        store, fill_rate = fill_store(os.path.join(directory, "backlog-%d.db" % index), count)
        try:
            payloads = [W.encode_event(row) for row in store.unacked(count)]
            uplink_unit, bare_unit = "%s-drain-%d" % (UNIT, index), "%s-bare-%d" % (UNIT, index)
            if index % 2:
                uplink = drain_uplink(store, broker, count, uplink_unit)
                bare = drain_bare(payloads, broker, U.MAX_INFLIGHT_EVENTS, bare_unit)
            else:
                bare = drain_bare(payloads, broker, U.MAX_INFLIGHT_EVENTS, bare_unit)
                uplink = drain_uplink(store, broker, count, uplink_unit)
        finally:
            store.close()
        os.remove(os.path.join(directory, "backlog-%d.db" % index))
        rounds.append({"fill_events_per_s": round(fill_rate), "uplink": uplink, "bare_paho": bare,
                       "ratio": round(uplink["events_per_s"] / bare["events_per_s"], 3),
                       "ratio_to_stored": round(uplink["events_per_s"] / bare["stored_events_per_s"], 3)})
    uplink_rate = median([r["uplink"]["events_per_s"] for r in rounds])
    bare_rate = median([r["bare_paho"]["events_per_s"] for r in rounds])
    bare_stored_rate = median([r["bare_paho"]["stored_events_per_s"] for r in rounds])
    return {"events": count, "repeats": repeats, "inflight": U.MAX_INFLIGHT_EVENTS,
            "uplink_events_per_s": uplink_rate, "bare_events_per_s": bare_rate,
            "bare_stored_events_per_s": bare_stored_rate, "ratio": round(uplink_rate / bare_rate, 3),
            "ratio_to_stored": round(uplink_rate / bare_stored_rate, 3), "rounds": rounds}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# ---- (c) scan jitter ----

class UplinkKitchen:
    """A kitchen scan that does what the runtime does for the uplink: events to the store, state and readings
    to the Uplink every STATE_EVERY_SCANS scans, reports taken."""

    def __init__(self, kitchen_sim_class, store: EventStore, up: U.Uplink):
        self.kitchen = kitchen_sim_class(n_detectors=scan_jitter.N_DETECTORS, period_ms=JITTER_PERIOD_MS)
        self.store = store
        self.up = up
        self.scans = 0
        self.next_seq = store.next_seq()

    def scan(self, now_ms: int) -> None:
        self.kitchen.scan(now_ms)
        events = []
        for event in self.kitchen.events:  # the kitchen numbers from 1: renumber into the store's sequence
            events.append(dict(event, seq=self.next_seq))
            self.next_seq += 1
        self.kitchen.events = []
        self.scans += 1
        if self.scans % EVENT_EVERY_SCANS == 0:
            events.append(dict(record(self.next_seq), t_ms=now_ms))
            self.next_seq += 1
        self.store.append(events)
        if self.scans % STATE_EVERY_SCANS == 0:
            self.up.publish_state(self.snapshot())
            self.up.publish_telemetry(self.readings(now_ms))
            self.up.take_reports()

    def snapshot(self) -> dict:
        status = self.kitchen.controller.status(self.kitchen.now_ms)
        return {"latched": status["latched"], "trip_reason": status["trip_reason"],
                "valve_fault": status["valve_fault"],
                "outputs": dict((k, bool(v)) for k, v in self.kitchen.outputs.items()),
                "interlocks": status["interlocks"], "inhibits": status["inhibits"],
                "silenced_s": status["silenced_s"], "schedule": status["schedule"],
                "detectors": dict((name, {"state": d["state"], "centi_pct_lel": d["concentration_centi_pct_lel"]})
                                  for name, d in status["detectors"].items()),
                "clock_synced": True,
                "config": {"identity": status["config"]["identity"], "version": status["config"]["version"]}}

    def readings(self, now_ms: int) -> dict:
        return {"ts": "2026-11-24T21:50:41.123Z", "t_ms": now_ms, "clock_synced": True,
                "centi_pct_lel": dict((name, d.concentration_centi_pct_lel)
                                      for name, d in self.kitchen.controller.detectors.items())}


class GcPauses:
    """The longest garbage-collection pause while active (any thread: it holds the GIL, so the scan waits)."""

    def __init__(self):
        self.max_ms = 0.0
        self.count = 0
        self._started = 0.0

    def __enter__(self) -> "GcPauses":
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.max_ms = max(self.max_ms, (time.perf_counter() - self._started) * 1000)


def flapper(broker: Broker, stop: threading.Event) -> None:
    while not stop.is_set():
        broker.stop()
        if stop.wait(FLAP_DOWN_S):
            break
        broker.start()
        stop.wait(FLAP_UP_S)
    if broker.proc is None or broker.proc.poll() is not None:
        broker.start()


def measure_jitter(directory: str, broker: Broker, seconds: float, realtime: bool) -> tuple[list[dict], str]:
    kitchen_sim_class = scan_jitter.load_kitchen_sim()
    gc.collect()  # the drain's 100,000-row lists are garbage now: not the scan's to pay for
    store = EventStore(os.path.join(directory, "jitter.db"), unit=UNIT)
    up = U.Uplink(uplink_config(broker.port), store, SITE, UNIT)
    up.start()  # before real time, as in the runtime: the uplink thread keeps normal scheduling
    mode = enter_realtime() if realtime else "SCHED_OTHER"
    results = []
    try:
        wait_for(lambda: up.health()["connected"], 10, "the uplink connected")
        for phase in ("up", "down", "flapping"):
            stop = threading.Event()
            flap = None
            if phase == "down":
                broker.stop()
            elif phase == "flapping":
                flap = threading.Thread(target=flapper, args=(broker, stop), daemon=True)
                flap.start()
            kitchen = UplinkKitchen(kitchen_sim_class, store, up)
            loop = ScanLoop(JITTER_PERIOD_MS, RealClock(), kitchen.scan)
            before = up.health()
            with GcPauses() as pauses:
                loop.run(max_scans=max(1, int(seconds * 1000 // JITTER_PERIOD_MS)))
            after = up.health()
            if flap is not None:
                stop.set()
                flap.join(30)
            if phase == "down":
                broker.start()
            results.append({"phase": phase, "stats": loop.stats.as_dict(),
                            "delivered": after["delivered_seq"] - before["delivered_seq"],
                            "backlog_after": after["backlog"],
                            "connects": after["connects"] - before["connects"],
                            "gc_collections": pauses.count, "gc_max_ms": round(pauses.max_ms, 2)})
    finally:
        up.close()
        store.close()
    return results, mode


# ---- report ----

def print_table(doc: dict) -> None:
    lat = doc["latency"]
    print("(a) latency online, %d events, one every %g ms (ms)" % (lat["events"], lat["interval_ms"]))
    print("    %-28s %8s %8s %8s" % ("", "p50", "p99", "max"))
    for key, label in (("append_to_platform_ack_ms", "append -> platform's ack"),
                       ("append_to_puback_ms", "  append -> broker's PUBACK"), ("append_to_publish_ms", "  append -> publish"),
                       ("publish_to_puback_ms", "  publish -> PUBACK")):
        print("    %-28s %8.2f %8.2f %8.2f" % (label, lat[key]["p50"], lat[key]["p99"], lat[key]["max"]))
    drain = doc["drain"]
    print("(b) backlog drain, %d stored events, rounds: %d, in-flight window %d (events/s)" % (
        drain["events"], drain["repeats"], drain["inflight"]))
    print("    %-6s %14s %14s %7s %16s %7s %16s %12s" % (
        "round", "Uplink (acked)", "bare paho", "ratio", "bare, stored", "ratio", "all marked (s)", "store fill"))
    for index, r in enumerate(drain["rounds"]):
        print("    %-6d %14d %14d %7.2f %16d %7.2f %16.2f %12d" % (
            index + 1, r["uplink"]["events_per_s"], r["bare_paho"]["events_per_s"], r["ratio"],
            r["bare_paho"]["stored_events_per_s"], r["ratio_to_stored"], r["uplink"]["all_marked_in_store_s"],
            r["fill_events_per_s"]))
    print("    %-6s %14d %14d %7.2f %16d %7.2f   (target >= 0.9 of the bare loop)" % (
        "median", drain["uplink_events_per_s"], drain["bare_events_per_s"], drain["ratio"],
        drain["bare_stored_events_per_s"], drain["ratio_to_stored"]))
    print("(c) scan start jitter, %d ms period, %d detectors, %s (us)" % (JITTER_PERIOD_MS, scan_jitter.N_DETECTORS,
                                                                          doc["scheduling"]))
    print("    %-9s %6s %8s %7s %7s %7s %9s %9s %8s %8s %11s" % (
        "broker", "scans", "overruns", "p50", "p99", "max", "exec p99", "delivered", "backlog", "connects",
        "gc max ms"))
    for result in doc["jitter"]:
        stats = result["stats"]
        jit = stats["start_jitter"]
        print("    %-9s %6d %8d %7s %7s %7s %9s %9d %8d %8d %11.2f" % (
            result["phase"], stats["scans"], stats["overruns"], jit["p50_us"], jit["p99_us"], jit["max_us"],
            stats["execution"]["p99_us"], result["delivered"], result["backlog_after"], result["connects"],
            result["gc_max_ms"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 20 s smoke run: 10,000 events, 4 s phases")
    parser.add_argument("--events", type=int, help="stored events to drain (default 100000; --quick 10000)")
    parser.add_argument("--latency-events", type=int, help="events for the latency (default 500; --quick 100)")
    parser.add_argument("--repeats", type=int, help="drain rounds (default 3; --quick 1)")
    parser.add_argument("--seconds", type=float, help="length of each jitter phase (default 20; --quick 4)")
    parser.add_argument("--realtime", action="store_true", help="scan under SCHED_FIFO with gc.freeze(), as on the unit")
    parser.add_argument("--json", action="store_true", help="print only the JSON document")
    args = parser.parse_args()
    events = args.events or (10000 if args.quick else 100000)
    latency_events = args.latency_events or (100 if args.quick else 500)
    seconds = args.seconds or (4.0 if args.quick else 20.0)
    repeats = args.repeats or (1 if args.quick else 3)

    directory = tempfile.mkdtemp(prefix="gaslatch-uplink-bench-")
    try:
        broker = Broker()
    except BrokerError as err:
        sys.exit("uplink_delivery: %s" % err)
    broker.start()
    receiver = Receiver(directory, broker.port)
    try:
        receiver.start()
        started = time.perf_counter()
        doc = {"latency": measure_latency(directory, broker, latency_events),
               "drain": measure_drain(directory, broker, events, repeats)}
        doc["jitter"], doc["scheduling"] = measure_jitter(directory, broker, seconds, args.realtime)
        doc["run_s"] = round(time.perf_counter() - started, 1)
        doc["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    finally:
        receiver.stop()
        broker.close()
        shutil.rmtree(directory, ignore_errors=True)
    finish(doc, args.json, print_table)


if __name__ == "__main__":
    main()
