"""Tiered commission: rates by band of an amount or of attainment, marginal or retroactive.

- ``method`` (required, no default): ``marginal`` pays each band's rate on the part of the value
  inside that band (1,000 × 1 % + 1,500 × 2 % = 40 on 2,500); ``retroactive`` pays the rate of
  the band the value reaches on the whole value. A retroactive band marked ``excess_only`` pays
  only on the part above its start (the rest at the rate of the band below it).
- ``basis: attainment`` reads numeric bands as shares of the target (``100%``) and pays on the
  amount; band ends may also be the person's levels ``baseline``/``target``/``challenge``.
- ``per``: ``period`` (the period's total), ``transaction`` (each record measured from zero) or
  ``year_to_date`` (new earnings = tiers(year to date) − tiers(year to date before this period)); year to
  date works on a metric or a formula, on amounts or on attainment of the year-to-date target.
- ``boundary``: a value exactly on a boundary belongs to the ``lower`` band (default) or ``upper``.
- ``rate`` of a band is a number or a formula; ``gate`` a condition the person must meet, for every band or
  (``gate_applies_to``) only the accelerators or the bands from one band on, which then pay the base rate or
  nothing (``gate_unmet_pays``); ``multiplier`` an accelerator/decelerator formula; ``cap``; ``floor`` (a
  guaranteed minimum, ``floor_applies: always`` or ``with_sales``); ``payout_threshold`` (below it, nothing).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from kpi_engine import (
    EvaluationError,
    Formula,
    LazyTrace,
    Period,
    RuleContext,
    RuleResult,
    RuleType,
    TargetLevels,
    hookimpl,
    money_text,
    parse_period,
    plain,
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
from ._tiers import Band, Bound, Tier, TieredCommission, band_text, gated_bands, tier_split, written

__all__ = ["Band", "Bound", "Tier", "TieredCommission", "kpi_rule_types", "tier_split"]


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
            Band(resolve(tier.from_) or ZERO, resolve(tier.to), rate, band_text(tier, attainment), tier.excess_only)
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


class _Gating:
    """What an unmet gate that holds back some bands does to them (``None`` when the gate is met or holds all)."""

    def __init__(self, config: TieredCommission, condition: str, values: str) -> None:
        self.first = config.first_gated_band() or 1
        self.pays = config.gate_unmet_pays or "base_rate"
        self.condition, self.values = condition, values

    def apply(self, bands: list[Band]) -> tuple[list[Band], Decimal | None]:
        return gated_bands(bands, self.first, self.pays)


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
    year = _YearToDate(ctx, config, person, measured) if config.per == "year_to_date" else None
    levels = year.levels if year is not None else ctx.targets.get(config.quota_metric or "", {}).get(person)
    extra: dict[str, Any] = {"value": measured}
    if config.uses_levels and (levels is None or (config.basis == "attainment" and not levels.target)):
        of = "year-to-date " if year is not None else ""
        trace["skipped"] = f"no {of}{config.quota_metric} target for this person and period"
        trace["explanation"] = [f"Not evaluated: {trace['skipped']}."]
        return RuleResult(person_id=person, amount=None, trace=trace)
    if levels is not None:
        for level in LEVELS:
            value = level_value(levels, level)
            if value is not None:
                inputs[level] = plain(value)
                extra[level] = value
        if levels.target:
            attainment = (year.value if year is not None else measured) / Decimal(levels.target)
            extra["attainment"] = attainment
            inputs["attainment"] = plain(attainment.quantize(Decimal("0.000001")))
    measured_text = f"{label} {shown(measured)}"
    if "attainment" in inputs:
        against = "the year-to-date target" if year is not None else "target"
        of_year = f" (year to date {shown(year.value)})" if year is not None else ""
        measured_text += (
            f"{of_year} against {against} {shown(Decimal(inputs['target']))} (attainment "
            f"{percent_about(Decimal(inputs['attainment']))})"
        )
    explanation.append(f"Measured {measured_text}.")

    gating: _Gating | None = None
    if config.gate is not None:
        met = run_formula(ctx, config.gate, person, extra)
        gate_inputs = formula_inputs(ctx, config.gate, person, extra)
        values = pairs(gate_inputs)
        trace["gate"] = {"condition": config.gate.text, "met": bool(met), "inputs": gate_inputs}
        if not met and config.gate_applies_to == "all":
            explanation.append(f"Nothing is paid: the gate {config.gate.text} is not met ({values}).")
            trace |= {"lines": [], "total": money_text(ZERO), "explanation": explanation}
            return RuleResult(person_id=person, amount=ctx.round_total(ZERO), trace=trace)
        if not met:
            gating = _Gating(config, config.gate.text, values)
            held = "the accelerators" if config.gate_applies_to == "accelerators" else "the bands"
            start = written(config.tiers[gating.first].from_, config.basis == "attainment")
            below = band_text(config.tiers[gating.first - 1], config.basis == "attainment")
            then = f"pay the rate of the band below them ({below})" if gating.pays == "base_rate" else "pay nothing"
            trace["gate"] |= {"holds_back_from": start, "held_back_bands_pay": gating.pays}
            explanation.append(f"The gate {config.gate.text} is not met ({values}): {held} from {start} on {then}.")
        else:
            scope = "" if config.gate_applies_to == "all" else " (it opens the higher bands)"
            explanation.append(f"The gate {config.gate.text} is met ({values}){scope}.")

    try:
        lines = _commission_lines(
            ctx, config, person, levels, extra, measured, records, inputs, explanation, year, gating
        )
    except _Skip as skip:
        trace["skipped"] = str(skip)
        trace["explanation"] = [f"Not evaluated: {skip}."]
        return RuleResult(person_id=person, amount=None, trace=trace)
    subtotal = sum((Decimal(line["amount"]) for line in lines), ZERO)
    with_sales = bool(records.get(person)) if config.per == "transaction" else measured > ZERO
    adjustments, amount = _adjust(ctx, config, person, extra, subtotal, explanation, with_sales)
    total = ctx.round_total(amount)
    if total != amount:
        explanation.append(f"Rounded as the plan says: {shown(amount)} is paid as {shown(total)}.")
    if records.get(person) and ctx.evidence_table(name or ""):
        trace["records"] = {"table": ctx.evidence_table(name or ""), "ids": [rid for rid, _ in records[person]]}
    trace |= {"lines": lines, "adjustments": adjustments, "total": money_text(total), "explanation": explanation}
    if not adjustments:
        del trace["adjustments"]
    return RuleResult(person_id=person, amount=total, trace=trace)


class _YearToDate:
    """The year to date of a ``per: year_to_date`` rule for one person: before this period and with it, and
    (on attainment or level bands) the targets of both spans: the sum of the plan's periods' targets."""

    def __init__(self, ctx: RuleContext, config: TieredCommission, person: str, measured: Decimal) -> None:
        self.prior = _earlier_this_year(ctx, config, person)
        self.value = self.prior + measured
        self.levels: TargetLevels | None = None
        self.prior_levels: TargetLevels | None = None
        if config.uses_levels:
            metric = config.quota_metric or ""
            year_start = date(ctx.period.start.year, 1, 1)
            span = _days(year_start, ctx.period.end)
            self.levels = (ctx.targets.get(metric, {}) if span == ctx.period else ctx.targets_in(metric, span)).get(
                person
            )
            if ctx.period.start > year_start:
                self.prior_levels = ctx.targets_in(metric, _days(year_start, ctx.period.start)).get(person)


def _days(first: date, end: date) -> Period:
    """The days from ``first`` up to ``end`` (exclusive) as one period (the calendar one when it is one)."""
    last = end - timedelta(days=1)
    if first.month == 1 and first.day == 1 and end == date(first.year + 1, 1, 1):
        return parse_period(str(first.year))
    return parse_period(f"{first.isoformat()}..{last.isoformat()}")


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
    year: _YearToDate | None = None,
    gating: _Gating | None = None,
) -> list[dict[str, Any]]:
    split = functools.partial(tier_split, method=config.method, boundary=config.boundary)

    def pays(bands: list[Band], value: Decimal, start: Decimal = ZERO) -> list[dict[str, Any]]:
        if gating is not None:
            bands, ceiling = gating.apply(bands)
            value = value if ceiling is None else min(value, ceiling)
        return split(bands, value, start=start) if start else split(bands, value)

    if config.per == "transaction":
        lines: list[dict[str, Any]] = []
        paid: list[str] = []
        name = simple_name(config.measure) or ""
        crm = {row["record_id"]: row.get("crm_id") for row in ctx.record_details(name).get(person, ())}
        for record_id, amount in records.get(person, ()):
            bands = _bands(config, ctx, person, levels, extra | {"value": amount})
            these = [_line_text(line, ctx, record_id=record_id) for line in pays(bands, amount)]
            lines += these
            paid.append(
                f"{crm.get(record_id) or f'#{record_id}'}: {shown(amount)} → "
                f"{shown(sum((Decimal(line['amount']) for line in these), ZERO))}"
            )
        if paid:
            explanation.append(f"Each transaction is measured from zero ({config.method} tiers): {'; '.join(paid)}.")
        else:
            explanation.append("No transactions in the period: nothing to pay.")
        return lines
    if config.per == "year_to_date":
        assert year is not None
        prior, ytd = year.prior, year.value
        inputs |= {"prior_year_to_date": plain(prior), "year_to_date": plain(ytd)}
        bands = _bands(config, ctx, person, levels, extra | {"value": ytd})
        explanation.append(
            f"Year to date: {shown(prior)} before this period plus {shown(measured)} now = {shown(ytd)}; "
            "this period earns the tiers of the year to date minus those of the year before this period."
        )
        if config.uses_levels and prior:
            # Bands on the targets of the year before this period, as the earlier periods paid them.
            if year.prior_levels is None or (config.basis == "attainment" and not year.prior_levels.target):
                raise _Skip(f"no {config.quota_metric} target for the periods of this year before this one")
            inputs["prior_target"] = plain(year.prior_levels.target)
            before = _bands(config, ctx, person, year.prior_levels, extra | {"value": prior})
        else:
            before = bands
        if config.method == "marginal" and before is bands:
            lines = [_line_text(line, ctx) for line in pays(bands, ytd, prior)]
        else:
            now = pays(bands, ytd)
            earlier = [line | {"basis": -line["basis"], "amount": -line["amount"]} for line in pays(before, prior)]
            lines = [_line_text(line, ctx, part="year_to_date") for line in now] + [
                _line_text(line, ctx, part="before_this_period") for line in earlier
            ]
        if lines:
            explanation.append(_split_sentence(config, lines))
        else:
            explanation.append("Nothing new to pay this period.")
        return lines
    bands = _bands(config, ctx, person, levels, extra)
    lines = [_line_text(line, ctx) for line in pays(bands, measured)]
    explanation.append(_split_sentence(config, lines) if lines else "Nothing to pay.")
    return lines


def _earlier_this_year(ctx: RuleContext, config: TieredCommission, person: str) -> Decimal:
    """What the measure counted for ``person`` from 1 January up to this period.

    Months and quarters add up the earlier periods of the same grain (each one as the plan
    evaluates it); other grains read the date range at once. A formula is evaluated in each of them.
    """
    year_start = date(ctx.period.start.year, 1, 1)
    if ctx.period.start <= year_start:
        return ZERO
    if ctx.period.grain in ("month", "quarter"):
        total, earlier = ZERO, ctx.period.previous()
        while earlier.start >= year_start:
            total += _value_in(ctx, config.measure, person, earlier)
            earlier = earlier.previous()
        return total
    return _value_in(ctx, config.measure, person, _days(year_start, ctx.period.start))


def _value_in(ctx: RuleContext, measure: Formula, person: str, period: Period) -> Decimal:
    """The measure of ``person`` in another period: a metric's value, or the formula over that period's values."""
    name = simple_name(measure)
    if name is not None:
        return ctx.values_in(name, period).get(person, ZERO)
    env: dict[str, Decimal | bool] = {}
    for ref, back in measure.references:
        at = period
        for _ in range(back):
            at = at.previous()
        env[ref if not back else f"{ref}[-{back}]"] = ctx.values_in(ref, at).get(person, ZERO)
    return _number(measure.evaluate(env), "measure", measure.text)


def _adjust(
    ctx: RuleContext,
    config: TieredCommission,
    person: str,
    extra: dict[str, Any],
    subtotal: Decimal,
    explanation: list[str],
    with_sales: bool = True,
) -> tuple[list[dict[str, str]], Decimal]:
    """Multiplier, cap, floor and payout threshold, in that order; each change is a line of its own."""
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
        if config.floor_applies == "with_sales" and not with_sales:
            explanation.append(
                f"No guaranteed minimum: the floor of {shown(config.floor)} applies only in periods with sales "
                "(floor_applies: with_sales), and this period has none."
            )
        else:
            explanation.append(
                f"Raised to the guaranteed minimum (floor) of {shown(config.floor)} per period (was {shown(amount)})."
            )
            add("floor", config.floor - amount, limit=plain(config.floor))
    if config.payout_threshold is not None and ZERO < amount < config.payout_threshold:
        explanation.append(
            f"{shown(amount)} is below the payout threshold of "
            f"{shown(config.payout_threshold)}, so nothing is paid this period."
        )
        add("payout_threshold", -amount, limit=plain(config.payout_threshold))
    return adjustments, amount


def evaluate(ctx: RuleContext, config: TieredCommission) -> list[RuleResult]:
    """Every person's line; with ``outcome: earned`` what they earned (kind ``earned``), for instalments to pay."""
    results = _evaluate(ctx, config)
    if config.outcome == "earned":
        return [dataclasses.replace(result, kind="earned") for result in results]
    return results


def _evaluate(ctx: RuleContext, config: TieredCommission) -> list[RuleResult]:
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
            if config.floor_applies == "with_sales" and measured <= ZERO:
                return _UNUSUAL  # _pay says why no minimum is guaranteed
            amount += round_line(config.floor - amount)
        if config.payout_threshold is not None and ZERO < amount < config.payout_threshold:
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
