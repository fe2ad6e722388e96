"""A hand-built ``RuleContext`` for one period: how rule types are specified without a database."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kpi_engine import (
    Period,
    PersonInfo,
    RuleContext,
    TargetLevels,
    parse_period,
    quantize,
)

__all__ = ["context", "d"]


def d(value: object) -> Decimal:
    return Decimal(str(value))


def context(
    *,
    period: str = "2026-01",
    people: list[str] | None = None,
    values: Mapping[str, Mapping[str, object]] | None = None,
    targets: Mapping[str, Mapping[str, Mapping[str, object]]] | None = None,
    records: Mapping[str, Mapping[str, list[tuple[int, object]]]] | None = None,
    details: Mapping[str, Mapping[str, list[dict[str, Any]]]] | None = None,
    earlier: Mapping[str, Mapping[str, Mapping[str, object]]] | None = None,
    manual: Mapping[str, Mapping[str, object]] | None = None,
    results: Mapping[str, Mapping[str, object]] | None = None,
    people_info: Mapping[str, PersonInfo] | None = None,
    rounding_at: str = "person_period",
) -> RuleContext:
    """Metric ``values`` (metric -> person -> value), ``targets`` (metric -> person -> levels),
    evidence ``records``/``details`` and ``earlier`` periods' values (period label -> metric -> person -> value)."""
    found_values = {m: {p: d(v) for p, v in per.items()} for m, per in (values or {}).items()}
    people = people or sorted({p for per in found_values.values() for p in per} or {"E1"})

    def at_places(value: Decimal) -> Decimal:
        return quantize(value, 2, "half_up")

    def values_in(metric: str, other: Period) -> Mapping[str, Decimal]:
        return {p: d(v) for p, v in (earlier or {}).get(other.label, {}).get(metric, {}).items()}

    return RuleContext(
        period=parse_period(period),
        currency="USD",
        people=people,
        values=found_values,
        targets={
            m: {p: TargetLevels(**{k: d(v) for k, v in levels.items()}) for p, levels in per.items()}
            for m, per in (targets or {}).items()
        },
        round_line=at_places if rounding_at == "line" else (lambda v: v),
        round_total=at_places,
        records=lambda m: {p: [(rid, d(v)) for rid, v in rows] for p, rows in (records or {}).get(m, {}).items()},
        evidence_table=lambda m: "deals" if (records or details or {}).get(m) else None,
        rule_id="rule",
        people_info=dict(people_info or {}),
        results={r: {p: d(v) for p, v in per.items()} for r, per in (results or {}).items()},
        values_in=values_in,
        record_details=lambda m: (details or {}).get(m, {}),
        manual_scores=lambda kpi: {p: d(v) for p, v in (manual or {}).get(kpi, {}).items()},
    )
