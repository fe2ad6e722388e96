"""Calendar helpers for the sample company: months, working days and Shanghai local time in UTC."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, timezone

__all__ = [
    "SHANGHAI",
    "Month",
    "local_day",
    "month_range",
    "parse_month",
    "shanghai",
]

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China Standard Time has had no daylight saving since 1991, so a fixed offset is exact."""

_MONTH_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


class Month:
    """A calendar month with its label, first day, first day after it and working days."""

    __slots__ = ("year", "month", "label", "start", "end", "days", "workdays")

    def __init__(self, year: int, month: int) -> None:
        self.year = year
        self.month = month
        self.label = f"{year:04d}-{month:02d}"
        self.start = date(year, month, 1)
        self.days = calendar.monthrange(year, month)[1]
        self.end = self.start + timedelta(days=self.days)
        self.workdays = [d for d in (self.start + timedelta(days=i) for i in range(self.days)) if d.weekday() < 5]

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def quarter_label(self) -> str:
        return f"{self.year}-Q{(self.month - 1) // 3 + 1}"

    def is_quarter_end(self) -> bool:
        return self.month % 3 == 0

    def in_last_days(self, day: date, n: int) -> bool:
        """Whether ``day`` is one of the month's last ``n`` calendar days."""
        return self.start <= day < self.end and (self.end - day).days <= n

    def __repr__(self) -> str:
        return f"Month({self.label})"


def parse_month(label: str) -> Month:
    """A ``YYYY-MM`` label as a ``Month``; anything else is refused."""
    match = _MONTH_LABEL.match(label)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{label!r} is not a month label; write YYYY-MM, e.g. 2026-10")
    return Month(int(match.group(1)), int(match.group(2)))


def month_range(end_month: str, months: int) -> list[Month]:
    """The ``months`` calendar months ending with ``end_month``, oldest first."""
    if months < 1:
        raise ValueError("months must be at least 1")
    last = parse_month(end_month)
    index = last.year * 12 + last.month - 1
    return [Month(i // 12, i % 12 + 1) for i in range(index - months + 1, index + 1)]


def shanghai(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)
    return local.astimezone(UTC)


def local_day(moment: datetime) -> date:
    """The Shanghai calendar day of a UTC time stamp."""
    return moment.astimezone(SHANGHAI).date()
