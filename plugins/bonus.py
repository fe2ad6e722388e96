"""Bonus / SPIFF: an amount per qualifying record, per person meeting a condition, or for the top N.

- ``per: record``: every evidence record of ``measure`` that meets ``when`` earns ``amount``
  (e.g. each new-customer deal above 50,000 earns 500);
- ``per: person``: a person who meets ``when`` earns ``amount`` (an over-achievement bonus when
  bookings exceed the target by 20 %);
- ``per: rank``: the top ``top`` people by ``measure`` earn ``amount`` each (or ``awards`` by
  position); ties are declared: ``split`` the awards of the places they share, ``all`` get the
  award of their place, or ``tie_break`` by another metric (ties left after it are split).
  ``hired_within_days`` limits a bonus to newcomers (best newcomer).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpi_engine import (
    Amount,
    ConditionText,
    EvaluationError,
    FormulaText,
    RuleContext,
    RuleResult,
    RuleType,
    hookimpl,
    money_text,
    plain,
    to_decimal,
)

from ._commission_common import (
    LEVELS,
    ZERO,
    formula_inputs,
    level_value,
    metric_value,
    pairs,
    run_formula,
    shown,
)

__all__ = ["Bonus", "kpi_rule_types", "rank_awards"]


class Bonus(BaseModel):
    """Settings of a ``bonus`` rule."""

    model_config = ConfigDict(extra="forbid")

    per: Literal["record", "person", "rank"]
    measure: str | None = None  # the metric whose records (per record) or values (per person, rank) count
    columns: list[str] = []  # record columns the formulas read, besides value and record_id
    when: ConditionText | None = None
    amount: FormulaText | None = None
    awards: list[Amount] | None = None  # rank: the award of each place, first place first
    top: int | None = Field(None, ge=1)
    ties: Literal["split", "all", "tie_break"] | None = None
    tie_break: str | None = None  # rank: the metric that orders people tied on the measure
    hired_within_days: int | None = Field(None, ge=0)
    cap: Amount | None = None  # the most one person earns from this rule in a period

    @model_validator(mode="after")
    def _consistent(self) -> Bonus:
        if self.per in ("record", "rank") and not self.measure:
            raise ValueError(
                f"a per-{self.per} bonus needs measure, the metric whose "
                f"{'records' if self.per == 'record' else 'values'} count"
            )
        if self.per == "rank":
            if self.top is None:
                raise ValueError("a ranked award needs top, how many places are paid")
            if self.ties is None:
                raise ValueError("a ranked award must declare ties: split, all or tie_break")
            if (self.ties == "tie_break") != (self.tie_break is not None):
                raise ValueError("ties: tie_break goes with tie_break: METRIC (and only with it)")
            if (self.amount is None) == (self.awards is None):
                raise ValueError("a ranked award gives either amount (each paid place) or awards (one per place)")
            if self.awards is not None and len(self.awards) != self.top:
                raise ValueError(f"awards lists {len(self.awards)} amounts for top {self.top} places")
            if self.amount is not None and self.amount.names:
                raise ValueError("the award of a place is a fixed amount, not a formula")
        else:
            if self.amount is None:
                raise ValueError(f"a per-{self.per} bonus needs amount (a number or a formula)")
            extra = [k for k in ("awards", "top", "ties", "tie_break") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)} belong to ranked awards (per: rank), not per {self.per}")
        if self.columns and self.per != "record":
            raise ValueError("columns name record columns: they belong to per-record bonuses")
        if self.cap is not None and self.cap < ZERO:
            raise ValueError(f"cap cannot be negative ({self.cap})")
        return self


def _number(value: Decimal | bool, what: str) -> Decimal:
    if isinstance(value, bool):
        raise EvaluationError(f"the {what} gave yes/no, not an amount.", hint="write a formula that computes a number")
    return value


def _eligible_newcomer(ctx: RuleContext, config: Bonus, person: str) -> str | None:
    """Why a person is not a newcomer, or ``None`` when they are (or the rule has no such limit)."""
    if config.hired_within_days is None:
        return None
    info = ctx.people_info.get(person)
    if info is None or info.hire_date is None:
        return "the hire date is not known"
    last_day = ctx.period.end - timedelta(days=1)
    days = (last_day - info.hire_date).days
    if days > config.hired_within_days:
        return (
            f"hired {info.hire_date.isoformat()}, {days} days before "
            f"the period's last day (limit {config.hired_within_days})"
        )
    return None


def _person_extra(ctx: RuleContext, config: Bonus, person: str) -> dict[str, Any]:
    if not config.measure:
        return {}
    extra: dict[str, Any] = {"value": metric_value(ctx, config.measure, person)}
    levels = ctx.targets.get(config.measure, {}).get(person)
    for level in LEVELS:
        found = level_value(levels, level)
        if found is not None:
            extra[level] = found
    if extra.get("target"):
        extra["attainment"] = extra["value"] / extra["target"]
    return extra


def _capped(
    ctx: RuleContext, config: Bonus, amount: Decimal, explanation: list[str]
) -> tuple[Decimal, list[dict[str, str]]]:
    if config.cap is not None and amount > config.cap:
        explanation.append(f"Capped at {shown(config.cap)} per period (was {shown(amount)}).")
        return config.cap, [
            {"step": "cap", "amount": money_text(ctx.round_line(config.cap - amount)), "limit": plain(config.cap)}
        ]
    return amount, []


def _rows(ctx: RuleContext, measure: str, person: str) -> list[dict[str, Any]]:
    details = ctx.record_details(measure)
    if details:
        return [dict(row) for row in details.get(person, ())]
    return [{"record_id": rid, "value": value} for rid, value in ctx.records(measure).get(person, ())]


def _record_extra(config: Bonus, row: dict[str, Any], measure: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"record_id": Decimal(int(row["record_id"])), "value": to_decimal(row["value"])}
    for column in config.columns:
        if column not in row:
            raise EvaluationError(
                f"record {row['record_id']} of {measure} has no column {column!r}.",
                hint=f"columns available: {', '.join(sorted(row))}",
            )
        value = row[column]
        if value is None:
            raise EvaluationError(
                f"record {row['record_id']} of {measure} has no {column}, which the rule's formulas read.",
                hint=f"fill in {column} in the CRM (or the file imported), or leave it out of the rule",
            )
        try:
            extra[column] = value if isinstance(value, bool) else to_decimal(value)
        except (TypeError, ValueError):
            raise EvaluationError(
                f"record {row['record_id']} of {measure} has {column} {value!r}, not a number or yes/no.",
                hint=f"a formula compares numbers: read a numeric column instead of {column}",
            ) from None
    return extra


def _per_record(ctx: RuleContext, config: Bonus, person: str) -> RuleResult:
    assert config.measure and config.amount
    trace: dict[str, Any] = {"rule_type": "bonus", "per": "record", "inputs": {}}
    lines: list[dict[str, Any]] = []
    explanation: list[str] = []
    rows = _rows(ctx, config.measure, person)
    for row in rows:
        extra = _record_extra(config, row, config.measure)
        if config.when is not None and not run_formula(ctx, config.when, person, extra):
            continue
        amount = ctx.round_line(
            _number(run_formula(ctx, config.amount, person, extra), f"amount {config.amount.text!r}")
        )
        lines.append({"record_id": row["record_id"], "value": plain(extra["value"]), "amount": money_text(amount)})
    condition = f" meeting {config.when.text}" if config.when is not None else ""
    explanation.append(
        f"{len(lines)} of {len(rows)} {config.measure} records{condition} earn {config.amount.text} each."
    )
    if lines:
        explanation.append(
            "; ".join(
                f"#{line['record_id']} ({shown(Decimal(line['value']))}) → {shown(Decimal(line['amount']))}"
                for line in lines
            )
            + "."
        )
    subtotal = sum((Decimal(line["amount"]) for line in lines), ZERO)
    amount, adjustments = _capped(ctx, config, subtotal, explanation)
    total = ctx.round_total(amount)
    trace["inputs"] = {"records": str(len(rows)), "qualifying": str(len(lines))}
    table = ctx.evidence_table(config.measure)
    if table:
        trace["records"] = {"table": table, "ids": [line["record_id"] for line in lines]}
    trace |= {"lines": lines, "total": money_text(total), "explanation": explanation}
    if adjustments:
        trace["adjustments"] = adjustments
    return RuleResult(person, total, trace)


def _per_person(ctx: RuleContext, config: Bonus, person: str) -> RuleResult:
    assert config.amount is not None
    extra = _person_extra(ctx, config, person)
    inputs = {k: plain(v.quantize(Decimal("0.000001")) if k == "attainment" else v) for k, v in extra.items()}
    trace: dict[str, Any] = {"rule_type": "bonus", "per": "person", "inputs": inputs}
    explanation: list[str] = []
    newcomer = _eligible_newcomer(ctx, config, person)
    if newcomer is not None:
        explanation.append(f"Not eligible: {newcomer}.")
        return RuleResult(
            person, ctx.round_total(ZERO), trace | {"lines": [], "total": money_text(ZERO), "explanation": explanation}
        )
    if config.when is not None:
        met = bool(run_formula(ctx, config.when, person, extra))
        found = formula_inputs(ctx, config.when, person, extra)
        inputs |= {k: v for k, v in found.items() if k not in inputs}
        values = pairs(found)
        trace["condition"] = {"when": config.when.text, "met": met, "inputs": found}
        explanation.append(f"The condition {config.when.text} is {'met' if met else 'not met'} ({values}).")
        if not met:
            return RuleResult(
                person,
                ctx.round_total(ZERO),
                trace | {"lines": [], "total": money_text(ZERO), "explanation": explanation},
            )
    earned = ctx.round_line(_number(run_formula(ctx, config.amount, person, extra), f"amount {config.amount.text!r}"))
    explanation.append(f"Bonus {config.amount.text} = {shown(earned)}.")
    amount, adjustments = _capped(ctx, config, earned, explanation)
    total = ctx.round_total(amount)
    trace |= {
        "lines": [{"step": "bonus", "formula": config.amount.text, "amount": money_text(earned)}],
        "total": money_text(total),
        "explanation": explanation,
    }
    if adjustments:
        trace["adjustments"] = adjustments
    return RuleResult(person, total, trace)


def rank_awards(
    ranking: list[tuple[str, Decimal, Decimal | None]], awards: list[Decimal], ties: str, round_share: Any = lambda x: x
) -> dict[str, tuple[int, Decimal, list[str]]]:
    """Awards for people ordered best first: person -> (place, award, people sharing the place).

    ``ranking`` holds ``(person, value, tie_break value)``; people with equal values (and equal
    tie-break values) share a place. ``split``: they share the awards of the places they occupy,
    the rounding remainder going to the first of them by id so that shares add up exactly;
    ``all``: each gets the award of their place. Places beyond the awards earn nothing.
    """
    result: dict[str, tuple[int, Decimal, list[str]]] = {}
    place = 1
    for _, group_iter in groupby(ranking, key=lambda r: (r[1], r[2] if ties != "all" else None)):
        group = sorted(p for p, _, _ in group_iter)
        if place > len(awards):
            break
        if ties == "all" or len(group) == 1:
            for person in group:
                result[person] = (place, awards[place - 1], group)
        else:
            pool = sum(awards[place - 1 : place - 1 + len(group)], ZERO)
            share = round_share(pool / len(group))
            shares = [share] * len(group)
            shares[0] += pool - share * len(group)
            for person, amount in zip(group, shares):
                result[person] = (place, amount, group)
        place += len(group)
    return result


def _ranked(ctx: RuleContext, config: Bonus) -> list[RuleResult]:
    assert config.measure and config.top
    if config.awards is not None:
        awards = list(config.awards)
    else:
        assert config.amount is not None  # a ranked award gives either amount or awards
        awards = [_number(config.amount.evaluate({}), "award") for _ in range(config.top)]
    reasons: dict[str, str] = {}
    values: dict[str, Decimal] = {}
    tie_values: dict[str, Decimal | None] = {}
    for person in ctx.people:
        extra = _person_extra(ctx, config, person)
        values[person] = extra["value"]
        tie_values[person] = metric_value(ctx, config.tie_break, person) if config.tie_break else None
        if (why := _eligible_newcomer(ctx, config, person)) is not None:
            reasons[person] = f"not eligible: {why}"
        elif config.when is not None and not run_formula(ctx, config.when, person, extra):
            reasons[person] = f"not eligible: {config.when.text} is not met"
        elif values[person] <= ZERO:
            reasons[person] = f"no {config.measure} this period"
    contenders = sorted(
        (p for p in ctx.people if p not in reasons),
        key=lambda p: (-values[p], -(tie_values[p] or ZERO), p),
    )
    ranking = [(p, values[p], tie_values[p]) for p in contenders]
    won = rank_awards(ranking, awards, config.ties or "split", ctx.round_total)
    places = {p: i + 1 for i, p in enumerate(contenders)}
    board = [
        {
            "person": p,
            config.measure: plain(values[p]),
            **({config.tie_break: plain(tie_values[p] or ZERO)} if config.tie_break else {}),
            "place": str(won[p][0]),
        }
        for p in contenders
        if p in won
    ]
    results = []
    for person in ctx.people:
        trace: dict[str, Any] = {
            "rule_type": "bonus",
            "per": "rank",
            "ties": config.ties,
            "inputs": {config.measure: plain(values[person])},
            "winners": board,
        }
        explanation = [
            f"The top {config.top} by {config.measure} this period earn "
            f"{', '.join(shown(a) for a in awards)}; ties: {config.ties}."
        ]
        if person in won:
            place, award, group = won[person]
            shared = f", tied with {', '.join(p for p in group if p != person)}" if len(group) > 1 else ""
            how = "the tie is split" if len(group) > 1 and config.ties != "all" else f"award of place {place}"
            explanation.append(
                f"{config.measure} {shown(values[person])} ranks {_ordinal(place)}{shared}: {how}, {shown(award)}."
            )
            award, adjustments = _capped(ctx, config, award, explanation)
            total = ctx.round_total(award)
            trace |= {
                "place": str(place),
                "lines": [{"step": f"place {place}", "amount": money_text(total)}],
                "total": money_text(total),
            }
            if adjustments:
                trace["adjustments"] = adjustments
        else:
            why = reasons.get(person) or f"ranked {_ordinal(places[person])}, outside the top {config.top}"
            explanation.append(f"No award: {why}.")
            total = ctx.round_total(ZERO)
            trace |= {"lines": [], "total": money_text(total)}
        trace["explanation"] = explanation
        results.append(RuleResult(person, total, trace))
    return results


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def evaluate(ctx: RuleContext, config: Bonus) -> list[RuleResult]:
    """A bonus line (possibly zero, with the reason) for every person in scope."""
    if config.per == "rank":
        return _ranked(ctx, config)
    pay = _per_record if config.per == "record" else _per_person
    return [pay(ctx, config, person) for person in ctx.people]


def _metrics(config: Bonus) -> set[str]:
    return {m for m in (config.measure, config.tie_break) if m}


def _local_names(config: Bonus) -> set[str]:
    if config.per == "record":
        return {"value", "record_id", *config.columns}
    return {"value", "attainment", *LEVELS} if config.measure else set()


@hookimpl
def kpi_rule_types() -> list[RuleType[Bonus]]:
    return [
        RuleType(
            name="bonus",
            component="bonus",
            description=(
                "Bonus or SPIFF: an amount per qualifying record, per person meeting a condition, or for the top N."
            ),
            config_model=Bonus,
            metrics=_metrics,
            evaluate=evaluate,
            local_names=_local_names,
        )
    ]
