"""A blocking Modbus RTU client for the installer's laptop: one request, its reply, and a diagnosis.

Unlike the unit's master this one may wait: a person is watching. Every failure says what to check
on the wire, because on site the question is never "what is the exception" but "what do I fix".
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any, Callable

import serial

from gaslatch.core import modbus_rtu as rtu
from gaslatch.translation import N_, _

DEFAULT_TIMEOUT_S = 0.3
# What to check, in English here and translated where shown (translation.py).
DIALOUT_HINT = N_("join the group that owns the port (usually dialout): sudo usermod -aG dialout $USER, "
                "then log out and in again")
CRC_HINT = N_("replies arrive damaged: check the 120 ohm termination at both ends of the bus, a twisted-pair "
            "cable with the shield grounded at one end only, and that every device uses this baud rate and parity")
NO_REPLY_HINT = N_("check the detector's power, the A/B wires (swapped A/B gives silence at every baud), "
                 "its address and baud rate (gaslatch commission scan finds both)")


class BusError(Exception):
    """A commissioning bus problem. kind: port_missing, permission, busy, no_reply, crc, frame, exception.

    message: what happened, hint: what to check. exception_code for kind exception.
    """

    def __init__(self, kind: str, message: str, hint: str = "", exception_code: int | None = None):
        super().__init__("%s: %s" % (message, hint) if hint else message)
        self.kind = kind
        self.message = message
        self.hint = hint
        self.exception_code = exception_code


def describe_open_error(port: str, exc: BaseException) -> BusError:
    """The installer's version of a port that would not open."""
    err = exc
    while err is not None and not (isinstance(err, OSError) and err.errno is not None):
        err = err.__cause__ or err.__context__
    code = err.errno if isinstance(err, OSError) else None
    if code == errno.ENOENT or (code is None and not os.path.exists(port)):
        return BusError("port_missing", _("port %s does not exist") % port,
                        _("plug in the USB-RS485 adapter and use the path from ls /dev/serial/by-id/ (or "
                          "/dev/ttyUSB0)"))
    if code == errno.EACCES:
        return BusError("permission", _("permission denied on %s") % port, _(DIALOUT_HINT))
    if code in (errno.EBUSY, errno.EAGAIN):
        return BusError("busy", _("%s is in use by another program") % port,
                        _("stop it first (on the unit: sudo systemctl stop gaslatch, or use the unit's socket)"))
    return BusError("port", _("cannot open %(port)s: %(error)s") % {"port": port, "error": exc}, "")


class BusClient:
    """One serial port at one line setting; `transact` sends a request and returns the checked reply.

    Counts every outcome in `stats` (requests, ok, no_reply, crc, frame, exception) and keeps reply
    times in `reply_ms`, so `scan` and `live` can report the bus's health.
    """

    def __init__(self, port: str, baud: int = 9600, parity: str = "N", stop_bits: int = 1,
                 timeout_s: float = DEFAULT_TIMEOUT_S, open_port: Callable[..., Any] = serial.Serial):
        self.port = port
        self.baud = baud
        self.parity = parity
        self.stop_bits = stop_bits
        self.timeout_s = timeout_s
        self.bits_per_char = rtu.bits_per_char(parity, stop_bits)
        self.silent_s = rtu.silent_interval_us(baud, self.bits_per_char) / 1e6
        self.stats = {"requests": 0, "ok": 0, "no_reply": 0, "crc": 0, "frame": 0, "exception": 0}
        self.reply_ms: list[float] = []
        self._last_activity = 0.0
        try:
            self._serial = open_port(port, baudrate=baud, bytesize=8, parity=parity, stopbits=stop_bits,
                                     timeout=0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise describe_open_error(port, exc) from None

    def close(self) -> None:
        self._serial.close()

    def __enter__(self) -> "BusClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def reconfigure(self, baud: int, parity: str | None = None, stop_bits: int | None = None) -> None:
        """Another line setting on the same open port (a baud scan)."""
        self.baud = baud
        self.parity = parity or self.parity
        self.stop_bits = stop_bits or self.stop_bits
        self._serial.baudrate = baud
        self._serial.parity = self.parity
        self._serial.stopbits = self.stop_bits
        self.bits_per_char = rtu.bits_per_char(self.parity, self.stop_bits)
        self.silent_s = rtu.silent_interval_us(baud, self.bits_per_char) / 1e6

    def transact(self, request: bytes, timeout_s: float | None = None) -> Any:
        """Sends request, waits for its reply; returns modbus_rtu.parse_response's value or raises BusError."""
        slave = request[0]
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        wait = self._last_activity + self.silent_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # the 3.5-character gap before a new frame
        self._serial.reset_input_buffer()
        self.stats["requests"] += 1
        sent = time.monotonic()
        self._serial.write(request)
        wire_s = len(request) * self.bits_per_char / self.baud
        expected = rtu.expected_response_length(request)
        buf = bytearray()
        deadline = sent + wire_s + timeout_s
        while time.monotonic() < deadline:
            chunk = self._serial.read(256)
            if chunk:
                buf += chunk
                need = expected
                if len(buf) >= 2 and buf[1] == request[1] | rtu.EXCEPTION_FLAG:
                    need = rtu.EXCEPTION_RESPONSE_LENGTH
                if len(buf) >= need:
                    break
            else:
                time.sleep(0.0005)
        self._last_activity = time.monotonic()
        if not buf:
            self.stats["no_reply"] += 1
            raise BusError("no_reply", _("no reply from address %(address)d at %(line)s within %(timeout_ms)d ms") % {
                "address": slave, "line": "%d 8%s%d" % (self.baud, self.parity, self.stop_bits),
                "timeout_ms": timeout_s * 1000}, _(NO_REPLY_HINT))
        try:
            value = rtu.parse_response(request, bytes(buf))
        except rtu.FrameError as error:
            if error.kind == rtu.KIND_CRC:
                self.stats["crc"] += 1
                raise BusError("crc", _("damaged reply from address %d (CRC error)") % slave, _(CRC_HINT)) from None
            if error.kind == rtu.KIND_EXCEPTION:
                self.stats["exception"] += 1
                raise BusError("exception", error.message, "", error.exception_code) from None
            self.stats["frame"] += 1
            raise BusError("frame", _("bad reply from address %(address)d: %(problem)s")
                           % {"address": slave, "problem": error.message}, _(CRC_HINT)) from None
        self.stats["ok"] += 1
        self.reply_ms.append((self._last_activity - sent) * 1000)
        return value

    def read_registers(self, slave: int, function: int, address: int, count: int,
                       timeout_s: float | None = None) -> list[int]:
        return self.transact(rtu.read_registers_request(slave, function, address, count), timeout_s)

    def write_register(self, slave: int, address: int, value: int, timeout_s: float | None = None) -> None:
        self.transact(rtu.write_register_request(slave, address, value), timeout_s)
