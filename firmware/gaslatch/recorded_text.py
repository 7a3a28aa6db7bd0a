"""What the controller core recorded or answered (a trip reason, reset blockers, an event's reason, the reply to a
command), in the reader's language.

The core (language-neutral, MicroPython) records English sentences joined by "; ", and the record stays so: MQTT,
the journal, the platform's database and --json carry them as they are. A person reads them here: each part is
matched against PHRASES, the core's sentences as %-templates, and rendered in the reader's language; its values
(names, numbers, free details) are shown as recorded, except a value that is itself a phrase (the "what" of
"interlock: %(what)s"). A part no phrase fits, or one whose translation does not fit its values, stays English.

Standard library only (the unit's `gaslatch status` and `events` use it); the patterns are compiled on first use.
"""

from __future__ import annotations

from collections.abc import Callable

from gaslatch.translation import CHINESE, N_, _, in_language
from gaslatch.unit.store_health import STORE_DAMAGED, STORE_ERRORS, STORE_WHERE, STORE_WRITE_ERROR, STORE_WRITE_HINTS

SEPARATOR = "; "  # the core's joiner of causes, blockers and notes
MAX_CHARS = 4000  # text beyond it is shown as recorded: a reason is short, a longer text is no core's sentence
MAX_PARTS = 40  # parts beyond it are shown as recorded
MAX_DEPTH = 3  # a phrase inside a phrase inside a phrase, at most
# Placeholders whose value may itself be a phrase (translated when it is one, else shown as recorded).
NESTED = frozenset(("what", "why", "cause", "fault", "failure", "link", "reading", "seen", "state", "status",
                    "summary", "basis", "level", "hint", "problem"))
# A detector's state as the core writes it in a sentence (state.replace("_", " ")): a `state` must be one of these
# for its template to fit, so that "interrupted in the check phase: command: ..." is never read as detector
# "interrupted in the check phase" in state "command: ...".
STATES = frozenset(("warmup", "normal", "low alarm", "high alarm", "fault", "comm lost", "not read yet"))
# What the event store's health says (gaslatch/unit/store_health.py; tests/unit/test_event_store.py reads each in
# Chinese): while commits fail, after its start-up check, and when it could not be opened ("event store PATH:
# PROBLEM", then its HINT after "; ").
STORE_PROBLEMS = tuple(sorted({problem for problem, hint in STORE_ERRORS}))
STORE_HEALTH = ((STORE_WRITE_ERROR, STORE_DAMAGED, STORE_WHERE) + STORE_WRITE_HINTS + STORE_PROBLEMS
                + tuple(sorted({hint for problem, hint in STORE_ERRORS})))

# What a phrase's placeholder may hold when only some phrases fit it (core/safety.py _trip_causes): so that a
# detector named "interlock", "schedule" or "new" is read as a detector ("interlock: high alarm"), not as a cause.
_CAUSES = frozenset(("gas: %(detector)s high alarm", "co: %(detector)s at the CO trip level",
                     "co2: %(detector)s at the CO2 isolation level (IGEM/UP/19)",
                     "fault: %(detector)s %(state)s for %(seconds)d s", "interlock: %(what)s", "schedule: %(what)s",
                     "self-test failed: %(fault)s", "command: close valve from %(source)s"))
ONLY = {
    ("interlock: %(what)s", "what"): frozenset(("fire alarm input active", "emergency stop pressed",
                                                "extract airflow not proven")),
    ("schedule: %(what)s", "what"): frozenset(("outside attended hours: gas off (人走阀关)",
                                               "clock not set: attended hours cannot be checked")),
    ("new: %(cause)s", "cause"): _CAUSES,
    (STORE_WRITE_ERROR, "hint"): frozenset(STORE_WRITE_HINTS),
    (STORE_WHERE, "problem"): frozenset(STORE_PROBLEMS),
}
# A detector's name as the configuration allows it (core/config_schema.py NAME_PATTERN, unanchored).
NAME = r"[a-z0-9][a-z0-9_-]{0,31}"

# gaslatch/unit/control_socket.py: the control socket's own refusals, before or instead of the controller's answer
# (tests/unit/test_control_socket.py reads each one it provokes in Chinese).
SOCKET_REFUSALS = (
    N_("internal error in the controller while handling %(command)s: see its log (journalctl -u gaslatch)"),
    N_("too many control clients (%(count)d) connected, each waiting for a reply: try again"),
    N_("closed: all %(count)d control connections were taken and this one was idle longest"),
    N_("too many requests waiting on this connection (%(count)d): wait for the replies"),
    N_("controller busy (%(count)d requests waiting): try again"),
    N_("the controller did not take the request within %(seconds)s s: nothing was done (its scan loop may be "
       "stalled: journalctl -u gaslatch)"),
)

# The core's recorded sentences (firmware/gaslatch/core), split at "; " as the core joins them; none holds "; ".
# tests/unit/test_recorded_text.py drives the core and fails on a sentence missing here.
PHRASES = (
    # safety.py: trip causes (status trip_reason, trip events)
    N_("power on: valve closed until local reset"),
    N_("gas: %(detector)s high alarm"),
    N_("co: %(detector)s at the CO trip level"),
    N_("co2: %(detector)s at the CO2 isolation level (IGEM/UP/19)"),
    N_("fault: %(detector)s %(state)s for %(seconds)d s"),
    N_("interlock: %(what)s"),
    N_("schedule: %(what)s"),
    N_("self-test failed: %(fault)s"),
    N_("command: close valve from %(source)s"),
    N_("already latched"),
    N_("new: %(cause)s"),
    N_("proving the gas pipework before the gas opens"),
    N_("pressure proving failed: %(failure)s"),
    # safety.py: interlocks and the schedule (reset blockers, interlock and schedule events)
    N_("fire alarm input active"),
    N_("fire alarm input clear"),
    N_("emergency stop pressed"),
    N_("emergency stop released"),
    N_("extract airflow not proven"),
    N_("extract airflow proven"),
    N_("inside attended hours"),
    N_("outside attended hours: gas off (人走阀关)"),
    N_("clock not set: attended hours cannot be checked"),
    # safety.py: reset blockers of a detector, the valve
    N_("%(detector)s: %(state)s"),
    N_("%(detector)s: %(state)s (clear hold: at least %(seconds)d s more clear)"),
    N_("%(detector)s: bad report %(ago)d s ago (clear hold: at least %(seconds)d s more clear)"),
    N_("%(detector)s unstable: went from clear to alarm, fault or warm-up %(times)d times in %(span)s s"),
    N_("%(detector)s: link degraded, %(link)s"),
    N_("valve fault: %(fault)s"),
    # safety.py: detector states as a blocker or a cause names them
    N_("warmup"),
    N_("normal"),
    N_("low alarm"),
    N_("high alarm"),
    N_("fault"),
    N_("comm lost"),
    # safety.py: resets, commands, inhibits, the sounder, the valve, the outputs, detector health
    N_("local reset accepted: valve may open"),
    N_("local reset accepted: proving the pipework before the gas opens"),
    N_("auto-arm after power on (external manual-reset valve)"),
    N_("close valve requested"),
    N_("inhibited for %(minutes)d min by %(source)s"),
    N_("ended by %(source)s"),
    N_("inhibit time expired"),
    N_("alarms cleared"),
    N_("silence time expired: sounding again"),
    N_("new alarm at %(detector)s (%(state)s): sounding again"),
    N_("silenced for %(seconds)d s by %(source)s"),
    N_("closed and open switches both made: check feedback wiring"),
    N_("commanded closed but not closed after %(seconds)d s"),
    N_("commanded open but not open after %(seconds)d s"),
    N_("valve position matches command"),
    N_("closing pulse"),
    N_("pulse ended"),
    N_("valve energised (open)"),
    N_("valve de-energised (closed)"),
    N_("healthy"),
    N_("fault present"),
    N_("fan on"),
    N_("fan off"),
    N_("sounder on"),
    N_("sounder off"),
    N_("beacon on"),
    N_("beacon off"),
    N_("link degraded: %(link)s"),
    N_("stable and answering again (%(link)s)"),
    # detector_state.py: a detector's reason
    N_("power on"),
    N_("no reading"),
    N_("%(failed)d of the last %(polls)d polls failed"),
    N_("link degraded: no good reply for %(silent)s s, longer than the %(stale)s s within which a leak must be "
       "sampled to trip inside the %(budget)d s alarm budget"),
    N_("link degraded: no good reply for %(silent)s s, longer than the %(stale)s s within which a leak must be "
       "sampled to trip inside the %(budget)d s alarm budget (last error: %(error)s)"),
    N_("no reply for %(seconds)d s"),
    N_("no reply for %(seconds)d s (last error: %(error)s)"),
    N_("unstable: went from clear to alarm, fault or warm-up %(times)d times in %(span)s s"),
    N_("unknown detector status %(status)s"),
    N_("detector warming up"),
    N_("still warming up after %(seconds)d s"),
    N_("over-range (%(reading)s)"),
    N_("detector reports high alarm at %(reading)s"),
    N_("detector reports %(status)s at %(reading)s"),
    N_("detector reports %(status)s"),
    N_("reading %(reading)s >= high set point %(set_point)s"),
    N_("reading %(reading)s >= low set point %(set_point)s"),
    N_("reading %(reading)s below high set point"),
    N_("reading %(reading)s: negative drift, recalibrate"),
    N_("reading %(reading)s, clear for %(samples)d samples in a row"),
    N_("reading %(reading)s, clear for %(samples)d samples in a row and %(since)s s since the last bad report"),
    N_("heartbeat frozen at %(heartbeat)d for %(seconds)d s"),
    N_("unreadable value %(value)s in reply"),
    N_("reading in %(unit)s from a %(measurand)s detector: a wrong-unit profile, never converted"),
    N_("pre alarm"),
    N_("calibration"),
    N_("end of life"),
    # airflow.py: why a reset is refused, the ventilation interlock's reason
    N_("fan airflow not proven: the airflow switch is made with the fan stopped"),
    N_("waiting for it to open before the fan starts"),
    N_("fan airflow not proven: start the extract fan first"),
    N_("fan airflow not proven: the airflow switch opened"),
    N_("airflow switch made while the fan was stopped: bridged or stuck switch"),
    N_("check its wiring and pressure tubes"),
    N_("airflow switch made with the fan stopped (bridged or stuck): airflow cannot be proven"),
    # proving.py: the pressure proving
    N_("proving the pipework (%(mode)s): check %(check)d s, fill up to %(fill)d s, watch %(watch)d s"),
    N_("interrupted in the check phase: %(why)s"),
    N_("interrupted in the fill phase: %(why)s"),
    N_("interrupted in the watch phase: %(why)s"),
    N_("the valve stays closed"),
    N_("pressure downstream with the valve closed: a passing main valve, or gas trapped in the pipework"),
    N_("with the valve closed, let it out at a burner, then press RESET again (check phase, %(seen)s)"),
    N_("no pressure after filling: an appliance left open, a large leak, or no gas supply"),
    N_("close every appliance and check the supply, then press RESET again (fill phase, %(seen)s)"),
    N_("pressure not held: a leak downstream of the valve or an appliance open"),
    N_("do not use the gas, call a gas engineer (watch phase, %(seen)s)"),
    N_("pipework proved tight: pressure held for %(seconds)d s (%(seen)s)"),
    N_("switch made"),
    N_("switch open"),
    N_("switch unreadable"),
    N_("transmitter unreadable"),
    # daily_check.py, lifecycle.py
    N_("daily check not confirmed by %(due_by)s: %(items)s"),
    N_("daily check confirmed by %(source)s (late): %(items)s"),
    N_("daily check confirmed by %(source)s: %(items)s"),
    N_("%(asset)s: no longer reminded (not in the configuration, or no install date)"),
    N_("%(what)s: next due %(due)s (%(basis)s)"),
    N_("%(what)s due %(due)s, in 1 day (%(basis)s)"),
    N_("%(what)s due %(due)s, in %(days)d days (%(basis)s)"),
    N_("%(what)s was due %(due)s (%(basis)s)"),
    N_("%(what)s due today (%(basis)s)"),
    N_("%(asset)s end of life (replace)"),
    N_("%(asset)s calibration / bump test"),
    N_("installed %(date)s, %(years)d years"),
    N_("installed %(date)s, every %(days)d days"),
    N_("calibrated %(date)s, every %(days)d days"),
    # controller.py, commands.py: the startup note, a commissioning test, a panel's access (commands._access)
    N_("config %(config)s version %(version)d"),
    N_("self-test: %(summary)s"),
    N_("not run by this platform"),
    N_("failed: %(fault)s"),
    N_("commissioning test of %(output)s for %(ms)d ms by %(source)s"),
    N_("%(source)s login at level %(level)s"),
    N_("%(source)s login failed at level %(level)s"),
    N_("%(source)s locked out at level %(level)s"),
    N_("%(source)s logout at level %(level)s"),
    N_("%(source)s timed out at level %(level)s"),
    N_("operator"),
    N_("maintenance"),
    N_("installer"),
    # gaslatch/unit/runtime.py through the controller's record path: the unit stopping
    N_("%(why)s: outputs safe, valve closed"),
    # gaslatch/unit/manifest.py: the start-up self-test's summary and faults (the startup event, the status)
    N_("no manifest configured: code and profiles not checked"),
    N_("passed: %(count)d code and profile files match %(path)s"),
    N_("manifest %(path)s cannot be read: %(error)s"),
    N_("manifest %(path)s is not a manifest: %(error)s"),
    N_("manifest %(path)s is not a manifest of format %(format)d"),
    N_("installed file %(path)s cannot be read: %(error)s"),
    N_("file modified since install: %(files)s"),
    N_("%(count)d files modified since install: %(files)s"),
    N_("file missing: %(files)s"),
    N_("%(count)d files missing: %(files)s"),
    N_("file added since install: %(files)s"),
    N_("%(count)d files added since install: %(files)s"),
    # The controller's answers to a command (core/commands.py, safety.py command_*, daily_check.py confirm): the
    # control socket's reply "message" / "error", read by gaslatch reset/silence/inhibit/test-outputs and the panel
    N_("not tripped: nothing to reset"),
    N_("reset refused: %(why)s"),
    N_("valve closing"),
    N_("reopen it with the local reset"),
    N_("no testable output %(output)s (one of valve, %(outputs)s)"),
    N_("output %(output)s is not wired (no entry under lines)"),
    N_("%(output)s pulsed for %(ms)d ms"),
    N_("recorded"),
    N_("the unit's clock is kept by NTP (systemd-timesyncd)"),
    N_("nothing changed"),
    N_("unknown command %(command)s"),
    N_("%(command)s is not taken from the %(channel)s channel"),
    N_("%(command)s is not enabled on this unit"),
    N_("valve will close on the next scan"),
    N_("nothing is sounding"),
    N_("sounder silenced for %(seconds)d s"),
    N_("no detector named %(name)s"),
    N_("inhibit time must be 1..%(minutes)d minutes"),
    N_("detector %(detector)s is already inhibited: one at a time, no renewal"),
    N_("detector %(detector)s is a CO2 detector: its interlock is never inhibited (IGEM/UP/19: no overrides)"),
    N_("detector %(detector)s cannot be trusted (%(why)s): only a normal detector can be inhibited"),
    N_("link degraded"),
    N_("unstable"),
    N_("detector %(detector)s reported gas or a fault %(ago)d s ago: inhibit it once clear for %(seconds)d s"),
    N_("detector %(detector)s is %(state)s: only a normal detector can be inhibited"),
    N_("not read yet"),
    N_("detector %(detector)s inhibited for %(minutes)d min"),
    N_("detector %(name)s is not inhibited"),
    N_("inhibit of %(detector)s ended"),
    N_("the daily check is not enabled on this unit (config daily_check.enabled)"),
    N_("the unit's clock is not set, so the check cannot be dated"),
    N_("nothing recorded"),
    N_("no such item in the daily check: %(items)s (items: %(known)s)"),
    N_("tick every item to confirm the check"),
    N_("not ticked: %(items)s"),
    N_("already confirmed today"),
    N_("already confirmed today by %(source)s"),
    N_("daily check recorded for %(date)s"),
) + SOCKET_REFUSALS + STORE_HEALTH

_compiled: list | None = None


def _pattern(template: str):
    """(regex, [(name, is_number)]) of one template: anchored; a placeholder takes the least text up to the words
    after it, in an atomic group (no backtracking into it: one pass, whatever the text), the last one the rest; a
    number is a whole number as Python writes it (so that it is shown exactly as recorded); a detector, a name."""
    import re
    pieces = re.split(r"%\((\w+)\)([sd])", template)
    literals, names = pieces[0::3], list(zip(pieces[1::3], (kind == "d" for kind in pieces[2::3])))
    out = [re.escape(literals[0])]
    groups: dict[str, int] = {}  # a placeholder said twice holds the same text twice: a backreference
    firsts = []  # the placeholders in the order of their groups
    for index, (_name, number) in enumerate(names):
        if _name in groups:
            value = r"(?:\%d)" % groups[_name]
        else:
            groups[_name] = len(groups) + 1
            firsts.append((_name, number))
            value = (r"(0|-?[1-9][0-9]{0,17})" if number else "(%s)" % NAME if _name == "detector"
                     else r"(.*)" if index == len(names) - 1 else r"(.*?)")
        out.append("(?>%s%s)" % (value, re.escape(literals[index + 1])))
    return re.compile("".join(out), re.DOTALL), firsts


def _phrasebook() -> list:
    """The templates compiled once, the most specific (most fixed words) first."""
    global _compiled
    if _compiled is None:
        import re
        fixed = sorted(PHRASES, key=lambda template: -len(re.sub(r"%\(\w+\)[sd]", "", template)))
        _compiled = [(template, *_pattern(template)) for template in fixed]
    return _compiled


def _match(text: str, depth: int):
    """(template, [(name, value, inner match or None)]) of the first phrase that fits the text, or None. A `state`
    must be one of STATES, a placeholder ONLY names one of its phrases, and a `detector` a name the configuration
    allows."""
    for template, pattern, names in _phrasebook():
        found = pattern.fullmatch(text)
        if found is None:
            continue
        values = []
        for (name, number), value in zip(names, found.groups()):
            inner = _match(value, depth + 1) if name in NESTED and not number and depth < MAX_DEPTH else None
            only = ONLY.get((template, name), STATES if name == "state" else None)
            if only is not None and (inner is None or inner[0] not in only):
                break
            values.append((name, int(value) if number else value, inner))
        else:
            return template, values
    return None


def _render(matched, gettext: Callable[[str], str]) -> str:
    """A match in gettext's language; in English when its translation does not fit its values."""
    template, values = matched
    filled = {name: value if inner is None else _render(inner, gettext) for name, value, inner in values}
    try:
        return gettext(template) % filled
    except (KeyError, ValueError, TypeError, IndexError):
        return template % {name: value if inner is None else _render(inner, str) for name, value, inner in values}


def phrase(part: str) -> str | None:
    """The phrase (English template) one recorded part is, or None when it is none of them."""
    matched = _match(part, 1) if isinstance(part, str) and len(part) <= MAX_CHARS else None
    return None if matched is None else matched[0]


def translate(text: str, gettext: Callable[[str], str] = _) -> str:
    """The recorded text in the language of `gettext` (the process's by default): each "; " part that is a phrase
    rendered, any other as recorded. Never raises; bounded work (MAX_CHARS, MAX_PARTS)."""
    if not isinstance(text, str):
        return "" if text is None else "%r" % (text,)
    if not text or len(text) > MAX_CHARS:
        return text
    try:
        parts = text.split(SEPARATOR, MAX_PARTS)
        rest = parts.pop() if len(parts) > MAX_PARTS else None
        shown = []
        for part in parts:
            matched = _match(part, 1)
            shown.append(part if matched is None else _render(matched, gettext))
        if rest is not None:
            shown.append(rest)
        return SEPARATOR.join(shown)
    except Exception:  # a broken catalogue's gettext (any error of it): the record as it is, never a failure
        return text


def both(text: str) -> tuple[str, str]:
    """(Chinese, English) of recorded text, for the screens that show Chinese with English beside it."""
    return translate(text, in_language(CHINESE).gettext), translate(text, str)
