"""The running unit reports to a real broker and obeys only safe, signed platform commands."""

import json
import signal
import time

import paho.mqtt.client as mqtt

from gaslatch.core import uplink_wire
from gaslatch.unit.event_store import EventReader
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.running_unit import RunningUnit
from tests.unit.test_runtime_process import stop_with_the_store_locked
from gaslatch_tools.testing.waiting import wait_until

KEY = b"unit-1 test key, not a real secret"


def subscriber(broker, topic):
    received = []
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
    client.on_message = lambda c, u, msg: received.append((msg.topic, msg.payload))
    client.connect(broker.host, broker.port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    return client, received


def uplinked_unit(tmp_path, broker):
    """A kitchen on emulated detectors whose unit reports to `broker`, its command key KEY (mode 0600)."""
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    unit.enable_uplink(broker, KEY)
    return bus, unit


def test_unit_reports_events_and_obeys_only_safe_signed_commands(tmp_path, broker):
    bus, unit = uplinked_unit(tmp_path, broker)
    unit.set_input("reset_button", False)
    client, received = subscriber(broker, "gaslatch/bench/unit-1/#")
    try:
        unit.start()
        wait_until(lambda: any(t.endswith("/event") and b'"type":"startup"' in p for t, p in received), 10,
                   what="the startup event on the platform")
        unit.wait_detectors_normal()
        unit.press_reset()
        wait_until(lambda: unit.line("valve") == "1", 10, what="valve open")
        now = int(time.time())
        client.publish("gaslatch/bench/unit-1/cmd",
                       uplink_wire.sign_command(KEY, "c-open", now, "open_valve", {}), qos=1)
        wait_until(lambda: [line for line in unit.events("command") if "state=refused" in line], 10,
                   what="the remote open refused and recorded")
        assert unit.line("valve") == "1", "a refused command changes nothing"
        client.publish("gaslatch/bench/unit-1/cmd",
                       uplink_wire.sign_command(KEY, "c-close", now, "close_valve", {}), qos=1)
        wait_until(lambda: unit.line("valve") == "0", 10, what="the remote close closes the valve")
        wait_until(lambda: any(t.endswith("/cmd/reply") and b"c-close" in p for t, p in received), 10,
                   what="the reply to close_valve")
        assert any(t.endswith("/state") for t, _ in received)
        telemetry = wait_until(lambda: [p for t, p in received if t.endswith("/telemetry")], 10,
                               what="telemetry from the running unit")
        assert sorted(json.loads(telemetry[0])["centi_pct_lel"]) == ["d1", "d2"]
        assert any("uplink: connected to %s:%d" % (broker.host, broker.port) in line for line in unit.lines)
    finally:
        unit.stop(signal.SIGTERM)
        unit.close()
        client.loop_stop()
        bus.close()


# The flood: what an outside party with publish rights on `cmd` sends in about a second.
FLOOD_COMMANDS = 3000
FLOOD_BATCH = 500  # published, then waited for, so the broker's queue limit drops none of them


def test_a_flood_of_junk_commands_costs_a_bounded_number_of_events_with_the_counts_right(tmp_path, broker):
    bus, unit = uplinked_unit(tmp_path, broker)
    client, received = subscriber(broker, "gaslatch/bench/unit-1/event")
    junk = [b"junk %d" % i if i % 3 else json.dumps({"cmd": "open_valve", "id": "x%d" % i}).encode()
            for i in range(FLOOD_COMMANDS)]
    try:
        unit.start()
        wait_until(lambda: any(b'"type":"startup"' in p for _, p in received), 10, what="the startup event")
        for start in range(0, FLOOD_COMMANDS, FLOOD_BATCH):
            for payload in junk[start:start + FLOOD_BATCH]:
                client.publish("gaslatch/bench/unit-1/cmd", payload, qos=1)
            wait_until(lambda: unit.request("status")[0]["status"]["uplink"]["commands_refused"]
                       >= start + FLOOD_BATCH, 20, what="the unit to refuse %d commands" % (start + FLOOD_BATCH))
        unit.stop(signal.SIGTERM)
        assert unit.proc.returncode == 0, "\n".join(unit.lines)
    finally:
        unit.close()
        client.loop_stop()
        bus.close()
    refused = [e for e in EventReader(unit.store_path).query(types=["command"]) if e["state"] == "refused"]
    assert 2 <= len(refused) <= 3, refused  # the first at once, a digest at stop (and one if a minute passed)
    assert sum(e["value"] for e in refused) == FLOOD_COMMANDS
    assert refused[0]["value"] == 1 and "refused (fields)" in refused[0]["reason"]
    fields, malformed = FLOOD_COMMANDS // 3, FLOOD_COMMANDS - FLOOD_COMMANDS // 3  # every third is JSON
    assert "(fields %d, malformed %d)" % (fields - 1, malformed) in refused[-1]["reason"], refused[-1]
    print("flood of %d junk commands: %d events stored: %s" % (FLOOD_COMMANDS, len(refused),
                                                               [e["reason"] for e in refused]))


def test_a_signed_command_replayed_after_a_power_cut_is_refused(tmp_path, broker):
    bus, unit = uplinked_unit(tmp_path, broker)
    client, received = subscriber(broker, "gaslatch/bench/unit-1/#")
    captured = uplink_wire.sign_command(KEY, "c-status", int(time.time()), "status", {})

    def replies():
        return [json.loads(p) for t, p in received if t.endswith("/cmd/reply") and b"c-status" in p]

    def startups():
        """The seqs of the startup events on the platform (one a run; a restart may send one again)."""
        return {json.loads(p)["seq"] for t, p in received if t.endswith("/event") and b'"type":"startup"' in p}

    try:
        unit.start()
        wait_until(lambda: len(startups()) == 1, 10, what="the first startup event")
        client.publish("gaslatch/bench/unit-1/cmd", captured, qos=1)
        wait_until(lambda: replies(), 10, what="the reply to the status command")
        assert replies()[0]["ok"] is True
        unit.stop(signal.SIGKILL)  # a power cut: nothing is flushed or closed
        unit.start()
        wait_until(lambda: len(startups()) == 2, 10, what="the startup event after the restart")
        client.publish("gaslatch/bench/unit-1/cmd", captured, qos=1)
        wait_until(lambda: len(replies()) == 2, 10, what="the reply to the replayed command")
        assert replies()[1] == {"id": "c-status", "ok": False, "message": "replayed: id already seen"}
        wait_until(lambda: [line for line in unit.events("command") if "replay" in line], 10,
                   what="the replay recorded as a refusal")
    finally:
        unit.close()
        client.loop_stop()
        bus.close()


def test_a_stop_with_a_failing_store_and_the_uplink_on_ends_inside_timeout_stop_sec(tmp_path, broker):
    stop_with_the_store_locked(tmp_path, broker)
