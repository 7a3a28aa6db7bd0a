"""The running unit reports to a real broker and obeys only safe, signed platform commands."""

import json
import signal
import time

import paho.mqtt.client as mqtt

from gaslatch.core import uplink_wire
from gaslatch_tools.pty_detectors import PtyDetectorBus
from tests.unit.test_runtime_process import Unit, stop_with_the_store_locked
from tests.unit.waiting import wait_until

KEY = b"unit-1 test key, not a real secret"


def subscriber(broker, topic):
    received = []
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
    client.on_message = lambda c, u, msg: received.append((msg.topic, msg.payload))
    client.connect(broker.host, broker.port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    return client, received


def test_unit_reports_events_and_obeys_only_safe_signed_commands(tmp_path, broker):
    bus = PtyDetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = Unit(tmp_path, bus.link)
    unit.enable_uplink(broker, KEY)
    unit.set_input("reset_button", False)
    client, received = subscriber(broker, "gaslatch/bench/unit-1/#")
    try:
        unit.start()
        wait_until(lambda: any(t.endswith("/event") and b'"type":"startup"' in p for t, p in received), 10,
                   what="the startup event on the platform")
        unit.wait_detectors_normal()
        unit.press_reset()
        wait_until(lambda: unit.line("valve") == "1", 3, what="valve open")
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
        client.loop_stop()
        bus.close()


def test_a_stop_with_a_failing_store_and_the_uplink_on_ends_inside_timeout_stop_sec(tmp_path, broker):
    stop_with_the_store_locked(tmp_path, broker)
