"""What `gaslatch status` prints from the unit's status reply: the latch, the unit's own health, then tables.

Pure: a reply in, text out, so the same words serve a terminal, an SSH session and a support e-mail. The words are
in the reader's language (gaslatch/translation.py), and so are the texts the controller recorded (a trip reason,
a reset blocker, a detector's why: gaslatch/recorded_text.py); codes are shown as they are.
"""

from __future__ import annotations

from typing import Any

from gaslatch.core.events import safe_text
from gaslatch.recorded_text import translate
from gaslatch.translation import N_, _, named, ngettext
from gaslatch.unit.text_table import render

# The outputs, interlocks and airflow proving's states by their codes (core/safety.py, core/airflow.py), in the
# glossary's words (docs/glossary.csv); a code not listed is shown as it is.
OUTPUT_NAMES = {"valve": N_("valve"), "fan": N_("fan"), "sounder": N_("sounder"), "beacon": N_("beacon"),
                "fault_relay": N_("fault relay")}
INTERLOCK_NAMES = {"fire_alarm": N_("fire alarm"), "emergency_stop": N_("emergency stop"),
                   "ventilation": N_("ventilation")}
AIRFLOW_STATES = {"checking": N_("checking"), "starting": N_("starting"), "proven": N_("proven"),
                  "losing": N_("being lost"), "failed": N_("not proven"), "bridged": N_("bridged")}

_OUTPUT_MEANING = {
    "valve": {True: N_("energised"), False: N_("de-energised")},
    "fault_relay": {True: N_("healthy"), False: N_("fault signalled")},
}


def refusal_lines(title: str, reply: dict) -> list[str]:
    """The title and each reason on its own line, else the title and the error text (the controller's answer, in the
    reader's language where the phrasebook knows it)."""
    reasons = reply.get("reasons")
    if isinstance(reasons, list) and reasons:
        return [_("%s:") % title] + ["  - %s" % recorded(reason) for reason in reasons]
    return [_("%(title)s: %(error)s") % {"title": title, "error": recorded(reply.get("error")) or _("no reason given")}]


def status_text(reply: dict) -> str:
    """The whole status screen of one reply (the runtime's nested form or the controller's flat one).

    Whatever a field holds (an older or newer controller, a damaged reply), the screen is whole: text is shown
    escaped (a NUL, an escape sequence, a bidi control, a lone surrogate) and a part that cannot be read in this
    reply says so in one line, never hiding the latch or the other parts, never a traceback.
    """
    reply = clean(reply) if isinstance(reply, dict) else {"ok": False, "error": shown(reply)}
    if not reply.get("ok"):
        return "\n".join(refusal_lines(_("Status not available"), reply))
    status = reply["status"] if isinstance(reply.get("status"), dict) else reply
    lines: list[str] = []
    for name, part in (("store", unit_health_lines), ("config", config_lines), ("latched", _latch_lines),
                       ("schedule", _schedule_lines), ("inhibits", _inhibit_lines)):
        lines += _guarded(name, part, status)
    tables = []
    for name, table in (("detectors", _detectors_table), ("outputs", _outputs_table),
                        ("interlocks", _interlocks_table), ("maintenance", _maintenance_table),
                        ("buses", _buses_table), ("scan", _scan_table)):
        if name in ("detectors", "outputs", "interlocks") or status.get(name):
            tables += _guarded(name, lambda s, table=table, name=name: [
                table(s.get(name) or {}, s.get("airflow")) if name == "interlocks" else table(s.get(name) or {})],
                status)
    return "\n\n".join(["\n".join(lines)] + tables) if lines else "\n\n".join(tables)


# TRANSLATORS: a part of `gaslatch status` (the reply's field, e.g. detectors) that the controller's reply holds in a shape
# this command cannot read: the rest of the screen is shown.
UNREADABLE = N_("(part %s of this status reply cannot be read: gaslatch status --json shows it as sent)")
# Beyond this an int is no reading, count or time (and str() refuses one of more than 4,300 digits).
MAX_INT = 10 ** 15


def _guarded(name: str, part: Any, status: dict) -> list[str]:
    """The lines of one part of the screen, or the line saying that part (named by its field) cannot be read."""
    try:
        return part(status)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, RecursionError):
        return [_(UNREADABLE) % name]


def shown(value: Any) -> str:
    """A value as one line of safe text: control characters, bidi controls and lone surrogates escaped."""
    if value is None:
        return ""
    return safe_text(value if isinstance(value, str) else str(clean(value)))


def recorded(value: Any) -> str:
    """Text the controller recorded or answered (a trip reason, a reset blocker, a detector's reason, a command's
    reply) in the reader's language
    (gaslatch/recorded_text.py), as one line of safe text; anything else as shown() gives it."""
    return shown(translate(value) if isinstance(value, str) else value)


def clean(value: Any, depth: int = 0) -> Any:
    """The reply with every text made safe (keys too) and every int too large to be a figure replaced by '?'."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if abs(value) < MAX_INT else "?"
    if depth > 50:
        return "?"
    if isinstance(value, list):
        return [clean(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {safe_text(key if isinstance(key, str) else repr(key)): clean(item, depth + 1)
                for key, item in value.items()}
    return safe_text(repr(value))


def _latch_lines(status: dict) -> list[str]:
    """The latch, why it tripped, the valve, the proving and whether a reset would be accepted now."""
    lines = []
    latched = status.get("latched")
    if latched:
        lines.append(_("LATCHED: gas off until a local reset"))
    elif latched is False:
        lines.append(_("ARMED: gas may flow"))
    if status.get("trip_reason"):
        lines.append(_("Trip reason: %s") % recorded(status["trip_reason"]))
    if status.get("valve_fault"):
        lines.append(_("Valve fault: %s") % recorded(status["valve_fault"]))
    proving = status.get("proving")
    if isinstance(proving, dict) and proving.get("mode") not in (None, "none"):
        if proving.get("phase") in ("check", "fill", "watch"):
            lines.append(_("Pressure proving: %(phase)s phase, %(left)s s left") % {
                "phase": _(_PROVING_PHASES[proving["phase"]]), "left": shown(proving.get("left_s"))})
        elif proving.get("failure"):
            lines.append(_("PRESSURE PROVING FAILED: %s") % recorded(proving["failure"]))
    if status.get("trip_causes"):
        lines.append(_("Trip causes: %s") % "; ".join(recorded(c) for c in _listed(status["trip_causes"])))
    if latched and isinstance(status.get("reset_blockers"), list):
        blockers = status["reset_blockers"]
        lines.append(_("RESET now: would be refused: %s") % "; ".join(recorded(b) for b in blockers) if blockers
                     else _("RESET now: would be accepted (press the button on site)"))
    return lines


def _listed(value: Any) -> list:
    """A list as it is; anything else as a list of one."""
    return value if isinstance(value, list) else [value]


def _schedule_lines(status: dict) -> list[str]:
    """人走阀关 and the daily check."""
    lines = []
    if status.get("schedule"):
        schedule = status["schedule"]
        words = _(_SCHEDULE_WORDS[schedule]) if isinstance(schedule, str) and schedule in _SCHEDULE_WORDS else \
            shown(schedule).replace("_", " ")
        lines.append(_("Attended hours (人走阀关): %s") % (words + _schedule_change(schedule,
                                                                               status.get("schedule_change_min"))))
    daily = status.get("daily_check")
    if isinstance(daily, dict) and daily.get("enabled"):
        lines.append(_("Daily check (每日检查): %s") % _daily_words(daily))
    return lines


def _inhibit_lines(status: dict) -> list[str]:
    """The sounder's silence and each detector's inhibit."""
    lines = []
    if status.get("silenced_s") is not None:
        lines.append(_("Sounder silenced: %s s left") % shown(status["silenced_s"]))
    inhibits = status.get("inhibits") or {}
    for name in sorted(inhibits):
        lines.append(_("Inhibited: %(detector)s, %(left)s s left") % {"detector": name,
                                                                       "left": shown(inhibits[name])})
    return lines


_PROVING_PHASES = {"check": N_("check"), "fill": N_("fill"), "watch": N_("watch")}
_SCHEDULE_WORDS = {"attended": N_("attended"), "unattended": N_("unattended"), "clock_unknown": N_("clock unknown")}
_DAILY_WORDS = {
    "done": N_("done today by %(done_by)s"),
    "pending": N_("not yet done today, due by %(due_by)s (at the panel)"),
    "missed": N_("MISSED: not confirmed by %(due_by)s (confirm it at the panel)"),
    "not_today": N_("not due today"),
    "clock_unknown": N_("unknown: the clock is not set"),
}


def _daily_words(daily: dict) -> str:
    today = daily.get("today")
    words = _(_DAILY_WORDS[today]) if isinstance(today, str) and today in _DAILY_WORDS else "?"
    if today == "done" and not daily.get("done_by"):
        words = _("done today")
    return words % {"done_by": str(daily.get("done_by")), "due_by": str(daily.get("due_by", "?"))}


_TASKS = {"end_of_life": N_("replace"), "calibration": N_("calibrate")}
_STAGES = {"ok": N_("ok"), "soon": N_("SOON"), "due": N_("DUE"), "unknown": N_("no install date recorded"),
           None: N_("clock not set")}


def _schedule_change(state: str, minutes: Any) -> str:
    """' (gas off in 2 h 05 min)' while attended, ' (opens in ...)' outside: the time left of 人走阀关."""
    if not _number(minutes) or state not in ("attended", "unattended"):
        return ""
    hours, mins = divmod(int(minutes), 60)
    left = (_("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": mins}) if hours else \
        _("%d min") % mins
    return _(" (gas off in %s)") % left if state == "attended" else _(" (attended again in %s)") % left


def _days(count: Any) -> str:
    """'1 day', '2 days'."""
    return ngettext("%d day", "%d days", count) % count


def _maintenance_table(rows: list) -> str:
    """Each lifecycle reminder: what, when, and how it stands today."""
    body = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        left = row.get("days_left")
        when = "" if not _number(left) else (_("%s overdue") % _days(-left) if left < 0 else _("today") if left == 0
                                             else _("in %s") % _days(left))
        body.append([str(row.get("asset", "?")), named(_TASKS, row.get("task")), str(row.get("due") or "-"),
                     named(_STAGES, row.get("stage")), when])
    return render(_("Maintenance (detectors 3 years, valve 10; calibration interval from the config)"),
                  [_("asset"), _("task"), _("due date"), _("stage"), _("when")], body)


def config_lines(status: dict) -> list[str]:
    """Which configuration runs (its identity, short, and push version) and what the start-up self-test found."""
    lines = []
    config = status.get("config")
    if isinstance(config, dict):
        lines.append(_("Configuration: %(short)s version %(version)s (identity %(identity)s)") % {
            "short": config.get("short", "?"), "version": config.get("version", "?"),
            "identity": config.get("identity", "?")})
    self_test = status.get("self_test")
    if isinstance(self_test, dict):
        faults = self_test.get("faults") or []
        if faults:
            lines.append(_("SELF-TEST FAILED: gas off, fault relay dropped; reset refused until a restart finds "
                           "the unit intact:"))
            lines.extend("  - %s" % recorded(fault) for fault in _listed(faults))
        else:
            lines.append(_("Self-test: %s") % recorded(self_test.get("summary", "?")))
    return lines


def unit_health_lines(status: dict) -> list[str]:
    """Problems of the unit itself: event store, serial ports, clock. Only the store line when all is well."""
    lines = []
    store = status.get("store")
    if isinstance(store, dict):
        if store.get("ok", True):
            lines.append(_("Event store: OK, %(rows)s of %(max)s events, last seq %(seq)s") % {
                "rows": store.get("rows", "?"), "max": store.get("max_events", "?"),
                "seq": store.get("recorded_seq", "?")})
        else:
            lines.append(_("Event store problem: %(problem)s (lost %(lost)s)") % {
                "problem": recorded(store.get("error") or store.get("integrity")) or _("see journalctl -u gaslatch"),
                "lost": store.get("lost", 0)})
    ports = status.get("ports")
    if isinstance(ports, dict):
        for name in sorted(ports):
            error = ports[name].get("error") if isinstance(ports[name], dict) else None
            if error:
                lines.append(_("Serial port of %(bus)s: %(error)s") % {"bus": name, "error": error})
    if status.get("clock_synced") is False:
        lines.append(_("Clock not synchronised: attended hours cannot be checked"))
    return lines


def _detectors_table(detectors: dict) -> str:
    rows = []
    for name in sorted(detectors):
        det = detectors[name]
        state = det.get("state", "?")
        rows.append((name, named(DETECTOR_STATES, state) if state in DETECTOR_STATES else str(state).replace("_", " "),
                     _reading(det), _age(det.get("last_sample_age_ms")), _trust(det),
                     _hold(det.get("clear_hold_remaining_ms")), _("yes") if det.get("inhibited") else _("no"),
                     recorded(det.get("reason", ""))))
    headers = (_("Detector"), _("State"), _("Reading"), _("Age"), _("Trust"), _("Clear hold"), _("Inhibited"),
               _("Why"))
    return render(_("Detectors"), headers, rows, right=(headers[2], headers[3], headers[5]))


# A detector's state in the words of GB 16808 (docs/glossary.csv).
DETECTOR_STATES = {"normal": N_("normal"), "low_alarm": N_("low alarm"), "high_alarm": N_("high alarm"),
                   "fault": N_("fault"), "comm_lost": N_("communication lost"), "warmup": N_("warming up")}


def _trust(det: dict) -> str:
    """Whether the detector's reports can be trusted: ok, unstable, or its link's failed polls."""
    link = det.get("link") if isinstance(det.get("link"), dict) else {}
    if det.get("distrust") == "unstable":
        return _("UNSTABLE")
    if det.get("distrust") == "link_degraded":
        return _("LINK %(failed)s/%(polls)s failed") % {"failed": link.get("failed", "?"), "polls": link.get("polls", "?")}
    if link.get("failed"):
        return _("ok (%(failed)s/%(polls)s failed)") % {"failed": link["failed"], "polls": link.get("polls", "?")}
    return _("ok") if "distrust" in det else "-"


def _hold(remaining_ms: Any) -> str:
    """The clear hold still to serve before the detector can be normal and a reset accepted."""
    if not _number(remaining_ms) or remaining_ms <= 0:
        return "-"
    return "%d s" % ((remaining_ms + 999) // 1000)


def _outputs_table(outputs: dict) -> str:
    rows = [(named(OUTPUT_NAMES, name), _("on") if outputs[name] else _("off"),
             _(_OUTPUT_MEANING[name][bool(outputs[name])]) if name in _OUTPUT_MEANING else "")
            for name in sorted(outputs)]
    return render(_("Outputs"), (_("Output"), _("On/off"), _("Meaning")), rows)


def _interlocks_table(interlocks: dict, airflow: str | None = None) -> str:
    """Each interlock; ventilation with the airflow proving's state (docs/safety.md, Airflow proving)."""
    rows = []
    for name in sorted(interlocks):
        state = _("ACTIVE") if interlocks[name] else _("clear")
        if name == "ventilation" and airflow:
            state += _(" (airflow %s)") % named(AIRFLOW_STATES, airflow)
        rows.append((named(INTERLOCK_NAMES, name) if name in INTERLOCK_NAMES else shown(name).replace("_", " "),
                     state))
    return render(_("Interlocks"), (_("Interlock"), _("State")), rows)


def _buses_table(buses: dict) -> str:
    columns = ((_("Requests"), "requests"), (_("OK"), "responses_ok"), (_("Timeouts"), "timeouts"),
               (_("CRC errors"), "crc_errors"), (_("Frame errors"), "frame_errors"), (_("Last OK"), "last_ok_age_ms"))
    rows = []
    for name in sorted(buses):
        bus = buses[name]
        rows.append([name] + [_age(bus.get(key)) if key == "last_ok_age_ms" else str(bus.get(key, ""))
                              for _title, key in columns])
    headers = [_("Bus")] + [title for title, _key in columns]
    return render(_("RS-485 buses"), headers, rows, right=headers[1:])


def _scan_table(scan: dict) -> str:
    rows = [(label, str(scan.get(key, ""))) for label, key in (
        (_("scans"), "scans"), (_("overruns"), "overruns"), (_("missed deadlines"), "missed_deadlines"))]
    for label, key in ((_("start jitter p50 / p99 / max"), "start_jitter"),
                       (_("execution time p50 / p99 / max"), "execution")):
        hist = scan.get(key) or {}
        rows.append((label, " / ".join(_millis(hist.get(k)) for k in ("p50_us", "p99_us", "max_us"))))
    headers = (_("Figure"), _("Value"))
    return render(_("Scan loop (period %s ms)") % scan.get("period_ms", "?"), headers, rows, right=(headers[1],))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reading(det: dict) -> str:
    """The latest reading with its unit: %LEL for combustible gas, ppm (never %LEL) for a CO or CO2 detector."""
    if det.get("measurand") in ("co", "co2"):
        centi_ppm = det.get("concentration_centi_ppm")
        return "%.0f ppm %s" % (centi_ppm / 100, det["measurand"].upper()) if _number(centi_ppm) else "-"
    centi_pct_lel = det.get("concentration_centi_pct_lel")
    return "%.2f %%LEL" % (centi_pct_lel / 100) if _number(centi_pct_lel) else "-"


def _age(age_ms: Any) -> str:
    return "%.1f s" % (age_ms / 1000) if _number(age_ms) else "-"


def _millis(value_us: Any) -> str:
    return "%.2f ms" % (value_us / 1000) if _number(value_us) else "-"
