"""Every MQTT payload the unit sends or accepts matches its JSON Schema in docs/schemas/, which docs/events.md links.

Payloads come from the real encoders (hypothesis-generated records) and from a real unit talking to a real
broker; the schemas are checked against the Draft 2020-12 metaschema and against the core's constants.
"""

from __future__ import annotations

import datetime
import json
import re
import signal
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from gaslatch_tools.schema_validator import Validator

from gaslatch.core import detector_state as D
from gaslatch.core import events as E
from gaslatch.core import safety as S
from gaslatch.core import schedule as SCH
from gaslatch.core import uplink_wire as W
from gaslatch.core.config_schema import NAME_PATTERN
from gaslatch.unit import delivery as DL
from gaslatch.unit import uplink as U
from gaslatch_tools import schema_export
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.running_unit import RunningUnit
from gaslatch_tools.testing.waiting import wait_until
from tests.uplink.test_uplink_worker import Subscriber

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA_DIR = DOCS / "schemas"
# The schema file of every topic kind (W.TOPIC_KINDS).
SCHEMA_FILES = {"event": "event.schema.json", "state": "state.schema.json", "telemetry": "telemetry.schema.json",
                "status": "status.schema.json", "cmd": "cmd.schema.json", "cmd/reply": "cmd-reply.schema.json",
                "ack": "ack.schema.json", "gone": "gone.schema.json"}
KEY = b"unit-1 test key, not a real secret"
MALFORMED = b"not json"


def schema(kind: str) -> dict:
    return json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))


VALIDATORS = {kind: Validator(schema(kind)) for kind in SCHEMA_FILES}


def instance(kind: str, payload: bytes):
    """The JSON value a payload stands for: status is bare text, every other kind a JSON document."""
    text = payload.decode("utf-8")
    return text if kind == "status" else json.loads(text)


def assert_valid(kind: str, payload: bytes) -> None:
    errors = sorted(VALIDATORS[kind].iter_errors(instance(kind, payload)), key=str)
    assert not errors, "%s payload %r breaks %s: %s" % (kind, payload, SCHEMA_FILES[kind], errors[0].message)


def key_order(payload: bytes) -> list[str]:
    return [key for key, _ in json.loads(payload, object_pairs_hook=lambda pairs: pairs)]


# ---- the schemas themselves ----

@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_every_schema_is_a_valid_draft_2020_12_schema(kind):
    doc = schema(kind)

    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)
    assert doc["title"] and doc["description"]


def test_there_is_one_schema_per_topic_and_no_other_file_but_the_platforms_own_files_schemas():
    assert sorted(SCHEMA_FILES) == sorted(W.TOPIC_KINDS)
    files = [path.name for path in schema_export.OUTPUTS.values() if path.parent == SCHEMA_DIR]
    assert sorted(p.name for p in SCHEMA_DIR.iterdir()) == sorted(list(SCHEMA_FILES.values()) + files)


def test_events_md_links_every_schema_file_and_only_those():
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\((schemas/[^)#\s]+)\)", text)

    assert sorted(set(linked)) == sorted("schemas/" + name for name in SCHEMA_FILES.values())
    for link in linked:
        assert (DOCS / link).is_file(), link
    for kind in W.TOPIC_KINDS:  # each topic's row in the table names its schema
        assert re.search(r"\| `\.\.\./%s` \|.*\(schemas/%s\)" % (re.escape(kind), re.escape(SCHEMA_FILES[kind])),
                         text), "no table row for %s" % kind


def test_events_md_quotes_the_uplinks_own_limits():
    text = " ".join((DOCS / "events.md").read_text(encoding="utf-8").split())

    assert "at most %d events unacknowledged at a time by the broker" % DL.MAX_INFLIGHT_EVENTS in text
    assert "While more than %d events wait" % DL.BACKLOG_LONG_SEQS in text
    assert "at most %d events unanswered by the broker, and at most %s seqs sent beyond" % (
        DL.MAX_INFLIGHT_EVENTS, "{:,}".format(DL.SEND_AHEAD_SEQS)) in text
    assert "after %.0f s, then %.0f s" % (DL.ACK_STALL_S, 2 * DL.ACK_STALL_S) in text
    assert "up to %.0f s while nothing answers" % DL.ACK_STALL_MAX_S in text
    assert "up to %s per request" % "{:,}".format(DL.RESEND_MAX_ROWS) in text
    assert "more than %d s from the unit's clock" % W.COMMAND_WINDOW_S in text


def test_schemas_agree_with_the_core_constants():
    event, state, telemetry = schema("event"), schema("state"), schema("telemetry")

    assert event["required"] == list(W.EVENT_FIELDS)
    assert list(event["properties"]) == list(W.EVENT_FIELDS[:8]) + ["detector"] + list(W.EVENT_FIELDS[8:])
    assert event["properties"]["type"]["enum"] == list(E.EVENT_TYPES)
    assert sorted(event["properties"]["severity"]["enum"]) == sorted(
        [E.SEVERITY_ALARM, E.SEVERITY_FAULT, E.SEVERITY_WARNING, E.SEVERITY_INFO])
    assert state["required"] == list(W.STATE_FIELDS) == list(state["properties"])
    assert state["properties"]["outputs"]["propertyNames"]["enum"] == sorted(S.OUTPUTS)
    assert state["properties"]["interlocks"]["propertyNames"]["enum"] == sorted(
        [S.INTERLOCK_ESTOP, S.INTERLOCK_FIRE, S.INTERLOCK_VENTILATION])
    assert state["properties"]["schedule"]["enum"] == [SCH.ATTENDED, SCH.UNATTENDED, SCH.CLOCK_UNKNOWN, None]
    assert state["properties"]["detectors"]["additionalProperties"]["properties"]["state"]["enum"] == list(D.STATES)
    for names in (state["properties"]["detectors"], state["properties"]["inhibits"],
                  telemetry["properties"]["centi_pct_lel"], telemetry["properties"]["centi_ppm"]):
        assert names["propertyNames"]["pattern"] == NAME_PATTERN
    assert telemetry["required"] == list(W.TELEMETRY_FIELDS)
    assert list(telemetry["properties"]) == list(W.TELEMETRY_FIELDS) + [W.TELEMETRY_PPM_FIELD]
    assert schema("cmd")["required"] == list(W.CMD_FIELDS)
    assert schema("status")["enum"] == [U.ONLINE.decode(), U.OFFLINE.decode()]


@pytest.mark.parametrize("kind, value", [
    ("event", {"id": "x", "seq": 1, "ts": "2026-11-24T21:50:41.123Z", "t_ms": 0, "clock_synced": True,
               "type": "trip", "severity": "alarm", "source": "controller", "detector": "d1", "state": "latched",
               "value": None, "reason": ""}),  # detector on a trip
    ("event", {"id": "x", "seq": 1, "ts": "2026-11-24 21:50:41", "t_ms": 0, "clock_synced": True,
               "type": "trip", "severity": "alarm", "source": "controller", "state": "latched",
               "value": None, "reason": ""}),  # not UTC ISO 8601 with ms
    ("telemetry", {"ts": "2026-11-24T21:50:41.123Z", "t_ms": 0, "clock_synced": True,
                   "centi_pct_lel": {"d1": 2.5}}),  # a float
    ("status", "Online"),
    ("cmd/reply", {"id": None, "ok": "yes", "message": ""}),
])
def test_schemas_refuse_what_the_unit_never_sends(kind, value):
    assert not VALIDATORS[kind].is_valid(value)


# ---- payloads from the encoders ----

names = st.from_regex(NAME_PATTERN, fullmatch=True)
texts = st.text(max_size=80)
ints = st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
wall_ts = st.datetimes(min_value=datetime.datetime(2000, 1, 1)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (d.microsecond // 1000))


@st.composite
def event_rows(draw) -> dict:
    type_ = draw(st.sampled_from(E.EVENT_TYPES))
    return {"id": draw(st.from_regex(r"[0-9a-f]{16}-[0-9]{12}", fullmatch=True)),
            "seq": draw(st.integers(min_value=1, max_value=2 ** 63 - 1)), "t_ms": draw(ints),
            "wall_ts": draw(wall_ts), "clock_synced": draw(st.booleans()), "type": type_,
            "severity": draw(st.sampled_from([E.SEVERITY_ALARM, E.SEVERITY_FAULT, E.SEVERITY_WARNING,
                                              E.SEVERITY_INFO])),
            "source": draw(names) if type_ == E.DETECTOR else draw(texts), "state": draw(texts),
            "value": draw(st.one_of(st.none(), ints, texts)), "reason": draw(texts), "delivered": False}


@st.composite
def snapshots(draw) -> dict:
    return {
        "latched": draw(st.booleans()), "trip_reason": draw(texts), "valve_fault": draw(texts),
        "outputs": draw(st.dictionaries(st.sampled_from(S.OUTPUTS), st.booleans())),
        "interlocks": draw(st.dictionaries(st.sampled_from([S.INTERLOCK_ESTOP, S.INTERLOCK_FIRE,
                                                            S.INTERLOCK_VENTILATION]), st.booleans())),
        "inhibits": draw(st.dictionaries(names, st.integers(min_value=0, max_value=30 * 60), max_size=2)),
        "silenced_s": draw(st.one_of(st.none(), st.integers(min_value=0, max_value=900))),
        "schedule": draw(st.sampled_from([None, SCH.ATTENDED, SCH.UNATTENDED, SCH.CLOCK_UNKNOWN])),
        "detectors": draw(st.dictionaries(names, st.fixed_dictionaries({
            "state": st.sampled_from(D.STATES), "centi_pct_lel": st.one_of(st.none(), ints)}), max_size=8)),
        "clock_synced": draw(st.booleans()),
        "config": {"identity": draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
                   "version": draw(st.integers(min_value=0, max_value=2 ** 31 - 1))},
    }


@st.composite
def telemetry_readings(draw) -> dict:
    return {"ts": draw(wall_ts), "t_ms": draw(ints), "clock_synced": draw(st.booleans()),
            "centi_pct_lel": draw(st.dictionaries(names, st.one_of(st.none(), ints), max_size=8))}


@given(event_rows())
def test_every_encoded_event_matches_the_event_schema_in_its_key_order(row):
    payload = W.encode_event(row)

    assert_valid("event", payload)
    assert key_order(payload) == [k for k in schema("event")["properties"] if k in json.loads(payload)]


@given(snapshots())
def test_every_encoded_state_matches_the_state_schema_in_its_key_order(snapshot):
    payload = W.encode_state(snapshot)

    assert_valid("state", payload)
    assert key_order(payload) == list(W.STATE_FIELDS)


@given(telemetry_readings())
def test_every_encoded_telemetry_matches_the_telemetry_schema_in_its_key_order(readings):
    payload = W.encode_telemetry(readings)

    assert_valid("telemetry", payload)
    assert key_order(payload) == list(W.TELEMETRY_FIELDS)


@given(st.one_of(st.none(), st.text(min_size=1, max_size=W.MAX_ID_CHARS)), st.booleans(), texts)
def test_every_encoded_reply_matches_the_reply_schema(id_, ok, message):
    assert_valid("cmd/reply", W.encode_reply(id_, ok, message))


@given(st.text(min_size=1, max_size=W.MAX_ID_CHARS), st.integers(min_value=0, max_value=2 ** 40),
       st.sampled_from(W.ALLOWED_CMDS),
       st.dictionaries(st.text(max_size=16), st.one_of(st.none(), st.booleans(), ints, texts), max_size=W.MAX_ARGS))
def test_every_signed_command_matches_the_command_schema(id_, ts_s, cmd, args):
    payload = W.sign_command(b"key", id_, ts_s, cmd, args)

    assert_valid("cmd", payload)
    check = W.verify_command(payload, b"key", ts_s, {})
    # Eight escaped arguments can make a payload longer than a unit takes: refused unread, as documented.
    if len(payload) <= W.MAX_COMMAND_BYTES:
        assert check.ok
    else:
        assert (check.ok, check.code) == (False, W.REFUSED_MALFORMED)


@pytest.mark.parametrize("payload", [U.ONLINE, U.OFFLINE])
def test_both_status_payloads_match_the_status_schema(payload):
    assert_valid("status", payload)


# ---- payloads from a real unit through a real broker ----

def tripped(state_payload: bytes) -> bool:
    state = json.loads(state_payload)
    return state["latched"] and state["detectors"]["d1"] == {"centi_pct_lel": 3000, "state": "high_alarm"}


def test_every_payload_a_running_unit_exchanges_with_a_real_broker_matches_its_schema(tmp_path, broker):
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    unit = RunningUnit(tmp_path, bus.link)
    (tmp_path / "uplink.key").write_bytes(KEY + b"\n")
    (tmp_path / "uplink.key").chmod(0o600)
    doc = json.loads(unit.config_path.read_text())
    doc["uplink"] = {"enabled": True, "host": broker.host, "port": broker.port, "tls": False,
                     "hmac_key_file": str(tmp_path / "uplink.key"), "keepalive_s": 5, "telemetry_s": 5}
    unit.config_path.write_text(json.dumps(doc))
    unit.set_input("reset_button", False)
    capture = Subscriber(broker, client_id="schema-capture", topics=W.topics("bench", "unit-1"))
    try:
        unit.start()
        running_config = unit.request("status")[0]["status"]["config"]
        unit.wait_detectors_normal()
        unit.press_reset()
        bus.set_gas(1, 30)  # 30 %LEL: detector alarm events and a trip
        wait_until(lambda: any(b'"type":"detector"' in p and b'"high_alarm"' in p for p in capture.on("event")), 10,
                   what="the detector's alarm event")
        now = int(time.time())
        for id_, cmd in (("c-status", "status"), ("c-close", "close_valve"), ("c-open", "open_valve")):
            capture.send(W.sign_command(KEY, id_, now, cmd, {}))
        capture.send(MALFORMED)
        wait_until(lambda: len(capture.on("cmd/reply")) >= 4, 10, what="a reply to every command")
        wait_until(lambda: any(tripped(p) for p in capture.on("state")), 10, what="the tripped state")
        wait_until(lambda: capture.on("telemetry"), 10, what="telemetry")
        unit.stop(signal.SIGTERM)
        wait_until(lambda: capture.on("status")[-1:] == [U.OFFLINE], 10, what="offline on stop")
    finally:
        unit.stop(signal.SIGTERM)
        unit.close()
        capture.close()
        bus.close()
    messages = capture.kinds()
    # gone needs events deleted by retention before the platform had them: tests/uplink/test_delivery.py
    assert {kind for kind, _ in messages} == set(W.TOPIC_KINDS) - {"gone"}
    for kind, payload in messages:
        if payload != MALFORMED:  # the one payload the test made invalid on purpose (its reply must be valid)
            assert_valid(kind, payload)
    readings = json.loads(capture.on("telemetry")[-1])["centi_pct_lel"]
    assert sorted(readings) == ["d1", "d2"]
    # The platform sees which configuration the unit runs, as `gaslatch status` shows it.
    assert json.loads(capture.on("state")[-1])["config"] == {"identity": running_config["identity"], "version": 0}


def test_a_pattern_s_end_is_the_end_of_the_text_as_json_schema_says_not_before_a_final_newline():
    ts_schema = schema("event")["properties"]["ts"]
    assert Validator(ts_schema).is_valid("2026-12-07T02:00:00.000Z")
    assert not Validator(ts_schema).is_valid("2026-12-07T02:00:00.000Z\n"), "Python's $ would let this through"
    assert not Validator(schema("ack")["properties"]["store"]).is_valid("a1b2\n")


def test_co_and_co2_readings_go_out_in_ppm_and_fit_the_schemas():
    telemetry = W.encode_telemetry({"ts": "2026-11-24T21:50:41.123Z", "t_ms": 5, "clock_synced": True,
                                    "centi_pct_lel": {"d1": 120, "c1": None}, "centi_ppm": {"c1": 285000}})
    state = W.encode_state({
        "latched": True, "trip_reason": "co2: c1 at the CO2 isolation level (IGEM/UP/19)", "valve_fault": "",
        "outputs": {"valve": False}, "interlocks": {}, "inhibits": {}, "silenced_s": None, "schedule": None,
        "detectors": {"d1": {"state": "normal", "centi_pct_lel": 120},
                      "c1": {"state": "high_alarm", "centi_pct_lel": None, "centi_ppm": 285000}},
        "clock_synced": True, "config": {"identity": "0" * 64, "version": 1}})

    assert telemetry.endswith(b',"centi_ppm":{"c1":285000}}')
    assert b'"c1":{"centi_pct_lel":null,"centi_ppm":285000,"state":"high_alarm"}' in state
    assert VALIDATORS["telemetry"].is_valid(json.loads(telemetry))
    assert VALIDATORS["state"].is_valid(json.loads(state))
    with pytest.raises(ValueError):
        W.encode_telemetry({"ts": "x", "t_ms": 5, "clock_synced": True, "centi_pct_lel": {}, "centi_ppm": {"c1": 2.5}})
