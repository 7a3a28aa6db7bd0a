"""The MQTT payloads' JSON Schemas (docs/schemas, shipped in the package through the schemas link), compiled once
and checked with jsonschema at a cost the platform receiver can pay for every event.

jsonschema builds a validator per property it descends into (about 130 µs for an event, 13 times the rest of the
receiver's parsing). A FastValidator asks the same jsonschema validators, split: each top-level property's value
against its own schema, remembering the answer for values that recur (types, severities, sources, states), and
the object's shape (its keys, and the values its if/then/else reads) against the rest, remembered per shape.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from jsonschema.exceptions import ValidationError, best_match

from gaslatch_tools.schema_validator import Validator

SCHEMAS = Path(__file__).resolve().parent / "schemas"
MEMO_SIZE = 4096  # remembered answers per property, and shapes
SHAPE_KEYWORDS = ("if", "then", "else")


def load(name: str) -> dict:
    """docs/schemas/<name>.schema.json as a dict."""
    return json.loads((SCHEMAS / ("%s.schema.json" % name)).read_text(encoding="utf-8"))


def _properties_read(schema: object) -> set[str]:
    """The property names a subschema reads values of (its own and its subschemas' "properties")."""
    names: set[str] = set()
    if isinstance(schema, dict):
        names.update(schema.get("properties", {}))
        for value in schema.values():
            names |= _properties_read(value)
    elif isinstance(schema, list):
        for item in schema:
            names |= _properties_read(item)
    return names


class FastValidator:
    """is_valid() answers as Validator(schema).is_valid() does, for an object schema whose other
    keywords read no value but through "properties" (type, required, additionalProperties false, if/then/else:
    the event's). error() names why a message fails, from the whole schema."""

    def __init__(self, schema: dict):
        if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
            raise ValueError("FastValidator needs an object schema with additionalProperties false")
        self.whole = Validator(schema)
        self._fields = {key: Validator(sub) for key, sub in schema["properties"].items()}
        shape = {key: value for key, value in schema.items() if key not in ("properties", "additionalProperties")}
        shape["propertyNames"] = {"enum": list(schema["properties"])}
        self._shape = Validator(shape)
        read = set()
        for keyword in SHAPE_KEYWORDS:
            read |= _properties_read(schema.get(keyword))
        self._read = frozenset(read)
        self._field_ok = functools.lru_cache(maxsize=MEMO_SIZE)(self._field_ok_uncached)
        self._shape_ok = functools.lru_cache(maxsize=MEMO_SIZE)(self._shape_ok_uncached)

    def _field_ok_uncached(self, key: str, kind: type, value: object) -> bool:
        return self._fields[key].is_valid(value)

    def _shape_ok_uncached(self, skeleton: tuple) -> bool:
        return self._shape.is_valid({key: value for key, _kind, value in skeleton})

    def is_valid(self, msg: object) -> bool:
        if not isinstance(msg, dict):
            return self.whole.is_valid(msg)
        skeleton = []
        for key, value in msg.items():
            scalar = isinstance(value, (str, int, float)) or value is None  # bool is an int
            field = self._fields.get(key)
            if field is not None:
                if scalar:
                    if not self._field_ok(key, type(value), value):  # the type tells true from 1 and 1.0
                        return False
                elif not field.is_valid(value):
                    return False
            if key in self._read:
                if not scalar:
                    return self.whole.is_valid(msg)
                skeleton.append((key, type(value), value))
            else:
                skeleton.append((key, None, None))
        return self._shape_ok(tuple(sorted(skeleton, key=lambda item: item[0])))

    def error(self, msg: object) -> ValidationError:
        """The most relevant reason `msg` fails the schema; a `not` error (which quotes the whole message)
        only when it is the only one."""
        errors = list(self.whole.iter_errors(msg))
        return best_match([e for e in errors if e.validator != "not"] or errors)
