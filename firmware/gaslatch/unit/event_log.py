"""Log lines for the journal: one event per line, with a syslog priority prefix journald understands.

Lines are written by a thread of their own: a slow or stuck journal pipe must never stall the scan.
"""

import json
import queue
import threading
from typing import TextIO

from gaslatch.core import events as E

# journald reads "<N>" at the start of a stdout line as the syslog priority (SyslogLevelPrefix=yes).
_PRIORITY = {E.SEVERITY_ALARM: 2, E.SEVERITY_FAULT: 3, E.SEVERITY_WARNING: 4, E.SEVERITY_INFO: 6}
_LEVELS = {"debug": 7, "info": 6, "warning": 4, "error": 3}
QUEUE_LINES = 10000
# A message line (not an event: those are made safe where the core numbers them) is cut to this length.
MAX_MESSAGE_CHARS = 4000


class EventLogger:
    def __init__(self, level: str, stream: TextIO):
        self.threshold = _LEVELS[level]
        self.stream = stream
        self.dropped = 0
        self._lines: queue.Queue = queue.Queue(maxsize=QUEUE_LINES)
        self._thread = threading.Thread(target=self._drain, name="gaslatch-log", daemon=True)
        self._thread.start()

    def event(self, record: dict) -> None:
        """`<2>event t_ms=15600 seq=17 type=trip severity=alarm source=controller state=latched ...`."""
        priority = _PRIORITY.get(record["severity"], 6)
        fields = " ".join("%s=%s" % (key, _value(record[key])) for key in E.FIELDS if key != "t_ms")
        # A record from the core is safe already (EventLog.emit); one from elsewhere is made so by _value.
        self._write(priority, "event t_ms=%d %s" % (record["t_ms"], fields))

    def info(self, text: str) -> None:
        self._write(6, _message(text))

    def debug(self, text: str) -> None:
        self._write(7, _message(text))

    def error(self, text: str) -> None:
        self._write(3, _message(text))

    def close(self, timeout_s: float = 2.0) -> None:
        """Write what is queued (the event store, not the log, is the record that counts)."""
        try:
            self._lines.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)

    def _write(self, priority: int, text: str) -> None:
        if priority > self.threshold:
            return
        try:
            self._lines.put_nowait("<%d>%s\n" % (priority, text))
        except queue.Full:
            self.dropped += 1

    def _drain(self) -> None:
        while True:
            line = self._lines.get()
            if line is None:
                return
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):
                self.dropped += 1


def _message(text: str) -> str:
    """A message carrying an OS error, a path or a peer's text, made safe (one line, no NUL, no lone surrogate
    the stream could not encode), so it is never dropped for its text."""
    return E.safe_text(text, MAX_MESSAGE_CHARS)


def _value(value) -> str:
    """Plain tokens bare (type=trip), anything with spaces or quotes as a JSON string; text made safe first."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = E.safe_text(value)
        if value and all(ch.isalnum() or ch in "_-.:/" for ch in value):
            return value
        return json.dumps(value, ensure_ascii=False)
    return str(value)
