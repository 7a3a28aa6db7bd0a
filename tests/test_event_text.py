"""An event's headline is rendered in the reader's language from the codes the record keeps (issue 18).

A Chinese and an English reader of one record read the same thing; every type and state docs/events.md lists
has its own headline; and no record, whatever its fields hold, can fail the listing or page that shows it.
"""

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch import event_text, translation
from gaslatch.core import events as E
from gaslatch_tools.testing.language import reading

ROOT = Path(__file__).resolve().parents[1]
ZH, EN = translation.in_language("zh").gettext, translation.in_language("en").gettext


def documented_pairs():
    """(type, state) of every row of docs/events.md's Types table."""
    pairs = set()
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    table = text.split("## Types\n\n", 1)[1].split("\n\n", 1)[0]
    for row in table.splitlines()[2:]:
        cells = row.split("|")
        type_ = cells[1].strip().strip("`")
        pairs |= {(type_, state) for state in re.findall(r"`([a-z_]+)`", cells[2])}
    return pairs


def test_every_documented_type_and_state_has_a_headline_of_its_own():
    assert documented_pairs() == set(event_text.HEADLINES)
    types = {value for name, value in vars(E).items() if name.isupper() and isinstance(value, str)
             and not name.startswith(("SEVERITY", "TRUNCATED"))}
    assert {type_ for type_, _state in event_text.HEADLINES} <= types


def test_one_record_reads_the_same_in_chinese_and_english():
    alarm = {"type": "detector", "state": "high_alarm", "source": "hood1", "value": 4200, "reason": "x"}
    assert event_text.headline(alarm, ZH) == "探测器 hood1：高限报警 (42.00 %LEL)"
    assert event_text.headline(alarm, EN) == "detector hood1: high alarm (42.00 %LEL)"
    due = {"type": "maintenance_due", "state": "due", "source": "hood1:calibration", "value": "2026-12-01"}
    assert event_text.headline(due, ZH) == "hood1：标定 已于 2026-12-01 到期，已超期"
    assert event_text.headline(due, EN) == "hood1: calibration overdue since 2026-12-01"
    co2 = {"type": "detector", "state": "high_alarm", "source": "co2", "value": None}
    assert event_text.headline(co2, EN) == "detector co2: high alarm"  # its ppm reading is in the reason


def test_an_unknown_type_or_state_still_says_what_the_record_holds():
    assert event_text.headline({"type": "future", "state": "new", "source": "x"}, EN) == "future x: new"


def test_the_process_language_is_the_default():
    with reading("zh"):
        assert event_text.headline({"type": "trip", "state": "latched"}) == "燃气已切断并锁定"


HOSTILE_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=300) | st.sampled_from(
    ["\ud800", "\x00", "\u202e", "%s", "%(source)s", "%", "a" * 5000])
ANY_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE_TEXT
                         | st.integers(min_value=10 ** 4400, max_value=10 ** 4401), lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(HOSTILE_TEXT, inner, max_size=3), max_leaves=8)


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(["type", "state", "source", "value", "reason"]) | HOSTILE_TEXT, ANY_VALUE)
       | st.builds(dict, type=st.sampled_from(sorted({t for t, _s in event_text.HEADLINES})),
                   state=st.sampled_from(sorted({s for _t, s in event_text.HEADLINES})), source=ANY_VALUE,
                   value=ANY_VALUE))
def test_no_record_fails_its_headline_in_either_language(event):
    for gettext in (ZH, EN):
        text = event_text.headline(event, gettext)
        assert isinstance(text, str) and len(text) < 1000


def test_a_detector_reading_no_float_holds_is_left_out_not_a_failure():
    # Found by the panel's hypothesis test: 10 ** 400 / 100 raised OverflowError and took the page's events with it.
    for value in (10 ** 400, -10 ** 5000):
        assert event_text.headline({"type": "detector", "state": "normal", "source": "d1", "value": value}, EN) == \
            "detector d1: normal"
    assert event_text.headline({"type": "detector", "state": "normal", "source": "d1", "value": 1234}, EN) == \
        "detector d1: normal (12.34 %LEL)"


def test_an_event_without_its_value_says_what_happened_without_a_blank():
    # The controller's status lists recent events without their values: the panel showed "inhibited for - min".
    inhibit = {"type": "inhibit", "state": "started", "source": "d2", "reason": "inhibited for 15 min"}
    assert event_text.headline(inhibit, EN) == "detector d2 inhibited"
    assert event_text.headline(inhibit, ZH) == "探测器 d2 已屏蔽"
    assert event_text.headline(dict(inhibit, value=15), EN) == "detector d2 inhibited for 15 min"
    due = {"type": "maintenance_due", "state": "soon", "source": "d1:calibration"}
    assert event_text.headline(due, EN) == "d1: calibration due soon"
    for (type_, state), message in event_text.WITHOUT_VALUE.items():
        assert "%(value)s" in event_text.HEADLINES[type_, state] and "%(value)s" not in message
        assert "-" not in event_text.headline({"type": type_, "state": state, "source": "x:y"}, ZH)


def test_a_detector_value_beyond_any_reading_is_shown_without_one():
    """A stored row from a peer may hold any integer: one beyond a float's range made the headline (and the
    console's page showing it) fail dividing it into %LEL."""
    for value in (10 ** 400, -10 ** 400, 10 ** 12):
        event = {"type": "detector", "state": "high_alarm", "source": "hood1", "value": value}
        assert event_text.headline(event, ZH) == "探测器 hood1：高限报警"
        assert event_text.headline(event, EN) == "detector hood1: high alarm"
    assert event_text.headline({"type": "detector", "state": "high_alarm", "source": "hood1", "value": 2500},
                               EN) == "detector hood1: high alarm (25.00 %LEL)"
