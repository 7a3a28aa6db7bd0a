"""Scale-out: several receivers share the fleet's events (MQTT 5 $share) on one database, each event stored once.

Real mosquitto, real SQLite file (WAL) and real PostgreSQL; each receiver has its own database connection.
"""

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform.cli import platform
from gaslatch_tools.platform.receiver import SUBSCRIPTIONS, PlatformReceiver, open_storage, subscriptions
from gaslatch_tools.testing.waiting import wait_until

# Fixtures: postgres (a real server for the session), postgres_url, platform_db (each storage kind).

GROUP = "fleet"
SITE = "food-court-3"
UNITS_PER_PUBLISHER = 5
PUBLISHERS = 4
EVENTS_PER_UNIT = 25


def event_payload(unit, seq):
    return W.encode_event({"id": "%s-%06d" % (unit, seq), "seq": seq, "t_ms": 1000 * seq,
                           "wall_ts": "2026-11-24T21:50:41.123Z", "clock_synced": True, "type": E.DETECTOR,
                           "severity": E.SEVERITY_INFO, "source": "det1", "state": "normal", "value": seq,
                           "reason": ""})


class Publishers:
    """A few MQTT connections publishing for several units each (QoS 1), every event twice as a unit
    does when a PUBACK was lost."""

    def __init__(self, broker, count):
        self.clients = []
        for n in range(count):
            client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="pub-%d" % n)
            client.max_queued_messages_set(0)
            client.connect(broker.host, broker.port)
            client.loop_start()
            self.clients.append(client)

    def publish_stream(self, units_per_client, events_per_unit, copies=2):
        infos = []
        for seq in range(1, events_per_unit + 1):
            for n, client in enumerate(self.clients):
                for u in range(units_per_client):
                    unit = "unit-%d-%d" % (n, u)
                    for _ in range(copies):
                        infos.append(client.publish(W.topics(SITE, unit)["event"], event_payload(unit, seq), qos=1))
        for info in infos:
            info.wait_for_publish(30)
            assert info.is_published()

    def publish(self, topic, payload, retain=False):
        info = self.clients[0].publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published()

    def close(self):
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


@pytest.fixture
def publishers(broker):
    p = Publishers(broker, PUBLISHERS)
    yield p
    p.close()


@pytest.fixture
def group(broker, platform_db):
    """Two receivers of one shared group, each with its own connection to one database."""
    receivers = []
    for name in ("receiver-a", "receiver-b"):
        r = PlatformReceiver(open_storage(platform_db), broker.host, broker.port, client_id=name, shared_group=GROUP)
        r.start()
        receivers.append(r)
    yield receivers
    for r in receivers:
        r.stop()
        r.storage.close()


def handled(r, *outcomes):
    return sum(r.counts.get(o, 0) for o in outcomes)


def test_events_are_shared_by_the_group_and_shared_events_use_mqtt5_share_filters():
    assert subscriptions(None) == SUBSCRIPTIONS
    assert subscriptions("g1") == ("$share/g1/gaslatch/+/+/event", "gaslatch/+/+/state", "gaslatch/+/+/status",
                                   "$share/g1/gaslatch/+/+/gone", "$share/g1/gaslatch/+/+/telemetry")
    with pytest.raises(ValueError):
        PlatformReceiver(None, shared_group="a/b")


def test_two_receivers_sharing_a_group_store_every_event_exactly_once(group, publishers):
    unique = PUBLISHERS * UNITS_PER_PUBLISHER * EVENTS_PER_UNIT
    publishers.publish_stream(UNITS_PER_PUBLISHER, EVENTS_PER_UNIT, copies=2)
    wait_until(lambda: sum(handled(r, "stored", "duplicate") for r in group) == 2 * unique, 60,
               what="every copy handled by one of the receivers")
    a, b = group
    assert handled(a, "stored", "duplicate") > 0 and handled(b, "stored", "duplicate") > 0, "both got a share"
    assert handled(a, "stored") + handled(b, "stored") == unique
    assert handled(a, "duplicate") + handled(b, "duplicate") == unique
    rows = list(a.storage.iter_events())
    assert len(rows) == unique
    assert len({(r[0], r[1], r[2]) for r in rows}) == unique
    assert a.gaps() == []
    fleet = a.fleet()
    assert len(fleet) == PUBLISHERS * UNITS_PER_PUBLISHER
    assert {row.events for row in fleet} == {EVENTS_PER_UNIT}


def test_every_receiver_of_the_group_applies_each_status_so_the_latest_wins(group, publishers):
    topic = W.topics(SITE, "unit-0-0")["status"]
    for status in (b"online", b"offline", b"online", b"offline"):
        publishers.publish(topic, status, retain=True)
    for r in group:
        wait_until(lambda: handled(r, "status") == 4, 10, what="four statuses at %s" % r.client_id)
    assert [r.status(SITE, "unit-0-0") for r in group] == ["offline", "offline"]


def test_the_share_of_a_stopped_receiver_waits_in_its_session_until_it_returns(broker, platform_db,
                                                                               group, publishers):
    a, b = group
    b.stop()
    publishers.publish_stream(1, 10, copies=1)
    unique = PUBLISHERS * 10
    wait_until(lambda: handled(a, "stored") > 0, 10, what="receiver-a's share")
    returned = PlatformReceiver(open_storage(platform_db), broker.host, broker.port, client_id="receiver-b",
                                shared_group=GROUP)
    returned.start()
    try:
        # A receiver counts a batch after its commit and acks (receiver._commit), so wait on the counts, not the rows.
        wait_until(lambda: handled(a, "stored") + handled(returned, "stored") == unique, 20,
                   what="every event stored by one of the receivers")
        assert len(list(a.storage.iter_events())) == unique
        assert handled(returned, "stored") > 0, "mosquitto queued the stopped receiver's share for its return"
    finally:
        returned.stop()
        returned.storage.close()


def test_the_cli_receives_through_a_shared_subscription_in_a_persistent_session(broker, platform_db,
                                                                                publishers):
    args = ["--broker", "%s:%d" % (broker.host, broker.port), "--db", platform_db, "--client-id", "cli-shared",
            "--shared", GROUP, "--once"]
    result = CliRunner().invoke(platform, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "shared group %s" % GROUP in result.output
    publishers.publish_stream(1, 3, copies=1)  # while the CLI is away: queued in its session
    result = CliRunner().invoke(platform, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "stored %d, duplicates 0" % (PUBLISHERS * 3) in result.output


def test_the_cli_refuses_a_group_name_with_a_topic_separator():
    result = CliRunner().invoke(platform, ["--shared", "a/b", "--csv", "-"])
    assert result.exit_code == 2
    assert "cannot be a shared subscription group" in result.output


def test_two_receivers_sharing_a_unit_s_events_give_it_an_ack_covering_all_of_them(group, broker):
    from tests.platform.test_acks import STORE, FakeUnit

    unit = FakeUnit(broker, site=SITE, unit="shared-unit")
    try:
        unit.events(*range(1, 201))
        # Whichever receiver stored the last one, or found the hole filled. 4 s alone; a fresh clone's serial CI run
        # (PostgreSQL just started, two receivers, 200 events) once took longer than 10 s: a deadline, not a sleep.
        unit.wait_ack(STORE, 200, timeout_s=30.0)
    finally:
        unit.close()
    a, b = group
    # Each receiver counts a batch after it publishes the batch's acks (receiver._commit): the ack through 200 can
    # reach the unit before either receiver's count moves, so the counts are waited for.
    wait_until(lambda: handled(a, "stored") + handled(b, "stored") == 200, 10, what="200 events counted as stored")
    assert handled(a, "stored") > 0 and handled(b, "stored") > 0, "both got a share"
    # Each receiver acks what its own transaction saw committed: two receivers' acks may cross on the way.
    assert max(through for _, through, _, _ in unit.acks) == 200
