"""What the event store remembers of reminders, so that a restart neither repeats nor forgets one.

The core raises each lifecycle reminder once per stage and the daily check's `missed` once per day; it knows
what it said only for the current run. At start the unit hands it the last maintenance_due stage of each
reminder and the last daily_check record from the store.
"""

from __future__ import annotations

from gaslatch.core import events as E

# Reminders change stage a few times a year: years of them fit in this many rows.
RECALL_LIMIT = 5000


def remembered(store) -> tuple[dict[str, tuple[str, str]], tuple[str, str, str] | None]:
    """(maintenance_due source -> (last stage, the due date it named), (state, date, source: who confirmed it) of the
    last daily_check or None); empty if unreadable."""
    announced: dict[str, tuple[str, str]] = {}
    last_check = None
    try:
        # Apart: the daily checks (one or two a day) must not push a reminder announced years ago out of the limit.
        records = store.query(types=[E.MAINTENANCE_DUE], limit=RECALL_LIMIT) + store.query(types=[E.DAILY_CHECK],
                                                                                           limit=1)
    except Exception:  # a store that cannot be read: remind again rather than not at all
        return announced, None
    for record in records:
        if record["type"] == E.MAINTENANCE_DUE:
            announced[record["source"]] = (record["state"], record["value"])
        elif isinstance(record["value"], str):
            last_check = (record["state"], record["value"], record["source"])
    return announced, last_check
