"""The platform receiver against a real mosquitto: de-duplication, gaps, refusals, state, status, CSV, CLI.

Every behaviour is checked twice: with SQLite and with a real PostgreSQL server (gaslatch_tools.testing.fixtures).
"""

import csv
import io
import json

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.platform.cli import platform
from gaslatch_tools.platform.receiver import (CSV_COLUMNS, REFUSED_AT_PLATFORM, Gap, PayloadError, PlatformReceiver,
                                              open_storage, parse_event)
from gaslatch_tools.testing.waiting import wait_until

# Fixtures: postgres (a real server for the session), postgres_url, platform_db (each storage kind).

SITE, UNIT = "noodle-bar-7", "kitchen-1"
TOPICS = W.topics(SITE, UNIT)


def row(seq, type_=E.DETECTOR, severity=E.SEVERITY_INFO, source="det1", state="normal", value=None, reason="",
        key="k3y"):
    return {"id": "%s-%012d" % (key, seq), "seq": seq, "t_ms": 1000 * seq, "wall_ts": "2026-11-24T21:50:41.123Z",
            "clock_synced": True, "type": type_, "severity": severity, "source": source, "state": state,
            "value": value, "reason": reason}


class Publisher:
    """A stand-in unit: publishes with QoS 1 and waits for each PUBACK."""

    def __init__(self, b, client_id="test-unit"):
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.connect(b.host, b.port)
        self.client.loop_start()

    def publish(self, topic, payload, retain=False):
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published()

    def event(self, r, site=SITE, unit=UNIT):
        self.publish(W.topics(site, unit)["event"], W.encode_event(r))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()




@pytest.fixture
def storage(platform_db):
    s = open_storage(platform_db)
    yield s
    s.close()


@pytest.fixture
def receiver(broker, storage):  # noqa: F811
    r = PlatformReceiver(storage, broker.host, broker.port, client_id="test-platform")
    r.start()
    yield r
    r.stop()


@pytest.fixture
def unit(broker):  # noqa: F811
    p = Publisher(broker)
    yield p
    p.close()


def stored_seqs(receiver):
    return [int(r[CSV_COLUMNS.index("seq")]) for r in receiver.storage.iter_events()]


def test_an_event_published_twice_with_the_same_id_is_stored_once(receiver, unit):
    unit.event(row(1))
    unit.event(row(1))
    unit.event(row(2))
    wait_until(lambda: receiver.counts.get("stored", 0) + receiver.counts.get("duplicate", 0) == 3, 10,
               what="three events handled")
    assert stored_seqs(receiver) == [1, 2]
    assert receiver.counts["duplicate"] == 1


def test_a_missing_seq_is_reported_as_a_gap_until_it_arrives(receiver, unit):
    for seq in (1, 2, 4):
        unit.event(row(seq))
    # The receiver counts a batch after its commit and acks (receiver._commit): the counts are waited for.
    wait_until(lambda: receiver.counts.get("stored") == 3 and "gaps_opened" in receiver.counts, 10,
               what="three events stored and the gap counted")
    assert receiver.gaps() == [Gap(SITE, UNIT, 3, 3)]
    assert receiver.counts["gaps_opened"] == 1
    assert receiver.fleet()[0].gaps == 1
    unit.event(row(3))
    wait_until(lambda: receiver.counts.get("stored") == 4 and "seqs_filled" in receiver.counts, 10,
               what="the late event stored and counted as filling the gap")
    assert receiver.gaps() == []
    assert receiver.counts["seqs_filled"] == 1
    assert receiver.fleet()[0].gaps == 0


def test_gaps_are_kept_per_unit(receiver, unit):
    unit.event(row(1))
    unit.event(row(5), unit="kitchen-2")
    unit.event(row(7), unit="kitchen-2")
    unit.event(row(2))
    wait_until(lambda: receiver.counts.get("stored") == 4, 10, what="four events stored")
    assert receiver.gaps() == [Gap(SITE, "kitchen-2", 6, 6)]


MALFORMED = [
    (TOPICS["event"], b"{not json"),
    (TOPICS["event"], b"\xff\xfe"),
    (TOPICS["event"], b"[1, 2]"),
    (TOPICS["event"], json.dumps(dict(json.loads(W.encode_event(row(9))), seq="9")).encode()),
    (TOPICS["event"], json.dumps(dict(json.loads(W.encode_event(row(9))), seq=True)).encode()),
    (TOPICS["event"], json.dumps(dict(json.loads(W.encode_event(row(9))), ts="yesterday")).encode()),
    (TOPICS["event"], json.dumps(dict(json.loads(W.encode_event(row(9))), severity="panic")).encode()),
    (TOPICS["event"], json.dumps(dict(json.loads(W.encode_event(row(9))), site="other-site")).encode()),
    (TOPICS["event"], json.dumps(dict(json.loads(W.encode_event(row(9))), extra=1)).encode()),
    (TOPICS["event"], json.dumps({k: v for k, v in json.loads(W.encode_event(row(9))).items() if k != "id"}).encode()),
    (TOPICS["status"], b"maybe"),
    (TOPICS["state"], b"not json"),
]


def test_malformed_payloads_are_counted_and_nothing_is_stored(receiver, unit):
    for topic, payload in MALFORMED:
        unit.publish(topic, payload)
    unit.event(row(1))  # arrives after every malformed one (QoS 1, one publisher, in order)
    wait_until(lambda: receiver.counts.get("stored") == 1, 10, what="the good event stored")
    assert receiver.counts["refused"] == len(MALFORMED)
    assert stored_seqs(receiver) == [1]
    assert receiver.status(SITE, UNIT) is None
    assert receiver.state(SITE, UNIT) is None
    assert set(receiver.refused) == {"json", "types", "mismatch", "fields", "status"}


def test_a_payload_naming_another_site_than_its_topic_is_refused():
    payload = json.dumps(dict(json.loads(W.encode_event(row(1))), site="elsewhere")).encode()
    with pytest.raises(PayloadError) as err:
        parse_event(TOPICS["event"], payload)
    assert err.value.code == "mismatch"


def test_last_state_and_online_status_are_kept_per_unit(receiver, unit):
    unit.publish(TOPICS["status"], b"online", retain=True)
    unit.publish(TOPICS["state"], b'{"valve":"open","detectors":{"det1":"normal"}}', retain=True)
    unit.publish(TOPICS["state"], b'{"valve":"closed","detectors":{"det1":"alarm"}}', retain=True)
    wait_until(lambda: receiver.counts.get("state") == 2, 10, what="two states")
    assert receiver.state(SITE, UNIT) == {"valve": "closed", "detectors": {"det1": "alarm"}}
    assert receiver.status(SITE, UNIT) == "online"
    unit.publish(TOPICS["status"], b"offline", retain=True)
    wait_until(lambda: receiver.status(SITE, UNIT) == "offline", 10, what="offline status")
    assert [(r.site, r.unit, r.status) for r in receiver.fleet()] == [(SITE, UNIT, "offline")]


def test_the_last_will_marks_a_unit_offline(receiver, broker):  # noqa: F811
    dying = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="dying-unit")
    dying.will_set(TOPICS["status"], b"offline", qos=1, retain=True)
    dying.connect(broker.host, broker.port, keepalive=5)
    dying.loop_start()
    dying.publish(TOPICS["status"], b"online", qos=1, retain=True).wait_for_publish(10)
    wait_until(lambda: receiver.status(SITE, UNIT) == "online", 10, what="online status")
    dying.loop_stop()
    dying.socket().close()  # a dropped connection, not a clean DISCONNECT: the broker sends the will
    wait_until(lambda: receiver.status(SITE, UNIT) == "offline", 10, what="offline from the last will")


def test_events_published_while_the_receiver_is_away_arrive_when_it_returns(broker, storage, unit):  # noqa: F811
    r = PlatformReceiver(storage, broker.host, broker.port, client_id="returning-platform")
    r.start()
    r.stop()
    for seq in range(1, 6):
        unit.event(row(seq))
    r = PlatformReceiver(storage, broker.host, broker.port, client_id="returning-platform")
    r.start()
    try:
        wait_until(lambda: r.counts.get("stored") == 5, 10, what="the queued events")
    finally:
        r.stop()
    assert stored_seqs(r) == [1, 2, 3, 4, 5]


def test_the_fleet_counts_trips_and_open_alarms_until_they_clear(receiver, unit):
    unit.event(row(1, E.DETECTOR, E.SEVERITY_ALARM, "det1", "alarm_high", 2500, "over limit"))
    unit.event(row(2, E.TRIP, E.SEVERITY_ALARM, "controller", "latched", None, "det1 alarm_high"))
    wait_until(lambda: receiver.counts.get("stored") == 2, 10, what="two events")
    (fleet_row,) = receiver.fleet()
    assert (fleet_row.open_alarms, fleet_row.trips) == (2, 1)
    assert fleet_row.last_event == "trip latched at 2026-11-24T21:50:41.123Z"
    unit.event(row(3, E.DETECTOR, E.SEVERITY_INFO, "det1", "normal", 10, "back below limit"))
    unit.event(row(4, E.RESET, E.SEVERITY_INFO, "button", "armed", None, "reset on site"))
    wait_until(lambda: receiver.counts.get("stored") == 4, 10, what="four events")
    (fleet_row,) = receiver.fleet()
    assert (fleet_row.open_alarms, fleet_row.trips) == (0, 1)


def test_csv_export_contains_every_stored_event(receiver, unit, tmp_path):
    unit.event(row(1, value=2500, reason="a, \"quoted\"; reason"))
    unit.event(row(2, value="text"))
    unit.event(row(3))
    wait_until(lambda: receiver.counts.get("stored") == 3, 10, what="three events")
    path = tmp_path / "events.csv"
    assert receiver.export_csv(str(path)) == 3
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["site"], r["unit"], r["seq"], r["value"]) for r in rows] == [
        (SITE, UNIT, "1", "2500"), (SITE, UNIT, "2", "text"), (SITE, UNIT, "3", "")]
    assert rows[0]["reason"] == "a, \"quoted\"; reason"
    assert rows[0]["id"] == "k3y-000000000001"
    buffer = io.StringIO()
    assert receiver.export_csv(buffer) == 3
    assert buffer.getvalue().splitlines()[0] == ",".join(CSV_COLUMNS)


def test_the_cli_exports_the_database_as_csv(platform_db, receiver, unit, tmp_path):
    for seq in (1, 2):
        unit.event(row(seq))
    wait_until(lambda: receiver.counts.get("stored") == 2, 10, what="two events")
    result = CliRunner().invoke(platform, ["--db", platform_db, "--csv", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out.csv", newline="") as f:
        assert [r["seq"] for r in csv.DictReader(f)] == ["1", "2"]
    result = CliRunner().invoke(platform, ["--db", platform_db, "--csv", "-"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)


def test_the_cli_shows_the_fleet_once(broker, unit, platform_db):  # noqa: F811
    unit.publish(TOPICS["status"], b"online", retain=True)
    result = CliRunner().invoke(platform, ["--broker", "%s:%d" % (broker.host, broker.port), "--db", platform_db,
                                           "--client-id", "cli-test", "--once"],
                                 env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert UNIT in result.output and "online" in result.output


def test_what_the_queue_holds_is_settled_once_stored_or_left_to_the_broker(broker, storage, unit):  # noqa: F811
    """`--once` ends when nothing came for a while and nothing taken is unsettled: messages a stopped connection
    left in the queue (the broker sends them again) are settled at the next start, not waited for forever."""
    r = PlatformReceiver(storage, broker.host, broker.port, client_id="settling")
    left = mqtt.MQTTMessage(mid=7, topic=TOPICS["status"].encode())
    left.payload, left.qos = b"online", 1
    r._on_message(None, None, left)  # as paho hands one over, with no storage thread to take it
    assert (r.received(), r.unsettled()) == (1, 1)
    r.start()
    try:
        assert r.unsettled() == 0, "the message a previous connection left is the broker's again"
        unit.event(row(1))
        wait_until(lambda: r.counts.get("stored") == 1 and r.unsettled() == 0, 10, what="the event stored, settled")
        assert r.received() >= 1
    finally:
        r.stop()


def test_the_cli_names_an_unreachable_broker(tmp_path):
    from gaslatch_tools.testing.ports import free_port
    port = free_port()
    result = CliRunner().invoke(platform, ["--broker", "127.0.0.1:%d" % port, "--db", str(tmp_path / "p.sqlite"),
                                           "--once"])
    assert result.exit_code != 0
    assert "127.0.0.1:%d" % port in result.output


def test_the_cli_refuses_a_broker_without_a_port():
    result = CliRunner().invoke(platform, ["--broker", "localhost", "--csv", "-"])
    assert result.exit_code == 2
    assert "HOST:PORT" in result.output


# --- the edge, without a broker: hypothesis ---

names = st.text(st.characters(blacklist_characters="+#/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=20)
# Any text: NUL and lone surrogates in the free texts are stored escaped (see the tests below).
texts = st.text(st.characters(exclude_categories=()), max_size=40)


@st.composite
def rows(draw):
    return {"id": draw(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1,
                               max_size=64)),
            "seq": draw(st.integers(1, 2 ** 63 - 1)), "t_ms": draw(st.integers(0, 2 ** 63 - 1)),
            "wall_ts": "2026-11-24T21:50:41.123Z", "clock_synced": draw(st.booleans()),
            "type": draw(st.sampled_from(E.EVENT_TYPES)),
            "severity": draw(st.sampled_from((E.SEVERITY_ALARM, E.SEVERITY_FAULT, E.SEVERITY_WARNING,
                                               E.SEVERITY_INFO))),
            "source": draw(texts), "state": draw(texts),
            "value": draw(st.one_of(st.none(), st.integers(-2 ** 31, 2 ** 31), texts)), "reason": draw(texts)}


@given(rows(), names, names)
def test_every_event_the_unit_can_encode_is_accepted_with_its_text_as_safe_text_makes_it(r, site, unit_name):
    event = parse_event(W.topics(site, unit_name)["event"], W.encode_event(r))
    assert (event.site, event.unit, event.id, event.seq, event.t_ms, event.clock_synced) == (
        site, unit_name, r["id"], r["seq"], r["t_ms"], r["clock_synced"])
    assert (event.type, event.severity, event.source, event.state, event.reason) == (
        r["type"], r["severity"], E.safe_text(r["source"]), E.safe_text(r["state"]), E.safe_text(r["reason"]))
    assert json.loads(event.value) == (E.safe_text(r["value"]) if isinstance(r["value"], str) else r["value"])


@pytest.mark.parametrize("field, value", [("id", "\x00"), ("id", "\ud800"), ("seq", 2 ** 63), ("t_ms", 2 ** 63)])
def test_an_id_a_database_cannot_hold_and_integers_beyond_64_bits_are_refused(field, value):
    payload = json.dumps(dict(json.loads(W.encode_event(row(1))), **{field: value})).encode()
    with pytest.raises(PayloadError) as err:
        parse_event(TOPICS["event"], payload)
    assert err.value.code == "types" and field in err.value.problem


@pytest.mark.parametrize("field, value, stored", [("reason", "a\x00b", "a\\x00b"), ("value", "\x00", '"\\\\x00"'),
                                                  ("state", "\ud800", "\\ud800"), ("reason", "x" * 5000, None)])
def test_free_text_no_database_could_hold_is_stored_escaped_not_refused(field, value, stored):
    payload = json.dumps(dict(json.loads(W.encode_event(row(1))), **{field: value})).encode()
    event = parse_event(TOPICS["event"], payload)
    got = getattr(event, field)
    if stored is None:
        assert len(got) <= E.MAX_TEXT_CHARS and got.endswith(" chars)")
    else:
        assert got == stored


def snapshot(s):
    return list(s.iter_events()), s.fleet()


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3), max_leaves=6)


@st.composite
def hostile_events(draw):
    """A unit's event with some fields replaced by any JSON value: any text (NUL, lone surrogates), any int."""
    msg = json.loads(W.encode_event(draw(rows())))
    for field in draw(st.lists(st.sampled_from(W.EVENT_FIELDS), max_size=3, unique=True)):
        msg[field] = draw(json_values)
    return json.dumps(msg).encode()


@given(st.sampled_from(sorted(TOPICS.values()) + ["gaslatch/a/b", "x/a/b/event", "gaslatch/a/b/c/event"]),
       st.one_of(st.binary(max_size=300), st.builds(lambda r: W.encode_event(r)[:-1], rows()), hostile_events()))
def test_any_message_is_stored_or_refused_never_raised(module_storage, topic, payload):
    r = PlatformReceiver(module_storage, client_id="hypothesis")
    before = snapshot(module_storage)
    lost_before = module_storage.lost()
    outcome = r.handle(topic, payload)
    assert outcome in ("stored", "duplicate", "state", "status", "cleared", "refused")
    if outcome == "refused":
        # Nothing stored; a refused event whose store and seq can be read is recorded as lost at the platform,
        # with why, so that the unit's delivery goes past it (test_a_refused_event_is_recorded_...).
        assert list(module_storage.iter_events()) == before[0]
        new = [r for r in module_storage.lost() if r not in lost_before]
        assert len(new) <= 1 and all(r.reason.startswith(REFUSED_AT_PLATFORM) and r.first_seq == r.last_seq
                                     for r in new)


def test_a_refused_event_is_recorded_as_lost_at_the_platform_and_delivery_goes_past_it(receiver, unit,
                                                                                     platform_db):  # noqa: F811
    """A unit's event the platform cannot take (here an event type it does not know, as a newer unit could
    send) must not stay a hole: the unit would never hear an ack beyond it and stop sending after its window."""
    key = "a1b2c3d4e5f60708"  # an id the unit makes: its store key and the seq
    unit.event(row(1, key=key))
    strange = dict(json.loads(W.encode_event(row(2, key=key))), type="from_a_newer_unit")
    unit.publish(TOPICS["event"], json.dumps(strange).encode())
    unit.event(row(3, key=key))
    wait_until(lambda: receiver.counts.get("stored") == 2 and receiver.counts.get("refused") == 1, 10,
               what="two events stored and one refused")
    (lost,) = receiver.lost()
    assert (lost.first_seq, lost.last_seq) == (2, 2) and lost.reason.startswith(REFUSED_AT_PLATFORM)
    assert "from_a_newer_unit" in lost.reason
    assert receiver.gaps() == []
    result = CliRunner().invoke(platform, ["--db", platform_db, "--gaps"])
    assert result.output.splitlines()[0].endswith("lost at the platform (%s): seq 2" % lost.reason)


def test_the_cli_live_table_ends_after_the_given_seconds(broker, unit, platform_db):  # noqa: F811
    unit.publish(TOPICS["status"], b"online", retain=True)
    result = CliRunner().invoke(platform, ["--broker", "%s:%d" % (broker.host, broker.port), "--db", platform_db,
                                           "--client-id", "cli-live", "--seconds", "0.3"],
                                env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "stored 0, duplicates 0, refused 0" in result.output
