"""Measures the running unit process (`gaslatch-unit run`): scan jitter, resident memory and time to READY.

8 cn-generic detectors on 2 pseudo-terminal buses, sim GPIO, a real store and control socket; the
scan statistics come from the process itself over its control socket. Figures go to docs/benchmarks.md.

    .venv/bin/python benchmarks/unit_process.py [--seconds 20] [--json]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from gaslatch_tools.testing.controller_process import UNIT_COMMAND, ControllerProcess
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.kitchen_config import kitchen_config

PERIODS_MS = (100, 20)
RSS_TARGET_KIB = 40 * 1024
READY_TIMEOUT_S = 30.0


def status(sock_path: str) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(sock_path)
        sock.sendall(b'{"id": 1, "cmd": "status", "args": {}}\n')
        return json.loads(sock.makefile("r").readline())["status"]


def rss_kib(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def measure(period_ms: int, seconds: float, busy: bool, command: tuple[str, ...] = UNIT_COMMAND,
            python: str = sys.executable) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        buses = [DetectorBus(os.path.join(tmp, "tty%d" % i), [1, 2, 3, 4]) for i in range(2)]
        config = os.path.join(tmp, "config.json")
        with open(config, "w") as f:
            json.dump(kitchen_config(tmp, [bus.link for bus in buses], 4, period_ms=period_ms), f)
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        unit = ControllerProcess(config, os.path.join(tmp, "journal.log"), python=python, command=command)
        try:
            unit.start()
            ready_s = unit.wait_ready(READY_TIMEOUT_S)
            time.sleep(seconds)  # the measurement window: the process runs on its own clock
            stats = status(os.path.join(tmp, "control.sock"))
            assert unit.pid is not None
            rss = rss_kib(unit.pid)
        finally:
            unit.close()
            if hog is not None:
                hog.kill()
                hog.wait()
            for bus in buses:
                bus.close()
        scan = stats["scan"]
        polled = sum(bus.stats["replies"] for bus in buses)
        return {"period_ms": period_ms, "load": "busy" if busy else "idle", "ready_s": round(ready_s, 2),
                "rss_kib": rss, "scans": scan["scans"], "overruns": scan["overruns"],
                "jitter": scan["start_jitter"], "execution": scan["execution"], "requests_answered": polled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(period, args.seconds, busy) for busy in (False, True) for period in PERIODS_MS]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("gaslatch-unit run: 8 detectors on 2 pty buses, %g s per run" % args.seconds)
    print("%-5s %7s %6s %8s %8s %8s %8s %9s %9s %8s" % ("load", "period", "scans", "overruns", "jit p50",
                                                        "jit p99", "jit max", "exec p99", "RSS", "READY"))
    for r in results:
        j = r["jitter"]
        print("%-5s %5dms %6d %8d %6dus %6dus %6dus %7dus %6dKiB %7.2fs" % (
            r["load"], r["period_ms"], r["scans"], r["overruns"], j["p50_us"], j["p99_us"], j["max_us"],
            r["execution"]["p99_us"], r["rss_kib"], r["ready_s"]))
    worst = max(r["rss_kib"] for r in results)
    print("RSS %d KiB = %.0f%% of the 40 MiB target" % (worst, 100.0 * worst / RSS_TARGET_KIB))


if __name__ == "__main__":
    main()
