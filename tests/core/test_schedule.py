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
