"""The data files the host tools read (bench scenarios, the platform's warning rules and contacts): YAML 1.2 or
JSON, checked against a JSON Schema, each problem named by its path in the file ($.rules[2].grade).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

import yaml

from gaslatch.told import Told
from gaslatch.translation import N_
from gaslatch_tools.schema_validator import Validator

# What parse() raises for text that is not a document (nested deeper than the parsers go: RecursionError).
PARSE_ERRORS = (ValueError, yaml.YAMLError, RecursionError)
MAX_PROBLEMS = 5  # a file with more is named by its first five; fixing them shows the next
FILE_PROBLEMS = N_("%(source)s: %(problems)s")  # a file's name and its problems (a list of Told: joined " / ")
REQUIRED_MESSAGE = re.compile(r"^'(.*)' is a required property$")  # jsonschema's words for a missing field


class Yaml12Loader(yaml.SafeLoader):
    """YAML with only true/false as booleans (YAML 1.2): `on: false` is the key "on", not True."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))


def parse(text: str, json_only: bool = False) -> Any:
    """A document from YAML 1.2 text (JSON is YAML too), or from JSON only; ValueError or yaml.YAMLError."""
    return json.loads(text) if json_only else yaml.load(text, Loader=Yaml12Loader)  # noqa: S506


def json_path(parts: Iterable) -> str:
    """$.rules[2].grade: where in the document a problem is."""
    return "$" + "".join("[%r]" % p if isinstance(p, int) else "." + str(p) for p in parts)


def _in_file_order(error) -> list:
    """A problem's sort key by its path: list indexes by number, keys by text (YAML keys may be numbers, dates,
    null or true side by side, which do not compare with each other)."""
    return [(0, part, "") if type(part) is int else (1, 0, str(part)) for part in error.absolute_path]


def schema_problem_texts(schema: dict, doc: Any) -> list[Told]:
    """What is wrong with doc against schema (Draft 2020-12), "<path>: <what to fix>", the first MAX_PROBLEMS: each
    a Told (str() the English, told() the reader's language), the schema's own words beside it where no
    translation says it better."""
    validator = Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=_in_file_order)
    out = []
    for error in errors[:MAX_PROBLEMS]:
        path = json_path(error.absolute_path)
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = REQUIRED_MESSAGE.match(error.message)
        if error.validator == "required" and missing:
            out.append(Told(N_("%(path)s: the field %(field)s is missing"), path=path, field=missing.group(1)))
        elif error.validator == "additionalProperties" and error.validator_value is False:
            known = set(error.schema.get("properties", {}))
            extra = ", ".join(sorted(str(k) for k in instance if k not in known)) or error.message
            out.append(Told(N_("%(path)s: no such field: %(fields)s"), path=path, fields=extra))
        else:
            out.append(Told(N_("%(path)s: not allowed here (%(detail)s)"), path=path, detail=error.message))
    return out


def described_schema_problems(schema: dict, doc: Any) -> list[str]:
    """schema_problem_texts in the reader's language."""
    return [problem.told() for problem in schema_problem_texts(schema, doc)]
