"""The test cases a plan carries (``tests:`` or ``<plan>.tests.yaml``): given inputs, expected outcomes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from ..money import Amount

__all__ = ["CasePerson", "CaseReview", "CaseTargets", "PlanTestCase"]


def _label(key: Any) -> str:
    """A period label or person id as text, whatever YAML made of it (``2026-01-03`` is a date, ``1001`` an int)."""
    if isinstance(key, date):
        return key.isoformat()
    if isinstance(key, bool) or not isinstance(key, (str, int, Decimal)):
        raise ValueError(f"{key!r} is not a label")  # noqa: TRY004 - pydantic reports ValueErrors
    return str(key)


def _labelled(value: Any) -> Any:
    if isinstance(value, dict):
        return {_label(k): v for k, v in value.items()}
    return value


Labelled = BeforeValidator(_labelled)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CasePerson(_Strict):
    """A person of a test case; anything not given is left unknown (no team, no dates)."""

    name: str | None = None
    role: str | None = None
    team: str | None = None
    manager: str | None = None
    hire_date: date | None = None
    leave_date: date | None = None


class CaseTargets(_Strict):
    """Target levels of one metric for one person and period (a bare number is the target)."""

    target: Amount
    baseline: Amount | None = None
    challenge: Amount | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {"target": value}


PerPerson = Annotated[dict[str, Amount], Labelled]
PerMetric = Annotated[dict[str, PerPerson], Labelled]


class CaseReview(_Strict):
    """HR's decision on a finding, as a case gives it (``reviews:``)."""

    id: str
    check: str
    person: str
    period: str
    decision: Literal["uphold", "release"] = "uphold"
    reviewed_on: date
    plan: str = "checks"

    @field_validator("period", mode="before")
    @classmethod
    def _period_text(cls, value: Any) -> str:
        return _label(value)


class PlanTestCase(_Strict):
    """One case: the period(s) to evaluate, the data the rules see, and the outcome lines expected."""

    name: str
    source: str | None = None
    period: str | None = None
    periods: list[Annotated[str, BeforeValidator(_label)]] = []
    people: Annotated[dict[str, CasePerson | None], Labelled] | None = None
    data: Annotated[dict[str, PerMetric], Labelled] = {}
    targets: Annotated[
        dict[str, Annotated[dict[str, Annotated[dict[str, CaseTargets], Labelled]], Labelled]], Labelled
    ] = {}
    records: Annotated[
        dict[str, Annotated[dict[str, Annotated[dict[str, list[dict[str, Any]]], Labelled]], Labelled]], Labelled
    ] = {}
    manual_scores: Annotated[dict[str, PerMetric], Labelled] = {}
    reviews: list[CaseReview] = []  # HR's decisions on findings (what an escalation counts)
    expect: Annotated[dict[str, list[dict[str, Any]]], Labelled] = Field(min_length=1)
    exact: bool = False  # report lines the case did not expect

    @model_validator(mode="before")
    @classmethod
    def _period_text(cls, value: Any) -> Any:
        if isinstance(value, dict) and "period" in value:
            return {**value, "period": _label(value["period"])}
        return value

    @model_validator(mode="after")
    def _one_way_to_name_periods(self) -> PlanTestCase:
        if self.period and self.periods:
            raise ValueError("give either period or periods, not both")
        if not (self.period or self.periods):
            raise ValueError("a case needs the period it evaluates (period: 2026-01, or periods: [...])")
        for label, lines in self.expect.items():
            if label not in self.labels:
                raise ValueError(f"expect names period {label!r}, which the case does not evaluate")
            for line in lines:
                if not isinstance(line, dict) or "rule" not in line:
                    raise ValueError(f"each expected line of {label} names its rule (rule: ..., person: ...)")
        return self

    @property
    def labels(self) -> list[str]:
        return list(self.periods) if self.periods else [str(self.period)]
