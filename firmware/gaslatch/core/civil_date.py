"""Calendar dates as day numbers (days since 1970-01-01), for install dates, end of life and daily checks.

Pure integer arithmetic (H. Hinnant's days_from_civil), so MicroPython, which has no datetime, computes the
same due dates as CPython. Dates are the installer's local dates, "YYYY-MM-DD"; no time zone is involved.
"""

MIN_YEAR = 2000
MAX_YEAR = 2099


def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year, month):
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def from_ymd(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (which must be valid)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def to_ymd(days):
    """(year, month, day) of a day number."""
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


def parse(text):
    """'2026-12-07' -> its day number, or None when the text is not a real date of 2000-2099."""
    if not isinstance(text, str) or len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    for i in (0, 1, 2, 3, 5, 6, 8, 9):
        if not "0" <= text[i] <= "9":
            return None
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12 and 1 <= day <= days_in_month(year, month)):
        return None
    return from_ymd(year, month, day)


def text(days):
    """A day number as 'YYYY-MM-DD'."""
    return "%04d-%02d-%02d" % to_ymd(days)


def add_years(days, years):
    """The same calendar day `years` later; 29 February becomes 28 February in a common year."""
    year, month, day = to_ymd(days)
    year += years
    return from_ymd(year, month, min(day, days_in_month(year, month)))


def weekday(days):
    """0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday)."""
    return (days + 3) % 7
