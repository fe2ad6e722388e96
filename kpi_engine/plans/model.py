"""A plan as HR writes it: the top-level model, its rules' specs, and the validated ``LoadedPlan``."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ..errors import KPIError
from ..fx import CurrencyConversion
from ..money import ROUNDING_MODES
from ..periods import Period, zone
from .cases import PlanTestCase
from .names import PlanNames

__all__ = [
    "NAME",
    "Effective",
    "LoadedPlan",
    "PayCycle",
    "Plan",
    "Rounding",
    "RuleSpec",
    "Scope",
    "SpanSpec",
    "TargetSpec",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Rounding(_Strict):
    """How and where amounts are rounded (nowhere else)."""

    mode: Literal["half_up", "half_even", "down", "up", "floor", "ceiling"] = "half_up"
    places: int = Field(2, ge=0, le=4)
    at: Literal["line", "person_period"] = "person_period"

    def apply(self, value: Decimal) -> Decimal:
        return value.quantize(Decimal(1).scaleb(-self.places), rounding=ROUNDING_MODES[self.mode])

    def rounder(self) -> Callable[[Decimal], Decimal]:
        """``apply`` with its step and mode looked up once (it runs for every amount of a run)."""
        step, mode = Decimal(1).scaleb(-self.places), ROUNDING_MODES[self.mode]

        def rounded(value: Decimal) -> Decimal:
            return value.quantize(step, rounding=mode)

        return rounded


def _exact(value: Decimal) -> Decimal:
    return value


class Scope(_Strict):
    """Who the plan measures: any of these roles, teams or named people (empty = everyone)."""

    roles: list[str] = []
    teams: list[str] = []
    people: list[str] = []


class Effective(_Strict):
    """The dates a plan version is in force: ``from`` inclusive, ``to`` exclusive."""

    from_: date = Field(alias="from")
    to: date | None = None


class TargetSpec(_Strict):
    """A name bound to one level of a metric's target, optionally prorated to the days employed."""

    metric: str
    level: Literal["baseline", "target", "challenge"] = "target"
    prorate: Literal["none", "days_employed"] = "none"


class SpanSpec(_Strict):
    """A name for another plan name's value over a longer span than the plan's period (``spans:``).

    ``annual_quota: {of: quota, over: year}`` in a monthly plan is the year's quota (the year's own target,
    else the sum of its months'); ``bookings_ytd: {of: bookings, over: year_to_date}`` the bookings from
    1 January to the end of the period evaluated.
    """

    of: str
    over: Literal["quarter", "year", "quarter_to_date", "year_to_date"]


class RuleSpec(BaseModel):
    """One rule of a plan: ``id``, ``type`` and the type's own settings."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: str
    # What payroll pays the rule's lines as (default: what its rule type says, else the type's name).
    component: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")


def _formula_text(value: Any) -> Any:
    """A derived metric may be written as a bare number; everything else is a formula's text."""
    return str(value) if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else value


class PayCycle(_Strict):
    """How the plan's closed periods are corrected when a later fact touches them (prior-period adjustments).

    ``prior_period_adjustments``: ``post`` puts the difference in the open period's run, paid when it
    closes; ``review`` lists it as an adjustment awaiting approval (``kpi adjust list``). ``lookback``:
    how many closed periods before the evaluated one are compared (0: none).
    """

    prior_period_adjustments: Literal["post", "review"] = "post"
    lookback: int = Field(12, ge=0, le=60)


class Plan(_Strict):
    """A plan file's top level."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: str = "1"
    name: str | None = None
    description: str | None = None
    effective: Effective | None = None
    applies_to: Scope = Scope()
    period: Literal["month", "quarter", "year", "week", "range"] = "month"
    time_zone: str = "UTC"
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    # How facts in other currencies become the plan's: never by default (kpi_engine.fx, docs/import.md).
    conversion: CurrencyConversion | None = None
    rounding: Rounding
    # Names the formulas use: an alias of a metric (``bookings: bookings``) or a formula (``bookings / quota``).
    metrics: dict[str, Annotated[str, BeforeValidator(_formula_text)]] = {}
    targets: dict[str, TargetSpec] = {}
    # Names for values over a longer span: ``annual_quota: {of: quota, over: year}``.
    spans: dict[str, SpanSpec] = {}
    rules: list[RuleSpec] = Field(min_length=1)
    tests: list[PlanTestCase] = []
    pay_cycle: PayCycle = PayCycle()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except KPIError as exc:
            raise ValueError(f"{value!r} is not a time zone; use an IANA name such as Asia/Shanghai or UTC") from exc
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> str:
        return str(value)

    @field_validator("metrics", "targets", "spans")
    @classmethod
    def _names_are_identifiers(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not NAME.fullmatch(name):
                raise ValueError(f"{name!r} cannot be used in formulas; a name is letters, digits and _")
        return value


NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan: the model, each rule's typed config, its names, rule order and text hash."""

    plan: Plan
    configs: dict[str, BaseModel]  # rule id -> validated config
    plan_hash: str
    path: str
    names: PlanNames = field(default_factory=PlanNames)
    order: tuple[str, ...] = ()  # rule ids, each after the rules it reads
    reads: dict[str, frozenset[str]] = field(default_factory=dict)  # rule id -> plan names its formulas and fields read

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def rules_in_order(self) -> list[RuleSpec]:
        by_id = {r.id: r for r in self.plan.rules}
        return [by_id[r] for r in (self.order or by_id)]

    @functools.cached_property
    def round_line(self) -> Callable[[Decimal], Decimal]:
        """Rounds a line's amount when the plan rounds per line; leaves it exact otherwise."""
        return self.plan.rounding.rounder() if self.plan.rounding.at == "line" else _exact

    @functools.cached_property
    def round_total(self) -> Callable[[Decimal], Decimal]:
        """Rounds an amount as the plan says (every amount of a run, whichever plugin computed it)."""
        return self.plan.rounding.rounder()

    def in_force(self, period: Period) -> bool:
        eff = self.plan.effective
        return eff is None or (eff.from_ < period.end and (eff.to is None or period.start < eff.to))
