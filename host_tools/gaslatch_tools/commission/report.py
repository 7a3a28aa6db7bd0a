"""`gaslatch commission report`: the record as the document the installer, inspector and owner sign.

Lays the record out as blocks for the HTML and PDF renderers; exits 1 while a test is missing or failed.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Callable

import click

from gaslatch.translation import _
from gaslatch.unit.atomic_file import write_atomically
from gaslatch_tools.commission.command_outcome import EXIT_FAILED, EXIT_OK, CommandStop, finish
from gaslatch_tools.commission.record import LIMIT_SOURCES, LIMITS_S, Record
from gaslatch_tools.commission.report_html import render_html
from gaslatch_tools.commission.report_judge import (FAIL, INTERLOCK_KINDS, MISSING, NA, NOT_TESTED, REQUIRED_FIELDS,
                                                    Item, interlock_kind, judge_bump, judge_calibration,
                                                    judge_interlock, judge_valve, linkage_tested, readiness,
                                                    required_interlocks)
from gaslatch_tools.commission.report_pdf import render_pdf
from gaslatch_tools.commission.report_plot import bump_plot_png
from gaslatch_tools.commission.report_record import (as_list, blank, config_document, detectors_in_order, entries,
                                                     latest, latest_calibration, number, section)
from gaslatch_tools.commission.report_text import describe, has_text, text_for
from gaslatch_tools.commission.report_values import (HIDDEN, failures_text, field_label, field_value, limit_text,
                                                     line_text, others, pct_lel, plain, seconds, set_points_text,
                                                     status_word, utc_offset, when, word)

LANGUAGES = ("zh", "en")
FORMATS = ("html", "pdf")
FILE_NAMES = {"html": "report.html", "pdf": "report.pdf"}
REPORT_MODE = 0o644  # a document to hand on: readable by all, as the usual umask made it before
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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
DETECTOR_FIELDS = (("model", "field_model"), ("serial", "field_serial"), ("installed", "field_installed"),
                   ("calibrated", "field_calibrated"), ("profile", "field_profile"), ("address", "field_modbus_address"),
                   ("location", "field_location"), ("gas", "field_gas"), ("low_alarm_pct_lel", "field_low_alarm"),
                   ("high_alarm_pct_lel", "field_high_alarm"), ("zone", "field_zone"), ("kind", "field_kind"),
                   ("last_seen", "field_last_seen"), ("scan_reading", "field_scan_reading"),
                   ("scan_problems", "field_scan_problems"), ("setting_changes", "field_setting_changes"))
BUMP_SHOWN = {"time_to_alarm_s", "recovery_s", "linkage", "linkage_note", "samples", "mode", "gas_pct_lel",
              "expected", "gas_removed_s", "set_points_pct_lel", "problems", "source"}
CALIBRATION_SHOWN = {"kind", "span_gas_pct_lel", "before_pct_lel", "after_pct_lel", "address", "baud", "profile",
                     "gas"}
VALVE_SHOWN = {"test", "valve_type", "feedback", "travel_s", "close_command_s", "closed_s", "closed_source",
               "remote_reopen_refused", "reopen_without_reset_refused", "reset", "reopen_s", "reopen_source",
               "socket_reset", "reopen_command_s"}
VALVE_FACTS = (("valve_type", "valve_type"), ("feedback", "valve_feedback"), ("travel_s", "valve_travel"))
INTERLOCK_SHOWN = {"test", "interlock", "measured_s", "trip_s", "fault_s", "limit_s", "applicable"}


# ---- the document: blocks both renderers draw --------------------------------------------------------
# ("h1"|"h2"|"h3", text, anchor), ("para", text), ("kv", [(label, value, status)]),
# ("table", headers, rows of (text, status), column widths as fractions), ("plot", png or None, caption),
# ("status", Readiness, problem texts, warning texts), ("signatures", statement or blocked text, roles, ready).

def _cell(text: str, status: str | None = None) -> tuple:
    return (text, status)


def _note_row(label: str, text: str, status: str | None = None) -> list:
    """A row of a judged test's table that has no measurement, limit or result of its own."""
    return [_cell(label), _cell(text, status), _cell(""), _cell("")]


def _other_rows(t: Callable[..., str], entry: dict, known: set) -> list:
    """kv rows for the fields the layout does not name, in key order."""
    return [(field_label(t, k), field_value(t, k, entry[k]), None) for k in sorted(entry, key=str) if k not in known]


def _facts(t: Callable[..., str], facts: list) -> list:
    """A test's set-up (mode, gas, valve type...) as one paragraph, when anything was recorded."""
    return [("para", t("fact_sep").join(facts))] if facts else []


def _not_done_table(t: Callable[..., str], header: str, text: str) -> tuple:
    return ("table", [t(header), t("col_result")], [[_cell(t(text)), _cell(t("status_missing"), MISSING)]],
            (0.75, 0.25))


def _scan_text(t: Callable[..., str], scan: dict) -> str:
    health = scan.get("health") if isinstance(scan.get("health"), dict) else {}
    reply = health.get("reply_ms") if isinstance(health.get("reply_ms"), dict) else {}
    rate = number(health.get("error_rate"))
    lines = [t("scan_summary", plain(t, scan.get("found")), plain(t, scan.get("lines")),
               t("none") if rate is None else plain(t, round(rate * 100, 2)), plain(t, reply.get("p50")))]
    lines += [str(p) for p in as_list(scan.get("problems")) + as_list(scan.get("warnings"))]
    return "\n".join([when(scan.get("utc"))] + lines)


def _general_blocks(t: Callable[..., str], data: dict) -> list:
    """Site, unit, installer and bus: known fields by name, a blank line for identification not recorded."""
    blocks = [("h1", t("sec_general"), "general")]
    for group, fields in GENERAL_FIELDS.items():
        values = section(data, group)
        required = {key for g, key, _label in REQUIRED_FIELDS if g == group}
        rows = [(t(label), "" if blank(values.get(key)) else plain(t, values.get(key)), None)
                for key, label in fields if key in values or key in required]
        if group == "bus" and isinstance(values.get("scan"), dict):
            rows.append((t("field_scan"), _scan_text(t, values["scan"]), None))
        rows += _other_rows(t, values, {key for key, _label in fields} | {"scan"})
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
            entry = latest_calibration(detector, kind)
            if entry is not None:
                calibrations.append(t("label", t("cal_%s_short" % kind), status_word(t, judge_calibration(entry))))
        bump = latest(detector.get("bump_tests"))
        bump_status = MISSING if bump is None else judge_bump(bump).status
        bump_text = t("not_done") if bump is None else t("with_note", status_word(t, bump_status),
                                                         seconds(t, bump.get("time_to_alarm_s")))
        rows.append([_cell(name), _cell(plain(t, detector.get("model") or detector.get("profile"))),
                     _cell(plain(t, detector.get("address"))),
                     _cell(plain(t, detector.get("location"))), _cell(word(t, "gas_", detector.get("gas"))),
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
        note = t(item.note) if has_text(item.note) else item.note
        if note:
            shown = note if shown == t("none") else t("with_note", shown, note)
        rows.append([_cell(t("item_" + item.key) if has_text("item_" + item.key) else t(item.key)),
                     _cell(shown), _cell(limit_text(item.limit_s)), _cell(status_word(t, item.status), item.status)])
    return rows


def _judged_table(t: Callable[..., str], judged: Any, entry: dict, shown: set, notes: tuple = ()) -> tuple:
    """A judged test: its items, any notes, why it failed, the result, then the fields the layout does not name."""
    rows = _item_rows(t, judged.items) + [_note_row(t("field_note"), note) for note in notes]
    failures = failures_text(entry)
    if failures:
        rows.append(_note_row(t("item_failures"), failures, FAIL))
    overall = status_word(t, judged.status)
    if judged.marked_failed:
        overall = t("with_note", overall, t("marked_failed"))
    rows.append([_cell(t("item_overall")), _cell(""), _cell(""), _cell(overall, judged.status)])
    rest = others(t, entry, shown)
    if rest:
        rows.append(_note_row(t("col_other"), rest))
    return ("table", [t("col_item"), t("col_measured"), t("col_limit"), t("col_result")], rows,
            (0.36, 0.34, 0.12, 0.18))


def _bump_blocks(t: Callable[..., str], lang: str, name: str, detector: dict, plotter: Callable) -> list:
    bumps = entries(detector.get("bump_tests"))
    if not bumps:
        return [("h3", t("col_bump"), "bump-%s-none" % name), _not_done_table(t, "col_bump", "no_bump")]
    blocks: list = []
    for index, entry in enumerate(bumps, 1):
        blocks.append(("h3", t("bump_heading", index, when(entry.get("utc"))), "bump-%s-%d" % (name, index)))
        facts = []
        if entry.get("mode") is not None:
            facts.append(t("label", t("bump_mode"), word(t, "mode_", entry.get("mode"))))
        if entry.get("gas_pct_lel") is not None:
            facts.append(t("label", t("bump_gas"), pct_lel(t, entry.get("gas_pct_lel"))))
        if entry.get("expected") is not None:
            facts.append(t("label", t("bump_expected"), word(t, "expected_", entry.get("expected"))))
        blocks += _facts(t, facts)
        notes = (str(entry["linkage_note"]),) if not linkage_tested(entry) and entry.get("linkage_note") else ()
        blocks.append(_judged_table(t, judge_bump(entry), entry, BUMP_SHOWN, notes))
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
    rows += _other_rows(t, detector, known | HIDDEN)
    blocks.append(("kv", rows))
    blocks.append(("h3", t("calibrations"), "calibrations-" + name))
    calibrations = entries(detector.get("calibrations"))
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


VALVE_ASSET_FIELDS = (("model", "field_model"), ("serial", "field_serial"), ("installed", "field_installed"))


def _valve_blocks(t: Callable[..., str], data: dict, document: dict | None) -> list:
    blocks: list = [("h1", t("sec_valve"), "valve")]
    valve = (document or {}).get("valve")
    if isinstance(valve, dict) and any(valve.get(key) for key, _label in VALVE_ASSET_FIELDS):
        blocks.append(("kv", [(t(label), plain(t, valve.get(key) or None), None) for key, label in VALVE_ASSET_FIELDS]))
    tests = entries(data.get("valve_tests"))
    if not tests:
        blocks.append(_not_done_table(t, "col_item", "no_valve_test"))
    for index, entry in enumerate(tests, 1):
        blocks.append(("h3", t("valve_heading", index, when(entry.get("utc"))), "valve-%d" % index))
        blocks += _facts(t, [t("label", t(label), field_value(t, key, entry.get(key))) for key, label in VALVE_FACTS
                             if entry.get(key) is not None])
        blocks.append(_judged_table(t, judge_valve(entry), entry, VALVE_SHOWN))
    return blocks


def _interlock_blocks(t: Callable[..., str], data: dict, document: dict | None) -> list:
    tests = entries(data.get("interlock_tests"))
    required, unknown = required_interlocks(document)
    kinds = list(INTERLOCK_KINDS) + sorted({interlock_kind(e) for e in tests} - set(INTERLOCK_KINDS))
    rows = []
    for kind in kinds:
        label = t("interlock_" + kind) if kind in INTERLOCK_KINDS else (kind or t("none"))
        mine = [e for e in tests if interlock_kind(e) == kind]
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
        for period in entries(schedule.get("attended")):
            days = as_list(period.get("days"))
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
            (t("config_sha256"), str(config.get("sha256")), None)]
    if config.get("identity"):
        rows += [(t("config_identity"), str(config["identity"]), None),
                 (t("config_version"), plain(t, config.get("version")), None)]
    rows.append((t("config_pushed_at"), when(config.get("pushed_at")), None))
    return rows + _other_rows(t, config, {"path", "sha256", "pushed_at", "document", "identity", "version"})


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
    blocks += _valve_blocks(t, data, document)
    blocks += _interlock_blocks(t, data, document)
    schedule = data.get("schedule")
    if schedule is None and isinstance((document or {}).get("schedule"), dict):
        schedule = document["schedule"]
    blocks += [("h1", t("sec_schedule"), "schedule"), ("kv", schedule_rows(t, schedule))]
    blocks += [("h1", t("sec_config"), "config"), ("kv", _config_rows(t, data.get("config")))]
    log_rows = [[_cell(when(e.get("utc"))), _cell(plain(t, e.get("command"))), _cell(plain(t, e.get("summary")))]
                for e in entries(data.get("log"))]
    blocks.append(("h1", t("sec_log"), "log"))
    blocks.append(("table", [t("col_time"), t("col_command"), t("col_summary")], log_rows, (0.2, 0.14, 0.66))
                  if log_rows else ("para", t("log_empty")))
    blocks += [("h1", t("sec_signatures"), "signatures"),
               ("signatures", t("sign_statement") if verdict.ready else t("sign_blocked"),
                [t("role_installer"), t("role_inspector"), t("role_owner")], verdict.ready)]
    return _without_empty_tables(t, blocks), verdict


def _without_empty_tables(t: Callable[..., str], blocks: list) -> list:
    """The blocks with every table that has no rows said as "nothing recorded" (reportlab draws no table without a
    row), and every key: value list without rows left out."""
    out: list = []
    for block in blocks:
        if block[0] == "kv" and not block[1]:
            continue
        if block[0] == "table" and not block[2]:
            block = ("para", t("log_empty"))
        out.append(block)
    return out


# ---- the command -------------------------------------------------------------------------------------------

def write_report(record: Record, out_dir: str, lang: str, formats: list) -> tuple:
    """Writes the chosen formats into out_dir; returns ({format: path}, Readiness)."""
    blocks, verdict = build_document(record.data, lang)
    meta = {"generated": when(datetime.datetime.now(datetime.timezone.utc).isoformat()), "utc_offset": utc_offset(),
            "record": os.path.abspath(record.path), "record_sha256": record.loaded_sha256}
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    for fmt in formats:
        path = os.path.join(out_dir, FILE_NAMES[fmt])
        data = render_html(blocks, lang, meta).encode("utf-8") if fmt == "html" else \
            render_pdf(blocks, lang, meta, verdict.ready)
        write_atomically(path, data, REPORT_MODE)  # never half a report
        files[fmt] = path
    return files, verdict


@click.command("report", help=_(
    "Write the commissioning record as HTML and PDF for signing; exit 1 while anything is missing or failed.\n\n"
    "The report lists every detector with its set points, calibrations and bump tests (with a plot each), the valve "
    "and interlock tests judged against their limits and sources, the schedule and the config hash, and signature "
    "blocks. Until every test is done and passed it says \"not ready to sign\"."))
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help=_("Directory for report.html and report.pdf (created if missing)."))
@click.option("--lang", type=click.Choice(LANGUAGES), default="zh", show_default=True,
              help=_("Language of the report: zh (Chinese) or en (English)."))
@click.option("--format", "formats", default="html,pdf", show_default=True,
              help=_("Comma-separated formats to write: html, pdf."))
@click.pass_context
def report(ctx: click.Context, out_dir: str, lang: str, formats: str) -> None:
    # The help is given to click.command(help=...) above, in the reader's language.
    chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
    if not chosen or any(f not in FORMATS for f in chosen):
        raise CommandStop("bad_format", _("unknown report format in %r") % formats, _("use html, pdf or html,pdf"))
    record_path = ctx.obj["record"]
    if not os.path.exists(record_path):
        raise CommandStop("no_record", _("no commissioning record at %s") % record_path,
                          _("run the commission commands first (scan, config init, bump-test...) or pass --record FILE"))
    record = Record.load(record_path)
    try:
        files, verdict = write_report(record, out_dir, lang, list(dict.fromkeys(chosen)))
    except OSError as err:
        raise CommandStop("write", _("cannot write the report into %(directory)s: %(error)s") % {
            "directory": out_dir, "error": err}, _("choose a directory you can write with --out")) from None
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

