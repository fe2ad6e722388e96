"""Periods: a month, quarter, year, ISO week or custom date range, read in the plan's time zone.

Labels: ``2026-10``, ``2026-Q3``, ``2026``, ``2026-W05``, ``2026-01-01..2026-03-15`` (both
ends inclusive, as people write ranges). Internally a period is ``[start, end)`` in days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from difflib import get_close_matches
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import PeriodError

__all__ = [
    "SPANS",
    "Period",
    "earlier_period",
    "parse_period",
    "period_of",
    "periods_within",
    "span_of",
    "zone",
    "zone_suggestions",
]

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")
_EXAMPLES = "2026-10, 2026-Q3, 2026, 2026-W05 or 2026-01-01..2026-03-15"


@cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name this machine knows, by its case-folded spelling (read once, on the first typo)."""
    return {name.casefold(): name for name in available_timezones()}


def zone_suggestions(name: str) -> list[str]:
    """The known zones closest to a misspelt ``name`` (``Asia/Shanghia`` → ``Asia/Shanghai``), best first."""
    names = _zone_names()
    key = name.strip().casefold()
    if key in names:  # right but for its case: utc, asia/shanghai
        return [names[key]]
    return [names[found] for found in get_close_matches(key, list(names), n=3, cutoff=0.8)]


def zone(name: str) -> ZoneInfo:
    """An IANA time zone by name; a misspelt one raises ``PeriodError`` with one sentence naming the closest zones."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        shown = name if len(name) <= 60 else f"{name[:57]}..."
        close = zone_suggestions(name) if len(name) <= 200 else []
        advice = f"did you mean {' or '.join(close)}?" if close else "use an IANA name such as Asia/Shanghai or UTC"
        raise PeriodError(f"{shown!r} is not a time zone ({advice}).") from None


@dataclass(frozen=True, order=True)
class Period:
    """Calendar days ``[start, end)`` with the label they were written as and their grain."""

    start: date
    end: date
    label: str
    grain: str  # day / week / month / quarter / year / range

    def bounds_utc(self, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
        """The period's first and first-after instants, in UTC, for a business in ``tz``."""
        z = zone(tz) if isinstance(tz, str) else tz
        start = datetime.combine(self.start, time.min, z).astimezone(UTC)
        end = datetime.combine(self.end, time.min, z).astimezone(UTC)
        return start, end

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> Period:
        """The period of the same grain just before this one (for a range: as many days, just before)."""
        if self.grain == "day":
            return parse_period((self.start - timedelta(days=1)).isoformat())
        if self.grain == "week":
            iso = (self.start - timedelta(days=7)).isocalendar()
            return parse_period(f"{iso.year}-W{iso.week:02d}")
        if self.grain == "month":
            y, m = (self.start.year, self.start.month - 1) if self.start.month > 1 else (self.start.year - 1, 12)
            return parse_period(f"{y}-{m:02d}")
        if self.grain == "quarter":
            q = (self.start.month - 1) // 3 + 1
            y, q = (self.start.year, q - 1) if q > 1 else (self.start.year - 1, 4)
            return parse_period(f"{y}-Q{q}")
        if self.grain == "year":
            return parse_period(str(self.start.year - 1))
        span = self.end - self.start
        start = self.start - span
        return _range(start, self.start)

    def __str__(self) -> str:
        return self.label


def earlier_period(period: Period, back: int) -> Period:
    """The period ``back`` steps before ``period``, of the same grain (``2026-10``, 3 -> ``2026-07``)."""
    for _ in range(back):
        period = period.previous()
    return period


def _range(start: date, end_exclusive: date) -> Period:
    last = end_exclusive - timedelta(days=1)
    return Period(start, end_exclusive, f"{start.isoformat()}..{last.isoformat()}", "range")


def _month_start(y: int, m: int) -> date:
    return date(y + (m - 1) // 12, (m - 1) % 12 + 1, 1)


def parse_period(label: str) -> Period:
    """Read a period label; an impossible one raises ``PeriodError`` with the accepted forms."""
    text = label.strip()
    try:
        if m := _MONTH.match(text):
            y, mo = int(m[1]), int(m[2])
            if not 1 <= mo <= 12:
                raise ValueError(f"month {mo} does not exist")
            return Period(date(y, mo, 1), _month_start(y, mo + 1), f"{y}-{mo:02d}", "month")
        if m := _QUARTER.match(text):
            y, q = int(m[1]), int(m[2])
            return Period(date(y, 3 * q - 2, 1), _month_start(y, 3 * q + 1), f"{y}-Q{q}", "quarter")
        if m := _YEAR.match(text):
            y = int(m[1])
            return Period(date(y, 1, 1), date(y + 1, 1, 1), str(y), "year")
        if m := _WEEK.match(text):
            y, w = int(m[1]), int(m[2])
            start = date.fromisocalendar(y, w, 1)
            return Period(start, start + timedelta(days=7), f"{y}-W{w:02d}", "week")
        if m := _RANGE.match(text):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < first:
                raise ValueError("the range ends before it starts")
            return _range(first, last + timedelta(days=1))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return Period(day, day + timedelta(days=1), day.isoformat(), "day")
    except ValueError as exc:
        raise PeriodError(f"{label!r} is not a possible period: {exc}.", hint=f"write it as {_EXAMPLES}") from None
    raise PeriodError(f"{label!r} is not a period.", hint=f"write it as {_EXAMPLES}")


def period_of(day: date, grain: str) -> Period:
    """The calendar period of ``grain`` (day, week, month, quarter, year) that holds ``day``."""
    if grain == "day":
        return parse_period(day.isoformat())
    if grain == "week":
        iso = day.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}")
    if grain == "month":
        return parse_period(f"{day.year}-{day.month:02d}")
    if grain == "quarter":
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    if grain == "year":
        return parse_period(str(day.year))
    raise PeriodError(f"there is no calendar period of grain {grain!r}.", hint="use day, week, month, quarter or year")


def periods_within(period: Period, grain: str) -> list[Period] | None:
    """The periods of ``grain`` that make up ``period`` exactly, in order; ``None`` when they do not fit it."""
    found: list[Period] = []
    day = period.start
    while day < period.end:
        inner = period_of(day, grain)
        if inner.start != day or inner.end > period.end:
            return None
        found.append(inner)
        day = inner.end
    return found


SPANS = ("quarter", "year", "quarter_to_date", "year_to_date")
"""The longer spans a plan may name a value over (``spans:``): the quarter or year that holds the period,
or from its first day up to the period's end."""


def span_of(period: Period, over: str) -> Period:
    """The ``over`` span (one of ``SPANS``) of ``period``: ``2026-05`` over ``year_to_date`` is
    ``2026-01-01..2026-05-31``, over ``quarter`` ``2026-Q2``. A span that is a calendar period has its label."""
    whole = period_of(period.start, "quarter" if over.startswith("quarter") else "year")
    if over in ("quarter", "year") or period.end == whole.end:
        return whole
    if not over.endswith("_to_date"):
        raise PeriodError(f"{over!r} is not a span.", hint=f"use one of {', '.join(SPANS)}")
    return _range(whole.start, period.end)
