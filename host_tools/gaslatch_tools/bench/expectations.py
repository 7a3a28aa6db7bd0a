"""Judges a scenario's expectations on a bench trace: each passes or fails with what was measured.

Four kinds: `after` a trigger `then` a condition `within_s`; a condition that `never` holds; one that
`holds` throughout a window; and `all_events_delivered` (the platform got every stored event).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.bench.trace import Trace, matches

VALVE_POSITION = "valve_position"
CROSSING_STEP_S = 0.005  # resolution of the search for a detector's gas crossing a level


class Outcome(NamedTuple):
    """One expectation judged: measured_s is the time it took (then/within), or None."""

    name: str
    passed: bool
    measured_s: float | None
    limit_s: float | None
    detail: str


def gas_crossing_s(gas: GasModel, level_pct: float, from_s: float, to_s: float) -> float | None:
    """The first time in [from_s, to_s] the detector reports at least level_pct (its sensed gas)."""
    steps = int((to_s - from_s) / CROSSING_STEP_S) + 1
    for i in range(steps + 1):
        t_s = from_s + i * CROSSING_STEP_S
        if gas.sensed_pct(t_s) >= level_pct:
            return t_s
    return None


def trigger_time(trigger: dict, trace: Trace, gases: dict[str, GasModel], duration_s: float) -> tuple[float | None, str]:
    """(scenario time the trigger happened, how it is described)."""
    if "at_s" in trigger:
        return float(trigger["at_s"]), "t=%gs" % trigger["at_s"]
    for key, unit in (("reaches_pct", "%LEL"), ("reaches_ppm", "ppm")):
        if key in trigger:
            name = trigger["detector"]
            t_s = gas_crossing_s(gases[name], trigger[key], 0.0, duration_s)
            return t_s, "%s reporting %g %s" % (name, trigger[key], unit)
    if "action" in trigger:
        action = trace.action(trigger["action"])
        return (action["t_s"] if action else None), "action %s" % trigger["action"]
    if "event" in trigger:
        found = trace.events_matching(trigger["event"])
        return (found[0]["t_s"] if found else None), "event %s" % _pattern_text(trigger["event"])
    if "line" in trigger:
        signal, test = _signal_test(trigger)
        t_s = trace.first_time(signal, test, 0.0)
        if t_s == 0.0 and test(trace.value_at(signal, 0.0)):
            # already so at t=0: the trigger is the first change to that level after it
            t_s = next((t for t, v in trace.signals.get(signal, []) if t > 0.0 and test(v)
                        and not test(trace.value_at(signal, t - 1e-9))), None)
        return t_s, _condition_text(trigger)
    return 0.0, "t=0"


def _pattern_text(pattern: dict) -> str:
    return " ".join(("reason~%r" if k == "reason_contains" else k + "=%s") % pattern[k] for k in sorted(pattern))


def _condition_text(condition: dict) -> str:
    if "line" in condition:
        return "%s %s" % (condition["line"], "on" if condition["is"] else "off")
    if "valve" in condition:
        return "valve %s" % condition["valve"]
    if "event" in condition:
        return "event %s" % _pattern_text(condition["event"])
    return "delivered %s" % _pattern_text(condition["delivered"])


def _signal_test(condition: dict) -> tuple[str, Any]:
    if "line" in condition:
        wanted = condition["is"]
        return "line:" + condition["line"], lambda value: value is not None and bool(value) == wanted
    target = 0.0 if condition["valve"] == "closed" else 1.0
    return VALVE_POSITION, lambda value: value is not None and abs(value - target) < 1e-6


def evaluate(expectation: dict, trace: Trace, gases: dict[str, GasModel], duration_s: float) -> Outcome:
    name = expectation["name"]
    if expectation.get("all_events_delivered"):
        return _all_delivered(name, trace)
    if "then" in expectation:
        return _then_within(expectation, trace, gases, duration_s)
    condition = expectation.get("never") or expectation.get("holds")
    from_s = float(expectation.get("from_s", 0.0))
    to_s = float(expectation.get("to_s", duration_s))
    text = _condition_text(condition)
    if "event" in condition or "delivered" in condition:
        source = trace.events if "event" in condition else trace.delivered
        pattern = condition.get("event") or condition.get("delivered")
        found = [e for e in source if from_s <= e["t_s"] <= to_s and matches(e, pattern)]
        if "never" in expectation:
            return Outcome(name, not found, None, None, "never %s in %g-%g s: %s" % (
                text, from_s, to_s, "none" if not found else "seen at %.3f s" % found[0]["t_s"]))
        return Outcome(name, bool(found), None, None, "%s in %g-%g s: %d seen" % (text, from_s, to_s, len(found)))
    signal, test = _signal_test(condition)
    if "never" in expectation:
        t_s = trace.first_time(signal, test, from_s, to_s)
        return Outcome(name, t_s is None, None, None, "never %s in %g-%g s: %s" % (
            text, from_s, to_s, "held" if t_s is None else "broken at %.3f s" % t_s))
    ok, broken_s = trace.always(signal, test, from_s, to_s)
    return Outcome(name, ok, None, None, "%s throughout %g-%g s: %s" % (
        text, from_s, to_s, "held" if ok else "broken at %.3f s" % broken_s))


def _then_within(expectation: dict, trace: Trace, gases: dict[str, GasModel], duration_s: float) -> Outcome:
    name = expectation["name"]
    limit_s = float(expectation["within_s"])
    start_s, trigger_text = trigger_time(expectation.get("after", {}), trace, gases, duration_s)
    condition = expectation["then"]
    text = _condition_text(condition)
    if start_s is None:
        return Outcome(name, False, None, limit_s, "%s never happened, so %s was never timed" % (trigger_text, text))
    if "event" in condition or "delivered" in condition:
        source = trace.events if "event" in condition else trace.delivered
        pattern = condition.get("event") or condition.get("delivered")
        found = [e for e in source if e["t_s"] >= start_s - 1e-3 and matches(e, pattern)]
        needed = expectation.get("count", 1)
        if len(found) < needed:
            return Outcome(name, False, None, limit_s, "%s: after %s (%.3f s) %d of %d seen" % (
                text, trigger_text, start_s, len(found), needed))
        measured = max(0.0, found[needed - 1]["t_s"] - start_s)
        in_window = [e for e in found if e["t_s"] <= start_s + limit_s]
        if "at_most" in expectation and len(in_window) > expectation["at_most"]:
            return Outcome(name, False, measured, limit_s, "%s: %d within %g s of %s, at most %d allowed" % (
                text, len(in_window), limit_s, trigger_text, expectation["at_most"]))
    else:
        signal, test = _signal_test(condition)
        t_s = trace.first_time(signal, test, start_s)
        if t_s is None:
            return Outcome(name, False, None, limit_s, "%s never seen after %s (%.3f s)" % (text, trigger_text, start_s))
        measured = t_s - start_s
    not_before_s = expectation.get("not_before_s")
    if not_before_s is not None and measured < not_before_s:
        return Outcome(name, False, measured, limit_s, "%s %.3f s after %s: sooner than the %g s it must wait" % (
            text, measured, trigger_text, not_before_s))
    return Outcome(name, measured <= limit_s, measured, limit_s, "%s %.3f s after %s (limit %g s)" % (
        text, measured, trigger_text, limit_s))


def _all_delivered(name: str, trace: Trace) -> Outcome:
    stored = {(e["seq"], e["id"]) for e in trace.stored}
    last = max((seq for seq, _ in stored), default=0)
    # Events after the check (the clean stop's own) may arrive later; they are not judged here.
    delivered = {(e["seq"], e["id"]) for e in trace.delivered if e["seq"] <= last}
    missing = sorted(stored - delivered)
    extra = sorted(delivered - stored)
    ok = bool(stored) and not missing and not extra
    return Outcome(name, ok, None, None, "%d stored, %d delivered, %d missing%s%s" % (
        len(stored), len(delivered), len(missing),
        " (first seq %s)" % missing[0][0] if missing else "",
        ", %d delivered but not stored" % len(extra) if extra else ""))
