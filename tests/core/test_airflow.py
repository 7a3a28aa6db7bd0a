"""Airflow proving (airflow.py): start-up proving, loss confirmation without nuisance trips, the no-air
check at power-on and the bridged switch, through the real Safety on simulated time."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.core import airflow as A
from gaslatch.core.config import ConfigError, load_config
from tests.core.safety_harness import PERIOD_MS, Kitchen, config_doc

LOSS_S = 3


def kitchen(fan_wired=False, proven_at_start=True, **fan):
    doc = config_doc(fan=dict({"mode": "continuous", "proving": True, "proving_grace_s": 5,
                               "loss_confirm_s": LOSS_S, "rundown_s": 20}, **fan))
    if fan_wired:
        doc["lines"] = {"fan": {"pin": 27}, "fan_proven": {"pin": 16}}
    k = Kitchen(doc)
    k.inputs["fan_proven"] = proven_at_start
    return k


def armed(**kw):
    k = kitchen(**kw)
    k.settle()
    assert k.valve_open
    return k


def ventilation_trips(k):
    return [e for e in k.events if e["type"] == "interlock" and e["source"] == "ventilation" and e["state"] == "active"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 45)), min_size=1, max_size=12))
def test_a_chattering_switch_trips_exactly_when_airflow_was_lost_for_the_confirmation_time(runs):
    """Runs of (switch made?, scans). The oracle: a run of n open scans spans (n-1) scan periods; the gas
    closes if and only if one spanned loss_confirm_s."""
    k = armed()
    for made, scans in runs:
        k.inputs["fan_proven"] = made
        k.run(scans * PERIOD_MS)
    k.inputs["fan_proven"] = True
    k.run(PERIOD_MS)
    merged = []  # adjacent runs of one level are one run
    for made, scans in runs:
        if merged and merged[-1][0] == made:
            merged[-1][1] += scans
        else:
            merged.append([made, scans])
    longest_open = max([(n - 1) * PERIOD_MS for made, n in merged if not made] or [-1])
    expect_trip = longest_open >= LOSS_S * 1000
    assert bool(ventilation_trips(k)) == expect_trip, (runs, longest_open)
    assert k.valve_open == (not expect_trip)


def test_a_fan_that_never_proves_closes_the_gas_after_the_grace_and_blocks_the_reset():
    k = kitchen(proven_at_start=False)
    k.run(4900)
    assert not ventilation_trips(k)
    refused = k.press("reset_button")
    assert any("start the extract fan first" in e["reason"] for e in refused if e["type"] == "reset_refused")
    k.run(200)
    assert ventilation_trips(k) and k.outputs["fault_relay"] is False


def test_an_unreadable_switch_is_no_proof_of_airflow():
    k = armed()
    k.inputs["fan_proven"] = None
    k.run(LOSS_S * 1000 + PERIOD_MS)
    assert ventilation_trips(k) and not k.valve_open


def test_the_no_air_check_holds_the_fan_off_until_the_switch_opens_then_proves_it():
    k = kitchen(fan_wired=True, proven_at_start=True)  # still running down after a restart
    k.run(3000)
    assert k.outputs["fan"] is False and k.safety.airflow.state == A.CHECKING
    k.inputs["fan_proven"] = False  # it stopped
    k.run(PERIOD_MS * 2)
    assert k.outputs["fan"] is True and k.safety.airflow.state == A.STARTING
    k.inputs["fan_proven"] = True  # the fan's airflow makes the switch
    k.run(PERIOD_MS)
    k.press("reset_button")
    k.run(PERIOD_MS)
    assert k.valve_open and not ventilation_trips(k)


def test_a_switch_made_with_the_fan_stopped_past_the_rundown_is_bridged_a_fault_that_keeps_the_gas_off():
    k = kitchen(fan_wired=True, proven_at_start=True)
    k.run(19900)
    assert not ventilation_trips(k) and k.outputs["fan"] is False
    k.run(200)
    trip = ventilation_trips(k)
    assert trip and "bridged or stuck" in trip[0]["reason"]
    assert k.outputs["fan"] is True, "the fan runs: ventilation never hurts"
    assert k.outputs["fault_relay"] is False
    refused = k.press("reset_button")
    assert any("bridged or stuck switch" in e["reason"] for e in refused if e["type"] == "reset_refused")
    assert not k.valve_open
    # The switch opens at last (the bridge removed): the fan must then prove it as at any start.
    k.inputs["fan_proven"] = False
    k.run(PERIOD_MS)
    k.inputs["fan_proven"] = True
    k.run(PERIOD_MS)
    assert k.safety.airflow.state == A.PROVEN and k.outputs["fault_relay"] is True
    assert not k.valve_open, "the gas never comes back by itself"


def test_a_gas_alarm_starts_the_fan_at_once_even_during_the_no_air_check():
    k = kitchen(fan_wired=True, proven_at_start=True)
    k.run(1000)
    assert k.outputs["fan"] is False
    k.gas["d1"] = 30.0
    k.run(3000)
    assert k.outputs["fan"] is True


def test_bs6173_mode_cannot_switch_the_interlock_off():
    with pytest.raises(ConfigError) as err:
        load_config(config_doc(fan={"mode": "continuous", "proving": False, "bs6173": True}))
    assert err.value.problems[0].path == "$.fan.proving"
    with pytest.raises(ConfigError):
        load_config(config_doc(fan={"mode": "alarm", "proving": True, "bs6173": True}))
    assert load_config(config_doc(fan={"mode": "continuous", "proving": True, "bs6173": True}))["fan"]["bs6173"]


def test_every_state_but_proven_blocks_a_reset_and_the_table_reaches_every_state():
    for state in A.STATES:
        assert bool(A.BLOCKER_TEXT.get(state)) == (state != A.PROVEN)
    reached = {A.CHECKING, A.STARTING}
    for row in A.TRANSITIONS.values():
        reached.update(row.values())
    assert reached == set(A.STATES)
