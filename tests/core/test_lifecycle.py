"""Lifecycle reminders on an injected calendar: each at the right day, once, and never again after a restart."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gaslatch.core import civil_date as C
from gaslatch.core import lifecycle as L
from gaslatch.core.config import load_config
from gaslatch.core.controller import Controller
from gaslatch.core.detector_profile import list_profiles, load_profile
from gaslatch.core.events import EventLog

PROFILES = dict((name, load_profile(name)) for name in list_profiles())
KINDS = dict((name, profile.kind) for name, profile in PROFILES.items())
DAY_MS = 86400000


def doc(installed="2026-01-10", calibrated=None, valve_installed="2016-03-01", **maintenance):
    hood = {"kind": "modbus", "bus": "b", "address": 1, "profile": "cn-generic", "model": "GT-100",
            "serial": "SN 0042"}
    if installed:
        hood["installed"] = installed
    if calibrated:
        hood["calibrated"] = calibrated
    out = {"unit": {"site": "s", "name": "u"}, "buses": {"b": {"port": "/dev/ttyUSB0"}},
           "detectors": {"hood1": hood, "wok2": {"kind": "modbus", "bus": "b", "address": 2, "profile": "cn-generic"}},
           "valve": {"installed": valve_installed} if valve_installed else {}}
    if maintenance:
        out["maintenance"] = maintenance
    return out


def controller(document, announced=None):
    return Controller(load_config(document, KINDS), PROFILES, 0, announced=announced)


def live(ctl, first, last, per_day=3):
    """Steps every day from `first` to `last` (texts), `per_day` scans a day: (day text, event) of each reminder."""
    out = []
    for day in range(C.parse(first), C.parse(last) + 1):
        for i in range(per_day):
            now_ms = day * DAY_MS + i * 3600000
            for event in ctl.step(now_ms, wall=(C.weekday(day), 8 * 60 + i), today=day).events:
                if event["type"] == "maintenance_due":
                    out.append((C.text(day), event))
    return out


def test_each_reminder_comes_once_on_its_day_soon_then_due():
    seen = live(controller(doc()), "2026-01-01", "2029-02-01")
    assert [(day, e["source"], e["state"], e["value"], e["severity"]) for day, e in seen] == [
        ("2026-01-30", "valve:end_of_life", "soon", "2026-03-01", "info"),  # 10 years, 30 days' notice
        ("2026-03-01", "valve:end_of_life", "due", "2026-03-01", "warning"),
        ("2026-06-09", "hood1:calibration", "soon", "2026-07-09", "info"),  # 180 days after installation
        ("2026-07-09", "hood1:calibration", "due", "2026-07-09", "warning"),
        ("2028-12-11", "hood1:end_of_life", "soon", "2029-01-10", "info"),  # 3 years (CJJ/T 146)
        ("2029-01-10", "hood1:end_of_life", "due", "2029-01-10", "warning"),
    ]
    assert seen[3][1]["reason"] == "hood1 calibration / bump test due today (installed 2026-01-10, every 180 days)"
    assert seen[4][1]["reason"] == ("hood1 end of life (replace) due 2029-01-10, in 30 days (installed 2026-01-10, "
                                    "3 years)")


def test_the_interval_and_the_notice_come_from_the_config():
    seen = live(controller(doc(calibrated="2026-05-01", valve_installed=None, calibration_interval_days=30,
                               notice_days=0)), "2026-05-01", "2026-06-15")
    assert [(day, e["source"], e["state"]) for day, e in seen] == [("2026-05-31", "hood1:calibration", "due")]


def test_a_restart_repeats_no_reminder_and_a_new_date_says_ok_once():
    first = controller(doc())
    seen = live(first, "2026-07-01", "2026-07-10")
    announced = dict((e["source"], e["state"]) for _, e in seen)
    assert announced == {"valve:end_of_life": "due", "hood1:calibration": "due"}
    assert live(controller(doc(), announced), "2026-07-10", "2026-07-20") == []
    # The fitter calibrates hood1 and pushes the date: one `ok` telling when the next is due.
    recalibrated = live(controller(doc(calibrated="2026-07-12"), announced), "2026-07-12", "2026-07-20")
    assert [(e["source"], e["state"], e["value"]) for _, e in recalibrated] == [
        ("hood1:calibration", "ok", "2027-01-08")]
    assert recalibrated[0][1]["reason"] == "hood1 calibration / bump test: next due 2027-01-08 (calibrated " \
                                           "2026-07-12, every 180 days)"


def test_without_a_clock_nothing_is_reminded_and_status_says_the_stage_is_unknown():
    ctl = controller(doc())
    for t in range(0, 10000, 100):
        assert not [e for e in ctl.step(t, wall=None, today=None).events if e["type"] == "maintenance_due"]
    rows = ctl.status(10000)["maintenance"]
    assert [(r["asset"], r["task"], r["due"], r["stage"]) for r in rows] == [
        ("hood1", "end_of_life", "2029-01-10", None), ("hood1", "calibration", "2026-07-09", None),
        ("valve", "end_of_life", "2026-03-01", None), ("wok2", "end_of_life", None, "unknown")]


def test_status_gives_each_reminders_stage_and_days_left():
    ctl = controller(doc())
    live(ctl, "2026-06-20", "2026-06-20")
    rows = dict(((r["asset"], r["task"]), r) for r in ctl.status(0)["maintenance"])
    assert rows["hood1", "calibration"]["stage"] == "soon" and rows["hood1", "calibration"]["days_left"] == 19
    assert rows["valve", "end_of_life"]["stage"] == "due" and rows["valve", "end_of_life"]["days_left"] < 0
    assert rows["wok2", "end_of_life"]["basis"] == "no install date recorded"


DATES = st.integers(C.parse("2015-01-01"), C.parse("2030-12-31"))


@settings(max_examples=150, deadline=None)
# One day back after soon was announced: the event holds soon, and so must status (found by hypothesis).
@example(installed=16436, interval=7, notice=1, steps=[(6, False, False), (-1, False, False)])
@given(installed=DATES, interval=st.integers(7, 365), notice=st.integers(0, 180),
       steps=st.lists(st.tuples(st.integers(-40, 400), st.booleans(), st.booleans()), min_size=1, max_size=40))
def test_any_calendar_gives_each_stage_change_once_and_status_agrees(installed, interval, notice, steps):
    """Days that jump forward and back (an NTP correction), clock losses and restarts in between: every event
    is a change of its reminder's stage from what was last announced, each matching the stage of its day."""
    cfg = load_config(doc(installed=C.text(installed), valve_installed=C.text(installed),
                          calibration_interval_days=interval, notice_days=notice), KINDS)
    announced = {}
    life = L.Lifecycle(cfg, announced)
    day = installed
    for jump, clock_lost, restart in steps:
        day = max(C.parse("2000-01-01"), min(C.parse("2099-01-01"), day + jump))
        if restart:
            life = L.Lifecycle(cfg, dict(announced))
        log = EventLog()
        life.update(0, None if clock_lost else day, log)
        for event in log.drain():
            asset, task = event["source"].split(":")
            due = [d for a, t, d, _ in L.reminders(cfg)[0] if (a, t) == (asset, task)][0]
            assert event["state"] == L.stage(due, day, notice) != announced.get(event["source"], L.OK)
            announced[event["source"]] = event["state"]
        if not clock_lost:
            for row in life.status():
                if row["stage"] != L.UNKNOWN:
                    assert row["stage"] == announced.get(L.source_of(row["asset"], row["task"]), L.OK)


def test_a_detector_named_valve_cannot_have_reminders_that_share_the_valves_source():
    # Found by attack16: a detector named "valve" with an install date raised "valve:end_of_life" like the valve
    # itself; once one was due and the other not, each day gave a due and an ok event (the platform's warning
    # opened and cleared daily, for ever). The config now refuses it.
    import pytest
    from gaslatch.core.config import ConfigError

    document = doc(installed="2026-01-10", valve_installed="2026-01-10")
    document["detectors"]["valve"] = document["detectors"].pop("hood1")
    with pytest.raises(ConfigError) as refused:
        controller(document)
    assert [problem.path for problem in refused.value.problems] == ["$.detectors.valve.installed"]
    # Without an install date it raises nothing, so an existing config naming a detector "valve" still loads.
    del document["detectors"]["valve"]["installed"]
    assert live(controller(document), "2035-12-01", "2036-01-20", per_day=1) == [
        (day, event) for day, event in live(controller(doc(installed=None, valve_installed="2026-01-10")),
                                            "2035-12-01", "2036-01-20", per_day=1)]


def steps(ctl, days):
    """One scan on each day of `days` (texts, in the order given): (day, source, state) of each reminder."""
    out = []
    for text in days:
        day = C.parse(text)
        for event in ctl.step(day * DAY_MS, wall=(C.weekday(day), 12 * 60), today=day).events:
            if event["type"] == "maintenance_due":
                out.append((text, event["source"], event["state"]))
    return out


def test_a_clock_that_goes_back_a_day_repeats_no_reminder_in_the_run_nor_after_a_restart():
    # Found by attack16: the stage was recomputed from the day and any change announced, so a clock set back across
    # a due date (a Pi restarting on fake-hwclock's saved time before NTP, a clock corrected) said "soon" again
    # and then "due" again: two more events and the platform's maintenance warnings opened twice more.
    ctl = controller(doc(valve_installed=None))
    assert steps(ctl, ["2026-06-09", "2026-07-09"]) == [("2026-06-09", "hood1:calibration", "soon"),
                                                       ("2026-07-09", "hood1:calibration", "due")]
    assert steps(ctl, ["2026-07-08", "2026-07-09", "2026-06-20", "2026-07-10"]) == []
    # After a restart the store gives the stage with the date it named (the event's value).
    restarted = controller(doc(valve_installed=None), {"hood1:calibration": ("due", "2026-07-09")})
    assert steps(restarted, ["2026-07-08", "2026-07-09"]) == []
    # A new date is no clock going back: the recalibration is still told once.
    recalibrated = controller(doc(calibrated="2026-07-08", valve_installed=None),
                              {"hood1:calibration": ("due", "2026-07-09")})
    assert steps(recalibrated, ["2026-07-08", "2026-07-09"]) == [("2026-07-08", "hood1:calibration", "ok")]
    # A clock far ahead (a glitch to 2099) corrected: the wrongly raised due is cleared with ok, then told again on
    # its real days.
    glitch = controller(doc(valve_installed=None))
    assert steps(glitch, ["2099-01-01", "2026-01-20", "2026-06-09", "2026-07-09"]) == [
        ("2099-01-01", "hood1:end_of_life", "due"), ("2099-01-01", "hood1:calibration", "due"),
        ("2026-01-20", "hood1:end_of_life", "ok"), ("2026-01-20", "hood1:calibration", "ok"),
        ("2026-06-09", "hood1:calibration", "soon"), ("2026-07-09", "hood1:calibration", "due")]


def test_a_reminder_the_config_no_longer_has_is_told_ok_once_so_the_platform_can_clear_it():
    # Found by attack16: a detector due for replacement that is replaced under a new name (or removed, or its install
    # date taken out) never had its reminder closed: the platform's maintenance_due warning stayed open for ever and
    # the district's past-end-of-life count kept counting a detector that is gone.
    announced = {"hood9:end_of_life": ("due", "2026-05-01"), "hood9:calibration": ("ok", "2027-01-01"),
                 "wok2:calibration": ("soon", "2026-07-09"), "hood1:calibration": ("due", "2026-07-09")}
    ctl = controller(doc(valve_installed=None), announced)
    assert steps(ctl, ["2026-07-10", "2026-07-11"]) == [("2026-07-10", "hood9:end_of_life", "ok"),
                                                       ("2026-07-10", "wok2:calibration", "ok")]
    again = dict(announced, **{"hood9:end_of_life": ("ok", None), "wok2:calibration": ("ok", None)})
    assert steps(controller(doc(valve_installed=None), again), ["2026-07-12"]) == []


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 1500), st.lists(st.tuples(st.sampled_from([1, 1, 2, 5, 0, -1, -2]), st.integers(0, 19)),
                                      max_size=150))
def test_no_reminder_stage_is_told_twice_for_the_same_date_whatever_small_clock_steps_and_restarts(start, moves):
    """Days forward, a day or two back (fake-hwclock), and restarts with what the store holds: each (reminder,
    stage, due date) at most once."""
    day = C.parse("2026-01-01") + start
    ctl = controller(doc())
    told = []
    announced = {}
    for step, restart in moves:
        day += step
        if restart == 0:
            ctl = controller(doc(), dict(announced))
        for event in ctl.step(day * DAY_MS, wall=(C.weekday(day), 600), today=day).events:
            if event["type"] == "maintenance_due":
                announced[event["source"]] = (event["state"], event["value"])
                told.append((event["source"], event["state"], event["value"]))
    assert len(told) == len(set(told)), told
