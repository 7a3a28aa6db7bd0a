"""Config validation: every rule, the problems an installer sees, defaults, and loading from text and files."""

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import config, config_schema, constants
from gaslatch.core.config import ConfigError, Problem
from gaslatch.core.config_schema import SCHEMA

REPO = Path(__file__).resolve().parents[2]
KITCHEN = REPO / "docs" / "examples" / "kitchen.json"
PROFILE_KINDS = {"cn-generic": "modbus", "analog-ne43": "analog", "contact-dry": "contact"}


def minimal(**sections):
    doc = {
        "unit": {"site": "site-1", "name": "kitchen"},
        "buses": {"rs485a": {"port": "/dev/ttyUSB0"}},
        "detectors": {"hood1": {"kind": "modbus", "bus": "rs485a", "address": 1, "profile": "cn-generic"}},
    }
    doc.update(sections)
    return doc


def with_detectors(**detectors):
    doc = minimal()
    doc["detectors"].update(detectors)
    return doc


def modbus(address, **extra):
    detector = {"kind": "modbus", "bus": "rs485a", "address": address, "profile": "cn-generic"}
    detector.update(extra)
    return detector


def paths(problems):
    return [problem.path for problem in problems]


def only_problem(doc, profile_kinds=None):
    problems = config.validate(doc, profile_kinds)
    assert len(problems) == 1, problems
    return problems[0]


# --- defaults ----------------------------------------------------------------------------------

def test_minimal_config_gets_every_default_from_constants():
    loaded = config.load_config(minimal())
    hood = loaded["detectors"]["hood1"]
    assert hood["low_alarm_pct_lel"] == constants.DEFAULT_LOW_ALARM_PCT_LEL
    assert hood["high_alarm_pct_lel"] == constants.DEFAULT_HIGH_ALARM_PCT_LEL
    assert hood["hysteresis_pct_lel"] == constants.DEFAULT_HYSTERESIS_PCT_LEL
    assert hood["poll_interval_ms"] == constants.DEFAULT_POLL_INTERVAL_MS
    assert hood["zone"] == "default" and hood["gas"] == "methane" and hood["location"] == ""
    assert loaded["buses"]["rs485a"] == {
        "port": "/dev/ttyUSB0", "baud": 9600, "parity": "N", "stop_bits": 1,
        "response_timeout_ms": constants.DEFAULT_RESPONSE_TIMEOUT_MS, "retries": constants.DEFAULT_RETRIES,
        "direction": "auto",
    }
    assert loaded["scan"] == {"period_ms": constants.DEFAULT_SCAN_PERIOD_MS}
    assert loaded["alarm"] == {
        "confirm_samples": constants.DEFAULT_CONFIRM_SAMPLES,
        "confirm_window_ms": constants.DEFAULT_CONFIRM_WINDOW_MS,
        "comm_lost_after_s": constants.DEFAULT_COMM_LOST_AFTER_S,
        "fault_trip_after_s": constants.DEFAULT_FAULT_TRIP_AFTER_S,
        "warmup_max_s": constants.DEFAULT_WARMUP_MAX_S,
        "clear_hold_s": constants.DEFAULT_CLEAR_HOLD_S,
        "clear_hold_samples": constants.DEFAULT_CLEAR_HOLD_SAMPLES,
    }
    assert loaded["valve"] == {"type": "hold", "travel_s": constants.DEFAULT_VALVE_TRAVEL_S,
                               "pulse_ms": constants.DEFAULT_VALVE_PULSE_MS, "feedback": "none",
                               "startup": "manual_reset", "model": "", "serial": ""}
    assert "installed" not in loaded["valve"] and "installed" not in hood and "calibrated" not in hood
    assert loaded["maintenance"] == {"calibration_interval_days": constants.DEFAULT_CALIBRATION_INTERVAL_DAYS,
                                     "notice_days": constants.DEFAULT_MAINTENANCE_NOTICE_DAYS}
    assert loaded["daily_check"]["enabled"] is False and loaded["daily_check"]["due_by"] == "11:00"
    assert [item["id"] for item in loaded["daily_check"]["items"]] == ["stove", "hose", "valve", "detector_lamps"]
    assert loaded["fan"] == {"mode": "alarm", "run_on_s": constants.DEFAULT_FAN_RUN_ON_S, "proving": False,
                             "proving_grace_s": constants.DEFAULT_FAN_PROVING_GRACE_S,
                             "loss_confirm_s": constants.DEFAULT_FAN_LOSS_CONFIRM_S,
                             "rundown_s": constants.DEFAULT_FAN_RUNDOWN_S, "bs6173": False}
    assert loaded["sounder"] == {"silence_s": constants.DEFAULT_SILENCE_S}
    assert loaded["interlocks"] == {"fire_input": False, "estop_input": False}
    assert loaded["inhibit"] == {"max_minutes": constants.DEFAULT_INHIBIT_MAX_MIN}
    assert loaded["schedule"] == {"enabled": False, "attended": []}
    assert loaded["gpio"] == {"backend": "gpiod", "chip": config_schema.DEFAULT_GPIO_CHIP,
                              "sim_dir": config_schema.DEFAULT_GPIO_SIM_DIR,
                              "debounce_ms": config_schema.DEFAULT_DEBOUNCE_MS}
    assert loaded["lines"] == {}
    assert loaded["store"] == {"path": config_schema.DEFAULT_STORE_PATH, "max_events": 100000}
    assert loaded["control"]["reset_window_s"] == 60 and loaded["watchdog"]["timeout_s"] == 15


def _assert_defaults_present(schema, value, path):
    if "oneOf" in schema:
        schema = [b for b in schema["oneOf"] if b["properties"]["kind"]["const"] == value["kind"]][0]
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if "default" in sub:
                assert key in value, "%s.%s has no default filled" % (path, key)
            if key in value:
                _assert_defaults_present(sub, value[key], path + "." + key)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                _assert_defaults_present(extra, value[key], path + "." + key)
    if isinstance(value, list) and "items" in schema:
        for item in value:
            _assert_defaults_present(schema["items"], item, path + "[]")


def test_defaults_are_filled_recursively_for_every_detector_kind_and_period():
    doc = with_detectors(
        gas2={"kind": "analog", "channel": "ai0"},
        door={"kind": "contact", "line": "in1"},
    )
    doc["schedule"] = {"enabled": True, "attended": [{"days": ["mon"], "from": "08:00", "to": "20:00"}]}
    loaded = config.load_config(doc)
    _assert_defaults_present(SCHEMA, loaded, "$")
    assert loaded["detectors"]["gas2"]["profile"] == "analog-ne43"
    assert loaded["detectors"]["gas2"]["full_scale_pct_lel"] == 100
    assert loaded["detectors"]["door"]["profile"] == "contact-dry"
    assert "fault_line" not in loaded["detectors"]["door"]


def test_every_zone_a_detector_names_is_present_with_defaults():
    doc = with_detectors(hood2=modbus(2, zone="wok"))
    doc["zones"] = {"wok": {"two_detector_timeout_s": 20}}
    loaded = config.load_config(doc)
    assert loaded["zones"]["wok"] == {"two_detector_confirmation": False, "two_detector_timeout_s": 20}
    assert loaded["zones"]["default"] == {
        "two_detector_confirmation": False,
        "two_detector_timeout_s": constants.DEFAULT_TWO_DETECTOR_TIMEOUT_S,
    }


def test_integral_float_is_an_integer_and_is_normalised_to_int():
    doc = minimal(scan={"period_ms": 50.0})
    doc["detectors"]["hood1"]["address"] = 3.0
    loaded = config.load_config(doc)
    assert loaded["scan"]["period_ms"] == 50 and type(loaded["scan"]["period_ms"]) is int
    assert type(loaded["detectors"]["hood1"]["address"]) is int


def test_load_config_leaves_its_input_untouched():
    doc = minimal()
    before = copy.deepcopy(doc)
    loaded = config.load_config(doc)
    loaded["detectors"]["hood1"]["address"] = 99
    assert doc == before


# --- structural problems: paths and hints ---------------------------------------------------

def test_boolean_is_not_accepted_as_a_number():
    doc = minimal()
    doc["detectors"]["hood1"]["address"] = True
    problem = only_problem(doc)
    assert problem.path == "$.detectors.hood1.address"
    assert problem.message == "expected a whole number, found true"
    assert problem.hint == "write a whole number from 1 to 247, e.g. 1"


def test_quoted_number_is_a_type_error_with_a_hint_to_drop_the_quotes():
    doc = minimal()
    doc["detectors"]["hood1"]["high_alarm_pct_lel"] = "25"
    problem = only_problem(doc)
    assert problem.path == "$.detectors.hood1.high_alarm_pct_lel"
    assert problem.message == 'expected a number, found text "25"'
    assert problem.hint == "write a number from 1 to 50, e.g. 25 (without quotes)"


def test_fraction_is_not_an_integer():
    problem = only_problem(minimal(scan={"period_ms": 50.5}))
    assert problem.path == "$.scan.period_ms"
    assert problem.message == "expected a whole number, found 50.5"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_not_numbers(value):
    doc = minimal()
    doc["detectors"]["hood1"]["high_alarm_pct_lel"] = value
    assert paths(config.validate(doc)) == ["$.detectors.hood1.high_alarm_pct_lel"]


def test_set_point_above_the_design_code_cap_names_the_bounds():
    doc = minimal()
    doc["detectors"]["hood1"]["high_alarm_pct_lel"] = 60
    problem = only_problem(doc)
    assert problem == Problem("$.detectors.hood1.high_alarm_pct_lel", "60 is above the maximum 50",
                              "write a number from 1 to 50")


def test_below_minimum_and_exclusive_minimum_are_reported():
    doc = with_detectors(gas2={"kind": "analog", "channel": "ai0", "full_scale_pct_lel": 0, "low_alarm_pct_lel": 0})
    problems = config.validate(doc)
    assert [(p.path, p.message) for p in problems] == [
        ("$.detectors.gas2.full_scale_pct_lel", "0 must be above 0"),
        ("$.detectors.gas2.low_alarm_pct_lel", "0 is below the minimum 1"),
    ]


def test_missing_required_key_points_at_the_key_and_says_what_to_add():
    doc = minimal()
    del doc["detectors"]["hood1"]["address"]
    problem = only_problem(doc)
    assert problem == Problem("$.detectors.hood1.address", "missing; it is required",
                              'add "address": a whole number from 1 to 247')


def test_missing_unit_and_detectors_are_both_reported():
    assert paths(config.validate({})) == ["$.unit", "$.detectors"]


def test_config_must_be_an_object():
    problem = only_problem([])
    assert problem.path == "$" and problem.message == "expected an object {...}, found a list"


def test_unknown_key_is_an_error_with_did_you_mean():
    doc = minimal()
    doc["detectors"]["hood1"]["hihg_alarm_pct_lel"] = 20
    problem = only_problem(doc)
    assert problem == Problem("$.detectors.hood1.hihg_alarm_pct_lel", 'unknown key "hihg_alarm_pct_lel"',
                              'did you mean "high_alarm_pct_lel"?')


@pytest.mark.parametrize("typo,meant", [
    ("detector", "detectors"), ("Valve", "valve"), ("schedul", "schedule"), ("interlock", "interlocks"),
])
def test_misspelt_section_suggests_the_section(typo, meant):
    doc = minimal()
    doc[typo] = {}
    assert only_problem(doc).hint == 'did you mean "%s"?' % meant


def test_unknown_key_far_from_every_known_key_lists_the_allowed_keys():
    doc = minimal(fan={"speed": 3})
    problem = only_problem(doc)
    assert problem.path == "$.fan.speed"
    assert problem.hint == ('allowed keys here: "bs6173", "loss_confirm_s", "mode", "proving", "proving_grace_s", '
                            '"run_on_s", "rundown_s"')


def test_prefix_of_a_key_suggests_the_full_key():
    doc = minimal()
    doc["detectors"]["hood1"]["high_alarm_pct_le"] = 20
    assert only_problem(doc).hint == 'did you mean "high_alarm_pct_lel"?'


def test_bad_enum_value_suggests_the_closest_allowed_value():
    doc = minimal()
    doc["detectors"]["hood1"]["gas"] = "methan"
    problem = only_problem(doc)
    assert problem == Problem("$.detectors.hood1.gas", '"methan" is not allowed here', 'did you mean "methane"?')


def test_bad_baud_lists_the_standard_rates():
    doc = minimal()
    doc["buses"]["rs485a"]["baud"] = 9000
    problem = only_problem(doc)
    assert problem.hint == "write one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200"


def test_unknown_detector_kind_suggests_a_kind():
    doc = with_detectors(gas2={"kind": "analogue", "channel": "ai0"})
    problem = only_problem(doc)
    assert problem == Problem("$.detectors.gas2.kind", '"analogue" is not a known kind', 'did you mean "analog"?')


def test_detector_without_kind_asks_for_one():
    doc = with_detectors(gas2={"channel": "ai0"})
    problem = only_problem(doc)
    assert problem == Problem("$.detectors.gas2.kind", "missing; it is required",
                              'add "kind": one of "modbus", "analog", "contact"')


def test_keys_of_another_detector_kind_are_unknown():
    doc = with_detectors(gas2={"kind": "analog", "channel": "ai0", "address": 4})
    assert paths(config.validate(doc)) == ["$.detectors.gas2.address"]


@pytest.mark.parametrize("name", ["Hood1", "hood 1", "_hood", "-hood", "", "h" * 33, "hood.1", "café"])
def test_bad_detector_name_is_rejected_with_the_naming_rule(name):
    doc = with_detectors(**{name: modbus(2)})
    problem = only_problem(doc)
    assert problem.path == config.child_path("$.detectors", name)
    assert problem.message == "the name %s is not allowed" % json.dumps(name, ensure_ascii=False)
    assert "lower-case letters" in problem.hint


def test_good_names_are_accepted():
    doc = with_detectors(**{"0": modbus(2), "wok-2_b": modbus(3), "h" * 32: modbus(4)})
    assert config.validate(doc) == []


def test_a_trailing_newline_does_not_make_a_name_valid():
    # ECMA-262: `$` matches only at the end. Python's re would accept "hood2\n" against ^...$.
    doc = with_detectors(**{"hood2\n": modbus(2)})
    assert paths(config.validate(doc)) == ['$.detectors["hood2\\u000a"]']


def test_detectors_must_not_be_empty():
    problem = only_problem(minimal(detectors={}))
    assert problem.path == "$.detectors"
    assert problem.message == "needs at least 1 entry"


@pytest.mark.parametrize("time", ["24:00", "8:30", "08:60", "0830", "08:3O", " 08:30", "08:30\n", "", "08-30"])
def test_bad_time_strings_are_rejected(time):
    doc = minimal(schedule={"enabled": True, "attended": [{"days": ["mon"], "from": time, "to": "22:00"}]})
    problem = only_problem(doc)
    assert problem.path == "$.schedule.attended[0].from"
    assert problem.hint == 'write a 24-hour time HH:MM, e.g. 08:30'


@pytest.mark.parametrize("time", ["00:00", "09:05", "19:59", "23:59"])
def test_good_time_strings_are_accepted(time):
    doc = minimal(schedule={"enabled": True, "attended": [{"days": ["mon"], "from": time, "to": "12:00"}]})
    assert config.validate(doc) == []


def test_repeated_day_and_empty_days_are_reported():
    doc = minimal(schedule={"attended": [{"days": ["mon", "tue", "mon"], "from": "08:00", "to": "20:00"},
                                         {"days": [], "from": "08:00", "to": "20:00"}]})
    problems = config.validate(doc)
    assert [(p.path, p.message) for p in problems] == [
        ("$.schedule.attended[0].days[2]", '"mon" is listed twice'),
        ("$.schedule.attended[1].days", "needs at least 1 item"),
    ]


def test_string_lengths_are_checked():
    doc = minimal(unit={"site": "", "name": "x" * 65})
    problems = config.validate(doc)
    assert [(p.path, p.message) for p in problems] == [
        ("$.unit.name", "too long: 65 characters, at most 64"),
        ("$.unit.site", "must not be empty"),
    ]


def test_every_problem_is_listed_not_only_the_first():
    doc = minimal()
    doc["detectors"]["hood1"]["hihg_alarm_pct_lel"] = 20   # unknown key
    doc["buses"]["rs485a"]["parity"] = "X"                 # bad enum
    doc["alarm"] = {"fault_trip_after_s": 95}              # out of range
    problems = config.validate(doc)
    assert paths(problems) == [
        "$.alarm.fault_trip_after_s",
        "$.buses.rs485a.parity",
        "$.detectors.hood1.hihg_alarm_pct_lel",
    ]


def test_structural_and_semantic_mistakes_are_listed_together():
    doc = with_detectors(hood2=modbus(1, low_alarm_pct_lel=20, high_alarm_pct_lel=15))
    doc["valve"] = {"type": "motorised", "travel_s": 0}
    problems = config.validate(doc)
    assert paths(problems) == [
        "$.valve.travel_s",
        "$.detectors.hood2.low_alarm_pct_lel",
        "$.detectors.hood2.address",
        "$.valve.feedback",
    ]


def test_a_value_already_reported_is_not_reported_again_by_a_rule():
    doc = minimal()
    doc["detectors"]["hood1"]["low_alarm_pct_lel"] = 30   # above 25 and above the high alarm
    problem = only_problem(doc)
    assert problem.message == "30 is above the maximum 25"


# --- semantic rules ---------------------------------------------------------------------------

def test_low_alarm_must_be_below_high_alarm():
    doc = minimal()
    doc["detectors"]["hood1"].update(low_alarm_pct_lel=20, high_alarm_pct_lel=20)
    problem = only_problem(doc)
    assert problem.path == "$.detectors.hood1.low_alarm_pct_lel"
    assert problem.message == "low alarm 20 %LEL must be below the high alarm 20 %LEL"


def test_high_alarm_below_the_default_low_alarm_is_reported_at_the_high_alarm():
    doc = minimal()
    doc["detectors"]["hood1"]["high_alarm_pct_lel"] = 8
    problem = only_problem(doc)
    assert problem.path == "$.detectors.hood1.high_alarm_pct_lel"
    assert problem.message == "low alarm 10 %LEL must be below the high alarm 8 %LEL"


def test_modbus_detector_must_name_a_defined_bus():
    doc = minimal()
    doc["detectors"]["hood1"]["bus"] = "rs485b"
    problem = only_problem(doc)
    assert problem == Problem("$.detectors.hood1.bus", 'no bus named "rs485b"', 'did you mean "rs485a"?')


def test_modbus_detector_without_any_bus_says_how_to_define_one():
    doc = minimal()
    del doc["buses"]
    problem = only_problem(doc)
    assert problem.path == "$.detectors.hood1.bus"
    assert problem.hint == 'define it under "buses", e.g. "buses": {"rs485a": {"port": "/dev/ttyUSB0"}}'


def test_two_detectors_cannot_share_an_address_on_one_bus():
    doc = with_detectors(hood2=modbus(1))
    problem = only_problem(doc)
    assert problem == Problem("$.detectors.hood2.address", 'address 1 on bus "rs485a" is also used by detector "hood1"',
                              "give each detector on a bus its own address (1-247)")


def test_integral_float_address_still_collides():
    doc = with_detectors(hood2=modbus(1.0))
    assert paths(config.validate(doc)) == ["$.detectors.hood2.address"]


def test_same_address_on_different_buses_is_fine():
    doc = with_detectors(hood2=modbus(1, bus="rs485b"))
    doc["buses"]["rs485b"] = {"port": "/dev/ttyUSB1"}
    assert config.validate(doc) == []


def test_comm_lost_plus_fault_trip_may_reach_but_not_pass_100_s():
    assert config.validate(minimal(alarm={"comm_lost_after_s": 10, "fault_trip_after_s": 90})) == []
    problem = only_problem(minimal(alarm={"comm_lost_after_s": 11, "fault_trip_after_s": 90}))
    assert problem.path == "$.alarm.fault_trip_after_s"
    assert problem.message == "comm_lost_after_s + fault_trip_after_s = 11 + 90 = 101 s, above the 100 s limit"


def test_fault_budget_cannot_be_exceeded_with_one_value_left_at_its_default():
    assert config.validate(minimal(alarm={"comm_lost_after_s": 60})) == []
    assert config.validate(minimal(alarm={"fault_trip_after_s": 90})) == []


def test_motorised_valve_requires_both_feedback_switches():
    problem = only_problem(minimal(valve={"type": "motorised", "feedback": "closed"}))
    assert problem == Problem("$.valve.feedback", 'a motorised valve needs feedback "both", found "closed"',
                              'write "feedback": "both" and wire both limit switches of the valve')
    assert config.validate(minimal(valve={"type": "motorised", "feedback": "both"})) == []


@pytest.mark.parametrize("valve_type", ["pulse", "motorised"])
def test_auto_arm_startup_is_only_for_a_hold_valve(valve_type):
    doc = minimal(valve={"type": valve_type, "feedback": "both", "startup": "auto_arm_external_manual_valve"})
    problem = only_problem(doc)
    assert problem.path == "$.valve.startup"
    assert config.validate(minimal(valve={"startup": "auto_arm_external_manual_valve"})) == []


def test_enabled_schedule_needs_an_attended_period():
    problem = only_problem(minimal(schedule={"enabled": True}))
    assert problem.path == "$.schedule.attended"
    assert config.validate(minimal(schedule={"enabled": False})) == []


def test_attended_period_must_not_start_and_end_at_the_same_time():
    doc = minimal(schedule={"enabled": True, "attended": [
        {"days": ["mon"], "from": "08:00", "to": "22:00"},
        {"days": ["sun"], "from": "09:00", "to": "09:00"},
    ]})
    problem = only_problem(doc)
    assert problem.path == "$.schedule.attended[1].to"
    assert problem.message == "the period starts and ends at 09:00, so it is empty"


def test_period_running_past_midnight_is_allowed():
    doc = minimal(schedule={"enabled": True, "attended": [{"days": ["fri"], "from": "18:00", "to": "02:00"}]})
    assert config.validate(doc) == []


def test_two_detector_confirmation_needs_two_detectors_in_the_zone():
    doc = minimal(zones={"default": {"two_detector_confirmation": True}})
    problem = only_problem(doc)
    assert problem == Problem(
        "$.zones.default.two_detector_confirmation",
        'two-detector confirmation needs at least 2 combustible-gas detectors in zone "default", it has 1',
        'put a second detector in the zone, or write "two_detector_confirmation": false')
    doc = with_detectors(hood2=modbus(2))
    doc["zones"] = {"default": {"two_detector_confirmation": True}}
    assert config.validate(doc) == []


def test_zone_settings_for_a_zone_without_detectors_are_a_likely_typo():
    doc = with_detectors(hood2=modbus(2, zone="kitchen"))
    doc["zones"] = {"kichen": {"two_detector_confirmation": True}}
    problem = only_problem(doc)
    assert problem == Problem("$.zones.kichen", 'no detector is in zone "kichen"', 'did you mean "kitchen"?')


def test_analog_high_alarm_must_be_within_full_scale():
    doc = with_detectors(gas2={"kind": "analog", "channel": "ai0", "full_scale_pct_lel": 50, "high_alarm_pct_lel": 50})
    assert config.validate(doc) == []
    doc["detectors"]["gas2"]["full_scale_pct_lel"] = 20
    problem = only_problem(doc)
    assert problem.path == "$.detectors.gas2.high_alarm_pct_lel"
    assert problem.message == \
        "high alarm 50 %LEL is above the detector's full scale 20 %LEL, so it can never be reached"


def test_default_high_alarm_above_a_small_full_scale_points_at_full_scale():
    doc = with_detectors(gas2={"kind": "analog", "channel": "ai0", "full_scale_pct_lel": 20})
    assert only_problem(doc).path == "$.detectors.gas2.full_scale_pct_lel"


def test_unknown_profile_is_reported_when_profiles_are_known():
    doc = minimal()
    doc["detectors"]["hood1"]["profile"] = "cn-generi"
    assert config.validate(doc) == []
    problem = only_problem(doc, PROFILE_KINDS)
    assert problem == Problem("$.detectors.hood1.profile", 'no detector profile named "cn-generi"',
                              'did you mean "cn-generic"?')


def test_profile_of_another_kind_is_reported():
    doc = minimal()
    doc["detectors"]["hood1"]["profile"] = "analog-ne43"
    problem = only_problem(doc, PROFILE_KINDS)
    assert problem == Problem("$.detectors.hood1.profile",
                              'profile "analog-ne43" is for analog detectors, this detector is modbus',
                              'use one of the modbus profiles: "cn-generic"')


def test_default_profiles_are_checked_against_the_installed_profiles():
    doc = with_detectors(gas2={"kind": "analog", "channel": "ai0"})
    problem = only_problem(doc, {"cn-generic": "modbus"})
    assert problem == Problem("$.detectors.gas2.profile", 'no detector profile named "analog-ne43"',
                              "no analog profile is installed")


# --- errors, text and files --------------------------------------------------------------------

def test_load_config_raises_config_error_listing_every_problem():
    doc = minimal(valve={"type": "motorised"}, fan={"speed": 1})
    with pytest.raises(ConfigError) as caught:
        config.load_config(doc)
    assert paths(caught.value.problems) == ["$.fan.speed", "$.valve.feedback"]
    text = str(caught.value)
    assert text.startswith("configuration has 2 problems; the controller will not start:")
    assert "  $.fan.speed: unknown key \"speed\"\n      hint: allowed keys here:" in text


def test_bad_json_reports_line_and_column(tmp_path):
    path = tmp_path / "gaslatch.json"
    path.write_text('{\n  "unit": {"site": "a", "name": "b"},\n  "detectors": {}\n  "scan": {}\n}\n')
    with pytest.raises(ConfigError) as caught:
        config.load_config_file(str(path))
    (problem,) = caught.value.problems
    assert problem.path == "$"
    assert problem.message == "not valid JSON: Expecting ',' delimiter at line 4, column 3"
    assert problem.hint.startswith("look at line 4 ")


def test_comment_in_json_is_reported_as_bad_json():
    with pytest.raises(ConfigError) as caught:
        config.load_config_text('{"unit": {} // the unit\n}')
    assert "JSON has no comments" in caught.value.problems[0].hint


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        config.load_config_file(str(tmp_path / "absent.json"))
    assert caught.value.problems[0].message.startswith("cannot read ")


def test_file_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "gaslatch.json"
    path.write_bytes(b'{"unit": {"site": "\xff"}}')
    with pytest.raises(ConfigError) as caught:
        config.load_config_file(str(path))
    assert caught.value.problems[0].hint == "save the file as UTF-8"


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "gaslatch.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(minimal()).encode())
    assert config.load_config_file(str(path))["unit"]["site"] == "site-1"


def test_duplicate_keys_are_reported_with_path_and_line():
    text = ('{"unit": {"site": "a", "name": "b"},\n "detectors": {\n'
            '  "hood1": {"kind": "analog", "channel": "ai0"},\n'
            '  "hood1": {"kind": "analog", "channel": "ai1"}}}')
    with pytest.raises(ConfigError) as caught:
        config.load_config_text(text)
    assert caught.value.problems == [Problem(
        "$.detectors.hood1", 'key "hood1" appears twice in one object (line 4); only the last one would count',
        "rename or remove one of them")]


def test_duplicate_keys_inside_lists_name_the_item():
    text = '{"schedule": {"attended": [{"days": ["mon"]}, {"from": "a", "x": {"\\"q": 1, "\\"q": 2}}]}}'
    with pytest.raises(ConfigError) as caught:
        config.parse_config_text(text)
    assert paths(caught.value.problems) == ['$.schedule.attended[1].x["\\"q"]']


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_parsing_any_json_text_never_reports_duplicates_that_are_not_there(value):
    assert config.parse_config_text(json.dumps(value, indent=1)) == value


@given(st.dictionaries(st.text(max_size=5), json_values, min_size=1, max_size=4), st.data())
def test_a_repeated_key_is_always_found(members, data):
    key = data.draw(st.sampled_from(sorted(members)))
    body = ", ".join("%s: %s" % (json.dumps(k), json.dumps(v)) for k, v in members.items())
    text = '{"outer": [{%s, %s: 0}]}' % (body, json.dumps(key))
    with pytest.raises(ConfigError) as caught:
        config.parse_config_text(text)
    assert paths(caught.value.problems) == [config.child_path("$.outer[0]", key)]


@given(st.text(max_size=200))
def test_any_text_either_loads_or_raises_config_error(text):
    try:
        config.load_config_text(text)
    except ConfigError as error:
        assert error.problems and all(isinstance(p, Problem) for p in error.problems)


# --- helpers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,distance", [
    ("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("hihg", "high", 1),
    ("zone", "zone", 0), ("ca", "abc", 3),
])
def test_edit_distance_counts_inserts_deletes_substitutions_and_swaps(a, b, distance):
    assert config.edit_distance(a, b) == distance


@given(st.text(max_size=8), st.text(max_size=8))
def test_edit_distance_is_symmetric_and_bounded(a, b):
    distance = config.edit_distance(a, b)
    assert distance == config.edit_distance(b, a)
    assert abs(len(a) - len(b)) <= distance <= max(len(a), len(b))
    assert (distance == 0) == (a == b)


def test_no_suggestion_when_nothing_is_close():
    assert config.closest("speed", ["mode", "proving", "run_on_s"]) is None


def test_child_path_quotes_keys_that_are_not_plain():
    assert config.child_path("$", "hood1") == "$.hood1"
    assert config.child_path("$.a", 3) == "$.a[3]"
    assert config.child_path("$", "a b") == '$["a b"]'
    assert config.child_path("$", "") == '$[""]'


def test_schema_using_a_pattern_without_a_checker_fails_loudly():
    with pytest.raises(ValueError, match="no checker"):
        config.check_supported({"type": "object", "properties": {"x": {"type": "string", "pattern": "^[A-Z]+$"}}})


def test_schema_using_an_unimplemented_keyword_fails_loudly():
    with pytest.raises(ValueError, match="patternProperties"):
        config.check_supported({"type": "object", "patternProperties": {"^a": {}}})


def test_one_of_without_a_kind_const_in_every_branch_fails_loudly():
    with pytest.raises(ValueError, match="oneOf"):
        config.check_supported({"oneOf": [{"type": "object", "required": ["kind"],
                                           "properties": {"kind": {"const": "a"}}}, {"type": "string"}]})


# --- the example and the docs ------------------------------------------------------------------

def installed_profile_kinds():
    folder = REPO / "firmware" / "gaslatch" / "profiles"
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))["kind"] for path in folder.glob("*.json")}


def test_example_kitchen_config_is_valid_with_the_installed_profiles():
    loaded = config.load_config_file(str(KITCHEN), installed_profile_kinds())
    assert sorted(loaded["detectors"]) == ["boiler", "hood1", "hood2", "lpg-store"]


def test_default_profiles_are_installed_with_the_right_kind():
    kinds = installed_profile_kinds()
    assert kinds[config_schema.DEFAULT_ANALOG_PROFILE] == "analog"
    assert kinds[config_schema.DEFAULT_CONTACT_PROFILE] == "contact"


def _fenced_blocks(text):
    return re.findall(r"```(\w+)\n(.*?)```", text, re.S)


def test_config_doc_shows_the_example_file_and_the_real_error_output():
    blocks = _fenced_blocks((REPO / "docs" / "config.md").read_text(encoding="utf-8"))
    json_blocks = [body for kind, body in blocks if kind == "json"]
    assert json.loads(json_blocks[0]) == json.loads(KITCHEN.read_text(encoding="utf-8"))
    broken_index = [i for i, (kind, body) in enumerate(blocks) if kind == "json"][1]
    kind, output = blocks[broken_index + 1]
    assert kind == "text"
    with pytest.raises(ConfigError) as caught:
        config.load_config_text(blocks[broken_index][1])
    assert str(caught.value) + "\n" == output


def _reference_tables():
    """{heading: [(key, default column, allowed column)]} from the reference tables of docs/config.md."""
    tables = {}
    heading = None
    for line in (REPO / "docs" / "config.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            heading = line[4:]
            tables[heading] = []
        elif heading and line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            tables[heading].append((cells[0].strip("`"), cells[1], cells[2]))
    return tables


def _documented_schemas():
    top = SCHEMA["properties"]
    detector = top["detectors"]["additionalProperties"]
    branches = {branch["properties"]["kind"]["const"]: branch for branch in detector["oneOf"]}
    common = ["kind"] + sorted(config_schema.DETECTOR_COMMON)

    def only(branch, keys):
        return dict(branch, properties={k: v for k, v in branch["properties"].items() if k in keys})

    schemas = {name: top[name] for name in ("unit", "scan", "alarm", "valve", "fan", "sounder", "interlocks",
                                            "inhibit", "schedule", "maintenance", "daily_check", "proving", "gpio", "analog", "store", "control",
                                            "watchdog", "log", "uplink", "self_test")}
    schemas["config_version"] = {"properties": {"config_version": top["config_version"]}}  # a top-level number
    schemas["lines.NAME"] = top["lines"]["additionalProperties"]
    schemas["buses.NAME"] = top["buses"]["additionalProperties"]
    schemas["zones.NAME"] = top["zones"]["additionalProperties"]
    schemas["schedule.attended[]"] = top["schedule"]["properties"]["attended"]["items"]
    schemas["proving.transmitter"] = top["proving"]["properties"]["transmitter"]
    schemas["detectors.NAME"] = only(branches["modbus"], common)
    for kind, branch in branches.items():
        schemas["detectors.NAME, kind %s" % kind] = only(branch, set(branch["properties"]) - set(common))
    return schemas


def test_config_doc_reference_tables_match_the_schema():
    tables = _reference_tables()
    schemas = _documented_schemas()
    assert sorted(tables) == sorted(schemas)
    for heading, schema in schemas.items():
        rows = tables[heading]
        assert sorted(key for key, _, _ in rows) == sorted(schema["properties"]), heading
        for key, default, allowed in rows:
            sub = schema["properties"][key]
            if key in schema.get("required", []):
                assert default == "required", (heading, key)
            elif "default" in sub:
                assert default == "`%s`" % json.dumps(sub["default"], ensure_ascii=False), (heading, key)
            else:
                assert default == "—", (heading, key)
            if sub.get("type") == "integer" and "minimum" in sub:
                assert allowed == "whole number %s-%s" % (sub["minimum"], sub["maximum"]), (heading, key)
            if sub.get("type") == "number" and "minimum" in sub:
                assert allowed == "number %s-%s" % (sub["minimum"], sub["maximum"]), (heading, key)
            if "maxLength" in sub:
                assert allowed == "text, %s-%s characters" % (sub["minLength"], sub["maxLength"]), (heading, key)


def _property_names(schema):
    names = []
    for key, sub in schema.get("properties", {}).items():
        names.append(key)
        names.extend(_property_names(sub))
    for keyword in ("additionalProperties", "items"):
        if isinstance(schema.get(keyword), dict):
            names.extend(_property_names(schema[keyword]))
    for branch in schema.get("oneOf", []):
        names.extend(_property_names(branch))
    return names


def test_no_key_can_open_the_valve_remotely_or_bypass_the_manual_reset():
    words = ("open", "remote", "bypass", "override", "disable", "auto_reset", "force")
    for name in _property_names(SCHEMA):
        assert not any(word in name for word in words), name
    startups = SCHEMA["properties"]["valve"]["properties"]["startup"]["enum"]
    assert startups == ["manual_reset", "auto_arm_external_manual_valve"]


def test_hysteresis_must_stay_below_the_low_alarm_so_it_can_clear():
    problem = only_problem(with_detectors(hood2=modbus(2, low_alarm_pct_lel=2, hysteresis_pct_lel=2)))
    assert problem.path == "$.detectors.hood2.hysteresis_pct_lel"
    assert "could never clear" in problem.message
    assert config.validate(with_detectors(hood2=modbus(2, low_alarm_pct_lel=2, hysteresis_pct_lel=1.5))) == []


def test_too_many_detectors_on_one_bus_for_the_alarm_budget_is_reported_at_the_bus():
    detectors = dict(("h%d" % i, modbus(i)) for i in range(2, 26))
    problem = only_problem(with_detectors(**detectors))
    assert problem.path == "$.buses.rs485a"
    assert "25 detectors on this bus at a 100 ms scan period" in problem.message
    assert "above the 10000 ms alarm budget" in problem.message
    assert "split the detectors over more buses" in problem.hint
    assert config.validate(with_detectors(**detectors), None) != []
    doc = with_detectors(**detectors)
    doc["scan"] = {"period_ms": 25}
    assert config.validate(doc) == []


def test_a_bus_that_cannot_lose_one_reply_inside_the_link_budget_is_refused():
    """13 detectors at 200 ms each: a high alarm confirms in 5.3 s with every poll answered, but one
    lost poll leaves a 5.2 s gap, beyond the 4.95 s link budget: every missed reply would be a fault."""
    problem = only_problem(with_detectors(**dict(("h%d" % i, modbus(i)) for i in range(2, 14))))
    assert problem.path == "$.buses.rs485a"
    assert "one missed poll leaves a gap of 5200 ms, longer than the 4950 ms link budget" in problem.message
    assert config.validate(with_detectors(**dict(("h%d" % i, modbus(i)) for i in range(2, 13)))) == []


def test_a_slow_poll_interval_alone_can_break_the_alarm_budget():
    problem = only_problem(with_detectors(hood2=modbus(2, poll_interval_ms=6000)))
    assert problem.path == "$.buses.rs485a"


def test_airflow_proving_with_a_fan_that_runs_only_in_an_alarm_is_refused():
    """Found on the bench: such a kitchen can never open its gas (the fan never proves airflow)."""
    from gaslatch.core.config import load_config

    doc = json.loads((Path(__file__).resolve().parents[2] / "docs" / "examples" / "kitchen.json").read_text())
    kinds = {"cn-generic": "modbus", "analog-ne43": "analog", "contact-dry": "contact"}
    load_config(doc, kinds)
    bad = copy.deepcopy(doc)
    bad["fan"]["mode"] = "alarm"
    with pytest.raises(ConfigError) as caught:
        load_config(bad, kinds)
    assert "$.fan.proving" in str(caught.value) and "continuous" in str(caught.value)


# --- hostile files: depth, size, text that names files, devices and the unit ---------------------

@pytest.mark.parametrize("depth", [config.MAX_CONFIG_DEPTH + 1, 500, 990, 30000])
def test_a_config_nested_too_deep_is_refused_with_the_path_where_it_goes_too_deep(depth):
    text = '{"unit": ' + '{"a": ' * depth + "1" + "}" * (depth + 1)
    with pytest.raises(ConfigError) as err:
        config.load_config_text(text)
    (problem,) = err.value.problems
    assert problem.path == "$.unit" + ".a" * (config.MAX_CONFIG_DEPTH - 1)
    assert "nested more than %d levels deep" % config.MAX_CONFIG_DEPTH in problem.message


def test_a_parsed_document_nested_too_deep_is_refused_without_recursion():
    doc = minimal()
    inner = doc["unit"]
    for _ in range(5000):
        inner["x"] = {}
        inner = inner["x"]
    problem = only_problem(doc)
    assert problem.path.startswith("$.unit.x.x") and "levels deep" in problem.message


def test_a_config_file_far_bigger_than_any_kitchen_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(minimal(padding="x" * config.MAX_CONFIG_CHARS)))
    with pytest.raises(ConfigError) as err:
        config.load_config_file(str(path))
    assert err.value.problems[0].path == "$" and "characters long" in err.value.problems[0].message


@pytest.mark.parametrize("section, key", [("store", "path"), ("control", "socket"), ("gpio", "sim_dir"),
                                          ("watchdog", "device"), ("uplink", "ca_file"), ("unit", "site")])
@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "x\ny", "\x1b[2J", "\x85"])
def test_text_naming_a_file_device_or_the_unit_refuses_nul_controls_and_lone_surrogates(section, key, bad):
    doc = minimal(**{section: {key: bad}}) if section != "unit" else minimal(unit={"site": bad, "name": "k"})
    problem = only_problem(doc)
    assert problem.path == "$.%s.%s" % (section, key)
    assert "control characters" in problem.message
    str(problem).encode("ascii")  # the message shows the text escaped: printable on any terminal


def test_a_bus_port_with_a_lone_surrogate_is_refused():
    doc = minimal()
    doc["buses"]["rs485a"]["port"] = "/dev/tty\ud800"
    assert only_problem(doc).path == "$.buses.rs485a.port"


@pytest.mark.parametrize("name", ["a/b", "a+b", "#"])
def test_the_units_name_and_site_are_mqtt_topic_levels(name):
    assert only_problem(minimal(unit={"site": "s", "name": name})).path == "$.unit.name"


def test_config_doc_co_and_co2_example_loads_and_shows_its_real_error():
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    section = text[text.index("## CO and CO2 detectors"):]
    blocks = _fenced_blocks(section)
    cfg = config.load_config_text(blocks[0][1])
    assert cfg["detectors"]["co2-line"]["high_alarm_ppm"] == 2800
    assert cfg["detectors"]["co-hood"]["low_alarm_ppm"] == 20
    assert "low_alarm_pct_lel" not in cfg["detectors"]["co2-line"] and "gas" not in cfg["detectors"]["co-hood"]
    doc = json.loads(blocks[0][1])
    doc["detectors"]["co2-line"]["high_alarm_pct_lel"] = 25
    shown = [block for kind, block in blocks if kind == "text"][0]
    assert format_problem_lines(config.validate(doc)) == shown


def format_problem_lines(problems):
    return "".join("  %s: %s\n      hint: %s\n" % (p.path, p.message, p.hint) for p in problems)
