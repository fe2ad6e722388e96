"""Small helpers shared by the built-in rule types: periods around a date, conditions, text.

Only the public ``kpi_engine`` API is used here, as a third-party plugin would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from kpi_engine import Formula, Period, RuleContext, RuleResult, parse_period, plain

__all__ = [
    "SavedOutcomes",
    "day_period",
    "days_of",
    "judge",
    "local_day",
    "percent",
    "period_containing",
    "periods_back",
    "shown",
    "weeks_ending_in",
]

ZERO = Decimal(0)


class SavedOutcomes:
    """``ctx.history`` read once per rule and period, by person (a rule asks for every person)."""

    def __init__(self, ctx: RuleContext) -> None:
        self._ctx = ctx
        self._by_period: dict[tuple[str, str], dict[str, list[RuleResult]]] = {}

    def of(self, rule: str, period: Period, person: str) -> list[RuleResult]:
        key = (rule, period.label)
        if key not in self._by_period:
            by_person: dict[str, list[RuleResult]] = {}
            for result in self._ctx.history(rule, period):
                by_person.setdefault(result.person_id, []).append(result)
            self._by_period[key] = by_person
        return self._by_period[key].get(person, [])


def judge(condition: Formula, value: Decimal | None, lookup: Callable[[str, int], Decimal | None]) -> bool | None:
    """Whether ``condition`` holds: ``value`` is its subject (``< 10%`` tests it); any other name it
    reads comes from ``lookup(name, periods_back)``. ``None`` when a value it needs is missing."""
    env: dict[str, Decimal] = {}
    for name, back in condition.references:
        found = value if (name, back) == ("value", 0) else lookup(name, back)
        if found is None:
            return None
        env[name if not back else f"{name}[-{back}]"] = found
    return bool(condition.evaluate(env))


def local_day(moment: datetime | date, time_zone: str) -> date:
    """The calendar day of ``moment`` in the plan's time zone (a date is taken as already local)."""
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # stored times are UTC
        return aware.astimezone(ZoneInfo(time_zone)).date()
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
    """A share for reading: ``0.095`` as ``9.5%``.

    Past 0.01 % it is rounded and marked ``≈`` (traces keep the exact value).
    """
    near = value.quantize(Decimal("0.0001"))
    return f"{plain(near * 100)}%" if near == value else f"≈{plain(near * 100)}%"


def shown(value: Decimal | None, unit: str = "") -> str:
    """A number for an explanation sentence: ``1,400``, ``9.5%``, ``no data``."""
    if value is None:
        return "no data"
    if unit == "ratio":
        return percent(value)
    text = f"{value.normalize():,f}"
    return "0" if text in ("-0", "0") else text
