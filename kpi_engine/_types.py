"""Typed records that plugins register and the engine passes to them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict
from sqlalchemy import Select

from ._money import to_decimal
from ._periods import Period

__all__ = [
    "Amount",
    "Metric",
    "MetricContext",
    "RuleContext",
    "RuleResult",
    "RuleType",
    "TargetLevels",
]

Amount = Annotated[Decimal, BeforeValidator(to_decimal)]
"""A pydantic field type for money, rates and percentages: ``"5%"``, ``"12,500.00"``, ``1200``; floats refused."""


@dataclass(frozen=True)
class MetricContext:
    """What a metric's SQL is built for: one period in one time zone and currency."""

    period: Period
    start: datetime  # first instant, UTC
    end: datetime  # first instant after, UTC
    time_zone: str
    currency: str


class Metric(BaseModel):
    """A metric computed by the database per person for a period.

    ``query`` returns a SELECT of ``(person_id, value)``, one row per person with data.
    ``evidence`` (optional) returns ``(person_id, record_id, value)``: the records behind
    the number, used for traces and for rules that pay per transaction.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str
    unit: Literal["money", "count", "ratio", "days", "score"]
    grain: str = "month"
    query: Callable[[MetricContext], Select[Any]]
    evidence: Callable[[MetricContext], Select[Any]] | None = None
    evidence_table: str | None = None
    zero_when_missing: bool = True  # a person with no rows scores 0 (a count or a sum)


@dataclass(frozen=True)
class TargetLevels:
    """Baseline, target and challenge of one metric for one person and period."""

    target: Decimal
    baseline: Decimal | None = None
    challenge: Decimal | None = None


@dataclass(frozen=True)
class RuleResult:
    """One outcome line: a payout (or score, recommendation ...) for a person, with its trace."""

    person_id: str
    amount: Decimal | None
    trace: Mapping[str, Any]
    kind: str = "payout"


@dataclass
class RuleContext:
    """Everything a rule may read: the period, the people in scope, metric values and targets."""

    period: Period
    currency: str
    people: Sequence[str]
    values: Mapping[str, Mapping[str, Decimal]]  # metric -> person -> value
    targets: Mapping[str, Mapping[str, TargetLevels]]  # metric -> person -> levels
    round_line: Callable[[Decimal], Decimal]
    round_total: Callable[[Decimal], Decimal]
    records: Callable[[str], Mapping[str, Sequence[tuple[int, Decimal]]]]  # metric -> person -> [(id, value)]
    evidence_table: Callable[[str], str | None] = field(default=lambda _m: None)

    def value(self, metric: str, person: str) -> Decimal:
        return self.values.get(metric, {}).get(person, Decimal(0))


class RuleType(BaseModel):
    """A kind of rule a plan can use: its config model and how it evaluates."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str
    config_model: type[BaseModel]
    metrics: Callable[[Any], set[str]]  # metrics a configured rule needs
    evaluate: Callable[[RuleContext, Any], list[RuleResult]]
