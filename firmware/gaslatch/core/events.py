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
ACCESS = "access"  # a person logging in or out at a local panel, or being locked out (EN 50271 access levels)
MAINTENANCE_DUE = "maintenance_due"  # a detector's or the valve's end of life or calibration coming up (lifecycle.py)
PROVING = "proving"  # the gas pressure proving after a local reset: started, passed, failed, interrupted
DAILY_CHECK = "daily_check"  # the staff's daily checklist confirmed, or not confirmed in time (daily_check.py)
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
    ACCESS,
    PROVING,
    MAINTENANCE_DUE,
    DAILY_CHECK,
    SHUTDOWN,
    BUS,
)


# Every text an event carries is at most this long (a reason listing every reset blocker of a big
# kitchen is a few hundred characters); the platform receiver stores the same bound.
MAX_TEXT_CHARS = 1000
TRUNCATED_MARK = "...(+%d chars)"
# Code points an event never carries verbatim, as (first, last): C0 controls and DEL, C1 controls,
# lone UTF-16 surrogates (CPython only: MicroPython strings cannot hold them), the bidi controls and
# line separators that reorder or split a displayed line, the BOM and the noncharacters.
UNSAFE_RANGES = (
    (0x00, 0x1F), (0x7F, 0x9F), (0x200E, 0x200F), (0x2028, 0x202E), (0x2066, 0x2069),
    (0xD800, 0xDFFF), (0xFDD0, 0xFDEF), (0xFEFF, 0xFEFF), (0xFFFE, 0xFFFF),
)


def is_unsafe_code_point(code):
    """True for a code point safe_text() shows escaped."""
    for first, last in UNSAFE_RANGES:
        if first <= code <= last:
            return True
    return (code & 0xFFFE) == 0xFFFE  # U+1FFFE, U+2FFFF...: noncharacters of every plane


def safe_text(text, max_chars=MAX_TEXT_CHARS):
    """Text as an event may carry it: valid Unicode without NUL or control characters, at most max_chars.

    Every unsafe character is shown escaped (\\x00, \\u202e, \\ud800), so the original can still be
    read; anything that is not text is shown as its repr(). Safe text comes back unchanged, and
    safe_text(safe_text(t)) == safe_text(t). Every entry point of text into an event goes through here
    (EventLog.emit), and the platform's receiver applies it to what a peer sends.
    """
    if not isinstance(text, str):
        text = repr(text)
    out = []
    size = 0
    changed = False
    for ch in text:
        code = ord(ch)
        if is_unsafe_code_point(code):
            piece = "\\x%02x" % code if code < 0x100 else "\\u%04x" % code if code < 0x10000 else "\\U%08x" % code
            changed = True
        else:
            piece = ch
        out.append(piece)
        size += len(piece)
        if size > max_chars:
            break
    if size <= max_chars:
        return "".join(out) if changed else text
    return _truncated(out, len(text), max_chars)


def _truncated(pieces, total_chars, max_chars):
    """The escaped pieces cut to fit max_chars with a mark saying how many source characters were left out."""
    kept = []
    size = 0
    used = 0
    for piece in pieces:
        mark = TRUNCATED_MARK % (total_chars - used)
        if size + len(piece) + len(mark) > max_chars:
            break
        kept.append(piece)
        size += len(piece)
        used += 1
    return "".join(kept) + TRUNCATED_MARK % (total_chars - used)


# The newest records a status carries (the kitchen panel's "recent events"): a few, so a status stays small.
RECENT_EVENTS = 10


class EventLog:
    """Hands out strictly increasing sequence numbers and collects records until drained.

    `first_seq` lets the platform continue numbering across restarts from its store. The newest RECENT_EVENTS
    records stay in `recent` for the status, whoever drains the rest.
    """

    def __init__(self, first_seq=1):
        self.next_seq = first_seq
        self._pending = []
        self.recent = []

    def emit(self, t_ms, type_, severity, source, state, value=None, reason=""):
        """Number and keep one record; its texts pass safe_text() here, the one funnel of every event."""
        if value is not None and not isinstance(value, int):
            value = safe_text(value)
        record = {
            "seq": self.next_seq,
            "t_ms": t_ms,
            "type": safe_text(type_),
            "severity": safe_text(severity),
            "source": safe_text(source),
            "state": safe_text(state),
            "value": value,
            "reason": safe_text(reason),
        }
        self.next_seq += 1
        self._pending.append(record)
        self.recent.append(record)
        if len(self.recent) > RECENT_EVENTS:
            self.recent.pop(0)
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
    return json_quote(text, True)


def json_quote(text, ascii_only):
    """`text` as a JSON string, the same on CPython and MicroPython: quotes and backslashes escaped, and
    as \\u escapes (surrogate pairs above U+FFFF) every character outside printable ASCII when
    ascii_only, else only those safe_text() would escape (is_unsafe_code_point)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif (code < 0x20 or code > 0x7E) if ascii_only else is_unsafe_code_point(code):
            if code > 0xFFFF:
                code -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
            else:
                out.append("\\u%04x" % code)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
