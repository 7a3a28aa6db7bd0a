"""What an event says to a person, in the reader's language, made from the codes the record keeps.

An event record keeps machine-readable codes that never change with the language (its `type`, `state`,
`source`, `value`) and the core's `reason`, the detail as recorded. The headline a person reads is rendered
here from the codes, when and where it is read: the unit's `gaslatch events`, the kitchen panel, the platform's
console and the bench's reports call `headline()`, so a Chinese and an English reader of one record read the
same thing, each in their own language, and a record stored in one language is never needed.

Standard library only (the unit has no Babel); the core never imports it (it emits codes, not sentences).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gaslatch.translation import N_, _

# (type, state) -> the headline; %(source)s is the event's source, %(value)s its value.
HEADLINES = {
    ("startup", "latched"): N_("controller started: gas off until a local reset"),
    ("detector", "warmup"): N_("detector %(source)s: warming up"),
    ("detector", "normal"): N_("detector %(source)s: normal"),
    ("detector", "low_alarm"): N_("detector %(source)s: low alarm"),
    ("detector", "high_alarm"): N_("detector %(source)s: high alarm"),
    ("detector", "fault"): N_("detector %(source)s: fault"),
    ("detector", "comm_lost"): N_("detector %(source)s: communication lost"),
    ("detector_health", "unstable"): N_("detector %(source)s: unstable (flapping), not trusted"),
    ("detector_health", "link_degraded"): N_("detector %(source)s: link degraded, not trusted"),
    ("detector_health", "ok"): N_("detector %(source)s: trusted again"),
    ("trip", "latched"): N_("gas shut off and latched"),
    ("reset", "armed"): N_("reset accepted: gas may flow"),
    ("reset", "proving"): N_("reset accepted: proving the gas pressure first"),
    ("reset_refused", "refused"): N_("reset refused"),
    ("proving", "started"): N_("gas pressure proving started"),
    ("proving", "passed"): N_("gas pressure proving passed: gas on"),
    ("proving", "failed"): N_("gas pressure proving failed: gas stays off"),
    ("proving", "interrupted"): N_("gas pressure proving interrupted: gas off"),
    ("interlock", "active"): N_("interlock %(source)s active"),
    ("interlock", "clear"): N_("interlock %(source)s clear"),
    ("schedule", "attended"): N_("attended hours began"),
    ("schedule", "unattended"): N_("attended hours ended (人走阀关): gas off"),
    ("schedule", "clock_unknown"): N_("clock not set: attended hours unknown, gas off"),
    ("silence", "silenced"): N_("sounder silenced for %(value)s s"),
    ("silence", "ended"): N_("sounder sounds again"),
    ("inhibit", "started"): N_("detector %(source)s inhibited for %(value)s min"),
    ("inhibit", "ended"): N_("inhibit of detector %(source)s ended"),
    ("output", "on"): N_("output %(source)s on"),
    ("output", "off"): N_("output %(source)s off"),
    ("valve_fault", "fault"): N_("valve fault: its position does not match its command"),
    ("valve_fault", "ok"): N_("valve position matches its command again"),
    ("command", "close_valve"): N_("close-valve command received"),
    ("command", "test_output"): N_("commissioning test switched output %(source)s for %(value)s ms"),
    ("command", "refused"): N_("remote commands refused"),
    ("access", "login"): N_("panel login: %(source)s"),
    ("access", "login_failed"): N_("panel login failed: %(source)s"),
    ("access", "locked_out"): N_("panel locked after failed logins: %(source)s"),
    ("access", "logout"): N_("panel logout: %(source)s"),
    ("access", "timed_out"): N_("panel session timed out: %(source)s"),
    ("maintenance_due", "soon"): N_("%(asset)s: %(task)s due on %(value)s"),
    ("maintenance_due", "due"): N_("%(asset)s: %(task)s overdue since %(value)s"),
    ("maintenance_due", "ok"): N_("%(asset)s: %(task)s reminder closed"),
    ("daily_check", "done"): N_("daily check (每日检查) confirmed: %(value)s"),
    ("daily_check", "missed"): N_("daily check (每日检查) missed: %(value)s"),
    ("shutdown", "stopped"): N_("controller stopped: outputs in their safe state"),
    ("bus", "lost"): N_("RS-485 bus %(source)s lost"),
    ("bus", "open"): N_("RS-485 bus %(source)s back"),
}
# The headlines that name the value, for an event without one (a record that has none; the recent events of a
# controller older than 2026-12, whose status left values out): "inhibited for - min" would read as a fault.
WITHOUT_VALUE = {
    ("silence", "silenced"): N_("sounder silenced"),
    ("inhibit", "started"): N_("detector %(source)s inhibited"),
    ("command", "test_output"): N_("commissioning test switched output %(source)s"),
    ("maintenance_due", "soon"): N_("%(asset)s: %(task)s due soon"),
    ("maintenance_due", "due"): N_("%(asset)s: %(task)s overdue"),
    ("daily_check", "done"): N_("daily check (每日检查) confirmed"),
    ("daily_check", "missed"): N_("daily check (每日检查) missed"),
}
# A maintenance reminder's source is "<asset>:<task>" (core/lifecycle.py).
TASKS = {"end_of_life": N_("replacement at end of life"), "calibration": N_("calibration")}
OTHER = N_("%(type)s %(source)s: %(state)s")
# A detector event's value: hundredths of %LEL (none for CO and CO2, whose reading in ppm is in the reason).
READING = "%.2f %%LEL"
MAX_READING = 10 ** 12  # beyond it no detector's reading (an int that large cannot even be divided into a float)
FIELD_CHARS = 80


def headline(event: Mapping[str, Any], gettext: Callable[[str], str] = _,
             more: Mapping[tuple[str, str], str] | None = None) -> str:
    """The event's headline in the language of `gettext` (the process's by default), with a detector's reading.

    Any mapping is taken, whatever its fields hold (a status reply, a row from a peer): a field that is missing
    or of the wrong kind reads as empty rather than failing the page or listing that shows it. `more`: headlines
    of what a reader observes itself besides the unit's events (the platform's: a unit gone silent...), filled
    the same way.
    """
    type_, state, source = (_text(event.get(key)) for key in ("type", "state", "source"))
    value = event.get("value")
    asset, _colon, task = source.partition(":")
    fill = {"type": type_, "state": state, "source": source, "value": "-" if value is None else _text(value),
            "asset": asset, "task": gettext(TASKS[task]) if task in TASKS else task}
    message = ((WITHOUT_VALUE.get((type_, state)) if value is None else None) or HEADLINES.get((type_, state))
               or (more or {}).get((type_, state)))
    text = gettext(message if message else OTHER) % fill
    if type_ == "detector" and isinstance(value, int) and not isinstance(value, bool) and abs(value) < MAX_READING:
        text += " (%s)" % (READING % (value / 100))
    return text


def _text(value: Any) -> str:
    """A field as text, at most FIELD_CHARS (a headline is one line: the whole field is in the record)."""
    try:
        text = value if isinstance(value, str) else "" if value is None else str(value)
    except ValueError:  # an int beyond Python's 4,300 digits for str()
        return "?"
    return text if len(text) <= FIELD_CHARS else text[:FIELD_CHARS - 1] + "…"
