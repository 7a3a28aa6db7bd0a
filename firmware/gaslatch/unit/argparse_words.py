"""The standard library's argparse words (usage:, options, its errors) in the reader's language, for the unit's
own command (`gaslatch-unit`, and `gaslatch status`, `events`... which hand over to it).

argparse marks its texts with `gettext.gettext` and `ngettext`, imported into the module as `_` and `ngettext`.
install() points those names at gaslatch's `_()` and `ngettext()`, so argparse's words come from gaslatch's
catalogue and follow --lang as the unit's own words do (the unit has no second catalogue and no Babel). The
messages a person can meet are listed below, marked for extraction; those only a programmer's mistake can raise
(a bad add_argument call) stay English. tests/unit/test_argparse_words.py checks this list against the argparse
of the Python that runs the tests, so a new Python's new message is noticed.
"""

from __future__ import annotations

import argparse

from gaslatch import translation
from gaslatch.translation import N_

ARGPARSE_MESSAGES = (
    # TRANSLATORS: this message and those below it are Python's argparse's (the unit's commands are built with
    # it): the headings of --help and the errors of a mistyped command. Keep each %(name)s, %s and %r.
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ignored explicit argument %r"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("can't open '%(filename)s': %(error)s"),
)


def expected_arguments(count: int) -> str:
    """argparse's one plural (an option given too few values), here where Babel's extractor finds it (N_ cannot
    mark a plural); argparse itself asks ngettext for it."""
    return translation.ngettext("expected %s argument", "expected %s arguments", count)


def install() -> None:
    """argparse's `_` and `ngettext` become gaslatch's: its words follow the language chosen for the process."""
    argparse._ = translation._  # type: ignore[attr-defined]
    argparse.ngettext = translation.ngettext  # type: ignore[attr-defined]
