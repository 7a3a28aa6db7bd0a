"""Modbus RTU frames: CRC-16, request and reply builders, strict parsers and serial-line timing.

The bus master and the detector emulator both use these rules, so a frame is judged the same at both ends.
"""

# Function codes (Modbus application protocol v1.1b3, section 6).
FUNCTION_READ_HOLDING = 0x03
FUNCTION_READ_INPUT = 0x04
FUNCTION_WRITE_SINGLE = 0x06
FUNCTION_WRITE_MULTIPLE = 0x10
READ_FUNCTIONS = (FUNCTION_READ_HOLDING, FUNCTION_READ_INPUT)
SUPPORTED_FUNCTIONS = (FUNCTION_READ_HOLDING, FUNCTION_READ_INPUT, FUNCTION_WRITE_SINGLE, FUNCTION_WRITE_MULTIPLE)
EXCEPTION_FLAG = 0x80

# Quantity limits (application protocol 6.3, 6.4: 1..125 read; 6.12: 1..123 written).
MAX_READ_COUNT = 125
MAX_WRITE_COUNT = 123

# Addresses (serial line guide 2.2): 0 broadcast, 1..247 slaves, 248..255 reserved.
BROADCAST_ADDRESS = 0
MIN_SLAVE = 1
MAX_SLAVE = 247

# Modbus over Serial Line (modbus.org, V1.02): the standard line speeds; 9600 8N1 is the typical
# gas module's factory setting (REFERENCE.md).
BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
# The same guide, 2.5: a character has no (N), even (E) or odd (O) parity and 1 or 2 stop bits.
PARITIES = ("N", "E", "O")
STOP_BITS = (1, 2)
# Register addresses are 16 bits (application protocol 4.4: 0x0000..0xFFFF).
MAX_REGISTER = 0xFFFF

WRITE_RESPONSE_LENGTH = 8
EXCEPTION_RESPONSE_LENGTH = 5
MIN_FRAME_LENGTH = 4  # address, function, CRC

# Exception codes (application protocol section 7) with the installer's next step.
ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03
SLAVE_DEVICE_FAILURE = 0x04
ACKNOWLEDGE = 0x05
SLAVE_DEVICE_BUSY = 0x06
MEMORY_PARITY_ERROR = 0x08
GATEWAY_PATH_UNAVAILABLE = 0x0A
GATEWAY_TARGET_NO_RESPONSE = 0x0B
EXCEPTION_NAMES = {
    ILLEGAL_FUNCTION: "illegal function",
    ILLEGAL_DATA_ADDRESS: "illegal data address",
    ILLEGAL_DATA_VALUE: "illegal data value",
    SLAVE_DEVICE_FAILURE: "slave device failure",
    ACKNOWLEDGE: "acknowledge",
    SLAVE_DEVICE_BUSY: "slave device busy",
    MEMORY_PARITY_ERROR: "memory parity error",
    GATEWAY_PATH_UNAVAILABLE: "gateway path unavailable",
    GATEWAY_TARGET_NO_RESPONSE: "gateway target device failed to respond",
}
_EXCEPTION_HINTS = {
    ILLEGAL_FUNCTION: "the device does not support this function: check the detector profile",
    ILLEGAL_DATA_ADDRESS: "check the register addresses in the detector profile against the device manual",
    ILLEGAL_DATA_VALUE: "check the register count or the value written against the device manual",
    SLAVE_DEVICE_FAILURE: "the device reports an internal failure: inspect or replace it",
    ACKNOWLEDGE: "the device is still executing a long command: poll it again later",
    SLAVE_DEVICE_BUSY: "the device is busy: it is asked again at the next poll",
    MEMORY_PARITY_ERROR: "the device reports a memory error: inspect or replace it",
    GATEWAY_PATH_UNAVAILABLE: "check the gateway's routing configuration",
    GATEWAY_TARGET_NO_RESPONSE: "the device behind the gateway did not answer: check its power and wiring",
}

# Every FrameError.kind, fixed: the master's statistics and the events are keyed on them.
KIND_TRUNCATED = "truncated"  # fewer bytes than the frame needs
KIND_CRC = "crc"  # CRC mismatch: noise, termination, shield, baud rate
KIND_ADDRESS = "address"  # reply from another slave, or an address a request may not use
KIND_FUNCTION = "function"  # reply to another function, or a function this code does not handle
KIND_BYTE_COUNT = "byte_count"  # byte count field disagrees with the register count
KIND_LENGTH = "length"  # CRC-valid frame of the wrong total length
KIND_ECHO = "echo"  # write reply that does not confirm the write that was sent
KIND_EXCEPTION = "exception"  # the device answered with an exception code
FRAME_ERROR_KINDS = (
    KIND_TRUNCATED,
    KIND_CRC,
    KIND_ADDRESS,
    KIND_FUNCTION,
    KIND_BYTE_COUNT,
    KIND_LENGTH,
    KIND_ECHO,
    KIND_EXCEPTION,
)

# Serial line guide 2.5.1.1: above 19200 baud the inter-frame gap is fixed at 1750 us.
FIXED_TIMING_ABOVE_BAUD = 19200
FIXED_SILENT_INTERVAL_US = 1750


class FrameError(Exception):
    """A frame that is not the valid answer (or request) it should be; str() tells the installer what to check.

    kind: one of FRAME_ERROR_KINDS. slave, function: of the request concerned (None if unknown).
    exception_code, exception_name: for kind 'exception', the code the slave sent and its name. From
    parse_request, exception_code is the exception the server should answer with (None: stay silent).
    """

    def __init__(self, kind, message, slave=None, function=None, exception_code=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.slave = slave
        self.function = function
        self.exception_code = exception_code
        self.exception_name = None if exception_code is None else exception_name(exception_code)


def exception_name(code):
    """Human name of a Modbus exception code, e.g. 'illegal data address' (str)."""
    name = EXCEPTION_NAMES.get(code)
    if name is None:
        return "non-standard exception 0x%02X" % code
    return name


def _build_crc_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _build_crc_table()


def crc16(data):
    """Modbus CRC-16 of bytes (poly 0xA001 reflected, init 0xFFFF); sent low byte first (int)."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _with_crc(body):
    crc = crc16(body)
    body.append(crc & 0xFF)
    body.append(crc >> 8)
    return bytes(body)


def _crc_ok(frame):
    end = len(frame) - 2
    return crc16(frame[:end]) == (frame[end] | (frame[end + 1] << 8))


def _append_u16(buf, value):
    buf.append(value >> 8)
    buf.append(value & 0xFF)


def _u16(frame, offset):
    return (frame[offset] << 8) | frame[offset + 1]


def _check_int(name, value, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or value < low or value > high:
        raise ValueError("%s must be an integer %d..%d, got %r" % (name, low, high, value))


def _check_register_span(address, count):
    if address + count - 1 > 0xFFFF:
        raise ValueError("registers %d..%d run past the last register address 65535" % (address, address + count - 1))


def read_registers_request(slave, function, address, count):
    """Request to read `count` holding (function 3) or input (function 4) registers (bytes)."""
    _check_int("slave", slave, MIN_SLAVE, MAX_SLAVE)
    if function not in READ_FUNCTIONS:
        raise ValueError("read function must be 3 (holding) or 4 (input), got %r" % (function,))
    _check_int("address", address, 0, 0xFFFF)
    _check_int("count", count, 1, MAX_READ_COUNT)
    _check_register_span(address, count)
    body = bytearray((slave, function))
    _append_u16(body, address)
    _append_u16(body, count)
    return _with_crc(body)


def write_register_request(slave, address, value):
    """Request to write one holding register (function 6) (bytes)."""
    _check_int("slave", slave, MIN_SLAVE, MAX_SLAVE)
    _check_int("address", address, 0, 0xFFFF)
    _check_int("value", value, 0, 0xFFFF)
    body = bytearray((slave, FUNCTION_WRITE_SINGLE))
    _append_u16(body, address)
    _append_u16(body, value)
    return _with_crc(body)


def write_registers_request(slave, address, values):
    """Request to write 1..123 consecutive holding registers (function 16) (bytes)."""
    _check_int("slave", slave, MIN_SLAVE, MAX_SLAVE)
    _check_int("address", address, 0, 0xFFFF)
    count = len(values)
    if count < 1 or count > MAX_WRITE_COUNT:
        raise ValueError("write 1..%d registers at once, got %d" % (MAX_WRITE_COUNT, count))
    _check_register_span(address, count)
    body = bytearray((slave, FUNCTION_WRITE_MULTIPLE))
    _append_u16(body, address)
    _append_u16(body, count)
    body.append(2 * count)
    for value in values:
        _check_int("value", value, 0, 0xFFFF)
        _append_u16(body, value)
    return _with_crc(body)


def _request_fields(request):
    """(slave, function, address, count_or_value) of a request this module built; ValueError if not one."""
    if len(request) < 8 or request[1] not in SUPPORTED_FUNCTIONS:
        raise ValueError("not a function 3, 4, 6 or 16 request: %r" % (bytes(request),))
    return request[0], request[1], _u16(request, 2), _u16(request, 4)


def expected_response_length(request):
    """Length in bytes of the normal reply to `request` (an exception reply is 5 bytes) (int)."""
    function = _request_fields(request)[1]
    if function in READ_FUNCTIONS:
        return 5 + 2 * _u16(request, 4)
    return WRITE_RESPONSE_LENGTH


def _exception_message(slave, function, address, code):
    return "Slave %d refused function %d at register %d: exception %02X %s (%s)" % (
        slave,
        function,
        address,
        code,
        exception_name(code),
        _EXCEPTION_HINTS.get(code, "see the device manual"),
    )


def parse_response(request, frame):
    """Checks `frame` as the reply to `request`; registers (list of int) for 3/4, (address, value_or_count) for 6/16.

    Checks in order: truncation, CRC, slave address, function (exception reply), byte count, total
    length, echo of a write. Raises FrameError on the first that fails, ValueError if `request` is
    not a request built by this module.
    """
    slave, function, address, count = _request_fields(request)
    need = 5 + 2 * count if function in READ_FUNCTIONS else WRITE_RESPONSE_LENGTH
    n = len(frame)
    if n >= 2 and frame[1] & EXCEPTION_FLAG:
        need = EXCEPTION_RESPONSE_LENGTH
    if n < need:
        raise FrameError(
            KIND_TRUNCATED,
            "Short reply from slave %d (%d of %d bytes): check wiring, termination and the baud rate"
            % (slave, n, need),
            slave,
            function,
        )
    if not _crc_ok(frame):
        raise FrameError(
            KIND_CRC, "CRC error from slave %d: check termination and cable shield" % slave, slave, function
        )
    if frame[0] != slave:
        raise FrameError(
            KIND_ADDRESS,
            "Reply from address %d while asking slave %d: two devices may share an address" % (frame[0], slave),
            slave,
            function,
        )
    if frame[1] == function | EXCEPTION_FLAG:
        if n != EXCEPTION_RESPONSE_LENGTH:
            raise FrameError(
                KIND_LENGTH,
                "Exception reply from slave %d is %d bytes, expected 5: check termination" % (slave, n),
                slave,
                function,
            )
        code = frame[2]
        raise FrameError(KIND_EXCEPTION, _exception_message(slave, function, address, code), slave, function, code)
    if frame[1] != function:
        raise FrameError(
            KIND_FUNCTION,
            "Slave %d answered function %d to a function %d request: check that the detector profile fits the device"
            % (slave, frame[1] & 0x7F, function),
            slave,
            function,
        )
    if function in READ_FUNCTIONS and frame[2] != 2 * count:
        raise FrameError(
            KIND_BYTE_COUNT,
            "Slave %d sent %d data bytes for %d registers: check the register count in the detector profile"
            % (slave, frame[2], count),
            slave,
            function,
        )
    if n != need:
        raise FrameError(
            KIND_LENGTH,
            "Reply from slave %d is %d bytes, expected %d: check termination and that one device uses the address"
            % (slave, n, need),
            slave,
            function,
        )
    if function in READ_FUNCTIONS:
        return [(frame[i] << 8) | frame[i + 1] for i in range(3, 3 + 2 * count, 2)]
    if frame[2:6] != request[2:6]:
        raise FrameError(
            KIND_ECHO,
            "Slave %d confirmed register %d = %d but %d = %d was sent: the write may not have taken effect"
            % (slave, _u16(frame, 2), _u16(frame, 4), address, count),
            slave,
            function,
        )
    return (address, count)


def parse_request(frame):
    """Checks a complete request frame (server side); (slave, function, address, count_or_value_or_values).

    The last item is the register count for 3/4, the value for 6, the list of values for 16.
    slave 0 is a broadcast write, which gets no reply. Raises FrameError; its exception_code, when
    not None, is the exception the server should answer with.
    """
    n = len(frame)
    if n < MIN_FRAME_LENGTH:
        raise FrameError(KIND_TRUNCATED, "Request of %d bytes is shorter than any frame" % n)
    if not _crc_ok(frame):
        raise FrameError(KIND_CRC, "CRC error in a request to address %d" % frame[0])
    slave = frame[0]
    function = frame[1]
    if slave > MAX_SLAVE:
        raise FrameError(KIND_ADDRESS, "Request to reserved address %d" % slave, slave, function)
    if function not in SUPPORTED_FUNCTIONS:
        code = ILLEGAL_FUNCTION if 0 < function < EXCEPTION_FLAG else None
        raise FrameError(KIND_FUNCTION, "Request for unsupported function %d" % function, slave, function, code)
    if slave == BROADCAST_ADDRESS and function in READ_FUNCTIONS:
        raise FrameError(
            KIND_ADDRESS, "Broadcast of read function %d, which cannot be answered" % function, 0, function
        )
    if n < 8:
        raise FrameError(
            KIND_TRUNCATED, "Function %d request of %d bytes is cut short" % (function, n), slave, function
        )
    address = _u16(frame, 2)
    quantity = _u16(frame, 4)
    if function == FUNCTION_WRITE_MULTIPLE:
        if n < 9:
            raise FrameError(KIND_TRUNCATED, "Function 16 request of %d bytes is cut short" % n, slave, function)
        if frame[6] != 2 * quantity:
            raise FrameError(
                KIND_BYTE_COUNT,
                "Function 16 request announces %d bytes for %d registers" % (frame[6], quantity),
                slave,
                function,
                ILLEGAL_DATA_VALUE,
            )
        if n != 9 + frame[6]:
            raise FrameError(
                KIND_LENGTH, "Function 16 request is %d bytes, expected %d" % (n, 9 + frame[6]), slave, function
            )
        if quantity < 1 or quantity > MAX_WRITE_COUNT:
            raise FrameError(
                KIND_EXCEPTION,
                "Function 16 request writes %d registers (1..%d allowed)" % (quantity, MAX_WRITE_COUNT),
                slave,
                function,
                ILLEGAL_DATA_VALUE,
            )
        _check_request_span(slave, function, address, quantity)
        return slave, function, address, [_u16(frame, i) for i in range(7, n - 2, 2)]
    if n != 8:
        raise FrameError(KIND_LENGTH, "Function %d request is %d bytes, expected 8" % (function, n), slave, function)
    if function in READ_FUNCTIONS:
        if quantity < 1 or quantity > MAX_READ_COUNT:
            raise FrameError(
                KIND_EXCEPTION,
                "Function %d request reads %d registers (1..%d allowed)" % (function, quantity, MAX_READ_COUNT),
                slave,
                function,
                ILLEGAL_DATA_VALUE,
            )
        _check_request_span(slave, function, address, quantity)
    return slave, function, address, quantity


def _check_request_span(slave, function, address, count):
    if address + count - 1 > 0xFFFF:
        raise FrameError(
            KIND_EXCEPTION,
            "Function %d request for registers %d..%d runs past 65535" % (function, address, address + count - 1),
            slave,
            function,
            ILLEGAL_DATA_ADDRESS,
        )


def build_read_response(slave, function, registers):
    """Normal reply to a function 3 or 4 request carrying `registers` (list of 0..65535) (bytes)."""
    _check_int("slave", slave, MIN_SLAVE, MAX_SLAVE)
    if function not in READ_FUNCTIONS:
        raise ValueError("read function must be 3 or 4, got %r" % (function,))
    count = len(registers)
    if count < 1 or count > MAX_READ_COUNT:
        raise ValueError("a read reply carries 1..%d registers, got %d" % (MAX_READ_COUNT, count))
    body = bytearray((slave, function, 2 * count))
    for value in registers:
        _check_int("register value", value, 0, 0xFFFF)
        _append_u16(body, value)
    return _with_crc(body)


def build_write_response(request):
    """Normal reply to a function 6 or 16 request frame (bytes); FrameError if the request is bad."""
    slave, function = parse_request(request)[:2]
    if function in READ_FUNCTIONS:
        raise ValueError("function %d is a read: use build_read_response" % function)
    if slave == BROADCAST_ADDRESS:
        raise ValueError("a broadcast write gets no reply")
    return _with_crc(bytearray(request[:6]))


def build_exception_response(slave, function, code):
    """Exception reply: slave, function | 0x80, exception code, CRC (bytes)."""
    _check_int("slave", slave, MIN_SLAVE, MAX_SLAVE)
    _check_int("function", function, 1, 0x7F)
    _check_int("exception code", code, 1, 0xFF)
    return _with_crc(bytearray((slave, function | EXCEPTION_FLAG, code)))


def bits_per_char(parity, stop_bits):
    """Bits on the wire per character: 1 start + 8 data + parity bit + stop bits (int).

    parity: 'N', 'E' or 'O' (or 'none', 'even', 'odd'); stop_bits: 1 or 2.
    """
    key = parity.upper() if isinstance(parity, str) else parity
    if key in ("NONE", "EVEN", "ODD"):
        key = key[0]
    if key not in PARITIES:
        raise ValueError("parity must be 'N', 'E' or 'O', got %r" % (parity,))
    if stop_bits not in STOP_BITS or isinstance(stop_bits, bool):
        raise ValueError("stop bits must be 1 or 2, got %r" % (stop_bits,))
    return 1 + 8 + (0 if key == "N" else 1) + stop_bits


def _check_line(baud, bits):
    _check_int("baud", baud, 1, 10000000)
    _check_int("bits per character", bits, 10, 12)


def char_time_us(baud, bits_per_char):
    """Time of one character on the wire, microseconds rounded up (int)."""
    _check_line(baud, bits_per_char)
    return (bits_per_char * 1000000 + baud - 1) // baud


def silent_interval_us(baud, bits_per_char):
    """Inter-frame silence: 3.5 character times rounded up, fixed 1750 us above 19200 baud (int)."""
    _check_line(baud, bits_per_char)
    if baud > FIXED_TIMING_ABOVE_BAUD:
        return FIXED_SILENT_INTERVAL_US
    return (7 * bits_per_char * 1000000 + 2 * baud - 1) // (2 * baud)
