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
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
    union_all,
)

from ..errors import EvaluationError
from ..fx import unconvertible
from ..money import ExactDecimal
from ..periods import Period
from .quotient import Division, Quotient
from .sqltime import seconds_between, within, within_days

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
    "refusal",
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
    guard: str | None = None
    """A column of the facts that names, when not empty, a fact the measure cannot use (an amount in a currency
    the plan cannot convert): the metric's value is then an error naming it, never a sum without it."""

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


def exact_terms(
    *terms: tuple[Any, int], guard: Any = None, refused: Callable[[str], tuple[str, str]] | None = None
) -> Any:
    """One exact Decimal from integer SQL expressions of different scales, e.g. ``(units, 4), (rest, 10)``.

    ``guard``: a text expression that, when not NULL, makes the value an error naming what it says."""
    scales = tuple(scale for _, scale in terms)
    text: Any = None
    for expr, _ in terms:
        part = _text(func.coalesce(expr, 0))
        text = part if text is None else text + literal_column("','") + part
    text = text + literal_column("'/1'")
    if guard is not None:
        text = case((guard.is_not(None), literal_column("'!'") + guard), else_=text)
    division = Division(scale=max(scales), zero_denominator="zero", trim_to=max(scales[0], 0))
    return type_coerce(text, Quotient(scales, (0,), division, "", refused))


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
        query = select(
            key.label("group_key"), *_labelled(_aggregate(num, sub, key, ctx), "n"), *_guards((num, sub))
        ).group_by(key)
        return query, n_terms, 0
    d_terms = len(den.scales)
    if den.facts is None or den.facts is num.facts:
        sub, key = keyed(num.facts, ctx)  # type: ignore[arg-type]
        query = select(
            key.label("group_key"),
            *_labelled(_aggregate(num, sub, key, ctx), "n"),
            *_labelled(_aggregate(den, sub, key, ctx), "d"),
            *_guards((num, sub), (den, sub)),
        ).group_by(key)
        return query, n_terms, d_terms
    zero = literal(0, BigInteger())
    sub_n, key_n = keyed(num.facts, ctx)  # type: ignore[arg-type]
    sub_d, key_d = keyed(den.facts, ctx)
    guarded = bool((num.guard and num.guard in sub_n.c) or (den.guard and den.guard in sub_d.c))
    side_n = select(
        key_n.label("group_key"),
        *_labelled(_aggregate(num, sub_n, key_n, ctx), "n"),
        *[zero.label(f"d{i}") for i in range(d_terms)],
        *_guards((num, sub_n), always=guarded),
    ).group_by(key_n)
    side_d = select(
        key_d.label("group_key"),
        *[zero.label(f"n{i}") for i in range(n_terms)],
        *_labelled(_aggregate(den, sub_d, key_d, ctx), "d"),
        *_guards((den, sub_d), always=guarded),
    ).group_by(key_d)
    both = union_all(side_n, side_d).subquery("sides")
    query = select(
        both.c.group_key,
        *[func.sum(both.c[f"n{i}"]).label(f"n{i}") for i in range(n_terms)],
        *[func.sum(both.c[f"d{i}"]).label(f"d{i}") for i in range(d_terms)],
        *([func.min(both.c.g).label("g")] if guarded else []),
    ).group_by(both.c.group_key)
    return query, n_terms, d_terms


def _guards(*measured: tuple[Measure, Any], always: bool = False) -> list[Any]:
    """``g``: the first complaint of the measures' guards among a group's facts (see ``Measure.guard``)."""
    found = [func.min(sub.c[m.guard]) for m, sub in measured if m.guard and m.guard in sub.c]
    if not found:
        return [literal(None, String()).label("g")] if always else []
    return [(found[0] if len(found) == 1 else func.coalesce(*found)).label("g")]


def _text(expr: Any) -> Any:
    return cast(expr, String())


def _value_expression(
    metric: Metric, cols: Sequence[Any], n_terms: int, d_terms: int, guard: Any = None, ctx: Any = None
) -> Any:
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
        if n_terms == 1 and num_scales[0] == 0 and guard is None:
            return type_coerce(nums[0], BigInteger())
        if n_terms == 1 and guard is None:
            return type_coerce(nums[0], ExactDecimal(num_scales[0]))
        division = Division(scale=max(num_scales), zero_denominator="zero", trim_to=max(num_scales[0], 0))
    if not dens:
        dens = [literal_column("1")]
    text: Any = _text(nums[0])
    for extra in nums[1:]:
        text = text + literal_column("','") + _text(extra)
    text = text + literal_column("'/'") + _text(dens[0])
    for extra in dens[1:]:
        text = text + literal_column("','") + _text(extra)
    if guard is not None:  # the first complaint of all groups, on every row: the same sentence on every backend
        first = func.min(guard).over()
        text = case((first.is_not(None), literal_column("'!'") + first), else_=text)
    quotient = Quotient(num_scales, den_scales if dens else (0,), division, metric.name, refusal(ctx))
    return type_coerce(text, quotient)


def refusal(ctx: MetricContext | None) -> Callable[[str], tuple[str, str]]:
    """The sentence and hint for a guard's complaint in ``ctx`` (a fact its conversion cannot convert)."""
    conversion = ctx.conversion if ctx is not None else None
    return lambda complaint: unconvertible(conversion, complaint)


def grouped_values(
    metric: Metric, ctx: MetricContext, keyed: Keyed = _by_person, key_label: str = "group_key"
) -> Select[Any]:
    """``SELECT key, value``: the metric's value per group, exact (int, Decimal or None)."""
    components, n_terms, d_terms = grouped_components(metric, ctx, keyed)
    inner = components.subquery("components")
    cols = [inner.c[f"n{i}"] for i in range(n_terms)] + [inner.c[f"d{i}"] for i in range(d_terms)]
    guard = inner.c.g if "g" in inner.c else None
    value = _value_expression(metric, cols, n_terms, d_terms, guard, ctx)
    return select(inner.c.group_key.label(key_label), value.label("value"))


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
