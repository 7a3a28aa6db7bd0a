"""The commissioning report: the record as the document the installer, inspector and owner sign.

HTML and PDF, Chinese (default) or English, with a plot of each bump test; it lists what is still missing
or failed and exits 1 then, so a kitchen is never signed off on a failed or missing test.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import io
import json
import math
import os
import shutil
import subprocess
from functools import lru_cache
from typing import Any, Callable

import click

from gaslatch_tools.commission.cli import EXIT_FAILED, EXIT_OK, commission, fail, finish
from gaslatch_tools.commission.record import LIMITS_S, Record, RecordError

LANGUAGES = ("zh", "en")
FORMATS = ("html", "pdf")
FILE_NAMES = {"html": "report.html", "pdf": "report.pdf"}

# Where each limit comes from (the values themselves are record.LIMITS_S).
LIMIT_SOURCES = {
    "time_to_alarm": "GB 50166, GB 16808",
    "recovery": "GB 50166, GB 16808",
    "linkage": "GB 16808, CJJ/T 146",
    "open_line_fault": "GB 16808, GB 50166",
}
# Interlock tests in the order the report lists them, with the names `interlock-test` records (entry "test").
INTERLOCK_KINDS = ("fire", "estop", "fan", "power", "open-line")
ALWAYS_REQUIRED_INTERLOCKS = ("power", "open-line")  # CJJ/T 146 power changeover; GB 16808 open-line fault
LINKAGE_OUTPUTS = ("valve", "fan", "sounder")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

PASS, FAIL, MISSING, NA, NOT_TESTED = "pass", "fail", "missing", "na", "not_tested"

# Every string the report prints, one table per language (tests check both have the same keys).
TEXT = {
    "zh": {
        "title": "燃气泄漏安全保护系统调试记录",
        "subtitle": "餐饮厨房可燃气体探测报警与紧急切断系统（gaslatch）",
        "generated": "生成时间",
        "time_zone": "表中时间均为本地时间（UTC%s）",
        "record_file": "记录文件",
        "record_sha256": "记录文件校验值（SHA-256）",
        "page": "第 %d 页，共 %d 页",
        "label": "%s：%s",
        "with_note": "%s（%s）",
        "fact_sep": "；",
        "draft_mark": "不可签字：记录不完整或有不合格项",
        "ready_title": "可以签字：全部测试已完成且合格。",
        "not_ready_title": "不可签字：以下项目缺失或不合格。",
        "not_ready_hint": "存在不合格或缺失的测试时，不得签字验收。完成或重做这些测试后，请重新生成本记录。",
        "warnings_title": "请核对或在打印件上补填：",
        "sec_general": "一、基本信息",
        "sec_limits": "二、判定依据",
        "sec_detectors": "三、可燃气体探测器",
        "sec_valve": "四、紧急切断阀测试",
        "sec_interlocks": "五、联锁功能测试",
        "sec_schedule": "六、人走阀关定时计划",
        "sec_config": "七、控制器配置",
        "sec_log": "八、调试过程记录",
        "sec_signatures": "九、签字确认",
        "group_site": "使用场所",
        "group_unit": "控制器",
        "group_installer": "安装调试单位",
        "group_bus": "RS-485 总线",
        "field_name": "名称",
        "field_site_name": "场所名称",
        "field_address": "地址",
        "field_owner": "使用单位",
        "field_contact": "联系人",
        "field_phone": "电话",
        "field_serial": "序列号",
        "field_version": "软件版本",
        "field_installer_name": "调试人员",
        "field_company": "单位",
        "field_licence": "资质证书编号",
        "field_port": "串口",
        "field_baud": "波特率",
        "field_parity": "校验位",
        "field_stop_bits": "停止位",
        "field_scan": "总线扫描",
        "field_model": "型号",
        "field_profile": "协议配置",
        "field_modbus_address": "通信地址",
        "field_location": "安装位置",
        "field_gas": "检测气体",
        "field_low_alarm": "一级报警设定值",
        "field_high_alarm": "二级报警设定值",
        "field_zone": "区域",
        "field_kind": "接入方式",
        "field_last_seen": "最近一次扫描应答",
        "field_scan_reading": "扫描时读数",
        "field_scan_problems": "扫描发现的问题",
        "field_setting_changes": "设置修改",
        "field_detector": "探测器",
        "field_reason": "原因",
        "field_note": "说明",
        "field_reset": "复位",
        "field_fault_state": "故障状态",
        "field_restored_s": "重新接线后恢复正常",
        "field_valve_closed_s": "阀门关闭到位",
        "field_unit_stayed_up": "切换时控制器未重启",
        "field_backup_running_confirmed": "确认由备用电源供电",
        "field_observed_s": "备用电源观察时间",
        "field_line": "通信参数",
        "field_first_alarm_s": "首次报警（任一级）",
        "field_high_alarm_s": "二级报警",
        "field_stable_s": "读数稳定时间",
        "field_tolerance_pct": "稳定判据（±%LEL）",
        "reset_accepted": "已复位（按下复位按钮）",
        "reset_not_needed": "无需复位",
        "reset_refused": "复位被拒绝",
        "reset_expired": "复位超时",
        "state_normal": "正常",
        "state_low_alarm": "一级报警",
        "state_high_alarm": "二级报警",
        "state_fault": "故障",
        "state_comm_lost": "通信中断",
        "state_warmup": "预热",
        "state_over_range": "超量程",
        "scan_summary": "发现 %s 个设备（%s），通信错误率 %s %%，应答时间中位数 %s ms",
        "col_item": "项目",
        "col_limit": "限值",
        "col_source": "依据",
        "col_name": "名称",
        "col_set_points": "报警设定值（一级/二级）",
        "col_model": "型号/协议",
        "col_calibration": "标定",
        "col_bump": "通气试验",
        "col_time": "时间",
        "col_kind": "类型",
        "col_span_gas": "标准气体浓度",
        "col_before": "标定前读数",
        "col_after": "标定后读数",
        "col_result": "结论",
        "col_other": "说明",
        "col_measured": "实测",
        "col_command": "命令",
        "col_summary": "结果",
        "col_role": "签字人",
        "col_person": "姓名",
        "col_signature": "签字",
        "col_date": "日期",
        "lim_time_to_alarm": "报警响应时间：施加试验气体至探测器报警",
        "lim_recovery": "恢复时间：撤除试验气体至恢复正常监视状态",
        "lim_linkage": "联动时间：报警至紧急切断阀关闭、排风机启动、声光报警器动作",
        "lim_open_line_fault": "断线故障：探测器线路断开至控制器显示故障",
        "lim_set_points": "报警设定值：一级不高于 25 %LEL，二级不高于 50 %LEL",
        "lim_valve": "紧急切断阀：报警时自动关闭，须现场手动复位才能重新开启",
        "lim_fan": "排风机联锁：风量未确认时关闭燃气（BS 6173 模式）",
        "lim_power": "主电源与备用电源切换",
        "detector_heading": "探测器 %s",
        "calibrations": "标定记录",
        "no_calibration": "本次未做标定。",
        "cal_zero": "零点标定",
        "cal_span": "量程标定",
        "cal_zero_short": "零点",
        "cal_span_short": "量程",
        "bump_heading": "通气试验 %d（%s）",
        "no_bump": "未做通气试验。",
        "bump_mode": "测试方式",
        "bump_gas": "试验气体浓度",
        "bump_expected": "应触发",
        "mode_linkage": "控制器运行，全链路联动",
        "mode_inhibit": "维护模式：被测探测器临时抑制，不联动",
        "mode_standalone": "总线独立测试：无控制器，不联动",
        "expected_low_alarm": "一级报警",
        "expected_high_alarm": "二级报警",
        "item_time_to_alarm": "报警响应时间",
        "item_recovery": "恢复时间",
        "item_linkage_valve": "联动：紧急切断阀关闭指令",
        "item_linkage_fan": "联动：排风机启动",
        "item_linkage_sounder": "联动：声光报警器动作",
        "item_valve_closed": "紧急切断阀关闭到位",
        "item_failures": "不合格原因",
        "item_overall": "试验结论",
        "valve_not_expected": "一级报警不关阀",
        "marked_failed": "记录中判定为不合格",
        "source_limit_switch": "行程开关",
        "source_controller": "控制器阀门监视",
        "source_installer": "调试人员确认",
        "plot_caption": "读数曲线：探测器 %s，通气试验 %d（时间从施加试验气体起算）",
        "no_samples": "无读数曲线（记录中没有采样数据）。",
        "no_valve_test": "未做紧急切断阀测试。",
        "valve_heading": "测试 %d（%s）",
        "valve_type": "阀门类型",
        "valve_feedback": "位置反馈",
        "valve_travel": "行程时间",
        "valve_type_hold": "断电关闭型（通电保持开启）",
        "valve_type_pulse": "脉冲型",
        "valve_type_motorised": "电动型",
        "valve_feedback_none": "无",
        "valve_feedback_closed": "关到位开关",
        "valve_feedback_both": "开、关到位开关",
        "valve_close_command": "控制器发出关阀指令",
        "valve_closed": "阀门关闭到位",
        "valve_remote_refused": "远程复位不能开阀（须按复位按钮）",
        "valve_no_reopen": "未按复位按钮时燃气不能恢复",
        "valve_reset": "现场手动复位",
        "valve_reopen": "复位后阀门开启到位",
        "interlock_fire": "火灾报警联动输入",
        "interlock_estop": "紧急停止按钮",
        "interlock_fan": "排风机风量确认（BS 6173）",
        "interlock_power": "主备电源切换",
        "interlock_open-line": "探测器断线故障",
        "interlock_off": "配置中未启用",
        "interlock_unknown": "未进行（无法读取配置，不能判断是否接入）",
        "not_done": "未进行",
        "schedule_enabled": "启用",
        "schedule_attended": "有人值守时段（其余时间关断燃气）",
        "schedule_off": "未启用：燃气不按时段关断。",
        "schedule_none": "未记录",
        "overnight": "（跨夜）",
        "config_path": "配置文件",
        "config_sha256": "配置校验值（SHA-256）",
        "config_pushed_at": "下发时间",
        "config_none": "配置未下发到控制器。",
        "log_empty": "无记录。",
        "sign_statement": "签字人确认：上述测试在本人见证下完成，记录属实；系统已按本记录投入使用。",
        "sign_blocked": "本记录不可签字：请先完成第一页所列项目。",
        "role_installer": "安装调试人员",
        "role_inspector": "验收人员",
        "role_owner": "使用单位（业主）代表",
        "status_pass": "合格",
        "status_fail": "不合格",
        "status_missing": "未完成",
        "status_na": "不适用",
        "status_not_tested": "未测试",
        "status_recorded": "已记录",
        "yes": "是",
        "no": "否",
        "none": "—",
        "list_sep": "、",
        "gas_methane": "甲烷（天然气）",
        "gas_propane": "丙烷",
        "gas_lpg": "液化石油气",
        "day_mon": "周一",
        "day_tue": "周二",
        "day_wed": "周三",
        "day_thu": "周四",
        "day_fri": "周五",
        "day_sat": "周六",
        "day_sun": "周日",
        "plot_time": "时间（s）",
        "plot_reading": "读数（%LEL）",
        "plot_curve": "读数",
        "plot_low": "一级报警设定值",
        "plot_high": "二级报警设定值",
        "plot_gas_on": "施加试验气体",
        "plot_alarm": "报警 %s s",
        "plot_recovered": "恢复",
        "plot_limit": "%g s 响应限值",
        "problem_no_detectors": "记录中没有探测器：请先运行 scan 和 config init。",
        "problem_bump_missing": "探测器 %s：未做通气试验。",
        "problem_bump_failed": "探测器 %s：最近一次通气试验不合格。",
        "problem_bump_incomplete": "探测器 %s：通气试验缺少%s。",
        "problem_bump_no_linkage": "探测器 %s：联动未测试（维护或总线独立模式），须在控制器运行时重做通气试验。",
        "problem_bump_linkage_failed": "探测器 %s：最近一次联动测试不合格。",
        "problem_bump_no_valve": "探测器 %s：通气试验未验证关阀（试验气体低于二级报警设定值）。",
        "problem_bump_before_calibration": "探测器 %s：最近一次标定晚于通气试验，须重做通气试验。",
        "problem_calibration_failed": "探测器 %s：%s不合格，须重新标定。",
        "problem_valve_missing": "未做紧急切断阀测试。",
        "problem_valve_failed": "紧急切断阀测试不合格。",
        "problem_valve_incomplete": "紧急切断阀测试未完成：缺少%s。",
        "problem_interlock_missing": "未做联锁测试：%s。",
        "problem_interlock_failed": "联锁测试不合格：%s。",
        "problem_interlock_incomplete": "联锁测试未完成：%s。",
        "problem_config_missing": "配置未下发到控制器（记录中没有配置校验值）：请运行 config push。",
        "warn_missing_field": "%s：%s未记录，请手填。",
        "warn_schedule": "人走阀关定时计划未记录。",
        "warn_interlock_unknown": "%s：本机无法读取配置，请核对是否接入；如已接入须测试。",
        "warn_config_changed": "配置文件 %s 与下发时记录的校验值不一致：控制器运行的配置可能与本记录不同。",
        "cli_wrote": "已生成 %s",
    },
    "en": {
        "title": "Gas-leak protection system: commissioning record",
        "subtitle": "Restaurant kitchen gas detection and emergency shut-off (gaslatch)",
        "generated": "Generated",
        "time_zone": "Times are local time (UTC%s)",
        "record_file": "Record file",
        "record_sha256": "Record file SHA-256",
        "page": "Page %d of %d",
        "label": "%s: %s",
        "with_note": "%s (%s)",
        "fact_sep": "; ",
        "draft_mark": "NOT READY TO SIGN: incomplete or failed items",
        "ready_title": "READY TO SIGN: every test is done and passed.",
        "not_ready_title": "NOT READY TO SIGN: the items below are missing or failed.",
        "not_ready_hint": "A kitchen must not be signed off with a failed or missing test. Finish or repeat these "
                          "tests, then generate this record again.",
        "warnings_title": "Check, or fill in by hand on the printout:",
        "sec_general": "1. Site, unit and installer",
        "sec_limits": "2. Limits and their sources",
        "sec_detectors": "3. Combustible-gas detectors",
        "sec_valve": "4. Emergency shut-off valve",
        "sec_interlocks": "5. Interlocks",
        "sec_schedule": "6. Attended-hours schedule (gas off when the kitchen is left)",
        "sec_config": "7. Controller configuration",
        "sec_log": "8. Log of the visit",
        "sec_signatures": "9. Signatures",
        "group_site": "Site",
        "group_unit": "Controller unit",
        "group_installer": "Installer",
        "group_bus": "RS-485 bus",
        "field_name": "Name",
        "field_site_name": "Site name",
        "field_address": "Address",
        "field_owner": "Owner",
        "field_contact": "Contact",
        "field_phone": "Phone",
        "field_serial": "Serial number",
        "field_version": "Software version",
        "field_installer_name": "Installer",
        "field_company": "Company",
        "field_licence": "Licence",
        "field_port": "Port",
        "field_baud": "Baud",
        "field_parity": "Parity",
        "field_stop_bits": "Stop bits",
        "field_scan": "Bus scan",
        "field_model": "Model",
        "field_profile": "Profile",
        "field_modbus_address": "Modbus address",
        "field_location": "Location",
        "field_gas": "Gas",
        "field_low_alarm": "Low alarm set point",
        "field_high_alarm": "High alarm set point",
        "field_zone": "Zone",
        "field_kind": "Connection",
        "field_last_seen": "Last answered a scan",
        "field_scan_reading": "Reading at the scan",
        "field_scan_problems": "Problems found by the scan",
        "field_setting_changes": "Setting changes",
        "field_detector": "Detector",
        "field_reason": "Reason",
        "field_note": "Note",
        "field_reset": "Reset",
        "field_fault_state": "Fault state",
        "field_restored_s": "Normal again after reconnecting",
        "field_valve_closed_s": "Valve closed",
        "field_unit_stayed_up": "Unit stayed up at the changeover",
        "field_backup_running_confirmed": "Running on backup supply confirmed",
        "field_observed_s": "Watched on backup power",
        "field_line": "Line settings",
        "field_first_alarm_s": "First alarm (any level)",
        "field_high_alarm_s": "High alarm",
        "field_stable_s": "Reading stable for",
        "field_tolerance_pct": "Stable within (±%LEL)",
        "reset_accepted": "done (RESET pressed)",
        "reset_not_needed": "no reset needed",
        "reset_refused": "reset refused",
        "reset_expired": "reset timed out",
        "state_normal": "normal",
        "state_low_alarm": "low alarm",
        "state_high_alarm": "high alarm",
        "state_fault": "fault",
        "state_comm_lost": "communication lost",
        "state_warmup": "warming up",
        "state_over_range": "over range",
        "scan_summary": "%s device(s) found (%s), error rate %s %%, median reply %s ms",
        "col_item": "Item",
        "col_limit": "Limit",
        "col_source": "Source",
        "col_name": "Name",
        "col_set_points": "Set points (low/high)",
        "col_model": "Model / profile",
        "col_calibration": "Calibration",
        "col_bump": "Bump test",
        "col_time": "Time",
        "col_kind": "Kind",
        "col_span_gas": "Span gas",
        "col_before": "Reading before",
        "col_after": "Reading after",
        "col_result": "Result",
        "col_other": "Notes",
        "col_measured": "Measured",
        "col_command": "Command",
        "col_summary": "Summary",
        "col_role": "Role",
        "col_person": "Name",
        "col_signature": "Signature",
        "col_date": "Date",
        "lim_time_to_alarm": "Time to alarm: test gas applied to detector alarm",
        "lim_recovery": "Recovery: test gas removed to normal monitoring",
        "lim_linkage": "Linkage: alarm to valve closed, fan started, sounder on",
        "lim_open_line_fault": "Open-line fault: detector line broken to fault shown",
        "lim_set_points": "Set points: low alarm at most 25 %LEL, high alarm at most 50 %LEL",
        "lim_valve": "Shut-off valve: closes on alarm; reopens only after a manual reset on site",
        "lim_fan": "Fan interlock: no proven airflow closes the gas (BS 6173 mode)",
        "lim_power": "Main and backup power changeover",
        "detector_heading": "Detector %s",
        "calibrations": "Calibrations",
        "no_calibration": "Not calibrated on this visit.",
        "cal_zero": "zero calibration",
        "cal_span": "span calibration",
        "cal_zero_short": "zero",
        "cal_span_short": "span",
        "bump_heading": "Bump test %d (%s)",
        "no_bump": "No bump test.",
        "bump_mode": "Mode",
        "bump_gas": "Test gas",
        "bump_expected": "Must give",
        "mode_linkage": "unit running, full linkage",
        "mode_inhibit": "maintenance: detector inhibited, no linkage",
        "mode_standalone": "stand-alone on the bus: no controller, no linkage",
        "expected_low_alarm": "low alarm",
        "expected_high_alarm": "high alarm",
        "item_time_to_alarm": "Time to alarm",
        "item_recovery": "Recovery",
        "item_linkage_valve": "Linkage: valve close command",
        "item_linkage_fan": "Linkage: fan started",
        "item_linkage_sounder": "Linkage: sounder on",
        "item_valve_closed": "Valve closed (position)",
        "item_failures": "Why it failed",
        "item_overall": "Result of the test",
        "valve_not_expected": "the low alarm does not close the valve",
        "marked_failed": "marked failed in the record",
        "source_limit_switch": "limit switch",
        "source_controller": "controller valve supervision",
        "source_installer": "confirmed by the installer",
        "plot_caption": "Readings: detector %s, bump test %d (time from applying the test gas)",
        "no_samples": "No reading curve (no samples in the record).",
        "no_valve_test": "No valve test.",
        "valve_heading": "Test %d (%s)",
        "valve_type": "Valve type",
        "valve_feedback": "Position feedback",
        "valve_travel": "Travel time",
        "valve_type_hold": "hold (open while powered, closes on power loss)",
        "valve_type_pulse": "pulse",
        "valve_type_motorised": "motorised",
        "valve_feedback_none": "none",
        "valve_feedback_closed": "closed switch",
        "valve_feedback_both": "open and closed switches",
        "valve_close_command": "Close command from the controller",
        "valve_closed": "Valve closed",
        "valve_remote_refused": "A remote reset cannot reopen it (needs the RESET button)",
        "valve_no_reopen": "Gas stays off without the RESET button",
        "valve_reset": "Manual reset on site",
        "valve_reopen": "Valve open again after the reset",
        "interlock_fire": "Fire alarm input",
        "interlock_estop": "Emergency stop",
        "interlock_fan": "Fan airflow proving (BS 6173)",
        "interlock_power": "Backup power changeover",
        "interlock_open-line": "Detector open-line fault",
        "interlock_off": "not enabled in the configuration",
        "interlock_unknown": "not done (configuration not readable here: cannot tell if fitted)",
        "not_done": "not done",
        "schedule_enabled": "Enabled",
        "schedule_attended": "Attended periods (gas shut at other times)",
        "schedule_off": "Off: the gas is not shut by time.",
        "schedule_none": "not recorded",
        "overnight": " (overnight)",
        "config_path": "File",
        "config_sha256": "SHA-256",
        "config_pushed_at": "Pushed",
        "config_none": "No configuration pushed to the unit.",
        "log_empty": "Nothing recorded.",
        "sign_statement": "By signing I confirm that the tests above were done in my presence and are recorded "
                          "truthfully, and that the system is in service as recorded.",
        "sign_blocked": "Do not sign this record: finish the items listed on the first page first.",
        "role_installer": "Installer",
        "role_inspector": "Inspector",
        "role_owner": "Owner's representative",
        "status_pass": "PASS",
        "status_fail": "FAIL",
        "status_missing": "NOT DONE",
        "status_na": "N/A",
        "status_not_tested": "not tested",
        "status_recorded": "recorded",
        "yes": "yes",
        "no": "no",
        "none": "—",
        "list_sep": ", ",
        "gas_methane": "methane (natural gas)",
        "gas_propane": "propane",
        "gas_lpg": "LPG",
        "day_mon": "Mon",
        "day_tue": "Tue",
        "day_wed": "Wed",
        "day_thu": "Thu",
        "day_fri": "Fri",
        "day_sat": "Sat",
        "day_sun": "Sun",
        "plot_time": "time (s)",
        "plot_reading": "reading (%LEL)",
        "plot_curve": "reading",
        "plot_low": "low alarm set point",
        "plot_high": "high alarm set point",
        "plot_gas_on": "test gas applied",
        "plot_alarm": "alarm %s s",
        "plot_recovered": "recovered",
        "plot_limit": "%g s limit",
        "problem_no_detectors": "No detectors in the record: run scan and config init first.",
        "problem_bump_missing": "Detector %s: no bump test.",
        "problem_bump_failed": "Detector %s: the latest bump test failed.",
        "problem_bump_incomplete": "Detector %s: the bump test lacks %s.",
        "problem_bump_no_linkage": "Detector %s: linkage not tested (maintenance or stand-alone mode); repeat the "
                                   "bump test with the unit running.",
        "problem_bump_linkage_failed": "Detector %s: the latest linkage test failed.",
        "problem_bump_no_valve": "Detector %s: the bump test did not prove the valve closing (test gas below the "
                                 "high set point).",
        "problem_bump_before_calibration": "Detector %s: calibrated after its latest bump test; repeat the bump test.",
        "problem_calibration_failed": "Detector %s: the %s failed; calibrate again.",
        "problem_valve_missing": "No emergency shut-off valve test.",
        "problem_valve_failed": "The emergency shut-off valve test failed.",
        "problem_valve_incomplete": "The valve test is incomplete: %s missing.",
        "problem_interlock_missing": "Interlock not tested: %s.",
        "problem_interlock_failed": "Interlock test failed: %s.",
        "problem_interlock_incomplete": "Interlock test incomplete: %s.",
        "problem_config_missing": "No configuration pushed to the unit (no config hash in the record): run config "
                                  "push.",
        "warn_missing_field": "%s: %s not recorded; fill it in by hand.",
        "warn_schedule": "No attended-hours schedule recorded.",
        "warn_interlock_unknown": "%s: the configuration cannot be read here; check whether it is fitted, and test "
                                  "it if so.",
        "warn_config_changed": "The configuration file %s no longer matches the hash recorded when it was pushed: "
                               "the unit may run a different configuration.",
        "cli_wrote": "wrote %s",
    },
}

# Fields of the record's sections the report lays out by name; any other field is shown as key: value.
GENERAL_FIELDS = {
    "site": (("name", "field_site_name"), ("address", "field_address"), ("owner", "field_owner"),
             ("contact", "field_contact"), ("phone", "field_phone")),
    "unit": (("name", "field_name"), ("serial", "field_serial"), ("version", "field_version"),
             ("software_version", "field_version")),
    "installer": (("name", "field_installer_name"), ("company", "field_company"), ("licence", "field_licence"),
                  ("license", "field_licence"), ("phone", "field_phone")),
    "bus": (("port", "field_port"), ("baud", "field_baud"), ("parity", "field_parity"),
            ("stop_bits", "field_stop_bits")),
}
# Identification the signed paper needs; when absent the report leaves the line blank, to fill in by hand.
REQUIRED_FIELDS = (("site", "name", "field_site_name"), ("site", "address", "field_address"),
                   ("unit", "serial", "field_serial"), ("installer", "name", "field_installer_name"),
                   ("installer", "company", "field_company"))
DETECTOR_FIELDS = (("model", "field_model"), ("profile", "field_profile"), ("address", "field_modbus_address"),
                   ("location", "field_location"), ("gas", "field_gas"), ("low_alarm_pct_lel", "field_low_alarm"),
                   ("high_alarm_pct_lel", "field_high_alarm"), ("zone", "field_zone"), ("kind", "field_kind"),
                   ("last_seen", "field_last_seen"), ("scan_reading", "field_scan_reading"),
                   ("scan_problems", "field_scan_problems"), ("setting_changes", "field_setting_changes"))
# Detector keys copied from the pushed configuration when the record lacks them.
CONFIG_DETECTOR_KEYS = ("address", "profile", "location", "gas", "low_alarm_pct_lel", "high_alarm_pct_lel", "zone",
                        "kind")
# Fields kept in the record (JSON) but left out of the printed report: prompt logs, raw registers, limits
# the report states once in section 2.
HIDDEN = {"answers", "registers_read", "profile_candidates", "limits_s", "utc", "passed", "ok", "failures",
          "calibrations", "bump_tests", "any_alarm", "register", "value_written", "baud", "parity", "stop_bits"}
BUMP_SHOWN = {"time_to_alarm_s", "recovery_s", "linkage", "linkage_note", "samples", "mode", "gas_pct_lel",
              "expected", "gas_removed_s", "set_points_pct_lel", "problems", "source"}
CALIBRATION_SHOWN = {"kind", "span_gas_pct_lel", "before_pct_lel", "after_pct_lel", "address", "baud", "profile",
                     "gas"}
VALVE_SHOWN = {"test", "valve_type", "feedback", "travel_s", "close_command_s", "closed_s", "closed_source",
               "remote_reopen_refused", "reopen_without_reset_refused", "reset", "reopen_s", "reopen_source",
               "socket_reset", "reopen_command_s"}
INTERLOCK_SHOWN = {"test", "interlock", "measured_s", "trip_s", "fault_s", "limit_s", "applicable"}
MAX_CELL_LINES = 20
VALVE_SOURCES = {"limit switch": "source_limit_switch", "closed limit switch": "source_limit_switch",
                 "controller valve supervision": "source_controller", "installer": "source_installer"}


def text_for(lang: str) -> Callable[..., str]:
    """t(key, *args): the string in lang, formatted with args."""
    table = TEXT[lang]

    def t(key: str, *args: Any) -> str:
        return table[key] % args if args else table[key]

    return t


# ---- judging: each test entry against the limits ------------------------------------------------------

def number(value: Any) -> float | None:
    """A finite number from the record, or None for anything else (missing, text, bool, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _passed(entry: dict) -> bool | None:
    """The entry's own verdict: "passed" (tests) or "ok" (calibrations, linkage checks); None if neither."""
    for key in ("passed", "ok"):
        if isinstance(entry.get(key), bool):
            return entry[key]
    return None


def _against(value: Any, limit_s: float | None) -> str | None:
    """PASS/FAIL against the limit, MISSING when not measured; None when there is no limit to judge by."""
    measured = number(value)
    if measured is None:
        return MISSING
    if limit_s is None:
        return None
    return PASS if measured <= limit_s else FAIL


def _confirmed(value: Any) -> str:
    return PASS if value is True else FAIL if value is False else MISSING


def _overall(statuses: list, passed: bool | None) -> str:
    """One verdict: a failed item or passed=false fails; a missing item leaves it incomplete."""
    if passed is False or FAIL in statuses:
        return FAIL
    if MISSING in statuses:
        return MISSING
    if passed is True or PASS in statuses:
        return PASS
    return MISSING


class Item:
    """One judged line of a test: what, the value as measured, its limit, status, and a note."""

    def __init__(self, key: str, value: Any, limit_s: float | None, status: str | None, note: str = ""):
        self.key = key
        self.value = value
        self.limit_s = limit_s
        self.status = status
        self.note = note


class Judgement:
    """A test entry judged: its items and the overall status."""

    def __init__(self, items: list, status: str, marked_failed: bool = False):
        self.items = items
        self.status = status
        self.marked_failed = marked_failed

    def lacking(self) -> list:
        return [item.key for item in self.items if item.status == MISSING]


def _linkage_item(output: str, linkage: Any) -> Item:
    """One output of a bump test's linkage: {"s", "budget_s", "ok", "why"} as bump-test records it, or "<output>_s"."""
    key = "linkage_" + output
    if not isinstance(linkage, dict):
        return Item(key, None, LIMITS_S["linkage"], NOT_TESTED)
    check = linkage.get(output)
    if isinstance(check, dict):
        limit_s = number(check.get("budget_s")) or LIMITS_S["linkage"]
        status = _against(check.get("s"), limit_s)
        if check.get("ok") is False:
            status = FAIL
        elif status == MISSING and check.get("ok") is True:
            status = PASS
        return Item(key, check.get("s"), limit_s, status, str(check.get("why") or check.get("note") or ""))
    if output + "_s" in linkage:
        return Item(key, linkage[output + "_s"], LIMITS_S["linkage"], _against(linkage[output + "_s"],
                                                                              LIMITS_S["linkage"]))
    if output == "valve" and any(isinstance(linkage.get(o), dict) for o in ("fan", "sounder")):
        return Item(key, None, None, NA, "valve_not_expected")  # a low alarm runs the fan and sounder only
    return Item(key, None, LIMITS_S["linkage"], MISSING)


def judge_bump(entry: dict) -> Judgement:
    """Time to alarm and recovery against record.LIMITS_S; each linkage output against its budget."""
    items = [Item("time_to_alarm", entry.get("time_to_alarm_s"), LIMITS_S["time_to_alarm"],
                  _against(entry.get("time_to_alarm_s"), LIMITS_S["time_to_alarm"])),
             Item("recovery", entry.get("recovery_s"), LIMITS_S["recovery"],
                  _against(entry.get("recovery_s"), LIMITS_S["recovery"]))]
    linkage = entry.get("linkage")
    items += [_linkage_item(output, linkage) for output in LINKAGE_OUTPUTS]
    closed = linkage.get("valve_closed") if isinstance(linkage, dict) else None
    if isinstance(closed, dict):
        status = _confirmed(closed.get("ok"))
        if status == PASS and number(closed.get("s")) is not None and number(closed.get("budget_s")) is not None:
            status = _against(closed.get("s"), number(closed.get("budget_s")))
        source = VALVE_SOURCES.get(closed.get("source"), str(closed.get("source") or ""))
        items.append(Item("valve_closed", closed.get("s"), number(closed.get("budget_s")), status,
                          str(closed.get("why") or closed.get("note") or source)))
    passed = _passed(entry)
    status = _overall([item.status for item in items], passed)
    return Judgement(items, status, marked_failed=passed is False and all(i.status != FAIL for i in items))


def linkage_tested(entry: dict) -> bool:
    return isinstance(entry.get("linkage"), dict) and bool(entry["linkage"])


def judge_calibration(entry: dict) -> str | None:
    """PASS/FAIL as the record says; None when it only recorded the calibration."""
    passed = _passed(entry)
    return None if passed is None else (PASS if passed else FAIL)


def judge_valve(entry: dict) -> Judgement:
    """The close command (linkage limit), the valve's travel, and that only the manual reset reopens it."""
    travel_s = number(entry.get("travel_s"))
    closed_status = _against(entry.get("closed_s"), travel_s)
    if closed_status == MISSING and entry.get("closed_source") in ("controller valve supervision", "installer"):
        closed_status = None  # no limit switch: its own supervision or the installer stood for it
    reset = entry.get("reset")
    items = [Item("valve_close_command", entry.get("close_command_s"), LIMITS_S["linkage"],
                  _against(entry.get("close_command_s"), LIMITS_S["linkage"])),
             Item("valve_closed", entry.get("closed_s"), travel_s, closed_status,
                  VALVE_SOURCES.get(entry.get("closed_source"), "")),
             Item("valve_remote_refused", entry.get("remote_reopen_refused"), None,
                  _confirmed(entry.get("remote_reopen_refused"))),
             Item("valve_no_reopen", entry.get("reopen_without_reset_refused"), None,
                  _confirmed(entry.get("reopen_without_reset_refused"))),
             Item("valve_reset", None, None, MISSING if reset is None else PASS if reset == "accepted" else FAIL,
                  "" if reset is None else "reset_%s" % reset),
             Item("valve_reopen", entry.get("reopen_s"), travel_s,
                  None if number(entry.get("reopen_s")) is None else _against(entry.get("reopen_s"), travel_s),
                  VALVE_SOURCES.get(entry.get("reopen_source"), ""))]
    return Judgement(items, _overall([item.status for item in items], _passed(entry)))


def interlock_kind(entry: dict) -> str:
    """The test's name as interlock-test records it (fire, estop, fan, power, open-line)."""
    return str(entry.get("test") or "").strip().lower().replace("_", "-")


def judge_interlock(entry: dict) -> Judgement:
    """Not applicable when recorded so; else the measured time against its limit, and the passed flag."""
    if entry.get("applicable") is False:
        return Judgement([], NA)
    limit_s = number(entry.get("limit_s"))
    if limit_s is None and interlock_kind(entry) == "open-line":
        limit_s = LIMITS_S["open_line_fault"]
    status = _against(entry.get("measured_s"), limit_s)
    if status == MISSING and interlock_kind(entry) == "power":
        status = None  # a confirmed manual step: nothing to time
    item = Item("measured", entry.get("measured_s"), limit_s, status)
    return Judgement([item], _overall([s for s in [status] if s], _passed(entry)))


def latest(entries: Any, accept: Callable[[dict], bool] = lambda e: True) -> dict | None:
    """The last entry (the record appends in order) that accept() takes."""
    found = None
    for entry in _entries(entries):
        if accept(entry):
            found = entry
    return found


def _entries(value: Any) -> list:
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def _section(data: dict, key: str) -> dict:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def config_document(data: dict) -> tuple:
    """(the pushed configuration or None, warnings): the file at config.path, if it still has the pushed hash."""
    config = _section(data, "config")
    path, sha256 = config.get("path"), config.get("sha256")
    if isinstance(config.get("document"), dict):
        return config["document"], []
    if not isinstance(path, str) or not isinstance(sha256, str):
        return None, []
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except (OSError, ValueError):  # not on this computer, or not a usable path
        return None, []
    if hashlib.sha256(raw).hexdigest() != sha256.lower():
        return None, [("warn_config_changed", (path,))]
    try:
        document = json.loads(raw)
    except ValueError:
        return None, []
    return (document if isinstance(document, dict) else None), []


def detectors_in_order(data: dict, document: dict | None = None) -> list:
    """(name, entry) for every detector in the record or the pushed configuration, by address then name.

    Keys the record lacks (location, gas, set points...) come from the configuration. A detector the scan
    recorded under its bus name (d3) is the configured detector at that address when exactly one is there,
    so its calibrations and the bump tests recorded under the configured name make one history."""
    merged: dict = {}
    for name, entry in _section(data, "detectors").items():
        merged[str(name)] = dict(entry) if isinstance(entry, dict) else {}
    configured = document.get("detectors") if isinstance(document, dict) else None
    if not isinstance(configured, dict):
        configured = {}
    configured = {str(k): v for k, v in configured.items() if isinstance(v, dict)}
    for name in [n for n in merged if n not in configured]:
        at_address = [c for c, entry in configured.items() if number(merged[name].get("address")) is not None
                      and number(entry.get("address")) == number(merged[name].get("address"))]
        if len(at_address) == 1:
            _fold(merged.setdefault(at_address[0], {}), merged.pop(name))
    for name, entry in configured.items():
        target = merged.setdefault(name, {})
        for key in CONFIG_DETECTOR_KEYS:
            if target.get(key) is None and entry.get(key) is not None:
                target[key] = entry[key]
    return sorted(merged.items(), key=lambda item: (number(item[1].get("address")) or 1e9, item[0]))


def _fold(target: dict, scanned: dict) -> None:
    """Adds a scanned entry's fields and tests to a configured detector's entry; tests stay in time order."""
    for key, value in scanned.items():
        if key in ("calibrations", "bump_tests"):
            both = _entries(target.get(key)) + _entries(value)
            target[key] = sorted(both, key=lambda e: str(e.get("utc", "")))
        elif target.get(key) is None:
            target[key] = value


def required_interlocks(document: dict | None) -> tuple:
    """(required, unknown): the tests the configuration makes necessary, and those it cannot tell about."""
    if not isinstance(document, dict):
        return ALWAYS_REQUIRED_INTERLOCKS, ("fire", "estop", "fan")
    interlocks = document.get("interlocks") if isinstance(document.get("interlocks"), dict) else {}
    fan = document.get("fan") if isinstance(document.get("fan"), dict) else {}
    enabled = [kind for kind, on in (("fire", interlocks.get("fire_input")), ("estop", interlocks.get("estop_input")),
                                     ("fan", fan.get("proving"))) if on is True]
    return tuple(enabled) + ALWAYS_REQUIRED_INTERLOCKS, ()


class Readiness:
    """Whether the record may be signed: problems (blocking) and warnings (check or fill in), as (key, args)."""

    def __init__(self, problems: list, warnings: list):
        self.problems = problems
        self.warnings = warnings

    @property
    def ready(self) -> bool:
        return not self.problems


def _detector_problems(name: str, detector: dict) -> list:
    problems = []
    bump = latest(detector.get("bump_tests"))
    if bump is None:
        return [("problem_bump_missing", (name,))]
    judged = judge_bump(bump)
    if judged.status == FAIL:
        problems.append(("problem_bump_failed", (name,)))
    elif judged.status == MISSING:
        problems.append(("problem_bump_incomplete", (name, ["item_" + k for k in judged.lacking()])))
    linked = latest(detector.get("bump_tests"), linkage_tested)
    if linked is None:
        problems.append(("problem_bump_no_linkage", (name,)))
    else:
        valve = _linkage_item("valve", linked["linkage"])
        if linked is not bump and judge_bump(linked).status != PASS:
            problems.append(("problem_bump_linkage_failed", (name,)))
        elif valve.status == NA:
            problems.append(("problem_bump_no_valve", (name,)))
    for kind in ("zero", "span"):
        calibration = latest(detector.get("calibrations"), lambda e, kind=kind: e.get("kind") == kind)
        if calibration is not None and judge_calibration(calibration) == FAIL:
            problems.append(("problem_calibration_failed", (name, ["cal_" + kind])))
    last_calibration = latest(detector.get("calibrations"), lambda e: judge_calibration(e) != FAIL)
    if last_calibration is not None and str(last_calibration.get("utc", "")) > str(bump.get("utc", "~")):
        problems.append(("problem_bump_before_calibration", (name,)))
    return problems


def readiness(data: dict, document: dict | None = None, config_warnings: tuple = ()) -> Readiness:
    """Every detector bump-tested with linkage and passed, no failed calibration, the valve, the interlocks the
    configuration needs, and a pushed configuration."""
    problems: list = []
    detectors = detectors_in_order(data, document)
    if not detectors:
        problems.append(("problem_no_detectors", ()))
    for name, detector in detectors:
        problems += _detector_problems(name, detector)
    valve = latest(data.get("valve_tests"))
    if valve is None:
        problems.append(("problem_valve_missing", ()))
    else:
        judged = judge_valve(valve)
        if judged.status == FAIL:
            problems.append(("problem_valve_failed", ()))
        elif judged.status == MISSING:
            problems.append(("problem_valve_incomplete", (judged.lacking(),)))
    warnings = list(config_warnings)
    required, unknown = required_interlocks(document)
    for kind in INTERLOCK_KINDS:
        entry = latest(data.get("interlock_tests"), lambda e, kind=kind: interlock_kind(e) == kind)
        status = None if entry is None else judge_interlock(entry).status
        if entry is None and kind in required:
            problems.append(("problem_interlock_missing", (["interlock_" + kind],)))
        elif entry is None and kind in unknown:
            warnings.append(("warn_interlock_unknown", (["interlock_" + kind],)))
        elif status == FAIL:
            problems.append(("problem_interlock_failed", (["interlock_" + kind],)))
        elif status == MISSING:
            problems.append(("problem_interlock_incomplete", (["interlock_" + kind],)))
    config = data.get("config")
    if not isinstance(config, dict) or not config.get("sha256"):
        problems.append(("problem_config_missing", ()))
    warnings += [("warn_missing_field", (["group_" + group], [label]))
                 for group, key, label in REQUIRED_FIELDS if _blank(_section(data, group).get(key))]
    if data.get("schedule") is None and not isinstance((document or {}).get("schedule"), dict):
        warnings.append(("warn_schedule", ()))
    return Readiness(problems, warnings)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def describe(t: Callable[..., str], key: str, args: tuple) -> str:
    """A problem or warning in words: list arguments are string keys joined, others shown as they are."""
    words = [t("list_sep").join(t(k) for k in arg) if isinstance(arg, list) else str(arg) for arg in args]
    return t(key, *words)


# ---- formatting values ---------------------------------------------------------------------------------

def when(utc: Any) -> str:
    """A record timestamp (UTC) in the local time of this computer; the header names the offset."""
    if not isinstance(utc, str) or not utc:
        return "—"
    try:
        moment = datetime.datetime.fromisoformat(utc.replace("Z", "+00:00"))
    except ValueError:
        return utc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def utc_offset() -> str:
    """This computer's offset from UTC now, as +08:00."""
    offset = datetime.datetime.now().astimezone().strftime("%z")
    return "%s:%s" % (offset[:3], offset[3:])


def plain(t: Callable[..., str], value: Any, depth: int = 0) -> str:
    """Any record value as short text: numbers without noise, yes/no, nested objects as key: value."""
    if value is None or value == "" or value == [] or value == {}:
        return t("none")
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, float):
        return ("%.2f" % value).rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        if depth > 2:
            return "{…}"
        return "; ".join("%s: %s" % (k, plain(t, value[k], depth + 1)) for k in sorted(value, key=str))
    if isinstance(value, list):
        if len(value) > 8:
            return "[%d]" % len(value)
        return ", ".join(plain(t, v, depth + 1) for v in value)
    text = str(value)
    return text if len(text) <= 300 else text[:299] + "…"


def seconds(t: Callable[..., str], value: Any) -> str:
    measured = number(value)
    return plain(t, value) if measured is None else "%s s" % plain(t, round(measured, 2))


def pct_lel(t: Callable[..., str], value: Any) -> str:
    measured = number(value)
    return plain(t, value) if measured is None else "%s %%LEL" % plain(t, round(measured, 2))


def field_value(t: Callable[..., str], key: str, value: Any) -> str:
    """A value shown with the unit its key names (_s, _ms, _pct_lel), a time for utc-like keys."""
    if key.endswith("_s") and number(value) is not None:
        return seconds(t, value)
    if key.endswith("_ms") and number(value) is not None:
        return "%s ms" % plain(t, value)
    if key.endswith("_pct_lel"):
        return pct_lel(t, value)
    if key in ("last_seen", "pushed_at"):
        return when(value)
    if key == "gas":
        return gas_name(t, value)
    if key in ("valve_type", "feedback") and "valve_%s_%s" % (key.replace("valve_", ""), value) in TEXT["en"]:
        return t("valve_%s_%s" % (key.replace("valve_", ""), value))
    if key in ("reset", "fault_state"):
        return _word(t, "reset_" if key == "reset" else "state_", value)
    if key == "scan_reading" and isinstance(value, dict):
        return t("with_note", pct_lel(t, value.get("pct_lel")), _word(t, "state_", value.get("status")))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value) or t("none")
    return plain(t, value)


def _word(t: Callable[..., str], prefix: str, value: Any) -> str:
    """A coded value (reset outcome, detector state) in words when the table has it, else as recorded."""
    key = prefix + str(value)
    return t(key) if key in TEXT["en"] else plain(t, value)


def line_text(entry: dict) -> str:
    """A detector's serial line as installers write it: 9600 8N1."""
    return "%s 8%s%s" % (plain(text_for("en"), entry.get("baud")), entry.get("parity") or "N",
                         entry.get("stop_bits") or 1)


def limit_text(limit_s: float | None) -> str:
    return "—" if limit_s is None else "≤ %g s" % limit_s


def gas_name(t: Callable[..., str], value: Any) -> str:
    key = "gas_%s" % value
    return t(key) if isinstance(value, str) and key in TEXT["en"] else plain(t, value)


def status_word(t: Callable[..., str], status: str | None) -> str:
    return t("status_" + status) if status else t("status_recorded")


def field_label(t: Callable[..., str], key: str) -> str:
    """The label of a record field: from the string table when it has one, else the key itself."""
    label = "field_" + str(key)
    return t(label) if label in TEXT["en"] else str(key)


def others(t: Callable[..., str], entry: dict, shown: set) -> str:
    """The fields the layout does not show, one "label: value" line each."""
    rest = [k for k in sorted(entry, key=str) if k not in shown and k not in HIDDEN]
    return _lines([t("label", field_label(t, k), field_value(t, k, entry[k])) for k in rest])


def failures_text(entry: dict) -> str:
    return _lines([str(f) for f in _list(entry.get("failures"))])


def _lines(lines: list) -> str:
    """Lines for one table cell, at most MAX_CELL_LINES (a cell must fit on a printed page)."""
    if len(lines) > MAX_CELL_LINES:
        lines = lines[:MAX_CELL_LINES - 1] + ["… (%d)" % (len(lines) - MAX_CELL_LINES + 1)]
    return "\n".join(lines)


# ---- the document: blocks both renderers draw --------------------------------------------------------
# ("h1"|"h2"|"h3", text, anchor), ("para", text), ("kv", [(label, value, status)]),
# ("table", headers, rows of (text, status), column widths as fractions), ("plot", png or None, caption),
# ("status", Readiness, problem texts, warning texts), ("signatures", statement or blocked text, roles, ready).

def _cell(text: str, status: str | None = None) -> tuple:
    return (text, status)


def bump_samples(entry: dict) -> list:
    """[(t_s, pct_lel)] from samples [[t_s, pct, state...], ...] or [{"t_s":, "pct_lel":}, ...], sorted."""
    points = []
    for sample in _list(entry.get("samples")):
        if isinstance(sample, (list, tuple)) and len(sample) >= 2:
            t_s, pct = number(sample[0]), number(sample[1])
        elif isinstance(sample, dict):
            t_s, pct = number(sample.get("t_s")), number(sample.get("pct_lel"))
        else:
            continue
        if t_s is not None and pct is not None:
            points.append((t_s, pct))
    return sorted(points)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def bump_marks(entry: dict) -> dict:
    """Times on the samples' axis (0 = test gas applied): alarm, gas removed, recovered, where recorded."""
    marks = {}
    alarm = number(entry.get("time_to_alarm_s"))
    removed = number(entry.get("gas_removed_s"))
    recovery = number(entry.get("recovery_s"))
    if alarm is not None:
        marks["alarm"] = alarm
    if removed is not None:
        marks["removed"] = removed
        if recovery is not None:
            marks["recovered"] = removed + recovery
    return marks


def set_points(entry: dict, detector: dict) -> tuple:
    """(low, high) %LEL: as the bump test recorded them, else the detector's."""
    recorded = _list(entry.get("set_points_pct_lel"))
    if len(recorded) == 2 and all(number(v) is not None for v in recorded):
        return number(recorded[0]), number(recorded[1])
    return number(detector.get("low_alarm_pct_lel")), number(detector.get("high_alarm_pct_lel"))


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """A font file with Chinese glyphs for the plots (fontconfig, then fonts matplotlib knows), or None."""
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            listing = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=20,
                                     check=False).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        paths = sorted(line.split(":")[0].strip() for line in listing.splitlines() if line.strip())
        paths = [p for p in paths if p.lower().endswith((".ttf", ".otf", ".ttc"))]
        if paths:
            return sorted(paths, key=lambda p: ("sans" not in p.lower() and "hei" not in p.lower(), p))[0]
    from matplotlib import font_manager

    for family in ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei",
                   "PingFang SC", "Heiti SC", "SimSun"):
        try:
            return font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
    return None


def plot_language(lang: str) -> str:
    """The plots' language: Chinese only when a Chinese font is at hand, else English labels."""
    return "zh" if lang == "zh" and cjk_font_path() else "en"


def bump_plot_png(entry: dict, detector: dict, lang: str) -> bytes | None:
    """The reading over time with the set points, the gas period, alarm, recovery and the alarm limit; PNG."""
    points = bump_samples(entry)
    if len(points) < 2:
        return None
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    plot_lang = plot_language(lang)
    t = text_for(plot_lang)
    font = FontProperties(fname=cjk_font_path(), size=8) if plot_lang == "zh" else FontProperties(size=8)
    marks = bump_marks(entry)
    figure = Figure(figsize=(6.6, 2.5), dpi=150)
    axes = figure.subplots()
    if "removed" in marks:
        axes.axvspan(0, marks["removed"], color="#dde6f0", label=t("plot_gas_on"))
    axes.plot([p[0] for p in points], [p[1] for p in points], color="#1f4e8c", linewidth=1.5, label=t("plot_curve"))
    low, high = set_points(entry, detector)
    if low is not None:
        axes.axhline(low, color="#d9730d", linestyle="--", linewidth=1, label=t("plot_low"))
    if high is not None and high <= max(p[1] for p in points) * 1.5:
        axes.axhline(high, color="#b00020", linestyle="--", linewidth=1, label=t("plot_high"))
    axes.axvline(LIMITS_S["time_to_alarm"], color="#777777", linestyle=":", linewidth=1,
                 label=t("plot_limit", LIMITS_S["time_to_alarm"]))
    if "alarm" in marks:
        axes.axvline(marks["alarm"], color="#b00020", linewidth=1.2,
                     label=t("plot_alarm", plain(t, round(marks["alarm"], 1))))
    if "recovered" in marks:
        axes.axvline(marks["recovered"], color="#13631d", linewidth=1.2, label=t("plot_recovered"))
    axes.set_xlabel(t("plot_time"), fontproperties=font)
    axes.set_ylabel(t("plot_reading"), fontproperties=font)
    axes.tick_params(labelsize=7)
    axes.grid(True, color="#e4e4e4", linewidth=0.5)
    axes.set_ylim(bottom=0)
    axes.legend(prop=font, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def set_points_text(t: Callable[..., str], detector: dict) -> str:
    low, high = detector.get("low_alarm_pct_lel"), detector.get("high_alarm_pct_lel")
    if low is None and high is None:
        return t("none")
    return "%s / %s %%LEL" % (plain(t, low), plain(t, high))


def _scan_text(t: Callable[..., str], scan: dict) -> str:
    health = scan.get("health") if isinstance(scan.get("health"), dict) else {}
    reply = health.get("reply_ms") if isinstance(health.get("reply_ms"), dict) else {}
    rate = number(health.get("error_rate"))
    lines = [t("scan_summary", plain(t, scan.get("found")), plain(t, scan.get("lines")),
               t("none") if rate is None else plain(t, round(rate * 100, 2)), plain(t, reply.get("p50")))]
    lines += [str(p) for p in _list(scan.get("problems")) + _list(scan.get("warnings"))]
    return "\n".join([when(scan.get("utc"))] + lines)


def _general_blocks(t: Callable[..., str], data: dict) -> list:
    """Site, unit, installer and bus: known fields by name, a blank line for identification not recorded."""
    blocks = [("h1", t("sec_general"), "general")]
    for group, fields in GENERAL_FIELDS.items():
        section = _section(data, group)
        required = {key for g, key, _label in REQUIRED_FIELDS if g == group}
        rows = [(t(label), "" if _blank(section.get(key)) else plain(t, section.get(key)), None)
                for key, label in fields if key in section or key in required]
        if group == "bus" and isinstance(section.get("scan"), dict):
            rows.append((t("field_scan"), _scan_text(t, section["scan"]), None))
        known = {key for key, _label in fields} | {"scan"}
        rows += [(field_label(t, k), field_value(t, k, section[k]), None)
                 for k in sorted(section, key=str) if k not in known]
        if rows:
            blocks.append(("h3", t("group_" + group), "group-" + group))
            blocks.append(("kv", rows))
    return blocks


def _limit_blocks(t: Callable[..., str]) -> list:
    rows = [[_cell(t("lim_" + key)), _cell(limit_text(LIMITS_S[key])), _cell(LIMIT_SOURCES[key])]
            for key in ("time_to_alarm", "recovery", "linkage", "open_line_fault")]
    rows += [[_cell(t("lim_set_points")), _cell("≤ 25 / 50 %LEL"), _cell("GB/T 50493")],
             [_cell(t("lim_valve")), _cell("—"), _cell("GB 50028, CJJ/T 146, BS 6173")],
             [_cell(t("lim_fan")), _cell("—"), _cell("BS 6173")],
             [_cell(t("lim_power")), _cell("—"), _cell("CJJ/T 146")]]
    return [("h1", t("sec_limits"), "limits"),
            ("table", [t("col_item"), t("col_limit"), t("col_source")], rows, (0.6, 0.15, 0.25))]


def _detector_summary(t: Callable[..., str], detectors: list) -> list:
    rows = []
    for name, detector in detectors:
        calibrations = []
        for kind in ("zero", "span"):
            entry = latest(detector.get("calibrations"), lambda e, kind=kind: e.get("kind") == kind)
            if entry is not None:
                calibrations.append(t("label", t("cal_%s_short" % kind), status_word(t, judge_calibration(entry))))
        bump = latest(detector.get("bump_tests"))
        bump_status = MISSING if bump is None else judge_bump(bump).status
        bump_text = t("not_done") if bump is None else t("with_note", status_word(t, bump_status),
                                                         seconds(t, bump.get("time_to_alarm_s")))
        rows.append([_cell(name), _cell(plain(t, detector.get("model") or detector.get("profile"))),
                     _cell(plain(t, detector.get("address"))),
                     _cell(plain(t, detector.get("location"))), _cell(gas_name(t, detector.get("gas"))),
                     _cell(set_points_text(t, detector)),
                     _cell("\n".join(calibrations) or t("none")), _cell(bump_text, bump_status)])
    headers = [t("col_name"), t("col_model"), t("field_address"), t("field_location"), t("field_gas"),
               t("col_set_points"), t("col_calibration"), t("col_bump")]
    return [("table", headers, rows, (0.1, 0.12, 0.08, 0.17, 0.13, 0.12, 0.13, 0.15))]


def _item_rows(t: Callable[..., str], items: list) -> list:
    rows = []
    for item in items:
        if item.status == NOT_TESTED:
            shown = t("status_not_tested")
        elif item.value is None or isinstance(item.value, (int, float)) and not isinstance(item.value, bool):
            shown = seconds(t, item.value)
        else:
            shown = plain(t, item.value)
        note = t(item.note) if item.note in TEXT["en"] else item.note
        if note:
            shown = note if shown == t("none") else t("with_note", shown, note)
        rows.append([_cell(t("item_" + item.key) if ("item_" + item.key) in TEXT["en"] else t(item.key)),
                     _cell(shown), _cell(limit_text(item.limit_s)), _cell(status_word(t, item.status), item.status)])
    return rows


def _bump_blocks(t: Callable[..., str], lang: str, name: str, detector: dict, plotter: Callable) -> list:
    bumps = _entries(detector.get("bump_tests"))
    if not bumps:
        return [("h3", t("col_bump"), "bump-%s-none" % name),
                ("table", [t("col_bump"), t("col_result")],
                 [[_cell(t("no_bump")), _cell(t("status_missing"), MISSING)]], (0.75, 0.25))]
    blocks: list = []
    for index, entry in enumerate(bumps, 1):
        judged = judge_bump(entry)
        blocks.append(("h3", t("bump_heading", index, when(entry.get("utc"))), "bump-%s-%d" % (name, index)))
        facts = []
        if entry.get("mode") is not None:
            mode = "mode_%s" % entry.get("mode")
            facts.append(t("label", t("bump_mode"), t(mode) if mode in TEXT["en"] else plain(t, entry.get("mode"))))
        if entry.get("gas_pct_lel") is not None:
            facts.append(t("label", t("bump_gas"), pct_lel(t, entry.get("gas_pct_lel"))))
        if entry.get("expected") is not None:
            expected = "expected_%s" % entry.get("expected")
            facts.append(t("label", t("bump_expected"), t(expected) if expected in TEXT["en"] else
                           plain(t, entry.get("expected"))))
        if facts:
            blocks.append(("para", t("fact_sep").join(facts)))
        rows = _item_rows(t, judged.items)
        if not linkage_tested(entry) and entry.get("linkage_note"):
            rows.append([_cell(t("field_note")), _cell(str(entry["linkage_note"])), _cell(""), _cell("")])
        if failures_text(entry):
            rows.append([_cell(t("item_failures")), _cell(failures_text(entry), FAIL), _cell(""), _cell("")])
        overall = status_word(t, judged.status)
        if judged.marked_failed:
            overall = t("with_note", overall, t("marked_failed"))
        rows.append([_cell(t("item_overall")), _cell(""), _cell(""), _cell(overall, judged.status)])
        rest = others(t, entry, BUMP_SHOWN)
        if rest:
            rows.append([_cell(t("col_other")), _cell(rest), _cell(""), _cell("")])
        blocks.append(("table", [t("col_item"), t("col_measured"), t("col_limit"), t("col_result")], rows,
                       (0.36, 0.34, 0.12, 0.18)))
        png = plotter(entry, detector, lang)
        blocks.append(("plot", png, t("plot_caption", name, index) if png else t("no_samples")))
    return blocks


def _detector_blocks(t: Callable[..., str], lang: str, name: str, detector: dict, plotter: Callable) -> list:
    blocks: list = [("h2", t("detector_heading", name), "detector-" + name)]
    known = {k for k, _label in DETECTOR_FIELDS}
    rows = [(t(label), field_value(t, key, detector.get(key)), None) for key, label in DETECTOR_FIELDS
            if key in detector]
    if detector.get("baud") is not None:
        rows.insert(3, (t("field_line"), line_text(detector), None))
    rows += [(field_label(t, k), field_value(t, k, detector[k]), None) for k in sorted(detector, key=str)
             if k not in known and k not in HIDDEN]
    blocks.append(("kv", rows))
    blocks.append(("h3", t("calibrations"), "calibrations-" + name))
    calibrations = _entries(detector.get("calibrations"))
    if not calibrations:
        blocks.append(("para", t("no_calibration")))
    else:
        rows = []
        for entry in calibrations:
            kind = entry.get("kind")
            status = judge_calibration(entry)
            rows.append([_cell(when(entry.get("utc"))),
                         _cell(t("cal_" + kind) if kind in ("zero", "span") else plain(t, kind)),
                         _cell(pct_lel(t, entry.get("span_gas_pct_lel")) if kind != "zero" else t("none")),
                         _cell(pct_lel(t, entry.get("before_pct_lel"))), _cell(pct_lel(t, entry.get("after_pct_lel"))),
                         _cell(status_word(t, status), status), _cell(others(t, entry, CALIBRATION_SHOWN))])
        headers = [t("col_time"), t("col_kind"), t("col_span_gas"), t("col_before"), t("col_after"), t("col_result"),
                   t("col_other")]
        blocks.append(("table", headers, rows, (0.17, 0.11, 0.1, 0.1, 0.1, 0.1, 0.32)))
    return blocks + _bump_blocks(t, lang, name, detector, plotter)


def _valve_blocks(t: Callable[..., str], data: dict) -> list:
    blocks: list = [("h1", t("sec_valve"), "valve")]
    entries = _entries(data.get("valve_tests"))
    if not entries:
        blocks.append(("table", [t("col_item"), t("col_result")],
                       [[_cell(t("no_valve_test")), _cell(t("status_missing"), MISSING)]], (0.75, 0.25)))
    for index, entry in enumerate(entries, 1):
        judged = judge_valve(entry)
        blocks.append(("h3", t("valve_heading", index, when(entry.get("utc"))), "valve-%d" % index))
        facts = [t("label", t(label), field_value(t, key, entry.get(key))) for key, label in
                 (("valve_type", "valve_type"), ("feedback", "valve_feedback"), ("travel_s", "valve_travel"))
                 if entry.get(key) is not None]
        if facts:
            blocks.append(("para", t("fact_sep").join(facts)))
        rows = _item_rows(t, judged.items)
        if failures_text(entry):
            rows.append([_cell(t("item_failures")), _cell(failures_text(entry), FAIL), _cell(""), _cell("")])
        rows.append([_cell(t("item_overall")), _cell(""), _cell(""), _cell(status_word(t, judged.status),
                                                                           judged.status)])
        rest = others(t, entry, VALVE_SHOWN)
        if rest:
            rows.append([_cell(t("col_other")), _cell(rest), _cell(""), _cell("")])
        blocks.append(("table", [t("col_item"), t("col_measured"), t("col_limit"), t("col_result")], rows,
                       (0.36, 0.34, 0.12, 0.18)))
    return blocks


def _interlock_blocks(t: Callable[..., str], data: dict, document: dict | None) -> list:
    entries = _entries(data.get("interlock_tests"))
    required, unknown = required_interlocks(document)
    kinds = list(INTERLOCK_KINDS) + sorted({interlock_kind(e) for e in entries} - set(INTERLOCK_KINDS))
    rows = []
    for kind in kinds:
        label = t("interlock_" + kind) if kind in INTERLOCK_KINDS else (kind or t("none"))
        mine = [e for e in entries if interlock_kind(e) == kind]
        if not mine:
            if kind in required:
                text, status = t("not_done"), MISSING
            elif kind in unknown:
                text, status = t("interlock_unknown"), MISSING
            else:
                text, status = t("interlock_off"), NA
            rows.append([_cell(label), _cell(t("none")), _cell(t("none")), _cell("—"),
                         _cell(status_word(t, status), status), _cell(text)])
        for entry in mine:
            judged = judge_interlock(entry)
            item = judged.items[0] if judged.items else Item("measured", None, None, None)
            notes = "\n".join(x for x in (failures_text(entry), others(t, entry, INTERLOCK_SHOWN)) if x)
            rows.append([_cell(label), _cell(when(entry.get("utc"))),
                         _cell(seconds(t, item.value) if item.value is not None else t("none"), item.status),
                         _cell(limit_text(item.limit_s)), _cell(status_word(t, judged.status), judged.status),
                         _cell(notes or t("none"))])
    headers = [t("col_item"), t("col_time"), t("col_measured"), t("col_limit"), t("col_result"), t("col_other")]
    return [("h1", t("sec_interlocks"), "interlocks"), ("table", headers, rows, (0.18, 0.17, 0.1, 0.1, 0.1, 0.35))]


def schedule_rows(t: Callable[..., str], schedule: Any) -> list:
    """The attended periods in words: days, from-to, overnight when `to` is before `from`."""
    if schedule is None:
        return [(t("schedule_enabled"), t("schedule_none"), MISSING)]
    if not isinstance(schedule, dict):
        return [(t("schedule_enabled"), plain(t, schedule), None)]
    if not schedule.get("enabled"):
        rows = [(t("schedule_enabled"), t("schedule_off"), None)]
    else:
        rows = [(t("schedule_enabled"), t("yes"), None)]
        for period in _entries(schedule.get("attended")):
            days = _list(period.get("days"))
            day_text = t("list_sep").join(t("day_" + d) if d in DAYS else str(d) for d in days) or t("none")
            start, end = str(period.get("from", "?")), str(period.get("to", "?"))
            rows.append((t("schedule_attended"), "%s %s–%s%s" % (day_text, start, end,
                                                                   t("overnight") if end < start else ""), None))
    rows += [(field_label(t, k), plain(t, schedule[k]), None) for k in sorted(schedule, key=str)
             if k not in ("enabled", "attended")]
    return rows


def _config_rows(t: Callable[..., str], config: Any) -> list:
    if not isinstance(config, dict) or not config.get("sha256"):
        return [(t("config_sha256"), t("config_none"), MISSING)]
    rows = [(t("config_path"), plain(t, config.get("path")), None),
            (t("config_sha256"), str(config.get("sha256")), None),
            (t("config_pushed_at"), when(config.get("pushed_at")), None)]
    return rows + [(field_label(t, k), field_value(t, k, config[k]), None) for k in sorted(config, key=str)
                   if k not in ("path", "sha256", "pushed_at", "document")]


def build_document(data: dict, lang: str, plotter: Callable = bump_plot_png) -> tuple:
    """(blocks, Readiness): the whole report as blocks, in the order it is printed."""
    t = text_for(lang)
    document, config_warnings = config_document(data)
    verdict = readiness(data, document, tuple(config_warnings))
    detectors = detectors_in_order(data, document)
    blocks: list = [("status", verdict, [describe(t, k, a) for k, a in verdict.problems],
                     [describe(t, k, a) for k, a in verdict.warnings])]
    blocks += _general_blocks(t, data)
    blocks += _limit_blocks(t)
    blocks.append(("h1", t("sec_detectors"), "detectors"))
    blocks += _detector_summary(t, detectors)
    for name, detector in detectors:
        blocks += _detector_blocks(t, lang, name, detector, plotter)
    blocks += _valve_blocks(t, data)
    blocks += _interlock_blocks(t, data, document)
    schedule = data.get("schedule")
    if schedule is None and isinstance((document or {}).get("schedule"), dict):
        schedule = document["schedule"]
    blocks += [("h1", t("sec_schedule"), "schedule"), ("kv", schedule_rows(t, schedule))]
    blocks += [("h1", t("sec_config"), "config"), ("kv", _config_rows(t, data.get("config")))]
    log_rows = [[_cell(when(e.get("utc"))), _cell(plain(t, e.get("command"))), _cell(plain(t, e.get("summary")))]
                for e in _entries(data.get("log"))]
    blocks.append(("h1", t("sec_log"), "log"))
    blocks.append(("table", [t("col_time"), t("col_command"), t("col_summary")], log_rows, (0.2, 0.14, 0.66))
                  if log_rows else ("para", t("log_empty")))
    blocks += [("h1", t("sec_signatures"), "signatures"),
               ("signatures", t("sign_statement") if verdict.ready else t("sign_blocked"),
                [t("role_installer"), t("role_inspector"), t("role_owner")], verdict.ready)]
    return blocks, verdict


# ---- HTML -------------------------------------------------------------------------------------------------

HTML_STYLE = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",
Helvetica,Arial,sans-serif;max-width:62em;margin:2em auto;padding:0 1em;color:#111;font-size:14px;line-height:1.45}
h1{font-size:1.6em;margin:.2em 0}h2.sec{font-size:1.25em;border-bottom:2px solid #333;margin-top:1.6em}
h3{font-size:1.12em;margin-top:1.4em}h4{font-size:1em;margin:1em 0 .3em}
.sub{color:#444;margin:0}.meta{color:#444;font-size:.85em}
table{border-collapse:collapse;width:100%;margin:.4em 0 .8em}
th,td{border:1px solid #999;padding:.25em .45em;text-align:left;vertical-align:top;white-space:pre-line}
th{background:#eee;font-weight:600}table.kv th{width:30%}
td.pass{color:#13631d;font-weight:600}td.fail{color:#b00020;font-weight:700;background:#fde8ea}
td.missing{color:#8a5300;font-weight:600;background:#fff4d6}td.na,td.not_tested{color:#666}
.status{border:2px solid;padding:.6em 1em;margin:1em 0}.status p{margin:.2em 0;font-weight:700}
.ready{border-color:#13631d;background:#eaf6ec}.notready{border-color:#b00020;background:#fde8ea}
.warn{border-color:#8a5300;background:#fff4d6}
code{word-break:break-all}figure{margin:.3em 0 1em}figure img{max-width:100%}figcaption{font-size:.85em;color:#444}
table.sig td{height:3.2em}p.sign{font-weight:600}p.blocked{color:#b00020}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;font-size:10.5pt}figure,table.sig,.status{break-inside:avoid}
h2,h3,h4{break-after:avoid}}
"""


def render_html(blocks: list, lang: str, meta: dict) -> str:
    """One self-contained HTML page: inline CSS, plots as PNG data URIs."""
    t = text_for(lang)
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="%s">' % ("zh-CN" if lang == "zh" else "en"), "<head>",
           '<meta charset="utf-8">', "<title>%s</title>" % esc(t("title")), "<style>%s</style>" % HTML_STYLE,
           "</head>", "<body>", "<header>", "<h1>%s</h1>" % esc(t("title")),
           '<p class="sub">%s</p>' % esc(t("subtitle")),
           '<p class="meta">%s<br>%s<br>%s<br>%s</p>' % (
               esc(t("label", t("generated"), meta["generated"])), esc(t("time_zone", meta["utc_offset"])),
               esc(t("label", t("record_file"), meta["record"])),
               esc(t("label", t("record_sha256"), meta["record_sha256"]))), "</header>"]
    heading_tags = {"h1": "h2", "h2": "h3", "h3": "h4"}

    def cell(tag: str, text: str, status: str | None = None) -> str:
        return '<%s%s>%s</%s>' % (tag, ' class="%s"' % status if status else "", esc(text), tag)

    for block in blocks:
        kind = block[0]
        if kind in heading_tags:
            css = ' class="sec"' if kind == "h1" else ""
            out.append('<%s id="%s"%s>%s</%s>' % (heading_tags[kind], esc(block[2]), css, esc(block[1]),
                                                  heading_tags[kind]))
        elif kind == "para":
            out.append("<p>%s</p>" % esc(block[1]))
        elif kind == "kv":
            out.append('<table class="kv">')
            out += ["<tr>%s%s</tr>" % (cell("th", label), cell("td", value, status))
                    for label, value, status in block[1]]
            out.append("</table>")
        elif kind == "table":
            _kind, headers, rows, widths = block
            out.append("<table><colgroup>%s</colgroup>" % "".join('<col style="width:%d%%">' % round(w * 100)
                                                                   for w in widths))
            out.append("<tr>%s</tr>" % "".join(cell("th", h) for h in headers))
            out += ["<tr>%s</tr>" % "".join(cell("td", text, status) for text, status in row) for row in rows]
            out.append("</table>")
        elif kind == "plot":
            if block[1]:
                out.append('<figure><img alt="%s" src="data:image/png;base64,%s"><figcaption>%s</figcaption></figure>'
                           % (esc(block[2]), base64.b64encode(block[1]).decode("ascii"), esc(block[2])))
            else:
                out.append('<p class="meta">%s</p>' % esc(block[2]))
        elif kind == "status":
            verdict, problems, warnings = block[1], block[2], block[3]
            if verdict.ready:
                out.append('<div class="status ready" id="ready"><p>%s</p></div>' % esc(t("ready_title")))
            else:
                out.append('<div class="status notready" id="not-ready"><p>%s</p><ul>%s</ul><div>%s</div></div>' % (
                    esc(t("not_ready_title")), "".join("<li>%s</li>" % esc(p) for p in problems),
                    esc(t("not_ready_hint"))))
            if warnings:
                out.append('<div class="status warn"><p>%s</p><ul>%s</ul></div>' % (
                    esc(t("warnings_title")), "".join("<li>%s</li>" % esc(w) for w in warnings)))
        elif kind == "signatures":
            out.append('<p class="%s">%s</p>' % ("sign" if block[3] else "sign blocked", esc(block[1])))
            out.append('<table class="sig"><tr>%s</tr>' % "".join(
                cell("th", h) for h in (t("col_role"), t("col_person"), t("col_signature"), t("col_date"))))
            out += ["<tr>%s<td></td><td></td><td></td></tr>" % cell("th", role) for role in block[2]]
            out.append("</table>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


# ---- PDF ------------------------------------------------------------------------------------------------

CJK_FONT = "STSong-Light"
STATUS_COLOURS = {PASS: ("#13631d", None), FAIL: ("#b00020", "#fde8ea"), MISSING: ("#8a5300", "#fff4d6"),
                  NA: ("#666666", None), NOT_TESTED: ("#666666", None)}


def _latin(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _cjk(char: str) -> bool:
    """Characters STSong-Light (Adobe-GB1) draws: the GBK repertoire within the BMP."""
    if ord(char) > 0xFFFF:
        return False
    try:
        char.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def pdf_markup(text: str) -> str:
    """Paragraph markup: Latin runs in the style's Helvetica, Chinese runs in STSong-Light, the rest as '?'."""
    runs: list = []
    for char in text:
        if char == "\n":
            runs.append((None, "<br/>"))
            continue
        if char == "\t" or (ord(char) < 32):
            char = " "
        face = None if _latin(char) else CJK_FONT if _cjk(char) else None
        piece = html.escape(char, quote=False) if (face or _latin(char)) else "?"
        if runs and runs[-1][0] == face and runs[-1][1] != "<br/>":
            runs[-1] = (face, runs[-1][1] + piece)
        else:
            runs.append((face, piece))
    return "".join('<font face="%s">%s</font>' % (face, piece) if face else piece for face, piece in runs)


def _has_cjk(text: str) -> bool:
    return any(not _latin(char) for char in text)


class _PdfStyles:
    """Paragraph styles; a CJK variant (breaks between any two characters) for text with Chinese in it."""

    def __init__(self):
        from reportlab.lib.colors import HexColor
        from reportlab.lib.styles import ParagraphStyle

        # STSong-Light has no bold face: headings differ by size and colour, so Latin and Chinese match.
        base = ParagraphStyle("body", fontName="Helvetica", fontSize=9, leading=12.5)
        heading = HexColor("#1f3a5f")
        self.styles = {
            "body": base,
            "small": ParagraphStyle("small", base, fontSize=7.5, leading=9.5, textColor=HexColor("#444444")),
            "cell": ParagraphStyle("cell", base, fontSize=8, leading=10.5),
            "head": ParagraphStyle("head", base, fontSize=8, leading=10.5),
            "title": ParagraphStyle("title", base, fontSize=17, leading=22, spaceAfter=2, textColor=heading),
            "h1": ParagraphStyle("h1", base, fontSize=13, leading=17, spaceBefore=10, spaceAfter=4, textColor=heading),
            "h2": ParagraphStyle("h2", base, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=3, textColor=heading),
            "h3": ParagraphStyle("h3", base, fontSize=9.5, leading=12.5, spaceBefore=5, spaceAfter=2,
                                 textColor=heading),
            "status": ParagraphStyle("status", base, fontSize=11, leading=15),
        }
        self.cjk = {name: ParagraphStyle(name + "-cjk", style, wordWrap="CJK") for name, style in self.styles.items()}

    def para(self, text: str, style: str = "body", colour: str | None = None):
        from reportlab.platypus import Paragraph

        markup = pdf_markup(text)
        if colour:
            markup = '<font color="%s">%s</font>' % (colour, markup)
        return Paragraph(markup, (self.cjk if _has_cjk(text) else self.styles)[style])


def _pdf_table(styles: _PdfStyles, headers: list | None, rows: list, widths: list, width_pt: float,
               label_column: bool = False, row_height_pt: float | None = None):
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Table, TableStyle

    data, commands = [], [("GRID", (0, 0), (-1, -1), 0.5, HexColor("#999999")),
                          ("VALIGN", (0, 0), (-1, -1), "TOP"),
                          ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                          ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]
    if headers:
        data.append([styles.para(h, "head") for h in headers])
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HexColor("#eeeeee")))
    for row in rows:
        y = len(data)
        cells = []
        for x, (text, status) in enumerate(row):
            colour, background = STATUS_COLOURS.get(status, (None, None))
            style = "head" if (label_column and x == 0) or status in (FAIL, MISSING) else "cell"
            cells.append(styles.para(text, style, colour))
            if background:
                commands.append(("BACKGROUND", (x, y), (x, y), HexColor(background)))
        data.append(cells)
    if label_column:
        commands.append(("BACKGROUND", (0, 1 if headers else 0), (0, -1), HexColor("#f4f4f4")))
    heights = None if row_height_pt is None else [None] * (1 if headers else 0) + [row_height_pt] * len(rows)
    return Table(data, colWidths=[w * width_pt for w in widths], rowHeights=heights, repeatRows=1 if headers else 0,
                 style=TableStyle(commands), hAlign="LEFT", splitInRow=1)


def render_pdf(blocks: list, lang: str, meta: dict, path: str, ready: bool) -> None:
    """An A4 PDF: Chinese in STSong-Light (a built-in CID font, no font file), Latin in Helvetica."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import SimpleDocTemplate, Spacer

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    t = text_for(lang)
    styles = _PdfStyles()
    margin = 16 * mm
    width = A4[0] - 2 * margin
    story: list = [styles.para(t("title"), "title"), styles.para(t("subtitle"), "body"), Spacer(1, 3),
                   styles.para("%s · %s" % (t("label", t("generated"), meta["generated"]),
                                            t("time_zone", meta["utc_offset"])), "small"),
                   styles.para(t("label", t("record_file"), meta["record"]), "small"),
                   styles.para(t("label", t("record_sha256"), meta["record_sha256"]), "small")]
    story += _pdf_story(blocks, styles, t, width)
    footer = "%s  ·  %s %s…" % (t("title"), t("record_sha256"), meta["record_sha256"][:16])

    def decorate(canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(HexColor("#555555"))
        _draw_mixed(canvas, margin, 9 * mm, footer, 7)
        text = t("page", page, pages)
        canvas.setFont(CJK_FONT if _has_cjk(text) else "Helvetica", 7)
        canvas.drawRightString(A4[0] - margin, 9 * mm, text)
        if not ready:
            canvas.setFillColor(HexColor("#b00020"))
            _draw_mixed(canvas, margin, A4[1] - 10 * mm, t("draft_mark"), 9)
        canvas.restoreState()

    class NumberedCanvas(Canvas):
        """Draws 'page N of M' once the page count is known."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._pages: list = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number_, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                decorate(self, number_, len(self._pages))
                super().showPage()
            super().save()

    document = SimpleDocTemplate(path, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=15 * mm,
                                 bottomMargin=15 * mm, title=t("title"), author="gaslatch",
                                 lang="zh-CN" if lang == "zh" else "en")
    document.build(story, canvasmaker=NumberedCanvas)


def _pdf_story(blocks: list, styles: _PdfStyles, t: Callable[..., str], width: float) -> list:
    """The flowables: each heading kept on one page with what follows it, up to the next heading, if it fits."""
    from reportlab.platypus import KeepTogether, Spacer

    story: list = []
    headings: list = []
    body: list = []

    def flush() -> None:
        story.append(KeepTogether(headings + body))

    for block in blocks:
        if block[0] in ("h1", "h2", "h3"):
            if body:
                flush()
                headings, body = [], []
            headings.append(styles.para(block[1], block[0]))
            continue
        body += _pdf_flowables(block, styles, t, width) + [Spacer(1, 4)]
    if headings or body:
        flush()
    return story


def _pdf_flowables(block: tuple, styles: _PdfStyles, t: Callable[..., str], width: float) -> list:
    """One block of the document as reportlab flowables."""
    from reportlab.platypus import Image, Spacer

    kind = block[0]
    if kind == "para":
        return [styles.para(block[1])]
    if kind == "kv":
        rows = [[_cell(label), _cell(value, status)] for label, value, status in block[1]]
        return [_pdf_table(styles, None, rows, [0.3, 0.7], width, label_column=True)]
    if kind == "table":
        return [_pdf_table(styles, block[1], block[2], list(block[3]), width)]
    if kind == "plot":
        if not block[1]:
            return [styles.para(block[2], "small")]
        image = Image(io.BytesIO(block[1]))
        scale = width * 0.98 / image.imageWidth
        image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
        return [image, styles.para(block[2], "small")]
    if kind == "status":
        verdict, problems, warnings = block[1], block[2], block[3]
        if verdict.ready:
            inner = [styles.para(t("ready_title"), "status", "#13631d")]
            colours = ("#13631d", "#eaf6ec")
        else:
            inner = [styles.para(t("not_ready_title"), "status", "#b00020")]
            inner += [styles.para("•  " + p) for p in problems] + [Spacer(1, 3), styles.para(t("not_ready_hint"))]
            colours = ("#b00020", "#fde8ea")
        out = [_boxed(inner, width, colours)]
        if warnings:
            inner = [styles.para(t("warnings_title"), "h3")] + [styles.para("•  " + w) for w in warnings]
            out += [Spacer(1, 4), _boxed(inner, width, ("#8a5300", "#fff4d6"))]
        return out
    if kind == "signatures":
        rows = [[_cell(role), _cell(""), _cell(""), _cell("")] for role in block[2]]
        table = _pdf_table(styles, [t("col_role"), t("col_person"), t("col_signature"), t("col_date")], rows,
                           [0.28, 0.22, 0.3, 0.2], width, label_column=True, row_height_pt=34)
        return [styles.para(block[1], "body", None if block[3] else "#b00020"), Spacer(1, 5), table]
    return []


def _boxed(inner: list, width: float, colours: tuple) -> Any:
    """Flowables in a coloured box (border colour, background)."""
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Table, TableStyle

    return Table([[inner]], colWidths=[width], style=TableStyle([
        ("BOX", (0, 0), (-1, -1), 1.5, HexColor(colours[0])), ("BACKGROUND", (0, 0), (-1, -1), HexColor(colours[1])),
        ("LEFTPADDING", (0, 0), (-1, -1), 8), ("RIGHTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 7)]))


def _draw_mixed(canvas: Any, x: float, y: float, text: str, size: float) -> None:
    """One line on the page canvas, switching to STSong-Light for Chinese characters."""
    for char in text:
        face = "Helvetica" if _latin(char) else CJK_FONT
        char = char if (face == "Helvetica" or _cjk(char)) else "?"
        canvas.setFont(face, size)
        canvas.drawString(x, y, char)
        x += canvas.stringWidth(char, face, size)


# ---- the command -------------------------------------------------------------------------------------------

def _write_atomically(path: str, content: bytes) -> None:
    temp = "%s.%d.tmp" % (path, os.getpid())
    with open(temp, "wb") as f:
        f.write(content)
    os.replace(temp, path)


def write_report(data: dict, raw: bytes, record_path: str, out_dir: str, lang: str, formats: list) -> tuple:
    """Writes the chosen formats into out_dir; returns ({format: path}, Readiness)."""
    blocks, verdict = build_document(data, lang)
    meta = {"generated": when(datetime.datetime.now(datetime.timezone.utc).isoformat()), "utc_offset": utc_offset(),
            "record": os.path.abspath(record_path), "record_sha256": hashlib.sha256(raw).hexdigest()}
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    for fmt in formats:
        path = os.path.join(out_dir, FILE_NAMES[fmt])
        if fmt == "html":
            _write_atomically(path, render_html(blocks, lang, meta).encode("utf-8"))
        else:
            temp = "%s.%d.tmp" % (path, os.getpid())
            render_pdf(blocks, lang, meta, temp, verdict.ready)
            os.replace(temp, path)
        files[fmt] = path
    return files, verdict


@commission.command("report")
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Directory for report.html and report.pdf (created if missing).")
@click.option("--lang", type=click.Choice(LANGUAGES), default="zh", show_default=True,
              help="Language of the report: zh (Chinese) or en (English).")
@click.option("--format", "formats", default="html,pdf", show_default=True,
              help="Comma-separated formats to write: html, pdf.")
@click.pass_context
def report(ctx: click.Context, out_dir: str, lang: str, formats: str) -> None:
    """Write the commissioning record as HTML and PDF for signing; exit 1 while anything is missing or failed.

    The report lists every detector with its set points, calibrations and bump tests (with a plot each),
    the valve and interlock tests judged against their limits and sources, the schedule and the config
    hash, and signature blocks. Until every test is done and passed it says "not ready to sign".
    """
    chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
    if not chosen or any(f not in FORMATS for f in chosen):
        fail(ctx, "bad_format", "unknown report format in %r" % formats, "use html, pdf or html,pdf")
    record_path = ctx.obj["record"]
    if not os.path.exists(record_path):
        fail(ctx, "no_record", "no commissioning record at %s" % record_path,
             "run the commission commands first (scan, config init, bump-test...) or pass --record FILE")
    try:
        record = Record.load(record_path)
        with open(record_path, "rb") as f:
            raw = f.read()
    except (RecordError, OSError) as err:
        fail(ctx, "record", str(err), "check the file is the record the commission commands wrote")
    try:
        files, verdict = write_report(record.data, raw, record_path, out_dir, lang, list(dict.fromkeys(chosen)))
    except OSError as err:
        fail(ctx, "write", "cannot write the report into %s: %s" % (out_dir, err),
             "choose a directory you can write with --out")
    t = text_for(lang)
    lines = [t("cli_wrote", path) for path in files.values()]
    lines.append(t("ready_title") if verdict.ready else t("not_ready_title"))
    lines += ["  - " + describe(t, key, args) for key, args in verdict.problems]
    if verdict.warnings:
        lines.append(t("warnings_title"))
        lines += ["  - " + describe(t, key, args) for key, args in verdict.warnings]
    payload = {"files": files, "lang": lang, "ready_to_sign": verdict.ready,
               "problems": [{"code": key[len("problem_"):], "message": describe(t, key, args)}
                            for key, args in verdict.problems],
               "warnings": [describe(t, key, args) for key, args in verdict.warnings]}
    finish(ctx, payload, "\n".join(lines), EXIT_OK if verdict.ready else EXIT_FAILED)

