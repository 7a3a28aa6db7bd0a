"""The demo without a terminal that can redraw (CI, a pipe, TERM=dumb): one line per controller event and
bench action, in the order they happened, output changes left out, nothing lost at the end."""

import io

from rich.console import Console

from gaslatch_tools.bench.progress_lines import ProgressLines
from gaslatch_tools.bench.trace import Trace
from tests.bench.test_trace_expectations import journal_line


class FakeController:
    def __init__(self) -> None:
        self.lines: list[str] = ["<6>first scan complete: ready"]

    def journal_lines(self) -> list[str]:
        return list(self.lines)


class FakeRun:
    """What ProgressLines reads of a BenchRun: the trace's actions, the controller's journal, t0."""

    def __init__(self) -> None:
        self.t0 = 100.0
        self.trace = Trace()
        self.controller = FakeController()


def event(t_s: float, type_: str, source: str, state: str, reason: str) -> str:
    return journal_line({"seq": 1, "t_ms": int((100.0 + t_s) * 1000), "type": type_, "severity": "alarm",
                         "source": source, "state": state, "value": None, "reason": reason})


def test_events_and_actions_are_printed_in_time_order_and_output_changes_are_left_out():
    run = FakeRun()
    out = io.StringIO()
    lines = ProgressLines(run, Console(file=out, width=200))
    run.controller.lines.append(event(12.0, "trip", "controller", "latched", "gas: wok-hood high alarm"))
    run.controller.lines.append(event(12.0, "output", "valve", "off", "trip"))
    run.trace.actions.append({"t_s": 18.0, "do": "press", "ok": True, "detail": "", "label": "reset_with_gas"})
    run.controller.lines.append(event(18.2, "reset_refused", "reset_button", "refused", "wok-hood: high alarm"))
    lines.stop()  # never started: stop() prints what came in since the last look
    assert out.getvalue().splitlines() == [
        "t=  12.0 s  gas shut off and latched · gas: wok-hood high alarm",
        "t=  18.0 s  bench: pressed reset_with_gas",
        "t=  18.2 s  reset refused · wok-hood: high alarm",
    ]
    run.controller.lines.append(event(32.2, "reset", "reset_button", "armed", "local reset accepted"))
    lines.stop()
    assert out.getvalue().splitlines()[3:] == ["t=  32.2 s  reset accepted: gas may flow · local reset accepted"]


def test_a_chinese_reader_reads_the_events_headlines_and_the_benchs_actions_in_chinese(chinese):
    run = FakeRun()
    out = io.StringIO()
    lines = ProgressLines(run, Console(file=out, width=200))
    run.controller.lines.append(event(12.0, "detector", "wok-hood", "high_alarm", "45.0 %LEL"))
    run.trace.actions.append({"t_s": 18.0, "do": "press", "ok": True, "detail": "", "label": "reset_with_gas"})
    run.controller.lines.append(event(18.2, "reset_refused", "reset_button", "refused", "wok-hood: high alarm"))
    lines.stop()
    assert out.getvalue().splitlines() == [
        "t=  12.0 s  探测器 wok-hood：高限报警 · 45.0 %LEL",
        "t=  18.0 s  测试台：按下 reset_with_gas",
        "t=  18.2 s  复位被拒绝 · wok-hood: high alarm",
    ]
