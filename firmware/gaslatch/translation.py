"""The language a person reads gaslatch in: `_()` and `ngettext()` over its gettext catalogues.

Chinese installers, kitchen managers and district officers read Chinese, the rest English; the text a command
prints is written in English in the source and looked up here, so the code stays one and the catalogue is the
translation. The unit's own commands (`gaslatch status`, `events`), the kitchen panel and the host tools share
it, which is why it lives in `gaslatch` (standard library only: the unit has no Babel), outside the core (which
emits codes, never sentences, and runs on MicroPython).

The catalogues live in this package, `locale/<locale>/LC_MESSAGES/gaslatch.po` (Babel manages them, see
docs/translating.md), each with its compiled `.mo` beside it, in git, so the unit reads it with the standard
library's gettext. The `.mo` carries the SHA-256 of the `.po` it was made from (file times lie after a copy or an
rsync): where they disagree (a translator edited the `.po`) and Babel is at hand, the `.po` is compiled again,
next to it when the package folder may be written, else in memory; without Babel the `.mo` is read as it is, and
`python -m gaslatch_tools.catalogues --check` (in CI) refuses a `.mo` that is not the `.po`'s.

The language comes from `--lang zh|en` (use()), else from the environment as POSIX orders it: the first of
LC_ALL, LC_MESSAGES and LANG that is set; a value starting with "zh" means Chinese, anything else English.
Click's help texts are translated as their module is imported: `gaslatch` reads --lang before it imports a
command group (host_cli.py), so they follow it too.
"""

from __future__ import annotations

import codecs
import gettext
import importlib.util
import io
import os
import struct
import sys
from collections.abc import Mapping
from typing import Any

DOMAIN = "gaslatch"
# os.path, not pathlib; SHA-256 without OpenSSL and tempfile only where a catalogue is compiled: the kitchen unit imports this
# module with every command, `run` included, and those would cost it megabytes (benchmarks/unit_footprint.py).
LOCALE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
ENGLISH = "en"
CHINESE = "zh"
# Language (as --lang takes it) -> its catalogue's locale folder; English is the source text, no catalogue.
CATALOGUES = {CHINESE: "zh_CN"}
LANGUAGES = (CHINESE, ENGLISH)
# The compiled catalogue's own entry holding the SHA-256 of the .po it was compiled from (a context no message uses).
SOURCE_CONTEXT, SOURCE_KEY = "gaslatch-catalogue-source", "sha256"
# ... and the SHA-256 of its messages as compiled: a damaged .mo is told from a whole one (parsed()).
ENTRIES_KEY = "entries-sha256"
# POSIX: LC_ALL overrides LC_MESSAGES, which overrides LANG; unset or empty means "look at the next".
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

_active: gettext.NullTranslations | None = None
_by_language: dict[str, gettext.NullTranslations] = {}


def language_from(flag: str | None, environ: Mapping[str, str]) -> str:
    """--lang if given, else the messages locale of `environ` (zh_CN.UTF-8, zh_TW, zh -> zh; C, en_US... -> en)."""
    if flag:
        if flag not in LANGUAGES:
            raise ValueError("language %r: gaslatch speaks %s" % (flag, ", ".join(LANGUAGES)))
        return flag
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable)
        if value:
            return CHINESE if value.lower().startswith("zh") else ENGLISH
    return ENGLISH


def catalogue_paths(language: str) -> tuple[str, str]:
    """(the .po source, its compiled .mo) of a language that has a catalogue."""
    folder = os.path.join(LOCALE_DIR, CATALOGUES[language], "LC_MESSAGES")
    return os.path.join(folder, DOMAIN + ".po"), os.path.join(folder, DOMAIN + ".mo")


def _read(path: str) -> bytes:
    with open(path, "rb") as source:
        return source.read()


def compiled_catalogue(language: str) -> bytes:
    """The .mo bytes of a language: the file if it was compiled from the .po as it is and is whole, else compiled
    now (and kept if it may be). Without Babel (the kitchen unit: nothing could compile it, and CI proves it is the
    .po's) or without the .po (an install that left it out), the .mo as it is: parsed() still checks it whole."""
    po_path, mo_path = catalogue_paths(language)
    if importlib.util.find_spec("babel") is None:
        return _read(mo_path)
    try:
        source = _read(po_path)
    except OSError:
        return _read(mo_path)
    digest = _sha256_hex(source)
    try:
        data = _read(mo_path)
        if source_digest(data) == digest and parsed(data).pgettext(SOURCE_CONTEXT, ENTRIES_KEY) != ENTRIES_KEY:
            return data
    except (OSError, ValueError, struct.error):  # no .mo yet, or a damaged one
        pass
    data = compile_po(source, digest)
    import tempfile

    try:
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(mo_path), prefix=".gaslatch-", suffix=".mo")
    except OSError:
        return data  # a read-only install: compiled in memory, for this process
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        os.replace(temporary, mo_path)  # whole or not at all, even with two processes compiling at once
    except OSError:
        os.unlink(temporary)
    return data


class DamagedCatalogue(ValueError):
    """A compiled catalogue that cannot be read, or whose messages are not those it was compiled with."""


def parsed(data: bytes) -> gettext.GNUTranslations:
    """The translations of a compiled catalogue, checked whole: an SD card's flipped bit or a zeroed block could
    otherwise show one message's text for another, or a placeholder the command cannot fill (a traceback).

    A catalogue compiled here names the SHA-256 of its entries (ENTRIES_KEY); one compiled by pybabel does not
    and is taken as it parses."""
    try:
        translations = gettext.GNUTranslations(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - a damaged file makes gettext's parser fail in many ways
        raise DamagedCatalogue("the compiled catalogue cannot be read: %r" % err) from None
    expected = translations.pgettext(SOURCE_CONTEXT, ENTRIES_KEY)
    if expected != ENTRIES_KEY and expected != entries_digest(translations):
        raise DamagedCatalogue("the compiled catalogue's messages are not those it was compiled with")
    return translations


def entries_digest(translations: gettext.NullTranslations) -> str:
    """The SHA-256 of a catalogue's messages as gettext reads them, its own entries (SOURCE_CONTEXT) left out."""
    ours = SOURCE_CONTEXT + "\x04"
    entries = sorted((repr(key), value) for key, value in getattr(translations, "_catalog", {}).items()
                     if not (isinstance(key, str) and key.startswith(ours)))
    return _sha256_hex(repr(entries).encode("utf-8", "surrogatepass"))


def _sha256_hex(data: bytes) -> str:
    """SHA-256 without OpenSSL (gaslatch.core.sha256): the unit checks its catalogue and must not load libcrypto."""
    from gaslatch.core.sha256 import sha256

    return sha256(data).hexdigest()


def source_digest(data: bytes) -> str:
    """The SHA-256 of the .po a compiled catalogue was made from ("" when it does not say: pybabel compiled it)."""
    digest = parsed(data).pgettext(SOURCE_CONTEXT, SOURCE_KEY)
    return "" if digest == SOURCE_KEY else digest


def compile_po(source: bytes, digest: str) -> bytes:
    """The .po compiled as `pybabel compile` does (fuzzy entries left out: they fall back to English), plus the
    entries naming the .po's SHA-256 and that of the compiled messages (parsed() checks it)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.BytesIO(source), domain=DOMAIN)
    catalog.add(SOURCE_KEY, digest, context=SOURCE_CONTEXT)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    catalog.add(ENTRIES_KEY, entries_digest(gettext.GNUTranslations(io.BytesIO(out.getvalue()))),
                context=SOURCE_CONTEXT)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def translations(language: str) -> gettext.NullTranslations:
    """The translations of `language`; English is the text in the source, and the fallback (said on stderr)
    where the .mo is missing or damaged and Babel is not there to compile it."""
    if language not in CATALOGUES:
        return gettext.NullTranslations()
    try:
        return parsed(compiled_catalogue(language))
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] != "babel":
            raise
        try:
            return parsed(_read(catalogue_paths(language)[1]))  # Babel in part: the .mo as shipped
        except (OSError, ValueError, struct.error):
            print("gaslatch: the %s catalogue is not compiled and Babel, which compiles it, is not installed: pip "
                  "install 'gaslatch[host]'. English for now." % language, file=sys.stderr)
    except (OSError, ValueError, struct.error) as err:  # no .po and no readable .mo
        print("gaslatch: the %s catalogue cannot be read (%s). English for now." % (language, err), file=sys.stderr)
    return gettext.NullTranslations()


def use(language: str) -> None:
    """Every later `_()` answers in `language` (zh or en): what --lang sets, for a command on a terminal.

    A terminal whose encoding cannot show our Chinese (a Latin-1 SSH session, a serial console,
    PYTHONIOENCODING=ascii, a Big5 or EUC-KR terminal, which lack most simplified characters) gets English instead,
    said on stderr: a command must not end in UnicodeEncodeError half way, nor print Chinese as a page of \\u escapes.
    Every character of the catalogue is checked, each with its stand-ins (STAND_INS: a GB2312 terminal has no
    em dash, middle dot or micro sign but shows ―, ・ and μ), so a GB2312 or GBK terminal still reads Chinese.
    Whatever else such a terminal cannot show (a name typed in Chinese) is written escaped, \\u4e2d, rather than
    ending the command.
    """
    global _active
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors=ERRORS)  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):  # not a text stream of ours
            pass
    chosen = translations(language)
    if language in CATALOGUES and not shows_chinese(sys.stdout, chosen):
        print("gaslatch: this terminal's encoding (%s) cannot show Chinese: the messages are in English."
              % getattr(sys.stdout, "encoding", "?"), file=sys.stderr)
        chosen = translations(ENGLISH)
    _active = chosen


# Characters our Chinese uses that some Chinese encodings lack, and what such a terminal shows instead (the first
# its encoding has): GB2312 has neither the em dash nor the middle dot nor the micro sign; GBK lacks the last.
STAND_INS = {"\u2014": ("\u2015", "-"), "\u00b7": ("\u30fb", "."), "\u00b5": ("\u03bc", "u")}
ERRORS = "gaslatch-stand-in"  # the error handler of our streams: a stand-in, else the character escaped


def _stand_in(char: str, encoding: str) -> str | None:
    """What a terminal of `encoding` shows for `char`: itself, or the first of its stand-ins it has (else None)."""
    for candidate in (char,) + STAND_INS.get(char, ()):
        try:
            candidate.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            continue
        return candidate
    return None


def _stand_in_errors(err: UnicodeError) -> tuple[str, int]:
    """The codec error handler ERRORS: each character the encoding lacks as its stand-in, else escaped (\\u4e2d)."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    shown = []
    for char in err.object[err.start:err.end]:
        stand_in = _stand_in(char, err.encoding) if char in STAND_INS else None
        shown.append(stand_in if stand_in is not None else char.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(shown), err.end


codecs.register_error(ERRORS, _stand_in_errors)


def shows_chinese(stream: Any, chinese: gettext.NullTranslations | None = None) -> bool:
    """Whether text written to `stream` can hold Chinese: every character of the catalogue `chinese` (by default
    a sample of punctuation) is in its encoding, or one of its stand-ins is (no stream or no encoding: yes)."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    characters = set("中文：，。“”（）…→·")
    for text in getattr(chinese, "_catalog", {}).values():
        characters.update(char for char in text if ord(char) > 127)
    return all(_stand_in(char, encoding) is not None for char in characters)


def _translations() -> gettext.NullTranslations:
    if _active is None:
        use(language_from(None, os.environ))
    return _active or gettext.NullTranslations()


def _(message: str) -> str:
    """The message in the reader's language."""
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for `count`, in the reader's language."""
    return _translations().ngettext(singular, plural, count)


def named(names: Mapping[Any, str], code: Any) -> str:
    """A code's name from a table of messages (N_), in the reader's language; a code the table lacks (a newer
    peer's, or not even hashable) as it is."""
    try:
        message = names.get(code)
    except TypeError:
        message = None
    return _(message) if message else "%s" % (code,)


def in_language(language: str) -> gettext.NullTranslations:
    """The translations of one language whatever the process speaks: a screen that shows Chinese with English
    beside it (the panel, the console), or a record written in its reader's language. Kept once per language."""
    if language not in _by_language:
        _by_language[language] = translations(language)
    return _by_language[language]


def both(message: str) -> tuple[str, str]:
    """(Chinese, English) of one message, for the screens that show Chinese first with English beside it."""
    return in_language(CHINESE).gettext(message), message


def N_(message: str) -> str:
    """Marks a message kept in a constant for extraction; it is translated by `_()` where it is shown."""
    return message
