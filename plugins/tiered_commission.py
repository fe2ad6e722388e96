"""Tiered commission: rates by band of an amount or of attainment, marginal or retroactive.

- ``marginal``: each band's rate applies to the part of the value inside that band
  (1,000 × 1 % + 1,500 × 2 % = 40 on 2,500);
- ``retroactive``: the rate of the band the value reaches applies to the whole amount;
- ``basis: attainment`` reads bands as shares of the target (``100%``), pays on the amount;
- ``per: transaction`` measures each record from zero instead of the period's total;
- ``boundary``: a value exactly on a boundary belongs to the ``lower`` band (default) or ``upper``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpi_engine import Amount, RuleContext, RuleResult, RuleType, hookimpl, money_text, plain

__all__ = ["Tier", "TieredCommission", "kpi_rule_types", "tier_split"]

ZERO = Decimal(0)


class Tier(BaseModel):
    """One band ``[from, to)`` and its rate; the last band may leave ``to`` open."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Amount = Field(alias="from")
    to: Amount | None = None
    rate: Amount


def _band(tier: Tier) -> str:
    return f"{tier.from_}–{tier.to}" if tier.to is not None else f"{tier.from_} and above"


class TieredCommission(BaseModel):
    """Settings of a ``tiered_commission`` rule."""

    model_config = ConfigDict(extra="forbid")

    measure: str = "bookings"
    basis: Literal["amount", "attainment"] = "amount"
    target_metric: str | None = None  # whose target is the quota; default: the measure
    method: Literal["marginal", "retroactive"]
    per: Literal["period", "transaction"] = "period"
    boundary: Literal["lower", "upper"] = "lower"
    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _contiguous(self) -> TieredCommission:
        if self.tiers[0].from_ != ZERO:
            raise ValueError(f"the first tier must start at 0, not {self.tiers[0].from_}")
        for lower, upper in zip(self.tiers, self.tiers[1:]):
            if lower.to is None:
                raise ValueError(f"only the last tier may be open-ended (the tier from {lower.from_} is not last)")
            if upper.from_ != lower.to:
                kind = "overlap" if upper.from_ < lower.to else "leave a gap"
                raise ValueError(f"tiers {_band(lower)} and {_band(upper)} {kind}")
        for tier in self.tiers:
            if tier.to is not None and tier.to <= tier.from_:
                raise ValueError(f"the tier from {tier.from_} ends at {tier.to}, not after it")
        if self.basis == "attainment" and self.per == "transaction":
            raise ValueError("attainment tiers apply to the period's total, not per transaction")
        return self


def tier_split(config: TieredCommission, value: Decimal, scale: Decimal = Decimal(1)) -> list[dict[str, Decimal | None]]:
    """The lines ``value`` pays: band (``from``/``to`` as written), ``basis`` the rate applies to, ``rate``, ``amount``.

    For attainment bands ``scale`` is the target: bands are turned into amounts
    (``100%`` of 352,000 is 352,000) so that every line is computed without division.
    """
    lines: list[dict[str, Decimal | None]] = []
    if config.method == "retroactive":
        for tier in config.tiers:
            upper = None if tier.to is None else tier.to * scale
            if upper is None or (value <= upper if config.boundary == "lower" else value < upper) or tier is config.tiers[-1]:
                return [{"from": tier.from_, "to": tier.to, "basis": value, "rate": tier.rate, "amount": value * tier.rate}]
    for tier in config.tiers:
        lower = tier.from_ * scale
        top = value if tier.to is None else min(value, tier.to * scale)
        if top <= lower:
            break
        basis = top - lower
        lines.append({"from": tier.from_, "to": tier.to, "basis": basis, "rate": tier.rate, "amount": basis * tier.rate})
    return lines


def _text(line: dict[str, Decimal | None]) -> dict[str, str | None]:
    return {k: (None if v is None else plain(v)) for k, v in line.items()}


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _explain(config: TieredCommission, inputs: dict[str, str], lines: list[dict[str, object]], total: Decimal) -> str:
    """One sentence a rep can check by hand: what was measured and how each band paid."""
    measured = f"{config.measure} {Decimal(inputs[config.measure]):,}"
    if "attainment" in inputs:
        measured += f" = {_percent(Decimal(inputs['attainment']).quantize(Decimal('0.0001')))} of target {Decimal(inputs['target']):,}"
    if not lines:
        return f"{measured}; nothing to pay."
    if config.per == "transaction":
        return f"{measured}; {len({l['record_id'] for l in lines})} transactions each measured from zero; total {total:,}."
    parts = " + ".join(f"{Decimal(str(l['basis'])):,} × {_percent(Decimal(str(l['rate'])))}" for l in lines)
    how = "whole amount at the reached band" if config.method == "retroactive" else "each band's part at its rate"
    return f"{measured}; {how}: {parts} = {total:,}."


def evaluate(ctx: RuleContext, config: TieredCommission) -> list[RuleResult]:
    """Pay every person in scope by the tiers (a zero line for a person with nothing to pay)."""
    results: list[RuleResult] = []
    target_metric = config.target_metric or config.measure
    records = ctx.records(config.measure)
    evidence_table = ctx.evidence_table(config.measure)
    for person in ctx.people:
        measured = ctx.value(config.measure, person)
        trace: dict[str, object] = {
            "rule_type": "tiered_commission",
            "method": config.method,
            "basis": config.basis,
            "per": config.per,
            "inputs": {config.measure: plain(measured)},
        }
        lines: list[dict[str, object]] = []
        if config.per == "transaction":
            for record_id, amount in records.get(person, ()):
                for line in tier_split(config, amount):
                    line_amount = ctx.round_line(line["amount"])
                    lines.append({**_text(line), "amount": money_text(line_amount), "record_id": record_id})
        elif config.basis == "attainment":
            levels = ctx.targets.get(target_metric, {}).get(person)
            if levels is None or levels.target == ZERO:
                trace["skipped"] = f"no {target_metric} target for this person and period"
                results.append(RuleResult(person_id=person, amount=None, trace=trace, kind="payout"))
                continue
            attainment = (measured / levels.target).quantize(Decimal("0.000001"))  # shown, not used to pay
            trace["inputs"] |= {"target": plain(levels.target), "attainment": plain(attainment)}
            for line in tier_split(config, measured, scale=levels.target):
                lines.append({**_text(line), "amount": money_text(ctx.round_line(line["amount"]))})
        else:
            for line in tier_split(config, measured):
                lines.append({**_text(line), "amount": money_text(ctx.round_line(line["amount"]))})
        if evidence_table:
            trace["records"] = {"table": evidence_table, "ids": [rid for rid, _ in records.get(person, ())]}
        total = ctx.round_total(sum((Decimal(str(line["amount"])) for line in lines), ZERO))
        trace["lines"] = lines
        trace["total"] = money_text(total)
        trace["explanation"] = _explain(config, trace["inputs"], lines, total)
        results.append(RuleResult(person_id=person, amount=total, trace=trace))
    return results


@hookimpl
def kpi_rule_types() -> list[RuleType]:
    return [
        RuleType(
            name="tiered_commission",
            description="Commission by bands of an amount or of attainment; marginal or retroactive.",
            config_model=TieredCommission,
            metrics=lambda cfg: {cfg.measure} | ({cfg.target_metric} if cfg.target_metric else set()),
            evaluate=evaluate,
        )
    ]
