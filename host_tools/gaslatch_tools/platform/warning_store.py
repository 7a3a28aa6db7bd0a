"""Warnings and their notices in the platform's database (SQLite or PostgreSQL, the same SQL).

WarningHook opens, updates and clears warnings inside the receiver's batch transaction, so a warning is
committed with the event that caused it; the notifier's steps (plan the rounds that are due, claim due notices
under a lease, record each attempt) and the acknowledgement are each one short transaction here.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Iterable, NamedTuple

from gaslatch.core import events as E
from gaslatch.translation import N_
from gaslatch_tools.platform import audit, words
from gaslatch_tools.platform import liveness as L
from gaslatch_tools.platform.contacts import Contacts
from gaslatch_tools.platform.rules import Decision, Occurrence, Rules
from gaslatch_tools.platform.storage import Batch, Executor, SqlStorage, store_key
from gaslatch.told import Told

log = logging.getLogger("gaslatch.platform.warnings")

# Each storage's dialect spells AUTO_ID (SQLite: INTEGER PRIMARY KEY; PostgreSQL: an identity column) and keeps
# or drops FOR UPDATE SKIP LOCKED (SQLite has one writer at a time: its write transaction is the lock).
WARNING_SCHEMA_SQL = (
    """CREATE TABLE IF NOT EXISTS warnings (
        id AUTO_ID, site TEXT NOT NULL, unit TEXT NOT NULL, rule TEXT NOT NULL, grade INTEGER NOT NULL,
        cause_key TEXT NOT NULL, cause TEXT NOT NULL, state TEXT NOT NULL, opened_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL, count INTEGER NOT NULL, first_event TEXT NOT NULL, last_event TEXT NOT NULL,
        last_store TEXT, last_seq BIGINT, summary TEXT NOT NULL, notify_from_ms BIGINT NOT NULL, due_ms BIGINT,
        tier INTEGER NOT NULL, rounds INTEGER NOT NULL, last_round_ms BIGINT, cleared_ms BIGINT, cleared_by TEXT,
        acked_ms BIGINT, acked_by TEXT, ack_note TEXT, clear_on_ack INTEGER NOT NULL)""",
    # One warning per cause while it lasts: receivers committing at once cannot open two.
    "CREATE UNIQUE INDEX IF NOT EXISTS warnings_active ON warnings (cause_key) WHERE state <> 'cleared'",
    "CREATE INDEX IF NOT EXISTS warnings_due ON warnings (due_ms)",
    """CREATE TABLE IF NOT EXISTS notices (
        id AUTO_ID, warning_id BIGINT NOT NULL, round INTEGER NOT NULL, tier INTEGER NOT NULL,
        person TEXT NOT NULL, channel TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
        created_ms BIGINT NOT NULL, next_try_ms BIGINT NOT NULL, claimed_by TEXT, lease_until_ms BIGINT,
        sent_ms BIGINT, last_error TEXT, UNIQUE (warning_id, round, person, channel))""",
    "CREATE INDEX IF NOT EXISTS notices_due ON notices (state, next_try_ms)",
    """CREATE TABLE IF NOT EXISTS notice_attempts (
        notice_id BIGINT NOT NULL, attempt INTEGER NOT NULL, at_ms BIGINT NOT NULL, instance TEXT NOT NULL,
        person TEXT NOT NULL, channel TEXT NOT NULL, result TEXT NOT NULL, error TEXT NOT NULL,
        duration_ms INTEGER NOT NULL)""",
) + L.LIVENESS_SCHEMA_SQL
WARNING_SCHEMA_OBJECTS = ("warnings", "warnings_active", "warnings_due", "notices", "notices_due",
                          "notice_attempts") + L.LIVENESS_SCHEMA_OBJECTS

ACTIVE = ("pending", "open", "acknowledged")  # a warning's states before it is cleared
MAX_SUMMARY_CHARS = 300
RETRY_FIRST_S = 5.0  # a notice whose channel failed is tried again after this, doubling...
RETRY_MAX_S = 300.0  # ...up to this, until it is sent or its warning is acknowledged

Execute = Callable[..., Any]

_FIND_ACTIVE_SQL = "SELECT id, last_store, last_seq FROM warnings WHERE cause_key = ? AND state <> 'cleared'"
_ACTIVE_CAUSES_SQL = """WITH k(cause_key) AS ({rows})
    SELECT w.cause_key FROM k JOIN warnings w ON w.cause_key = k.cause_key AND w.state <> 'cleared'"""
_CLEAR_SQL = """UPDATE warnings SET state = 'cleared', cleared_ms = ?, cleared_by = ?, updated_ms = ?, due_ms = NULL
    WHERE id = ?"""
_INSERT_WARNING_SQL = """
    INSERT INTO warnings (site, unit, rule, grade, cause_key, cause, state, opened_ms, updated_ms, count, first_event,
                          last_event, last_store, last_seq, summary, notify_from_ms, due_ms, tier, rounds, clear_on_ack)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, -1, 0, ?)
    ON CONFLICT (cause_key) WHERE state <> 'cleared' DO"""
# An occurrence while its cause's warning is open counts into it; a platform check (the liveness of the units, the
# orders' due dates), which sees the same silence or the same overdue order every few seconds, only opens one when
# none is.
_OPEN_IF_ABSENT_SQL = _INSERT_WARNING_SQL + " NOTHING"
_OPEN_SQL = _INSERT_WARNING_SQL + """ UPDATE SET
        count = warnings.count + 1, updated_ms = excluded.updated_ms, last_event = excluded.last_event,
        summary = excluded.summary, last_store = excluded.last_store,
        last_seq = CASE WHEN warnings.last_store = excluded.last_store AND warnings.last_seq > excluded.last_seq
                        THEN warnings.last_seq ELSE excluded.last_seq END"""
# A platform check clears a warning only as it read it: one a receiver counted an offline into meanwhile stays.
_CLEAR_AS_READ_SQL = _CLEAR_SQL + " AND state <> 'cleared' AND count = ?"
_ACTIVE_OF_RULES_SQL = """SELECT cause_key, id, count, opened_ms, updated_ms FROM warnings
    WHERE state <> 'cleared' AND rule IN ({names})"""
_CONTEXT_SQL = """SELECT state FROM events WHERE site = ? AND unit = ? AND type = ? AND seq < ? {sources}
    ORDER BY seq DESC LIMIT 1"""
_DUE_SQL = """SELECT id, site, unit, rule, grade, state, notify_from_ms, tier, rounds, last_round_ms FROM warnings
    WHERE state IN ('pending', 'open') AND due_ms <= ? ORDER BY due_ms LIMIT ? FOR UPDATE SKIP LOCKED"""
_INSERT_NOTICE_SQL = """
    INSERT INTO notices (warning_id, round, tier, person, channel, state, attempts, created_ms, next_try_ms)
    VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (warning_id, round, person, channel) DO NOTHING"""
_PLANNED_SQL = """UPDATE warnings SET state = 'open', tier = ?, rounds = ?, last_round_ms = ?, due_ms = ?
    WHERE id = ?"""
_CLAIMABLE_SQL = """SELECT id FROM notices WHERE state = 'pending' AND next_try_ms <= ?
    AND (lease_until_ms IS NULL OR lease_until_ms < ?) ORDER BY next_try_ms, id LIMIT ? FOR UPDATE SKIP LOCKED"""
# Taken only if still free when the row is written: another notifier that claimed it first wins (belt and braces
# beside SKIP LOCKED, which only spares the wait).
_CLAIM_SQL = """UPDATE notices SET claimed_by = ?, lease_until_ms = ? WHERE id = ? AND state = 'pending'
    AND (lease_until_ms IS NULL OR lease_until_ms < ?)"""
_CLAIMED_SQL = """
    SELECT n.id, n.warning_id, n.round, n.tier, n.person, n.channel, n.attempts, w.site, w.unit, w.rule, w.grade,
           w.cause, w.summary, w.count, w.opened_ms, w.state
    FROM notices n JOIN warnings w ON w.id = n.warning_id WHERE n.id = ?"""
_RECORD_SQL = """UPDATE notices SET state = ?, attempts = attempts + 1, sent_ms = ?, last_error = ?, next_try_ms = ?,
    claimed_by = NULL, lease_until_ms = NULL WHERE id = ? AND claimed_by = ?"""
_ATTEMPT_SQL = """INSERT INTO notice_attempts (notice_id, attempt, at_ms, instance, person, channel, result, error,
    duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_ACK_SQL = """UPDATE warnings SET state = ?, acked_ms = ?, acked_by = ?, ack_note = ?, due_ms = NULL, updated_ms = ?,
    cleared_ms = CASE WHEN ? = 'cleared' THEN ? ELSE cleared_ms END,
    cleared_by = CASE WHEN ? = 'cleared' THEN 'acknowledged' ELSE cleared_by END
    WHERE id = ? AND state IN ('pending', 'open')"""
_CANCEL_SQL = "UPDATE notices SET state = 'cancelled' WHERE warning_id = ? AND state = 'pending' AND claimed_by IS NULL"


class WarningRow(NamedTuple):
    id: int
    site: str
    unit: str
    rule: str
    grade: int
    cause: str
    state: str
    opened_ms: int
    updated_ms: int
    count: int
    summary: str
    tier: int
    rounds: int
    cleared_ms: int | None
    cleared_by: str | None
    acked_ms: int | None
    acked_by: str | None
    ack_note: str | None


class NoticeRow(NamedTuple):
    id: int
    warning_id: int
    round: int
    tier: int
    person: str
    channel: str
    state: str
    attempts: int
    created_ms: int
    next_try_ms: int
    sent_ms: int | None
    last_error: str | None


_WARNING_COLUMNS = WarningRow._fields  # the SELECT lists, in the rows' order
_NOTICE_COLUMNS = NoticeRow._fields


class Claimed(NamedTuple):
    """A notice this notifier holds the lease of, with what its text needs from the warning."""

    id: int
    warning_id: int
    round: int
    tier: int
    person: str
    channel: str
    attempts: int
    site: str
    unit: str
    rule: str
    grade: int
    cause: str
    summary: str
    count: int
    opened_ms: int
    warning_state: str


iso_ms = L.iso_ms


def summary_of(occ: Occurrence) -> str:
    """The occurrence as one line for lists and notices: type state source (value): reason, safe and bounded."""
    value = "" if occ.value is None else " (%s)" % occ.value
    text = "%s %s %s%s: %s" % (occ.type, occ.state, occ.source, value, occ.reason)
    return E.safe_text(text, MAX_SUMMARY_CHARS)


def occurrences(batch: Batch, stored: list[bool]) -> list[Occurrence]:
    """What a committed batch tells the rules: its new events (by unit and seq), its gone reports, its statuses."""
    out = []
    for (event, received_at), new in sorted(zip(batch.events, stored), key=lambda p: (p[0][0][:2], p[0][0].seq)):
        if not new:
            continue
        key = store_key(event)
        out.append(Occurrence(event.site, event.unit, event.type, event.severity, event.source, event.state,
                              json.loads(event.value), event.reason, event.id, None if key is None else key.store,
                              event.seq, iso_ms(received_at)))
    for gone, received_at in sorted(batch.gones):
        out.append(Occurrence(gone.site, gone.unit, "lost", E.SEVERITY_FAULT, gone.store, "lost",
                              gone.last - gone.first + 1, "seq %d..%d: %s" % (gone.first, gone.last, gone.reason),
                              "lost:%s:%d-%d" % (gone.store, gone.first, gone.last), None, None, iso_ms(received_at)))
    for (site, unit), (status, received_at) in sorted(batch.statuses.items()):
        out.append(Occurrence(site, unit, "status", E.SEVERITY_INFO if status == "online" else E.SEVERITY_FAULT,
                              "uplink", status, None, "", "status:%s" % received_at, None, None, iso_ms(received_at)))
    return out


class WarningHook:
    """storage.add_store_hook(WarningHook(rules)): every batch's occurrences go through the rules, and the units it
    heard from are recorded (liveness), in the batch's transaction. In a savepoint: a failure here is logged and
    counted, and never holds back storing the events."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.errors = 0

    def __call__(self, execute: Executor, batch: Batch, stored: list[bool]) -> None:
        found = occurrences(batch, stored)
        heard = L.heard_of(batch.events, batch.states)
        if not found and not heard:
            return
        execute("SAVEPOINT warnings")
        try:
            execute.each(L.HEARD_SQL, L.HEARD_TYPES, [key + (ms,) for key, ms in sorted(heard.items())])  # key order
            apply(execute, self.rules, found)
        except Exception:
            execute("ROLLBACK TO SAVEPOINT warnings")
            self.errors += 1
            log.exception("warnings: %d occurrences not applied (their events are stored)", len(found))
        execute("RELEASE SAVEPOINT warnings")


def apply(execute: Executor, rules: Rules, found: Iterable[Occurrence]) -> None:
    """Opens, updates and clears warnings for each occurrence, in order."""

    def context(site: str, unit: str, type_: str, sources: frozenset | None, seq: int | None) -> str | None:
        names = sorted(sources or ())
        sql = _CONTEXT_SQL.format(sources="AND source IN (%s)" % ", ".join("?" * len(names)) if names else "")
        row = execute(sql, (site, unit, type_, seq if seq is not None else 2 ** 63 - 1, *names)).fetchone()
        return row[0] if row else None

    decided = [(occ, decision) for occ in found for decision in rules.decide(occ, context)]
    # Most clears find nothing to clear (every "back to normal"): the causes with an active warning, asked once.
    clears = sorted({d.cause_key for _, d in decided if d.kind == "clear"})
    active = {key for (key,) in execute.each(_ACTIVE_CAUSES_SQL, ("text",), [(key,) for key in clears])}
    for occ, decision in decided:
        if decision.kind == "clear":
            if decision.cause_key in active:
                _clear(execute, decision, occ)
        else:
            _open(execute, decision, occ)
            active.add(decision.cause_key)


def _stale(occ: Occurrence, last_store: str | None, last_seq: int | None) -> bool:
    """An event older than the warning's latest (a late gap fill) does not clear it."""
    return occ.store is not None and occ.store == last_store and last_seq is not None and occ.seq < last_seq


def _clear(execute: Execute, decision: Decision, occ: Occurrence) -> None:
    row = execute(_FIND_ACTIVE_SQL, (decision.cause_key,)).fetchone()
    if row is None or _stale(occ, row[1], row[2]):
        return
    execute(_CLEAR_SQL, (occ.at_ms, occ.event_id, occ.at_ms, row[0]))


def _open(execute: Execute, decision: Decision, occ: Occurrence, sql: str = _OPEN_SQL):
    rule = decision.rule
    notify_from = occ.at_ms + int(rule.open_after_min * 60000)
    state = "pending" if rule.open_after_min else "open"
    return execute(sql, (occ.site, occ.unit, rule.name, rule.grade, decision.cause_key, decision.cause_text, state,
                        occ.at_ms, occ.at_ms, occ.event_id, occ.event_id, occ.store, occ.seq, summary_of(occ),
                        notify_from, notify_from, int(rule.until_acknowledged)))


class Active(NamedTuple):
    """An active warning as a platform check reads it: to clear it only as read, and not on an older clock's word."""

    id: int
    count: int
    opened_ms: int
    updated_ms: int


def active_in(x: Execute, names: tuple[str, ...]) -> dict[str, Active]:
    """cause_key -> the active warning, of the named rules (at least one), inside the caller's transaction."""
    sql = _ACTIVE_OF_RULES_SQL.format(names=", ".join("?" * len(names)))
    return {key: Active(*row) for key, *row in x(sql, names).fetchall()}


def observe_in(x: Execute, rules: Rules, active: dict[str, Active], found: Iterable[Occurrence]) -> tuple[int, int]:
    """What a platform check observed now, applied inside its transaction: a warning opened for each cause that has
    none (never counted again: the check sees the same cause every few seconds), and the warnings in `active` (as
    read by active_in) cleared whose cause ended. Returns (opened, cleared). Several notifiers may run it at once: the
    unique index on the cause keeps one warning per cause; a clear applies only to the warning as read, and a check
    whose clock is behind the warning's latest update (another notifier's, a receiver's) does not clear it."""
    opened = cleared = 0
    for occ in found:
        for decision in rules.decide(occ):
            warning = active.get(decision.cause_key)
            if decision.kind == "open" and warning is None:
                opened += _open(x, decision, occ, _OPEN_IF_ABSENT_SQL).rowcount
            elif decision.kind == "clear" and warning is not None and occ.at_ms >= warning.updated_ms:
                cleared += x(_CLEAR_AS_READ_SQL, (occ.at_ms, occ.event_id, occ.at_ms, warning.id,
                                                  warning.count)).rowcount
    return opened, cleared


def liveness_in(x: Execute, rules: Rules, now_ms: int) -> tuple[int, int]:
    """Opens the warning of every unit offline or silent past the heartbeat limit that has none, and clears those of
    units back (liveness.verdict), inside the caller's transaction; returns (opened, cleared)."""
    names = rules.rules_for("status")
    if not names:
        return 0, 0
    active = active_in(x, names)
    found = []
    for u in L.units(x):
        state = L.verdict(u, now_ms, rules.silent_after_ms, rules.back_after_ms)
        if state is not None:
            found.append(L.occurrence(u, state, now_ms))
    return observe_in(x, rules, active, found)


def check_liveness(storage: SqlStorage, rules: Rules, now_ms: int) -> tuple[int, int]:
    """liveness_in() in a transaction of its own."""
    return storage.write(lambda x: liveness_in(x, rules, now_ms))


def prepare(storage: SqlStorage) -> None:
    """Creates the warnings' tables when missing (the receiver, the notifier and the CLI each call it first)."""
    storage.create_tables(WARNING_SCHEMA_SQL, WARNING_SCHEMA_OBJECTS)
    audit.prepare(storage)


# --- the notifier's steps ---

def plan_due(storage: SqlStorage, rules: Rules, contacts: Contacts, now_ms: int, limit: int = 100) -> int:
    """Queues the notices of every round now due (first notices, re-notifications, escalations); returns how many
    warnings had a round. Several notifiers may run it at once: each warning is planned by one (row lock)."""

    def work(x: Execute) -> int:
        rounds = 0
        for wid, site, unit, rule, grade, state, notify_from, tier, done, last_round in x(_DUE_SQL, (now_ms, limit)
                                                                                          ).fetchall():
            plan = rules.plan(grade, notify_from, tier, last_round, now_ms)
            if plan.tiers:
                rounds += 1
                done += 1
                policy = rules.policy(grade)
                for t in plan.tiers:
                    for r in contacts.recipients(site, policy.tiers[t].roles):
                        x(_INSERT_NOTICE_SQL, (wid, done, t, r.person, r.channel, now_ms, now_ms))
            x(_PLANNED_SQL, (plan.tier, done, plan.last_round_ms, plan.due_ms, wid))
        return rounds

    return storage.write(work)


def claim(storage: SqlStorage, instance: str, now_ms: int, lease_ms: int, limit: int = 20) -> list[Claimed]:
    """Takes up to limit due notices under a lease until now_ms + lease_ms: no other notifier sends them meanwhile
    (PostgreSQL: row locks, skipping those another one holds; SQLite: the one writer)."""

    def work(x: Execute) -> list[Claimed]:
        ids = [row[0] for row in x(_CLAIMABLE_SQL, (now_ms, now_ms, limit)).fetchall()]
        out = []
        for notice_id in ids:
            if x(_CLAIM_SQL, (instance, now_ms + lease_ms, notice_id, now_ms)).rowcount == 1:
                out.append(Claimed(*x(_CLAIMED_SQL, (notice_id,)).fetchone()))
        return out

    return storage.write(work)


class Attempt(NamedTuple):
    """One try at a claimed notice: error None when the channel took it; final: never to be tried again."""

    notice: Claimed
    error: str | None
    at_ms: int
    duration_ms: int
    final: bool = False


def record(storage: SqlStorage, instance: str, attempts: list[Attempt]) -> int:
    """Records the attempts at claimed notices in one transaction (one commit for a whole round of sends): each
    sent, failed for good, or due again after a back-off. Returns how many this notifier still held the lease of
    (one taken over by another notifier, this one being too slow, is recorded all the same)."""

    def work(x: Execute) -> int:
        held = 0
        for a in attempts:
            n = a.notice
            attempt = n.attempts + 1
            if a.error is None:
                row = ("sent", a.at_ms, None, a.at_ms)
            elif a.final:
                row = ("failed", None, a.error, a.at_ms)
            else:
                retry_ms = int(min(RETRY_FIRST_S * 2 ** (attempt - 1), RETRY_MAX_S) * 1000)
                row = ("pending", None, a.error, a.at_ms + retry_ms)
            held += x(_RECORD_SQL, row + (n.id, instance)).rowcount
            x(_ATTEMPT_SQL, (n.id, attempt, a.at_ms, instance, n.person, n.channel,
                             "sent" if a.error is None else "failed", a.error or "", a.duration_ms))
        return held

    return storage.write(work)


# --- people's side ---

class AckError(Told, ValueError):
    """An acknowledgement that cannot be recorded: no such warning, or it is not waiting for one."""


def acknowledge(storage: SqlStorage, warning_id: int, user: str, note: str, now_ms: int,
                origin: str = "cli") -> WarningRow:
    """Records who acknowledged (确认) the warning and when; stops its re-notification and escalation, and cancels
    its notices not yet sent. A warning whose rule clears on acknowledgement (clear: acknowledged) is cleared.
    Audited (audit.py) in the same transaction; origin: where it came from ("cli", "console 10.0.0.7")."""
    return storage.write(lambda x: acknowledge_in(x, warning_id, user, note, now_ms, origin))


def acknowledge_in(x: Execute, warning_id: int, user: str, note: str, now_ms: int, origin: str = "cli") -> WarningRow:
    """acknowledge() inside the caller's write transaction (a work order's dispatch acknowledges its warning)."""
    user, note = E.safe_text(user, 100), E.safe_text(note)
    row = x("SELECT clear_on_ack, state FROM warnings WHERE id = ?", (warning_id,)).fetchone()
    if row is None:
        raise AckError(N_("no warning %(warning)d (gaslatch platform warnings lists them)"), warning=warning_id)
    if row[1] not in ("pending", "open"):
        raise AckError(N_("warning %(warning)d is %(state)s: nothing to acknowledge"), warning=warning_id,
                       state=Told(words.STATE_NAMES[row[1]]) if row[1] in words.STATE_NAMES else row[1])
    state = "cleared" if row[0] else "acknowledged"
    x(_ACK_SQL, (state, now_ms, user, note, now_ms, state, now_ms, state, warning_id))
    x(_CANCEL_SQL, (warning_id,))
    warning = warning_in(x, warning_id)
    audit.record(x, now_ms, user, "acknowledge", "warning:%d" % warning_id, site=warning.site,
                 detail={"note": note, "state": state}, origin=origin)
    return warning


def warning_in(x: Execute, warning_id: int) -> WarningRow | None:
    """One warning, inside the caller's transaction; None when there is no such id."""
    row = x("SELECT %s FROM warnings WHERE id = ?" % ", ".join(_WARNING_COLUMNS), (warning_id,)).fetchone()
    return None if row is None else WarningRow(*row)


def warning(storage: SqlStorage, warning_id: int) -> WarningRow | None:
    """One warning, None when there is none with that id."""
    return storage.read(lambda x: warning_in(x, int(warning_id)))


def warnings(storage: SqlStorage, open_only: bool = False, scope: tuple[str, tuple] = ("1=1", ()),
             limit: int | None = None) -> list[WarningRow]:
    """The warnings, grade 1 first, newest first; open_only: those not cleared; scope: a condition on site and its
    params (access.sql_scope(actor), a site); limit: at most that many."""
    where = "(%s)%s" % (scope[0], " AND state <> 'cleared'" if open_only else "")
    sql = "SELECT %s FROM warnings WHERE %s ORDER BY grade, opened_ms DESC, id DESC%s" % (
        ", ".join(_WARNING_COLUMNS), where, "" if limit is None else " LIMIT %d" % int(limit))
    return storage.read(lambda x: [WarningRow(*row) for row in x(sql, scope[1]).fetchall()])


def notices(storage: SqlStorage, warning_id: int | None = None) -> list[NoticeRow]:
    where = "" if warning_id is None else " WHERE warning_id = %d" % int(warning_id)
    sql = "SELECT %s FROM notices%s ORDER BY id" % (", ".join(_NOTICE_COLUMNS), where)
    return storage.read(lambda x: [NoticeRow(*row) for row in x(sql).fetchall()])


def attempts(storage: SqlStorage) -> list[tuple]:
    """Every attempt: (notice_id, attempt, at_ms, instance, person, channel, result, error, duration_ms)."""
    return storage.read(lambda x: x("SELECT * FROM notice_attempts ORDER BY at_ms, notice_id, attempt").fetchall())

