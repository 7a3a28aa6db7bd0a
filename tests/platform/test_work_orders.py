"""Work orders (工单) and the hazard ledger: the state machine over random actors, actions and orders (no order
closed unverified, every step audited once, a refused step changes nothing, nothing out of scope is seen), the
core flow on SQLite and PostgreSQL, hostile notes, photos, overdue orders, and the CLI.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from gaslatch.core import events as E
from gaslatch_tools.platform import contacts as C
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform import work_orders as W
from gaslatch_tools.platform.access import actor_for
from gaslatch_tools.platform.cli import platform
from gaslatch_tools.platform.rules import Occurrence
from gaslatch_tools.platform.storage import SqliteStorage, open_storage
from tests.platform.test_warning_rules import RULES

DAY_MS = 86_400_000
T0 = 1_780_000_000_000
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
CONTACTS_DOC = {
    "version": 1,
    "people": {p: {"name": p, "channels": {"m": "json://localhost/%s" % p}}
               for p in ("own1", "own2", "own3", "li", "wang", "zhao", "op", "adm")},
    "districts": {"d1": {"name": "一街道", "officers": ["li", "wang"]}, "d2": {"officers": ["zhao"]}},
    "sites": {"s1": {"district": "d1", "owners": ["own1"]}, "s2": {"district": "d1", "owners": ["own2"]},
              "s3": {"district": "d2", "owners": ["own3"]}},
    "duty_centre": ["op"],
    "administrators": ["adm"],
}
CONTACTS = C.build(CONTACTS_DOC)
ACTORS = {user: actor_for(CONTACTS, user) for user in CONTACTS_DOC["people"]}
SITES = ("s1", "s2", "s3")
TABLES = ("work_orders", "order_history", "order_photos", "audit_log", "warnings", "notices")


def open_warnings(storage, sites=SITES, at_ms=T0) -> list[int]:
    """One open grade-1 trip warning per site (kitchen-1), through the warning rules; their ids, by site."""
    found = [Occurrence(site, "kitchen-1", "trip", "alarm", "controller", "latched", None, "gas: hood1 high alarm",
                        "e-%s" % site, None, None, at_ms) for site in sites]
    storage.write(lambda x: WS.apply(x, RULES, found))
    return [w.id for w in sorted(WS.warnings(storage), key=lambda w: w.site)]


def fresh(location=":memory:"):
    storage = SqliteStorage(location) if location == ":memory:" else open_storage(location)
    W.prepare(storage)
    return storage, open_warnings(storage)


def snapshot(storage) -> dict:
    return storage.read(lambda x: {t: sorted(map(tuple, x("SELECT * FROM %s" % t).fetchall()), key=repr)
                                   for t in TABLES})


def audit_rows(storage, order_id) -> list:
    return storage.read(lambda x: x("SELECT action, actor, detail FROM audit_log WHERE target = ? ORDER BY id",
                                    ("order %d" % order_id,)).fetchall())


def step(storage, user, order_id, action, at_ms, **fields):
    return W.advance(storage, ACTORS[user], order_id, action, at_ms, **fields)


def test_the_docs_show_the_transitions_table_as_generated_from_the_code():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "platform.md").read_text(encoding="utf-8")
    assert W.markdown_table() in docs, "docs/platform.md: paste work_orders.markdown_table() into its section"


# --- the core flow, on both databases ---

def test_an_order_goes_from_dispatch_through_a_failed_verification_to_closed_with_every_step_recorded(platform_db):
    storage, (w1, _, _) = fresh(platform_db)
    try:
        o = W.dispatch(storage, ACTORS["op"], w1, "li", "check the hose", T0 + DAY_MS, T0 + 1, contacts=CONTACTS)
        assert (o.state, o.officer, o.site, o.hazard) == (W.DISPATCHED, "li", "s1", None)
        assert [w.state for w in WS.warnings(storage) if w.id == w1] == ["acknowledged"]
        step(storage, "li", o.id, "find", T0 + 2, note="软管老化 the hose is cracked", hazard=True)
        step(storage, "li", o.id, "rectify", T0 + 3, due_ms=T0 + 5 * DAY_MS)
        step(storage, "own1", o.id, "done", T0 + 4, note="hose replaced")
        step(storage, "li", o.id, "reject", T0 + 5, note="clamp missing", due_ms=T0 + 6 * DAY_MS)
        step(storage, "li", o.id, "done", T0 + 6, note="clamp fitted")
        step(storage, "li", o.id, "verify", T0 + 7)
        closed = step(storage, "op", o.id, "close", T0 + 8)
        assert (closed.state, closed.closed_ms, closed.hazard) == (W.CLOSED, T0 + 8, True)
        assert closed.findings == "软管老化 the hose is cracked"
        steps = W.history(storage, ACTORS["own1"], o.id)
        assert [(h.action, h.actor, h.from_state, h.to_state) for h in steps] == [
            ("dispatch", "op", None, "dispatched"), ("find", "li", "dispatched", "found"),
            ("rectify", "li", "found", "rectifying"), ("done", "own1", "rectifying", "rectified"),
            ("reject", "li", "rectified", "rectifying"), ("done", "li", "rectifying", "rectified"),
            ("verify", "li", "rectified", "verified"), ("close", "op", "verified", "closed")]
        assert [h.at_ms for h in steps] == list(range(T0 + 1, T0 + 9))
        audit = audit_rows(storage, o.id)
        assert [a[:2] for a in audit] == [("order." + h.action, h.actor) for h in steps]
        assert json.loads(audit[0][2])["acknowledged"] is True
    finally:
        storage.close()


def test_a_check_that_finds_no_hazard_is_verified_at_once_and_leaves_the_ledger(platform_db):
    storage, (w1, _, _) = fresh(platform_db)
    try:
        o = W.dispatch(storage, ACTORS["adm"], w1, "wang", "", T0 + DAY_MS, T0, contacts=CONTACTS)
        assert [r.order.id for r in W.ledger(storage, ACTORS["op"], T0)] == [o.id]
        step(storage, "wang", o.id, "find", T0 + 1, note="false alarm: cooking steam", hazard=False)
        with pytest.raises(W.WorkOrderError, match="order %d: rectify needs a site check that found a hazard" % o.id):
            step(storage, "wang", o.id, "rectify", T0 + 2, due_ms=T0 + DAY_MS)
        step(storage, "wang", o.id, "verify", T0 + 2)
        assert step(storage, "wang", o.id, "close", T0 + 3).state == W.CLOSED
        assert W.ledger(storage, ACTORS["op"], T0 + 4) == []
        assert W.orders(storage, ACTORS["own1"], [W.CLOSED])[0].id == o.id
    finally:
        storage.close()


def test_a_photo_round_trips_and_a_bad_one_is_refused_on_each_database(platform_db):
    storage, (w1, _, _) = fresh(platform_db)
    try:
        o = W.dispatch(storage, ACTORS["op"], w1, "li", "", T0 + DAY_MS, T0, contacts=CONTACTS)
        jpeg = W.add_photo(storage, ACTORS["li"], o.id, JPEG, T0 + 1, "cli")
        png = W.add_photo(storage, ACTORS["own1"], o.id, PNG, T0 + 2, "console 127.0.0.1")
        assert W.photo(storage, ACTORS["op"], jpeg) == ("image/jpeg", JPEG)
        assert W.photo(storage, ACTORS["own1"], png) == ("image/png", PNG)
        assert [p[3] for p in W.photos(storage, ACTORS["li"], o.id)] == ["image/jpeg", "image/png"]
        before = snapshot(storage)
        for data, message in [(b"", "the photo is empty"), (b"GIF89a" + bytes(100), "neither a JPEG nor a PNG"),
                              (b"%PDF-1.7 \xff\xd8\xff", "neither a JPEG nor a PNG"),
                              (JPEG[:3] + bytes(W.MAX_PHOTO_BYTES), "at most 5242880 \\(5 MB\\)")]:
            with pytest.raises(W.WorkOrderError, match=message):
                W.add_photo(storage, ACTORS["li"], o.id, data, T0 + 3, "cli")
        with pytest.raises(W.NotFound, match="^no photo %d$" % jpeg):
            W.photo(storage, ACTORS["own2"], jpeg)
        with pytest.raises(W.NotFound, match="^no work order %d " % o.id):
            W.add_photo(storage, ACTORS["zhao"], o.id, PNG, T0 + 3, "cli")
        with pytest.raises(W.WorkOrderError, match="photos are for the owner / street safety officer, not the duty operator op"):
            W.add_photo(storage, ACTORS["op"], o.id, PNG, T0 + 3, "cli")
        assert snapshot(storage) == before
    finally:
        storage.close()


HOSTILE = ["\ud800 lone surrogate", "NUL\x00inside", "bell\x07 esc\x1b[31m del\x7f \u202e rtl", "x" * 1_000_000,
           "=HYPERLINK(\"http://evil\")", "隐患\n第二行\ttab"]


def test_hostile_notes_are_stored_readable_and_clipped_never_refused(platform_db):
    storage, (w1, w2, _) = fresh(platform_db)
    try:
        o = W.dispatch(storage, ACTORS["op"], w1, "li", HOSTILE[0], T0 + DAY_MS, T0, contacts=CONTACTS)
        for i, text in enumerate(HOSTILE):
            o = step(storage, "li", o.id, "find", T0 + 2 * i + 1, note=text, hazard=True) if i == 0 else o
            o = step(storage, "li", o.id, "rectify", T0 + 2 * i + 1, due_ms=T0 + DAY_MS, note=text) if i == 0 else o
            o = step(storage, "own1", o.id, "done", T0 + 2 * i + 1, note=text)
            o = step(storage, "li", o.id, "reject", T0 + 2 * i + 2, note=text, due_ms=T0 + DAY_MS)
        notes = [h.note for h in W.history(storage, ACTORS["op"], o.id)]
        for text in HOSTILE:
            assert E.safe_text(text, W.MAX_NOTE_CHARS) in notes
        assert all(len(n) <= W.MAX_NOTE_CHARS for n in notes)
        assert "\\ud800 lone surrogate" in notes and "NUL\\x00inside" in notes
        assert all(E.safe_text(n, W.MAX_NOTE_CHARS) == n for n in notes)
        assert o.findings == "\\ud800 lone surrogate"
        for detail in [json.loads(a[2]) for a in audit_rows(storage, o.id)]:  # whole JSON, the note clipped
            assert len(detail.get("note", "")) <= W.AUDIT_NOTE_CHARS
    finally:
        storage.close()


# --- refusals ---

def test_refusals_name_the_order_its_state_and_what_the_step_needs():
    storage, (w1, w2, w3) = fresh()
    o = W.dispatch(storage, ACTORS["op"], w1, "li", "", T0 + DAY_MS, T0, contacts=CONTACTS)
    cases = [
        ("op", "close", {}, "order %d is dispatched: close needs an order verified" % o.id),
        ("own1", "find", {"note": "x", "hazard": True}, "order %d: find is for the street safety officer, not the owner own1" % o.id),
        ("wang", "find", {"note": "x", "hazard": True}, "order %d: find is for its officer li, not wang" % o.id),
        ("li", "find", {"note": " ", "hazard": True}, "order %d: find needs a note \\(the findings\\)" % o.id),
        ("li", "find", {"note": "x"}, "order %d: find needs whether a hazard was found" % o.id),
        ("li", "verify", {}, "order %d is dispatched: verify needs an order checked on site / rectified" % o.id),
        ("li", "fly", {}, "no work order action 'fly' \\(actions: find, rectify, done, verify, reject, close\\)"),
        ("zhao", "find", {"note": "x", "hazard": True}, "^no work order %d " % o.id),
    ]
    before = snapshot(storage)
    for user, action, fields, message in cases:
        with pytest.raises(W.WorkOrderError, match=message):
            step(storage, user, o.id, action, T0 + 1, **fields)
    step(storage, "li", o.id, "find", T0 + 1, note="leak at the valve", hazard=True)
    with pytest.raises(W.WorkOrderError, match="order %d: rectify needs a due date after now" % o.id):
        step(storage, "li", o.id, "rectify", T0 + 2, due_ms=T0 + 2)
    assert snapshot(storage) != before
    dispatches = [
        ("li", w2, "li", "a new order: dispatch is for the duty operator / administrator, not the street safety officer li"),
        ("op", w1, "li", "warning %d already has an open work order" % w1),
        ("op", w3, "li", "li is not an officer of the district of site s3 \\(officers: zhao\\)"),
        ("op", 999, "li", "^warning 999 is not one op may see: it is of a site not theirs, or there is none "),
        ("own1", w2, "li", "^warning %d is not one own1 may see: it is of a site not theirs, or there is none "
                          "by that id$" % w2),
    ]
    before = snapshot(storage)
    for user, warning, officer, message in dispatches:
        with pytest.raises(W.WorkOrderError, match=message):
            W.dispatch(storage, ACTORS[user], warning, officer, "", T0 + DAY_MS, T0 + 3, contacts=CONTACTS)
    with pytest.raises(W.WorkOrderError, match="a new order: dispatch needs a due date after now"):
        W.dispatch(storage, ACTORS["op"], w2, "li", "", T0, T0 + 3, contacts=CONTACTS)
    assert snapshot(storage) == before


def test_an_order_out_of_scope_is_answered_as_if_it_did_not_exist():
    storage, (w1, _, w3) = fresh()
    o = W.dispatch(storage, ACTORS["op"], w1, "li", "", T0 + DAY_MS, T0, contacts=CONTACTS)
    missing = o.id + 100
    for user in ("own2", "own3", "zhao"):
        actor = ACTORS[user]
        for call in (lambda i: W.order(storage, actor, i), lambda i: W.history(storage, actor, i),
                     lambda i: W.photos(storage, actor, i),
                     lambda i: W.advance(storage, actor, i, "close", T0 + 1)):
            errors = []
            for order_id in (o.id, missing):
                with pytest.raises(W.NotFound) as err:
                    call(order_id)
                errors.append(str(err.value).replace(str(order_id), "N"))
            assert errors[0] == errors[1] == ("no work order N among the sites of %s (gaslatch platform orders --as %s "
                                              "lists them)" % (user, user))
        assert W.orders(storage, actor) == [] and W.ledger(storage, actor, T0) == []
    assert [r.id for r in W.orders(storage, ACTORS["own1"])] == [o.id]


# --- overdue orders ---

def test_an_order_past_its_due_date_is_overdue_in_the_ledger_until_its_step_is_taken():
    storage, (w1, w2, _) = fresh()
    late = W.dispatch(storage, ACTORS["op"], w1, "li", "", T0 + DAY_MS, T0, contacts=CONTACTS)
    on_time = W.dispatch(storage, ACTORS["op"], w2, "wang", "", T0 + 9 * DAY_MS, T0, contacts=CONTACTS)
    now = T0 + 2 * DAY_MS
    assert [o.id for o in W.overdue(storage, now)] == [late.id]
    rows = W.ledger(storage, ACTORS["li"], now)
    assert [(r.order.id, r.overdue) for r in rows] == [(late.id, True), (on_time.id, False)]
    assert rows[0].history == "dispatch op"
    step(storage, "li", late.id, "find", now, note="leak", hazard=True)
    assert [o.id for o in W.overdue(storage, now + 1)] == [late.id]  # the decision after the check is late too
    step(storage, "li", late.id, "rectify", now + 1, due_ms=now + DAY_MS)
    assert W.overdue(storage, now + 2) == []
    assert [o.id for o in W.overdue(storage, now + 2 * DAY_MS)] == [late.id]  # the new due date passed
    step(storage, "own1", late.id, "done", now + 2, note="fixed")
    assert W.overdue(storage, now + 2 * DAY_MS) == []  # waiting for the officer's check is not the owner's delay
    assert W.ledger(storage, ACTORS["own1"], now + 2 * DAY_MS)[0].history == (
        "dispatch op → find li → rectify li → done own1")


# --- the state machine, over random actors, actions and orders ---

USERS = sorted(CONTACTS_DOC["people"])
OFFICERS = ("li", "wang", "zhao", "own1")
NOTES = st.one_of(st.just(""), st.just("ok"), st.text(max_size=30), st.just("\x00\ud800" * 3))


class WorkOrderMachine(RuleBasedStateMachine):
    """Random people take random steps on random orders; every answer is checked against the database."""

    def __init__(self):
        super().__init__()
        self.storage, self.warnings = fresh()
        self.now_ms = T0
        self.ids: list[int] = []
        self.steps: list[str] = []  # the steps taken

    def teardown(self):
        self.storage.close()

    def attempt(self, do, target: int, missing: int, actor, site: str | None):
        """Runs do(target); a refused step must leave every table as it was, and one on a target out of the
        actor's scope must fail exactly as on a missing id."""
        before = snapshot(self.storage)
        try:
            result = do(target)
        except W.WorkOrderError as err:
            assert snapshot(self.storage) == before, "a refused step changed the database: %s" % err
            if site is not None and not actor.sees(site):
                with pytest.raises(W.WorkOrderError) as absent:
                    do(missing)
                assert type(err) is type(absent.value)
                assert str(err).replace(str(target), "N") == str(absent.value).replace(str(missing), "N")
            return None
        assert site is not None and actor.sees(site), "%s acted on an order of %s" % (actor.user, site)
        self.now_ms += 1
        return result

    def site_of_order(self, order_id: int) -> str | None:
        row = self.storage.read(lambda x: x("SELECT site FROM work_orders WHERE id = ?", (order_id,)).fetchone())
        return row[0] if row else None

    @initialize(officers=st.tuples(st.sampled_from(["li", "wang"]), st.sampled_from(["li", "wang"])))
    def dispatch_every_warning(self, officers):
        """An order for each site to start from (more come when one is closed)."""
        for warning_id, officer in zip(self.warnings, officers + ("zhao",)):
            self.ids.append(W.dispatch(self.storage, ACTORS["op"], warning_id, officer, "", self.now_ms + DAY_MS,
                                       self.now_ms, contacts=CONTACTS).id)
            self.now_ms += 1

    @rule(user=st.one_of(st.sampled_from(["op", "adm"]), st.sampled_from(USERS)), which=st.integers(0, 3),
          officer=st.one_of(st.just("$district"), st.sampled_from(OFFICERS)),
          due_days=st.one_of(st.just(5), st.sampled_from([1, 0, -1])), note=NOTES)
    def dispatch(self, user, which, officer, due_days, note):
        """user, officer: mostly those who may (an officer of the site's district), or anyone."""
        warning_id = self.warnings[which] if which < len(self.warnings) else 999
        site = SITES[which] if which < len(SITES) else None
        officer = ("zhao" if site == "s3" else "li") if officer == "$district" else officer
        actor = ACTORS[user]
        o = self.attempt(lambda i: W.dispatch(self.storage, actor, i, officer, note,
                                              self.now_ms + due_days * DAY_MS, self.now_ms, contacts=CONTACTS),
                         warning_id, 999_999, actor, site)
        if site is None:
            return
        if o is not None:
            self.steps.append("dispatch")
            assert actor.role in W.BY_ACTION["dispatch"].roles
            assert officer in CONTACTS.people_for(site, "officer")
            self.ids.append(o.id)

    @precondition(lambda self: self.ids)
    @rule(who=st.one_of(st.just("$right"), st.sampled_from(USERS)),
          pick=st.integers(0, 50), action=st.one_of(st.integers(0, 3), st.sampled_from(W.ACTIONS + ("fly",))),
          note=st.one_of(st.just("ok"), NOTES), hazard=st.one_of(st.just(True), st.sampled_from([False, None])),
          due_days=st.one_of(st.just(2), st.sampled_from([None, -1])))
    def advance(self, who, pick, action, note, hazard, due_days):
        """who: anyone, or one of the roles the step is for (the order's own officer); action: a name, or (a
        number) one of the steps the table allows from the order's state: so that orders get far."""
        order_id = self.ids[pick % len(self.ids)] if pick < 45 else 10_000 + pick
        site = self.site_of_order(order_id)
        before = W.order(self.storage, ACTORS["adm"], order_id) if site else None
        if isinstance(action, int):
            allowed = [t.action for t in W.TRANSITIONS if before and before.state in t.sources] or ["close"]
            action = allowed[action % len(allowed)]
        if who == "$right":
            roles = W.BY_ACTION[action].roles if action in W.BY_ACTION else ()
            who = (before.officer if before else "li") if W.OFFICER in roles else "op"
        user = who
        actor = ACTORS[user]
        due_ms = None if due_days is None else self.now_ms + due_days * DAY_MS
        o = self.attempt(lambda i: W.advance(self.storage, actor, i, action, self.now_ms, note=note,
                                             hazard=hazard, due_ms=due_ms), order_id, 999_999, actor, site)
        if o is not None:
            t = W.BY_ACTION[action]
            assert before.state in t.sources and o.state == t.target and actor.role in t.roles
            self.steps.append(action)

    @rule(days=st.sampled_from([0, 1, 3]))
    def tick(self, days):
        self.now_ms += days * DAY_MS

    @invariant()
    def every_order_is_explained_by_its_history_and_audit(self):
        def read(x):
            return (x("SELECT id, state FROM work_orders").fetchall(),
                    x("SELECT order_id, action, from_state, to_state FROM order_history ORDER BY id").fetchall(),
                    x("SELECT target, action FROM audit_log ORDER BY id").fetchall())

        orders, steps, audit = self.storage.read(read)
        for order_id, state in orders:
            own = [s for s in steps if s[0] == order_id]
            assert own[0][1:3] == ("dispatch", None)
            for previous, following in zip(own, own[1:]):
                assert following[2] == previous[3], "history of order %d is not a chain" % order_id
                t = W.BY_ACTION[following[1]]
                assert previous[3] in t.sources and following[3] == t.target
            assert own[-1][3] == state
            if state == W.CLOSED:
                assert own[-2][1:] == ("verify", own[-2][2], W.VERIFIED), "order %d closed unverified" % order_id
            assert [a[1] for a in audit if a[0] == "order %d" % order_id] == ["order." + s[1] for s in own]
        assert len([a for a in audit if a[0].startswith("order ")]) == len(steps)
        # A dispatch that acknowledged its warning audits that too, on the warning (the warning's own trail).
        assert all(a[1] == "acknowledge" for a in audit if not a[0].startswith("order "))


TestWorkOrderMachine = WorkOrderMachine.TestCase
TestWorkOrderMachine.settings = settings(max_examples=200, stateful_step_count=60, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])


# --- the CLI ---

@pytest.fixture
def contacts_file(tmp_path):
    path = tmp_path / "contacts.yaml"
    path.write_text(yaml.safe_dump(CONTACTS_DOC), encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def test_the_cli_dispatches_steps_lists_and_refuses_clearly(tmp_path, contacts_file):
    db = str(tmp_path / "platform.sqlite")
    storage, (w1, _, _) = fresh(db)
    storage.close()
    due = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    common = ["--db", db, "--contacts", contacts_file]

    def run(*args):
        return CliRunner().invoke(platform, list(args), catch_exceptions=False)

    result = run("order", "dispatch", str(w1), "--officer", "li", "--due", due, "--as", "op", *common)
    assert result.exit_code == 0, result.output
    assert "order 1 dispatched to li for warning %d" % w1 in result.output
    result = run("order", "close", "1", "--as", "op", *common)
    assert result.exit_code == 1 and "order 1 is dispatched: close needs an order verified" in result.output
    result = run("order", "find", "1", "--as", "li", "--note", "漏气 leak", "--hazard", *common)
    assert result.exit_code == 0 and "order 1: checked on site" in result.output
    result = run("order", "rectify", "1", "--as", "li", "--due", due, *common)
    assert result.exit_code == 0 and "order 1: rectifying" in result.output
    result = run("orders", "--state", "rectifying", "--as", "own1", *common)
    assert result.exit_code == 0 and "rectifying" in result.output and "整改中" not in result.output and "s1/kitchen-1" in result.output
    result = run("orders", "--as", "own2", *common)
    assert "no work orders" in result.output
    result = run("order", "show", "1", "--as", "own2", *common)
    assert result.exit_code == 1 and "no work order 1 among the sites of own2" in result.output
    result = run("orders", "--as", "nobody", *common)
    assert result.exit_code == 1 and "'nobody' has no role in %s" % contacts_file in result.output
    result = run("order", "dispatch", str(w1), "--officer", "li", "--due", "12/31/2026", "--as", "op", *common)
    assert result.exit_code == 2 and "expected a date YYYY-MM-DD" in result.output
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    result = run("order", "photo", "1", str(photo), "--as", "own1", *common)
    assert result.exit_code == 0 and "photo 1 added to order 1" in result.output
    out = tmp_path / "ledger.csv"
    result = run("ledger", "--format", "csv", "--out", str(out), "--as", "li", *common)
    assert result.exit_code == 0 and "1 hazard written" in result.output
    assert "漏气 leak" in out.read_text(encoding="utf-8-sig")
