"""Tiered commission: rates by band of an amount or of attainment, marginal or retroactive.

- ``method`` (required, no default): ``marginal`` pays each band's rate on the part of the value
  inside that band (1,000 × 1 % + 1,500 × 2 % = 40 on 2,500); ``retroactive`` pays the rate of
  the band the value reaches on the whole value. A retroactive band marked ``excess_only`` pays
  only on the part above its start (the rest at the rate of the band below it).
- ``basis: attainment`` reads numeric bands as shares of the target (``100%``) and pays on the
  amount; band ends may also be the person's levels ``baseline``/``target``/``challenge``.
- ``per``: ``period`` (the period's total), ``transaction`` (each record measured from zero) or
  ``year_to_date`` (new earnings = tiers(year to date) − tiers(year to date before this period)).
- ``boundary``: a value exactly on a boundary belongs to the ``lower`` band (default) or ``upper``.
- ``rate`` of a band is a number or a formula; ``gate`` a condition the person must meet;
  ``multiplier`` an accelerator/decelerator formula; ``cap``, ``floor``, ``minimum_payout``.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from kpi_engine import (
    Amount,
    ConditionText,
    EvaluationError,
    FormulaText,
    LazyTrace,
    RuleContext,
    RuleResult,
    RuleType,
    TargetLevels,
    hookimpl,
    money_text,
    parse_period,
    plain,
    to_decimal,
)

from ._commission_common import (
    LEVELS,
    ZERO,
    formula_inputs,
    level_value,
    pairs,
    percent,
    percent_about,
    run_formula,
    shown,
    simple_name,
)

__all__ = ["Band", "Tier", "TieredCommission", "kpi_rule_types", "tier_split"]


def _bound(value: Any) -> Decimal | str:
    if isinstance(value, str) and value.strip() in LEVELS:
        return value.strip()
    return to_decimal(value)


Bound = Annotated[Decimal | str, BeforeValidator(_bound)]
"""A band end: a number (an amount, or a share of the target with ``basis: attainment``) or a level name."""


class Tier(BaseModel):
    """One band ``[from, to)`` and its rate; the last band may leave ``to`` open."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Bound = Field(alias="from")
    to: Bound | None = None
    rate: FormulaText
    excess_only: bool = False


def _written(bound: Decimal | str | None, attainment: bool) -> str:
    if bound is None:
        return ""
    if isinstance(bound, str):
        return bound
    return percent(bound) if attainment else shown(bound)


def _band_text(tier: Tier, attainment: bool = False) -> str:
    if tier.to is None:
        return f"{_written(tier.from_, attainment)} and above"
    return f"{_written(tier.from_, attainment)}–{_written(tier.to, attainment)}"


def _ordered(lower: Decimal | str, upper: Decimal | str) -> bool | None:
    """Whether ``lower < upper`` when both are of one kind; ``None`` when only the data can tell."""
    if isinstance(lower, Decimal) and isinstance(upper, Decimal):
        return lower < upper
    if isinstance(lower, str) and isinstance(upper, str):
        return LEVELS.index(lower) < LEVELS.index(upper)
    return None


class TieredCommission(BaseModel):
    """Settings of a ``tiered_commission`` rule."""

    model_config = ConfigDict(extra="forbid")

    measure: FormulaText = Field(default="bookings", validate_default=True)
    basis: Literal["amount", "attainment"] = "amount"
    target_metric: str | None = None  # whose target is the quota; default: the measure
    method: Literal["marginal", "retroactive"]
    per: Literal["period", "transaction", "year_to_date"] = "period"
    boundary: Literal["lower", "upper"] = "lower"
    tiers: list[Tier] = Field(min_length=1)
    gate: ConditionText | None = None
    multiplier: FormulaText | None = None
    cap: Amount | None = None
    floor: Amount | None = None
    minimum_payout: Amount | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TieredCommission:
        first = self.tiers[0].from_
        if not isinstance(first, Decimal) or first != ZERO:
            raise ValueError(f"the first tier must start at 0, not {first}")
        for lower, upper in zip(self.tiers, self.tiers[1:]):
            if lower.to is None:
                raise ValueError(
                    f"only the last tier may be open-ended (the tier from {_written(lower.from_, False)} is not last)"
                )
            if upper.from_ != lower.to:
                ordered = _ordered(upper.from_, lower.to)
                kind = "overlap" if ordered else "leave a gap" if ordered is False else "do not meet"
                raise ValueError(f"tiers {_band_text(lower)} and {_band_text(upper)} {kind}")
        for tier in self.tiers:
            if tier.to is not None and _ordered(tier.from_, tier.to) is False:
                raise ValueError(
                    f"the tier from {_written(tier.from_, False)} ends at {_written(tier.to, False)}, not after it"
                )
        excess = [t.excess_only for t in self.tiers]
        if any(excess):
            if self.method != "retroactive":
                raise ValueError(
                    "excess_only bands belong to retroactive tiers; with "
                    "marginal tiers every band already pays only its part"
                )
            if excess[0]:
                raise ValueError("the first tier cannot be excess_only: some band must pay the amount below it")
            if excess != sorted(excess):
                raise ValueError("excess_only tiers must come last, after every retroactive band")
        uses_levels = any(isinstance(b, str) for t in self.tiers for b in (t.from_, t.to))
        name = simple_name(self.measure)
        if self.per in ("transaction", "year_to_date") and name is None:
            raise ValueError(
                f"per {self.per} needs the measure to be one metric name, not the formula {self.measure.text!r}"
            )
        if self.basis == "attainment" and self.per != "period":
            raise ValueError(f"attainment tiers apply to the period's total, not per {self.per.replace('_', ' ')}")
        if self.per == "year_to_date" and uses_levels:
            raise ValueError("year-to-date tiers are amounts of the year: write their ends as numbers, not levels")
        if (self.basis == "attainment" or uses_levels) and not (self.target_metric or name):
            raise ValueError("name the metric whose target is the quota with target_metric")
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise ValueError(f"the floor {self.floor} is above the cap {self.cap}")
        for key in ("cap", "floor", "minimum_payout"):
            value = getattr(self, key)
            if value is not None and value < ZERO:
                raise ValueError(f"{key} cannot be negative ({value})")
        return self

    @property
    def quota_metric(self) -> str | None:
        return self.target_metric or simple_name(self.measure)

    @property
    def uses_levels(self) -> bool:
        return self.basis == "attainment" or any(isinstance(b, str) for t in self.tiers for b in (t.from_, t.to))


@dataclass(frozen=True)
class Band:
    """A tier resolved for one person: amount bounds ``[lower, upper)``, its rate and how it pays."""

    lower: Decimal
    upper: Decimal | None
    rate: Decimal
    label: str
    excess_only: bool = False


def _reaches(value: Decimal, band: Band, boundary: str) -> bool:
    """Whether ``value`` falls in ``band`` or below its upper end (a value on the end: ``boundary``)."""
    return band.upper is None or (value <= band.upper if boundary == "lower" else value < band.upper)


def tier_split(
    bands: list[Band], value: Decimal, *, method: str, boundary: str = "lower", start: Decimal = ZERO
) -> list[dict[str, Any]]:
    """The lines ``value`` pays: one per band with ``band``, ``lower``, ``upper``, ``basis``, ``rate``, ``amount``.

    Marginal lines pay the part of ``[start, value]`` inside each band. Retroactive: the whole
    value (up to the first ``excess_only`` band) at the rate of the band reached, then the excess
    bands marginally. Values at or below ``start`` pay nothing. Amounts are exact (no rounding).
    """

    def line(band: Band, basis: Decimal) -> dict[str, Any]:
        return {
            "band": band.label,
            "lower": band.lower,
            "upper": band.upper,
            "basis": basis,
            "rate": band.rate,
            "amount": basis * band.rate,
        }

    if value <= start:
        return []
    if method == "marginal":
        lines = []
        for band in bands:
            top = value if band.upper is None else min(value, band.upper)
            basis = top - max(start, band.lower)
            if basis > ZERO:
                lines.append(line(band, basis))
        return lines
    if start != ZERO:
        raise ValueError("retroactive tiers measure from zero")
    whole = [b for b in bands if not b.excess_only]
    excess = [b for b in bands if b.excess_only]
    cut = excess[0].lower if excess else None
    retro_value = value if cut is None else min(value, cut)
    reached = next((b for b in whole if _reaches(retro_value, b, boundary)), whole[-1])
    lines = [line(reached, retro_value)]
    if cut is not None and value > cut:
        lines += tier_split(excess, value, method="marginal", start=cut)
    return lines


def _number(result: Decimal | bool, what: str, text: str) -> Decimal:
    if isinstance(result, bool):
        raise EvaluationError(
            f"the {what} {text!r} gave yes/no, not a number.",
            hint="write a formula that computes a number, e.g. if ... then 6% else 5%",
        )
    return result


class _Skip(Exception):
    """A person the rule cannot pay (no target); the reason goes into the trace."""


def _bands(
    config: TieredCommission, ctx: RuleContext, person: str, levels: TargetLevels | None, extra: dict[str, Any]
) -> list[Band]:
    attainment = config.basis == "attainment"

    def resolve(bound: Decimal | str | None) -> Decimal | None:
        if bound is None:
            return None
        if isinstance(bound, str):
            value = level_value(levels, bound)
            if value is None:
                raise _Skip(f"no {bound} level of {config.quota_metric} for this person and period")
            return value
        if attainment:
            assert levels is not None
            return bound * Decimal(levels.target)
        return bound

    bands = []
    for tier in config.tiers:
        rate = _number(run_formula(ctx, tier.rate, person, extra), "rate", tier.rate.text)
        bands.append(
            Band(resolve(tier.from_) or ZERO, resolve(tier.to), rate, _band_text(tier, attainment), tier.excess_only)
        )
    for lower, upper in itertools.pairwise(bands):
        if upper.lower < lower.lower:
            raise EvaluationError(
                f"the tiers of rule {ctx.rule_id or 'tiered_commission'} are out "
                f"of order for {person}: {upper.label} starts below {lower.label}.",
                hint=f"check {config.quota_metric}'s baseline, target and challenge for this person",
            )
    return bands


def _line_text(line: dict[str, Any], ctx: RuleContext, **more: Any) -> dict[str, Any]:
    return {
        "band": line["band"],
        "lower": plain(line["lower"]),
        "upper": None if line["upper"] is None else plain(line["upper"]),
        "basis": plain(line["basis"]),
        "rate": plain(line["rate"]),
        "amount": money_text(ctx.round_line(line["amount"])),
        **more,
    }


def _split_sentence(config: TieredCommission, lines: list[dict[str, Any]]) -> str:
    parts = " + ".join(f"{shown(Decimal(line['basis']))} × {percent(Decimal(line['rate']))}" for line in lines)
    total = sum((Decimal(line["amount"]) for line in lines), ZERO)
    if config.method == "marginal":
        return f"Each band pays its rate on the part inside it: {parts} = {shown(total)}."
    first = lines[0]
    sentence = (
        f"The amount is paid at the rate of the band reached ({first['band']} at {percent(Decimal(first['rate']))})"
    )
    if len(lines) > 1:
        sentence += ", the part above it at the excess rates"
    return f"{sentence}: {parts} = {shown(total)}."


def _pay(ctx: RuleContext, config: TieredCommission, person: str, records: dict[str, Any]) -> RuleResult:
    name = simple_name(config.measure)
    label = name or config.measure.text
    measured = ctx.value(name, person) if name and name in ctx.values else run_formula(ctx, config.measure, person)
    measured = _number(measured, "measure", config.measure.text)
    inputs: dict[str, str] = {label: plain(measured)}
    if name is None:
        inputs |= formula_inputs(ctx, config.measure, person)
    trace: dict[str, Any] = {
        "rule_type": "tiered_commission",
        "method": config.method,
        "basis": config.basis,
        "per": config.per,
        "boundary": config.boundary,
        "inputs": inputs,
    }
    explanation: list[str] = []
    levels = ctx.targets.get(config.quota_metric or "", {}).get(person)
    extra: dict[str, Any] = {"value": measured}
    if config.uses_levels and (levels is None or (config.basis == "attainment" and not levels.target)):
        trace["skipped"] = f"no {config.quota_metric} target for this person and period"
        trace["explanation"] = [f"Not evaluated: {trace['skipped']}."]
        return RuleResult(person_id=person, amount=None, trace=trace)
    if levels is not None:
        for level in LEVELS:
            value = level_value(levels, level)
            if value is not None:
                inputs[level] = plain(value)
                extra[level] = value
        if levels.target:
            attainment = measured / Decimal(levels.target)
            extra["attainment"] = attainment
            inputs["attainment"] = plain(attainment.quantize(Decimal("0.000001")))
    measured_text = f"{label} {shown(measured)}"
    if "attainment" in inputs:
        measured_text += (
            f" against target {shown(Decimal(inputs['target']))} (attainment "
            f"{percent_about(Decimal(inputs['attainment']))})"
        )
    explanation.append(f"Measured {measured_text}.")

    if config.gate is not None:
        met = run_formula(ctx, config.gate, person, extra)
        gate_inputs = formula_inputs(ctx, config.gate, person, extra)
        values = pairs(gate_inputs)
        trace["gate"] = {"condition": config.gate.text, "met": bool(met), "inputs": gate_inputs}
        if not met:
            explanation.append(f"Nothing is paid: the gate {config.gate.text} is not met ({values}).")
            trace |= {"lines": [], "total": money_text(ZERO), "explanation": explanation}
            return RuleResult(person_id=person, amount=ctx.round_total(ZERO), trace=trace)
        explanation.append(f"The gate {config.gate.text} is met ({values}).")

    try:
        lines = _commission_lines(ctx, config, person, levels, extra, measured, records, inputs, explanation)
    except _Skip as skip:
        trace["skipped"] = str(skip)
        trace["explanation"] = [f"Not evaluated: {skip}."]
        return RuleResult(person_id=person, amount=None, trace=trace)
    subtotal = sum((Decimal(line["amount"]) for line in lines), ZERO)
    adjustments, amount = _adjust(ctx, config, person, extra, subtotal, explanation)
    total = ctx.round_total(amount)
    if total != amount:
        explanation.append(f"Rounded as the plan says: {shown(amount)} is paid as {shown(total)}.")
    if records.get(person) and ctx.evidence_table(name or ""):
        trace["records"] = {"table": ctx.evidence_table(name or ""), "ids": [rid for rid, _ in records[person]]}
    trace |= {"lines": lines, "adjustments": adjustments, "total": money_text(total), "explanation": explanation}
    if not adjustments:
        del trace["adjustments"]
    return RuleResult(person_id=person, amount=total, trace=trace)


def _commission_lines(
    ctx: RuleContext,
    config: TieredCommission,
    person: str,
    levels: TargetLevels | None,
    extra: dict[str, Any],
    measured: Decimal,
    records: dict[str, Any],
    inputs: dict[str, str],
    explanation: list[str],
) -> list[dict[str, Any]]:
    split = functools.partial(tier_split, method=config.method, boundary=config.boundary)
    if config.per == "transaction":
        lines: list[dict[str, Any]] = []
        paid: list[str] = []
        for record_id, amount in records.get(person, ()):
            bands = _bands(config, ctx, person, levels, extra | {"value": amount})
            these = [_line_text(line, ctx, record_id=record_id) for line in split(bands, amount)]
            lines += these
            paid.append(
                f"#{record_id}: {shown(amount)} → {shown(sum((Decimal(line['amount']) for line in these), ZERO))}"
            )
        if paid:
            explanation.append(f"Each transaction is measured from zero ({config.method} tiers): {'; '.join(paid)}.")
        else:
            explanation.append("No transactions in the period: nothing to pay.")
        return lines
    if config.per == "year_to_date":
        prior = _earlier_this_year(ctx, simple_name(config.measure) or "", person)
        ytd = prior + measured
        inputs |= {"prior_year_to_date": plain(prior), "year_to_date": plain(ytd)}
        bands = _bands(config, ctx, person, levels, extra | {"value": ytd})
        explanation.append(
            f"Year to date: {shown(prior)} before this period plus {shown(measured)} now = {shown(ytd)}; "
            "this period earns the tiers of the year to date minus those of the earlier bookings."
        )
        if config.method == "marginal":
            lines = [_line_text(line, ctx) for line in split(bands, ytd, start=prior)]
        else:
            now = split(bands, ytd)
            earlier = [line | {"basis": -line["basis"], "amount": -line["amount"]} for line in split(bands, prior)]
            lines = [_line_text(line, ctx, part="year_to_date") for line in now] + [
                _line_text(line, ctx, part="before_this_period") for line in earlier
            ]
        if lines:
            explanation.append(_split_sentence(config, lines))
        else:
            explanation.append("Nothing new to pay this period.")
        return lines
    bands = _bands(config, ctx, person, levels, extra)
    lines = [_line_text(line, ctx) for line in split(bands, measured)]
    explanation.append(_split_sentence(config, lines) if lines else "Nothing to pay.")
    return lines


def _earlier_this_year(ctx: RuleContext, metric: str, person: str) -> Decimal:
    """What ``metric`` counted for ``person`` from 1 January up to this period.

    Months and quarters add up the earlier periods of the same grain (each one as the plan
    evaluates it); other grains read the date range at once.
    """
    year_start = date(ctx.period.start.year, 1, 1)
    if ctx.period.start <= year_start:
        return ZERO
    if ctx.period.grain in ("month", "quarter"):
        total, earlier = ZERO, ctx.period.previous()
        while earlier.start >= year_start:
            total += ctx.values_in(metric, earlier).get(person, ZERO)
            earlier = earlier.previous()
        return total
    before = parse_period(f"{year_start.isoformat()}..{(ctx.period.start - timedelta(days=1)).isoformat()}")
    return ctx.values_in(metric, before).get(person, ZERO)


def _adjust(
    ctx: RuleContext,
    config: TieredCommission,
    person: str,
    extra: dict[str, Any],
    subtotal: Decimal,
    explanation: list[str],
) -> tuple[list[dict[str, str]], Decimal]:
    """Multiplier, cap, floor and minimum payout, in that order; each change is a line of its own."""
    adjustments: list[dict[str, str]] = []
    amount = subtotal

    def add(step: str, change: Decimal, **more: str) -> None:
        nonlocal amount
        change = ctx.round_line(change)
        if change != ZERO:
            adjustments.append({"step": step, "amount": money_text(change), **more})
            amount += change

    if config.multiplier is not None:
        factor = _number(
            run_formula(ctx, config.multiplier, person, extra | {"commission": subtotal}),
            "multiplier",
            config.multiplier.text,
        )
        add("multiplier", subtotal * factor - subtotal, factor=plain(factor), formula=config.multiplier.text)
        if factor != 1:
            kind = "accelerator" if factor > 1 else "decelerator"
            explanation.append(
                f"The {kind} {config.multiplier.text} gives × "
                f"{plain(factor)}: {shown(subtotal)} becomes {shown(amount)}."
            )
    if config.cap is not None and amount > config.cap:
        explanation.append(f"Capped at the maximum payout of {shown(config.cap)} per period (was {shown(amount)}).")
        add("cap", config.cap - amount, limit=plain(config.cap))
    if config.floor is not None and amount < config.floor:
        explanation.append(f"Raised to the floor of {shown(config.floor)} per period (was {shown(amount)}).")
        add("floor", config.floor - amount, limit=plain(config.floor))
    if config.minimum_payout is not None and ZERO < amount < config.minimum_payout:
        explanation.append(
            f"{shown(amount)} is below the minimum payout of "
            f"{shown(config.minimum_payout)}, so nothing is paid this period."
        )
        add("minimum_payout", -amount, limit=plain(config.minimum_payout))
    return adjustments, amount


def evaluate(ctx: RuleContext, config: TieredCommission) -> list[RuleResult]:
    """Pay every person in scope by the tiers (a zero line for a person with nothing to pay).

    The usual rule (one metric per period, fixed rates, no gate or multiplier) decides each amount
    with the arithmetic alone and leaves the trace to be written when it is read (``LazyTrace``):
    the trace is the one ``_pay`` writes, and it must arrive at the same amount.
    """
    name = simple_name(config.measure)
    records = dict(ctx.records(name)) if name else {}
    rates = _fixed_rates(config)
    if rates is None or name is None or name not in ctx.values:
        return [_pay(ctx, config, person, records) for person in ctx.people]
    decide = _Decider(ctx, config, rates)
    values = ctx.values[name]
    levels_of = ctx.targets.get(config.quota_metric or "", {}) if config.uses_levels else {}
    results = []
    for person in ctx.people:
        amount = decide(values.get(person, ZERO), levels_of.get(person))
        if amount is _UNUSUAL:
            results.append(_pay(ctx, config, person, records))
        else:
            results.append(RuleResult(person, amount, LazyTrace(_explain, ctx, config, person, records, amount)))
    return results


_UNUSUAL: Any = object()  # a person the arithmetic leaves to ``_pay`` (no target, a missing level, tiers out of order)


def _fixed_rates(config: TieredCommission) -> list[Decimal] | None:
    """Each tier's rate when none depends on the person and the rule pays a period's total without gate or
    multiplier."""
    if config.per != "period" or config.gate is not None or config.multiplier is not None:
        return None
    rates = []
    for tier in config.tiers:
        if tier.rate.references:
            return None
        rate = tier.rate.evaluate({})
        if isinstance(rate, bool):
            return None
        rates.append(rate)
    return rates


class _Decider:
    """The amount ``_pay`` arrives at for one person, by the arithmetic alone (no trace)."""

    def __init__(self, ctx: RuleContext, config: TieredCommission, rates: list[Decimal]) -> None:
        self.config = config
        self.round_line = ctx.round_line
        self.round_total = ctx.round_total
        self.attainment = config.basis == "attainment"
        self.uses_levels = config.uses_levels
        self.marginal = config.method == "marginal"
        self.tiers = [(t.from_, t.to, rate, t.excess_only) for t, rate in zip(config.tiers, rates, strict=True)]

    def _end(self, bound: Decimal | str | None, levels: TargetLevels | None, target: Decimal) -> Any:
        if isinstance(bound, str):
            value = level_value(levels, bound)
            return _UNUSUAL if value is None else value
        if bound is not None and self.attainment:
            return bound * target
        return bound

    def __call__(self, measured: Decimal, levels: TargetLevels | None) -> Any:
        target = ZERO
        if self.uses_levels:
            if levels is None or (self.attainment and not levels.target):
                return _UNUSUAL
            target = Decimal(levels.target)
        round_line = self.round_line
        amount = ZERO
        bands: list[Band] = []
        previous = ZERO
        for first, last, rate, excess_only in self.tiers:
            lower = self._end(first, levels, target) or ZERO
            upper = self._end(last, levels, target)
            if lower is _UNUSUAL or upper is _UNUSUAL or lower < previous:
                return _UNUSUAL
            previous = lower
            if self.marginal:  # tier_split's marginal lines, summed as _pay sums them
                top = measured if upper is None or measured < upper else upper
                basis = top - (lower if lower > ZERO else ZERO)
                if basis > ZERO:
                    amount += round_line(basis * rate)
            else:
                bands.append(Band(lower, upper, rate, "", excess_only))
        if not self.marginal:
            amount = sum(
                (
                    round_line(line["amount"])
                    for line in tier_split(bands, measured, method="retroactive", boundary=self.config.boundary)
                ),
                ZERO,
            )
        config = self.config
        if config.cap is not None and amount > config.cap:
            amount += round_line(config.cap - amount)
        if config.floor is not None and amount < config.floor:
            amount += round_line(config.floor - amount)
        if config.minimum_payout is not None and ZERO < amount < config.minimum_payout:
            amount += round_line(-amount)
        return self.round_total(amount)


def _explain(
    ctx: RuleContext, config: TieredCommission, person: str, records: dict[str, Any], amount: Decimal | None
) -> dict[str, Any]:
    """The full trace of a decided amount, written by ``_pay`` (which must pay the same)."""
    result = _pay(ctx, config, person, records)
    if result.amount != amount:
        raise EvaluationError(
            f"rule {ctx.rule_id or 'tiered_commission'} decided {amount} for {person} but explains {result.amount}.",
            hint="this is a defect of the tiered_commission rule type; please report it with the plan",
        )
    return dict(result.trace)


def _metrics(config: TieredCommission) -> set[str]:
    names = {config.quota_metric} if (config.uses_levels or config.target_metric) and config.quota_metric else set()
    name = simple_name(config.measure)
    return names | ({name} if name else set())


@hookimpl
def kpi_rule_types() -> list[RuleType[TieredCommission]]:
    return [
        RuleType(
            name="tiered_commission",
            component="commission",
            description=(
                "Commission by bands of an amount or of attainment; marginal "
                "or retroactive, per period, transaction or year to date."
            ),
            config_model=TieredCommission,
            metrics=_metrics,
            records=lambda config: {name} if (name := simple_name(config.measure)) else set(),
            evaluate=evaluate,
            local_names=lambda _config: {"value", "attainment", "commission", *LEVELS},
        )
    ]
