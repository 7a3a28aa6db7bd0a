"""One bad character must not stop the record (issue 13, section 2): any text, through every entry point,
reaches the store and both platform databases as safe text, and the record goes on after it."""

import json
import signal
import sqlite3
import time

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch.unit.event_store import EventStore
from gaslatch_tools.platform.receiver import PlatformReceiver, SqliteStorage, open_storage, parse_event
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.running_unit import RunningUnit
from gaslatch_tools.testing.waiting import wait_until

KEY = b"unit-1 test key, not a real secret"
SITE, UNIT = "bench", "unit-1"
TEXT_FIELDS = ("type", "severity", "source", "state", "reason")
# A real process, broker and two databases per example: fewer examples than the profile's, each a batch.
E2E_EXAMPLES = max(10, settings().max_examples // 8)

# Any text: lone surrogates, NUL, every control, bidi controls, every category, and huge.
any_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=60),
    st.sampled_from(["\ud800", "a\x00b", "\udfff\x00", "\x1b[2J\r\n", "\u202egnp.exe", "\ufeff", "\U0001fffe",
                     "x" * 5000, "\\ud800"]),
    st.text(st.characters(exclude_categories=()), min_size=2000, max_size=3000),
)


def is_safe(text):
    return (isinstance(text, str) and len(text) <= E.MAX_TEXT_CHARS
            and not any(E.is_unsafe_code_point(ord(ch)) for ch in text))


# ---- in process: the funnel, the store, the wire and both databases, for many examples ----

@pytest.fixture(scope="module")
def chain(tmp_path_factory, postgres):
    directory = tmp_path_factory.mktemp("hostile")
    store = EventStore(str(directory / "events.db"), unit=UNIT)
    storages = [SqliteStorage(str(directory / "platform.sqlite")),
                open_storage(postgres.create_database("hostile_text"))]
    receivers = [PlatformReceiver(s, client_id="hostile-%d" % i) for i, s in enumerate(storages)]
    log = E.EventLog(store.next_seq())
    yield log, store, receivers
    store.close()
    for s in storages:
        s.close()


# Values within 64 bits: a bigger one is stored in its safe form (test_a_row_written_behind_the_funnel...).
@given(st.lists(st.tuples(any_text, any_text, any_text, st.one_of(st.none(), st.integers(-2 ** 63, 2 ** 63 - 1),
                                                                  any_text)),
                min_size=1, max_size=4))
def test_any_text_in_any_field_is_stored_and_delivered_safe_and_the_record_goes_on(chain, fields):
    log, store, receivers = chain
    for source, state, reason, value in fields:
        log.emit(1, E.COMMAND, E.SEVERITY_WARNING, source, state, value, reason)
    emitted = log.drain()
    store.append(emitted)
    assert store.flush(10) and store.recorded_seq() == emitted[-1]["seq"], store.health()
    rows = store.query(since=emitted[0]["seq"])
    assert [r["seq"] for r in rows] == [r["seq"] for r in emitted]
    for row, record in zip(rows, emitted):
        assert {key: row[key] for key in E.FIELDS} == record
        assert all(is_safe(row[key]) for key in TEXT_FIELDS)
        payload = W.encode_event(row)
        for receiver in receivers:
            assert receiver.handle(W.topics(SITE, UNIT)["event"], payload) == "stored", receiver.refused
        event = parse_event(W.topics(SITE, UNIT)["event"], payload)
        assert (event.source, event.state, event.reason) == (row["source"], row["state"], row["reason"])


def test_a_row_written_behind_the_funnel_cannot_wedge_the_store(chain):
    log, store, _ = chain
    first = store.next_seq()
    log.next_seq = first + 2  # the funnel's numbering goes on after these two
    store.append([{"seq": first, "t_ms": 1, "type": E.COMMAND, "severity": E.SEVERITY_WARNING, "source": "\ud800",
                   "state": "refused", "value": 2 ** 80, "reason": "x\x00"},
                  {"seq": first + 1, "t_ms": 2, "type": E.COMMAND, "severity": E.SEVERITY_INFO, "source": "ok",
                   "state": "ok", "value": None, "reason": ""}])
    assert store.flush(10) and store.recorded_seq() == first + 1


# ---- the real unit: MQTT commands (unsigned and signed), the control socket, all the way to both databases ----

@pytest.fixture
def fleet(tmp_path, broker, postgres):
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    unit.enable_uplink(broker, KEY)
    unit.set_input("reset_button", False)
    storages = [SqliteStorage(str(tmp_path / "platform.sqlite")), open_storage(postgres.create_database(
        "hostile_fleet_%d" % int(time.time() * 1000)))]
    receivers = [PlatformReceiver(s, broker.host, broker.port, client_id="hostile-fleet-%d" % i)
                 for i, s in enumerate(storages)]
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="hostile-platform")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for receiver in receivers:
            receiver.start()
        unit.start()
        # Ready is the first scan; the uplink subscribes to its commands just after (an earlier command is lost).
        wait_until(lambda: any("uplink: connected" in line for line in unit.lines), 10, what="the uplink connected")
        yield unit, client, receivers
    finally:
        unit.stop(signal.SIGTERM)
        unit.close()
        client.loop_stop()
        for receiver in receivers:
            receiver.stop()
        for s in storages:
            s.close()
        bus.close()


def unit_rows(unit):
    with sqlite3.connect("file:%s?mode=ro" % unit.store_path, uri=True) as db:
        return db.execute("SELECT id, seq, type, severity, source, state, value, reason FROM events "
                          "ORDER BY seq").fetchall()


def platform_rows(receiver):
    return {row[2]: row for row in receiver.storage.iter_events()}  # by id


def send(client, how, text, serial):
    """One hostile command as a platform (or anyone with publish rights on cmd) could send it."""
    topic = W.topics(SITE, UNIT)["cmd"]
    if how == "unsigned":
        payload = json.dumps({"id": text, "cmd": text, "args": {"detector": text}, "ts": int(time.time())})
    elif how == "raw":
        payload = text.encode("utf-8", "surrogatepass")
    else:
        try:
            payload = W.sign_command(KEY, "h-%d" % serial, int(time.time()), text[:W.MAX_CMD_CHARS], {})
        except UnicodeEncodeError:  # a lone surrogate: the platform cannot even sign it
            payload = json.dumps({"id": "h-%d" % serial, "cmd": text, "args": {}, "hmac": "0" * 64})
    client.publish(topic, payload, qos=1).wait_for_publish(5)


def test_hostile_commands_from_the_platform_and_the_socket_never_stop_the_record(fleet):
    unit, client, receivers = fleet
    serial = iter(range(10 ** 6))

    @settings(max_examples=E2E_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
    @given(st.lists(st.tuples(st.sampled_from(["unsigned", "signed", "raw", "socket"]), any_text),
                    min_size=1, max_size=4))
    def example(inputs):
        for how, text in inputs:
            if how == "socket":
                unit.request("inhibit", {"detector": text, "minutes": 1})
            else:
                send(client, how, text, next(serial))
        # A marker after the hostile input: it must be recorded and delivered like any other event.
        before = max([row[1] for row in unit_rows(unit)] or [0])
        assert unit.request("test_output", {"line": "fan", "ms": 1})[0]["ok"]
        marker = wait_until(lambda: [row for row in unit_rows(unit) if row[1] > before and row[5] == "test_output"],
                            10, what="the marker event recorded after the hostile input")[0]
        for receiver in receivers:
            wait_until(lambda: marker[0] in platform_rows(receiver), 10,
                       what="the marker at the platform (%s)" % type(receiver.storage).__name__)
        rows = unit_rows(unit)
        for receiver in receivers:
            stored = platform_rows(receiver)
            assert receiver.refused == {}
            for row in rows:
                if row[1] <= marker[1]:
                    assert row[0] in stored, "seq %d never reached %s" % (row[1], type(receiver.storage).__name__)
        for row in rows:
            assert all(is_safe(text) for text in row[2:6] + row[7:])

    # The first refusal of a quiet minute is recorded at once, with its text; later ones go into a digest
    # (one event a minute), so the escaped text is looked for in that first one.
    send(client, "signed", "open\ud800\x00valve\u202e", -1)  # a lone surrogate: sent with a forged hmac
    wait_until(lambda: [row for row in unit_rows(unit) if row[2] == E.COMMAND and "\\" in row[7]], 10,
               what="the first hostile refusal recorded, escaped")
    example()
    assert unit.request("status")[0]["status"]["store"]["ok"] is True
    escaped = [row for row in unit_rows(unit) if row[2] == E.COMMAND and "\\" in row[7]]
    assert escaped, "no hostile text reached an event: the test sent nothing that matters"
