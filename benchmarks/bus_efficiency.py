"""Bus efficiency: the unit's poll rate against the wire-time limit and against blocking Modbus clients, in one run.

Every client polls the same emulated cn-generic detectors (read 10 holding registers from 0, as the profile does)
on the same emulated bus (gaslatch_tools.bench.emulated_bus, 8N1, replies written when their last byte would
have arrived, 1 ms turnaround), each for --seconds:
  ours           the unit's code path: SerialBus + the real Controller's BusMasters + BusPump as the idle of a
                 real-clock ScanLoop (100 ms). Each scan does what Runtime.scan does with the buses (read every
                 port, Controller.step, write what it returns), without lines, store or control socket.
                 9600 baud: 16 detectors with the shipped cn-generic profile (min_poll_interval_ms 500; one
                 round is 16 x 39 ms = 624 ms, so the bus, not the interval, limits). 115200 baud: 24 detectors
                 with a bench copy of cn-generic whose min_poll_interval_ms is lowered to 100 ms and
                 poll_interval_ms 100 (one round is 24 x 5.6 ms = 135 ms; the real profile would need 90
                 detectors on the bus, which the config's 10 s alarm budget refuses).
  pymodbus       ModbusSerialClient (sync, RTU framer, retries 0), round robin over the same addresses.
  minimalmodbus  one Instrument per address on the shared port, round robin.
Plus two 9600-baud buses served by our one loop, and the loop's start jitter with 0 buses (one contact
detector, no port), 1 and 2 buses. Each emulated bus runs in its own process, so the client under test does not
share an interpreter lock with it.

Wire limit per poll = request (8 bytes) + turnaround + reply (5 + 2 x 10 bytes) on the wire + the 3.5-character
inter-frame gap (fixed 1750 us above 19200 baud, as Modbus over serial line 2.5.1.1 and the emulator use):
39.02 ms at 9600 (25.63 polls/s), 5.615 ms at 115200 (178.1 polls/s).

    .venv/bin/python benchmarks/bus_efficiency.py [--quick] [--seconds 10] [--repeats 1] [--realtime] [--json]

About 1.5 minutes per round (--repeats rounds, clients in alternating order, medians reported); --quick is a
30 s smoke run (3 s per measurement). Prints a table, then one JSON line (only the JSON document with --json).
A note line follows the table whenever our master started a request inside the 3.5-character gap (the emulated
bus counts it as a collision and does not answer it).
"""

from __future__ import annotations

import argparse
import copy
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time

from gaslatch.core import constants
from gaslatch.core.config import load_config
from gaslatch.core.controller import Controller
from gaslatch.core.scan_loop import RealClock, ScanLoop
from gaslatch.unit.bus_pump import BusPump
from gaslatch.unit.realtime import TIGHT_SLACK_NS, enter_realtime, set_timer_slack_ns, timer_slack_ns
from gaslatch.unit.serial_bus import SerialBus
from gaslatch.unit.unit_config import load_profiles
from gaslatch_tools.testing.kitchen_config import kitchen_config
from report_output import finish  # benchmarks/, beside this script


PROFILE = "cn-generic"
REGISTERS = 10  # cn-generic reads 10 holding registers from 0
REQUEST_BYTES = 8
REPLY_BYTES = 5 + 2 * REGISTERS
TURNAROUND_MS = 1.0  # the emulator's (and the bench's) default slave turnaround
PERIOD_MS = 100
BITS_PER_CHAR = 10  # 8N1
DETECTORS = {9600: 16, 115200: 24}
FAST_INTERVAL_MS = 100  # 115200: the bench profile's min_poll_interval_ms and the config's poll_interval_ms
WARMUP_S = 1.0  # every client polls this long before its measurement starts
PEER_TIMEOUT_S = 0.5
TARGET_WIRE_9600 = 0.97
TARGET_TWO_BUSES = 1.9
HOST_START_S = 20.0


def wire_limit(baud: int) -> dict:
    """The bus's limit for one read of 10 registers: polls/s = 1 / (request + turnaround + reply + 3.5-char gap)."""
    char_us = BITS_PER_CHAR * 1e6 / baud
    gap_us = 3.5 * char_us if baud <= 19200 else 1750.0
    transaction_us = (REQUEST_BYTES + REPLY_BYTES) * char_us + TURNAROUND_MS * 1000 + gap_us
    return {"baud": baud, "transaction_us": round(transaction_us, 1), "gap_us": round(gap_us, 1),
            "polls_per_s": round(1e6 / transaction_us, 3)}


# ---- the emulated bus, one process per bus ----

def _serve_bus(link: str, baud: int, addresses: list[int], realtime: bool, conn) -> None:
    """Child process: one EmulatedBus with cn-generic detectors at `addresses`; answers "stats" and "stop"."""
    from gaslatch_tools.testing.detector_bus import DetectorBus

    if realtime:
        enter_realtime()
    bus = DetectorBus(link, addresses, PROFILE, baud)  # started; the default 1 ms turnaround (TURNAROUND_MS)
    conn.send("ready")
    try:
        while True:
            command = conn.recv()
            if command == "stats":
                conn.send(bus.stats)
            else:
                break
    finally:
        bus.close()
        conn.send("stopped")


class BusHost:
    """An EmulatedBus in its own process (spawned), reachable through its link; stats() on demand."""

    def __init__(self, link: str, baud: int, addresses: list[int], realtime: bool):
        context = multiprocessing.get_context("spawn")
        self.link = link
        self._conn, child = context.Pipe()
        self._proc = context.Process(target=_serve_bus, args=(link, baud, addresses, realtime, child), daemon=True)
        self._proc.start()
        if not self._conn.poll(HOST_START_S) or self._conn.recv() != "ready":
            self._proc.kill()
            sys.exit("bus_efficiency: the emulated bus %s did not start within %g s" % (link, HOST_START_S))

    def stats(self) -> dict:
        self._conn.send("stats")
        return self._conn.recv()

    def close(self) -> None:
        if self._proc.is_alive():
            self._conn.send("stop")
            if self._conn.poll(10):
                self._conn.recv()
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)


# ---- ours ----

def bench_profiles(fast: bool) -> dict:
    """The shipped profiles; with fast, cn-generic's min_poll_interval_ms lowered to FAST_INTERVAL_MS."""
    profiles = load_profiles()
    if fast:
        profile = copy.copy(profiles[PROFILE])
        profile.min_poll_interval_ms = FAST_INTERVAL_MS
        profiles[PROFILE] = profile
    return profiles


def unit_config(tmp: str, links: dict[str, str], baud: int, n_detectors: int, interval_ms: int) -> dict:
    """A normalised unit config (the test kit's kitchen_config): n_detectors cn-generic on each bus polled every
    interval_ms, or one contact detector when there is no bus."""
    # One reading confirms: the config's link budget (issue 11) assumes a platform without the pump, one
    # transaction per two scans, and refuses 16 (24) detectors on a bus at a 100 ms scan with 2.
    doc = kitchen_config(tmp, [links[bus] for bus in sorted(links)], n_detectors, period_ms=PERIOD_MS, baud=baud,
                         profile=PROFILE, lines={"valve": {"pin": 17}, "gas_contact": {"pin": 5}},
                         alarm={"confirm_samples": 1})
    for detector in doc["detectors"].values():
        detector["poll_interval_ms"] = interval_ms
    if not links:
        doc["detectors"] = {"contact": {"kind": "contact", "line": "gas_contact"}}
    profiles = load_profiles()
    return load_config(doc, {name: profile.kind for name, profile in profiles.items()})


def measure_ours(tmp: str, links: dict[str, str], baud: int, seconds: float) -> dict:
    """The unit's loop on `links` for `seconds` (after WARMUP_S): polls answered per second, scan statistics."""
    n_detectors = DETECTORS.get(baud, 0)
    fast = baud != 9600
    interval_ms = FAST_INTERVAL_MS if fast else 500
    cfg = unit_config(tmp, links, baud, n_detectors, interval_ms)
    clock = RealClock()
    controller = Controller(cfg, bench_profiles(fast), clock.now_us() // 1000)
    ports = {name: SerialBus(name, cfg["buses"][name]) for name in sorted(cfg["buses"])}
    for name, port in ports.items():
        if not port.is_open:
            sys.exit("bus_efficiency: bus %s did not open: %s" % (name, port.error))
    pump = BusPump(clock, ports, controller)
    slack_ns = timer_slack_ns()
    set_timer_slack_ns(TIGHT_SLACK_NS)  # as `gaslatch run` does (realtime.enter_realtime); the peers keep theirs
    inputs = {"gas_contact": False}

    def scan(now_ms: int) -> None:  # the bus part of Runtime.scan: ports read through the pump
        pump.service(clock.now_us())
        result = controller.step(now_ms, None, inputs)
        for name, data in result.tx.items():
            if data:
                ports[name].write(data)

    def answered() -> int:
        return sum(stats["responses_ok"] for stats in controller.bus_stats().values())

    try:
        ScanLoop(PERIOD_MS, clock, scan, idle=pump.idle_until).run(max_scans=int(WARMUP_S * 1000 // PERIOD_MS))
        loop = ScanLoop(PERIOD_MS, clock, scan, idle=pump.idle_until)
        first, wakeups, started = answered(), pump.wakeups, time.perf_counter()
        loop.run(max_scans=max(1, int(round(seconds * 1000 / PERIOD_MS))))
        polls, elapsed = answered() - first, time.perf_counter() - started
        wakeups = pump.wakeups - wakeups
    finally:
        set_timer_slack_ns(slack_ns)
        for port in ports.values():
            port.close()
    errors = {}
    for stats in controller.bus_stats().values():
        for key, value in stats.items():
            if key in ("timeouts", "crc_errors", "frame_errors", "exceptions", "unexpected_bytes") and value:
                errors[key] = errors.get(key, 0) + value
    return {"client": "ours", "buses": len(links), "detectors_per_bus": n_detectors, "polls": polls,
            "seconds": round(elapsed, 3), "polls_per_s": round(polls / elapsed, 3), "errors": errors,
            "pump_wakeups_per_poll": round(wakeups / polls, 2) if polls else None,
            "scan": loop.stats.as_dict()}


# ---- the peers ----

def measure_pymodbus(link: str, baud: int, seconds: float) -> dict:
    from pymodbus import FramerType
    from pymodbus.client import ModbusSerialClient
    from pymodbus.exceptions import ModbusException

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # its timeouts are counted, not printed
    addresses = list(range(1, DETECTORS[baud] + 1))
    client = ModbusSerialClient(link, framer=FramerType.RTU, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                timeout=PEER_TIMEOUT_S, retries=0)
    if not client.connect():
        sys.exit("bus_efficiency: pymodbus could not open %s" % link)

    def poll(address: int) -> bool:
        try:
            reply = client.read_holding_registers(0, count=REGISTERS, device_id=address)
        except ModbusException:
            return False
        return not reply.isError() and len(reply.registers) == REGISTERS

    try:
        return _round_robin("pymodbus", poll, addresses, seconds)
    finally:
        client.close()


def measure_minimalmodbus(link: str, baud: int, seconds: float) -> dict:
    import minimalmodbus

    addresses = list(range(1, DETECTORS[baud] + 1))
    instruments = {}
    for address in addresses:
        instrument = minimalmodbus.Instrument(link, address, mode=minimalmodbus.MODE_RTU)
        instrument.serial.baudrate = baud
        instrument.serial.timeout = PEER_TIMEOUT_S
        instrument.close_port_after_each_call = False
        instruments[address] = instrument

    def poll(address: int) -> bool:
        try:
            return len(instruments[address].read_registers(0, REGISTERS, functioncode=3)) == REGISTERS
        except (OSError, ValueError, minimalmodbus.ModbusException):
            return False

    try:
        return _round_robin("minimalmodbus", poll, addresses, seconds)
    finally:
        instruments[addresses[0]].serial.close()
        minimalmodbus._serialports.pop(link, None)  # the port is shared by name; the next host makes a new pty


def _round_robin(name: str, poll, addresses: list[int], seconds: float) -> dict:
    """poll(address) over the addresses in turn, WARMUP_S then `seconds` measured: good replies per second."""
    index = 0
    warm_until = time.perf_counter() + WARMUP_S
    while time.perf_counter() < warm_until:
        poll(addresses[index % len(addresses)])
        index += 1
    ok = failed = 0
    started = time.perf_counter()
    end = started + seconds
    while True:
        if poll(addresses[index % len(addresses)]):
            ok += 1
        else:
            failed += 1
        index += 1
        now = time.perf_counter()
        if now >= end:
            break
    elapsed = now - started
    return {"client": name, "buses": 1, "detectors_per_bus": len(addresses), "polls": ok,
            "seconds": round(elapsed, 3), "polls_per_s": round(ok / elapsed, 3),
            "errors": {"failed": failed} if failed else {}}


# ---- the run ----

def with_hosts(tmp: str, n_buses: int, baud: int, realtime: bool, measure) -> dict:
    """Fresh emulated buses (one process each), measure({bus name: link}), and the buses' own counters."""
    hosts = {}
    try:
        for index in range(n_buses):
            name = "bus%d" % (index + 1)
            hosts[name] = BusHost(os.path.join(tmp, "tty-" + name), baud,
                                  list(range(1, DETECTORS[baud] + 1)), realtime)
        result = measure({name: host.link for name, host in hosts.items()})
        stats = {name: host.stats() for name, host in hosts.items()}
    finally:
        for host in hosts.values():
            host.close()
    result["baud"] = baud
    result["emulator"] = {name: {key: s[key] for key in ("requests", "replies", "collisions", "garbage_bytes",
                                                         "dropped_bytes", "reply_late_us_mean", "reply_late_us_max")}
                          for name, s in stats.items()}
    return result


def run_round(tmp: str, seconds: float, realtime: bool, order: int) -> dict:
    """One measurement of everything; order alternates the clients between rounds."""
    out = {"by_baud": {}}
    for baud in (9600, 115200):
        clients = [
            ("ours", lambda links, b=baud: measure_ours(tmp, links, b, seconds)),
            ("pymodbus", lambda links, b=baud: measure_pymodbus(links["bus1"], b, seconds)),
            ("minimalmodbus", lambda links, b=baud: measure_minimalmodbus(links["bus1"], b, seconds)),
        ]
        if order % 2:
            clients.reverse()
        results = {}
        for name, measure in clients:
            results[name] = with_hosts(tmp, 1, baud, realtime, measure)
            print("  %6d baud  %-13s %8.3f polls/s" % (baud, name, results[name]["polls_per_s"]), file=sys.stderr)
        out["by_baud"][str(baud)] = results
    out["two_buses"] = with_hosts(tmp, 2, 9600, realtime, lambda links: measure_ours(tmp, links, 9600, seconds))
    print("  two 9600-baud buses, ours  %8.3f polls/s" % out["two_buses"]["polls_per_s"], file=sys.stderr)
    out["no_bus"] = measure_ours(tmp, {}, 9600, seconds)
    return out


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def summarise(rounds: list[dict]) -> dict:
    """Medians over rounds of each rate, against the wire limit and the best peer; jitter of the last round."""
    summary = {"by_baud": {}}
    for baud in (9600, 115200):
        limit = wire_limit(baud)
        rates = {client: median([r["by_baud"][str(baud)][client]["polls_per_s"] for r in rounds])
                 for client in ("ours", "pymodbus", "minimalmodbus")}
        best_peer = max(("pymodbus", "minimalmodbus"), key=lambda client: rates[client])
        summary["by_baud"][str(baud)] = {
            "wire_limit": limit, "rates": rates, "best_peer": best_peer,
            "pct_of_wire": {client: round(100 * rate / limit["polls_per_s"], 2) for client, rate in rates.items()},
            "ratio_to_best_peer": {client: round(rate / rates[best_peer], 3) for client, rate in rates.items()}}
    peer_9600 = summary["by_baud"]["9600"]
    two = median([r["two_buses"]["polls_per_s"] for r in rounds])
    best_9600 = peer_9600["rates"][peer_9600["best_peer"]]
    summary["two_buses"] = {"polls_per_s": two, "pct_of_two_wire_limits": round(
        100 * two / (2 * peer_9600["wire_limit"]["polls_per_s"]), 2), "ratio_to_best_peer_one_bus": round(
        two / best_9600, 3)}
    last = rounds[-1]
    summary["jitter"] = {
        "0 buses": last["no_bus"]["scan"],
        "1 bus 9600": last["by_baud"]["9600"]["ours"]["scan"],
        "1 bus 115200": last["by_baud"]["115200"]["ours"]["scan"],
        "2 buses 9600": last["two_buses"]["scan"],
    }
    b9600, b115200 = summary["by_baud"]["9600"], summary["by_baud"]["115200"]
    summary["targets"] = {
        "ours >= 97% of the wire limit at 9600": b9600["pct_of_wire"]["ours"] >= 100 * TARGET_WIRE_9600,
        "ours >= best peer at 115200": b115200["ratio_to_best_peer"]["ours"] >= 1.0,
        "two buses >= 1.9x best peer's one bus": summary["two_buses"]["ratio_to_best_peer_one_bus"] >= TARGET_TWO_BUSES,
    }
    return summary


def print_table(doc: dict) -> None:
    summary = doc["summary"]
    print("Bus efficiency: polls/s (read 10 registers) on the emulated bus, median of %d round(s) of %g s; %s; "
          "load average %s" % (doc["repeats"], doc["seconds"], doc["scheduling"], doc["load_average"]))
    print("%-8s %-14s %10s %8s %9s  %s" % ("baud", "client", "polls/s", "% wire", "vs best",
                                          "per round: failed polls / collisions seen by the emulated bus"))
    for baud in (9600, 115200):
        b = summary["by_baud"][str(baud)]
        for client in ("ours", "pymodbus", "minimalmodbus"):
            runs = [r["by_baud"][str(baud)][client] for r in doc["rounds"]]
            print("%-8d %-14s %10.2f %7.2f%% %8.3fx  %s" % (
                baud, client, b["rates"][client], b["pct_of_wire"][client], b["ratio_to_best_peer"][client],
                " ".join("%d/%d" % (_failed(run), _collisions(run)) for run in runs)))
        print("%-8s %-14s %10.2f %7.2f%%   (%.1f us per poll)" % ("", "wire limit", b["wire_limit"]["polls_per_s"],
                                                                  100.0, b["wire_limit"]["transaction_us"]))
    two = summary["two_buses"]
    runs = [r["two_buses"] for r in doc["rounds"]]
    print("2 x 9600 ours, one loop  %10.2f %7.2f%% of 2 wire limits; %.3fx the best peer's one-bus rate  %s" % (
        two["polls_per_s"], two["pct_of_two_wire_limits"], two["ratio_to_best_peer_one_bus"],
        " ".join("%d/%d" % (_failed(run), _collisions(run)) for run in runs)))
    print("scan loop (%d ms, RealClock), start jitter and execution (us):" % PERIOD_MS)
    print("  %-14s %6s %8s %7s %7s %7s %9s %9s" % ("buses", "scans", "overruns", "p50", "p99", "max",
                                                 "exec p50", "exec p99"))
    for name, stats in summary["jitter"].items():
        jit, ex = stats["start_jitter"], stats["execution"]
        print("  %-14s %6d %8d %7s %7s %7s %9s %9s" % (name, stats["scans"], stats["overruns"], jit["p50_us"],
                                                     jit["p99_us"], jit["max_us"], ex["p50_us"], ex["p99_us"]))
    for name, met in summary["targets"].items():
        print("target %-42s %s" % (name, "met" if met else "MISSED"))
    ours = [r["by_baud"][baud]["ours"] for r in doc["rounds"] for baud in r["by_baud"]]
    ours += [r["two_buses"] for r in doc["rounds"]]
    collisions = sum(_collisions(run) for run in ours)
    if collisions:
        print("note: our master started %d request(s) inside the 3.5-character gap after a reply (collisions on the "
              "emulated bus, not answered): each cost a %d ms response timeout and a retry" % (
                  collisions, doc["response_timeout_ms"]))


def _failed(run: dict) -> int:
    return sum(run["errors"].get(key, 0) for key in ("timeouts", "crc_errors", "frame_errors", "failed"))


def _collisions(run: dict) -> int:
    return sum(bus["collisions"] for bus in run["emulator"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 s per measurement")
    parser.add_argument("--seconds", type=float, help="length of each measurement (default 10; --quick 3)")
    parser.add_argument("--repeats", type=int, default=1, help="rounds; medians are reported (default 1)")
    parser.add_argument("--realtime", action="store_true",
                        help="clients and emulated buses under SCHED_FIFO with gc.freeze(), as the unit runs")
    parser.add_argument("--json", action="store_true", help="print only the JSON document")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    scheduling = enter_realtime() if args.realtime else "SCHED_OTHER"
    load_start = "%.2f %.2f %.2f" % os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="glbe-", dir="/tmp")
    started = time.perf_counter()
    try:
        rounds = [run_round(tmp, seconds, args.realtime, index) for index in range(args.repeats)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    doc = {"seconds": seconds, "repeats": args.repeats, "scheduling": scheduling,
           "load_average": "%s at start, %.2f %.2f %.2f at end" % ((load_start,) + os.getloadavg()),
           "cpus": os.cpu_count(), "response_timeout_ms": constants.DEFAULT_RESPONSE_TIMEOUT_MS,
           "python": sys.version.split()[0], "wire_limits": {str(b): wire_limit(b) for b in (9600, 115200)},
           "summary": summarise(rounds), "rounds": rounds, "run_s": round(time.perf_counter() - started, 1)}
    finish(doc, args.json, print_table)


if __name__ == "__main__":
    main()
