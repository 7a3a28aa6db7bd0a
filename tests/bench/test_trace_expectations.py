"""The bench judges a run from its trace: journal lines parsed back exactly, each expectation kind
passing when the kitchen did the right thing and failing, with the reason, when it did not."""

import io

from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core.events import safe_text
from gaslatch.unit.event_log import EventLogger
from gaslatch_tools.bench.expectations import VALVE_POSITION, evaluate, gas_crossing_s
from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.bench.trace import Trace, merge_events, parse_journal_event

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


def journal_line(record):
    stream = io.StringIO()
    log = EventLogger("debug", stream)
    log.event(record)
    log.close()
    return stream.getvalue().rstrip("\n")


@given(st.fixed_dictionaries({
    "seq": st.integers(1, 10**9), "t_ms": st.integers(0, 10**12),
    "type": st.sampled_from(["trip", "detector", "reset_refused"]),
    "severity": st.sampled_from(["alarm", "fault", "warning", "info"]),
    "source": texts.filter(lambda s: s not in ("-",) and not s.lstrip("-").isdigit()),
    "state": texts.filter(lambda s: s not in ("-",) and not s.lstrip("-").isdigit()),
    "value": st.none() | st.integers(-10**6, 10**6),
    "reason": texts.filter(lambda s: s not in ("-",) and not s.lstrip("-").isdigit())}))
def test_a_journal_event_line_parses_back_to_the_record(record):
    safe = dict(record, **{key: safe_text(record[key]) for key in ("source", "state", "reason")})
    assert parse_journal_event(journal_line(record)) == safe


def test_other_journal_lines_are_not_events():
    assert parse_journal_event("<6>first scan complete: ready") is None
    assert parse_journal_event("<3>uplink: connection lost") is None


def test_events_of_several_runs_are_put_on_the_scenario_clock_in_order():
    run0 = ['<2>event t_ms=12000 seq=5 type=trip severity=alarm source=controller state=latched value=- reason=x']
    run1 = ['<4>event t_ms=15000 seq=5 type=startup severity=warning source=controller state=latched value=- reason=y']
    events = merge_events([run0, run1], t0_s=10.0)
    assert [(e["t_s"], e["run"], e["type"]) for e in events] == [(2.0, 0, "trip"), (5.0, 1, "startup")]


def trace_with_valve(changes):
    trace = Trace()
    for t_s, level in changes:
        trace.record(t_s, "line:valve", level)
    return trace


def test_then_within_measures_from_the_trigger_and_fails_past_the_limit():
    trace = trace_with_valve([(0.0, True), (5.4, False)])
    ok = evaluate({"name": "v", "after": {"at_s": 4}, "then": {"line": "valve", "is": False}, "within_s": 3},
                  trace, {}, 10)
    late = evaluate({"name": "v", "after": {"at_s": 1}, "then": {"line": "valve", "is": False}, "within_s": 3},
                    trace, {}, 10)
    assert ok.passed and abs(ok.measured_s - 1.4) < 1e-9
    assert not late.passed and abs(late.measured_s - 4.4) < 1e-9 and "limit 3 s" in late.detail


def test_a_trigger_that_never_happens_fails_the_expectation():
    trace = trace_with_valve([(0.0, True)])
    gas = GasModel().step(1.0, 10.0)
    outcome = evaluate({"name": "v", "after": {"detector": "d1", "reaches_pct": 25},
                        "then": {"line": "valve", "is": False}, "within_s": 3}, trace, {"d1": gas}, 10)
    assert not outcome.passed and "never happened" in outcome.detail


def test_a_detector_crossing_is_timed_on_its_reported_gas_including_the_sensor_lag():
    gas = GasModel().step(2.0, 50.0).lag(4.0)
    t_s = gas_crossing_s(gas, 25.0, 0.0, 20.0)
    # first-order lag: 50 (1 - exp(-t/tau)) = 25 at t = tau ln 2, tau = t90 / ln 10
    import math
    assert abs(t_s - (2.0 + 4.0 / math.log(10) * math.log(2))) < 0.01


def test_never_and_holds_report_the_moment_they_broke():
    trace = Trace()
    trace.record(0.0, VALVE_POSITION, 1.0)
    trace.record(3.0, VALVE_POSITION, 0.5)
    trace.record(4.0, VALVE_POSITION, 0.0)
    never = evaluate({"name": "n", "never": {"valve": "closed"}, "to_s": 10}, trace, {}, 10)
    holds = evaluate({"name": "h", "holds": {"valve": "closed"}, "from_s": 3.5, "to_s": 10}, trace, {}, 10)
    holds_late = evaluate({"name": "h", "holds": {"valve": "closed"}, "from_s": 4.0, "to_s": 10}, trace, {}, 10)
    assert not never.passed and "4.000" in never.detail
    assert not holds.passed and holds_late.passed


def test_event_conditions_count_matching_events_after_the_trigger():
    trace = Trace()
    trace.events = [{"t_s": 1.0 + i * 0.1, "type": "detector", "state": "high_alarm", "source": "d%d" % i}
                    for i in range(4)]
    four = evaluate({"name": "4", "after": {"at_s": 0.5}, "then": {"event": {"type": "detector", "state": "high_alarm"}},
                     "within_s": 2, "count": 4}, trace, {}, 10)
    five = evaluate({"name": "5", "after": {"at_s": 0.5}, "then": {"event": {"type": "detector", "state": "high_alarm"}},
                     "within_s": 2, "count": 5}, trace, {}, 10)
    assert four.passed and abs(four.measured_s - 0.8) < 1e-9
    assert not five.passed and "4 of 5" in five.detail


def test_delivery_fails_on_a_missing_event_and_ignores_events_after_the_check():
    trace = Trace()
    trace.stored = [{"seq": s, "id": "u-%d" % s} for s in (1, 2, 3)]
    trace.delivered = [{"seq": s, "id": "u-%d" % s, "t_s": 0.0} for s in (1, 3, 4)]
    outcome = evaluate({"name": "d", "all_events_delivered": True}, trace, {}, 10)
    assert not outcome.passed and "1 missing (first seq 2)" in outcome.detail
    trace.delivered.append({"seq": 2, "id": "u-2", "t_s": 1.0})
    assert evaluate({"name": "d", "all_events_delivered": True}, trace, {}, 10).passed


def test_at_most_not_before_and_reason_narrow_an_event_expectation():
    trace = Trace()
    trace.events = [{"t_s": 2.0, "type": "trip", "reason": "gas: d1 high alarm"},
                    {"t_s": 3.0, "type": "trip", "reason": "already latched; new: d2 high alarm"}]
    one = {"name": "one trip", "after": {"at_s": 0}, "then": {"event": {"type": "trip"}}, "within_s": 5, "at_most": 1}
    assert not evaluate(one, trace, {}, 10).passed
    first = dict(one, then={"event": {"type": "trip", "reason_contains": "gas: d1"}})
    assert evaluate(first, trace, {}, 10).passed
    early = dict(first, not_before_s=2.5)
    outcome = evaluate(early, trace, {}, 10)
    assert not outcome.passed and "sooner than" in outcome.detail


def test_a_line_trigger_starts_at_the_first_change_to_that_level():
    trace = Trace()
    trace.record(-1.0, "line:fan_proven", True)
    trace.record(5.0, "line:fan_proven", False)
    trace.record(0.0, "line:valve", True)
    trace.record(8.5, "line:valve", False)
    outcome = evaluate({"name": "gas closed after airflow lost", "after": {"line": "fan_proven", "is": False},
                        "then": {"line": "valve", "is": False}, "within_s": 4}, trace, {}, 10)
    assert outcome.passed and abs(outcome.measured_s - 3.5) < 1e-9
