"""Journal lines: an event or a message with hostile text is written as one safe line, never dropped."""

import io

from gaslatch.core import events as E
from gaslatch.unit.event_log import EventLogger


class StrictStream(io.StringIO):
    """A journal pipe that, like stdout with a strict UTF-8 encoding, cannot take a lone surrogate."""

    def write(self, text):
        text.encode("utf-8")
        return super().write(text)


def test_a_message_with_nul_newline_and_a_lone_surrogate_is_written_as_one_safe_line():
    stream = StrictStream()
    log = EventLogger("debug", stream)
    log.error("cannot open /dev/tty\ud800\x00: no such device\nsecond line")
    log.event(E.EventLog().emit(5, E.BUS, E.SEVERITY_FAULT, "bus1", "lost", None, "port \ud800 gone\n"))
    log.close()
    lines = stream.getvalue().splitlines()
    assert lines == ["<3>cannot open /dev/tty\\ud800\\x00: no such device\\x0asecond line",
                     '<3>event t_ms=5 seq=1 type=bus severity=fault source=bus1 state=lost value=- '
                     'reason="port \\\\ud800 gone\\\\x0a"']
    assert log.dropped == 0
