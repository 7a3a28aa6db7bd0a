"""The emulated kitchen hardware on the sim GPIO files: valve travel, limit switches and their faults, fan
proving, buttons and contacts with their polarity, and the trace the bench keeps of every line."""

import os
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core.config import load_config
from gaslatch.core.safety import OUTPUTS
from gaslatch.unit.gpio_lines import open_lines
from gaslatch.unit.gpio_sim import parse_value, write_line_file
from gaslatch_tools.bench.kitchen_io import POWER, Fan, KitchenIO, KitchenIOError, LineChange, Valve
from gaslatch_tools.testing.waiting import wait_until

STEP_S = 0.01

LINES = {
    "valve": "high", "fan": "high", "sounder": "high", "beacon": "high", "fault_relay": "high",
    "reset_button": "high", "silence_button": "high", "fire_input": "low", "estop_input": "low",
    "fan_proven": "high", "valve_feedback_closed": "high", "valve_feedback_open": "high",
}


class FakeClock:
    def __init__(self):
        self.now_s = 1000.0

    def __call__(self):
        return self.now_s


def make_kitchen(tmp_path, valve=None, fan=None, lines=None):
    lines = lines or LINES
    clock = FakeClock()
    kitchen = KitchenIO(str(tmp_path / "gpio"),
                        {name: active for name, active in lines.items() if name not in OUTPUTS},
                        {name: active for name, active in lines.items() if name in OUTPUTS},
                        valve=valve, fan=fan, clock=clock, t0_s=clock.now_s)
    kitchen.step()
    return kitchen, clock


def write_output(kitchen, name, physical):
    """What the controller does: an atomic write of the output's physical level."""
    os.makedirs(os.path.join(kitchen.sim_dir, name), exist_ok=True)
    write_line_file(os.path.join(kitchen.sim_dir, name, "value"), b"%d\n" % physical)


def file_level(kitchen, name):
    with open(os.path.join(kitchen.sim_dir, name, "value"), "rb") as handle:
        return parse_value(handle.read())


def run_for(kitchen, clock, seconds):
    end = clock.now_s + seconds
    while clock.now_s < end - 1e-9:
        clock.now_s = min(end, clock.now_s + STEP_S)
        kitchen.step()


def changes(kitchen, line):
    return [change for change in kitchen.trace() if change.line == line]


def open_hold_valve(kitchen, clock):
    write_output(kitchen, "valve", 1)
    kitchen.step()
    run_for(kitchen, clock, kitchen.valve.travel_s + STEP_S)
    assert kitchen.snapshot()["valve_feedback_open"] is True


def test_hold_valve_closes_in_its_travel_time_open_switch_breaking_first_closed_switch_making_last(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, valve=Valve("hold", travel_s=1.5))
    open_hold_valve(kitchen, clock)
    write_output(kitchen, "valve", 0)
    kitchen.step()
    t_close = clock.now_s - kitchen.t0_s
    run_for(kitchen, clock, STEP_S)
    assert kitchen.snapshot()["valve_feedback_open"] is False, "leaving the open position breaks that switch"
    run_for(kitchen, clock, 1.5 - 3 * STEP_S)
    assert kitchen.snapshot()["valve_feedback_closed"] is False, "not closed before the end of travel"
    run_for(kitchen, clock, 3 * STEP_S)
    assert kitchen.snapshot()["valve_feedback_closed"] is True
    valve_off = changes(kitchen, "valve")[-1]
    open_broke = changes(kitchen, "valve_feedback_open")[-1]
    closed_made = changes(kitchen, "valve_feedback_closed")[-1]
    assert valve_off == LineChange(pytest.approx(t_close), "valve", False)
    assert open_broke.t_s - t_close == pytest.approx(STEP_S) and open_broke.level is False
    assert closed_made.level is True and closed_made.t_s - t_close == pytest.approx(1.5, abs=STEP_S)


def test_a_closed_hold_valve_starts_with_its_closed_switch_made_and_opens_in_its_travel_time(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, valve=Valve("hold", travel_s=0.5))
    assert (file_level(kitchen, "valve_feedback_closed"), file_level(kitchen, "valve_feedback_open")) == (1, 0)
    write_output(kitchen, "valve", 1)
    kitchen.step()
    run_for(kitchen, clock, STEP_S)
    assert file_level(kitchen, "valve_feedback_closed") == 0
    run_for(kitchen, clock, 0.5 - 2 * STEP_S)
    assert file_level(kitchen, "valve_feedback_open") == 0
    run_for(kitchen, clock, 2 * STEP_S)
    assert file_level(kitchen, "valve_feedback_open") == 1


def test_a_power_cut_closes_a_hold_valve_but_leaves_a_motorised_one_where_it_is(tmp_path):
    hold, hold_clock = make_kitchen(tmp_path / "hold", valve=Valve("hold", travel_s=0.5))
    motor, motor_clock = make_kitchen(tmp_path / "motor", valve=Valve("motorised", travel_s=0.5))
    for kitchen, clock in ((hold, hold_clock), (motor, motor_clock)):
        open_hold_valve(kitchen, clock)
        kitchen.power(False)
        run_for(kitchen, clock, 1.0)
        assert file_level(kitchen, "valve") == 0, "the pins lose the dead controller's levels"
    assert hold.snapshot()["valve_feedback_closed"] is True and hold.valve.position == 0.0
    assert motor.snapshot()["valve_feedback_open"] is True and motor.valve.position == 1.0
    assert [c.level for c in hold.trace() if c.line == POWER] == [False]


def test_a_pulse_valve_is_tripped_closed_by_a_pulse_and_reopened_only_by_hand(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, valve=Valve("pulse", travel_s=0.3, open_at_start=True))
    run_for(kitchen, clock, 1.0)
    assert kitchen.snapshot()["valve_feedback_open"] is True, "a pulse valve stays open without its coil"
    write_output(kitchen, "valve", 1)
    kitchen.step()
    assert not kitchen.valve.manual_open(), "it cannot be latched open while the closing pulse is on"
    run_for(kitchen, clock, 0.1)
    write_output(kitchen, "valve", 0)
    run_for(kitchen, clock, 0.3)
    assert kitchen.snapshot()["valve_feedback_closed"] is True, "the pulse tripped it: it closed"
    run_for(kitchen, clock, 2.0)
    assert kitchen.snapshot()["valve_feedback_closed"] is True, "nothing but a person reopens it"
    assert kitchen.valve.manual_open()
    run_for(kitchen, clock, 0.3 + STEP_S)
    assert kitchen.snapshot()["valve_feedback_open"] is True


def test_a_manual_reopen_hold_valve_opens_only_with_its_coil_and_a_hand(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, valve=Valve("hold", travel_s=0.3, manual_reopen=True))
    assert not kitchen.valve.manual_open(), "without the coil nothing holds it open"
    write_output(kitchen, "valve", 1)
    run_for(kitchen, clock, 1.0)
    assert kitchen.snapshot()["valve_feedback_closed"] is True, "the coil alone does not open it"
    assert kitchen.valve.manual_open()
    run_for(kitchen, clock, 0.3 + STEP_S)
    assert kitchen.snapshot()["valve_feedback_open"] is True
    write_output(kitchen, "valve", 0)
    run_for(kitchen, clock, 0.3 + STEP_S)
    write_output(kitchen, "valve", 1)
    run_for(kitchen, clock, 1.0)
    assert kitchen.snapshot()["valve_feedback_closed"] is True, "losing the coil dropped the hand latch"


def test_valves_without_a_hand_latch_refuse_manual_open(tmp_path):
    for valve in (Valve("hold"), Valve("motorised")):
        with pytest.raises(KitchenIOError, match="no hand latch"):
            valve.manual_open()


def test_a_stuck_open_valve_never_closes_and_its_open_switch_stays_made(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, valve=Valve("hold", travel_s=0.3))
    open_hold_valve(kitchen, clock)
    kitchen.valve.inject("stuck_open")
    write_output(kitchen, "valve", 0)
    run_for(kitchen, clock, 2.0)
    assert kitchen.valve.position == 1.0
    assert kitchen.snapshot()["valve_feedback_open"] is True and kitchen.snapshot()["valve_feedback_closed"] is False
    kitchen.valve.clear()
    run_for(kitchen, clock, 0.3 + STEP_S)
    assert kitchen.snapshot()["valve_feedback_closed"] is True, "freed, it closes"


def test_a_valve_without_feedback_moves_but_its_switches_keep_their_levels(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, valve=Valve("hold", travel_s=0.3))
    open_hold_valve(kitchen, clock)
    kitchen.valve.inject("no_feedback")
    write_output(kitchen, "valve", 0)
    run_for(kitchen, clock, 1.0)
    assert kitchen.valve.position == 0.0
    assert (file_level(kitchen, "valve_feedback_closed"), file_level(kitchen, "valve_feedback_open")) == (0, 1)
    kitchen.valve.clear("no_feedback")
    kitchen.step()
    assert (file_level(kitchen, "valve_feedback_closed"), file_level(kitchen, "valve_feedback_open")) == (1, 0)


def test_a_cut_feedback_wire_reads_not_made_until_it_is_mended(tmp_path):
    kitchen, clock = make_kitchen(tmp_path)
    assert kitchen.snapshot()["valve_feedback_closed"] is True
    kitchen.cut_wire("valve_feedback_closed")
    run_for(kitchen, clock, 0.1)
    assert file_level(kitchen, "valve_feedback_closed") == 0
    assert kitchen.snapshot()["valve_feedback_closed"] is False
    kitchen.mend_wire("valve_feedback_closed")
    assert file_level(kitchen, "valve_feedback_closed") == 1


def test_the_fan_proves_airflow_after_its_spin_up_and_loses_it_after_its_run_down(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, fan=Fan(spin_up_s=1.0, run_down_s=0.5))
    write_output(kitchen, "fan", 1)
    kitchen.step()
    run_for(kitchen, clock, 1.0 - 2 * STEP_S)
    assert kitchen.fan.spinning and kitchen.snapshot()["fan_proven"] is False
    run_for(kitchen, clock, 3 * STEP_S)
    assert kitchen.snapshot()["fan_proven"] is True
    write_output(kitchen, "fan", 0)
    kitchen.step()
    run_for(kitchen, clock, 0.5 - 2 * STEP_S)
    assert kitchen.snapshot()["fan_proven"] is True, "the air still moves while the fan runs down"
    run_for(kitchen, clock, 3 * STEP_S)
    assert kitchen.snapshot()["fan_proven"] is False
    proven = changes(kitchen, "fan_proven")
    assert [c.level for c in proven] == [False, True, False]
    fan_on, fan_off = changes(kitchen, "fan")[-2:]
    assert proven[1].t_s - fan_on.t_s == pytest.approx(1.0, abs=STEP_S)
    assert proven[2].t_s - fan_off.t_s == pytest.approx(0.5, abs=STEP_S)


def test_a_failed_fan_motor_drops_proving_and_a_failed_switch_never_makes(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, fan=Fan(spin_up_s=0.2, run_down_s=0.2))
    write_output(kitchen, "fan", 1)
    run_for(kitchen, clock, 0.3)
    assert kitchen.snapshot()["fan_proven"] is True
    kitchen.fan.inject("motor_failed")
    run_for(kitchen, clock, 0.3)
    assert not kitchen.fan.spinning and kitchen.snapshot()["fan_proven"] is False
    kitchen.fan.clear("motor_failed")
    kitchen.fan.inject("switch_failed")
    run_for(kitchen, clock, 1.0)
    assert kitchen.fan.spinning and kitchen.snapshot()["fan_proven"] is False
    kitchen.fan.clear()
    kitchen.step()
    assert kitchen.snapshot()["fan_proven"] is True


def test_buttons_and_contacts_are_written_with_their_configured_polarity(tmp_path):
    kitchen, clock = make_kitchen(tmp_path)
    assert file_level(kitchen, "fire_input") == 1, "a closed fire contact, read active low, is all well"
    assert file_level(kitchen, "reset_button") == 0
    kitchen.set_input("fire_input", True)
    kitchen.press("reset_button")
    assert file_level(kitchen, "fire_input") == 0 and file_level(kitchen, "reset_button") == 1
    assert kitchen.snapshot()["fire_input"] is True and kitchen.snapshot()["reset_button"] is True
    kitchen.set_input("fire_input", False)
    kitchen.release("reset_button")
    assert file_level(kitchen, "fire_input") == 1 and file_level(kitchen, "reset_button") == 0
    kitchen.cut_wire("estop_input")
    assert file_level(kitchen, "estop_input") == 0 and kitchen.snapshot()["estop_input"] is True, \
        "a cut wire on a normally closed safety contact reads active"


def test_outputs_are_read_with_their_configured_polarity(tmp_path):
    lines = dict(LINES, valve="low", fan="low")
    kitchen, clock = make_kitchen(tmp_path, valve=Valve("hold", travel_s=0.2), lines=lines)
    write_output(kitchen, "valve", 0)
    write_output(kitchen, "fan", 1)
    run_for(kitchen, clock, 0.3)
    assert kitchen.snapshot()["valve"] is True and kitchen.snapshot()["fan"] is False
    assert kitchen.snapshot()["valve_feedback_open"] is True and not kitchen.fan.spinning


def test_an_output_file_that_is_missing_or_garbled_is_traced_as_unknown_and_drives_nothing(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, valve=Valve("hold", travel_s=0.2))
    assert kitchen.snapshot()["valve"] is None
    write_output(kitchen, "valve", 1)
    run_for(kitchen, clock, 0.3)
    write_line_file(os.path.join(kitchen.sim_dir, "valve", "value"), b"x\n")
    run_for(kitchen, clock, 0.3)
    assert kitchen.snapshot()["valve"] is None and kitchen.snapshot()["valve_feedback_closed"] is True
    assert [c.level for c in changes(kitchen, "valve")] == [None, True, None]


def test_a_button_pressed_for_a_time_is_let_go_by_the_bench(tmp_path):
    kitchen, clock = make_kitchen(tmp_path)
    kitchen.press("silence_button", hold_s=0.2)
    run_for(kitchen, clock, 0.2 - STEP_S)
    assert file_level(kitchen, "silence_button") == 1
    run_for(kitchen, clock, 2 * STEP_S)
    assert file_level(kitchen, "silence_button") == 0
    pressed, released = changes(kitchen, "silence_button")[-2:]
    assert (pressed.level, released.level) == (True, False)
    assert released.t_s - pressed.t_s == pytest.approx(0.2, abs=STEP_S)


def test_a_press_is_timed_when_its_line_is_written_not_when_the_caller_asked_for_it(tmp_path):
    # A bench action is timed from what these return: a caller that waited for the lock (the polling thread
    # holding it, or a CPU on a loaded machine) must not have that wait counted as the controller's.
    kitchen, clock = make_kitchen(tmp_path)
    returned = []
    with kitchen._lock:  # the polling thread in the middle of a pass
        presser = threading.Thread(target=lambda: returned.append(kitchen.press("reset_button", hold_s=0.2)))
        presser.start()
        presser.join(0.2)
        assert presser.is_alive() and file_level(kitchen, "reset_button") == 0
        clock.now_s += 0.3
    presser.join(5)
    assert returned == [clock.now_s] and file_level(kitchen, "reset_button") == 1
    assert changes(kitchen, "reset_button")[-1] == LineChange(clock.now_s - kitchen.t0_s, "reset_button", True)
    run_for(kitchen, clock, 0.2 - STEP_S)
    assert file_level(kitchen, "reset_button") == 1, "held for hold_s from the time it was pressed"
    assert kitchen.cut_wire("fire_input") == clock.now_s and kitchen.mend_wire("fire_input") == clock.now_s
    assert kitchen.set_input("estop_input", True) == clock.now_s and kitchen.release("reset_button") == clock.now_s


def test_a_press_is_timed_after_the_write_that_can_wait_just_before_the_rename_that_shows_it(tmp_path, monkeypatch):
    kitchen, clock = make_kitchen(tmp_path)
    real_fchmod, real_replace = os.fchmod, os.replace
    renamed_at = []

    def slow_write(fd, mode):  # the write's system calls give the GIL up: a loaded machine can hold each back
        clock.now_s += 0.4
        return real_fchmod(fd, mode)

    def replace(src, dst):
        renamed_at.append((clock.now_s, file_level(kitchen, "reset_button")))
        clock.now_s += 0.1  # the rename itself held back: the controller may see the line before it returns
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fchmod", slow_write)  # one of the temporary file's system calls (write_atomically)
    monkeypatch.setattr(os, "replace", replace)
    asked = clock.now_s
    pressed = kitchen.press("reset_button")
    assert pressed == asked + 0.4 and renamed_at == [(pressed, 0)] and file_level(kitchen, "reset_button") == 1
    assert changes(kitchen, "reset_button")[-1].t_s == pressed - kitchen.t0_s


def test_an_output_change_is_timed_when_it_was_read_never_before_the_controller_made_it(tmp_path, monkeypatch):
    # The pass starts, then is held back (the GIL, a CPU) before it reads the outputs: the controller writes the
    # valve meanwhile. Timed at the pass's start, the valve would have opened before the controller opened it.
    kitchen, clock = make_kitchen(tmp_path)
    real_read = kitchen._read_output
    written = []

    def held_read(name):
        if name == "valve" and not written:
            clock.now_s += 0.3
            write_output(kitchen, "valve", 1)
            written.append(clock.now_s)
        return real_read(name)

    monkeypatch.setattr(kitchen, "_read_output", held_read)
    kitchen.step()
    assert written and changes(kitchen, "valve")[-1] == LineChange(written[0] - kitchen.t0_s, "valve", True)


def test_a_change_made_at_once_is_played_in_its_own_step_not_the_polling_threads_next(tmp_path):
    kitchen, clock = make_kitchen(tmp_path, fan=Fan(spin_up_s=0.2, run_down_s=0.5))
    write_output(kitchen, "fan", 1)
    run_for(kitchen, clock, 0.3)
    assert kitchen.snapshot()["fan_proven"] is True
    result, at = kitchen.at_once(lambda: kitchen.fan.inject("motor_failed") or "done")
    assert (result, at) == ("done", clock.now_s) and not kitchen.fan.spinning
    clock.now_s += 0.5  # the polling thread's next pass comes only now (a CPU busy elsewhere)
    kitchen.step()
    assert kitchen.snapshot()["fan_proven"] is False, "the run-down counts from the change, not the late pass"
    assert changes(kitchen, "fan_proven")[-1].t_s == pytest.approx(at + 0.5 - kitchen.t0_s)


def test_lines_a_model_drives_or_that_are_not_wired_cannot_be_set_by_hand(tmp_path):
    kitchen, _ = make_kitchen(tmp_path)
    with pytest.raises(KitchenIOError, match="follows the valve model"):
        kitchen.set_input("valve_feedback_closed", True)
    with pytest.raises(KitchenIOError, match="follows the fan model"):
        kitchen.press("fan_proven")
    with pytest.raises(KitchenIOError, match="not a wired input"):
        kitchen.press("valve")
    with pytest.raises(KitchenIOError, match="not a wired input"):
        kitchen.set_input("gas_contact", True)


def test_bad_settings_are_refused_with_what_is_allowed():
    with pytest.raises(KitchenIOError, match="hold, pulse, motorised"):
        Valve("ball")
    with pytest.raises(KitchenIOError, match="stuck_open, no_feedback"):
        Valve().inject("leaks")
    with pytest.raises(KitchenIOError, match="motor_failed, switch_failed"):
        Fan().inject("slow")
    with pytest.raises(KitchenIOError, match="high or low"):
        KitchenIO("/nonexistent", {"reset_button": "up"}, {})


def test_from_config_takes_the_wiring_polarity_and_valve_type_of_the_config(tmp_path):
    cfg = load_config({
        "unit": {"site": "s", "name": "u"},
        "detectors": {"boiler": {"kind": "contact", "line": "gas_contact"}},
        "valve": {"type": "pulse", "travel_s": 4, "feedback": "closed"},
        "interlocks": {"fire_input": True},
        "gpio": {"backend": "sim", "sim_dir": str(tmp_path / "gpio")},
        "lines": {"valve": {"pin": 17}, "fan": {"pin": 18, "active": "low"}, "reset_button": {"pin": 5},
                  "fire_input": {"pin": 6, "active": "low"}, "valve_feedback_closed": {"pin": 12},
                  "gas_contact": {"pin": 13}},
    }, {"contact-dry": "contact"})
    kitchen = KitchenIO.from_config(cfg)
    assert kitchen.output_names == ("fan", "valve")
    assert kitchen.input_names == ("fire_input", "gas_contact", "reset_button", "valve_feedback_closed")
    assert kitchen.valve.valve_type == "pulse" and kitchen.valve.travel_s == 2.0
    kitchen.step()
    assert file_level(kitchen, "fire_input") == 1 and file_level(kitchen, "gas_contact") == 0


def test_the_thread_answers_the_controllers_own_gpio_lines(tmp_path):
    cfg = load_config({
        "unit": {"site": "s", "name": "u"},
        "detectors": {"boiler": {"kind": "contact", "line": "gas_contact"}},
        "valve": {"feedback": "both", "travel_s": 1},
        "fan": {"mode": "continuous", "proving": True},
        "interlocks": {"fire_input": True},
        "gpio": {"backend": "sim", "sim_dir": str(tmp_path / "gpio"), "debounce_ms": 0},
        "lines": {"valve": {"pin": 17}, "fan": {"pin": 18}, "reset_button": {"pin": 5},
                  "fire_input": {"pin": 6, "active": "low"}, "valve_feedback_closed": {"pin": 12},
                  "valve_feedback_open": {"pin": 16}, "fan_proven": {"pin": 20}, "gas_contact": {"pin": 13}},
    }, {"contact-dry": "contact"})
    kitchen = KitchenIO.from_config(cfg, valve_travel_s=0.2, fan_spin_up_s=0.1)
    with kitchen:
        lines = open_lines(cfg)
        try:
            inputs = lines.read_inputs(0)
            assert inputs["valve_feedback_closed"] and not inputs["valve_feedback_open"]
            assert inputs["fire_input"] is False and inputs["reset_button"] is False
            lines.write_outputs({"valve": True, "fan": True})
            wait_until(lambda: lines.read_inputs(0)["valve_feedback_open"], 5, what="the valve to open")
            wait_until(lambda: lines.read_inputs(0)["fan_proven"], 5, what="the airflow to prove")
            kitchen.press("reset_button", hold_s=0.05)
            assert lines.read_inputs(0)["reset_button"] is True
            wait_until(lambda: lines.read_inputs(0)["reset_button"] is False, 5, what="the button let go")
        finally:
            lines.close()
        wait_until(lambda: kitchen.snapshot()["valve_feedback_closed"], 5,
                   what="the valve to close when the controller lets go of its lines")
    assert kitchen.error_count == 0
    opened = [c for c in kitchen.trace() if c.line == "valve_feedback_open" and c.level]
    energised = [c for c in kitchen.trace() if c.line == "valve" and c.level]
    assert opened[0].t_s - energised[0].t_s == pytest.approx(0.2, abs=0.05)


@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.floats(0.0, 0.5)), max_size=40),
       st.sampled_from(["hold", "pulse", "motorised"]))
def test_a_valve_never_reports_both_positions_and_a_switch_is_made_only_at_its_end_stop(moves, valve_type):
    valve = Valve(valve_type, travel_s=0.3, open_at_start=valve_type == "pulse")
    now_s = 0.0
    for coil, hand, dt_s in moves:
        now_s += dt_s
        valve.step(now_s, coil)
        if hand and valve_type == "pulse":
            valve.manual_open()
        closed, opened = valve.switches()
        assert not (closed and opened)
        assert 0.0 <= valve.position <= 1.0
        assert closed == (valve.position == 0.0) and opened == (valve.position == 1.0)
