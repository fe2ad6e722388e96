"""Draws: a guaranteed minimum per period, topped up from the employer's side.

- ``recoverable: true``: the top-up is an advance. It adds to an outstanding balance that is
  recovered from later earnings *above* the guarantee (never taking pay below the guarantee).
- ``recoverable: false``: the top-up is a guarantee and is never recovered.

The rule reads the period's earnings from earlier rules of the plan (``earnings_rules``, through
``ctx.results``) and returns one payout line per person: the draw (positive) or the recovery
(negative), so that earnings + this line = what is paid. The balance is carried from the rule's
own saved outcome of the previous period (``ctx.history``); the trace shows it before and after.

When someone leaves in the period (``leave_date`` inside it), ``on_leave`` declares the balance's
fate: ``write_off`` (the default: the draw is paid as usual and what is left is written off) or
``recover`` (no new draw; the whole balance is recovered in that period, even beyond its earnings).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kpi_engine import Amount, LedgerKind, RuleContext, RuleResult, RuleType, hookimpl, money_text

from ._support import SavedOutcomes, periods_back, shown

__all__ = ["Draw", "DrawStep", "draw_step", "kpi_rule_types"]

ZERO = Decimal(0)


class Draw(BaseModel):
    """Settings of a ``draw`` rule."""

    model_config = ConfigDict(extra="forbid")

    guarantee: Amount = Field(gt=0)
    earnings_rules: list[str] = Field(min_length=1)  # rules whose results are the period's earnings
    recoverable: bool
    on_leave: Literal["write_off", "recover"] = "write_off"


class DrawStep(BaseModel):
    """One period of a draw account."""

    earnings: Decimal
    balance_before: Decimal
    draw: Decimal  # advanced or guaranteed this period
    recovery: Decimal  # taken back this period (positive number)
    written_off: Decimal
    balance_after: Decimal

    @property
    def line(self) -> Decimal:
        return self.draw - self.recovery

    @property
    def paid(self) -> Decimal:
        return self.earnings + self.line


def draw_step(config: Draw, earnings: Decimal, balance_before: Decimal, *, leaving: bool = False) -> DrawStep:
    """The draw, recovery and balance of one period (amounts as computed; the plan rounds them)."""
    if leaving and config.recoverable and config.on_leave == "recover":
        return DrawStep(
            earnings=earnings,
            balance_before=balance_before,
            draw=ZERO,
            recovery=balance_before,
            written_off=ZERO,
            balance_after=ZERO,
        )
    draw = max(config.guarantee - earnings, ZERO)
    recovery = ZERO
    balance = balance_before
    if config.recoverable:
        recovery = min(balance_before, max(earnings - config.guarantee, ZERO))
        balance = balance_before + draw - recovery
    written_off = ZERO
    if leaving and config.recoverable:
        written_off, balance = balance, ZERO
    return DrawStep(
        earnings=earnings,
        balance_before=balance_before,
        draw=draw,
        recovery=recovery,
        written_off=written_off,
        balance_after=balance,
    )


def _previous_balance(ctx: RuleContext, saved: SavedOutcomes, person: str) -> tuple[Decimal, str]:
    [previous] = periods_back(ctx.period, 1)
    for result in saved.of(ctx.rule_id, previous, person):
        if "balance_after" in result.trace:
            return Decimal(str(result.trace.get("balance_after", "0"))), f"the balance after {previous.label}"
    return ZERO, f"no draw outcome saved for {previous.label}: starting from 0"


def _explain(config: Draw, step: DrawStep, currency: str, leaving: bool) -> str:
    kind = "recoverable draw" if config.recoverable else "non-recoverable guarantee"
    parts = [f"Earnings {shown(step.earnings)} {currency} against a guarantee of {shown(config.guarantee)}"]
    if step.draw > ZERO:
        parts.append(f"the {kind} adds {shown(step.draw)}")
    if step.recovery > ZERO:
        reason = (
            "leaving: the whole balance is recovered"
            if leaving and config.on_leave == "recover"
            else "recovered from earnings above the guarantee"
        )
        parts.append(f"{shown(step.recovery)} {reason}")
    if step.draw == ZERO and step.recovery == ZERO:
        parts.append("no draw is needed")
    sentence = "; ".join(parts) + f"; paid {shown(step.paid)}."
    if config.recoverable:
        sentence += f" Outstanding balance {shown(step.balance_before)} → {shown(step.balance_after)}"
        sentence += f" ({shown(step.written_off)} written off on leaving)." if step.written_off else "."
    else:
        sentence += " A guarantee is never recovered."
    return sentence


def evaluate(ctx: RuleContext, config: Draw) -> list[RuleResult]:
    results: list[RuleResult] = []
    saved = SavedOutcomes(ctx)
    for person in ctx.people:
        by_rule = {rule: ctx.results.get(rule, {}).get(person, ZERO) for rule in config.earnings_rules}
        earnings = sum(by_rule.values(), ZERO)
        if config.recoverable:
            balance_before, balance_from = _previous_balance(ctx, saved, person)
        else:
            balance_before, balance_from = ZERO, "a guarantee keeps no balance"
        info = ctx.people_info.get(person)
        leave_date = info.leave_date if info is not None else None
        leaving = leave_date is not None and ctx.period.start <= leave_date < ctx.period.end
        step = draw_step(config, earnings, balance_before, leaving=leaving)
        amount = ctx.round_total(ctx.round_line(step.line))
        trace: dict[str, object] = {
            "rule_type": "draw",
            "recoverable": config.recoverable,
            "inputs": {
                "earnings": {rule: money_text(value) for rule, value in by_rule.items()},
                "guarantee": money_text(config.guarantee),
            },
            "balance_before": money_text(step.balance_before),
            "balance_from": balance_from,
            "lines": [
                {"kind": "draw", "amount": money_text(step.draw)},
                {"kind": "recovery", "amount": money_text(-step.recovery)},
            ],
            "paid": money_text(step.paid),
            "balance_after": money_text(step.balance_after),
            "total": money_text(amount),
            "explanation": _explain(config, step, ctx.currency, leaving),
        }
        if leaving and leave_date is not None:
            trace["leaving"] = {
                "leave_date": leave_date.isoformat(),
                "on_leave": config.on_leave,
                "written_off": money_text(step.written_off),
            }
        # A recoverable draw's line is an advance (it adds to the balance) or a recovery (it takes from it).
        kind: LedgerKind = "earning"
        if config.recoverable:
            kind = "draw_advance" if step.draw > ZERO else "draw_recovery" if step.recovery > ZERO else "earning"
        results.append(RuleResult(person_id=person, amount=amount, trace=trace, ledger_kind=kind))
    return results


@hookimpl
def kpi_rule_types() -> list[RuleType[Draw]]:
    return [
        RuleType(
            name="draw",
            component="draw",
            description=(
                "A guaranteed minimum per period: a recoverable advance "
                "with a carried balance, or a non-recoverable guarantee."
            ),
            config_model=Draw,
            metrics=lambda _cfg: set(),
            rules=lambda cfg: set(cfg.earnings_rules),
            evaluate=evaluate,
        )
    ]
