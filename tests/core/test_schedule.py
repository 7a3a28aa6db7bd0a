"""Weekly attended hours: periods, midnight crossing, and a clock we cannot trust."""

from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import schedule as S

EVERY_DAY = list(S.DAYS)


def test_inside_and_outside_a_daytime_period():
    sched = S.Schedule([{"days": ["mon"], "from": "10:00", "to": "22:00"}])
    assert sched.state((0, 10 * 60)) == S.ATTENDED
    assert sched.state((0, 22 * 60)) == S.UNATTENDED
    assert sched.state((1, 12 * 60)) == S.UNATTENDED


def test_a_period_past_midnight_belongs_to_the_day_it_starts():
    sched = S.Schedule([{"days": ["fri"], "from": "18:00", "to": "02:00"}])
    assert sched.state((4, 23 * 60)) == S.ATTENDED
    assert sched.state((5, 60)) == S.ATTENDED
    assert sched.state((5, 3 * 60)) == S.UNATTENDED
    assert sched.state((4, 60)) == S.UNATTENDED


def test_unset_clock_is_unknown():
    assert S.Schedule([]).state(None) == S.CLOCK_UNKNOWN


@given(st.one_of(st.none(), st.integers(), st.text(), st.tuples(st.integers(), st.integers()),
                 st.lists(st.one_of(st.integers(), st.text(), st.booleans()), max_size=3)))
def test_malformed_wall_time_is_unknown_never_attended_and_never_raises(wall):
    state = S.Schedule([{"days": EVERY_DAY, "from": "00:00", "to": "23:59"}]).state(wall)
    valid = (isinstance(wall, (tuple, list)) and len(wall) == 2
             and all(isinstance(v, int) and not isinstance(v, bool) for v in wall)
             and 0 <= wall[0] <= 6 and 0 <= wall[1] <= 1439)
    if not valid:
        assert state == S.CLOCK_UNKNOWN


PERIODS = st.lists(st.fixed_dictionaries({
    "days": st.lists(st.sampled_from(S.DAYS), min_size=1, max_size=7, unique=True),
    "from": st.integers(0, 1439).map(lambda m: "%02d:%02d" % divmod(m, 60)),
    "to": st.integers(0, 1439).map(lambda m: "%02d:%02d" % divmod(m, 60)),
}).filter(lambda p: p["from"] != p["to"]), max_size=4)


def brute_minutes_to_change(sched, wall):
    """Minute by minute through the week: the reference minutes_to_change() must agree with."""
    now = wall[0] * 1440 + wall[1]
    current = sched.state(wall)
    for delta in range(1, 7 * 1440 + 1):
        at = (now + delta) % (7 * 1440)
        if sched.state((at // 1440, at % 1440)) != current:
            return delta
    return None


@given(PERIODS, st.integers(0, 6), st.integers(0, 1439))
def test_the_time_left_to_the_next_change_agrees_with_a_minute_by_minute_walk(periods, weekday, minute):
    sched = S.Schedule(periods)
    assert sched.minutes_to_change((weekday, minute)) == brute_minutes_to_change(sched, (weekday, minute))


def test_the_time_left_before_the_kitchen_is_left_and_before_it_opens():
    sched = S.Schedule([{"days": ["mon", "tue"], "from": "08:00", "to": "22:00"}])
    assert sched.minutes_to_change((0, 21 * 60 + 30)) == 30  # attended, the gas goes off in 30 min
    assert sched.minutes_to_change((0, 23 * 60)) == 9 * 60  # opens at 08:00 on Tuesday
    assert sched.minutes_to_change((1, 23 * 60)) == 5 * 1440 + 9 * 60  # next Monday
    assert sched.minutes_to_change(None) is None
    assert S.Schedule([{"days": list(S.DAYS), "from": "00:00", "to": "00:00"}][:0]).minutes_to_change((0, 0)) is None


def test_the_time_left_is_cheap_even_with_a_thousand_overlapping_periods():
    # Found by attack16: minutes_to_change() tried every period's start and end against every period; status is
    # answered inside the scan, and a config of 1440 overlapping periods (accepted: no limit on their number)
    # took 0.65 s per status request here (seconds on a Pi) while the panel polls it: a stalled safety scan.
    import time

    periods = [{"days": EVERY_DAY, "from": "%02d:%02d" % divmod(k, 60), "to": "%02d:%02d" % divmod((k + 2) % 1440, 60)}
               for k in range(1440)]
    sched = S.Schedule(periods)
    started = time.perf_counter()
    for minute in range(0, 1440, 72):
        assert sched.minutes_to_change((minute % 7, minute)) is None  # attended round the clock
    assert time.perf_counter() - started < 0.2  # was 13 s for these 20 requests
    periods[700] = {"days": ["wed"], "from": "11:40", "to": "11:41"}  # a gap of one minute, Wednesday 11:41
    periods[701] = {"days": ["thu"], "from": "11:41", "to": "11:42"}
    sched = S.Schedule(periods)
    assert sched.minutes_to_change((2, 11 * 60)) == 41 == brute_minutes_to_change(sched, (2, 11 * 60))
