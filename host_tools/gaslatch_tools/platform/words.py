"""What the platform's console and notices say to a person: Chinese first, English beside it, from the catalogue.

A district officer or a duty operator in China reads the Chinese; a foreign owner or an auditor reads the English
beside it. Each text is written once, in English, marked N_() and translated in the shared catalogue
(gaslatch.po): `both()` gives the pair, `html()` (the templates' `bi()`) the pair as HTML
(`中文 <span class="en">English</span>`, both escaped), `pair()` as one line of plain text (the CLI, exports).

An event or a warning shown to a person reads as its headline (gaslatch.event_text, plus what the platform
observes itself: a unit gone offline or silent, events lost, a work order past its due date), in both languages;
the raw codes stay where machines read them (the exports, the API, the database).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

from gaslatch import event_text, recorded_text, translation
from gaslatch.core import events as E
from gaslatch.translation import CHINESE, ENGLISH, N_, in_language
from gaslatch.told import halves

MAX_HEADLINE_CHARS = 300

# What the platform observes itself (rules.PLATFORM_TYPES): (type, state) -> the headline; %(source)s the source,
# %(value)s the value (minutes since the unit was last heard; the number of events lost).
PLATFORM_HEADLINES = {
    ("status", "online"): N_("unit online"),
    ("status", "offline"): N_("unit offline"),
    ("status", "silent"): N_("unit silent: nothing heard for %(value)s min"),
    ("status", "back"): N_("unit heard again"),
    ("lost", "lost"): N_("%(value)s events lost before they were delivered"),
    ("work_order", "overdue"): N_("work order past its due date (%(source)s)"),
    ("work_order", "due"): N_("work order within its due date (%(source)s)"),
    ("work_order", "done"): N_("work order rectified (%(source)s)"),
}

# A warning rule's title when the rules file in force does not name it (a console run without --rules, a rule
# renamed since the warning opened): the shipped rules' names (deploy/platform/warning-rules.yaml).
RULE_TITLES = {
    "trip": N_("gas shut off (trip)"),
    "high_alarm": N_("combustible gas high alarm"),
    "fire_or_estop": N_("fire alarm or emergency stop interlock"),
    "valve_fault": N_("shutoff valve fault"),
    "proving_failed": N_("gas pressure proving failed"),
    "detector_fault": N_("detector fault or communication lost"),
    "detector_untrusted": N_("detector unstable or link degraded"),
    "bus_lost": N_("detector bus lost"),
    "unit_offline": N_("unit offline"),
    "uplink_lost": N_("events lost (cannot be filled)"),
    "gas_on_unattended": N_("gas on outside attended hours"),
    "inhibit_left_on": N_("detector inhibit left on"),
    "rectification_overdue": N_("rectification overdue"),
    "maintenance_soon": N_("maintenance due soon"),
    "maintenance_due": N_("maintenance due"),
    "daily_check_missed": N_("daily check missed"),
}

GRADE_NAMES = {1: N_("Grade 1"), 2: N_("Grade 2"), 3: N_("Grade 3")}
# A warning's state, and a unit's (fleet_view: online, offline, silent, unknown).
STATE_NAMES = {"pending": N_("pending"), "open": N_("not acknowledged"), "acknowledged": N_("acknowledged"),
               "cleared": N_("cleared"), "online": N_("online"), "offline": N_("offline"),
               "silent": N_("silent"), "unknown": N_("unknown")}
# A detector's state in the unit's state report.
DETECTOR_STATES = {"warmup": N_("warming up"), "normal": N_("normal"), "low_alarm": N_("low alarm"),
                   "high_alarm": N_("high alarm"), "fault": N_("fault"), "comm_lost": N_("communication lost")}

# An event's severity (gaslatch.core.events).
SEVERITY_NAMES = {"alarm": N_("alarm"), "fault": N_("fault"), "warning": N_("warning"), "info": N_("info")}

# warning_store.summary_of(): "type state source (value): reason", safe and bounded.
_SUMMARY = re.compile(r"(\S+) (\S+) (.*?)(?: \(([^()]*)\))?: (.*)", re.DOTALL)
_INTEGER = re.compile(r"-?[0-9]{1,30}")


def both(message: str, **values: Any) -> tuple[str, str]:
    """(Chinese, English) of one message, filled with `values` (named placeholders) when given; a value that is a
    Told error (a refusal's reason) is said in each half's language."""
    zh, en = translation.both(message)
    if values:
        zh_values, en_values = halves(values)
        zh, en = zh % zh_values, en % en_values
    return zh, en


def html(message: str, **values: Any) -> Markup:
    """The message as the console shows it: `中文 <span class="en">English</span>`, each escaped; once when the
    two are the same (a name, a code). The templates call it `bi("English")` (`pybabel extract -k bi` finds those);
    Python code calls html(N_("English")) or html(A_CONSTANT)."""
    zh, en = both(message, **values)
    return join_html(zh, en)


def join_html(zh: str, en: str) -> Markup:
    zh, en = E.safe_text(zh, 100_000), E.safe_text(en, 100_000)  # a page with a lone surrogate cannot be sent
    if zh == en:
        return Markup("%s") % en
    return Markup('%s <span class="en">%s</span>') % (zh, en)


def recorded_html(text: Any, max_chars: int = MAX_HEADLINE_CHARS) -> Markup:
    """Text a unit recorded (a trip reason, an event's detail) as the console shows it: its Chinese where the
    phrasebook knows it (gaslatch.recorded_text), the English as recorded beside it; each at most max_chars."""
    zh, en = recorded_text.both(text if isinstance(text, str) else "" if text is None else str(text))
    return join_html(E.safe_text(zh, max_chars), E.safe_text(en, max_chars))


def pair(message: str, **values: Any) -> str:
    """The message as one line of plain text: "中文 English" (once when the two are the same)."""
    zh, en = both(message, **values)
    return en if zh == en else "%s %s" % (zh, en)


def named(names: Mapping[Any, str], key: Any) -> Markup:
    """A code's name from one of the tables above, in both languages; the code itself, escaped, if it has none."""
    message = names.get(key) if isinstance(key, (str, int)) else None
    return html(message) if message else join_html(str(key), str(key))


def headline(event: Mapping[str, Any], gettext: Callable[[str], str]) -> str:
    """An event's (or a platform occurrence's) headline in the language of gettext, safe to show and bounded."""
    return E.safe_text(event_text.headline(event, gettext, PLATFORM_HEADLINES), MAX_HEADLINE_CHARS)


def headlines(event: Mapping[str, Any]) -> tuple[str, str]:
    """(Chinese, English) headline of an event."""
    return headline(event, in_language(CHINESE).gettext), headline(event, in_language(ENGLISH).gettext)


def event_html(event: Mapping[str, Any]) -> Markup:
    """An event's headline as the console shows it: Chinese, English beside it."""
    return join_html(*headlines(event))


def event_of_row(type_: Any, state: Any, source: Any, value: Any) -> dict:
    """An event as headline() takes it, from a stored row (value: its JSON text; anything else read as text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    return {"type": type_, "state": state, "source": source, "value": value}


def summary_event(summary: Any) -> dict | None:
    """The event a warning's summary (warning_store.summary_of) was made from, as far as its text tells: type,
    state, source, value (an integer when it reads as one) and reason; None when it is not such a summary."""
    if not isinstance(summary, str):
        return None
    found = _SUMMARY.fullmatch(summary)
    if found is None:
        return None
    type_, state, source, value, reason = found.groups()
    if value is not None and _INTEGER.fullmatch(value):
        value = int(value)
    return {"type": type_, "state": state, "source": source, "value": value, "reason": reason}


def summary_headlines(summary: Any) -> tuple[str, str] | None:
    """(Chinese, English) headline of a warning's latest event, from its summary; None when it cannot be read."""
    event = summary_event(summary)
    return None if event is None else headlines(event)


def summary_html(summary: Any) -> Markup:
    """A warning's or an order's latest event as the console shows it: its headline in both languages, then the
    detail as recorded in both (recorded_html); the summary as stored (escaped) when it cannot be read as one."""
    event = summary_event(summary)
    if event is None:
        text = summary if isinstance(summary, str) else repr(summary)
        return join_html(text, text)
    html = event_html(event)
    if event["reason"]:
        html += Markup(' <span class="detail">(%s)</span>') % recorded_html(event["reason"])
    return html


def rule_title(rules_by_name: Mapping[str, Any], name: str) -> tuple[str, str]:
    """(Chinese, English) title of a warning rule: the rules file's, else the catalogue's, else the name."""
    rule = rules_by_name.get(name)
    if rule is not None:
        return rule.title["zh"], rule.title["en"]
    message = RULE_TITLES.get(name)
    return both(message) if message else (name, name)
