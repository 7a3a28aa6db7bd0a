"""What the event store remembers of reminders, so that a restart neither repeats nor forgets one.

The core raises each lifecycle reminder once per stage and the daily check's `missed` once per day; it knows
what it said only for the current run. At start the unit hands it the last maintenance_due stage of each
reminder and the last daily_check record from the store.
"""

from __future__ import annotations

from gaslatch.core import events as E
from gaslatch.core.daily_check import RECORDED_DAYS

# Reminders change stage a few times a year: years of them fit in this many rows.
RECALL_LIMIT = 5000


def remembered(store) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, str]]]:
    """(maintenance_due source -> (last stage, the due date it named), [(state, date, source: who confirmed it) of
    the last daily_check events, oldest first]); empty if unreadable. Several checks, not only the last: after a
    clock set back across midnight a day already recorded must still be known."""
    announced: dict[str, tuple[str, str]] = {}
    checks: list[tuple[str, str, str]] = []
    try:
        # Apart: the daily checks (one or two a day) must not push a reminder announced years ago out of the limit.
        records = store.query(types=[E.MAINTENANCE_DUE], limit=RECALL_LIMIT) + store.query(types=[E.DAILY_CHECK],
                                                                                           limit=RECORDED_DAYS)
    except Exception:  # a store that cannot be read: remind again rather than not at all
        return announced, []
    for record in records:
        if record["type"] == E.MAINTENANCE_DUE:
            announced[record["source"]] = (record["state"], record["value"])
        elif isinstance(record["value"], str):
            checks.append((record["state"], record["value"], record["source"]))
    return announced, checks
