"""`gaslatch status` and `gaslatch events` in Chinese, as a person on site reads them: a real unit (the real
`gaslatch run` process on a pty detector bus), the commands on a real terminal whose LANG is zh_CN.UTF-8.

Issue 18: the unit's own commands speak the reader's language (the unit has no Babel: it reads the catalogue's
.mo with the standard library), while --json and the stored records keep their codes.
"""

import json
import os
import subprocess
import sys

import pytest

from gaslatch.unit.text_table import cells
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.running_unit import RunningUnit
from gaslatch_tools.testing.terminal import run_in_terminal
from gaslatch_tools.testing.waiting import wait_until


@pytest.fixture(scope="module")
def tripped_unit(tmp_path_factory):
    """A unit whose detector d1 saw a leak: high alarm, gas off and latched."""
    tmp_path = tmp_path_factory.mktemp("unit")
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    unit.set_input("reset_button", False)
    unit.start()
    unit.wait_detectors_normal()
    bus.set_gas(1, 30)
    wait_until(lambda: unit.request("status")[0]["status"]["detectors"]["d1"]["state"] == "high_alarm", 10,
               what="d1 in high alarm")
    yield unit
    unit.close()
    bus.close()


def gaslatch(*args, locale="zh_CN.UTF-8"):
    return run_in_terminal([sys.executable, "-m", "gaslatch_tools.cli", *args], locale=locale, timeout_s=60)


def table(text, title):
    """The lines of the table under `title` (up to the blank line that ends it)."""
    lines = text.splitlines()
    start = lines.index(title)
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start + 1:end]


def test_status_in_chinese_says_the_gas_is_off_and_why_with_the_detector_table_aligned(tripped_unit):
    code, shown = gaslatch("status", "--socket", tripped_unit.socket_path)
    assert code == 0, shown
    assert "已锁定关阀：现场复位前燃气保持关闭" in shown
    assert "现在复位：会被拒绝：" in shown
    assert "营业时间（人走阀关）" not in shown or "营业时间（人走阀关）：" in shown
    header, *rows = table(shown.replace("\r\n", "\n"), "探测器")
    assert header.split()[:3] == ["探测器", "状态", "读数"]
    d1 = next(row for row in rows if row.startswith("d1"))
    assert "高限报警" in d1 and "%LEL" in d1
    # Columns line up in terminal cells: the reading column ends at the same cell on every line.
    reading_ends = {cells(line[:line.index("%LEL") + 4]) for line in rows if "%LEL" in line}
    assert len(reading_ends) == 1, rows
    assert "LATCHED" not in shown and "Detectors" not in shown


def test_the_same_status_in_english_with_lang_c_or_lang_en(tripped_unit):
    for args, locale in ((("status",), "C.UTF-8"), (("--lang", "en", "status"), "zh_CN.UTF-8")):
        code, shown = gaslatch(*args, "--socket", tripped_unit.socket_path, locale=locale)
        assert code == 0, shown
        assert "LATCHED: gas off until a local reset" in shown and "已锁定关阀" not in shown
        assert "high alarm" in shown


def test_lang_zh_on_an_english_terminal_and_json_keeps_its_codes(tripped_unit):
    code, shown = gaslatch("--lang", "zh", "status", "--socket", tripped_unit.socket_path, locale="C.UTF-8")
    assert code == 0 and "已锁定关阀" in shown
    code, shown = gaslatch("status", "--json", "--socket", tripped_unit.socket_path)
    assert code == 0
    status = json.loads(shown)["status"]
    assert status["latched"] is True and status["detectors"]["d1"]["state"] == "high_alarm"


def test_events_in_chinese_give_each_record_its_headline_and_keep_the_recorded_reason(tripped_unit):
    wait_until(lambda: tripped_unit.events("trip"), 10, what="the trip recorded")
    code, shown = gaslatch("events", "--store", tripped_unit.store_path)
    assert code == 0, shown
    lines = shown.replace("\r\n", "\n").splitlines()
    assert lines[0].split()[:4] == ["序号", "时间（UTC）", "级别", "事件"]
    alarm = next(line for line in lines if "探测器 d1：高限报警" in line)
    assert "报警" in alarm.split()[2] and "%LEL" in alarm
    assert any("燃气已切断并锁定" in line for line in lines)
    assert any("控制器已启动：现场复位前燃气保持关闭" in line for line in lines)
    code, shown = gaslatch("events", "--json", "--type", "trip", "--store", tripped_unit.store_path)
    assert code == 0 and json.loads(shown.splitlines()[0])["type"] == "trip"


def test_the_units_help_is_chinese_too(tripped_unit):
    code, shown = gaslatch("status", "--help")
    assert code == 0
    assert "以 JSON 输出控制器的原始应答" in shown and "退出码：0 完成" in shown


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
def test_a_terminal_that_cannot_show_chinese_gets_english_and_no_command_ends_in_an_encoding_error(tmp_path, encoding):
    """A Latin-1 SSH session or a serial console on a Chinese unit: the messages fall back to English (said on
    stderr), and a name only Chinese can write is shown escaped instead of ending the command half way."""
    path = tmp_path / "配置.json"  # a path only Chinese can write, which the English message carries
    path.write_text(open("deploy/config.example.json", encoding="utf-8").read(), encoding="utf-8")
    env = dict(os.environ, LANG="zh_CN.UTF-8", PYTHONIOENCODING=encoding)
    env.pop("LC_ALL", None)
    env.pop("LC_MESSAGES", None)
    done = subprocess.run([sys.executable, "-m", "gaslatch_tools.cli", "check-config", str(path)], env=env,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"valid (2 detectors" in done.stdout and b"\\u914d\\u7f6e.json" in done.stdout
    assert b"cannot show Chinese: the messages are in English" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.parametrize("encoding, chinese", [("big5", False), ("euc_kr", False), ("gb2312", True), ("gbk", True),
                                               ("gb18030", True)])
def test_a_terminal_reads_chinese_only_when_its_encoding_has_every_character_our_chinese_uses(tmp_path, encoding,
                                                                                              chinese):
    """A Big5 (zh_TW.Big5) or EUC-KR terminal has the check's punctuation but not most simplified characters: it
    gets English, not Chinese as \\u escapes; GB2312 lacks only the em dash, the middle dot and the micro sign,
    which it shows as ―, ・ and μ: it reads Chinese, with no escape in the text."""
    env = dict(os.environ, LANG="zh_CN.UTF-8", PYTHONIOENCODING=encoding)
    env.pop("LC_ALL", None)
    env.pop("LC_MESSAGES", None)
    done = subprocess.run([sys.executable, "-m", "gaslatch_tools.cli", "status", "--help"], env=env,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shown = done.stdout.decode(encoding)
    assert "\\u" not in shown and "\\x" not in shown
    if chinese:
        assert "以 JSON 输出控制器的原始应答" in shown and b"cannot show Chinese" not in done.stderr
    else:
        assert "JSON" in shown and "以 JSON" not in shown
        assert b"cannot show Chinese: the messages are in English" in done.stderr


def test_a_gb2312_terminal_shows_the_stand_ins_of_what_it_lacks():
    from gaslatch import translation

    for char, stand_in in (("\u2014", "\u2015"), ("\u00b7", "\u30fb"), ("\u00b5", "\u03bc")):
        assert char.encode("gb2312", translation.ERRORS) == stand_in.encode("gb2312")
    assert "配置 — 1 µA".encode("latin-1", translation.ERRORS) == b"\\u914d\\u7f6e - 1 \xb5A"
