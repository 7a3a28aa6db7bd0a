"""Interoperability with pymodbus, so that neither end of our Modbus only agrees with itself: pymodbus's
RTU client against the emulated bus and detectors, and our SerialBus + BusMaster against pymodbus's RTU server."""

from __future__ import annotations

import asyncio
import os
import select
import termios
import threading
import time
import tty

import pytest
from pymodbus import ExceptionResponse, FramerType
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gaslatch.core import modbus_rtu
from gaslatch.core.modbus_master import BusMaster
from gaslatch.unit.serial_bus import SerialBus
from gaslatch_tools.bench.emulated_bus import EmulatedBus
from gaslatch_tools.bench.emulated_detector import EmulatedDetector
from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.testing.waiting import wait_until

WAIT_S = 5.0
BAUD = 9600
SCAN_PERIOD_S = 0.005
REGISTERS = 10
CN_GENERIC_ADDRESS_REGISTER = 16  # cn-generic commissioning: slave address


# pymodbus's client against the emulator.
@pytest.fixture
def emulated(tmp_path):
    """Two cn-generic detectors (clean air at 1, 20 %LEL at 2) on an emulated bus, and a pymodbus client on it."""
    bus = EmulatedBus(str(tmp_path / "ttyBUS0"), BAUD)
    detectors = {1: EmulatedDetector("cn-generic", 1), 2: EmulatedDetector("cn-generic", 2, GasModel(20.0))}
    for detector in detectors.values():
        bus.add(detector)
    bus.start()
    client = ModbusSerialClient(bus.link, framer=FramerType.RTU, baudrate=BAUD, timeout=0.5, retries=0)
    assert client.connect()
    yield bus, detectors, client
    client.close()
    bus.close()


def expected_registers(detector: EmulatedDetector) -> list[int]:
    image = detector.registers(time.monotonic())
    return [image[address] for address in range(REGISTERS)]


def test_pymodbus_client_reads_each_detector_on_the_emulated_bus(emulated):
    bus, detectors, client = emulated
    for address in (1, 2, 1):
        response = client.read_holding_registers(0, count=REGISTERS, device_id=address)
        assert not response.isError(), response
        assert response.registers == expected_registers(detectors[address])
    assert expected_registers(detectors[1]) != expected_registers(detectors[2])
    assert bus.stats["collisions"] == 0


def test_pymodbus_client_writes_a_new_address_that_the_detector_then_answers_on(emulated):
    bus, detectors, client = emulated
    response = client.write_register(CN_GENERIC_ADDRESS_REGISTER, 7, device_id=2)
    assert not response.isError(), response
    assert (response.address, response.registers) == (CN_GENERIC_ADDRESS_REGISTER, [7])
    assert detectors[2].address == 7
    response = client.read_holding_registers(0, count=REGISTERS, device_id=7)
    assert response.registers == expected_registers(detectors[2])


def test_pymodbus_client_decodes_an_injected_exception_reply(emulated):
    bus, _, client = emulated
    bus.inject(1, "exception", count=1, code=modbus_rtu.SLAVE_DEVICE_BUSY)
    response = client.read_holding_registers(0, count=REGISTERS, device_id=1)
    assert isinstance(response, ExceptionResponse)
    assert response.exception_code == modbus_rtu.SLAVE_DEVICE_BUSY


def test_pymodbus_client_rejects_a_reply_with_a_corrupted_crc(emulated):
    bus, detectors, client = emulated
    bus.inject(1, "crc_corruption", count=1)
    with pytest.raises(ModbusIOException):
        client.read_holding_registers(0, count=REGISTERS, device_id=1)
    response = client.read_holding_registers(0, count=REGISTERS, device_id=1)
    assert response.registers == expected_registers(detectors[1])


# Our master against pymodbus's server.
class NullModem:
    """Two ptys joined back to back like two UARTs on one line: bytes written on one side are read on the
    other once their wire time at BAUD 8N1 has passed (a master rightly ignores a reply that comes sooner)."""

    def __init__(self) -> None:
        self._fds: list[int] = []
        self.paths: list[str] = []
        self._masters: list[int] = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave, termios.TCSANOW)
            os.set_blocking(master, False)
            self._fds += [master, slave]  # the slave stays open here: the masters never see a hang-up
            self._masters.append(master)
            self.paths.append(os.ttyname(slave))
        self._char_s = modbus_rtu.bits_per_char("N", 1) / BAUD
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="null-modem", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        a, b = self._masters
        peer = {a: b, b: a}
        in_flight: list[tuple[float, int, bytes]] = []  # (arrival time, destination, bytes), in arrival order
        wire_free_s = {a: 0.0, b: 0.0}
        while True:
            timeout_s = None if not in_flight else max(0.0, in_flight[0][0] - time.monotonic())
            ready, _, _ = select.select([a, b, self._stop_r], [], [], timeout_s)
            if self._stop_r in ready:
                return
            now_s = time.monotonic()
            for fd in (a, b):
                if fd in ready:
                    data = os.read(fd, 4096)
                    wire_free_s[fd] = max(wire_free_s[fd], now_s) + len(data) * self._char_s
                    in_flight.append((wire_free_s[fd], peer[fd], data))
                    in_flight.sort(key=lambda item: item[0])
            while in_flight and in_flight[0][0] <= time.monotonic():
                _, destination, data = in_flight.pop(0)
                os.write(destination, data)

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(WAIT_S)
        for fd in self._fds + [self._stop_r, self._stop_w]:
            os.close(fd)


class PymodbusServer:
    """pymodbus's RTU server on a serial port, in a thread with its own asyncio loop."""

    def __init__(self, port: str, devices: list[SimDevice]) -> None:
        self._port = port
        self._devices = devices
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusSerialServer | None = None
        self._thread = threading.Thread(target=self._run, name="pymodbus-server", daemon=True)
        self._thread.start()
        wait_until(lambda: self._ready.is_set() or self._error, WAIT_S, what="the pymodbus server to listen")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the test thread, which raises it
            self._error = exc

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = ModbusSerialServer(self._devices, framer=FramerType.RTU, port=self._port, baudrate=BAUD)
        await self._server.serve_forever(background=True)
        self._ready.set()
        await self._server.serving

    def stop(self) -> None:
        assert self._loop is not None and self._server is not None
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(WAIT_S)
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive()


SERVER_VALUES = {1: [0x2400, 123, 100, 250, 1000, 1, 0, 0, 0x0B00, 500], 2: [0x2400, 456] + [0] * (REGISTERS - 2)}


@pytest.fixture
def pymodbus_server():
    """Our SerialBus on one end of a null modem, pymodbus's server with slaves 1 and 2 on the other."""
    modem = NullModem()
    devices = [SimDevice(address, simdata=[SimData(0, values=list(values), datatype=DataType.REGISTERS)])
               for address, values in sorted(SERVER_VALUES.items())]
    server = PymodbusServer(modem.paths[1], devices)
    bus = SerialBus("bus1", {"port": modem.paths[0], "baud": BAUD})
    assert bus.is_open, bus.error
    yield bus
    bus.close()
    server.stop()
    modem.close()


def run_master(master: BusMaster, bus: SerialBus, n_results: int) -> list:
    """Steps the master once per scan, as the unit's scan loop does, until n_results polls or submits ended."""
    results: list = []
    deadline_s = time.monotonic() + WAIT_S
    next_scan_s = time.monotonic()
    while len(results) < n_results:
        assert time.monotonic() < deadline_s, "only %d of %d results: %r" % (len(results), n_results, master.stats())
        tx = master.step(time.monotonic_ns() // 1_000_000, bus.read())
        if tx:
            bus.write(tx)
        results += master.pop_results()
        next_scan_s += SCAN_PERIOD_S
        time.sleep(max(0.0, next_scan_s - time.monotonic()))  # the scan period, on absolute deadlines
    return results


def make_master() -> BusMaster:
    return BusMaster("bus1", BAUD, modbus_rtu.bits_per_char("N", 1), response_timeout_ms=500, retries=0)


def test_our_master_reads_every_slave_of_a_pymodbus_rtu_server(pymodbus_server):
    master = make_master()
    for address in (1, 2):
        master.add_poll(address, [(modbus_rtu.FUNCTION_READ_HOLDING, 0, REGISTERS)], 1000, "d%d" % address)
    results = run_master(master, pymodbus_server, 2)
    assert {r.slave: (r.ok, r.blocks) for r in results} == {
        address: (True, [values]) for address, values in SERVER_VALUES.items()}
    assert master.stats()["crc_errors"] == master.stats()["frame_errors"] == 0


def test_our_master_writes_registers_that_the_pymodbus_server_then_reports(pymodbus_server):
    master = make_master()
    master.submit(1, modbus_rtu.write_register_request(1, 6, 777), "single")
    master.submit(1, modbus_rtu.write_registers_request(1, 7, [11, 12]), "multiple")
    writes = run_master(master, pymodbus_server, 2)
    assert [(r.tag, r.ok, r.blocks) for r in writes] == [("single", True, (6, 777)), ("multiple", True, (7, 2))]
    master.add_poll(1, [(modbus_rtu.FUNCTION_READ_HOLDING, 0, REGISTERS)], 1000, "d1")
    (poll,) = run_master(master, pymodbus_server, 1)
    assert poll.blocks[0][6:9] == [777, 11, 12]


def test_our_master_reads_a_pymodbus_exception_for_registers_it_lacks(pymodbus_server):
    master = make_master()
    master.add_poll(1, [(modbus_rtu.FUNCTION_READ_HOLDING, 40, 2)], 1000, "d1")
    (result,) = run_master(master, pymodbus_server, 1)
    assert (result.ok, result.error, result.exception_code) == (
        False, modbus_rtu.KIND_EXCEPTION, modbus_rtu.ILLEGAL_DATA_ADDRESS)
