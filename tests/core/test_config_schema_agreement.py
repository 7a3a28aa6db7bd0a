"""The core validator agrees with the reference jsonschema implementation on SCHEMA, and the published file is current.

Valid configs are built from strategies of the config's shape (the semantic rules hold by construction); mutated
ones break them in the ways installers do. Both validators must accept exactly the same documents.
"""

import copy
import json
import math
from pathlib import Path

import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import config, config_schema, constants, modbus_rtu
from gaslatch.core.config_schema import SCHEMA
from gaslatch_tools import schema_export
from gaslatch_tools.micropython_runner import run_micropython

REPO = Path(__file__).resolve().parents[2]
REFERENCE = jsonschema.Draft202012Validator(SCHEMA)
ABSENT = object()


def reference_accepts(doc):
    return REFERENCE.is_valid(doc)


# Python's re lets `$` match before a trailing newline, ECMA-262 (and the core) do not: keep such strings out.
def no_trailing_newline(text):
    return not text.endswith("\n")


texts = st.text(max_size=12).filter(no_trailing_newline)
# What a config takes where it names a file, a device, a place or the unit: no control character, no lone
# surrogate (config_schema.TEXT_PATTERN), and for the unit's site and name no MQTT topic character either.
text_chars = st.characters(exclude_categories=("Cc", "Cs"))
identity_chars = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="/+#")
names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True).filter(no_trailing_newline)
times = st.builds("%02d:%02d".__mod__, st.tuples(st.integers(0, 23), st.integers(0, 59)))


def integers(low, high):
    """JSON integers in [low, high], sometimes written as 3.0."""
    return st.integers(low, high).flatmap(lambda value: st.sampled_from([value, float(value)]))


def numbers(low, high):
    """JSON numbers in [low, high]: whole ones where the range has any, and floats."""
    floats = st.floats(low, high, allow_nan=False, allow_infinity=False)
    if math.ceil(low) > math.floor(high):
        return floats
    return st.one_of(st.integers(math.ceil(low), math.floor(high)), floats)


def put(draw, target, key, value, default):
    """Write `value` under `key`, or leave it out when it equals the default and a coin says so."""
    if value == default and draw(st.booleans()):
        return
    target[key] = value


def maybe(draw, target, key, strategy):
    if draw(st.booleans()):
        target[key] = draw(strategy)


@st.composite
def buses(draw):
    result = {}
    for name in draw(st.lists(names, min_size=1, max_size=3, unique=True)):
        bus = {"port": draw(st.text(text_chars, min_size=1, max_size=20))}
        maybe(draw, bus, "baud", st.sampled_from(modbus_rtu.BAUDS))
        maybe(draw, bus, "parity", st.sampled_from(modbus_rtu.PARITIES))
        maybe(draw, bus, "stop_bits", st.sampled_from(modbus_rtu.STOP_BITS))
        maybe(draw, bus, "response_timeout_ms", integers(config_schema.MIN_RESPONSE_TIMEOUT_MS,
                                                         config_schema.MAX_RESPONSE_TIMEOUT_MS))
        maybe(draw, bus, "retries", integers(0, constants.MAX_RETRIES))
        result[name] = bus
    return result


@st.composite
def set_points(draw, detector, full_scale=None):
    cap = constants.MAX_HIGH_ALARM_PCT_LEL if full_scale is None else min(full_scale, constants.MAX_HIGH_ALARM_PCT_LEL)
    low = draw(numbers(constants.MIN_ALARM_PCT_LEL, constants.MAX_LOW_ALARM_PCT_LEL).filter(lambda value: value < cap))
    if constants.DEFAULT_LOW_ALARM_PCT_LEL < cap and draw(st.booleans()):
        low = constants.DEFAULT_LOW_ALARM_PCT_LEL
    high = draw(numbers(low, cap).filter(lambda value: value > low))
    if low < constants.DEFAULT_HIGH_ALARM_PCT_LEL <= cap and draw(st.booleans()):
        high = constants.DEFAULT_HIGH_ALARM_PCT_LEL
    put(draw, detector, "low_alarm_pct_lel", low, constants.DEFAULT_LOW_ALARM_PCT_LEL)
    put(draw, detector, "high_alarm_pct_lel", high, constants.DEFAULT_HIGH_ALARM_PCT_LEL)
    # The clearing hysteresis must stay below the low alarm, or the alarm could never clear.
    if low <= constants.DEFAULT_HYSTERESIS_PCT_LEL or draw(st.booleans()):
        detector["hysteresis_pct_lel"] = draw(
            numbers(0, min(constants.MAX_HYSTERESIS_PCT_LEL, low)).filter(lambda value: value < low))
    maybe(draw, detector, "location", st.text(text_chars, max_size=config_schema.LOCATION_MAX_LENGTH))
    maybe(draw, detector, "gas", st.sampled_from(config_schema.GASES))


@st.composite
def detectors(draw, bus_names, zone_names):
    result = {}
    used_addresses = set()
    for name in draw(st.lists(names, min_size=1, max_size=5, unique=True)):
        kind = draw(st.sampled_from(["modbus", "analog", "contact"] if bus_names else ["analog", "contact"]))
        detector = {"kind": kind}
        full_scale = None
        if kind == "modbus":
            bus = draw(st.sampled_from(bus_names))
            address = draw(st.integers(modbus_rtu.MIN_SLAVE, modbus_rtu.MAX_SLAVE)
                           .filter(lambda value: (bus, value) not in used_addresses))
            used_addresses.add((bus, address))
            detector.update(bus=bus, address=draw(st.sampled_from([address, float(address)])), profile=draw(names))
            maybe(draw, detector, "poll_interval_ms", integers(config_schema.MIN_POLL_INTERVAL_MS,
                                                               config_schema.MAX_POLL_INTERVAL_MS))
        elif kind == "analog":
            detector["channel"] = draw(st.text(text_chars, min_size=1, max_size=8))
            full_scale = draw(st.one_of(st.just(config_schema.DEFAULT_FULL_SCALE_PCT_LEL),
                                        numbers(constants.MIN_ALARM_PCT_LEL + 1, config_schema.MAX_FULL_SCALE_PCT_LEL)))
            put(draw, detector, "full_scale_pct_lel", full_scale, config_schema.DEFAULT_FULL_SCALE_PCT_LEL)
            maybe(draw, detector, "profile", names)
        else:
            detector["line"] = draw(st.text(text_chars, min_size=1, max_size=8))
            maybe(draw, detector, "fault_line", st.text(text_chars, min_size=1, max_size=8))
            maybe(draw, detector, "profile", names)
        put(draw, detector, "zone", draw(st.sampled_from(zone_names)), config_schema.DEFAULT_ZONE)
        draw(set_points(detector, full_scale))
        result[name] = detector
    return result


@st.composite
def zones(draw, detector_map):
    counts = {}
    for detector in detector_map.values():
        zone = detector.get("zone", config_schema.DEFAULT_ZONE)
        counts[zone] = counts.get(zone, 0) + 1
    result = {}
    for zone in sorted(counts):
        if not draw(st.booleans()):
            continue
        settings = {}
        if counts[zone] >= 2 and draw(st.booleans()):
            settings["two_detector_confirmation"] = True
        else:
            maybe(draw, settings, "two_detector_confirmation", st.just(False))
        maybe(draw, settings, "two_detector_timeout_s", integers(config_schema.MIN_TWO_DETECTOR_TIMEOUT_S,
                                                                 constants.MAX_TWO_DETECTOR_TIMEOUT_S))
        result[zone] = settings
    return result


@st.composite
def alarm(draw):
    # Either part alone can stay at its default: 60 + 30 and 10 + 90 are within the 100 s budget.
    section = {}
    lost = draw(st.integers(config_schema.MIN_COMM_LOST_AFTER_S, config_schema.MAX_COMM_LOST_AFTER_S))
    trip = draw(st.integers(0, min(config_schema.MAX_FAULT_TRIP_AFTER_S, constants.MAX_FAULT_DECLARE_TOTAL_S - lost)))
    maybe(draw, section, "comm_lost_after_s", st.sampled_from([lost, float(lost)]))
    maybe(draw, section, "fault_trip_after_s", st.just(trip))
    maybe(draw, section, "confirm_samples", integers(1, constants.MAX_CONFIRM_SAMPLES))
    maybe(draw, section, "confirm_window_ms", integers(0, constants.MAX_CONFIRM_WINDOW_MS))
    maybe(draw, section, "warmup_max_s", integers(config_schema.MIN_WARMUP_MAX_S, constants.MAX_WARMUP_MAX_S))
    return section


@st.composite
def valve(draw):
    section = {}
    kind = draw(st.sampled_from(config_schema.VALVE_TYPES))
    put(draw, section, "type", kind, "hold")
    feedback = "both" if kind == "motorised" else draw(st.sampled_from(config_schema.VALVE_FEEDBACKS))
    put(draw, section, "feedback", feedback, "none")
    startups = config_schema.VALVE_STARTUPS if kind == "hold" else ["manual_reset"]
    maybe(draw, section, "startup", st.sampled_from(startups))
    maybe(draw, section, "travel_s", integers(1, constants.MAX_VALVE_TRAVEL_S))
    maybe(draw, section, "pulse_ms", integers(config_schema.MIN_VALVE_PULSE_MS, config_schema.MAX_VALVE_PULSE_MS))
    return section


@st.composite
def fan(draw):
    section = {}
    proving = draw(st.booleans())
    # airflow proving needs a fan that runs whenever the gas is on (a rule beyond the schema)
    modes = ["continuous"] if proving else config_schema.FAN_MODES
    maybe(draw, section, "mode", st.sampled_from(modes))
    if proving:
        section["mode"] = "continuous"
    maybe(draw, section, "run_on_s", integers(0, config_schema.MAX_FAN_RUN_ON_S))
    put(draw, section, "proving", proving, False)
    maybe(draw, section, "proving_grace_s",
          integers(config_schema.MIN_FAN_PROVING_GRACE_S, config_schema.MAX_FAN_PROVING_GRACE_S))
    return section


@st.composite
def schedule(draw):
    section = {}
    enabled = draw(st.booleans())
    periods = []
    for _ in range(draw(st.integers(1 if enabled else 0, 3))):
        start = draw(times)
        end = draw(times.filter(lambda value: value != start))
        days = draw(st.lists(st.sampled_from(config_schema.DAYS), min_size=1, max_size=7, unique=True))
        periods.append({"days": days, "from": start, "to": end})
    put(draw, section, "enabled", enabled, False)
    put(draw, section, "attended", periods, [])
    return section


@st.composite
def valid_configs(draw):
    doc = {"unit": {"site": draw(st.text(identity_chars, min_size=1, max_size=64)),
                    "name": draw(st.text(identity_chars, min_size=1, max_size=64))}}
    bus_map = draw(buses()) if draw(st.integers(0, 3)) else {}
    if bus_map or draw(st.booleans()):
        doc["buses"] = bus_map
    zone_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    doc["detectors"] = draw(detectors(sorted(bus_map), zone_names))
    maybe(draw, doc, "zones", zones(doc["detectors"]))
    maybe(draw, doc, "scan", st.fixed_dictionaries({}, optional={
        "period_ms": integers(constants.MIN_SCAN_PERIOD_MS, constants.MAX_SCAN_PERIOD_MS)}))
    maybe(draw, doc, "alarm", alarm())
    maybe(draw, doc, "valve", valve())
    maybe(draw, doc, "fan", fan())
    maybe(draw, doc, "sounder", st.fixed_dictionaries({}, optional={
        "silence_s": integers(config_schema.MIN_SILENCE_S, constants.MAX_SILENCE_S)}))
    maybe(draw, doc, "interlocks", st.fixed_dictionaries({}, optional={
        "fire_input": st.booleans(), "estop_input": st.booleans()}))
    maybe(draw, doc, "inhibit", st.fixed_dictionaries({}, optional={
        "max_minutes": integers(config_schema.MIN_INHIBIT_MAX_MIN, constants.HARD_INHIBIT_MAX_MIN)}))
    maybe(draw, doc, "schedule", schedule())
    within_alarm_budget(doc)
    return doc


def within_alarm_budget(doc):
    """Make a generated config meet the per-bus alarm latency rule, by construction."""
    periods = doc.get("scan", {}).get("period_ms", constants.DEFAULT_SCAN_PERIOD_MS)
    confirm = doc.get("alarm", {}).get("confirm_samples", constants.DEFAULT_CONFIRM_SAMPLES)
    window = doc.get("alarm", {}).get("confirm_window_ms", constants.DEFAULT_CONFIRM_WINDOW_MS)
    counts = {}
    worst_interval = constants.DEFAULT_POLL_INTERVAL_MS
    for detector in doc["detectors"].values():
        if detector["kind"] == "modbus":
            counts[detector["bus"]] = counts.get(detector["bus"], 0) + 1
            worst_interval = max(worst_interval, detector.get("poll_interval_ms", constants.DEFAULT_POLL_INTERVAL_MS))
    for count in counts.values():
        if config.bus_budget_problem(int(periods), count, int(worst_interval), int(confirm), int(window)):
            doc["scan"] = {"period_ms": constants.MIN_SCAN_PERIOD_MS}
            doc.setdefault("alarm", {})["confirm_samples"] = 1
            for detector in doc["detectors"].values():
                if detector["kind"] == "modbus":
                    detector["poll_interval_ms"] = constants.DEFAULT_POLL_INTERVAL_MS
            return


# --- mutations ---------------------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers(-10 ** 6, 10 ** 6)
                | st.floats(-1e6, 1e6, allow_nan=False) | texts)
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(texts, children, max_size=3), max_leaves=8)
bad_names = st.sampled_from(["Hood1", "hood 1", "_x", "-x", "", "h" * 33, "a.b", "é", "A"]) | texts
bad_times = st.sampled_from(["24:00", "8:30", "08:60", "0830", "08:3O", " 08:30", "", "99:99", "23:5"]) | texts
typos = st.sampled_from(["hihg_alarm_pct_lel", "adress", "Bus", "detector", "kinds", "feedbak", "x", "enable"])


def slots(value, trail=()):
    """Every (path, value) below `value`: the places a mutation can hit."""
    found = [(trail, value)]
    if isinstance(value, dict):
        for key in sorted(value):
            found.extend(slots(value[key], trail + (key,)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(slots(item, trail + (index,)))
    return found


def node_at(doc, trail):
    for key in trail:
        doc = doc[key]
    return doc


def replace(doc, trail, value):
    """`doc` with the slot at `trail` set to `value` (or removed for ABSENT)."""
    if not trail:
        return value
    node = node_at(doc, trail[:-1])
    if value is ABSENT:
        del node[trail[-1]]
    else:
        node[trail[-1]] = value
    return doc


def wrong_value(draw, current):
    """A value that is plausibly wrong for a slot holding `current`."""
    if isinstance(current, bool):
        return draw(st.sampled_from([0, 1, "true", None, 1.0]))
    if isinstance(current, (int, float)):
        return draw(st.one_of(
            st.sampled_from([True, False, str(current), None, [current]]),
            st.just(float(current)),                      # 3.0 for 3: valid for both
            st.just(current + 0.5),
            st.sampled_from([current - 1, current + 1, -1, 0, 10 ** 6, -(10 ** 6), 1e300]),
            st.integers(-100000, 100000),
        ))
    if isinstance(current, str):
        return draw(st.one_of(bad_names, bad_times, typos, texts, st.sampled_from([None, 1, True, ["x"]])))
    return draw(json_values)


@st.composite
def mutated_configs(draw):
    doc = copy.deepcopy(draw(valid_configs()))
    for _ in range(draw(st.integers(1, 3))):
        places = slots(doc)
        trail, current = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["value", "unknown_key", "delete", "rename", "random"]))
        if action == "unknown_key" and isinstance(current, dict):
            current[draw(st.one_of(typos, texts))] = draw(json_values)
        elif action == "delete" and trail:
            doc = replace(doc, trail, ABSENT)
        elif action == "rename" and trail and isinstance(trail[-1], str):
            parent = node_at(doc, trail[:-1])
            parent[draw(st.one_of(bad_names, typos, names))] = parent.pop(trail[-1])
        elif action == "random":
            doc = replace(doc, trail, draw(json_values))
        else:
            doc = replace(doc, trail, wrong_value(draw, current))
    return doc


# --- the agreement properties ------------------------------------------------------------------

def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@given(valid_configs())
def test_valid_configs_are_accepted_by_both_validators(doc):
    assert reference_accepts(doc), list(REFERENCE.iter_errors(doc))
    assert config.validate(doc) == []
    loaded = config.load_config(doc)
    assert type(loaded["scan"]["period_ms"]) is int
    for detector in loaded["detectors"].values():
        assert detector["low_alarm_pct_lel"] < detector["high_alarm_pct_lel"]
        if detector["kind"] == "modbus":
            assert type(detector["address"]) is int


@given(mutated_configs())
def test_core_and_reference_agree_on_mutated_configs(doc):
    core = config.schema_problems(doc)
    assert (core == []) == reference_accepts(doc), (core, [e.message for e in REFERENCE.iter_errors(doc)])
    if not reference_accepts(doc):
        assert config.validate(doc) != []


@given(st.fixed_dictionaries({}, optional={key: json_values for key in SCHEMA["properties"]}) | json_values)
def test_core_and_reference_agree_on_arbitrary_json(doc):
    assert (config.schema_problems(doc) == []) == reference_accepts(doc)


@given(st.sampled_from(list(modbus_rtu.BAUDS) + [9600.0, True, 9600.5, 300]),
       st.sampled_from([1, 2, 1.0, True, False, 0, 3, "1"]))
def test_core_and_reference_agree_on_enums_of_integers(baud, stop_bits):
    doc = {"unit": {"site": "s", "name": "n"}, "detectors": {"a": {"kind": "contact", "line": "x"}},
           "buses": {"b": {"port": "p", "baud": baud, "stop_bits": stop_bits}}}
    assert (config.schema_problems(doc) == []) == reference_accepts(doc)


MICROPYTHON_SCRIPT = """
import json
from gaslatch.core import config
with open('/docs.jsonl') as lines:
    for line in lines:
        doc = json.loads(line)
        problems = config.validate(doc)
        if problems:
            print(json.dumps([[p.path, p.message, p.hint] for p in problems]))
        else:
            print(json.dumps(config.load_config(doc)))
"""


def collect(strategy):
    """The documents hypothesis draws from `strategy` in one run of the current profile."""
    docs = []

    @given(strategy)
    def draw(doc):
        docs.append(doc)

    draw()
    return docs


def test_micropython_gives_the_same_problems_and_defaults_as_cpython():
    docs = collect(valid_configs()) + collect(mutated_configs())
    # Raw UTF-8: MicroPython's json does not join escaped surrogate pairs into one character.
    lines = "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)
    out = run_micropython(MICROPYTHON_SCRIPT, extra_files={"/docs.jsonl": lines}, heapsize=8 * 1024 * 1024)
    results = out.split("\n")[:-1]
    assert len(results) == len(docs)
    for doc, result in zip(docs, results):
        problems = config.validate(doc)
        if problems:
            expected = [[p.path, p.message, p.hint] for p in problems]
        else:
            expected = config.load_config(doc)
        assert json.loads(result) == expected, json.dumps(doc)


def test_micropython_words_a_subnormal_number_as_cpython_does():
    """Found by the property above: MicroPython and CPython print a subnormal float differently."""
    docs = [{"unit": {"site": "a", "name": "b"}, "buses": value, "detectors": {}}
            for value in (-2.225073858507e-311, 5e-324, 1e-310, 2.2800539106921453e-301)]
    lines = "".join(json.dumps(doc) + "\n" for doc in docs)
    out = run_micropython(MICROPYTHON_SCRIPT, extra_files={"/docs.jsonl": lines}, heapsize=8 * 1024 * 1024)
    for doc, result in zip(docs, out.split("\n")[:-1]):
        assert json.loads(result) == [[p.path, p.message, p.hint] for p in config.validate(doc)]


TEXT_SCRIPT = """
import json
from gaslatch.core import config
for name in ('/kitchen.json', '/duplicate.json'):
    with open(name) as handle:
        text = handle.read()
    try:
        print(json.dumps(config.load_config_text(text)))
    except config.ConfigError as error:
        print(json.dumps(str(error)))
"""


def test_micropython_parses_config_text_like_cpython():
    texts = {
        "/kitchen.json": (REPO / "docs" / "examples" / "kitchen.json").read_text(encoding="utf-8"),
        "/duplicate.json": '{"unit": {"site": "a", "name": "b"},\n "detectors": {"d": {"kind": "contact", '
                           '"line": "x"},\n "d": {"kind": "contact", "line": "y"}}}',
    }
    results = run_micropython(TEXT_SCRIPT, extra_files=texts).split("\n")[:-1]
    expected = []
    for name in ("/kitchen.json", "/duplicate.json"):
        try:
            expected.append(config.load_config_text(texts[name]))
        except config.ConfigError as error:
            expected.append(str(error))
    assert [json.loads(line) for line in results] == expected
    assert "line 3" in expected[1]


def _schemas_with_defaults(schema, trail="$"):
    found = []
    if "default" in schema:
        found.append((trail, schema))
    for key, sub in schema.get("properties", {}).items():
        found.extend(_schemas_with_defaults(sub, trail + "." + key))
    for keyword in ("additionalProperties", "items"):
        if isinstance(schema.get(keyword), dict):
            found.extend(_schemas_with_defaults(schema[keyword], trail + "/" + keyword))
    for index, branch in enumerate(schema.get("oneOf", [])):
        found.extend(_schemas_with_defaults(branch, "%s/oneOf[%d]" % (trail, index)))
    return found


def test_every_default_satisfies_its_own_schema():
    for trail, schema in _schemas_with_defaults(SCHEMA):
        assert config.schema_problems(schema["default"], schema) == [], trail
        assert jsonschema.Draft202012Validator(schema).is_valid(schema["default"]), trail


def _properties(schema, trail="$"):
    found = []
    for key, sub in schema.get("properties", {}).items():
        found.append((trail + "." + key, sub))
        found.extend(_properties(sub, trail + "." + key))
    for keyword in ("additionalProperties", "items"):
        if isinstance(schema.get(keyword), dict):
            found.extend(_properties(schema[keyword], trail + "/" + keyword))
    for index, branch in enumerate(schema.get("oneOf", [])):
        found.extend(_properties(branch, "%s/oneOf[%d]" % (trail, index)))
    return found


def test_every_property_has_a_description_and_every_optional_one_a_default():
    no_default = {"fault_line", "de_line", "installed", "calibrated"}  # absent means not recorded
    for trail, sub in _properties(SCHEMA):
        assert len(sub.get("description", "")) > 10, trail
    for trail, parent in [("$", SCHEMA)] + _properties(SCHEMA):
        for key, sub in parent.get("properties", {}).items():
            if key not in parent.get("required", []) and key not in no_default:
                assert "default" in sub, "%s.%s" % (trail, key)


def test_published_schema_file_is_current():
    published = REPO / "docs" / "config.schema.json"
    assert published.read_text(encoding="utf-8") == json.dumps(SCHEMA, indent=2, sort_keys=True) + "\n"
    assert schema_export.main(["--check", "--output", str(published)]) == 0


def test_schema_export_check_fails_on_a_stale_file_and_writing_fixes_it(tmp_path):
    target = tmp_path / "config.schema.json"
    target.write_text("{}\n", encoding="utf-8")
    assert schema_export.main(["--check", "--output", str(target)]) == 1
    assert schema_export.main(["--output", str(target)]) == 0
    assert schema_export.main(["--check", "--output", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == SCHEMA
