"""Whether each work order is past its due date (逾期), as the warning rules see it: overdue, due (its due date still
to come) or done (no due date runs), so that an overdue rectification raises a warning and the owner is told.

Pure verdicts over an order (work_orders.Order) and the one check the notifier's step runs on its injected clock,
inside its transaction (check_in), which warning_store.observe_in turns into warnings opened and cleared.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from gaslatch.core import events as E
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform import work_orders as W
from gaslatch_tools.platform.rules import Occurrence, Rules

TYPE = "work_order"  # the occurrence type (rules.PLATFORM_TYPES)
OVERDUE, DUE, DONE = "overdue", "due", "done"  # its states

Execute = Callable[..., Any]


def verdict(order: W.Order, now_ms: int) -> str:
    """overdue: its due date passed while the site check, the decision after it or the rectification waits; due:
    one of those waits and its due date is still to come; done: none does (rectified, verified, closed)."""
    if order.overdue(now_ms):
        return OVERDUE
    return DUE if order.state in W.DEADLINE_STATES else DONE


def due_text(due_ms: int, tz: datetime.tzinfo) -> str:
    """A due date as people gave it: the day, when it is the last ms of one (local time: `--due 2026-12-10`), else
    the day and time."""
    after = datetime.datetime.fromtimestamp((due_ms + 1) / 1000, tz)
    if after.time() == datetime.time(0):
        return (after - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
    return datetime.datetime.fromtimestamp(due_ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def source(order_id: int) -> str:
    """The occurrence's source, and so the warning's cause as lists show it: one warning per order."""
    return "order %d" % order_id


def occurrence(order: W.Order, state: str, now_ms: int, tz: datetime.tzinfo) -> Occurrence:
    """The verdict as the rules see it, at the order's site and unit; its reason names the due date (in the rules'
    time zone), the officer and the order's state."""
    reason = "due %s (%s), officer %s, %s" % (due_text(order.due_ms, tz), getattr(tz, "key", "UTC"), order.officer,
                                              order.state)
    severity = E.SEVERITY_WARNING if state == OVERDUE else E.SEVERITY_INFO
    return Occurrence(order.site, order.unit, TYPE, severity, source(order.id), state, None, reason,
                      "%s:%d" % (state, now_ms), None, None, now_ms)


def check_in(x: Execute, rules: Rules, now_ms: int) -> tuple[int, int]:
    """Opens the warning of every overdue order that has none, and clears those of orders no longer overdue (done,
    or given a new due date), inside the caller's transaction; returns (opened, cleared).

    It looks at every order not closed, and at those closed since its oldest active warning opened: an order was
    overdue, so not closed, when its warning opened."""
    names = rules.rules_for(TYPE)
    if not names:
        return 0, 0
    active = WS.active_in(x, names)
    since_ms = min((a.opened_ms for a in active.values()), default=None)
    found = [occurrence(o, verdict(o, now_ms), now_ms, rules.tz) for o in W.watched_in(x, since_ms)]
    return WS.observe_in(x, rules, active, found)


def check(storage, rules: Rules, now_ms: int) -> tuple[int, int]:
    """check_in() in a transaction of its own."""
    return storage.write(lambda x: check_in(x, rules, now_ms))
