"""The uplink wire format: topics, event and reply bytes, and command authentication, on both interpreters."""

import ast
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.micropython_runner import run_micropython

KEY = b"per-unit key for kitchen-7, 32 b"
NOW_S = 1_790_000_000
IDENTITY = hashlib.sha256(b"a kitchen config").hexdigest()


def _row(**changes):
    row = {"id": "a1b2c3d4e5f60708-000000000042", "seq": 42, "t_ms": 123456, "wall_ts": "2026-11-24T21:50:41.123Z",
           "clock_synced": True, "type": E.TRIP, "severity": E.SEVERITY_ALARM, "source": "controller",
           "state": "latched", "value": None, "reason": "hood1 high alarm", "delivered": False}
    row.update(changes)
    return row


def _signed(cmd="close_valve", id_="cmd-1", ts_s=NOW_S, args=None, key=KEY):
    return W.sign_command(key, id_, ts_s, cmd, {} if args is None else args)


def _check(payload, now_s=NOW_S, seen=None, **kwargs):
    return W.verify_command(payload, KEY, now_s, {} if seen is None else seen, **kwargs)


def _with(payload, **changes):
    msg = json.loads(payload)
    msg.update(changes)
    return json.dumps(msg).encode()


# ---- topics ----

def test_topics_name_every_kind_under_site_and_unit():
    assert W.topics("shanghai-xuhui", "kitchen-7") == {
        "event": "gaslatch/shanghai-xuhui/kitchen-7/event",
        "state": "gaslatch/shanghai-xuhui/kitchen-7/state",
        "telemetry": "gaslatch/shanghai-xuhui/kitchen-7/telemetry",
        "status": "gaslatch/shanghai-xuhui/kitchen-7/status",
        "cmd": "gaslatch/shanghai-xuhui/kitchen-7/cmd",
        "ack": "gaslatch/shanghai-xuhui/kitchen-7/ack",
        "gone": "gaslatch/shanghai-xuhui/kitchen-7/gone",
        "cmd/reply": "gaslatch/shanghai-xuhui/kitchen-7/cmd/reply",
    }


@pytest.mark.parametrize("bad", ["a+b", "a#", "site/7", "nul\x00", "", "x" * 65, 7, None])
def test_names_that_cannot_be_one_topic_level_are_rejected_not_escaped(bad):
    with pytest.raises(W.TopicNameError) as caught:
        W.topics("site", bad)

    assert caught.value.field == "unit"
    with pytest.raises(W.TopicNameError):
        W.topics(bad, "unit")


def test_non_ascii_site_names_are_allowed():
    assert W.topics("徐汇", "灶台1")["event"] == "gaslatch/徐汇/灶台1/event"


# ---- event and reply payloads ----

def test_event_payload_has_fixed_key_order_and_wall_ts_as_ts():
    assert W.encode_event(_row()) == (
        b'{"id":"a1b2c3d4e5f60708-000000000042","seq":42,"ts":"2026-11-24T21:50:41.123Z","t_ms":123456,'
        b'"clock_synced":true,"type":"trip","severity":"alarm","source":"controller","state":"latched",'
        b'"value":null,"reason":"hood1 high alarm"}')


def test_detector_events_name_the_detector():
    payload = W.encode_event(_row(type=E.DETECTOR, source="hood1", state="high_alarm", value=2710,
                                  clock_synced=False))

    assert json.loads(payload)["detector"] == "hood1"
    assert b'"source":"hood1","detector":"hood1","state":"high_alarm","value":2710' in payload
    assert b'"clock_synced":false' in payload


def test_event_payload_is_ascii_json_equal_to_the_row():
    payload = W.encode_event(_row(reason='灶台 "hood" \\ \n \x7f 🔥'))

    assert payload.isascii()
    assert rb'\u7076\u53f0 \"hood\" \\ \u000a \u007f \ud83d\udd25' in payload
    assert json.loads(payload)["reason"] == '灶台 "hood" \\ \n \x7f 🔥'


@given(st.text(), st.one_of(st.none(), st.integers(), st.text()), st.booleans())
def test_event_payload_round_trips_any_text_and_value(reason, value, synced):
    payload = W.encode_event(_row(reason=reason, value=value, clock_synced=synced))

    decoded = json.loads(payload.decode("ascii"))
    assert (decoded["reason"], decoded["value"], decoded["clock_synced"]) == (reason, value, synced)
    assert list(decoded) == list(W.EVENT_FIELDS)


def test_event_row_with_wrong_types_is_refused():
    with pytest.raises(ValueError):
        W.encode_event(_row(clock_synced=1))
    with pytest.raises(ValueError):
        W.encode_event(_row(wall_ts=None))


def test_reply_payload_carries_id_verdict_and_message():
    assert W.encode_reply("cmd-1", True, "valve closed") == b'{"id":"cmd-1","ok":true,"message":"valve closed"}'
    assert W.encode_reply(None, False, W.NOT_ALLOWED_REASON) == (
        b'{"id":null,"ok":false,"message":"not allowed remotely: only a person on site can reopen the gas"}')


@given(st.one_of(st.text(), st.text(st.characters(max_codepoint=0x80)),
                 st.text(st.characters(blacklist_categories=()))))  # lone surrogates too
def test_the_json_string_shortcut_gives_the_events_escaper_bytes(text):
    assert W.json_string(text) == E.encode_str(text)


# ---- state and telemetry payloads ----

def _snapshot(**changes):
    snapshot = {"latched": True, "trip_reason": "gas: hood1 high alarm", "valve_fault": "",
                "outputs": {"valve": False, "fan": True, "sounder": True, "beacon": True, "fault_relay": True},
                "interlocks": {"fire_alarm": False, "emergency_stop": False, "ventilation": False},
                "inhibits": {"hood2": 600}, "silenced_s": None, "schedule": "attended",
                "detectors": {"hood1": {"state": "high_alarm", "centi_pct_lel": 2710},
                              "hood2": {"state": "warmup", "centi_pct_lel": None}},
                "clock_synced": False, "config": {"identity": IDENTITY, "version": 3}}
    snapshot.update(changes)
    return snapshot


def _readings(**changes):
    readings = {"ts": "2026-11-24T21:50:41.123Z", "t_ms": 123456, "clock_synced": True,
                "centi_pct_lel": {"hood2": None, "hood1": 2710}}
    readings.update(changes)
    return readings


def test_state_payload_has_fixed_keys_in_order_and_sorted_nested_keys():
    assert W.encode_state(_snapshot()) == (
        b'{"latched":true,"trip_reason":"gas: hood1 high alarm","valve_fault":"","outputs":{"beacon":true,'
        b'"fan":true,"fault_relay":true,"sounder":true,"valve":false},"interlocks":{"emergency_stop":false,'
        b'"fire_alarm":false,"ventilation":false},"inhibits":{"hood2":600},"silenced_s":null,"schedule":"attended",'
        b'"detectors":{"hood1":{"centi_pct_lel":2710,"state":"high_alarm"},"hood2":{"centi_pct_lel":null,'
        b'"state":"warmup"}},"clock_synced":false,"config":{"identity":"' + IDENTITY.encode() + b'","version":3}}')


def test_state_payload_ignores_extra_keys_of_the_snapshot_and_its_detectors():
    detectors = {"hood1": {"state": "normal", "centi_pct_lel": 0, "since_ms": 5}}

    assert W.encode_state(_snapshot(detectors=detectors, scan={"p99_us": 40})) == \
        W.encode_state(_snapshot(detectors={"hood1": {"state": "normal", "centi_pct_lel": 0}}))


def test_telemetry_payload_is_compact_with_fixed_keys():
    assert W.encode_telemetry(_readings()) == (
        b'{"ts":"2026-11-24T21:50:41.123Z","t_ms":123456,"clock_synced":true,"centi_pct_lel":{"hood1":2710,'
        b'"hood2":null}}')


@pytest.mark.parametrize("key", W.STATE_FIELDS)
def test_a_state_snapshot_without_a_field_is_refused_naming_it(key):
    snapshot = _snapshot()
    del snapshot[key]

    with pytest.raises(ValueError, match=key):
        W.encode_state(snapshot)


@pytest.mark.parametrize("changes, named", [
    ({"latched": 1}, "latched"), ({"trip_reason": None}, "trip_reason"), ({"schedule": 3}, "schedule"),
    ({"outputs": {"valve": 0}}, "outputs.valve"), ({"outputs": [("valve", True)]}, "outputs"),
    ({"interlocks": {1: True}}, "interlocks"), ({"inhibits": {"hood1": -1}}, "inhibits.hood1"),
    ({"inhibits": {"hood1": True}}, "inhibits.hood1"), ({"silenced_s": 1.5}, "silenced_s"),
    ({"detectors": {"hood1": {"state": "normal"}}}, "detectors.hood1"),
    ({"detectors": {"hood1": {"state": "normal", "centi_pct_lel": 25.5}}}, "detectors.hood1"),
    ({"detectors": {"hood1": {"state": None, "centi_pct_lel": 0}}}, "detectors.hood1"),
    ({"config": {"identity": IDENTITY.upper(), "version": 3}}, "config"),
    ({"config": {"identity": IDENTITY[:12], "version": 3}}, "config"),
    ({"config": {"identity": IDENTITY, "version": -1}}, "config"),
    ({"config": {"identity": IDENTITY}}, "config"),
])
def test_a_state_snapshot_with_a_wrong_type_is_refused_naming_the_field(changes, named):
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        W.encode_state(_snapshot(**changes))


@pytest.mark.parametrize("changes, named", [
    ({"ts": None}, "ts"), ({"t_ms": "1"}, "t_ms"), ({"t_ms": False}, "t_ms"), ({"clock_synced": None}, "clock_synced"),
    ({"centi_pct_lel": {"hood1": 27.1}}, "centi_pct_lel.hood1"), ({"centi_pct_lel": None}, "centi_pct_lel"),
])
def test_telemetry_with_a_wrong_type_is_refused_naming_the_field(changes, named):
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        W.encode_telemetry(_readings(**changes))


names = st.text(min_size=1, max_size=12)
readings_values = st.one_of(st.none(), st.integers())


@given(st.dictionaries(names, st.fixed_dictionaries({"state": st.text(), "centi_pct_lel": readings_values})),
       st.dictionaries(names, st.integers(min_value=0)), st.text(), st.one_of(st.none(), st.text()))
def test_state_payload_round_trips_any_names_texts_and_readings(detectors, inhibits, reason, schedule):
    snapshot = _snapshot(detectors=detectors, inhibits=inhibits, trip_reason=reason, schedule=schedule)
    payload = W.encode_state(snapshot)

    assert payload.isascii()
    assert json.loads(payload) == snapshot
    assert W.encode_state(json.loads(payload)) == payload  # decoding and encoding again gives the same bytes


@given(st.dictionaries(names, readings_values), st.integers(), st.booleans())
def test_telemetry_payload_round_trips_any_readings(centi_pct_lel, t_ms, synced):
    readings = _readings(centi_pct_lel=centi_pct_lel, t_ms=t_ms, clock_synced=synced)
    payload = W.encode_telemetry(readings)

    assert json.loads(payload) == readings
    assert list(json.loads(payload)) == list(W.TELEMETRY_FIELDS)


# ---- HMAC ----

@given(st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_matches_the_cpython_hmac_module(key, message):
    assert W.hmac_sha256(key, message) == hmac.new(key, message, hashlib.sha256).digest()


@given(st.binary(min_size=65, max_size=300), st.binary(max_size=100))
def test_hmac_hashes_keys_longer_than_the_block_like_the_hmac_module(key, message):
    assert W.hmac_sha256(key, message) == hmac.new(key, message, hashlib.sha256).digest()


def test_hmac_matches_rfc_4231_test_case_2():
    mac = W.hmac_sha256(b"Jefe", b"what do ya want for nothing?")

    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_constant_time_compare_agrees_with_equality(a, b):
    assert W.equal_in_constant_time(a, b) == (a == b)


PRINTABLE = st.text(st.characters(blacklist_categories=("Cc",)), max_size=8)


@given(st.dictionaries(PRINTABLE, st.one_of(st.none(), st.booleans(), st.integers(), PRINTABLE), max_size=5))
def test_canonical_json_is_json_dumps_sorted_compact_ascii_for_printable_text(args):
    assert W.canonical_json(args) == json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def test_canonical_json_writes_a_whole_float_as_an_integer_and_refuses_a_non_finite_one():
    assert W.canonical_json({"b": 12.5, "a": [3.0, -0.25, 1e-07]}) == '{"a":[3,-0.25,1e-07],"b":12.5}'
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            W.canonical_json({"a": bad})


def test_canonical_json_escapes_control_characters_and_del_as_u_escapes():
    assert W.canonical_json({"b": "\n\x7f", "a": [1, True, None]}) == '{"a":[1,true,null],"b":"\\u000a\\u007f"}'


# ---- command verification ----

def test_a_correctly_signed_command_is_accepted_and_remembered():
    seen = {}

    check = _check(_signed("silence", args={"duration_s": 300}), seen=seen)

    assert tuple(check) == (True, "silence", {"duration_s": 300}, "cmd-1", "")
    assert check.code == W.OK
    assert seen == {"cmd-1": NOW_S}


@pytest.mark.parametrize("cmd", W.ALLOWED_CMDS)
def test_every_allowed_command_is_accepted(cmd):
    assert _check(_signed(cmd)).ok


@pytest.mark.parametrize("payload", [b"", b"not json", b"[1,2]", b'"text"', b"\xff\xfe", b"{" * 600, b"1" * 2000])
def test_malformed_payload_is_refused(payload):
    check = _check(payload)

    assert (check.ok, check.code) == (False, W.REFUSED_MALFORMED)


def test_missing_and_extra_fields_are_refused():
    msg = json.loads(_signed())
    missing = dict(msg)
    del missing["ts"]
    extra = dict(msg, open=True)

    assert _check(json.dumps(missing).encode()).code == W.REFUSED_FIELDS
    assert _check(json.dumps(extra).encode()).code == W.REFUSED_FIELDS


@pytest.mark.parametrize("changes", [
    {"id": 7}, {"id": ""}, {"id": "x" * 65}, {"ts": "1790000000"}, {"ts": 1790000000.0}, {"ts": True},
    {"cmd": None}, {"args": []}, {"args": {"nested": {"a": 1}}}, {"args": {"f": 1.5}}, {"hmac": "zz" * 32},
    {"hmac": "ab"}, {"hmac": 5},
])
def test_fields_of_the_wrong_type_are_refused(changes):
    check = _check(_with(_signed(), **changes))

    assert (check.ok, check.code) == (False, W.REFUSED_TYPES)


def test_wrong_key_or_altered_field_fails_the_hmac():
    assert _check(_signed(key=b"another unit's key")).code == W.REFUSED_HMAC
    assert _check(_with(_signed("status"), cmd="close_valve")).code == W.REFUSED_HMAC
    assert _check(_with(_signed(args={"duration_s": 60}), args={"duration_s": 900})).code == W.REFUSED_HMAC


def test_hmac_in_upper_case_hex_is_accepted():
    msg = json.loads(_signed())

    assert _check(_with(_signed(), hmac=msg["hmac"].upper())).ok


@pytest.mark.parametrize("offset_s", [-61, 61, -100000])
def test_stale_or_future_commands_are_refused(offset_s):
    check = _check(_signed(ts_s=NOW_S + offset_s))

    assert (check.ok, check.code) == (False, W.REFUSED_STALE)


def test_with_the_clock_not_synchronised_only_close_valve_is_taken_whatever_its_timestamp():
    seen = {}
    old_close = _signed("close_valve", id_="c-old", ts_s=NOW_S - 86400)
    assert _check(old_close, seen=seen, clock_trusted=False).ok
    assert _check(old_close, seen=seen, clock_trusted=False).code == W.REFUSED_REPLAY
    assert _check(_signed("status", id_="s-old", ts_s=NOW_S - 86400), clock_trusted=False).code == W.REFUSED_STALE
    assert _check(old_close).code == W.REFUSED_STALE  # with a synchronised clock it is simply stale


@pytest.mark.parametrize("offset_s", [-60, 60])
def test_commands_at_the_edge_of_the_window_are_accepted(offset_s):
    assert _check(_signed(ts_s=NOW_S + offset_s)).ok


def test_a_replayed_command_is_refused():
    seen = {}
    payload = _signed()

    assert _check(payload, seen=seen).ok
    check = _check(payload, now_s=NOW_S + 30, seen=seen)

    assert (check.ok, check.code, check.id) == (False, W.REFUSED_REPLAY, "cmd-1")


def test_seen_ids_older_than_the_window_are_pruned():
    seen = {"old": NOW_S - 61, "recent": NOW_S - 59}

    assert _check(_signed(id_="new"), seen=seen).ok
    assert seen == {"recent": NOW_S - 59, "new": NOW_S}


def test_more_fresh_commands_than_can_be_remembered_are_refused_not_forgotten():
    seen = {"c%d" % i: NOW_S for i in range(W.MAX_SEEN_IDS)}

    check = _check(_signed(id_="one-too-many"), seen=seen)

    assert (check.ok, check.code) == (False, W.REFUSED_BUSY)
    assert len(seen) == W.MAX_SEEN_IDS


@pytest.mark.parametrize("cmd", ["open_valve", "reset", "reset_trip", "inhibit", "shell"])
def test_requests_to_reopen_reset_or_anything_else_are_refused_distinguishably(cmd):
    seen = {}

    check = _check(_signed(cmd), seen=seen)

    assert tuple(check) == (False, cmd, {}, "cmd-1", "not allowed remotely: only a person on site can reopen the gas")
    assert check.code == W.REFUSED_NOT_ALLOWED
    assert _check(_signed(cmd), seen=seen).code == W.REFUSED_REPLAY


def test_a_command_disabled_by_config_is_refused_with_its_own_reason():
    check = _check(_signed("silence"), allowed_cmds=("close_valve", "status", "sync_time"))

    assert (check.ok, check.code, check.cmd) == (False, W.REFUSED_DISABLED, "silence")


@given(st.binary(max_size=1100))
def test_arbitrary_bytes_never_raise(payload):
    check = _check(payload)

    assert check.ok is False and check.reason


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=12),
       st.integers())
def test_arbitrary_json_never_raises(value, now_s):
    if isinstance(value, dict):
        value.setdefault("hmac", "0" * 64)
    check = W.verify_command(json.dumps(value).encode(), KEY, now_s, {})

    assert check.ok is False and check.reason


# ---- MicroPython agreement ----

STATE = _snapshot(trip_reason="灶台 🔥", detectors={"z9": {"state": "normal", "centi_pct_lel": -5},
                                                     "a1": {"state": "fault", "centi_pct_lel": None}},
                  inhibits={"b": 1, "a": 2})
READINGS = _readings(centi_pct_lel={"z9": 1, "a1": None, "m": 2 ** 40})
TEXTS = ["plain text 25.50 %LEL", 'q"', "b\\", "c\x01", "d\x7f", "e\n\t", "", "灶", "\U0001f525", "x/y"]


def test_micropython_produces_the_same_event_reply_hmac_command_state_and_telemetry_bytes():
    rows = [_row(), _row(type=E.DETECTOR, source="hood1", value=2710, clock_synced=False, reason='灶台 "x"\n🔥\x7f')]
    keys = [b"", b"Jefe", bytes(range(100))]
    script = (
        "import binascii\n"
        "from gaslatch.core import uplink_wire as W\n"
        "rows = %r\n"
        "for row in rows:\n"
        "    print(binascii.hexlify(W.encode_event(row)).decode())\n"
        "print(binascii.hexlify(W.encode_reply('cmd-1', False, W.NOT_ALLOWED_REASON)).decode())\n"
        "for key in %r:\n"
        "    print(binascii.hexlify(W.hmac_sha256(key, b'what do ya want for nothing?')).decode())\n"
        "payload = W.sign_command(b'k', 'cmd-9', %d, 'silence', {'duration_s': 300, 'who': '\\u5f20'})\n"
        "print(binascii.hexlify(payload).decode())\n"
        "seen = {}\n"
        "print(tuple(W.verify_command(payload, b'k', %d, seen)))\n"
        "print(tuple(W.verify_command(payload, b'k', %d, seen))[4])\n"
        "print(binascii.hexlify(W.encode_state(%r)).decode())\n"
        "print(binascii.hexlify(W.encode_telemetry(%r)).decode())\n"
        "print(repr([W.json_string(t) for t in %r]))\n"
    ) % (rows, keys, NOW_S, NOW_S, NOW_S, STATE, READINGS, TEXTS)

    out = run_micropython(script).splitlines()

    payload = W.sign_command(b"k", "cmd-9", NOW_S, "silence", {"duration_s": 300, "who": "张"})
    expected = [W.encode_event(row).hex() for row in rows]
    expected.append(W.encode_reply("cmd-1", False, W.NOT_ALLOWED_REASON).hex())
    expected += [hmac.new(key, b"what do ya want for nothing?", hashlib.sha256).hexdigest() for key in keys]
    expected.append(payload.hex())
    assert out[:-5] == expected
    assert ast.literal_eval(out[-5]) == (True, "silence", {"duration_s": 300, "who": "张"}, "cmd-9", "")
    assert out[-4] == "replayed: id already seen"
    assert out[-3:-1] == [W.encode_state(STATE).hex(), W.encode_telemetry(READINGS).hex()]
    assert ast.literal_eval(out[-1]) == [E.encode_str(t) for t in TEXTS]


# ---- platform acknowledgements and gone ranges ----

def test_an_event_id_names_its_store_and_only_an_id_of_that_form_does():
    assert W.event_id("00ff", 12) == "00ff-000000000012"
    assert W.store_key_of("00ff-000000000012", 12) == "00ff"
    for id_, seq in [("00ff-000000000012", 13), ("x-000000000001", 1), ("-000000000001", 1), ("00ff-1", 1),
                     ("00ff-000000000012", True), (None, 1), ("0" * 33 + "-000000000001", 1)]:
        assert W.store_key_of(id_, seq) is None, (id_, seq)


def test_an_ack_round_trips_and_is_retained_only_without_a_resend_range():
    assert W.encode_ack("ab12", 5) == b'{"store":"ab12","through":5,"resend":null}'
    assert W.parse_ack(W.encode_ack("ab12", 0)) == ("ab12", 0, None)
    assert W.parse_ack(W.encode_ack("ab12", 5, (6, 9))) == ("ab12", 5, (6, 9))
    for store, through, resend in [("", 1, None), ("xyz", 1, None), ("ab", -1, None), ("ab", 5, (5, 9)),
                                   ("ab", 5, (8, 7)), ("ab", True, None)]:
        with pytest.raises(ValueError):
            W.encode_ack(store, through, resend)


@pytest.mark.parametrize("payload", [
    b"", b"null", b"[]", b'{"store":"ab","through":1}', b'{"store":"ab","through":1,"resend":null,"x":1}',
    b'{"store":"ab","through":1.0,"resend":null}', b'{"store":"ab","through":true,"resend":null}',
    b'{"store":"ab","through":9223372036854775808,"resend":null}', b'{"store":"a\\u0000","through":1,"resend":null}',
    b'{"store":"ab","through":1,"resend":[1,2]}', b'{"store":"ab","through":1,"resend":[3]}',
    b'{"store":"ab","through":1,"resend":[3,2]}', b'{"store":"ab","through":1,"resend":"3-4"}',
    b'{"store":"\\ud800","through":1,"resend":null}', b"\xff\xfe", b"[" * 300, b'{"store":"ab"' + b" " * 300 + b"}",
])
def test_a_bad_ack_is_refused_with_a_reason(payload):
    with pytest.raises(ValueError, match="^ack: "):
        W.parse_ack(payload)


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.sampled_from(["store", "through", "resend", "first", "last",
                                                                 "reason", "x"]), inner, max_size=5),
                              max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_ack_and_gone_parsers_never_raise_anything_but_value_error(payload):
    for parse in (W.parse_ack, W.parse_gone):
        try:
            parse(payload)
        except ValueError:
            pass


def test_gone_round_trips_with_its_reason_made_safe():
    payload = W.encode_gone("ab12", 3, 9, "retention deleted them\x00\ud800" + "x" * 500)
    store, first, last, reason = W.parse_gone(payload)
    assert (store, first, last) == ("ab12", 3, 9)
    assert "\x00" not in reason and len(reason) <= W.MAX_GONE_REASON_CHARS
    reason.encode("utf-8")
    for bad in [b'{"store":"ab","first":0,"last":1,"reason":""}', b'{"store":"ab","first":5,"last":4,"reason":""}',
                b'{"store":"ab","first":1,"last":1,"reason":1}', b'{"store":"ab","first":1,"last":1}']:
        with pytest.raises(ValueError, match="^gone: "):
            W.parse_gone(bad)


def test_micropython_encodes_and_parses_acks_and_gone_ranges_the_same():
    script = (
        "from gaslatch.core import uplink_wire as W\n"
        "print(W.encode_ack('ab12', 5).decode())\n"
        "print(W.encode_ack('ab12', 5, (6, 9)).decode())\n"
        "print(W.encode_gone('ab12', 3, 9, 'retention').decode())\n"
        "print(repr(W.parse_ack(b'{\"store\":\"ab12\",\"through\":9223372036854775807,\"resend\":null}')))\n"
        "print(W.store_key_of(W.event_id('00ff', 12), 12))\n"
        "try:\n"
        "    W.parse_ack(b'{\"store\":\"ab\",\"through\":1,\"resend\":[1,2]}')\n"
        "except ValueError as err:\n"
        "    print(err)\n"
    )
    out = run_micropython(script).splitlines()
    assert out == [W.encode_ack("ab12", 5).decode(), W.encode_ack("ab12", 5, (6, 9)).decode(),
                   W.encode_gone("ab12", 3, 9, "retention").decode(), repr(("ab12", W.MAX_SEQ, None)), "00ff",
                   "ack: resend must be null or [first, last] with through < first <= last"]
