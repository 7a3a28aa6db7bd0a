"""The uplink's wire format: MQTT topics, event, state, telemetry and reply payloads, and authenticated commands.

Pure and MicroPython-compatible, so the CPython uplink (paho-mqtt) and a MicroPython port (umqtt) speak the same bytes.

Canonical JSON (every payload this module encodes, and the signed part of a command): no spaces,
ASCII only with lowercase \\uXXXX escapes for every control character, DEL and non-ASCII (surrogate
pairs above U+FFFF), integers in decimal, no floats in payloads (their encoders refuse them; canonical_json()
itself writes a float with a whole value as that integer and any other as repr(), for the configuration
identity's numbers, config_identity.py). Events, state, telemetry and replies use a
fixed key order at the top (docs/schemas/ has one JSON Schema per topic); nested objects and the
signed part of a command sort their keys by code point (as json.dumps(sort_keys=True) does).
Signers should call canonical_json() or sign_command(): json.dumps(ensure_ascii=True) differs for
control characters (\\n instead of \\u000a) and DEL.
"""

import binascii
import json

from gaslatch.core import events as E
from gaslatch.core.commands import REMOTE_COMMANDS
from gaslatch.core.sha256 import sha256

TOPIC_ROOT = "gaslatch"
TOPIC_KINDS = ("event", "state", "telemetry", "status", "cmd", "cmd/reply", "ack", "gone")
# Who may write each kind (deploy/mosquitto/gaslatch.acl enforces it): the platform writes cmd and ack, the unit the rest.
PLATFORM_KINDS = ("cmd", "ack")
# MQTT 3.1.1 / 5.0 section 4.7: '+' and '#' are wildcards, '/' separates levels, NUL is forbidden.
TOPIC_LEVEL_FORBIDDEN = ("+", "#", "/", "\x00")
MAX_NAME_BYTES = 64  # site and unit names: short enough for a phone screen and a topic filter

# Event payload fields in their fixed order; "detector" follows "source" for detector events only.
EVENT_FIELDS = ("id", "seq", "ts", "t_ms", "clock_synced", "type", "severity", "source", "state", "value", "reason")
# State payload fields in their fixed order (docs/schemas/state.schema.json); nested objects sort their keys.
STATE_FIELDS = ("latched", "trip_reason", "valve_fault", "outputs", "interlocks", "inhibits", "silenced_s",
                "schedule", "detectors", "clock_synced", "config")
IDENTITY_HEX_CHARS = 64  # a configuration identity (config_identity.py): SHA-256 in lowercase hex
# Telemetry payload fields in their fixed order (docs/schemas/telemetry.schema.json).
TELEMETRY_FIELDS = ("ts", "t_ms", "clock_synced", "centi_pct_lel")
# Telemetry's optional field, after the others: CO and CO2 readings in ppm (never in centi_pct_lel).
TELEMETRY_PPM_FIELD = "centi_ppm"

# Platform-acknowledged delivery (docs/platform.md, "Delivery"): the platform's `ack` and the unit's `gone`.
ACK_FIELDS = ("store", "through", "resend")  # fixed order
GONE_FIELDS = ("store", "first", "last", "reason")  # fixed order
MAX_STORE_KEY_CHARS = 32  # a unit's store key (16 hex digits today)
ID_SEQ_DIGITS = 12  # an event id is "<store key>-<seq in 12 digits>"
MAX_SEQ = 2 ** 63 - 1
MAX_ACK_BYTES = 256
MAX_GONE_REASON_CHARS = 200

# Commands: which ones a platform may send is commands.REMOTE_COMMANDS (the one command table).
CMD_CLOSE_VALVE = "close_valve"  # taken even before the clock is synchronised (see verify_command)
ALLOWED_CMDS = REMOTE_COMMANDS
CMD_FIELDS = ("args", "cmd", "hmac", "id", "ts")  # sorted; the signature covers all but "hmac"
COMMAND_WINDOW_S = 60  # a command older or newer than this by the unit's clock is stale
MAX_SEEN_IDS = 256  # ids remembered for replay refusal; more fresh commands than this are refused
MAX_COMMAND_BYTES = 1024
MAX_ID_CHARS = 64
MAX_CMD_CHARS = 32
MAX_ARGS = 8
HMAC_HEX_CHARS = 64
SHA256_BLOCK_BYTES = 64

# Refusal codes (CommandCheck.code) and the one reason the platform shows for a reopen request.
OK = "ok"
REFUSED_MALFORMED = "malformed"
REFUSED_FIELDS = "fields"
REFUSED_TYPES = "types"
REFUSED_HMAC = "hmac"
REFUSED_STALE = "stale"
REFUSED_REPLAY = "replay"
REFUSED_BUSY = "busy"
REFUSED_DISABLED = "disabled"
REFUSED_NOT_ALLOWED = "not_allowed_remotely"
NOT_ALLOWED_REASON = "not allowed remotely: only a person on site can reopen the gas"


class TopicNameError(ValueError):
    """A site or unit name cannot be a topic level: which setting, its value and why."""

    def __init__(self, field, value, problem):
        ValueError.__init__(self, "%s %r cannot be used in MQTT topics: %s" % (field, value, problem))
        self.field = field
        self.value = value
        self.problem = problem


def json_string(text):
    """text as a canonical JSON string: the events module's one escaper, skipped for text that needs no escape.

    The shortcut (plain printable ASCII without '"' or '\\') gives the same bytes several times faster: both
    interpreters' json.dumps escape every control character, '"' and '\\' (CPython also non-ASCII and lone
    surrogates, before the UTF-8 length check could fail on them; MicroPython keeps non-ASCII, which that check
    catches), so an unchanged length means nothing needed escaping.
    """
    if "\x7f" not in text and len(json.dumps(text)) == len(text) + 2 and len(text.encode("utf-8")) == len(text):
        return '"' + text + '"'
    return E.encode_str(text)


def _json_value(value):
    """An int, str, bool or None as canonical JSON (E.encode_value with the json_string shortcut)."""
    if isinstance(value, str):
        return json_string(value)
    return E.encode_value(value)


def canonical_json(value):
    """value (dict with str keys, list, str, int, finite float, bool or None) as canonical JSON text, keys sorted.

    A float with a whole value is written as that integer (3.0 as 3), any other as repr() (12.5).
    """
    if isinstance(value, dict):
        parts = []
        for key in sorted(value):
            if not isinstance(key, str):
                raise ValueError("JSON object keys are text, not %r" % (key,))
            parts.append(json_string(key) + ":" + canonical_json(value[key]))
        return "{" + ",".join(parts) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join([canonical_json(item) for item in value]) + "]"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("canonical JSON holds finite numbers only, not %r" % (value,))
        return str(int(value)) if value == int(value) else repr(value)
    return _json_value(value)


def topics(site, unit):
    """{kind: topic} for every kind in TOPIC_KINDS, e.g. "event" -> "gaslatch/<site>/<unit>/event".

    Names are not escaped: one that cannot be a single topic level raises TopicNameError.
    """
    _check_name("site", site)
    _check_name("unit", unit)
    base = "%s/%s/%s/" % (TOPIC_ROOT, site, unit)
    out = {}
    for kind in TOPIC_KINDS:
        out[kind] = base + kind
    return out


def _check_name(field, name):
    if not isinstance(name, str):
        raise TopicNameError(field, name, "it must be text")
    if not name:
        raise TopicNameError(field, name, "it is empty")
    for ch in TOPIC_LEVEL_FORBIDDEN:
        if ch in name:
            raise TopicNameError(field, name, "it contains %s; use letters, digits, '-' or '_'" % json_string(ch))
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise TopicNameError(field, name, "it is longer than %d bytes" % MAX_NAME_BYTES)


def event_id(store_key, seq):
    """A unit-unique, stable event id: the store's random key and the zero-padded seq (sorts like seq)."""
    return "%s-%012d" % (store_key, seq)


def store_key_of(id_, seq):
    """The store key in an event id made by event_id(key, seq); None when the id is not of that form.

    The platform acknowledges per store: a unit whose store was replaced starts a new key at seq 1,
    and an acknowledgement for the old store must never mark the new one's events delivered."""
    if not isinstance(id_, str) or not _is_int(seq) or seq < 0:
        return None
    suffix = "-%012d" % seq
    if not id_.endswith(suffix):
        return None
    key = id_[:-len(suffix)]
    return key if _is_store_key(key) else None


def _is_store_key(key):
    if not isinstance(key, str) or not 0 < len(key) <= MAX_STORE_KEY_CHARS:
        return False
    for ch in key:
        if ch not in "0123456789abcdefABCDEF":
            return False
    return True


def _is_seq(value, low):
    return _is_int(value) and low <= value <= MAX_SEQ


def encode_ack(store, through, resend=None):
    """The platform's `ack` payload (bytes): every event of store `store` up to seq `through` is durably stored
    (or reported gone); resend (first, last) asks the unit to send that range again (a gap the platform saw).

    Published retained without resend (a reconnecting unit learns its ack point at once), without retain with one."""
    if not _is_store_key(store) or not _is_seq(through, 0):
        raise ValueError("ack needs a store key and a seq >= 0, not %r, %r" % (store, through))
    if resend is not None:
        first, last = resend
        if not (_is_seq(first, 1) and _is_seq(last, first) and first > through):
            raise ValueError("resend must be (first, last) with through < first <= last, not %r" % (resend,))
        resend = [first, last]
    return _fixed_object(ACK_FIELDS, {"store": store, "through": through, "resend": resend})


def parse_ack(payload):
    """An `ack` payload -> (store, through, resend or None); ValueError with the reason for anything else."""
    msg = _small_object(payload, MAX_ACK_BYTES, ACK_FIELDS, "ack")
    store, through, resend = msg["store"], msg["through"], msg["resend"]
    if not _is_store_key(store):
        raise ValueError("ack: store must be 1 to %d hex digits" % MAX_STORE_KEY_CHARS)
    if not _is_seq(through, 0):
        raise ValueError("ack: through must be an integer from 0 to 2^63-1")
    if resend is not None:
        if (not isinstance(resend, list) or len(resend) != 2 or not _is_seq(resend[0], 1)
                or not _is_seq(resend[1], resend[0]) or resend[0] <= through):
            raise ValueError("ack: resend must be null or [first, last] with through < first <= last")
        resend = (resend[0], resend[1])
    return store, through, resend


def encode_gone(store, first, last, reason):
    """The unit's `gone` payload (bytes): seqs first..last of store `store` were asked for and no longer exist
    (retention deleted them before the platform had them); the platform records the range as lost."""
    if not _is_store_key(store) or not _is_seq(first, 1) or not _is_seq(last, first):
        raise ValueError("gone needs a store key and 1 <= first <= last, not %r, %r, %r" % (store, first, last))
    return _fixed_object(GONE_FIELDS, {"store": store, "first": first, "last": last,
                                       "reason": E.safe_text(str(reason))[:MAX_GONE_REASON_CHARS]})


def parse_gone(payload):
    """A `gone` payload -> (store, first, last, reason); ValueError with the reason for anything else."""
    msg = _small_object(payload, MAX_ACK_BYTES + 12 * MAX_GONE_REASON_CHARS, GONE_FIELDS, "gone")
    store, first, last, reason = msg["store"], msg["first"], msg["last"], msg["reason"]
    if not _is_store_key(store):
        raise ValueError("gone: store must be 1 to %d hex digits" % MAX_STORE_KEY_CHARS)
    if not (_is_seq(first, 1) and _is_seq(last, first)):
        raise ValueError("gone: first and last must be integers with 1 <= first <= last <= 2^63-1")
    if not isinstance(reason, str) or len(reason) > MAX_GONE_REASON_CHARS:
        raise ValueError("gone: reason must be text of at most %d characters" % MAX_GONE_REASON_CHARS)
    return store, first, last, E.safe_text(reason)


def _small_object(payload, max_bytes, fields, what):
    if not isinstance(payload, (bytes, bytearray)) or len(payload) > max_bytes:
        raise ValueError("%s: not bytes or longer than %d bytes" % (what, max_bytes))
    try:
        msg = json.loads(bytes(payload).decode("utf-8"))
    except Exception:  # ValueError, UnicodeError; RecursionError on CPython
        raise ValueError("%s: not UTF-8 JSON" % what)
    if not isinstance(msg, dict) or sorted(msg) != sorted(fields):
        raise ValueError("%s: must be an object of exactly %s" % (what, ", ".join(fields)))
    return msg


def encode_event(row):
    """One stored event row (core record + id, wall_ts, clock_synced) as the `event` payload (bytes).

    "ts" is the row's wall_ts (UTC ISO 8601 with ms), "t_ms" the monotonic time. Raises ValueError
    for a row that is not a stored event.
    """
    for key in ("id", "wall_ts"):
        if not isinstance(row[key], str):
            raise ValueError("event %s must be text, not %r" % (key, row[key]))
    if row["clock_synced"] is not True and row["clock_synced"] is not False:
        raise ValueError("event clock_synced must be true or false, not %r" % (row["clock_synced"],))
    source = _recurring(row["source"])
    if row["type"] == E.DETECTOR:
        source = source + ',"detector":' + source
    return (_EVENT_FORMAT % (json_string(row["id"]), _json_value(row["seq"]), json_string(row["wall_ts"]),
                             _json_value(row["t_ms"]), _json_value(row["clock_synced"]), _recurring(row["type"]),
                             _recurring(row["severity"]), source, _recurring(row["state"]), _json_value(row["value"]),
                             _json_value(row["reason"]))).encode("utf-8")


# The event payload as one format string in EVENT_FIELDS order (a detector's "detector" rides with "source").
_EVENT_FORMAT = "{" + ",".join(['"%s":%%s' % key for key in EVENT_FIELDS]) + "}"
# The short texts every event repeats (types, severities, sources, states), encoded once: a backlog drains faster.
MAX_RECURRING_TEXTS = 128
MAX_RECURRING_CHARS = 32
_recurring_texts = {}


def _recurring(value):
    """_json_value(value), remembered for short texts (at most MAX_RECURRING_TEXTS of them)."""
    if not isinstance(value, str):
        return _json_value(value)
    out = _recurring_texts.get(value)
    if out is None:
        out = json_string(value)
        if len(_recurring_texts) < MAX_RECURRING_TEXTS and len(value) <= MAX_RECURRING_CHARS:
            _recurring_texts[value] = out
    return out


def encode_state(snapshot):
    """The retained `state` payload (bytes) from a snapshot dict with every key of STATE_FIELDS.

    latched: bool; trip_reason, valve_fault: text ("" for none); outputs, interlocks: {name: bool};
    inhibits: {detector: seconds left (int)}; silenced_s: int or None; schedule: text or None;
    detectors: {name: {"state": text, "centi_pct_lel": int or None, and for a CO or CO2 detector "centi_ppm": int
    or None}}; clock_synced: bool; config:
    {"identity": 64 lowercase hex digits (config_identity.py), "version": the push counter, int >= 0}. Other keys
    are ignored; a missing key or a wrong type raises ValueError. No time in it: an unchanged state
    gives the same bytes.
    """
    values = {
        "latched": _checked_bool(snapshot, "latched"),
        "trip_reason": _checked_text(snapshot, "trip_reason", False),
        "valve_fault": _checked_text(snapshot, "valve_fault", False),
        "outputs": _checked_map(snapshot, "outputs", _is_bool, "true or false"),
        "interlocks": _checked_map(snapshot, "interlocks", _is_bool, "true or false"),
        "inhibits": _checked_map(snapshot, "inhibits", _is_count, "whole seconds (0 or more)"),
        "silenced_s": _checked_count_or_none(snapshot, "silenced_s"),
        "schedule": _checked_text(snapshot, "schedule", True),
        "detectors": _checked_detectors(snapshot),
        "clock_synced": _checked_bool(snapshot, "clock_synced"),
        "config": _checked_config(snapshot),
    }
    return _fixed_object(STATE_FIELDS, values)


def encode_telemetry(readings):
    """The periodic `telemetry` payload (bytes) from a dict with every key of TELEMETRY_FIELDS.

    ts: UTC ISO 8601 text of the reading; t_ms: the controller's monotonic ms (int); clock_synced:
    bool; centi_pct_lel: {detector: reading in hundredths of %LEL, or None without one}; centi_ppm (optional,
    left out when empty): {CO or CO2 detector: reading in hundredths of ppm, or None}. Other keys are ignored; a
    missing key or a wrong type raises ValueError.
    """
    values = {
        "ts": _checked_text(readings, "ts", False),
        "t_ms": _checked_int(readings, "t_ms"),
        "clock_synced": _checked_bool(readings, "clock_synced"),
        "centi_pct_lel": _checked_map(readings, "centi_pct_lel", _is_int_or_none, "integers or null"),
    }
    fields = TELEMETRY_FIELDS
    if readings.get(TELEMETRY_PPM_FIELD):
        values[TELEMETRY_PPM_FIELD] = _checked_map(readings, TELEMETRY_PPM_FIELD, _is_int_or_none, "integers or null")
        fields = fields + (TELEMETRY_PPM_FIELD,)
    return _fixed_object(fields, values)


def _fixed_object(fields, values):
    parts = []
    for key in fields:
        parts.append(json_string(key) + ":" + canonical_json(values[key]))
    return ("{" + ",".join(parts) + "}").encode("utf-8")


def _is_bool(value):
    return value is True or value is False


def _is_int(value):
    return isinstance(value, int) and not _is_bool(value)


def _is_count(value):
    return _is_int(value) and value >= 0


def _is_int_or_none(value):
    return value is None or _is_int(value)


def _field(doc, key):
    if not isinstance(doc, dict):
        raise ValueError("a payload needs a dict, not %r" % (doc,))
    if key not in doc:
        raise ValueError("%s is missing" % key)
    return doc[key]


def _checked_bool(doc, key):
    value = _field(doc, key)
    if not _is_bool(value):
        raise ValueError("%s must be true or false, not %r" % (key, value))
    return value


def _checked_int(doc, key):
    value = _field(doc, key)
    if not _is_int(value):
        raise ValueError("%s must be an integer, not %r" % (key, value))
    return value


def _checked_count_or_none(doc, key):
    value = _field(doc, key)
    if value is not None and not _is_count(value):
        raise ValueError("%s must be whole seconds (0 or more) or None, not %r" % (key, value))
    return value


def _checked_text(doc, key, none_ok):
    value = _field(doc, key)
    if not isinstance(value, str) and not (none_ok and value is None):
        raise ValueError("%s must be text%s, not %r" % (key, " or None" if none_ok else "", value))
    return value


def _checked_map(doc, key, good, what):
    value = _field(doc, key)
    if not isinstance(value, dict):
        raise ValueError("%s must be a dict, not %r" % (key, value))
    for name in value:
        if not isinstance(name, str):
            raise ValueError("%s: names must be text, not %r" % (key, name))
        if not good(value[name]):
            raise ValueError("%s.%s must be %s, not %r" % (key, name, what, value[name]))
    return value


def _checked_detectors(doc):
    value = _checked_map(doc, "detectors", _is_detector_entry,
                         'a dict of "state" (text), "centi_pct_lel" (an integer or None) and, for a CO or CO2 '
                         'detector, "centi_ppm" (an integer or None)')
    out = {}
    for name in value:
        out[name] = {"state": value[name]["state"], "centi_pct_lel": value[name]["centi_pct_lel"]}
        if "centi_ppm" in value[name]:
            out[name]["centi_ppm"] = value[name]["centi_ppm"]
    return out


def _checked_config(doc):
    value = _field(doc, "config")
    identity = value.get("identity") if isinstance(value, dict) else None
    version = value.get("version") if isinstance(value, dict) else None
    if not (isinstance(identity, str) and len(identity) == IDENTITY_HEX_CHARS and _is_lower_hex(identity)
            and _is_count(version)):
        raise ValueError('config must be a dict of "identity" (%d lowercase hex digits) and "version" '
                         '(an integer, 0 or more), not %r' % (IDENTITY_HEX_CHARS, value))
    return {"identity": identity, "version": version}


def _is_lower_hex(text):
    for char in text:
        if char not in "0123456789abcdef":
            return False
    return True


def _is_detector_entry(entry):
    return (isinstance(entry, dict) and isinstance(entry.get("state"), str) and "centi_pct_lel" in entry
            and _is_int_or_none(entry["centi_pct_lel"]) and _is_int_or_none(entry.get("centi_ppm")))


def encode_reply(id_, ok, message):
    """The `cmd/reply` payload (bytes): {"id", "ok", "message"}; id_ is None when the command had none."""
    if id_ is not None and not isinstance(id_, str):
        raise ValueError("reply id must be text or None, not %r" % (id_,))
    return ('{"id":%s,"ok":%s,"message":%s}' % (
        _json_value(id_), "true" if ok else "false", json_string(str(message)))).encode("utf-8")


def hmac_sha256(key, message):
    """HMAC-SHA256 (RFC 2104) of message with key, both bytes, from sha256 alone -> 32 bytes."""
    if len(key) > SHA256_BLOCK_BYTES:
        key = sha256(key).digest()
    key = key + bytes(SHA256_BLOCK_BYTES - len(key))
    inner = sha256(bytes([b ^ 0x36 for b in key]))
    inner.update(message)
    outer = sha256(bytes([b ^ 0x5C for b in key]))
    outer.update(inner.digest())
    return outer.digest()


def equal_in_constant_time(a, b):
    """True when bytes a and b are equal; the time taken does not depend on where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def signed_text(id_, ts_s, cmd, args):
    """The bytes a command's hmac covers: canonical JSON of {"args", "cmd", "id", "ts"}."""
    return canonical_json({"args": args, "cmd": cmd, "id": id_, "ts": ts_s}).encode("utf-8")


def sign_command(key, id_, ts_s, cmd, args):
    """A complete `cmd` payload (bytes) signed with key: what the platform sends."""
    mac = binascii.hexlify(hmac_sha256(key, signed_text(id_, ts_s, cmd, args))).decode("ascii")
    return canonical_json({"args": args, "cmd": cmd, "hmac": mac, "id": id_, "ts": ts_s}).encode("utf-8")


class CommandCheck:
    """The verdict on one command: ok, cmd, args, id, reason (unpacks as that tuple) and code (OK or REFUSED_*).

    cmd, args and id are None until the payload was well-formed enough to have them.
    """

    def __init__(self, ok, cmd, args, id_, reason, code):
        self.ok = ok
        self.cmd = cmd
        self.args = args
        self.id = id_
        self.reason = reason
        self.code = code

    def __iter__(self):
        return iter((self.ok, self.cmd, self.args, self.id, self.reason))

    def __repr__(self):
        return "CommandCheck(%r, %r, %r, %r, %r, %r)" % (self.ok, self.cmd, self.args, self.id, self.reason, self.code)


def verify_command(payload, key, now_s, seen, allowed_cmds=ALLOWED_CMDS, clock_trusted=True):
    """Checks one `cmd` payload (bytes) signed with key (bytes) at unix time now_s (int); never raises.

    clock_trusted False (the unit's clock is not synchronised yet): an authentic close_valve is taken
    whatever its timestamp, because closing is always safe and the staleness test needs a right clock;
    every other command is still refused as stale when it looks so. Replays are refused either way.

    seen: the caller's dict id -> ts of accepted ids; entries older than the window are pruned here
    and a fresh, authentic command's id is added (also when its cmd is then refused, so a replayed
    reopen request is not recorded twice). allowed_cmds: ALLOWED_CMDS minus any disabled by config.
    Returns a CommandCheck; code REFUSED_NOT_ALLOWED marks an authentic request for anything the
    remote may never do (open, reset, ...) that the caller records as an event.
    """
    try:
        return _verify(payload, key, now_s, seen, allowed_cmds, clock_trusted)
    except Exception as err:  # a verdict must always come back; this is a bug, refused safely
        return CommandCheck(False, None, None, None, "refused: internal error %r" % (err,), REFUSED_MALFORMED)


def _refuse(code, reason, id_=None, cmd=None, args=None):
    return CommandCheck(False, cmd, args, id_, reason, code)


def _verify(payload, key, now_s, seen, allowed_cmds, clock_trusted=True):
    if not isinstance(payload, (bytes, bytearray)) or len(payload) > MAX_COMMAND_BYTES:
        return _refuse(REFUSED_MALFORMED, "malformed: not bytes or longer than %d bytes" % MAX_COMMAND_BYTES)
    try:
        msg = json.loads(bytes(payload).decode("utf-8"))
    except Exception:  # ValueError, UnicodeError; RecursionError on CPython
        return _refuse(REFUSED_MALFORMED, "malformed: not UTF-8 JSON")
    if not isinstance(msg, dict):
        return _refuse(REFUSED_MALFORMED, "malformed: not a JSON object")
    if sorted(msg) != list(CMD_FIELDS):
        return _refuse(REFUSED_FIELDS, "fields must be exactly %s" % ", ".join(CMD_FIELDS))
    problem = _type_problem(msg)
    if problem:
        return _refuse(REFUSED_TYPES, "bad types: " + problem)
    id_, ts_s, cmd, args = msg["id"], msg["ts"], msg["cmd"], msg["args"]
    expected = hmac_sha256(key, signed_text(id_, ts_s, cmd, args))
    if not equal_in_constant_time(binascii.unhexlify(msg["hmac"]), expected):
        return _refuse(REFUSED_HMAC, "wrong hmac", id_)
    stale = now_s - ts_s > COMMAND_WINDOW_S or ts_s - now_s > COMMAND_WINDOW_S
    if stale and (clock_trusted or cmd != CMD_CLOSE_VALVE):
        return _refuse(REFUSED_STALE, "stale: ts %d is more than %d s from the unit's clock %d%s"
                       % (ts_s, COMMAND_WINDOW_S, now_s, "" if clock_trusted else " (not synchronised yet)"),
                       id_, cmd, args)
    for old_id in [i for i in seen if seen[i] < now_s - COMMAND_WINDOW_S]:
        del seen[old_id]
    if id_ in seen:
        return _refuse(REFUSED_REPLAY, "replayed: id already seen", id_, cmd, args)
    if len(seen) >= MAX_SEEN_IDS:
        return _refuse(REFUSED_BUSY, "busy: more than %d commands in %d s" % (MAX_SEEN_IDS, COMMAND_WINDOW_S),
                       id_, cmd, args)
    seen[id_] = now_s if stale else ts_s  # remembered by the unit's own time when the timestamp is off
    if cmd not in ALLOWED_CMDS:
        return _refuse(REFUSED_NOT_ALLOWED, NOT_ALLOWED_REASON, id_, cmd, args)
    if cmd not in allowed_cmds:
        return _refuse(REFUSED_DISABLED, "%s is disabled on this unit by its config" % cmd, id_, cmd, args)
    return CommandCheck(True, cmd, args, id_, "", OK)


def _type_problem(msg):
    """Why the parsed fields have the wrong types (None when they are right)."""
    id_, ts_s, cmd, args, mac = msg["id"], msg["ts"], msg["cmd"], msg["args"], msg["hmac"]
    if not isinstance(id_, str) or not 0 < len(id_) <= MAX_ID_CHARS:
        return "id must be text of 1 to %d characters" % MAX_ID_CHARS
    if not isinstance(ts_s, int) or isinstance(ts_s, bool) or ts_s < 0:
        return "ts must be unix seconds (an integer)"
    if not isinstance(cmd, str) or not 0 < len(cmd) <= MAX_CMD_CHARS:
        return "cmd must be text of 1 to %d characters" % MAX_CMD_CHARS
    if not isinstance(args, dict) or len(args) > MAX_ARGS:
        return "args must be an object of at most %d entries" % MAX_ARGS
    for name in args:
        value = args[name]
        if not (value is None or isinstance(value, (str, int))):  # bool is an int
            return "args values must be text, integers, true, false or null"
    if not isinstance(mac, str) or len(mac) != HMAC_HEX_CHARS:
        return "hmac must be %d hex digits" % HMAC_HEX_CHARS
    for ch in mac:
        if ch not in "0123456789abcdefABCDEF":
            return "hmac must be %d hex digits" % HMAC_HEX_CHARS
    return None
