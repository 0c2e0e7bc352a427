"""An account's local time: its "today" for birthdays, and the heatmap's (weekday, hour) bucket.
Every time is stored as UTC; these read it in the account's time zone (spec T2, T3)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_time(moment: datetime, time_zone: str) -> datetime:
    """`moment` in `time_zone` (an unknown zone reads as UTC)."""
    try:
        zone = ZoneInfo(time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone)


def heatmap_bucket(moment: datetime, time_zone: str) -> tuple[int, int]:
    """(weekday with Monday = 0, hour) of `moment` in the account's zone (T3)."""
    local = local_time(moment, time_zone)
    return local.weekday(), local.hour


def birthday_in_year(month: int, day: int, year: int) -> date:
    """The day a birthday is celebrated in `year`: 29 February falls on 28 February in other years."""
    if month == 2 and day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, month, day)


def is_birthday_today(month: int | None, day: int | None, moment: datetime, time_zone: str) -> bool:
    """True when the birthday is today in the account's time zone (T2)."""
    if month is None or day is None:
        return False
    today = local_time(moment, time_zone).date()
    return birthday_in_year(month, day, today.year) == today


def age_on(birth_year: int | None, month: int, day: int, today: date) -> int | None:
    """The age on `today`, counting the birthday as passed on the day it is celebrated (a 29
    February birthday turns a year older on 28 February in other years)."""
    if birth_year is None:
        return None
    return today.year - birth_year - (1 if today < birthday_in_year(month, day, today.year) else 0)


def validate_birthday(month: int, day: int, year: int | None) -> None:
    """Raise ValueError for a date that does not exist (year optional: 29 February allowed)."""
    date(year if year is not None else 2000, month, day)
