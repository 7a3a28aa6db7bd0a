"""Trip latency: from an emulated detector's register reaching the high alarm to the real controller's valve line.

The real `gaslatch run` (ControllerProcess, the bench's controller configuration: 100 ms scan, hold valve, sim GPIO)
polls N cn-generic EmulatedDetectors on one 9600-baud 8N1 EmulatedBus (1 ms turnaround); KitchenIO plays the
kitchen's lines, polling the sim GPIO files every 1 ms. Each detector's gas is a settable value, and its
registers follow it at once: the instant the bench sets 50 %LEL (high alarm 25 %LEL) is the instant the register
reaches it. A trip cycle, rotating over the detectors: a random wait (uniform over one sample interval, so the
step falls at every phase of the poll schedule), gas to 50 %LEL, the valve line going inactive (KitchenIO's
trace), gas to 0, the detector normal again (status over the control socket), the reset button pressed, the
valve line active again.

Theory, per configuration (N detectors, confirm_samples C):
  transaction  = request 8 + reply 25 bytes at 10 bits/char + 1 ms turnaround + 3.5-char gap = 39.02 ms
  bus round    = N x transaction
  sample interval SI = max(cn-generic's min_poll_interval_ms 500, bus round)
  bound        = SI x C + one transaction + 2 x scan period (100 ms)
i.e. up to one SI before the first poll that reads the gas, (C - 1) SIs of confirmation, the reply of the
confirming poll, and two scans (the one that takes the result and sets the valve, and one of margin).
The confirmation "window": alarm.confirm_samples C consecutive samples at or above the high set point, or the
level holding for alarm.confirm_window_ms (default 2000 ms), whichever comes first (detector_state._confirm). It
is measured at C = 2 (default; the 2nd sample, one SI after the first, always comes before 2000 ms here) and at
C = 1 (the minimum: the first high sample confirms; confirm_window_ms = 0 would do the same).

    .venv/bin/python benchmarks/trip_latency.py --all [--jobs 3] [--trips 200] [--quick] [--json]
    .venv/bin/python benchmarks/trip_latency.py --detectors 8 --confirm 1 [--trips 200] [--quick] [--json]

--all runs the six configurations (1, 8, 16 detectors x C = 2, 1) as parallel processes, --jobs at a time
(about 15 minutes with 200 trips and 3 jobs); --quick is 20 trips per configuration. Prints a table, then one
JSON line (only the JSON document with --json).
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from gaslatch.core import constants
from gaslatch.core.detector_profile import load_profile
from gaslatch.unit.control_client import ControlClient, ControlUnreachable
from gaslatch_tools.bench import scenario as S
from gaslatch_tools.testing.controller_process import ControllerProcess
from gaslatch_tools.bench.emulated_bus import EmulatedBus
from gaslatch_tools.bench.emulated_detector import EmulatedDetector
from gaslatch_tools.bench.kitchen_io import KitchenIO
from report_output import finish  # noqa: E402  (benchmarks/, beside this script)

PROFILE = "cn-generic"
BAUD = 9600
BITS_PER_CHAR = 10  # 8N1
REQUEST_BYTES = 8
REPLY_BYTES = 5 + 2 * 10  # cn-generic reads 10 holding registers
TURNAROUND_MS = 1.0
SCAN_PERIOD_MS = 100  # the bench's controller configuration (scenario.controller_document)
HIGH_GAS_PCT = 50.0
CONFIGS = ((16, 2), (16, 1), (8, 2), (8, 1), (1, 2), (1, 1))  # longest first, for --all
KITCHEN_POLL_S = 0.001
RESET_HOLD_S = 0.5  # as the bench's timeline presses: several 100 ms scans and the 20 ms debounce see it
RESET_PRESSES = 3
STATUS_POLL_S = 0.05
WATCH_S = 0.002  # how often the bench looks at KitchenIO's levels (the trace has the 1 ms times)
READY_TIMEOUT_S = 30.0
ARM_TIMEOUT_S = 20.0
NORMAL_TIMEOUT_S = 20.0
VALVE_OPEN_TIMEOUT_S = 2.0  # per press
REALTIME_PRIORITY = 40  # `gaslatch run` takes SCHED_FIFO 50 when it may (runtime._enter_realtime)


def theory(n_detectors: int, confirm_samples: int) -> dict:
    """The configuration's bus round, sample interval, confirmation window and latency bound (ms)."""
    char_ms = BITS_PER_CHAR * 1000.0 / BAUD
    transaction_ms = (REQUEST_BYTES + REPLY_BYTES) * char_ms + TURNAROUND_MS + 3.5 * char_ms
    round_ms = n_detectors * transaction_ms
    interval_ms = max(load_profile(PROFILE).min_poll_interval_ms, round_ms)
    window_ms = min((confirm_samples - 1) * interval_ms, constants.DEFAULT_CONFIRM_WINDOW_MS)
    bound_ms = interval_ms * confirm_samples + transaction_ms + 2 * SCAN_PERIOD_MS
    return {"transaction_ms": round(transaction_ms, 2), "bus_round_ms": round(round_ms, 1),
            "sample_interval_ms": round(interval_ms, 1), "confirm_window_ms": round(window_ms, 1),
            "bound_ms": round(bound_ms, 1)}


def percentile(values: list[float], percent: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * percent // 100) - 1))]


def summary(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {"p50": round(percentile(values, 50), 1), "p99": round(percentile(values, 99), 1),
            "max": round(max(values), 1)}


class SettableGas:
    """The gas at one detector: whatever the bench last set, at every instant (no lag, no noise)."""

    def __init__(self) -> None:
        self.pct = 0.0

    def sensed_pct(self, t_s: float) -> float:
        return self.pct

    true_pct = sensed_pct


class RecordingDetector(EmulatedDetector):
    """An EmulatedDetector noting when a read of its own address found the gas at or above HIGH_GAS_PCT."""

    def __init__(self, *args, **kwargs) -> None:
        EmulatedDetector.__init__(self, *args, **kwargs)
        self.high_reads: list[float] = []

    def respond(self, frame: bytes, now_s: float) -> bytes | None:
        t_s = time.monotonic()
        high = self.gas.pct >= HIGH_GAS_PCT
        reply = EmulatedDetector.respond(self, frame, now_s)
        if reply and high and frame[0] == self.address:
            self.high_reads.append(t_s)
        return reply


class BenchError(Exception):
    """The bench could not go on (the controller did not arm, reset or trip as expected); the message says why."""


class TripBench:
    """One configuration: the emulated bus and detectors, the kitchen, the real controller."""

    def __init__(self, n_detectors: int, confirm_samples: int, workdir: str):
        self.link = os.path.join(workdir, "tty-bus1")
        self.control_socket = os.path.join(workdir, "control.sock")
        self.names = ["d%02d" % (i + 1) for i in range(n_detectors)]
        scenario = {
            "name": "trip-latency-%d-%d" % (n_detectors, confirm_samples),
            "buses": {"bus1": {"baud": BAUD, "parity": "N", "stop_bits": 1, "turnaround_ms": TURNAROUND_MS}},
            "detectors": {name: {"bus": "bus1", "address": i + 1, "profile": PROFILE, "config": {}}
                          for i, name in enumerate(self.names)},
            "controller": {"alarm": {"confirm_samples": confirm_samples}},
        }
        group = grp.getgrgid(os.getgid()).gr_name
        doc = S.controller_document(scenario, workdir, {"bus1": self.link}, self.control_socket, group)
        self.config = S.controller_config(doc, "trip_latency")
        self.config_path = os.path.join(workdir, "controller.json")
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
        self.bus = EmulatedBus(self.link, BAUD, "N", 1, TURNAROUND_MS, clock=time.monotonic)
        self.gases = {name: SettableGas() for name in self.names}
        self.detectors = {name: RecordingDetector(PROFILE, i + 1, self.gases[name], clock=time.monotonic, baud=BAUD,
                                                  parity="N", stop_bits=1)
                          for i, name in enumerate(self.names)}
        for detector in self.detectors.values():
            self.bus.add(detector)
        self.kitchen = KitchenIO.from_config(self.config, clock=time.monotonic, t0_s=0.0, poll_s=KITCHEN_POLL_S)
        self.controller = ControllerProcess(self.config_path, os.path.join(workdir, "journal.log"))
        self.client: ControlClient | None = None
        self.extra_presses = 0

    def __enter__(self) -> TripBench:
        self.bus.start()
        self.kitchen.start()
        self.controller.start()
        self.controller.wait_ready(READY_TIMEOUT_S)
        return self

    def __exit__(self, *_exc) -> None:
        if self.client is not None:
            self.client.close()
        try:
            self.controller.close()
        finally:
            self.kitchen.close()
            self.bus.close()

    # ---- the controller over its control socket ----

    def status(self) -> dict | None:
        try:
            if self.client is None:
                self.client = ControlClient(self.control_socket, timeout_s=2.0)
            reply = self.client.request("status")
        except (ControlUnreachable, OSError, ValueError):
            if self.client is not None:
                self.client.close()
            self.client = None
            return None
        return reply.get("status") if reply.get("ok") else None

    def wait_status(self, predicate, timeout_s: float, what: str) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status()
            if status is not None and predicate(status):
                return status
            if time.monotonic() > deadline:
                states = {n: d["state"] for n, d in (status or {"detectors": {}})["detectors"].items()}
                raise BenchError("%s not within %g s (detectors %s; journal: %s)" % (
                    what, timeout_s, states, " | ".join(self.controller.journal_lines()[-3:])))
            time.sleep(STATUS_POLL_S)

    def wait_valve(self, level: bool, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.kitchen.snapshot().get("valve") is not level:
            if time.monotonic() > deadline:
                return False
            time.sleep(WATCH_S)
        return True

    def reset(self) -> None:
        """Every detector normal, then the reset button; returns once the valve line is active."""
        self.wait_status(lambda s: all(d["state"] == "normal" for d in s["detectors"].values()),
                         NORMAL_TIMEOUT_S, "every detector normal")
        for press in range(RESET_PRESSES):
            if press:
                self.extra_presses += 1
                time.sleep(RESET_HOLD_S)  # let go first: only a press after a seen release counts
            self.kitchen.press("reset_button", hold_s=RESET_HOLD_S)
            if self.wait_valve(True, VALVE_OPEN_TIMEOUT_S):
                return
        status = self.status() or {}
        raise BenchError("the valve did not open after %d reset presses (kitchen %s; latched %s, valve fault %r; "
                         "journal: %s)" % (RESET_PRESSES, self.kitchen.snapshot(), status.get("latched"),
                                           status.get("valve_fault"),
                                           " | ".join(self.controller.journal_lines()[-8:])))

    # ---- the trips ----

    def trip(self, name: str, timeout_s: float) -> dict:
        """One step of gas on `name`; the latency to the valve line going inactive (ms), or a miss."""
        detector = self.detectors[name]
        detector.high_reads = []
        mark = len(self.kitchen.trace())
        t_set = time.monotonic()
        self.gases[name].pct = HIGH_GAS_PCT
        closed = self.wait_valve(False, timeout_s)
        self.gases[name].pct = 0.0
        if not closed:
            return {"detector": name, "missed": True}
        t_valve = next(change.t_s for change in self.kitchen.trace()[mark:]
                       if change.line == "valve" and change.level is False)
        first_read = next((t for t in detector.high_reads if t >= t_set), None)
        return {"detector": name, "missed": False, "latency_ms": (t_valve - t_set) * 1000,
                "to_first_high_read_ms": None if first_read is None else (first_read - t_set) * 1000,
                "high_reads": len(detector.high_reads)}


def enter_realtime() -> str:
    """SCHED_FIFO 40 for this process's threads (created after), below the controller's own 50: the emulated bus
    and kitchen stand in for hardware, whose timing a loaded machine should disturb as little as can be."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
    except (PermissionError, OSError) as exc:
        return "SCHED_OTHER (SCHED_FIFO refused: %s)" % exc
    return "SCHED_FIFO %d" % REALTIME_PRIORITY


def run_config(n_detectors: int, confirm_samples: int, trips: int, seed: int, progress) -> dict:
    """Measures one configuration: `trips` trips, rotating over the detectors."""
    expected = theory(n_detectors, confirm_samples)
    rng = random.Random(seed)
    timeout_s = 3 * expected["bound_ms"] / 1000 + 5
    workdir = tempfile.mkdtemp(prefix="glbt-", dir="/tmp")  # short: UNIX socket paths
    started = time.monotonic()
    results = []
    try:
        with TripBench(n_detectors, confirm_samples, workdir) as bench:
            bench.reset()  # arming: every detector normal, then the valve opened
            policy = os.sched_getscheduler(bench.controller.pid)
            controller_policy = {os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_RR: "SCHED_RR"}.get(policy, "SCHED_OTHER")
            for index in range(trips):
                name = bench.names[index % n_detectors]
                time.sleep(rng.uniform(0, expected["sample_interval_ms"] / 1000))  # the random phase itself
                results.append(bench.trip(name, timeout_s))
                bench.reset()
                if (index + 1) % 20 == 0:
                    done = [r["latency_ms"] for r in results if not r["missed"]]
                    progress("%d det C=%d: %d/%d trips, p50 %.0f ms, max %.0f ms" % (
                        n_detectors, confirm_samples, index + 1, trips, percentile(done, 50) if done else 0,
                        max(done) if done else 0))
            bus_stats = bench.bus.stats
            extra_presses = bench.extra_presses
            journal_errors = [line for line in bench.controller.journal_lines() if "error" in line.lower()][:5]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    latencies = [r["latency_ms"] for r in results if not r["missed"]]
    first_reads = [r["to_first_high_read_ms"] for r in results
                   if not r["missed"] and r["to_first_high_read_ms"] is not None]
    after_first = [r["latency_ms"] - r["to_first_high_read_ms"] for r in results
                   if not r["missed"] and r["to_first_high_read_ms"] is not None]
    measured = summary(latencies)
    ratio = round(measured["p99"] / expected["bound_ms"], 3) if measured["p99"] is not None else None
    return {"detectors": n_detectors, "confirm_samples": confirm_samples,
            "confirm_window_ms_setting": constants.DEFAULT_CONFIRM_WINDOW_MS, "trips": len(latencies),
            "missed": sum(1 for r in results if r["missed"]), "latency_ms": measured,
            "to_first_high_read_ms": summary(first_reads), "first_high_read_to_valve_ms": summary(after_first),
            "theory": expected, "p99_to_bound": ratio,
            "passed": ratio is not None and ratio <= 1.0 and not any(r["missed"] for r in results),
            "bus": {key: bus_stats[key] for key in ("requests", "replies", "collisions", "garbage_bytes",
                                                    "reply_late_us_mean", "reply_late_us_max")},
            "journal_errors": journal_errors, "controller_scheduling": controller_policy,
            "extra_reset_presses": extra_presses,
            "run_s": round(time.monotonic() - started, 1)}


def run_all(configs: list[tuple[int, int]], trips: int, seed: int, jobs: int, realtime: bool,
            progress) -> list[dict]:
    """Each configuration in a process of its own (this script), `jobs` at a time; results in CONFIGS order."""
    pending = list(configs)
    running: list[tuple[tuple[int, int], subprocess.Popen, threading.Thread, list[str]]] = []
    done: dict[tuple[int, int], dict] = {}
    while pending or running:
        while pending and len(running) < jobs:
            config = pending.pop(0)
            argv = [sys.executable, os.path.abspath(__file__), "--detectors", str(config[0]), "--confirm",
                    str(config[1]), "--trips", str(trips), "--seed", str(seed), "--child"] + (
                ["--realtime"] if realtime else [])
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            lines: list[str] = []
            relay = threading.Thread(target=_relay, args=(proc.stderr, progress, lines), daemon=True)
            relay.start()
            running.append((config, proc, relay, lines))
        for item in list(running):
            config, proc, relay, lines = item
            if proc.poll() is None:
                continue
            running.remove(item)
            out = proc.stdout.read()
            relay.join(5)
            try:
                done[config] = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                done[config] = {"detectors": config[0], "confirm_samples": config[1], "error": "exit %s: %s" % (
                    proc.returncode, " | ".join(lines[-5:]) or out[-500:])}
        time.sleep(0.2)
    return [done[config] for config in configs]


def _relay(stream, progress, lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip())
        progress(line.rstrip())


def print_table(doc: dict) -> None:
    print("Trip latency: gas step to valve line, real `gaslatch run`, one 9600-baud bus, %s trips per configuration; "
          "%s; load average %s at start, %s at end (%d CPUs)" % (
              doc["trips_requested"], doc["scheduling"], doc["load_average_start"], doc["load_average_end"],
              doc["cpus"]))
    print("bound = SI x C + one transaction (%.2f ms) + 2 x %d ms scan; window = confirmation after the first high "
          "sample (confirm_samples C, or confirm_window_ms %d, whichever first)" % (
              theory(1, 1)["transaction_ms"], SCAN_PERIOD_MS, constants.DEFAULT_CONFIRM_WINDOW_MS))
    print("%4s %2s %6s %6s %7s %7s %7s %8s %7s %7s %7s %8s %6s %10s" % (
        "det", "C", "trips", "missed", "p50", "p99", "max", "round", "SI", "window", "bound", "p99/bnd", "pass",
        "1st read"))
    for r in doc["configurations"]:
        if "error" in r:
            print("%4d %2d  failed: %s" % (r["detectors"], r["confirm_samples"], r["error"]))
            continue
        lat, th = r["latency_ms"], r["theory"]
        print("%4d %2d %6d %6d %7.1f %7.1f %7.1f %8.1f %7.1f %7.1f %7.1f %8.3f %6s %10s" % (
            r["detectors"], r["confirm_samples"], r["trips"], r["missed"], lat["p50"], lat["p99"], lat["max"],
            th["bus_round_ms"], th["sample_interval_ms"], th["confirm_window_ms"], th["bound_ms"],
            r["p99_to_bound"], "yes" if r["passed"] else "NO", "%s" % r["to_first_high_read_ms"]["max"]))
    print("(ms; `1st read` = max wait from the gas step to the first poll that read it, at most one SI)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every configuration, --jobs processes at a time")
    which.add_argument("--detectors", type=int, help="detectors on the bus (one configuration)")
    parser.add_argument("--confirm", type=int, default=constants.DEFAULT_CONFIRM_SAMPLES,
                        help="alarm.confirm_samples (default %d; minimum 1)" % constants.DEFAULT_CONFIRM_SAMPLES)
    parser.add_argument("--trips", type=int, help="trips per configuration (default 200; --quick 20)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 trips per configuration")
    parser.add_argument("--jobs", type=int, default=3, help="configurations at once with --all (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random phase of the gas steps")
    parser.add_argument("--realtime", action="store_true",
                        help="the bench's emulated bus and kitchen under SCHED_FIFO %d (below the controller's)"
                        % REALTIME_PRIORITY)
    parser.add_argument("--json", action="store_true", help="print only the JSON document")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # --all's worker: one JSON line
    args = parser.parse_args()
    trips = args.trips or (20 if args.quick else 200)

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    load_start = "%.2f %.2f %.2f" % os.getloadavg()
    started = time.monotonic()
    if args.all:
        configurations = run_all(list(CONFIGS), trips, args.seed, max(1, args.jobs), args.realtime, progress)
        scheduling = "bench SCHED_FIFO %d" % REALTIME_PRIORITY if args.realtime else "bench SCHED_OTHER"
    else:
        scheduling = "bench " + (enter_realtime() if args.realtime else "SCHED_OTHER")
        if args.detectors < 1 or not 1 <= args.confirm <= constants.MAX_CONFIRM_SAMPLES:
            parser.error("--detectors must be at least 1 and --confirm 1..%d" % constants.MAX_CONFIRM_SAMPLES)
        try:
            configurations = [run_config(args.detectors, args.confirm, trips, args.seed, progress)]
        except BenchError as err:
            sys.exit("trip_latency: %s" % err)
        if args.child:
            print(json.dumps(configurations[0], sort_keys=True))
            return
    doc = {"trips_requested": trips, "scheduling": scheduling, "jobs": args.jobs if args.all else 1, "seed": args.seed,
           "load_average_start": load_start, "load_average_end": "%.2f %.2f %.2f" % os.getloadavg(),
           "cpus": os.cpu_count(), "python": sys.version.split()[0], "configurations": configurations,
           "run_s": round(time.monotonic() - started, 1)}
    finish(doc, args.json, print_table)


if __name__ == "__main__":
    main()
