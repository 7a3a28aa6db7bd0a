"""What the bench shows a person, in the reader's language: its actions, and the demo scenario's own words.

A scenario's YAML keeps its texts (summary, expectation names) in English, as data; every shipped summary is
extracted into the catalogue (bench/scenario_messages.py), and the README demo's other texts are listed here, so
`gaslatch demo` reads whole in Chinese too (tests/bench/test_words.py checks both). Other texts are shown as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gaslatch.core.events import safe_text
from gaslatch.event_text import headline
from gaslatch.translation import N_, _

FIELD_CHARS = 200  # a field shown on one line of a table or a log (the whole field is in the trace)

# A timeline action's code (scenario.py) -> what the bench did, shown with the action's label or line.
ACTIONS = {
    "press": N_("pressed %(what)s"),
    "input": N_("switched input %(what)s"),
    "cut_wire": N_("cut the wire of %(what)s"),
    "mend_wire": N_("mended the wire of %(what)s"),
    "detector_fault": N_("detector fault %(what)s"),
    "bus_fault": N_("bus fault %(what)s"),
    "bus_clear": N_("bus fault cleared %(what)s"),
    "noise": N_("noise on the bus %(what)s"),
    "port": N_("serial port %(what)s"),
    "valve_fault": N_("valve fault %(what)s"),
    "valve_manual_open": N_("valve opened by hand %(what)s"),
    "fan_fault": N_("fan fault %(what)s"),
    "pipe_fault": N_("gas pipe fault %(what)s"),
    "vent": N_("gas pipe vented %(what)s"),
    "power_cut": N_("power cut %(what)s"),
    "power_back": N_("power back %(what)s"),
    "broker": N_("broker %(what)s"),
    "command": N_("command %(what)s"),
}
OTHER_ACTION = N_("%(do)s %(what)s")

# The README demo's texts (host_tools/gaslatch_tools/bench/scenarios/demo.yaml, and the expectation run_demo adds
# when mosquitto is installed), word for word.
DEMO_TEXTS = (
    N_("The README demo. A leak builds up at the wok hood; the valve closes and the fan starts. A reset is refused "
       "while gas is present, and again just after it clears (the 10 s clear hold). Once the wok hood has been "
       "clear for the hold, a reset reopens the valve."),
    N_("ceiling above the wok ranges"),
    N_("ceiling above the steamer"),
    N_("valve closed within 3 s of 25 %LEL at the wok hood"),
    N_("fan started within 3 s"),
    N_("reset refused while gas is present"),
    N_("reset refused again just after the gas clears, inside the 10 s clear hold"),
    N_("gas stays off after the refused resets"),
    N_("reset accepted once the gas has cleared"),
    N_("valve open again after the accepted reset"),
    N_("every stored event reached the platform"),
)
EVERY_EVENT_DELIVERED = DEMO_TEXTS[-1]


def shown(value: Any, max_chars: int = FIELD_CHARS) -> str:
    """Any value as one line of safe text (control characters, lone surrogates and bidi marks escaped, at most
    max_chars): what the bench shows of a field it did not write (a status reply, a journal line, a config)."""
    if value is None:
        return ""
    try:
        return safe_text(value, max_chars)
    except ValueError:  # an int beyond Python's 4,300 digits for repr()
        return "?"


def scenario_text(text: Any) -> str:
    """A scenario's own text (its summary, an expectation's name, a location) in the reader's language where the
    catalogue has it (a shipped scenario's summary, the demo's texts), else as written."""
    if not isinstance(text, str) or not text:
        return shown(text)
    return shown(_(text), max(FIELD_CHARS, len(text) * 2))


def action_text(action: Mapping[str, Any], gettext: Callable[[str], str] = _) -> str:
    """A bench action as a person reads it: what was done, to what (its label, line, detector or bus), and
    "(failed)" when it could not be done."""
    do = shown(action.get("do")).lstrip("_")
    what = " ".join(shown(action.get(key)) for key in ("label", "line", "detector", "bus", "state", "fault", "cmd")
                    if action.get(key) not in (None, ""))
    message = ACTIONS.get(do)
    text = gettext(message if message else OTHER_ACTION) % {"do": do, "what": what}
    if not action.get("ok", True):
        text += " " + gettext("(failed)")
    return " ".join(text.split())


def event_line(record: Mapping[str, Any], gettext: Callable[[str], str] = _) -> str:
    """A controller event as one line: its headline, then the detail the core recorded."""
    reason = record.get("reason")
    text = shown(headline(record, gettext))
    if reason not in (None, ""):
        text += " · " + shown(reason)
    return text
