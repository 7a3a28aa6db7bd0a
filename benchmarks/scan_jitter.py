"""Measures start jitter and overruns of the real-clock scan loop doing full kitchen scans (8 detectors).

Prints the figures recorded in docs/benchmarks.md: p50/p99/max start jitter at 100 ms and 10 ms periods,
idle and with a busy-loop process loading the other core.

    .venv/bin/python benchmarks/scan_jitter.py [--seconds 20] [--busy | --both] [--realtime] [--json]
"""

import argparse
import json
import subprocess
import sys

from gaslatch.core.scan_loop import RealClock, ScanLoop
from gaslatch.unit.realtime import enter_realtime

PERIODS_MS = (100, 10)
N_DETECTORS = 8


def load_kitchen_sim():
    try:
        from gaslatch_tools.kitchen_sim import KitchenSim
    except ImportError as exc:
        sys.exit(
            "scan_jitter: cannot import gaslatch_tools.kitchen_sim.KitchenSim (%s); the benchmark needs "
            "the kitchen simulation for its per-scan work" % exc
        )
    return KitchenSim


def measure(kitchen_sim_class, period_ms: int, seconds: float) -> dict:
    """Runs the real-clock loop for `seconds` and returns its stats as a dict."""
    kitchen = kitchen_sim_class(n_detectors=N_DETECTORS)
    loop = ScanLoop(period_ms, RealClock(), kitchen.scan)
    loop.run(max_scans=max(1, int(seconds * 1000 // period_ms)))
    return loop.stats.as_dict()


def run_under_load(kitchen_sim_class, busy: bool, seconds: float) -> list[dict]:
    """Measures every period, with a busy-loop subprocess running throughout when busy."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        results = []
        for period_ms in PERIODS_MS:
            stats = measure(kitchen_sim_class, period_ms, seconds)
            p99_us = stats["start_jitter"]["p99_us"]
            results.append({
                "load": "busy" if busy else "idle",
                "period_ms": period_ms,
                "p99_jitter_to_period": p99_us / (period_ms * 1000),
                "stats": stats,
            })
        return results
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def print_table(results: list[dict]) -> None:
    header = ("load", "period", "scans", "overruns", "missed", "jit p50", "jit p99", "jit max", "p99/period",
              "exec p99")
    print("%-5s %7s %6s %8s %6s %8s %8s %8s %10s %8s" % header)
    for result in results:
        stats = result["stats"]
        jitter = stats["start_jitter"]
        print("%-5s %5sms %6d %8d %6d %6sus %6sus %6sus %9.3f%% %6sus" % (
            result["load"], result["period_ms"], stats["scans"], stats["overruns"], stats["missed_deadlines"],
            jitter["p50_us"], jitter["p99_us"], jitter["max_us"], 100 * result["p99_jitter_to_period"],
            stats["execution"]["p99_us"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run (default 20)")
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--busy", action="store_true", help="load the other core with a busy-loop process")
    load.add_argument("--both", action="store_true", help="run idle, then busy")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--realtime", action="store_true", help="run under SCHED_FIFO with gc.freeze(), as on the unit")
    args = parser.parse_args()
    mode = enter_realtime() if args.realtime else "SCHED_OTHER"

    kitchen_sim_class = load_kitchen_sim()
    loads = (False, True) if args.both else (args.busy,)
    results = [result for busy in loads for result in run_under_load(kitchen_sim_class, busy, args.seconds)]
    if args.json:
        document = {"seconds_per_run": args.seconds, "n_detectors": N_DETECTORS, "scheduling": mode, "runs": results}
        print(json.dumps(document, indent=2))
    else:
        print("scheduling: %s; %d simulated detectors; %g s per run" % (mode, N_DETECTORS, args.seconds))
        print_table(results)


if __name__ == "__main__":
    main()
