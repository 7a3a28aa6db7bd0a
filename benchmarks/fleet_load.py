"""Fleet load: simulated units publish events to a local mosquitto, one or two platform receivers store them
in SQLite or PostgreSQL; sustained events/s stored and publish-to-stored latency, for docs/benchmarks.md.

    .venv/bin/python benchmarks/fleet_load.py [--units 1000] [--rate 0.5] [--seconds 8] [--burst 5]
                                              [--storages sqlite,postgres] [--receivers 1,2] [--json]

Everything runs on this machine over loopback: a mosquitto started here on a free 127.0.0.1 port with the deploy
configuration (gaslatch_tools.testing.broker, anonymous clients), and for PostgreSQL a throwaway server
(gaslatch_tools.testing.postgres, fsync on) in a temporary directory.

Units are lightweight publishers, not controllers: each has its own MQTT connection, client id and topic
(gaslatch/<site>/<unit>/event), all multiplexed on one asyncio loop in this process with a minimal
MQTT 3.1.1 QoS 1 client; the payloads are the real wire format (uplink_wire.encode_event). Receivers are
PlatformReceiver processes (the code behind `gaslatch platform`); two receivers share one MQTT 5 group.

Per configuration (storage x receivers), after the units connect and the receivers subscribe:
  paced   every unit publishes --rate events/s, staggered, for --seconds. Latency is from the moment the
          unit writes the PUBLISH to the moment the receiver's insert has committed (one monotonic clock).
          `stored/s` is what was stored during the phase over its length: it equals the offered rate
          when the receivers keep up.
  burst   every unit publishes --burst events at once; `capacity` is the stored rate while the receivers
          drain that backlog (first to last commit), i.e. the sustained maximum.
Every event must be stored exactly once: `lost` counts events never stored, `dup` redundant copies seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.testing import broker as kit_broker

SITE = "load-city"
GROUP = "fleet-load"
CONNECT_BATCH = 100  # units connecting at once
DRAIN_LIMIT_S = 60.0  # after publishing, every event must be stored within this
POLL_S = 0.05
START_TIMEOUT_S = 30.0
WALL_TS = "2026-11-24T21:50:41.123Z"


# --- a minimal MQTT 3.1.1 publisher (CONNECT, PUBLISH QoS 1, PUBACK) ---

def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str, keepalive_s: int) -> bytes:
    body = _string("MQTT") + bytes((4, 0x02)) + struct.pack("!H", keepalive_s) + _string(client_id)
    return b"\x10" + _remaining_length(len(body)) + body


def publish_packet(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", packet_id) + payload
    return b"\x32" + _remaining_length(len(body)) + body


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first >> 4, await reader.readexactly(length)


class SimUnit:
    """One unit: its own connection, client id, topic and event numbering; publishes QoS 1."""

    def __init__(self, index: int, published: dict, rng: random.Random):
        self.name = "unit-%04d" % index
        self.client_id = "gaslatch-%s-%s" % (SITE, self.name)
        self.topic = W.topics(SITE, self.name)["event"].encode()
        self.store_key = "%016x" % rng.getrandbits(64)
        self.seq = 0
        self.acks = 0
        self._published = published
        self._packet_id = 0
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None

    async def connect(self, host: str, port: int) -> None:
        reader, self._writer = await asyncio.open_connection(host, port)
        self._writer.write(connect_packet(self.client_id, 0))
        kind, body = await read_packet(reader)
        if kind != 2 or body[1] != 0:
            raise ConnectionError("%s: the broker refused the connection (%r)" % (self.client_id, body))
        self._reader_task = asyncio.create_task(self._read_acks(reader))

    async def _read_acks(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, _ = await read_packet(reader)
                if kind == 4:  # PUBACK
                    self.acks += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    def publish_next(self) -> None:
        """Writes the next event; its id and publish time go into `published`."""
        self.seq += 1
        self._packet_id = self._packet_id % 65535 + 1
        alarm = self.seq % 10 == 0
        row = {"id": "%s-%012d" % (self.store_key, self.seq), "seq": self.seq, "t_ms": 100 * self.seq,
               "wall_ts": WALL_TS, "clock_synced": True, "type": E.DETECTOR,
               "severity": E.SEVERITY_ALARM if alarm else E.SEVERITY_INFO, "source": "d1",
               "state": "high_alarm" if alarm else "normal", "value": 2550 if alarm else 120,
               "reason": "gas: d1 high alarm" if alarm else "d1 back to normal"}
        packet = publish_packet(self.topic, self._packet_id, W.encode_event(row))
        self._published[(self.name, row["id"])] = time.monotonic()
        self._writer.write(packet)

    async def close(self) -> None:
        self._writer.write(b"\xe0\x00")  # DISCONNECT
        self._writer.close()
        await asyncio.gather(self._writer.wait_closed(), return_exceptions=True)
        self._reader_task.cancel()


# --- the local broker ---

def mosquitto_binary() -> str:
    try:
        return kit_broker.mosquitto_binary()
    except kit_broker.BrokerError as err:
        raise SystemExit(str(err)) from None


def mosquitto_version() -> str:
    done = subprocess.run([mosquitto_binary(), "-h"], capture_output=True, text=True, timeout=10)
    return (done.stdout.splitlines() or ["mosquitto (version unknown)"])[0].strip()


# --- receivers: child processes of this script ---

def receiver_child(db: str, port: int, client_id: str, group: str, rules: str = "") -> None:
    """Runs one PlatformReceiver (with the warning hook of the `rules` file, if any) until a line arrives on stdin;
    prints its commit times as JSON."""
    from gaslatch_tools.platform import rules as R
    from gaslatch_tools.platform import warning_store as WS
    from gaslatch_tools.platform.receiver import PlatformReceiver, open_storage

    logging.basicConfig(level=logging.ERROR)
    storage = open_storage(db)
    if rules:
        WS.prepare(storage)
        storage.add_store_hook(WS.WarningHook(R.load(rules)))
    stamps = []
    store = storage.store

    def stamped_store(batch, now):
        result = store(batch, now)
        committed = time.monotonic()
        for (event, _), stored in zip(batch.events, result.stored):
            if stored:
                stamps.append((event.unit, event.id, committed))
        return result

    storage.store = stamped_store
    receiver = PlatformReceiver(storage, "127.0.0.1", port, client_id=client_id, shared_group=group or None)
    receiver.start(START_TIMEOUT_S)
    print("ready", flush=True)
    sys.stdin.readline()
    receiver.stop()
    storage.close()
    print(json.dumps({"stamps": stamps, "counts": receiver.counts, "cpu_s": time.process_time()}), flush=True)


class Receiver:
    def __init__(self, db: str, port: int, client_id: str, group: str, rules: str = ""):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--receiver-child", db, str(port),
                                      client_id, group, rules], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise SystemExit("receiver %s did not start" % client_id)

    def finish(self) -> dict:
        out, _ = self.proc.communicate("stop\n", timeout=60)
        return json.loads(out)


class StoredCount:
    """How many events the database holds (polled while the receivers work)."""

    def __init__(self, db: str):
        if db.startswith("postgresql://"):
            import psycopg

            self._conn = psycopg.connect(db, autocommit=True)
        else:
            self._conn = sqlite3.connect(db, isolation_level=None)

    def __call__(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def close(self) -> None:
        self._conn.close()


# --- one configuration ---

async def connect_units(units: list[SimUnit], port: int) -> None:
    for i in range(0, len(units), CONNECT_BATCH):
        await asyncio.gather(*(u.connect("127.0.0.1", port) for u in units[i:i + CONNECT_BATCH]))


async def wait_stored(count: StoredCount, expected: int, limit_s: float) -> int:
    deadline = time.monotonic() + limit_s
    while True:
        stored = count()
        if stored >= expected or time.monotonic() > deadline:
            return stored
        await asyncio.sleep(POLL_S)


async def paced(units: list[SimUnit], rate_per_unit: float, seconds: float) -> tuple[float, float]:
    """Every unit publishes rate_per_unit events/s, units staggered evenly; returns (start, end)."""
    period_s = 1.0 / rate_per_unit
    per_unit = max(1, int(seconds * rate_per_unit))
    schedule = sorted((k * period_s + i * period_s / len(units), i) for k in range(per_unit)
                      for i in range(len(units)))
    start = time.monotonic()
    for due, i in schedule:
        delay = start + due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        units[i].publish_next()
    return start, time.monotonic()


async def run_config(kind: str, receivers: int, args, pg, work_dir: str, number: int) -> dict:
    broker = kit_broker.Broker().start()
    try:
        db = (pg.create_database("fleet_%d" % number) if kind == "postgres"
              else os.path.join(work_dir, "fleet-%d.sqlite" % number))
        procs = [Receiver(db, broker.port, "platform-%d-%d" % (number, n), GROUP if receivers > 1 else "")
                 for n in range(receivers)]
    except BaseException:  # a receiver that did not start (SystemExit) must not leave the broker running
        broker.close()
        raise
    published: dict = {}
    units = [SimUnit(i, published, random.Random(i)) for i in range(args.units)]
    count = StoredCount(db)
    try:
        await connect_units(units, broker.port)
        start, end = await paced(units, args.rate, args.seconds)
        paced_total = len(published)
        paced_stored = count()
        stored_after_paced = await wait_stored(count, paced_total, DRAIN_LIMIT_S)
        burst_start = time.monotonic()
        for _ in range(args.burst):
            for u in units:
                u.publish_next()
        stored_total = await wait_stored(count, len(published), DRAIN_LIMIT_S)
        acks = sum(u.acks for u in units)
        await asyncio.gather(*(u.close() for u in units))
    finally:
        results = [p.finish() for p in procs]
        count.close()
        broker.close()
    stamps = {}
    for r in results:
        for unit, id_, t in r["stamps"]:
            stamps[(unit, id_)] = t
    latencies_ms = sorted((stamps[key] - published[key]) * 1000 for key in list(published)[:paced_total]
                          if key in stamps)
    burst_commits = sorted(t for key, t in stamps.items() if published[key] >= burst_start)
    capacity = ((len(burst_commits) - 1) / (burst_commits[-1] - burst_commits[0])
                if len(burst_commits) > 1 and burst_commits[-1] > burst_commits[0] else 0.0)
    stored_counts = [r["counts"].get("stored", 0) for r in results]
    return {
        "storage": kind, "receivers": receivers, "units": args.units, "connections": len(units),
        "offered_per_s": round(paced_total / (end - start), 1),
        "stored_per_s": round(paced_stored / (end - start), 1),
        "latency_p50_ms": round(_percentile(latencies_ms, 50), 2),
        "latency_p99_ms": round(_percentile(latencies_ms, 99), 2),
        "latency_max_ms": round(latencies_ms[-1], 2) if latencies_ms else None,
        "capacity_per_s": round(capacity, 1),
        "published": len(published), "pubacks": acks, "stored": stored_total,
        "lost": len(published) - len(stamps), "extra_rows": stored_total - len(stamps),
        "duplicates_seen": sum(r["counts"].get("duplicate", 0) for r in results),
        "share_per_receiver": stored_counts,
        "receiver_cpu_ms_per_event": round(1000 * sum(r["cpu_s"] for r in results) / max(1, len(stamps)), 3),
        "stored_within_drain_limit": stored_after_paced >= paced_total and stored_total >= len(published),
    }


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * pct / 100))]


# --- the run ---

async def run(args) -> dict:
    from gaslatch_tools.testing.postgres import PostgresServer

    work_dir = tempfile.mkdtemp(prefix="gaslatch-fleet-")
    pg = PostgresServer(durable=True).start() if "postgres" in args.storages else None
    configs = []
    try:
        number = 0
        for kind in args.storages:
            for receivers in args.receivers:
                number += 1
                configs.append(await run_config(kind, receivers, args, pg, work_dir, number))
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    return {"units": args.units, "rate_per_unit": args.rate, "seconds": args.seconds, "burst": args.burst,
            "cpus": os.cpu_count(), "publishers": "one TCP connection per unit, multiplexed on one asyncio loop",
            "broker": "%s; deploy/mosquitto/gaslatch.conf, anonymous" % mosquitto_version(),
            "postgres": "fsync on, synchronous_commit on (testing.postgres defaults)" if pg is not None else None,
            "configs": configs}


def report(result: dict) -> str:
    lines = ["%d units, each its own MQTT connection (%s); paced %.2f events/s per unit for %.0f s, then a burst "
             "of %d per unit; %d CPUs" % (result["units"], result["publishers"], result["rate_per_unit"],
                                         result["seconds"], result["burst"], result["cpus"]),
             "broker: %s" % result["broker"],
             "%-9s %4s %9s %9s %8s %8s %8s %10s %6s %6s %10s %9s" % (
                 "storage", "rcv", "offered/s", "stored/s", "p50 ms", "p99 ms", "max ms", "capacity/s", "lost",
                 "extra", "shares", "cpu ms/ev")]
    for c in result["configs"]:
        lines.append("%-9s %4d %9.0f %9.0f %8.1f %8.1f %8.1f %10.0f %6d %6d %10s %9.2f" % (
            c["storage"], c["receivers"], c["offered_per_s"], c["stored_per_s"], c["latency_p50_ms"],
            c["latency_p99_ms"], c["latency_max_ms"], c["capacity_per_s"], c["lost"], c["extra_rows"],
            "/".join(str(n) for n in c["share_per_receiver"]), c["receiver_cpu_ms_per_event"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1000, help="simulated units (default 1000)")
    parser.add_argument("--rate", type=float, default=0.5, help="events/s per unit in the paced phase (default 0.5)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the paced phase per configuration")
    parser.add_argument("--burst", type=int, default=5, help="events per unit in the burst (default 5)")
    parser.add_argument("--storages", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--receivers", default="1,2", help="comma-separated receiver counts (default 1,2)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--receiver-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver_child:
        db, port, client_id, group, rules = args.receiver_child
        receiver_child(db, int(port), client_id, group, rules)
        return
    args.storages = [s for s in args.storages.split(",") if s]
    args.receivers = [int(n) for n in args.receivers.split(",") if n]
    if not set(args.storages) <= {"sqlite", "postgres"} or not args.receivers or min(args.receivers) < 1:
        parser.error("--storages takes sqlite and/or postgres; --receivers counts of 1 or more")
    if args.units < 1 or args.rate <= 0 or args.seconds <= 0 or args.burst < 0:
        parser.error("--units, --rate and --seconds must be positive, --burst 0 or more")
    started = time.monotonic()
    result = asyncio.run(run(args))
    result["wall_s"] = round(time.monotonic() - started, 1)
    if not args.json:
        print(report(result))
        print("total %.0f s" % result["wall_s"])
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
