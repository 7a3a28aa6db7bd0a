"""Our RTU framing against pymodbus 3.16, an implementation we did not write.

pymodbus.framer.rtu.FramerRTU.compute_CRC returns the CRC byte-swapped, so that packing it big-endian puts
the low byte first on the wire; we compare wire bytes, which is what a device sees.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.framer.rtu import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    ReadInputRegistersResponse,
    WriteMultipleRegistersRequest,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterRequest,
    WriteSingleRegisterResponse,
)

from gaslatch.core import modbus_rtu as rtu

CLIENT_FRAMER = FramerRTU(DecodePDU(is_server=False))
SERVER_FRAMER = FramerRTU(DecodePDU(is_server=True))

slaves = st.integers(rtu.MIN_SLAVE, rtu.MAX_SLAVE)
registers = st.integers(0, 0xFFFF)
read_blocks = st.lists(registers, min_size=1, max_size=rtu.MAX_READ_COUNT)
write_blocks = st.lists(registers, min_size=1, max_size=rtu.MAX_WRITE_COUNT)
READ_PDUS = {
    3: (ReadHoldingRegistersRequest, ReadHoldingRegistersResponse),
    4: (ReadInputRegistersRequest, ReadInputRegistersResponse),
}


def pymodbus_crc_wire_bytes(data):
    return FramerRTU.compute_CRC(data).to_bytes(2, "big")


def our_crc_wire_bytes(data):
    crc = rtu.crc16(data)
    return bytes((crc & 0xFF, crc >> 8))


@given(st.binary(max_size=256))
def test_crc_equals_pymodbus_on_the_wire(data):
    assert our_crc_wire_bytes(data) == pymodbus_crc_wire_bytes(data)


@given(slaves, st.sampled_from([3, 4]), st.data())
def test_read_request_bytes_equal_pymodbus(slave, function, data):
    count = data.draw(st.integers(1, rtu.MAX_READ_COUNT))
    address = data.draw(st.integers(0, 0x10000 - count))
    request_class = READ_PDUS[function][0]
    theirs = CLIENT_FRAMER.buildFrame(request_class(address=address, count=count, dev_id=slave))
    assert rtu.read_registers_request(slave, function, address, count) == theirs


@given(slaves, registers, registers)
def test_write_single_request_bytes_equal_pymodbus(slave, address, value):
    theirs = CLIENT_FRAMER.buildFrame(WriteSingleRegisterRequest(address=address, registers=[value], dev_id=slave))
    assert rtu.write_register_request(slave, address, value) == theirs


@given(slaves, write_blocks, st.data())
def test_write_multiple_request_bytes_equal_pymodbus(slave, values, data):
    address = data.draw(st.integers(0, 0x10000 - len(values)))
    theirs = CLIENT_FRAMER.buildFrame(WriteMultipleRegistersRequest(address=address, registers=values, dev_id=slave))
    assert rtu.write_registers_request(slave, address, values) == theirs


@given(slaves, st.sampled_from([3, 4]), read_blocks, st.data())
def test_read_responses_built_by_pymodbus_parse_to_their_registers(slave, function, values, data):
    address = data.draw(st.integers(0, 0x10000 - len(values)))
    frame = SERVER_FRAMER.buildFrame(READ_PDUS[function][1](registers=values, dev_id=slave))
    request = rtu.read_registers_request(slave, function, address, len(values))
    assert rtu.parse_response(request, frame) == values


@given(slaves, registers, registers)
def test_write_single_response_built_by_pymodbus_confirms_the_write(slave, address, value):
    frame = SERVER_FRAMER.buildFrame(WriteSingleRegisterResponse(address=address, registers=[value], dev_id=slave))
    assert rtu.parse_response(rtu.write_register_request(slave, address, value), frame) == (address, value)


@given(slaves, write_blocks, st.data())
def test_write_multiple_response_built_by_pymodbus_confirms_the_count(slave, values, data):
    address = data.draw(st.integers(0, 0x10000 - len(values)))
    frame = SERVER_FRAMER.buildFrame(WriteMultipleRegistersResponse(address=address, count=len(values), dev_id=slave))
    request = rtu.write_registers_request(slave, address, values)
    assert rtu.parse_response(request, frame) == (address, len(values))


@given(slaves, st.sampled_from([3, 4]), st.integers(1, 0xFF))
def test_exception_responses_built_by_pymodbus_are_reported_with_their_code(slave, function, code):
    pdu = ExceptionResponse(function, code)
    pdu.dev_id = slave
    frame = SERVER_FRAMER.buildFrame(pdu)
    assert frame == rtu.build_exception_response(slave, function, code)
    with pytest.raises(rtu.FrameError) as caught:
        rtu.parse_response(rtu.read_registers_request(slave, function, 0, 1), frame)
    assert caught.value.kind == "exception" and caught.value.exception_code == code


@given(slaves, st.sampled_from([3, 4]), read_blocks)
def test_pymodbus_decodes_our_read_responses(slave, function, values):
    used, pdu = CLIENT_FRAMER.handleFrame(rtu.build_read_response(slave, function, values), slave, 0)
    assert pdu is not None and pdu.function_code == function and pdu.dev_id == slave
    assert list(pdu.registers) == values


@given(slaves, write_blocks, st.data())
def test_pymodbus_server_decodes_our_write_requests(slave, values, data):
    address = data.draw(st.integers(0, 0x10000 - len(values)))
    used, pdu = SERVER_FRAMER.handleFrame(rtu.write_registers_request(slave, address, values), slave, 0)
    assert pdu is not None and pdu.function_code == 16
    assert (pdu.dev_id, pdu.address, list(pdu.registers)) == (slave, address, values)
