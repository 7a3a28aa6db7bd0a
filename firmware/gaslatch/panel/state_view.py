"""What the kitchen panel shows for one status reply: one big state, its reason in plain words, what to do now.

Pure: the controller's status (or the reason it could not be had) in, a plain dict out, so the page, its tests
and docs/operations.md say the same thing. The words follow docs/operations.md's "What each alarm means and
what to do"; the colours GB 16808's indicators: red (flashing) alarm, yellow fault, green normal.
"""

from __future__ import annotations

import time
from typing import Any

ALARM, FAULT, GAS_OFF, GAS_ON, NO_CONTACT = "alarm", "fault", "gas_off", "gas_on", "no_contact"
TITLES = {
    ALARM: ("燃气报警", "GAS ALARM"),
    FAULT: ("故障", "FAULT"),
    GAS_OFF: ("燃气已关闭", "GAS OFF"),
    GAS_ON: ("供气正常", "GAS ON"),
    NO_CONTACT: ("控制器无响应", "CONTROLLER NOT ANSWERING"),
}
ALARM_STATES = ("low_alarm", "high_alarm")
DETECTOR_WORDS = {"normal": ("正常", "normal"), "low_alarm": ("低限报警", "low alarm"),
                  "high_alarm": ("高限报警", "high alarm"), "fault": ("故障", "fault"),
                  "comm_lost": ("通讯中断", "not answering"), "warmup": ("预热", "warming up")}
TODO = {
    "high_alarm": ("立即通风，禁止明火和开关电器，撤离人员，查找泄漏点。读数恢复正常后，在控制器上按复位键。",
                   "Ventilate now: no flames, no switches. Get people out and find the leak. Press RESET on the "
                   "unit only when the readings are back to normal."),
    "low_alarm": ("打开门窗，检测器附近禁止明火和开关电器，检查软管、接头和灶具；持续报警请联系燃气公司。",
                  "Open doors and windows, no flames or switches near the detector, check hoses, joints and "
                  "burners; call the gas company if it persists."),
    FAULT: ("燃气报警器有故障，可能无法发现泄漏：请联系安装人员。", "The gas protection has a fault and may not "
            "see a leak: call the installer."),
    "valve_fault": ("切断阀未能动作，燃气可能没有关闭：立即关闭手动总阀并联系安装人员。",
                    "The valve did not move: the gas may not be off. Close the manual isolation valve now and "
                    "call the installer."),
    GAS_OFF: ("排除原因后，在控制器上按复位键恢复供气。", "Once the cause is dealt with, press RESET on the unit "
              "to turn the gas back on."),
    GAS_ON: ("一切正常。下班时关闭燃气（人走阀关）。", "All normal. Turn the gas off when you leave (人走阀关)."),
    "proving": ("正在检漏（燃气管道压力检测），请稍候，不要使用灶具。", "Proving the gas pipework: wait, and do not use "
                "the appliances."),
    NO_CONTACT: ("面板收不到控制器的状态。控制器仍独立保护厨房；如报警灯或蜂鸣器响起，按报警处理。请联系安装人员。",
                 "The panel gets no state from the controller. The controller still protects the kitchen on its "
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
        state = det.get("state", "")
        zh, en = DETECTOR_WORDS.get(state, (state, state))
        # In doubt, a fault: only a detector that says normal and is trusted is shown green.
        kind = ALARM if state in ALARM_STATES else GAS_ON if state == "normal" and not det.get("distrust") else FAULT
        rows.append({"name": name, "state_zh": zh, "state_en": en, "reading": _reading(det), "kind": kind,
                     "inhibited": bool(det.get("inhibited")), "why": det.get("distrust") or det.get("reason", "")})
    return rows


TASK_WORDS = {"end_of_life": ("到期更换", "replace"), "calibration": ("标定/检测", "calibrate")}
STAGE_WORDS = {"soon": ("即将到期", "due soon"), "due": ("已到期", "due"), "unknown": ("未登记安装日期", "no install date")}
DAILY_WORDS = {"done": ("今日已检查", "done today"), "pending": ("今日尚未检查", "not done yet today"),
               "missed": ("未按时检查", "not done in time"), "not_today": ("今日无需检查", "not due today"),
               "clock_unknown": ("时钟未设置", "clock not set")}


def maintenance_rows(status: dict) -> list[dict]:
    """The reminders worth a kitchen's attention: soon, due, or impossible (no install date)."""
    rows = []
    listed = status.get("maintenance")
    for row in listed if isinstance(listed, list) else []:
        if not isinstance(row, dict) or not isinstance(row.get("stage"), str) or row["stage"] not in STAGE_WORDS:
            continue
        left = row.get("days_left")
        when = ("", "") if not isinstance(left, int) or isinstance(left, bool) else (("逾期 %d 天" % -left, "%d day%s overdue" % (-left, "" if left == -1 else "s")) if left < 0
                                                            else ("今天", "today") if left == 0
                                                            else ("还有 %d 天" % left, "in %d day%s" % (left, "" if left == 1 else "s")))
        rows.append({"asset": str(row.get("asset", "")), "task": TASK_WORDS.get(row.get("task"), ("", "")),
                     "due": row.get("due") or "", "stage": row["stage"], "stage_words": STAGE_WORDS[row["stage"]],
                     "when": when})
    return rows


def daily_check_view(status: dict) -> dict | None:
    check = status.get("daily_check")
    if not isinstance(check, dict) or not check.get("enabled"):
        return None
    listed = check.get("items")
    items = [item for item in (listed if isinstance(listed, list) else [])
             if isinstance(item, dict) and isinstance(item.get("id"), str)]
    today = check.get("today") if isinstance(check.get("today"), str) else ""
    return {"today": today, "words": DAILY_WORDS.get(today, (today, today)), "due_by": check.get("due_by"),
            "checklist": items, "done_by": check.get("done_by") or "", "open": today in ("pending", "missed", "not_today")}


def schedule_left(status: dict) -> tuple[str, str] | None:
    """人走阀关: how long until the gas goes off at the end of the attended hours, or the kitchen opens."""
    minutes, state = status.get("schedule_change_min"), status.get("schedule")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0 or \
            state not in ("attended", "unattended"):
        return None
    hours, mins = divmod(minutes, 60)
    zh = ("%d 小时 %d 分钟" % (hours, mins)) if hours else "%d 分钟" % mins
    en = ("%d h %02d min" % (hours, mins)) if hours else "%d min" % mins
    if state == "attended":
        return "%s后关气（人走阀关）" % zh, "gas off in %s" % en
    return "%s后营业" % zh, "attended again in %s" % en


SEVERITY_KIND = {"alarm": ALARM, "fault": FAULT, "warning": FAULT}
RECENT_SHOWN = 8
EVENT_WORDS = {"trip": ("关阀", "trip"), "reset": ("复位", "reset"), "reset_refused": ("复位被拒绝", "reset refused"),
               "detector": ("探测器", "detector"), "detector_health": ("探测器可信度", "detector health"),
               "interlock": ("联动", "interlock"), "schedule": ("营业时间", "attended hours"),
               "silence": ("消音", "silence"), "inhibit": ("屏蔽", "inhibit"), "output": ("输出", "output"),
               "valve_fault": ("阀门故障", "valve fault"), "command": ("命令", "command"), "access": ("登录", "access"),
               "maintenance_due": ("维护提醒", "maintenance"), "daily_check": ("每日检查", "daily check"),
               "startup": ("启动", "start-up"), "shutdown": ("停止", "shutdown"), "bus": ("总线", "bus")}


def recent_rows(status: dict, wall_s: float | None) -> list[dict]:
    """The newest events first, each with its local time of day (from the status's own clock and wall_s, when the
    status was taken)."""
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
        type_ = event.get("type") if isinstance(event.get("type"), str) else ""
        severity = event.get("severity") if isinstance(event.get("severity"), str) else ""
        rows.append({"at": at, "type": EVENT_WORDS.get(type_, (type_, type_)), "kind": SEVERITY_KIND.get(severity, GAS_ON), "source": str(event.get("source", "")), "state": str(event.get(
                "state", "")), "reason": str(event.get("reason", ""))[:160]})
        if len(rows) == RECENT_SHOWN:
            break
    return rows


def view(reply: dict | None, problem: str = "", wall_s: float | None = None) -> dict[str, Any]:
    """The panel's view of one status reply (None: no reply, problem says why); wall_s: when it was taken."""
    if not reply or not reply.get("ok") or not isinstance(reply.get("status"), dict):
        return {"kind": NO_CONTACT, "title": TITLES[NO_CONTACT], "reason": problem or str((reply or {}).get(
            "error", "")), "todo": TODO[NO_CONTACT], "detectors": [], "gas_on": None, "reset": None,
            "interlocks": [], "inhibits": {}, "silenced_s": None, "schedule": None, "config": None,
            "maintenance": [], "daily_check": None, "schedule_left": None, "recent": []}
    status = reply["status"]
    dets = detector_rows(status)
    latched = bool(status.get("latched"))
    alarms = [d for d in dets if d["kind"] == ALARM]
    faults = [d for d in dets if d["kind"] == FAULT]
    valve_fault = status.get("valve_fault") or ""
    unit_faults = [("阀门故障", "valve fault: " + valve_fault)] if valve_fault else []
    self_test = status.get("self_test")
    if isinstance(self_test, dict):
        unit_faults.extend(("自检失败", "self-test: %s" % fault) for fault in self_test.get("faults") or [])
    proving = status.get("proving") if isinstance(status.get("proving"), dict) else {}
    if proving.get("failure"):
        unit_faults.append(("检漏失败", "pressure proving failed: %s" % proving["failure"]))
    store = status.get("store")
    if isinstance(store, dict) and not store.get("ok", True):
        unit_faults.append(("事件记录故障", "event store: %s" % (store.get("error") or "see the journal")))
    if alarms:
        worst = "high_alarm" if any(d["state_en"] == "high alarm" for d in alarms) else "low_alarm"
        kind, todo = ALARM, TODO[worst]
        reason = "; ".join("%s %s %s" % (d["name"], d["state_zh"], d["reading"]) for d in alarms)
    elif faults or unit_faults:
        kind = FAULT
        todo = TODO["valve_fault"] if valve_fault else TODO[FAULT]
        reason = "; ".join(["%s %s: %s" % (d["name"], d["state_zh"], d["why"]) for d in faults]
                           + ["%s %s" % pair for pair in unit_faults])
    elif latched and proving.get("phase") in ("check", "fill", "watch"):
        kind, todo = GAS_OFF, TODO["proving"]
        reason = "正在检漏 proving the pipework: %s, %s s" % (proving["phase"], proving.get("left_s"))
    elif latched:
        kind, todo, reason = GAS_OFF, TODO[GAS_OFF], status.get("trip_reason") or ""
    else:
        kind, todo, reason = GAS_ON, TODO[GAS_ON], ""
    blockers = status.get("reset_blockers") if latched else None
    reset = None
    if latched:
        reset = {"blockers": [str(b) for b in blockers or []],
                 "hint": ("现在按复位键会被拒绝", "RESET would be refused now") if blockers else
                 ("请在控制器上按复位键", "Press RESET on the unit")}
    return {
        "kind": kind, "title": TITLES[kind], "reason": reason, "todo": todo, "detectors": dets,
        "gas_on": not latched, "trip_reason": status.get("trip_reason") if latched else "", "reset": reset,
        "interlocks": sorted(name for name, active in (status.get("interlocks") or {}).items() if active),
        "inhibits": dict(status.get("inhibits") or {}), "silenced_s": status.get("silenced_s"),
        "schedule": status.get("schedule"),
        "config": status.get("config") if isinstance(status.get("config"), dict) else None,
        "maintenance": maintenance_rows(status), "daily_check": daily_check_view(status),
        "schedule_left": schedule_left(status), "recent": recent_rows(status, wall_s),
    }
