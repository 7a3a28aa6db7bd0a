"""The daily check (每日检查) on an injected calendar: missed once at due_by, confirmed with every item, hostile
arguments refused with nothing recorded, and a restart that neither forgets a confirmation nor repeats a miss."""

from hypothesis import given, settings
from hypothesis import strategies as st

from gaslatch.core import civil_date as C
from gaslatch.core import commands as K
from gaslatch.core.config import load_config
from gaslatch.core.controller import Controller
from gaslatch.core.detector_profile import list_profiles, load_profile

PROFILES = dict((name, load_profile(name)) for name in list_profiles())
KINDS = dict((name, profile.kind) for name, profile in PROFILES.items())
ITEMS = ["stove", "hose", "valve", "detector_lamps"]
MONDAY = C.parse("2026-12-07")


def controller(last=None, schedule=None, **daily):
    document = {"unit": {"site": "s", "name": "u"},
                "detectors": {"d1": {"kind": "contact", "line": "gas_contact"}},
                "daily_check": dict({"enabled": True}, **daily)}
    if schedule:
        document["schedule"] = {"enabled": True, "attended": schedule}
    return Controller(load_config(document, KINDS), PROFILES, 0, last_daily_check=last)


class Day:
    """Drives a controller through local days and minutes; collects the daily_check events."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.t_ms = 0
        self.events = []

    def at(self, day, hhmm):
        self.t_ms += 100
        minute = int(hhmm[:2]) * 60 + int(hhmm[3:])
        result = self.ctl.step(self.t_ms, inputs={"gas_contact": False}, wall=(C.weekday(day), minute), today=day)
        self.events.extend(e for e in result.events if e["type"] == "daily_check")
        return self

    def confirm(self, items, source="panel operator"):
        reply = self.ctl.command(self.t_ms, "daily_check", {"items": items}, source)
        self.events.extend(e for e in self.ctl.drain_events() if e["type"] == "daily_check")
        return reply

    def states(self):
        return [(e["state"], e["value"], e["source"], e["severity"]) for e in self.events]


def test_a_day_without_a_confirmation_is_missed_once_at_due_by_and_a_late_one_clears_it():
    d = Day(controller())
    d.at(MONDAY, "08:00").at(MONDAY, "10:59")
    assert d.events == [] and d.ctl.status(0)["daily_check"]["today"] == "pending"
    d.at(MONDAY, "11:00").at(MONDAY, "11:01").at(MONDAY, "23:59")
    assert d.states() == [("missed", "2026-12-07", "daily_check", "warning")]
    assert d.events[0]["reason"] == "daily check not confirmed by 11:00: stove, hose, valve, detector_lamps"
    assert d.ctl.status(0)["daily_check"]["today"] == "missed"
    assert d.confirm(ITEMS) == {"ok": True, "message": "daily check recorded for 2026-12-07"}
    assert d.states()[-1] == ("done", "2026-12-07", "panel operator", "info")
    assert d.events[-1]["reason"] == "daily check confirmed by panel operator (late): stove, hose, valve, " \
                                     "detector_lamps"
    status = d.ctl.status(0)["daily_check"]
    assert (status["today"], status["done_by"]) == ("done", "panel operator")


def test_a_check_confirmed_in_the_morning_raises_nothing_and_a_second_one_records_nothing():
    d = Day(controller())
    d.at(MONDAY, "08:30")
    assert d.confirm(ITEMS)["ok"]
    assert d.confirm(list(reversed(ITEMS))) == {"ok": True, "message": "already confirmed today by panel operator; "
                                                                       "nothing recorded"}
    d.at(MONDAY, "11:00").at(MONDAY, "18:00")
    assert [s[0] for s in d.states()] == ["done"]
    d.at(MONDAY + 1, "11:00")  # the next day needs its own check
    assert [s[:2] for s in d.states()] == [("done", "2026-12-07"), ("missed", "2026-12-08")]


def test_closed_days_ask_for_no_check():
    weekdays = [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "22:00"}]
    d = Day(controller(schedule=weekdays))
    saturday = MONDAY + 5
    d.at(saturday, "12:00").at(saturday + 1, "12:00")
    assert d.events == [] and d.ctl.status(0)["daily_check"]["today"] == "not_today"
    d = Day(controller(days=["mon"], due_by="15:30"))
    d.at(MONDAY + 1, "16:00").at(MONDAY + 7, "15:29")
    assert d.events == []
    d.at(MONDAY + 7, "15:30")
    assert d.states()[0][:2] == ("missed", "2026-12-14")


def test_a_restart_remembers_the_days_check_and_its_miss():
    done = Day(controller(last=("done", "2026-12-07")))
    done.at(MONDAY, "12:00")
    assert done.events == [] and done.ctl.status(0)["daily_check"]["today"] == "done"
    missed = Day(controller(last=("missed", "2026-12-07")))
    missed.at(MONDAY, "12:00").at(MONDAY, "13:00")
    assert missed.events == []
    old = Day(controller(last=("done", "2026-12-06")))
    old.at(MONDAY, "12:00")
    assert [s[0] for s in old.states()] == ["missed"]


def test_refusals_change_nothing():
    d = Day(controller())
    d.at(MONDAY, "09:00")
    assert d.confirm(["stove", "hose"]) == {"ok": False, "error": "tick every item to confirm the check; not "
                                                                  "ticked: valve, detector_lamps"}
    assert d.confirm(ITEMS + ["oven"])["error"] == "no such item in the daily check: oven (items: stove, hose, " \
                                                   "valve, detector_lamps)"
    off = Day(controller(enabled=False))
    off.at(MONDAY, "09:00")
    assert off.confirm(ITEMS)["error"].startswith("the daily check is not enabled")
    no_clock = Day(controller())
    no_clock.ctl.step(100, inputs={"gas_contact": False}, wall=None, today=None)
    assert no_clock.confirm(ITEMS)["error"].startswith("the unit's clock is not set")
    assert d.events == off.events == no_clock.events == []
    assert d.ctl.status(0)["daily_check"]["today"] == "pending"


def test_the_check_is_local_only_and_needs_the_operator_level():
    assert K.COMMANDS["daily_check"].channels == (K.LOCAL,) and K.COMMANDS["daily_check"].level == K.OPERATOR
    d = Day(controller())
    d.at(MONDAY, "09:00")
    reply = d.ctl.command(d.t_ms, "daily_check", {"items": ITEMS}, "platform", K.REMOTE)
    assert not reply["ok"] and d.ctl.drain_events() == []


HOSTILE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=40) | st.sampled_from(
    ["\x00", "\ud800", "stove\n", "‮stove", "a" * 5000, ""])
HOSTILE = st.one_of(
    st.none(), st.integers(), st.text(max_size=20), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.lists(HOSTILE_TEXT, max_size=40), st.lists(st.one_of(st.integers(), st.none(), st.lists(st.text())), max_size=5),
    st.recursive(st.lists(st.text(max_size=3), max_size=3), lambda inner: st.lists(inner, max_size=3), max_leaves=30))


@settings(max_examples=300, deadline=None)
@given(items=HOSTILE, extra=st.dictionaries(st.text(max_size=8), st.integers(), max_size=2))
def test_any_arguments_get_an_answer_and_record_a_check_only_when_every_item_is_ticked(items, extra):
    d = Day(controller())
    d.at(MONDAY, "09:00")
    args = dict(extra, items=items)
    reply = d.ctl.command(d.t_ms, "daily_check", args, "panel operator")
    recorded = [e for e in d.ctl.drain_events() if e["type"] == "daily_check"]
    complete = isinstance(items, list) and all(isinstance(i, str) for i in items) \
        and sorted(items) == sorted(ITEMS) and set(args) == {"items"}
    assert reply["ok"] == complete and len(recorded) == (1 if complete else 0)
    assert isinstance(reply.get("message") or reply.get("error"), str)


def test_a_clock_set_back_a_day_and_forward_again_records_no_day_twice():
    # Found by attack16: only the last recorded day was remembered, so a clock a day ahead that is corrected back
    # (and a Pi restarting on fake-hwclock's old time before NTP) raised a second `missed` for a day already
    # missed, and a day confirmed before the jump was reported missed as well.
    d = Day(controller())
    d.at(MONDAY, "11:30")  # Monday missed
    d.at(MONDAY + 1, "11:30")  # the clock a day ahead: Tuesday "missed" (a wrong clock cannot be helped)
    d.at(MONDAY, "11:40").at(MONDAY + 1, "11:50").at(MONDAY, "12:00")  # set back, forward, back again
    assert [s[:2] for s in d.states()] == [("missed", "2026-12-07"), ("missed", "2026-12-08")]
    assert d.ctl.status(0)["daily_check"]["today"] == "missed"
    d.at(C.parse("2099-03-02"), "12:00").at(MONDAY, "12:30")  # a glitch far ahead, corrected
    assert [s[:2] for s in d.states()][2:] == [("missed", "2099-03-02")]
    d = Day(controller())
    d.at(MONDAY, "09:00")
    assert d.confirm(ITEMS)["ok"]
    d.at(MONDAY + 1, "09:00")
    assert d.confirm(ITEMS)["ok"]  # confirmed on the wrong day
    d.at(MONDAY, "11:30")  # the clock corrected: Monday was confirmed
    assert [s[:2] for s in d.states()] == [("done", "2026-12-07"), ("done", "2026-12-08")]
    assert d.ctl.status(0)["daily_check"]["today"] == "done"
    assert d.confirm(ITEMS)["message"].startswith("already confirmed today")


def test_after_a_restart_the_status_still_says_who_confirmed_the_days_check():
    # Found by attack16: the store's last daily_check gave only (state, date), so after a restart the day's check
    # was "done" by nobody: `gaslatch status` printed "done today by " and the panel dropped the name.
    from gaslatch.unit.status_text import status_text

    d = Day(controller(last=("done", "2026-12-07", "panel operator")))
    d.at(MONDAY, "12:00")
    status = d.ctl.status(0)
    assert (status["daily_check"]["today"], status["daily_check"]["done_by"]) == ("done", "panel operator")
    assert "Daily check (每日检查): done today by panel operator\n" in status_text({"ok": True, "status": status})
    assert d.confirm(ITEMS)["message"] == "already confirmed today by panel operator; nothing recorded"
    # An older store record without the name: no dangling "by".
    old = Day(controller(last=("done", "2026-12-07")))
    old.at(MONDAY, "12:00")
    assert "Daily check (每日检查): done today\n" in status_text({"ok": True, "status": old.ctl.status(0)})


def test_a_check_that_can_never_be_due_or_is_due_before_the_kitchen_opens_is_refused():
    # Found by attack16: "days": [] (or check days on which no attended period starts) was accepted with the check
    # enabled, so it was silently never due; and the default due_by 11:00 with a kitchen that opens at 16:00 was
    # accepted, so the check was "missed" every day before anyone was in and the owner warned for nothing.
    from gaslatch.core.config import ConfigError

    def problems(schedule=None, **daily):
        try:
            controller(schedule=schedule, **daily)
        except ConfigError as err:
            return [(problem.path, problem.message) for problem in err.problems]
        return []

    assert problems(days=[]) == [("$.daily_check.days", "the daily check is enabled but due on no day, so it is "
                                                        "never missed")]
    weekdays = [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "22:00"}]
    assert [p[0] for p in problems(weekdays, days=["sat", "sun"])] == ["$.daily_check.days"]
    dinner = [{"days": ["mon", "tue"], "from": "10:00", "to": "14:00"},
              {"days": ["wed"], "from": "16:00", "to": "23:00"}]
    assert problems(dinner) == [("$.daily_check.due_by", "the check is due by 11:00 but the kitchen opens at that "
                                 "time or later on wed (16:00): it would be missed there every week before anyone "
                                 "is in")]
    assert problems(dinner, due_by="16:30") == [] and problems(dinner, days=["mon", "tue"]) == []
    assert problems(weekdays) == [] and problems() == []
    assert problems(days=[], enabled=False) == []  # with the check off nothing is refused


def test_a_restart_with_the_clock_set_back_across_midnight_records_no_day_twice():
    # Found by attack16: only the store's last daily_check came back at start, so a restart with the clock behind
    # the last record (fake-hwclock's saved time before NTP, a clock a day ahead corrected) no longer knew the day
    # before: Monday, confirmed at 09:00, was reported missed after Tuesday's miss and a restart on Monday's time.
    history = [("done", "2026-12-07", "panel operator"), ("missed", "2026-12-08", "daily_check")]
    d = Day(controller(last=history))
    d.at(MONDAY, "23:00").at(MONDAY + 1, "12:00")
    assert d.events == []
    status = d.ctl.status(0)["daily_check"]
    assert status["today"] == "missed"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([30, 60, 120, 600, 1440, 0, -60, -1440]), st.booleans(),
                          st.integers(0, 19)), max_size=80))
def test_no_day_is_recorded_twice_whatever_the_clock_confirmations_and_restarts(moves):
    """Clock jumps either way, confirmations and restarts (with the store's last records): each (state, day) at most
    once, and never a miss after the day's confirmation."""
    d = Day(controller())
    day, minute = MONDAY, 8 * 60
    for step, confirm, restart in moves:
        day, minute = day + (minute + step) // 1440, (minute + step) % 1440
        if restart == 0:
            history = d.events
            d = Day(controller(last=[(e["state"], e["value"], e["source"]) for e in history][-62:]))
            d.events = history
        d.at(day, "%02d:%02d" % divmod(minute, 60))
        if confirm:
            d.confirm(ITEMS)
    recorded = [(e["state"], e["value"]) for e in d.events]
    assert len(recorded) == len(set(recorded)), recorded
    for state, value in recorded:
        if state == "missed" and ("done", value) in recorded:
            assert recorded.index(("missed", value)) < recorded.index(("done", value)), recorded
