"""argparse's own words (usage:, options, its errors) speak the reader's language in the unit's commands, and
every message of argparse a person can meet is in the catalogue (checked against the Python running the tests,
so a new Python's new message is noticed)."""

import argparse
import ast
import inspect

import pytest

from gaslatch.unit import argparse_words, cli
from tests.unit.unit_command import run_unit_command

# What only a programmer's mistake in an add_argument call can raise: never shown to a person on site.
PROGRAMMERS_ONLY = {
    "%r is not callable", "'required' is an invalid argument for positionals", ".__call__() not defined",
    'argument "-" with mode %r', "cannot have multiple subparser arguments",
    "cannot merge actions - two groups are named %r", "conflicting subparser alias: %s", "conflicting subparser: %s",
    "dest= is required for options like %r", "invalid conflict_resolution value: %r",
    "invalid option string %(option)r: must start with a character %(prefix_chars)r",
    "mutually exclusive arguments must be optional", "unexpected option string: %s",
    "unknown parser %(parser_name)r (choices: %(choices)s)", "conflicting option string: %s",
    "show program's version number and exit",
}


def argparse_messages():
    """(singular messages, plural pairs) that the running Python's argparse passes to _() and ngettext()."""
    singular, plural = set(), set()
    for node in ast.walk(ast.parse(inspect.getsource(argparse))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "ngettext"):
            texts = tuple(arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
            if node.func.id == "_" and texts:
                singular.add(texts[0])
            elif len(texts) == 2:
                plural.add(texts)
    return singular, plural


def test_every_message_of_argparse_a_person_can_meet_is_listed():
    singular, plural = argparse_messages()
    assert singular - PROGRAMMERS_ONLY == set(argparse_words.ARGPARSE_MESSAGES)
    assert {pair for pair in plural if pair[0] not in PROGRAMMERS_ONLY} == {
        ("expected %s argument", "expected %s arguments")}


def test_a_mistyped_command_is_told_in_chinese_and_in_english():
    result = run_unit_command("--lang", "zh", "status", "--bogus")
    assert result.exit_code == 2
    assert "用法：gaslatch" in result.stderr and "错误：无法识别的参数：--bogus" in result.stderr
    result = run_unit_command("--lang", "zh", "events", "--limit", "x")
    assert "参数 --limit：'x' 不是数字" in result.stderr
    result = run_unit_command("--lang", "zh", "inhibit", "--help")
    assert "位置参数" in result.output and "显示此帮助并退出" in result.output
    result = run_unit_command("--lang", "en", "status", "--bogus")
    assert "usage: gaslatch" in result.stderr and "error: unrecognized arguments: --bogus" in result.stderr


@pytest.mark.parametrize("argv, language", [
    (["--lang", "zh", "--lang", "en"], "en"), (["--lang=en", "--lang=zh"], "zh"), (["--lang", "en", "--lang=zh"], "zh"),
    (["--lang", "zh"], "zh"), (["--lang"], None), (["--lang", "zh", "--lang", "fr"], None),
])
def test_lang_given_twice_the_last_counts_as_the_parser_takes_it(argv, language):
    """`gaslatch --lang zh --lang en status` spoke Chinese though argparse (and click) take the last value, en."""
    assert cli._lang_flag(argv + ["status", "--lang", "zh"]) == language
