"""Between scans the unit serves its serial ports the moment a reply lands or a bus timer falls due.

Blocking Modbus clients wait inside each transaction; our master never waits, so the scan loop's idle
time is spent in select() on the ports, bounded by the next scan deadline: a bus runs at its wire
limit, several buses run side by side, and the scan still starts on time.
"""

from __future__ import annotations

import select
from typing import Any


# A bus timer (the end of the silent interval) is slept to this many µs before it falls due, then
# waited for awake: select()'s wake-up comes 50-80 µs late on Linux, 1 % of a poll at 115200 baud.
SPIN_US = 120


class BusPump:
    """The idle(t_us) of the unit's ScanLoop: serves every bus until the next scan deadline.

    clock: now_us() (the loop's clock). ports: bus name -> SerialBus. controller: the Controller (or
    anything with its bus methods: service_buses, next_wakeup_us, awaiting_reply). The scan itself
    still steps the controller once; the pump only fills the time in between, in the same thread, so
    the core is never entered from two places.
    """

    def __init__(self, clock: Any, ports: dict, controller: Any) -> None:
        self._clock = clock
        self._controller = controller
        self._ports = [(name, ports[name]) for name in sorted(ports)]
        self.wakeups = 0  # select() returns: the pump's own cost, for the benchmarks

    def idle_until(self, deadline_us: int) -> None:
        """Returns at deadline_us (or at once if it has passed), having served the buses meanwhile.

        Every open port is watched, so a wake-up with nothing readable is a bus timer: the controller
        is served at once, without reading ports that have nothing (the path from wake to write)."""
        clock = self._clock
        controller = self._controller
        ready = None  # None: read every port (the first pass, or ports without a descriptor)
        while True:
            now_us = clock.now_us()
            if now_us >= deadline_us:
                return
            self._serve(now_us, ready)
            wake_us = controller.next_wakeup_us()
            if wake_us is None or wake_us > deadline_us:
                wake_us = deadline_us
            watch = {}
            for name, port in self._ports:
                fd = port.fileno()
                if fd is None:
                    watch = None  # a port that is down is read (and reopened) on every pass
                    break
                watch[fd] = name
            early_us = SPIN_US if wake_us < deadline_us else 0
            timeout_s = max(0, wake_us - early_us - clock.now_us()) / 1e6
            if watch:
                fds = select.select(list(watch), [], [], timeout_s)[0]
                ready = [watch[fd] for fd in fds]
            else:
                if timeout_s > 0:
                    select.select([], [], [], timeout_s)
                fds = ()
                ready = None
            if early_us and not fds:
                while clock.now_us() < wake_us:  # the last few µs spent awake: a bus timer is met on time
                    pass
            self.wakeups += 1

    def service(self, now_us: int) -> None:
        """Every bus once: what arrived goes to the controller, what it sends goes out now."""
        self._serve(now_us, None)

    def _serve(self, now_us: int, ready: list | None) -> None:
        """The ports in `ready` (None: all) read, the controller served, its bytes written.

        Bytes are stamped with the clock read after they were read, never before: a reply stamped
        early would let the next request leave inside the 3.5-character gap (a collision on the wire).
        """
        rx_by_bus = {}
        for name, port in self._ports:
            if ready is None or name in ready:
                rx = port.read()
                if rx:
                    rx_by_bus[name] = rx
        if rx_by_bus:
            now_us = self._clock.now_us()
        tx_by_bus = self._controller.service_buses(now_us, rx_by_bus)
        for name, port in self._ports:
            tx = tx_by_bus.get(name)
            if tx:
                port.write(tx)
