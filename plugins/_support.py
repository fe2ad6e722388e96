"""Small helpers shared by the built-in rule types: periods around a date, thresholds, text.

Only the public ``kpi_engine`` API is used here, as a third-party plugin would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from kpi_engine import Period, parse_period, plain, to_decimal

__all__ = [
    "Threshold",
    "ThresholdText",
    "day_period",
    "days_of",
    "local_day",
    "percent",
    "period_containing",
    "periods_back",
    "shown",
    "weeks_ending_in",
]

ZERO = Decimal(0)
_THRESHOLD = re.compile(r"^\s*(<=|>=|<|>|==|!=)\s*(.+?)\s*$")
_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class Threshold:
    """A comparison with a fixed number, written as HR writes it: ``< 10%``, ``>= 100%``, ``<= 5,000``."""

    __slots__ = ("limit", "operator", "text")

    def __init__(self, text: str) -> None:
        match = _THRESHOLD.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a threshold; write an operator and a number, e.g. '< 10%' or '>= 100%'")
        self.operator = match[1]
        self.limit = to_decimal(match[2])
        self.text = f"{self.operator} {match[2]}"

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _threshold, serialization=core_schema.plain_serializer_function_ser_schema(lambda t: t.text)
        )

    def holds(self, value: Decimal) -> bool:
        return bool(_COMPARE[self.operator](value, self.limit))

    def __repr__(self) -> str:
        return f"Threshold({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Threshold) and (self.operator, self.limit) == (other.operator, other.limit)

    def __hash__(self) -> int:
        return hash((self.operator, self.limit))


def _threshold(value: Any) -> Threshold:
    if isinstance(value, Threshold):
        return value
    if not isinstance(value, str):
        raise ValueError("write the threshold as text, e.g. '< 10%'")  # noqa: TRY004 - pydantic reports ValueError
    return Threshold(value)


ThresholdText = Threshold
"""A pydantic field type for a threshold such as ``< 100%``."""


def local_day(moment: datetime | date, time_zone: str) -> date:
    """The calendar day of ``moment`` in the plan's time zone (a date is taken as already local)."""
    if isinstance(moment, datetime):
        return moment.astimezone(ZoneInfo(time_zone)).date()
    return moment


def period_containing(day: date, grain: str) -> Period:
    """The period of ``grain`` (day, week, month, quarter, year) that contains ``day``."""
    if grain == "day":
        return parse_period(day.isoformat())
    if grain == "week":
        year, week, _ = day.isocalendar()
        return parse_period(f"{year}-W{week:02d}")
    if grain == "month":
        return parse_period(f"{day.year}-{day.month:02d}")
    if grain == "quarter":
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    if grain == "year":
        return parse_period(str(day.year))
    raise ValueError(f"no calendar period of grain {grain!r}")


def periods_back(period: Period, count: int) -> list[Period]:
    """The ``count`` periods of the same grain just before ``period``, nearest first."""
    out: list[Period] = []
    current = period
    for _ in range(count):
        current = _previous(current)
        out.append(current)
    return out


def _previous(period: Period) -> Period:
    if period.grain in ("day", "week"):
        return period_containing(period.start - timedelta(days=1), period.grain)
    return period.previous()


def day_period(day: date) -> Period:
    return parse_period(day.isoformat())


def days_of(period: Period) -> Iterator[date]:
    day = period.start
    while day < period.end:
        yield day
        day += timedelta(days=1)


def weeks_ending_in(period: Period) -> list[Period]:
    """The ISO weeks whose last day falls inside ``period`` (so each week belongs to one period)."""
    weeks: list[Period] = []
    for day in days_of(period):
        if day.isoweekday() == 7:
            weeks.append(period_containing(day, "week"))
    return weeks


def percent(value: Decimal) -> str:
    return f"{plain(value * 100)}%"


def shown(value: Decimal | None, unit: str = "") -> str:
    """A number for an explanation sentence: ``1,400``, ``9.5%``, ``no data``."""
    if value is None:
        return "no data"
    if unit == "ratio":
        return percent(value)
    text = f"{value.normalize():,f}"
    return "0" if text in ("-0", "0") else text
