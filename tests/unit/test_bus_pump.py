"""Between scans the bus pump keeps every bus busy and still hands the loop back on its deadline."""

from __future__ import annotations

from gaslatch.core.modbus_master import BusMaster
from gaslatch.core.scan_loop import RealClock
from gaslatch.unit.bus_pump import BusPump
from gaslatch.unit.serial_bus import SerialBus
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.waiting import wait_until


class OneBus:
    """One bare master behind the controller's bus methods, as the pump drives them."""

    def __init__(self, master: BusMaster) -> None:
        self.master = master

    def service_buses(self, now_us: int, rx_by_bus: dict) -> dict:
        return {"bus1": self.master.service(now_us, rx_by_bus.get("bus1", b""))}

    def next_wakeup_us(self) -> int | None:
        return self.master.next_wakeup_us()

    def awaiting_reply(self) -> list[str]:
        return ["bus1"] if self.master.awaiting_reply else []


def bus_on(link: str, addresses: list[int], response_timeout_ms: int = 100) -> tuple[SerialBus, BusMaster]:
    port = SerialBus("bus1", {"port": link, "baud": 9600})
    master = BusMaster("bus1", 9600, response_timeout_ms=response_timeout_ms)
    for address in addresses:
        master.add_poll(address, [(3, 0, 10)], 1, "d%d" % address)
    return port, master


class ScanDueOnceAnswered:
    """The loop's clock for one interval between two scans, with the next scan falling due once the master has had
    `answers` good replies (or `limit_s` after the start, whichever is first): real time until then, the deadline
    after. How many polls fit in a second of a loaded machine is the benchmarks' question (bus_efficiency.py)."""

    def __init__(self, master: BusMaster, answers: int, limit_s: float) -> None:
        self._real = RealClock()
        self._master = master
        self._answers = answers
        self.deadline_us = self._real.now_us() + int(limit_s * 1e6)

    def now_us(self) -> int:
        now_us = self._real.now_us()
        if self._master.stats()["responses_ok"] >= self._answers:
            return max(now_us, self.deadline_us)
        return now_us


def test_a_bus_is_polled_back_to_back_between_two_scans(short_dir):
    detectors = DetectorBus(short_dir + "/ttyBUS", [1, 2])
    # The emulator's thread may be run late on a loaded machine: its reply must not time out for that (how long
    # the master waits is not what this test is about), and the interval between the scans ends on the replies,
    # not after a second of real time.
    port, master = bus_on(short_dir + "/ttyBUS", [1, 2], response_timeout_ms=120_000)
    clock = ScanDueOnceAnswered(master, answers=12, limit_s=60)
    pump = BusPump(clock, {"bus1": port}, OneBus(master))
    try:
        pump.idle_until(clock.deadline_us)  # one interval between two scans: no scan steps the master meanwhile
        assert clock.now_us() >= clock.deadline_us
        results = master.pop_results()
        # 12 polls in one interval (~24 fit in a second at 9600 baud: 33 bytes, a 1 ms turnaround and the
        # 3.5-character gap); a master stepped once per scan would have done one.
        assert len(results) >= 12
        assert all(result.ok for result in results), [r.detail for r in results if not r.ok]
        assert {result.slave for result in results} == {1, 2}
        assert master.stats()["unexpected_bytes"] == 0
    finally:
        port.close()
        detectors.close()


def test_with_its_port_missing_the_pump_still_returns_on_the_deadline_without_spinning(short_dir):
    port, master = bus_on(short_dir + "/ttyMISSING", [1])
    clock = RealClock()
    pump = BusPump(clock, {"bus1": port}, OneBus(master))
    deadline_us = clock.now_us() + 500_000
    pump.idle_until(deadline_us)
    assert clock.now_us() >= deadline_us
    assert port.error
    # Woken by the reply deadlines (100 ms each) and the deadline, not in a tight loop.
    assert pump.wakeups < 50
    # The poll's three tries (100 ms each) end in a timeout: within the first 500 ms on an idle machine, in later
    # steps of the same size on a loaded one, each step still without spinning.
    results = master.pop_results()
    for _ in range(60):
        if results:
            break
        woken = pump.wakeups
        pump.idle_until(clock.now_us() + 500_000)
        assert pump.wakeups - woken < 50
        results = master.pop_results()
    assert [r.error for r in results][:1] == ["timeout"]


def test_a_deadline_already_passed_returns_at_once_without_touching_the_buses(short_dir):
    port, master = bus_on(short_dir + "/ttyMISSING", [1])
    clock = RealClock()
    pump = BusPump(clock, {"bus1": port}, OneBus(master))
    pump.idle_until(clock.now_us() - 1)
    assert pump.wakeups == 0 and master.stats()["requests"] == 0


def test_requests_keep_the_silent_interval_after_every_reply_on_a_strict_bus(short_dir):
    """The emulated bus refuses (and counts) a request sent inside the 3.5-character gap, as a real
    device would miss it: scans and pump together must never send one."""
    from gaslatch_tools.bench.emulated_bus import EmulatedBus
    from gaslatch_tools.bench.emulated_detector import EmulatedDetector

    with EmulatedBus(short_dir + "/ttySTRICT", 9600) as strict:
        for address in (1, 2, 3):
            strict.add(EmulatedDetector("cn-generic", address))
        port, master = bus_on(short_dir + "/ttySTRICT", [1, 2, 3])
        clock = RealClock()
        pump = BusPump(clock, {"bus1": port}, OneBus(master))
        try:
            end_us = clock.now_us() + 2_000_000
            while clock.now_us() < end_us:  # scans every 10 ms, each serving the bus too, as the runtime does
                # The scan's own time is stale by the time it reaches the ports (here by 2 ms).
                pump.service(clock.now_us() - 2000)
                master.step(clock.now_us() // 1000, b"")
                pump.idle_until(clock.now_us() + 10_000)
            results = master.pop_results()
        finally:
            port.close()
    assert strict.stats["collisions"] == 0
    assert len(results) >= 15 and all(r.ok for r in results)


def test_noise_on_an_idle_bus_is_taken_at_once_and_the_next_request_keeps_its_gap(short_dir):
    """Every open port is watched, not only one awaiting a reply: bytes on an idle bus (a babbling device,
    interference) reach the master as they land, so the silent interval runs from the last of them."""
    from gaslatch_tools.bench.emulated_bus import EmulatedBus
    from gaslatch_tools.bench.emulated_detector import EmulatedDetector

    with EmulatedBus(short_dir + "/ttyNOISY", 9600) as noisy:
        noisy.add(EmulatedDetector("cn-generic", 1))
        port = SerialBus("bus1", {"port": short_dir + "/ttyNOISY", "baud": 9600})
        master = BusMaster("bus1", 9600, response_timeout_ms=100)
        master.add_poll(1, [(3, 0, 10)], 300, "d1")  # idle between polls, where most noise lands
        clock = RealClock()
        pump = BusPump(clock, {"bus1": port}, OneBus(master))
        taken_at_once = 0
        try:
            for _ in range(30):
                pump.idle_until(clock.now_us() + 37_000)  # off the poll rhythm, so bursts fall all over it
                before = master.stats()["unexpected_bytes"]
                noise_before = noisy.stats["noise_bytes"]
                noisy.inject_noise(3)
                # The burst is on the line once the emulator's thread has written it (a loaded machine runs that
                # thread late): a poll the pump sent before then met no noise to keep its gap from.
                wait_until(lambda: noisy.stats["noise_bytes"] > noise_before, 10, what="the burst on the line")
                pump.idle_until(clock.now_us() + 15_000)  # 3 bytes take 3.1 ms at 9600 baud
                taken_at_once += master.stats()["unexpected_bytes"] > before
            results = master.pop_results()
        finally:
            port.close()
    assert noisy.stats["collisions"] == 0
    # A burst during a reply garbles it instead (a CRC error, retried); the rest are read within 15 ms.
    assert taken_at_once >= 24  # a pump watching only a port that awaits a reply took 6 of 30
    assert sum(r.ok for r in results) >= 3
