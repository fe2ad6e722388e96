"""Business calendars: which days are working days, for checks that compare parts of a period.

A calendar is weekends plus public holidays, minus the weekend days worked in their place (调休). The
built-in calendar ``CN`` holds China's public holidays as the State Council General Office announces them
each year (国务院办公厅关于 20XX 年部分节假日安排的通知):

- 2025: 国办发明电〔2024〕12号, 12 November 2024, full text as Xinhua carried it:
  https://m.gmw.cn/2024-11/12/content_1303894933.htm
- 2026: the notice of 4 November 2025, full text as Xinhua carried it:
  https://politics.gmw.cn/2025-11/04/content_38391083.htm

Every date below was checked against those texts.

Years the data does not cover are weekends only, and ``covers(year)`` says so (a check can name that in
its sentence). Another calendar is registered with ``register_calendar`` (a plugin or a deployment does it at
start-up) and named in a plan's check settings (``calendar: HK``); ``weekends`` (``WEEKENDS``) has no holidays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from .errors import ConfigurationError

__all__ = ["BusinessCalendar", "business_calendar", "calendar_names", "register_calendar"]


def _days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days: Monday to Friday, less ``holidays``, plus ``working_weekends``; ``years`` it has data for."""

    name: str
    holidays: frozenset[date] = field(default_factory=frozenset)
    working_weekends: frozenset[date] = field(default_factory=frozenset)
    years: frozenset[int] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.working_weekends:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def working_days(self, start: date, end: date) -> int:
        """Working days from ``start`` up to, not including, ``end``."""
        return sum(1 for i in range((end - start).days) if self.is_working_day(start + timedelta(days=i)))

    def covers(self, year: int) -> bool:
        """Whether the calendar has holiday data for ``year`` (else only weekends are known)."""
        return year in self.years


_CN_HOLIDAYS = [
    # 2025 (国办发明电〔2024〕12号)
    *_days("2025-01-01", "2025-01-01"),
    *_days("2025-01-28", "2025-02-04"),  # Spring Festival
    *_days("2025-04-04", "2025-04-06"),  # Qingming
    *_days("2025-05-01", "2025-05-05"),  # Labour Day
    *_days("2025-05-31", "2025-06-02"),  # Dragon Boat
    *_days("2025-10-01", "2025-10-08"),  # National Day and Mid-Autumn
    # 2026 (国办发明电〔2025〕7号)
    *_days("2026-01-01", "2026-01-03"),
    *_days("2026-02-15", "2026-02-23"),  # Spring Festival
    *_days("2026-04-04", "2026-04-06"),  # Qingming
    *_days("2026-05-01", "2026-05-05"),  # Labour Day
    *_days("2026-06-19", "2026-06-21"),  # Dragon Boat
    *_days("2026-09-25", "2026-09-27"),  # Mid-Autumn
    *_days("2026-10-01", "2026-10-07"),  # National Day
]
_CN_WORKING_WEEKENDS = [
    date.fromisoformat(d)
    for d in (
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    )
]

_CALENDARS: dict[str, BusinessCalendar] = {
    "CN": BusinessCalendar("CN", frozenset(_CN_HOLIDAYS), frozenset(_CN_WORKING_WEEKENDS), frozenset({2025, 2026})),
    "WEEKENDS": BusinessCalendar("WEEKENDS"),
}


def register_calendar(
    name: str, holidays: Iterable[date], working_weekends: Iterable[date] = (), years: Iterable[int] = ()
) -> BusinessCalendar:
    """Add (or replace) a calendar a plan can name; returns it."""
    calendar = BusinessCalendar(name.upper(), frozenset(holidays), frozenset(working_weekends), frozenset(years))
    _CALENDARS[calendar.name] = calendar
    return calendar


def business_calendar(name: str) -> BusinessCalendar:
    """The calendar called ``name`` (case-insensitive); an unknown name is a configuration error naming the known."""
    found = _CALENDARS.get(name.upper())
    if found is None:
        raise ConfigurationError(f"no business calendar {name!r}; known: {', '.join(sorted(_CALENDARS))}")
    return found


def calendar_names() -> list[str]:
    return sorted(_CALENDARS)
