"""Checks a controller configuration against SCHEMA and the rules a schema cannot express, and fills defaults.

A config with any problem is refused whole; every problem is listed with its JSON path and what to write instead.
"""

import json
import math

from gaslatch.core import constants
from gaslatch.core import config_schema
from gaslatch.core.config_schema import SCHEMA

ROOT = "$"
DISCRIMINATOR = "kind"
# How far (in edits) a misspelt key or value may be from a known one to be suggested.
MAX_SUGGEST_DISTANCE = 3


class Problem:
    """One thing wrong with a config: `path` (e.g. $.detectors.hood1.address), `message`, `hint` (the fix)."""

    def __init__(self, path, message, hint):
        self.path = path
        self.message = message
        self.hint = hint

    def __eq__(self, other):
        return (isinstance(other, Problem) and self.path == other.path and self.message == other.message
                and self.hint == other.hint)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Problem(%s, %s, %s)" % (_quote(self.path), _quote(self.message), _quote(self.hint))

    def __str__(self):
        return "%s: %s\n    hint: %s" % (self.path, self.message, self.hint)

    def as_dict(self):
        """The problem as a JSON-ready dict with keys path, message, hint."""
        return {"path": self.path, "message": self.message, "hint": self.hint}


def format_problems(problems):
    """The installer-facing report of a list of problems, one problem (and its hint) per entry."""
    count = len(problems)
    lines = ["configuration has %d problem%s; the controller will not start:" % (count, "" if count == 1 else "s")]
    for problem in problems:
        lines.append("  %s: %s" % (problem.path, problem.message))
        lines.append("      hint: %s" % problem.hint)
    return "\n".join(lines)


class ConfigError(Exception):
    """The config cannot be used; `problems` lists every reason (list of Problem)."""

    def __init__(self, problems):
        super().__init__(format_problems(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------------
# Text helpers: quoting, paths, suggestions.

def _quote(text):
    """`text` in double quotes, JSON-escaped the same way on CPython and MicroPython."""
    out = ['"']
    for char in text:
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif ord(char) < 0x20:
            out.append("\\u%04x" % ord(char))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _is_plain_key(key):
    if not key:
        return False
    for char in key:
        if not ("a" <= char <= "z" or "A" <= char <= "Z" or "0" <= char <= "9" or char == "_" or char == "-"):
            return False
    return True


def child_path(path, key):
    """The JSON path of member `key` (a str) or item `key` (an int) below `path`."""
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    if _is_plain_key(key):
        return "%s.%s" % (path, key)
    return "%s[%s]" % (path, _quote(key))


def edit_distance(a, b):
    """Edits (insert, delete, substitute, swap two neighbours) that turn string a into string b."""
    previous = None
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if previous is not None and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, previous[j - 2] + 1)
            current[j] = best
        previous, row = row, current
    return row[len(b)]


def closest(word, candidates):
    """The candidate `word` is most likely a misspelling of, or None when none is close."""
    lowered = word.lower()
    best = None
    best_distance = MAX_SUGGEST_DISTANCE + 1
    for candidate in sorted(candidates):
        if lowered == candidate.lower():
            return candidate
        limit = min(MAX_SUGGEST_DISTANCE, max(1, len(candidate) // 3))
        distance = edit_distance(lowered, candidate.lower())
        if distance <= limit and distance < best_distance:
            best, best_distance = candidate, distance
    if best is None and len(word) >= 4:
        starts = [c for c in sorted(candidates) if c.lower().startswith(lowered)]
        if len(starts) == 1:
            best = starts[0]
    return best


def _did_you_mean(word, candidates, fallback):
    guess = closest(word, candidates)
    if guess is not None:
        return "did you mean %s?" % _quote(guess)
    return fallback


def _count(number, one, many):
    return "%d %s" % (number, one if number == 1 else many)


def _list_of(values):
    return ", ".join([_show(value) for value in values])


# ---------------------------------------------------------------------------------------------
# JSON values: types, equality, showing.

def _is_number(value):
    """True for a JSON number: int or finite float, never bool (JSON has no NaN or Infinity)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and not math.isnan(value) and not math.isinf(value)


def _is_integer(value):
    """True for a JSON integer: 3 and 3.0 are integers, true and 3.5 are not."""
    if isinstance(value, float):
        return _is_number(value) and value % 1 == 0
    return _is_number(value)


_TYPE_CHECKS = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}

_TYPE_WORDS = {
    "object": "an object {...}",
    "array": "a list [...]",
    "string": "text in double quotes",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _json_equal(a, b):
    """Equality as JSON Schema means it: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        for i in range(len(a)):
            if not _json_equal(a[i], b[i]):
                return False
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        for key in a:
            if key not in b or not _json_equal(a[key], b[key]):
                return False
        return True
    return type(a) == type(b) and a == b


def _show(value):
    """A short JSON-like rendering of a value for messages."""
    if isinstance(value, str):
        if len(value) > 40:
            return _quote(value[:37]) + "..."
        return _quote(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "%s (not allowed in JSON)" % value
    return "%s" % value


def _found(value):
    if isinstance(value, str):
        return "text %s" % _show(value)
    if isinstance(value, bool):
        return _show(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return _show(value)


def _copy(value):
    if isinstance(value, dict):
        return dict([(key, _copy(value[key])) for key in value])
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------
# The patterns SCHEMA uses, each checked by hand (MicroPython has no full `re`). ECMA-262 semantics:
# `$` matches only at the very end, so a trailing newline is not allowed.

def _is_name_char(char, first):
    if "a" <= char <= "z" or "0" <= char <= "9":
        return True
    return not first and (char == "_" or char == "-")


def _matches_name(text):
    if not 1 <= len(text) <= 32:
        return False
    for i in range(len(text)):
        if not _is_name_char(text[i], i == 0):
            return False
    return True


def _matches_time(text):
    if len(text) != 5 or text[2] != ":":
        return False
    for i in (0, 1, 3, 4):
        if not "0" <= text[i] <= "9":
            return False
    return int(text[0:2]) <= 23 and int(text[3:5]) <= 59


PATTERNS = {
    config_schema.NAME_PATTERN: (
        _matches_name,
        "a name of 1-32 characters: lower-case letters a-z, digits, '_' or '-', starting with a letter or digit",
        "hood1",
    ),
    config_schema.TIME_PATTERN: (_matches_time, "a 24-hour time HH:MM", "08:30"),
}

KEYWORDS = (
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "properties", "required", "additionalProperties",
    "propertyNames", "minProperties", "items", "minItems", "maxItems", "uniqueItems", "oneOf",
)
ANNOTATIONS = ("$schema", "title", "description", "default")


def check_supported(schema, path=ROOT):
    """Raise ValueError if `schema` uses a keyword, pattern or oneOf form this interpreter cannot enforce."""
    if not isinstance(schema, dict):
        raise ValueError("schema at %s is not an object" % path)
    for keyword in sorted(schema):
        if keyword not in KEYWORDS and keyword not in ANNOTATIONS:
            raise ValueError("schema at %s uses keyword %s, which config.py does not implement" % (path, keyword))
    types = schema.get("type", [])
    for name in (types if isinstance(types, list) else [types]):
        if name not in _TYPE_CHECKS:
            raise ValueError("schema at %s uses unknown type %s" % (path, name))
    if "pattern" in schema and schema["pattern"] not in PATTERNS:
        raise ValueError("schema at %s uses pattern %s, which has no checker in config.PATTERNS"
                         % (path, schema["pattern"]))
    properties = schema.get("properties", {})
    for key in sorted(properties):
        check_supported(properties[key], child_path(path, key))
    for keyword in ("additionalProperties", "propertyNames", "items"):
        sub = schema.get(keyword)
        if isinstance(sub, dict):
            check_supported(sub, "%s/%s" % (path, keyword))
        elif sub is not None and not (keyword == "additionalProperties" and isinstance(sub, bool)):
            raise ValueError("schema at %s: %s must be a schema" % (path, keyword))
    if "oneOf" in schema:
        kinds = {}
        for i, branch in enumerate(schema["oneOf"]):
            where = "%s/oneOf[%d]" % (path, i)
            check_supported(branch, where)
            const = branch.get("properties", {}).get(DISCRIMINATOR, {}).get("const")
            if not isinstance(const, str) or DISCRIMINATOR not in branch.get("required", []) or const in kinds:
                raise ValueError("schema at %s: every oneOf branch needs a required, distinct %s const"
                                 % (where, DISCRIMINATOR))
            kinds[const] = branch


# ---------------------------------------------------------------------------------------------
# The interpreter: walks a document against a schema and appends a Problem per failed keyword.

def _range_words(schema):
    low = schema.get("minimum")
    high = schema.get("maximum")
    above = schema.get("exclusiveMinimum")
    if above is not None and high is not None:
        return "above %s and at most %s" % (_show(above), _show(high))
    if low is not None and high is not None:
        return "from %s to %s" % (_show(low), _show(high))
    if low is not None:
        return "of at least %s" % _show(low)
    if high is not None:
        return "of at most %s" % _show(high)
    return ""


def describe(schema):
    """What a value matching `schema` looks like, in words for an installer."""
    if "const" in schema:
        return _show(schema["const"])
    if "enum" in schema:
        return "one of " + _list_of(schema["enum"])
    if "pattern" in schema:
        return PATTERNS[schema["pattern"]][1]
    if "oneOf" in schema:
        kinds = [branch["properties"][DISCRIMINATOR]["const"] for branch in schema["oneOf"]]
        return "an object with %s one of %s" % (_quote(DISCRIMINATOR), _list_of(kinds))
    kind = schema.get("type")
    if kind in ("integer", "number"):
        words = "a whole number" if kind == "integer" else "a number"
        bounds = _range_words(schema)
        return words + (" " + bounds if bounds else "")
    if kind == "string":
        low = schema.get("minLength", 0)
        high = schema.get("maxLength")
        if high is not None:
            return "text of %d to %d characters in double quotes" % (low, high)
        return "text in double quotes" if not low else "non-empty text in double quotes"
    if kind == "object":
        required = schema.get("required", [])
        entry = schema.get("additionalProperties")
        if required:
            return "an object with %s" % _list_of(required)
        if isinstance(entry, dict):
            return "an object of named entries, each %s" % describe(entry)
        return "an object {...}"
    if kind == "array":
        return "a list [...]"
    if kind == "boolean":
        return "true or false"
    return "a value"


def _example(schema):
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "pattern" in schema:
        return PATTERNS[schema["pattern"]][2]
    if "minimum" in schema:
        return schema["minimum"]
    return None


def _type_ok(schema, value):
    kind = schema.get("type")
    if kind is None:
        return True
    for name in (kind if isinstance(kind, list) else [kind]):
        if _TYPE_CHECKS[name](value):
            return True
    return False


def _check_type(schema, value, path, out):
    if _type_ok(schema, value):
        return True
    kind = schema["type"]
    names = kind if isinstance(kind, list) else [kind]
    expected = " or ".join([_TYPE_WORDS[name] for name in names])
    hint = "write " + describe(schema)
    example = _example(schema)
    if example is not None and not isinstance(example, (dict, list)):
        hint = "%s, e.g. %s" % (hint, _show(example))
    if isinstance(value, str) and "string" not in names:
        hint += " (without quotes)"
    out.append(Problem(path, "expected %s, found %s" % (expected, _found(value)), hint))
    return False


def _check_number(schema, value, path, out):
    hint = "write " + describe(schema)
    if "minimum" in schema and value < schema["minimum"]:
        out.append(Problem(path, "%s is below the minimum %s" % (_show(value), _show(schema["minimum"])), hint))
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        out.append(Problem(path, "%s must be above %s" % (_show(value), _show(schema["exclusiveMinimum"])), hint))
    if "maximum" in schema and value > schema["maximum"]:
        out.append(Problem(path, "%s is above the maximum %s" % (_show(value), _show(schema["maximum"])), hint))
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        out.append(Problem(path, "%s must be below %s" % (_show(value), _show(schema["exclusiveMaximum"])), hint))


def _check_string(schema, value, path, out):
    length = len(value)
    if "minLength" in schema and length < schema["minLength"]:
        if length == 0:
            message = "must not be empty"
        else:
            message = "too short: %d characters, at least %d" % (length, schema["minLength"])
        out.append(Problem(path, message, "write " + describe(schema)))
    if "maxLength" in schema and length > schema["maxLength"]:
        out.append(Problem(path, "too long: %d characters, at most %d" % (length, schema["maxLength"]),
                           "shorten it to at most %d characters" % schema["maxLength"]))
    if "pattern" in schema:
        matches, words, example = PATTERNS[schema["pattern"]]
        if not matches(value):
            out.append(Problem(path, "%s is not %s" % (_show(value), words), "write %s, e.g. %s" % (words, example)))


def _check_object(schema, value, path, out):
    properties = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            sub = properties.get(key, {})
            out.append(Problem(child_path(path, key), "missing; it is required",
                               "add %s: %s" % (_quote(key), describe(sub))))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        out.append(Problem(path, "needs at least %s" % _count(schema["minProperties"], "entry", "entries"),
                           "add %s" % describe(schema.get("additionalProperties", {}))))
    names = schema.get("propertyNames")
    extra = schema.get("additionalProperties", True)
    for key in sorted(value):
        path_of_key = child_path(path, key)
        if names is not None:
            name_problems = []
            _check(names, key, path_of_key, name_problems)
            if name_problems:
                out.append(Problem(path_of_key, "the name %s is not allowed" % _quote(key), name_problems[0].hint))
        if key in properties:
            _check(properties[key], value[key], path_of_key, out)
        elif extra is False:
            allowed = sorted(properties)
            out.append(Problem(path_of_key, "unknown key %s" % _quote(key),
                               _did_you_mean(key, allowed, "allowed keys here: " + _list_of(allowed))))
        elif isinstance(extra, dict):
            _check(extra, value[key], path_of_key, out)


def _check_array(schema, value, path, out):
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append(Problem(path, "needs at least %s" % _count(schema["minItems"], "item", "items"),
                           "add %s" % describe(schema.get("items", {}))))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(Problem(path, "has %d items, at most %d" % (len(value), schema["maxItems"]),
                           "remove %d item(s)" % (len(value) - schema["maxItems"])))
    if schema.get("uniqueItems"):
        for i in range(len(value)):
            for j in range(i):
                if _json_equal(value[i], value[j]):
                    out.append(Problem(child_path(path, i), "%s is listed twice" % _show(value[i]),
                                       "remove the repeated entry"))
                    break
    if "items" in schema:
        for i in range(len(value)):
            _check(schema["items"], value[i], child_path(path, i), out)


def _branch(schema, value):
    """The oneOf branch whose kind const matches value's kind, or None."""
    kind = value.get(DISCRIMINATOR)
    for branch in schema["oneOf"]:
        if isinstance(kind, str) and branch["properties"][DISCRIMINATOR]["const"] == kind:
            return branch
    return None


def _check_one_of(schema, value, path, out):
    kinds = [branch["properties"][DISCRIMINATOR]["const"] for branch in schema["oneOf"]]
    kind_path = child_path(path, DISCRIMINATOR)
    if not isinstance(value, dict):
        out.append(Problem(path, "expected an object, found %s" % _found(value),
                           "write an object with %s one of %s" % (_quote(DISCRIMINATOR), _list_of(kinds))))
        return
    if DISCRIMINATOR not in value:
        out.append(Problem(kind_path, "missing; it is required",
                           "add %s: one of %s" % (_quote(DISCRIMINATOR), _list_of(kinds))))
        return
    branch = _branch(schema, value)
    if branch is None:
        kind = value[DISCRIMINATOR]
        fallback = "write one of " + _list_of(kinds)
        hint = _did_you_mean(kind, kinds, fallback) if isinstance(kind, str) else fallback
        out.append(Problem(kind_path, "%s is not a known kind" % _show(kind), hint))
        return
    _check(branch, value, path, out)


def _check(schema, value, path, out):
    """Append to `out` a Problem for each way `value` fails `schema`."""
    if not _check_type(schema, value, path, out):
        return
    if "const" in schema and not _json_equal(value, schema["const"]):
        out.append(Problem(path, "must be %s, found %s" % (_show(schema["const"]), _found(value)),
                           "write %s" % _show(schema["const"])))
    if "enum" in schema:
        allowed = schema["enum"]
        if not [choice for choice in allowed if _json_equal(value, choice)]:
            fallback = "write one of " + _list_of(allowed)
            words = [choice for choice in allowed if isinstance(choice, str)]
            hint = _did_you_mean(value, words, fallback) if isinstance(value, str) and words else fallback
            out.append(Problem(path, "%s is not allowed here" % _show(value), hint))
    if _is_number(value):
        _check_number(schema, value, path, out)
    elif isinstance(value, str):
        _check_string(schema, value, path, out)
    elif isinstance(value, dict):
        _check_object(schema, value, path, out)
    elif isinstance(value, list):
        _check_array(schema, value, path, out)
    if "oneOf" in schema:
        _check_one_of(schema, value, path, out)


def schema_problems(doc, schema=None):
    """The problems of `doc` against `schema` (default SCHEMA) alone: the structural phase of validate()."""
    out = []
    _check(SCHEMA if schema is None else schema, doc, ROOT, out)
    return out


# ---------------------------------------------------------------------------------------------
# Defaults.

def _with_defaults(schema, value):
    """A copy of `value` with every missing default filled in, integers as int; untouched where it fails its type."""
    if not _type_ok(schema, value):
        return _copy(value)
    if schema.get("type") == "integer" and isinstance(value, float):
        return int(value)
    if isinstance(value, dict):
        if "oneOf" in schema:
            branch = _branch(schema, value)
            return _with_defaults(branch, value) if branch is not None else _copy(value)
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        out = {}
        for key in value:
            if key in properties:
                out[key] = _with_defaults(properties[key], value[key])
            elif isinstance(extra, dict):
                out[key] = _with_defaults(extra, value[key])
            else:
                out[key] = _copy(value[key])
        for key in properties:
            if key not in out and "default" in properties[key]:
                out[key] = _with_defaults(properties[key], _copy(properties[key]["default"]))
        return out
    if isinstance(value, list) and "items" in schema:
        return [_with_defaults(schema["items"], item) for item in value]
    return _copy(value)


def _zone_schema():
    return SCHEMA["properties"]["zones"]["additionalProperties"]


DETECTOR_KINDS = tuple([branch["properties"][DISCRIMINATOR]["const"]
                        for branch in SCHEMA["properties"]["detectors"]["additionalProperties"]["oneOf"]])


# ---------------------------------------------------------------------------------------------
# Semantic rules: what JSON Schema cannot say. They read the config with defaults filled and skip
# any value the structural phase already reported, so one mistake is reported once.

class _Semantics:
    def __init__(self, doc, config, structural, profile_kinds):
        self.doc = doc
        self.config = config
        self.bad_paths = [problem.path for problem in structural]
        self.profile_kinds = profile_kinds
        self.out = []

    def trusted(self, path):
        for bad in self.bad_paths:
            if bad == path or bad.startswith(path + ".") or bad.startswith(path + "["):
                return False
        return True

    def get(self, section, key, check, path=None):
        """config[section][key] if it passed the structural phase and `check`, else None."""
        if not isinstance(section, dict) or key not in section:
            return None
        value = section[key]
        if path is not None and not self.trusted(path):
            return None
        return value if check(value) else None

    def add(self, path, message, hint):
        self.out.append(Problem(path, message, hint))


def _written(doc, keys):
    """True if the installer wrote the value at `keys` (a list of keys) in `doc`, False if it is a default."""
    node = doc
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _section(config, name):
    value = config.get(name) if isinstance(config, dict) else None
    return value if isinstance(value, dict) else {}


def _set_point_rules(rules, name, detector, kind):
    path = child_path(child_path(ROOT, "detectors"), name)
    low_path = child_path(path, "low_alarm_pct_lel")
    high_path = child_path(path, "high_alarm_pct_lel")
    low = rules.get(detector, "low_alarm_pct_lel", _is_number, low_path)
    high = rules.get(detector, "high_alarm_pct_lel", _is_number, high_path)
    if low is not None and high is not None and not low < high:
        wrote_low = _written(rules.doc, ["detectors", name, "low_alarm_pct_lel"])
        rules.add(low_path if wrote_low else high_path,
                  "low alarm %s %%LEL must be below the high alarm %s %%LEL" % (_show(low), _show(high)),
                  "set low_alarm_pct_lel below high_alarm_pct_lel (defaults %s and %s)"
                  % (constants.DEFAULT_LOW_ALARM_PCT_LEL, constants.DEFAULT_HIGH_ALARM_PCT_LEL))
    hysteresis_path = child_path(path, "hysteresis_pct_lel")
    hysteresis = rules.get(detector, "hysteresis_pct_lel", _is_number, hysteresis_path)
    if low is not None and hysteresis is not None and not hysteresis < low:
        rules.add(hysteresis_path,
                  "hysteresis %s %%LEL is not below the low alarm %s %%LEL, so the low alarm could never clear"
                  % (_show(hysteresis), _show(low)),
                  "set hysteresis_pct_lel below low_alarm_pct_lel (default %s)" % constants.DEFAULT_HYSTERESIS_PCT_LEL)
    if kind != "analog":
        return
    scale_path = child_path(path, "full_scale_pct_lel")
    scale = rules.get(detector, "full_scale_pct_lel", _is_number, scale_path)
    if high is not None and scale is not None and high > scale:
        wrote_high = _written(rules.doc, ["detectors", name, "high_alarm_pct_lel"])
        rules.add(high_path if wrote_high else scale_path,
                  "high alarm %s %%LEL is above the detector's full scale %s %%LEL, so it can never be reached"
                  % (_show(high), _show(scale)),
                  "set high_alarm_pct_lel to at most %s, or correct full_scale_pct_lel from the data sheet"
                  % _show(scale))


def _profile_rules(rules, name, detector, kind):
    kinds = rules.profile_kinds
    if kinds is None:
        return
    path = child_path(child_path(child_path(ROOT, "detectors"), name), "profile")
    profile = rules.get(detector, "profile", lambda value: isinstance(value, str), path)
    if profile is None:
        return
    fitting = sorted([key for key in kinds if kinds[key] == kind])
    listing = "%s profiles: %s" % (kind, _list_of(fitting)) if fitting else "no %s profile is installed" % kind
    if profile not in kinds:
        rules.add(path, "no detector profile named %s" % _quote(profile), _did_you_mean(profile, fitting, listing))
    elif kinds[profile] != kind:
        rules.add(path, "profile %s is for %s detectors, this detector is %s" % (_quote(profile), kinds[profile], kind),
                  "use one of the " + listing)


def _detector_rules(rules):
    detectors = _section(rules.config, "detectors")
    buses = _section(rules.config, "buses")
    bus_names = sorted(buses)
    owners = {}
    for name in sorted(detectors):
        detector = detectors[name]
        path = child_path(child_path(ROOT, "detectors"), name)
        kind = rules.get(detector, "kind", lambda value: value in DETECTOR_KINDS, child_path(path, "kind"))
        if kind is None:
            continue
        _set_point_rules(rules, name, detector, kind)
        _profile_rules(rules, name, detector, kind)
        if kind != "modbus":
            continue
        bus_path = child_path(path, "bus")
        bus = rules.get(detector, "bus", lambda value: isinstance(value, str), bus_path)
        if bus is not None and bus not in buses:
            listing = "buses defined: " + _list_of(bus_names) if bus_names else \
                'define it under "buses", e.g. "buses": {"%s": {"port": "/dev/ttyUSB0"}}' % bus
            rules.add(bus_path, "no bus named %s" % _quote(bus), _did_you_mean(bus, bus_names, listing))
        address_path = child_path(path, "address")
        address = rules.get(detector, "address", _is_integer, address_path)
        if bus is None or address is None:
            continue
        key = (bus, address)
        if key in owners:
            rules.add(address_path, "address %d on bus %s is also used by detector %s"
                      % (address, _quote(bus), _quote(owners[key])),
                      "give each detector on a bus its own address (%d-%d)"
                      % (config_schema.MIN_MODBUS_ADDRESS, config_schema.MAX_MODBUS_ADDRESS))
        else:
            owners[key] = name


def _alarm_rules(rules):
    alarm = _section(rules.config, "alarm")
    path = child_path(ROOT, "alarm")
    lost_path = child_path(path, "comm_lost_after_s")
    trip_path = child_path(path, "fault_trip_after_s")
    lost = rules.get(alarm, "comm_lost_after_s", _is_integer, lost_path)
    trip = rules.get(alarm, "fault_trip_after_s", _is_integer, trip_path)
    if lost is None or trip is None or lost + trip <= constants.MAX_FAULT_DECLARE_TOTAL_S:
        return
    rules.add(trip_path,
              "comm_lost_after_s + fault_trip_after_s = %d + %d = %d s, above the %d s limit"
              % (lost, trip, lost + trip, constants.MAX_FAULT_DECLARE_TOTAL_S),
              "lower one of them so the sum is at most %d s (GB 16808 / GB 50166: a lost or broken detector "
              "acted on within 100 s)" % constants.MAX_FAULT_DECLARE_TOTAL_S)


def alarm_latency_ms(period_ms, detectors_on_bus, poll_interval_ms, confirm_samples):
    """Worst case from gas at a Modbus detector to a confirmed high alarm, in ms.

    The bus master sends one request every two scans (a reply seen in one scan, the silent interval
    respected before the next), so a detector is sampled every max(poll interval, 2 x period x n).
    """
    sample_interval_ms = max(poll_interval_ms, 2 * period_ms * detectors_on_bus)
    return confirm_samples * sample_interval_ms + period_ms


def _bus_latency_rules(rules):
    detectors = _section(rules.config, "detectors")
    period = rules.get(_section(rules.config, "scan"), "period_ms", _is_integer, "$.scan.period_ms")
    confirm = rules.get(_section(rules.config, "alarm"), "confirm_samples", _is_integer, "$.alarm.confirm_samples")
    if period is None or confirm is None:
        return
    on_bus = {}
    for name in sorted(detectors):
        detector = detectors[name]
        if not isinstance(detector, dict) or detector.get("kind") != "modbus" or not isinstance(detector.get("bus"), str):
            continue
        interval = detector.get("poll_interval_ms")
        if not _is_integer(interval):
            return
        on_bus.setdefault(detector["bus"], []).append(interval)
    for bus in sorted(on_bus):
        latency = alarm_latency_ms(period, len(on_bus[bus]), max(on_bus[bus]), confirm)
        if latency > constants.ALARM_LATENCY_BUDGET_MS:
            rules.add(child_path(child_path(ROOT, "buses"), bus),
                      "%d detectors on this bus at a %d ms scan period confirm a high alarm only after up to %d ms, "
                      "above the %d ms alarm budget" % (len(on_bus[bus]), period, latency,
                                                       constants.ALARM_LATENCY_BUDGET_MS),
                      "lower scan.period_ms, lower alarm.confirm_samples or poll_interval_ms, or split the "
                      "detectors over more buses (GB 16808: alarm within 10 s)")


def _valve_rules(rules):
    valve = _section(rules.config, "valve")
    path = child_path(ROOT, "valve")
    is_text = lambda value: isinstance(value, str)
    kind = rules.get(valve, "type", is_text, child_path(path, "type"))
    feedback = rules.get(valve, "feedback", is_text, child_path(path, "feedback"))
    startup = rules.get(valve, "startup", is_text, child_path(path, "startup"))
    if kind == "motorised" and feedback is not None and feedback != "both":
        rules.add(child_path(path, "feedback"),
                  'a motorised valve needs feedback "both", found %s' % _quote(feedback),
                  'write "feedback": "both" and wire both limit switches of the valve')
    if startup == "auto_arm_external_manual_valve" and kind is not None and kind != "hold":
        rules.add(child_path(path, "startup"),
                  'startup "auto_arm_external_manual_valve" needs a hold valve, this valve is %s' % _quote(kind),
                  'write "startup": "manual_reset"; auto-arm is only for a hold valve that is reopened by hand')


def _schedule_rules(rules):
    schedule = _section(rules.config, "schedule")
    path = child_path(ROOT, "schedule")
    attended_path = child_path(path, "attended")
    enabled = rules.get(schedule, "enabled", lambda value: isinstance(value, bool), child_path(path, "enabled"))
    attended = schedule.get("attended")
    if not isinstance(attended, list):
        return
    if enabled and not attended and rules.trusted(attended_path):
        rules.add(attended_path,
                  "the schedule is enabled but has no attended period, so the gas would stay off all week",
                  'add a period, e.g. {"days": ["mon", "tue"], "from": "08:00", "to": "22:00"}, '
                  'or write "enabled": false')
    for i in range(len(attended)):
        period = attended[i]
        period_path = child_path(attended_path, i)
        is_text = lambda value: isinstance(value, str)
        start = rules.get(period, "from", is_text, child_path(period_path, "from"))
        end = rules.get(period, "to", is_text, child_path(period_path, "to"))
        if start is not None and start == end:
            rules.add(child_path(period_path, "to"), "the period starts and ends at %s, so it is empty" % start,
                      'make "to" differ from "from"; a "to" earlier than "from" runs past midnight')


def _detectors_by_zone(rules):
    counts = {}
    detectors = _section(rules.config, "detectors")
    for name in sorted(detectors):
        path = child_path(child_path(child_path(ROOT, "detectors"), name), "zone")
        zone = rules.get(detectors[name], "zone", lambda value: isinstance(value, str), path)
        if zone is not None:
            counts[zone] = counts.get(zone, 0) + 1
    return counts


def _zone_rules(rules):
    zones = _section(rules.config, "zones")
    counts = _detectors_by_zone(rules)
    used = sorted(counts)
    for name in sorted(zones):
        path = child_path(child_path(ROOT, "zones"), name)
        count = counts.get(name, 0)
        if count == 0:
            if rules.trusted(path):
                rules.add(path, "no detector is in zone %s" % _quote(name),
                          _did_you_mean(name, used, "zones with detectors: " + _list_of(used)))
            continue
        flag_path = child_path(path, "two_detector_confirmation")
        confirm = rules.get(zones[name], "two_detector_confirmation", lambda value: isinstance(value, bool), flag_path)
        if confirm and count < 2:
            rules.add(flag_path, "two-detector confirmation needs at least 2 detectors in zone %s, it has %d"
                      % (_quote(name), count),
                      'put a second detector in the zone, or write "two_detector_confirmation": false')


def semantic_problems(doc, config, structural, profile_kinds=None):
    """Problems with the rules JSON Schema cannot express, in `config` (doc with defaults filled)."""
    rules = _Semantics(doc, config, structural, profile_kinds)
    _detector_rules(rules)
    _alarm_rules(rules)
    _bus_latency_rules(rules)
    _valve_rules(rules)
    _schedule_rules(rules)
    _zone_rules(rules)
    return rules.out


# ---------------------------------------------------------------------------------------------
# Public entry points.

def _analyse(doc, profile_kinds):
    structural = schema_problems(doc)
    config = _with_defaults(SCHEMA, doc)
    return structural + semantic_problems(doc, config, structural, profile_kinds), config


def validate(doc, profile_kinds=None):
    """Every problem of `doc` (parsed JSON) as a list of Problem; empty when it is a valid config.

    profile_kinds: optional dict profile name -> 'modbus' | 'analog' | 'contact' of the installed profiles.
    """
    return _analyse(doc, profile_kinds)[0]


def load_config(doc, profile_kinds=None):
    """The normalised config: a copy of `doc` with every default filled; raises ConfigError listing every problem.

    Every zone a detector names is present in config["zones"], with defaults if the file does not list it.
    """
    problems, config = _analyse(doc, profile_kinds)
    if problems:
        raise ConfigError(problems)
    zones = config["zones"]
    for name in sorted(config["detectors"]):
        zone = config["detectors"][name]["zone"]
        if zone not in zones:
            zones[zone] = _with_defaults(_zone_schema(), {})
    return config


def _duplicate_keys(text):
    """Problems for keys repeated within one object of JSON `text` (json.loads keeps only the last)."""
    out = []
    frames = []  # [is_object, path, keys seen, expecting a key, current key, item index]
    line = 1
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            frame = frames[-1] if frames else None
            if frame is not None and frame[0] and frame[3]:
                key = json.loads(text[i:end + 1])
                if key in frame[2]:
                    out.append(Problem(child_path(frame[1], key),
                                       "key %s appears twice in one object (line %d); only the last one would count"
                                       % (_quote(key), line),
                                       "rename or remove one of them"))
                frame[2][key] = True
                frame[3] = False
                frame[4] = key
            i = end + 1
            continue
        if char == "\n":
            line += 1
        elif char == "{" or char == "[":
            if not frames:
                path = ROOT
            elif frames[-1][0]:
                path = child_path(frames[-1][1], frames[-1][4])
            else:
                path = child_path(frames[-1][1], frames[-1][5])
            frames.append([char == "{", path, {}, char == "{", None, 0])
        elif (char == "}" or char == "]") and frames:
            frames.pop()
        elif char == "," and frames:
            if frames[-1][0]:
                frames[-1][3] = True
            else:
                frames[-1][5] += 1
        i += 1
    return out


def parse_config_text(text):
    """Parse JSON config text; raises ConfigError for bad JSON (with line and column where the platform gives them)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        doc = json.loads(text)
    except ValueError as error:
        line = getattr(error, "lineno", None)
        column = getattr(error, "colno", None)
        reason = getattr(error, "msg", None) or str(error)
        if line is not None and column is not None:
            message = "not valid JSON: %s at line %d, column %d" % (reason, line, column)
            hint = "look at line %d for a missing or extra comma, a missing quote or bracket, or a comment " \
                   "(JSON has no comments)" % line
        else:
            message = "not valid JSON: %s" % reason
            hint = "look for a missing or extra comma, a missing quote or bracket, or a comment (JSON has no comments)"
        raise ConfigError([Problem(ROOT, message, hint)])
    duplicates = _duplicate_keys(text)
    if duplicates:
        raise ConfigError(duplicates)
    return doc


def load_config_text(text, profile_kinds=None):
    """load_config() of JSON `text`."""
    return load_config(parse_config_text(text), profile_kinds)


def load_config_file(path, profile_kinds=None):
    """load_config() of the JSON file at `path`; unreadable or bad JSON raises ConfigError too."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ConfigError([Problem(ROOT, "cannot read %s: %s" % (path, error),
                                   "check that the file exists and is readable")])
    try:
        text = data.decode("utf-8")
    except UnicodeError:
        raise ConfigError([Problem(ROOT, "%s is not UTF-8 text" % path, "save the file as UTF-8")])
    return load_config_text(text, profile_kinds)


check_supported(SCHEMA)
