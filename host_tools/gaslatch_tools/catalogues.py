"""The message catalogues kept true to the source: extract and update them with Babel, and list what is wrong.

`python -m gaslatch_tools.catalogues update` runs pybabel extract (babel.cfg) and pybabel update, so a new or
changed message shows up untranslated in every .po, and compiles each .po into the .mo kept beside it in git;
`--check` (and tests/test_catalogues.py, in CI) exits 1
while any message lacks a translation, is fuzzy, disagrees in its placeholders, is missing from a catalogue or
stale in it, or the compiled catalogue (in git, or as used) says something else than its .po. docs/translating.md has the steps.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from gaslatch import translation

ROOT = Path(__file__).resolve().parents[2]
# pybabel's options, the same for every run: translators' comments (# TRANSLATORS: ...) carried into the .po,
# the file of each message but not its line (a line number changes with every edit and would churn the .po);
# keywords besides Babel's own (_, gettext, ngettext, N_...): bi() and bi_zh(), the kitchen panel's template
# functions (firmware/gaslatch/panel/app.py), and pair_n(), its ngettext() (firmware/gaslatch/panel/words.py).
EXTRACT_OPTIONS = ["-F", "babel.cfg", "-c", "TRANSLATORS:", "--add-location=file", "--sort-output",
                   "-k", "bi", "-k", "bi_zh", "-k", "pair_n:1,2",
                   "--project=gaslatch", "--copyright-holder=the gaslatch authors", "--version=0.1.0"]
UPDATE_OPTIONS = ["-D", translation.DOMAIN, "-d", os.path.relpath(translation.LOCALE_DIR, ROOT),
                  "--ignore-pot-creation-date", "--ignore-obsolete"]
# %(name)s, %s, %.1f, %3d, %%: the conversions Python's % operator takes.
PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<type>[diouxXeEfFgGcrsa%])")


def pybabel(*args: str) -> None:
    """Runs one pybabel command from the repository's root, as a translator would type it (so the .po names
    each message's file relative to the root)."""
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "--quiet", *args], cwd=ROOT, check=True)


def extract() -> Catalog:
    """The messages the source holds now, as `pybabel extract` finds them."""
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / (translation.DOMAIN + ".pot")
        pybabel("extract", *EXTRACT_OPTIONS, "-o", str(template), ".")
        with template.open("rb") as source:
            return read_po(source)


def update() -> None:
    """Every catalogue brought up to the source: new messages added untranslated, vanished ones made obsolete."""
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / (translation.DOMAIN + ".pot")
        pybabel("extract", *EXTRACT_OPTIONS, "-o", str(template), ".")
        pybabel("update", *UPDATE_OPTIONS, "-i", str(template))
    for language in translation.CATALOGUES:
        translation.compiled_catalogue(language)  # the .mo the unit reads, compiled from the .po as it is now


def catalogue(language: str) -> Catalog:
    po_path, _mo_path = translation.catalogue_paths(language)
    with open(po_path, "rb") as source:
        return read_po(source)


def placeholders(text: str) -> tuple[list[str], set[str]]:
    """(the positional conversions in order, by type; the named ones as name:type) of a %-format string."""
    positional, named = [], set()
    for match in PLACEHOLDER.finditer(text):
        if match.group("type") == "%":
            continue
        if match.group("name") is not None:
            named.add("%s:%s" % (match.group("name"), match.group("type")))
        else:
            positional.append(match.group("type"))
    return positional, named


def _forms(value: str | tuple | list) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def message_problems(language: str, message: Message) -> list[str]:
    """What is wrong with one translated message: empty, fuzzy, or placeholders that disagree with the English."""
    where = "%s %r" % (language, message.id if isinstance(message.id, str) else message.id[0])
    translated = _forms(message.string)
    if not all(translated):
        return ["%s: not translated" % where]
    problems = ["%s: fuzzy (check the translation, then remove the flag)" % where] if message.fuzzy else []
    if message.python_format:
        wanted = [placeholders(source) for source in _forms(message.id)]
        for text in translated:
            found = placeholders(text)
            if found not in wanted:
                problems.append("%s: placeholders %s %s in %r, the English has %s" % (
                    where, found[0], sorted(found[1]), text, " or ".join("%s %s" % (p, sorted(n)) for p, n in wanted)))
    return problems


def problems() -> list[str]:
    """Everything wrong with the catalogues against the source, one line each; [] when all is well."""
    found: list[str] = []
    source_ids = {message.id for message in extract() if message.id}
    for language in translation.CATALOGUES:
        messages = catalogue(language)
        if messages.fuzzy:
            found.append("%s: the header is marked fuzzy" % language)
        ids = {message.id for message in messages if message.id}
        found += ["%s: not in the catalogue (run: python -m gaslatch_tools.catalogues update): %r" % (language, msgid)
                  for msgid in sorted(source_ids - ids, key=str)]
        found += ["%s: no longer in the source (run: python -m gaslatch_tools.catalogues update): %r"
                  % (language, msgid) for msgid in sorted(ids - source_ids, key=str)]
        found += committed_problems(language)
        compiled = translation.translations(language)
        for message in messages:
            if not message.id:
                continue
            found += message_problems(language, message)
            found += compiled_problems(language, compiled, message)
    return found


def committed_problems(language: str) -> list[str]:
    """The .mo in git must be compiled from the .po as it is: the unit reads it without Babel."""
    po_path, mo_path = (Path(path) for path in translation.catalogue_paths(language))
    try:
        data = mo_path.read_bytes()
        made_from = translation.source_digest(data)  # refuses a damaged .mo (ValueError)
        if translation.parsed(data).pgettext(translation.SOURCE_CONTEXT, translation.ENTRIES_KEY) == \
                translation.ENTRIES_KEY:
            made_from = None  # compiled without the digest of its messages: the unit could not tell it damaged
    except (OSError, ValueError, struct.error):
        made_from = None
    if made_from != hashlib.sha256(po_path.read_bytes()).hexdigest():
        return ["%s: %s is not compiled from the .po as it is (run: python -m gaslatch_tools.catalogues update, "
                "then commit the .mo)" % (language, mo_path.relative_to(ROOT))]
    return []


def compiled_problems(language: str, compiled, message: Message) -> list[str]:
    """The compiled catalogue must answer each message as the .po says (fuzzy ones fall back to English)."""
    if isinstance(message.id, str):
        expected = message.id if message.fuzzy or not message.string else message.string
        got = compiled.gettext(message.id)
    else:
        expected = message.id[0] if message.fuzzy or not all(message.string) else message.string[0]
        got = compiled.ngettext(message.id[0], message.id[1], 1)
    if got != expected:
        return ["%s %r: the compiled catalogue says %r, the .po %r" % (language, message.id, got, expected)]
    return []


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
        argv = argv[1:]
    if argv and argv != ["--check"]:
        print("usage: python -m gaslatch_tools.catalogues [update] [--check]", file=sys.stderr)
        return 2
    wrong = problems()
    for line in wrong:
        print(line)
    if wrong:
        print("%d problem(s) in the message catalogues (docs/translating.md)" % len(wrong), file=sys.stderr)
    return 1 if wrong and argv == ["--check"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
