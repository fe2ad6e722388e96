"""Findings of anti-gaming checks: what a check saw, about whom, on which records, and what the plan does about it.

A check is a rule type whose config model subclasses ``CheckConfig``. It returns findings as
``Finding(...).as_result()`` lines (kind ``finding``, no amount). The plan declares each check's
``effect`` on the payout rules it names in ``affects``; the engine applies it and records it in the run.
Findings are recommendations for human review, never verdicts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field

from ..engine.contract import RuleResult

if TYPE_CHECKING:
    from ..plans.model import LoadedPlan

__all__ = [
    "FINDING",
    "HELD",
    "CheckConfig",
    "Effect",
    "Finding",
    "FindingCategory",
    "Severity",
    "finding_id",
    "has_checks",
    "is_check",
]

FINDING = "finding"
HELD = "held"  # a payout line held pending review of a finding: amount and currency kept, not paid
Effect = Literal["flag", "hold", "exclude", "clawback"]
Severity = Literal["low", "medium", "high"]
_SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high")
FindingCategory = Literal["gaming", "process"]
"""``gaming``: a signal that someone may have gamed a measure; ``process``: records kept badly (missing evidence,
missing lead channel), a matter for the process owner rather than an accusation."""


class CheckConfig(BaseModel):
    """Settings every check has; a check's own config model subclasses this and adds its thresholds.

    - ``effect``: ``flag`` (report only), ``hold`` (the person's payouts of the ``affects`` rules are held
      pending review), ``exclude`` (the evidence records' credit is taken out of the ``affects`` rules'
      measures) or ``clawback`` (what the ``affects`` rules paid on the evidence records is reversed).
    - ``affects``: the payout rules of the same plan the effect acts on (required unless ``flag``).
    - ``severity``: the severity of a finding when the check does not grade it itself.
    - ``clawback_periods``: how many earlier periods a ``clawback`` looks back for what was paid on a record.
    - ``act_on``: the severities the effect acts on; a finding of another severity is listed (flagged) only, and
      says so. Default: every severity.
    """

    model_config = ConfigDict(extra="forbid")

    effect: Effect = "flag"
    affects: list[str] = Field(default_factory=list)
    severity: Severity = "medium"
    clawback_periods: int = Field(default=12, ge=1, le=36)
    act_on: list[Severity] = Field(default_factory=lambda: list(_SEVERITIES), min_length=1)

    def acts_on(self, severity: str) -> bool:
        """Whether the plan's effect acts on a finding of ``severity`` (else it is only flagged)."""
        return self.effect != "flag" and severity in self.act_on


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One finding: check, person, period, severity, a sentence, and the records behind it (table -> ids)."""

    check: str
    person_id: str
    period: str
    severity: Severity
    explanation: str
    evidence: Mapping[str, tuple[int, ...]]
    figures: Mapping[str, Any] = field(default_factory=dict)  # the numbers behind the sentence, as plain text
    category: FindingCategory = "gaming"

    def as_result(self, config: CheckConfig | None = None) -> RuleResult:
        effect = config.effect if config is not None else "flag"
        trace: dict[str, Any] = {
            "check": self.check,
            "period": self.period,
            "severity": self.severity,
            "category": self.category,
            "explanation": self.explanation,
            "effect": effect,
            "affects": list(config.affects) if config is not None else [],
            "figures": dict(self.figures),
            "records": [{"table": table, "ids": sorted(ids)} for table, ids in sorted(self.evidence.items())],
        }
        return RuleResult(person_id=self.person_id, amount=None, trace=trace, kind=FINDING, attention=True)

    @classmethod
    def from_result(cls, result: RuleResult) -> Finding:
        t = result.trace
        evidence = {r["table"]: tuple(r["ids"]) for r in t.get("records", [])}
        return cls(
            check=t["check"],
            person_id=result.person_id,
            period=t["period"],
            severity=t["severity"],
            explanation=t["explanation"],
            evidence=evidence,
            figures=dict(t.get("figures", {})),
            category=t.get("category", "gaming"),
        )


def is_check(config: Any) -> TypeGuard[CheckConfig]:
    """Whether a configured rule is an anti-gaming check (its config subclasses ``CheckConfig``)."""
    return isinstance(config, CheckConfig)


def has_checks(plan: LoadedPlan) -> bool:
    """Whether a plan's rules include an anti-gaming check."""
    return any(is_check(config) for config in plan.configs.values())


def finding_id(plan_id: str, rule_id: str, person_id: str, period: str, evidence: Mapping[str, Any]) -> str:
    """A finding's id: the same plan, check rule, person, period and evidence records give the same id on every
    re-run."""
    records = ";".join(
        f"{table}:{','.join(str(i) for i in sorted(ids, key=str))}" for table, ids in sorted(evidence.items())
    )
    return hashlib.sha256(f"{plan_id}|{rule_id}|{person_id}|{period}|{records}".encode()).hexdigest()[:16]
