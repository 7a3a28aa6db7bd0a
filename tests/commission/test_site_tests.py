"""bump-test, valve-test and interlock-test end to end: the real `gaslatch run` on the bench's emulated kitchen,
the command in a pty, and the test as the installer who reads the prompts, applies gas and presses RESET."""

from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch_tools.bench.emulated_bus import EmulatedBus
from gaslatch_tools.bench.emulated_detector import EmulatedDetector
from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.commission.bump_check import LinkageWatch, expected_alarm, judge_bump, standalone_state
from gaslatch_tools.commission.prompts import PromptError, parse_answers, yes_no
from gaslatch_tools.commission.record import LIMITS_S, Record
from gaslatch_tools.commission.unit_connection import UnitFacts
from gaslatch_tools.commission.valve_move import ValveMove
from tests.commission.bench_kitchen import Kitchen, last_json, open_terminals
from gaslatch_tools.testing.waiting import wait_until

POLL_INTERVAL_S = 0.5  # cn-generic's minimum poll interval: the controller reads each detector this often
HIGH_PCT = 25.0  # the bench's default high set point
LOW_PCT = 10.0


@pytest.fixture
def kitchen(short_dir):
    made = []

    def build(**options) -> Kitchen:
        made.append(Kitchen(short_dir, **options))
        return made[-1]

    yield build
    for each in made:
        each.close()


@pytest.fixture
def terminals():
    yield from open_terminals()


def crossing_s(gas: GasModel, applied_s: float, pct: float) -> float:
    """Seconds after applied_s when the emulator's sensed gas first reaches pct (10 ms steps)."""
    t = applied_s
    while gas.sensed_pct(t) < pct:
        t += 0.01
        assert t < applied_s + 600, "the gas never reaches %g %%LEL" % pct
    return t - applied_s


# ---- bump-test ----

def test_bump_test_times_each_detector_against_the_gas_and_proves_valve_fan_and_sounder(kitchen, terminals, short_dir):
    k = kitchen()
    record = os.path.join(short_dir, "record.json")
    term = terminals("--record", record, "bump-test", "--config", k.config_path, cwd=short_dir)
    term.expect("Start? [y/n]")
    term.type("y")
    applied = {}
    for name in ("hood1", "hood2"):
        if k.status()["latched"]:
            term.expect("Press the RESET button")
            k.press_reset()
        term.expect("Apply 50 %%LEL test gas to %s" % name)
        wait_until(k.valve_open, 10, 0.02, "valve open before the test gas")
        applied[name] = (k.apply_gas(name, 50.0), k.detectors[name].gas)
        term.type()
        term.expect("Remove the test gas from %s" % name)
        assert not k.io.snapshot()["valve"] and k.io.snapshot()["fan"] and k.io.snapshot()["sounder"]
        k.remove_gas(name)
        term.type()
        term.expect("Press the RESET button")
        k.press_reset()
        term.expect("%s: PASS" % name)
    assert term.wait() == 0
    assert "Bump tests" in term.text and "every detector passed" in term.text
    data = Record.load(record).data
    for name in ("hood1", "hood2"):
        test = data["detectors"][name]["bump_tests"][-1]
        assert test["passed"] and test["mode"] == "linkage" and test["expected"] == "high_alarm"
        # The command starts its clock at Enter, typed just after the gas was applied; the controller confirms
        # the high alarm with the second poll (every 0.5 s) at or above 25 %LEL.
        crossing = crossing_s(applied[name][1], applied[name][0], HIGH_PCT)
        assert crossing - 0.5 <= test["time_to_alarm_s"] <= crossing + 2 * POLL_INTERVAL_S + 1.0
        assert test["recovery_s"] <= 2 * POLL_INTERVAL_S + 1.0
        for output in ("valve", "fan", "sounder"):
            assert test["linkage"][output]["ok"] and test["linkage"][output]["s"] <= LIMITS_S["linkage"]
        assert test["linkage"]["valve_closed"]["ok"]
        readings = [pct for _t, pct, _state in test["samples"] if pct is not None]
        assert min(readings) == 0.0 and max(readings) == pytest.approx(50.0, abs=0.1)
        states = [state for _t, _pct, state in test["samples"]]
        assert "high_alarm" in states and states[-1] == "normal"
    assert [(entry["command"], entry["summary"]) for entry in data["log"]] == [("bump-test", "hood1: PASS"),
                                                                              ("bump-test", "hood2: PASS")]


def test_a_slow_detector_and_a_valve_stuck_open_fail_the_bump_test(kitchen, terminals, short_dir):
    k = kitchen()
    k.arm()
    record = os.path.join(short_dir, "record.json")
    answers = os.path.join(short_dir, "answers.yaml")
    with open(answers, "w", encoding="utf-8") as handle:
        handle.write("start: yes\napply_gas.hood1: done\nremove_gas.hood1: done\n"
                     "apply_gas.hood2: done\nremove_gas.hood2: done\n")
    term = terminals("--record", record, "bump-test", "--config", k.config_path, "--answers", answers, cwd=short_dir)
    # hood1 answers slowly: a sensor with t90 = 110 s reaches the 25 %LEL high set point 33 s after 50 %LEL gas.
    term.expect("Apply 50 %LEL test gas to hood1")
    slow_applied = k.apply_gas("hood1", 50.0, t90_s=110.0)
    slow_gas = k.detectors["hood1"].gas
    term.expect("Remove the test gas from hood1", LIMITS_S["time_to_alarm"] + 10)
    k.remove_gas("hood1")
    term.expect("hood1: FAIL")
    term.expect("Apply 50 %LEL test gas to hood2")
    k.io.valve.inject("stuck_open")
    k.apply_gas("hood2", 50.0)
    term.expect("Remove the test gas from hood2")
    k.remove_gas("hood2")
    term.expect("hood2: FAIL")
    assert term.wait() == 1
    assert "bump test: FAILED" in term.text
    data = Record.load(record).data
    slow = data["detectors"]["hood1"]["bump_tests"][-1]
    assert not slow["passed"] and slow["time_to_alarm_s"] is None
    assert slow["failures"][0] == "no high alarm within 30 s of the test gas"
    # Its low alarm came when the emulated reading crossed 10 %LEL, within two polls of it.
    low_crossing = crossing_s(slow_gas, slow_applied, LOW_PCT)
    assert low_crossing - 0.2 <= slow["first_alarm_s"] <= low_crossing + 2 * POLL_INTERVAL_S + 1.0
    stuck = data["detectors"]["hood2"]["bump_tests"][-1]
    assert not stuck["passed"] and stuck["time_to_alarm_s"] <= 2 * POLL_INTERVAL_S + 1.0
    assert stuck["linkage"]["valve"]["ok"]  # the controller de-energised it at once...
    assert not stuck["linkage"]["valve_closed"]["ok"]  # ...but it never closed
    assert any("valve fault" in failure for failure in stuck["failures"])
    assert stuck["linkage"]["fan"].get("note")  # still running on from hood1's low alarm: not proven by hood2
    assert stuck["reset"] == "refused"  # a stuck valve blocks the reset


def test_maintenance_bump_test_inhibits_the_detector_so_the_gas_stays_on(kitchen, terminals, short_dir):
    k = kitchen()
    k.arm()
    record = os.path.join(short_dir, "record.json")
    term = terminals("--record", record, "--json", "bump-test", "--config", k.config_path, "--detectors", "hood1",
                     "--inhibit", "5", "--yes", cwd=short_dir)
    term.expect("Apply 50 %LEL test gas to hood1")
    status = k.status()
    assert status["inhibits"] and "hood1" in status["inhibits"] and not status["detectors"]["hood2"]["inhibited"]
    k.apply_gas("hood1", 50.0)
    term.expect("Remove the test gas from hood1")
    assert k.status()["detectors"]["hood1"]["state"] == "high_alarm"
    k.remove_gas("hood1")
    assert term.wait() == 0
    result = last_json(term.text)
    assert result["ok"] and result["detectors"]["hood1"]["mode"] == "inhibit"
    assert result["detectors"]["hood1"]["inhibit"] == {"minutes": 5, "ended": True}
    assert not k.status()["inhibits"] and not k.status()["latched"]
    closed = [change for change in k.io.trace() if change.line == "valve" and change.level is False
              and change.t_s > 1.0]
    assert not closed and k.valve_open()  # the gas stayed on through the test
    test = Record.load(record).data["detectors"]["hood1"]["bump_tests"][-1]
    assert test["passed"] and test["linkage"] is None and "inhibited" in test["linkage_note"]


def test_stand_alone_bump_test_reads_the_detectors_on_the_bus(short_dir, terminals):
    t0 = time.monotonic()
    clock = lambda: time.monotonic() - t0  # noqa: E731
    link = os.path.join(short_dir, "ttyUSB0")
    detectors = {"hood1": EmulatedDetector("cn-generic", 4, None, clock=clock),
                 "hood2": EmulatedDetector("cn-generic", 9, None, clock=clock)}
    record = Record(os.path.join(short_dir, "record.json"))
    record.data["bus"] = {"port": link, "baud": 9600, "parity": "N", "stop_bits": 1}
    for name, detector in detectors.items():
        record.detector(name).update({"address": detector.address, "profile": "cn-generic"})
    record.save()
    answers = os.path.join(short_dir, "answers.json")
    with open(answers, "w", encoding="utf-8") as handle:
        json.dump(["y", "done", "done", "done", "done"], handle)
    with EmulatedBus(link, 9600, clock=clock) as bus:
        for detector in detectors.values():
            bus.add(detector)
        term = terminals("--record", record.path, "bump-test", "--port", link, "--answers", answers, cwd=short_dir)
        for name, detector in detectors.items():
            term.expect("Apply 50 %LEL test gas to " + name)
            detector.gas = GasModel(0.0).step(clock(), 50.0)
            term.expect("Remove the test gas from " + name)
            detector.gas = None
        assert term.wait() == 0
    data = Record.load(record.path).data
    for name in detectors:
        test = data["detectors"][name]["bump_tests"][-1]
        assert test["passed"] and test["mode"] == "standalone" and test["linkage"] is None
        # One poll every 0.5 s (cn-generic's minimum): the first poll after the gas shows the alarm.
        assert test["time_to_alarm_s"] <= POLL_INTERVAL_S + 0.5
        assert test["recovery_s"] <= POLL_INTERVAL_S + 0.5
        assert test["bus_errors"] == 0


def test_bump_test_without_a_running_unit_says_what_to_check(short_dir, terminals):
    config = os.path.join(short_dir, "unit.json")
    term = terminals("--record", os.path.join(short_dir, "r.json"), "bump-test", "--socket",
                     os.path.join(short_dir, "none.sock"), cwd=short_dir)
    assert term.wait() == 2
    assert "no control socket" in term.text and "is gaslatch running" in term.text
    assert not os.path.exists(config)


# ---- valve-test ----

def test_valve_test_times_the_close_and_the_reopen_and_needs_the_reset_button(kitchen, terminals, short_dir):
    k = kitchen()
    record = os.path.join(short_dir, "record.json")
    term = terminals("--record", record, "valve-test", "--config", k.config_path, cwd=short_dir)
    term.expect("Press the RESET button")
    k.press_reset()
    term.expect("Close it? [y/n]")
    wait_until(k.valve_open, 10, 0.02, "the valve open")
    term.type("y")
    term.expect("Did the gas stay off? [y/n]")
    assert k.io.valve.position == 0.0 and k.status()["latched"]  # the socket's reset request opened nothing
    term.type("y")
    term.expect("Press the RESET button")
    k.press_reset()
    assert term.wait() == 0
    assert "valve test: passed" in term.text
    test = Record.load(record).data["valve_tests"][-1]
    assert test["passed"] and test["socket_reset"] == "waiting_for_button" and test["remote_reopen_refused"]
    assert test["close_command_s"] <= LIMITS_S["linkage"] and test["reset"] == "accepted"
    assert test["reopen_command_s"] <= 0.5
    # The unit's status reports its input lines: both moves are timed to the bench valve's closed switch.
    assert test["closed_source"] == test["reopen_source"] == "limit switch"
    wait_until(k.valve_open, 5, 0.02, "the valve open again")


def test_a_valve_test_session_on_a_chinese_terminal_speaks_chinese_and_records_the_same_codes(kitchen, terminals,
                                                                                             short_dir):
    """The installer's session as a Chinese installer reads it: every prompt and the verdict in Chinese, the
    record's codes and figures as in English."""
    k = kitchen()
    record = os.path.join(short_dir, "record.json")
    term = terminals("--record", record, "valve-test", "--config", k.config_path, cwd=short_dir, locale="zh_CN.UTF-8")
    term.expect("现在按下控制器上的复位键")
    k.press_reset()
    term.expect("紧急切断阀测试现在将关闭燃气：灶具熄火，复位前燃气保持关闭。关闭吗？ [y/n]")
    wait_until(k.valve_open, 10, 0.02, "the valve open")
    term.type("是")  # a Chinese answer is understood
    term.expect("燃气是否仍保持关闭？ [y/n]")
    term.type("y")
    term.expect("现在按下控制器上的复位键")
    k.press_reset()
    assert term.wait() == 0
    assert "紧急切断阀测试：合格" in term.text and "valve test: passed" not in term.text
    test = Record.load(record).data["valve_tests"][-1]
    assert test["passed"] and test["socket_reset"] == "waiting_for_button" and test["reset"] == "accepted"
    note = Record.load(record).data["log"][-1]  # the visit's log, in the session's language
    assert (note["command"], note["summary"]) == ("valve-test", "合格")
    wait_until(k.valve_open, 5, 0.02, "the valve open again")


# ---- interlock-test ----

def test_interlock_test_trips_on_each_input_and_shows_an_open_line_as_a_fault(kitchen, terminals, short_dir):
    k = kitchen(controller={"fan": {"mode": "continuous", "proving": True, "proving_grace_s": 2},
                            "alarm": {"comm_lost_after_s": 2}})
    record = os.path.join(short_dir, "record.json")
    answers = os.path.join(short_dir, "answers.yaml")
    with open(answers, "w", encoding="utf-8") as handle:
        handle.write("mains_off: done\nbackup_running: yes\nmains_on: done\n"
                     "open_line.hood2: done\nreconnect.hood2: done\n")
    term = terminals("--record", record, "interlock-test", "--config", k.config_path, "--answers", answers,
                     "--open-line-detector", "hood2", cwd=short_dir)
    operations = (("Operate the fire alarm input", lambda: k.io.set_input("fire_input", True),
                   "Restore the fire input", lambda: k.io.set_input("fire_input", False)),
                  ("Press the emergency stop", lambda: k.io.set_input("estop_input", True),
                   "Release the emergency stop", lambda: k.io.set_input("estop_input", False)),
                  ("Stop the extract fan", lambda: k.io.fan.inject("motor_failed"),
                   "Restore the extract fan", lambda: k.io.fan.clear("motor_failed")))
    term.expect("Press the RESET button")  # power-on: latched until the first reset
    k.press_reset()
    for operate, do, restore, undo in operations:
        term.expect(operate)
        wait_until(k.valve_open, 10, 0.02, "the valve open before the input is operated")
        do()
        term.expect(restore)
        assert not k.io.snapshot()["valve"]
        undo()
        term.expect("Press the RESET button")
        k.press_reset()
    term.expect("Switch the MAINS supply of the unit off")
    term.expect("Disconnect hood2's line")
    k.bus.inject(2, "no_reply")
    disconnected = time.monotonic()
    term.expect("Reconnect hood2's line")
    seen_after_s = time.monotonic() - disconnected
    k.bus.clear(2)
    assert term.wait() == 0, term.text[-2000:]
    tests = {entry["test"]: entry for entry in Record.load(record).data["interlock_tests"]}
    assert sorted(tests) == ["estop", "fan", "fire", "open-line", "power"]
    assert all(entry["passed"] for entry in tests.values())
    for name in ("fire", "estop", "fan"):
        assert tests[name]["trip_s"] <= LIMITS_S["linkage"] and tests[name]["reset"] == "accepted"
    assert tests["power"]["unit_stayed_up"] and tests["power"]["backup_running_confirmed"]
    # comm_lost_after_s (2 s) after hood2's last reply, seen within a poll or two of it.
    line = tests["open-line"]
    assert line["fault_state"] == "comm_lost" and 1.5 <= line["fault_s"] <= 2 + 2 * POLL_INTERVAL_S + 0.5
    assert line["fault_s"] <= seen_after_s + POLL_INTERVAL_S


# ---- the pieces that decide ----

def test_the_test_gas_decides_which_alarm_is_expected():
    assert expected_alarm(50, 10, 25) == "high_alarm"
    assert expected_alarm(25, 10, 25) == "high_alarm"
    assert expected_alarm(15, 10, 25) == "low_alarm"
    assert expected_alarm(5, 10, 25) is None


@given(st.sampled_from(["normal", "pre_alarm", "low_alarm", "high_alarm", "over_range", "fault", "warmup",
                        "calibration", "end_of_life"]),
       st.one_of(st.none(), st.floats(0, 200, allow_nan=False)))
def test_stand_alone_state_never_reports_less_than_the_reading_or_the_device_says(status, pct):
    state = standalone_state(status, pct, 10.0, 25.0)
    if status in ("high_alarm", "over_range") or (pct is not None and pct >= 25.0):
        assert state == "high_alarm"
    elif status == "low_alarm" or (pct is not None and pct >= 10.0):
        assert state == "low_alarm"
    else:
        assert state != "normal" or status in ("normal", "pre_alarm")


def test_a_bump_test_entry_fails_on_every_limit_it_misses():
    entry = {"expected": "high_alarm", "limits_s": {"time_to_alarm": 30.0, "recovery": 60.0, "linkage": 3.0},
             "time_to_alarm_s": 31.5, "recovery_s": None, "problems": [], "samples": [],
             "linkage": {"valve": {"ok": False, "why": "valve acted 3.40 s after the alarm, limit 3 s"},
                         "fan": {"ok": True}}}
    assert judge_bump(entry) == ["high alarm after 31.5 s, limit 30 s",
                                 "not back to normal within 60 s of removing the gas",
                                 "valve acted 3.40 s after the alarm, limit 3 s"]
    entry.update(time_to_alarm_s=4.0, recovery_s=12.0, linkage={"valve": {"ok": True}})
    assert judge_bump(entry) == []
    stopped = {"expected": "high_alarm", "limits_s": entry["limits_s"], "problems": ["hood1 was fault before the test"]}
    assert judge_bump(stopped) == ["hood1 was fault before the test"]


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=20),
                     st.floats(allow_nan=False, allow_infinity=False))


@given(st.one_of(st.lists(_SCALARS, max_size=8),
                 st.dictionaries(st.text(min_size=1, max_size=20), _SCALARS, max_size=8)))
def test_an_answers_file_in_json_reads_back_as_written(answers):
    assert parse_answers(json.dumps(answers)) == answers


@given(st.text(max_size=200))
def test_any_answers_text_parses_or_says_what_is_wrong(text):
    try:
        answers = parse_answers(text, "answers.yaml")
    except PromptError as err:
        assert "answers.yaml" in str(err)
    else:
        assert isinstance(answers, (list, dict))


def test_yes_and_no_are_understood_in_english_and_chinese():
    assert [yes_no(v) for v in (True, "y", "YES", "是", 1)] == [True] * 5
    assert [yes_no(v) for v in (False, "n", "no", "否", 0)] == [False] * 5
    assert yes_no("maybe") is None


def _status(t_latched: bool, valve_out: bool, closed_switch: bool | None = None, fault: str = "") -> dict:
    status = {"latched": t_latched, "outputs": {"valve": valve_out, "fan": t_latched, "sounder": t_latched},
              "valve_fault": fault}
    if closed_switch is not None:
        status["inputs"] = {"valve_feedback_closed": closed_switch}
    return status


def test_with_inputs_in_the_status_the_valve_is_timed_to_its_closed_switch():
    facts = UnitFacts({"valve": {"type": "hold", "feedback": "closed", "travel_s": 4, "startup": "manual_reset"},
                       "detectors": {}, "zones": {}}, "unit.json")
    move = ValveMove(facts, closed=True)
    for t, status in ((10.0, _status(False, True, False)), (10.1, _status(True, False, False)),
                      (12.6, _status(True, False, True))):
        move.seen(t, status)
    assert move.done({}) and move.source() == "limit switch"
    assert (move.command_t, move.switch_t) == (10.1, 12.6) and move.failures(None, "valve_closed", 10.0) == []
    linkage = LinkageWatch(facts, "hood1", "high_alarm")
    linkage.alarm_t = 10.1
    for t, status in ((10.1, _status(True, False, False)), (15.0, _status(True, False, False))):
        linkage.update(t, status)
    assert linkage.valve_settled(15.0) is False  # the switch reports: wait for it, not for the supervision time
    check = linkage.result(None, "hood1")
    assert check["valve"]["ok"] and not check["valve_closed"]["ok"]
    assert "closed switch did not make" in check["valve_closed"]["why"]


def test_a_valve_that_never_reaches_its_switch_fails_the_valve_test():
    facts = UnitFacts({"valve": {"type": "hold", "feedback": "closed", "travel_s": 2, "startup": "manual_reset"},
                       "detectors": {}, "zones": {}}, "unit.json")
    move = ValveMove(facts, closed=True)
    move.seen(1.0, _status(True, False, False))
    move.seen(4.0, _status(True, False, False, fault="commanded closed but not closed after 2 s"))
    assert move.done({}) and move.failures(None, "valve_closed", 1.0) == [
        "valve fault: commanded closed but not closed after 2 s"]


def test_interlock_test_proves_the_pipework_and_a_burner_open_in_the_watch_fails_it(kitchen, terminals, short_dir):
    """The proving step on a real unit with a pressure switch: a reset proves the tight pipework (timed), an open
    burner in the watch fails it and keeps the gas off, and the last reset proves it again."""
    k = kitchen(controller={"proving": {"mode": "switch", "check_s": 2, "fill_s": 2, "watch_s": 5}})
    record = os.path.join(short_dir, "record.json")
    answers = os.path.join(short_dir, "answers.yaml")
    with open(answers, "w", encoding="utf-8") as handle:
        handle.write("vent: done\nburner_open: done\nburner_closed: done\n")
    term = terminals("--record", record, "interlock-test", "--config", k.config_path, "--answers", answers,
                     "--only", "proving", cwd=short_dir)
    term.expect("Press the RESET button")  # the gas closed by the valve test: a reset proves the pipework, timed
    k.press_reset()
    term.expect("Let the gas left in the pipe out")  # closed again, with the gas of the first proving trapped
    k.io.pipe.vent()
    term.expect("Press the RESET button")  # a proving with a burner open
    k.press_reset()
    term.expect("Open one burner's gas tap now")
    k.io.pipe.inject("appliance_open")
    term.expect("Press the RESET button")
    assert not k.io.snapshot()["valve"], "the failed proving keeps the gas off"
    k.io.pipe.clear("appliance_open")
    k.press_reset()
    assert term.wait() == 0, term.text[-2000:]
    (entry,) = Record.load(record).data["interlock_tests"]
    assert entry["passed"] and entry["reset"] == "accepted", entry
    assert 2 + 5 <= entry["proving_s"] <= entry["limit_s"], entry
    assert entry["leak_found_s"] is not None and entry["leak_found_s"] < 5.5
    wait_until(k.valve_open, 10, 0.05, "the gas on after the last proving")


def test_interlock_test_proves_a_co2_detector_warns_with_the_gas_on_then_isolates_it(kitchen, terminals, short_dir):
    """IGEM/UP/19 on site: CO2 test gas above the isolation level; the warning runs the fan and the sounder, the
    trip closes the gas within the linkage limit, and the gas stays off after the CO2 is gone until RESET."""
    k = kitchen(names=("hood1", "co2"), measurands={"co2": "co2"})
    record = os.path.join(short_dir, "record.json")
    term = terminals("--record", record, "interlock-test", "--config", k.config_path, "--only", "co2", cwd=short_dir)
    term.expect("Press the RESET button")  # power-on: latched until the first reset
    k.press_reset()
    term.expect("Apply CO2 test gas above 2800 ppm to co2")
    wait_until(k.valve_open, 10, 0.02, "the valve open before the test gas")
    at_s = k.now()
    k.detectors["co2"].gas = GasModel(450.0).ramp(at_s, at_s + 4.0, 3500.0)
    term.expect("Remove the CO2 test gas from co2", 30)
    assert not k.io.snapshot()["valve"]
    k.detectors["co2"].gas = GasModel(450.0)
    term.expect("Press the RESET button", 60)
    k.press_reset()
    assert term.wait() == 0, term.text[-2000:]
    entry = Record.load(record).data["interlock_tests"][-1]
    assert (entry["test"], entry["detector"], entry["passed"]) == ("co2", "co2", True), entry
    assert entry["trip_s"] <= LIMITS_S["linkage"] and entry["warning_seen"] and entry["warning_outputs_s"] is not None
    assert (entry["warning_ppm"], entry["trip_ppm"]) == (2000, 2800) and entry["peak_ppm"] == pytest.approx(3500, abs=1)
    assert entry["reset"] == "accepted"
