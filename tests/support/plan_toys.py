"""Toy rule types for the plan and engine tests: a formula payout and a probe that keeps what it was given.

Written against the public API only, as a third-party plugin would be.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from kpi_engine import (
    FormulaText,
    RuleContext,
    RuleResult,
    RuleType,
    hookimpl,
    load_plugins,
    money_text,
)

__all__ = ["LOOK", "PROBED", "SEEN", "toy_registry"]

PROBED: list[RuleContext] = []
LOOK: list[Any] = []  # functions of the context, called while the probe rule runs (the store is open then)
SEEN: list[Any] = []  # what they returned


class FormulaPay(BaseModel):
    """Pays ``amount`` (a formula) per person; ``per_record`` evaluates it once per record with ``value`` local."""

    model_config = ConfigDict(extra="forbid")

    amount: FormulaText
    kind: str = "payout"
    measure: str | None = None
    per_record: bool = False
    after: list[str] = []


def pay(ctx: RuleContext, config: FormulaPay) -> list[RuleResult]:
    out = []
    for person in ctx.people:
        if config.per_record and config.measure:
            rows = ctx.records(config.measure).get(person, ())
            total = sum((ctx.formula(config.amount, person, {"value": value}) for _, value in rows), Decimal(0))  # type: ignore[misc]
            ids = [rid for rid, _ in rows]
        else:
            total = ctx.formula(config.amount, person, {})  # type: ignore[misc]
            ids = []
        trace: dict[str, Any] = {
            "rule_type": "formula_pay",
            "explanation": [f"{config.amount.text} = {money_text(total)}."],
            "inputs": {"formula": config.amount.text},
            "lines": [{"branch": "formula", "amount": money_text(total)}],
            "status": "computed",
        }
        if ids:
            trace["records"] = {"table": ctx.evidence_table(config.measure or ""), "ids": ids}
        out.append(RuleResult(person, total, trace, kind=config.kind))
    return out


class Probe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measure: str = "bookings"


def probe(ctx: RuleContext, config: Probe) -> list[RuleResult]:
    PROBED.append(ctx)
    SEEN.extend(look(ctx) for look in LOOK)
    return [RuleResult(p, None, {"rule_type": "probe"}, kind="info") for p in ctx.people]


class Toys:
    @hookimpl
    def kpi_rule_types(self) -> list[RuleType]:
        return [
            RuleType(
                name="formula_pay",
                description="Pays a formula.",
                config_model=FormulaPay,
                metrics=lambda cfg: {cfg.measure} if cfg.measure else set(),
                rules=lambda cfg: set(cfg.after),
                local_names=lambda cfg: {"value"} if cfg.per_record else set(),
                evaluate=pay,
            ),
            RuleType(
                name="probe",
                description="Keeps its context.",
                config_model=Probe,
                metrics=lambda cfg: {cfg.measure},
                evaluate=probe,
            ),
        ]


_REGISTRY: list[Any] = []


def toy_registry() -> Any:
    """The installed plugins plus the toys (built once per test session)."""
    if not _REGISTRY:
        _REGISTRY.append(load_plugins(extra={"plan_toys": Toys()}))
    return _REGISTRY[0]
