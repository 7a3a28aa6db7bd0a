"""Judges a scenario's expectations on a bench trace: each passes or fails with what was measured.

Four kinds: `after` a trigger `then` a condition `within_s`; a condition that `never` holds; one that
`holds` throughout a window; and `all_events_delivered` (the platform got every stored event).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from gaslatch.translation import N_, _
from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.bench.trace import Trace, matches

VALVE_POSITION = "valve_position"
# Kitchen lines named in words where the English word is the line's name (others are shown by their name).
# An output line's level in words, (off, on): the bench's valve is a hold-open valve, so its line off is the valve
# closing; any other line is named as it is written with "on"/"off".
LINE_STATES = {"valve": (N_("valve de-energised (closed)"), N_("valve energised (open)")),
               "fan": (N_("fan off"), N_("fan on")), "sounder": (N_("sounder off"), N_("sounder on")),
               "beacon": (N_("beacon off"), N_("beacon on"))}
CROSSING_STEP_S = 0.005  # resolution of the search for a detector's gas crossing a level


# A text to show in the reader's language: (message marked N_, its values); a value may be a Phrase itself.
Phrase = tuple[str, dict]


def say(phrase: Phrase, gettext: Callable[[str], str] = _) -> str:
    """The phrase in the language of `gettext`."""
    message, values = phrase
    return gettext(message) % {key: say(value, gettext) if isinstance(value, tuple) else value
                               for key, value in values.items()}


def english(message: str) -> str:
    return message


class Outcome(NamedTuple):
    """One expectation judged: measured_s is the time it took (then/within), or None. detail is in English (the
    summary.json that CI compares); phrase is the same to be shown in the reader's language (detail_text)."""

    name: str
    passed: bool
    measured_s: float | None
    limit_s: float | None
    detail: str
    phrase: Phrase | None = None


def outcome(name: str, passed: bool, measured_s: float | None, limit_s: float | None, phrase: Phrase) -> Outcome:
    return Outcome(name, passed, measured_s, limit_s, say(phrase, english), phrase)


def detail_text(judged: Outcome, gettext: Callable[[str], str] = _) -> str:
    """An outcome's detail in the language of `gettext`."""
    return judged.detail if judged.phrase is None else say(judged.phrase, gettext)


def gas_crossing_s(gas: GasModel, level_pct: float, from_s: float, to_s: float) -> float | None:
    """The first time in [from_s, to_s] the detector reports at least level_pct (its sensed gas)."""
    steps = int((to_s - from_s) / CROSSING_STEP_S) + 1
    for i in range(steps + 1):
        t_s = from_s + i * CROSSING_STEP_S
        if gas.sensed_pct(t_s) >= level_pct:
            return t_s
    return None


def trigger_time(trigger: dict, trace: Trace, gases: dict[str, GasModel], duration_s: float
                 ) -> tuple[float | None, Phrase]:
    """(scenario time the trigger happened, how it is described)."""
    if "at_s" in trigger:
        return float(trigger["at_s"]), (N_("t=%(t)gs"), {"t": trigger["at_s"]})
    for key, unit in (("reaches_pct", "%LEL"), ("reaches_ppm", "ppm")):
        if key in trigger:
            name = trigger["detector"]
            t_s = gas_crossing_s(gases[name], trigger[key], 0.0, duration_s)
            return t_s, (N_("%(detector)s reporting %(level)g %(unit)s"),
                         {"detector": name, "level": trigger[key], "unit": unit})
    if "action" in trigger:
        action = trace.action(trigger["action"])
        return (action["t_s"] if action else None), (N_("action %(label)s"), {"label": trigger["action"]})
    if "event" in trigger:
        found = trace.events_matching(trigger["event"])
        return (found[0]["t_s"] if found else None), (N_("event %(pattern)s"),
                                                      {"pattern": _pattern_text(trigger["event"])})
    if "line" in trigger:
        signal, test = _signal_test(trigger)
        t_s = trace.first_time(signal, test, 0.0)
        if t_s == 0.0 and test(trace.value_at(signal, 0.0)):
            # already so at t=0: the trigger is the first change to that level after it
            t_s = next((t for t, v in trace.signals.get(signal, []) if t > 0.0 and test(v)
                        and not test(trace.value_at(signal, t - 1e-9))), None)
        return t_s, _condition_text(trigger)
    return 0.0, (N_("t=%(t)gs"), {"t": 0})


def _pattern_text(pattern: dict) -> str:
    return " ".join(("reason~%r" if k == "reason_contains" else k + "=%s") % pattern[k] for k in sorted(pattern))


def _condition_text(condition: dict) -> Phrase:
    if "line" in condition:
        line = condition["line"]
        if line in LINE_STATES:
            return LINE_STATES[line][bool(condition["is"])], {}
        return (N_("%(line)s on") if condition["is"] else N_("%(line)s off")), {"line": line}
    if "valve" in condition:
        return (N_("valve closed") if condition["valve"] == "closed" else N_("valve open")), {}
    if "event" in condition:
        return N_("event %(pattern)s"), {"pattern": _pattern_text(condition["event"])}
    return N_("delivered %(pattern)s"), {"pattern": _pattern_text(condition["delivered"])}


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
        window = {"condition": text, "from": from_s, "to": to_s}
        if "never" in expectation:
            return outcome(name, not found, None, None, (N_("never %(condition)s in %(from)g-%(to)g s: none"), window)
                           if not found else (N_("never %(condition)s in %(from)g-%(to)g s: seen at %(t).3f s"),
                                              dict(window, t=found[0]["t_s"])))
        return outcome(name, bool(found), None, None, (N_("%(condition)s in %(from)g-%(to)g s: %(n)d seen"),
                                                       dict(window, n=len(found))))
    signal, test = _signal_test(condition)
    window = {"condition": text, "from": from_s, "to": to_s}
    if "never" in expectation:
        t_s = trace.first_time(signal, test, from_s, to_s)
        return outcome(name, t_s is None, None, None, (N_("never %(condition)s in %(from)g-%(to)g s: held"), window)
                       if t_s is None else (N_("never %(condition)s in %(from)g-%(to)g s: broken at %(t).3f s"),
                                            dict(window, t=t_s)))
    ok, broken_s = trace.always(signal, test, from_s, to_s)
    return outcome(name, ok, None, None, (N_("%(condition)s throughout %(from)g-%(to)g s: held"), window) if ok else
                   (N_("%(condition)s throughout %(from)g-%(to)g s: broken at %(t).3f s"), dict(window, t=broken_s)))


def _then_within(expectation: dict, trace: Trace, gases: dict[str, GasModel], duration_s: float) -> Outcome:
    name = expectation["name"]
    limit_s = float(expectation["within_s"])
    start_s, trigger_text = trigger_time(expectation.get("after", {}), trace, gases, duration_s)
    condition = expectation["then"]
    text = _condition_text(condition)
    if start_s is None:
        return outcome(name, False, None, limit_s, (N_("%(trigger)s never happened, so %(condition)s was never timed"),
                                                    {"trigger": trigger_text, "condition": text}))
    timing = {"condition": text, "trigger": trigger_text, "start": start_s, "limit": limit_s}
    if "event" in condition or "delivered" in condition:
        source = trace.events if "event" in condition else trace.delivered
        pattern = condition.get("event") or condition.get("delivered")
        found = [e for e in source if e["t_s"] >= start_s - 1e-3 and matches(e, pattern)]
        needed = expectation.get("count", 1)
        if len(found) < needed:
            return outcome(name, False, None, limit_s, (
                N_("%(condition)s: after %(trigger)s (%(start).3f s) %(seen)d of %(needed)d seen"),
                dict(timing, seen=len(found), needed=needed)))
        measured = max(0.0, found[needed - 1]["t_s"] - start_s)
        in_window = [e for e in found if e["t_s"] <= start_s + limit_s]
        if "at_most" in expectation and len(in_window) > expectation["at_most"]:
            return outcome(name, False, measured, limit_s, (
                N_("%(condition)s: %(seen)d within %(limit)g s of %(trigger)s, at most %(most)d allowed"),
                dict(timing, seen=len(in_window), most=expectation["at_most"])))
    else:
        signal, test = _signal_test(condition)
        t_s = trace.first_time(signal, test, start_s)
        if t_s is None:
            return outcome(name, False, None, limit_s, (N_("%(condition)s never seen after %(trigger)s (%(start).3f s)"),
                                                        timing))
        measured = t_s - start_s
    not_before_s = expectation.get("not_before_s")
    if not_before_s is not None and measured < not_before_s:
        return outcome(name, False, measured, limit_s, (
            N_("%(condition)s %(measured).3f s after %(trigger)s: sooner than the %(wait)g s it must wait"),
            dict(timing, measured=measured, wait=not_before_s)))
    return outcome(name, measured <= limit_s, measured, limit_s, (
        N_("%(condition)s %(measured).3f s after %(trigger)s (limit %(limit)g s)"), dict(timing, measured=measured)))


def _all_delivered(name: str, trace: Trace) -> Outcome:
    stored = {(e["seq"], e["id"]) for e in trace.stored}
    last = max((seq for seq, _id in stored), default=0)
    # Events after the check (the clean stop's own) may arrive later; they are not judged here.
    delivered = {(e["seq"], e["id"]) for e in trace.delivered if e["seq"] <= last}
    missing = sorted(stored - delivered)
    extra = sorted(delivered - stored)
    ok = bool(stored) and not missing and not extra
    counts = {"stored": len(stored), "delivered": len(delivered), "missing": len(missing)}
    if missing:
        counts["first"] = missing[0][0]
    if extra:
        counts["extra"] = len(extra)
    message = DELIVERY_DETAILS[bool(missing), bool(extra)]
    return outcome(name, ok, None, None, (message, counts))


DELIVERY_DETAILS = {
    (False, False): N_("%(stored)d stored, %(delivered)d delivered, %(missing)d missing"),
    (True, False): N_("%(stored)d stored, %(delivered)d delivered, %(missing)d missing (first seq %(first)s)"),
    (False, True): N_("%(stored)d stored, %(delivered)d delivered, %(missing)d missing, %(extra)d delivered but "
                      "not stored"),
    (True, True): N_("%(stored)d stored, %(delivered)d delivered, %(missing)d missing (first seq %(first)s), "
                     "%(extra)d delivered but not stored"),
}
