"""A minimal scripted detector bus on a real pseudo-terminal, for tests and benchmarks of the running unit.

The controller opens the pty's slave side by a stable symlink, as it would /dev/ttyUSB0; a thread
here answers Modbus requests on the master side with cn-generic register images, each reply written
when it would have fully arrived on a real bus (request and reply wire time plus a turnaround): a
reply cannot come back before the request has left the wire. (The HIL bench's emulator, with exact
timing and fault injection, is a separate tool.)
"""

import os
import select
import termios
import threading
import time
import tty

from gaslatch.core import modbus_rtu
from gaslatch_tools.kitchen_sim import SimDetector, reply_to

TURNAROUND_S = 0.001


class PtyDetectorBus:
    """Detectors at the given addresses behind `link` (a symlink to a fresh pty)."""

    def __init__(self, link: str, addresses: list[int], baud: int = 9600):
        self.link = link
        self.char_time_s = modbus_rtu.char_time_us(baud, 10) / 1e6
        self.detectors = {address: SimDetector(address, warmup_polls=0) for address in addresses}
        self.requests = 0
        self._stop = threading.Event()
        self._master, self._slave = os.openpty()
        _raw(self._slave)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(self._slave), link)
        self._thread = threading.Thread(target=self._serve, name="pty-detectors", daemon=True)
        self._thread.start()

    def set_gas(self, address: int, tenths_pct_lel: int) -> None:
        self.detectors[address].gas_tenths_pct_lel = tenths_pct_lel

    def _serve(self) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                buf = b""  # a silent gap ends any partial frame
                continue
            try:
                buf += os.read(self._master, 256)
            except OSError:
                continue
            if len(buf) < 8:
                continue
            frame, buf = buf[:8], buf[8:]
            arrived = time.monotonic()
            reply = reply_to(self.detectors, frame)
            if reply is None:
                buf = b""  # resynchronise on the next silent gap
                continue
            self.requests += 1
            time.sleep(max(0.0, arrived + (len(frame) + len(reply)) * self.char_time_s + TURNAROUND_S
                           - time.monotonic()))
            os.write(self._master, reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self._master, self._slave):
            os.close(fd)
        if os.path.lexists(self.link):
            os.unlink(self.link)


def _raw(fd: int) -> None:
    """No echo, no line discipline: bytes pass through unchanged, as on a serial line."""
    tty.setraw(fd, termios.TCSANOW)
