"""The configuration identity (core/config_identity.py): one SHA-256 over the loaded config and the profiles it uses,
the same for every spelling of the same file and different for any change the controller would run with."""

import copy
import hashlib
import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.core.config import load_config, load_config_text
from gaslatch.core.config_identity import (VERSION_KEY, canonical_text, config_identity, config_version,
                                           short_identity, used_profiles)
from gaslatch.core.controller import Controller
from gaslatch.core.detector_profile import list_profiles, load_profile

PROFILES = {name: load_profile(name) for name in list_profiles()}
KINDS = {name: profile.kind for name, profile in PROFILES.items()}
DOC = {
    "unit": {"site": "JS-NJ-GL-000123", "name": "Golden Lotus 金莲 kitchen"},
    "buses": {"rs485a": {"port": "/dev/ttyUSB0"}},
    "detectors": {
        "hood1": {"kind": "modbus", "bus": "rs485a", "address": 1, "profile": "cn-generic",
                  "location": "above wok 1 — 灶台", "low_alarm_pct_lel": 12.5},
        "store": {"kind": "analog", "channel": "ain0", "full_scale_pct_lel": 50, "gas": "lpg"},
    },
}


def identity_of(text):
    return config_identity(load_config_text(text, KINDS), PROFILES)


def spelled(doc, rng, indent, ensure_ascii):
    """The same JSON document with its keys in another order, other whitespace and other escapes."""
    def shuffled(value):
        if isinstance(value, dict):
            keys = list(value)
            rng.shuffle(keys)
            return {key: shuffled(value[key]) for key in keys}
        if isinstance(value, list):
            return [shuffled(item) for item in value]
        return value
    return json.dumps(shuffled(doc), indent=indent, ensure_ascii=ensure_ascii)


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from([None, 0, 1, 2, 4, "\t"]), st.booleans())
def test_key_order_whitespace_and_unicode_escapes_give_the_same_identity(rng, indent, ensure_ascii):
    assert identity_of(spelled(DOC, rng, indent, ensure_ascii)) == identity_of(json.dumps(DOC))


def _changes():
    """(path, new value): each a change of a value the controller runs with."""
    return st.sampled_from([
        (("unit", "name"), "Golden Lotus 金莲 kitchen 2"),
        (("detectors", "hood1", "location"), "above wok 2 — 灶台"),
        (("detectors", "hood1", "low_alarm_pct_lel"), 12.6),
        (("detectors", "hood1", "low_alarm_pct_lel"), 12),
        (("detectors", "hood1", "address"), 2),
        (("detectors", "store", "full_scale_pct_lel"), 100),
        (("detectors", "store", "gas"), "propane"),
        (("buses", "rs485a", "baud"), 19200),
        (("valve", "travel_s"), 6),
        (("self_test", "manifest"), ""),
        (("scan", "period_ms"), 99),
    ])


@settings(max_examples=40, deadline=None)
@given(_changes(), st.randoms(use_true_random=False), st.booleans())
def test_any_change_of_a_value_gives_another_identity_however_the_file_is_spelled(change, rng, ensure_ascii):
    path, value = change
    doc = copy.deepcopy(DOC)
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value

    assert identity_of(spelled(doc, rng, 2, ensure_ascii)) != identity_of(json.dumps(DOC))


def test_a_default_written_out_and_a_whole_number_written_as_a_float_give_the_same_identity():
    doc = copy.deepcopy(DOC)
    doc["detectors"]["hood1"]["poll_interval_ms"] = 500  # the default
    doc["detectors"]["store"]["full_scale_pct_lel"] = 50.0

    assert identity_of(json.dumps(doc)) == identity_of(json.dumps(DOC))


def test_the_push_counter_is_not_part_of_the_identity_and_is_read_with_0_by_default():
    cfg = load_config(DOC, KINDS)
    pushed = load_config(dict(DOC, **{VERSION_KEY: 7}), KINDS)

    assert config_identity(pushed, PROFILES) == config_identity(cfg, PROFILES)
    assert (config_version(cfg), config_version(pushed)) == (0, 7)


def test_a_change_of_a_used_profile_changes_the_identity_and_of_an_unused_one_does_not():
    cfg = load_config(DOC, KINDS)
    assert used_profiles(cfg) == ["analog-ne43", "cn-generic"]
    before = config_identity(cfg, PROFILES)

    for name, changes in (("cn-generic", True), ("analog-ne43", True), ("xgard-iq", False), ("contact-dry", False)):
        document = copy.deepcopy(PROFILES[name].document)
        document["description"] = document["description"] + "."
        assert (config_identity(cfg, dict(PROFILES, **{name: document})) != before) is changes, name


def test_the_identity_is_sha256_of_the_documented_canonical_form():
    cfg = load_config(DOC, KINDS)
    text = canonical_text(cfg, PROFILES)

    assert text.startswith('{"config":{"alarm":{') and ',"profiles":{"analog-ne43":{' in text
    assert text.isascii() and "\n" not in text and '{"unit":{"name":' not in text  # escaped, no layout
    assert "\\u91d1\\u83b2" in text and '"low_alarm_pct_lel":12.5' in text and '"full_scale_pct_lel":50,' in text
    assert VERSION_KEY not in text
    assert config_identity(cfg, PROFILES) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert short_identity(config_identity(cfg, PROFILES)) == config_identity(cfg, PROFILES)[:12]


def test_the_controller_shows_its_identity_and_version_in_status_and_the_startup_event():
    cfg = load_config(dict(DOC, **{VERSION_KEY: 4}), KINDS)
    controller = Controller(cfg, PROFILES, 0)
    startup = controller.step(0).events[0]
    identity = config_identity(cfg, PROFILES)

    assert controller.status(0)["config"] == {"identity": identity, "short": identity[:12], "version": 4}
    assert startup["type"] == "startup"
    assert "config %s version 4; self-test: not run by this platform" % identity in startup["reason"]


def test_shuffled_profile_keys_give_the_same_identity():
    cfg = load_config(DOC, KINDS)
    rng = random.Random(5)
    shuffled = {name: json.loads(spelled(profile.document, rng, None, True)) for name, profile in PROFILES.items()}

    assert config_identity(cfg, shuffled) == config_identity(cfg, PROFILES)
