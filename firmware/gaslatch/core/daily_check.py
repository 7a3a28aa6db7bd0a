"""The daily check (每日检查): kitchen staff confirm the checklist once a day, and a missed check is an event.

Pure: fed today's local day number and minute of day (None while the clock is not set). A check day is one of
the configured days on which the kitchen is attended (when attended hours are configured); by `due_by` on a
check day the list must have been confirmed, else one `daily_check` event `missed` (a warning the platform
shows to the owner). A confirmation must tick every item and is one `daily_check` event `done` naming who
confirmed it (the panel and its PIN level). The last check recorded before a restart comes back through `last`
(the unit reads it from its event store), so a restart neither forgets a confirmation nor repeats a `missed`.
It never changes the gas: a forgotten checklist is a management matter, not a leak.
"""

from gaslatch.core import civil_date as C
from gaslatch.core import events as E
from gaslatch.core.schedule import DAYS, parse_hhmm

DONE = "done"
MISSED = "missed"
PENDING = "pending"
NOT_TODAY = "not_today"
OFF = "off"
CLOCK_UNKNOWN = "clock_unknown"
SOURCE = "daily_check"
RECORDED_DAYS = 62  # the days last recorded (done or missed) that a run remembers


class DailyCheck:
    def __init__(self, cfg, last=None):
        """cfg: the whole normalised config; last: (state, 'YYYY-MM-DD'[, source]) of the latest daily_check event, or
        a list of them, oldest first (the store's last RECORDED_DAYS), or None; a done event's source is who
        confirmed it."""
        section = cfg["daily_check"]
        self.enabled = section["enabled"]
        self.items = [dict(item) for item in section["items"]]
        self.ids = [item["id"] for item in self.items]
        self.due_by_text = section["due_by"]
        self.due_by = parse_hhmm(section["due_by"])
        days = set(DAYS.index(day) for day in section["days"])
        if cfg["schedule"]["enabled"]:
            opened = set()
            for period in cfg["schedule"]["attended"]:
                opened.update(DAYS.index(day) for day in period["days"])
            days &= opened
        self.days = days
        self.done_day = None
        self.done_by = ""
        # Day number -> DONE or MISSED for the days recorded lately (not only the last one: a clock set back a day
        # and forward again, or corrected from a glitch far ahead, must not record a day twice).
        self.recorded = {}
        self._order = []  # the days of `recorded` in the order they were noted
        for record in (last if isinstance(last, list) else [last] if last is not None else []):
            if not isinstance(record, (tuple, list)) or len(record) < 2 or record[0] not in (DONE, MISSED):
                continue
            day = C.parse(record[1])
            if day is None:
                continue
            self._note(day, record[0])
            if record[0] == DONE:
                self.done_day = day
                self.done_by = record[2] if len(record) > 2 and isinstance(record[2], str) else ""

    def _note(self, day, state):
        if day not in self.recorded:
            self._order.append(day)
            if len(self._order) > RECORDED_DAYS:  # the oldest noted goes, whatever the clock said then
                del self.recorded[self._order.pop(0)]
        self.recorded[day] = state

    def is_check_day(self, today):
        return C.weekday(today) in self.days

    def update(self, now_ms, today, minute, log):
        """A `missed` event once, at due_by on a check day without a confirmation."""
        if not self.enabled or today is None or minute is None:
            return
        if minute >= self.due_by and self.is_check_day(today) and today not in self.recorded:
            self._note(today, MISSED)
            log.emit(now_ms, E.DAILY_CHECK, E.SEVERITY_WARNING, SOURCE, MISSED, C.text(today),
                     "daily check not confirmed by %s: %s" % (self.due_by_text, ", ".join(self.ids)))

    def confirm(self, now_ms, today, minute, ticked, source, log):
        """Record a confirmation by `source` ticking the item ids `ticked`: (ok, text); refused changes nothing."""
        if not self.enabled:
            return False, "the daily check is not enabled on this unit (config daily_check.enabled)"
        if today is None:
            return False, "the unit's clock is not set, so the check cannot be dated; nothing recorded"
        unknown = sorted(set(ticked) - set(self.ids))
        if unknown:
            return False, "no such item in the daily check: %s (items: %s)" % (", ".join(unknown), ", ".join(self.ids))
        missing = [item for item in self.ids if item not in ticked]
        if missing:
            return False, "tick every item to confirm the check; not ticked: %s" % ", ".join(missing)
        if self.recorded.get(today) == DONE:
            return True, "already confirmed today%s; nothing recorded" % (" by " + self.done_by if self.done_by else "")
        late = self.recorded.get(today) == MISSED
        self._note(today, DONE)
        self.done_day = today
        self.done_by = source
        log.emit(now_ms, E.DAILY_CHECK, E.SEVERITY_INFO, source, DONE, C.text(today),
                 "daily check confirmed by %s%s: %s" % (source, " (late)" if late else "", ", ".join(self.ids)))
        return True, "daily check recorded for %s" % C.text(today)

    def today_state(self, today, minute):
        if not self.enabled:
            return OFF
        if today is None:
            return CLOCK_UNKNOWN
        if self.recorded.get(today) == DONE:
            return DONE
        if not self.is_check_day(today):
            return NOT_TODAY
        late = minute is not None and minute >= self.due_by
        return MISSED if self.recorded.get(today) == MISSED or late else PENDING

    def status(self, today, minute):
        return {"enabled": self.enabled, "today": self.today_state(today, minute), "due_by": self.due_by_text,
                "items": [dict(item) for item in self.items],
                "done_by": self.done_by if today is not None and self.done_day == today else ""}
