"""The message catalogues are complete, current and compiled as written, and the language is chosen as documented.

The CI check of issue 18: every message in the source has a Chinese translation that is not fuzzy, keeps the
English placeholders, and uses the glossary's terms (docs/glossary.csv); the catalogue holds exactly the
messages the source has now (re-extracted with pybabel); the compiled catalogue answers as the .po says.
"""

import ast
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from babel.messages.catalog import Message

from gaslatch import translation
from gaslatch_tools import catalogues

ROOT = Path(__file__).resolve().parents[1]
# The packages whose messages are translated: the host tools, and the unit and the panel (gaslatch).
PACKAGES = (ROOT / "host_tools" / "gaslatch_tools", ROOT / "firmware" / "gaslatch")
GLOSSARY = ROOT / "docs" / "glossary.csv"
# What is not prose in a message, so not checked against the glossary: placeholders, options (--address), command
# and other hyphenated lower-case words (set-address, low-high), configuration keys (inhibit.max_minutes), values
# typed as they are ('profiles').
NOT_PROSE = re.compile(r"%\([^)]*\)[-#0 +\d.]*[a-zA-Z]|--[\w-]+|\b[a-z]+-[a-z0-9]+\b|\b[a-z_]+(?:\.[a-z_]+)+\b"
                       r"|'[a-z0-9_-]+'")


def test_every_message_is_translated_current_and_compiled_as_the_po_says():
    assert catalogues.problems() == []


def test_the_check_reports_an_empty_a_fuzzy_and_a_reordered_or_lost_placeholder():
    def problems(msgid, msgstr, fuzzy=False):
        message = Message(msgid, msgstr, flags=["python-format"] + (["fuzzy"] if fuzzy else []))
        return catalogues.message_problems("zh", message)

    assert problems("port %s does not exist", "串口 %s 不存在") == []
    assert problems("%(name)s at %(address)d", "%(address)d 的 %(name)s") == []  # named ones may move
    assert problems("port %s does not exist", "") == ["zh 'port %s does not exist': not translated"]
    assert "fuzzy" in problems("port %s does not exist", "串口 %s 不存在", fuzzy=True)[0]
    assert "placeholders" in problems("port %s does not exist", "串口不存在")[0]
    assert "placeholders" in problems("%d of %s", "%s 的 %d")[0]  # positional ones cannot be reordered
    assert "placeholders" in problems("%(address)d", "%(address)s")[0]
    assert "placeholders" in problems("%(lost)d of %(asked)d", "%(lost)d / %(asket)d")[0]


def test_no_module_that_translates_hides_the_function_under_a_variable_named_underscore():
    """`state, _ = ...` or `for _ in ...` in a module that imports `_` makes `_` local to that function: every
    `_()` in it then fails at run time, and only on the path that reaches it."""
    hidden = []
    for path in sorted(path for package in PACKAGES for path in package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not any(isinstance(node, ast.ImportFrom) and node.module == "gaslatch.translation"
                   and any(alias.name == "_" for alias in node.names) for node in ast.walk(tree)):
            continue
        for node in ast.walk(tree):
            stored = isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
            argument = isinstance(node, ast.arg) and node.arg == "_"
            if stored or argument:
                hidden.append("%s:%d" % (path.relative_to(ROOT), node.lineno))
    assert hidden == []


def _literal_messages(node):
    """The literal messages an expression may be: `_("...")`, `ngettext("...", "...", n)`, or either branch of
    `A if C else B` of those."""
    if isinstance(node, ast.IfExp):
        return _literal_messages(node.body) + _literal_messages(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "ngettext"):
        return [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    return []


def _messages_and_values(node):
    """[(message, its values)] of `MESSAGE % VALUES` where MESSAGE is literal (see _literal_messages)."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod)):
        return []
    return [(message, node.right) for message in _literal_messages(node.left)]


def test_every_message_is_filled_in_with_the_values_its_placeholders_name():
    """The check above proves the Chinese has the English placeholders; this one that the code gives the English
    the values it names (a wrong key or count fails only when that message is shown, often on an error path)."""
    wrong = []
    for path in sorted(path for package in PACKAGES for path in package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = [(node, pair) for node in ast.walk(tree) for pair in _messages_and_values(node)]
        for node, (message, values) in found:
            positional, named = catalogues.placeholders(message)
            where = "%s:%d %r" % (path.relative_to(ROOT), node.lineno, message)
            if isinstance(values, ast.Dict):
                keys = {key.value for key in values.keys if isinstance(key, ast.Constant)}
                names = {item.split(":")[0] for item in named}
                if positional or not names <= keys or len(keys) < len(values.keys):
                    wrong.append("%s: names %s, given %s" % (where, sorted(names), sorted(keys)))
            elif isinstance(values, ast.Tuple):
                if named or len(positional) != len(values.elts):
                    wrong.append("%s: %d placeholders, %d values" % (where, len(positional), len(values.elts)))
            elif positional and (named or len(positional) != 1):  # named ones alone: a mapping built elsewhere
                wrong.append("%s: one value for %d placeholders %s" % (where, len(positional), sorted(named)))
    assert wrong == []


def _glossary():
    with GLOSSARY.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def test_the_glossary_has_one_chinese_term_per_english_term():
    rows = _glossary()
    assert rows and all(row["en"] and row["zh"] and row["checked"] in ("yes", "no") for row in rows)
    assert len({row["en"] for row in rows}) == len(rows)
    assert {"可燃气体探测器", "紧急切断阀", "报警控制器", "人走阀关", "低限报警", "高限报警", "故障", "通讯中断"} <= {
        row["zh"] for row in rows}


def test_the_chinese_messages_use_the_glossarys_terms():
    checked = [row for row in _glossary() if row["checked"] == "yes"]
    wrong = []
    for language in translation.CATALOGUES:
        for message in catalogues.catalogue(language):
            if not message.id or not message.string:
                continue
            english = NOT_PROSE.sub(" ", message.id if isinstance(message.id, str) else message.id[0])
            chinese = message.string if isinstance(message.string, str) else message.string[0]
            for row in checked:
                if re.search(r"\b%ss?\b" % re.escape(row["en"]), english, re.IGNORECASE) and row["zh"] not in chinese:
                    wrong.append("%r -> %r lacks %s (%s)" % (message.id, chinese, row["zh"], row["en"]))
    assert wrong == []


@pytest.mark.parametrize("flag, environ, language", [
    ("en", {"LANG": "zh_CN.UTF-8"}, "en"),
    ("zh", {"LANG": "C.UTF-8"}, "zh"),
    (None, {"LANG": "zh_CN.UTF-8"}, "zh"),
    (None, {"LANG": "zh_TW.UTF-8"}, "zh"),
    (None, {"LANG": "en_US.UTF-8"}, "en"),
    (None, {"LANG": "C"}, "en"),
    (None, {}, "en"),
    (None, {"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),  # LC_ALL overrides
    (None, {"LC_ALL": "", "LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_GB.UTF-8"}, "zh"),  # empty means unset
    (None, {"LC_MESSAGES": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
])
def test_the_language_is_the_flag_else_lc_all_lc_messages_lang_in_that_order(flag, environ, language):
    assert translation.language_from(flag, environ) == language


def test_a_language_gaslatch_does_not_speak_is_refused():
    with pytest.raises(ValueError, match="zh, en"):
        translation.language_from("de", {})


@pytest.fixture
def locale_copy(tmp_path, monkeypatch):
    """The catalogues copied to a folder of the test's own, without a compiled .mo."""
    copy = tmp_path / "locale"
    shutil.copytree(translation.LOCALE_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(translation, "LOCALE_DIR", str(copy))
    return tuple(Path(path) for path in translation.catalogue_paths(translation.CHINESE))


def test_a_missing_stale_or_damaged_compiled_catalogue_is_compiled_from_the_po(locale_copy):
    po_path, mo_path = locale_copy
    assert translation.translations("zh").gettext("error: %s") == "错误：%s"
    assert mo_path.exists()
    po_path.write_text(po_path.read_text(encoding="utf-8").replace('msgstr "错误：%s"', 'msgstr "出错：%s"'),
                       encoding="utf-8")
    os.utime(po_path, ns=(0, 0))  # older than the .mo, as after a copy that kept the times: the content decides
    assert translation.translations("zh").gettext("error: %s") == "出错：%s"
    mo_path.write_bytes(mo_path.read_bytes()[:100])
    assert translation.translations("zh").gettext("error: %s") == "出错：%s"


def test_a_catalogue_compiled_by_pybabel_is_replaced_by_one_that_names_its_po(locale_copy):
    po_path, mo_path = locale_copy
    catalogues.pybabel("compile", "-D", translation.DOMAIN, "-d", str(po_path.parents[2]))
    assert translation.source_digest(mo_path.read_bytes()) == ""
    assert translation.translations("zh").gettext("error: %s") == "错误：%s"
    assert translation.source_digest(mo_path.read_bytes()) == hashlib.sha256(po_path.read_bytes()).hexdigest()


def test_a_package_folder_that_cannot_be_written_is_compiled_in_memory(locale_copy, monkeypatch):
    _po_path, mo_path = locale_copy

    def read_only(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert translation.translations("zh").gettext("error: %s") == "错误：%s"
    assert not mo_path.exists()


def test_without_babel_chinese_falls_back_to_english_and_says_what_to_install(locale_copy, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "babel.messages.mofile", None)
    assert translation.translations("zh").gettext("error: %s") == "error: %s"
    assert "pip install 'gaslatch[host]'" in capsys.readouterr().err


def test_the_unit_reads_the_committed_catalogue_without_babel(tmp_path, monkeypatch):
    """The kitchen unit has no Babel (its install is the standard library, pyserial and paho-mqtt): the .mo in git
    is what it reads, so `gaslatch status` on the Pi speaks Chinese."""
    copy = tmp_path / "locale"
    shutil.copytree(translation.LOCALE_DIR, copy)
    monkeypatch.setattr(translation, "LOCALE_DIR", str(copy))
    monkeypatch.setitem(sys.modules, "babel.messages.mofile", None)
    monkeypatch.setitem(sys.modules, "babel.messages.pofile", None)
    assert translation.translations("zh").gettext("error: %s") == "错误：%s"


def test_the_check_refuses_a_committed_catalogue_not_compiled_from_the_po(locale_copy, monkeypatch):
    po_path, mo_path = locale_copy
    monkeypatch.setattr(catalogues, "ROOT", po_path.parents[4])
    assert "is not compiled from the .po" in catalogues.committed_problems("zh")[0]  # no .mo at all
    translation.compiled_catalogue("zh")
    assert catalogues.committed_problems("zh") == []
    po_path.write_text(po_path.read_text(encoding="utf-8").replace('msgstr "错误：%s"', 'msgstr "出错：%s"'),
                       encoding="utf-8")
    assert "is not compiled from the .po" in catalogues.committed_problems("zh")[0]


def test_english_is_the_source_text_and_a_plural_follows_the_count():
    translation.use("en")
    try:
        assert translation._("error: %s") == "error: %s"
        assert translation.ngettext("%(found)d detector found at %(lines)s, %(problems)d problem(s)",
                                    "%(found)d detectors found at %(lines)s, %(problems)d problem(s)", 2).startswith(
            "%(found)d detectors")
        translation.use("zh")
        assert translation._("error: %s") == "错误：%s"
        assert translation.ngettext("%(found)d detector found at %(lines)s, %(problems)d problem(s)",
                                    "%(found)d detectors found at %(lines)s, %(problems)d problem(s)", 2) == (
            "在 %(lines)s 找到 %(found)d 个探测器，%(problems)d 个问题")
    finally:
        translation.use(translation.language_from(None, os.environ))


def test_the_unit_pays_for_no_compiler_when_it_imports_the_language_choice():
    """`gaslatch run` imports translation.py with every command: hashlib (OpenSSL), tempfile (shutil, bz2, lzma) and
    pathlib cost the unit megabytes of its 20 MiB (benchmarks/unit_footprint.py measured 23.0 against 19.1 MiB
    when they were imported at the top), so they are imported only where a catalogue is compiled."""
    code = ("import sys\nat_start = set(sys.modules)\nimport gaslatch.unit.cli\nfrom gaslatch import translation\n"
            "translation.use('en')\nprint(' '.join(sorted((set(sys.modules) - at_start)\n"
            "                 & {'hashlib', 'tempfile', 'pathlib', 'shutil', 'unicodedata'})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


@pytest.mark.parametrize("message", [
    "The valve test CLOSES the gas valve now: burners go out until RESET. Close it?",
    "The valve test CLOSES the gas valve: burners go out, and the gas stays off until someone resets at the "
    "controller (gaslatch reset, then the RESET button). Close the valve now?",
])
def test_the_valve_tests_warning_says_in_chinese_that_the_gas_stays_off_until_reset(message):
    """The installer answers this prompt in Chinese: it must say what the English says, that the burners go out
    AND stay out until a reset (复位前…会熄火, 'before the reset they go out', said only the first)."""
    chinese = translation.in_language("zh").gettext(message)
    assert chinese != message
    assert "关闭" in chinese and "熄火" in chinese
    assert "燃气保持关闭" in chinese and ("直到" in chinese or "复位前燃气保持关闭" in chinese)


def _damaged(data: bytes, old: str, new: str) -> bytes:
    """The compiled catalogue with one message's bytes changed in place (as a flipped bit on an SD card would)."""
    assert len(old.encode()) == len(new.encode()) and data.count(old.encode()) == 1
    return data.replace(old.encode(), new.encode())


@pytest.fixture
def unit_locale(tmp_path, monkeypatch):
    """The committed catalogues copied to a folder of the test's own, on a unit: no Babel."""
    copy = tmp_path / "locale"
    shutil.copytree(translation.LOCALE_DIR, copy)
    monkeypatch.setattr(translation, "LOCALE_DIR", str(copy))
    monkeypatch.setitem(sys.modules, "babel.messages.mofile", None)
    monkeypatch.setitem(sys.modules, "babel.messages.pofile", None)
    return tuple(Path(path) for path in translation.catalogue_paths(translation.CHINESE))


def test_on_the_unit_a_damaged_message_in_the_compiled_catalogue_gives_english_not_a_wrong_text(unit_locale, capsys):
    """A flipped bit that still parses ($s for %s: `_("error: %s") % x` would end in a traceback; or another
    message's text) is told: the unit speaks English and says why, rather than any text of the damaged file."""
    _po_path, mo_path = unit_locale
    mo_path.write_bytes(_damaged(mo_path.read_bytes(), "错误：%s", "错误：$s"))
    assert translation.translations("zh").gettext("error: %s") == "error: %s"
    assert "English for now" in capsys.readouterr().err


def test_on_the_unit_a_zeroed_header_gives_english_not_a_traceback(unit_locale, capsys):
    _po_path, mo_path = unit_locale
    data = mo_path.read_bytes()
    header = data.index(b"Content-Type: text/plain; charset=utf-8")
    mo_path.write_bytes(data[:header] + b"Content-Type: text/plain;\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                        b"\x00\x00" + data[header + len(b"Content-Type: text/plain; charset=utf-8"):])
    assert translation.translations("zh").gettext("error: %s") == "error: %s"
    assert "English for now" in capsys.readouterr().err


def test_with_babel_a_damaged_compiled_catalogue_is_compiled_again(locale_copy):
    po_path, mo_path = locale_copy
    translation.compiled_catalogue("zh")
    mo_path.write_bytes(_damaged(mo_path.read_bytes(), "错误：%s", "错误：$s"))
    assert translation.translations("zh").gettext("error: %s") == "错误：%s"


def test_an_install_without_the_po_reads_the_compiled_catalogue(unit_locale):
    po_path, _mo_path = unit_locale
    po_path.unlink()
    assert translation.translations("zh").gettext("error: %s") == "错误：%s"
