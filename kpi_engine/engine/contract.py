"""The contract between the engine and its rule-type plugins: what a rule reads, and what it returns.

A plugin declares a ``RuleType`` (its config model, the metrics it reads, how it evaluates); the
engine gives it a ``RuleContext`` per period and takes back ``RuleResult`` lines. Metric plugins
declare a ``Metric`` (``kpi_engine.metrics.declaration``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from ..formula.formula import Formula
from ..money import Amount
from ..periods import Period

__all__ = [
    "Amount",
    "ConfigT",
    "FindingReview",
    "FormulaEvaluator",
    "LedgerKind",
    "OrgView",
    "PersonInfo",
    "RuleContext",
    "RuleResult",
    "RuleType",
    "TargetLevels",
]

ConfigT = TypeVar("ConfigT", bound=BaseModel)
"""A rule type's config model: the settings of one rule of a plan, validated."""

LedgerKind = Literal["earning", "clawback", "draw_advance", "draw_recovery", "hold", "release", "adjustment"]
"""What a money line is in the payout ledger. A rule type says ``clawback``, ``draw_advance`` or
``draw_recovery`` where it applies (the default is ``earning``); ``hold``, ``release`` and ``adjustment``
are what the engine's own lines are."""


@dataclass(frozen=True)
class TargetLevels:
    """Baseline, target and challenge of one metric for one person and period."""

    target: Decimal
    baseline: Decimal | None = None
    challenge: Decimal | None = None


@dataclass(frozen=True)
class RuleResult:
    """One outcome line: a payout (or score, recommendation ...) for a person, with its trace.

    ``kind`` says what the line is: ``payout`` (money, in the plan's currency), ``held`` (a payout held
    pending review), ``score``, ``recommendation``, ``alert`` or ``finding``, or a kind of the rule
    type's own. A recommendation, alert or finding also says where it stands: ``status`` in the rule
    type's own words, shown to people as it is (``raised``, ``observing``, ``firing``, ``resolved``),
    and ``attention``, whether the line asks someone to act; the engine and its commands read
    ``attention``, never the words.

    A payout line is an ``earning`` in the payout ledger unless ``ledger_kind`` says otherwise: a
    ``clawback`` takes back what was paid, a ``draw_advance`` or ``draw_recovery`` moves a draw's
    balance. (Holds, releases and prior-period adjustments are the engine's own lines.)
    """

    person_id: str
    amount: Decimal | None
    trace: Mapping[str, Any]
    kind: str = "payout"
    status: str | None = None
    attention: bool = False
    ledger_kind: LedgerKind | None = None


@dataclass(frozen=True)
class FindingReview:
    """HR's decision on a finding of any plan (``kpi findings review``): ``uphold`` or ``release``, and when.

    ``check`` is the id of the rule that found it in its plan (``duplicate_deal``), ``period`` the period
    the finding is about, ``reviewed_at`` when HR decided (UTC)."""

    finding_id: str
    plan_id: str
    check: str
    person_id: str
    period: str
    decision: str
    reviewed_at: datetime
    note: str = ""


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


class FormulaEvaluator(Protocol):
    """``ctx.formula(compiled, person, extra)``: a plan formula's value for a person (``extra``: rule-local names)."""

    def __call__(self, formula: Formula, person: str, extra: Mapping[str, Any] | None = None) -> Decimal | bool: ...


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


def _no_outcomes(_rule: str) -> Sequence[RuleResult]:
    return ()


def _no_period_scores(_kpi: str, _period: Period) -> Mapping[str, Decimal]:
    return {}


def _no_reviews(_period: Period) -> Sequence[FindingReview]:
    return ()


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
    # The lines themselves, traces included, of a rule evaluated before this one in the same run (what an
    # instalment schedule reads of the commission each deal earned this period); earlier periods: ``history``.
    outcomes: Callable[[str], Sequence[RuleResult]] = _no_outcomes
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
    # The same for any other period (a rating of each earlier quarter or year).
    manual_scores_in: Callable[[str, Period], Mapping[str, Decimal]] = _no_period_scores
    # HR's decisions on findings (of any plan) made during a period, oldest first.
    reviews_in: Callable[[Period], Sequence[FindingReview]] = _no_reviews
    # Evaluate a compiled formula for a person: the plan's names, earlier rules' results and
    # earlier periods resolve through the engine; ``extra`` adds rule-local names (``amount`` …).
    formula: FormulaEvaluator | None = None

    def value(self, metric: str, person: str) -> Decimal:
        return self.values.get(metric, {}).get(person, Decimal(0))


class RuleType(BaseModel, Generic[ConfigT]):
    """A kind of rule a plan can use: its config model and how it evaluates.

    Generic in its config model: ``RuleType(config_model=Tiers, metrics=lambda cfg: {cfg.measure}, ...)``
    is a ``RuleType[Tiers]``, and a type checker holds every callable to ``Tiers``.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str
    config_model: type[ConfigT]
    metrics: Callable[[ConfigT], set[str]]  # metrics a configured rule needs
    evaluate: Callable[[RuleContext, ConfigT], list[RuleResult]]
    # Metrics whose evidence rows a configured rule reads (``ctx.records``, ``ctx.record_details``): the
    # engine reads them before the rule runs, and a metric whose evidence adds up to its value is not
    # asked of the database again.
    records: Callable[[ConfigT], set[str]] = lambda _cfg: set()
    # Rules of the same plan whose results a configured rule reads (``ctx.results``): they are
    # evaluated before it, and a name that is not a rule of the plan is refused when the plan is validated.
    rules: Callable[[ConfigT], set[str]] = lambda _cfg: set()
    # Names a configured rule's formulas may use besides the plan's own (``amount`` of a record …):
    # the rule passes their values as ``extra`` to ``ctx.formula``.
    local_names: Callable[[ConfigT], set[str]] = lambda _cfg: set()
    # What payroll pays this rule type's lines as (``commission``, ``bonus`` …; default: the rule type's
    # name); a plan's rule may say otherwise with ``component:``.
    component: str | None = None
    # Late events a configured rule takes back itself, by its own policy (``deal_lost``: a won deal that
    # became lost). The pay cycle's prior-period adjustments leave them out, so nothing is taken back twice:
    # a closed period is recomputed with those deals still won.
    reverses: Callable[[ConfigT], set[str]] = lambda _cfg: set()
