"""Weighted scorecard: KPIs with weights, each scored against baseline/target/challenge on a declared curve.

Each KPI's achievement factor comes from its curve: ``linear`` between points (by default
baseline → 50 %, target → 100 %, challenge → 150 %), ``steps`` (the factor of the highest step
reached) or ``ratio`` (actual ÷ target); lower-is-better KPIs (resolution time) turn every
comparison round. Qualitative KPIs read a score entered by hand, divided by its scale's maximum.
The weighted score is Σ weight × factor; the payout is the target incentive × score, unless a
gate is not met. Weights must add up to 100 %.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpi_engine import (
    Amount,
    ConditionText,
    EvaluationError,
    RuleContext,
    RuleResult,
    RuleType,
    TargetLevels,
    hookimpl,
    money_text,
    plain,
)

from ._commission_common import (
    LEVELS,
    ZERO,
    formula_inputs,
    level_value,
    metric_value,
    pairs,
    percent,
    percent_about,
    run_formula,
    shown,
)
from .tiered_commission import Bound

__all__ = ["CurvePoint", "FixedLevels", "Scorecard", "ScorecardKPI", "Step", "achievement_factor", "kpi_rule_types"]

ONE = Decimal(1)
_DEFAULT_POINTS = (("baseline", Decimal("0.5")), ("target", Decimal(1)), ("challenge", Decimal("1.5")))


class FixedLevels(BaseModel):
    """Levels written in the plan instead of read from the targets."""

    model_config = ConfigDict(extra="forbid")

    baseline: Amount | None = None
    target: Amount | None = None
    challenge: Amount | None = None


class CurvePoint(BaseModel):
    """A point of a linear curve: at this value (a number or a level name) the factor is ``factor``."""

    model_config = ConfigDict(extra="forbid")

    at: Bound
    factor: Amount


class Step(BaseModel):
    """A step: from this value (a number or a level name) on, the factor is ``factor``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Bound = Field(alias="from")
    factor: Amount


class ScorecardKPI(BaseModel):
    """One KPI of a scorecard: where its value comes from, its weight and how it is scored."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    metric: str | None = None
    manual: str | None = None  # a score entered by hand (manual_scores), e.g. report_quality
    scale_max: Amount | None = None  # the top of the manual score's scale, e.g. 5
    weight: Amount
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    levels: Literal["targets"] | FixedLevels = "targets"
    target_metric: str | None = None  # whose targets give the levels; default: the metric
    curve: Literal["linear", "steps", "ratio"] = "linear"
    points: list[CurvePoint] = Field(default_factory=lambda: [CurvePoint(at=a, factor=f) for a, f in _DEFAULT_POINTS])
    steps: list[Step] = []
    below: Amount = Decimal(0)  # the factor when the value is worse than the first point or step
    extend: bool = False  # linear: continue the last segment beyond the last point (up to the cap)
    cap: Amount | None = None  # the highest factor this KPI can reach
    # A period with no value for the KPI (no metric row, no score entered): scored as 0 (as below the first point
    # when lower is better), saying so; or left out, the other KPIs' weights scaled up to 100 %.
    no_data: Literal["counts_as_zero", "leave_out"] = "counts_as_zero"

    @model_validator(mode="after")
    def _consistent(self) -> ScorecardKPI:
        if (self.metric is None) == (self.manual is None):
            raise ValueError(
                f"KPI {self.name!r} needs exactly one of metric (measured) or manual (a score entered by hand)"
            )
        if self.manual is not None and (self.scale_max is None or self.scale_max <= ZERO):
            raise ValueError(f"the manual KPI {self.name!r} needs scale_max, the top of its scale (e.g. 5)")
        if self.weight <= ZERO:
            raise ValueError(f"the weight of KPI {self.name!r} must be above 0%")
        if self.curve == "steps" and not self.steps:
            raise ValueError(f"KPI {self.name!r} uses the steps curve but lists no steps")
        if self.curve == "linear" and len(self.points) < 2:
            raise ValueError(f"the linear curve of KPI {self.name!r} needs at least two points")
        if self.extend and self.cap is None:
            raise ValueError(f"KPI {self.name!r} extends its curve beyond the last point: declare its cap")
        return self

    @property
    def quota_metric(self) -> str | None:
        return self.target_metric or self.metric

    @property
    def needed_levels(self) -> set[str]:
        if self.manual is not None:
            return set()
        if self.curve == "ratio":
            return {"target"}
        bounds = [p.at for p in self.points] if self.curve == "linear" else [s.from_ for s in self.steps]
        return {b for b in bounds if isinstance(b, str)}


class Scorecard(BaseModel):
    """Settings of a ``scorecard`` rule."""

    model_config = ConfigDict(extra="forbid")

    kpis: list[ScorecardKPI] = Field(min_length=1)
    target_incentive: Amount | None = None
    target_incentive_by_role: dict[str, Amount] | None = None
    gate: ConditionText | None = None
    score_places: int = Field(4, ge=0, le=6)  # the score is reported (and paid) to this many decimals
    score_cap: Amount | None = None  # the highest weighted score

    @model_validator(mode="after")
    def _consistent(self) -> Scorecard:
        total = sum((k.weight for k in self.kpis), ZERO)
        if total != ONE:
            listed = ", ".join(f"{k.name} {percent(k.weight)}" for k in self.kpis)
            raise ValueError(f"the KPI weights add up to {percent(total)}, not 100% ({listed})")
        names = [k.name for k in self.kpis]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"two KPIs are called {repeated[0]!r}; KPI names must be unique")
        if (self.target_incentive is None) == (self.target_incentive_by_role is None):
            raise ValueError(
                "give the target incentive either as target_incentive (one amount) or target_incentive_by_role"
            )
        return self


class _Skip(Exception):
    """A person the scorecard cannot score (a level is missing); the reason goes into the trace."""


def _levels(
    ctx: RuleContext, kpi: ScorecardKPI, person: str, targets: Mapping[str, TargetLevels] | None = None
) -> dict[str, Decimal]:
    if isinstance(kpi.levels, FixedLevels):
        found = {lv: getattr(kpi.levels, lv) for lv in LEVELS if getattr(kpi.levels, lv) is not None}
    else:
        levels: TargetLevels | None = (ctx.targets.get(kpi.quota_metric or "", {}) if targets is None else targets).get(
            person
        )
        found = {lv: v for lv in LEVELS if (v := level_value(levels, lv)) is not None}
    missing = sorted(kpi.needed_levels - set(found))
    if missing:
        where = "the plan" if isinstance(kpi.levels, FixedLevels) else f"the {kpi.quota_metric} targets"
        raise _Skip(f"KPI {kpi.name} has no {' or '.join(missing)} level in {where} for this person and period")
    return found


def _at(bound: Decimal | str, levels: dict[str, Decimal]) -> Decimal:
    return levels[bound] if isinstance(bound, str) else bound


def achievement_factor(kpi: ScorecardKPI, actual: Decimal, levels: dict[str, Decimal]) -> tuple[Decimal, str]:
    """The KPI's factor for ``actual`` and a phrase saying how it was read off the curve (cap applied)."""
    better = (lambda a, b: a > b) if kpi.direction == "higher_is_better" else (lambda a, b: a < b)
    if kpi.curve == "ratio":
        target = levels["target"]
        if kpi.direction == "higher_is_better":
            factor, how = (actual / target if target else ZERO), f"{shown(actual)} ÷ target {shown(target)}"
        else:
            factor, how = (
                (target / actual, f"target {shown(target)} ÷ {shown(actual)}")
                if actual
                else (kpi.cap or ZERO, "zero, the best possible")
            )
    elif kpi.curve == "steps":
        factor, how = kpi.below, "below the first step"
        for step in kpi.steps:
            at = _at(step.from_, levels)
            if not better(at, actual):
                factor, how = step.factor, f"step from {_step_name(step.from_)} reached"
    else:
        points = [(_at(p.at, levels), p.factor, p.at) for p in kpi.points]
        for (a, _, na), (b, _, nb) in itertools.pairwise(points):
            if not better(b, a):
                raise EvaluationError(
                    f"the curve of KPI {kpi.name} is not in order: {_step_name(nb)} "
                    f"({shown(b)}) is not better than {_step_name(na)} ({shown(a)}).",
                    hint="baseline, target and challenge must improve in the KPI's direction",
                )
        first_at, _first_factor, first_name = points[0]
        last_at, last_factor, last_name = points[-1]
        if better(first_at, actual):
            factor, how = kpi.below, f"worse than {_step_name(first_name)} {shown(first_at)}"
        elif better(actual, last_at):
            factor, how = last_factor, f"beyond {_step_name(last_name)} {shown(last_at)}"
            if kpi.extend:
                a, fa, _ = points[-2]
                factor = last_factor + (last_factor - fa) * (actual - last_at) / (last_at - a)
                how += ", the last segment extended"
        else:
            factor, how = last_factor, f"at {_step_name(last_name)}"
            for (a, fa, na), (b, fb, nb) in itertools.pairwise(points):
                if not better(actual, b):  # actual lies between a and b
                    factor = fa + (fb - fa) * (actual - a) / (b - a)
                    how = (
                        f"between {_step_name(na)} {shown(a)} ({percent(fa)}) "
                        f"and {_step_name(nb)} {shown(b)} ({percent(fb)})"
                    )
                    break
    if kpi.cap is not None and factor > kpi.cap:
        factor, how = kpi.cap, f"{how}, capped at {percent(kpi.cap)}"
    return factor, how


def _step_name(bound: Decimal | str) -> str:
    return bound if isinstance(bound, str) else shown(bound)


def _no_data(ctx: RuleContext, kpi: ScorecardKPI, person: str) -> bool:
    """Whether the KPI has no value for the person this period (no metric row, no score entered)."""
    if kpi.manual is not None:
        return person not in ctx.manual_scores(kpi.manual)
    assert kpi.metric is not None
    return kpi.metric in ctx.values and person not in ctx.values[kpi.metric]


def _left_out(kpi: ScorecardKPI) -> dict[str, Any]:
    source = kpi.metric or f"manual score {kpi.manual}"
    row: dict[str, Any] = {
        "kpi": kpi.name,
        "source": source,
        "actual": None,
        "no_data": True,
        "levels": {},
        "direction": kpi.direction,
        "curve": "manual" if kpi.manual else kpi.curve,
        "factor": None,
        "how": "no data this period: left out (no_data: leave_out)",
        "weight": plain(kpi.weight),
        "contribution": "0",
    }
    sentence = f"{kpi.name}: no data this period, left out; the other KPIs share its weight {percent(kpi.weight)}."
    return {"row": row, "factor": ZERO, "contribution": ZERO, "sentence": sentence, "left_out": True}


def _score_kpi(
    ctx: RuleContext, kpi: ScorecardKPI, person: str, targets: Mapping[str, TargetLevels] | None = None
) -> dict[str, Any]:
    no_data = _no_data(ctx, kpi, person)
    if no_data and kpi.no_data == "leave_out":
        return _left_out(kpi)
    if kpi.manual is not None:
        entered = ctx.manual_scores(kpi.manual).get(person)
        assert kpi.scale_max is not None
        if entered is None:
            factor, how, actual = ZERO, f"no data: no {kpi.manual} score entered, counted as 0", None
        elif not ZERO <= entered <= kpi.scale_max:
            raise EvaluationError(
                f"the {kpi.manual} score of {person} is {plain(entered)}, outside the scale 0–{plain(kpi.scale_max)}.",
                hint="correct the score entered by hand",
            )
        else:
            actual = entered
            factor, how = entered / kpi.scale_max, f"score {plain(entered)} of {plain(kpi.scale_max)}"
            if kpi.cap is not None and factor > kpi.cap:
                factor, how = kpi.cap, f"{how}, capped at {percent(kpi.cap)}"
        levels: dict[str, Decimal] = {}
    else:
        assert kpi.metric is not None
        levels = _levels(ctx, kpi, person, targets)
        if no_data and kpi.direction == "lower_is_better":
            # No tickets resolved is no resolution time at all, not the best possible one.
            actual, factor, how = (
                None,
                kpi.below,
                f"no data: no {kpi.metric} value this period, scored as below the first point",
            )
        elif no_data:
            factor, how = achievement_factor(kpi, ZERO, levels)
            actual, how = None, f"no data: no {kpi.metric} value this period, counted as 0 ({how})"
        else:
            actual = metric_value(ctx, kpi.metric, person)
            factor, how = achievement_factor(kpi, actual, levels)
    contribution = kpi.weight * factor
    row = {
        "kpi": kpi.name,
        "source": kpi.metric or f"manual score {kpi.manual}",
        "actual": None if actual is None else plain(actual),
        "no_data": actual is None,
        "levels": {k: plain(v) for k, v in levels.items()},
        "direction": kpi.direction,
        "curve": "manual" if kpi.manual else kpi.curve,
        "factor": plain(factor),
        "how": how,
        "weight": plain(kpi.weight),
        "contribution": plain(contribution),
    }
    # The sentence is written from the numbers themselves (their text, read back, gives the same).
    sentence = (
        f"{kpi.name}: {'no data' if actual is None else shown(actual)} ({how}) → factor "
        f"{percent_about(factor)} × weight {percent(kpi.weight)} = {percent_about(contribution)}."
    )
    return {"row": row, "factor": factor, "contribution": contribution, "sentence": sentence}


def _pay(
    ctx: RuleContext, config: Scorecard, person: str, targets: Sequence[Mapping[str, TargetLevels] | None] | None = None
) -> list[RuleResult]:
    trace: dict[str, Any] = {"rule_type": "scorecard"}
    try:
        scored = [
            _score_kpi(ctx, kpi, person, None if targets is None else targets[i]) for i, kpi in enumerate(config.kpis)
        ]
    except _Skip as skip:
        trace |= {"skipped": str(skip), "explanation": [f"Not evaluated: {skip}."]}
        return [RuleResult(person, None, trace, kind="score"), RuleResult(person, None, trace)]
    rows = [{"_factor": one["factor"], "kpi": one["row"]["kpi"]} for one in scored]
    left_out = [one for one in scored if one.get("left_out")]
    if len(left_out) == len(scored):
        reason = "no data this period for any of its KPIs"
        trace |= {"skipped": reason, "explanation": [one["sentence"] for one in scored] + [f"No score: {reason}."]}
        return [RuleResult(person, None, trace, kind="score"), RuleResult(person, None, trace)]
    reweight_note = None
    if left_out:  # the KPIs with data share the weight of those left out, in proportion to their own
        kept = sum((kpi.weight for kpi, one in zip(config.kpis, scored) if not one.get("left_out")), ZERO)
        for kpi, one in zip(config.kpis, scored):
            if one.get("left_out"):
                continue
            weight = kpi.weight / kept
            one["contribution"] = one["factor"] * weight
            one["row"] |= {"weight_used": plain(weight), "contribution": plain(one["contribution"])}
            one["sentence"] += f" Re-weighted: {percent(kpi.weight)} ÷ {percent(kept)} = {percent_about(weight)}."
        reweight_note = (
            f"{', '.join(one['row']['kpi'] for one in left_out)} had no data and "
            f"{'was' if len(left_out) == 1 else 'were'} left out; the other KPIs' weights ({percent(kept)}) are "
            "scaled up to 100%."
        )
    exact = sum((one["contribution"] for one in scored), ZERO)
    score = exact if config.score_cap is None else min(exact, config.score_cap)
    score = score.quantize(Decimal(1).scaleb(-config.score_places), rounding=ROUND_HALF_UP)
    kpis = [one["row"] for one in scored]
    trace["kpis"] = kpis
    trace["inputs"] = {r["kpi"]: ("no data" if r["actual"] is None else r["actual"]) for r in kpis}
    explanation = [one["sentence"] for one in scored]
    if reweight_note:
        explanation.append(reweight_note)
    capped = (
        f", capped at {percent(config.score_cap)}" if config.score_cap is not None and exact > config.score_cap else ""
    )
    explanation.append(f"Weighted score {percent(score)}{capped} (to {config.score_places} decimals).")
    trace["score"] = plain(score)

    role = ctx.people_info[person].role if person in ctx.people_info else None
    if config.target_incentive is not None:
        incentive = config.target_incentive
    elif role in (config.target_incentive_by_role or {}):
        incentive = (config.target_incentive_by_role or {})[role]
    else:
        reason = f"no target incentive for the role {role!r}" if role else "the person's role is not known"
        trace |= {"skipped": reason, "explanation": [*explanation, f"No payout: {reason}."]}
        return [RuleResult(person, score, dict(trace), kind="score"), RuleResult(person, None, trace)]
    trace["inputs"] = {**trace["inputs"], "target_incentive": plain(incentive)}

    paid = True
    if config.gate is not None:
        extra = {"score": score, **{f"{r['kpi']}_factor": r["_factor"] for r in rows}}
        met = run_formula(ctx, config.gate, person, extra)
        gate_inputs = formula_inputs(ctx, config.gate, person, extra)
        values = pairs(gate_inputs)
        trace["gate"] = {"condition": config.gate.text, "met": bool(met), "inputs": gate_inputs}
        paid = bool(met)
        explanation.append(f"The gate {config.gate.text} is {'met' if met else 'not met'} ({values}).")
    amount = incentive * score if paid else ZERO
    if paid:
        explanation.append(f"Payout = target incentive {shown(incentive)} × score {percent(score)} = {shown(amount)}.")
    else:
        explanation.append("Nothing is paid because the gate is not met.")
    total = ctx.round_total(amount)
    payout_trace = trace | {
        "lines": [
            {
                "step": "target incentive × score",
                "basis": plain(incentive),
                "rate": plain(score),
                "amount": money_text(total),
            }
        ],
        "total": money_text(total),
        "explanation": explanation,
    }
    score_trace = trace | {
        "inputs": {k: v for k, v in trace["inputs"].items() if k != "target_incentive"},
        "explanation": explanation[: len(kpis) + 1 + (1 if reweight_note else 0)],
    }
    return [RuleResult(person, score, score_trace, kind="score"), RuleResult(person, total, payout_trace)]


def evaluate(ctx: RuleContext, config: Scorecard) -> list[RuleResult]:
    """A score line and a payout line for every person in scope."""
    targets = [
        None
        if isinstance(kpi.levels, FixedLevels) or kpi.manual is not None
        else ctx.targets.get(kpi.quota_metric or "", {})
        for kpi in config.kpis
    ]
    return [result for person in ctx.people for result in _pay(ctx, config, person, targets)]


def _metrics(config: Scorecard) -> set[str]:
    names: set[str] = set()
    for kpi in config.kpis:
        if kpi.metric:
            names.add(kpi.metric)
        if kpi.target_metric:
            names.add(kpi.target_metric)
    return names


def _local_names(config: Scorecard) -> set[str]:
    return {"score", *(f"{k.name}_factor" for k in config.kpis)}


@hookimpl
def kpi_rule_types() -> list[RuleType[Scorecard]]:
    return [
        RuleType(
            name="scorecard",
            component="scorecard",
            description="Weighted KPI scorecard against baseline/target/challenge; payout = target incentive × score.",
            config_model=Scorecard,
            metrics=_metrics,
            evaluate=evaluate,
            local_names=_local_names,
        )
    ]
