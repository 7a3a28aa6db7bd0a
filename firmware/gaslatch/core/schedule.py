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
        self._changes = _changes(self.periods)

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
        unknown or the state never changes (attended round the clock, or never). The week's changes are worked out
        once from the periods: this is asked on every status request, inside the scan, so it must not try each
        period's start and end against every period (a config of a thousand periods took 0.65 s, a stalled scan)."""
        if not _valid_wall(wall) or not self._changes:
            return None
        now = wall[0] * MINUTES_PER_DAY + wall[1]
        best = None
        for at in self._changes:
            delta = (at - now) % MINUTES_PER_WEEK
            if delta and (best is None or delta < best):
                best = delta
        return best


def _changes(periods):
    """The minutes of the week (from Monday 00:00) at which the state changes: the ends of the attended time,
    merged from every period; empty when it never changes."""
    spans = []
    for days, start, end in periods:
        length = end - start if start < end else MINUTES_PER_DAY - start + end
        for day in days:
            begin = day * MINUTES_PER_DAY + start
            if begin + length > MINUTES_PER_WEEK:  # runs past Sunday midnight into Monday
                spans.append((begin, MINUTES_PER_WEEK))
                spans.append((0, begin + length - MINUTES_PER_WEEK))
            else:
                spans.append((begin, begin + length))
    spans.sort()
    merged = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([begin, end])
    if merged and merged[0][0] == 0 and merged[-1][1] == MINUTES_PER_WEEK:  # attended across Monday 00:00
        if len(merged) == 1:
            return []  # round the clock
        merged[0][0] = merged[-1][0] - MINUTES_PER_WEEK
        merged.pop()
    out = []
    for begin, end in merged:
        out.append(begin % MINUTES_PER_WEEK)
        out.append(end % MINUTES_PER_WEEK)
    return out


def _valid_wall(wall):
    """Two integers, weekday 0..6 and minute 0..1439; anything else means the time is unknown."""
    if not isinstance(wall, (tuple, list)) or len(wall) != 2:
        return False
    for value, top in ((wall[0], 6), (wall[1], 1439)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > top:
            return False
    return True
