"""Events recorded per second with synchronous=FULL: the unit's EventStore against a plain sqlite3 insert
loop with the same settings, in the same run and on the same disk: the figures in docs/benchmarks.md.

    .venv/bin/python benchmarks/store_rate.py [--events 3000] [--batch 8] [--repeats 3] [--dir /var/tmp] [--json]

Every mode writes the same rows into the same table (the store's schema, WAL, synchronous=FULL) in a
fresh file. The EventStore figure counts from the first append() to flush() returning, so an event
counts only once committed. A plain loop commits once per event, or once per --batch events.
"""

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

from gaslatch.core import events as E
from gaslatch.core.uplink_wire import event_id
from gaslatch.unit.event_store import SCHEMA_SQL, EventStore, retention_rank

WALL_TS = "2026-11-24T21:50:41.123Z"
PACED_PERIOD_MS = 20
PACED_SCANS = 150
_INSERT = ("INSERT INTO events (id, seq, t_ms, wall_ts, clock_synced, type, severity, source, state, value, reason, "
           "delivered, keep_rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)")


def records(count: int) -> list[dict]:
    """Core-shaped events, mostly output changes with some detector alarms, as a trip produces them."""
    out = []
    for seq in range(1, count + 1):
        alarm = seq % 5 == 0
        out.append({"seq": seq, "t_ms": seq * 100, "type": E.DETECTOR if alarm else E.OUTPUT,
                    "severity": E.SEVERITY_ALARM if alarm else E.SEVERITY_INFO, "source": "d1" if alarm else "fan",
                    "state": "high_alarm" if alarm else "on", "value": 2550 if alarm else None,
                    "reason": "gas: d1 high alarm" if alarm else "trip: extract fan on"})
    return out


def row(record: dict) -> tuple:
    return (event_id("0123456789abcdef", record["seq"]), record["seq"], record["t_ms"], WALL_TS, 1, record["type"],
            record["severity"], record["source"], record["state"], record["value"], record["reason"],
            retention_rank(record["severity"], record["type"], False))


def run_store(directory: str, events: list[dict], batch: int) -> dict:
    store = EventStore(os.path.join(directory, "store.db"), len(events), wall_ts=lambda: WALL_TS,
                       clock_synced=lambda: True)
    try:
        calls_us = []
        started = time.perf_counter()
        for i in range(0, len(events), batch):
            t0 = time.perf_counter()
            store.append(events[i:i + batch])
            calls_us.append((time.perf_counter() - t0) * 1e6)
        if not store.flush(600):
            raise SystemExit("the store did not commit within 600 s")
        took_s = time.perf_counter() - started
        health = store.health()
    finally:
        store.close()
    assert health["recorded_seq"] == len(events) and health["ok"], health
    calls_us.sort()
    return {"events_per_s": len(events) / took_s, "events_per_commit": len(events) / health["transactions"],
            "append_p50_us": calls_us[len(calls_us) // 2], "append_p99_us": calls_us[int(len(calls_us) * 0.99)],
            "append_max_us": calls_us[-1]}


def run_plain(directory: str, events: list[dict], per_commit: int) -> dict:
    conn = sqlite3.connect(os.path.join(directory, "plain-%d.db" % per_commit), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA_SQL:
            conn.execute(statement)
        started = time.perf_counter()
        for i in range(0, len(events), per_commit):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, [row(r) for r in events[i:i + per_commit]])
            conn.execute("COMMIT")
        took_s = time.perf_counter() - started
    finally:
        conn.close()
    return {"events_per_s": len(events) / took_s}


def run_paced(directory: str, batch: int) -> dict:
    """A scan every PACED_PERIOD_MS appends one batch; how long until it is committed (flush returns)."""
    events = records(PACED_SCANS * batch)
    store = EventStore(os.path.join(directory, "paced.db"), len(events), wall_ts=lambda: WALL_TS,
                       clock_synced=lambda: True)
    latencies_ms = []
    try:
        deadline = time.perf_counter()
        for i in range(0, len(events), batch):
            t0 = time.perf_counter()
            store.append(events[i:i + batch])
            store.flush(10)
            latencies_ms.append((time.perf_counter() - t0) * 1000)
            deadline += PACED_PERIOD_MS / 1000
            time.sleep(max(0.0, deadline - time.perf_counter()))  # the next scan's deadline
    finally:
        store.close()
    latencies_ms.sort()
    return {"p50_ms": latencies_ms[len(latencies_ms) // 2], "p99_ms": latencies_ms[int(len(latencies_ms) * 0.99)],
            "max_ms": latencies_ms[-1]}


def file_system(directory: str) -> str:
    """The type of the file system holding `directory` (fsync is free on tmpfs: figures meaningless)."""
    best, kind = "", "?"
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1]
            if (directory == point or directory.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                best, kind = point, fields[2]
    return kind


def measure(events_count: int, batch: int, repeats: int, parent: str) -> dict:
    events = records(events_count)
    runs = {"store": [], "plain_per_event": [], "plain_per_batch": []}
    for _ in range(repeats):  # interleaved, so a change in disk speed hits every mode alike
        for mode in runs:
            directory = tempfile.mkdtemp(prefix="store-rate-", dir=parent)
            try:
                if mode == "store":
                    runs[mode].append(run_store(directory, events, batch))
                else:
                    runs[mode].append(run_plain(directory, events, 1 if mode == "plain_per_event" else batch))
            finally:
                shutil.rmtree(directory)
    result = {mode: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for mode, rs in runs.items()}
    directory = tempfile.mkdtemp(prefix="store-rate-", dir=parent)
    try:
        result["paced"] = run_paced(directory, batch)
    finally:
        shutil.rmtree(directory)
    store_rate = result["store"]["events_per_s"]
    result["ratio_store_to_per_event"] = store_rate / result["plain_per_event"]["events_per_s"]
    result["ratio_store_to_per_batch"] = store_rate / result["plain_per_batch"]["events_per_s"]
    result["settings"] = {"events": events_count, "batch": batch, "repeats": repeats, "dir": parent,
                          "file_system": file_system(os.path.realpath(parent)), "sqlite": sqlite3.sqlite_version,
                          "python": sys.version.split()[0]}
    return result


def report(r: dict) -> str:
    s = r["settings"]
    st, pe, pb, paced = r["store"], r["plain_per_event"], r["plain_per_batch"], r["paced"]
    lines = [
        "store_rate: %d events per run in appends of %d, median of %d runs; %s (%s), SQLite %s, WAL + "
        "synchronous=FULL" % (s["events"], s["batch"], s["repeats"], s["dir"], s["file_system"], s["sqlite"]),
        "  EventStore, recorded (committed)        %9.0f events/s  (%.1f events per commit; append() p50 %.0f us, "
        "p99 %.0f us, max %.0f us)" % (st["events_per_s"], st["events_per_commit"], st["append_p50_us"],
                                        st["append_p99_us"], st["append_max_us"]),
        "  plain sqlite3, one commit per event     %9.0f events/s" % pe["events_per_s"],
        "  plain sqlite3, one commit per %-3d events %8.0f events/s" % (s["batch"], pb["events_per_s"]),
        "  ratio EventStore / per-event commits    %9.2f" % r["ratio_store_to_per_event"],
        "  ratio EventStore / per-%d-events commits %8.2f" % (s["batch"], r["ratio_store_to_per_batch"]),
        "  paced: %d events every %d ms, append -> committed: p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (
            s["batch"], PACED_PERIOD_MS, paced["p50_ms"], paced["p99_ms"], paced["max_ms"]),
    ]
    if s["file_system"] == "tmpfs":
        lines.append("  WARNING: tmpfs does not sync to a disk; these figures say nothing about a unit")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events per run and mode")
    parser.add_argument("--batch", type=int, default=8, help="events per append() and per plain batch commit")
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode; the median is reported")
    parser.add_argument("--dir", default="/var/tmp", help="where the files go: the disk being measured")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    result = measure(args.events, args.batch, args.repeats, args.dir)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else report(result))


if __name__ == "__main__":
    main()
