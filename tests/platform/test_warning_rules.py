"""The warning rules as data: the shipped file and its schema, refusals naming the path, the timing of rounds
(re-notification, escalation, quiet hours), and warnings opened once per cause and cleared only as their rule
says, over random event sequences stored through the storage's batch transaction.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from gaslatch.translation import CHINESE, in_language
from gaslatch_tools import data_file, schema_export
from gaslatch_tools.platform import contacts as C
from gaslatch_tools.platform import rules as R
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.storage import Batch, Event, SqliteStorage

ROOT = Path(__file__).resolve().parents[2]
RULES_PATH = ROOT / "deploy" / "platform" / "warning-rules.yaml"
RULES = R.load(str(RULES_PATH))
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
STORE = "0011223344556677"
ZH = in_language(CHINESE).gettext


def rules_doc() -> dict:
    return data_file.parse(RULES_PATH.read_text(encoding="utf-8"))


@pytest.mark.parametrize("which", ["warning-rules", "platform-contacts"])
def test_the_published_schemas_are_current_and_valid_draft_2020_12(which):
    assert schema_export.main(["--check", "--schema", which]) == 0
    Draft202012Validator.check_schema(json.loads(schema_export.OUTPUTS[which].read_text(encoding="utf-8")))


def test_the_shipped_rules_cover_the_issues_grades():
    grades = {r.name: r.grade for r in RULES.rules}
    assert [n for n, g in grades.items() if g == 1] == ["trip", "high_alarm", "fire_or_estop", "valve_fault"]
    assert {"detector_fault", "unit_offline", "uplink_lost"} <= {n for n, g in grades.items() if g == 2}
    assert {"gas_on_unattended", "inhibit_left_on", "maintenance_soon", "maintenance_due", "daily_check_missed"} <= {
        n for n, g in grades.items() if g == 3}


def test_the_example_contacts_file_is_valid_and_holds_only_placeholders():
    text = (ROOT / "deploy" / "platform" / "contacts.example.yaml").read_text(encoding="utf-8")
    contacts = C.build(data_file.parse(text), "example")
    assert contacts.recipients("noodle-bar-7", ("owner", "officer"))
    assert "SMTP_PASSWORD" in text and "example.com" in text


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["rules"][1].update(grade=4), "$.rules[1].grade: not allowed here (4 is not one of [1, 2, 3])"),
    (lambda d: d["rules"][2].pop("cause"), "$.rules[2]: the field cause is missing"),
    (lambda d: d["grades"]["1"].update(quiet_hours=True), "$.grades.1.quiet_hours: not allowed here (False was expected)"),
    (lambda d: d["rules"][0]["match"].update(type="tirp"), "$.rules[0].match.type: not allowed here ('tirp' is not one of"),
    (lambda d: d["rules"][3].update(name="trip"), "$.rules: the rule name trip is used twice"),
    (lambda d: d.update(timezone="Mars/Olympus"), "$.timezone: no time zone 'Mars/Olympus'"),
    (lambda d: d["grades"]["2"]["escalate"][1].update(after_min=500), "$.grades.2.escalate: the tiers' after_min"),
])
def test_a_bad_rules_file_is_refused_naming_the_file_and_the_path(tmp_path, change, expected):
    doc = rules_doc()
    change(doc)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(R.RulesError) as err:
        R.load(str(path))
    assert str(err.value).startswith(str(path) + ": ")
    assert expected in str(err.value)
    told = err.value.told(ZH)  # as `gaslatch platform --rules` says it under zh: the path, then Chinese
    assert told.startswith(str(path) + "：") and expected.split(": ")[0] in told
    assert re.search("[\u4e00-\u9fff]", told[len(str(path)):]), told


def test_a_rules_file_that_is_not_yaml_is_refused_with_its_line(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules: [\n  {name: x\n", encoding="utf-8")
    with pytest.raises(R.RulesError, match=r"(?s)rules.yaml: cannot read the rules: .*line 2, column 3"):
        R.load(str(path))


def test_a_contacts_file_others_may_read_is_refused(tmp_path):
    path = tmp_path / "contacts.yaml"
    path.write_bytes((ROOT / "deploy" / "platform" / "contacts.example.yaml").read_bytes())
    os.chmod(path, 0o644)
    with pytest.raises(C.ContactsError, match="open to others: chmod 600") as err:
        C.load(str(path))
    assert err.value.told(ZH) == "联系人文件 %s 对其他用户开放：请执行 chmod 600 %s（当前权限 0644）" % (path, path)
    os.chmod(path, 0o600)
    assert C.load(str(path)).people_for("noodle-bar-7", "owner") == ["li-owner"]


def test_a_contacts_file_naming_someone_unknown_is_refused_with_the_path():
    doc = data_file.parse((ROOT / "deploy" / "platform" / "contacts.example.yaml").read_text(encoding="utf-8"))
    doc["districts"]["gulou"]["officers"].append("zhao")
    with pytest.raises(C.ContactsError, match=r"\$\.districts\.gulou\.officers: no one called zhao") as err:
        C.build(doc, "contacts.yaml")
    assert err.value.told(ZH) == "contacts.yaml：$.districts.gulou.officers：$.people 中没有名为 zhao 的人员"


def test_a_site_missing_from_the_contacts_is_told_through_the_duty_centre():
    doc = data_file.parse((ROOT / "deploy" / "platform" / "contacts.example.yaml").read_text(encoding="utf-8"))
    contacts = C.build(doc)
    assert {r.person for r in contacts.recipients("unknown-site", ("owner", "officer"))} == {"duty-desk"}


def ms(hour: int, minute: int = 0, day: int = 7) -> int:
    return int(datetime.datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI).timestamp() * 1000)


MIN = 60000


def test_grade_1_escalates_tier_by_tier_and_renotifies_every_5_minutes():
    opened = ms(14)
    plan = RULES.plan(1, opened, -1, None, opened)
    assert (plan.tiers, plan.due_ms) == ((0,), opened + 5 * MIN)
    plan = RULES.plan(1, opened, 0, opened, opened + 5 * MIN)
    assert (plan.tiers, plan.due_ms) == ((0,), opened + 10 * MIN)
    plan = RULES.plan(1, opened, 0, opened + 5 * MIN, opened + 10 * MIN)
    assert (plan.tiers, plan.tier) == ((1,), 1)
    plan = RULES.plan(1, opened, 1, opened + 5 * MIN, opened + 10 * MIN)
    assert plan.tiers == (0, 1)
    plan = RULES.plan(1, opened, 2, opened + 60 * MIN, opened + 65 * MIN)
    assert (plan.tiers, plan.due_ms) == ((0, 1, 2), opened + 70 * MIN)  # every tier reached, told again


def test_quiet_hours_hold_grade_3_until_morning_and_never_grade_1():
    at_night = ms(23, 30)
    held = RULES.plan(3, at_night, -1, None, at_night)
    assert held.tiers == () and held.due_ms == ms(7, 0, day=8)
    assert RULES.plan(3, at_night, -1, None, ms(7, 0, day=8)).tiers == (0,)
    assert RULES.plan(1, at_night, -1, None, at_night).tiers == (0,)
    assert RULES.plan(2, at_night, -1, None, at_night).tiers == (0,)  # grade 2 does not keep them in the file


def test_a_first_round_after_a_long_wait_tells_every_tier_reached():
    opened = ms(1)
    assert RULES.plan(3, opened, -1, None, ms(7, 0, day=8)).tiers == (0, 1)


def test_a_clearing_event_older_than_the_warnings_latest_does_not_clear_it(tmp_path):
    storage = SqliteStorage(str(tmp_path / "p.sqlite"))
    WS.prepare(storage)
    storage.add_store_hook(WS.WarningHook(RULES))

    def store(seq, state):
        e = Event("s1", "u1", "%s-%012d" % (STORE, seq), seq, "2026-12-07T02:00:00.000Z", seq, True, "detector",
                  "alarm", "d1", state, "null", "")
        storage.store(Batch(events=[(e, "2026-12-07T02:00:01.000Z")]), "2026-12-07T02:00:01.000Z")

    store(5, "high_alarm")
    store(3, "normal")  # a gap filled late: the detector was normal before the alarm
    assert [w.state for w in WS.warnings(storage)] == ["open"]
    store(6, "normal")
    assert [(w.state, w.cleared_by) for w in WS.warnings(storage)] == [("cleared", "%s-%012d" % (STORE, 6))]
    storage.close()


# --- the property: random event sequences through the storage's batch transaction ---

EVENTS = [  # (type, state, source, severity)
    ("trip", "latched", "controller", "alarm"), ("reset", "armed", "button", "info"),
    ("detector", "high_alarm", "d1", "alarm"), ("detector", "normal", "d1", "info"),
    ("detector", "fault", "d1", "fault"), ("detector", "comm_lost", "d2", "fault"),
    ("detector", "normal", "d2", "info"), ("detector", "low_alarm", "d2", "alarm"),
    ("interlock", "active", "fire_alarm", "alarm"), ("interlock", "clear", "fire_alarm", "info"),
    ("valve_fault", "fault", "valve", "fault"), ("valve_fault", "ok", "valve", "info"),
    ("schedule", "unattended", "schedule", "info"), ("schedule", "attended", "schedule", "info"),
    ("output", "on", "valve", "info"), ("output", "off", "valve", "info"),
    ("inhibit", "started", "d1", "warning"), ("inhibit", "ended", "d1", "info"),
]


@st.composite
def histories(draw):
    """Per unit, events in seq order (some sent twice), cut into batches at random."""
    steps = draw(st.lists(st.tuples(st.sampled_from(["u1", "u2"]), st.sampled_from(EVENTS), st.booleans()),
                          min_size=1, max_size=40))
    seqs = {"u1": 0, "u2": 0}
    events = []
    for unit, (type_, state, source, severity), twice in steps:
        seqs[unit] += 1
        e = Event("s1", unit, "%s-%012d" % (STORE, seqs[unit]), seqs[unit], "2026-12-07T02:00:00.000Z",
                  seqs[unit], True, type_, severity, source, state, "null", "")
        events += [e, e] if twice else [e]
    cuts = sorted(draw(st.lists(st.integers(0, len(events)), max_size=6)))
    batches, start = [], 0
    for cut in cuts + [len(events)]:
        batches.append(events[start:cut])
        start = cut
    return [b for b in batches if b]


def occurrence(e: Event) -> R.Occurrence:
    return R.Occurrence(e.site, e.unit, e.type, e.severity, e.source, e.state, None, e.reason, e.id, STORE, e.seq, 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories())
def test_a_warning_opens_once_per_cause_and_clears_only_as_its_rule_says(tmp_path_factory, batches):
    storage = SqliteStorage(str(tmp_path_factory.mktemp("rules") / "p.sqlite"))
    try:
        WS.prepare(storage)
        hook = WS.WarningHook(RULES)
        storage.add_store_hook(hook)
        for batch in batches:
            storage.store(Batch(events=[(e, "2026-12-07T02:00:01.000Z") for e in batch]), "2026-12-07T02:00:01.000Z")
        rows = WS.warnings(storage)
        by_id = {}
        for batch in batches:
            for e in batch:
                by_id[e.id, e.unit] = e
    finally:
        storage.close()
    assert hook.errors == 0
    # The oracle: each new event in seq order, a cause opened when its rule matches and none is open, cleared
    # when one of the rule's clear matches comes while it is open; a repeat of the same id is not new.
    open_causes, expected = {}, []
    for e in sorted({e.id + e.unit: e for b in batches for e in b}.values(), key=lambda e: (e.unit, e.seq)):
        occ = occurrence(e)
        for rule in RULES.rules:
            key = (rule.name, e.unit) + tuple(getattr(occ, f) for f in rule.cause[2:])
            if any(m.matches(occ) for m in rule.clear_on) and key in open_causes:
                expected[open_causes.pop(key)]["cleared_by"] = e.id
        for rule in RULES.rules:
            key = (rule.name, e.unit) + tuple(getattr(occ, f) for f in rule.cause[2:])
            if rule.match.matches(occ) and (rule.while_ is None or _while(rule, e, batches)):
                if key in open_causes:
                    expected[open_causes[key]]["count"] += 1
                else:
                    open_causes[key] = len(expected)
                    expected.append({"rule": rule.name, "unit": e.unit, "first": e.id, "count": 1, "cleared_by": None})
    got = sorted((w.rule, w.unit, w.count, w.cleared_by or "") for w in rows)
    want = sorted((x["rule"], x["unit"], x["count"], x["cleared_by"] or "") for x in expected)
    assert got == want
    active = [(w.rule, w.unit, w.cause) for w in rows if w.state != "cleared"]
    assert len(active) == len(set(active)), "two open warnings for one cause"
    for w in rows:
        if w.cleared_by is not None:
            clearing = by_id[w.cleared_by, w.unit]
            assert any(m.matches(occurrence(clearing)) for m in RULES.by_name[w.rule].clear_on)


def _while(rule: R.Rule, e: Event, batches) -> bool:
    """The unit's latest earlier event of the while-type is in the while-state."""
    earlier = [x for b in batches for x in b if x.unit == e.unit and x.seq < e.seq and x.type == rule.while_.type]
    if not earlier:
        return False
    return max(earlier, key=lambda x: x.seq).state in rule.while_.states


def test_a_calibration_due_then_recalibrated_with_the_next_date_already_near_clears_the_due_warning(tmp_path):
    # Found by attack16: maintenance_due cleared only on ok; with monthly bump tests (calibration_interval_days 30)
    # and the default 30 days' notice, a recalibration makes the reminder soon at once (the next date is within the
    # notice), never ok: the due warning stayed open for ever although the detector had been calibrated.
    from gaslatch.core import civil_date as CD
    from tests.core.test_lifecycle import controller as unit_controller, doc as unit_doc

    storage = SqliteStorage(str(tmp_path / "p.sqlite"))
    WS.prepare(storage)
    storage.add_store_hook(WS.WarningHook(RULES))
    seq = 0

    def run(document, announced, days):
        nonlocal seq
        ctl = unit_controller(document, announced)
        for text in days:
            day = CD.parse(text)
            for r in ctl.step(day * 86400000, wall=(CD.weekday(day), 600), today=day).events:
                if r["type"] != "maintenance_due" or r["source"] != "hood1:calibration":
                    continue
                seq += 1
                announced[r["source"]] = (r["state"], r["value"])
                e = Event("s1", "u1", "%s-%012d" % (STORE, seq), seq, text + "T02:00:00.000Z", seq, True,
                          r["type"], r["severity"], r["source"], r["state"], json.dumps(r["value"]), r["reason"])
                storage.store(Batch(events=[(e, text + "T02:00:01.000Z")]), text + "T02:00:01.000Z")

    announced = {}
    run(unit_doc(valve_installed=None, calibration_interval_days=30), announced, ["2026-02-09", "2026-02-20"])
    assert announced["hood1:calibration"] == ("due", "2026-02-09")
    assert {w.rule for w in WS.warnings(storage, open_only=True)} == {"maintenance_due"}
    run(unit_doc(calibrated="2026-02-21", valve_installed=None, calibration_interval_days=30), announced,
        ["2026-02-21"])
    assert announced["hood1:calibration"] == ("soon", "2026-03-23")
    assert {w.rule for w in WS.warnings(storage, open_only=True)} == {"maintenance_soon"}
    storage.close()


HOSTILE_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    ["\ud800", "\x00", "%(x)s", "%s", "\u202e", "a" * 10_000, "$.people", "; "])
# YAML keys need not be text: numbers, null, true and dates side by side (which do not compare with each other).
KEYS = HOSTILE_TEXT | st.none() | st.booleans() | st.integers() | st.dates()
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=30)


def _mutated(doc: dict, key_path: list, value) -> dict:
    """The document with the value at key_path replaced (a real file, one field made hostile)."""
    out = copy.deepcopy(doc)
    at = out
    for key in key_path[:-1]:
        at = at[key]
    at[key_path[-1]] = value
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_any_rules_or_contacts_document_is_taken_or_refused_with_a_message_in_both_languages(data):
    """Whatever a rules or contacts file holds (any code point, lone surrogates, NUL, %-placeholders, 10,000
    characters, nesting), building it either works or raises the file's error, whose English and Chinese are both
    whole text: never another exception, never a translation that fails to fill."""
    contacts = data_file.parse((ROOT / "deploy" / "platform" / "contacts.example.yaml").read_text(encoding="utf-8"))
    for build, error, base, paths in (
            (R.build, R.RulesError, rules_doc(), [["timezone"], ["rules", 0, "grade"], ["rules", 1, "name"],
                                                  ["grades", "1"], ["rules"], ["quiet_hours"]]),
            (C.build, C.ContactsError, contacts, [["people"], ["duty_centre"], ["sites"], ["districts", "gulou"],
                                                  ["administrators"]])):
        doc = data.draw(DOCUMENTS | st.builds(_mutated, st.just(base), st.sampled_from(paths), DOCUMENTS))
        source = data.draw(HOSTILE_TEXT)
        try:
            build(doc, source)
        except error as err:
            english, chinese = str(err), err.told(ZH)
            assert isinstance(english, str) and isinstance(chinese, str) and english
            assert chinese != english or not re.search("[a-z]{4}", english.replace(source, "")), (english, chinese)


@pytest.mark.parametrize("depth", [900, 50_000])
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_rules_or_contacts_file_nested_deeper_than_the_parser_goes_is_refused_not_a_traceback(tmp_path, depth,
                                                                                                 suffix):
    nested = "[" * depth + "]" * depth
    for load, error, name in ((R.load, R.RulesError, "rules"), (C.load, C.ContactsError, "contacts")):
        path = tmp_path / (name + suffix)
        path.write_text('{"people": %s}' % nested if suffix == ".json" else "people: %s\n" % nested, encoding="utf-8")
        path.chmod(0o600)
        with pytest.raises(error) as err:
            load(str(path))
        assert str(err.value).startswith(str(path) + ": ") and err.value.told(ZH).startswith(str(path) + "：")


def test_a_contacts_file_with_number_date_and_null_keys_side_by_side_is_refused_with_the_paths(tmp_path):
    doc = data_file.parse((ROOT / "deploy" / "platform" / "contacts.example.yaml").read_text(encoding="utf-8"))
    doc["people"].update({1: {}, None: {}, datetime.date(2024, 1, 1): {}, 2.5: {}})
    with pytest.raises(C.ContactsError) as err:
        C.build(doc, "contacts.yaml")
    assert str(err.value).startswith("contacts.yaml: $.people: ") and "1 is not of type 'string'" in str(err.value)
    assert "datetime.date(2024, 1, 1) is not of type 'string'" in str(err.value)
