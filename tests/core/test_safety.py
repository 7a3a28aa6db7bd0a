"""The kitchen's safety rules, one behaviour per test, as an operator or inspector would check them."""

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.core.commands import COMMANDS
from gaslatch.core.controller import Controller

from tests.core.safety_harness import Kitchen, config_doc

EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def test_valve_stays_closed_after_power_on_until_local_reset():
    k = Kitchen()
    k.run(60000)
    assert not k.valve_open
    assert k.events[0]["type"] == "startup"
    k.press("reset_button")
    k.scan()
    assert k.valve_open


def test_a_failed_self_test_keeps_the_gas_off_drops_the_fault_relay_and_refuses_every_reset_saying_why():
    fault = "file modified since install: gaslatch/profiles/cn-generic.json"
    k = Kitchen(self_test_faults=[fault])
    k.run(60000)  # every detector normal, nothing else blocks
    k.press("reset_button")
    k.scan()

    assert not k.valve_open and k.safety.latched
    assert k.outputs["fault_relay"] is False
    startup = k.events[0]
    assert (startup["type"], startup["severity"]) == ("startup", "fault")
    assert "self-test failed: " + fault in k.events_of("trip")[0]["reason"]
    refused = k.events_of("reset_refused")[-1]
    assert refused["reason"] == "self-test failed: " + fault
    assert k.safety.status(k.now_ms)["self_test_faults"] == [fault]


def test_high_alarm_closes_valve_within_confirmation_budget():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    start = k.now_ms
    while k.valve_open:
        k.scan()
        assert k.now_ms - start <= C.DEFAULT_CONFIRM_WINDOW_MS, "valve still open past the budget"
    trip = k.events_of("trip")[-1]
    assert "d1 high alarm" in trip["reason"]


def test_trip_latches_after_gas_clears():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    k.run(2000)
    k.gas["d1"] = 0.0
    k.run(600000)
    assert not k.valve_open
    assert k.detectors["d1"].state == "normal"


def test_reset_is_refused_while_gas_is_present():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    k.run(2000)
    events = k.press("reset_button")
    refused = [e for e in events if e["type"] == "reset_refused"]
    assert refused and "d1: high alarm" in refused[0]["reason"]
    k.run(1000)
    assert not k.valve_open


def test_reset_is_accepted_once_gas_has_cleared_for_the_clear_hold():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    k.run(2000)
    k.gas["d1"] = 0.0
    k.run(C.DEFAULT_CLEAR_HOLD_S * 1000)
    events = k.press("reset_button")
    assert [e["type"] for e in events if e["type"].startswith("reset")] == ["reset"]
    k.scan()
    assert k.valve_open


def test_reset_is_refused_inside_the_clear_hold_and_says_for_how_long():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    k.run(2000)
    k.gas["d1"] = 0.0
    k.run(3000)
    refused = [e for e in k.press("reset_button") if e["type"] == "reset_refused"]
    assert refused and "d1: high alarm (clear hold: at least 7 s more clear)" in refused[0]["reason"]
    assert not k.valve_open


def test_a_detector_flapping_high_alarm_and_normal_never_lets_a_reset_through():
    """The independent bench's case: status 06 / 01 on every poll, 2 %LEL, reset pressed again and again."""
    k = Kitchen()
    k.settle()
    resets_before = len(k.events_of("reset"))
    for i in range(300):
        k.status["d1"] = C.STATUS_HIGH_ALARM if (i // 5) % 2 == 0 else C.STATUS_NORMAL
        k.gas["d1"] = 2.0
        if i % 3 == 0:
            k.press("reset_button")
        else:
            k.scan()
        assert not k.valve_open
    assert len(k.events_of("reset")) == resets_before
    assert k.detectors["d1"].state == D.HIGH_ALARM and k.detectors["d1"].unstable
    assert not k.outputs["fault_relay"], "a flapping detector drops the fault relay"
    health = k.events_of("detector_health")
    assert [(e["source"], e["state"]) for e in health] == [("d1", "unstable")]
    assert "d1 unstable" in k.events_of("reset_refused")[-1]["reason"]


def test_low_alarm_runs_fan_and_sounder_but_keeps_gas_on():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 12.0
    k.run(1000)
    assert k.outputs["fan"] and k.outputs["sounder"] and k.outputs["beacon"]
    assert k.valve_open


def test_fan_runs_on_for_its_minimum_time_after_alarm_clears():
    k = Kitchen(config_doc(fan={"run_on_s": 60}))
    k.settle()
    k.gas["d1"] = 12.0
    k.run(1000)
    k.gas["d1"] = 0.0
    k.run(C.DEFAULT_CLEAR_HOLD_S * 1000 + 59000)  # the alarm holds for the clear hold, then the run-on
    assert k.outputs["fan"]
    k.run(2000)
    assert not k.outputs["fan"]


def test_over_range_is_danger_and_trips_at_once():
    k = Kitchen()
    k.settle()
    k.status["d1"] = C.STATUS_OVER_RANGE
    k.gas["d1"] = 0.0
    k.scan()
    assert not k.valve_open
    assert k.detectors["d1"].state == "high_alarm"


def test_detector_reporting_its_own_high_alarm_trips_before_the_reading_confirms():
    k = Kitchen()
    k.settle()
    k.status["d1"] = C.STATUS_HIGH_ALARM
    k.gas["d1"] = 5.0
    k.scan()
    assert not k.valve_open


def test_silent_detector_closes_valve_within_the_fault_budget():
    k = Kitchen()
    k.settle()
    k.silent.add("d2")
    start = k.now_ms
    while k.valve_open:
        k.scan()
        assert k.now_ms - start <= C.MAX_FAULT_DECLARE_TOTAL_S * 1000
    assert k.detectors["d2"].state == "comm_lost"
    budget_ms = (C.DEFAULT_COMM_LOST_AFTER_S + C.DEFAULT_FAULT_TRIP_AFTER_S) * 1000
    assert k.now_ms - start <= budget_ms + 2 * 100
    assert not k.outputs["fault_relay"]


def test_detector_fault_closes_valve_after_grace_not_before():
    k = Kitchen()
    k.settle()
    k.status["d1"] = C.STATUS_FAULT
    k.run(C.DEFAULT_FAULT_TRIP_AFTER_S * 1000 - 500)
    assert k.valve_open and not k.outputs["fault_relay"]
    k.run(1000)
    assert not k.valve_open


def test_healthy_detector_still_trips_while_another_is_in_fault():
    k = Kitchen(config_doc(alarm={"fault_trip_after_s": 90}))
    k.settle()
    k.silent.add("d2")
    k.run(20000)
    assert k.detectors["d2"].state == "comm_lost" and k.valve_open
    k.gas["d1"] = 40.0
    k.run(1000)
    assert not k.valve_open


def test_fire_input_closes_valve_and_blocks_reset_while_active():
    k = Kitchen(config_doc(interlocks={"fire_input": True}))
    k.settle()
    k.inputs["fire_input"] = True
    k.scan()
    assert not k.valve_open
    events = k.press("reset_button")
    assert any(e["type"] == "reset_refused" and "fire" in e["reason"] for e in events)
    k.inputs["fire_input"] = False
    k.scan()
    assert any(e["type"] == "reset" for e in k.press("reset_button"))


def test_enabled_interlock_that_cannot_be_read_counts_as_active():
    k = Kitchen(config_doc(interlocks={"estop_input": True}))
    del k.inputs["estop_input"]
    k.run(1000)
    events = k.press("reset_button")
    assert any(e["type"] == "reset_refused" and "emergency stop" in e["reason"] for e in events)


def test_fan_failure_closes_gas_in_bs6173_mode():
    k = Kitchen(config_doc(fan={"mode": "continuous", "proving": True, "proving_grace_s": 5, "loss_confirm_s": 5}))
    k.settle()
    k.inputs["fan_proven"] = False
    k.run(4000)
    assert k.valve_open
    k.run(1500)
    assert not k.valve_open
    assert k.events_of("interlock")[-1]["source"] == "ventilation"
    assert k.outputs["fault_relay"] is False, "a dead extract fan is a fault the panel must see"
    k.inputs["fan_proven"] = True
    k.run(500)
    assert k.outputs["fault_relay"] is True and not k.valve_open, "airflow back: healthy, but gas stays off"


def test_schedule_closes_valve_outside_attended_hours_and_never_opens_it():
    schedule = {"enabled": True, "attended": [{"days": EVERY_DAY, "from": "10:00", "to": "22:00"}]}
    k = Kitchen(config_doc(schedule=schedule), wall=(0, 9 * 60 + 59))
    k.run(1000)
    refused = k.press("reset_button")
    assert any(e["type"] == "reset_refused" and "outside attended hours" in e["reason"] for e in refused)
    k.wall = (0, 10 * 60)
    k.run(1000)
    assert not k.valve_open, "the schedule must never open the valve"
    k.press("reset_button")
    k.scan()
    assert k.valve_open
    k.wall = (0, 22 * 60)
    k.scan()
    assert not k.valve_open
    assert "人走阀关" in k.events_of("trip")[-1]["reason"]


def test_unset_clock_blocks_reset_when_a_schedule_is_enabled():
    schedule = {"enabled": True, "attended": [{"days": EVERY_DAY, "from": "00:00", "to": "23:59"}]}
    k = Kitchen(config_doc(schedule=schedule), wall=None)
    k.run(1000)
    events = k.press("reset_button")
    assert any(e["type"] == "reset_refused" and "clock not set" in e["reason"] for e in events)


def test_silence_is_time_limited_and_a_new_alarm_resounds():
    k = Kitchen(config_doc(sounder={"silence_s": 60}))
    k.settle()
    k.gas["d1"] = 12.0
    k.run(1000)
    k.press("silence_button")
    k.scan()
    assert not k.outputs["sounder"] and k.outputs["beacon"]
    k.gas["d2"] = 12.0
    k.run(1000)
    assert k.outputs["sounder"], "a new alarm must re-sound"
    k.press("silence_button")
    k.run(59000)
    assert not k.outputs["sounder"]
    k.run(2000)
    assert k.outputs["sounder"], "silence must expire"


def test_escalation_from_low_to_high_resounds():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 12.0
    k.run(1000)
    k.press("silence_button")
    k.gas["d1"] = 30.0
    k.run(1000)
    assert k.outputs["sounder"]


def test_inhibit_is_time_limited_and_other_detectors_stay_live():
    k = Kitchen()
    k.settle()
    ok, _ = k.safety.command_inhibit(k.now_ms, "d1", 10, "test")
    assert ok
    k.gas["d1"] = 40.0
    k.run(60000)
    assert k.valve_open, "an inhibited detector must not trip"
    k.gas["d2"] = 40.0
    k.run(1000)
    assert not k.valve_open, "the other detectors stay live"
    k.gas["d2"] = 0.0
    k.gas["d1"] = 0.0
    k.run(10 * 60000)
    assert "d1" not in k.safety.inhibits
    assert k.events_of("inhibit")[-1]["state"] == "ended"


def test_inhibit_beyond_its_maximum_or_of_a_second_detector_is_refused():
    k = Kitchen()
    k.settle()
    ok, why = k.safety.command_inhibit(k.now_ms, "d1", C.HARD_INHIBIT_MAX_MIN + 1, "test")
    assert not ok and "minutes" in why
    assert k.safety.command_inhibit(k.now_ms, "d1", 5, "test")[0]
    ok, why = k.safety.command_inhibit(k.now_ms, "d2", 5, "test")
    assert not ok and "one at a time" in why


def test_inhibit_cannot_be_renewed_nor_hide_an_alarm_or_fault_already_present():
    k = Kitchen(config_doc(inhibit={"max_minutes": 10}))
    k.settle()
    assert k.safety.command_inhibit(k.now_ms, "d1", 10, "test")[0]
    ok, why = k.safety.command_inhibit(k.now_ms, "d1", 10, "test")
    assert not ok and "no renewal" in why
    k.gas["d1"] = 40.0
    k.run(10 * 60000 - 200)
    assert k.valve_open
    k.run(300)
    assert not k.valve_open, "the inhibit ends and the gas it hid trips at once"
    ok, why = k.safety.command_inhibit(k.now_ms, "d1", 10, "test")
    assert not ok and "high alarm" in why
    k.status["d2"] = C.STATUS_FAULT
    k.run(1000)
    ok, why = k.safety.command_inhibit(k.now_ms, "d2", 10, "test")
    assert not ok and "fault" in why


def test_two_detector_confirmation_waits_for_a_second_detector_but_not_forever():
    zones = {"default": {"two_detector_confirmation": True, "two_detector_timeout_s": 20}}
    k = Kitchen(config_doc(zones=zones))
    k.settle()
    k.gas["d1"] = 30.0
    k.run(5000)
    assert k.valve_open
    k.gas["d2"] = 12.0
    k.run(1000)
    assert not k.valve_open
    k2 = Kitchen(config_doc(zones=zones))
    k2.settle()
    k2.gas["d1"] = 30.0
    k2.run(19000)
    assert k2.valve_open
    k2.run(2000)
    assert not k2.valve_open


def test_two_detector_zone_trips_on_one_when_the_other_cannot_see():
    zones = {"default": {"two_detector_confirmation": True}}
    k = Kitchen(config_doc(zones=zones, alarm={"fault_trip_after_s": 90}))
    k.settle()
    k.status["d2"] = C.STATUS_FAULT
    k.scan()
    k.gas["d1"] = 30.0
    k.run(1000)
    assert not k.valve_open


def test_valve_that_does_not_close_is_a_valve_fault_that_sounds_and_blocks_reset():
    k = Kitchen(config_doc(valve={"feedback": "closed", "travel_s": 3}))
    k.inputs["valve_feedback_closed"] = True
    k.run(1000)
    k.press("reset_button")
    k.inputs["valve_feedback_closed"] = False
    k.run(5000)
    assert not k.safety.valve_fault
    k.gas["d1"] = 30.0
    k.run(5000)
    assert "not closed" in k.safety.valve_fault
    assert k.outputs["sounder"] and not k.outputs["fault_relay"]
    k.gas["d1"] = 0.0
    k.run(2000)
    events = k.press("reset_button")
    assert any(e["type"] == "reset_refused" and "valve fault" in e["reason"] for e in events)


def test_pulse_valve_gets_a_closing_pulse_at_power_on_and_at_each_trip():
    k = Kitchen(config_doc(valve={"type": "pulse", "pulse_ms": 500}))
    k.scan()
    assert k.outputs["valve"], "closing pulse at power on"
    k.run(600)
    assert not k.outputs["valve"]
    k.run(1000)
    k.press("reset_button")
    k.run(1000)
    assert not k.outputs["valve"], "a pulse valve is re-opened by hand, never by the controller"
    k.gas["d1"] = 30.0
    k.run(1000)
    pulses = [e for e in k.events_of("output") if e["source"] == "valve" and e["state"] == "on"]
    assert len(pulses) == 2


def test_auto_arm_happens_only_when_configured_for_an_external_manual_reset_valve():
    k = Kitchen()
    k.run(5000)
    assert not k.valve_open
    k = Kitchen(config_doc(valve={"startup": "auto_arm_external_manual_valve"}))
    k.run(5000)
    assert k.valve_open
    k.gas["d1"] = 30.0
    k.run(1000)
    k.gas["d1"] = 0.0
    k.run(5000)
    assert not k.valve_open, "auto-arm is for power-on only; a trip still needs a local reset"


def test_remote_close_command_latches_the_valve():
    k = Kitchen()
    k.settle()
    ok, _ = k.safety.command_close_valve(k.now_ms, "platform")
    assert ok
    k.scan()
    assert not k.valve_open
    assert "close valve from platform" in k.events_of("trip")[-1]["reason"]


def test_controller_offers_no_command_that_opens_the_valve():
    public = [name for name in dir(Controller) if not name.startswith("_")]
    assert sorted(public) == ["awaiting_reply", "bus_error", "bus_stats", "command", "drain_events",
                              "latched", "minute", "next_wakeup_us", "readings", "readings_ppm", "record",
                              "reset_blockers", "service_buses", "status", "step"]
    assert sorted(COMMANDS) == ["access", "close_valve", "daily_check", "end_inhibit", "inhibit", "reset", "silence",
                                "status",
                                "sync_time", "test_output"]


def test_every_event_has_a_strictly_increasing_sequence_number():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    k.run(3000)
    seqs = [e["seq"] for e in k.events]
    assert seqs == list(range(1, len(seqs) + 1))


def run_flapping(k, statuses, ms):
    """Each scan the detector d1 reports the next status of the cycle."""
    end = k.now_ms + ms
    i = 0
    while k.now_ms < end:
        k.status["d1"] = statuses[i % len(statuses)]
        k.scan()
        i += 1


def test_detector_flapping_between_fault_and_warmup_still_closes_within_the_fault_budget():
    k = Kitchen()
    k.settle()
    run_flapping(k, [C.STATUS_FAULT, C.STATUS_WARMUP], (C.DEFAULT_FAULT_TRIP_AFTER_S + 1) * 1000)
    assert not k.valve_open
    assert "fault: d1" in k.events_of("trip")[-1]["reason"]


def test_detector_flapping_between_fault_and_pre_alarm_still_closes_within_the_fault_budget():
    k = Kitchen()
    k.settle()
    run_flapping(k, [C.STATUS_FAULT, C.STATUS_PRE_ALARM], (C.DEFAULT_FAULT_TRIP_AFTER_S + 1) * 1000)
    assert not k.valve_open


def test_gas_readings_interleaved_with_warmup_samples_still_confirm():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    run_flapping(k, [C.STATUS_NORMAL, C.STATUS_WARMUP], 1000)
    assert not k.valve_open
    assert k.detectors["d1"].state == "high_alarm"


def test_detector_back_in_warmup_in_service_is_blind_and_closes_like_a_fault():
    k = Kitchen()
    k.settle()
    k.status["d1"] = C.STATUS_WARMUP
    k.scan()
    assert k.detectors["d1"].state == "warmup" and not k.outputs["fault_relay"]
    k.run((C.DEFAULT_FAULT_TRIP_AFTER_S + 1) * 1000)
    assert not k.valve_open
    assert "fault: d1 warmup" in k.events_of("trip")[-1]["reason"]


def test_power_on_warmup_is_not_a_fault():
    k = Kitchen()
    k.status["d1"] = C.STATUS_WARMUP
    k.run(60000)
    assert k.outputs["fault_relay"] and k.detectors["d1"].state == "warmup"


def test_a_trip_during_power_on_cancels_the_auto_arm():
    k = Kitchen(config_doc(valve={"startup": "auto_arm_external_manual_valve"}))
    k.status["d1"] = C.STATUS_WARMUP
    k.scan()
    k.safety.command_close_valve(k.now_ms, "platform")
    k.run(500)
    k.status["d1"] = C.STATUS_NORMAL
    k.run(10000)
    assert not k.valve_open, "a remote close during start-up must not be overridden by the auto-arm"
    assert not k.events_of("reset")


def test_pulse_valve_gets_a_new_pulse_and_a_trip_record_for_a_new_cause_while_latched():
    schedule = {"enabled": True, "attended": [{"days": EVERY_DAY, "from": "10:00", "to": "22:00"}]}
    k = Kitchen(config_doc(valve={"type": "pulse"}, schedule=schedule), wall=(0, 23 * 60))
    k.run(2000)
    pulses_before = len([e for e in k.events_of("output") if e["source"] == "valve" and e["state"] == "on"])
    k.gas["d1"] = 30.0
    k.run(2000)
    pulses = [e for e in k.events_of("output") if e["source"] == "valve" and e["state"] == "on"]
    assert len(pulses) == pulses_before + 1, "someone may have opened the valve by hand at night"
    assert "new: gas: d1 high alarm" in k.events_of("trip")[-1]["reason"]


def test_two_detector_timeout_is_not_restarted_by_dips_below_the_high_set_point():
    zones = {"default": {"two_detector_confirmation": True, "two_detector_timeout_s": 20}}
    k = Kitchen(config_doc(zones=zones))
    k.settle()
    for _ in range(6):
        k.gas["d1"] = 30.0
        k.run(4000)
        k.gas["d1"] = 20.0
        k.run(1000)
    assert not k.valve_open


def test_enabled_interlock_reported_as_unreadable_counts_as_active():
    k = Kitchen(config_doc(interlocks={"estop_input": True}))
    k.settle()
    k.inputs["estop_input"] = None
    k.scan()
    assert not k.valve_open


def test_silence_with_nothing_sounding_is_refused():
    k = Kitchen()
    k.settle()
    ok, why = k.safety.command_silence(k.now_ms, "test")
    assert not ok and why == "nothing is sounding"


def test_safe_outputs_close_every_valve_type():
    from gaslatch.core.safety import safe_outputs

    assert safe_outputs("hold")["valve"] is False
    assert safe_outputs("motorised")["valve"] is False
    assert safe_outputs("pulse")["valve"] is True, "a pulse valve closes on a pulse"
    for kind in ("hold", "pulse", "motorised"):
        outputs = safe_outputs(kind)
        # De-energised, as a power cut leaves them: no sounder blip when systemd restarts the unit.
        assert outputs["fault_relay"] is False
        assert not outputs["sounder"] and not outputs["beacon"] and not outputs["fan"]


def test_a_reset_button_held_or_stuck_from_power_on_is_never_a_press():
    k = Kitchen(config_doc(valve={"startup": "manual_reset"}))
    k.inputs["reset_button"] = True
    for _ in range(50):
        k.inputs["reset_button"] = True
        k.scan()
    assert not k.valve_open and not k.events_of("reset") and not k.events_of("reset_refused")
    k.inputs["reset_button"] = False
    k.scan()
    assert any(e["type"] == "reset" for e in k.press("reset_button")), "released, then pressed: a real press"


def test_an_unreadable_read_between_two_pressed_reads_is_not_a_press():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    k.run(2000)
    k.gas["d1"] = 0.0
    k.run(1000)
    k.inputs["reset_button"] = True
    k.scan()  # a refused or accepted press: either way the button is now held
    k.safety.command_close_valve(k.now_ms, "test")
    k.scan()
    before = len(k.events_of("reset"))
    for level in (None, True, None, True):
        k.inputs["reset_button"] = level
        k.scan()
    assert len(k.events_of("reset")) == before and not k.valve_open


def lose_every_other_poll(k, name, scans):
    """A wire that loses half the replies: the detector's samples still come every 200 ms."""
    for i in range(scans):
        if i % 2:
            k.silent.add(name)
        else:
            k.silent.discard(name)
        k.scan()


def test_half_the_polls_failing_is_a_degraded_link_that_drops_the_fault_relay_and_blocks_reset():
    """Every other poll lost: the samples still come every 200 ms, well inside the link budget, but a
    wire that loses half its replies is a fault to be repaired, not a detector to trust."""
    k = Kitchen()
    k.settle()
    lose_every_other_poll(k, "d1", 16)
    d1 = k.detectors["d1"]
    assert d1.state == D.NORMAL and d1.distrust() == D.LINK_DEGRADED and d1.blind
    assert not k.outputs["fault_relay"] and k.valve_open
    health = k.events_of("detector_health")
    assert [(e["source"], e["state"], e["severity"]) for e in health] == [("d1", "link_degraded", "fault")]
    assert "8 of the last 16 polls failed" in health[0]["reason"]
    k.safety.command_close_valve(k.now_ms, "test")
    k.scan()
    refused = [e for e in k.press("reset_button") if e["type"] == "reset_refused"]
    assert "d1: link degraded, 9 of the last 16 polls failed" in refused[0]["reason"]
    k.silent.discard("d1")
    k.run(C.DEFAULT_CLEAR_HOLD_S * 1000)
    assert k.detectors["d1"].distrust() == "" and k.outputs["fault_relay"]
    assert k.events_of("detector_health")[-1]["state"] == "ok"
    assert any(e["type"] == "reset" for e in k.press("reset_button"))


def test_a_degraded_link_closes_the_valve_after_the_fault_trip_delay():
    k = Kitchen()
    k.settle()
    lose_every_other_poll(k, "d1", 16)
    start = k.now_ms
    while k.valve_open:
        k.silent.symmetric_difference_update({"d1"})
        k.scan()
        assert k.now_ms - start <= C.DEFAULT_FAULT_TRIP_AFTER_S * 1000 + 100
    assert "fault: d1" in k.safety.trip_reason



def test_a_link_losing_about_half_its_replies_is_degraded_once_not_flapping():
    k = Kitchen()
    k.settle()
    for i in range(400):
        if i % 2 or i % 7 == 0:
            k.silent.add("d1")
        else:
            k.silent.discard("d1")
        k.scan()
    assert [e["state"] for e in k.events_of("detector_health")] == ["link_degraded"]
    k.silent.discard("d1")
    d1 = k.detectors["d1"]
    for _ in range(C.LINK_WINDOW_POLLS):
        k.scan()
        assert (d1.distrust() == D.LINK_DEGRADED) == (4 * d1.failed_polls() > C.LINK_WINDOW_POLLS)
    assert d1.distrust() == "" and [e["state"] for e in k.events_of("detector_health")] == ["link_degraded", "ok"]


def test_inhibit_is_refused_while_a_reading_above_a_set_point_is_inside_the_clear_hold():
    k = Kitchen()
    k.settle()
    k.gas["d1"] = 30.0
    k.scan()  # one unconfirmed sample above the high set point: still normal
    k.gas["d1"] = 0.0
    k.run(3000)
    assert k.detectors["d1"].state == D.NORMAL
    ok, message = k.safety.command_inhibit(k.now_ms, "d1", 10, "test")
    assert not ok and "reported gas or a fault 3 s ago" in message
    k.run(C.DEFAULT_CLEAR_HOLD_S * 1000)
    assert k.safety.command_inhibit(k.now_ms, "d1", 10, "test")[0]
