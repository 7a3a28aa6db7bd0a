"""The controller end to end in simulated time: bytes and line levels in, bytes, levels and events out."""

import pytest

from gaslatch.core import modbus_rtu
from gaslatch.core.config import load_config
from gaslatch.core.controller import Controller
from gaslatch.core.detector_profile import list_profiles, load_profile

from gaslatch_tools.kitchen_sim import KitchenSim

PROFILES = dict((name, load_profile(name)) for name in list_profiles())
KINDS = dict((name, profile.kind) for name, profile in PROFILES.items())


def controller(detectors, **sections):
    doc = {"unit": {"site": "s", "name": "u"}, "detectors": detectors}
    doc.update(sections)
    return Controller(load_config(doc, KINDS), PROFILES, 0)


def run(ctl, until_ms, period_ms=100, **step_kw):
    events = []
    t = 0
    result = None
    while t <= until_ms:
        result = ctl.step(t, **step_kw)
        events.extend(result.events)
        t += period_ms
    return result, events


def test_requests_on_the_wire_are_well_formed_reads_of_the_profile_registers():
    sim = KitchenSim(n_detectors=2)
    seen = []
    for i in range(30):
        result = sim.scan(i * 100)
        if result.tx["bus1"]:
            seen.append(modbus_rtu.parse_request(result.tx["bus1"]))
    assert (1, 3, 0, 10) in seen and (2, 3, 0, 10) in seen


def test_leak_on_the_bus_trips_the_valve_and_sets_fan_sounder_beacon():
    sim = KitchenSim(n_detectors=2)
    sim.run_until(11000)  # the emulated detectors warm up for one poll; then the 10 s clear hold
    sim.press("reset_button")
    sim.run_until(12000)
    assert sim.outputs["valve"]
    sim.set_gas("d2", 400)
    sim.run_until(15000)
    assert not sim.outputs["valve"]
    assert sim.outputs["fan"] and sim.outputs["sounder"] and sim.outputs["beacon"]
    status = sim.controller.status(sim.now_ms)
    assert status["detectors"]["d2"]["state"] == "high_alarm"
    assert status["detectors"]["d2"]["concentration_centi_pct_lel"] == 4000
    assert status["latched"] and "d2 high alarm" in status["trip_reason"]


def test_a_babbling_bus_is_never_talked_over_and_its_detectors_go_comm_lost():
    ctl = controller({"d1": {"kind": "modbus", "bus": "b", "address": 1, "profile": "cn-generic"}},
                     buses={"b": {"port": "/dev/null"}})
    events = []
    for t in range(0, 15000, 100):
        result = ctl.step(t, {"b": b"\x01\x03\xff\x00\x13"})
        events.extend(result.events)
    stats = ctl.status(15000)["buses"]["b"]
    assert stats["responses_ok"] == 0 and stats["unexpected_bytes"] == 5 * 150
    assert stats["requests"] == 0, "the master must wait for a quiet bus before it transmits"
    assert any(e["type"] == "detector" and e["state"] == "comm_lost" for e in events)


def test_analog_detector_over_range_current_is_a_high_alarm_and_open_wire_a_fault():
    ctl = controller({"a1": {"kind": "analog", "channel": "ain0"}})
    _, events = run(ctl, 1000, analog_ua={"ain0": 4000})
    assert ctl.status(1000)["detectors"]["a1"]["state"] == "normal"
    result = ctl.step(1100, analog_ua={"ain0": 22000})
    assert ctl.status(1100)["detectors"]["a1"]["state"] == "high_alarm"
    assert not result.outputs["valve"] and result.outputs["sounder"]
    ctl2 = controller({"a1": {"kind": "analog", "channel": "ain0"}})
    run(ctl2, 1000, analog_ua={"ain0": 500})
    assert ctl2.status(1000)["detectors"]["a1"]["state"] == "fault"


def test_analog_channel_that_cannot_be_read_goes_comm_lost():
    ctl = controller({"a1": {"kind": "analog", "channel": "ain0"}})
    run(ctl, 11000, analog_ua={})
    assert ctl.status(11000)["detectors"]["a1"]["state"] == "comm_lost"


def test_dry_contact_detector_alarm_trips_and_its_fault_contact_is_a_fault():
    ctl = controller({"c1": {"kind": "contact", "line": "det1_alarm", "fault_line": "det1_fault"}})
    run(ctl, 1000, inputs={"det1_alarm": False, "det1_fault": False, "reset_button": False})
    assert ctl.status(1000)["detectors"]["c1"]["state"] == "normal"
    ctl.step(1100, inputs={"det1_alarm": True, "det1_fault": False})
    assert ctl.status(1100)["detectors"]["c1"]["state"] == "high_alarm"
    ctl2 = controller({"c1": {"kind": "contact", "line": "det1_alarm", "fault_line": "det1_fault"}})
    run(ctl2, 1000, inputs={"det1_alarm": False, "det1_fault": True})
    assert ctl2.status(1000)["detectors"]["c1"]["state"] == "fault"


def test_contact_line_that_cannot_be_read_is_no_evidence_of_health():
    ctl = controller({"c1": {"kind": "contact", "line": "det1_alarm"}})
    run(ctl, 1000, inputs={"det1_alarm": False})
    assert ctl.status(1000)["detectors"]["c1"]["state"] == "normal"
    t = 1100
    while ctl.status(t)["detectors"]["c1"]["state"] == "normal":
        ctl.step(t, inputs={"det1_alarm": None})
        t += 100
        assert t < 12000
    assert ctl.status(t)["detectors"]["c1"]["state"] == "comm_lost"
    assert "det1_alarm not read" in ctl.status(t)["detectors"]["c1"]["reason"]


def test_profile_minimum_poll_interval_counts_in_the_alarm_budget():
    import copy

    import pytest
    from gaslatch.core.config import ConfigError
    from gaslatch.core.detector_profile import profile_from_document

    slow = copy.deepcopy(PROFILES["cn-generic"].document)
    slow["min_poll_interval_ms"] = 4000
    profiles = dict(PROFILES, slow=profile_from_document("slow", slow))
    doc = {"unit": {"site": "s", "name": "u"}, "buses": {"b": {"port": "/dev/null"}},
           "detectors": {"x1": {"kind": "modbus", "bus": "b", "address": 1, "profile": "slow"}},
           "alarm": {"confirm_samples": 3}}
    cfg = load_config(doc, {"slow": "modbus"})  # 3 x 500 ms + 100 ms: the file alone passes
    with pytest.raises(ConfigError) as err:
        Controller(cfg, profiles, 0)  # 3 x 4000 ms + 100 ms with the profile's minimum does not
    assert "$.buses.b" in str(err.value) and "12100 ms" in str(err.value)


def test_platform_events_share_the_core_numbering_and_cannot_fake_safety_events():
    import pytest

    ctl = controller({"c1": {"kind": "contact", "line": "x"}})
    first = ctl.step(0, inputs={"x": False}).events
    rec = ctl.record(100, "shutdown", "warning", "controller", "stopped", None, "SIGTERM")
    assert rec["seq"] == first[-1]["seq"] + 1
    assert ctl.drain_events() == [rec]
    with pytest.raises(ValueError):
        ctl.record(100, "reset", "info", "x", "armed")


def test_bus_error_is_the_reason_its_detectors_go_comm_lost():
    ctl = controller({"d1": {"kind": "modbus", "bus": "b", "address": 1, "profile": "cn-generic"}},
                     buses={"b": {"port": "/dev/ttyUSB9"}})
    events = []
    for t in range(0, 11000, 100):
        ctl.bus_error(t, "b", "[Errno 2] could not open port /dev/ttyUSB9")
        events.extend(ctl.step(t).events)
    lost = [e for e in events if e["type"] == "detector" and e["state"] == "comm_lost"]
    assert lost and "could not open port /dev/ttyUSB9" in lost[0]["reason"]


def test_a_bus_too_slow_on_the_wire_for_the_alarm_budget_is_refused_with_its_wire_time():
    """At 1200 baud a cn-generic poll takes ~330 ms on the wire: 16 detectors and 2 confirming samples
    need ~10.6 s, which the config alone (2 scans x 10 ms per poll) cannot see."""
    from gaslatch.core.config import ConfigError, load_config
    from gaslatch.core.detector_profile import load_profile

    detectors = {"d%d" % i: {"kind": "modbus", "bus": "bus1", "address": i, "profile": "cn-generic",
                             "poll_interval_ms": 500} for i in range(1, 17)}
    doc = {"unit": {"site": "s", "name": "u"}, "scan": {"period_ms": 10},
           "buses": {"bus1": {"port": "/dev/ttyUSB0", "baud": 1200}}, "detectors": detectors}
    cfg = load_config(doc, {"cn-generic": "modbus"})
    with pytest.raises(ConfigError) as caught:
        Controller(cfg, {"cn-generic": load_profile("cn-generic")}, 0)
    assert "on the wire" in str(caught.value) and "$.buses.bus1" in str(caught.value)
    doc["buses"]["bus1"]["baud"] = 9600
    Controller(load_config(doc, {"cn-generic": "modbus"}), {"cn-generic": load_profile("cn-generic")}, 0)


def test_the_status_s_recent_events_carry_their_values_so_the_panel_names_the_reading():
    from gaslatch import event_text
    from gaslatch.translation import CHINESE, in_language

    sim = KitchenSim(n_detectors=2)
    sim.run_until(11000)
    sim.press("reset_button")
    sim.run_until(12000)
    sim.set_gas("d2", 400)
    sim.run_until(15000)
    recent = sim.controller.status(sim.now_ms)["recent_events"]
    (alarm,) = [e for e in recent if e["type"] == "detector" and e["state"] == "high_alarm"]
    assert alarm["value"] == 4000
    assert event_text.headline(alarm) == "detector d2: high alarm (40.00 %LEL)"
    assert "40.00 %LEL" in event_text.headline(alarm, in_language(CHINESE).gettext)
    assert all("value" in e for e in recent)
