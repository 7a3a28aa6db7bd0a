"""`gaslatch commission report`: a full record renders to HTML and PDF in both languages, and an incomplete or
failed record says it must not be signed."""

import ast
import copy
import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch_tools.commission import (report, report_html, report_judge, report_pdf, report_plot,
                                      report_record, report_text)
from gaslatch_tools.commission.cli import commission
from gaslatch_tools.commission.record import LIMITS_S, Record, RecordError
from gaslatch_tools.commission.report_values import HIDDEN

PDFTOTEXT = shutil.which("pdftotext")
META = {"generated": "2026-05-12 15:00:00", "utc_offset": "+08:00", "record": "commissioning.json",
        "record_sha256": "0" * 64}


def bump_samples(time_to_alarm_s, recovery_s, removed_s=55.0, peak_pct_lel=30.0, alarm_pct_lel=10.0,
                 clear_pct_lel=8.0):
    """Readings [t_s from the gas applied, %LEL, state] as bump-test records them: a first-order rise that
    crosses the set point time_to_alarm_s after the gas is applied, a fall below it less the hysteresis
    recovery_s after the gas is removed."""
    rise_s = time_to_alarm_s / math.log(peak_pct_lel / (peak_pct_lel - alarm_pct_lel))
    at_removal = peak_pct_lel * (1 - math.exp(-removed_s / rise_s))
    fall_s = recovery_s / math.log(at_removal / clear_pct_lel)
    samples = []
    for t_s in range(0, int(removed_s + recovery_s + 20)):
        if t_s < removed_s:
            level = peak_pct_lel * (1 - math.exp(-t_s / rise_s))
        else:
            level = at_removal * math.exp(-(t_s - removed_s) / fall_s)
        samples.append([float(t_s), round(level, 2), "low_alarm" if level >= alarm_pct_lel else "normal"])
    return samples


def check(seconds, budget_s=3.0, source="controller outputs"):
    return {"s": seconds, "budget_s": budget_s, "ok": seconds <= budget_s, "source": source}


def bump(utc, time_to_alarm_s, recovery_s, valve_s=0.4, fan_s=0.5, sounder_s=0.3, passed=True, **extra):
    """A bump test entry as `bump-test` writes it with the unit running (mode linkage)."""
    entry = {"mode": "linkage", "source": "unit", "gas_pct_lel": 50.0, "expected": "high_alarm",
             "set_points_pct_lel": [10.0, 25.0], "problems": [], "any_alarm": True,
             "limits_s": {"time_to_alarm": 30.0, "recovery": 60.0, "linkage": 3.0},
             "time_to_alarm_s": time_to_alarm_s, "first_alarm_s": time_to_alarm_s, "high_alarm_s": None,
             "gas_removed_s": 55.0, "recovery_s": recovery_s, "samples": bump_samples(time_to_alarm_s, recovery_s),
             "linkage": {"fan": check(fan_s), "sounder": check(sounder_s), "valve": check(valve_s),
                         "valve_closed": {"s": 2.1, "budget_s": 5, "ok": True, "source": "closed limit switch"}},
             "reset": "accepted", "passed": passed, "failures": [] if passed else ["high alarm after 41.5 s"],
             "answers": [{"key": "apply_gas.x", "answer": "done"}], "utc": utc}
    entry.update(extra)
    return entry


def interlock(test, utc, **fields):
    entry = {"test": test, "failures": [], "passed": True, "answers": [], "utc": utc}
    entry.update(fields)
    return entry


CONFIG = {
    "detectors": {
        "hood1": {"kind": "modbus", "address": 1, "profile": "cn-generic", "location": "灶台上方吊顶下 0.2 m",
                  "gas": "methane", "low_alarm_pct_lel": 10, "high_alarm_pct_lel": 25},
        "hood2": {"kind": "modbus", "address": 2, "profile": "cn-generic", "location": "ceiling above wok 3",
                  "gas": "methane", "low_alarm_pct_lel": 10, "high_alarm_pct_lel": 25},
    },
    "interlocks": {"fire_input": True, "estop_input": True},
    "fan": {"proving": False},
    "schedule": {"enabled": True, "attended": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "23:00"},
        {"days": ["sat", "sun"], "from": "08:00", "to": "01:00"}]},
}


def pushed_config(directory, document=None):
    """The record's config section for a configuration file written into directory (None: a file not there)."""
    if directory is None:
        return {"path": "/nonexistent/config.json", "sha256": "0" * 64, "pushed_at": "2026-05-12T06:10:00.000Z"}
    path = os.path.join(str(directory), "config.json")
    raw = json.dumps(CONFIG if document is None else document, ensure_ascii=False).encode("utf-8")
    with open(path, "wb") as f:
        f.write(raw)
    return {"path": path, "sha256": hashlib.sha256(raw).hexdigest(), "pushed_at": "2026-05-12T06:10:00.000Z"}


def scanned(address):
    return {"address": address, "baud": 9600, "parity": "N", "stop_bits": 1, "profile": "cn-generic",
            "profile_candidates": ["cn-generic"], "registers_read": {"0": 4096}, "last_seen": "2026-05-12T05:50:00Z",
            "scan_problems": [], "scan_reading": {"pct_lel": 0.0, "status": "normal"}}


def complete_record(directory=None):
    """Every section filled in and every test passed: ready to sign."""
    hood1 = dict(scanned(1), model="GT-CH4-485", calibrations=[
        {"utc": "2026-05-12T06:01:00.000Z", "kind": "zero", "gas": "methane", "address": 1, "stable_s": 20,
         "before_pct_lel": 1.4, "after_pct_lel": 0.0, "ok": True, "register": 18, "value_written": 1},
        {"utc": "2026-05-12T06:05:00.000Z", "kind": "span", "gas": "methane", "address": 1, "stable_s": 20,
         "span_gas_pct_lel": 50.0, "before_pct_lel": 46.2, "after_pct_lel": 50.0, "ok": True}],
                 bump_tests=[bump("2026-05-12T06:20:00.000Z", 11.8, 24.5)])
    hood2 = dict(scanned(2), calibrations=[], bump_tests=[bump("2026-05-12T06:30:00.000Z", 9.2, 30.1)])
    return {
        "format": 1,
        "site": {"name": "川味小馆（南京路店）", "address": "上海市黄浦区南京东路 100 号", "owner": "上海川味餐饮有限公司"},
        "unit": {"name": "kitchen-1", "serial": "GL-2026-0042", "version": "0.1.0"},
        "installer": {"name": "王师傅", "company": "安泰燃气安全工程有限公司", "licence": "沪燃安 2025-118"},
        "bus": {"port": "/dev/ttyUSB0", "baud": 9600, "parity": "N", "stop_bits": 1,
                "scan": {"lines": ["9600 8N1"], "found": 2, "health": {"requests": 40, "errors": 0, "error_rate": 0.0,
                                                                       "reply_ms": {"p50": 21.5, "max": 30.2}},
                         "problems": [], "warnings": [], "utc": "2026-05-12T05:50:00.000Z"}},
        "detectors": {"hood1": hood1, "hood2": hood2},
        "valve_tests": [{"test": "valve", "valve_type": "hold", "feedback": "closed", "travel_s": 5,
                         "limits_s": {"command": 3.0}, "close_command_s": 0.12, "closed_s": 2.4,
                         "closed_source": "limit switch", "socket_reset": "waiting_for_button",
                         "remote_reopen_refused": True, "reopen_without_reset_refused": True, "reset": "accepted",
                         "reopen_command_s": 0.1, "reopen_s": None, "reopen_source": "controller valve supervision",
                         "failures": [], "passed": True, "answers": [], "utc": "2026-05-12T06:40:00.000Z"}],
        "interlock_tests": [
            interlock("fire", "2026-05-12T06:45:00.000Z", interlock="fire_alarm", limit_s=3.0, measured_s=0.2,
                      trip_s=0.2, valve_closed_s=2.3, reset="accepted"),
            interlock("estop", "2026-05-12T06:46:00.000Z", interlock="emergency_stop", limit_s=3.0, measured_s=0.15,
                      trip_s=0.15, valve_closed_s=2.2, reset="accepted"),
            interlock("power", "2026-05-12T06:50:00.000Z", observed_s=30, unit_stayed_up=True,
                      backup_running_confirmed=True),
            interlock("open-line", "2026-05-12T06:55:00.000Z", detector="hood2", limit_s=100.0, measured_s=42.0,
                      fault_s=42.0, fault_state="comm_lost", restored_s=3.2, reset="accepted")],
        "schedule": None,
        "config": pushed_config(directory),
        "log": [{"utc": "2026-05-12T05:50:00.000Z", "command": "scan", "summary": "2 detector(s) found at 9600 8N1"}],
    }


def failing_record(directory):
    """A slow detector, a configured detector never tested, a failed interlock and no config push."""
    data = complete_record(directory)
    document = copy.deepcopy(CONFIG)
    document["detectors"]["lpg1"] = {"kind": "modbus", "address": 3, "profile": "cn-generic", "location": "储气间",
                                     "gas": "lpg", "low_alarm_pct_lel": 10, "high_alarm_pct_lel": 25}
    data["config"] = pushed_config(directory, document)
    data["detectors"]["hood2"]["bump_tests"].append(
        bump("2026-05-12T07:00:00.000Z", 41.5, 30.0, passed=True))  # over the 30 s limit, though marked passed
    data["interlock_tests"][1].update(measured_s=5.2, passed=False,
                                      failures=["close command after 5.2 s, limit 3 s"])
    return data


def write_record(directory, data):
    path = os.path.join(directory, "commissioning.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    return path


def run_report(record_path, out_dir, *args, as_json=True):
    options = ["--record", record_path] + (["--json"] if as_json else [])
    return CliRunner().invoke(commission, options + ["report", "--out", out_dir] + list(args))


def pdf_text(path):
    assert PDFTOTEXT, "pdftotext (poppler-utils) is needed: apt-get install poppler-utils"
    return subprocess.run([PDFTOTEXT, "-layout", path, "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_complete_record_renders_html_and_pdf_that_open_and_is_ready_to_sign(tmp_path, lang):
    record_path = write_record(str(tmp_path), complete_record(tmp_path))
    result = run_report(record_path, str(tmp_path / "out"), "--lang", lang)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["ok"] and payload["ready_to_sign"] and payload["problems"] == []
    assert set(payload["files"]) == {"html", "pdf"}
    text = pdf_text(payload["files"]["pdf"])
    for name in ("hood1", "hood2", "GL-2026-0042", "ceiling above wok 3"):
        assert name in text
    assert ("燃气泄漏安全保护系统调试记录" in text and "可以签字" in text) if lang == "zh" else \
        ("commissioning record" in text and "READY TO SIGN" in text)
    assert "川味小馆" in text  # Chinese site names print in the English report too
    page = open(payload["files"]["html"], encoding="utf-8").read()
    assert 'id="ready"' in page and page.count("data:image/png;base64,") == 2


def test_an_incomplete_record_is_not_ready_to_sign_and_says_what_is_missing(tmp_path):
    record_path = write_record(str(tmp_path), failing_record(tmp_path))
    result = run_report(record_path, str(tmp_path / "out"))
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert not payload["ok"] and not payload["ready_to_sign"]
    assert [p["code"] for p in payload["problems"]] == ["bump_failed", "bump_missing", "interlock_failed"]
    messages = " ".join(p["message"] for p in payload["problems"])
    assert "hood2" in messages and "lpg1" in messages and "急停按钮" in messages
    text = pdf_text(payload["files"]["pdf"])
    assert "不可签字" in text and "lpg1" in text and "储气间" in text
    page = open(payload["files"]["html"], encoding="utf-8").read()
    assert "不可签字" in page and "未做通气试验" in page and "close command after 5.2 s, limit 3 s" in page


def test_the_english_report_says_not_ready_to_sign_on_every_page(tmp_path):
    record_path = write_record(str(tmp_path), failing_record(tmp_path))
    result = run_report(record_path, str(tmp_path), "--lang", "en", "--format", "pdf")
    assert result.exit_code == 1
    pages = [p for p in pdf_text(os.path.join(str(tmp_path), "report.pdf")).split("\f") if p.strip()]
    assert len(pages) >= 2 and all("NOT READY TO SIGN" in p for p in pages)


def test_the_text_output_lists_the_files_and_each_problem(tmp_path):
    record_path = write_record(str(tmp_path), failing_record(tmp_path))
    result = run_report(record_path, str(tmp_path), "--lang", "en", "--format", "html", as_json=False)
    assert result.exit_code == 1
    assert "wrote %s" % os.path.join(str(tmp_path), "report.html") in result.output
    assert "NOT READY TO SIGN" in result.output and "Detector lpg1: no bump test." in result.output
    assert not os.path.exists(os.path.join(str(tmp_path), "report.pdf"))


def test_the_html_shows_every_detector_and_every_test(tmp_path):
    data = failing_record(tmp_path)
    record_path = write_record(str(tmp_path), data)
    run_report(record_path, str(tmp_path), "--format", "html")
    page = open(os.path.join(str(tmp_path), "report.html"), encoding="utf-8").read()
    for name in ("hood1", "hood2", "lpg1"):
        assert 'id="detector-%s"' % name in page
    assert 'id="bump-hood1-1"' in page and 'id="bump-hood2-2"' in page and 'id="bump-lpg1-none"' in page
    assert page.count("data:image/png;base64,") == 3  # one plot per bump test
    assert 'id="valve-1"' in page
    for kind in report_judge.INTERLOCK_KINDS:
        assert report_text.TEXT["zh"]["interlock_" + kind] in page
    assert report_text.TEXT["zh"]["interlock_off"] in page  # fan proving: not enabled in this configuration
    assert "周六、周日 08:00–01:00（跨夜）" in page  # the schedule, from the pushed configuration
    assert "<script" not in page and "src=\"http" not in page  # self-contained


def test_a_bump_test_over_the_limit_fails_even_when_the_record_marks_it_passed():
    judged = report_judge.judge_bump(bump("2026-05-12T07:00:00Z", LIMITS_S["time_to_alarm"] + 0.1, 20.0, passed=True))
    assert judged.status == report_judge.FAIL
    slow_valve = report_judge.judge_bump(bump("2026-05-12T07:00:00Z", 10.0, 20.0, valve_s=LIMITS_S["linkage"] + 0.5))
    assert slow_valve.status == report_judge.FAIL
    at_the_limits = report_judge.judge_bump(bump("2026-05-12T07:00:00Z", LIMITS_S["time_to_alarm"],
                                                 LIMITS_S["recovery"], valve_s=LIMITS_S["linkage"]))
    assert at_the_limits.status == report_judge.PASS


def test_a_detector_that_never_recovered_fails_its_bump_test():
    entry = bump("2026-05-12T07:00:00Z", 10.0, 20.0, passed=False)
    entry["recovery_s"] = None
    judged = report_judge.judge_bump(entry)
    assert judged.status == report_judge.FAIL
    assert [item.status for item in judged.items if item.key == "recovery"] == [report_judge.MISSING]


def test_a_maintenance_bump_test_does_not_prove_the_linkage(tmp_path):
    data = complete_record(tmp_path)
    data["detectors"]["hood1"]["bump_tests"] = [bump("2026-05-12T06:20:00.000Z", 11.8, 24.5, mode="inhibit",
                                                     linkage=None, linkage_note="not tested: inhibited")]
    verdict = report_judge.readiness(data, CONFIG)
    assert verdict.problems == [("problem_bump_no_linkage", ("hood1",))]
    judged = report_judge.judge_bump(data["detectors"]["hood1"]["bump_tests"][0])
    assert judged.status == report_judge.PASS  # the detector itself passed: only the linkage is unproven


def test_a_linkage_proven_earlier_stands_behind_a_later_maintenance_bump_test(tmp_path):
    data = complete_record(tmp_path)
    data["detectors"]["hood1"]["bump_tests"].append(
        bump("2026-05-12T07:20:00.000Z", 12.0, 20.0, mode="inhibit", linkage=None))
    assert report_judge.readiness(data, CONFIG).ready


def test_a_low_alarm_bump_test_does_not_prove_the_valve(tmp_path):
    data = complete_record(tmp_path)
    entry = data["detectors"]["hood2"]["bump_tests"][0]
    entry.update(expected="low_alarm", gas_pct_lel=20.0)
    del entry["linkage"]["valve"], entry["linkage"]["valve_closed"]
    assert report_judge.judge_bump(entry).status == report_judge.PASS
    assert report_judge.readiness(data, CONFIG).problems == [("problem_bump_no_valve", ("hood2",))]


def test_a_repeated_bump_test_that_passes_replaces_an_earlier_failure(tmp_path):
    data = complete_record(tmp_path)
    data["detectors"]["hood1"]["bump_tests"].insert(0, bump("2026-05-12T06:15:00.000Z", 45.0, 20.0, passed=False))
    assert report_judge.readiness(data, CONFIG).ready


def test_calibrating_after_the_last_bump_test_asks_for_the_bump_test_again(tmp_path):
    data = complete_record(tmp_path)
    data["detectors"]["hood2"]["calibrations"].append(
        {"utc": "2026-05-12T06:35:00.000Z", "kind": "span", "span_gas_pct_lel": 50, "ok": True})
    assert report_judge.readiness(data, CONFIG).problems == [("problem_bump_before_calibration", ("hood2",))]


def test_a_refused_calibration_and_a_valve_that_reopens_block_signing(tmp_path):
    data = complete_record(tmp_path)
    data["detectors"]["hood1"]["calibrations"].append(
        {"utc": "2026-05-12T06:10:00.000Z", "kind": "span", "span_gas_pct_lel": 50, "ok": False,
         "reason": "the detector reads 12 %LEL on 50 %LEL span gas: under half"})
    valve = copy.deepcopy(data["valve_tests"][0])
    valve.update(utc="2026-05-12T07:00:00.000Z", reopen_without_reset_refused=False, passed=False,
                 failures=["the gas came back without the manual reset"])
    data["valve_tests"].append(valve)
    keys = [key for key, _args in report_judge.readiness(data, CONFIG).problems]
    assert keys == ["problem_calibration_failed", "problem_valve_failed"]


def test_the_interlocks_the_configuration_enables_must_be_tested(tmp_path):
    data = complete_record(tmp_path)
    data["interlock_tests"] = [e for e in data["interlock_tests"] if e["test"] not in ("power", "estop")]
    assert report_judge.readiness(data, CONFIG).problems == [
        ("problem_interlock_missing", (["interlock_estop"],)), ("problem_interlock_missing", (["interlock_power"],))]
    bs6173 = dict(CONFIG, fan={"mode": "continuous", "proving": True})
    assert report_judge.readiness(complete_record(tmp_path), bs6173).problems == [
        ("problem_interlock_missing", (["interlock_fan"],))]
    data = complete_record(tmp_path)
    data["interlock_tests"][3]["measured_s"] = LIMITS_S["open_line_fault"] + 1
    assert report_judge.readiness(data, CONFIG).problems == [("problem_interlock_failed", (["interlock_open-line"],))]


def test_without_the_configuration_the_optional_interlocks_are_left_to_check(tmp_path):
    data = complete_record(tmp_path)
    os.remove(data["config"]["path"])
    data["interlock_tests"] = [e for e in data["interlock_tests"] if e["test"] in ("power", "open-line")]
    blocks, verdict = report.build_document(data, "en", plotter=lambda *a: None)
    assert verdict.ready
    assert [args for key, args in verdict.warnings if key == "warn_interlock_unknown"] == [
        (["interlock_fire"],), (["interlock_estop"],), (["interlock_fan"],)]


def test_a_configuration_changed_after_the_push_is_flagged(tmp_path):
    data = complete_record(tmp_path)
    with open(data["config"]["path"], "a", encoding="utf-8") as f:
        f.write(" ")
    _blocks, verdict = report.build_document(data, "en", plotter=lambda *a: None)
    assert ("warn_config_changed", (data["config"]["path"],)) in verdict.warnings


def test_identification_not_recorded_is_left_to_fill_in_by_hand_without_blocking(tmp_path):
    data = complete_record(tmp_path)
    data["site"] = {}
    data["installer"].pop("company")
    verdict = report_judge.readiness(data, CONFIG)
    assert verdict.ready
    t = report_text.text_for("en")
    assert [report_text.describe(t, k, a) for k, a in verdict.warnings] == [
        "Site: Site name not recorded; fill it in by hand.", "Site: Address not recorded; fill it in by hand.",
        "Installer: Company not recorded; fill it in by hand."]


def test_a_missing_record_file_cannot_run(tmp_path):
    result = run_report(str(tmp_path / "nothing.json"), str(tmp_path))
    assert result.exit_code == 2
    assert json.loads(result.output)["error"] == "no_record"


def test_an_unknown_format_cannot_run(tmp_path):
    record_path = write_record(str(tmp_path), complete_record(tmp_path))
    result = run_report(record_path, str(tmp_path), "--format", "html,docx")
    assert result.exit_code == 2 and json.loads(result.output)["error"] == "bad_format"


def test_an_empty_record_renders_and_lists_everything_as_missing(tmp_path):
    record_path = write_record(str(tmp_path), {"format": 1})
    result = run_report(record_path, str(tmp_path), "--lang", "en")
    assert result.exit_code == 1
    codes = [p["code"] for p in json.loads(result.output)["problems"]]
    assert codes == ["no_detectors", "valve_missing", "interlock_missing", "interlock_missing", "config_missing"]
    assert "NOT READY TO SIGN" in pdf_text(os.path.join(str(tmp_path), "report.pdf"))


def test_fields_the_report_does_not_know_are_shown_as_key_and_value(tmp_path):
    data = complete_record(tmp_path)
    data["detectors"]["hood1"]["bump_tests"][0]["test_gas_cylinder"] = "CH4 2.5 %vol, lot 2291"
    data["detectors"]["hood1"]["firmware"] = "V2.3"
    data["valve_tests"][0]["valve_model"] = "DN25 电磁阀"
    blocks, _verdict = report.build_document(data, "en", plotter=lambda *a: None)
    page = report_html.render_html(blocks, "en", META)
    assert "test_gas_cylinder: CH4 2.5 %vol, lot 2291" in page and "V2.3" in page
    assert "valve_model: DN25 电磁阀" in page
    assert "registers_read" not in page and "apply_gas" not in page  # raw registers and prompt logs stay in JSON


def test_plots_fall_back_to_english_labels_without_a_chinese_font(monkeypatch):
    monkeypatch.setattr(report_plot, "cjk_font_path", lambda: None)
    assert report_plot.plot_language("zh") == "en"
    png = report_plot.bump_plot_png(bump("2026-05-12T07:00:00Z", 10.0, 20.0), {}, "zh")
    assert png.startswith(b"\x89PNG")


def test_the_pdf_text_drops_characters_the_built_in_fonts_cannot_draw():
    markup = report_pdf.pdf_markup("hood 1 — 后厨 😀 한 <b>")
    assert '<font face="STSong-Light">后厨</font>' in markup
    assert "😀" not in markup and "한" not in markup and "&lt;b&gt;" in markup


def test_every_string_exists_in_both_languages_with_the_same_placeholders():
    assert set(report_text.TEXT["zh"]) == set(report_text.TEXT["en"])
    for key, english in report_text.TEXT["en"].items():
        chinese = report_text.TEXT["zh"][key]
        assert (english.count("%s"), english.count("%d"), english.count("%g")) == \
            (chinese.count("%s"), chinese.count("%d"), chinese.count("%g")), key
        assert chinese.strip() and english.strip()


def test_the_bump_test_marks_follow_the_record():
    entry = bump("2026-05-12T07:00:00Z", 12.0, 20.0)
    assert report_plot.bump_marks(entry) == {"alarm": 12.0, "removed": 55.0, "recovered": 75.0}
    assert report_plot.bump_marks({"time_to_alarm_s": 9}) == {"alarm": 9.0}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=4), max_leaves=12)
entry_keys = st.sampled_from(["utc", "kind", "test", "passed", "ok", "time_to_alarm_s", "recovery_s", "linkage",
                              "samples", "measured_s", "limit_s", "applicable", "closed_s", "travel_s", "reset",
                              "remote_reopen_refused", "reopen_without_reset_refused", "before_pct_lel",
                              "failures", "mode", "expected", "set_points_pct_lel", "other"])
entries = st.lists(st.dictionaries(entry_keys, json_values, max_size=6) | json_values, max_size=3)


@given(bumps=entries, calibrations=entries, valves=entries, interlocks=entries,
       detector=st.dictionaries(st.sampled_from(["address", "model", "gas", "low_alarm_pct_lel", "location"]),
                                json_values, max_size=4),
       schedule=json_values, site=json_values,
       config=json_values | st.fixed_dictionaries({"path": st.text(max_size=12), "sha256": st.text(max_size=64)},
                                                   optional={"document": json_values}))
def test_any_record_content_renders_and_never_signs_off_an_untested_detector(bumps, calibrations, valves, interlocks,
                                                                            detector, schedule, config, site):
    data = copy.deepcopy(RECORD)
    data["detectors"]["hood1"].update(detector)
    data["detectors"]["hood1"]["bump_tests"] = bumps
    data["detectors"]["hood1"]["calibrations"] = calibrations
    data["detectors"]["untested"] = {"bump_tests": []}
    data.update(valve_tests=valves, interlock_tests=interlocks, schedule=schedule, config=config, site=site)
    for lang in report.LANGUAGES:
        blocks, verdict = report.build_document(data, lang, plotter=lambda *a: None)
        page = report_html.render_html(blocks, lang, META)
        assert not verdict.ready and ("problem_bump_missing", ("untested",)) in verdict.problems
        assert 'id="detector-untested"' in page


RECORD = complete_record(None)  # for the property test: its configuration file is not there


@given(st.lists(json_values, max_size=6))
def test_bump_samples_keep_only_numeric_time_and_reading_pairs(samples):
    points = report_plot.bump_samples({"samples": samples})
    assert all(isinstance(t, float) and isinstance(p, float) for t, p in points)
    assert points == sorted(points)


def test_a_detector_scanned_under_its_bus_name_is_the_configured_detector_at_that_address(tmp_path):
    data = complete_record(tmp_path)
    hood1 = data["detectors"].pop("hood1")
    data["detectors"]["d1"] = {k: v for k, v in hood1.items() if k != "bump_tests"}  # scan and calibrate: d1
    data["detectors"]["hood1"] = {"calibrations": [], "bump_tests": hood1["bump_tests"]}  # bump-test: the unit's name
    names = [name for name, _entry in report_record.detectors_in_order(data, CONFIG)]
    assert names == ["hood1", "hood2"]
    merged = dict(report_record.detectors_in_order(data, CONFIG))["hood1"]
    assert len(merged["calibrations"]) == 2 and len(merged["bump_tests"]) == 1 and merged["baud"] == 9600
    assert report_judge.readiness(data, CONFIG).ready


def test_an_entry_with_very_many_fields_still_prints(tmp_path):
    data = complete_record(tmp_path)
    entry = data["detectors"]["hood1"]["bump_tests"][0]
    entry.update({"extra_%03d" % i: "x" * 200 for i in range(100)})
    entry["failures"] = ["reason %d" % i for i in range(60)]
    entry["passed"] = False
    record_path = write_record(str(tmp_path), data)
    result = run_report(record_path, str(tmp_path), "--lang", "en")
    assert result.exit_code == 1, result.output
    assert "reason 18" in pdf_text(os.path.join(str(tmp_path), "report.pdf"))


def test_a_failed_linkage_is_not_hidden_by_a_later_maintenance_bump_test(tmp_path):
    data = complete_record(tmp_path)
    tests = data["detectors"]["hood1"]["bump_tests"]
    tests[0] = bump(tests[0]["utc"], 11.8, 24.5, fan_s=4.2, passed=False)
    tests.append(bump("2026-05-12T07:20:00.000Z", 12.0, 20.0, mode="inhibit", linkage=None))
    assert report_judge.readiness(data, CONFIG).problems == [("problem_bump_linkage_failed", ("hood1",))]


def test_a_hand_edited_record_with_odd_values_still_renders(tmp_path):
    """A source field holding a list or a dict must not crash the report (it used to: unhashable type)."""
    from gaslatch_tools.commission import report_judge

    entry = {"closed_source": ["limit switch"], "reopen_source": {"x": 1}, "passed": True,
             "valve_closed": {"source": ["?"]}}
    report_judge.judge_valve(entry)


@pytest.mark.parametrize("lang, label", [("zh", "配置标识"), ("en", "Configuration identity")])
def test_the_report_shows_the_configuration_identity_and_version_as_pushed(tmp_path, lang, label):
    data = complete_record(tmp_path)
    data["config"].update(identity="ab12" * 16, version=7)
    blocks, _verdict = report.build_document(data, lang, plotter=lambda *a: None)
    page = report_html.render_html(blocks, lang, META)
    assert label in page and "ab12" * 16 in page
    assert ">7<" in page.replace(" ", "")


@pytest.mark.parametrize("lang, words", [("zh", ("序列号", "安装日期", "上次标定日期")),
                                         ("en", ("Serial number", "Installed", "Last calibrated"))])
def test_the_report_carries_each_detector_s_and_the_valve_s_model_serial_and_dates_from_the_config(tmp_path, lang,
                                                                                                 words):
    """The commissioning record names what was installed when: the dates the unit's reminders count from."""
    document = copy.deepcopy(CONFIG)
    document["detectors"]["hood2"].update(model="GT-CH4-485", serial="SN-7781", installed="2026-05-12",
                                          calibrated="2026-05-12")
    document["valve"] = {"model": "ZCRB-DN25", "serial": "V-0099", "installed": "2026-05-11"}
    data = complete_record(tmp_path)
    data["config"]["document"] = document
    blocks, _verdict = report.build_document(data, lang, plotter=lambda *a: None)
    page = report_html.render_html(blocks, lang, META)
    for text in words + ("SN-7781", "2026-05-12", "ZCRB-DN25", "V-0099", "2026-05-11"):
        assert text in page, text


# ---- records with sections empty or missing: every table with no rows is said, never drawn empty ----

def record_of_tests_only(path):
    """A record as valve-test, bump-test and interlock-test write it on a unit never scanned from this laptop: a
    detector known only by its bump test, no bus, no configuration pushed."""
    record = Record(path)
    record.detector("hood1")["bump_tests"].append(bump("2026-05-12T06:20:00.000Z", 11.8, 24.5))
    record.add("valve_tests", complete_record(None)["valve_tests"][0])
    record.add("interlock_tests", interlock("power", "2026-05-12T06:50:00.000Z", observed_s=30, unit_stayed_up=True,
                                            backup_running_confirmed=True))
    record.note("valve-test", "PASS")
    record.save()
    return record


@pytest.mark.parametrize("lang, words", [("zh", ("不可签字", "hood1", "四、紧急切断阀测试")),
                                         ("en", ("NOT READY TO SIGN", "hood1", "4. Emergency shut-off valve"))])
def test_a_record_with_only_valve_bump_and_interlock_tests_renders_in_every_format(tmp_path, lang, words):
    record = record_of_tests_only(str(tmp_path / "commissioning.json"))
    result = run_report(record.path, str(tmp_path / "out"), "--lang", lang, "--format", "html,pdf")
    assert result.exit_code == 1, result.output  # not ready to sign; no traceback
    payload = json.loads(result.output)
    with open(payload["files"]["html"], encoding="utf-8") as f:
        page = f.read()
    text = pdf_text(payload["files"]["pdf"])
    for word in words:
        assert word in page and word.replace(" ", "") in text.replace(" ", ""), word


@pytest.mark.parametrize("lang, nothing", [("zh", "无记录。"), ("en", "Nothing recorded.")])
def test_a_table_without_rows_says_nothing_was_recorded_in_html_and_pdf(tmp_path, lang, nothing):
    record = Record(str(tmp_path / "commissioning.json"))
    record.add("valve_tests", complete_record(None)["valve_tests"][0])
    record.save()
    blocks, _verdict = report.build_document(record.data, lang, plotter=lambda *a: None)
    assert not [b for b in blocks if b[0] == "table" and not b[2]] and not [b for b in blocks if b == ("kv", [])]
    result = run_report(record.path, str(tmp_path / "out"), "--lang", lang)
    payload = json.loads(result.output)
    with open(payload["files"]["html"], encoding="utf-8") as f:
        assert nothing in f.read()  # the detectors' summary: no detector recorded
    assert nothing.replace(" ", "") in pdf_text(payload["files"]["pdf"]).replace(" ", "")


FILLED = complete_record(None)
SECTIONS = sorted(key for key in FILLED if key != "format")


@settings(max_examples=30)
@given(st.dictionaries(st.sampled_from(SECTIONS), st.sampled_from(["missing", "empty", "none", "filled"])),
       st.sampled_from(["as chosen", "tests only"]))
def test_a_record_with_any_sections_empty_or_missing_renders_every_format(choices, detectors):
    data = {"format": 1}
    for section_name in SECTIONS:
        choice = choices.get(section_name, "filled")
        empty = [] if isinstance(FILLED[section_name], list) else {}
        if choice != "missing":
            data[section_name] = {"empty": empty, "none": None, "filled": copy.deepcopy(FILLED[section_name])}[choice]
    if detectors == "tests only":  # a detector with nothing but its bump tests: no fields to list
        data["detectors"] = {"hood1": {"bump_tests": copy.deepcopy(FILLED["detectors"]["hood1"]["bump_tests"])}}
    with tempfile.TemporaryDirectory() as directory:
        path = write_record(directory, data)
        try:
            record = Record.load(path)
        except RecordError as err:  # the loader may refuse a record it cannot use, saying why
            assert path in err.message and err.hint
            return
        for lang in report.LANGUAGES:
            blocks, _verdict = report.build_document(record.data, lang, plotter=lambda *a: None)
            assert report_html.render_html(blocks, lang, META).startswith("<!DOCTYPE html>")
            assert report_pdf.render_pdf(blocks, lang, META, False).startswith(b"%PDF")


def test_the_chinese_report_uses_the_glossarys_terms():
    chinese = "\n".join(report_text.TEXT["zh"].values())
    for term in ("低限报警", "高限报警", "通讯中断", "急停按钮", "临时屏蔽", "蜂鸣器"):
        assert term in chinese, term
    for old in ("一级报警", "二级报警", "通信中断", "紧急停止按钮", "抑制", "声光报警器动作"):
        assert old not in chinese, old


CHECKS = Path(report.__file__).parent


def fields_written(module: str) -> set:
    """The fields a check writes into its record entry: entry["key"] = ..., and the keys of entry = {...}."""
    def is_entry(node):
        return (isinstance(node, ast.Name) and node.id in ("entry", "attempt")) or (
            isinstance(node, ast.Attribute) and node.attr == "attempt")

    found = set()
    for node in ast.walk(ast.parse((CHECKS / module).read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript) and is_entry(target.value) and \
                        isinstance(target.slice, ast.Constant):
                    found.add(target.slice.value)
                if is_entry(target) and isinstance(node.value, ast.Dict):
                    found |= {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
    return found


@pytest.mark.parametrize("module", ["bump_check.py", "valve_check.py", "interlock_check.py", "calibration.py"])
def test_every_field_a_check_writes_has_a_label_in_both_languages(module):
    laid_out = report.BUMP_SHOWN | report.CALIBRATION_SHOWN | report.VALVE_SHOWN | report.INTERLOCK_SHOWN | HIDDEN
    written = fields_written(module)
    assert len(written) > 5  # the walk finds the check's fields
    unlabelled = sorted(key for key in written - laid_out
                        if "field_" + key not in report_text.TEXT["zh"] or "field_" + key not in report_text.TEXT["en"])
    assert unlabelled == [], "add field_<key> to both tables of commission/report_text.py"


@pytest.mark.parametrize("lang, label", [("zh", "控制器中探测器状态恢复正常"), ("en", "Detector normal again")])
def test_the_bump_tests_normal_time_shows_with_its_label(lang, label):
    data = complete_record(None)
    data["detectors"]["hood1"]["bump_tests"][0]["normal_s"] = 14.897
    blocks, _verdict = report.build_document(data, lang, plotter=lambda *a: None)
    page = report_html.render_html(blocks, lang, META)
    assert label in page and "14.9 s" in page and "normal_s" not in page
