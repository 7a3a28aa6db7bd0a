"""Weekly attended hours ("人走阀关": the gas is shut whenever the kitchen is left unattended).

Pure: the caller supplies local wall time as (weekday, minute of day), or None when the clock
has not been set, in which case nobody can say the kitchen is attended.
"""

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

ATTENDED = "attended"
UNATTENDED = "unattended"
CLOCK_UNKNOWN = "clock_unknown"
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


def parse_hhmm(text):
    """'07:30' -> 450 minutes after midnight. The config validator has already checked the form."""
    return int(text[0:2]) * 60 + int(text[3:5])


class Schedule:
    """Attended periods; a period whose end is before its start runs past midnight."""

    def __init__(self, periods):
        self.periods = []
        for period in periods:
            days = [DAYS.index(day) for day in period["days"]]
            self.periods.append((days, parse_hhmm(period["from"]), parse_hhmm(period["to"])))

    def state(self, wall):
        """ATTENDED, UNATTENDED or CLOCK_UNKNOWN for wall = (weekday 0=Monday, minute of day) or None."""
        if not _valid_wall(wall):
            return CLOCK_UNKNOWN
        weekday, minute = wall
        yesterday = (weekday + 6) % 7
        for days, start, end in self.periods:
            if start < end:
                if weekday in days and start <= minute < end:
                    return ATTENDED
            else:
                if weekday in days and minute >= start:
                    return ATTENDED
                if yesterday in days and minute < end:
                    return ATTENDED
        return UNATTENDED

    def minutes_to_change(self, wall):
        """Minutes from `wall` until the state changes (the kitchen is left or opens), or None when the clock is
        unknown or the state never changes (attended round the clock, or never). Only period starts and ends
        can change it, so only they are tried."""
        if not _valid_wall(wall):
            return None
        now = wall[0] * MINUTES_PER_DAY + wall[1]
        current = self.state(wall)
        candidates = set()
        for days, start, end in self.periods:
            for day in days:
                end_day = day if start < end else (day + 1) % 7
                candidates.add((day * MINUTES_PER_DAY + start - now) % MINUTES_PER_WEEK)
                candidates.add((end_day * MINUTES_PER_DAY + end - now) % MINUTES_PER_WEEK)
        for delta in sorted(candidates):
            at = (now + delta) % MINUTES_PER_WEEK
            if delta and self.state((at // MINUTES_PER_DAY, at % MINUTES_PER_DAY)) != current:
                return delta
        return None


def _valid_wall(wall):
    """Two integers, weekday 0..6 and minute 0..1439; anything else means the time is unknown."""
    if not isinstance(wall, (tuple, list)) or len(wall) != 2:
        return False
    for value, top in ((wall[0], 6), (wall[1], 1439)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > top:
            return False
    return True
