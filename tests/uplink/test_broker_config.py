"""The production broker configuration (deploy/mosquitto/gaslatch.conf and gaslatch.acl) on a real mosquitto: who may
connect, who may read and write which topic, what survives a restart and a crash, and the test launcher's file
differing from the deploy file only in the settings it must rewrite.

Units connect over TLS with their password, as in a city; the platform on the loopback listener. mosquitto 2.0
drops a denied QoS 1 publish after acknowledging it, and acknowledges a subscription whose reads it will deny: a
denial shows as an absence, checked once a positive control published after it has arrived (on the connection that
must not receive it: a client that may receive nothing at all is checked after a round trip on its own connection).
"""

from __future__ import annotations

import json
import os
import ssl
import threading

import paho.mqtt.client as mqtt
import pytest

from gaslatch.core import uplink_wire as W
from gaslatch_tools import broker_config as BC
from gaslatch_tools.platform.receiver import MAX_PAYLOAD_BYTES
from gaslatch_tools.testing.broker import Broker
from gaslatch_tools.testing.pki import Pki
from gaslatch_tools.testing.waiting import wait_until

PLATFORM = "gaslatch-platform"
UNIT, OTHER = "s1/u1", "s1/u2"
WILDCARD_USERS = ("s1/+", "s1/#")
USERS = (PLATFORM, UNIT, OTHER) + WILDCARD_USERS
UNIT_TOPICS, OTHER_TOPICS = W.topics("s1", "u1"), W.topics("s1", "u2")
UNIT_KINDS = tuple(k for k in W.TOPIC_KINDS if k not in W.PLATFORM_KINDS)
EVERY_KIND = tuple("gaslatch/+/+/" + kind for kind in W.TOPIC_KINDS)


def password(user: str) -> str:
    return "pw of " + user


class Client:
    """One MQTT client of the broker: connects as a user (over TLS for units), records what it receives."""

    def __init__(self, broker: Broker, pki: Pki, user: str | None, secret: str | None = None, tls: bool = True,
                 client_id: str = "", v5: bool = False):
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.connack: list[str] = []
        self.disconnects = 0
        if v5:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        else:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if user is not None:
            self.client.username_pw_set(user, password(user) if secret is None else secret)
        if tls:
            self.client.tls_set(ca_certs=pki.ca_file, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_connect = lambda c, u, flags, reason, p: self.connack.append(str(reason))
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port if tls else broker.loopback_port, keepalive=10)
        self.client.loop_start()

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self.disconnects += 1

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def answer(self) -> str:
        return wait_until(lambda: self.connack[:1], 10, what="the broker's CONNACK")[0]

    def accepted(self) -> "Client":
        assert self.answer() == "Success", self.connack
        return self

    def subscribe(self, *filters: str) -> "Client":
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        assert done.wait(10), "no SUBACK for %s" % (filters,)
        return self

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """QoS 1, returning on the PUBACK (which mosquitto also sends for a publish it denied)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published(), "no PUBACK for %s" % topic

    def round_trip(self) -> None:
        """Returns once the broker has answered a SUBSCRIBE on this client's own connection: anything it sent this
        client before, for a publish acknowledged before the call, has been received (the broker writes a
        connection's packets in order, and paho hands them over in order)."""
        self.subscribe("gaslatch-test/round-trip")

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def topics(self) -> set[str]:
        with self.lock:
            return {t for t, _, _ in self.messages}

    def wait_for(self, topic: str, payload: bytes) -> None:
        wait_until(lambda: payload in self.on(topic), 10, what="%r on %s" % (payload, topic))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def pki(tmp_path):
    return Pki(str(tmp_path / "pki"))


@pytest.fixture
def city(tmp_path, pki):
    """A broker as a city runs it: passwords and the deploy ACL, units on TLS; connect(user, ...) makes a client."""
    broker = Broker(str(tmp_path), pki=pki, passwords={u: password(u) for u in USERS}, acl=True,
                    require_certificate=False).start()
    clients = []

    def connect(user, secret=None, tls=None, **kwargs):
        clients.append(Client(broker, pki, user, secret, user != PLATFORM if tls is None else tls, **kwargs))
        return clients[-1]

    connect.broker = broker
    yield connect
    for client in clients:
        client.close()
    broker.stop()


def platform_reading(connect, *filters: str, client_id: str = "platform-1", v5: bool = False) -> Client:
    """The platform subscribed to filters (by default every kind of every unit's topics, its own cmd and ack too)."""
    return connect(PLATFORM, client_id=client_id, v5=v5).accepted().subscribe(*(filters or EVERY_KIND))


def test_a_unit_publishes_each_of_its_topics_and_the_platform_reads_them(city):
    platform = platform_reading(city)
    unit = city(UNIT).accepted()
    for kind in UNIT_KINDS:
        unit.publish(UNIT_TOPICS[kind], b"from u1: " + kind.encode())
    for kind in UNIT_KINDS:
        platform.wait_for(UNIT_TOPICS[kind], b"from u1: " + kind.encode())


def test_a_unit_reads_its_own_commands_and_acks_from_the_platform(city):
    unit = city(UNIT).accepted().subscribe(UNIT_TOPICS["cmd"], UNIT_TOPICS["ack"])
    platform = city(PLATFORM).accepted()
    platform.publish(UNIT_TOPICS["cmd"], b"a command")
    platform.publish(UNIT_TOPICS["ack"], b"an ack", retain=True)
    unit.wait_for(UNIT_TOPICS["cmd"], b"a command")
    unit.wait_for(UNIT_TOPICS["ack"], b"an ack")


def test_a_unit_cannot_publish_on_another_units_topics(city):
    platform = platform_reading(city)
    unit = city(UNIT).accepted()
    for kind in UNIT_KINDS:
        unit.publish(OTHER_TOPICS[kind], b"forged")
    unit.publish(UNIT_TOPICS["event"], b"control")
    platform.wait_for(UNIT_TOPICS["event"], b"control")
    assert platform.topics() == {UNIT_TOPICS["event"]}


def test_a_unit_cannot_write_its_own_ack_or_cmd(city):
    unit = city(UNIT).accepted().subscribe(UNIT_TOPICS["cmd"], UNIT_TOPICS["ack"])
    unit.publish(UNIT_TOPICS["ack"], b"acked by myself", retain=True)
    unit.publish(UNIT_TOPICS["cmd"], b"commanded by myself")
    city(PLATFORM).accepted().publish(UNIT_TOPICS["ack"], b"control")
    unit.wait_for(UNIT_TOPICS["ack"], b"control")
    assert unit.on(UNIT_TOPICS["ack"]) == [b"control"] and unit.on(UNIT_TOPICS["cmd"]) == []


def test_a_unit_cannot_read_another_units_commands_or_acks(city):
    unit = city(UNIT).accepted().subscribe(OTHER_TOPICS["cmd"], OTHER_TOPICS["ack"], "gaslatch/#",
                                           UNIT_TOPICS["cmd"])
    other = city(OTHER).accepted().subscribe(OTHER_TOPICS["cmd"], OTHER_TOPICS["ack"])
    platform = city(PLATFORM).accepted()
    platform.publish(OTHER_TOPICS["cmd"], b"for u2")
    platform.publish(OTHER_TOPICS["ack"], b"for u2", retain=True)
    platform.publish(UNIT_TOPICS["cmd"], b"control")
    unit.wait_for(UNIT_TOPICS["cmd"], b"control")
    other.wait_for(OTHER_TOPICS["ack"], b"for u2")
    assert unit.topics() == {UNIT_TOPICS["cmd"]}
    assert other.on(OTHER_TOPICS["cmd"]) == [b"for u2"]


def test_the_platform_reads_events_plainly_and_through_a_shared_subscription(city):
    plain = platform_reading(city, "gaslatch/+/+/event")
    shared = platform_reading(city, "$share/g/gaslatch/+/+/event", client_id="platform-2", v5=True)
    city(UNIT).accepted().publish(UNIT_TOPICS["event"], b"an event")
    plain.wait_for(UNIT_TOPICS["event"], b"an event")
    shared.wait_for(UNIT_TOPICS["event"], b"an event")


def test_the_platform_cannot_publish_as_a_unit(city):
    reader = platform_reading(city)
    writer = city(PLATFORM, client_id="platform-2").accepted()
    for kind in UNIT_KINDS:
        writer.publish(UNIT_TOPICS[kind], b"forged by the platform")
    city(UNIT).accepted().publish(UNIT_TOPICS["event"], b"control")
    reader.wait_for(UNIT_TOPICS["event"], b"control")
    assert reader.on(UNIT_TOPICS["event"]) == [b"control"] and reader.topics() == {UNIT_TOPICS["event"]}


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "loopback"])
@pytest.mark.parametrize("user, secret", [(None, None), (UNIT, "a wrong password"), ("nobody", "pw of nobody")],
                         ids=["anonymous", "wrong password", "unknown user"])
def test_a_client_without_a_valid_password_is_refused(city, tls, user, secret):
    client = city(user, secret, tls=tls)
    assert client.answer() == "Not authorized"


@pytest.mark.parametrize("user", WILDCARD_USERS)
def test_a_user_name_with_a_wildcard_gets_nothing_through_the_patterns(city, user):
    """mosquitto substitutes no user name containing + or # into a pattern: "s1/+" would otherwise match every unit."""
    platform = platform_reading(city)
    wildcard = city(user).accepted().subscribe("gaslatch/#", UNIT_TOPICS["cmd"], UNIT_TOPICS["ack"])
    for kind in UNIT_KINDS:
        wildcard.publish(UNIT_TOPICS[kind], b"forged")
    unit = city(UNIT).accepted().subscribe(UNIT_TOPICS["cmd"])
    city(PLATFORM).accepted().publish(UNIT_TOPICS["cmd"], b"control")
    unit.publish(UNIT_TOPICS["event"], b"control")
    unit.wait_for(UNIT_TOPICS["cmd"], b"control")
    platform.wait_for(UNIT_TOPICS["event"], b"control")
    assert platform.topics() == {UNIT_TOPICS["event"]} and platform.on(UNIT_TOPICS["event"]) == [b"control"]
    # the controls reached the unit and the platform; what the broker would have sent the wildcard user for them (and
    # for its own forgeries) is in before the answer to a request it makes after them
    wildcard.round_trip()
    assert wildcard.topics() == set()


def test_a_unit_cannot_take_over_the_platforms_session_by_using_its_client_id(city):
    """On the TLS listener the client id is the user name (use_username_as_clientid)."""
    platform = platform_reading(city, "gaslatch/+/+/event")
    intruder = city(OTHER, client_id="platform-1").accepted()
    intruder.publish(OTHER_TOPICS["event"], b"after the intruder connected")
    platform.wait_for(OTHER_TOPICS["event"], b"after the intruder connected")
    assert platform.disconnects == 0 and intruder.disconnects == 0


def test_a_retained_ack_survives_a_broker_restart(city):
    city(PLATFORM).accepted().publish(UNIT_TOPICS["ack"], b"through 42", retain=True)
    city.broker.stop()
    city.broker.start()
    unit = city(UNIT).accepted().subscribe(UNIT_TOPICS["ack"])
    unit.wait_for(UNIT_TOPICS["ack"], b"through 42")


def test_after_a_crash_the_retained_ack_is_the_one_the_last_save_held(city):
    """SIGKILL loses what changed since the last save (autosave_interval 60 s): the unit is told an older ack and
    sends again what the platform already has; it must keep the highest ack it has seen."""
    platform = city(PLATFORM).accepted()
    platform.publish(UNIT_TOPICS["ack"], b"through 41", retain=True)
    city.broker.save()
    platform.publish(UNIT_TOPICS["ack"], b"through 42", retain=True)
    city.broker.kill()
    city.broker.start()
    unit = city(UNIT).accepted().subscribe(UNIT_TOPICS["ack"])
    unit.wait_for(UNIT_TOPICS["ack"], b"through 41")
    assert unit.on(UNIT_TOPICS["ack"]) == [b"through 41"]


def test_a_unit_added_while_the_broker_runs_connects_after_a_reload_and_nobody_is_dropped(city):
    platform = platform_reading(city, "gaslatch/+/+/event")
    assert city("s1/u3", "new unit's password").answer() == "Not authorized"
    city.broker.add_user("s1/u3", "new unit's password")
    city("s1/u3", "new unit's password").accepted().publish(W.topics("s1", "u3")["event"], b"hello")
    platform.wait_for(W.topics("s1", "u3")["event"], b"hello")
    assert platform.disconnects == 0


def test_the_largest_event_a_unit_can_make_passes_and_a_larger_packet_is_refused(city):
    limit = int(dict(BC.settings(BC.DEPLOY_CONF.read_text()))["max_packet_size"])
    longest_topic = len(W.topics("s" * W.MAX_NAME_BYTES, "u" * W.MAX_NAME_BYTES)["cmd/reply"])
    # fixed header (5), topic length (2), packet id (2), MQTT 5 properties (a length and room for a few)
    assert MAX_PAYLOAD_BYTES + longest_topic + 5 + 2 + 2 + 32 <= limit
    platform = platform_reading(city, "gaslatch/+/+/event")
    unit = city(UNIT).accepted()
    largest = b"x" * MAX_PAYLOAD_BYTES
    unit.publish(UNIT_TOPICS["event"], largest)
    platform.wait_for(UNIT_TOPICS["event"], largest)
    unit.client.publish(UNIT_TOPICS["event"], b"y" * limit, qos=1)
    wait_until(lambda: unit.disconnects, 10, what="mosquitto disconnecting the sender of a packet over its limit")
    assert platform.on(UNIT_TOPICS["event"]) == [largest]


def test_a_backlog_beyond_mosquittos_default_queue_reaches_the_returning_platform(tmp_path):
    """The deploy file's queue limits hold in the anonymous mode too: the default (1000) dropped 775 of 2,633."""
    broker = Broker(str(tmp_path)).start()
    try:
        away = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="platform-away", clean_session=False)
        got: list[int] = []
        away.on_message = lambda c, u, m: got.append(json.loads(m.payload)["seq"])
        away.connect(broker.host, broker.port)
        away.loop_start()
        subscribed = threading.Event()
        away.on_subscribe = lambda *args: subscribed.set()
        away.subscribe("gaslatch/+/+/event", 1)
        assert subscribed.wait(10)
        away.disconnect()
        away.loop_stop()
        unit = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="unit")
        unit.max_queued_messages_set(0)
        unit.connect(broker.host, broker.port)
        unit.loop_start()
        infos = [unit.publish(UNIT_TOPICS["event"], json.dumps({"seq": seq}).encode(), qos=1)
                 for seq in range(1, 2634)]
        for info in infos:
            info.wait_for_publish(30)
        unit.disconnect()
        unit.loop_stop()
        away.connect(broker.host, broker.port)
        away.loop_start()
        wait_until(lambda: len(set(got)) == 2633, 30, what="all 2,633 queued events (got %d)" % len(set(got)))
        away.disconnect()
        away.loop_stop()
    finally:
        broker.stop()
    assert "dropped" not in broker.log()


def launcher_files(tmp_path) -> dict[str, str]:
    """Every configuration the launchers write, by mode."""
    pki = Pki(str(tmp_path / "pki"))
    users = {UNIT: password(UNIT)}
    out = {}
    for mode, kwargs in (("anonymous", {}), ("passwords", {"passwords": users}),
                         ("mutual tls", {"pki": pki}), ("city", {"pki": pki, "passwords": users, "acl": True})):
        directory = tmp_path / mode
        directory.mkdir()
        out[mode] = open(Broker(str(directory), **kwargs).config).read()
    bench = Broker()  # its own temporary folder, as the bench and the benchmarks start it
    try:
        out["bench"] = open(bench.config).read()
    finally:
        bench.close()
    return out


def test_the_launchers_files_differ_from_the_deploy_file_only_in_the_settings_they_rewrite(tmp_path):
    deploy = BC.settings(BC.DEPLOY_CONF.read_text())
    assert deploy and not {name for name, _ in deploy} & set(BC.HOST_SETTINGS)
    kept = [(name, value) for name, value in deploy if name not in BC.REWRITTEN]
    assert ("max_queued_messages", "200000") in kept and ("autosave_interval", "60") in kept
    for mode, text in launcher_files(tmp_path).items():
        written = BC.settings(text)
        host = [name for name, _ in written if name in BC.HOST_SETTINGS]
        assert host in (["user", "persistence_location", "log_dest"], ["persistence_location", "log_dest"]), mode
        assert [(n, v) for n, v in written if n not in BC.REWRITTEN + BC.HOST_SETTINGS] == kept, mode


def test_the_city_mode_applies_the_deploy_acl_as_it_is(tmp_path):
    broker = Broker(str(tmp_path), passwords={UNIT: password(UNIT)}, acl=True)
    acl_file = dict(BC.settings(open(broker.config).read()))["acl_file"]
    assert open(acl_file).read() == BC.DEPLOY_ACL.read_text()


def test_rewriting_a_setting_the_deploy_file_lacks_or_has_another_number_of_times_raises():
    text = BC.DEPLOY_CONF.read_text()
    with pytest.raises(BC.BrokerConfigError, match="0 `bind_interface` lines where 1 were expected"):
        BC.rewrite(text, {"bind_interface": ["lo"]})
    with pytest.raises(BC.BrokerConfigError, match="2 `listener` lines where 1 were expected"):
        BC.rewrite(text, {"listener": ["1883"]})


def acl_rules(text: str) -> dict[str, set[tuple[str, str]]]:
    """{"pattern" or a user name: {(access, topic)}} from a mosquitto ACL file."""
    rules: dict[str, set[tuple[str, str]]] = {"pattern": set()}
    user = None
    for name, value in BC.settings(text):
        if name == "user":
            user = value
            rules[user] = set()
        elif name == "pattern":
            rules["pattern"].add(tuple(value.split(" ", 1)))
        else:
            assert name == "topic" and user is not None, "a topic line outside a user block: anonymous access"
            rules[user].add(tuple(value.split(" ", 1)))
    return rules


def test_the_acl_lets_each_topic_kind_be_written_by_its_one_writer():
    """The ACL agrees with uplink_wire: units write TOPIC_KINDS but PLATFORM_KINDS, which only the platform writes."""
    rules = acl_rules(BC.DEPLOY_ACL.read_text())
    assert set(rules) == {"pattern", PLATFORM}
    assert rules["pattern"] == ({("write", "gaslatch/%u/" + k) for k in UNIT_KINDS} |
                                {("read", "gaslatch/%u/" + k) for k in W.PLATFORM_KINDS})
    assert rules[PLATFORM] == ({("read", "gaslatch/+/+/" + k) for k in UNIT_KINDS} |
                               {("write", "gaslatch/+/+/" + k) for k in W.PLATFORM_KINDS})


def test_the_deploy_file_names_no_file_outside_etc_mosquitto():
    paths = [value for name, value in BC.settings(BC.DEPLOY_CONF.read_text()) if name.endswith("file")]
    assert len(paths) == 5 and all(os.path.dirname(p).startswith("/etc/mosquitto") for p in paths), paths
