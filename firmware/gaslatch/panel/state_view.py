"""What the kitchen panel shows for one status reply: one big state, its reason in plain words, what to do now.

Pure: the controller's status (or the reason it could not be had) in, a plain dict out, so the page, its tests
and docs/operations.md say the same thing. The words follow docs/operations.md's "What each alarm means and
what to do"; the colours GB 16808's indicators: red (flashing) alarm, yellow fault, green normal.
"""

from __future__ import annotations

import time
from typing import Any

from gaslatch import recorded_text
from gaslatch.core.events import safe_text
from gaslatch.event_text import headline
from gaslatch.panel.words import VALUE_CHARS, pair, pair_n, shown, text_of
from gaslatch.translation import CHINESE, ENGLISH, N_, in_language

ALARM, FAULT, GAS_OFF, GAS_ON, NO_CONTACT = "alarm", "fault", "gas_off", "gas_on", "no_contact"
TITLES = {
    ALARM: N_("GAS ALARM"),
    FAULT: N_("FAULT"),
    GAS_OFF: N_("GAS OFF"),
    GAS_ON: N_("GAS ON"),
    NO_CONTACT: N_("CONTROLLER NOT ANSWERING"),
}
ALARM_STATES = ("low_alarm", "high_alarm")
DETECTOR_WORDS = {"normal": N_("normal"), "low_alarm": N_("low alarm"), "high_alarm": N_("high alarm"),
                  "fault": N_("fault"), "comm_lost": N_("not answering"), "warmup": N_("warming up")}
TODO = {
    "high_alarm": N_("Ventilate now: no flames, no switches. Get people out and find the leak. Press RESET on the "
                     "unit only when the readings are back to normal."),
    "low_alarm": N_("Open doors and windows, no flames or switches near the detector, check hoses, joints and "
                    "burners; call the gas company if it persists."),
    FAULT: N_("The gas protection has a fault and may not see a leak: call the installer."),
    "valve_fault": N_("The valve did not move: the gas may not be off. Close the manual isolation valve now and "
                      "call the installer."),
    GAS_OFF: N_("Once the cause is dealt with, press RESET on the unit to turn the gas back on."),
    GAS_ON: N_("All normal. Turn the gas off when you leave (人走阀关)."),
    "proving": N_("Proving the gas pipework: wait, and do not use the appliances."),
    NO_CONTACT: N_("The panel gets no state from the controller. The controller still protects the kitchen on its "
                   "own; if its lamp or sounder is on, treat it as an alarm. Call the installer."),
}


def _reading(det: dict) -> str:
    """The reading with its unit: %LEL for combustible gas; ppm for a CO or CO2 detector, never %LEL."""
    if det.get("measurand") in ("co", "co2"):
        centi = det.get("concentration_centi_ppm")
        return "—" if not isinstance(centi, int) else "%.0f ppm %s" % (centi / 100, det["measurand"].upper())
    centi = det.get("concentration_centi_pct_lel")
    return "—" if not isinstance(centi, int) else "%.1f %%LEL" % (centi / 100)


def detector_rows(status: dict) -> list[dict]:
    rows = []
    for name, det in sorted((status.get("detectors") or {}).items()):
        det = det if isinstance(det, dict) else {}
        state = det.get("state") if isinstance(det.get("state"), str) else ""
        zh, en = pair(DETECTOR_WORDS[state]) if state in DETECTOR_WORDS else (state, state)
        # In doubt, a fault: only a detector that says normal and is trusted is shown green.
        kind = ALARM if state in ALARM_STATES else GAS_ON if state == "normal" and not det.get("distrust") else FAULT
        rows.append({"name": name, "state": state, "state_zh": zh, "state_en": en, "reading": _reading(det),
                     "kind": kind, "inhibited": bool(det.get("inhibited")),
                     "why": det.get("distrust") or det.get("reason", "")})
    return rows


TASK_WORDS = {"end_of_life": N_("replace"), "calibration": N_("calibrate")}
STAGE_WORDS = {"soon": N_("due soon"), "due": N_("due"), "unknown": N_("no install date")}
DAILY_WORDS = {"done": N_("done today"), "pending": N_("not done yet today"), "missed": N_("not done in time"),
               "not_today": N_("not due today"), "clock_unknown": N_("clock not set")}


def _days_left(left: Any) -> tuple[str, str]:
    """When a reminder falls due, in days from today (nothing when the status does not say)."""
    if not isinstance(left, int) or isinstance(left, bool) or not -10 ** 9 < left < 10 ** 9:
        return "", ""
    if left < 0:
        return pair_n("%(n)d day overdue", "%(n)d days overdue", -left)
    if left == 0:
        return pair(N_("today"))
    return pair_n("in %(n)d day", "in %(n)d days", left)


def maintenance_rows(status: dict) -> list[dict]:
    """The reminders worth a kitchen's attention: soon, due, or impossible (no install date)."""
    rows = []
    listed = status.get("maintenance")
    for row in listed if isinstance(listed, list) else []:
        if not isinstance(row, dict) or not isinstance(row.get("stage"), str) or row["stage"] not in STAGE_WORDS:
            continue
        task = row.get("task")
        rows.append({"asset": text_of(row.get("asset")),
                     "task": pair(TASK_WORDS[task]) if isinstance(task, str) and task in TASK_WORDS else ("", ""),
                     "due": text_of(row.get("due") or ""), "stage": row["stage"],
                     "stage_words": pair(STAGE_WORDS[row["stage"]]),
                     "when": _days_left(row.get("days_left"))})
    return rows


def daily_check_view(status: dict) -> dict | None:
    check = status.get("daily_check")
    if not isinstance(check, dict) or not check.get("enabled"):
        return None
    listed = check.get("items")
    # Each item's words are the configuration's own (daily_check.items: id, zh, en), not the catalogue's.
    items = [{"id": item["id"], "zh": text_of(item.get("zh")), "en": text_of(item.get("en"))}
             for item in (listed if isinstance(listed, list) else [])
             if isinstance(item, dict) and isinstance(item.get("id"), str)]
    today = text_of(check.get("today"))  # a code the page also uses as a class: safe text at least
    return {"today": today, "words": pair(DAILY_WORDS[today]) if today in DAILY_WORDS else (today, today),
            "due_by": text_of(check.get("due_by")), "checklist": items, "done_by": text_of(check.get("done_by") or ""),
            "open": today in ("pending", "missed", "not_today")}


SCHEDULE_WORDS = {"attended": N_("attended"), "unattended": N_("unattended"), "clock_unknown": N_("clock not set")}


def schedule_words(status: dict) -> tuple[str, str] | None:
    """The attended hours' state (人走阀关) in words; a state the panel does not know, as the status says it."""
    state = status.get("schedule")
    if not state:
        return None
    return pair(SCHEDULE_WORDS[state]) if isinstance(state, str) and state in SCHEDULE_WORDS else (
        (text_of(state),) * 2)


def schedule_left(status: dict) -> tuple[str, str] | None:
    """人走阀关: how long until the gas goes off at the end of the attended hours, or the kitchen opens."""
    minutes, state = status.get("schedule_change_min"), status.get("schedule")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes < 10 ** 9 or \
            state not in ("attended", "unattended"):
        return None
    hours, mins = divmod(minutes, 60)
    if state == "attended":
        if hours:
            return pair(N_("gas off in %(hours)d h %(minutes)02d min"), hours=hours, minutes=mins)
        return pair(N_("gas off in %(minutes)d min"), minutes=mins)
    if hours:
        return pair(N_("attended again in %(hours)d h %(minutes)02d min"), hours=hours, minutes=mins)
    return pair(N_("attended again in %(minutes)d min"), minutes=mins)


SEVERITY_KIND = {"alarm": ALARM, "fault": FAULT, "warning": FAULT}
RECENT_SHOWN = 8


def recorded_words(value: Any, max_chars: int = recorded_text.MAX_CHARS) -> tuple[str, str] | str:
    """Text the controller recorded (a trip reason, reset blockers, an event's reason) as the panel shows it (the
    template's `both` filter): (Chinese, English) where the phrasebook knows it, else the text as recorded; safe
    text (no control, bidi or lone surrogate character), at most max_chars each."""
    zh, en = recorded_text.both(value if isinstance(value, str) else text_of(value))
    zh, en = safe_text(zh, max_chars), safe_text(en, max_chars)
    return en if zh == en else (zh, en)


def recent_rows(status: dict, wall_s: float | None) -> list[dict]:
    """The newest events first, each with its local time of day (from the status's own clock and wall_s, when the
    status was taken), its headline in Chinese with the English beside it (event_text.headline, from the codes),
    and the core's reason as it was recorded."""
    listed, now_ms = status.get("recent_events"), status.get("now_ms")
    rows = []
    for event in reversed(listed if isinstance(listed, list) else []):
        if not isinstance(event, dict):
            continue
        t_ms = event.get("t_ms")
        at = ""
        if wall_s is not None and all(isinstance(v, int) and not isinstance(v, bool) for v in (t_ms, now_ms)):
            try:
                at = time.strftime("%H:%M:%S", time.localtime(wall_s - max(0, now_ms - t_ms) / 1000))
            except (OverflowError, OSError, ValueError):  # a clock no calendar holds: no time rather than none at all
                at = ""
        severity = event.get("severity") if isinstance(event.get("severity"), str) else ""
        rows.append({"at": at, "kind": SEVERITY_KIND.get(severity, GAS_ON),
                     "headline": (shown(headline(event, in_language(CHINESE).gettext)),
                                  shown(headline(event, in_language(ENGLISH).gettext))),
                     "reason": recorded_words(event.get("reason"), VALUE_CHARS)})
        if len(rows) == RECENT_SHOWN:
            break
    return rows


# What stops a unit protecting as it should, besides its detectors: a label, then the detail as the status says it.
VALVE_FAULT, SELF_TEST_FAILED = N_("valve fault"), N_("self-test failed")
PROVING_FAILED, STORE_FAULT = N_("pressure proving failed"), N_("event store fault")


# A field of the reply in a shape the panel cannot read (an older or newer controller): in doubt, a fault.
UNREADABLE = N_("unreadable in the controller's reply")
# Each field the view takes apart, and the kind it must be.
SHAPES = {"detectors": dict, "interlocks": dict, "inhibits": dict, "reset_blockers": list}


def _shaped(status: dict) -> tuple[dict, list[str]]:
    """The status with each field the view takes apart of the kind it must be (an empty one where it was of
    another), an inhibit's seconds a number or None, a self-test's faults a list; and the fields that were not."""
    status, unreadable = dict(status), []
    for name, kind in SHAPES.items():
        if status.get(name) is not None and not isinstance(status[name], kind):
            unreadable.append(name)
            status[name] = kind()
    inhibits = {}
    for name, left in (status.get("inhibits") or {}).items():
        if isinstance(left, bool) or not isinstance(left, (int, float)) or not 0 <= left < 10 ** 9:
            unreadable.append("inhibits")
            left = None
        inhibits[name] = left
    status["inhibits"] = inhibits
    self_test = status.get("self_test")
    if isinstance(self_test, dict) and self_test.get("faults") and not isinstance(self_test["faults"], list):
        status["self_test"] = dict(self_test, faults=[self_test["faults"]])
    return status, sorted(set(unreadable))


def _pair_of(words: tuple[str, str] | str) -> tuple[str, str]:
    return (words, words) if isinstance(words, str) else words


# TRANSLATORS: a fault on the panel: what is wrong (valve fault, self-test failed...), then the controller's detail.
LABELLED = N_("%(label)s: %(detail)s")
# TRANSLATORS: a detector's fault on the panel: its name, its state, then why (the controller's detail).
DETECTOR_FAULT = N_("%(name)s %(state)s: %(why)s")


def _both(message: str, zh_values: dict, en_values: dict) -> tuple[str, str]:
    """(Chinese, English) of a message whose values differ by language (a label and a detail, each translated)."""
    zh, en = pair(message)
    return zh % zh_values, en % en_values


def _labelled(label: str, detail: Any) -> tuple[str, str]:
    """('阀门故障：…', 'valve fault: …'): the label and the controller's detail in Chinese, and in English (the detail
    through the phrasebook where it knows it, else as the controller said it; a (Chinese, English) pair as it is)."""
    zh, en = pair(label)
    zh_detail, en_detail = detail if isinstance(detail, tuple) else _pair_of(recorded_words(detail, VALUE_CHARS))
    return _both(LABELLED, {"label": zh, "detail": zh_detail}, {"label": en, "detail": en_detail})


def view(reply: dict | None, problem: str = "", wall_s: float | None = None) -> dict[str, Any]:
    """The panel's view of one status reply (None: no reply, problem says why); wall_s: when it was taken."""
    if not reply or not reply.get("ok") or not isinstance(reply.get("status"), dict):
        return {"kind": NO_CONTACT, "title": pair(TITLES[NO_CONTACT]), "reason": problem or str((reply or {}).get(
            "error", "")), "todo": pair(TODO[NO_CONTACT]), "detectors": [], "gas_on": None, "reset": None,
            "interlocks": [], "inhibits": {}, "silenced_s": None, "schedule": None, "config": None,
            "maintenance": [], "daily_check": None, "schedule_left": None, "recent": []}
    status, unreadable = _shaped(reply["status"])
    dets = detector_rows(status)
    latched = bool(status.get("latched"))
    alarms = [d for d in dets if d["kind"] == ALARM]
    faults = [d for d in dets if d["kind"] == FAULT]
    valve_fault = status.get("valve_fault") or ""
    unit_faults = [_labelled(VALVE_FAULT, valve_fault)] if valve_fault else []
    unit_faults.extend(_labelled(UNREADABLE, name) for name in unreadable)
    self_test = status.get("self_test")
    if isinstance(self_test, dict):
        unit_faults.extend(_labelled(SELF_TEST_FAILED, fault) for fault in self_test.get("faults") or [])
    proving = status.get("proving") if isinstance(status.get("proving"), dict) else {}
    if proving.get("failure"):
        unit_faults.append(_labelled(PROVING_FAILED, proving["failure"]))
    store = status.get("store")
    if isinstance(store, dict) and not store.get("ok", True):
        unit_faults.append(_labelled(STORE_FAULT, store.get("error") or pair(N_("see the journal"))))
    if alarms:
        worst = "high_alarm" if any(d["state"] == "high_alarm" for d in alarms) else "low_alarm"
        kind, todo = ALARM, TODO[worst]
        reason = "; ".join("%s %s %s" % (d["name"], d["state_zh"], d["reading"]) for d in alarms)
    elif faults or unit_faults:
        kind = FAULT
        todo = TODO["valve_fault"] if valve_fault else TODO[FAULT]
        parts = [_both(DETECTOR_FAULT, {"name": d["name"], "state": d["state_zh"], "why": zh_why},
                       {"name": d["name"], "state": d["state_en"], "why": en_why})
                 for d in faults for zh_why, en_why in [_pair_of(recorded_words(d["why"], VALUE_CHARS))]]
        parts += unit_faults
        reason = ("; ".join(zh for zh, _en in parts), "; ".join(en for _zh, en in parts))
    elif latched and proving.get("phase") in ("check", "fill", "watch"):
        kind, todo = GAS_OFF, TODO["proving"]
        reason = "%s %s: %s, %s s" % (*pair(N_("proving the pipework")), proving["phase"], shown(proving.get("left_s")))
    elif latched:
        kind, todo, reason = GAS_OFF, TODO[GAS_OFF], recorded_words(status.get("trip_reason") or "")
    else:
        kind, todo, reason = GAS_ON, TODO[GAS_ON], ""
    blockers = status.get("reset_blockers") if latched else None
    reset = None
    if latched:
        reset = {"blockers": [recorded_words(b, VALUE_CHARS) for b in blockers or []],
                 "hint": pair(N_("RESET would be refused now")) if blockers else pair(N_("Press RESET on the unit"))}
    return {
        "kind": kind, "title": pair(TITLES[kind]), "reason": reason, "todo": pair(todo), "detectors": dets,
        "gas_on": not latched, "trip_reason": recorded_words(status.get("trip_reason") or "") if latched else "", "reset": reset,
        "interlocks": sorted(name for name, active in (status.get("interlocks") or {}).items() if active),
        "inhibits": status["inhibits"], "silenced_s": status.get("silenced_s"),
        "schedule": schedule_words(status),
        "config": status.get("config") if isinstance(status.get("config"), dict) else None,
        "maintenance": maintenance_rows(status), "daily_check": daily_check_view(status),
        "schedule_left": schedule_left(status), "recent": recent_rows(status, wall_s),
    }
