"""What a Chinese installer reads when a commission command cannot run (a refused configuration, an unreadable
record, a record without detectors), in Chinese under a Chinese locale and in English under LANG=C; and that
config init checks the record before it asks anything."""

import json
import os
import subprocess
import sys

import pytest

from gaslatch import translation

CHINESE = "zh_CN.UTF-8"
ENGLISH = "C"
ZH = translation.in_language("zh").gettext


def commission(*args: str, locale: str, directory: str) -> subprocess.CompletedProcess:
    """`gaslatch commission ARGS` in a fresh interpreter under LANG=locale, nothing on its stdin."""
    return subprocess.run([sys.executable, "-m", "gaslatch_tools.cli", "commission", *args], capture_output=True,
                          text=True, timeout=60, cwd=directory, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, LC_ALL="", LC_MESSAGES="", LANG=locale))


def write(path, text: str) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


@pytest.mark.parametrize("command", [["bump-test"], ["valve-test"], ["interlock-test"],
                                     ["bump-test", "--port", "/dev/null"]])
def test_a_refused_configuration_is_listed_in_chinese_and_says_it_is_refused(tmp_path, command):
    config = write(tmp_path / "bad.json", '{ "site": \n')
    record = str(tmp_path / "record.json")
    done = commission("--record", record, *command, "--config", config, "--yes", locale=CHINESE,
                      directory=str(tmp_path))
    assert done.returncode == 2, done.stderr
    shown = done.stdout + done.stderr
    assert "配置 %s 被拒绝：1 个问题" % config in shown
    assert "$: 不是有效的 JSON" in shown and "提示：" in shown
    assert "configuration has" not in shown and "hint:" not in shown and "the controller will not start" not in shown
    english = commission("--record", record, *command, "--config", config, "--yes", locale=ENGLISH,
                         directory=str(tmp_path))
    assert english.returncode == 2
    shown = english.stdout + english.stderr
    assert "the configuration %s is refused: 1 problem" % config in shown and "hint:" in shown
    assert "配置" not in shown


@pytest.mark.parametrize("text, chinese, english", [
    ("{not json", "无法读取调试记录 %s：", "cannot read the commissioning record %s:"),
    ('{"format": 9}', "%s 不是 gaslatch 调试记录（格式 1）", "%s is not a gaslatch commissioning record (format 1)")])
def test_an_unreadable_record_is_said_in_the_installers_language(tmp_path, text, chinese, english):
    record = write(tmp_path / "record.json", text)
    done = commission("--record", record, "report", "--out", str(tmp_path), locale=CHINESE, directory=str(tmp_path))
    assert done.returncode == 2
    assert chinese % record in done.stderr and "请确认这是调试命令写出的记录" in done.stderr
    assert "Traceback" not in done.stderr and "check it is the record" not in done.stderr
    done = commission("--record", record, "report", "--out", str(tmp_path), locale=ENGLISH, directory=str(tmp_path))
    assert done.returncode == 2
    assert english % record in done.stderr and "check it is the record the commission commands wrote" in done.stderr


SITE_QUESTION = "Site identifier (e.g. the restaurant's registration number):"
SCHEDULE_QUESTION = "Attended hours"


def test_config_init_says_the_record_has_no_detectors_before_asking_anything(tmp_path):
    record = write(tmp_path / "record.json", json.dumps({"format": 1, "detectors": {"hood1": {"bump_tests": []}}}))
    out = str(tmp_path / "gaslatch.json")
    done = commission("--record", record, "config", "init", "--out", out, locale=CHINESE, directory=str(tmp_path))
    assert done.returncode == 2
    shown = done.stdout + done.stderr
    assert "记录中没有带通信地址的探测器：请先运行 gaslatch commission scan" in shown
    assert ZH(SITE_QUESTION) not in shown and "营业时间（人走阀关" not in shown and not os.path.exists(out)
    done = commission("--record", record, "config", "init", "--out", out, locale=ENGLISH, directory=str(tmp_path))
    shown = done.stdout + done.stderr
    assert "the record has no detectors with an address: run gaslatch commission scan first" in shown
    assert SITE_QUESTION not in shown and SCHEDULE_QUESTION not in shown


def test_config_init_from_a_missing_record_says_so_before_asking_anything(tmp_path):
    missing = str(tmp_path / "no-such-record.json")
    out = str(tmp_path / "gaslatch.json")
    done = commission("--record", str(tmp_path / "record.json"), "config", "init", "--from-record", missing, "--out",
                      out, locale=CHINESE, directory=str(tmp_path))
    assert done.returncode == 2
    shown = done.stdout + done.stderr
    assert "%s 处没有调试记录" % missing in shown and "请给出调试命令写出的记录（--from-record）" in shown
    assert ZH(SITE_QUESTION) not in shown and not os.path.exists(out)
    done = commission("--record", str(tmp_path / "record.json"), "config", "init", "--from-record", missing, "--out",
                      out, locale=ENGLISH, directory=str(tmp_path))
    shown = done.stdout + done.stderr
    assert "no commissioning record at %s" % missing in shown and SITE_QUESTION not in shown


def test_config_inits_schedule_help_is_in_the_readers_language(tmp_path):
    chinese = commission("config", "init", "--help", locale=CHINESE, directory=str(tmp_path))
    assert chinese.returncode == 0
    assert "营业时间（人走阀关），如 'mon-fri 09:00-23:00;" in chinese.stdout and "e.g. 'mon-fri" not in chinese.stdout
    english = commission("config", "init", "--help", locale=ENGLISH, directory=str(tmp_path))
    assert "Attended hours (人走阀关), e.g. 'mon-fri 09:00-23:00;" in english.stdout
