"""The installer's bus client against the bench's emulated bus: replies, and a diagnosis for each failure."""

import os

import pytest

from gaslatch_tools.bench.emulated_bus import EmulatedBus
from gaslatch_tools.bench.emulated_detector import EmulatedDetector
from gaslatch_tools.commission.bus_client import BusClient, BusError


@pytest.fixture
def bus(short_dir):
    with EmulatedBus(os.path.join(short_dir, "ttyBUS"), 9600) as b:
        b.add(EmulatedDetector("cn-generic", 3))
        yield b


def test_reads_and_writes_a_detector_and_times_each_reply(bus):
    with BusClient(bus.link, 9600) as client:
        registers = client.read_registers(3, 3, 0, 10)
        assert len(registers) == 10 and registers[5] == 0x01  # cn-generic status register: normal
        client.write_register(3, 16, 7)  # the commissioning address register
        assert client.read_registers(7, 3, 0, 1)
        assert client.stats["ok"] == 3 and len(client.reply_ms) == 3
        # the shortest exchange here (8-byte request, 7-byte reply) takes 15.6 ms on the wire at 9600 baud
        assert min(client.reply_ms) >= 15


def test_an_absent_address_is_no_reply_with_what_to_check(bus):
    with BusClient(bus.link, 9600, timeout_s=0.1) as client:
        with pytest.raises(BusError) as caught:
            client.read_registers(9, 3, 0, 1)
    assert caught.value.kind == "no_reply" and "A/B" in caught.value.hint


def test_a_damaged_reply_is_a_crc_error_pointing_at_termination(bus):
    bus.inject(3, "crc_corruption", count=1)
    with BusClient(bus.link, 9600) as client:
        with pytest.raises(BusError) as caught:
            client.read_registers(3, 3, 0, 10)
        assert caught.value.kind == "crc" and "termination" in caught.value.hint
        assert client.read_registers(3, 3, 0, 10)  # the next one is fine


def test_the_wrong_baud_rate_gets_silence(bus):
    with BusClient(bus.link, 19200, timeout_s=0.1) as client:
        with pytest.raises(BusError) as caught:
            client.read_registers(3, 3, 0, 1)
    assert caught.value.kind == "no_reply"


def test_a_missing_port_and_a_forbidden_one_say_what_to_do(tmp_path):
    with pytest.raises(BusError) as missing:
        BusClient(str(tmp_path / "ttyUSB9"))
    assert missing.value.kind == "port_missing" and "/dev/serial/by-id" in missing.value.hint
    if os.geteuid() == 0:
        return  # root opens anything; the permission case is covered by describe_open_error below
    locked = tmp_path / "locked"
    locked.write_text("")
    locked.chmod(0)
    with pytest.raises(BusError) as denied:
        BusClient(str(locked))
    assert denied.value.kind == "permission" and "dialout" in denied.value.hint


def test_permission_denied_names_the_group_to_join():
    from gaslatch_tools.commission.bus_client import describe_open_error

    err = describe_open_error("/dev/ttyUSB0", PermissionError(13, "Permission denied"))
    assert err.kind == "permission" and "dialout" in err.hint
