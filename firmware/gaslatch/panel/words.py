"""The kitchen panel's words: Chinese first with English beside it, both from the shared catalogue.

The panel speaks Chinese to the kitchen whatever language its process runs in (a Pi's LANG is often C), with the
English beside it for the installer: each message is written in English in the source, marked N_() or given to
pair(), and its Chinese is the catalogue's (firmware/gaslatch/locale, docs/translating.md). The templates call
`bi("...")` (app.py), which renders the same pair as HTML; Babel extracts both (babel.cfg, `-k bi`).

Standard library only: `gaslatch panel-pin` uses LEVEL_NAMES without the panel's extra.
"""

from __future__ import annotations

from typing import Any

from gaslatch.core.commands import INSTALLER, MAINTENANCE, OPERATOR, VIEW
from gaslatch.core.events import safe_text
from gaslatch.told import halves
from gaslatch.translation import CHINESE, N_, both, in_language

# An access level as a person reads it (the codes stay as the core's command table has them).
LEVEL_NAMES = {VIEW: N_("view"), OPERATOR: N_("operator"), MAINTENANCE: N_("maintenance"),
               INSTALLER: N_("installer")}
VALUE_CHARS = 160  # a value from the controller's status or a record filling a message: one line at most


def shown(value: Any) -> Any:
    """A value as it may fill a message on a page: an ordinary number as it is, anything else as safe text (no
    control or bidi characters, no lone surrogate the page could not encode, at most VALUE_CHARS)."""
    if isinstance(value, int) and not isinstance(value, bool) and -10 ** 18 < value < 10 ** 18:
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return value
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:  # an int beyond the digits str() takes
        text = "?"
    return safe_text(text, VALUE_CHARS)


def text_of(value: Any) -> str:
    """A value from outside as a line of text on a page ("" for none): shown() as text."""
    return "" if value is None else str(shown(value))


def pair(message: str, **values: Any) -> tuple[str, str]:
    """(Chinese, English) of one message, filled with `values` (each passed through shown()); a value that is a
    Told error is said in each half's language."""
    zh, en = both(message)
    if not values:
        return zh, en
    zh_values, en_values = halves(values)
    return (zh % {name: shown(value) for name, value in zh_values.items()},
            en % {name: shown(value) for name, value in en_values.items()})


def pair_n(singular: str, plural: str, count: int, **values: Any) -> tuple[str, str]:
    """(Chinese, English) of a message with a count: `n` is the count, the other values as pair() takes them."""
    filled = {name: shown(value) for name, value in values.items()}
    filled["n"] = count
    zh = in_language(CHINESE).ngettext(singular, plural, count)
    return zh % filled, (singular if count == 1 else plural) % filled


# TRANSLATORS: %(level)s is a level's name as LEVEL_NAMES gives it (查看, 操作员, 维护, 安装人员).
NEEDS_LEVEL = N_("This needs the %(level)s level")


def needs_level(level: str) -> tuple[str, str]:
    """'需要维护权限', 'This needs the maintenance level': each language names the level in its own words."""
    zh_level, en_level = pair(LEVEL_NAMES[level])
    zh, en = both(NEEDS_LEVEL)
    return zh % {"level": zh_level}, en % {"level": en_level}
