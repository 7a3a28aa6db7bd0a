"""The receiver's fast event validator answers exactly as jsonschema's own validator does on docs/schemas/event.schema.json.

Its answers come from the same jsonschema validators, split per property and per shape and remembered; these
properties hold it to the unsplit validator on the unit's events, damaged ones and any JSON in any field.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from gaslatch_tools.schema_validator import Validator

from gaslatch.core import uplink_wire as W
from gaslatch_tools import payload_schemas
from tests.platform.test_receiver import hostile_events, json_values, rows

DOCS_SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
EVENT = payload_schemas.load("event")
REFERENCE = Validator(EVENT)  # jsonschema 2020-12 with ECMA-262 patterns (schema_validator.py)
FAST = payload_schemas.FastValidator(EVENT)


def test_the_package_ships_the_schemas_docs_publishes():
    for path in DOCS_SCHEMAS.iterdir():
        assert (payload_schemas.SCHEMAS / path.name).read_bytes() == path.read_bytes()


@given(rows())
def test_every_event_the_unit_encodes_is_valid_to_both(row):
    msg = json.loads(W.encode_event(row))
    assert FAST.is_valid(msg) and REFERENCE.is_valid(msg)


@given(hostile_events())
def test_both_agree_on_damaged_events(payload):
    msg = json.loads(payload)
    assert FAST.is_valid(msg) == REFERENCE.is_valid(msg)


@given(rows(), st.dictionaries(st.sampled_from(list(W.EVENT_FIELDS) + ["detector", "extra"]),
                               json_values | st.sampled_from([1.0, True, 0, None, "detector", "hood1"]), max_size=4),
       st.lists(st.sampled_from(W.EVENT_FIELDS), max_size=2))
def test_both_agree_with_fields_replaced_added_or_removed(row, changes, removed):
    msg = json.loads(W.encode_event(row))
    msg.update(changes)
    for key in removed:
        msg.pop(key, None)
    assert FAST.is_valid(msg) == REFERENCE.is_valid(msg)
    assert FAST.is_valid(msg) == REFERENCE.is_valid(msg)  # the second answer comes from what was remembered


@given(json_values)
def test_both_agree_on_any_json(value):
    assert FAST.is_valid(value) == REFERENCE.is_valid(value)


def test_an_invalid_event_is_named_by_its_worst_field_not_by_a_quote_of_the_whole():
    msg = json.loads(W.encode_event(dict(row_example(), type="zigbee")))
    msg["detector"] = msg["source"]
    error = FAST.error(msg)
    assert list(error.absolute_path) == ["type"] and error.validator == "enum"


def row_example() -> dict:
    return {"id": "a1b2c3d4e5f60708-000000000042", "seq": 42, "t_ms": 1, "wall_ts": "2026-11-24T21:50:41.123Z",
            "clock_synced": True, "type": "trip", "severity": "alarm", "source": "hood1", "state": "latched",
            "value": None, "reason": "high alarm"}
