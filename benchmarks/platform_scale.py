"""Issue 15's platform figures at a city's scale: 10,000 simulated units on a local mosquitto and PostgreSQL; the
trip-to-notice latency, the sustained ingest against a bare psycopg loop, and the console's pages under that load.

    .venv/bin/python benchmarks/platform_scale.py [--units 10000] [--receivers 1,2] [--quick] [--json]

Everything runs on this machine over loopback: a mosquitto started here with the deploy configuration
(gaslatch_tools.testing.broker, anonymous), a throwaway PostgreSQL (gaslatch_tools.testing.postgres, fsync on),
and as child processes: the receivers (PlatformReceiver with the warning hook of deploy/platform/warning-rules.yaml,
the code behind `gaslatch platform --rules`), one notifier (Notifier, whose send function notes the time it was
handed each notice instead of calling Apprise: the channel itself is notify_latency.py's subject), the web console
(uvicorn, as `gaslatch platform console`) and its clients (httpx, logged in as the duty centre's officer).
Units are fleet_load.py's lightweight publishers (one MQTT connection, client id and topic each, the real wire
format, one asyncio loop in this process); with 1 receiver it speaks MQTT 3.1.1 as `gaslatch platform` does
without --shared, with 2 they share one MQTT 5 group.

Per receiver count, on a fresh broker and database:
  normal  every unit sends --rate detector readings/s for --seconds, and --trips units trip, evenly spread: the
          latency from each trip's PUBLISH to each of its notices handed to the channel (owner and officer);
          also each reading's PUBLISH to its commit.
  burst   the readings go on, and 10 % of the units trip within one second: the same latency.
  console --clients clients load GET /warnings and GET /sites in turn, first with nothing else running (idle),
          then while the ingest runs: the page latency, and the ratio of the two in the same run.
  ingest  every unit sends --backlog events at once; `stored/s` is the receivers' commit rate while they drain it
          (first to last commit). Then in the same database, a bare psycopg loop stores the same rows into a table
          of the same shape (CREATE TABLE ... LIKE events INCLUDING ALL), in batches of the size the receivers
          committed, one transaction each: executemany (psycopg's pipeline) and COPY; and the receiver's storage
          alone (store() with the warning hook, no MQTT) stores them into a fresh database. `ours/bare` divides
          the rates, measured seconds apart in the same run, so that the load of other jobs largely cancels out.
The load average is printed before and after each configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import fleet_load as F
from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.testing import broker as kit_broker

ROOT = Path(__file__).resolve().parents[1]
RULES = str(ROOT / "deploy" / "platform" / "warning-rules.yaml")
SITE = "scale-city"
GROUP = "platform-scale"
OFFICER = "officer"
PASSWORD = "bench-password-0123456789"
BURST_SHARE = 0.10  # of the units trip within BURST_WINDOW_S
BURST_WINDOW_S = 1.0
NOTICE_LIMIT_S = 120.0  # every notice must be handed to the channel within this
DRAIN_LIMIT_S = 300.0
START_TIMEOUT_S = 60.0
WALL_TS = "2026-12-07T09:00:00.000Z"
QUICK = {"units": 1000, "seconds": 4.0, "trips": 10, "backlog": 3, "clients": 4, "console_seconds": 3.0}


def contacts_doc() -> dict:
    return {"version": 1,
            "people": {"owner": {"name": "owner", "channels": {"hook": "json://127.0.0.1/owner"}},
                       OFFICER: {"name": OFFICER, "channels": {"hook": "json://127.0.0.1/officer"}}},
            "districts": {"d": {"name": "district", "officers": [OFFICER]}},
            "sites": {SITE: {"district": "d", "owners": ["owner"]}},
            "duty_centre": [OFFICER], "administrators": [OFFICER]}


class Unit(F.SimUnit):
    """fleet_load's publisher, sending detector readings (no warning) or a trip (a grade 1 warning)."""

    def __init__(self, index: int, published: dict, rng: random.Random):
        F.SimUnit.__init__(self, index, published, rng)
        self.name = "unit-%05d" % index
        self.client_id = "gaslatch-%s-%s" % (SITE, self.name)
        self.topic = W.topics(SITE, self.name)["event"].encode()
        self.sent: list[tuple[bytes, bytes]] | None = None  # (topic, payload) noted while not None

    def publish_next(self, trip: bool = False) -> tuple[float, tuple[str, str]]:
        """Writes the next event; returns its publish time and its key in `published`."""
        self.seq += 1
        self._packet_id = self._packet_id % 65535 + 1
        row = {"id": "%s-%012d" % (self.store_key, self.seq), "seq": self.seq, "t_ms": 100 * self.seq,
               "wall_ts": WALL_TS, "clock_synced": True}
        if trip:
            row.update({"type": E.TRIP, "severity": E.SEVERITY_ALARM, "source": "controller", "state": "latched",
                        "value": None, "reason": "gas: d1 high alarm"})
        else:
            row.update({"type": E.DETECTOR, "severity": E.SEVERITY_INFO, "source": "d1", "state": "normal",
                        "value": 120 + self.seq % 50, "reason": "d1 reading"})
        payload = W.encode_event(row)
        at = time.monotonic()
        key = (self.name, row["id"])
        self._published[key] = at
        self._writer.write(F.publish_packet(self.topic, self._packet_id, payload))
        if self.sent is not None:
            self.sent.append((self.topic, payload))
        return at, key


# --- child processes: each prints "ready ..." once started, runs until a line on stdin, then prints its JSON ---

def notifier_child(db: str) -> None:
    from gaslatch_tools.platform import contacts as C
    from gaslatch_tools.platform import notifier as N
    from gaslatch_tools.platform import rules as R
    from gaslatch_tools.platform.receiver import open_storage

    storage = open_storage(db)
    handed = []
    lock = threading.Lock()

    def send(url: str, title: str, body: str) -> None:
        with lock:
            handed.append((time.monotonic(), title))
        return None

    notifier = N.Notifier(storage, R.load(RULES), C.build(contacts_doc()), instance="scale", send=send)
    notifier.start()
    print("ready", flush=True)
    sys.stdin.readline()
    notifier.stop()
    storage.close()
    print(json.dumps({"handed": handed, "counts": notifier.counts}), flush=True)


def console_child(db: str) -> None:
    from gaslatch_tools.platform import accounts
    from gaslatch_tools.platform import contacts as C
    from gaslatch_tools.platform import rules as R
    from gaslatch_tools.platform import warning_store as WS
    from gaslatch_tools.platform.receiver import open_storage
    from gaslatch_tools.testing.console_server import ConsoleServer

    storage = open_storage(db)
    WS.prepare(storage)
    rules = R.load(RULES)
    server = ConsoleServer(storage, C.build(contacts_doc()), rules=rules)
    accounts.set_password(storage, OFFICER, PASSWORD, int(time.time() * 1000), "bench")
    server.start()
    print("ready %s" % server.url, flush=True)
    sys.stdin.readline()
    server.stop()
    storage.close()
    print(json.dumps({}), flush=True)


def clients_child(url: str, clients: int) -> None:
    """`clients` threads, each logged in with its own session, GET /warnings and /sites in turn until stopped."""
    import httpx

    stop = threading.Event()
    samples: list[tuple[float, str, float, int]] = []  # (start, path, ms, status)
    lock = threading.Lock()
    sessions = []
    for _ in range(clients):
        c = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
        token = re.search(r'name="login_token" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"username": OFFICER, "password": PASSWORD, "login_token": token,
                                   "next": "/warnings"})
        if r.status_code != 303:
            raise SystemExit("console login failed: %s %s" % (r.status_code, r.text[:200]))
        sessions.append(c)

    def load(c) -> None:
        paths = ("/warnings", "/sites")
        n = 0
        while not stop.is_set():
            path = paths[n % 2]
            n += 1
            start = time.monotonic()
            try:
                status = c.get(path).status_code
            except httpx.HTTPError:
                status = 0
            with lock:
                samples.append((start, path, (time.monotonic() - start) * 1000, status))

    threads = [threading.Thread(target=load, args=(c,), daemon=True) for c in sessions]
    for t in threads:
        t.start()
    print("ready", flush=True)
    sys.stdin.readline()
    stop.set()
    for t in threads:
        t.join()
    print(json.dumps({"samples": samples}), flush=True)


class Child:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            self.proc.kill()
            raise SystemExit("%s did not start" % args[0])
        self.ready = line[1:]

    def finish(self) -> dict:
        out, _ = self.proc.communicate("stop\n", timeout=300)
        return json.loads(out.strip().splitlines()[-1])


# --- one configuration ---

async def paced(units: list[Unit], rate: float, seconds: float, trips: list[tuple[float, Unit]]) -> dict:
    """Readings at `rate` per unit for `seconds` (units staggered evenly), and each (offset_s, unit) trip;
    returns {unit name: (trip publish time, its key in `published`)}."""
    readings = max(1, int(len(units) * rate * seconds))
    schedule = [(j * seconds / readings, 0, units[j % len(units)]) for j in range(readings)]
    schedule += [(at, 1, u) for at, u in trips]
    schedule.sort(key=lambda item: (item[0], item[1]))
    tripped = {}
    start = time.monotonic()
    for due, is_trip, unit in schedule:
        delay = start + due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        published = unit.publish_next(trip=bool(is_trip))
        if is_trip:
            tripped[unit.name] = published
    return tripped


def notice_latency(handed: list, tripped: dict, names: set) -> dict:
    ms = []
    for at, title in handed:
        found = re.search(r"%s/(unit-\d+)" % SITE, title)
        if found and found.group(1) in names:
            ms.append((at - tripped[found.group(1)][0]) * 1000)
    return summary(ms) | {"expected": 2 * len(names)}


def summary(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"n": len(ms), "p50_ms": round(F._percentile(ms, 50), 1), "p99_ms": round(F._percentile(ms, 99), 1),
            "max_ms": round(ms[-1], 1) if ms else None}


async def wait_for(predicate, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(F.POLL_S)
    return True


def handed_count(db: str) -> int:
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM notice_attempts").fetchone()[0]


async def run_config(receivers: int, args, pg, number: int) -> dict:
    load_before = os.getloadavg()
    db = pg.create_database("scale_%d" % number)
    broker = kit_broker.Broker().start()
    children: list[Child] = []
    procs: list[F.Receiver] = []
    try:
        for n in range(receivers):
            procs.append(F.Receiver(db, broker.port, "platform-%d-%d" % (number, n), GROUP if receivers > 1 else "",
                                    RULES))
        notifier = Child("--notifier-child", db)
        children.append(notifier)
        console = Child("--console-child", db)
        children.append(console)
    except BaseException:
        for child in children + procs:
            child.proc.kill()
        broker.close()
        raise
    published: dict = {}
    units = [Unit(i, published, random.Random(i)) for i in range(args.units)]
    count = F.StoredCount(db)
    result: dict = {"receivers": receivers, "units": args.units}
    try:
        connect_start = time.monotonic()
        await F.connect_units(units, broker.port)
        result["connect_s"] = round(time.monotonic() - connect_start, 1)
        # normal: readings, and a few trips spread over the phase
        trip_units = units[:args.trips]
        trips = [((k + 0.5) * args.seconds / len(trip_units), u) for k, u in enumerate(trip_units)]
        normal_start = time.monotonic()
        tripped = await paced(units, args.rate, args.seconds, trips)
        normal_s = time.monotonic() - normal_start
        normal_published = dict(published)
        # burst: readings go on while 10 % of the units trip within one second
        burst_units = units[args.trips:args.trips + max(1, int(BURST_SHARE * args.units))]
        burst_trips = [(1.0 + k * BURST_WINDOW_S / len(burst_units), u) for k, u in enumerate(burst_units)]
        tripped.update(await paced(units, args.rate, BURST_WINDOW_S + 2.0, burst_trips))
        expected_notices = 2 * (len(trip_units) + len(burst_units))
        notices_in_time = await wait_for(lambda: handed_count(db) >= expected_notices, NOTICE_LIMIT_S)
        await wait_for(lambda: count() >= len(published), F.DRAIN_LIMIT_S)
        # console idle, then the ingest with the console loaded
        clients = Child("--clients-child", console.ready[0], str(args.clients))
        children.append(clients)
        idle = (time.monotonic(), None)
        await asyncio.sleep(args.console_seconds)
        idle = (idle[0], time.monotonic())
        ingest_published = len(published)
        for u in units:
            u.sent = []
        ingest_start = time.monotonic()
        for _ in range(args.backlog):
            for u in units:
                u.publish_next()
        drained = await wait_for(lambda: count() >= len(published), DRAIN_LIMIT_S)
        ingest_end = time.monotonic()
        client_samples = clients.finish()["samples"]
        children.remove(clients)
        await asyncio.gather(*(u.close() for u in units))
        acks = sum(u.acks for u in units)
    finally:
        finished = {id(c): c.finish() for c in children + procs}
        count.close()
        broker.close()
    received = [finished[id(p)] for p in procs]
    handed = finished[id(notifier)]
    stamps = {}
    batches: dict[tuple[int, float], int] = {}
    for n, r in enumerate(received):
        for unit, id_, t in r["stamps"]:
            stamps[(unit, id_)] = t
            if t >= ingest_start:
                batches[(n, t)] = batches.get((n, t), 0) + 1
    readings_ms = [(stamps[k] - t) * 1000 for k, t in normal_published.items() if k in stamps]
    ingest_commits = sorted(t for k, t in stamps.items() if published[k] >= ingest_start)
    ingest_rate = ((len(ingest_commits) - 1) / (ingest_commits[-1] - ingest_commits[0])
                   if len(ingest_commits) > 1 and ingest_commits[-1] > ingest_commits[0] else 0.0)
    batch_mean = sum(batches.values()) / max(1, len(batches))
    events = ingest_events([pair for u in units for pair in u.sent])
    batch = max(1, round(batch_mean))
    rows = [event[:6] + (int(event.clock_synced),) + event[7:] + (at,) for event, at in events]
    bare = {method: bare_rate(db, rows, batch, method) for method in ("executemany", "copy")}
    storage_only = storage_rate(pg.create_database("scale_%d_storage" % number), events, batch)
    pages = {}
    for phase, (start, end) in (("idle", idle), ("ingest", (ingest_start, ingest_end))):
        for path in ("/warnings", "/sites"):
            ms = [s[2] for s in client_samples if s[1] == path and start <= s[0] < end]
            pages["%s %s" % (phase, path)] = summary(ms)
    result.update({
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "normal": {"readings_per_s": round(len(normal_published) / normal_s, 1),
                   "reading_to_commit": summary(readings_ms),
                   "trip_to_notice": notice_latency(handed["handed"], tripped, {u.name for u in trip_units})},
        "burst": {"trips": len(burst_units), "within_s": BURST_WINDOW_S,
                  "trip_to_commit": summary([(stamps[tripped[u.name][1]] - tripped[u.name][0]) * 1000
                                             for u in burst_units if tripped[u.name][1] in stamps]),
                  "trip_to_notice": notice_latency(handed["handed"], tripped, {u.name for u in burst_units})},
        "notices_in_time": notices_in_time,
        "ingest": {"events": len(published) - ingest_published, "stored_per_s": round(ingest_rate, 1),
                   "mean_batch": round(batch_mean, 1), "drained": drained,
                   "bare_per_s": bare, "ours_over_bare": {m: round(ingest_rate / r, 3) for m, r in bare.items()},
                   "storage_only_per_s": storage_only,
                   "storage_only_over_bare": round(storage_only / bare["executemany"], 3)},
        "console": pages,
        "console_errors": sum(1 for s in client_samples if s[3] != 200),
        "published": len(published), "pubacks": acks, "stored": len(stamps),
        "lost": len(published) - len(stamps),
        "share_per_receiver": [r["counts"].get("stored", 0) for r in received],
        "receiver_cpu_us_per_event": round(1e6 * sum(r["cpu_s"] for r in received) / max(1, len(stamps)), 1),
        "notifier_counts": handed["counts"],
    })
    return result


def ingest_events(sent: list[tuple[bytes, bytes]]) -> list[tuple]:
    """The ingest's messages as the receiver parses them: (Event, received_at)."""
    from gaslatch_tools.platform.receiver import iso_utc_now, parse_event

    return [(parse_event(topic.decode(), payload), iso_utc_now()) for topic, payload in sent]


def storage_rate(db: str, events: list[tuple], batch: int) -> float:
    """Events/s of the receiver's storage alone (store() with the warning hook, `batch` events a transaction, in
    the order they were published), on a fresh database: the database side of the receiver without MQTT."""
    from gaslatch_tools.platform import rules as R
    from gaslatch_tools.platform import warning_store as WS
    from gaslatch_tools.platform.receiver import open_storage
    from gaslatch_tools.platform.storage import Batch, chunks

    storage = open_storage(db)
    WS.prepare(storage)
    storage.add_store_hook(WS.WarningHook(R.load(RULES)))
    try:
        start = time.monotonic()
        for chunk in chunks(events, batch):
            storage.store(Batch(events=chunk), chunk[-1][1])
        return round(len(events) / (time.monotonic() - start), 1)
    finally:
        storage.close()


def bare_rate(db: str, rows: list[tuple], batch: int, method: str) -> float:
    """Rows/s of a bare psycopg loop: `batch` rows a transaction into a fresh table shaped as `events`."""
    import psycopg

    from gaslatch_tools.platform.storage import EVENT_COLUMNS, chunks

    table = "bare_%s" % method
    columns = ", ".join(EVENT_COLUMNS)
    insert = "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (site, unit, id) DO NOTHING" % (
        table, columns, ", ".join(["%s"] * len(EVENT_COLUMNS)))
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE TABLE %s (LIKE events INCLUDING ALL)" % table)
        start = time.monotonic()
        for chunk in chunks(rows, batch):
            with conn.transaction():
                with conn.cursor() as cur:
                    if method == "copy":
                        with cur.copy("COPY %s (%s) FROM STDIN" % (table, columns)) as copy:
                            for row in chunk:
                                copy.write_row(row)
                    else:
                        cur.executemany(insert, chunk)
        elapsed = time.monotonic() - start
        stored = conn.execute("SELECT COUNT(*) FROM %s" % table).fetchone()[0]
    if stored != len(rows):
        raise SystemExit("the bare %s loop stored %d of %d rows" % (method, stored, len(rows)))
    return round(len(rows) / elapsed, 1)


# --- the run ---

def raise_file_limit(units: int) -> int:
    """One descriptor per unit here, and as many in mosquitto (which inherits this limit): the soft limit up to
    the hard one; SystemExit when even that is too few."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = units + 1000
    if hard != resource.RLIM_INFINITY and hard < need:
        raise SystemExit("%d units need %d open files, and the hard limit is %d (raise it: ulimit -Hn, or "
                         "LimitNOFILE= for a service)" % (units, need, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def run(args) -> dict:
    from gaslatch_tools.testing.postgres import PostgresServer

    limit = raise_file_limit(args.units)
    configs = []
    with PostgresServer(durable=True) as pg:
        for number, receivers in enumerate(args.receivers, 1):
            configs.append(await run_config(receivers, args, pg, number))
    return {"units": args.units, "rate_per_unit": args.rate, "seconds": args.seconds, "trips": args.trips,
            "backlog": args.backlog, "clients": args.clients, "cpus": os.cpu_count(), "open_files": limit,
            "broker": "%s; deploy/mosquitto/gaslatch.conf, anonymous" % F.mosquitto_version(),
            "postgres": "fsync on, synchronous_commit on (testing.postgres defaults)", "configs": configs}


def report(result: dict) -> str:
    lines = ["%d units, each its own MQTT connection; readings %.2f/s per unit; %d CPUs; %s" % (
        result["units"], result["rate_per_unit"], result["cpus"], result["broker"])]
    for c in result["configs"]:
        n, b, i = c["normal"], c["burst"], c["ingest"]
        lines += [
            "--- %d receiver(s); load average %s -> %s; %d units connected in %.1f s" % (
                c["receivers"], "/".join("%.2f" % x for x in c["load_before"]),
                "/".join("%.2f" % x for x in c["load_after"]), c["units"], c["connect_s"]),
            "normal: %.0f readings/s, publish->commit p50 %.1f ms p99 %.1f ms; trip->notice %d/%d, p50 %.0f ms "
            "p99 %.0f ms max %.0f ms" % (n["readings_per_s"], n["reading_to_commit"]["p50_ms"],
                                         n["reading_to_commit"]["p99_ms"], n["trip_to_notice"]["n"],
                                         n["trip_to_notice"]["expected"], n["trip_to_notice"]["p50_ms"],
                                         n["trip_to_notice"]["p99_ms"], n["trip_to_notice"]["max_ms"]),
            "burst: %d trips within %.0f s; trip->commit p50 %.0f ms p99 %.0f ms; trip->notice %d/%d, p50 %.0f ms "
            "p99 %.0f ms max %.0f ms" % (
                b["trips"], b["within_s"], b["trip_to_commit"]["p50_ms"], b["trip_to_commit"]["p99_ms"],
                b["trip_to_notice"]["n"], b["trip_to_notice"]["expected"], b["trip_to_notice"]["p50_ms"],
                b["trip_to_notice"]["p99_ms"], b["trip_to_notice"]["max_ms"]),
            "ingest: %d events, stored %.0f/s (mean batch %.0f); bare psycopg executemany %.0f/s, COPY %.0f/s; "
            "ours/bare %.2f (executemany), %.2f (COPY); the storage alone %.0f/s, %.2f of executemany" % (
                i["events"], i["stored_per_s"], i["mean_batch"], i["bare_per_s"]["executemany"],
                i["bare_per_s"]["copy"], i["ours_over_bare"]["executemany"], i["ours_over_bare"]["copy"],
                i["storage_only_per_s"], i["storage_only_over_bare"]),
        ]
        for page, s in c["console"].items():
            lines.append("console %-16s %5d requests, p50 %6.1f ms, p99 %6.1f ms" % (page, s["n"], s["p50_ms"],
                                                                                 s["p99_ms"]))
        lines.append("published %d, stored %d, lost %d, shares %s, receiver CPU %.0f us/event, console errors %d"
                     % (c["published"], c["stored"], c["lost"], "/".join(map(str, c["share_per_receiver"])),
                        c["receiver_cpu_us_per_event"], c["console_errors"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=10000, help="simulated units (default 10000)")
    parser.add_argument("--rate", type=float, default=0.1, help="readings/s per unit (default 0.1)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the normal phase (default 10)")
    parser.add_argument("--trips", type=int, default=20, help="trips in the normal phase (default 20)")
    parser.add_argument("--backlog", type=int, default=3, help="events per unit in the ingest (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent console clients (default 8)")
    parser.add_argument("--console-seconds", type=float, default=5.0, help="console load with nothing else")
    parser.add_argument("--receivers", default="1,2", help="comma-separated receiver counts (default 1,2)")
    parser.add_argument("--quick", action="store_true", help="a small run in well under a minute: %s" % QUICK)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    for child in ("notifier", "console", "clients"):
        parser.add_argument("--%s-child" % child, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.notifier_child:
        notifier_child(args.notifier_child[0])
        return
    if args.console_child:
        console_child(args.console_child[0])
        return
    if args.clients_child:
        clients_child(args.clients_child[0], int(args.clients_child[1]))
        return
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    args.receivers = [int(n) for n in args.receivers.split(",") if n]
    if not args.receivers or min(args.receivers) < 1 or args.units < 10 or args.rate <= 0 or args.backlog < 1:
        parser.error("--receivers counts of 1 or more, --units at least 10, --rate and --backlog positive")
    started = time.monotonic()
    result = asyncio.run(run(args))
    result["wall_s"] = round(time.monotonic() - started, 1)
    if not args.json:
        print(report(result))
        print("total %.0f s" % result["wall_s"])
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
