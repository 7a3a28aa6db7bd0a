"""Event records: what the core tells the world, numbered and encoded identically everywhere.

Every change of safety state yields exactly one record; the canonical encoding is byte-for-byte the
same on CPython and MicroPython, so traces from both can be compared and stored verbatim.
"""

import json

# Fixed field order of the canonical encoding (MicroPython dicts are unordered).
FIELDS = ("seq", "t_ms", "type", "severity", "source", "state", "value", "reason")

SEVERITY_ALARM = "alarm"
SEVERITY_FAULT = "fault"
SEVERITY_WARNING = "warning"
SEVERITY_INFO = "info"

# Event types. docs/events.md describes each one for the platform operator.
STARTUP = "startup"
DETECTOR = "detector"
DETECTOR_HEALTH = "detector_health"
TRIP = "trip"
RESET = "reset"
RESET_REFUSED = "reset_refused"
INTERLOCK = "interlock"
SCHEDULE = "schedule"
SILENCE = "silence"
INHIBIT = "inhibit"
OUTPUT = "output"
VALVE_FAULT = "valve_fault"
COMMAND = "command"
# Recorded by the platform through Controller.record(), in the same numbering.
SHUTDOWN = "shutdown"
BUS = "bus"
EVENT_TYPES = (
    STARTUP,
    DETECTOR,
    DETECTOR_HEALTH,
    TRIP,
    RESET,
    RESET_REFUSED,
    INTERLOCK,
    SCHEDULE,
    SILENCE,
    INHIBIT,
    OUTPUT,
    VALVE_FAULT,
    COMMAND,
    SHUTDOWN,
    BUS,
)


class EventLog:
    """Hands out strictly increasing sequence numbers and collects records until drained.

    `first_seq` lets the platform continue numbering across restarts from its store.
    """

    def __init__(self, first_seq=1):
        self.next_seq = first_seq
        self._pending = []

    def emit(self, t_ms, type_, severity, source, state, value=None, reason=""):
        record = {
            "seq": self.next_seq,
            "t_ms": t_ms,
            "type": type_,
            "severity": severity,
            "source": source,
            "state": state,
            "value": value,
            "reason": reason,
        }
        self.next_seq += 1
        self._pending.append(record)
        return record

    def drain(self):
        out = self._pending
        self._pending = []
        return out


def encode(record):
    """One event as a canonical JSON line (fixed key order, no spaces, no newline)."""
    parts = []
    for key in FIELDS:
        parts.append(json.dumps(key) + ":" + encode_value(record[key]))
    return "{" + ",".join(parts) + "}"


def encode_value(value):
    """An int, str, bool or None as canonical JSON."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return encode_str(value)
    raise ValueError("event values are int, str, bool or None, not %r" % (value,))


def encode_str(text):
    """JSON string with only ASCII out (non-ASCII as \\u escapes), identical on both interpreters."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code > 0x7E:
            if code > 0xFFFF:
                code -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
            else:
                out.append("\\u%04x" % code)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
