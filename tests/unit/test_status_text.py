"""`gaslatch status` and the kitchen panel show each reading in its own unit: ppm for CO and CO2, never %LEL."""

from gaslatch.panel.state_view import view
from gaslatch.unit.status_text import status_text
from gaslatch_tools.kitchen_sim import run_reference_scenario


def co2_status_reply() -> dict:
    """The reference kitchen (two gas detectors, one CO2 module) at the end of its scenario, CO2 at 450 ppm."""
    sim = run_reference_scenario()
    return {"ok": True, "status": sim.controller.status(sim.now_ms)}


def test_status_shows_a_co2_reading_in_ppm_and_a_gas_reading_in_pct_lel():
    text = status_text(co2_status_reply())
    rows = {}
    for line in text.splitlines():  # the detectors' table comes first (the maintenance table names them too)
        if line.split() and line.split()[0] in ("c1", "d1"):
            rows.setdefault(line.split()[0], line)

    assert "450 ppm CO2" in rows["c1"] and "LEL" not in rows["c1"]
    assert "0.00 %LEL" in rows["d1"]


def test_the_panel_shows_a_co2_reading_in_ppm():
    rows = {row["name"]: row for row in view(co2_status_reply())["detectors"]}

    assert rows["c1"]["reading"] == "450 ppm CO2"
    assert rows["d1"]["reading"] == "0.0 %LEL"


# ---- any status reply, whatever its fields hold, gives a whole screen (adversarial review, issue 18) ----

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gaslatch import translation  # noqa: E402
from gaslatch.core.events import is_unsafe_code_point  # noqa: E402
from gaslatch_tools.testing.language import reading  # noqa: E402

STATUS_KEYS = ("latched", "trip_reason", "valve_fault", "proving", "trip_causes", "reset_blockers", "schedule",
               "schedule_change_min", "daily_check", "silenced_s", "inhibits", "detectors", "outputs", "interlocks",
               "airflow", "maintenance", "buses", "scan", "config", "self_test", "store", "ports", "clock_synced")
_LEAF = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10 ** 5000, max_value=10 ** 5000), st.floats(),
                  st.text(max_size=8), st.sampled_from(["normal", "high_alarm", "attended", "done", "check", "\x00",
                                                        "\u202e", "\ud800", "\x1b[2J", "a\nb"]))
_JUNK = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6), inner, max_size=3), max_leaves=12)


@pytest.fixture(params=["zh", "en"])
def reader(request):
    with reading(request.param):
        yield request.param


def _readable(text: str) -> None:
    text.encode("utf-8")  # no lone surrogate reaches the terminal
    for char in text:
        assert char == "\n" or not is_unsafe_code_point(ord(char)), repr(char)  # as events show them


def test_a_field_of_the_wrong_kind_hides_nothing_else_of_the_status(reader):
    """An older or newer controller may send a field in another shape: the latch line is still there, and the
    field is said to be unreadable rather than the command ending in a traceback."""
    text = status_text({"ok": True, "status": {"latched": True, "detectors": ["d1"], "schedule": ["attended"],
                                               "trip_causes": 3, "trip_reason": "fire\x1b[2J\u202e"}})
    assert translation._("LATCHED: gas off until a local reset") in text
    assert "\\x1b" in text and "\\u202e" in text
    _readable(text)


@settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None)
@given(status=st.dictionaries(st.sampled_from(STATUS_KEYS), _JUNK, max_size=8), latched=st.booleans())
def test_any_status_reply_renders_as_readable_text(reader, status, latched):
    text = status_text({"ok": True, "status": {**status, "latched": latched}})
    _readable(text)
    assert translation._("LATCHED: gas off until a local reset" if latched else "ARMED: gas may flow") in text


@settings(max_examples=100, suppress_health_check=list(HealthCheck), deadline=None)
@given(reply=st.dictionaries(st.sampled_from(("ok", "reasons", "error", "status")), _JUNK, max_size=4))
def test_any_reply_at_all_renders_as_readable_text(reader, reply):
    _readable(status_text(reply))


def test_a_zero_width_character_in_a_name_takes_no_cell_so_the_columns_still_line_up():
    """A detector named with a zero-width space, joiner or variation selector (pasted from a chat app) took one
    cell each in the count but none on the terminal: every column after it shifted left."""
    from gaslatch.unit.text_table import cells, render

    assert cells("d1\u200b") == cells("d1\u2060") == cells("d1\ufe0f") == cells("d\u200d1") == 2
    assert cells("e\u0301") == 1 and cells("探测器") == 6 and cells("a\u00ad") == 2  # a soft hyphen is shown
    table = render("T", ["name", "state"], [["d1\u200b\u200b", "ok"], ["d22", "ok"]]).splitlines()
    assert table[2].index("ok") - 2 == table[3].index("ok")  # the same cell, after two zero-width characters


# ---- names and the self-test in the reader's language ----

SELF_TEST_REPLY = {"ok": True, "status": {
    "latched": True, "outputs": {"valve": False, "sounder": True, "beacon": True, "fan": True, "fault_relay": False},
    "interlocks": {"emergency_stop": True, "fire_alarm": False, "ventilation": True}, "airflow": "bridged",
    "self_test": {"summary": "no manifest configured: code and profiles not checked", "faults": []}}}


def test_outputs_interlocks_and_the_self_test_read_in_chinese(reader):
    text = status_text(SELF_TEST_REPLY)
    tables = {line.split()[0]: line for line in text.splitlines() if line.split()}
    if reader == "zh":
        for name in ("紧急切断阀", "蜂鸣器", "报警灯", "排风机", "故障继电器", "急停按钮", "火灾报警信号", "排风联锁"):
            assert name in tables, (name, text)
        assert "（气流 开关被短接）" in tables["排风联锁"]
        assert "自检：未配置安装清单：未检查程序和协议配置文件" in text
        for code in ("fault_relay", "emergency stop", "fire alarm", "ventilation", "sounder", "no manifest"):
            assert code not in text, code
    else:
        for name in ("valve", "sounder", "beacon", "fan", "fault", "emergency", "fire", "ventilation"):
            assert name in tables, (name, text)
        assert "fault relay" in text and "ACTIVE (airflow bridged)" in tables["ventilation"]
        assert "Self-test: no manifest configured: code and profiles not checked" in text


def test_a_failed_self_test_lists_its_faults_in_the_readers_language(reader):
    text = status_text({"ok": True, "status": {"latched": True, "self_test": {
        "summary": "failed: file modified since install: gaslatch/core/safety.py",
        "faults": ["file modified since install: gaslatch/core/safety.py", "a fault from a newer unit"]}}})
    shown = "安装后文件被修改：gaslatch/core/safety.py" if reader == "zh" else \
        "file modified since install: gaslatch/core/safety.py"
    assert "  - %s" % shown in text and "  - a fault from a newer unit" in text
