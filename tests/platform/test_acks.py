"""Delivered means stored by the platform: the receiver's acks, resend requests and gone reports, end to end.

A real mosquitto, a real SQLite file and a real PostgreSQL; the unit is a plain paho client that publishes
events in the wire format and listens on its ack topic. Time for the resend schedule is a clock the test moves.
"""

import json

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform.cli import platform
from gaslatch_tools.platform.delivery import StoreKey
from gaslatch_tools.platform.receiver import PlatformReceiver
from gaslatch_tools.platform.storage import LostRange, open_storage
from gaslatch_tools.testing.waiting import wait_until

# Fixtures: broker (a real mosquitto), platform_db (a SQLite path, a PostgreSQL URL).

SITE, UNIT = "noodle-bar-7", "kitchen-1"
TOPICS = W.topics(SITE, UNIT)
STORE = "a1b2c3d4e5f60708"


class Clock:
    """The receiver's monotonic clock, moved by the test."""

    def __init__(self):
        self.now_s = 1000.0

    def __call__(self):
        return self.now_s


def row(seq, store=STORE):
    return {"id": W.event_id(store, seq), "seq": seq, "t_ms": 1000 * seq, "wall_ts": "2026-11-24T21:50:41.123Z",
            "clock_synced": True, "type": E.DETECTOR, "severity": E.SEVERITY_INFO, "source": "det1",
            "state": "normal", "value": seq, "reason": ""}


class FakeUnit:
    """Publishes events (QoS 1) and gone reports, and keeps every ack it receives as (store, through, resend,
    retained)."""

    def __init__(self, broker, client_id="fake-unit", site=SITE, unit=UNIT):
        self.topics = W.topics(site, unit)
        self.acks = []
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_message = lambda client, userdata, m: self.acks.append(W.parse_ack(m.payload) + (m.retain,))
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(self.topics["ack"], 1)
        self.client.loop_start()

    def publish(self, topic, payload):
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()

    def events(self, *seqs, store=STORE):
        for seq in seqs:
            self.publish(self.topics["event"], W.encode_event(row(seq, store)))

    def gone(self, first, last, reason, store=STORE):
        self.publish(self.topics["gone"], W.encode_gone(store, first, last, reason))

    def wait_ack(self, store, through, resend=None, retained=False, timeout_s=10.0):
        """Waits for this ack; retained: sent because it was retained when this client subscribed (a live ack
        comes without the flag, MQTT 3.1.1 section 3.3.1.3)."""
        wanted = (store, through, resend, retained)
        wait_until(lambda: wanted in self.acks, timeout_s, what="ack %r" % (wanted,))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def receiver(broker, platform_db, clock):
    storage = open_storage(platform_db)
    r = PlatformReceiver(storage, broker.host, broker.port, client_id="test-platform", monotonic=clock)
    r.start()
    yield r
    r.stop()
    storage.close()


@pytest.fixture
def unit(broker):
    u = FakeUnit(broker)
    yield u
    u.close()


def test_the_ack_covers_every_stored_event_and_is_retained_for_a_reconnecting_unit(receiver, unit, broker):
    unit.events(*range(1, 21))
    unit.wait_ack(STORE, 20)
    assert all(resend is None for _, _, resend, _ in unit.acks)
    assert [through for _, through, _, _ in unit.acks] == sorted(through for _, through, _, _ in unit.acks)
    assert receiver.storage.through(StoreKey(SITE, UNIT, STORE)) == 20
    later = FakeUnit(broker, client_id="fake-unit-restarted")
    try:
        later.wait_ack(STORE, 20, retained=True)  # the retained ack, at once on subscribing
    finally:
        later.close()


def test_a_re_sent_event_brings_the_ack_again_at_most_once_a_second(receiver, unit, clock):
    unit.events(1, 2)
    unit.wait_ack(STORE, 2)
    # The receiver counts an ack once it is published: the unit may hear it first. Every ack so far is the unit's
    # (in order, ack 2 the last), so the count is waited for until it matches them.
    acks = wait_until(lambda: receiver.counts.get("acks") == len(unit.acks) and len(unit.acks), 10,
                      what="every ack the unit heard counted")
    unit.events(2)  # within the second of the last ack: the unit will get that one
    wait_until(lambda: receiver.counts.get("duplicate") == 1, 10, what="the duplicate handled")
    assert receiver.counts["acks"] == acks
    clock.now_s += 1.0
    unit.events(1, 2)
    wait_until(lambda: receiver.counts.get("duplicate") == 3, 10, what="two more duplicates handled")
    assert receiver.counts["acks"] == acks + 1
    wait_until(lambda: len(unit.acks) == acks + 1, 10, what="the repeated ack received")
    assert unit.acks[-1] == (STORE, 2, None, False)


def test_a_hole_is_asked_for_after_two_seconds_and_a_gone_report_closes_it(receiver, unit, clock, platform_db):
    unit.events(1, 2, 5)
    unit.wait_ack(STORE, 2)
    wait_until(lambda: receiver.counts.get("stored") == 3, 10, what="three events stored")
    clock.now_s += 1.9
    receiver.check_holes()
    assert receiver.counts.get("resend_requests", 0) == 0, "out-of-order arrival gets 2 s"
    clock.now_s += 0.1
    unit.wait_ack(STORE, 2, (3, 4))  # the storage thread checks the holes on its own
    assert [g[2:4] for g in receiver.gaps()] == [(3, 4)]
    unit.gone(3, 4, "deleted by retention before delivery")
    unit.wait_ack(STORE, 5)
    assert receiver.gaps() == []
    (lost,) = receiver.lost()
    assert lost[:6] == LostRange(SITE, UNIT, STORE, 3, 4, "deleted by retention before delivery", "")[:6]
    (fleet_row,) = receiver.fleet()
    assert (fleet_row.gaps, fleet_row.lost, fleet_row.events) == (0, 2, 3)
    result = CliRunner().invoke(platform, ["--db", platform_db, "--gaps"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "%s/%s store %s: lost at the unit (deleted by retention before delivery): seq 3..4" % (SITE, UNIT, STORE)]


def test_a_hole_still_open_is_asked_for_again_and_the_gaps_output_shows_it(receiver, unit, clock, platform_db):
    unit.events(1, 4)
    unit.wait_ack(STORE, 1)
    # Ack 1 can come from a batch of event 1 alone: event 4 (the hole) must be stored before the clock moves, or its
    # two seconds start at the moved clock and the request never falls due.
    wait_until(lambda: receiver.counts.get("stored") == 2, 10, what="both events stored")
    clock.now_s += 2.0
    unit.wait_ack(STORE, 1, (2, 3))
    # The receiver counts a request once it is published: the unit may hear it first.
    wait_until(lambda: receiver.counts.get("resend_requests", 0) >= 1, 10, what="the first request counted")
    requests = receiver.counts["resend_requests"]
    clock.now_s += 4.9
    receiver.check_holes()
    assert receiver.counts["resend_requests"] == requests
    clock.now_s += 0.1
    wait_until(lambda: receiver.counts["resend_requests"] == requests + 1, 10, what="the second request")
    result = CliRunner().invoke(platform, ["--db", platform_db, "--gaps"])
    assert result.output.splitlines() == ["%s/%s store %s: missing, asked for: seq 2..3" % (SITE, UNIT, STORE)]
    unit.events(3, 2)
    unit.wait_ack(STORE, 4)


def test_a_new_store_key_starts_at_zero_and_leaves_the_old_stores_point(receiver, unit):
    unit.events(1, 2, 3)
    unit.wait_ack(STORE, 3)
    unit.events(1, 2, store="ffff0001")
    unit.wait_ack("ffff0001", 2)
    assert receiver.storage.through(StoreKey(SITE, UNIT, STORE)) == 3
    assert receiver.storage.through(StoreKey(SITE, UNIT, "ffff0001")) == 2
    assert receiver.gaps() == []


def test_events_whose_ids_carry_no_store_key_are_stored_and_never_acknowledged(receiver, unit):
    for seq in (1, 2):
        payload = json.loads(W.encode_event(row(seq)))
        payload["id"] = "legacy-%d" % seq
        unit.publish(unit.topics["event"], json.dumps(payload).encode())
    unit.events(1)
    unit.wait_ack(STORE, 1)
    # The receiver counts a batch after it publishes the batch's acks (receiver._commit): the unit may hear the ack
    # before the count moves, so the count is waited for, not read at once.
    wait_until(lambda: receiver.counts.get("stored") == 3, 10, what="three events stored, two of them legacy")
    assert {store for store, _, _, _ in unit.acks} == {STORE}


# --- hostile messages on the event and gone topics: never a crash, never an ack beyond what is stored or lost ---

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gaslatch_tools.platform.receiver import MAX_PAYLOAD_BYTES  # noqa: E402
from gaslatch_tools.platform.storage import merged  # noqa: E402
from gaslatch_tools.testing.broker import Broker  # noqa: E402
from tests.platform.test_receiver import hostile_events  # noqa: E402

STORES = (STORE, "ffff0001")
seqs = st.integers(1, 12) | st.just(W.MAX_SEQ)
texts = st.text(st.characters(exclude_categories=()), max_size=30)
valid_events = st.builds(lambda store, seq: W.encode_event(row(seq, store)), st.sampled_from(STORES), seqs)
gone_payloads = st.builds(lambda store, first, length, reason: json.dumps(
    {"store": store, "first": first, "last": min(first + length, W.MAX_SEQ), "reason": reason}).encode(),
    st.sampled_from(STORES + ("not-hex", "")), seqs, st.integers(0, 3) | st.just(W.MAX_SEQ), texts)
nested = st.integers(500, 20000).map(lambda depth: b"[" * depth + b"]" * depth)
surrogate_nul = b'{"store":"ab","first":1,"last":2,"reason":"\\ud800\\u0000"}'
payloads = st.one_of(st.binary(max_size=300), valid_events, gone_payloads, hostile_events(), nested,
                     st.just(b"x" * (MAX_PAYLOAD_BYTES + 1)), st.just(surrogate_nul))
messages = st.lists(st.tuples(st.sampled_from((TOPICS["event"], TOPICS["gone"])), payloads), min_size=1, max_size=6)


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def hostile(request, tmp_path_factory):
    """A receiver connected to a broker (for its acks) and the unit's ack listener, for a whole hypothesis run."""
    directory = tmp_path_factory.mktemp("hostile")
    broker = Broker(str(directory)).start()
    if request.param == "sqlite":
        storage = open_storage(str(directory / "platform.sqlite"))
    else:
        storage = open_storage(request.getfixturevalue("postgres").create_database("hostile_acks"))
    r = PlatformReceiver(storage, broker.host, broker.port, client_id="hostile-platform", monotonic=Clock())
    r.start()
    unit = FakeUnit(broker)
    yield r, unit
    unit.close()
    r.stop()
    storage.close()
    broker.stop()


def covered(storage, store):
    """The seqs from 1 that the store's events and lost ranges cover without a hole: the most an ack may say."""
    seq_at, id_at = 3, 2
    stored = [(row[seq_at], row[seq_at]) for row in storage.iter_events()
              if row[1] == UNIT and W.store_key_of(row[id_at], row[seq_at]) == store]
    runs = merged(stored)
    highest = runs[-1][1] if runs else 0
    lost = [(r.first_seq, min(r.last_seq, highest)) for r in storage.lost() if r.store == store]
    spans = merged(runs + [span for span in lost if span[0] <= span[1]])
    return spans[0][1] if spans and spans[0][0] == 1 else 0


@given(messages)
def test_hostile_messages_never_stop_the_receiver_nor_ack_what_is_not_stored(hostile, batch):
    r, unit = hostile
    for topic, payload in batch:
        assert r.handle(topic, payload) in ("stored", "duplicate", "gone", "refused")
    for store in STORES:
        through = r.storage.through(StoreKey(SITE, UNIT, store)) or 0
        assert through <= covered(r.storage, store)
    for store, through, resend, _ in list(unit.acks):
        assert through <= (r.storage.through(StoreKey(SITE, UNIT, store)) or 0)
        assert resend is None or resend[0] == through + 1


def test_after_hostile_messages_the_receiver_still_stores_and_acks(hostile):
    r, unit = hostile
    unit.events(1, 2, store="ffff0002")
    unit.wait_ack("ffff0002", 2)


@pytest.mark.parametrize("content, mode, words", [
    (b"secret\n", 0o644, "open to others"),  # readable by others: refused, as ssh refuses a key
    (b"\xff\xfe\x00 not text", 0o600, "cannot read the password file"),
])
def test_a_password_file_others_can_read_or_that_is_not_text_is_refused_before_connecting(tmp_path, content, mode,
                                                                                           words):
    path = tmp_path / "platform.password"
    path.write_bytes(content)
    path.chmod(mode)
    result = CliRunner().invoke(platform, ["--db", str(tmp_path / "p.sqlite"), "--broker", "127.0.0.1:1",
                                           "--username", "gaslatch-platform", "--password-file", str(path)])
    assert result.exit_code == 1 and words in result.output, result.output
    assert not (tmp_path / "p.sqlite").exists()  # refused before anything was opened
