"""The writer process of the store crash test: appends events as fast as the disk allows and reports
each seq on stdout as soon as recorded_seq() covers it, until the parent SIGKILLs it.

    python -m tests.unit.store_writer_child STORE_PATH

Each stdout line is {"seq": N, "wall_ts": "...", "clock_synced": bool}; the other fields of event N
are expected_record(N), so the parent can check every field of every reported event.
"""

import json
import random
import sys
import time

from gaslatch.core import events as E
from gaslatch.unit.event_store import EventStore

MAX_EVENTS = 1000000  # no retention during the test: every recorded seq must stay
KINDS = ((E.DETECTOR, E.SEVERITY_ALARM), (E.OUTPUT, E.SEVERITY_INFO), (E.TRIP, E.SEVERITY_ALARM),
         (E.INHIBIT, E.SEVERITY_WARNING), (E.VALVE_FAULT, E.SEVERITY_FAULT), (E.RESET, E.SEVERITY_INFO))


def expected_record(seq: int) -> dict:
    """The core record the child appends as `seq`: every field derived from seq, some non-ASCII."""
    type_, severity = KINDS[seq % len(KINDS)]
    return {"seq": seq, "t_ms": seq * 37, "type": type_, "severity": severity, "source": "d%d" % (seq % 5),
            "state": "state-%d" % seq, "value": None if seq % 3 == 0 else seq * 11,
            "reason": "crash test %d 燃气泄漏 %s" % (seq, "x" * (seq % 40))}


def main(path: str) -> None:
    rng = random.Random()
    clock = {"wall_ts": "", "synced": False}
    store = EventStore(path, MAX_EVENTS, unit="crash-test", wall_ts=lambda: clock["wall_ts"],
                       clock_synced=lambda: clock["synced"])
    seq = store.next_seq()
    reported = seq - 1
    appended = {}  # seq -> (wall_ts, clock_synced) of what was handed to append()
    while True:
        now = time.time()
        clock["wall_ts"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % int(now % 1 * 1000)
        clock["synced"] = rng.random() < 0.5
        count = rng.randint(1, 8)
        store.append([expected_record(n) for n in range(seq, seq + count)])
        for n in range(seq, seq + count):
            appended[n] = (clock["wall_ts"], clock["synced"])
        seq += count
        if rng.random() < 0.3 or seq - reported > 500:
            store.flush(0.05)  # let the queue drain now and then; otherwise keep appending
        health = store.health()
        if health["lost"] or health["rejected"]:
            sys.exit("store lost or rejected events: %r" % (health,))
        recorded = store.recorded_seq()
        lines = []
        while reported < recorded:
            reported += 1
            wall_ts, synced = appended.pop(reported)
            lines.append(json.dumps({"seq": reported, "wall_ts": wall_ts, "clock_synced": synced}) + "\n")
        if lines:
            sys.stdout.write("".join(lines))
            sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
