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

    clock: now_us() (the loop's clock). ports: bus name -> SerialBus; masters: bus name -> BusMaster
    (the controller's). The scan itself still reads and steps every bus once; the pump only fills
    the time in between, in the same thread, so the core is never entered from two places.
    """

    def __init__(self, clock: Any, ports: dict, masters: dict) -> None:
        self._clock = clock
        self._buses = [(ports[name], masters[name]) for name in sorted(ports)]
        self.wakeups = 0  # select() returns: the pump's own cost, for the benchmarks

    def idle_until(self, deadline_us: int) -> None:
        """Returns at deadline_us (or at once if it has passed), having served the buses meanwhile."""
        clock = self._clock
        while True:
            now_us = clock.now_us()
            if now_us >= deadline_us:
                return
            self.service(now_us)
            wake_us = deadline_us
            watch = []
            for port, master in self._buses:
                t_us = master.next_wakeup_us()
                if t_us is not None and t_us < wake_us:
                    wake_us = t_us
                if master.awaiting_reply:
                    fd = port.fileno()
                    if fd is not None:
                        watch.append(fd)
            timeout_s = max(0, wake_us - clock.now_us()) / 1e6
            if watch:
                select.select(watch, [], [], timeout_s)
            elif timeout_s > 0:
                select.select([], [], [], timeout_s)
            self.wakeups += 1

    def service(self, now_us: int) -> None:
        """Each bus once: what arrived goes to its master, what the master sends goes out now.

        Bytes are stamped with the clock read after they were read, never before: a reply stamped
        early would let the next request leave inside the 3.5-character gap (a collision on the wire).
        """
        for port, master in self._buses:
            rx = port.read()
            tx = master.service(self._clock.now_us() if rx else now_us, rx)
            if tx:
                port.write(tx)
