"""`gaslatch platform` in the reader's language: every command's help, the lines each command family prints, its
tables and its errors are Chinese under a Chinese locale and English under LANG=C; the CSV export is the same in
both. Each run is `gaslatch` in a fresh interpreter, as a person runs it (the help is translated as the platform's
module is imported, after --lang and the locale are read)."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from gaslatch.translation import CHINESE, in_language
from gaslatch_tools.platform import words
from tests.platform.test_warning_rules import RULES_PATH
from tests.platform.test_work_orders import CONTACTS_DOC, fresh

LOCALES = {"zh": {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8", "COLUMNS": "200"},
           "en": {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C", "COLUMNS": "200"}}
CJK = re.compile(r"[\u4e00-\u9fff]")
ZH = in_language(CHINESE).gettext

# Every platform command's --help, as gaslatch shows it: walked in one interpreter.
WALK = """
import json, sys
import click
from gaslatch_tools.host_cli import main
main.make_context("gaslatch", ["platform", "--help"], resilient_parsing=True)  # reads --lang and the locale
root_ctx = click.Context(main, info_name="gaslatch")
helps = {}
def walk(command, parent, path):
    ctx = click.Context(command, info_name=path[-1], parent=parent)
    helps[" ".join(path)] = command.get_help(ctx)
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            walk(command.get_command(ctx, name), ctx, path + [name])
walk(main.get_command(root_ctx, "platform"), root_ctx, ["platform"])
print(json.dumps(helps))
"""


def gaslatch(*args: str, language: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gaslatch_tools.cli", "platform", *args], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, **LOCALES[language]))


def helps(language: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", WALK], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **LOCALES[language]))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def english_words(line: str) -> list[str]:
    """The plain English words of a help line: not option names, metavars, paths, code in backticks."""
    line = re.sub(r"`[^`]*`", " ", line)
    return [w for w in line.split() if re.fullmatch(r"[(]?[A-Za-z][a-z]+[),.;:]*", w)]


def test_english_words_finds_an_untranslated_help_line_and_ignores_names():
    assert len(english_words("  --note TEXT   Findings, what was done (recorded).")) == 5
    assert english_words("  --db PATH|URL  [默认：gaslatch-platform.sqlite] $share/GROUP/gaslatch/+/+/event") == []


def test_every_platform_commands_help_is_chinese_under_a_chinese_locale():
    found = helps("zh")
    assert {"platform", "platform warnings", "platform ack", "platform orders", "platform order dispatch",
            "platform order find", "platform order photo", "platform ledger", "platform metrics", "platform notify",
            "platform console", "platform account set-password", "platform account list"} <= set(found)
    for path, text in found.items():
        assert text.startswith("用法: gaslatch %s" % path), text
        assert "选项:" in text and "显示此帮助并退出。" in text, path
        for line in text.splitlines():
            if not CJK.search(line):
                assert len(english_words(line)) < 3, "%s: an English help line: %r" % (path, line)
    assert "必填" in found["platform order dispatch"] and "[required]" not in found["platform order dispatch"]
    assert "复查不合格：已整改 -> 整改中，由街道安全员执行。" in found["platform order reject"]


def test_every_platform_commands_help_is_english_under_lang_c():
    found = helps("en")
    for path, text in found.items():
        assert text.startswith("Usage: gaslatch %s" % path) and "Show this message and exit." in text, path
        assert "用法" not in text and "选项" not in text, path
    assert "Dispatch (派单) a work order for WARNING_ID" in found["platform order dispatch"]
    assert "verification failed: rectified -> rectifying, by the street safety officer." in \
        found["platform order reject"]


@pytest.fixture
def site(tmp_path):
    """A platform database with three open trip warnings (s1, s2, s3), and the contacts file of
    test_work_orders."""
    db = str(tmp_path / "platform.sqlite")
    storage, warnings = fresh(db)
    storage.close()
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text(yaml.safe_dump(CONTACTS_DOC, allow_unicode=True), encoding="utf-8")
    contacts.chmod(0o600)
    return {"db": db, "contacts": str(contacts), "warnings": warnings, "dir": tmp_path}


SAID = {
    "zh": {"gaps": "没有缺口：每条事件都已存储或已报告丢失", "csv": "已将 0 条事件写到标准输出",
           "warnings": ("gaslatch 预警", "编号", "等级", "站点/设备", "原因", "确认人", "一级", "未确认",
                        ZH(words.RULE_TITLES["trip"])),
           "ack": "预警 %d：已确认（wang）", "not yours": "own1 无权查看预警 %d：它属于不归其管辖的站点，或不存在该编号的预警",
           "dispatched": "已为预警 %d 派发工单 1 给 li", "orders": ("gaslatch 工单", "已派单", "待核查", "安全员"),
           "no orders": "没有工单", "photo": "照片既不是 JPEG 也不是 PNG（按其开头字节判断）",
           "unknown warning": "没有编号为 99 的预警", "ledger": "条隐患写入", "accounts": "没有账号",
           "short password": "密码至少需要 10 个字符", "unlock": "li 未被锁定", "metrics": "gaslatch 街道指标（最近 1 天）",
           "host port": "应为 HOST:PORT，例如 127.0.0.1:1883，而不是 'localhost'",
           "unreachable": "无法连接 127.0.0.1:1 上的 MQTT 消息服务器", "no rules": "--contacts 会运行通知程序，它需要 --rules",
           "no role": "'nobody' 在 %s 中没有角色", "open contacts": "联系人文件 %s 对其他用户开放：请执行 chmod 600",
           "bad rules": "%s：$.timezone：没有时区 'Mars/Olympus'（应为 IANA 名称，如 Asia/Shanghai）"},
    "en": {"gaps": "no gaps: every event is stored or reported lost", "csv": "0 events written to stdout",
           "warnings": ("gaslatch warnings", "No.", "grade", "site/unit", "cause", "acknowledged by", "Grade 1",
                        "not acknowledged", words.RULE_TITLES["trip"]),
           "ack": "warning %d acknowledged by wang",
           "not yours": "warning %d is not one own1 may see: it is of a site not theirs, or there is none by that id",
           "dispatched": "order 1 dispatched to li for warning %d", "orders": ("gaslatch work orders", "dispatched",
                                                                              "not checked yet", "officer"),
           "no orders": "no work orders", "photo": "the photo is neither a JPEG nor a PNG (by its first bytes)",
           "unknown warning": "no warning 99", "ledger": "hazard written to", "accounts": "no accounts",
           "short password": "a password needs at least 10 characters", "unlock": "li was not locked",
           "metrics": "gaslatch district metrics (the last 1 days)",
           "host port": "expected HOST:PORT, e.g. 127.0.0.1:1883, not 'localhost'",
           "unreachable": "cannot reach the MQTT broker at 127.0.0.1:1", "no rules":
               "--contacts runs the notifier, which needs --rules", "no role": "'nobody' has no role in %s",
           "open contacts": "the contacts file %s is open to others: chmod 600",
           "bad rules": "%s: $.timezone: no time zone 'Mars/Olympus' (an IANA name such as Asia/Shanghai)"},
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_each_command_family_speaks_the_readers_language(site, language):
    said, db, contacts = SAID[language], site["db"], site["contacts"]
    w1, w2 = site["warnings"][:2]
    who = ["--db", db, "--contacts", contacts]

    def run(*args: str, code: int = 0) -> str:
        done = gaslatch(*args, language=language)
        assert done.returncode == code, done.stdout + done.stderr
        return done.stdout + done.stderr

    assert said["gaps"] in run("--db", db, "--gaps")
    assert said["csv"] in run("--db", db, "--csv", "-")
    listed = run("warnings", "--db", db)
    for text in said["warnings"]:
        assert text in listed, text
    assert "trip" not in listed.split() and " open " not in listed  # the rule's title and the state's name
    assert said["ack"] % w2 in run("ack", str(w2), "--db", db, "--user", "wang")
    assert said["unknown warning"] in run("ack", "99", "--db", db, "--user", "wang", code=1)
    due = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    assert said["not yours"] % w2 in run("order", "dispatch", str(w2), "--officer", "li", "--due", due, "--as",
                                         "own1", *who, code=1)
    assert said["dispatched"] % w1 in run("order", "dispatch", str(w1), "--officer", "li", "--due", due, "--as",
                                          "op", *who)
    orders = run("orders", "--as", "li", *who)
    for text in said["orders"]:
        assert text in orders, text
    assert said["no orders"] in run("orders", "--as", "own2", *who)
    assert said["no role"] % contacts in run("orders", "--as", "nobody", *who, code=1)
    gif = site["dir"] / "photo.gif"
    gif.write_bytes(b"GIF89a" + bytes(100))
    assert said["photo"] in run("order", "photo", "1", str(gif), "--as", "li", *who, code=1)
    assert said["ledger"] in run("ledger", "--format", "csv", "--out", str(site["dir"] / "l.csv"), "--as", "li", *who)
    assert said["metrics"] in run("metrics", "--db", db, "--window-days", "1")
    assert said["accounts"] in run("account", "list", "--db", db)
    assert said["short password"] in subprocess.run(
        [sys.executable, "-m", "gaslatch_tools.cli", "platform", "account", "set-password", "li", *who],
        input="short\n", capture_output=True, text=True, timeout=60, env=dict(os.environ, **LOCALES[language])).stderr
    assert said["unlock"] in run("account", "unlock", "li", "--db", db)
    assert said["host port"] in run("--broker", "localhost", "--csv", "-", code=2)
    assert said["unreachable"] in run("--broker", "127.0.0.1:1", "--db", db, "--once", code=1)
    assert said["no rules"] in run("--db", db, "--contacts", contacts, code=2)
    rules = site["dir"] / "rules.yaml"
    rules.write_text("timezone: Mars/Olympus\n" + "".join(
        line + "\n" for line in RULES_PATH.read_text(encoding="utf-8").splitlines()
        if not line.startswith("timezone:")), encoding="utf-8")
    assert said["bad rules"] % rules in run("notify", "--db", db, "--rules", str(rules), "--contacts", contacts,
                                            "--seconds", "0", code=1)
    os.chmod(contacts, 0o644)
    assert said["open contacts"] % contacts in run("orders", "--as", "li", *who, code=1)


def test_the_csv_export_is_the_same_in_both_languages(site):
    exported = {language: gaslatch("--db", site["db"], "--csv", "-", language=language) for language in LOCALES}
    assert exported["zh"].returncode == exported["en"].returncode == 0
    assert exported["zh"].stdout == exported["en"].stdout and exported["en"].stdout.startswith("site,unit,id,")
