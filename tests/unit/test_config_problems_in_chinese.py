"""A configuration's problems in Chinese, as a Chinese installer reads them (issue 18): `gaslatch check-config` and
`gaslatch run` on a real terminal whose LANG is zh_CN.UTF-8, every problem's template in the catalogue and
filled by its values, and a translation that does not fit its values shown in English rather than crashing.

The core keeps each problem as an English template and its values (gaslatch/core/text.py); the English output and
--json are unchanged (tests/core and tests/unit assert them).
"""

import ast
import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch import translation
from gaslatch.core.config import format_problems as english_report
from gaslatch.core.config import validate
from gaslatch.core.text import Joined, Text
from gaslatch.problem_text import format_problems, problem_text
from gaslatch_tools import catalogues
from gaslatch_tools.testing.kitchen_config import kitchen_config
from gaslatch_tools.testing.terminal import run_in_terminal

ROOT = Path(__file__).resolve().parents[2]
# The files whose problems are written as N_() templates (babel.cfg extracts the core's five).
TEMPLATE_FILES = ("firmware/gaslatch/core/config.py", "firmware/gaslatch/core/json_schema_subset.py",
                  "firmware/gaslatch/core/controller.py", "firmware/gaslatch/core/detector_profile.py",
                  "firmware/gaslatch/core/profile_check.py", "firmware/gaslatch/unit/wiring.py",
                  "firmware/gaslatch/unit/unit_config.py")
ZH = translation.in_language("zh")


def bad_config(workdir):
    """The kitchen's config with five mistakes an installer makes: a number in quotes, a misspelt section, set
    points the wrong way round, a bus that does not exist, two detectors at one address."""
    doc = kitchen_config(str(workdir), [str(workdir / "ttyBUS1")], detectors_per_bus=3)
    doc["scan"]["period_ms"] = "100"
    doc["valv"] = {}
    doc["detectors"]["d1"].update(low_alarm_pct_lel=20, high_alarm_pct_lel=15)
    doc["detectors"]["d2"]["bus"] = "bus9"
    doc["detectors"]["d3"]["address"] = 1
    path = workdir / "config.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def gaslatch(*args, locale="zh_CN.UTF-8"):
    code, shown = run_in_terminal([sys.executable, "-m", "gaslatch_tools.cli", *args], locale=locale, timeout_s=60)
    return code, shown.replace("\r\n", "\n")


def test_check_config_on_a_chinese_terminal_lists_every_problem_in_chinese(tmp_path):
    code, shown = gaslatch("check-config", str(bad_config(tmp_path)))
    assert code == 1, shown
    assert "配置有 5 个问题；控制器不会启动：" in shown
    assert '  $.scan.period_ms: 应为整数，实际为文本 "100"\n      提示：请填写从 5 到 500 的整数，例如 100（不加引号）' in shown
    assert '  $.valv: 未知的键 "valv"\n      提示：是不是 "valve"？' in shown
    assert ("  $.detectors.d1.low_alarm_pct_lel: 低限报警 20 %LEL 必须低于高限报警 15 %LEL\n"
            "      提示：将 low_alarm_pct_lel 设为低于 high_alarm_pct_lel（默认 10 和 25）") in shown
    assert '  $.detectors.d2.bus: 没有名为 "bus9" 的总线\n      提示：是不是 "bus1"？' in shown
    assert '  $.detectors.d3.address: 总线 "bus1" 上的地址 1 也被探测器 "d1" 使用' in shown
    assert "为总线上的每个探测器分配各自的地址（1-247）" in shown
    assert "hint:" not in shown and "expected" not in shown and "Traceback" not in shown


def test_run_on_a_chinese_terminal_refuses_the_file_in_chinese_and_english_stays_as_it_was(tmp_path):
    path = bad_config(tmp_path)
    code, shown = gaslatch("run", "--config", str(path))
    assert code == 2, shown
    assert "配置有 5 个问题；控制器不会启动：" in shown and "提示：是不是 \"valve\"？" in shown

    code, shown = gaslatch("check-config", str(path), locale="C.UTF-8")
    assert code == 1, shown
    problems = validate(json.loads(path.read_text(encoding="utf-8")), {"cn-generic": "modbus"})
    assert english_report(problems) in shown  # the core's English report, byte for byte
    assert "configuration has 5 problems; the controller will not start:" in shown
    assert '  $.valv: unknown key "valv"\n      hint: did you mean "valve"?' in shown


def test_commission_config_validate_speaks_chinese_and_its_json_keeps_the_english(tmp_path):
    path = bad_config(tmp_path)
    code, shown = gaslatch("commission", "config", "validate", str(path))
    assert code == 1, shown
    assert "配置有 5 个问题；控制器不会启动：" in shown and '没有名为 "bus9" 的总线' in shown
    code, shown = gaslatch("commission", "--json", "config", "validate", str(path))
    payload = json.loads(shown[shown.index("{"):])
    messages = {problem["path"]: problem["message"] for problem in payload["problems"]}
    assert messages["$.detectors.d2.bus"] == 'no bus named "bus9"'
    assert messages["$.scan.period_ms"] == 'expected a whole number, found text "100"'


# ---------------------------------------------------------------------------------------------
# Every template: in the catalogue, filled by the values the code gives it.

def _templates_and_names():
    """[(where, template, the names its N_() call gives)] of every N_("...", name=...) in TEMPLATE_FILES."""
    found = []
    for relative in TEMPLATE_FILES:
        tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "N_" \
                    and node.args and isinstance(node.args[0], ast.Constant):
                found.append(("%s:%d" % (relative, node.lineno), node.args[0].value,
                              {keyword.arg for keyword in node.keywords}))
    return found


def test_every_template_is_filled_by_the_values_its_call_names_and_is_translated():
    templates = _templates_and_names()
    assert len(templates) > 150
    wrong = []
    for where, template, names in templates:
        positional, named = catalogues.placeholders(template)
        wanted = {item.split(":")[0] for item in named}
        if positional or wanted != names:
            wrong.append("%s %r: placeholders %s, given %s" % (where, template, sorted(wanted), sorted(names)))
        if not names and "%" in template:
            wrong.append("%s %r: a %% in a template without values is shown as written" % (where, template))
        if ZH.gettext(template) == template:
            wrong.append("%s %r: not in the Chinese catalogue" % (where, template))
    assert wrong == []


def _templates_of(text):
    """Every template a rendered Text uses, its values' too."""
    if isinstance(text, Joined):
        return [text.template] + [t for part in text.parts for t in _templates_of(part)]
    if isinstance(text, Text):
        return [text.template] + [t for value in (text.args or {}).values() for t in _templates_of(value)]
    return []


# A config the core checks, with values of any JSON type in the places installers get wrong.
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10 ** 20, 10 ** 20) | st.floats(allow_nan=False)
                           | st.text(max_size=12), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
PLACES = [("scan", "period_ms"), ("detectors", "d1", "address"), ("detectors", "d1", "low_alarm_pct_lel"),
          ("detectors", "d1", "high_alarm_pct_lel"), ("detectors", "d1", "kind"), ("detectors", "d2", "bus"),
          ("detectors", "d2", "measurand"), ("buses", "bus1", "baud"), ("buses", "bus1", "parity"),
          ("schedule",), ("zones",), ("valve", "type"), ("alarm",), ("unit", "name"), ("lines", "valve"),
          ("daily_check",), ("proving",), ("fan",), ("detectors", "d1", "calibrated"), ("nonsense",)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PLACES), json_values), min_size=1, max_size=4))
def test_any_bad_config_renders_in_chinese_without_an_error_and_every_template_is_translated(edits):
    doc = kitchen_config("/tmp/gaslatch-zh", ["/dev/ttyUSB0"])
    for keys, value in edits:
        target = doc
        for key in keys[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[keys[-1]] = value
    problems = validate(doc, {"cn-generic": "modbus", "contact-dry": "contact"})
    report = format_problems(problems, ZH.gettext, ZH.ngettext)
    assert report.startswith("配置有 %d 个问题" % len(problems))
    for problem in problems:
        message, hint = problem_text(problem, ZH.gettext)
        assert (message, hint) != (problem.message, problem.hint) or not isinstance(problem.message_text, Text)
        for template in _templates_of(problem.message_text) + _templates_of(problem.hint_text):
            assert ZH.gettext(template) != template, template


def test_a_translation_that_does_not_fit_its_values_shows_that_problem_in_english_not_a_crash():
    problems = validate({"unit": {"site": "s", "name": "n"}, "scan": {"period_ms": "100"}, "valv": {}})
    broken = {"unknown key %(key)s": "未知的键 %(name)s", "did you mean %(guess)s?": "是不是 %(guess)d？"}

    def gettext(message):
        return broken.get(message) or ZH.gettext(message)

    report = format_problems(problems, gettext, ZH.ngettext)
    assert '  $.valv: unknown key "valv"\n      提示：did you mean "valve"?' in report
    assert '  $.scan.period_ms: 应为整数，实际为文本 "100"' in report


def test_english_is_the_cores_report_byte_for_byte():
    problems = validate({"scan": {"period_ms": 1}, "valv": {}, "detectors": {"a": {"kind": "modbus"}}})
    english = translation.in_language("en")
    assert format_problems(problems, english.gettext, english.ngettext) == english_report(problems)
    assert re.match(r"configuration has \d+ problems; the controller will not start:", english_report(problems))


@pytest.mark.parametrize("hostile", ["\ud800", "\x00nul", "x" * 500, "%(key)s %s %%", "\u202eevil"])
def test_hostile_names_and_keys_render_in_chinese(hostile):
    doc = {"unit": {"site": hostile, "name": "n"}, hostile: 1, "detectors": {"d1": {"kind": "modbus", "bus": hostile,
                                                                                  "address": 1, "profile": hostile}}}
    problems = validate(doc, {"cn-generic": "modbus"})
    report = format_problems(problems, ZH.gettext, ZH.ngettext)
    assert "配置有" in report and "\x00" not in report and "\ud800" not in report


def test_a_broken_profile_is_named_in_chinese_with_its_file(tmp_path):
    from tests.unit.test_config_refusals import broken_profile_problems

    report = format_problems(broken_profile_problems(tmp_path), ZH.gettext, ZH.ngettext)
    assert report == ("配置有 1 个问题；控制器不会启动：\n"
                      "  profiles/cn-generic.json $.reads[0].count: 0 低于最小值 1\n"
                      "      提示：请填写从 1 到 125 的整数（或重新安装 gaslatch）")


def test_wiring_problems_are_in_chinese_too(tmp_path):
    from gaslatch.core.config import ConfigError
    from gaslatch.unit.unit_config import load_unit_config

    doc = kitchen_config(str(tmp_path), [str(tmp_path / "ttyBUS1")])
    del doc["lines"]["valve"]
    doc["lines"]["fan"]["pin"] = doc["lines"]["sounder"]["pin"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_unit_config(str(path))
    report = format_problems(caught.value.problems, ZH.gettext, ZH.ngettext)
    assert "  $.lines: 线路 valve 未接线（切断阀是控制器的根本）\n" in report
    assert '      提示：在 "lines" 下添加 "valve": {"pin": N, "active": "high" 或 "low"}' in report
    assert "  $.lines.sounder.pin: GPIO13 也被线路 fan 使用\n      提示：为每条线路分配各自的引脚" in report
    assert english_report(caught.value.problems) == str(caught.value)
