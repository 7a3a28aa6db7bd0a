"""Measures what the core costs per scan (CPython and the MicroPython WebAssembly port) and the peak
MicroPython heap it needs for 8 detectors: the figures recorded in docs/benchmarks.md.

The measuring half is written in the MicroPython-compatible subset and this very file is uploaded into
MicroPython, so both interpreters run the same workload with the same code; only the clock differs.

    .venv/bin/python benchmarks/core_cost.py [--scans 3000] [--repeats 3] [--json]

The WebAssembly port collects garbage only between calls from JavaScript (gc.collect() inside a running
script merely asks for it), so under MicroPython the measurements run as a generator resumed from the
JavaScript event loop: every `yield` returns to the top level, where the requested collection happens.
"""

import gc

DETECTOR_COUNTS = (1, 8, 32)
HEAP_DETECTORS = 8
DEFAULT_SCANS = 3000
DEFAULT_REPEATS = 3
CHUNK_SCANS = 100  # scans timed per resumption; the port collects garbage between chunks
HEAP_TARGET_BYTES = 64 * 1024
MICROPYTHON_TIMEOUT_S = 600.0


class LeakCycle:
    """The stimuli, decided once a simulated second from what the kitchen shows: reset until the valve
    opens, run 10 s, leak 30 %LEL on d1 until the valve trips, clear the gas, reset; over and over.

    Driven by state rather than a timetable, so 1 or 32 detectors (slower poll rounds) both go through
    whole cycles; deterministic, so CPython and MicroPython run the very same scans.
    """

    DECIDE_EVERY_SCANS = 10
    OPEN_SCANS_BEFORE_LEAK = 100
    LEAK_TENTHS_PCT_LEL = 300

    def __init__(self):
        self.open_scans = 0

    def before_scan(self, sim, index):
        valve_open = sim.outputs.get("valve", False)
        self.open_scans = self.open_scans + 1 if valve_open else 0
        if index % self.DECIDE_EVERY_SCANS:
            return
        gas = sim.sim_detectors["d1"].gas_tenths_pct_lel
        if not valve_open:
            if gas:
                sim.set_gas("d1", 0)
            else:
                sim.press("reset_button")
        elif gas == 0 and self.open_scans >= self.OPEN_SCANS_BEFORE_LEAK:
            sim.set_gas("d1", self.LEAK_TENTHS_PCT_LEL)


def gas_trips(records):
    """How many event records are trips caused by gas: proof that a run went through the leak."""
    return len([r for r in records if r["type"] == "trip" and r["reason"].startswith("gas:")])


def _chunks(scans):
    """(first, end) scan index ranges of at most CHUNK_SCANS."""
    return [(first, min(first + CHUNK_SCANS, scans)) for first in range(0, scans, CHUNK_SCANS)]


def _record_steps(sim, calls):
    """Wraps sim.controller.step so each call's arguments are kept (copied) for a replay."""
    step = sim.controller.step

    def recording_step(now_ms, rx_by_bus=None, inputs=None, analog_ua=None, wall=None):
        calls.append((now_ms, dict(rx_by_bus or {}), dict(inputs or {}), analog_ua, wall))
        return step(now_ms, rx_by_bus, inputs, analog_ua, wall)

    sim.controller.step = recording_step


def cost_stages(n_detectors, scans, repeats, now, elapsed_us, results):
    """Generator: appends mean µs per KitchenSim.scan and per Controller.step alone to results.

    now() reads a clock, elapsed_us(start, end) turns two readings into µs. Only whole chunks of scans
    are timed, so a coarse clock (1 ms in the WebAssembly port) costs little; collections happen at the
    yields, outside the timed intervals. Each figure is the best of `repeats` runs. The step figure
    replays the recorded inputs of an identical run into a fresh Controller, with no simulated world.
    """
    from gaslatch.core.controller import Controller
    from gaslatch_tools.kitchen_sim import KitchenSim

    best_scan_us = None
    for _ in range(repeats):
        sim = KitchenSim(n_detectors=n_detectors)
        cycle = LeakCycle()
        scan_us = 0
        events = 0
        trips = 0
        for first, end in _chunks(scans):
            start = now()
            for index in range(first, end):
                cycle.before_scan(sim, index)
                sim.scan(index * sim.period_ms)
            scan_us += elapsed_us(start, now())
            events += len(sim.events)
            trips += gas_trips(sim.events)
            sim.events = []
            gc.collect()
            yield
        best_scan_us = scan_us if best_scan_us is None else min(best_scan_us, scan_us)

    recorded = KitchenSim(n_detectors=n_detectors)
    cycle = LeakCycle()
    calls = []
    _record_steps(recorded, calls)
    for first, end in _chunks(scans):
        for index in range(first, end):
            cycle.before_scan(recorded, index)
            recorded.scan(index * recorded.period_ms)
        recorded.events = []
        gc.collect()
        yield

    profiles = {"cn-generic": recorded.controller.profiles["d1"]}
    best_step_us = None
    for _ in range(repeats):
        controller = Controller(recorded.cfg, profiles, 0)
        step_us = 0
        replay_events = 0
        for first, end in _chunks(scans):
            start = now()
            for index in range(first, end):
                now_ms, rx_by_bus, inputs, analog_ua, wall = calls[index]
                replay_events += len(controller.step(now_ms, rx_by_bus, inputs, analog_ua, wall).events)
            step_us += elapsed_us(start, now())
            gc.collect()
            yield
        if replay_events != events:
            raise RuntimeError("the replay produced %d events, the kitchen %d: the step figure is not the same "
                               "work" % (replay_events, events))
        best_step_us = step_us if best_step_us is None else min(best_step_us, step_us)
    results.append({"n_detectors": n_detectors, "scans": scans, "repeats": repeats,
                    "scan_us": best_scan_us / scans, "step_us": best_step_us / scans, "events": events,
                    "gas_trips": trips})


def all_cost_stages(scans, repeats, now, elapsed_us, results):
    for n_detectors in DETECTOR_COUNTS:
        yield from cost_stages(n_detectors, scans, repeats, now, elapsed_us, results)


def heap_stages(n_detectors, scans, result):
    """Generator: gc.mem_alloc() at each stage and around every scan, into result (MicroPython only).

    Each reading is taken right after a collection at the top level, except the one right after a scan: the
    live heap before a scan plus everything the scan allocated, an upper bound on its peak.
    """
    gc.collect()
    yield
    result["at_start"] = gc.mem_alloc()
    # Every core module kitchen_sim needs, so the next reading separates the core from the simulation.
    from gaslatch.core import config, controller, detector_profile, events, modbus_master, modbus_rtu
    gc.collect()
    yield
    result["after_core_import"] = gc.mem_alloc()
    from gaslatch_tools.kitchen_sim import KitchenSim
    gc.collect()
    yield
    result["after_sim_import"] = gc.mem_alloc()
    sim = KitchenSim(n_detectors=n_detectors)
    result["build_with_garbage"] = gc.mem_alloc()
    gc.collect()
    yield
    result["after_build"] = gc.mem_alloc()
    spare = controller.Controller(sim.cfg, {"cn-generic": sim.controller.profiles["d1"]}, 0)
    gc.collect()
    yield
    result["controller_bytes"] = gc.mem_alloc() - result["after_build"]
    del spare
    gc.collect()
    yield
    cycle = LeakCycle()
    peak_live = 0
    peak_with_garbage = 0
    allocated = 0
    events = 0
    trips = 0
    for index in range(scans):
        live = gc.mem_alloc()
        peak_live = max(peak_live, live)
        cycle.before_scan(sim, index)
        sim.scan(index * sim.period_ms)
        with_garbage = gc.mem_alloc()
        peak_with_garbage = max(peak_with_garbage, with_garbage)
        allocated += with_garbage - live
        events += len(sim.events)
        trips += gas_trips(sim.events)
        sim.events = []
        gc.collect()
        yield
    result.update({"n_detectors": n_detectors, "scans": scans, "events": events, "gas_trips": trips,
                   "peak_live": peak_live, "peak_with_scan_garbage": peak_with_garbage,
                   "allocated_per_scan": allocated // scans})


def run_at_top_level(stages, result):
    """MicroPython WebAssembly only: resumes stages from the JavaScript event loop, then writes result.

    Output goes straight to the host process, as the harness has flushed MicroPython's stdout by then;
    an exception writes its traceback to stderr and makes the process exit 1.
    """
    import io
    import json
    import sys

    import js

    def resume(*_):
        try:
            next(stages)
        except StopIteration:
            js.process.stdout.write(json.dumps(result) + "\n")
            return
        except Exception as exc:  # any failure: reported to the host as a failed run
            text = io.StringIO()
            sys.print_exception(exc, text)
            js.process.stderr.write(text.getvalue())
            js.process.exitCode = 1
            return
        js.setImmediate(resume)

    js.setImmediate(resume)


def micropython_costs(scans, repeats):
    """Entry point inside MicroPython: the cost figures, timed with time.ticks_us, as one JSON line."""
    import time

    def elapsed_us(start, end):
        return time.ticks_diff(end, start)

    results = []
    run_at_top_level(all_cost_stages(scans, repeats, time.ticks_us, elapsed_us, results), results)


def micropython_heap(n_detectors, scans):
    """Entry point inside MicroPython: the heap figures as one JSON line."""
    result = {}
    run_at_top_level(heap_stages(n_detectors, scans, result), result)


# Everything below runs on the host (CPython) only.

def _micropython_files() -> dict[str, str]:
    """This file and kitchen_sim.py (with its package marker), keyed by their MicroPython FS path."""
    from pathlib import Path

    from gaslatch_tools import kitchen_sim

    return {
        "/lib/gaslatch_tools/__init__.py": "",
        "/lib/gaslatch_tools/kitchen_sim.py": Path(kitchen_sim.__file__).read_text(encoding="utf-8"),
        "/lib/core_cost.py": Path(__file__).read_text(encoding="utf-8"),
    }


def _micropython_json(call: str) -> object:
    import json

    from gaslatch_tools.micropython_runner import run_micropython

    out = run_micropython("import core_cost\ncore_cost.%s\n" % call, extra_files=_micropython_files(),
                          timeout_s=MICROPYTHON_TIMEOUT_S)
    return json.loads(out)


def _cpython_costs(scans: int, repeats: int) -> list[dict]:
    import time

    def elapsed_us(start: int, end: int) -> float:
        return (end - start) / 1000.0

    results: list[dict] = []
    for _ in all_cost_stages(scans, repeats, time.perf_counter_ns, elapsed_us, results):
        pass
    return results


def measure(scans: int, repeats: int) -> dict:
    """Every figure: cost on both interpreters, growth per detector, MicroPython heap."""
    cpython = _cpython_costs(scans, repeats)
    micropython = _micropython_json("micropython_costs(%d, %d)" % (scans, repeats))
    rows = []
    for cp, mp in zip(cpython, micropython):
        if mp["events"] != cp["events"] or cp["gas_trips"] == 0:
            raise RuntimeError("%d detectors: CPython %d events (%d gas trips), MicroPython %d: not the same leak "
                               "scenario; try more --scans" % (cp["n_detectors"], cp["events"], cp["gas_trips"],
                                                               mp["events"]))
        rows.append({
            "n_detectors": cp["n_detectors"], "events": cp["events"], "gas_trips": cp["gas_trips"],
            "cpython_scan_us": cp["scan_us"], "cpython_step_us": cp["step_us"],
            "micropython_scan_us": mp["scan_us"], "micropython_step_us": mp["step_us"],
            "scan_ratio": mp["scan_us"] / cp["scan_us"], "step_ratio": mp["step_us"] / cp["step_us"],
        })
    growth = []
    for low, high in ((rows[0], rows[1]), (rows[1], rows[2]), (rows[0], rows[2])):
        span = {"from_detectors": low["n_detectors"], "to_detectors": high["n_detectors"]}
        for key in ("cpython_scan_us", "cpython_step_us", "micropython_scan_us", "micropython_step_us"):
            span[key] = (high[key] - low[key]) / (high["n_detectors"] - low["n_detectors"])
        growth.append(span)
    heap = _micropython_json("micropython_heap(%d, %d)" % (HEAP_DETECTORS, scans))
    if heap["gas_trips"] == 0:
        raise RuntimeError("the heap run never tripped on gas: it did not measure the leak; try more --scans")
    heap["peak_minus_build"] = heap["peak_with_scan_garbage"] - heap["after_build"]
    heap["peak_minus_imports"] = heap["peak_with_scan_garbage"] - heap["after_sim_import"]
    heap["peak_minus_start"] = heap["peak_with_scan_garbage"] - heap["at_start"]
    heap["target_bytes"] = HEAP_TARGET_BYTES
    return {"scans": scans, "repeats": repeats, "period_ms": 100, "chunk_scans": CHUNK_SCANS,
            "scenario": "LeakCycle on d1",
            "cost": rows, "growth_per_detector_us": growth, "heap": heap}


def print_table(result: dict) -> None:
    print("Core cost per scan: mean µs over %d scans of 100 ms (leak cycles on d1), best of %d" % (
        result["scans"], result["repeats"]))
    print("%9s %10s %10s %10s %10s %9s %9s %7s" % (
        "detectors", "CPy scan", "CPy step", "MPy scan", "MPy step", "MPy/CPy", "MPy/CPy", "gas"))
    print("%9s %10s %10s %10s %10s %9s %9s %7s" % ("", "", "", "", "", "scan", "step", "trips"))
    for row in result["cost"]:
        print("%9d %10.1f %10.1f %10.1f %10.1f %8.1fx %8.1fx %7d" % (
            row["n_detectors"], row["cpython_scan_us"], row["cpython_step_us"], row["micropython_scan_us"],
            row["micropython_step_us"], row["scan_ratio"], row["step_ratio"], row["gas_trips"]))
    print("Growth, µs per added detector:")
    for span in result["growth_per_detector_us"]:
        print("  %2d -> %2d detectors: CPy scan %5.2f, step %5.2f; MPy scan %5.1f, step %5.1f" % (
            span["from_detectors"], span["to_detectors"], span["cpython_scan_us"], span["cpython_step_us"],
            span["micropython_scan_us"], span["micropython_step_us"]))
    heap = result["heap"]
    print()
    print("MicroPython heap, %d detectors, %d scans of leak cycles (gc.mem_alloc after a collection, bytes)" % (
        heap["n_detectors"], heap["scans"]))
    lines = (
        ("interpreter and benchmark at start", heap["at_start"]),
        ("+ core modules imported from source", heap["after_core_import"]),
        ("+ kitchen_sim imported", heap["after_sim_import"]),
        ("while building (config, profile parse) incl. garbage", heap["build_with_garbage"]),
        ("+ kitchen and controller built: baseline", heap["after_build"]),
        ("peak live heap between scans", heap["peak_live"]),
        ("peak incl. one scan's garbage", heap["peak_with_scan_garbage"]),
        ("peak - baseline", heap["peak_minus_build"]),
        ("peak - after imports (kitchen state + scan garbage)", heap["peak_minus_imports"]),
        ("peak - start (also the bytecode from source)", heap["peak_minus_start"]),
        ("one Controller object alone (8 detectors)", heap["controller_bytes"]),
        ("allocated per scan (mean)", heap["allocated_per_scan"]),
    )
    for label, value in lines:
        print("  %-52s %8d  %7.1f KiB" % (label, value, value / 1024.0))
    target_kib = heap["target_bytes"] // 1024
    print("  target <= %d KiB: peak - after imports is %s; peak - start is %s (frozen modules keep bytecode in flash)"
          % (target_kib, "within" if heap["peak_minus_imports"] <= heap["target_bytes"] else "OVER",
             "within" if heap["peak_minus_start"] <= heap["target_bytes"] else "OVER"))


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=DEFAULT_SCANS,
                        help="scans of 100 ms per run and detector count (default %d)" % DEFAULT_SCANS)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                        help="timed runs per figure, the best one is kept (default %d)" % DEFAULT_REPEATS)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args()
    if args.scans < CHUNK_SCANS or args.repeats < 1:
        parser.error("--scans must be at least %d and --repeats at least 1" % CHUNK_SCANS)
    result = measure(args.scans, args.repeats)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
