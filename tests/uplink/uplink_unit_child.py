"""A kitchen unit's delivery path in its own process, for the kill tests: the real event store and uplink.

    python -m tests.uplink.uplink_unit_child STORE HOST PORT TOTAL RATE [USERNAME PASSWORD_FILE]

Appends events (one alarm in every ALARM_EVERY, so a long backlog also exercises the priority pass) until
the store holds TOTAL, at RATE a second, while the uplink delivers them; then keeps delivering until
killed. A SIGKILL is a power cut; started again on the same store it carries on from the next seq.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from gaslatch.unit.event_store import EventStore
from gaslatch.unit.uplink import Uplink

SITE = "kill-site"
UNIT = "kill-unit"
ALARM_EVERY = 97
CHUNK_S = 0.02


def record(seq: int) -> dict:
    alarm = seq % ALARM_EVERY == 0
    return {"seq": seq, "t_ms": seq * 10, "type": "detector", "severity": "alarm" if alarm else "info",
            "source": "d1", "state": "high_alarm" if alarm else "normal", "value": seq, "reason": "kill test %d" % seq}


def main(argv: list[str]) -> int:
    path, host, port, total, rate = argv[0], argv[1], int(argv[2]), int(argv[3]), float(argv[4])
    cfg = {"enabled": True, "host": host, "port": port, "tls": False, "keepalive_s": 5, "backoff_max_s": 2}
    if len(argv) > 5:
        cfg.update(username=argv[5], password_file=argv[6])
    store = EventStore(path, unit=UNIT)
    uplink = Uplink(cfg, store, SITE, UNIT)
    uplink.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    per_chunk = max(1, int(rate * CHUNK_S))
    next_health = 0.0
    while not stop.is_set():
        first = store.next_seq()
        if first <= total:
            store.append([record(seq) for seq in range(first, min(total, first + per_chunk - 1) + 1)])
        for level, text in uplink.take_reports():  # the journal's lines, for a failing test's log
            print("%.3f %s %s" % (time.time(), level, text), flush=True)
        if time.monotonic() >= next_health:
            next_health = time.monotonic() + 1.0
            h = uplink.health()
            print("%.3f health recorded %d ack %d backlog %d in_flight %d resend_requests %d stalls %d" % (
                time.time(), store.recorded_seq(), h["platform_ack_seq"], h["backlog"], h["in_flight"],
                h["resend_requests"], h["resend_stalls"]), flush=True)
        stop.wait(CHUNK_S)
    uplink.close()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
