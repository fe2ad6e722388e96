"""Custom metrics declared in YAML, without code: filter + aggregate, or the ratio of two metrics.

::

    metrics:
      - name: big_won_deals
        description: Won deals of 100,000 or more.
        unit: count
        facts: deals              # a fact table of the common schema
        time: closed_at           # the time stamp (or day) that places a fact in a period
        person: owner_id          # who the fact is credited to
        where: {status: won, amount: {">=": 100000}, deal_type: [new, upsell]}
        aggregate: count          # count, sum, count_distinct, average, min, max, median, percentile
      - name: median_cycle_days
        description: Median days from creation to close of won deals.
        unit: days
        facts: deals
        time: closed_at
        person: owner_id
        where: {status: won}
        aggregate: median
        duration: {from: created_at, to: closed_at, in: days}
      - name: big_deal_share
        description: Big won deals ÷ won deals.
        unit: ratio
        ratio: {numerator: big_won_deals, denominator: won_deals}
        zero_denominator: missing

Files are read from ``$KPI_METRICS_PATH`` (a folder or file), else ``./metrics`` when it exists,
and registered as the ``custom_metrics`` plugin, so plans use them like any other metric. Every
problem is reported at once as ``file:line:column: sentence. hint``.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import BigInteger, Date, and_, select, type_coerce

from ..errors import ConfigurationError
from ..money import ExactDecimal
from ..store import schema as s
from ..yaml_reader import Located, load_located, problem_at, read_yaml_text
from .declaration import Metric
from .measures import Division, Measure, fact_metric, seconds_between, within, within_days

__all__ = [
    "METRICS_PATH_ENV",
    "CustomMetricError",
    "custom_metric_files",
    "custom_metrics_from_environment",
    "load_custom_metrics",
    "registry_with_custom_metrics",
]

METRICS_PATH_ENV = "KPI_METRICS_PATH"
FACT_TABLES = {
    t.name: t
    for t in (
        s.deals,
        s.activities,
        s.leads,
        s.payments,
        s.refunds,
        s.renewals,
        s.churn_events,
        s.survey_responses,
        s.marketing_spend,
        s.web_visits,
        s.content_stats,
        s.support_tickets,
        s.trainings,
        s.customers,
    )
}
_DIMENSION_COLUMNS = {
    "product_line": ("product_line",),
    "channel": ("channel", "lead_source"),
    "campaign": ("campaign",),
}
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86_400}
_OPERATORS = {
    ">": "__gt__",
    ">=": "__ge__",
    "<": "__lt__",
    "<=": "__le__",
    "=": "__eq__",
    "==": "__eq__",
    "!=": "__ne__",
}


class CustomMetricError(ConfigurationError):
    """A custom metric file does not validate; ``problems`` lists every problem found."""

    def __init__(self, message: str, *, hint: str | None = None, problems: list[str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or [message]


class Duration(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    in_: Literal["seconds", "minutes", "hours", "days"] = Field("hours", alias="in")


class RatioOf(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numerator: str
    denominator: str


class CustomMetric(BaseModel):
    """One metric of a custom metric file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    unit: Literal["money", "count", "ratio", "days", "hours", "minutes", "score"] = "count"
    grain: str = "month"
    facts: str | None = None
    time: str | None = None
    person: str | None = None
    where: dict[str, Any] = {}
    aggregate: Literal["count", "sum", "count_distinct", "average", "min", "max", "median", "percentile"] | None = None
    column: str | None = None
    duration: Duration | None = None
    percentile: int | None = Field(None, ge=1, le=100)
    ratio: RatioOf | None = None
    zero_denominator: Literal["zero", "missing", "error"] = "missing"
    scale: int = Field(6, ge=0, le=12)

    @model_validator(mode="after")
    def _one_kind(self) -> CustomMetric:
        if self.ratio is not None:
            if self.facts or self.aggregate:
                raise ValueError("a metric is either a ratio of two metrics or an aggregate over facts, not both")
            return self
        missing = [k for k in ("facts", "time", "person", "aggregate") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"an aggregate metric needs {', '.join(missing)}")
        if self.aggregate == "percentile" and self.percentile is None:
            raise ValueError("aggregate percentile needs percentile: 1-100")
        if self.aggregate not in ("count",) and not (self.column or self.duration):
            raise ValueError(f"aggregate {self.aggregate} needs a column or a duration")
        return self


class MetricFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: list[dict[str, Any]]


def custom_metric_files(path: str | Path | None = None) -> list[Path]:
    """The YAML files to read: ``path``, else ``$KPI_METRICS_PATH``, else ``./metrics`` if it exists."""
    chosen = (
        Path(path)
        if path
        else Path(os.environ[METRICS_PATH_ENV])
        if os.environ.get(METRICS_PATH_ENV)
        else Path("metrics")
    )
    if chosen.is_file():
        return [chosen]
    if chosen.is_dir():
        return sorted(p for p in chosen.iterdir() if p.suffix in (".yaml", ".yml"))
    if path or os.environ.get(METRICS_PATH_ENV):
        raise CustomMetricError(
            f"the custom metrics path {str(chosen)!r} does not exist.",
            hint=f"give a folder or YAML file with --metrics or ${METRICS_PATH_ENV}",
        )
    return []


def _where(doc: Located, loc: tuple[Any, ...], message: str) -> str:
    line, col = doc.where(loc)
    return f"{doc.path}:{line}:{col}: {message}"


def _column(table: Any, name: str, doc: Located, loc: tuple[Any, ...], problems: list[str]) -> Any:
    if name in table.c:
        return table.c[name]
    near = difflib.get_close_matches(name, table.c.keys(), n=1)
    hint = f"did you mean {near[0]!r}?" if near else f"columns: {', '.join(table.c.keys())}"
    problems.append(_where(doc, loc, f"{table.name} has no column {name!r}. {hint}"))
    return None


def _conditions(
    table: Any, where: dict[str, Any], doc: Located, loc: tuple[Any, ...], problems: list[str]
) -> list[Any]:
    out = []
    for key, wanted in where.items():
        col = _column(table, key, doc, (*loc, "where", key), problems)
        if col is None:
            continue
        if isinstance(wanted, list):
            out.append(col.in_(wanted))
        elif isinstance(wanted, dict):
            for op, value in wanted.items():
                if op not in _OPERATORS:
                    problems.append(
                        _where(
                            doc,
                            (*loc, "where", key, op),
                            f"unknown comparison {op!r}. use one of {', '.join(_OPERATORS)}",
                        )
                    )
                    continue
                out.append(getattr(col, _OPERATORS[op])(value))
        elif wanted is None:
            out.append(col.is_(None))
        else:
            out.append(col == wanted)
    return out


def _aggregate_metric(
    spec: CustomMetric, doc: Located, loc: tuple[Any, ...], problems: list[str], source: str
) -> Metric | None:
    table = FACT_TABLES.get(spec.facts or "")
    if table is None:
        near = difflib.get_close_matches(spec.facts or "", FACT_TABLES, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"fact tables: {', '.join(sorted(FACT_TABLES))}"
        problems.append(_where(doc, (*loc, "facts"), f"unknown fact table {spec.facts!r}. {hint}"))
        return None
    before = len(problems)
    time = _column(table, spec.time or "", doc, (*loc, "time"), problems)
    person = _column(table, spec.person or "", doc, (*loc, "person"), problems)
    conditions = _conditions(table, spec.where, doc, loc, problems)
    value: Any = None
    scale = 0
    divisor = 1
    if spec.duration is not None:
        start = _column(table, spec.duration.from_, doc, (*loc, "duration", "from"), problems)
        end = _column(table, spec.duration.to, doc, (*loc, "duration", "to"), problems)
        if start is not None and end is not None:
            value = seconds_between(start, end)
            conditions += [start.is_not(None), end.is_not(None)]
            divisor = _SECONDS[spec.duration.in_]
    elif spec.column:
        col = _column(table, spec.column, doc, (*loc, "column"), problems)
        if col is not None:
            scale = col.type.scale if isinstance(col.type, ExactDecimal) else 0
            value = type_coerce(col, BigInteger()) if scale else col
            if "currency" in table.c and isinstance(col.type, ExactDecimal) and scale == 4:
                conditions.append(("currency", None))
    if len(problems) > before:
        return None
    dims = [table.c[c].label(d) for d, names in _DIMENSION_COLUMNS.items() for c in names[:1] if c in table.c]
    if "channel" not in {d.name for d in dims} and "lead_source" in table.c:
        dims.append(table.c.lead_source.label("channel"))
    day_column = isinstance(time.type, Date)
    currency_filter = any(c == ("currency", None) for c in conditions)
    plain_conditions = [c for c in conditions if c != ("currency", None)]
    if "is_deleted" in table.c:
        plain_conditions.append(table.c.is_deleted.is_(False))

    def facts(ctx: Any) -> Any:
        period = within_days(time, ctx) if day_column else within(time, ctx)
        extra = [table.c.currency == ctx.currency] if currency_filter else []
        columns = [person.label("person_id"), table.c.id.label("record_id"), *dims]
        if value is not None:
            columns.append(value.label("value"))
        return select(*columns).where(and_(period, *plain_conditions, *extra))

    kind = spec.aggregate
    duration_division = Division(
        scale=2 if spec.duration else spec.scale, zero_denominator=spec.zero_denominator, divisor=divisor
    )
    if kind == "count":
        return fact_metric(
            spec.name,
            spec.description,
            spec.unit,
            Measure(facts, "count", "value" if value is not None and spec.column else None),
            grain=spec.grain,
            source=source,
        )
    if kind == "average":
        return fact_metric(
            spec.name,
            spec.description,
            spec.unit,
            Measure(facts, "sum", "value", scale),
            Measure(facts, "count", "value"),
            division=Division(scale=spec.scale, zero_denominator=spec.zero_denominator, divisor=divisor),
            grain=spec.grain,
            source=source,
        )
    measure = Measure(facts, kind or "count", "value", scale, percentile=spec.percentile)
    division = duration_division if (spec.duration or kind in ("median", "percentile")) else None
    if division is not None and not spec.duration:
        division = Division(scale=max(spec.scale, scale), zero_denominator=spec.zero_denominator)
    return fact_metric(
        spec.name, spec.description, spec.unit, measure, division=division, grain=spec.grain, source=source
    )


def load_custom_metrics(paths: list[Path], known: dict[str, Metric] | None = None) -> list[Metric]:
    """Read custom metric files; ``known`` metrics (from plugins) may be used in ratios. Raises
    ``CustomMetricError``."""
    known = dict(known or {})
    problems: list[str] = []
    specs: list[tuple[CustomMetric, Located, tuple[Any, ...]]] = []
    for path in paths:
        text = ""
        try:
            text = read_yaml_text(path)
            doc = load_located(text, path)
        except yaml.YAMLError as exc:
            line, column, problem = problem_at(exc, text)
            problems.append(f"{path}:{line}:{column}: not valid YAML: {problem}.")
            continue
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # unreadable, too large, too deep, expanding
            problems.append(f"{path}:1:1: cannot be read: {exc}.")
            continue
        try:
            entries = MetricFile.model_validate(doc.data).metrics
        except ValidationError:
            problems.append(f"{path}:1:1: a custom metric file is a mapping with a list under 'metrics'.")
            continue
        for index, raw in enumerate(entries):
            loc = ("metrics", index)
            try:
                specs.append((CustomMetric.model_validate(raw), doc, loc))
            except ValidationError as exc:
                for err in exc.errors():
                    at = (*loc, *err["loc"])
                    if err["type"] == "extra_forbidden":
                        key = str(err["loc"][-1])
                        valid = list(CustomMetric.model_fields)
                        near = difflib.get_close_matches(key, valid, n=1)
                        problems.append(
                            _where(
                                doc,
                                at,
                                f"unknown key {key!r}. "
                                + (f"did you mean {near[0]!r}? " if near else "")
                                + f"valid keys: {', '.join(valid)}",
                            )
                        )
                    else:
                        problems.append(_where(doc, at, err["msg"].removeprefix("Value error, ") + "."))
    built: list[Metric] = []
    seen: dict[str, str] = {}
    for spec, doc, loc in specs:
        if spec.name in seen or spec.name in known:
            problems.append(
                _where(
                    doc,
                    (*loc, "name"),
                    f"metric {spec.name!r} is already defined "
                    f"{'in ' + seen[spec.name] if spec.name in seen else 'by a plugin'}.",
                )
            )
            continue
        seen[spec.name] = doc.path
        if spec.ratio is None:
            metric = _aggregate_metric(spec, doc, loc, problems, doc.path)
            if metric is not None:
                built.append(metric)
                known[metric.name] = metric
    for spec, doc, loc in specs:
        if spec.ratio is None:
            continue
        parts = []
        for side in ("numerator", "denominator"):
            name = getattr(spec.ratio, side)
            other = known.get(name)
            if other is None:
                near = difflib.get_close_matches(name, known, n=1)
                problems.append(
                    _where(
                        doc,
                        (*loc, "ratio", side),
                        f"unknown metric {name!r}. " + (f"did you mean {near[0]!r}?" if near else ""),
                    )
                )
            elif (
                other.numerator is None
                or other.denominator is not None
                or other.numerator.ranked
                or other.division is not None
            ):
                problems.append(
                    _where(
                        doc,
                        (*loc, "ratio", side),
                        f"metric {name!r} is not a plain count or sum over facts, so it cannot be part of a ratio.",
                    )
                )
            else:
                parts.append(other.numerator)
        if len(parts) == 2:
            metric = fact_metric(
                spec.name,
                spec.description,
                spec.unit,
                parts[0],
                parts[1],
                division=Division(scale=spec.scale, zero_denominator=spec.zero_denominator),
                grain=spec.grain,
                source=doc.path,
            )
            built.append(metric)
            known[metric.name] = metric
    if problems:
        count = len(problems)
        raise CustomMetricError(
            problems[0] if count == 1 else f"the custom metrics have {count} problems; the first: {problems[0]}",
            hint=None if count == 1 else "fix each problem listed above",
            problems=problems,
        )
    return built


def registry_with_custom_metrics(path: str | Path | None = None) -> Any:
    """The plugin registry with the custom metrics of ``path`` (or the default place); their problems are raised."""
    from ..registry import get_registry, load_plugins

    previous = os.environ.get(METRICS_PATH_ENV)
    if path is not None:
        os.environ[METRICS_PATH_ENV] = str(path)
    try:
        files = custom_metric_files()
        registry = load_plugins() if path is not None else get_registry()
        failed = next((p for p in registry.plugins if p.name == "custom_metrics" and p.error), None)
        if failed is not None and files:
            load_custom_metrics(files, registry.metrics)  # raises the problems, each at file:line:column
        return registry
    finally:
        if path is not None:
            if previous is None:
                os.environ.pop(METRICS_PATH_ENV, None)
            else:
                os.environ[METRICS_PATH_ENV] = previous


_loading = False


def custom_metrics_from_environment() -> list[Metric]:
    """What the ``custom_metrics`` plugin registers: the files of ``$KPI_METRICS_PATH`` or ``./metrics``."""
    global _loading
    if _loading:
        return []  # the nested registry below asks every plugin, this one included
    files = custom_metric_files()
    if not files:
        return []
    from ..registry import load_plugins

    _loading = True
    try:
        known = load_plugins().metrics
    finally:
        _loading = False
    return load_custom_metrics(files, known)
