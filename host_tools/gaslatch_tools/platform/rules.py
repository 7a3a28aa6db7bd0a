"""Warning rules (预警规则) as data: which events open a warning of which grade, per which cause, when it clears,
and whom to tell when (re-notification, escalation tiers, quiet hours).

Pure: fed occurrences (an event, or what the platform itself observed) and the time, it decides; the rules file
(deploy/platform/warning-rules.yaml, checked against SCHEMA, published as docs/schemas/warning-rules.schema.json)
says everything that varies. warning_store.py applies the decisions to the database.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import zoneinfo
from dataclasses import dataclass
from typing import Callable, NamedTuple

from gaslatch.core import events as E
from gaslatch.told import Told
from gaslatch.translation import N_
from gaslatch_tools import data_file

# What the platform observes itself, beside the units' event types (docs/events.md).
PLATFORM_TYPES = (
    # The unit's retained status: online or offline (offline: its Last Will or a clean stop); and what the liveness
    # check (liveness.py) observes itself: silent (nothing heard beyond the heartbeat limit) and back (heard again).
    "status",
    "lost",  # an uplink gap that cannot be filled: the unit reported the seqs gone (source: the store key)
    # A work order's due date, as the overdue check (overdue.py) observes it: overdue (passed while the site check,
    # the decision after it or the rectification waits), due (still to come) or done (none runs); source: the order.
    "work_order",
)
OCCURRENCE_TYPES = tuple(E.EVENT_TYPES) + PLATFORM_TYPES
CAUSE_FIELDS = ("site", "unit", "type", "source")
ROLES = ("owner", "officer", "duty_centre", "administrator")
GRADES = (1, 2, 3)
# The heartbeat (liveness.py) when the file does not set it. The unit republishes its retained state at least every
# uplink.state_s (300 s by default, gaslatch.core.config_schema): silent after three periods without a state report
# or an event; back once online, reporting, and not dropped again for one period.
SILENT_AFTER_MIN = 15
SILENT_AFTER_MS = SILENT_AFTER_MIN * 60000
BACK_AFTER_MIN = 5
MAX_CAUSE_TEXT = 200  # the cause as shown in lists; the key itself is a digest of the whole cause

_TEXT = {"type": "string", "minLength": 1, "maxLength": 500}
_TEXTS = {"type": "object", "additionalProperties": False, "required": ["zh", "en"],
          "properties": {"zh": _TEXT, "en": _TEXT}}
_ONE_OR_MORE = {"oneOf": [{"type": "string", "minLength": 1},
                          {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}]}
_HH_MM = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gaslatch platform warning rules",
    "description": "Which events open a warning (预警) of which grade, per cause; when it clears; whom to notify "
                   "when. docs/platform.md#warnings explains each field.",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "timezone", "grades", "rules"],
    "properties": {
        "version": {"const": 1},
        "timezone": {"type": "string", "minLength": 1,
                     "description": "IANA time zone of the quiet hours, e.g. Asia/Shanghai."},
        "quiet_hours": {"type": "object", "additionalProperties": False, "required": ["from", "to"],
                        "properties": {"from": _HH_MM, "to": _HH_MM},
                        "description": "Local hours in which grades with quiet_hours: true wait (never grade 1)."},
        "grades": {
            "type": "object", "additionalProperties": False, "required": ["1", "2", "3"],
            "properties": {str(g): {"$ref": "#/$defs/grade%s" % ("1" if g == 1 else "")} for g in GRADES}},
        "heartbeat": {
            "type": "object", "additionalProperties": False,
            "description": "When a unit that is not offline counts as silent, and as back (docs/platform.md#unit-offline).",
            "properties": {
                "silent_after_min": {"type": "number", "exclusiveMinimum": 0, "default": SILENT_AFTER_MIN,
                                     "description": "No state report and no event from a unit for this long: it is "
                                                    "silent (at least 3 x the units' uplink.state_s)."},
                "back_after_min": {"type": "number", "minimum": 0, "default": BACK_AFTER_MIN,
                                   "description": "A unit is back when online, reporting since, and not dropped for "
                                                  "this long: a flapping unit keeps one warning."}}},
        "rules": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/rule"}},
    },
    "$defs": {
        "grade": {
            "type": "object", "additionalProperties": False, "required": ["renotify_every_min", "escalate"],
            "properties": {
                "renotify_every_min": {"type": "number", "minimum": 0,
                                       "description": "Tell the tiers reached again this often until "
                                                      "acknowledged or cleared; 0: never."},
                "quiet_hours": {"type": "boolean", "description": "Wait out the file's quiet hours."},
                "escalate": {
                    "type": "array", "minItems": 1,
                    "prefixItems": [{"type": "object", "properties": {"after_min": {"const": 0}}}],
                    "items": {"type": "object", "additionalProperties": False, "required": ["after_min", "notify"],
                              "properties": {
                                  "after_min": {"type": "number", "minimum": 0},
                                  "notify": {"type": "array", "minItems": 1, "uniqueItems": True,
                                             "items": {"enum": list(ROLES)}}}},
                    "description": "Tiers: the first at once (after_min 0), each next one when the warning is "
                                   "still not acknowledged after_min minutes after it opened."},
            }},
        "grade1": {"allOf": [{"$ref": "#/$defs/grade"}],
                   "properties": {"quiet_hours": {"const": False,
                                                  "description": "Grade 1 never waits for quiet hours."}}},
        "match": {
            "type": "object", "additionalProperties": False, "required": ["type"],
            "properties": {"type": {"enum": list(OCCURRENCE_TYPES)}, "state": _ONE_OR_MORE, "source": _ONE_OR_MORE,
                           "min_value": {"type": "integer",
                                         "description": "Only when the event's value is an integer at least this."}}},
        "rule": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "grade", "title", "match", "cause", "clear", "advice"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
                "grade": {"enum": list(GRADES)},
                "title": _TEXTS,
                "advice": _TEXTS,
                "match": {"$ref": "#/$defs/match"},
                "while": {"allOf": [{"$ref": "#/$defs/match"}],
                          "description": "Only while the unit's latest earlier event of this type (and source) is "
                                         "in this state."},
                "cause": {"type": "array", "minItems": 2, "uniqueItems": True, "items": {"enum": list(CAUSE_FIELDS)},
                          "prefixItems": [{"const": "site"}, {"const": "unit"}]},
                "clear": {"oneOf": [
                    {"const": "acknowledged"},
                    {"type": "object", "additionalProperties": False, "required": ["on"],
                     "properties": {"on": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/match"}}}}]},
                "open_after_min": {"type": "number", "minimum": 0,
                                   "description": "Notify only when the cause lasts this long."},
            }},
    },
}


class RulesError(Told, ValueError):
    """A rules file that cannot be used: the file, and the path in it of each problem (str() the English, told()
    the reader's language)."""


class Occurrence(NamedTuple):
    """What the rules look at: a stored event, or something the platform observed (PLATFORM_TYPES).

    value: the decoded value (int, text or None); store and seq order a unit's occurrences (None for the
    platform's own); at_ms: when it reached the platform (ms since the epoch)."""

    site: str
    unit: str
    type: str
    severity: str
    source: str
    state: str
    value: object
    reason: str
    event_id: str
    store: str | None
    seq: int | None
    at_ms: int


def _set(value) -> frozenset | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


@dataclass(frozen=True)
class Match:
    type: str
    states: frozenset | None = None
    sources: frozenset | None = None
    min_value: int | None = None

    @classmethod
    def of(cls, doc: dict) -> "Match":
        return cls(doc["type"], _set(doc.get("state")), _set(doc.get("source")), doc.get("min_value"))

    def matches(self, occ: Occurrence) -> bool:
        if occ.type != self.type:
            return False
        if self.states is not None and occ.state not in self.states:
            return False
        if self.sources is not None and occ.source not in self.sources:
            return False
        if self.min_value is not None:
            value = occ.value
            if not isinstance(value, int) or isinstance(value, bool) or value < self.min_value:
                return False
        return True


@dataclass(frozen=True)
class Rule:
    name: str
    grade: int
    title: dict
    advice: dict
    match: Match
    cause: tuple[str, ...]
    clear_on: tuple[Match, ...]  # empty: stays open until acknowledged
    open_after_min: float = 0.0
    while_: Match | None = None

    @property
    def until_acknowledged(self) -> bool:
        return not self.clear_on

    def cause_of(self, occ: Occurrence) -> tuple[str, str]:
        """(key, text): the key a digest of the rule and the cause fields' values (one open warning per key),
        the text what lists show (the cause fields beyond site and unit, or the rule's name)."""
        values = [getattr(occ, name) for name in self.cause]
        digest = hashlib.sha256(json.dumps([self.name] + values).encode("utf-8")).hexdigest()
        shown = " ".join(str(v) for v in values[2:]) or self.name
        return digest, E.safe_text(shown, MAX_CAUSE_TEXT)


@dataclass(frozen=True)
class Tier:
    after_min: float
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """Whom to tell when, for one grade."""

    grade: int
    renotify_every_min: float
    tiers: tuple[Tier, ...]
    quiet: bool


@dataclass(frozen=True)
class QuietHours:
    start_min: int  # local minutes after midnight
    end_min: int
    tz: datetime.tzinfo

    def _local_min(self, at_ms: int) -> int:
        t = datetime.datetime.fromtimestamp(at_ms / 1000, self.tz)
        return t.hour * 60 + t.minute

    def contains(self, at_ms: int) -> bool:
        m = self._local_min(at_ms)
        if self.start_min <= self.end_min:
            return self.start_min <= m < self.end_min
        return m >= self.start_min or m < self.end_min  # over midnight

    def end_after(self, at_ms: int) -> int:
        """The first ms after at_ms (inside the quiet hours) at which they are over."""
        t = datetime.datetime.fromtimestamp(at_ms / 1000, self.tz)
        end = t.replace(hour=self.end_min // 60, minute=self.end_min % 60, second=0, microsecond=0)
        if end <= t:
            end += datetime.timedelta(days=1)
        return int(end.timestamp() * 1000)


class Decision(NamedTuple):
    """open: open the rule's warning for the cause, or update it when open; clear: clear the cause's open one."""

    kind: str  # "open" or "clear"
    rule: Rule
    cause_key: str
    cause_text: str


class Plan(NamedTuple):
    """What to do for one warning now: notify these tiers (a round), then look again at due_ms (None: never)."""

    tiers: tuple[int, ...]
    tier: int  # the highest tier reached after this
    last_round_ms: int | None
    due_ms: int | None


# The unit's latest earlier occurrence of a type (and source) before a seq: (site, unit, type, sources, seq) -> state.
Context = Callable[[str, str, str, frozenset | None, int | None], str | None]


class Rules:
    """The checked rules file: decide() per occurrence, plan() per warning and moment."""

    def __init__(self, rules: tuple[Rule, ...], policies: dict[int, Policy], quiet: QuietHours | None,
                 source: str = "rules", tz: datetime.tzinfo = datetime.timezone.utc,
                 silent_after_min: float = SILENT_AFTER_MIN, back_after_min: float = BACK_AFTER_MIN):
        self.rules = rules
        self.by_name = {r.name: r for r in rules}
        self.policies = policies
        self.quiet = quiet
        self.source = source
        self.tz = tz  # the file's timezone: local times in notices and summaries
        self.silent_after_ms = int(silent_after_min * 60000)
        self.back_after_ms = int(back_after_min * 60000)

    def rules_for(self, type_: str) -> tuple[str, ...]:
        """The names of the rules an occurrence of this type opens or clears: a platform check (the liveness of
        the units, the orders' due dates) looks only at their warnings."""
        return tuple(r.name for r in self.rules if type_ in [m.type for m in (r.match,) + r.clear_on])

    def decide(self, occ: Occurrence, context: Context | None = None) -> list[Decision]:
        """Every rule's decision on one occurrence: clears first (an event may end one cause and start another)."""
        clears, opens = [], []
        for rule in self.rules:
            if any(m.matches(occ) for m in rule.clear_on):
                clears.append(Decision("clear", rule, *rule.cause_of(occ)))
            if rule.match.matches(occ):
                w = rule.while_
                if w is not None and (context is None or
                                      context(occ.site, occ.unit, w.type, w.sources, occ.seq) not in (w.states or ())):
                    continue
                opens.append(Decision("open", rule, *rule.cause_of(occ)))
        return clears + opens

    def policy(self, grade: int) -> Policy:
        return self.policies[grade]

    def plan(self, grade: int, notify_from_ms: int, tier: int, last_round_ms: int | None, now_ms: int) -> Plan:
        """The notices due now for a warning still waiting for an acknowledgement, and when to look again.

        A first round tells every tier reached (the first; more when the warning waited, e.g. for quiet hours);
        a tier reached later is told at once (escalation); every renotify_every_min all tiers reached are told
        again. Quiet hours hold every round of a grade that keeps them, never of grade 1."""
        policy = self.policies[grade]
        if policy.quiet and grade != 1 and self.quiet is not None and self.quiet.contains(now_ms):
            return Plan((), tier, last_round_ms, self.quiet.end_after(now_ms))
        elapsed_min = (now_ms - notify_from_ms) / 60000.0
        reached = max(i for i, t in enumerate(policy.tiers) if t.after_min <= elapsed_min or i == 0)
        renotify_ms = int(policy.renotify_every_min * 60000)
        tiers: tuple[int, ...] = ()
        if tier < 0:
            tiers, tier, last_round_ms = tuple(range(reached + 1)), reached, now_ms
        elif reached > tier:
            tiers, tier = tuple(range(tier + 1, reached + 1)), reached
        elif renotify_ms and last_round_ms is not None and now_ms >= last_round_ms + renotify_ms:
            tiers, last_round_ms = tuple(range(tier + 1)), now_ms
        due = []
        if renotify_ms and last_round_ms is not None:
            due.append(last_round_ms + renotify_ms)
        if tier + 1 < len(policy.tiers):
            due.append(notify_from_ms + int(policy.tiers[tier + 1].after_min * 60000))
        return Plan(tiers, tier, last_round_ms, min(due) if due else None)


def _hh_mm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def build(doc: object, source: str = "rules") -> Rules:
    """The rules from a parsed document; RulesError naming source and the path of each problem."""
    problems = data_file.schema_problem_texts(SCHEMA, doc)
    if problems:
        raise RulesError(data_file.FILE_PROBLEMS, source=source, problems=problems)
    names = [r["name"] for r in doc["rules"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RulesError(N_("%(source)s: $.rules: the rule name %(names)s is used twice"), source=source,
                         names=", ".join(twice))
    try:
        tz = zoneinfo.ZoneInfo(doc["timezone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RulesError(N_("%(source)s: $.timezone: no time zone %(zone)s (an IANA name such as Asia/Shanghai)"),
                         source=source, zone=repr(doc["timezone"])) from None
    quiet = None
    if "quiet_hours" in doc:
        quiet = QuietHours(_hh_mm(doc["quiet_hours"]["from"]), _hh_mm(doc["quiet_hours"]["to"]), tz)
    policies = {}
    for grade in GRADES:
        g = doc["grades"][str(grade)]
        after = [t["after_min"] for t in g["escalate"]]
        if after != sorted(after):
            raise RulesError(N_("%(source)s: $.grades.%(grade)d.escalate: the tiers' after_min must rise"),
                             source=source, grade=grade)
        if g.get("quiet_hours") and quiet is None:
            raise RulesError(N_("%(source)s: $.grades.%(grade)d.quiet_hours: true, but the file sets no quiet_hours"),
                             source=source, grade=grade)
        policies[grade] = Policy(grade, float(g["renotify_every_min"]),
                                 tuple(Tier(float(t["after_min"]), tuple(t["notify"])) for t in g["escalate"]),
                                 bool(g.get("quiet_hours", False)))
    rules = []
    for r in doc["rules"]:
        clear = r["clear"]
        rules.append(Rule(r["name"], r["grade"], dict(r["title"]), dict(r["advice"]), Match.of(r["match"]),
                          tuple(r["cause"]), () if clear == "acknowledged" else tuple(Match.of(m) for m in clear["on"]),
                          float(r.get("open_after_min", 0)), Match.of(r["while"]) if "while" in r else None))
    heartbeat = doc.get("heartbeat", {})
    return Rules(tuple(rules), policies, quiet, source, tz, heartbeat.get("silent_after_min", SILENT_AFTER_MIN),
                 heartbeat.get("back_after_min", BACK_AFTER_MIN))


def load(path: str) -> Rules:
    """The rules file at path (YAML or JSON), checked; RulesError naming the file and what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = data_file.parse(f.read(), json_only=path.endswith(".json"))
    except (OSError, *data_file.PARSE_ERRORS) as err:  # a YAML error names the line and column
        raise RulesError(N_("%(path)s: cannot read the rules: %(error)s"), path=path, error=err) from None
    return build(doc, path)


def silent_after_ms(rules: "Rules | None") -> int:
    """When a unit counts as silent: the rules file's heartbeat, or the default without a rules file."""
    return rules.silent_after_ms if rules is not None else SILENT_AFTER_MS
