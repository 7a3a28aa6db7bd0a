"""What `gaslatch status` prints from the unit's status reply: the latch, the unit's own health, then tables.

Pure: a reply in, text out, so the same words serve a terminal, an SSH session and a support e-mail.
"""

from __future__ import annotations

from typing import Any

from gaslatch.unit.text_table import render

_OUTPUT_MEANING = {
    "valve": {True: "energised", False: "de-energised"},
    "fault_relay": {True: "healthy", False: "fault signalled"},
}


def refusal_lines(title: str, reply: dict) -> list[str]:
    """The title and each reason on its own line, else the title and the error text."""
    reasons = reply.get("reasons")
    if isinstance(reasons, list) and reasons:
        return ["%s:" % title] + ["  - %s" % reason for reason in reasons]
    return ["%s: %s" % (title, reply.get("error") or "no reason given")]


def status_text(reply: dict) -> str:
    """The whole status screen of one reply (the runtime's nested form or the controller's flat one)."""
    if not reply.get("ok"):
        return "\n".join(refusal_lines("Status not available", reply))
    status = reply["status"] if isinstance(reply.get("status"), dict) else reply
    lines = unit_health_lines(status) + config_lines(status)
    latched = status.get("latched")
    if latched:
        lines.append("LATCHED: gas off until a local reset")
    elif latched is False:
        lines.append("ARMED: gas may flow")
    for label, key in (("Trip reason", "trip_reason"), ("Valve fault", "valve_fault")):
        if status.get(key):
            lines.append("%s: %s" % (label, status[key]))
    proving = status.get("proving")
    if isinstance(proving, dict) and proving.get("mode") not in (None, "none"):
        if proving.get("phase") in ("check", "fill", "watch"):
            lines.append("Pressure proving: %s phase, %s s left" % (proving["phase"], proving.get("left_s")))
        elif proving.get("failure"):
            lines.append("PRESSURE PROVING FAILED: %s" % proving["failure"])
    if status.get("trip_causes"):
        lines.append("Trip causes: %s" % "; ".join(str(c) for c in status["trip_causes"]))
    if latched and isinstance(status.get("reset_blockers"), list):
        blockers = status["reset_blockers"]
        lines.append("RESET now: %s" % ("would be refused: " + "; ".join(str(b) for b in blockers) if blockers
                                        else "would be accepted (press the button on site)"))
    if status.get("schedule"):
        lines.append("Attended hours: %s%s" % (str(status["schedule"]).replace("_", " "),
                                               _schedule_change(status["schedule"], status.get("schedule_change_min"))))
    daily = status.get("daily_check")
    if isinstance(daily, dict) and daily.get("enabled"):
        lines.append("Daily check (每日检查): %s" % _daily_words(daily))
    if status.get("silenced_s") is not None:
        lines.append("Sounder silenced: %s s left" % status["silenced_s"])
    inhibits = status.get("inhibits") or {}
    for name in sorted(inhibits):
        lines.append("Inhibited: %s, %s s left" % (name, inhibits[name]))
    tables = [_detectors_table(status.get("detectors") or {}), _outputs_table(status.get("outputs") or {}),
              _interlocks_table(status.get("interlocks") or {}, status.get("airflow"))]
    if status.get("maintenance"):
        tables.append(_maintenance_table(status["maintenance"]))
    if status.get("buses"):
        tables.append(_buses_table(status["buses"]))
    if status.get("scan"):
        tables.append(_scan_table(status["scan"]))
    return "\n\n".join(["\n".join(lines)] + tables) if lines else "\n\n".join(tables)


_DAILY_WORDS = {
    "done": "done today by %(done_by)s",
    "pending": "not yet done today, due by %(due_by)s (at the panel)",
    "missed": "MISSED: not confirmed by %(due_by)s (confirm it at the panel)",
    "not_today": "not due today",
    "clock_unknown": "unknown: the clock is not set",
}


def _daily_words(daily: dict) -> str:
    today = daily.get("today")
    words = _DAILY_WORDS.get(today, "?") if isinstance(today, str) else "?"
    if today == "done" and not daily.get("done_by"):
        words = "done today"
    return words % {"done_by": str(daily.get("done_by")), "due_by": str(daily.get("due_by", "?"))}


_TASKS = {"end_of_life": "replace", "calibration": "calibrate"}
_STAGES = {"ok": "ok", "soon": "SOON", "due": "DUE", "unknown": "no install date recorded", None: "clock not set"}


def _schedule_change(state: str, minutes: Any) -> str:
    """' (gas off in 2 h 05 min)' while attended, ' (opens in ...)' outside: the time left of 人走阀关."""
    if not _number(minutes) or state not in ("attended", "unattended"):
        return ""
    hours, mins = divmod(int(minutes), 60)
    left = ("%d h %02d min" % (hours, mins)) if hours else "%d min" % mins
    return " (gas off in %s)" % left if state == "attended" else " (attended again in %s)" % left


def _days(count: Any) -> str:
    """'1 day', '2 days'."""
    return "%d day%s" % (count, "" if count == 1 else "s")


def _maintenance_table(rows: list) -> str:
    """Each lifecycle reminder: what, when, and how it stands today."""
    body = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        left = row.get("days_left")
        when = "" if not _number(left) else ("%s overdue" % _days(-left) if left < 0 else "today" if left == 0
                                             else "in %s" % _days(left))
        body.append([str(row.get("asset", "?")), _TASKS.get(row.get("task"), str(row.get("task"))),
                     str(row.get("due") or "-"), _STAGES.get(row.get("stage"), str(row.get("stage"))), when])
    return render("Maintenance (detectors 3 years, valve 10; calibration interval from the config)",
                  ["asset", "task", "due", "stage", "when"], body)


def config_lines(status: dict) -> list[str]:
    """Which configuration runs (its identity, short, and push version) and what the start-up self-test found."""
    lines = []
    config = status.get("config")
    if isinstance(config, dict):
        lines.append("Configuration: %s version %s (identity %s)" % (
            config.get("short", "?"), config.get("version", "?"), config.get("identity", "?")))
    self_test = status.get("self_test")
    if isinstance(self_test, dict):
        faults = self_test.get("faults") or []
        if faults:
            lines.append("SELF-TEST FAILED: gas off, fault relay dropped; reset refused until a restart finds "
                         "the unit intact:")
            lines.extend("  - %s" % fault for fault in faults)
        else:
            lines.append("Self-test: %s" % self_test.get("summary", "?"))
    return lines


def unit_health_lines(status: dict) -> list[str]:
    """Problems of the unit itself: event store, serial ports, clock. Only the store line when all is well."""
    lines = []
    store = status.get("store")
    if isinstance(store, dict):
        if store.get("ok", True):
            lines.append("Event store: OK, %s of %s events, last seq %s" % (
                store.get("rows", "?"), store.get("max_events", "?"), store.get("recorded_seq", "?")))
        else:
            lines.append("Event store problem: %s (lost %s)" % (
                store.get("error") or store.get("integrity") or "see journalctl -u gaslatch", store.get("lost", 0)))
    ports = status.get("ports")
    if isinstance(ports, dict):
        for name in sorted(ports):
            error = ports[name].get("error") if isinstance(ports[name], dict) else None
            if error:
                lines.append("Serial port of %s: %s" % (name, error))
    if status.get("clock_synced") is False:
        lines.append("Clock not synchronised: attended hours cannot be checked")
    return lines


def _detectors_table(detectors: dict) -> str:
    rows = []
    for name in sorted(detectors):
        det = detectors[name]
        rows.append((name, str(det.get("state", "?")).replace("_", " "), _reading(det),
                     _age(det.get("last_sample_age_ms")), _trust(det), _hold(det.get("clear_hold_remaining_ms")),
                     "yes" if det.get("inhibited") else "no", str(det.get("reason", ""))))
    return render("Detectors", ("Detector", "State", "Reading", "Age", "Trust", "Clear hold", "Inhibited", "Why"),
                  rows, right=("Reading", "Age", "Clear hold"))


def _trust(det: dict) -> str:
    """Whether the detector's reports can be trusted: ok, unstable, or its link's failed polls."""
    link = det.get("link") if isinstance(det.get("link"), dict) else {}
    if det.get("distrust") == "unstable":
        return "UNSTABLE"
    if det.get("distrust") == "link_degraded":
        return "LINK %s/%s failed" % (link.get("failed", "?"), link.get("polls", "?"))
    if link.get("failed"):
        return "ok (%s/%s failed)" % (link["failed"], link.get("polls", "?"))
    return "ok" if "distrust" in det else "-"


def _hold(remaining_ms: Any) -> str:
    """The clear hold still to serve before the detector can be normal and a reset accepted."""
    if not _number(remaining_ms) or remaining_ms <= 0:
        return "-"
    return "%d s" % ((remaining_ms + 999) // 1000)


def _outputs_table(outputs: dict) -> str:
    rows = [(name, "on" if outputs[name] else "off", _OUTPUT_MEANING.get(name, {}).get(bool(outputs[name]), ""))
            for name in sorted(outputs)]
    return render("Outputs", ("Output", "Level", "Meaning"), rows)


def _interlocks_table(interlocks: dict, airflow: str | None = None) -> str:
    """Each interlock; ventilation with the airflow proving's state (docs/safety.md, Airflow proving)."""
    rows = []
    for name in sorted(interlocks):
        state = "ACTIVE" if interlocks[name] else "clear"
        if name == "ventilation" and airflow:
            state += " (airflow %s)" % airflow
        rows.append((name.replace("_", " "), state))
    return render("Interlocks", ("Interlock", "State"), rows)


def _buses_table(buses: dict) -> str:
    columns = (("Requests", "requests"), ("OK", "responses_ok"), ("Timeouts", "timeouts"),
               ("CRC errors", "crc_errors"), ("Frame errors", "frame_errors"), ("Last OK", "last_ok_age_ms"))
    rows = []
    for name in sorted(buses):
        bus = buses[name]
        rows.append([name] + [_age(bus.get(key)) if key == "last_ok_age_ms" else str(bus.get(key, ""))
                              for _, key in columns])
    headers = ["Bus"] + [title for title, _ in columns]
    return render("RS-485 buses", headers, rows, right=headers[1:])


def _scan_table(scan: dict) -> str:
    rows = [(label, str(scan.get(key, ""))) for label, key in (
        ("scans", "scans"), ("overruns", "overruns"), ("missed deadlines", "missed_deadlines"))]
    for label, key in (("start jitter", "start_jitter"), ("execution time", "execution")):
        hist = scan.get(key) or {}
        rows.append(("%s p50 / p99 / max" % label, " / ".join(_millis(hist.get(k)) for k in ("p50_us", "p99_us", "max_us"))))
    return render("Scan loop (period %s ms)" % scan.get("period_ms", "?"), ("Figure", "Value"), rows, right=("Value",))


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
