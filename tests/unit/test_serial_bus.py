"""SerialBus against real pseudo-terminals: the test plays the detector on the master side."""

from __future__ import annotations

import errno
import os

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.unit import serial_bus
from gaslatch.unit.serial_bus import SerialBus, char_time_s
from gaslatch_tools.testing.waiting import returns, wait_until

WAIT_S = 5.0
# A read or write that waits for the wire never returns while the detector holds back: the calls run in a thread and
# must all be done, within this deadline, while the detector still does. (A bound on each call's wall time instead is
# broken by any GC pause or preemption of the test on a loaded machine.)
RETURNED_S = 30.0


def returned(calls, what: str) -> None:
    """`calls` returns within RETURNED_S (a call blocked on the wire never does)."""
    returns(calls, RETURNED_S, "%s waited for the wire" % what)


class PtyDetector:
    """The detector end of a pseudo-terminal pair: the bus opens `path`, the test uses the master."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        os.set_blocking(self.master, False)
        self.received = bytearray()

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def take(self) -> bytes:
        """Everything the bus sent so far (accumulated)."""
        try:
            self.received += os.read(self.master, 65536)
        except BlockingIOError:
            pass
        return bytes(self.received)

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def detectors():
    made: list[PtyDetector] = []

    def make() -> PtyDetector:
        made.append(PtyDetector())
        return made[-1]

    yield make
    for detector in made:
        detector.unplug()


@pytest.fixture
def buses():
    made: list[SerialBus] = []

    def make(*args, **kwargs) -> SerialBus:
        made.append(SerialBus(*args, **kwargs))
        return made[-1]

    yield make
    for bus in made:
        bus.close()


def read_until(bus: SerialBus, expected: bytes) -> bytes:
    got = bytearray()

    def complete() -> bool:
        got.extend(bus.read())
        return len(got) >= len(expected)

    wait_until(complete, WAIT_S, what="%d bytes on %s" % (len(expected), bus.name))
    return bytes(got)


def test_bytes_round_trip_unchanged_in_both_directions(detectors, buses):
    detector = detectors()
    bus = buses("bus1", {"port": detector.path})
    every_byte = bytes(range(256))  # XON/XOFF, CR, ^C... must pass: the port is raw
    assert bus.write(every_byte) == 256
    wait_until(lambda: detector.take() == every_byte, WAIT_S, what="the frame at the detector")
    detector.send(every_byte[::-1])
    assert read_until(bus, every_byte) == every_byte[::-1]
    assert (bus.rx_bytes, bus.tx_bytes, bus.tx_dropped_bytes) == (256, 256, 0)


@given(chunks=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=8))
def test_read_delivers_whatever_arrived_in_order(chunks):
    detector = PtyDetector()
    bus = SerialBus("bus1", {"port": detector.path, "baud": 19200, "parity": "E"})
    try:
        for chunk in chunks:
            detector.send(chunk)
        expected = b"".join(chunks)
        assert read_until(bus, expected) == expected
    finally:
        bus.close()
        detector.unplug()


def test_read_returns_at_once_when_nothing_arrived(detectors, buses):
    detector = detectors()
    bus = buses("bus1", {"port": detector.path})
    got: list[bytes] = []
    # the detector holds its reply back until the reads have returned: a read that waits for bytes never does
    returned(lambda: got.extend(bus.read() for _ in range(200)), "read()")
    assert got == [b""] * 200
    detector.send(b"\x01\x03")  # the port was live all along: what comes now is read
    assert read_until(bus, b"\x01\x03") == b"\x01\x03"


def test_write_drops_frames_the_port_cannot_take_instead_of_waiting(detectors, buses):
    detector = detectors()  # never reads: the pty buffer fills up, and stays full
    bus = buses("bus1", {"port": detector.path})
    frame = bytes(256)

    def write_until_a_frame_is_dropped() -> None:
        for _ in range(2000):
            bus.write(frame)
            if bus.tx_dropped_bytes:
                return

    # a write that waits for room never returns: the detector reads nothing, there is never room
    returned(write_until_a_frame_is_dropped, "write()")
    assert bus.tx_dropped_bytes > 0
    assert bus.is_open and bus.error == ""


def test_unplugged_port_is_reported_lost_with_the_reason_and_never_raises(detectors, buses, tmp_path):
    detector = detectors()
    link = tmp_path / "ttyUSB0"
    link.symlink_to(detector.path)
    bus = buses("bus1", {"port": str(link)}, now_ms=Clock())
    assert bus.state_changes() == [("open", "%s 9600 8N1 auto" % link)]

    detector.unplug()
    link.unlink()
    wait_until(lambda: bus.read() == b"" and not bus.is_open, WAIT_S, what="the bus to notice the unplug")

    assert bus.state_changes() == [("lost", bus.error)]
    assert str(link) in bus.error and "unplugged" in bus.error
    assert bus.write(b"\x01\x03\x00\x00\x00\x0a\xc5\xcd") == 0
    assert bus.tx_dropped_bytes == 8


def test_port_that_comes_back_is_reopened_after_the_reopen_interval(detectors, buses, tmp_path):
    clock = Clock()
    first = detectors()
    link = tmp_path / "ttyUSB0"
    link.symlink_to(first.path)
    bus = buses("bus1", {"port": str(link)}, now_ms=clock, reopen_interval_ms=2000)
    first.unplug()
    link.unlink()
    clock.now = 10_000
    wait_until(lambda: bus.read() == b"" and not bus.is_open, WAIT_S, what="the bus to notice the unplug")
    bus.state_changes()

    clock.now = 12_000  # the port is still missing: the attempt reports the OS error, no new transition
    bus.read()
    assert bus.error == "[Errno 2] could not open port %s: No such file or directory" % link

    second = detectors()
    link.symlink_to(second.path)
    clock.now = 13_999
    bus.read()
    assert not bus.is_open, "reopened before the reopen interval"
    clock.now = 14_000
    bus.read()
    assert bus.is_open and bus.error == ""
    assert bus.state_changes() == [("open", "%s 9600 8N1 auto" % link)]
    second.send(b"\x01\x03")
    assert read_until(bus, b"\x01\x03") == b"\x01\x03"
    assert bus.opens == 2


def test_missing_port_at_start_is_a_bus_fault_with_the_os_error(buses, tmp_path):
    port = str(tmp_path / "ttyUSB9")
    bus = buses("bus1", {"port": port})
    assert bus.error == "[Errno 2] could not open port %s: No such file or directory" % port
    assert bus.state_changes() == [("lost", bus.error)]
    assert bus.read() == b""
    assert bus.write(b"\x01") == 0


def test_permission_denied_tells_the_installer_to_join_the_dialout_group(buses):
    class DeniedSerial(serial.Serial):
        def open(self) -> None:  # what pyserial's posix open() raises when os.open gets EACCES
            denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.port)
            raise serial.SerialException(errno.EACCES, "could not open port %s: %s" % (self.port, denied))

    def open_port(url, do_not_open, **settings):
        port = DeniedSerial(None, **settings)  # no port yet: pyserial does not open it
        port.port = url
        return port

    bus = buses("bus1", {"port": "/dev/ttyUSB0"}, open_port=open_port)
    assert not bus.is_open
    assert bus.error.startswith("[Errno 13] could not open port /dev/ttyUSB0: Permission denied: ")
    assert "dialout group" in bus.error


def test_port_held_by_another_program_is_reported_busy(detectors, buses):
    detector = detectors()
    buses("first", {"port": detector.path})
    second = buses("second", {"port": detector.path})
    assert not second.is_open
    assert "another program holds the port" in second.error


class RecordingPort:
    """Stands in for pyserial's Serial: records the settings it was opened with."""

    def __init__(self, url: str, **settings) -> None:
        self.url = url
        self.settings = settings
        self.rs485_mode = None
        self.rs485_at_open = "not opened"

    def open(self) -> None:
        self.rs485_at_open = self.rs485_mode

    def close(self) -> None:
        pass


def test_kernel_direction_puts_the_uart_in_rs485_mode_before_opening(buses):
    opened: list[RecordingPort] = []

    def open_port(url, **settings):
        opened.append(RecordingPort(url, **settings))
        return opened[-1]

    bus = buses("bus1", {"port": "/dev/ttyAMA0", "baud": 19200, "parity": "E", "stop_bits": 2,
                         "direction": "kernel"}, open_port=open_port)
    assert bus.is_open
    (port,) = opened
    assert port.url == "/dev/ttyAMA0"
    assert port.settings == {"do_not_open": True, "baudrate": 19200, "bytesize": 8, "parity": "E",
                             "stopbits": 2, "timeout": 0, "write_timeout": 0, "exclusive": True}
    mode = port.rs485_at_open
    assert (mode.rts_level_for_tx, mode.rts_level_for_rx) == (True, False)
    assert (mode.delay_before_tx, mode.delay_before_rx, mode.loopback) == (0.0, 0.0, False)


def test_kernel_direction_on_a_uart_without_rs485_mode_is_a_clear_bus_fault(detectors, buses):
    detector = detectors()  # a pty has no TIOCSRS485, like a UART driver without RS-485 support
    bus = buses("bus1", {"port": detector.path, "direction": "kernel"})
    assert not bus.is_open
    assert "kernel RS-485 mode could not be set on %s" % detector.path in bus.error
    assert "direction to gpio" in bus.error


class FakeTime:
    """Stands in for the `time` module serial_bus reads: monotonic() is the test's, sleep() advances it exactly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def test_gpio_direction_drives_de_on_for_the_frame_wire_time_and_off_again(detectors, buses, monkeypatch):
    # The bus's wait for the wire runs on a fake clock: an oversleeping time.sleep() on a loaded machine is no part
    # of what the bus does.
    fake_time = FakeTime()
    monkeypatch.setattr(serial_bus, "time", fake_time)
    detector = detectors()
    log: list[tuple[str, object, float]] = []

    def set_de(level: bool) -> None:
        log.append(("de", level, fake_time.monotonic()))

    def open_port(url, **settings):
        port = serial.serial_for_url(url, **settings)
        real_write = port.write

        def write(data):
            log.append(("write", bytes(data), fake_time.monotonic()))
            return real_write(data)

        port.write = write
        return port

    bus = buses("bus1", {"port": detector.path, "direction": "gpio"}, open_port=open_port, set_de=set_de,
                now_ms=Clock())
    assert [entry[:2] for entry in log] == [("de", False)]  # listening from the start
    request = bytes.fromhex("01 03 00 00 00 0a c5 cd")  # read 10 registers of slave 1
    log.clear()
    assert bus.write(request) == 8
    assert [entry[:2] for entry in log] == [("de", True), ("write", request), ("de", False)]

    char_s = char_time_s(9600, "N", 1)
    wire_s = 8 * char_s
    de_on_s = log[2][2] - log[0][2]
    # a pty has no transmitter-empty bit: the bus waits out the wire time and the one character it allows for it
    assert wire_s <= de_on_s <= wire_s + char_s + 1e-9
    wait_until(lambda: detector.take() == request, WAIT_S, what="the request at the detector")


def test_a_de_line_that_cannot_be_switched_takes_the_bus_down_without_raising(detectors, buses):
    detector = detectors()

    def set_de(level: bool) -> None:
        if level:
            raise OSError(errno.EBUSY, "line 17 is requested by another program")

    bus = buses("bus1", {"port": detector.path, "direction": "gpio"}, set_de=set_de)
    assert bus.write(b"\x01\x03") == 0
    assert not bus.is_open
    assert bus.error.startswith("DE/RE line of bus bus1 could not be switched on: ")
    assert detector.take() == b""


@pytest.mark.parametrize(
    "baud, parity, stop_bits, bits",
    [(9600, "N", 1, 10), (9600, "E", 1, 11), (19200, "O", 2, 12), (115200, "N", 2, 11)],
)
def test_character_time_counts_start_data_parity_and_stop_bits(baud, parity, stop_bits, bits):
    assert char_time_s(baud, parity, stop_bits) == pytest.approx(bits / baud)
