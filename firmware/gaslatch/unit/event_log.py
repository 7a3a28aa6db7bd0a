"""Log lines for the journal: one event per line, with a syslog priority prefix journald understands."""

import json
from typing import TextIO

from gaslatch.core import events as E

# journald reads "<N>" at the start of a stdout line as the syslog priority (SyslogLevelPrefix=yes).
_PRIORITY = {E.SEVERITY_ALARM: 2, E.SEVERITY_FAULT: 3, E.SEVERITY_WARNING: 4, E.SEVERITY_INFO: 6}
_LEVELS = {"debug": 7, "info": 6, "warning": 4, "error": 3}


class EventLogger:
    def __init__(self, level: str, stream: TextIO):
        self.threshold = _LEVELS[level]
        self.stream = stream

    def event(self, record: dict) -> None:
        """`<2>event seq=17 type=trip severity=alarm source=controller state=latched reason="gas: d1 high alarm"`."""
        priority = _PRIORITY.get(record["severity"], 6)
        fields = " ".join("%s=%s" % (key, _value(record[key])) for key in E.FIELDS if key != "t_ms")
        self._write(priority, "event t_ms=%d %s" % (record["t_ms"], fields))

    def info(self, text: str) -> None:
        self._write(6, text)

    def debug(self, text: str) -> None:
        self._write(7, text)

    def error(self, text: str) -> None:
        self._write(3, text)

    def _write(self, priority: int, text: str) -> None:
        if priority <= self.threshold:
            self.stream.write("<%d>%s\n" % (priority, text))
            self.stream.flush()


def _value(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
