"""Compute any metric for any period, grain and group: the library behind ``kpi metrics show``.

Per person it runs the metric's own query (exactly what the engine runs); by product line, channel
or campaign it groups the metric's facts by that column; by team, region or company it rolls the
facts up along the organisation as it was in the period (``_rollup``). Grains cut a period into
days, weeks, months, quarters or years; windows stretch it to the year to date or the last N
months; comparisons put the previous period or the same period last year beside each value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from ..errors import ConfigurationError
from ..periods import Period, parse_period
from .declaration import Metric, MetricContext
from .measures import (
    DIMENSIONS,
    Division,
    by_column,
    declared_dimensions,
    grouped_values,
    same_period_last_year,
    shift_context,
)
from .rollup import ORG_GROUPINGS, org_keyed

__all__ = [
    "GRAINS",
    "GROUPINGS",
    "MetricRow",
    "compute_metric",
    "growth",
    "metric_context",
    "metric_values",
    "split_period",
    "window_period",
]

GRAINS = ("day", "week", "month", "quarter", "year")
GROUPINGS = ("person", *ORG_GROUPINGS, *DIMENSIONS)
_ROLLING = re.compile(r"^rolling[-:]?(\d{1,2})$")
GROWTH = Division(scale=6, zero_denominator="missing")


@dataclass(frozen=True)
class MetricRow:
    """A metric's value for one group and period, with the value it is compared to and the growth."""

    metric: str
    period: str
    group: str | None
    value: Decimal | None
    compared_period: str | None = None
    compared_value: Decimal | None = None
    growth: Decimal | None = None


def metric_context(period: Period, time_zone: str = "UTC", currency: str = "CNY") -> MetricContext:
    start, end = period.bounds_utc(time_zone)
    return MetricContext(period=period, start=start, end=end, time_zone=time_zone, currency=currency)


def _exact(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ConfigurationError(
            f"a metric returned {value!r} ({type(value).__name__}), not an exact number.",
            hint="build it from integer sums",
        )
    return Decimal(value)


def metric_values(
    conn: Connection, metric: Metric, ctx: MetricContext, by: str = "person"
) -> dict[str | None, Decimal | None]:
    """The metric's value per group for one period (groups without facts are absent)."""
    if by == "person":
        query = metric.query(ctx)
    else:
        if metric.numerator is None:
            raise ConfigurationError(
                f"metric {metric.name!r} is computed by its plugin per person only and cannot be grouped by {by}.",
                hint="show it --by person, or declare it from facts with fact_metric",
            )
        if by in ORG_GROUPINGS:
            keyed = org_keyed(conn, by, ctx.time_zone)
        elif by in DIMENSIONS:
            if by not in declared_dimensions(metric, ctx):
                can = ", ".join(("person", *ORG_GROUPINGS, *declared_dimensions(metric, ctx)))
                raise ConfigurationError(
                    f"metric {metric.name!r} cannot be grouped by {by}.", hint=f"it can be grouped by {can}"
                )
            keyed = by_column(by)
        else:
            raise ConfigurationError(f"{by!r} is not a grouping.", hint=f"use one of {', '.join(GROUPINGS)}")
        query = grouped_values(metric, ctx, keyed)
    return {key: _exact(value) for key, value in conn.execute(query)}


def split_period(period: Period, grain: str) -> list[Period]:
    """The period cut into consecutive days, ISO weeks, months, quarters or years (clipped to the period)."""
    if grain not in GRAINS:
        raise ConfigurationError(f"{grain!r} is not a grain.", hint=f"use one of {', '.join(GRAINS)}")
    pieces: list[Period] = []
    day = period.start
    while day < period.end:
        if grain == "day":
            piece = parse_period(day.isoformat())
        elif grain == "week":
            iso = day.isocalendar()
            piece = parse_period(f"{iso.year}-W{iso.week:02d}")
        elif grain == "month":
            piece = parse_period(f"{day.year}-{day.month:02d}")
        elif grain == "quarter":
            piece = parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
        else:
            piece = parse_period(str(day.year))
        if piece.start < period.start or piece.end > period.end:
            start, end = max(piece.start, period.start), min(piece.end, period.end)
            piece = Period(start, end, f"{start.isoformat()}..{(end - timedelta(days=1)).isoformat()}", "range")
        pieces.append(piece)
        day = piece.end
    return pieces


def window_period(period: Period, window: str | None) -> Period:
    """``ytd``: from 1 January to the period's end; ``rolling-N``: the N months ending with the period's last month."""
    if not window:
        return period
    if window in ("ytd", "year-to-date"):
        start = date(period.start.year, 1, 1)
    elif m := _ROLLING.match(window):
        months = int(m[1])
        last = period.end - timedelta(days=1)
        index = last.year * 12 + last.month - 1 - (months - 1)
        start = date(index // 12, index % 12 + 1, 1)
    else:
        raise ConfigurationError(f"{window!r} is not a window.", hint="use ytd or rolling-N, e.g. rolling-3")
    return Period(start, period.end, f"{start.isoformat()}..{(period.end - timedelta(days=1)).isoformat()}", "range")


def growth(current: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """(current − previous) ÷ previous, exact to six places; missing when previous is missing or zero."""
    if current is None or previous is None:
        return None
    return GROWTH.divide(current - previous, previous)


def compute_metric(
    conn: Connection,
    metric: Metric,
    period: Period,
    *,
    by: str = "person",
    grain: str | None = None,
    window: str | None = None,
    compare: str | None = None,
    time_zone: str = "UTC",
    currency: str = "CNY",
) -> list[MetricRow]:
    """Rows of (period piece, group, value[, compared value, growth]) in period then group order."""
    if compare not in (None, "previous", "last-year"):
        raise ConfigurationError(f"{compare!r} is not a comparison.", hint="use previous or last-year")
    pieces = split_period(period, grain) if grain else [period]
    rows: list[MetricRow] = []
    for piece in pieces:
        span = window_period(piece, window)
        values = metric_values(conn, metric, metric_context(span, time_zone, currency), by)
        other: Period | None = None
        before: dict[str | None, Decimal | None] = {}
        if compare:
            other = _previous(span) if compare == "previous" else same_period_last_year(span)
            before = metric_values(conn, metric, shift_context(metric_context(span, time_zone, currency), other), by)
        for key in sorted(set(values) | set(before), key=lambda k: (k is None, k or "")):
            now = values.get(key)
            then = before.get(key)
            rows.append(
                MetricRow(
                    metric.name,
                    span.label,
                    key,
                    now,
                    other.label if other else None,
                    then,
                    growth(now, then) if other else None,
                )
            )
    return rows


def _previous(period: Period) -> Period:
    if period.grain in ("month", "quarter", "year", "range"):
        return period.previous()
    span = period.end - period.start
    start = period.start - span
    if period.grain == "week":
        iso = start.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}")
    return parse_period(start.isoformat()) if period.grain == "day" else period.previous()
