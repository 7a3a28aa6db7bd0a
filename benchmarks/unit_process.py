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
import threading
import time

from gaslatch_tools.pty_detectors import PtyDetectorBus

PERIODS_MS = (100, 20)
RSS_TARGET_KIB = 40 * 1024
# What systemd starts (deploy/gaslatch.service), as a module of this interpreter; --config PATH follows.
UNIT_COMMAND = ("-m", "gaslatch.unit", "run")


def write_config(tmp: str, period_ms: int, links: list[str]) -> str:
    detectors = {}
    for i in range(8):
        bus = i % 2
        detectors["d%d" % (i + 1)] = {"kind": "modbus", "bus": "bus%d" % (bus + 1), "address": i // 2 + 1,
                                      "profile": "cn-generic"}
    doc = {
        "unit": {"site": "bench", "name": "unit-1"},
        "scan": {"period_ms": period_ms},
        "buses": {"bus%d" % (i + 1): {"port": link, "baud": 9600} for i, link in enumerate(links)},
        "detectors": detectors,
        "gpio": {"backend": "sim", "sim_dir": os.path.join(tmp, "gpio")},
        "lines": {"valve": {"pin": 17}, "reset_button": {"pin": 5}, "fan": {"pin": 19}, "sounder": {"pin": 13},
                  "beacon": {"pin": 26}, "fault_relay": {"pin": 6}},
        "store": {"path": os.path.join(tmp, "events.db")},
        "control": {"socket": os.path.join(tmp, "control.sock"), "group": "root"},
        "watchdog": {"device": ""},
    }
    path = os.path.join(tmp, "config.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


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
        buses = [PtyDetectorBus(os.path.join(tmp, "tty%d" % i), [1, 2, 3, 4]) for i in range(2)]
        config = write_config(tmp, period_ms, [bus.link for bus in buses])
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        started = time.monotonic()
        proc = subprocess.Popen([python, *command, "--config", config],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def watch():
            for line in proc.stdout:
                if "ready" in line:
                    ready.set()

        threading.Thread(target=watch, daemon=True).start()
        try:
            if not ready.wait(30):
                raise RuntimeError("%s did not become ready" % " ".join(command))
            ready_s = time.monotonic() - started
            time.sleep(seconds)  # the measurement window: the process runs on its own clock
            stats = status(os.path.join(tmp, "control.sock"))
            rss = rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
            if hog is not None:
                hog.kill()
                hog.wait()
            for bus in buses:
                bus.close()
        scan = stats["scan"]
        polled = sum(bus.requests for bus in buses)
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
