"""Typed records that plugins register and the engine passes to them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict
from sqlalchemy import Select

from ..metrics.measures import Division, Measure
from ..money import to_decimal
from ..periods import Period

__all__ = [
    "Amount",
    "OrgView",
    "PersonInfo",
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
    unit: Literal["money", "count", "ratio", "days", "hours", "minutes", "score"]
    grain: str = "month"
    query: Callable[[MetricContext], Select[Any]]
    evidence: Callable[[MetricContext], Select[Any]] | None = None
    evidence_table: str | None = None
    zero_when_missing: bool = True  # a person with no rows scores 0 (a count or a sum)
    # Each person's value is exactly the sum of their evidence values: when a rule reads the evidence
    # anyway, the engine adds it up instead of asking the database a second time.
    evidence_adds_up: bool = False
    # Declared from facts (see ``fact_metric``): then the metric can also be grouped, rolled up and windowed.
    numerator: Measure | None = None
    denominator: Measure | None = None
    division: Division | None = None
    source: str = ""  # where the KPI comes from (e.g. the catalogue's source documents)


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


@dataclass(frozen=True)
class PersonInfo:
    """A person as of the period: role, team and manager then, and employment dates (for proration)."""

    id: str
    name: str
    role: str | None = None
    team_id: str | None = None
    manager_id: str | None = None
    hire_date: date | None = None
    leave_date: date | None = None


class OrgView(Protocol):
    """The organisation as it was on a given day (from ``org_assignments`` and ``team_hierarchy``)."""

    def team_of(self, person: str, day: date) -> str | None: ...

    def manager_of(self, person: str, day: date) -> str | None: ...

    def managers_above(self, person: str, day: date) -> list[str]:
        """Direct manager first, then theirs, up to the top."""
        ...

    def members(self, team: str, day: date, *, with_subteams: bool = True) -> list[str]: ...


def _no_period_values(_metric: str, _period: Period) -> Mapping[str, Decimal]:
    return {}


def _no_period_targets(_metric: str, _period: Period) -> Mapping[str, TargetLevels]:
    return {}


def _no_history(_rule: str, _period: Period) -> Sequence[RuleResult]:
    return ()


def _no_scores(_kpi: str) -> Mapping[str, Decimal]:
    return {}


def _no_details(_metric: str) -> Mapping[str, Sequence[Mapping[str, Any]]]:
    return {}


def _no_period_details(_metric: str, _period: Period) -> Mapping[str, Sequence[Mapping[str, Any]]]:
    return {}


@dataclass
class RuleContext:
    """Everything a rule may read while it is evaluated for one period.

    The engine fills it from the database; plan tests fill it from a case's data, so a rule
    that reads only through this object is testable without a database.
    """

    period: Period
    currency: str
    people: Sequence[str]
    values: Mapping[str, Mapping[str, Decimal]]  # metric -> person -> value, this period
    targets: Mapping[str, Mapping[str, TargetLevels]]  # metric -> person -> levels, this period
    round_line: Callable[[Decimal], Decimal]
    round_total: Callable[[Decimal], Decimal]
    records: Callable[[str], Mapping[str, Sequence[tuple[int, Decimal]]]]  # metric -> person -> [(id, value)]
    evidence_table: Callable[[str], str | None] = field(default=lambda _m: None)
    plan_id: str = ""
    rule_id: str = ""  # the rule being evaluated
    time_zone: str = "UTC"
    people_info: Mapping[str, PersonInfo] = field(default_factory=dict)
    org: OrgView | None = None
    # Totals per person of the rules evaluated before this one in the same run: rule id -> person -> amount.
    results: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    # Metric values and targets of any other period (earlier months, year to date, the days of this period).
    values_in: Callable[[str, Period], Mapping[str, Decimal]] = _no_period_values
    targets_in: Callable[[str, Period], Mapping[str, TargetLevels]] = _no_period_targets
    # What this plan's rule ``rule`` produced in an earlier period (its saved outcomes, traces included).
    history: Callable[[str, Period], Sequence[RuleResult]] = _no_history
    # Every column of a metric's evidence rows, by label (``record_id``, ``value`` and any extra
    # column the metric selects, e.g. ``deal_id``, ``closed_at``): metric -> person -> [row].
    record_details: Callable[[str], Mapping[str, Sequence[Mapping[str, Any]]]] = _no_details
    # The same rows for any other period (a check compares a person with their own earlier months).
    record_details_in: Callable[[str, Period], Mapping[str, Sequence[Mapping[str, Any]]]] = _no_period_details
    # Scores entered by hand (manual_scores table) for this period: kpi -> person -> score.
    manual_scores: Callable[[str], Mapping[str, Decimal]] = _no_scores
    # Evaluate a compiled formula for a person: the plan's names, earlier rules' results and
    # earlier periods resolve through the engine; ``extra`` adds rule-local names (``amount`` …).
    formula: Callable[[Any, str, Mapping[str, Any]], Any] | None = None

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
    # Metrics whose evidence rows a configured rule reads (``ctx.records``, ``ctx.record_details``): the
    # engine reads them before the rule runs, and a metric whose evidence adds up to its value is not
    # asked of the database again.
    records: Callable[[Any], set[str]] = lambda _cfg: set()
    # Rules of the same plan whose results a configured rule reads (``ctx.results``): they are
    # evaluated before it, and a name that is not a rule of the plan is refused when the plan is validated.
    rules: Callable[[Any], set[str]] = lambda _cfg: set()
    # Names a configured rule's formulas may use besides the plan's own (``amount`` of a record …):
    # the rule passes their values as ``extra`` to ``ctx.formula``.
    local_names: Callable[[Any], set[str]] = lambda _cfg: set()
