"""Click's own words (Usage:, Options:, "Show this message and exit.", its errors) in the reader's language.

Click marks its texts with the standard library's `gettext.gettext` and `ngettext` (domain "messages"), imported
into each of its modules as `_` and `ngettext`. install() points those names at gaslatch's `_()` and
`ngettext()`, so click's words come from gaslatch's catalogue and follow --lang exactly as gaslatch's own do (no
second catalogue, no environment variable set for child processes). Click's messages are listed below, marked for
extraction, so `catalogues update` puts them in the catalogue with ours; a message click adds in a later version
and not listed here stays English until it is. Click's type names in --help (TEXT, INTEGER RANGE...), the ranges it
describes (1<=x<=247) and the period it puts after "Missing argument 'PATH'" are not passed to gettext by click, so
they stay as click writes them; only its number types' names, inside "'abc' is not a valid integer range.", are said
in the reader's language (NUMBER_TYPES).

Click's placeholders are `{name}` (str.format), not `%`: a translation keeps every `{...}` of the English
(tests/test_click_words.py checks).
"""

from __future__ import annotations

import gettext
import importlib
import pkgutil
import sys

from gaslatch import translation
from gaslatch.translation import N_, ngettext

# Click fills its number type's own name in (click/types.py): types_gettext says that name in the reader's language.
# TRANSLATORS: click's: "'abc' is not a valid integer."; keep {value!r} and {number_type} as they are.
NOT_A_NUMBER = N_("{value!r} is not a valid {number_type}.")
CLICK_MESSAGES = (
    # TRANSLATORS: this message and those below it are click's (the library gaslatch's commands are built with),
    # not ours: the words of every command's --help and of its errors. Keep each {placeholder} exactly as it is
    # (click fills them with str.format); "Usage:", "Options" and "Commands" are the headings of --help.
    N_("%(prog)s, version %(version)s"),
    N_("(dynamic)"),
    N_("Aborted!"),
    N_("Argument {name!r} takes {nargs} values."),
    N_("Arguments take exactly one parameter declaration, got {length}: {decls}."),
    N_("Boolean option {decl!r} cannot use the same flag for true/false."),
    N_("Choice({choices})"),
    N_("Choose from:\n\t{choices}"),
    N_("Commands"),
    N_("Confirm the action without prompting."),
    N_("Could not determine name for option with declarations {decls!r}"),
    N_("Could not open file {filename!r}: {message}"),
    N_("Couldn't detect Bash version, shell completion is not supported."),
    N_("DeprecationWarning: The command {name!r} is deprecated.{extra_message}"),
    N_("DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}"),
    N_("Do you want to continue?"),
    N_("Error: The two entered values do not match."),
    N_("Error: invalid input"),
    N_("Error: {message}"),
    N_("Invalid start character for option ({option})"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Invalid value: {message}"),
    N_("Missing argument"),
    N_("Missing command."),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing parameter: {param_name}"),
    N_("Missing {param_type}"),
    N_("Name '{name}' defined twice"),
    N_("No options defined but a name was passed ({name}). Did you mean to declare an argument instead? Did you "
       "mean to pass '--{name}'?"),
    N_("No such command {name!r}."),
    N_("No such option {name!r}."),
    N_("Option {name!r} does not take a value."),
    N_("Options"),
    N_("Positional arguments"),
    N_("Press any key to continue..."),
    N_("Repeat for confirmation"),
    N_("Shell completion is not supported for Bash versions older than 4.4."),
    N_("Show the version and exit."),
    N_("Show this message and exit."),
    N_("Try '{command} {option}' for help."),
    N_("Unknown color {colour!r}"),
    N_("Unknown standard stream '{name}'"),
    N_("Usage:"),
    N_("Value must be an iterable."),
    N_("Windows error: {error}"),
    # TRANSLATORS: click's: "days" in a progress bar's time left (5d 03:20:00).
    N_("d"),
    N_("default: {default}"),
    N_("deprecated"),
    N_("directory"),
    N_("env var: {var}"),
    N_("file"),
    N_("path"),
    # TRANSLATORS: click's: shown as [required] after the help of an option that must be given. Click passes it to
    # its _() as a variable (core.py: _(extra["required"])), so Babel does not find it in click's source.
    N_("required"),
    N_("unknown error"),
    N_("{editor}: Editing failed"),
    N_("{editor}: Editing failed: {e}"),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is not executable."),
    N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."),
    N_("{value!r} is not a valid UUID."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    NOT_A_NUMBER,
    N_("{value} is not in the range {range}."),
)


# Click's number types' names, which it fills into NOT_A_NUMBER as they are (click/types.py): said in the reader's
# language by the `_` install() gives click.types.
NUMBER_TYPES = (
    # TRANSLATORS: click's: the name of an option's type in "'abc' is not a valid integer range." (1<=x<=247).
    N_("integer"), N_("integer range"), N_("float"), N_("float range"))


class _SaysTypeName(str):
    """NOT_A_NUMBER in the reader's language; its format() says the number type's name in that language too."""

    def format(self, *args, **values):  # noqa: A003 (str.format, as click calls it)
        if values.get("number_type") in NUMBER_TYPES:
            values["number_type"] = translation._(values["number_type"])
        return str.format(self, *args, **values)


def types_gettext(message: str) -> str:
    """click.types' `_`: gaslatch's, and NOT_A_NUMBER as a _SaysTypeName."""
    said = translation._(message)
    return _SaysTypeName(said) if message == NOT_A_NUMBER else said


def click_plurals(n: int) -> tuple[str, ...]:
    """Click's messages with a plural, for the count n (listed here so that Babel extracts them with their plural;
    click fills every placeholder of both forms, so a language with one form may use either's)."""
    return (
        # TRANSLATORS: click's, as above.
        ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", n),
        ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", n),
        ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", n),
        ngettext("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given.", n),
        ngettext("{len_type} values are required, but {len_value} was given.",
                 "{len_type} values are required, but {len_value} were given.", n),
        ngettext("{value!r} does not match the format {format}.", "{value!r} does not match the formats {formats}.",
                 n),
        ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", n),
    )


def click_modules() -> list:
    """Every module of the installed click that can be imported here (its Windows console module cannot)."""
    import click

    modules = [click]
    for info in pkgutil.iter_modules(click.__path__, "click."):
        try:
            modules.append(importlib.import_module(info.name))
        except Exception:  # noqa: BLE001  (click._winconsole off Windows, or anything click keeps optional)
            continue
    return modules


def install() -> None:
    """Click's `_` and `ngettext` become gaslatch's: its words are then in the language --lang (or the
    environment) chose, looked up when they are shown. Idempotent."""
    for module in click_modules():
        if getattr(module, "_", None) is gettext.gettext:
            module._ = types_gettext if module.__name__ == "click.types" else translation._
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = translation.ngettext


def untranslated_click_modules() -> list[str]:
    """The click modules still using the standard library's gettext (install() not run, or missed one)."""
    return sorted(name for name, module in sys.modules.items() if name.split(".")[0] == "click" and module is not None
                  and (getattr(module, "_", None) is gettext.gettext
                       or getattr(module, "ngettext", None) is gettext.ngettext))
