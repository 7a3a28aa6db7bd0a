"""What the console and the notices say of a warning's latest event, read back from the summary the warning keeps:
the headline in Chinese with the English beside it, the platform's own occurrences too, everything escaped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch_tools.platform import words
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.rules import Occurrence
from tests.platform.conftest import RULES


def occurrence(type_, state, source, value=None, reason="as recorded") -> Occurrence:
    return Occurrence("s1", "kitchen-1", type_, "alarm", source, state, value, reason, "e1", None, None, 0)


def test_a_warning_s_summary_reads_as_its_event_s_headline_in_both_languages():
    cases = [
        (occurrence("detector", "high_alarm", "hood1", 2500, "hood1 25.00 %LEL"),
         ("探测器 hood1：高限报警 (25.00 %LEL)", "detector hood1: high alarm (25.00 %LEL)")),
        (occurrence("trip", "latched", "controller", reason="gas: hood1 high alarm"),
         ("燃气已切断并锁定", "gas shut off and latched")),
        (occurrence("status", "silent", "uplink", 20, "no state report and no event for 20 min"),
         ("控制器失联：20 分钟没有消息", "unit silent: nothing heard for 20 min")),
        (occurrence("work_order", "overdue", "order 12", reason="due 2026-12-10 (Asia/Shanghai), officer wang"),
         ("工单逾期（order 12）", "work order past its due date (order 12)")),
    ]
    for occ, expected in cases:
        summary = WS.summary_of(occ)
        assert words.summary_headlines(summary) == expected, summary
        assert words.summary_event(summary)["reason"] == occ.reason
    html = words.summary_html(WS.summary_of(cases[0][0]))
    assert html == ('探测器 hood1：高限报警 (25.00 %LEL) <span class="en">detector hood1: high alarm (25.00 %LEL)</span>'
                    ' <span class="detail">(hood1 25.00 %LEL)</span>')


def test_a_summary_that_is_no_event_s_is_shown_as_stored_and_escaped():
    assert words.summary_html("<b>free text</b>") == "&lt;b&gt;free text&lt;/b&gt;"
    assert words.summary_html(None) == "None"


def test_the_console_s_words_are_escaped_and_a_rule_has_a_title_without_the_rules_file():
    assert words.html("Readings 15 minutes either side of warning %(id)s", id="<i>") == (
        '预警 &lt;i&gt; 前后 15 分钟的读数 <span class="en">Readings 15 minutes either side of warning &lt;i&gt;</span>')
    assert words.pair("Hazard ledger") == "隐患台账 Hazard ledger"
    assert words.rule_title(RULES.by_name, "high_alarm") == ("可燃气体高限报警", "combustible gas high alarm")
    assert words.rule_title({}, "maintenance_due") == ("维护到期", "maintenance due")
    assert words.rule_title({}, "a_new_rule") == ("a_new_rule", "a_new_rule")
    assert set(words.RULE_TITLES) == set(RULES.by_name), "every shipped rule has a title in the catalogue"
    for name, rule in RULES.by_name.items():
        assert words.RULE_TITLES[name] == rule.title["en"]
        assert words.both(words.RULE_TITLES[name]) == (rule.title["zh"], rule.title["en"]), name


@settings(max_examples=300)
@given(st.text(st.characters(codec=None), max_size=400) | st.none() | st.integers() | st.binary())
def test_any_summary_reads_as_one_safe_line_or_as_itself(summary):
    html = words.summary_html(summary)
    html.encode("utf-8")  # no lone surrogate reaches a page
    assert "\x00" not in html and "\u202e" not in html
