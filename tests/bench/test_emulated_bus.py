"""The emulated RS-485 bus on a real pty: multi-drop addressing, wire timing, collisions, line settings,
every frame fault as a client sees it, noise, and the port vanishing and returning."""

from __future__ import annotations

import os
import random
import select
import time

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import modbus_rtu
from gaslatch.unit.serial_bus import SerialBus
from gaslatch_tools.bench.emulated_bus import FAULT_KINDS, EmulatedBus, FrameFault, LineSettings, request_frame_length
from gaslatch_tools.testing.waiting import wait_until

WAIT_S = 5.0
TRANSACTIONS = 50
# A request sent this long after the wire is free is clear of the 3.5-character rule on a loaded machine.
GAP_MARGIN_S = 0.002
REGISTERS = 10
READ_REPLY_LENGTH = 5 + 2 * REGISTERS


class StandInDetector:
    """A register-image slave for functions 3, 6 and 16: the bus is tested apart from the detector model."""

    def __init__(self, address: int, baud: int | None = None, parity: str | None = None,
                 stop_bits: int | None = None) -> None:
        self.address = address
        self.baud = baud
        self.parity = parity
        self.stop_bits = stop_bits
        self.registers = [address * 100 + i for i in range(REGISTERS)]

    def respond(self, frame: bytes, now_s: float) -> bytes | None:
        try:
            slave, function, start, arg = modbus_rtu.parse_request(frame)
        except modbus_rtu.FrameError:
            return None
        if slave != self.address:
            return None
        count = arg if function == modbus_rtu.FUNCTION_READ_HOLDING else (
            1 if function == modbus_rtu.FUNCTION_WRITE_SINGLE else len(arg))
        if function not in (modbus_rtu.FUNCTION_READ_HOLDING, modbus_rtu.FUNCTION_WRITE_SINGLE,
                            modbus_rtu.FUNCTION_WRITE_MULTIPLE):
            return modbus_rtu.build_exception_response(slave, function, modbus_rtu.ILLEGAL_FUNCTION)
        if start + count > REGISTERS:
            return modbus_rtu.build_exception_response(slave, function, modbus_rtu.ILLEGAL_DATA_ADDRESS)
        if function == modbus_rtu.FUNCTION_READ_HOLDING:
            return modbus_rtu.build_read_response(slave, function, self.registers[start:start + count])
        values = [arg] if function == modbus_rtu.FUNCTION_WRITE_SINGLE else arg
        self.registers[start:start + count] = values
        return modbus_rtu.build_write_response(frame)


def read_request(slave: int) -> bytes:
    return modbus_rtu.read_registers_request(slave, modbus_rtu.FUNCTION_READ_HOLDING, 0, REGISTERS)


def clean_reply(slave: int) -> bytes:
    return modbus_rtu.build_read_response(slave, modbus_rtu.FUNCTION_READ_HOLDING,
                                          StandInDetector(slave).registers)


def wire_s(n_bytes: int, baud: int, parity: str = "N", stop_bits: int = 1) -> float:
    return n_bytes * modbus_rtu.bits_per_char(parity, stop_bits) / baud


def silent_s(baud: int, parity: str = "N", stop_bits: int = 1) -> float:
    return modbus_rtu.silent_interval_us(baud, modbus_rtu.bits_per_char(parity, stop_bits)) / 1e6


def frames_seen(bus: EmulatedBus) -> int:
    """Grows with every frame the bus has taken in, whatever became of it."""
    stats = bus.stats
    return stats["requests"] + stats["collisions"] + stats["garbage_bytes"]


class Client:
    """The controller's side: pyserial on the bus's link, keeping the 3.5-character gap between frames."""

    def __init__(self, bus: EmulatedBus, baud: int = 9600, parity: str = "N", stop_bits: int = 1) -> None:
        self.bus = bus
        self.port = serial.Serial(bus.link, baudrate=baud, parity=parity, stopbits=stop_bits, timeout=0)
        self.free_at_s = 0.0

    @property
    def silent_s(self) -> float:
        return silent_s(self.port.baudrate, self.port.parity, int(self.port.stopbits))

    def wait_wire_free(self) -> None:
        # Not a sleep-and-hope: the protocol demands this gap, and free_at_s is computed from what was seen.
        remaining = self.free_at_s - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def send(self, frame: bytes) -> float:
        """Writes a frame once the wire is free; the time just before the write."""
        self.wait_wire_free()
        sent_s = time.monotonic()
        self.port.write(frame)
        return sent_s

    def read(self, n_bytes: int) -> tuple[bytes, float]:
        """Exactly n_bytes, and when the last of them arrived."""
        data = bytearray()
        deadline_s = time.monotonic() + WAIT_S
        while len(data) < n_bytes:
            remaining = deadline_s - time.monotonic()
            assert remaining > 0, "got %d of %d bytes: %s" % (len(data), n_bytes, bytes(data).hex())
            select.select([self.port.fileno()], [], [], remaining)
            data += self.port.read(n_bytes - len(data))
        arrived_s = time.monotonic()
        self.free_at_s = arrived_s + self.silent_s + GAP_MARGIN_S
        return bytes(data), arrived_s

    def transact(self, frame: bytes, reply_length: int) -> tuple[bytes, float]:
        """The reply and the time from the write to its last byte."""
        sent_s = self.send(frame)
        reply, arrived_s = self.read(reply_length)
        return reply, arrived_s - sent_s

    def send_unanswered(self, frame: bytes) -> None:
        """Sends a frame that gets no reply; returns once the bus has taken it in."""
        before = frames_seen(self.bus)
        self.send(frame)
        wait_until(lambda: frames_seen(self.bus) > before, WAIT_S, interval_s=0.001, what="the bus to take the frame")
        self.free_at_s = time.monotonic() + wire_s(len(frame), self.port.baudrate) + self.silent_s + GAP_MARGIN_S

    def assert_silent_then_answered(self, silent_frame: bytes, sentinel_slave: int) -> None:
        """No reply to silent_frame: the next bytes on the line are the sentinel's clean reply."""
        self.send_unanswered(silent_frame)
        reply, _ = self.transact(read_request(sentinel_slave), READ_REPLY_LENGTH)
        assert reply == clean_reply(sentinel_slave)
        assert self.port.in_waiting == 0

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def make_bus(tmp_path):
    made: list[EmulatedBus] = []
    clients: list[Client] = []

    def make(addresses=(1, 2), baud=9600, detectors=None, parity="N", stop_bits=1, client_parity=None,
             **kwargs) -> tuple[EmulatedBus, Client]:
        """A started bus with detectors, and a client opened like the controller (the bus's settings by default)."""
        bus = EmulatedBus(str(tmp_path / ("ttyBUS%d" % len(made))), baud, parity, stop_bits, **kwargs)
        for detector in detectors if detectors is not None else [StandInDetector(a) for a in addresses]:
            bus.add(detector)
        bus.start()
        made.append(bus)
        clients.append(Client(bus, baud, client_parity or parity, stop_bits))
        return bus, clients[-1]

    yield make
    for client in clients:
        client.close()
    for bus in made:
        bus.close()


# Multi-drop addressing and frame detection.
def test_each_detector_answers_on_its_own_address_only(make_bus):
    bus, client = make_bus(addresses=(1, 2))
    for slave in (1, 2, 1):
        reply, _ = client.transact(read_request(slave), READ_REPLY_LENGTH)
        assert modbus_rtu.parse_response(read_request(slave), reply) == StandInDetector(slave).registers
    client.assert_silent_then_answered(read_request(7), sentinel_slave=2)
    stats = bus.stats
    assert stats["by_address"][1]["replies"] == 2
    assert stats["by_address"][2]["replies"] == 2
    assert stats["by_address"][7] == {"requests": 1, "replies": 0, "line_mismatches": 0, "faults": {}}
    assert stats["collisions"] == 0


def test_a_function_16_request_is_complete_at_the_length_its_byte_count_gives(make_bus):
    bus, client = make_bus(addresses=(1,))
    request = modbus_rtu.write_registers_request(1, 2, [7, 8, 9])
    reply, _ = client.transact(request, modbus_rtu.WRITE_RESPONSE_LENGTH)
    assert modbus_rtu.parse_response(request, reply) == (2, 3)
    reply, _ = client.transact(read_request(1), READ_REPLY_LENGTH)
    assert modbus_rtu.parse_response(read_request(1), reply)[2:5] == [7, 8, 9]


def test_garbage_from_the_controller_ends_at_a_silence_and_the_bus_resynchronises(make_bus):
    bus, client = make_bus(addresses=(1,))
    client.send_unanswered(b"\x01\x55\x00\x01\x02")
    assert bus.stats["garbage_bytes"] == 5
    reply, _ = client.transact(read_request(1), READ_REPLY_LENGTH)
    assert reply == clean_reply(1)


def test_two_detectors_on_one_address_garble_each_other(make_bus):
    bus, client = make_bus(detectors=[StandInDetector(4), StandInDetector(4)])
    reply, _ = client.transact(read_request(4), READ_REPLY_LENGTH)
    with pytest.raises(modbus_rtu.FrameError):
        modbus_rtu.parse_response(read_request(4), reply)
    assert bus.stats["address_conflicts"] == 1


SLAVES = st.integers(modbus_rtu.MIN_SLAVE, modbus_rtu.MAX_SLAVE)


@given(st.one_of(
    st.builds(modbus_rtu.read_registers_request, SLAVES, st.sampled_from(modbus_rtu.READ_FUNCTIONS),
              st.integers(0, 0xFF00), st.integers(1, modbus_rtu.MAX_READ_COUNT)),
    st.builds(modbus_rtu.write_register_request, SLAVES, st.integers(0, modbus_rtu.MAX_REGISTER),
              st.integers(0, 0xFFFF)),
    st.builds(modbus_rtu.write_registers_request, SLAVES, st.integers(0, 0xFF00),
              st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=modbus_rtu.MAX_WRITE_COUNT)),
))
def test_a_request_length_is_known_from_its_header_and_never_misjudged(request):
    assert request_frame_length(request) == len(request)
    for cut in range(len(request)):
        assert request_frame_length(request[:cut]) in (None, len(request))


@given(st.binary(max_size=300))
def test_request_length_of_any_bytes_is_unknown_or_covers_the_header(data):
    length = request_frame_length(data)
    assert length is None or length >= 8


# Wire timing.
@pytest.mark.parametrize("baud", [9600, 115200])
def test_reply_arrives_after_request_turnaround_and_reply_wire_time(make_bus, baud):
    bus, client = make_bus(addresses=(1,), baud=baud, turnaround_ms=1.0)
    request = read_request(1)
    expected_s = wire_s(len(request) + READ_REPLY_LENGTH, baud) + 0.001
    errors_s = []
    for _ in range(TRANSACTIONS):
        reply, elapsed_s = client.transact(request, READ_REPLY_LENGTH)
        assert reply == clean_reply(1)
        errors_s.append(elapsed_s - expected_s)
    assert min(errors_s) >= 0, "a reply came before a real wire could have carried it: %r" % min(errors_s)
    # A loaded machine delays many replies (the emulator's thread or the client off the CPU: a median of 2-7 ms
    # with two busy CPUs); time the emulator added itself would delay every one, the quickest too.
    assert min(errors_s) < 0.001, sorted(errors_s)
    assert bus.stats["collisions"] == 0


def test_request_wire_time_follows_parity_and_stop_bits(make_bus):
    bus, client = make_bus(detectors=[StandInDetector(1, parity="O", stop_bits=2)], parity="O", stop_bits=2)
    expected_s = wire_s(len(read_request(1)) + READ_REPLY_LENGTH, 9600, "O", 2) + 0.001
    errors_s = [client.transact(read_request(1), READ_REPLY_LENGTH)[1] - expected_s for _ in range(20)]
    assert min(errors_s) >= 0
    assert min(errors_s) < 0.001, sorted(errors_s)  # the quickest: load delays only some (see above)


def test_a_request_while_a_reply_is_pending_is_a_collision_and_not_answered(make_bus):
    bus, client = make_bus(addresses=(1, 2), turnaround_ms=200.0)
    client.send(read_request(1))
    wait_until(lambda: bus.stats["requests"] == 1, WAIT_S, interval_s=0.001, what="the first request")
    client.port.write(read_request(2))  # well inside the 200 ms turnaround: the wire is not free
    reply, _ = client.read(READ_REPLY_LENGTH)
    assert reply == clean_reply(1)  # the reply had not started: it goes out intact
    stats = bus.stats
    assert stats["collisions"] == 1
    assert 2 not in stats["by_address"]
    reply, _ = client.transact(read_request(2), READ_REPLY_LENGTH)
    assert reply == clean_reply(2)


def test_a_request_overlapping_a_reply_on_the_wire_garbles_it(make_bus):
    bus, client = make_bus(addresses=(1, 2), baud=1200)
    client.send(read_request(1))
    wait_until(lambda: bus.stats["requests"] == 1, WAIT_S, interval_s=0.001, what="the first request")
    # At 1200 baud the reply is on the wire from 68 to 276 ms after the request began: a retry at 100 ms
    # (a master with a short timeout) lands in the middle of it.
    client.free_at_s = time.monotonic() + 0.100
    client.send(read_request(2))
    reply, _ = client.read(READ_REPLY_LENGTH)
    assert reply != clean_reply(1)
    with pytest.raises(modbus_rtu.FrameError):
        modbus_rtu.parse_response(read_request(1), reply)
    assert bus.stats["collisions"] == 1
    reply, _ = client.transact(read_request(2), READ_REPLY_LENGTH)
    assert reply == clean_reply(2)


# Line settings.
def test_a_detector_at_another_baud_rate_stays_silent_until_the_controller_uses_its_rate(make_bus):
    bus, client = make_bus(detectors=[StandInDetector(1, baud=19200), StandInDetector(2)])
    assert bus.line_settings() == LineSettings(9600, None, 1)
    client.assert_silent_then_answered(read_request(1), sentinel_slave=2)
    assert bus.stats["by_address"][1]["line_mismatches"] == 1
    client.port.baudrate = 19200
    assert bus.line_settings().baud == 19200
    reply, _ = client.transact(read_request(1), READ_REPLY_LENGTH)
    assert reply == clean_reply(1)


def test_a_detector_without_parity_stays_silent_to_an_odd_parity_controller(make_bus):
    bus, client = make_bus(detectors=[StandInDetector(1), StandInDetector(2, parity="O")], client_parity="O")
    assert bus.line_settings() == LineSettings(9600, "O", 1)
    client.assert_silent_then_answered(read_request(1), sentinel_slave=2)
    assert bus.stats["line_mismatches"] == 1


def test_an_even_parity_detector_answers_an_even_parity_controller(make_bus):
    bus, client = make_bus(detectors=[StandInDetector(1, parity="E")], parity="E")
    reply, _ = client.transact(read_request(1), READ_REPLY_LENGTH)
    assert reply == clean_reply(1)


# Frame faults, each as the controller's parser judges it.
@pytest.mark.parametrize("kind, params, reply_length, error_kind", [
    ("crc_corruption", {}, READ_REPLY_LENGTH, modbus_rtu.KIND_CRC),
    ("bit_flip", {}, READ_REPLY_LENGTH, modbus_rtu.KIND_CRC),
    ("truncated", {"n_bytes": 3}, READ_REPLY_LENGTH - 3, modbus_rtu.KIND_TRUNCATED),
    ("garbage", {}, READ_REPLY_LENGTH, modbus_rtu.KIND_CRC),
    ("wrong_address", {"reply_address": 9}, READ_REPLY_LENGTH, modbus_rtu.KIND_ADDRESS),
    ("exception", {"code": 2}, modbus_rtu.EXCEPTION_RESPONSE_LENGTH, modbus_rtu.KIND_EXCEPTION),
])
def test_a_damaged_reply_is_judged_as_its_fault(make_bus, kind, params, reply_length, error_kind):
    bus, client = make_bus(addresses=(1, 2))
    bus.inject(1, kind, count=1, **params)
    reply, _ = client.transact(read_request(1), reply_length)
    with pytest.raises(modbus_rtu.FrameError) as caught:
        modbus_rtu.parse_response(read_request(1), reply)
    assert caught.value.kind == error_kind
    if kind == "bit_flip":
        assert sum(bin(a ^ b).count("1") for a, b in zip(reply, clean_reply(1))) == 1
    if kind == "exception":
        assert caught.value.exception_code == 2
    reply, _ = client.transact(read_request(1), READ_REPLY_LENGTH)
    assert reply == clean_reply(1)
    assert bus.stats["by_address"][1]["faults"] == {kind: 1}
    assert bus.active_faults(1) == []


def test_garbage_after_a_reply_follows_the_intact_frame(make_bus):
    bus, client = make_bus(addresses=(1,))
    bus.inject(1, "garbage", count=1, n_bytes=4, after=True)
    reply, _ = client.transact(read_request(1), READ_REPLY_LENGTH + 4)
    assert reply[:READ_REPLY_LENGTH] == clean_reply(1)
    assert client.port.in_waiting == 0


def test_a_late_reply_arrives_after_the_extra_delay(make_bus):
    bus, client = make_bus(addresses=(1,))
    bus.inject(1, "late_reply", count=1, delay_ms=60)
    reply, elapsed_s = client.transact(read_request(1), READ_REPLY_LENGTH)
    assert reply == clean_reply(1)
    assert elapsed_s >= wire_s(8 + READ_REPLY_LENGTH, 9600) + 0.001 + 0.060
    # The quickest of five: a loaded machine may hold up one reply for 60 ms, a delay that stayed holds up all.
    quickest_s = min(client.transact(read_request(1), READ_REPLY_LENGTH)[1] for _ in range(5))
    assert quickest_s < wire_s(8 + READ_REPLY_LENGTH, 9600) + 0.001 + 0.060, "the delay was for one reply only"
    assert bus.stats["by_address"][1]["faults"] == {"late_reply": 1}


def test_no_reply_leaves_the_line_silent_once(make_bus):
    bus, client = make_bus(addresses=(1,))
    bus.inject(1, "no_reply", count=1)
    client.assert_silent_then_answered(read_request(1), sentinel_slave=1)
    assert bus.stats["by_address"][1]["faults"] == {"no_reply": 1}


def test_a_fault_without_count_lasts_until_cleared_and_a_count_covers_that_many_replies(make_bus):
    bus, client = make_bus(addresses=(1,))
    bus.inject(1, "crc_corruption")
    for _ in range(3):
        reply, _ = client.transact(read_request(1), READ_REPLY_LENGTH)
        assert reply != clean_reply(1)
    assert bus.active_faults(1) == [("crc_corruption", None)]
    bus.clear(1)
    assert client.transact(read_request(1), READ_REPLY_LENGTH)[0] == clean_reply(1)
    bus.inject(1, "exception", count=2, code=6)
    replies = [client.transact(read_request(1), 5)[0] for _ in range(2)]
    assert replies == [modbus_rtu.build_exception_response(1, 3, 6)] * 2
    assert client.transact(read_request(1), READ_REPLY_LENGTH)[0] == clean_reply(1)
    assert bus.stats["faults_applied"] == 5


def test_faults_on_one_address_leave_the_others_alone(make_bus):
    bus, client = make_bus(addresses=(1, 2))
    bus.inject(1, "no_reply")
    client.assert_silent_then_answered(read_request(1), sentinel_slave=2)


@given(
    slave=st.integers(1, 247),
    registers=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125),
    kind=st.sampled_from(["crc_corruption", "bit_flip", "truncated", "garbage", "wrong_address", "exception"]),
    seed=st.integers(0, 2**32),
    n_bytes=st.integers(1, 4),
)
def test_every_damaged_reply_fails_the_strict_parser_with_its_kind(slave, registers, kind, seed, n_bytes):
    request = modbus_rtu.read_registers_request(slave, 3, 0, len(registers))
    reply = modbus_rtu.build_read_response(slave, 3, registers)
    params = {"n_bytes": n_bytes} if kind == "truncated" else {}
    damaged = FrameFault.make(kind, **params).damage(request, reply, random.Random(seed))
    expected = {"crc_corruption": "crc", "bit_flip": "crc", "truncated": "truncated", "wrong_address": "address",
                "exception": "exception", "garbage": None}[kind]
    with pytest.raises(modbus_rtu.FrameError) as caught:
        modbus_rtu.parse_response(request, damaged)
    assert expected is None or caught.value.kind == expected


@pytest.mark.parametrize("kind, count, params", [
    ("smoke", None, {}),
    ("late_reply", None, {}),
    ("late_reply", None, {"delay_ms": 0}),
    ("truncated", 0, {}),
    ("exception", None, {"code": 0}),
    ("garbage", None, {"after": "yes"}),
    ("crc_corruption", None, {"n_bytes": 2}),
])
def test_a_fault_the_bus_cannot_apply_is_refused_with_its_reason(kind, count, params):
    with pytest.raises(ValueError, match=kind):
        FrameFault.make(kind, count, **params)


def test_every_fault_kind_is_known_to_the_injector():
    assert sorted(FAULT_KINDS) == sorted(
        ["no_reply", "lossy", "late_reply", "crc_corruption", "bit_flip", "truncated", "garbage", "wrong_address",
         "exception"])


def test_a_lossy_wire_drops_its_share_of_replies_the_same_way_for_the_same_seed():
    request = read_request(1)
    reply = clean_reply(1)
    fault = FrameFault.make("lossy", loss_pct=94)
    runs = []
    for _ in range(2):
        rng = random.Random(11)
        runs.append([fault.damage(request, reply, rng) for _ in range(1000)])
    assert runs[0] == runs[1]
    answered = [r for r in runs[0] if r is not None]
    assert 30 <= len(answered) <= 90 and set(answered) == {reply}, "about 1 in 16 through, undamaged"
    assert all(FrameFault.make("lossy", loss_pct=100).damage(request, reply, random.Random(1)) is None
               for _ in range(50))


@pytest.mark.parametrize("loss_pct", [0, -5, 100.5, True, "50", None])
def test_a_lossy_wire_needs_a_share_above_0_and_at_most_100(loss_pct):
    with pytest.raises(ValueError, match="lossy"):
        FrameFault.make("lossy", loss_pct=loss_pct)


# Noise and the port itself.
def test_noise_reaches_the_controller_and_keeps_the_wire_busy(make_bus):
    bus, client = make_bus(addresses=(1,))
    bus.inject_noise(6)
    _, arrived_s = client.read(6)
    assert bus.stats["noise_bytes"] == 6
    client.free_at_s = arrived_s + wire_s(6, 9600) + client.silent_s + GAP_MARGIN_S
    assert client.transact(read_request(1), READ_REPLY_LENGTH)[0] == clean_reply(1)
    assert bus.stats["collisions"] == 0


def test_the_port_vanishes_under_the_controller_and_returns_behind_the_same_link(make_bus):
    bus, client = make_bus(addresses=(1,))
    client.close()
    now_ms = [0]
    controller = SerialBus("bus1", {"port": bus.link, "baud": 9600}, now_ms=lambda: now_ms[0])
    try:
        assert controller.state_changes()[0][0] == "open"
        bus.vanish()
        assert not os.path.lexists(bus.link)
        assert not bus.present
        controller.read()
        assert [state for state, _ in controller.state_changes()] == ["lost"]
        bus.restore()
        assert os.path.lexists(bus.link) and bus.present
        now_ms[0] += 10_000
        controller.read()
        assert [state for state, _ in controller.state_changes()] == ["open"]
        controller.write(read_request(1))
        received = bytearray()

        def whole_reply() -> bool:
            received.extend(controller.read())
            return len(received) >= READ_REPLY_LENGTH

        wait_until(whole_reply, WAIT_S, interval_s=0.002, what="the reply after the port returned")
        assert bytes(received) == clean_reply(1)
        assert bus.stats["vanishes"] == 1
    finally:
        controller.close()


def test_close_removes_the_link_and_is_idempotent(tmp_path):
    bus = EmulatedBus(str(tmp_path / "ttyX"), 9600)
    bus.start()
    assert os.path.islink(bus.link)
    bus.close()
    bus.close()
    assert not os.path.lexists(bus.link)
    with pytest.raises(RuntimeError):
        bus.restore()


def test_a_detector_that_raises_is_counted_and_the_bus_keeps_answering(make_bus):
    class Broken(StandInDetector):
        def respond(self, frame, now_s):
            raise KeyError("register 99")

    bus, client = make_bus(detectors=[Broken(3), StandInDetector(1)])
    client.assert_silent_then_answered(read_request(3), sentinel_slave=1)
    assert bus.stats["detector_errors"] == 2  # the sentinel's frame reached the broken detector too
    assert "register 99" in bus.stats["last_detector_error"]
