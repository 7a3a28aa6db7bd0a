"""Every word the kitchen panel shows comes from the shared catalogue: Chinese first, the English beside it, in a
process that runs in English too (a Pi's LANG is often C or en_GB), and nothing hard-coded in its templates or
views that the catalogue does not hold."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gaslatch.panel import pins as P
from gaslatch.panel.words import pair
from gaslatch.translation import N_
from gaslatch.unit import store_health as H
from gaslatch.unit.event_store import StoreError
from gaslatch_tools import catalogues

ROOT = Path(__file__).resolve().parents[2]
PANEL = ROOT / "firmware" / "gaslatch" / "panel"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

DETECTOR = {"state": "normal", "concentration_centi_pct_lel": 0, "distrust": "", "reason": "", "inhibited": False}


def _status(**overrides) -> dict:
    base = {"latched": False, "trip_reason": "", "valve_fault": "", "reset_blockers": [], "interlocks": {},
            "inhibits": {}, "silenced_s": None, "schedule": "attended", "schedule_change_min": 80,
            "detectors": {"d1": dict(DETECTOR), "d2": dict(DETECTOR)},
            "config": {"identity": "ab" * 32, "short": "ab" * 6, "version": 3}, "now_ms": 70000,
            "recent_events": [
                {"t_ms": 1000, "type": "detector", "severity": "alarm", "source": "d1", "state": "high_alarm",
                 "value": 6000, "reason": "60.00 %LEL"},
                {"t_ms": 2000, "type": "trip", "severity": "alarm", "source": "controller", "state": "latched",
                 "reason": "gas: d1 high alarm"},
                {"t_ms": 3000, "type": "maintenance_due", "severity": "warning", "source": "d2:calibration",
                 "state": "soon", "value": "2026-12-17", "reason": "in 10 days"}],
            "maintenance": [
                {"asset": "d1", "task": "end_of_life", "due": "2026-01-10", "stage": "due", "days_left": -3},
                {"asset": "d2", "task": "calibration", "due": "2026-12-17", "stage": "soon", "days_left": 10},
                {"asset": "valve", "task": "end_of_life", "due": None, "stage": "unknown", "days_left": None}],
            "daily_check": {"enabled": True, "today": "missed", "due_by": "11:00", "done_by": "",
                            "items": [{"id": "hose", "zh": "连接软管无老化", "en": "Hoses not aged"}]}}
    base.update(overrides)
    return {"ok": True, "status": base}


def _alarm(state: str, **overrides) -> dict:
    return _status(latched=True, reset_blockers=["d1: %s" % state], detectors={
        "d1": dict(DETECTOR, state=state, concentration_centi_pct_lel=6000), "d2": dict(DETECTOR)}, **overrides)


STORE = "/var/lib/gaslatch/events.db"
# Each state the panel shows, and the Chinese a kitchen must read in it (the big state, what to do now).
STATES = {
    "gas_on": (_status(interlocks={"fire": True}, inhibits={"d2": 1800}, silenced_s=30),
               ["供气正常", "一切正常。下班时关闭燃气（人走阀关）。", "联锁", "屏蔽", "已消音", "营业时间", "营业中",
                "1 小时 20 分钟后关气（人走阀关）", "逾期 3 天", "还有 10 天", "未登记安装日期", "未按时检查",
                "11:00 前", "探测器 d1：高限报警", "燃气已切断并锁定", "最近事件"]),
    "gas_off": (_status(latched=True, trip_reason="outside attended hours", schedule="unattended",
                        schedule_change_min=5),
                ["燃气已关闭", "排除原因后，在控制器上按复位键恢复供气。", "请在控制器上按复位键", "非营业时间",
                 "5 分钟后营业", "只能在控制器上按复位键恢复供气，面板不能"]),
    "high_alarm": (_alarm("high_alarm"), ["燃气报警", "立即通风", "现在按复位键会被拒绝", "d1 高限报警 60.0 %LEL",
                                          "燃气已关闭"]),
    "low_alarm": (_alarm("low_alarm"), ["燃气报警", "探测器附近禁止明火", "d1 低限报警"]),
    "fault": (_status(detectors={"d1": dict(DETECTOR, state="comm_lost", reason="no reply"), "d2": dict(DETECTOR)},
                      self_test={"faults": ["file modified"]}, store={"ok": False, "error": ""}),
              ["故障", "燃气保护装置有故障", "d1 通讯中断：no reply", "自检失败：file modified", "self-test failed: file modified",
               "事件记录故障：请查看日志", "event store fault: see the journal", "供气中"]),
    # The controller runs on without its event store and says why (gaslatch/unit/store_health.py).
    "store_unopened": (_status(store={"ok": False, "lost": 2, "error": str(StoreError(STORE, *H.NOT_OURS))}),
                       ["故障", "事件记录故障：事件库 %s：是 SQLite 数据库，但不是 gaslatch 事件库" % STORE,
                        "event store fault: event store %s: is an SQLite database but not a gaslatch" % STORE]),
    "valve_fault": (_status(valve_fault="no feedback"),
                    ["故障", "切断阀未能动作", "阀门故障：no feedback", "valve fault: no feedback"]),
    "proving": (_status(latched=True, proving={"phase": "fill", "left_s": 20}),
                ["燃气已关闭", "正在检漏（燃气管道压力检测）", "正在检漏 proving the pipework: fill, 20 s"]),
    "no_contact": (None, ["控制器无响应", "面板收不到控制器的状态"]),
}

RENDER = r'''
import json, os, sys, time
from gaslatch import translation
from gaslatch.translation import _
assert translation.language_from(None, os.environ) == "en" and _("GAS ALARM") == "GAS ALARM", "not an English process"
from starlette.testclient import TestClient
from gaslatch.panel import pins as P
from gaslatch.panel.app import PanelSettings, create_app

folder, states = sys.argv[1], json.load(sys.stdin)
P.PinFile(folder + "/pins.json").set("installer", "3333")
record = folder + "/record.json"
with open(record, "w") as f:
    json.dump({"config": {"identity": "ab" * 32, "version": 3}, "valve_tests": [{"passed": True}]}, f)

class Feed:
    reply = None
    def latest(self):
        return 1, self.reply, "no control socket"
    def wait_fresh(self, timeout_s):
        pass

feed = Feed()
settings = PanelSettings("/nonexistent.sock", "root", P.PinFile(folder + "/pins.json"),
                         P.Lockout(folder + "/lockout.json", time.time), None, record_path=record)
pages = {}
with TestClient(create_app(settings, feed), follow_redirects=True) as client:
    feed.reply = None
    pages["wrong PIN"] = client.post("/pin", data={"pin": "9999", "pin_token": "x"}).text
    token = client.get("/").text.split('name="pin_token" value="')[1].split('"')[0]
    pages["PIN refused"] = client.post("/pin", data={"pin": "9999", "pin_token": token}).text
    pages["not found"] = client.get("/nowhere").text
    pages["commissioning, no PIN"] = client.get("/commissioning").text
    token = client.get("/").text.split('name="pin_token" value="')[1].split('"')[0]
    client.post("/pin", data={"pin": "3333", "pin_token": token})
    for name, reply in states.items():
        feed.reply = reply
        pages[name] = client.get("/").text
        pages[name + " (fragment)"] = client.get("/state").text
    feed.reply = states["gas_on"]
    pages["commissioning"] = client.get("/commissioning").text
    pages["config"] = client.get("/config").text
    pages["no form"] = client.post("/inhibit", data={"csrf": "x"}).text
    csrf = client.get("/").text.split('name="csrf" value="')[1].split('"')[0]
    pages["bad request"] = client.post("/inhibit", data={"csrf": csrf, "detector": "d1", "minutes": "x"}).text
print(json.dumps(pages))
'''


def _english_environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env.update(LANG="en_US.UTF-8", PYTHONPATH=os.pathsep.join([str(ROOT / "firmware"), str(ROOT / "host_tools")]))
    return env


def _pages(tmp_path) -> dict[str, str]:
    states = {name: reply for name, (reply, _words) in STATES.items()}
    done = subprocess.run([sys.executable, "-c", RENDER, str(tmp_path)], input=json.dumps(states),
                          env=_english_environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", "", html)).replace("&#39;", "'").replace("&amp;", "&")


def test_every_state_is_shown_in_chinese_with_the_english_beside_it_in_a_process_that_runs_in_english(tmp_path):
    pages = _pages(tmp_path)
    for name, (_reply, words) in STATES.items():
        for page in (pages[name], pages[name + " (fragment)"]) if name != "no_contact" else (pages[name],):
            shown = _text(page)
            missing = [word for word in words if word not in shown]
            assert missing == [], (name, missing)
    assert "GAS ALARM" in _text(pages["high_alarm"]) and "What to do now" in _text(pages["gas_on"])
    footer = _text(pages["gas_on"])
    for word in ("权限", "安装人员", "消音", "屏蔽探测器", "解除屏蔽", "输出测试", "配置", "调试记录", "退出", "每日检查", "确认"):
        assert word in footer, word
    assert "<title>燃气报警控制器 gaslatch</title>" in pages["gas_on"]
    assert "运行中的配置与调试记录一致" in _text(pages["commissioning"]) and "探测器通气试验" in _text(
        pages["commissioning"]) and "阀门测试 valve tests: 1 / 1 通过 passed" in _text(
        pages["commissioning"])
    assert "需要安装人员权限" in _text(pages["commissioning, no PIN"]) and "This needs the installer level" in _text(
        pages["commissioning, no PIN"])
    assert "请刷新页面" in _text(pages["wrong PIN"]) and "密码错误" in _text(pages["PIN refused"])
    assert pages["not found"] == "没有找到 Not found\n"
    assert "请先输入密码" in _text(pages["no form"]) and "请求无效" in _text(pages["bad request"])


def test_every_english_word_on_the_panel_follows_its_chinese(tmp_path):
    """Each `<span class="en">` follows Chinese: an English word left untranslated would show as English twice."""
    lone = []
    for name, page in _pages(tmp_path).items():
        for match in re.finditer(r'<span class="en">([^<]*)</span>', page):
            pieces = [piece for piece in re.split(r"<[^>]*>", page[:match.start()]) if piece.strip()]
            if not pieces or not CJK.search(pieces[-1]):
                lone.append((name, pieces[-1][-40:] if pieces else "", match.group(1)))
    assert lone == []


def _template_words(source: str) -> list[str]:
    """The text a template writes itself, outside Jinja's {{ }}, {% %}, {# #} and HTML's tags."""
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", source, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    return re.findall(r"[^\s:·—/(),.;|%]+", text)


def test_the_templates_write_no_word_of_their_own():
    """Chinese and English come through bi() (the catalogue): what is left is punctuation and the units after a
    number (s, min), v before a version and the product's name."""
    for path in sorted((PANEL / "templates").glob("*.html")):
        words = set(_template_words(path.read_text(encoding="utf-8")))
        assert words <= {"s", "min", "v", "gaslatch"}, (path.name, words - {"s", "min", "v", "gaslatch"})


def test_the_panel_s_python_holds_no_chinese_outside_the_english_messages():
    """Chinese in the panel's code would be a word the catalogue does not hold; only 人走阀关 inside an English
    message (the glossary keeps it in Chinese) and docstrings may have it."""
    found = []
    for path in sorted(PANEL.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("N_", "_"):
                allowed.update(id(arg) for arg in node.args)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body and isinstance(
                    node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                allowed.add(id(node.body[0].value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CJK.search(node.value) and \
                    id(node) not in allowed:
                found.append("%s:%d %r" % (path.name, node.lineno, node.value))
    assert found == []


def test_the_templates_messages_are_extracted_so_a_missing_one_fails_the_check():
    extracted = {m.id if isinstance(m.id, str) else m.id[0]: {where for where, _line in m.locations}
                 for m in catalogues.extract() if m.id}
    template = "firmware/gaslatch/panel/templates/%s"
    assert template % "state.html" in extracted["Recent events"]
    assert template % "state.html" in extracted["due by %(time)s"], "a message with values (bi keyword arguments)"
    assert template % "base.html" in extracted["gas alarm control unit"], "bi_zh"
    assert template % "commissioning.html" in extracted["Cannot compare"]
    assert "firmware/gaslatch/panel/state_view.py" in extracted["%(n)d day overdue"], "pair_n's plural"



def test_a_panel_whose_configuration_cannot_be_read_says_the_panel_will_not_start(tmp_path):
    for lang, said, wrong in (("zh", "面板不会启动", "控制器不会启动"), ("en", "the panel will not start", "controller")):
        done = subprocess.run([sys.executable, "-m", "gaslatch.unit", "--lang", lang, "panel", "--config",
                               str(tmp_path / "absent.json"), "--state-dir", str(tmp_path / "state")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and said in done.stderr and wrong not in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_an_unreadable_pin_file_is_told_in_chinese_beside_the_english(tmp_path):
    """The login page's refusal for a PIN file others may read: each half in its own language, whatever the panel
    process's language (a PrivateFileError told, not its English twice)."""
    path = tmp_path / "pins.json"
    path.write_text('{"levels": {}}', encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(P.PinError) as err:
        P.PinFile(str(path)).hashes()
    zh, en = pair(N_("The PIN file cannot be read: %(error)s"), error=err.value)
    assert zh.startswith("PIN 文件无法读取：面板 PIN 文件 %s 对其他用户开放" % path), zh
    assert en.startswith("The PIN file cannot be read: the panel PIN file %s is open to others" % path), en
