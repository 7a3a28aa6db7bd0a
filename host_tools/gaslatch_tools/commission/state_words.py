"""The words an installer reads for a detector's status or state, where the core and the records keep codes.

The core reports `low_alarm` or `comm_lost`; a person reads 低限报警 or 通讯中断 (docs/glossary.csv), or "low
alarm". One table, so that every command names a state the same way; the JSON and the record keep the code.
"""

from __future__ import annotations

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.translation import N_, named

# A detector's status (decoded from the device) and the controller's state of it, by code.
STATE_WORDS = {
    C.STATUS_NORMAL: N_("normal"),
    C.STATUS_WARMUP: N_("warming up"),
    C.STATUS_PRE_ALARM: N_("pre-alarm"),
    C.STATUS_LOW_ALARM: N_("low alarm"),
    C.STATUS_HIGH_ALARM: N_("high alarm"),
    C.STATUS_FAULT: N_("fault"),
    C.STATUS_OVER_RANGE: N_("over range"),
    C.STATUS_CALIBRATION: N_("calibrating"),
    C.STATUS_END_OF_LIFE: N_("end of life"),
    D.COMM_LOST: N_("communication lost"),
}


def state_word(code: str | None) -> str:
    """The word for a status or state code, in the reader's language; an unknown code as it is, None as "?"."""
    return "?" if code is None else named(STATE_WORDS, code)
