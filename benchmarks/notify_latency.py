"""How soon people are told: from a trip event committed by the platform to its notices arriving at a mail server.

The real path from the receiver on: each trip is stored by the receiver's storage with the warning hook of the
shipped rules (deploy/platform/warning-rules.yaml), which opens a grade 1 warning in the same transaction; a
notifier thread (`gaslatch platform notify`'s Notifier, real clock) sends its first round, the owner and the
officer, each by mail through Apprise to a local SMTP server (aiosmtpd, testing.notice_sinks). Measured per
notice: the event's commit (the store call returned) to the mail's arrival at the server.

(a) steady: --events trips one at a time, each on its own unit, --interval-s apart;
(b) burst: --burst trips, each on its own unit, committed in one batch (a district's storm).

    .venv/bin/python benchmarks/notify_latency.py [--events 50] [--interval-s 0.2] [--burst 100] [--pg] [--json]

--pg runs against a throwaway PostgreSQL (fsync on) instead of SQLite. Loopback only; about 30 s. Prints a table,
then one JSON line (only the JSON document with --json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform import contacts as C
from gaslatch_tools.platform import notifier as N
from gaslatch_tools.platform import rules as R
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.receiver import iso_utc_now, open_storage, parse_event
from gaslatch_tools.platform.storage import Batch
from gaslatch_tools.testing.notice_sinks import SmtpSink
from gaslatch_tools.testing.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
SITE = "bench-site"
STORE = "b3nchb3nchb3nch0"


class TimedSink(SmtpSink):
    """The mail server, noting when each mail arrived (time.monotonic)."""

    def __init__(self):
        SmtpSink.__init__(self)
        self.arrived: list[tuple[float, str]] = []
        self._times = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        reply = await SmtpSink.handle_DATA(self, server, session, envelope)
        with self._times:
            self.arrived.append((time.monotonic(), self.received()[-1].subject))
        return reply


def contacts(sink: SmtpSink) -> C.Contacts:
    return C.build({"version": 1,
                    "people": {"owner": {"name": "owner", "channels": {"mail": sink.url("owner@example.org")}},
                               "officer": {"name": "officer", "channels": {"mail": sink.url("officer@example.org")}}},
                    "districts": {"d": {"officers": ["officer"]}},
                    "sites": {SITE: {"district": "d", "owners": ["owner"]}},
                    "duty_centre": ["officer"], "administrators": ["officer"]})


def trip(unit: str):
    row = {"id": "%s-%012d" % (STORE, 1), "seq": 1, "t_ms": 1000, "wall_ts": "2026-12-07T02:00:00.000Z",
           "clock_synced": True, "type": "trip", "severity": "alarm", "source": "controller", "state": "latched",
           "value": None, "reason": "gas: hood1 high alarm"}
    topic = W.topics(SITE, unit)["event"]
    return parse_event(topic, W.encode_event(row))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latencies(sink: TimedSink, committed: dict[str, float], before: int, expected: int) -> list[float]:
    """The latency of each of the `expected` mails after the first `before` ones, in ms."""
    wait_until(lambda: len(sink.arrived) >= before + expected, 120, what="%d mails" % expected)
    out = []
    for at, subject in list(sink.arrived)[before:before + expected]:
        unit = subject.split("%s/" % SITE, 1)[1].split()[0]
        out.append((at - committed[unit]) * 1000)
    return out


def run(db: str, events: int, interval_s: float, burst: int) -> dict:
    rules = R.load(str(ROOT / "deploy" / "platform" / "warning-rules.yaml"))
    sink = TimedSink().start()
    storage = open_storage(db)
    WS.prepare(storage)
    storage.add_store_hook(WS.WarningHook(rules))
    notifier = N.Notifier(storage, rules, contacts(sink), instance="bench")
    notifier.start()
    try:
        committed: dict[str, float] = {}
        for i in range(events):
            unit = "steady-%d" % i
            now = iso_utc_now()
            storage.store(Batch(events=[(trip(unit), now)]), now)
            committed[unit] = time.monotonic()
            time.sleep(interval_s)
        steady = latencies(sink, committed, 0, 2 * events)
        now = iso_utc_now()
        batch = Batch(events=[(trip("burst-%d" % i), now) for i in range(burst)])
        storage.store(batch, now)
        at = time.monotonic()
        committed.update({"burst-%d" % i: at for i in range(burst)})
        burst_ms = latencies(sink, committed, 2 * events, 2 * burst)
    finally:
        notifier.stop()
        storage.close()
        sink.stop()
    return {"steady": summary(steady), "burst": summary(burst_ms), "events": events, "burst_size": burst}


def summary(ms: list[float]) -> dict:
    return {"notices": len(ms), "p50_ms": round(statistics.median(ms), 1), "p99_ms": round(percentile(ms, 99), 1),
            "max_ms": round(max(ms), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--interval-s", type=float, default=0.2)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--pg", action="store_true", help="a throwaway PostgreSQL (fsync on) instead of SQLite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.pg:
            from gaslatch_tools.testing.postgres import PostgresServer

            with PostgresServer(durable=True) as server:
                result = run(server.create_database("notify"), args.events, args.interval_s, args.burst)
        else:
            result = run(os.path.join(tmp, "platform.sqlite"), args.events, args.interval_s, args.burst)
    result["storage"] = "postgresql" if args.pg else "sqlite"
    if not args.json:
        print("%-8s %-6s %8s %8s %8s %8s" % ("storage", "phase", "notices", "p50 ms", "p99 ms", "max ms"))
        for phase in ("steady", "burst"):
            r = result[phase]
            print("%-8s %-6s %8d %8.1f %8.1f %8.1f" % (result["storage"], phase, r["notices"], r["p50_ms"],
                                                       r["p99_ms"], r["max_ms"]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
