"""The command table: what each channel may send, the reset window and the output tests, all in the core."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.core import commands as K
from gaslatch.core.output_test import MAX_TEST_OUTPUT_MS
from gaslatch_tools.kitchen_sim import KitchenSim, base_config

WINDOW_S = 20


def kitchen(allow_silence=False, lines=("sounder", "beacon", "fan", "fault_relay")):
    """Two healthy detectors, tripped at power-on (latched until the RESET button), sounder etc. wired."""
    doc = base_config(2)
    doc["lines"] = dict((line, {"pin": 20 + i}) for i, line in enumerate(lines))
    doc["control"] = {"reset_window_s": WINDOW_S}
    doc["uplink"] = {"allow_silence": allow_silence}
    sim = KitchenSim(config_doc=doc)
    sim.run_until(12000)  # one warm-up poll and the 10 s clear hold: nothing blocks a reset
    return sim


def step(sim, ms=100):
    sim.run_until(sim.now_ms + ms)


def test_a_reset_command_waits_for_the_button_and_hears_it_was_accepted():
    sim = kitchen()
    sim.command("reset", {})
    step(sim)
    assert sim.replies[-1].endswith("reset ok waiting_for_button")
    assert sim.controller.latched
    sim.press("reset_button")
    step(sim)
    assert sim.replies[-1].endswith("reset settled 1 accepted")
    assert not sim.controller.latched


def test_a_reset_command_alone_never_unlatches_and_its_window_runs_out():
    sim = kitchen()
    sim.command("reset", {})
    step(sim, WINDOW_S * 1000 - 200)
    assert sim.controller.latched and not any("settled" in line for line in sim.replies)
    step(sim, 400)
    assert sim.replies[-1].endswith("reset settled 1 expired")
    assert sim.controller.latched
    assert sim.controller.reset_window.waiting == 0


def test_a_press_refused_for_gas_tells_every_waiting_request_why():
    sim = kitchen()
    sim.command("reset", {})
    sim.command("reset", {})
    step(sim)
    sim.set_gas("d1", 300)
    step(sim, 4000)
    sim.press("reset_button")
    step(sim)
    settled = [line for line in sim.replies if "settled" in line]
    assert [line.split()[3:] for line in settled] == [["1", "refused"], ["2", "refused"]]
    assert sim.controller.latched


def test_a_reset_command_is_refused_at_once_while_something_blocks_it():
    sim = kitchen()
    sim.set_gas("d1", 300)
    step(sim, 4000)
    reply = sim.controller.command(sim.now_ms, "reset", {}, "test")
    assert reply["ok"] is False and reply["state"] == "refused"
    assert any("d1" in reason for reason in reply["reasons"])
    assert sim.controller.reset_window.waiting == 0


def test_an_output_test_pulses_the_line_for_its_time_capped_and_is_recorded():
    sim = kitchen()
    reply = sim.controller.command(sim.now_ms, "test_output", {"line": "sounder", "ms": 60000}, "local:alice")
    assert reply == {"ok": True, "message": "sounder pulsed for %d ms" % MAX_TEST_OUTPUT_MS}
    step(sim)
    assert sim.outputs["sounder"] is True
    record = [e for e in sim.events if e["type"] == "command"][-1]
    assert (record["source"], record["value"]) == ("sounder", MAX_TEST_OUTPUT_MS)
    assert "local:alice" in record["reason"]
    step(sim, MAX_TEST_OUTPUT_MS)
    assert sim.outputs["sounder"] is False


def armed_kitchen():
    """kitchen() after an accepted reset: the valve open, the fault relay energised (healthy)."""
    sim = kitchen()
    sim.press("reset_button")
    step(sim)
    assert sim.outputs["valve"] is True and sim.outputs["fault_relay"] is True
    return sim


def test_the_fault_relay_is_tested_by_dropping_it():
    sim = armed_kitchen()
    sim.controller.command(sim.now_ms, "test_output", {"line": "fault_relay", "ms": 500}, "test")
    step(sim)
    assert sim.outputs["fault_relay"] is False
    step(sim, 600)
    assert sim.outputs["fault_relay"] is True


def test_the_valve_test_closes_the_valve_and_only_the_reset_button_reopens_it():
    sim = armed_kitchen()
    reply = sim.controller.command(sim.now_ms, "test_output", {"line": "valve", "ms": 500}, "test")
    assert reply["ok"] and "local reset" in reply["message"]
    step(sim, 2000)
    assert sim.outputs["valve"] is False and sim.controller.latched


def test_an_output_not_wired_or_not_testable_is_refused_and_nothing_changes():
    sim = kitchen(lines=("sounder",))
    before = len(sim.events)
    for line, why in (("beacon", "not wired"), ("reset_button", "no testable output")):
        reply = sim.controller.command(sim.now_ms, "test_output", {"line": line, "ms": 500}, "test")
        assert reply["ok"] is False and why in reply["error"]
    step(sim)
    assert sim.outputs["beacon"] is False
    assert not [e for e in sim.events[before:] if e["type"] == "command"]


def test_the_remote_channel_takes_only_the_remote_commands():
    sim = kitchen()
    for name, args in (("inhibit", {"detector": "d1", "minutes": 5}), ("reset", {}),
                       ("test_output", {"line": "sounder", "ms": 500}), ("end_inhibit", {"detector": "d1"})):
        reply = sim.controller.command(sim.now_ms, name, args, "platform", K.REMOTE)
        assert reply == {"ok": False, "error": "%s is not taken from the remote channel" % name}
    assert sim.controller.reset_window.waiting == 0 and not sim.controller.safety.inhibits
    assert K.REMOTE_COMMANDS == ("close_valve", "silence", "status", "sync_time")


def test_remote_silence_needs_the_config_flag():
    for allowed in (False, True):
        sim = kitchen(allow_silence=allowed)
        sim.press("reset_button")
        sim.set_gas("d1", 150)
        step(sim, 4000)
        assert sim.outputs["sounder"]
        reply = sim.controller.command(sim.now_ms, "silence", {}, "platform", K.REMOTE)
        step(sim)
        assert reply["ok"] is allowed
        assert sim.outputs["sounder"] is not allowed
        assert K.remote_enabled({"allow_silence": allowed}) == (
            ("close_valve", "silence", "status", "sync_time") if allowed else ("close_valve", "status", "sync_time"))


def test_a_remote_close_is_never_refused_for_its_arguments():
    sim = armed_kitchen()
    reply = sim.controller.command(sim.now_ms, "close_valve", {"why": "drill", "n": 3}, "platform", K.REMOTE)
    step(sim)
    assert reply["ok"] and sim.controller.latched and sim.outputs["valve"] is False


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
HOSTILE_TEXT = st.text(alphabet=st.characters(codec=None), max_size=40) | st.sampled_from(
    ["\x00", "\ud800", "d1\x00", "\u202e1d", "d" * 10000])


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(K.COMMANDS)) | HOSTILE_TEXT,
       args=st.dictionaries(st.sampled_from(["detector", "minutes", "line", "ms"]) | HOSTILE_TEXT,
                            JSON | HOSTILE_TEXT, max_size=4) | JSON,
       channel=st.sampled_from(K.CHANNELS) | HOSTILE_TEXT)
def test_any_command_from_any_channel_gets_a_reply_and_never_opens_the_valve(name, args, channel):
    sim = SIM_LATCHED
    events_before = len(sim.controller.log.drain())
    reply = sim.controller.command(sim.now_ms, name, args, "fuzz", channel)
    assert isinstance(reply["ok"], bool)
    json.dumps(reply)  # a reply can always be sent
    if not reply["ok"]:
        assert isinstance(reply["error"], str) and reply["error"]
        assert sim.controller.log.drain() == [] and events_before == 0
    assert sim.controller.latched
    # undo what an accepted command started, so every example sees the same kitchen
    sim.controller.safety.inhibits.clear()
    sim.controller.safety.pending_close = []
    sim.controller.output_tests.until_ms.clear()
    sim.controller.log.drain()


SIM_LATCHED = kitchen()
