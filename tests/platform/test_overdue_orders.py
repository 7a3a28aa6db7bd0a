"""Overdue rectifications escalate (整改逾期): a work order past its due date opens one grade-3 warning, told to the
owner and, unacknowledged after a day, to the officer; it clears when the order is rectified, verified or closed, or
given a new due date. The orders' steps go through work_orders, the check through the notifier's step on an injected
clock: no sleeps. Storage-dependent tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime
import threading
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaslatch_tools.platform import contacts as C
from gaslatch_tools.platform import liveness as L
from gaslatch_tools.platform import notifier as N
from gaslatch_tools.platform import overdue as OV
from gaslatch_tools.platform import rules as R
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform import work_orders as W
from gaslatch_tools.platform.access import actor_for
from gaslatch_tools.platform.rules import Occurrence
from gaslatch_tools.platform.storage import SqliteStorage, open_storage

ROOT = Path(__file__).resolve().parents[2]
RULES = R.load(str(ROOT / "deploy" / "platform" / "warning-rules.yaml"))
RULE = "rectification_overdue"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
T0_MS = int(datetime.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI).timestamp() * 1000)  # a Tuesday, 10:00 local
S, MIN, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000
CHECK = L.CHECK_EVERY_MS
SITES = ("s1", "s2", "s3")
PEOPLE = ("own1", "own2", "own3", "li", "op", "adm")
CONTACTS = C.build({
    "version": 1,
    "people": {p: {"name": p, "channels": {"robot": "json://robot.invalid/%s" % p}} for p in PEOPLE},
    "districts": {"d1": {"officers": ["li"]}},
    "sites": {site: {"district": "d1", "owners": ["own%d" % (i + 1)]} for i, site in enumerate(SITES)},
    "duty_centre": ["op"], "administrators": ["adm"]})
ACTORS = {p: actor_for(CONTACTS, p) for p in PEOPLE}


def local_ms(*when: int) -> int:
    return int(datetime.datetime(*when, tzinfo=SHANGHAI).timestamp() * 1000)


class Desk:
    """Work orders on one trip warning per site, and a notifier stepping its checks, on one clock."""

    def __init__(self, storage, instance: str = "n1"):
        self.storage = storage
        self.now_ms = T0_MS
        self.sent: list[tuple[str, str, str]] = []  # (person, title, body)
        W.prepare(storage)
        found = [Occurrence(site, "kitchen-1", "trip", "alarm", "controller", "latched", None, "gas: hood1",
                            "e-%s" % site, None, None, T0_MS) for site in SITES]
        storage.write(lambda x: WS.apply(x, RULES, found))
        self.trips = {w.site: w.id for w in WS.warnings(storage)}
        self.notifier = N.Notifier(storage, RULES, CONTACTS, instance=instance, clock=lambda: self.now_ms / 1000,
                                   send=self._send)

    def _send(self, url: str, title: str, body: str) -> None:
        self.sent.append((url.rsplit("/", 1)[1], title, body))

    def step(self, after_ms: int = 0) -> None:
        self.now_ms += after_ms
        self.notifier.step()

    def step_until(self, end_ms: int, every_ms: int = 10 * MIN) -> None:
        """Steps every every_ms up to just before end_ms."""
        while self.now_ms + every_ms < end_ms:
            self.step(every_ms)

    def dispatch(self, due_ms: int, site: str = "s1") -> int:
        return W.dispatch(self.storage, ACTORS["op"], self.trips[site], "li", "", due_ms, self.now_ms,
                          contacts=CONTACTS).id

    def act(self, user: str, order_id: int, action: str, **fields) -> W.Order:
        return W.advance(self.storage, ACTORS[user], order_id, action, self.now_ms, **fields)

    def warnings(self, order_id: int | None = None, active_only: bool = True) -> list[WS.WarningRow]:
        return [w for w in WS.warnings(self.storage, active_only)
                if w.rule == RULE and (order_id is None or w.cause == OV.source(order_id))]

    def notices(self) -> list[tuple[str, str, str]]:
        """The overdue notices sent (the other sites' trips are told too)."""
        return [n for n in self.sent if "整改逾期" in n[1]]

    def told(self) -> list[str]:
        return [person for person, _, _ in self.notices()]


@pytest.fixture
def desk(platform_db):
    storage = open_storage(platform_db)
    yield Desk(storage)
    storage.close()


def test_the_shipped_rule_is_grade_3_one_warning_per_order_cleared_by_a_new_due_date_or_the_work_done():
    rule = RULES.by_name[RULE]
    assert (rule.grade, rule.title["zh"], rule.cause) == (3, "整改逾期", ("site", "unit", "source"))
    assert RULES.rules_for(OV.TYPE) == (RULE,)
    assert [sorted(m.states) for m in rule.clear_on] == [sorted((OV.DUE, OV.DONE))]


def test_an_order_past_its_due_date_opens_one_grade_3_warning_told_to_the_owner(desk):
    order = desk.dispatch(due_ms=T0_MS + HOUR)
    desk.step(HOUR)
    assert desk.warnings() == []  # due at this very ms: not yet past
    desk.step(CHECK)
    (w,) = desk.warnings()
    assert (w.grade, w.state, w.site, w.unit, w.cause, w.count) == (3, "open", "s1", "kitchen-1", "order %d" % order, 1)
    assert w.summary == "work_order overdue order %d: due 2026-12-01 11:00 (Asia/Shanghai), officer li, dispatched" % (
        order)
    assert desk.told() == ["own1"]  # in the same step: grade 3 tells the owner first
    ((_, title, body),) = desk.notices()
    assert "三级预警" in title and "s1/kitchen-1" in title and "order %d" % order in body and "officer li" in body


def test_an_order_due_by_the_end_of_a_day_is_told_after_the_quiet_hours_and_to_the_officer_a_day_later(desk):
    due = local_ms(2026, 12, 3) - 1  # --due 2026-12-02: the last ms of that day
    order = desk.dispatch(due_ms=due)
    desk.step(due - desk.now_ms + CHECK)
    (w,) = desk.warnings()
    assert "due 2026-12-02 (Asia/Shanghai)" in w.summary and desk.told() == []  # 00:00: the quiet hours hold it
    desk.step_until(local_ms(2026, 12, 3, 7))
    assert desk.told() == []
    desk.step(local_ms(2026, 12, 3, 7) - desk.now_ms)
    assert desk.told() == ["own1"]
    desk.step_until(local_ms(2026, 12, 4, 7))
    assert "li" not in desk.told() and set(desk.told()) == {"own1"}  # re-told every 4 h outside the quiet hours
    desk.step(local_ms(2026, 12, 4, 7) - desk.now_ms)
    assert desk.told()[-1] == "li" and [x.id for x in desk.warnings(order)] == [w.id]


def test_an_order_still_overdue_over_many_steps_keeps_one_warning_counted_once(desk):
    order = desk.dispatch(due_ms=T0_MS + MIN)
    desk.step(MIN + S)
    (w,) = desk.warnings()
    for _ in range(200):
        desk.step(CHECK)
    desk.step(3 * HOUR)
    assert [(x.id, x.count, x.state) for x in desk.warnings(active_only=False)] == [(w.id, 1, "open")]
    assert desk.told() == ["own1"]  # re-told after 4 h, not each check
    desk.step(HOUR)
    assert desk.told() == ["own1", "own1"] and len(desk.warnings(order, active_only=False)) == 1


def test_an_overdue_rectification_done_clears_its_warning_at_the_next_check(desk):
    order = desk.dispatch(due_ms=T0_MS + HOUR)
    desk.act("li", order, "find", note="软管老化 hose cracked", hazard=True)
    desk.act("li", order, "rectify", due_ms=T0_MS + 2 * HOUR)
    desk.step(2 * HOUR + S)
    (w,) = desk.warnings(order)
    desk.act("own1", order, "done", note="hose replaced")
    desk.step(CHECK)
    assert desk.warnings() == []
    (cleared,) = desk.warnings(order, active_only=False)
    assert (cleared.id, cleared.state, cleared.cleared_by) == (w.id, "cleared", "done:%d" % desk.now_ms)
    desk.act("li", order, "verify")
    desk.act("op", order, "close")
    for _ in range(20):
        desk.step(HOUR)
    assert len(desk.warnings(order, active_only=False)) == 1


def test_a_new_due_date_clears_the_warning_and_passing_it_too_opens_another(desk):
    order = desk.dispatch(due_ms=T0_MS + HOUR)
    desk.act("li", order, "find", note="valve stiff", hazard=True)
    desk.step(HOUR + S)
    (first,) = desk.warnings(order)  # overdue waiting for the officer's decision
    desk.act("li", order, "rectify", due_ms=desk.now_ms + HOUR)
    desk.step(CHECK)
    assert desk.warnings() == []
    desk.step(HOUR)
    (second,) = desk.warnings(order)
    assert second.id != first.id
    desk.act("own1", order, "done", note="valve replaced")
    desk.act("li", order, "reject", note="still stiff", due_ms=desk.now_ms + HOUR)  # before the next check
    desk.step(CHECK)
    assert desk.warnings() == []
    assert [w.cleared_by.split(":")[0] for w in desk.warnings(order, active_only=False)] == ["due", "due"]
    desk.step(HOUR)
    (third,) = desk.warnings(order)
    assert third.id not in (first.id, second.id) and len(desk.warnings(order, active_only=False)) == 3


def test_each_overdue_order_has_its_own_warning_at_its_own_site(desk):
    orders = {site: desk.dispatch(due_ms=T0_MS + HOUR * (i + 1), site=site) for i, site in enumerate(SITES)}
    desk.step(2 * HOUR + S)
    assert sorted((w.site, w.cause) for w in desk.warnings()) == [("s1", "order %d" % orders["s1"]),
                                                                  ("s2", "order %d" % orders["s2"])]
    desk.step(HOUR)
    assert sorted(desk.told()) == ["own1", "own2", "own3"]


def test_a_notifier_whose_clock_is_behind_does_not_clear_a_warning_another_one_opened(desk):
    order = desk.dispatch(due_ms=T0_MS + HOUR)
    due = T0_MS + HOUR
    assert OV.check(desk.storage, RULES, due + S) == (1, 0)
    assert OV.check(desk.storage, RULES, due - S) == (0, 0)  # the order is not overdue by its clock: stale
    assert OV.check(desk.storage, RULES, due + 2 * S) == (0, 0)
    assert len(desk.warnings(order, active_only=False)) == 1


def test_notifiers_checking_one_database_at_once_open_one_warning_per_order(platform_db):
    storages = [open_storage(platform_db) for _ in range(3)]
    try:
        desk = Desk(storages[0])
        orders = [desk.dispatch(due_ms=T0_MS + HOUR, site=site) for site in SITES]
        for s in storages[1:]:
            W.prepare(s)
        now = T0_MS + HOUR + S
        start = threading.Barrier(len(storages))
        results = []

        def check(storage):
            start.wait()
            for i in range(10):
                results.append(storage.write(lambda x: [c(x, RULES, now + i) for c in N.CHECKS]))

        threads = [threading.Thread(target=check, args=(s,)) for s in storages]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        overdue_check = N.CHECKS.index(OV.check_in)
        assert sum(r[overdue_check][0] for r in results) == len(orders)
        assert sorted(w.cause for w in desk.warnings(active_only=False)) == sorted(map(OV.source, orders))
    finally:
        for s in storages:
            s.close()


# --- the property: any sequence of the orders' steps and the clock ---

DUES = st.sampled_from([S, HOUR, DAY])
STEP = st.tuples(st.just("step"), st.integers(0, 5), st.integers(0, 5), st.booleans(), DUES)
OPS = st.lists(st.one_of(
    st.tuples(st.just("dispatch"), st.sampled_from(SITES), DUES),
    STEP, STEP,  # (step, which order, which of the steps its state allows, a hazard found, the due date's distance)
    st.tuples(st.just("wait"), st.sampled_from([1, S, CHECK, HOUR, DAY])),
    st.tuples(st.just("check"))), max_size=60)
BY = {"find": "li", "rectify": "li", "reject": "li", "verify": "li", "close": "op"}  # and done: the owner


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPS)
def test_an_active_overdue_warning_exists_for_an_order_exactly_while_it_is_overdue(tmp_path_factory, ops):
    storage = SqliteStorage(str(tmp_path_factory.mktemp("overdue") / "p.sqlite"))
    try:
        desk, orders = Desk(storage), []

        def check_agrees() -> None:
            OV.check(storage, RULES, desk.now_ms)
            for o in W.orders(storage, ACTORS["adm"]):
                active = desk.warnings(o.id)
                assert len(active) == int(o.overdue(desk.now_ms)), (o, active, desk.now_ms)

        for op in ops:
            if op[0] == "dispatch":
                if not any(W.order(storage, ACTORS["adm"], o).site == op[1] and W.order(storage, ACTORS["adm"], o).state
                           != W.CLOSED for o in orders):
                    orders.append(desk.dispatch(desk.now_ms + op[2], site=op[1]))
            elif op[0] == "wait":
                desk.now_ms += op[1]
            elif op[0] == "check":
                check_agrees()
            elif orders:
                _, which, choice, hazard, due = op
                order = W.order(storage, ACTORS["adm"], orders[which % len(orders)])
                allowed = [t.action for t in W.TRANSITIONS if order.state in t.sources]
                if not allowed:
                    continue
                action = allowed[choice % len(allowed)]
                user = "own%d" % (SITES.index(order.site) + 1) if action == "done" else BY[action]
                try:
                    desk.act(user, order.id, action, note="n", hazard=hazard, due_ms=desk.now_ms + due)
                except W.WorkOrderError:  # from found: rectify needs a hazard found, verify none
                    pass
        check_agrees()
    finally:
        storage.close()
