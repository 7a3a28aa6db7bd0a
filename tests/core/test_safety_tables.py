"""The trip latch and pulse valve tables in safety.py: the safety rules read off the tables themselves,
the behaviour they give a kitchen, and the diagrams docs/safety.md draws from them."""

from gaslatch.core import config_schema
from gaslatch.core import safety as SF
from gaslatch_tools import safety_diagram

from tests.core.safety_harness import Kitchen, config_doc

LATCH_TRIGGERS = (SF.TRIP, SF.GAS_TRIP, SF.RESET, SF.AUTO_ARM, SF.PROVE, SF.PROVED, SF.PROVING_FAILED)
PULSE_TRIGGERS = (SF.CLOSE, SF.NOT_CLOSED, SF.PULSE_DONE)


def _well_formed(states, transitions, triggers):
    assert sorted(transitions) == sorted(states), "one row per state, no row for anything else"
    for state, row in transitions.items():
        for trigger, new in row.items():
            assert trigger in triggers, "%s: unknown trigger %s" % (state, trigger)
            assert new in states, "%s --%s--> %s: not a state" % (state, trigger, new)


def test_every_latch_and_pulse_state_has_a_row_and_every_arrow_lands_on_a_state():
    _well_formed(SF.LATCH_STATES, SF.LATCH_TRANSITIONS, LATCH_TRIGGERS)
    _well_formed(SF.PULSE_STATES, SF.PULSE_TRANSITIONS, PULSE_TRIGGERS)
    assert set(SF.PULSING) < set(SF.PULSE_STATES)


def test_power_on_never_arms_whatever_the_valve_startup():
    assert sorted(SF.LATCH_AT_POWER_ON) == sorted(config_schema.VALVE_STARTUPS)
    assert SF.ARMED not in SF.LATCH_AT_POWER_ON.values()


def test_only_an_accepted_reset_the_power_on_auto_arm_or_a_passed_proving_after_a_reset_arms_the_latch():
    for state, row in SF.LATCH_TRANSITIONS.items():
        for trigger, new in row.items():
            if new == SF.ARMED and state != SF.ARMED:
                assert trigger == SF.RESET or (trigger == SF.AUTO_ARM and state == SF.AWAITING_AUTO_ARM) or (
                    trigger == SF.PROVED and state == SF.PROVING), "%s --%s--> armed" % (state, trigger)
            if new == SF.PROVING and state != SF.PROVING:
                assert trigger == SF.PROVE, "only an accepted reset starts a proving: %s --%s-->" % (state, trigger)
    assert SF.AWAITING_AUTO_ARM not in SF.LATCH_TRANSITIONS[SF.PROVING].values()
    assert SF.LATCH_TRANSITIONS[SF.PROVING][SF.PROVING_FAILED] == SF.LATCHED, "a failed proving ends closed"
    targets = [new for row in SF.LATCH_TRANSITIONS.values() for new in row.values()]
    assert SF.AWAITING_AUTO_ARM not in targets, "the auto-arm is for power-on only: nothing leads back to it"


def test_every_trip_leaves_the_latch_closed_and_only_a_reset_ends_a_gas_latch():
    for state in SF.LATCH_STATES:
        for trigger in (SF.TRIP, SF.GAS_TRIP):
            assert SF.LATCH_TRANSITIONS[state].get(trigger, state) != SF.ARMED
        assert SF.LATCH_TRANSITIONS[state].get(SF.GAS_TRIP, state) == SF.GAS_LATCHED
    assert SF.LATCH_TRANSITIONS[SF.GAS_LATCHED] == {SF.RESET: SF.ARMED, SF.PROVE: SF.PROVING}


def test_the_pulse_table_gives_at_most_three_pulses_per_trip_and_every_pulse_ends():
    def most_pulses(state):
        """The most pulses entered from `state` without a fresh `close` (the table minus close is acyclic)."""
        row = SF.PULSE_TRANSITIONS[state]
        best = 0
        for trigger in (SF.NOT_CLOSED, SF.PULSE_DONE):
            new = row.get(trigger)
            if new is not None:
                best = max(best, (1 if new in SF.PULSING and new != state else 0) + most_pulses(new))
        return best

    assert 1 + most_pulses(SF.PULSE_1) == 3
    for state in SF.PULSE_STATES:
        assert SF.PULSE_TRANSITIONS[state][SF.CLOSE] == SF.PULSE_1, "a trip always starts a fresh first pulse"
        if state in SF.PULSING:
            assert SF.PULSE_TRANSITIONS[state][SF.PULSE_DONE] not in SF.PULSING, "a pulse always ends"


def test_a_pulse_valve_still_reporting_open_gets_three_pulses_then_is_a_valve_fault():
    k = Kitchen(config_doc(valve={"type": "pulse", "pulse_ms": 500, "feedback": "closed", "travel_s": 1}))
    k.inputs["valve_feedback_closed"] = False
    k.run(2900)
    pulses = [e for e in k.events_of("output") if e["source"] == "valve" and e["state"] == "on"]
    assert len(pulses) == 3, "the first pulse and two repeats, one a second apart"
    assert not k.events_of("valve_fault")
    k.run(200)
    assert [e["state"] for e in k.events_of("valve_fault")] == ["fault"]
    assert "commanded closed but not closed after 1 s" in k.safety.valve_fault
    k.run(5000)
    assert len([e for e in k.events_of("output") if e["source"] == "valve" and e["state"] == "on"]) == 3
    events = k.press("reset_button")
    assert any(e["type"] == "reset_refused" and "valve fault" in e["reason"] for e in events)


def test_a_gas_trip_keeps_the_beacon_on_after_the_gas_clears_until_the_reset():
    k = Kitchen()
    k.run(1000)
    assert not k.outputs["beacon"], "a power-on latch is no gas trip"
    k.safety.command_close_valve(k.now_ms, "platform")
    k.run(1000)
    assert not k.outputs["beacon"], "nor is a remote close"
    k.gas["d1"] = 30.0
    k.run(1000)
    k.gas["d1"] = 0.0
    k.run(15000)
    assert k.detectors["d1"].state == "normal" and not k.outputs["sounder"]
    assert k.outputs["beacon"], "gas while latched by something else is still a gas trip"
    k.press("reset_button")
    assert not k.outputs["beacon"] and k.valve_open


def test_the_diagrams_in_docs_safety_md_are_drawn_from_the_tables_the_code_runs(monkeypatch, tmp_path):
    doc = safety_diagram.DOC.read_text(encoding="utf-8")
    assert safety_diagram.stale(doc) == []
    monkeypatch.setitem(SF.PULSE_TRANSITIONS, SF.AFTER_2, {SF.CLOSE: SF.PULSE_1})
    assert safety_diagram.stale(doc) == ["pulse valve diagram"]
    monkeypatch.setitem(SF.LATCH_TRANSITIONS, SF.GAS_LATCHED, {})
    assert safety_diagram.stale(doc) == ["trip latch diagram", "pulse valve diagram"]
    copy = tmp_path / "safety.md"
    copy.write_text(doc, encoding="utf-8")
    monkeypatch.setattr(safety_diagram, "DOC", copy)
    assert safety_diagram.main(["--check"]) == 1
    assert safety_diagram.main([]) == 0
    assert safety_diagram.main(["--check"]) == 0
    assert "after_pulse_2 --> pulse_3" not in copy.read_text(encoding="utf-8")
