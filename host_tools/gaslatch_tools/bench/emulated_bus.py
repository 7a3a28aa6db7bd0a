"""One emulated RS-485 multi-drop bus on a pseudo-terminal, with wire timing and frame-level faults.

The real `gaslatch run` opens its symlink like /dev/ttyUSB0 and meets the latencies, silences and damaged
frames of a real bus, so what the HIL bench measures is what an installed kitchen would see.
"""

from __future__ import annotations

import os
import random
import select
import termios
import threading
import time
import tty
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Protocol

from gaslatch.core import modbus_rtu

# The last stretch before a reply is due is busy-waited: select() may wake a few tenths of a ms late.
SPIN_S = 0.0003
# select() timeout when nothing is scheduled; stop and commands wake the thread through a pipe at once.
IDLE_WAIT_S = 0.5
READ_BYTES = 4096
STOP_JOIN_S = 5.0

# Request lengths a slave can tell from the header (application protocol 6.1-6.6, 6.11, 6.12):
# functions 1-6 are always 8 bytes; 15 and 16 carry a byte count at offset 6.
_FIXED_LENGTH_FUNCTIONS = (1, 2, modbus_rtu.FUNCTION_READ_HOLDING, modbus_rtu.FUNCTION_READ_INPUT, 5,
                           modbus_rtu.FUNCTION_WRITE_SINGLE)
_FIXED_REQUEST_LENGTH = 8
_BYTE_COUNT_FUNCTIONS = (15, modbus_rtu.FUNCTION_WRITE_MULTIPLE)
_BYTE_COUNT_OFFSET = 6

# Faults are applied in this order; no_reply first, so a dropped reply consumes no other fault.
FAULT_KINDS = (
    "no_reply",
    "lossy",
    "exception",
    "wrong_address",
    "crc_corruption",
    "bit_flip",
    "truncated",
    "garbage",
    "late_reply",
)
_REQUIRED = object()
_FAULT_PARAMS: dict[str, dict[str, Any]] = {
    "no_reply": {},
    "lossy": {"loss_pct": _REQUIRED},
    "exception": {"code": modbus_rtu.SLAVE_DEVICE_FAILURE},
    "wrong_address": {"reply_address": None},
    "crc_corruption": {},
    "bit_flip": {},
    "truncated": {"n_bytes": 1},
    "garbage": {"n_bytes": None, "after": False},
    "late_reply": {"delay_ms": _REQUIRED},
}

# termios speed constant -> baud, for every standard rate this Python knows (B9600 -> 9600 ...).
_BAUD_BY_SPEED = {
    value: int(name[1:]) for name, value in vars(termios).items()
    if name[:1] == "B" and name[1:].isdigit() and int(name[1:]) > 0
}
_SPEED_BY_BAUD = {baud: speed for speed, baud in _BAUD_BY_SPEED.items()}

_BUS_COUNTERS = (
    "requests",           # CRC-valid frames that reached the detectors (not collisions)
    "replies",            # frames sent back (including ones garbled by a collision or refused by the pty)
    "collisions",         # frames that began before the wire was free (+3.5 chars): not answered
    "address_conflicts",  # requests answered by more than one detector: the drivers garble each other
    "garbage_bytes",      # bytes of received frames that were not CRC-valid (or were hit by noise)
    "noise_bytes",        # bytes written by inject_noise()
    "dropped_bytes",      # reply bytes the pty would not take (the controller is not reading)
    "line_mismatches",    # requests a detector at that address did not hear: baud or parity differ
    "faults_applied",
    "detector_errors",    # exceptions raised by a detector's respond(): a bench bug, see last_detector_error
    "vanishes",
)
_ADDRESS_COUNTERS = ("requests", "replies", "line_mismatches")


class Slave(Protocol):
    """What the bus needs of a detector (EmulatedDetector, or a test's stand-in).

    baud / parity / stop_bits: its current serial settings; None means "the bus's nominal setting".
    respond(): the whole reply frame to a whole request frame, or None to stay silent.
    """

    address: int
    baud: int | None
    parity: str | None
    stop_bits: int | None

    def respond(self, frame: bytes, now_s: float) -> bytes | None: ...


class LineSettings(NamedTuple):
    """Serial settings the controller opened the port with, as the pty's termios shows them.

    baud: None for a non-standard rate. parity: 'N', 'E', 'O', or None for "none or even": Linux ptys
    clear PARENB whatever the client asks (pty_set_termios), so only odd parity (PARODD) survives.
    """

    baud: int | None
    parity: str | None
    stop_bits: int


def request_frame_length(buf: bytes) -> int | None:
    """Total length of the request `buf` begins with, once its header tells it; None while unknown.

    Functions 1-6 have 8-byte requests; 15 and 16 announce a byte count at offset 6. Any other function
    is left to the 3.5-character silence rule (None).
    """
    if len(buf) < 2:
        return None
    function = buf[1]
    if function in _FIXED_LENGTH_FUNCTIONS:
        return _FIXED_REQUEST_LENGTH
    if function in _BYTE_COUNT_FUNCTIONS and len(buf) > _BYTE_COUNT_OFFSET:
        return _BYTE_COUNT_OFFSET + 1 + buf[_BYTE_COUNT_OFFSET] + 2
    return None


def _crc_valid(frame: bytes) -> bool:
    if len(frame) < modbus_rtu.MIN_FRAME_LENGTH:
        return False
    return modbus_rtu.crc16(frame[:-2]) == frame[-2] | (frame[-1] << 8)


def _with_crc(body: bytes | bytearray) -> bytes:
    crc = modbus_rtu.crc16(body)
    return bytes(body) + bytes((crc & 0xFF, crc >> 8))


def _parity_letter(parity: str) -> str:
    letter = parity.upper()[:1]
    if letter not in modbus_rtu.PARITIES:
        raise ValueError("parity must be one of %s, got %r" % (", ".join(modbus_rtu.PARITIES), parity))
    return letter


def _wire_char_s(baud: int, parity: str, stop_bits: int) -> float:
    return modbus_rtu.bits_per_char(parity, stop_bits) / baud


def _silent_s(baud: int, parity: str, stop_bits: int) -> float:
    return modbus_rtu.silent_interval_us(baud, modbus_rtu.bits_per_char(parity, stop_bits)) / 1e6


@dataclass
class FrameFault:
    """One fault on the replies of one address: kind (FAULT_KINDS), params, replies left (None: until cleared)."""

    kind: str
    params: dict[str, Any]
    remaining: int | None = None

    @classmethod
    def make(cls, kind: str, count: int | None = None, **params: Any) -> "FrameFault":
        """A checked fault; ValueError names the kind, the parameter and what is allowed."""
        if kind not in _FAULT_PARAMS:
            raise ValueError("unknown fault %r: one of %s" % (kind, ", ".join(FAULT_KINDS)))
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ValueError("fault %s: count must be None (until cleared) or a positive integer, got %r"
                             % (kind, count))
        allowed = _FAULT_PARAMS[kind]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError("fault %s takes %s, not %s" % (kind, ", ".join(sorted(allowed)) or "no parameters",
                                                            ", ".join(unknown)))
        merged = dict(allowed)
        merged.update(params)
        missing = sorted(name for name, value in merged.items() if value is _REQUIRED)
        if missing:
            raise ValueError("fault %s needs %s" % (kind, ", ".join(missing)))
        _check_fault_params(kind, merged)
        return cls(kind, merged, count)

    @property
    def delay_s(self) -> float:
        """Extra delay of the reply (late_reply), seconds."""
        return self.params["delay_ms"] / 1000.0 if self.kind == "late_reply" else 0.0

    def damage(self, request: bytes, reply: bytes, rng: random.Random) -> bytes | None:
        """The reply as this fault sends it (None: no reply); late_reply leaves the bytes alone."""
        kind = self.kind
        if kind == "no_reply":
            return None
        if kind == "lossy":
            return None if rng.random() * 100 < self.params["loss_pct"] else reply
        if kind == "exception":
            # Built here, not by build_exception_response: whatever a detector answered, the bus thread must not raise.
            return _with_crc(bytes((request[0], request[1] | modbus_rtu.EXCEPTION_FLAG, self.params["code"])))
        if kind == "wrong_address":
            other = self.params["reply_address"]
            if other is None:
                other = request[0] % modbus_rtu.MAX_SLAVE + 1
            return _with_crc(bytes((other,)) + reply[1:-2])
        if kind == "crc_corruption":
            return reply[:-1] + bytes((reply[-1] ^ 0xFF,))
        if kind == "bit_flip":
            bit = rng.randrange(8 * len(reply))
            flipped = bytearray(reply)
            flipped[bit // 8] ^= 1 << (bit % 8)
            return bytes(flipped)
        if kind == "truncated":
            return reply[:max(0, len(reply) - self.params["n_bytes"])]
        if kind == "garbage":
            n_bytes = self.params["n_bytes"] or len(reply)
            noise = rng.randbytes(n_bytes)
            return reply + noise if self.params["after"] else noise
        return reply


def _check_fault_params(kind: str, params: dict[str, Any]) -> None:
    def positive_int(name: str, value: Any, high: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > high:
            raise ValueError("fault %s: %s must be an integer 1..%d, got %r" % (kind, name, high, value))

    if kind == "lossy":
        value = params["loss_pct"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
            raise ValueError("fault lossy: loss_pct must be a number above 0 and at most 100, got %r" % (value,))
    elif kind == "exception":
        positive_int("code", params["code"], 0xFF)
    elif kind == "wrong_address" and params["reply_address"] is not None:
        value = params["reply_address"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFF:
            raise ValueError("fault wrong_address: reply_address must be 0..255, got %r" % (value,))
    elif kind == "truncated":
        positive_int("n_bytes", params["n_bytes"], 256)
    elif kind == "garbage":
        if params["n_bytes"] is not None:
            positive_int("n_bytes", params["n_bytes"], 4096)
        if not isinstance(params["after"], bool):
            raise ValueError("fault garbage: after must be True (after the reply) or False (instead of it)")
    elif kind == "late_reply":
        delay = params["delay_ms"]
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not delay > 0:
            raise ValueError("fault late_reply: delay_ms must be a positive number, got %r" % (delay,))


@dataclass
class _Pending:
    """A reply waiting for the moment its last byte would have arrived on a real wire."""

    due_s: float
    data: bytes
    wire_s: float
    address: int
    garbled: bool = False


@dataclass
class _Receiver:
    """The frame being received: bytes, when its first byte arrived, when its last byte left the wire."""

    buf: bytearray = field(default_factory=bytearray)
    start_s: float = 0.0
    wire_end_s: float = 0.0
    silent_s: float = 0.0
    garbled: bool = False


def _new_address_stats() -> dict[str, Any]:
    stats: dict[str, Any] = {key: 0 for key in _ADDRESS_COUNTERS}
    stats["faults"] = {}
    return stats


class EmulatedBus:
    """Detectors behind one pseudo-terminal; the controller opens `link` (a symlink to the pty's slave side).

    Frames. A request is complete as soon as its length is known (request_frame_length), since on a pty
    bytes arrive at once; anything else (garbage, unknown functions) ends after a 3.5-character silence,
    counted from when its last byte would have left the wire. Every detector is offered every complete
    frame and answers or not (respond()); replies from two detectors garble each other.

    Wire timing. A reply is written at t_arrival + request wire time + turnaround + reply wire time, with
    wire time = bytes x bits per character / baud (1 start + 8 data + parity + stop bits): the moment its
    last byte would have arrived on a real bus. The wire is busy until then; a frame that begins before
    busy_until + 3.5 characters is a collision: counted, not answered, and a reply whose wire time it
    overlaps is garbled (random bytes of the same length), as on a real bus.

    Line settings. termios on the pty master shows what the controller set on its side (Linux). A detector
    whose baud or parity differs from it hears garbage and stays silent (counted in line_mismatches), so a
    baud scan can be tested. Stop bits are not compared (a UART checks only the first stop bit). Linux
    ptys drop PARENB, so even parity reads as "none or even" and only odd vs. not-odd is told apart; a
    non-standard baud rate (BOTHER) reads as None, which no detector hears.

    Faults. inject(address, kind, count, **params) damages the replies to requests for that address:
    no_reply; lossy(loss_pct: a seeded random share of replies dropped, a loose wire); late_reply(delay_ms); crc_corruption; bit_flip (one seeded random bit); truncated(n_bytes=1,
    dropped from the end); garbage(n_bytes=reply length, after=False: instead of, True: after the reply);
    wrong_address(reply_address=next address, CRC valid); exception(code=4). count=None: until clear();
    an int: the next n replies. inject_noise(n_bytes) puts random bytes on the line, their last stop bit now.

    Port. vanish() removes the link and closes the pty (an unplugged USB adapter: the controller's open
    descriptor gets EIO); restore() puts a new pty behind the same link. Both are idempotent.
    """

    def __init__(
        self,
        link: str,
        baud: int,
        parity: str = "N",
        stop_bits: int = 1,
        turnaround_ms: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        if baud not in _SPEED_BY_BAUD:
            raise ValueError("bus %s: baud %r is not a standard rate a pty can carry" % (link, baud))
        modbus_rtu.bits_per_char(parity, stop_bits)
        if turnaround_ms < 0:
            raise ValueError("bus %s: turnaround_ms must not be negative, got %r" % (link, turnaround_ms))
        self.link = link
        self.baud = baud
        self.parity = _parity_letter(parity)
        self.stop_bits = stop_bits
        self.turnaround_ms = turnaround_ms
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._lifecycle = threading.Lock()
        self._detectors: tuple[Slave, ...] = ()
        self._faults: dict[int, list[FrameFault]] = {}
        self._noise: list[int] = []
        self._stats: dict[str, Any] = {key: 0 for key in _BUS_COUNTERS}
        self._stats["last_detector_error"] = ""
        self._by_address: dict[int, dict[str, Any]] = {}
        self._late_us_max = 0
        self._late_us_total = 0
        self._late_count = 0
        self._state = "new"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._rx = _Receiver()
        self._pending: list[_Pending] = []
        self._busy_until_s = float("-inf")

    # Life cycle.
    def __enter__(self) -> "EmulatedBus":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def present(self) -> bool:
        """True while the port exists (started, not vanished, not closed)."""
        return self._state == "running"

    def add(self, detector: Slave) -> None:
        """Puts a detector on the bus (also while running)."""
        with self._lock:
            self._detectors = self._detectors + (detector,)

    def start(self) -> None:
        """Creates the pty and the link, and starts answering."""
        with self._lifecycle:
            if self._state != "new":
                raise RuntimeError("bus %s: start() once; use restore() after vanish()" % self.link)
            self._open_port()
            self._state = "running"

    def vanish(self) -> None:
        """The port disappears: answering stops, the link is removed, the pty is closed."""
        with self._lifecycle:
            if self._state != "running":
                return
            self._close_port()
            self._state = "vanished"
            with self._lock:
                self._stats["vanishes"] += 1

    def restore(self) -> None:
        """A new pty behind the same link, answering again (nothing if the port is there)."""
        with self._lifecycle:
            if self._state == "running":
                return
            if self._state != "vanished":
                raise RuntimeError("bus %s: restore() is for a vanished port, the bus is %s" % (self.link, self._state))
            self._open_port()
            self._state = "running"

    def close(self) -> None:
        """Stops answering and removes the pty and the link (idempotent)."""
        with self._lifecycle:
            if self._state == "running":
                self._close_port()
            if self._state != "closed":
                os.close(self._wake_r)
                os.close(self._wake_w)
            self._state = "closed"

    # Faults.
    def inject(self, address: int, kind: str, count: int | None = None, **params: Any) -> None:
        """Damages the replies to requests for `address` (see the class docstring); replaces a fault of that kind."""
        if not isinstance(address, int) or not modbus_rtu.MIN_SLAVE <= address <= modbus_rtu.MAX_SLAVE:
            raise ValueError("fault %s: address must be %d..%d, got %r"
                             % (kind, modbus_rtu.MIN_SLAVE, modbus_rtu.MAX_SLAVE, address))
        fault = FrameFault.make(kind, count, **params)
        if kind == "wrong_address" and fault.params["reply_address"] == address:
            raise ValueError("fault wrong_address: reply_address must differ from the slave's address %d" % address)
        with self._lock:
            kept = [f for f in self._faults.get(address, []) if f.kind != kind]
            self._faults[address] = kept + [fault]

    def clear(self, address: int, kind: str | None = None) -> None:
        """Removes the faults of `address` (only those of `kind` when given)."""
        with self._lock:
            kept = [f for f in self._faults.get(address, []) if kind is not None and f.kind != kind]
            if kept:
                self._faults[address] = kept
            else:
                self._faults.pop(address, None)

    def active_faults(self, address: int) -> list[tuple[str, int | None]]:
        """(kind, replies left or None) of the faults still set on `address`, in application order."""
        with self._lock:
            faults = sorted(self._faults.get(address, []), key=lambda f: FAULT_KINDS.index(f.kind))
            return [(f.kind, f.remaining) for f in faults]

    def inject_noise(self, n_bytes: int) -> None:
        """Random bytes on the line now: the controller receives them and a frame being received is garbled."""
        if not isinstance(n_bytes, int) or n_bytes < 1:
            raise ValueError("inject_noise: n_bytes must be a positive integer, got %r" % (n_bytes,))
        with self._lock:
            self._noise.append(n_bytes)
        self._wake()

    # Observation.
    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot: the bus counters, reply lateness (us), and by_address {address: counters, faults}."""
        with self._lock:
            snapshot = dict(self._stats)
            snapshot["reply_late_us_max"] = self._late_us_max
            snapshot["reply_late_us_mean"] = self._late_us_total // self._late_count if self._late_count else 0
            snapshot["by_address"] = {
                address: dict(counters, faults=dict(counters["faults"]))
                for address, counters in self._by_address.items()
            }
        return snapshot

    def line_settings(self) -> LineSettings:
        """What the controller's side of the pty is set to (the nominal settings while the port is gone)."""
        master = self._master
        if master is not None:
            try:
                attrs = termios.tcgetattr(master)
            except (termios.error, OSError):
                attrs = None
            if attrs is not None:
                cflag = attrs[2]
                if cflag & termios.PARODD:
                    parity: str | None = "O"
                elif cflag & termios.PARENB:
                    parity = "E"
                else:
                    parity = None
                return LineSettings(_BAUD_BY_SPEED.get(attrs[5]), parity, 2 if cflag & termios.CSTOPB else 1)
        return LineSettings(self.baud, self.parity, self.stop_bits)

    # The port.
    def _open_port(self) -> None:
        master, slave = os.openpty()
        try:
            self._set_nominal_line(slave)
            os.set_blocking(master, False)
            name = os.ttyname(slave)
            staging = "%s.%d.new" % (self.link, os.getpid())
            if os.path.lexists(staging):
                os.unlink(staging)
            os.symlink(name, staging)
            os.replace(staging, self.link)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        # Our own descriptor of the slave side stays open, so the master never sees a hang-up when the
        # controller closes and reopens the port.
        self._master, self._slave, self._slave_name = master, slave, name
        self._rx = _Receiver()
        self._pending = []
        self._busy_until_s = float("-inf")
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="emulated-bus %s" % self.link, daemon=True)
        self._thread.start()

    def _set_nominal_line(self, fd: int) -> None:
        """Raw (no echo, no line discipline) at the nominal settings, until the controller sets its own."""
        tty.setraw(fd, termios.TCSANOW)
        attrs = termios.tcgetattr(fd)
        cflag = attrs[2] & ~(termios.PARENB | termios.PARODD | termios.CSTOPB)
        if self.parity != "N":
            cflag |= termios.PARENB
        if self.parity == "O":
            cflag |= termios.PARODD
        if self.stop_bits == 2:
            cflag |= termios.CSTOPB
        attrs[2] = cflag
        attrs[4] = attrs[5] = _SPEED_BY_BAUD[self.baud]
        termios.tcsetattr(fd, termios.TCSANOW, attrs)

    def _close_port(self) -> None:
        self._stop.set()
        self._wake()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(STOP_JOIN_S)
            if thread.is_alive():
                raise RuntimeError("bus %s: the bus thread did not stop within %.0f s" % (self.link, STOP_JOIN_S))
        try:
            if os.readlink(self.link) == self._slave_name:
                os.unlink(self.link)
        except OSError:
            pass  # the link was already removed or replaced by someone else: leave theirs alone
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (the thread will wake anyway) or closed (the bus is closed)

    # The bus thread: every attribute below is touched by it alone (faults and stats under _lock).
    def _serve(self) -> None:
        master = self._master
        assert master is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([master, self._wake_r], [], [], self._wait_s())
            if self._wake_r in ready:
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
            if master in ready:
                self._receive(master)
            self._write_noise(master)
            self._end_frame_on_silence(self._clock())
            self._write_due(master)

    def _wait_s(self) -> float:
        now = self._clock()
        deadlines = []
        if self._pending:
            deadlines.append(self._pending[0].due_s - SPIN_S)
        if self._rx.buf:
            deadlines.append(self._rx.wire_end_s + self._rx.silent_s)
        if not deadlines:
            return IDLE_WAIT_S
        return min(IDLE_WAIT_S, max(0.0, min(deadlines) - now))

    def _receive(self, master: int) -> None:
        try:
            data = os.read(master, READ_BYTES)
        except (BlockingIOError, OSError):
            return
        now = self._clock()
        self._end_frame_on_silence(now)
        if not data:
            return
        line = self.line_settings()
        parity = self._request_parity(line)
        baud = line.baud or self.baud
        rx = self._rx
        if not rx.buf:
            rx.start_s = now
            rx.wire_end_s = now
        rx.buf += data
        rx.wire_end_s = max(rx.wire_end_s, now) + len(data) * _wire_char_s(baud, parity, line.stop_bits)
        rx.silent_s = _silent_s(baud, parity, line.stop_bits)
        if not rx.garbled and request_frame_length(rx.buf) == len(rx.buf):
            self._end_frame()

    def _end_frame_on_silence(self, now: float) -> None:
        if self._rx.buf and now >= self._rx.wire_end_s + self._rx.silent_s:
            self._end_frame()

    def _end_frame(self) -> None:
        rx, self._rx = self._rx, _Receiver()
        self._dispatch(bytes(rx.buf), rx.start_s, rx.wire_end_s, rx.silent_s, rx.garbled)

    def _request_parity(self, line: LineSettings) -> str:
        """Parity for the request's wire time: the line's, or the nominal one where a pty cannot tell."""
        if line.parity is not None:
            return line.parity
        return self.parity if self.parity != "O" else "N"

    def _detector_line(self, detector: Slave) -> tuple[int, str, int]:
        baud = getattr(detector, "baud", None) or self.baud
        parity = getattr(detector, "parity", None)
        stop_bits = getattr(detector, "stop_bits", None) or self.stop_bits
        return baud, self.parity if parity is None else _parity_letter(parity), stop_bits

    def _hears(self, detector: Slave, line: LineSettings) -> bool:
        baud, parity, _ = self._detector_line(detector)
        if line.baud != baud:
            return False
        return line.parity == parity or (line.parity is None and parity in ("N", "E"))

    def _dispatch(self, frame: bytes, start_s: float, end_s: float, silent_s: float, garbled: bool) -> None:
        collided = start_s < self._busy_until_s + silent_s
        self._occupy_wire(start_s, end_s)
        if collided:
            self._count(None, "collisions")
            return
        if garbled or not _crc_valid(frame):
            self._count(None, "garbage_bytes", len(frame))
            return
        address = frame[0]
        self._count(address, "requests")
        line = self.line_settings()
        with self._lock:
            detectors = self._detectors
        replies: list[tuple[Slave, bytes]] = []
        deaf = False
        for detector in detectors:
            if not self._hears(detector, line):
                deaf = deaf or detector.address == address
                continue
            try:
                reply = detector.respond(frame, end_s)
            except Exception as exc:  # a bench bug must not silence the whole bus; it is counted and kept
                with self._lock:
                    self._stats["detector_errors"] += 1
                    self._stats["last_detector_error"] = "%s at address %d: %r" % (
                        type(detector).__name__, detector.address, exc)
                continue
            if reply:
                replies.append((detector, bytes(reply)))
        if deaf:
            self._count(address, "line_mismatches")
        if not replies:
            return
        detector = replies[0][0]
        delay_s = 0.0
        if len(replies) > 1:
            self._count(None, "address_conflicts")
            data: bytes | None = self._rng.randbytes(max(len(reply) for _, reply in replies))
        else:
            data, delay_s = self._apply_faults(address, frame, replies[0][1])
        if not data:
            return
        wire_s = len(data) * _wire_char_s(*self._detector_line(detector))
        due_s = end_s + self.turnaround_ms / 1000.0 + wire_s + delay_s
        self._pending.append(_Pending(due_s, data, wire_s, address))
        self._pending.sort(key=lambda pending: pending.due_s)
        self._busy_until_s = max(self._busy_until_s, due_s)

    def _apply_faults(self, address: int, request: bytes, reply: bytes) -> tuple[bytes | None, float]:
        with self._lock:
            faults = self._faults.get(address)
            if not faults:
                return reply, 0.0
            data: bytes | None = reply
            delay_s = 0.0
            counters = self._address_stats(address)
            for fault in sorted(faults, key=lambda f: FAULT_KINDS.index(f.kind)):
                data = fault.damage(request, data, self._rng)
                delay_s += fault.delay_s
                if fault.remaining is not None:
                    fault.remaining -= 1
                self._stats["faults_applied"] += 1
                counters["faults"][fault.kind] = counters["faults"].get(fault.kind, 0) + 1
                if data is None:
                    break
            kept = [f for f in faults if f.remaining is None or f.remaining > 0]
            if kept:
                self._faults[address] = kept
            else:
                del self._faults[address]
        return data, delay_s

    def _occupy_wire(self, start_s: float, end_s: float) -> None:
        """Something is on the wire from start_s to end_s: replies it overlaps are garbled."""
        for pending in self._pending:
            if not pending.garbled and start_s < pending.due_s and end_s > pending.due_s - pending.wire_s:
                pending.data = self._rng.randbytes(len(pending.data))
                pending.garbled = True
        self._busy_until_s = max(self._busy_until_s, end_s)

    def _write_noise(self, master: int) -> None:
        with self._lock:
            noise, self._noise = self._noise, []
        for n_bytes in noise:
            line = self.line_settings()
            char_s = _wire_char_s(line.baud or self.baud, self._request_parity(line), line.stop_bits)
            now = self._clock()
            # What the controller receives now was on the wire for the n characters before: a real line
            # cannot deliver a byte before its stop bit, so the silent interval runs from now.
            self._occupy_wire(now - n_bytes * char_s, now)
            if self._rx.buf:
                self._rx.garbled = True
            self._count(None, "noise_bytes", n_bytes)  # before the write: the stats never lag what was seen
            self._write(master, self._rng.randbytes(n_bytes))

    def _write_due(self, master: int) -> None:
        while self._pending and self._pending[0].due_s - self._clock() <= SPIN_S:
            pending = self._pending.pop(0)
            self._spin_until(pending.due_s)
            written_s = self._clock()
            self._busy_until_s = max(self._busy_until_s, written_s)
            late_us = max(0, int((written_s - pending.due_s) * 1e6))
            with self._lock:  # counted before the write: the stats never lag what the controller saw
                self._late_us_max = max(self._late_us_max, late_us)
                self._late_us_total += late_us
                self._late_count += 1
                self._stats["replies"] += 1
                self._address_stats(pending.address)["replies"] += 1
            self._write(master, pending.data)

    def _spin_until(self, due_s: float) -> None:
        """Busy-waits the last SPIN_S (bounded in real time too, should the injected clock stand still)."""
        limit = time.perf_counter() + 2 * SPIN_S
        while self._clock() < due_s and time.perf_counter() < limit:
            pass

    def _write(self, master: int, data: bytes) -> int:
        try:
            sent = os.write(master, data)
        except OSError:  # EAGAIN: the controller's input queue is full; EIO: its side is gone
            sent = 0
        if sent < len(data):
            self._count(None, "dropped_bytes", len(data) - sent)
        return sent

    def _address_stats(self, address: int) -> dict[str, Any]:
        counters = self._by_address.get(address)
        if counters is None:
            counters = self._by_address[address] = _new_address_stats()
        return counters

    def _count(self, address: int | None, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n
            if address is not None:
                self._address_stats(address)[key] += n
