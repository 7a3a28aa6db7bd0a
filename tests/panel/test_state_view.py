"""The panel's words for each state: pure, from status replies like the controller's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.panel.state_view import ALARM, FAULT, GAS_OFF, GAS_ON, NO_CONTACT, view


def status(**overrides) -> dict:
    base = {"latched": False, "trip_reason": "", "valve_fault": "", "reset_blockers": [], "interlocks": {},
            "inhibits": {}, "silenced_s": None, "schedule": None,
            "detectors": {"d1": {"state": "normal", "concentration_centi_pct_lel": 0, "distrust": "", "reason": ""}},
            "config": {"identity": "ab" * 32, "short": "abababababab", "version": 3}}
    base.update(overrides)
    return {"ok": True, "status": base}


def test_each_state_has_its_words():
    assert view(status())["kind"] == GAS_ON
    off = view(status(latched=True, trip_reason="outside attended hours"))
    assert off["kind"] == GAS_OFF and off["reason"] == "outside attended hours"
    assert off["reset"]["hint"] == ("请在控制器上按复位键", "Press RESET on the unit")
    alarm = view(status(latched=True, reset_blockers=["d1: high alarm"], detectors={"d1": {
        "state": "high_alarm", "concentration_centi_pct_lel": 6000, "distrust": "", "reason": ""}}))
    assert alarm["kind"] == ALARM and "60.0 %LEL" in alarm["reason"] and alarm["reset"]["blockers"] == ["d1: high alarm"]
    assert view(status(valve_fault="did not close"))["todo"][1].startswith("The valve did not move")
    assert view(status(self_test={"faults": ["file modified: core/safety.py"]}))["kind"] == FAULT
    assert view(None, "no control socket")["kind"] == NO_CONTACT
    assert view(status())["config"]["version"] == 3


STATES = st.sampled_from(["normal", "low_alarm", "high_alarm", "fault", "comm_lost", "warmup", "??", ""])


@settings(max_examples=300, deadline=None)
@given(dets=st.dictionaries(st.text(max_size=8), st.fixed_dictionaries({
    "state": STATES, "concentration_centi_pct_lel": st.none() | st.integers(-10 ** 6, 10 ** 6),
    "distrust": st.sampled_from(["", "unstable"]), "reason": st.text(max_size=20)}), max_size=4),
    latched=st.booleans(), valve_fault=st.sampled_from(["", "no feedback"]))
def test_an_alarm_anywhere_is_never_shown_as_anything_else_and_gas_on_only_when_all_is_well(dets, latched,
                                                                                          valve_fault):
    v = view(status(detectors=dets, latched=latched, valve_fault=valve_fault))
    if any(d["state"] in ("low_alarm", "high_alarm") for d in dets.values()):
        assert v["kind"] == ALARM
    if v["kind"] == GAS_ON:
        assert not latched and not valve_fault
        assert all(d["state"] == "normal" and not d["distrust"] for d in dets.values()), "in doubt: not green"
    assert v["gas_on"] is (not latched)


@settings(max_examples=100, deadline=None)
@given(reply=st.none() | st.dictionaries(st.text(max_size=5), st.none() | st.text(max_size=5) | st.booleans()))
def test_any_reply_that_is_not_a_status_is_shown_as_no_contact(reply):
    if reply and reply.get("ok") and isinstance(reply.get("status"), dict):
        return
    assert view(reply, "why")["kind"] == NO_CONTACT

