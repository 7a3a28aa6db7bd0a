"""Between scans the unit serves its serial ports the moment a reply lands or a bus timer falls due.

Blocking Modbus clients wait inside each transaction; our master never waits, so the scan loop's idle
time is spent in select() on the ports, bounded by the next scan deadline: a bus runs at its wire
limit, several buses run side by side, and the scan still starts on time.
"""

from __future__ import annotations

import select
from typing import Any


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
        self._by_name = dict(ports)
        self.wakeups = 0  # select() returns: the pump's own cost, for the benchmarks

    def idle_until(self, deadline_us: int) -> None:
        """Returns at deadline_us (or at once if it has passed), having served the buses meanwhile."""
        clock = self._clock
        controller = self._controller
        while True:
            now_us = clock.now_us()
            if now_us >= deadline_us:
                return
            self.service(now_us)
            wake_us = controller.next_wakeup_us()
            if wake_us is None or wake_us > deadline_us:
                wake_us = deadline_us
            watch = []
            for name in controller.awaiting_reply():
                fd = self._by_name[name].fileno()
                if fd is not None:
                    watch.append(fd)
            timeout_s = max(0, wake_us - clock.now_us()) / 1e6
            if watch:
                select.select(watch, [], [], timeout_s)
            elif timeout_s > 0:
                select.select([], [], [], timeout_s)
            self.wakeups += 1

    def service(self, now_us: int) -> None:
        """Every bus once: what arrived goes to the controller, what it sends goes out now.

        Bytes are stamped with the clock read after they were read, never before: a reply stamped
        early would let the next request leave inside the 3.5-character gap (a collision on the wire).
        """
        rx_by_bus = {}
        for name, port in self._ports:
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
