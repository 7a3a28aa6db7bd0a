"""The uplink wire format: topics, event and reply bytes, and command authentication, on both interpreters."""

import ast
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import events as E
from gaslatch.core import uplink_wire as W
from gaslatch_tools.micropython_runner import run_micropython

KEY = b"per-unit key for kitchen-7, 32 b"
NOW_S = 1_790_000_000


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
    check = _check(_signed("silence"), allowed_cmds=(W.CMD_CLOSE_VALVE, W.CMD_STATUS, W.CMD_SYNC_TIME))

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

def test_micropython_produces_the_same_event_reply_hmac_and_command_bytes():
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
    ) % (rows, keys, NOW_S, NOW_S, NOW_S)

    out = run_micropython(script).splitlines()

    payload = W.sign_command(b"k", "cmd-9", NOW_S, "silence", {"duration_s": 300, "who": "张"})
    expected = [W.encode_event(row).hex() for row in rows]
    expected.append(W.encode_reply("cmd-1", False, W.NOT_ALLOWED_REASON).hex())
    expected += [hmac.new(key, b"what do ya want for nothing?", hashlib.sha256).hexdigest() for key in keys]
    expected.append(payload.hex())
    assert out[:-2] == expected
    assert ast.literal_eval(out[-2]) == (True, "silence", {"duration_s": 300, "who": "张"}, "cmd-9", "")
    assert out[-1] == "replayed: id already seen"
