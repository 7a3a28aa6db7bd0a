"""A small interpreter of a JSON Schema subset, so a schema given as data is enforced on MicroPython too.

Every failed keyword becomes a Problem with its JSON path and a hint; it knows no document, only the schema it is given.
"""

import math

from gaslatch.core.events import json_quote
from gaslatch.core.text import N_, Joined, english

# The draft the enforced keywords mean what they mean in (a schema's "$schema").
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ROOT = "$"
MIN_NORMAL_FLOAT = 2.2250738585072014e-308  # below it (subnormal) the two interpreters print a float differently
# How far (in edits) a misspelt key or value may be from a known one to be suggested.
MAX_SUGGEST_DISTANCE = 3

KEYWORDS = (
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "properties", "required", "additionalProperties",
    "propertyNames", "minProperties", "items", "minItems", "maxItems", "uniqueItems", "oneOf", "if", "then", "else",
)
ANNOTATIONS = ("$schema", "title", "description", "default")


class Problem:
    """One thing wrong with a document: `path` (a JSON path, e.g. $.items[2].name), `message`, `hint` (the fix).

    message and hint are English str; given as a text.Text (an English template and its values), the Text is kept
    too, as `message_text` / `hint_text`, so gaslatch/problem_text.py can render it in another language."""

    def __init__(self, path, message, hint):
        self.path = path
        self.message_text = message
        self.hint_text = hint
        self.message = english(message)
        self.hint = english(hint)

    def __eq__(self, other):
        return (isinstance(other, Problem) and self.path == other.path and self.message == other.message
                and self.hint == other.hint)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Problem(%s, %s, %s)" % (quote(self.path), quote(self.message), quote(self.hint))

    def __str__(self):
        return "%s: %s\n    hint: %s" % (self.path, self.message, self.hint)

    def as_dict(self):
        """The problem as a JSON-ready dict with keys path, message, hint."""
        return {"path": self.path, "message": self.message, "hint": self.hint}


def one_of_branch(key, const, description, common, properties, required):
    """A schema of a oneOf branch picked by `key` == const: common's properties then its own, no other key."""
    merged = {key: {"const": const, "description": description}}
    for name in common:
        merged[name] = common[name]
    for name in properties:
        merged[name] = properties[name]
    return {"type": "object", "additionalProperties": False, "required": [key] + list(required), "properties": merged}


# ---------------------------------------------------------------------------------------------
# Text helpers: quoting, paths, suggestions.

def quote(text):
    """`text` in double quotes, JSON-escaped the same way on CPython and MicroPython; control characters, lone
    surrogates and the other characters an event never carries verbatim (events.is_unsafe_code_point) escaped."""
    return json_quote(text, False)


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
    return "%s[%s]" % (path, quote(key))


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


def did_you_mean(word, candidates, fallback):
    """A hint naming the candidate `word` is likely a misspelling of, else `fallback`."""
    guess = closest(word, candidates)
    if guess is not None:
        return N_("did you mean %(guess)s?", guess=quote(guess))
    return fallback


def list_of(values):
    """`values` shown for a message, comma-separated."""
    return ", ".join(["%s" % show(value) for value in values])


# ---------------------------------------------------------------------------------------------
# JSON values: types, equality, showing.

def is_number(value):
    """True for a JSON number: int or finite float, never bool (JSON has no NaN or Infinity)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and not math.isnan(value) and not math.isinf(value)


def is_integer(value):
    """True for a JSON integer: 3 and 3.0 are integers, true and 3.5 are not."""
    if isinstance(value, float):
        return is_number(value) and value % 1 == 0
    return is_number(value)


_TYPE_CHECKS = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": is_integer,
    "number": is_number,
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}

_TYPE_WORDS = {
    "object": N_("an object {...}"),
    "array": N_("a list [...]"),
    "string": N_("text in double quotes"),
    "integer": N_("a whole number"),
    "number": N_("a number"),
    "boolean": N_("true or false"),
    "null": "null",
}


def _type_words(names):
    """The words for a list of JSON types, joined by "or"."""
    if len(names) == 1:
        return _TYPE_WORDS[names[0]]
    return Joined(N_(" or ").template, [_TYPE_WORDS[name] for name in names])


def _json_equal(a, b):
    """Equality as JSON Schema means it: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
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


def show(value):
    """A short JSON-like rendering of a value for messages (a list or an object as a Text: words, not JSON)."""
    if isinstance(value, str):
        if len(value) > 40:
            return quote(value[:37]) + "..."
        return quote(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return N_("a list")
    if isinstance(value, dict):
        return N_("an object")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "%s (not allowed in JSON)" % value
    if isinstance(value, float) and value != 0 and abs(value) < MIN_NORMAL_FLOAT:
        return "%.6g" % value  # MicroPython's repr of a subnormal float differs from CPython's
    return "%s" % value


def _found(value):
    if isinstance(value, str):
        return N_("text %(value)s", value=show(value))
    if isinstance(value, bool):
        return show(value)
    if isinstance(value, list):
        return N_("a list")
    if isinstance(value, dict):
        return N_("an object")
    if value is None:
        return "null"
    return show(value)


def _copy(value):
    if isinstance(value, dict):
        return dict([(key, _copy(value[key])) for key in value])
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _range_words(schema):
    low = schema.get("minimum")
    high = schema.get("maximum")
    above = schema.get("exclusiveMinimum")
    if above is not None and high is not None:
        return N_("above %(low)s and at most %(high)s", low=show(above), high=show(high))
    if low is not None and high is not None:
        return N_("from %(low)s to %(high)s", low=show(low), high=show(high))
    if low is not None:
        return N_("of at least %(low)s", low=show(low))
    if high is not None:
        return N_("of at most %(high)s", high=show(high))
    return None


def _type_ok(schema, value):
    kind = schema.get("type")
    if kind is None:
        return True
    for name in (kind if isinstance(kind, list) else [kind]):
        if _TYPE_CHECKS[name](value):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# The interpreter: walks a document against a schema and appends a Problem per failed keyword.

class Interpreter:
    """Enforces schemas that use only KEYWORDS and ANNOTATIONS (check_supported() says when one does not).

    patterns: {pattern: (matches(text) -> bool, words for an installer, example)}, one hand-written checker
    per pattern the schemas use. discriminators: the key (e.g. "kind"), or a tuple of keys, whose const picks a
    oneOf branch; a oneOf's is the first of them that every branch requires with a const.
    """

    def __init__(self, patterns, discriminators):
        self.patterns = patterns
        self.discriminators = (discriminators,) if isinstance(discriminators, str) else tuple(discriminators)

    def _discriminator(self, schema):
        """The key whose const picks one of schema's oneOf branches, or None when no key of discriminators does."""
        for key in self.discriminators:
            found = True
            for branch in schema["oneOf"]:
                if key not in branch.get("required", []) or "const" not in branch.get("properties", {}).get(key, {}):
                    found = False
            if found:
                return key
        return None

    def _kinds(self, schema, key):
        return [branch["properties"][key]["const"] for branch in schema["oneOf"]]

    def check_supported(self, schema, path=ROOT):
        """Raise ValueError if `schema` uses a keyword, pattern or oneOf form this interpreter cannot enforce."""
        if not isinstance(schema, dict):
            raise ValueError("schema at %s is not an object" % path)
        for keyword in sorted(schema):
            if keyword not in KEYWORDS and keyword not in ANNOTATIONS:
                raise ValueError("schema at %s uses keyword %s, which json_schema_subset.py does not implement"
                                 % (path, keyword))
        types = schema.get("type", [])
        for name in (types if isinstance(types, list) else [types]):
            if name not in _TYPE_CHECKS:
                raise ValueError("schema at %s uses unknown type %s" % (path, name))
        if "pattern" in schema and schema["pattern"] not in self.patterns:
            raise ValueError("schema at %s uses pattern %s, which has no checker in the interpreter's patterns"
                             % (path, schema["pattern"]))
        properties = schema.get("properties", {})
        for key in sorted(properties):
            self.check_supported(properties[key], child_path(path, key))
        for keyword in ("additionalProperties", "propertyNames", "items", "if", "then", "else"):
            sub = schema.get(keyword)
            if isinstance(sub, dict):
                self.check_supported(sub, "%s/%s" % (path, keyword))
            elif sub is not None and not (keyword == "additionalProperties" and isinstance(sub, bool)):
                raise ValueError("schema at %s: %s must be a schema" % (path, keyword))
        if ("then" in schema or "else" in schema) and "if" not in schema:
            raise ValueError("schema at %s: then and else need an if" % path)
        if "oneOf" in schema:
            key = self._discriminator(schema)
            kinds = {}
            for i, branch in enumerate(schema["oneOf"]):
                where = "%s/oneOf[%d]" % (path, i)
                self.check_supported(branch, where)
                const = branch.get("properties", {}).get(key, {}).get("const")
                if key is None or not isinstance(const, str) or const in kinds:
                    raise ValueError("schema at %s: every oneOf branch needs a required, distinct const of one of %s"
                                     % (where, list_of(self.discriminators)))
                kinds[const] = branch

    def describe(self, schema):
        """What a value matching `schema` looks like, in English words for an installer."""
        return english(self.describe_text(schema))

    def describe_text(self, schema):
        """describe() as a text.Text (or a plain str for a JSON value), to be read in another language too."""
        if "const" in schema:
            return show(schema["const"])
        if "enum" in schema:
            return N_("one of %(values)s", values=list_of(schema["enum"]))
        if "pattern" in schema:
            return self.patterns[schema["pattern"]][1]
        if "oneOf" in schema:
            key = self._discriminator(schema)
            return N_("an object with %(key)s one of %(values)s", key=quote(key),
                      values=list_of(self._kinds(schema, key)))
        kind = schema.get("type")
        if isinstance(kind, list):
            return _type_words(kind)
        if kind in ("integer", "number"):
            bounds = _range_words(schema)
            if bounds is None:
                return _TYPE_WORDS[kind]
            if kind == "integer":
                return N_("a whole number %(range)s", range=bounds)
            return N_("a number %(range)s", range=bounds)
        if kind == "string":
            low = schema.get("minLength", 0)
            high = schema.get("maxLength")
            if high is not None:
                return N_("text of %(low)d to %(high)d characters in double quotes", low=low, high=high)
            return _TYPE_WORDS["string"] if not low else N_("non-empty text in double quotes")
        if kind == "object":
            required = schema.get("required", [])
            entry = schema.get("additionalProperties")
            if required:
                return N_("an object with %(keys)s", keys=list_of(required))
            if isinstance(entry, dict):
                return N_("an object of named entries, each %(entry)s", entry=self.describe_text(entry))
            return _TYPE_WORDS["object"]
        if kind == "array":
            return _TYPE_WORDS["array"]
        if kind == "boolean":
            return _TYPE_WORDS["boolean"]
        return N_("a value")

    def _example(self, schema):
        if "default" in schema:
            return schema["default"]
        if "enum" in schema:
            return schema["enum"][0]
        if "pattern" in schema:
            return self.patterns[schema["pattern"]][2]
        if "minimum" in schema:
            return schema["minimum"]
        return None

    def _check_type(self, schema, value, path, out):
        if _type_ok(schema, value):
            return True
        kind = schema["type"]
        names = kind if isinstance(kind, list) else [kind]
        what = self.describe_text(schema)
        example = self._example(schema)
        unquoted = isinstance(value, str) and "string" not in names
        if example is not None and not isinstance(example, (dict, list)):
            if unquoted:
                hint = N_("write %(what)s, e.g. %(example)s (without quotes)", what=what, example=show(example))
            else:
                hint = N_("write %(what)s, e.g. %(example)s", what=what, example=show(example))
        elif unquoted:
            hint = N_("write %(what)s (without quotes)", what=what)
        else:
            hint = N_("write %(what)s", what=what)
        out.append(Problem(path, N_("expected %(expected)s, found %(found)s", expected=_type_words(names),
                                    found=_found(value)), hint))
        return False

    def _check_number(self, schema, value, path, out):
        hint = N_("write %(what)s", what=self.describe_text(schema))
        if "minimum" in schema and value < schema["minimum"]:
            out.append(Problem(path, N_("%(value)s is below the minimum %(limit)s", value=show(value),
                                        limit=show(schema["minimum"])), hint))
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append(Problem(path, N_("%(value)s must be above %(limit)s", value=show(value),
                                        limit=show(schema["exclusiveMinimum"])), hint))
        if "maximum" in schema and value > schema["maximum"]:
            out.append(Problem(path, N_("%(value)s is above the maximum %(limit)s", value=show(value),
                                        limit=show(schema["maximum"])), hint))
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            out.append(Problem(path, N_("%(value)s must be below %(limit)s", value=show(value),
                                        limit=show(schema["exclusiveMaximum"])), hint))

    def _check_string(self, schema, value, path, out):
        length = len(value)
        if "minLength" in schema and length < schema["minLength"]:
            if length == 0:
                message = N_("must not be empty")
            else:
                message = N_("too short: %(length)d characters, at least %(limit)d", length=length,
                             limit=schema["minLength"])
            out.append(Problem(path, message, N_("write %(what)s", what=self.describe_text(schema))))
        if "maxLength" in schema and length > schema["maxLength"]:
            out.append(Problem(path, N_("too long: %(length)d characters, at most %(limit)d", length=length,
                                        limit=schema["maxLength"]),
                               N_("shorten it to at most %(limit)d characters", limit=schema["maxLength"])))
        if "pattern" in schema:
            matches, words, example = self.patterns[schema["pattern"]]
            if not matches(value):
                out.append(Problem(path, N_("%(value)s is not %(what)s", value=show(value), what=words),
                                   N_("write %(what)s, e.g. %(example)s", what=words, example=example)))

    def _check_object(self, schema, value, path, out):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                sub = properties.get(key, {})
                out.append(Problem(child_path(path, key), N_("missing; it is required"),
                                   N_("add %(key)s: %(what)s", key=quote(key), what=self.describe_text(sub))))
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            least = schema["minProperties"]
            needs = N_("needs at least %(n)d entry", n=least) if least == 1 else N_(
                "needs at least %(n)d entries", n=least)
            out.append(Problem(path, needs, N_("add %(what)s", what=self.describe_text(
                schema.get("additionalProperties", {})))))
        names = schema.get("propertyNames")
        extra = schema.get("additionalProperties", True)
        for key in sorted(value):
            path_of_key = child_path(path, key)
            if names is not None:
                name_problems = []
                self._check(names, key, path_of_key, name_problems)
                if name_problems:
                    out.append(Problem(path_of_key, N_("the name %(name)s is not allowed", name=quote(key)),
                                       name_problems[0].hint_text))
            if key in properties:
                self._check(properties[key], value[key], path_of_key, out)
            elif extra is False:
                allowed = sorted(properties)
                out.append(Problem(path_of_key, N_("unknown key %(key)s", key=quote(key)),
                                   did_you_mean(key, allowed, N_("allowed keys here: %(keys)s",
                                                                 keys=list_of(allowed)))))
            elif isinstance(extra, dict):
                self._check(extra, value[key], path_of_key, out)

    def _check_array(self, schema, value, path, out):
        if "minItems" in schema and len(value) < schema["minItems"]:
            least = schema["minItems"]
            needs = N_("needs at least %(n)d item", n=least) if least == 1 else N_(
                "needs at least %(n)d items", n=least)
            out.append(Problem(path, needs, N_("add %(what)s", what=self.describe_text(schema.get("items", {})))))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(Problem(path, N_("has %(n)d items, at most %(limit)d", n=len(value), limit=schema["maxItems"]),
                               N_("remove %(n)d item(s)", n=len(value) - schema["maxItems"])))
        if schema.get("uniqueItems"):
            for i in range(len(value)):
                for j in range(i):
                    if _json_equal(value[i], value[j]):
                        out.append(Problem(child_path(path, i), N_("%(value)s is listed twice", value=show(value[i])),
                                           N_("remove the repeated entry")))
                        break
        if "items" in schema:
            for i in range(len(value)):
                self._check(schema["items"], value[i], child_path(path, i), out)

    def _branch(self, schema, value):
        """The oneOf branch whose discriminator const matches value's, or None."""
        key = self._discriminator(schema)
        kind = value.get(key)
        for branch in schema["oneOf"]:
            if isinstance(kind, str) and branch["properties"][key]["const"] == kind:
                return branch
        return None

    def _check_one_of(self, schema, value, path, out):
        key = self._discriminator(schema)
        kinds = self._kinds(schema, key)
        kind_path = child_path(path, key)
        if not isinstance(value, dict):
            out.append(Problem(path, N_("expected an object, found %(found)s", found=_found(value)),
                               N_("write an object with %(key)s one of %(values)s", key=quote(key),
                                  values=list_of(kinds))))
            return
        if key not in value:
            out.append(Problem(kind_path, N_("missing; it is required"),
                               N_("add %(key)s: one of %(values)s", key=quote(key), values=list_of(kinds))))
            return
        branch = self._branch(schema, value)
        if branch is None:
            kind = value[key]
            fallback = N_("write one of %(values)s", values=list_of(kinds))
            hint = did_you_mean(kind, kinds, fallback) if isinstance(kind, str) else fallback
            out.append(Problem(kind_path, N_("%(value)s is not a known kind", value=show(kind)), hint))
            return
        self._check(branch, value, path, out)

    def _check(self, schema, value, path, out):
        """Append to `out` a Problem for each way `value` fails `schema`."""
        if not self._check_type(schema, value, path, out):
            return
        if "const" in schema and not _json_equal(value, schema["const"]):
            out.append(Problem(path, N_("must be %(value)s, found %(found)s", value=show(schema["const"]),
                                        found=_found(value)),
                               N_("write %(what)s", what=show(schema["const"]))))
        if "enum" in schema:
            allowed = schema["enum"]
            if not [choice for choice in allowed if _json_equal(value, choice)]:
                fallback = N_("write one of %(values)s", values=list_of(allowed))
                words = [choice for choice in allowed if isinstance(choice, str)]
                hint = did_you_mean(value, words, fallback) if isinstance(value, str) and words else fallback
                out.append(Problem(path, N_("%(value)s is not allowed here", value=show(value)), hint))
        if is_number(value):
            self._check_number(schema, value, path, out)
        elif isinstance(value, str):
            self._check_string(schema, value, path, out)
        elif isinstance(value, dict):
            self._check_object(schema, value, path, out)
        elif isinstance(value, list):
            self._check_array(schema, value, path, out)
        if "oneOf" in schema:
            self._check_one_of(schema, value, path, out)
        if "if" in schema:
            self._check_if(schema, value, path, out)

    def _check_if(self, schema, value, path, out):
        """then applies where value passes if, else where it fails it (each only if the schema has it)."""
        failed = []
        self._check(schema["if"], value, path, failed)
        branch = schema.get("else") if failed else schema.get("then")
        if branch is not None:
            self._check(branch, value, path, out)

    def problems(self, schema, doc):
        """Every Problem of `doc` against `schema`, with paths from ROOT; empty when it conforms."""
        out = []
        self._check(schema, doc, ROOT, out)
        return out

    def with_defaults(self, schema, value):
        """A copy of `value` with every missing default filled in, integers as int; as is where it fails its type."""
        filled = self._with_defaults(schema, value)
        if "if" in schema and _type_ok(schema, value):
            failed = []
            self._check(schema["if"], value, ROOT, failed)
            branch = schema.get("else") if failed else schema.get("then")
            if branch is not None:
                return self.with_defaults(branch, filled)
        return filled

    def _with_defaults(self, schema, value):
        if not _type_ok(schema, value):
            return _copy(value)
        kind = schema.get("type")
        names = kind if isinstance(kind, list) else [kind]
        if "integer" in names and "number" not in names and isinstance(value, float):
            return int(value)
        if isinstance(value, dict):
            if "oneOf" in schema:
                branch = self._branch(schema, value)
                return self.with_defaults(branch, value) if branch is not None else _copy(value)
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            out = {}
            for key in value:
                if key in properties:
                    out[key] = self.with_defaults(properties[key], value[key])
                elif isinstance(extra, dict):
                    out[key] = self.with_defaults(extra, value[key])
                else:
                    out[key] = _copy(value[key])
            for key in properties:
                if key not in out and "default" in properties[key]:
                    out[key] = self.with_defaults(properties[key], _copy(properties[key]["default"]))
            return out
        if isinstance(value, list) and "items" in schema:
            return [self.with_defaults(schema["items"], item) for item in value]
        return _copy(value)
