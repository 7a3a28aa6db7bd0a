"""CO and CO2 channels: ppm set points, the warning and the trip, reset and inhibit refusals, hostile inputs.

IGEM/UP/19 (CO2: isolate at 2800 / 5000 ppm, not restored until below, no overrides) and CJJ/T 146 (a CO
detector in the kitchen system), run through the same detector table and latch as combustible gas.
"""


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.core.config import ConfigError, load_config, validate
from gaslatch.core.controller import Controller
from gaslatch.core.detector_profile import Sample, load_profile
from tests.core.safety_harness import PERIOD_MS, Kitchen, config_doc

CO2, CO = C.MEASURAND_CO2, C.MEASURAND_CO


def kitchen_doc(**co2_keys):
    """d1 combustible gas, c1 CO2 (cn-generic in ppm), k1 CO, all on one bus."""
    doc = config_doc(1)
    doc["detectors"]["c1"] = dict({"kind": "modbus", "bus": "bus1", "address": 2, "profile": "cn-generic",
                                   "measurand": CO2}, **co2_keys)
    doc["detectors"]["k1"] = {"kind": "modbus", "bus": "bus1", "address": 3, "profile": "cn-generic", "measurand": CO}
    return doc


def settled_kitchen(doc=None):
    k = Kitchen(doc or kitchen_doc())
    k.gas["c1"] = 450.0  # outdoor air is about 420 ppm CO2
    k.settle()
    assert k.valve_open
    return k


# --- Configuration -----------------------------------------------------------------------------------


def test_co_and_co2_detectors_get_their_ppm_defaults_and_no_pct_lel_keys():
    cfg = load_config(kitchen_doc())

    assert {key: cfg["detectors"]["c1"][key] for key in ("low_alarm_ppm", "high_alarm_ppm", "hysteresis_ppm")} \
        == {"low_alarm_ppm": 2000, "high_alarm_ppm": 2800, "hysteresis_ppm": 200}
    assert {key: cfg["detectors"]["k1"][key] for key in ("low_alarm_ppm", "high_alarm_ppm", "hysteresis_ppm")} \
        == {"low_alarm_ppm": 20, "high_alarm_ppm": 100, "hysteresis_ppm": 5}
    for name in ("c1", "k1"):
        assert not [key for key in cfg["detectors"][name] if key.endswith("_pct_lel") or key == "gas"]
    assert "low_alarm_ppm" not in cfg["detectors"]["d1"]


@given(measurand=st.sampled_from([CO, CO2]),
       key=st.sampled_from(["low_alarm_pct_lel", "high_alarm_pct_lel", "hysteresis_pct_lel", "gas"]),
       value=st.one_of(st.integers(1, 25), st.sampled_from(["methane", "lpg"])))
def test_a_co_or_co2_detector_with_pct_lel_keys_or_gas_is_refused_at_the_key(measurand, key, value):
    doc = kitchen_doc()
    doc["detectors"]["k1"]["measurand"] = measurand
    doc["detectors"]["k1"][key] = value

    paths = [problem.path for problem in validate(doc)]

    assert "$.detectors.k1." + key in paths


@given(key=st.sampled_from(["low_alarm_ppm", "high_alarm_ppm", "hysteresis_ppm"]), value=st.integers(1, 50))
def test_a_combustible_gas_detector_with_ppm_keys_is_refused_at_the_key(key, value):
    doc = kitchen_doc()
    doc["detectors"]["d1"][key] = value

    problems = [problem for problem in validate(doc) if problem.path == "$.detectors.d1." + key]

    assert problems and "measures combustible gas in %LEL" in problems[0].message


def test_a_co2_loop_without_its_full_scale_in_ppm_is_refused():
    doc = kitchen_doc()
    doc["detectors"]["a1"] = {"kind": "analog", "channel": "ain0", "measurand": CO2}

    assert [p.path for p in validate(doc)] == ["$.detectors.a1.full_scale_ppm"]
    doc["detectors"]["a1"]["full_scale_ppm"] = 5000
    assert validate(doc) == []
    doc["detectors"]["a1"]["full_scale_pct_lel"] = 100
    assert [p.path for p in validate(doc)] == ["$.detectors.a1.full_scale_pct_lel"]


@pytest.mark.parametrize("measurand, high, cap", [(CO2, 5001, 5000), (CO, 301, 300)])
def test_no_co_or_co2_trip_level_above_its_cap(measurand, high, cap):
    doc = kitchen_doc()
    doc["detectors"]["k1"].update({"measurand": measurand, "high_alarm_ppm": high})

    problems = validate(doc)

    assert [p.path for p in problems] == ["$.detectors.k1.high_alarm_ppm"]
    assert "above the %d ppm limit" % cap in problems[0].message
    doc["detectors"]["k1"].update({"high_alarm_ppm": cap, "low_alarm_ppm": cap - 1})
    assert validate(doc) == []


def test_a_co2_warning_must_be_below_its_isolation_level():
    problems = validate(kitchen_doc(low_alarm_ppm=2800))

    assert [(p.path, p.message) for p in problems] == [
        ("$.detectors.c1.low_alarm_ppm", "low alarm 2800 ppm must be below the high alarm 2800 ppm")]


def test_a_detector_whose_profile_cannot_measure_it_is_refused():
    doc = kitchen_doc()
    doc["detectors"]["c1"]["profile"] = "sensepoint-xcl"
    doc["detectors"]["d1"]["profile"] = "senseair-s8"
    cfg = load_config(doc)
    profiles = {name: load_profile(name) for name in ("cn-generic", "sensepoint-xcl", "senseair-s8")}

    with pytest.raises(ConfigError) as caught:
        Controller(cfg, profiles, 0)

    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("$.detectors.c1.measurand", "profile sensepoint-xcl measures combustible, not co2"),
        ("$.detectors.d1.measurand", "profile senseair-s8 measures co2, not combustible")]


# --- One detector ------------------------------------------------------------------------------------


def co2_state(**overrides):
    cfg = load_config(kitchen_doc(**overrides))
    return D.DetectorState("c1", D.settings_from_config(cfg["detectors"]["c1"], cfg["alarm"]), 0)


def ppm(value, status=C.STATUS_NORMAL, full_scale=None):
    return Sample(None, status, None, None, "", D.pct_to_centi(value), None if full_scale is None else
                  D.pct_to_centi(full_scale))


def test_a_co2_reading_at_the_isolation_level_confirms_a_high_alarm_with_the_reading_in_ppm():
    det = co2_state()
    det.update(0, ppm(450))
    det.update(500, ppm(2850))
    tr = det.update(1000, ppm(2850))

    assert (tr.new, tr.value) == ("high_alarm", None)
    assert tr.reason == "reading 2850.00 ppm >= high set point 2800.00 ppm"
    assert det.concentration_centi_ppm == 285000 and det.concentration_centi_pct_lel is None


def test_a_co2_reading_at_full_scale_is_over_range_danger_at_once():
    det = co2_state()
    det.update(0, ppm(450))
    tr = det.update(500, ppm(5000, full_scale=5000))

    assert (tr.new, tr.reason) == ("high_alarm", "over-range (5000.00 ppm)")


@pytest.mark.parametrize("sample, why", [
    (Sample(2800, C.STATUS_NORMAL), "reading in %LEL from a co2 detector: a wrong-unit profile, never converted"),
    (ppm(-150), "reading -150.00 ppm: negative drift, recalibrate"),
])
def test_a_wrong_unit_or_negative_co2_reading_is_a_fault(sample, why):
    det = co2_state()
    det.update(0, ppm(450))
    tr = det.update(500, sample)

    assert (tr.new, tr.reason) == ("fault", why)


def test_a_combustible_detector_given_a_ppm_reading_is_a_fault():
    cfg = load_config(kitchen_doc())
    det = D.DetectorState("d1", D.settings_from_config(cfg["detectors"]["d1"], cfg["alarm"]), 0)
    det.update(0, Sample(0, C.STATUS_NORMAL))
    tr = det.update(500, ppm(3000))

    assert (tr.new, tr.reason) == ("fault", "reading in ppm from a combustible detector: a wrong-unit profile, "
                                            "never converted")


# --- The kitchen -------------------------------------------------------------------------------------


def test_a_co2_warning_runs_the_fan_and_sounds_but_leaves_the_gas_on():
    k = settled_kitchen(kitchen_doc())
    k.cfg["fan"]["mode"] = "alarm"
    k.gas["c1"] = 2100.0
    k.run(500)

    assert k.detectors["c1"].state == "low_alarm"
    assert k.valve_open and k.outputs["fan"] and k.outputs["sounder"] and k.outputs["beacon"]


def test_a_co2_at_the_isolation_level_closes_the_gas_and_latches_like_gas():
    k = settled_kitchen()
    k.gas["c1"] = 2900.0
    k.run(300)

    assert not k.valve_open and k.safety.latch == "gas_latched"
    assert k.events_of("trip")[-1]["reason"] == "co2: c1 at the CO2 isolation level (IGEM/UP/19)"
    k.gas["c1"] = 450.0
    k.run(20000)
    assert not k.valve_open, "gas is never restored by itself"
    assert k.outputs["beacon"], "the beacon holds until the reset, as after a gas trip"


def test_reset_is_refused_while_co2_is_above_the_limit_or_only_just_cleared():
    k = settled_kitchen()
    k.gas["c1"] = 3000.0
    k.run(500)
    refused = k.press("reset_button")
    assert [e["reason"] for e in refused if e["type"] == "reset_refused"] == ["c1: high alarm (clear hold: at least "
                                                                              "10 s more clear)"]
    k.gas["c1"] = 2500.0  # below the isolation level, above the warning: still not clear
    k.run(15000)
    assert any(e["type"] == "reset_refused" for e in k.press("reset_button"))
    k.gas["c1"] = 450.0
    k.run(3000)
    refused = [e for e in k.press("reset_button") if e["type"] == "reset_refused"]
    assert refused and "clear hold" in refused[0]["reason"]
    k.run(10000)
    assert any(e["type"] == "reset" for e in k.press("reset_button"))
    k.run(PERIOD_MS)
    assert k.valve_open


def test_a_co_alarm_runs_the_fan_and_sounds_and_its_high_level_closes_the_gas():
    k = settled_kitchen()
    k.cfg["fan"]["mode"] = "alarm"
    k.gas["k1"] = 35.0
    k.run(500)
    assert k.valve_open and k.outputs["fan"] and k.outputs["sounder"]
    k.gas["k1"] = 150.0
    k.run(300)
    assert not k.valve_open
    assert k.events_of("trip")[-1]["reason"] == "co: k1 at the CO trip level"


def test_a_co2_detector_can_never_be_inhibited():
    k = settled_kitchen()
    ok, reply = k.safety.command_inhibit(k.now_ms, "c1", 10, "installer")

    assert not ok and "IGEM/UP/19" in reply
    assert k.safety.command_inhibit(k.now_ms, "k1", 10, "installer")[0], "a CO detector is bump-tested like gas"


def test_a_co2_trip_is_never_held_back_by_two_detector_confirmation():
    doc = kitchen_doc()
    doc["detectors"]["d2"] = {"kind": "modbus", "bus": "bus1", "address": 4, "profile": "cn-generic"}
    doc["zones"] = {"default": {"two_detector_confirmation": True, "two_detector_timeout_s": 60}}
    k = settled_kitchen(doc)
    k.gas["c1"] = 2900.0
    k.run(300)
    assert not k.valve_open


def test_a_silent_co2_detector_closes_the_gas_within_the_fault_budget():
    k = settled_kitchen()
    k.silent.add("c1")
    k.run(4950 + PERIOD_MS)
    assert k.detectors["c1"].state == "comm_lost" and not k.outputs["fault_relay"]
    k.run(30000)
    assert not k.valve_open


def test_a_co2_detector_with_a_frozen_heartbeat_is_a_fault():
    cfg = load_config(kitchen_doc())
    det = D.DetectorState("c1", D.settings_from_config(cfg["detectors"]["c1"], cfg["alarm"], 20000), 0)
    moves = [det.update(t, Sample(None, C.STATUS_NORMAL, 7, None, "", 45000)) for t in range(0, 21000, 500)]

    assert [tr.new for tr in moves if tr] == ["normal", "fault"]


# --- Properties ----------------------------------------------------------------------------------------

MEASURING = [C.STATUS_NORMAL, C.STATUS_PRE_ALARM, C.STATUS_LOW_ALARM, C.STATUS_FAULT, C.STATUS_CALIBRATION,
             "garbage"]
HOSTILE_PPM = st.one_of(st.floats(-1000, 12000, allow_nan=False), st.sampled_from([0.0, 2799.99, 2800.0, 1e9]))


def _history():
    """Any past of a CO2 detector: readings (ppm, hostile too), statuses, silences, wrong-unit samples."""
    return st.lists(st.tuples(HOSTILE_PPM, st.sampled_from(MEASURING + [C.STATUS_WARMUP, C.STATUS_OVER_RANGE]),
                              st.sampled_from(["ok", "ok", "ok", "silent", "wrong_unit", "reset"])),
                    max_size=60)


def _feed(k, name, history):
    for value, status, how in history:
        k.silent.discard(name)
        if how == "silent":
            k.silent.add(name)
        k.gas[name] = value
        k.status[name] = status
        if how == "wrong_unit":
            k.detectors[name].update(k.now_ms, Sample(2800, C.STATUS_NORMAL))
        if how == "reset":
            k.press("reset_button")
        else:
            k.scan()
    k.silent.discard(name)


@settings(deadline=None)
@given(name=st.sampled_from(["c1", "k1"]), history=_history(), level=st.floats(0, 5000, allow_nan=False),
       statuses=st.lists(st.sampled_from(MEASURING), min_size=4, max_size=4))
def test_co2_or_co_above_its_trip_level_always_ends_closed_within_its_budget(name, history, level, statuses):
    """Whatever came before, a reading at or above the trip level closes the gas within confirm_samples
    samples and one scan (each scan samples here): 2 x 100 ms + 100 ms at the defaults."""
    k = settled_kitchen()
    _feed(k, name, history)
    high = k.cfg["detectors"][name]["high_alarm_ppm"]
    for status in statuses:
        k.gas[name] = high + level
        k.status[name] = status
        k.scan()
    budget_scans = k.cfg["alarm"]["confirm_samples"] + 1
    assert not k.valve_open
    assert all(not out["valve"] for _, _, _, _, out, _ in k.scan_log[-(len(statuses) - budget_scans + 1):])


@settings(deadline=None)
@given(name=st.sampled_from(["c1", "k1"]), history=_history(), tail=_history())
def test_the_gas_never_reopens_while_co2_or_co_is_over_the_limit_or_just_cleared(name, history, tail):
    """Hostile readings (flapping, negative, over-range, wrong unit, silences) and reset presses in any order:
    whenever the valve opens, the detector's every sample of the last clear_hold_s was clean (normal status,
    below the warning level minus hysteresis) and it answered every scan of it."""
    k = settled_kitchen()
    fed = []
    for part in (history, tail):
        for step in part:
            before = len(k.scan_log)
            _feed(k, name, [step])
            fed.append((k.scan_log[before][0], step))
    det_cfg = k.cfg["detectors"][name]
    clean_below = det_cfg["low_alarm_ppm"] - det_cfg["hysteresis_ppm"]
    hold_ms = k.cfg["alarm"]["clear_hold_s"] * 1000
    for now_ms, _, _, out_before, out_after, _ in k.scan_log:
        if out_after.get("valve") and not out_before.get("valve") and now_ms > 1000:
            recent = [step for t, step in fed if now_ms - hold_ms <= t <= now_ms]
            for value, status, how in recent:
                assert how in ("ok", "reset") and status == C.STATUS_NORMAL and value < clean_below, (now_ms, recent)


@settings(deadline=None)
@given(flips=st.lists(st.integers(1, 40), min_size=2, max_size=30))
def test_a_co2_reading_flapping_across_the_isolation_level_never_lets_the_gas_back_on_early(flips):
    """Reset pressed while CO2 flaps between 3000 and 450 ppm: the gas opens only after a whole clear hold
    since the last high reading, and closes again within the budget of a new high reading."""
    k = settled_kitchen()
    high_at = []
    high = True
    budget_scans = k.cfg["alarm"]["confirm_samples"] + 1
    for scans in flips:
        k.gas["c1"] = 3000.0 if high else 450.0
        for i in range(scans):
            if high:
                high_at.append(k.now_ms)
            if i % 3 == 2:
                k.press("reset_button")
            else:
                k.scan()
            assert not (high and i + 1 >= budget_scans and k.valve_open)
        high = not high
    hold_ms = k.cfg["alarm"]["clear_hold_s"] * 1000
    for t, _, _, before, after, _ in k.scan_log:
        if after.get("valve") and not before.get("valve") and t > high_at[0]:
            assert t - max(h for h in high_at if h <= t) >= hold_ms


def test_a_4_20_ma_co2_transmitter_reads_ppm_over_its_range_and_isolates_through_the_controller():
    """0-5000 ppm at 4-20 mA: 13.6 mA is 3000 ppm, above the 2800 ppm isolation level."""
    doc = config_doc(1)
    doc["detectors"]["a1"] = {"kind": "analog", "channel": "ain0", "measurand": CO2, "full_scale_ppm": 5000}
    cfg = load_config(doc)
    profiles = {name: load_profile(name) for name in ("cn-generic", "analog-ne43")}
    controller = Controller(cfg, profiles, 0)
    events = []
    for t_ms in range(0, 3000, 100):
        events += controller.step(t_ms, {}, {}, {"ain0": 4000 + 16000 * 450 // 5000}).events
    assert controller.readings_ppm() == {"a1": 45000} and controller.readings()["a1"] is None
    for t_ms in range(3000, 4000, 100):
        events += controller.step(t_ms, {}, {}, {"ain0": 13600}).events

    status = controller.status(4000)["detectors"]["a1"]
    assert (status["state"], status["measurand"], status["concentration_centi_ppm"]) == ("high_alarm", CO2, 300000)
    assert [e["reason"] for e in events if e["type"] == "detector" and e["source"] == "a1"][-1] == \
        "reading 3000.00 ppm >= high set point 2800.00 ppm"
