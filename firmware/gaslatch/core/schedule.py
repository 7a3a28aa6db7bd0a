"""Weekly attended hours ("人走阀关": the gas is shut whenever the kitchen is left unattended).

Pure: the caller supplies local wall time as (weekday, minute of day), or None when the clock
has not been set, in which case nobody can say the kitchen is attended.
"""

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

ATTENDED = "attended"
UNATTENDED = "unattended"
CLOCK_UNKNOWN = "clock_unknown"


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


def _valid_wall(wall):
    """Two integers, weekday 0..6 and minute 0..1439; anything else means the time is unknown."""
    if not isinstance(wall, (tuple, list)) or len(wall) != 2:
        return False
    for value, top in ((wall[0], 6), (wall[1], 1439)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > top:
            return False
    return True
