"""A configuration's problems as a person reads them, in the reader's language.

The core (firmware/gaslatch/core, language-neutral, MicroPython) keeps each problem's message and hint as an English
template and its values (core/text.py: a Text); `Problem.message` and `.hint` are the English sentences, and stay
so in machine-readable output (`--json`). Here each template is looked up in the catalogue, then filled with its
values, which are never translated (names, numbers, JSON paths, times); a value that is a template itself (the
words for "a whole number from 1 to 247") is translated the same way. A translation that does not fit its values
(a placeholder the English does not have) must never hide a problem from the installer: that problem is shown in
English instead.

Standard library only: `gaslatch check-config` and `gaslatch run` on the unit use it, as do the commission tools.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gaslatch.core.text import Text
from gaslatch.translation import _, ngettext as _ngettext


def render(text: object, gettext: Callable[[str], str] = _) -> str:
    """A core Text in the language of `gettext` (the process language by default); any other value as str()."""
    if isinstance(text, Text):
        return text.render(gettext)
    return "%s" % (text,)


def problem_text(problem: object, gettext: Callable[[str], str] = _) -> tuple[str, str]:
    """(message, hint) of a core Problem in the language of `gettext`; both English when the translation does not
    fit the problem's values (a broken catalogue entry must not hide the problem)."""
    try:
        return (render(getattr(problem, "message_text", problem.message), gettext),  # type: ignore[attr-defined]
                render(getattr(problem, "hint_text", problem.hint), gettext))  # type: ignore[attr-defined]
    except (KeyError, ValueError, TypeError, IndexError):
        return "%s" % (problem.message,), "%s" % (problem.hint,)  # type: ignore[attr-defined]


def format_problems(problems: Iterable, gettext: Callable[[str], str] = _,
                    ngettext: Callable[[str, str, int], str] = _ngettext) -> str:
    """The installer-facing report of a list of problems, as core.config.format_problems writes it in English: a
    header with the count, then each problem's JSON path and message, and its hint below."""
    problems = list(problems)
    count = len(problems)
    return "\n".join([ngettext("configuration has %(n)d problem; the controller will not start:",
                                "configuration has %(n)d problems; the controller will not start:", count)
                       % {"n": count}, problem_lines(problems, gettext)])


def problem_lines(problems: Iterable, gettext: Callable[[str], str] = _) -> str:
    """Each problem's JSON path and message, and its hint below, without a header: for a program (the panel, the
    commission tools) that says in its own words what the problems stop."""
    lines = []
    for problem in problems:
        message, hint = problem_text(problem, gettext)
        lines.append("  %s: %s" % (problem.path, message))
        # TRANSLATORS: below each configuration problem, what to write instead
        lines.append("      " + gettext("hint: %(hint)s") % {"hint": hint})
    return "\n".join(lines)
