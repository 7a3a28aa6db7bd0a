"""Click's own words (Usage:, Options:, "Show this message and exit.", its errors) follow --lang and the locale like
gaslatch's: `gaslatch --lang zh commission --help` is Chinese from its first line to its last."""

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st
from click.testing import CliRunner
from babel.messages.extract import extract_from_dir

from gaslatch import translation
from gaslatch_tools import click_words
from gaslatch_tools.testing.language import reading

CHINESE_LOCALE = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}
ENGLISH_LOCALE = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C"}
FIELD = re.compile(r"\{(\w*)[^{}]*\}")


def gaslatch(*args: str, locale: dict) -> subprocess.CompletedProcess:
    """`gaslatch ARGS` in a fresh interpreter with the locale variables of `locale`."""
    return subprocess.run([sys.executable, "-m", "gaslatch_tools.cli", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, **locale))


def test_a_commands_help_is_chinese_from_usage_to_the_help_option():
    done = gaslatch("--lang", "zh", "commission", "--help", locale=ENGLISH_LOCALE)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("用法: gaslatch commission [OPTIONS] COMMAND [ARGS]...")
    assert "选项:" in lines and "命令:" in lines
    assert "显示此帮助并退出。" in done.stdout and "Show this message" not in done.stdout


def test_clicks_error_for_an_unknown_option_is_chinese_and_english_stays_english():
    chinese = gaslatch("--lang", "zh", "commission", "scan", "--bogus", locale=ENGLISH_LOCALE)
    assert chinese.returncode == 2
    assert "输入 'gaslatch commission scan --help' 查看帮助。" in chinese.stderr
    assert "错误：没有选项 '--bogus'。" in chinese.stderr
    english = gaslatch("commission", "scan", "--bogus", locale=ENGLISH_LOCALE)
    assert english.returncode == 2
    assert "Try 'gaslatch commission scan --help' for help." in english.stderr
    assert "Error: No such option '--bogus'." in english.stderr and "错误" not in english.stderr


def test_a_missing_argument_and_a_wrong_choice_are_chinese_under_a_chinese_locale():
    missing = gaslatch("bench", "run", locale=CHINESE_LOCALE)
    assert missing.returncode == 2 and "错误：缺少参数 'SCENARIOS...'" in missing.stderr
    wrong = gaslatch("--lang", "de", "--help", locale=CHINESE_LOCALE)
    assert wrong.returncode == 2 and "'--lang' 的值无效：'de' 不在可选值中：'zh', 'en'。" in wrong.stderr


def test_gaslatchs_own_help_follows_lang_though_it_is_made_before_lang_is_read():
    chinese = gaslatch("--lang", "zh", "--help", locale=ENGLISH_LOCALE)
    assert chinese.returncode == 0, chinese.stderr
    assert "gaslatch：餐饮场所燃气泄漏安全保护控制器及工具。" in chinese.stdout
    assert "显示版本并退出。" in chinese.stdout and "显示此帮助并退出。" in chinese.stdout
    assert "消息和提示的语言" in chinese.stdout and "硬件在环测试台" in chinese.stdout
    english = gaslatch("--lang", "en", "--help", locale=CHINESE_LOCALE)
    assert english.returncode == 0, english.stderr
    assert "Usage: gaslatch [OPTIONS] COMMAND [ARGS]..." in english.stdout
    assert "Show the version and exit." in english.stdout and "Show this message and exit." in english.stdout
    assert "The language of messages and prompts" in english.stdout and "用法" not in english.stdout


def test_the_demos_help_is_chinese_under_a_chinese_locale_and_english_with_lang_en():
    chinese = gaslatch("demo", "--help", locale=CHINESE_LOCALE)
    assert chinese.returncode == 0, chinese.stderr
    assert "模拟厨房中的一次燃气泄漏" in chinese.stdout and "报告的文件夹（摘要、记录、曲线图）。" in chinese.stdout
    assert "[默认：demo-report]" in chinese.stdout
    english = gaslatch("--lang", "en", "demo", "--help", locale=CHINESE_LOCALE)
    assert "A leak in an emulated kitchen" in english.stdout and "Folder for the report" in english.stdout


def test_every_click_module_that_translates_uses_gaslatchs_catalogue():
    click_words.install()
    assert click_words.untranslated_click_modules() == []
    with reading("zh"):
        assert click.core._("Usage:") == "用法:"
        assert click.exceptions.ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)",
                                         2) == "是否想输入：{possibilities}？"
    assert click.core._("Usage:") == "Usage:"


def clicks_messages() -> set[str]:
    """What the installed click marks for translation (its source, as Babel extracts it): singular messages."""
    folder = Path(click.__file__).parent
    return {message if isinstance(message, str) else message[0]
            for _filename, _lineno, message, _comments, _context in extract_from_dir(str(folder))
            if message and (message if isinstance(message, str) else message[0])}


def test_click_words_lists_every_message_the_installed_click_marks():
    listed = set(click_words.CLICK_MESSAGES) | set(_listed_plurals())
    assert sorted(clicks_messages() - listed) == [], "add them to gaslatch_tools/click_words.py and translate them"


def _listed_plurals() -> list[str]:
    """The singular of each plural message click_words lists (click_plurals)."""
    source = Path(click_words.__file__).read_text(encoding="utf-8")
    return re.findall(r'ngettext\("((?:[^"\\]|\\.)*)"', source)


@pytest.mark.parametrize("message", click_words.CLICK_MESSAGES + tuple(_listed_plurals()))
def test_a_translation_of_clicks_words_keeps_every_placeholder_click_fills(message):
    catalogue = translation.in_language("zh")
    plural_fields: set[str] = set()
    if message in _listed_plurals():
        plural = re.search(re.escape(message) + r'",\s*"((?:[^"\\]|\\.)*)"',
                           Path(click_words.__file__).read_text(encoding="utf-8"), re.S)
        assert plural is not None
        plural_fields = set(FIELD.findall(plural.group(1)))
        text = catalogue.ngettext(message, plural.group(1), 2)
    else:
        text = catalogue.gettext(message)
    assert text != message or not re.search("[A-Za-z]{3}", FIELD.sub("", message).replace("Choice", "")), \
        "not translated"
    fields = set(FIELD.findall(text))
    assert fields <= set(FIELD.findall(message)) | plural_fields, "a placeholder click does not fill: %s" % text
    if not plural_fields:
        assert fields == set(FIELD.findall(message)), "a placeholder of click's lost: %s" % text


def test_the_version_line_follows_lang():
    chinese = gaslatch("--lang", "zh", "--version", locale=ENGLISH_LOCALE)
    assert chinese.returncode == 0 and chinese.stdout.startswith("gaslatch，版本 ")
    english = gaslatch("--lang", "en", "--version", locale=CHINESE_LOCALE)
    assert english.returncode == 0 and english.stdout.startswith("gaslatch, version ")


def test_a_required_options_mark_is_in_the_readers_language():
    """Click passes "required" to its _() as a variable, so Babel cannot find it in click: click_words lists it."""
    @click.command()
    @click.option("--rules", required=True, help="The rules.")
    def command(rules):
        pass

    click_words.install()
    assert "required" in click_words.CLICK_MESSAGES
    with reading("zh"):
        chinese = CliRunner().invoke(command, ["--help"])
    assert "[必填]" in chinese.output and "[required]" not in chinese.output
    assert "[required]" in CliRunner().invoke(command, ["--help"]).output


def test_a_number_that_is_not_one_is_refused_with_its_type_named_in_the_readers_language():
    # Click fills its type's own name ("integer range") into the sentence: under zh the name is Chinese too.
    chinese = gaslatch("commission", "scan", "--timeout-ms", "abc", locale=CHINESE_LOCALE)
    assert chinese.returncode == 2 and "错误：'--timeout-ms' 的值无效：'abc' 不是有效的整数。" in chinese.stderr, chinese.stderr
    assert "integer" not in chinese.stderr
    english = gaslatch("commission", "scan", "--timeout-ms", "abc", locale=ENGLISH_LOCALE)
    assert "Error: Invalid value for '--timeout-ms': 'abc' is not a valid integer range." in english.stderr
    click_words.install()
    with reading("zh"):
        assert click.FLOAT.convert("1.5", None, None) == 1.5
        with pytest.raises(click.BadParameter, match="'x' 不是有效的数值。"):
            click.FloatRange(0, 1).convert("x", None, None)


@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    ["\x00", "\ud800", "{number_type}", "{0}", "%(x)s", "9" * 5000]))
def test_any_text_given_for_a_number_is_refused_in_chinese_and_nothing_else_goes_wrong(text):
    click_words.install()
    with reading("zh"):
        for kind in (click.INT, click.IntRange(5, 2000), click.FLOAT, click.FloatRange(0, 1)):
            try:
                kind.convert(text, None, None)
            except click.BadParameter as err:
                said = err.format_message()
                assert said.endswith("。") and "integer" not in said and "float" not in said, said
