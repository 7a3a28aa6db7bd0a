"""Modbus RTU framing: CRC, builders, the strict response and request parsers, line timing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import modbus_rtu as rtu
from gaslatch.core.modbus_rtu import FrameError


def with_crc(body):
    body = bytes(body)
    crc = rtu.crc16(body)
    return body + bytes((crc & 0xFF, crc >> 8))


def frame_error(request, frame):
    with pytest.raises(FrameError) as caught:
        rtu.parse_response(request, frame)
    return caught.value


READ_REQUEST = rtu.read_registers_request(3, 3, 0x0000, 10)
READ_REPLY = rtu.build_read_response(3, 3, list(range(100, 110)))
WRITE_REQUEST = rtu.write_register_request(3, 0x0010, 500)
WRITE_MANY_REQUEST = rtu.write_registers_request(3, 0x0020, [1, 2, 3])


# --- CRC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body_hex, crc_wire_hex",
    [
        ("01030000000a", "c5cd"),  # the usual 10-register read of the generic gas module
        ("1103006b0003", "7687"),  # Modbus serial line guide, read holding registers example
        ("010600010003", "980b"),
        ("11100001000204000a0102", "c6f0"),  # application protocol spec, write multiple example
    ],
)
def test_crc_matches_published_frames_low_byte_first(body_hex, crc_wire_hex):
    crc = rtu.crc16(bytes.fromhex(body_hex))
    assert bytes((crc & 0xFF, crc >> 8)).hex() == crc_wire_hex


def test_crc_of_the_standard_check_string_is_4b37():
    assert rtu.crc16(b"123456789") == 0x4B37


def test_crc_of_nothing_is_the_initial_value():
    assert rtu.crc16(b"") == 0xFFFF


@given(st.binary(max_size=64))
def test_crc_table_agrees_with_the_bitwise_definition(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    assert rtu.crc16(data) == crc


# --- builders ----------------------------------------------------------------------------------


def test_read_request_bytes_match_the_spec_example():
    assert rtu.read_registers_request(0x11, 3, 0x006B, 3) == bytes.fromhex("1103006b00037687")
    assert rtu.read_registers_request(1, 4, 0, 10)[:6] == bytes.fromhex("01040000000a")


def test_write_single_request_bytes():
    assert rtu.write_register_request(1, 1, 3) == bytes.fromhex("010600010003980b")


def test_write_multiple_request_bytes_match_the_spec_example():
    assert rtu.write_registers_request(0x11, 1, [0x000A, 0x0102]) == bytes.fromhex("11100001000204000a0102c6f0")


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: rtu.read_registers_request(0, 3, 0, 1), "slave"),
        (lambda: rtu.read_registers_request(248, 3, 0, 1), "slave"),
        (lambda: rtu.read_registers_request(1, 6, 0, 1), "function"),
        (lambda: rtu.read_registers_request(1, 3, -1, 1), "address"),
        (lambda: rtu.read_registers_request(1, 3, 65536, 1), "address"),
        (lambda: rtu.read_registers_request(1, 3, 0, 0), "count"),
        (lambda: rtu.read_registers_request(1, 3, 0, 126), "count"),
        (lambda: rtu.read_registers_request(1, 3, 65530, 10), "65535"),
        (lambda: rtu.read_registers_request(1, 3, "0", 1), "address"),
        (lambda: rtu.write_register_request(1, 0, 65536), "value"),
        (lambda: rtu.write_register_request(1, 0, -1), "value"),
        (lambda: rtu.write_register_request(300, 0, 1), "slave"),
        (lambda: rtu.write_registers_request(1, 0, []), "1..123"),
        (lambda: rtu.write_registers_request(1, 0, [0] * 124), "1..123"),
        (lambda: rtu.write_registers_request(1, 0, [1, 70000]), "value"),
        (lambda: rtu.write_registers_request(1, 65535, [1, 2]), "65535"),
    ],
)
def test_builders_refuse_out_of_range_arguments_naming_the_argument(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_expected_response_length_per_function():
    assert rtu.expected_response_length(READ_REQUEST) == 25
    assert rtu.expected_response_length(rtu.read_registers_request(1, 4, 0, 125)) == 255
    assert rtu.expected_response_length(WRITE_REQUEST) == 8
    assert rtu.expected_response_length(WRITE_MANY_REQUEST) == 8


def test_expected_response_length_refuses_a_frame_it_did_not_build():
    with pytest.raises(ValueError):
        rtu.expected_response_length(b"\x01\x07\x00")


# --- parse_response: good replies ----------------------------------------------------------------


def test_read_reply_gives_the_registers():
    assert rtu.parse_response(READ_REQUEST, READ_REPLY) == list(range(100, 110))


def test_read_reply_in_a_bytearray_is_accepted():
    assert rtu.parse_response(READ_REQUEST, bytearray(READ_REPLY)) == list(range(100, 110))


def test_write_replies_give_address_and_value_or_count():
    assert rtu.parse_response(WRITE_REQUEST, WRITE_REQUEST) == (0x0010, 500)
    assert rtu.parse_response(WRITE_MANY_REQUEST, rtu.build_write_response(WRITE_MANY_REQUEST)) == (0x0020, 3)


# --- parse_response: every FrameError kind -------------------------------------------------------


def test_short_reply_is_truncated_and_says_how_short():
    error = frame_error(READ_REQUEST, READ_REPLY[:24])
    assert error.kind == "truncated"
    assert "24 of 25" in str(error) and error.slave == 3


def test_empty_and_one_byte_replies_are_truncated():
    assert frame_error(READ_REQUEST, b"").kind == "truncated"
    assert frame_error(READ_REQUEST, b"\x03").kind == "truncated"


def test_corrupted_reply_is_a_crc_error_with_installer_advice():
    bad = bytearray(READ_REPLY)
    bad[5] ^= 0x10
    error = frame_error(READ_REQUEST, bytes(bad))
    assert error.kind == "crc"
    assert str(error) == "CRC error from slave 3: check termination and cable shield"


def test_crc_is_checked_before_the_address():
    bad = bytearray(rtu.build_read_response(4, 3, list(range(10))))
    bad[-1] ^= 1
    assert frame_error(READ_REQUEST, bytes(bad)).kind == "crc"


def test_reply_from_another_slave_is_an_address_error():
    error = frame_error(READ_REQUEST, rtu.build_read_response(4, 3, list(range(10))))
    assert error.kind == "address"
    assert "address 4" in str(error) and "slave 3" in str(error)


def test_reply_to_another_function_is_a_function_error():
    error = frame_error(READ_REQUEST, rtu.build_read_response(3, 4, list(range(10))))
    assert error.kind == "function"


def test_exception_for_another_function_is_a_function_error():
    assert frame_error(READ_REQUEST, rtu.build_exception_response(3, 4, 2)).kind == "function"


def test_reply_with_fewer_registers_is_a_byte_count_error():
    padded = with_crc(rtu.build_read_response(3, 3, list(range(9)))[:-2] + b"\x00\x00")
    error = frame_error(READ_REQUEST, padded)
    assert error.kind == "byte_count"
    assert "18 data bytes for 10 registers" in str(error)


def test_crc_valid_reply_with_extra_bytes_is_a_length_error():
    assert frame_error(READ_REQUEST, with_crc(READ_REPLY[:-2] + b"\x00")).kind == "length"
    assert frame_error(WRITE_REQUEST, with_crc(WRITE_REQUEST[:-2] + b"\x00")).kind == "length"
    long_exception = with_crc(rtu.build_exception_response(3, 3, 2)[:-2] + b"\x00")
    assert frame_error(READ_REQUEST, long_exception).kind == "length"


def test_write_reply_confirming_another_value_is_an_echo_error():
    error = frame_error(WRITE_REQUEST, rtu.write_register_request(3, 0x0010, 501))
    assert error.kind == "echo"
    assert "may not have taken effect" in str(error)


def test_write_multiple_reply_confirming_another_count_is_an_echo_error():
    other = rtu.build_write_response(rtu.write_registers_request(3, 0x0020, [1, 2]))
    assert frame_error(WRITE_MANY_REQUEST, other).kind == "echo"


@pytest.mark.parametrize(
    "code, name",
    [
        (0x01, "illegal function"),
        (0x02, "illegal data address"),
        (0x03, "illegal data value"),
        (0x04, "slave device failure"),
        (0x05, "acknowledge"),
        (0x06, "slave device busy"),
        (0x08, "memory parity error"),
        (0x0A, "gateway path unavailable"),
        (0x0B, "gateway target device failed to respond"),
    ],
)
def test_exception_reply_carries_its_code_and_name(code, name):
    error = frame_error(READ_REQUEST, rtu.build_exception_response(3, 3, code))
    assert error.kind == "exception"
    assert error.exception_code == code
    assert error.exception_name == name
    assert name in str(error) and "slave 3" in str(error).lower()


def test_unknown_exception_code_is_still_an_exception_with_a_name():
    error = frame_error(READ_REQUEST, rtu.build_exception_response(3, 3, 0x42))
    assert error.kind == "exception" and error.exception_code == 0x42
    assert "0x42" in error.exception_name


def test_short_exception_reply_is_truncated():
    assert frame_error(READ_REQUEST, rtu.build_exception_response(3, 3, 2)[:4]).kind == "truncated"


# --- parse_response under fuzzing ----------------------------------------------------------------

slaves = st.integers(rtu.MIN_SLAVE, rtu.MAX_SLAVE)
registers = st.integers(0, 0xFFFF)


@st.composite
def request_and_reply(draw):
    """A random request and the device's normal reply to it."""
    slave = draw(slaves)
    kind = draw(st.sampled_from(["read", "write", "write_many"]))
    if kind == "read":
        function = draw(st.sampled_from(rtu.READ_FUNCTIONS))
        values = draw(st.lists(registers, min_size=1, max_size=rtu.MAX_READ_COUNT))
        address = draw(st.integers(0, 0x10000 - len(values)))
        request = rtu.read_registers_request(slave, function, address, len(values))
        return request, rtu.build_read_response(slave, function, values), values
    if kind == "write":
        address, value = draw(registers), draw(registers)
        request = rtu.write_register_request(slave, address, value)
        return request, rtu.build_write_response(request), (address, value)
    values = draw(st.lists(registers, min_size=1, max_size=rtu.MAX_WRITE_COUNT))
    address = draw(st.integers(0, 0x10000 - len(values)))
    request = rtu.write_registers_request(slave, address, values)
    return request, rtu.build_write_response(request), (address, len(values))


def classify(request, frame):
    """The parse result, or the FrameError kind; any other exception fails the test."""
    try:
        return rtu.parse_response(request, frame)
    except FrameError as error:
        assert error.kind in rtu.FRAME_ERROR_KINDS
        assert str(error)
        return error


@given(request_and_reply())
def test_valid_reply_round_trips(case):
    request, reply, expected = case
    assert rtu.parse_response(request, reply) == expected


def junk_for(request):
    """Random bytes, often with a valid CRC and the request's address and function, to reach every check."""
    tail = st.binary(max_size=260)
    return st.one_of(
        st.binary(max_size=300),
        tail.map(with_crc),
        tail.map(lambda rest: with_crc(request[:2] + rest)),
        st.tuples(st.integers(0, 255), tail).map(lambda t: with_crc(request[:2] + bytes((t[0],)) + t[1])),
        st.integers(0, 255).map(lambda code: with_crc(bytes((request[0], request[1] | 0x80, code)))),
    )


@given(request_and_reply(), st.data())
def test_arbitrary_bytes_are_classified_and_accepted_only_if_exactly_valid(case, data):
    request, _, _ = case
    junk = data.draw(junk_for(request))
    result = classify(request, junk)
    if not isinstance(result, FrameError):
        assert junk[0] == request[0] and junk[1] == request[1]
        assert junk[-2:] == with_crc(junk[:-2])[-2:]
        if request[1] in rtu.READ_FUNCTIONS:
            assert junk == rtu.build_read_response(request[0], request[1], result)
        else:
            assert junk[:6] == request[:6] and len(junk) == 8


@given(request_and_reply(), st.data())
def test_any_truncation_of_a_valid_reply_is_reported_truncated(case, data):
    request, reply, _ = case
    cut = data.draw(st.integers(0, len(reply) - 1))
    assert classify(request, reply[:cut]).kind == "truncated"


@given(request_and_reply(), st.data())
def test_up_to_three_bit_flips_are_never_accepted(case, data):
    request, reply, _ = case
    flips = data.draw(st.sets(st.integers(0, 8 * len(reply) - 1), min_size=1, max_size=3))
    bad = bytearray(reply)
    for bit in flips:
        bad[bit // 8] ^= 1 << (bit % 8)
    result = classify(request, bytes(bad))
    assert isinstance(result, FrameError)
    assert result.kind == "crc"


@given(request_and_reply(), st.data())
def test_many_bit_flips_are_classified_and_never_accepted_with_a_bad_crc(case, data):
    request, reply, expected = case
    flips = data.draw(st.sets(st.integers(0, 8 * len(reply) - 1), min_size=4, max_size=40))
    bad = bytearray(reply)
    for bit in flips:
        bad[bit // 8] ^= 1 << (bit % 8)
    result = classify(request, bytes(bad))
    if not isinstance(result, FrameError):
        assert rtu.crc16(bytes(bad)) == 0  # a CRC-valid frame: an undetectable error, about 1 in 65536


@given(request_and_reply(), st.binary(min_size=1, max_size=8))
def test_trailing_bytes_after_a_valid_reply_are_refused(case, tail):
    request, reply, _ = case
    assert isinstance(classify(request, reply + tail), FrameError)


# --- server side -------------------------------------------------------------------------------------


def test_parse_request_returns_fields_per_function():
    assert rtu.parse_request(READ_REQUEST) == (3, 3, 0, 10)
    assert rtu.parse_request(WRITE_REQUEST) == (3, 6, 0x10, 500)
    assert rtu.parse_request(WRITE_MANY_REQUEST) == (3, 16, 0x20, [1, 2, 3])


def test_parse_request_accepts_a_broadcast_write():
    broadcast = with_crc(b"\x00\x06\x00\x01\x00\x02")
    assert rtu.parse_request(broadcast) == (0, 6, 1, 2)


def request_error(frame):
    with pytest.raises(FrameError) as caught:
        rtu.parse_request(frame)
    return caught.value


@pytest.mark.parametrize(
    "frame, kind, code",
    [
        (b"\x01\x03\x00", "truncated", None),
        (READ_REQUEST[:-1] + bytes((READ_REQUEST[-1] ^ 1,)), "crc", None),
        (with_crc(b"\xf8\x03\x00\x00\x00\x01"), "address", None),
        (with_crc(b"\x00\x03\x00\x00\x00\x01"), "address", None),
        (with_crc(b"\x01\x05\x00\x00\xff\x00"), "function", rtu.ILLEGAL_FUNCTION),
        (with_crc(b"\x01\x83\x00\x00\x00\x01"), "function", None),
        (with_crc(b"\x01\x03\x00\x00\x00"), "truncated", None),
        (with_crc(b"\x01\x03\x00\x00\x00\x01\x00"), "length", None),
        (with_crc(b"\x01\x03\x00\x00\x00\x00"), "exception", rtu.ILLEGAL_DATA_VALUE),
        (with_crc(b"\x01\x04\x00\x00\x00\x7e"), "exception", rtu.ILLEGAL_DATA_VALUE),
        (with_crc(b"\x01\x10\x00\x00\x00\x02\x03\x00\x01\x00\x02"), "byte_count", rtu.ILLEGAL_DATA_VALUE),
        (with_crc(b"\x01\x10\x00\x00\x00\x02\x04\x00\x01\x00"), "length", None),
        (with_crc(b"\x01\x10\x00\x00\x00\x00\x00"), "exception", rtu.ILLEGAL_DATA_VALUE),
        (with_crc(b"\x01\x03\xff\xff\x00\x02"), "exception", rtu.ILLEGAL_DATA_ADDRESS),
        (with_crc(b"\x01\x10\xff\xff\x00\x02\x04\x00\x01\x00\x02"), "exception", rtu.ILLEGAL_DATA_ADDRESS),
    ],
)
def test_parse_request_classifies_bad_requests_and_names_the_server_reply(frame, kind, code):
    error = request_error(frame)
    assert error.kind == kind
    assert error.exception_code == code


request_junk = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(with_crc),
    st.tuples(st.integers(0, 255), st.sampled_from(rtu.SUPPORTED_FUNCTIONS), st.binary(max_size=260)).map(
        lambda t: with_crc(bytes(t[:2]) + t[2])
    ),
)


@given(request_junk)
def test_parse_request_on_arbitrary_bytes_raises_only_frame_errors(junk):
    try:
        slave, function, address, item = rtu.parse_request(junk)
    except FrameError as error:
        assert error.kind in rtu.FRAME_ERROR_KINDS
        return
    if function in rtu.READ_FUNCTIONS:
        assert junk == rtu.read_registers_request(slave, function, address, item)
    elif function == rtu.FUNCTION_WRITE_SINGLE:
        assert junk[2:6] == bytes((address >> 8, address & 0xFF, item >> 8, item & 0xFF))
    else:
        assert junk[7:-2] == b"".join(bytes((v >> 8, v & 0xFF)) for v in item)


@given(request_and_reply())
def test_requests_built_here_parse_back_to_their_fields(case):
    request, _, expected = case
    slave, function, address, item = rtu.parse_request(request)
    assert slave == request[0] and function == request[1]
    if function == rtu.FUNCTION_WRITE_MULTIPLE:
        assert (address, len(item)) == expected
    elif function == rtu.FUNCTION_WRITE_SINGLE:
        assert (address, item) == expected
    else:
        assert item == len(expected)


@given(request_and_reply(), st.data())
def test_bit_flipped_requests_are_refused(case, data):
    request, _, _ = case
    bit = data.draw(st.integers(0, 8 * len(request) - 1))
    bad = bytearray(request)
    bad[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameError):
        rtu.parse_request(bytes(bad))


def test_write_response_echoes_a_single_write_and_shortens_a_multiple_write():
    assert rtu.build_write_response(WRITE_REQUEST) == WRITE_REQUEST
    assert rtu.build_write_response(WRITE_MANY_REQUEST) == with_crc(WRITE_MANY_REQUEST[:6])


def test_write_response_refuses_reads_broadcasts_and_bad_frames():
    with pytest.raises(ValueError):
        rtu.build_write_response(READ_REQUEST)
    with pytest.raises(ValueError, match="broadcast"):
        rtu.build_write_response(with_crc(b"\x00\x06\x00\x01\x00\x02"))
    with pytest.raises(FrameError):
        rtu.build_write_response(WRITE_REQUEST[:-1])


def test_exception_response_sets_the_high_bit():
    assert rtu.build_exception_response(3, 3, 2) == with_crc(b"\x03\x83\x02")


@pytest.mark.parametrize(
    "call",
    [
        lambda: rtu.build_read_response(1, 6, [1]),
        lambda: rtu.build_read_response(1, 3, []),
        lambda: rtu.build_read_response(1, 3, [65536]),
        lambda: rtu.build_read_response(0, 3, [1]),
        lambda: rtu.build_exception_response(1, 0x83, 2),
        lambda: rtu.build_exception_response(1, 3, 0),
    ],
)
def test_reply_builders_refuse_out_of_range_arguments(call):
    with pytest.raises(ValueError):
        call()


# --- timing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parity, stop_bits, bits",
    [("N", 1, 10), ("E", 1, 11), ("O", 1, 11), ("N", 2, 11), ("E", 2, 12), ("even", 1, 11), ("n", 2, 11)],
)
def test_bits_per_char_counts_start_data_parity_and_stop(parity, stop_bits, bits):
    assert rtu.bits_per_char(parity, stop_bits) == bits


@pytest.mark.parametrize("parity, stop_bits", [("X", 1), ("N", 0), ("N", 3), (None, 1)])
def test_bits_per_char_refuses_unknown_settings(parity, stop_bits):
    with pytest.raises(ValueError):
        rtu.bits_per_char(parity, stop_bits)


def test_char_time_is_rounded_up_to_whole_microseconds():
    assert rtu.char_time_us(9600, 10) == 1042
    assert rtu.char_time_us(19200, 11) == 573
    assert rtu.char_time_us(115200, 10) == 87


def test_silent_interval_is_three_and_a_half_characters_up_to_19200_baud():
    assert rtu.silent_interval_us(9600, 10) == 3646
    assert rtu.silent_interval_us(9600, 11) == 4011
    assert rtu.silent_interval_us(19200, 10) == 1823
    assert rtu.silent_interval_us(1200, 10) == 29167


def test_silent_interval_is_fixed_1750_us_above_19200_baud():
    assert rtu.silent_interval_us(38400, 11) == 1750
    assert rtu.silent_interval_us(115200, 10) == 1750


def test_timing_refuses_nonsense_line_settings():
    with pytest.raises(ValueError):
        rtu.char_time_us(0, 10)
    with pytest.raises(ValueError):
        rtu.silent_interval_us(9600, 9)
