"""Scenario files: the library is complete and valid, bad files get a clear error and nothing else."""

import copy
import grp
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch_tools import schema_export
from gaslatch_tools.bench import scenario as S

# The issue's list, by the scenario that shows each item.
REQUIRED = ("slow-leak", "fast-leak", "two-detectors", "lpg-low-mounted", "noisy-below-threshold",
            "noisy-above-threshold", "detector-own-alarm-status", "over-range", "sensor-fault",
            "comm-loss-and-recovery", "garbage-on-the-bus", "alarm-while-another-in-fault", "warmup-after-power-on",
            "valve-stuck-open", "fan-failure-bs6173", "fire-input", "emergency-stop", "schedule-close",
            "inhibit-expiry", "silence-and-resound", "power-cut-during-alarm", "power-cut-normal-running",
            "reset-refused-then-accepted", "broker-outage-backlog", "four-simultaneous-alarms",
            "co2-rising-through-both-levels", "co-alarm")

MINIMAL = {"name": "t", "summary": "s", "duration_s": 5, "detectors": {"d1": {"address": 1}},
           "expect": [{"name": "no trip", "never": {"event": {"type": "trip"}}}]}


def names():
    return {os.path.splitext(os.path.basename(path))[0] for path in S.library()}


def test_the_library_has_a_scenario_for_every_case_the_issue_lists():
    assert len(S.library()) >= 20
    assert sorted(set(REQUIRED) - names()) == []


@pytest.mark.parametrize("path", S.library(), ids=lambda p: os.path.basename(p))
def test_every_library_scenario_is_valid_and_its_kitchen_is_accepted_by_the_controller(path, tmp_path):
    scenario = S.load(path)
    assert scenario["name"] == os.path.splitext(os.path.basename(path))[0]
    ports = {bus: str(tmp_path / ("tty-" + bus)) for bus in scenario["buses"]}
    doc = S.controller_document(scenario, str(tmp_path), ports, str(tmp_path / "c.sock"),
                                grp.getgrgid(os.getgid()).gr_name, None)
    cfg = S.controller_config(doc, path)
    assert set(cfg["detectors"]) == set(scenario["detectors"])


def test_a_library_name_finds_its_file_and_an_unknown_one_says_where_to_look():
    assert S.find("fast-leak").endswith("fast-leak.yaml")
    with pytest.raises(S.ScenarioError, match="gaslatch bench list"):
        S.find("no-such-scenario")


@pytest.mark.parametrize("change, words", [
    (lambda d: d["timeline"].append({"at_s": 1, "do": "press", "line": "reset_button", "label": "x"}) or
     d["expect"].append({"name": "e", "after": {"action": "y"}, "then": {"event": {"type": "reset"}},
                         "within_s": 1}), "no timeline action is labelled y"),
    (lambda d: d["timeline"].append({"at_s": 1, "do": "bus_fault", "detector": "d9", "fault": "no_reply"}),
     "no detector d9"),
    (lambda d: d["timeline"].append({"at_s": 9, "do": "press", "line": "reset_button"}), "after the end"),
    (lambda d: d["timeline"].append({"at_s": 1, "do": "broker", "state": "down"}), "needs uplink: true"),
    (lambda d: d["expect"].append({"name": "e", "all_events_delivered": True}), "uplink: true"),
    (lambda d: d["detectors"]["d1"].update(bus="nowhere"), "bus nowhere"),
    (lambda d: d.update(duration_s=-1), "duration_s"),
    (lambda d: d["detectors"]["d1"].update(adress=2), "adress"),
])
def test_a_bad_scenario_is_refused_with_the_field_named(change, words):
    doc = copy.deepcopy(MINIMAL)
    doc["timeline"] = []
    change(doc)
    with pytest.raises(S.ScenarioError, match=words):
        S.check(doc, "x.yaml")


def test_a_controller_section_the_controller_refuses_is_reported_with_its_own_message(tmp_path):
    scenario = S.check(dict(MINIMAL, controller={"alarm": {"confirm_samples": 0}}))
    doc = S.controller_document(scenario, str(tmp_path), {"bus1": "/dev/null"}, "/tmp/c.sock", "root", None)
    with pytest.raises(S.ScenarioError, match=r"(?s)controller refuses.*alarm.confirm_samples"):
        S.controller_config(doc, "x.yaml")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)


@given(st.dictionaries(st.sampled_from(sorted(S.SCHEMA["properties"]) + ["x"]), json_values, max_size=8))
def test_any_document_is_either_a_scenario_or_a_scenario_error(doc):
    try:
        S.check(doc)
    except S.ScenarioError:
        pass


def test_the_published_scenario_schema_is_current():
    assert schema_export.is_current(schema_export.OUTPUTS["bench"], "bench")


def test_docs_bench_lists_every_library_scenario():
    docs = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "bench.md")
    with open(docs, encoding="utf-8") as f:
        text = f.read()
    assert sorted(name for name in names() if "| `%s` |" % name not in text) == []


def test_on_and_off_in_a_scenario_file_are_words_not_booleans(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nsummary: x\nduration_s: 5\ndetectors: {d1: {address: 1}}\n"
                    "timeline: [{at_s: 1, do: detector_fault, detector: d1, fault: sensor_fault, on: false}]\n"
                    "expect: [{name: e, never: {event: {type: trip}}}]\n")
    assert S.load(str(path))["timeline"][0]["on"] is False
