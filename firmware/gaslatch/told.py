"""An error a person reads, kept as its English template and its values so that each reader gets it in their own
language: str() is the English (logs, records, --json), told(gettext) the reader's language (a CLI), both() the
Chinese and English pair (a bilingual page).

It is a core Text (core/text.py) raised: the same template-and-values mechanism the configuration's problems use.
A value that is itself a Told (a state's or a role's name: Told(N_("owner"))) is said in the same language; a list
of values is joined with " / ". A translation that does not fit its values gives the English. Standard library
only: the unit's event store raises these too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gaslatch.core.text import Joined, Text


class Told(Exception):
    """`message` (the catalogue's English, marked N_ where it is written) filled with `values`."""

    def __init__(self, message: str, **values: Any):
        self.message = message
        self.values = values
        self.text = Text(message, {key: _text(value) for key, value in values.items()} if values else None)
        super().__init__(self.text.render())

    def told(self, gettext: Callable[[str], str] | None = None) -> str:
        """The message in the language of gettext (the process's by default); English where it does not fit."""
        if gettext is None:
            from gaslatch.translation import _ as gettext
        try:
            return self.text.render(gettext)
        except (KeyError, ValueError, TypeError, IndexError):
            return str(self)

    def both(self) -> tuple[str, str]:
        """(Chinese, English) of the message."""
        from gaslatch.translation import CHINESE, in_language

        return self.told(in_language(CHINESE).gettext), str(self)


def _text(value: Any) -> Any:
    if isinstance(value, Told):
        return value.text
    if isinstance(value, (list, tuple)):
        return Joined(" / ", [_text(v) for v in value])
    return value


def halves(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Chinese values, English values) for filling one message in both languages: each Told value said in its
    half's language, any other value the same in both."""
    pairs = {key: value.both() if isinstance(value, Told) else (value, value) for key, value in values.items()}
    return {key: pair[0] for key, pair in pairs.items()}, {key: pair[1] for key, pair in pairs.items()}


def told(err: BaseException) -> str:
    """An error as the person reads it: a Told in the process's language, anything else as it says itself."""
    return err.told() if isinstance(err, Told) else str(err)
