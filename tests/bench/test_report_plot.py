"""The bench plot is what people look at first: every event label must be readable, even where events come in
a burst (start-up, the trip), so none of its texts may overlap another."""

from __future__ import annotations

import itertools
import warnings

import matplotlib.pyplot as plt
import pytest

from gaslatch import translation
from gaslatch_tools.bench.event_labels import moments
from gaslatch_tools.bench import report
from gaslatch_tools.bench.report import draw
from gaslatch_tools.bench.runner import BenchResult
from gaslatch_tools.bench.trace import Trace

# The demo's events as a real run recorded them: five within a second at start-up, three at the trip.
DEMO_EVENTS = [
    (-5.6, "bus", "info", "bus1", "open"), (-5.6, "startup", "warning", "controller", "latched"),
    (-5.0, "detector", "info", "steamer", "normal"), (-5.0, "detector", "info", "wok-hood", "normal"),
    (-4.7, "reset", "info", "reset_button", "armed"), (8.5, "detector", "alarm", "wok-hood", "low_alarm"),
    (12.0, "detector", "alarm", "wok-hood", "high_alarm"), (12.0, "trip", "alarm", "controller", "latched"),
    (12.1, "valve_fault", "fault", "valve", "closed"), (18.2, "reset_refused", "warning", "reset_button", "refused"),
    (24.0, "detector", "alarm", "wok-hood", "low_alarm"), (25.5, "detector", "info", "wok-hood", "normal"),
    (32.2, "reset", "info", "reset_button", "armed"), (40.1, "shutdown", "warning", "controller", "stopped"),
]


def demo_like_result(events=DEMO_EVENTS) -> BenchResult:
    trace = Trace()
    trace.events = [{"t_s": t, "type": kind, "severity": severity, "source": source, "state": state, "run": 0}
                    for t, kind, severity, source, state in events]
    trace.actions = [{"t_s": 18.0, "do": "press", "label": "reset_with_gas", "ok": True, "detail": ""},
                     {"t_s": 32.0, "do": "press", "label": "reset_clear", "ok": True, "detail": ""}]
    for t_s, pct in ((0.0, 0.0), (14.0, 45.0), (24.0, 0.0)):
        trace.record(t_s, "gas:wok-hood", pct)
    trace.record(-5.0, "line:valve", True)
    trace.record(12.0, "line:valve", False)
    return BenchResult("demo", True, [], [], trace, {"duration_s": 40}, {"detectors": {}}, {"wok-hood": None}, "", 1.0)


def texts_overlapping(fig) -> list[tuple[str, str]]:
    """Pairs of visible texts, among the event marks and the event list, whose boxes overlap on the canvas."""
    renderer = fig.canvas.get_renderer()
    axes = fig.axes[2:]  # the events row and the list beside the plot
    texts = [t for ax in axes for t in ax.texts if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]


@pytest.mark.parametrize("burst", [0, 30], ids=["demo", "demo with 30 more events at the trip"])
def test_no_event_label_on_the_plot_overlaps_another(burst):
    extra = [(12.0 + i * 0.01, "detector", "fault", "d%d" % i, "comm_lost") for i in range(burst)]
    fig = draw(demo_like_result(DEMO_EVENTS + extra))
    fig.canvas.draw()
    assert texts_overlapping(fig) == []
    renderer = fig.canvas.get_renderer()
    events_axis = fig.axes[2].get_window_extent(renderer)
    for mark in fig.axes[2].texts:
        box = mark.get_window_extent(renderer)
        assert events_axis.x0 <= box.x0 and box.x1 <= events_axis.x1, "mark %s is cut by the axis" % mark.get_text()
    listed = [text for ax in fig.axes[3:] for text in (t.get_text() for t in ax.texts)]
    assert len(listed) == len(DEMO_EVENTS) + burst + 2, "every event and action has its line in the list"
    assert any("gas shut off and latched" in text for text in listed)


def test_events_close_in_time_share_one_number_and_numbers_keep_their_distance():
    marks = moments([{"t_s": t, "type": k, "severity": s, "source": src, "state": st} for t, k, s, src, st in DEMO_EVENTS],
                    [], span_s=46.0)
    assert [m.number for m in marks] == list(range(1, len(marks) + 1))
    first = marks[0]
    assert first.t_s == -5.6 and len(first.lines) == 5  # the start-up burst: bus, startup, both detectors, reset
    trip = next(m for m in marks if any("gas shut off" in line for line in m.lines))
    assert trip.severity == "alarm" and len(trip.lines) == 3
    assert all(b.t_s - a.t_s > 46.0 * 0.02 for a, b in zip(marks, marks[1:]))


def plot_texts(fig) -> list[str]:
    fig.canvas.draw()
    texts = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        texts += [ax.get_ylabel(), ax.get_xlabel(), ax.get_title(loc="left")] + [t.get_text() for t in ax.texts]
        texts += [label.get_text() for label in ax.get_yticklabels()]
    return [text for text in texts if text]


@pytest.fixture
def cjk_font():
    """A CJK font matplotlib can use: a machine without one fails here rather than skipping (scripts/test.sh
    installs fonts-wqy-microhei)."""
    fonts = report.cjk_fonts()
    assert fonts is not None, "no CJK font for the plot: apt-get install fonts-wqy-microhei (scripts/test.sh does)"
    return fonts


def test_a_chinese_reader_gets_the_plot_in_chinese_with_a_font_that_has_the_characters(chinese, cjk_font):
    gettext, fonts, mono = report.plot_language()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" for a character it lacks
        with plt.rc_context(fonts):
            fig = draw(demo_like_result(), gettext, mono)
            texts = plot_texts(fig)
        plt.close(fig)
    assert "demo — 合格" in texts and "场景时间，s" in texts and "紧急切断阀" in texts
    assert any("燃气已切断并锁定" in text for text in texts) and any("测试台：按下 reset_with_gas" in text for text in texts)


def test_the_english_plot_shows_the_chinese_its_texts_keep(monkeypatch, cjk_font):
    """English texts keep 人走阀关 (the end of attended hours) and a detector may be named in Chinese: the English
    plot draws them with the CJK font too, not as empty boxes (the HIL run of schedule-close warned of them)."""
    translation.use("en")
    events = [(1.0, "schedule", "info", "schedule", "unattended"), (1.5, "detector", "alarm", "灶台", "high_alarm")]
    gettext, fonts, mono = report.plot_language()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with plt.rc_context(fonts):
            fig = draw(demo_like_result(events), gettext, mono)
            texts = plot_texts(fig)
        plt.close(fig)
    assert any("attended hours ended (人走阀关)" in text for text in texts)
    assert any("detector 灶台: high alarm" in text for text in texts)


def test_without_a_cjk_font_the_plot_is_drawn_in_english_rather_than_empty_boxes(chinese, monkeypatch):
    monkeypatch.setattr(report, "cjk_fonts", lambda: None)
    gettext, fonts, mono = report.plot_language()
    assert fonts == {} and mono == "monospace"
    fig = draw(demo_like_result(), gettext)
    texts = plot_texts(fig)
    plt.close(fig)
    assert "demo — PASS" in texts and "scenario time, s" in texts
    assert not any("\u4e00" <= char <= "\u9fff" for text in texts for char in text)
