"""Work orders (工单) and the hazard ledger (隐患台账): a warning dispatched to a street safety officer, checked
on site, rectified by a due date, verified and closed, each step recorded with who and when.

Everything that decides which step may follow which, and who may take it, is the TRANSITIONS table (the docs'
table is drawn from it); the functions below apply it to the database. Each step writes the order, one history
row and one audit row in one transaction, so a refused step changes nothing.
"""

from __future__ import annotations

import datetime

from typing import Any, Callable, NamedTuple

from gaslatch.core import events as E
from gaslatch.translation import N_
from gaslatch_tools.platform import audit, words
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform.access import ADMIN, OFFICER, OPERATOR, OWNER, ROLE_NAMES, Actor, sql_scope
from gaslatch_tools.platform.contacts import Contacts
from gaslatch_tools.platform.storage import SqlStorage
from gaslatch.told import Told

Execute = Callable[..., Any]

DISPATCHED, FOUND, RECTIFYING, RECTIFIED, VERIFIED, CLOSED = (
    "dispatched", "found", "rectifying", "rectified", "verified", "closed")
STATES = (DISPATCHED, FOUND, RECTIFYING, RECTIFIED, VERIFIED, CLOSED)
# Each state's name (translated where it is shown: words.html() in the console, words.pair() in the CLI and exports).
STATE_NAMES = {DISPATCHED: N_("dispatched"), FOUND: N_("checked on site"), RECTIFYING: N_("rectifying"),
               RECTIFIED: N_("rectified"), VERIFIED: N_("verified"), CLOSED: N_("order closed")}
# The states whose due date runs: the site check (dispatched), the decision after it (found), the rectification.
# An order past its due date in one of them is overdue (逾期) in the ledger.
DEADLINE_STATES = (DISPATCHED, FOUND, RECTIFYING)

NOTE, HAZARD, DUE = "note", "hazard", "due"  # the fields a step may need (advance()'s note, hazard, due_ms)


class Transition(NamedTuple):
    """One step: from one of `sources` to `target`, taken by one of `roles`, given the fields it `needs`.
    assigned: an officer must be the order's own; hazard: taken from found, what the site check must have found
    (True: a hazard, False: none, None: either)."""

    action: str
    name: str
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    needs: tuple[str, ...] = ()
    assigned: bool = False
    hazard: bool | None = None


TRANSITIONS = (
    Transition("dispatch", N_("dispatch to an officer"), (), DISPATCHED, (OPERATOR, ADMIN), (DUE,)),
    Transition("find", N_("record the findings"), (DISPATCHED,), FOUND, (OFFICER,), (NOTE, HAZARD), True),
    Transition("rectify", N_("order rectification"), (FOUND,), RECTIFYING, (OFFICER,), (DUE,), True, True),
    Transition("done", N_("rectification done"), (RECTIFYING,), RECTIFIED, (OWNER, OFFICER), (NOTE,)),
    Transition("verify", N_("verification passed"), (FOUND, RECTIFIED), VERIFIED, (OFFICER,), (), True, False),
    Transition("reject", N_("verification failed"), (RECTIFIED,), RECTIFYING, (OFFICER,), (NOTE, DUE), True),
    Transition("close", N_("close"), (VERIFIED,), CLOSED, (OPERATOR, ADMIN, OFFICER)),
)
BY_ACTION = {t.action: t for t in TRANSITIONS}
ACTIONS = tuple(t.action for t in TRANSITIONS if t.sources)  # what advance() takes



def markdown_table() -> str:
    """TRANSITIONS as the table docs/platform.md shows (a test checks the docs hold it as generated here)."""
    lines = ["| action | step | from | to | by | needs |", "| --- | --- | --- | --- | --- | --- |"]
    for t in TRANSITIONS:
        by = " or ".join(("its officer" if r == OFFICER and t.assigned else r) for r in t.roles)
        needs = [{NOTE: "--note", HAZARD: "--hazard/--no-hazard", DUE: "--due"}[n] for n in t.needs]
        if t.hazard is not None:
            needs.append("from found: %s found" % ("a hazard" if t.hazard else "no hazard"))
        lines.append("| `%s` | %s | %s | %s | %s | %s |" % (
            t.action, words.pair(t.name), ", ".join(t.sources) or "(a warning)", t.target, by, "; ".join(needs)))
    return "\n".join(lines) + "\n"


MAX_NOTE_CHARS = 2000
# The audit row's copy of a note (the history keeps it whole): its JSON, every backslash doubled, stays within
# audit.MAX_DETAIL_CHARS, which would otherwise cut the JSON short.
AUDIT_NOTE_CHARS = 500
MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))  # magic bytes
PHOTO_ROLES = (OWNER, OFFICER)  # the people on site: findings and rectification evidence

SCHEMA_SQL = (
    """CREATE TABLE IF NOT EXISTS work_orders (
        id AUTO_ID, warning_id BIGINT NOT NULL, site TEXT NOT NULL, unit TEXT NOT NULL, grade INTEGER NOT NULL,
        summary TEXT NOT NULL, state TEXT NOT NULL, officer TEXT NOT NULL, hazard INTEGER, findings TEXT NOT NULL,
        due_ms BIGINT NOT NULL, opened_ms BIGINT NOT NULL, opened_by TEXT NOT NULL, updated_ms BIGINT NOT NULL,
        closed_ms BIGINT)""",
    # One open order per warning: two operators dispatching at once cannot open two.
    "CREATE UNIQUE INDEX IF NOT EXISTS work_orders_open ON work_orders (warning_id) WHERE state <> 'closed'",
    "CREATE INDEX IF NOT EXISTS work_orders_site ON work_orders (site, state)",
    """CREATE TABLE IF NOT EXISTS order_history (
        id AUTO_ID, order_id BIGINT NOT NULL, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        from_state TEXT, to_state TEXT NOT NULL, note TEXT NOT NULL, hazard INTEGER, due_ms BIGINT,
        origin TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS order_history_order ON order_history (order_id, id)",
    """CREATE TABLE IF NOT EXISTS order_photos (
        id AUTO_ID, order_id BIGINT NOT NULL, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,
        content_type TEXT NOT NULL, size_bytes BIGINT NOT NULL, data BINARY_DATA NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS order_photos_order ON order_photos (order_id)",
)
SCHEMA_OBJECTS = ("work_orders", "work_orders_open", "work_orders_site", "order_history", "order_history_order",
                  "order_photos", "order_photos_order")


class WorkOrderError(Told, ValueError):
    """A step that cannot be taken: what is wrong, for the person who tried it (Told: str() the English,
    told() the reader's language)."""


class NotFound(WorkOrderError):
    """No such order, warning or photo, or one outside the actor's sites (the same words either way)."""


class Order(NamedTuple):
    id: int
    warning_id: int
    site: str
    unit: str
    grade: int
    summary: str
    state: str
    officer: str
    hazard: bool | None  # None until the site check
    findings: str
    due_ms: int
    opened_ms: int
    opened_by: str
    updated_ms: int
    closed_ms: int | None

    def overdue(self, now_ms: int) -> bool:
        return self.state in DEADLINE_STATES and self.due_ms < now_ms


class HistoryRow(NamedTuple):
    id: int
    order_id: int
    at_ms: int
    actor: str
    action: str
    from_state: str | None  # None for the dispatch
    to_state: str
    note: str
    hazard: bool | None
    due_ms: int | None
    origin: str


class LedgerRow(NamedTuple):
    """One hazard in the ledger (隐患台账): an order whose site check found a hazard or is still to come."""

    order: Order
    overdue: bool
    history: str  # "dispatch op-1 → find li → ...": every step and who took it


_ORDER_COLUMNS = Order._fields
_HISTORY_COLUMNS = HistoryRow._fields
_SELECT_ORDERS = "SELECT %s FROM work_orders" % ", ".join(_ORDER_COLUMNS)
_INSERT_ORDER_SQL = """
    INSERT INTO work_orders (warning_id, site, unit, grade, summary, state, officer, hazard, findings, due_ms,
                             opened_ms, opened_by, updated_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, NULL, '', ?, ?, ?, ?)
    ON CONFLICT (warning_id) WHERE state <> 'closed' DO NOTHING RETURNING id"""
# Written only while the order is still in the state the step was decided on: of two people stepping at once,
# the second is refused rather than stepping from a state that no longer holds.
_STEP_SQL = """UPDATE work_orders SET state = ?, hazard = ?, findings = ?, due_ms = ?, updated_ms = ?, closed_ms = ?
    WHERE id = ? AND state = ?"""
_INSERT_HISTORY_SQL = """INSERT INTO order_history (order_id, at_ms, actor, action, from_state, to_state, note, hazard,
    due_ms, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_INSERT_PHOTO_SQL = """INSERT INTO order_photos (order_id, at_ms, actor, content_type, size_bytes, data)
    VALUES (?, ?, ?, ?, ?, ?) RETURNING id"""


def prepare(storage: SqlStorage) -> None:
    """Creates the work orders' tables (and the warnings' and the audit log's) when missing."""
    WS.prepare(storage)
    audit.prepare(storage)
    storage.create_tables(SCHEMA_SQL, SCHEMA_OBJECTS)


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _order(row: tuple) -> Order:
    values = list(row)
    values[_ORDER_COLUMNS.index("hazard")] = _flag(values[_ORDER_COLUMNS.index("hazard")])
    return Order(*values)


def _history(row: tuple) -> HistoryRow:
    values = list(row)
    values[_HISTORY_COLUMNS.index("hazard")] = _flag(values[_HISTORY_COLUMNS.index("hazard")])
    return HistoryRow(*values)


def _find(x: Execute, actor: Actor, order_id: int) -> Order:
    """The order if the actor's scope holds its site; NotFound otherwise, the same as for an id never used."""
    row = x(_SELECT_ORDERS + " WHERE id = ?", (int(order_id),)).fetchone()
    if row is None or not actor.sees(row[_ORDER_COLUMNS.index("site")]):
        raise NotFound(N_("no work order %(order)d among the sites of %(user)s (gaslatch platform orders --as "
                          "%(user)s lists them)"), order=order_id, user=actor.user)
    return _order(row)


def _clean(note: str | None) -> str:
    """A note as stored: odd text made readable (escaped) and clipped, never refused."""
    return E.safe_text("" if note is None else note, MAX_NOTE_CHARS)


def _states(states: tuple[str, ...]) -> list[Told]:
    return [Told(STATE_NAMES[s]) for s in states]


def refusal(transition: Transition, order: Order | None, actor: Actor, note: str, hazard: bool | None,
            due_ms: int | None, now_ms: int) -> WorkOrderError | None:
    """Why the actor may not take this step on this order (None: they may). Pure: the table decides."""
    t = transition
    what = Told(N_("order %(order)d"), order=order.id) if order is not None else Told(N_("a new order"))
    step = t.action  # the command's name: gaslatch platform order ACTION
    if order is not None and order.state not in t.sources:
        return WorkOrderError(N_("%(what)s is %(state)s: %(step)s needs an order %(needed)s"), what=what,
                              state=Told(STATE_NAMES[order.state]), step=step, needed=_states(t.sources))
    if actor.role not in t.roles:
        return WorkOrderError(N_("%(what)s: %(step)s is for the %(roles)s, not the %(role)s %(user)s"), what=what,
                              step=step, roles=[Told(ROLE_NAMES[r]) for r in t.roles],
                              role=Told(ROLE_NAMES[actor.role]), user=actor.user)
    if t.assigned and order is not None and actor.role == OFFICER and actor.user != order.officer:
        return WorkOrderError(N_("%(what)s: %(step)s is for its officer %(officer)s, not %(user)s"), what=what,
                              step=step, officer=order.officer, user=actor.user)
    if order is not None and order.state == FOUND and t.hazard is not None and order.hazard is not t.hazard:
        return WorkOrderError(N_("%(what)s: %(step)s needs a site check that found a hazard") if t.hazard else
                              N_("%(what)s: %(step)s needs a site check that found no hazard"), what=what, step=step)
    if NOTE in t.needs and not note.strip():
        return WorkOrderError(N_("%(what)s: %(step)s needs a note (the findings)") if t.action == "find" else
                              N_("%(what)s: %(step)s needs a note (what was done)"), what=what, step=step)
    if HAZARD in t.needs and hazard is None:
        return WorkOrderError(N_("%(what)s: %(step)s needs whether a hazard was found"), what=what, step=step)
    if DUE in t.needs:
        if due_ms is None:
            return WorkOrderError(N_("%(what)s: %(step)s needs a due date"), what=what, step=step)
        if due_ms <= now_ms:
            return WorkOrderError(N_("%(what)s: %(step)s needs a due date after now"), what=what, step=step)
    return None


def available(order: Order, actor: Actor, now_ms: int) -> list[Transition]:
    """The steps the actor may take on the order now, given the fields each needs (what a form should offer)."""
    day_later = now_ms + 24 * 3600 * 1000
    return [t for t in TRANSITIONS if t.sources and refusal(t, order, actor, "-", True if t.action == "find" else None,
                                                            day_later, now_ms) is None]


def due_ms_of(text: str) -> int:
    """YYYY-MM-DD -> the end of that day, local time, in ms; WorkOrderError (a ValueError) for anything else."""
    try:
        day = datetime.datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise WorkOrderError(N_("expected a date YYYY-MM-DD, not %(text)r"), text=text) from None
    if not 2000 <= day.year <= 2199:  # a typo, not a deadline (and no overflow at the calendar's ends)
        raise WorkOrderError(N_("a due date between 2000 and 2199, not %(date)s"), date=text)
    end = (day + datetime.timedelta(days=1)).astimezone()
    return int(end.timestamp() * 1000) - 1


def dispatch(storage: SqlStorage, actor: Actor, warning_id: int, officer: str, note: str, due_ms: int, now_ms: int,
             origin: str = "cli", *, contacts: Contacts) -> Order:
    """Opens a work order for the warning, assigned to an officer of its site's district (a contacts id), due by
    due_ms; acknowledges the warning if it still waits for that. Refused (WorkOrderError) for a warning not in
    the actor's scope (NotFound), one with an open order, or an officer of another district."""
    t = BY_ACTION["dispatch"]
    note = _clean(note)

    def work(x: Execute) -> Order:
        warning = WS.warning_in(x, int(warning_id))
        if warning is None or not actor.sees(warning.site):
            raise NotFound(N_("warning %(warning)d is not one %(user)s may see: it is of a site not theirs, or there is "
                              "none by that id"), warning=warning_id, user=actor.user)
        why = refusal(t, None, actor, note, None, due_ms, now_ms)
        if why:
            raise why
        officers = contacts.people_for(warning.site, OFFICER) if warning.site in contacts.doc["sites"] else []
        if officer not in officers:
            raise WorkOrderError(N_("%(officer)s is not an officer of the district of site %(site)s (officers: "
                                    "%(officers)s)"), officer=E.safe_text(officer, 100), site=warning.site,
                                 officers=", ".join(officers) or "-")
        row = x(_INSERT_ORDER_SQL, (warning.id, warning.site, warning.unit, warning.grade, warning.summary,
                                    DISPATCHED, officer, int(due_ms), now_ms, actor.user, now_ms)).fetchone()
        if row is None:
            raise WorkOrderError(N_("warning %(warning)d already has an open work order"), warning=warning.id)
        acknowledged = warning.state in ("pending", "open")
        if acknowledged:
            WS.acknowledge_in(x, warning.id, actor.user, note or "work order %d dispatched" % row[0], now_ms, origin)
        _record(x, actor, row[0], warning.site, t.action, None, DISPATCHED, note, None, int(due_ms), now_ms, origin,
                {"warning": warning.id, "officer": officer, "acknowledged": acknowledged})
        return _find(x, actor, row[0])

    return storage.write(work)


def advance(storage: SqlStorage, actor: Actor, order_id: int, action: str, now_ms: int, origin: str = "cli",
            note: str = "", hazard: bool | None = None, due_ms: int | None = None) -> Order:
    """Takes one step (an action of ACTIONS) on the order, as TRANSITIONS allows; WorkOrderError saying why not."""
    t = BY_ACTION.get(action)
    if t is None or not t.sources:
        raise WorkOrderError(N_("no work order action %(action)r (actions: %(actions)s)"),
                             action=E.safe_text(action, 40), actions=", ".join(ACTIONS))
    note = _clean(note)

    def work(x: Execute) -> Order:
        order = _find(x, actor, order_id)
        why = refusal(t, order, actor, note, hazard, due_ms, now_ms)
        if why:
            raise why
        new_hazard = bool(hazard) if HAZARD in t.needs else order.hazard
        new_due = int(due_ms) if DUE in t.needs else order.due_ms
        findings = note if t.action == "find" else order.findings
        closed_ms = now_ms if t.target == CLOSED else None
        changed = x(_STEP_SQL, (t.target, None if new_hazard is None else int(new_hazard), findings, new_due, now_ms,
                                closed_ms, order.id, order.state)).rowcount
        if changed != 1:
            raise WorkOrderError(N_("order %(order)d changed while %(step)s was being recorded: look again and "
                                    "retry"), order=order.id, step=t.action)
        _record(x, actor, order.id, order.site, t.action, order.state, t.target, note,
                new_hazard if HAZARD in t.needs else None, new_due if DUE in t.needs else None, now_ms, origin, {})
        return _find(x, actor, order.id)

    return storage.write(work)


def _record(x: Execute, actor: Actor, order_id: int, site: str, action: str, from_state: str | None, to_state: str,
            note: str, hazard: bool | None, due_ms: int | None, now_ms: int, origin: str, detail: dict) -> None:
    """The step's history row and audit row, in its transaction."""
    x(_INSERT_HISTORY_SQL, (order_id, now_ms, actor.user, action, from_state, to_state, note,
                            None if hazard is None else int(hazard), due_ms, E.safe_text(origin, 100)))
    detail = dict(detail, **{"from": from_state, "to": to_state})
    if note:
        detail["note"] = E.safe_text(note, AUDIT_NOTE_CHARS)
    if hazard is not None:
        detail["hazard"] = hazard
    if due_ms is not None:
        detail["due_ms"] = due_ms
    audit.record(x, now_ms, actor.user, "order." + action, "order %d" % order_id, site=site, detail=detail,
                 origin=origin)


def orders(storage: SqlStorage, actor: Actor, states: tuple[str, ...] | list[str] | None = None) -> list[Order]:
    """The orders in the actor's scope, newest first; states: only those."""
    where, params = sql_scope(actor)
    if states is not None:
        states = tuple(states)
        if not states:
            return []
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise WorkOrderError(N_("no work order state %(state)s (states: %(states)s)"),
                                 state=E.safe_text(unknown[0], 40), states=", ".join(STATES))
        where += " AND state IN (%s)" % ", ".join("?" * len(states))
        params += states
    sql = _SELECT_ORDERS + " WHERE %s ORDER BY opened_ms DESC, id DESC" % where
    return storage.read(lambda x: [_order(row) for row in x(sql, params).fetchall()])


def order(storage: SqlStorage, actor: Actor, order_id: int) -> Order:
    return storage.read(lambda x: _find(x, actor, order_id))


def history(storage: SqlStorage, actor: Actor, order_id: int) -> list[HistoryRow]:
    """Every step of the order, oldest first."""
    sql = "SELECT %s FROM order_history WHERE order_id = ? ORDER BY id" % ", ".join(_HISTORY_COLUMNS)

    def work(x: Execute) -> list[HistoryRow]:
        _find(x, actor, order_id)
        return [_history(row) for row in x(sql, (int(order_id),)).fetchall()]

    return storage.read(work)


def photo_type(data: bytes) -> str:
    """The content type of a photo by its magic bytes; WorkOrderError for anything but a JPEG or PNG in limits."""
    if not data:
        raise WorkOrderError(N_("the photo is empty"))
    if len(data) > MAX_PHOTO_BYTES:
        raise WorkOrderError(N_("the photo is %(size)d bytes: at most %(max)d (5 MB)"), size=len(data),
                             max=MAX_PHOTO_BYTES)
    for magic, content_type in PHOTO_TYPES:
        if data.startswith(magic):
            return content_type
    raise WorkOrderError(N_("the photo is neither a JPEG nor a PNG (by its first bytes)"))


def add_photo(storage: SqlStorage, actor: Actor, order_id: int, data: bytes, now_ms: int, origin: str = "cli") -> int:
    """Stores a photo (JPEG or PNG, at most 5 MB) of an open order's findings or rectification; its id."""
    data = bytes(data)
    content_type = photo_type(data)

    def work(x: Execute) -> int:
        order = _find(x, actor, order_id)
        if order.state == CLOSED:
            raise WorkOrderError(N_("order %(order)d is closed: no more photos"), order=order.id)
        if actor.role not in PHOTO_ROLES:
            raise WorkOrderError(N_("order %(order)d: photos are for the %(roles)s, not the %(role)s %(user)s"),
                                 order=order.id, roles=[Told(ROLE_NAMES[r]) for r in PHOTO_ROLES],
                                 role=Told(ROLE_NAMES[actor.role]), user=actor.user)
        photo_id = x(_INSERT_PHOTO_SQL, (order.id, now_ms, actor.user, content_type, len(data), data)).fetchone()[0]
        audit.record(x, now_ms, actor.user, "order.photo", "order %d" % order.id, site=order.site,
                     detail={"photo": photo_id, "type": content_type, "bytes": len(data)}, origin=origin)
        return photo_id

    return storage.write(work)


def photos(storage: SqlStorage, actor: Actor, order_id: int) -> list[tuple[int, int, str, str, int]]:
    """The order's photos as (id, at_ms, actor, content_type, size_bytes), oldest first."""
    sql = "SELECT id, at_ms, actor, content_type, size_bytes FROM order_photos WHERE order_id = ? ORDER BY id"

    def work(x: Execute) -> list:
        _find(x, actor, order_id)
        return [tuple(row) for row in x(sql, (int(order_id),)).fetchall()]

    return storage.read(work)


def photo(storage: SqlStorage, actor: Actor, photo_id: int) -> tuple[str, bytes]:
    """(content_type, bytes) of a photo of an order in the actor's scope; NotFound otherwise."""
    sql = """SELECT p.content_type, p.data, o.site FROM order_photos p JOIN work_orders o ON o.id = p.order_id
        WHERE p.id = ?"""

    def work(x: Execute) -> tuple[str, bytes]:
        row = x(sql, (int(photo_id),)).fetchone()
        if row is None or not actor.sees(row[2]):
            raise NotFound(N_("no photo %(photo)d"), photo=photo_id)
        return row[0], bytes(row[1])

    return storage.read(work)


def ledger(storage: SqlStorage, actor: Actor, now_ms: int) -> list[LedgerRow]:
    """The hazard ledger (隐患台账) of the actor's sites: every order whose site check found a hazard or is still
    to come, overdue ones first, then by grade and due date."""
    where, params = sql_scope(actor)
    sql = _SELECT_ORDERS + " WHERE %s AND (hazard IS NULL OR hazard = 1)" % where
    steps_sql = """SELECT h.order_id, h.action, h.actor FROM order_history h JOIN work_orders o ON o.id = h.order_id
        WHERE %s ORDER BY h.order_id, h.id""" % where

    def work(x: Execute) -> list[LedgerRow]:
        found = [_order(row) for row in x(sql, params).fetchall()]
        steps: dict[int, list[str]] = {}
        for order_id, action, who in x(steps_sql, params).fetchall():
            steps.setdefault(order_id, []).append("%s %s" % (action, who))
        return [LedgerRow(o, o.overdue(now_ms), " → ".join(steps.get(o.id, []))) for o in found]

    rows = storage.read(work)
    return sorted(rows, key=lambda r: (not r.overdue, r.order.state == CLOSED, r.order.grade, r.order.due_ms,
                                       r.order.id))


def watched_in(x: Execute, closed_since_ms: int | None) -> list[Order]:
    """The orders the overdue check (overdue.py) looks at, inside the caller's transaction: every order not closed,
    and those closed since closed_since_ms (None: none), whose overdue warning it may still have to clear."""
    sql = _SELECT_ORDERS + " WHERE state <> ? OR closed_ms >= ? ORDER BY id"
    return [_order(row) for row in x(sql, (CLOSED, closed_since_ms)).fetchall()]


def overdue(storage: SqlStorage, now_ms: int) -> list[Order]:
    """Every order, fleet-wide, past its due date in a state whose due date runs (for the duty centre)."""
    sql = _SELECT_ORDERS + " WHERE state IN (%s) AND due_ms < ? ORDER BY due_ms, id" % ", ".join(
        "?" * len(DEADLINE_STATES))
    return storage.read(lambda x: [_order(row) for row in x(sql, DEADLINE_STATES + (int(now_ms),)).fetchall()])


def closed_at(storage: SqlStorage) -> Callable[[Any], int | None]:
    """For metrics.district_metrics(closed_at=...): a warning with a work order is closed when its order is (None
    while the order is open); one without, when it cleared."""
    by_warning = dict(storage.read(lambda x: x("SELECT warning_id, closed_ms FROM work_orders").fetchall()))
    return lambda w: by_warning[w.id] if w.id in by_warning else w.cleared_ms
