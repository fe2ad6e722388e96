"""Metric building blocks: facts selected in SQL, aggregated per group, divided exactly in Decimal.

A *fact metric* is declared, not hand-written: a ``Measure`` (facts + aggregate) for the numerator,
optionally a second one for the denominator, and a ``Division`` saying the scale of the quotient and
what a zero denominator means. From that one declaration the engine's per-person query, the grouped
queries (team, region, product line, channel, campaign) and the evidence rows are all compiled.

Facts are a SELECT over the common schema, already filtered to the metric context's period, with
labelled columns: ``person_id`` (required), optional dimensions (``product_line``, ``channel``,
``campaign``), optional ``record_id`` and the value columns the measures name. Aggregation happens
on those rows *before* anything is joined to them, so joins can never multiply a sum.

The database returns only integers (counts, and Money/Ratio sums as scaled integers); numerator and
denominator travel to Python as one text value ``"n/d"`` and are divided there in ``Decimal``, so
ratios are exact and identical on every backend and never become floating point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeDecorator

from ..errors import EvaluationError
from ..money import ROUNDING_MODES, ExactDecimal
from ..periods import Period

if TYPE_CHECKING:  # pragma: no cover
    from .declaration import Metric, MetricContext, MetricUnit

__all__ = [
    "AGGREGATES",
    "DIMENSIONS",
    "Division",
    "FactsBuilder",
    "Measure",
    "by_column",
    "declared_dimensions",
    "exact_terms",
    "fact_metric",
    "grouped_components",
    "grouped_values",
    "same_period_last_year",
    "seconds_between",
    "shift_context",
    "within",
    "within_days",
]

FactsBuilder = Callable[[Any], Select[Any]]  # MetricContext -> facts
AGGREGATES = ("count", "sum", "count_distinct", "min", "max", "median", "percentile", "period_days", "sql")
DIMENSIONS = ("product_line", "channel", "campaign")
"""Columns a metric's facts may carry to be grouped by, besides people (and through them teams and regions)."""


# --- portable SQL: whole seconds between two UTC time stamps ---------------------------------


class seconds_between(FunctionElement[int]):
    """Whole seconds from ``start`` to ``end`` (both truncated to the second), as an integer on every backend."""

    type = BigInteger()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_default(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(CAST(EXTRACT(EPOCH FROM date_trunc('second', {compiler.process(end, **kw)})) AS BIGINT)"
        f" - CAST(EXTRACT(EPOCH FROM date_trunc('second', {compiler.process(start, **kw)})) AS BIGINT))"
    )


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(CAST(strftime('%s', {compiler.process(end, **kw)}) AS INTEGER)"
        f" - CAST(strftime('%s', {compiler.process(start, **kw)}) AS INTEGER))"
    )


# --- declarations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One aggregate over a metric's facts.

    ``aggregate``: ``count`` (rows, or non-null ``column``), ``sum``, ``count_distinct``, ``min``, ``max``,
    ``median`` and ``percentile`` (nearest rank, ``percentile`` 1-100), ``period_days`` (the number of
    days of the period; no facts needed) or ``sql`` (``sql(facts)`` returns an integer aggregate).
    ``scale`` is the number of decimals of the column's integers: 4 for Money, 6 for Ratio, 0 for counts
    and seconds. A ``sum`` may add several columns of different scales (``column`` and ``scale`` as tuples).
    ``over_all`` divides by the total of every group instead (a share of the whole).
    """

    facts: FactsBuilder | None
    aggregate: str = "count"
    column: str | tuple[str, ...] | None = None
    scale: int | tuple[int, ...] = 0
    percentile: int | None = None
    sql: Callable[[Any], ColumnElement[Any]] | None = None
    over_all: bool = False

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"unknown aggregate {self.aggregate!r}; use one of {', '.join(AGGREGATES)}")
        if self.aggregate == "percentile" and not (self.percentile and 1 <= self.percentile <= 100):
            raise ValueError("a percentile measure needs percentile between 1 and 100")

    @property
    def columns(self) -> tuple[str, ...]:
        if self.column is None:
            return ()
        return self.column if isinstance(self.column, tuple) else (self.column,)

    @property
    def scales(self) -> tuple[int, ...]:
        if isinstance(self.scale, tuple):
            return self.scale
        return (self.scale,) * max(1, len(self.columns))

    @property
    def ranked(self) -> bool:
        return self.aggregate in ("median", "percentile")


@dataclass(frozen=True)
class Division:
    """How a metric's value is formed: ``numerator × multiplier ÷ (denominator × divisor)``.

    The division happens in ``Decimal`` and is rounded to ``scale`` places with ``rounding``.
    ``zero_denominator``: ``zero`` (the value is 0), ``missing`` (no value for that group) or ``error``.
    """

    scale: int = 6
    rounding: str = "half_even"
    zero_denominator: Literal["zero", "missing", "error"] = "missing"
    multiplier: Decimal = Decimal(1)
    divisor: int = 1
    trim_to: int | None = None  # drop trailing zeros down to this scale (exact sums of mixed scales)

    def divide(self, numerator: Decimal, denominator: Decimal, metric: str = "") -> Decimal | None:
        if denominator == 0:
            if self.zero_denominator == "zero":
                return Decimal(0).quantize(Decimal(1).scaleb(-self.scale))
            if self.zero_denominator == "missing":
                return None
            raise EvaluationError(
                f"metric {metric or '?'} divides by zero for a group with no {('denominator')} facts.",
                hint="declare zero_denominator: zero or missing for this metric",
            )
        with localcontext() as exact:
            exact.prec = 60
            value = numerator * self.multiplier / (denominator * self.divisor)
            value = value.quantize(
                Decimal(1).scaleb(-self.scale), rounding=ROUNDING_MODES.get(self.rounding, ROUND_HALF_EVEN)
            )
            if self.trim_to is not None:
                short = value.quantize(Decimal(1).scaleb(-self.trim_to))
                if short == value:
                    return short
            return value


_ZERO = Decimal(0)
_STEPS = {places: Decimal(1).scaleb(-places) for places in range(31)}
_SAFE_DIGITS = 16  # digits before the point that leave room for 12 after it in the default context


class _Quotient(TypeDecorator[Decimal]):
    """``"n1,n2/d1"`` text from SQL → the exact Decimal quotient (see ``Division``)."""

    impl = String
    cache_ok = True

    def __init__(
        self, num_scales: tuple[int, ...], den_scales: tuple[int, ...], division: Division, metric: str
    ) -> None:
        super().__init__()
        self.num_scales = num_scales
        self.den_scales = den_scales
        self.division = division
        self.metric = metric
        self._sum_only = division.multiplier == 1 and division.divisor == 1 and den_scales == (0,)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        num_text, _, den_text = str(value).partition("/")
        first, _, others = num_text.partition(",")
        if others.strip("0,") == "" and first.lstrip("-").isdigit() and num_text.count(",") == len(self.num_scales) - 1:
            units = int(first)  # only the first term is not zero: the usual value (a deal without splits)
            numerator, finest = Decimal(units).scaleb(-self.num_scales[0]), (self.num_scales[0] if units else 0)
        else:
            numerator, finest = _terms(num_text, self.num_scales)
        division = self.division
        if den_text == "1" and self._sum_only and numerator.adjusted() < _SAFE_DIGITS:
            # A sum with nothing to divide (most evidence values): ``divide`` would give this, more slowly.
            if division.trim_to is not None and finest <= division.trim_to:
                return numerator.quantize(_STEPS[division.trim_to])
            value = numerator.quantize(
                _STEPS[division.scale], rounding=ROUNDING_MODES.get(division.rounding, ROUND_HALF_EVEN)
            )
            if division.trim_to is not None and (short := value.quantize(_STEPS[division.trim_to])) == value:
                return short
            return value
        denominator, _ = _terms(den_text, self.den_scales)
        return division.divide(numerator, denominator, self.metric)


def _terms(text: str, scales: tuple[int, ...]) -> tuple[Decimal, int]:
    """The exact sum of ``"n1,n2"``, integers at the given scales (``"123400,5"`` at 4 and 10 → 12.3400000005),
    and the finest scale of a term that is not zero (0 when all are)."""
    parts = text.split(",")
    if len(parts) != len(scales):
        raise ValueError(f"{text!r} does not have {len(scales)} terms")
    total, finest = _ZERO, 0
    for part, scale in zip(parts, scales):
        if not part or part == "0":
            continue
        try:
            units = int(part)
        except ValueError:  # a backend that wrote "12.0" for an integer
            units = int(Decimal(part))
        if units:
            total += Decimal(units).scaleb(-scale)
            finest = max(finest, scale)
    return total, finest


# --- periods --------------------------------------------------------------------------------


def _shift_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def shift_context(ctx: MetricContext, period: Period) -> MetricContext:
    """The same context (zone, currency) for another period."""
    start, end = period.bounds_utc(ctx.time_zone)
    return replace(ctx, period=period, start=start, end=end)


def same_period_last_year(period: Period) -> Period:
    """The period one year earlier, with the same grain and label form when it has one."""
    from ..periods import parse_period

    if period.grain in ("month", "quarter", "year"):
        shifted = period.label.replace(str(period.start.year), str(period.start.year - 1), 1)
        return parse_period(shifted)
    start, end = _shift_year(period.start, -1), _shift_year(period.end, -1)
    if period.grain == "day":
        return Period(start, start + timedelta(days=1), start.isoformat(), "day")
    last = end - timedelta(days=1)
    return Period(start, end, f"{start.isoformat()}..{last.isoformat()}", "range")


# --- compilation ----------------------------------------------------------------------------

Keyed = Callable[[FactsBuilder, "MetricContext"], Any]
"""Turns a facts builder into a subquery with a ``group_key`` column plus the facts' columns."""


def _by_person(facts: FactsBuilder, ctx: MetricContext) -> Any:
    sub = facts(ctx).subquery("facts")
    return sub, sub.c.person_id


def by_column(name: str) -> Keyed:
    def keyed(facts: FactsBuilder, ctx: MetricContext) -> Any:
        sub = facts(ctx).subquery("facts")
        if name not in sub.c:
            raise EvaluationError(
                f"this metric's facts have no {name!r} to group by.", hint="group it by person, team or region"
            )
        return sub, sub.c[name]

    return keyed


def _raw(column: Any) -> Any:
    return type_coerce(column, BigInteger())


def _aggregate(measure: Measure, sub: Any, key: Any, ctx: MetricContext) -> list[Any]:
    """SQL integer aggregates of one measure over a keyed facts subquery (one per summed column)."""
    kind = measure.aggregate
    if kind == "period_days":
        return [literal((ctx.period.end - ctx.period.start).days, Integer())]
    if kind == "sql":
        assert measure.sql is not None
        exprs = [measure.sql(sub)]
    elif kind == "count":
        exprs = [func.count(sub.c[measure.columns[0]]) if measure.columns else func.count()]
    elif kind == "sum":
        exprs = [func.coalesce(func.sum(_raw(sub.c[c])), 0) for c in measure.columns]
    elif kind == "count_distinct":
        exprs = [func.count(sub.c[measure.columns[0]].distinct())]
    elif kind == "min":
        exprs = [func.min(_raw(sub.c[measure.columns[0]]))]
    elif kind == "max":
        exprs = [func.max(_raw(sub.c[measure.columns[0]]))]
    else:  # pragma: no cover - ranked measures are compiled by _ranked
        raise AssertionError(kind)
    if measure.over_all:
        exprs = [func.sum(e).over() for e in exprs]
    return exprs


def _ranked(measure: Measure, sub: Any, key: Any) -> Select[Any]:
    """Median (mean of the middle one or two values) or nearest-rank percentile, per group: (key, n, d)."""
    value = _raw(sub.c[measure.columns[0]])
    ranked = (
        select(
            key.label("group_key"),
            value.label("v"),
            func.row_number().over(partition_by=key, order_by=value).label("rn"),
            func.count().over(partition_by=key).label("cnt"),
        )
        .where(sub.c[measure.columns[0]].is_not(None))
        .subquery("ranked")
    )
    chosen: ColumnElement[bool]
    if measure.aggregate == "median":
        chosen = ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2])
    else:
        p = int(measure.percentile or 50)
        rank = (ranked.c.cnt * p + 99) // 100
        chosen = ranked.c.rn == rank  # nearest rank: ceil(p% of n), at least 1 when n >= 1
    return (
        select(ranked.c.group_key, func.sum(ranked.c.v).label("n0"), func.count().label("d0"))
        .where(chosen)
        .group_by(ranked.c.group_key)
    )


def exact_terms(*terms: tuple[Any, int]) -> Any:
    """One exact Decimal from integer SQL expressions of different scales, e.g. ``(units, 4), (rest, 10)``."""
    scales = tuple(scale for _, scale in terms)
    text: Any = None
    for expr, _ in terms:
        part = _text(func.coalesce(expr, 0))
        text = part if text is None else text + literal_column("','") + part
    text = text + literal_column("'/1'")
    return type_coerce(
        text, _Quotient(scales, (0,), Division(scale=max(scales), zero_denominator="zero", trim_to=min(scales)), "")
    )


def _labelled(exprs: Sequence[Any], prefix: str) -> list[Any]:
    return [e.label(f"{prefix}{i}") for i, e in enumerate(exprs)]


def grouped_components(metric: Metric, ctx: MetricContext, keyed: Keyed = _by_person) -> tuple[Select[Any], int, int]:
    """``SELECT group_key, n0.., d0..`` of a fact metric's raw integer aggregates, with the term counts."""
    num = metric.numerator
    den = metric.denominator
    if num is None:
        raise EvaluationError(
            f"metric {metric.name!r} is not declared from facts and cannot be grouped.", hint="group it by person"
        )
    if num.ranked:
        assert num.facts is not None
        sub, key = keyed(num.facts, ctx)
        return _ranked(num, sub, key), 1, 1
    n_terms = len(num.scales)
    if den is None:
        sub, key = keyed(num.facts, ctx)  # type: ignore[arg-type]
        query = select(key.label("group_key"), *_labelled(_aggregate(num, sub, key, ctx), "n")).group_by(key)
        return query, n_terms, 0
    d_terms = len(den.scales)
    if den.facts is None or den.facts is num.facts:
        sub, key = keyed(num.facts, ctx)  # type: ignore[arg-type]
        query = select(
            key.label("group_key"),
            *_labelled(_aggregate(num, sub, key, ctx), "n"),
            *_labelled(_aggregate(den, sub, key, ctx), "d"),
        ).group_by(key)
        return query, n_terms, d_terms
    zero = literal(0, BigInteger())
    sub_n, key_n = keyed(num.facts, ctx)  # type: ignore[arg-type]
    sub_d, key_d = keyed(den.facts, ctx)
    side_n = select(
        key_n.label("group_key"),
        *_labelled(_aggregate(num, sub_n, key_n, ctx), "n"),
        *[zero.label(f"d{i}") for i in range(d_terms)],
    ).group_by(key_n)
    side_d = select(
        key_d.label("group_key"),
        *[zero.label(f"n{i}") for i in range(n_terms)],
        *_labelled(_aggregate(den, sub_d, key_d, ctx), "d"),
    ).group_by(key_d)
    both = union_all(side_n, side_d).subquery("sides")
    query = select(
        both.c.group_key,
        *[func.sum(both.c[f"n{i}"]).label(f"n{i}") for i in range(n_terms)],
        *[func.sum(both.c[f"d{i}"]).label(f"d{i}") for i in range(d_terms)],
    ).group_by(both.c.group_key)
    return query, n_terms, d_terms


def _text(expr: Any) -> Any:
    return cast(expr, String())


def _value_expression(metric: Metric, cols: Sequence[Any], n_terms: int, d_terms: int) -> Any:
    num = metric.numerator
    assert num is not None
    division = metric.division
    nums = list(cols[:n_terms])
    dens = list(cols[n_terms : n_terms + d_terms])
    if num.ranked:
        division = division or Division()
        num_scales: tuple[int, ...] = num.scales[:1]
        den_scales: tuple[int, ...] = (0,)
    else:
        num_scales = num.scales
        den_scales = metric.denominator.scales if metric.denominator is not None else (0,)
    if division is None:
        if n_terms == 1 and num_scales[0] == 0:
            return type_coerce(nums[0], BigInteger())
        if n_terms == 1:
            return type_coerce(nums[0], ExactDecimal(num_scales[0]))
        division = Division(scale=max(num_scales), zero_denominator="zero", trim_to=min(num_scales))
    if not dens:
        dens = [literal_column("1")]
    text: Any = _text(nums[0])
    for extra in nums[1:]:
        text = text + literal_column("','") + _text(extra)
    text = text + literal_column("'/'") + _text(dens[0])
    for extra in dens[1:]:
        text = text + literal_column("','") + _text(extra)
    return type_coerce(text, _Quotient(num_scales, den_scales if dens else (0,), division, metric.name))


def grouped_values(
    metric: Metric, ctx: MetricContext, keyed: Keyed = _by_person, key_label: str = "group_key"
) -> Select[Any]:
    """``SELECT key, value``: the metric's value per group, exact (int, Decimal or None)."""
    components, n_terms, d_terms = grouped_components(metric, ctx, keyed)
    inner = components.subquery("components")
    cols = [inner.c[f"n{i}"] for i in range(n_terms)] + [inner.c[f"d{i}"] for i in range(d_terms)]
    return select(inner.c.group_key.label(key_label), _value_expression(metric, cols, n_terms, d_terms).label("value"))


def _person_query(metric_ref: list[Metric]) -> Callable[[MetricContext], Select[Any]]:
    def query(ctx: MetricContext) -> Select[Any]:
        return grouped_values(metric_ref[0], ctx, _by_person, "person_id")

    return query


def _auto_evidence(measure: Measure) -> Callable[[MetricContext], Select[Any]] | None:
    """Evidence rows ``(person_id, record_id, value)`` of a plain count or single-column sum over facts with
    ``record_id``."""
    if measure.facts is None or measure.aggregate not in ("count", "sum") or len(measure.columns) > 1:
        return None
    facts = measure.facts

    def evidence(ctx: MetricContext) -> Select[Any]:
        sub = facts(ctx).subquery("facts")
        if measure.aggregate == "count":
            value: Any = literal(1, BigInteger())
            condition = sub.c[measure.columns[0]].is_not(None) if measure.columns else None
        else:
            value = (
                type_coerce(_raw(sub.c[measure.columns[0]]), ExactDecimal(measure.scales[0]))
                if measure.scales[0]
                else _raw(sub.c[measure.columns[0]])
            )
            condition = sub.c[measure.columns[0]].is_not(None)
        query = select(sub.c.person_id, sub.c.record_id, value.label("value"))
        if condition is not None:
            query = query.where(condition)
        return query.order_by(sub.c.person_id, sub.c.record_id)

    return evidence


def fact_metric(
    name: str,
    description: str,
    unit: MetricUnit,
    numerator: Measure,
    denominator: Measure | None = None,
    *,
    division: Division | None = None,
    grain: str = "month",
    evidence: Callable[[MetricContext], Select[Any]] | None = None,
    evidence_table: str | None = None,
    evidence_adds_up: bool = False,
    source: str = "",
) -> Metric:
    """A ``Metric`` declared from facts: its per-person query, grouping and evidence are compiled from the measures.

    ``evidence_adds_up``: a hand-written ``evidence`` with a row for every fact, whose values add up exactly
    to each person's value (the compiled evidence of a count of rows always does)."""
    from .declaration import Metric

    if denominator is not None and division is None:
        division = Division()
    ref: list[Metric] = []
    has_record = False
    if evidence is None and denominator is None and division is None:
        auto = _auto_evidence(numerator)
        has_record = auto is not None
        evidence = auto if has_record else None
    metric = Metric(
        name=name,
        description=description,
        unit=unit,
        grain=grain,
        query=_person_query(ref),
        evidence=evidence,
        evidence_table=evidence_table if (evidence is not None or has_record) else None,
        zero_when_missing=denominator is None
        and division is None
        and not numerator.ranked
        and numerator.aggregate not in ("min", "max"),
        # A count of rows has one evidence row per fact; a sum or a count of a column leaves out the facts
        # where it is empty, and the people with only such facts, whom the database counts with 0.
        evidence_adds_up=(
            has_record and numerator.aggregate == "count" and not numerator.columns and not numerator.over_all
        )
        or (evidence_adds_up and evidence is not None),
        numerator=numerator,
        denominator=denominator,
        division=division,
        source=source,
    )
    ref.append(metric)
    return metric


def declared_dimensions(metric: Metric, ctx: MetricContext) -> tuple[str, ...]:
    """The dimensions every facts source of the metric carries (what ``--by`` accepts besides people)."""
    found: set[str] | None = None
    for measure in (metric.numerator, metric.denominator):
        if measure is None or measure.facts is None:
            continue
        names = {c.name for c in measure.facts(ctx).selected_columns}
        cols = {d for d in DIMENSIONS if d in names}
        found = cols if found is None else found & cols
    return tuple(d for d in DIMENSIONS if found and d in found)


def within(column: Any, ctx: MetricContext) -> Any:
    """``start <= column < end`` for a UTC time-stamp column (sargable)."""
    return and_(column >= ctx.start, column < ctx.end)


def within_days(column: Any, ctx: MetricContext) -> Any:
    """``start <= column < end`` for a calendar-day column, in the period's own days."""
    return and_(column >= ctx.period.start, column < ctx.period.end)
