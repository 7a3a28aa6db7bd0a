"""Every scenario of the bench library, run against the real `gaslatch run` process: one test each.

They run in real time (tens of seconds each) and spend it waiting, so scripts/test.sh runs this folder
with pytest-xdist workers; each scenario has its own ports, sockets, broker and folders. Two of them run as a
person runs them, through the command: the README's `gaslatch demo` on a terminal set to Chinese, and
`gaslatch bench run over-range` piped with LANG=C, in English (each instead of its run in-process, not on top).
"""

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading

import pytest

from gaslatch_tools.bench import scenario as S
from gaslatch_tools.bench.report import write_report
from gaslatch_tools.bench.runner import BenchRun
from hil_tests.conftest import TIMED

LIBRARY = S.library()
THROUGH_THE_COMMAND = ("demo", "over-range")
IN_PROCESS = [p for p in LIBRARY if os.path.splitext(os.path.basename(p))[0] not in THROUGH_THE_COMMAND]
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78]|\r")
COMMAND_TIMEOUT_S = 180


def record_timed(record_property, summary_json: str) -> None:
    """The scenario's timed expectations with their slack, for the run's closing table (hil_tests/conftest.py)."""
    with open(summary_json, encoding="utf-8") as f:
        summary = json.load(f)
    record_property(TIMED, [{"scenario": summary["scenario"], "name": e["name"], "measured_s": e["measured_s"],
                             "limit_s": e["limit_s"], "slack_s": e["slack_s"]}
                            for e in summary["expectations"] if "slack_s" in e])


@pytest.mark.parametrize("path", IN_PROCESS, ids=[os.path.splitext(os.path.basename(p))[0] for p in IN_PROCESS])
def test_scenario_passes_on_the_real_controller(path, tmp_path, record_property):
    scenario = S.load(path)
    result = BenchRun(scenario, str(tmp_path / scenario["name"]), path).run()
    paths = write_report(result)
    record_timed(record_property, paths["json"])
    with open(paths["markdown"], encoding="utf-8") as f:
        summary = f.read()
    assert result.problems == [], summary
    assert result.outcomes and all(o.passed for o in result.outcomes), summary
    assert os.path.getsize(paths["plot"]) > 10_000 and os.path.getsize(paths["trace"]) > 0


def on_a_terminal(args: list[str], env: dict, cwd: str) -> tuple[int, str]:
    """Runs `gaslatch ARGS` on a 160x50 pty (its live view redraws) until it ends: (exit code, the text shown)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "gaslatch_tools.cli", *args], stdin=slave, stdout=slave,
                            stderr=slave, cwd=cwd, env=env, start_new_session=True, close_fds=True)
    os.close(slave)
    shown = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the pty closes when the command ends
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = proc.wait(COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        code = None
    reader.join(10)
    os.close(master)
    text = ANSI.sub("", shown.decode("utf-8", "replace"))
    assert code is not None, "gaslatch %s did not end; it shows:\n%s" % (" ".join(args), text[-3000:])
    return code, text


def test_the_readme_demo_on_a_chinese_terminal_reads_chinese(tmp_path, record_property):
    env = dict(os.environ, LC_ALL="", LC_MESSAGES="", LANG="zh_CN.UTF-8", TERM="xterm-256color", COLUMNS="160",
               LINES="50", PYTHONUNBUFFERED="1")
    env.pop("NO_COLOR", None)
    code, shown = on_a_terminal(["demo", "--out", str(tmp_path / "report")], env, str(tmp_path))
    assert code == 0, shown[-4000:]
    for words in ("模拟厨房", "探测器", "炒灶上方的天花板", "传感器处的燃气", "控制器读数",  # the live view
                  "厨房", "燃气阀门", "排风机", "控制器事件（最新）", "燃气已切断并锁定", "复位被拒绝",
                  "demo：合格", "预期", "结论", "燃气存在时复位被拒绝", "复位被接受后紧急切断阀重新打开",  # the result
                  "报告："):
        assert words in shown, "%r is not on the terminal:\n%s" % (words, shown[-4000:])
    for english in ("Detectors", "Kitchen", "expectation", "PASS", "report:", "trip controller latched"):
        assert english not in shown, "%r is English on a Chinese terminal:\n%s" % (english, shown[-4000:])
    folder = tmp_path / "report" / "demo"
    record_timed(record_property, str(folder / "summary.json"))
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# 测试台运行：demo — 合格") and "| 燃气存在时复位被拒绝 | 合格 |" in summary
    machine = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert machine["passed"] is True and machine["expectations"][0]["name"].startswith("valve closed within 3 s")
    assert " after " in machine["expectations"][0]["detail"]  # CI compares runs on it: English whatever the reader


def test_a_bench_run_piped_with_lang_c_reads_english(tmp_path, record_property):
    env = dict(os.environ, LC_ALL="", LC_MESSAGES="", LANG="C")
    done = subprocess.run([sys.executable, "-m", "gaslatch_tools.cli", "bench", "run", "over-range", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, env=env,
                          cwd=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    for words in ("starting gaslatch-unit run", "arming: waiting for every detector, then pressing reset",
                  "pressed reset", "over-range: PASS", "expectation", "no trip before the gas", "report:"):
        assert words in done.stdout, "%r is not in the output:\n%s" % (words, done.stdout[-4000:])
    assert not re.search("[\u4e00-\u9fff]", done.stdout + done.stderr), done.stdout[-4000:]
    record_timed(record_property, str(tmp_path / "over-range" / "summary.json"))
    summary = (tmp_path / "over-range" / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# Bench run: over-range — PASS") and "| expectation | result |" in summary
