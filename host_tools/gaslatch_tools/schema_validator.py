"""The one JSON Schema validator our files and payloads are checked with: jsonschema's Draft 2020-12, except that a
pattern's `$` means what JSON Schema says (ECMA-262: the very end of the text) and not Python's (the end, or before
a final newline), so "2026-12-07T02:00:00.000Z\\n" does not pass as a timestamp."""

from __future__ import annotations

import functools
import re

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend


@functools.lru_cache(maxsize=256)
def ecma_regex(pattern: str) -> re.Pattern:
    """The pattern compiled for Python with ECMA-262's `$`: an unescaped `$` anchor becomes `\\Z`."""
    return re.compile(re.sub(r"(?<!\\)\$(?=\)*$|\|)", r"\\Z", pattern))


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError("%r does not match %r" % (instance, pattern))


Validator = extend(Draft202012Validator, {"pattern": _pattern})
