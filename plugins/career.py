"""Career outcomes over time: streaks of periods meeting a condition, and the escalation of upheld findings.

``streak``: N periods in a row (of any grain: months, quarters, years) meeting a condition recommend something
to HR: a raise for the top 10 % three quarters running, a promotion for a rating of B or better two years
running or three quarters on target, coaching for a process KPI below its threshold (sources 002 and 003,
docs/catalogue.md §4 and §5). What is judged each period is a plan name's value (``measure``), a score entered
by hand (``manual``, e.g. a rating, with its scale's letters as names: ``>= B``), attainment of a target, or the
person's rank among the people in the plan's scope (``rank``, ``rank_share`` = rank ÷ the people ranked, so
"top 10 %" is ``rank_share <= 10%``). The streak is reported once, in the period whose end completes its N-th
period, as a recommendation for HR review with the periods and values as evidence; never an action.

``escalation``: HR's upheld findings of the plan's chosen checks are counted over a window of periods; the
finding that brings a person's count to a step gets the step's declared effect: a warning, a referral to HR
(recommendations), and, where the plan declares an amount, a deduction from pay (a negative payout line).
Fabrication (source 003): a warning and a performance deduction the first time, a referral the second.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpi_engine import (
    Amount,
    ConditionText,
    ConfigProblems,
    FindingReview,
    Period,
    RuleContext,
    RuleResult,
    RuleType,
    hookimpl,
    money_text,
    parse_period,
    plain,
)

from ._support import judge, local_day, percent, period_containing, periods_back, shown

__all__ = ["Escalation", "EscalationStep", "Streak", "kpi_rule_types"]

ZERO = Decimal(0)
NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


class Streak(BaseModel):
    """Settings of a ``streak`` rule."""

    model_config = ConfigDict(extra="forbid")

    measure: str | None = None  # a plan name judged each period (a metric, a formula, a span)
    manual: str | None = None  # or a score entered by hand (manual_scores), e.g. performance_rating
    scale: dict[str, Amount] | None = None  # a manual scale's names: {A: 5, B: 4, C: 3, D: 2}
    basis: Literal["value", "attainment", "rank"] = "value"
    target_metric: str | None = None  # whose target gives attainment (default: the measure)
    grain: Literal["week", "month", "quarter", "year"] | None = None  # default: the plan's period
    condition: ConditionText  # e.g. "rank_share <= 10%", ">= B", ">= 100%", "< 10%"
    periods: int = Field(ge=1, le=24)  # in a row
    recommend: str = Field(pattern=NAME)  # what HR is asked to consider: raise, promotion, coaching …
    message: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Streak:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if (self.measure is None) == (self.manual is None):
            problems.append(((), "give exactly one of measure (a plan name) or manual (a score entered by hand)"))
        if self.basis != "value" and self.measure is None:
            problems.append((("basis",), f"basis {self.basis} needs measure, the plan name to rank or to divide"))
        if self.scale is not None and self.manual is None:
            problems.append((("scale",), "scale names the grades of a score entered by hand: it goes with manual"))
        for name in self.scale or {}:
            if not name.isidentifier() or name in ("value", "rank", "rank_share", "ranked", "attainment", "target"):
                problems.append((("scale", name), f"{name!r} cannot name a grade: a grade is a name of letters"))
        if problems:
            raise ConfigProblems(problems, settings=self)
        return self


class EscalationStep(BaseModel):
    """What the finding that brings the count to ``count`` leads to (the last step: every later one too)."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=100)
    effect: str = Field(pattern=NAME)  # warning, deduction, referral … shown as the line's status
    deduct: Amount | None = None  # a deduction from pay declared by the plan (a negative payout line)
    note: str | None = None


class Escalation(BaseModel):
    """Settings of an ``escalation`` rule."""

    model_config = ConfigDict(extra="forbid")

    checks: list[str] = Field(min_length=1)  # the checks (their rule ids) whose upheld findings count
    window: int = Field(12, ge=1, le=120)  # periods counted back, this one included
    steps: list[EscalationStep] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> Escalation:
        counts = [step.count for step in self.steps]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if counts != sorted(set(counts)):
            problems.append((("steps",), f"the steps' counts must rise, each once ({', '.join(map(str, counts))})"))
        for index, step in enumerate(self.steps):
            if step.deduct is not None and step.deduct <= ZERO:
                problems.append((("steps", index, "deduct"), f"a deduction is an amount above 0, not {step.deduct}"))
        if problems:
            raise ConfigProblems(problems, settings=self)
        return self


# --- streaks -------------------------------------------------------------------------------------------


def _grain(ctx: RuleContext, config: Streak) -> str:
    return config.grain or (ctx.period.grain if ctx.period.grain in ("week", "month", "quarter", "year") else "month")


def _ending_in(period: Period, grain: str) -> list[Period]:
    """The periods of ``grain`` whose last day falls inside ``period``, in order."""
    found: list[Period] = []
    day = period.end - timedelta(days=1)
    while day >= period.start:
        inner = period_containing(day, grain)
        if inner.end <= period.end:  # it ends inside the period (a quarter ends in its last month only)
            found.append(inner)
        day = inner.start - timedelta(days=1)
    return list(reversed(found))


class _Judged:
    """Each person's entry for one period: the value judged, what the condition read, whether it was met."""

    def __init__(self, ctx: RuleContext, config: Streak, period: Period) -> None:
        self.period = period
        current = period == ctx.period
        if config.manual is not None:
            values = ctx.manual_scores(config.manual) if current else ctx.manual_scores_in(config.manual, period)
        else:
            assert config.measure is not None
            values = ctx.values.get(config.measure, {}) if current else ctx.values_in(config.measure, period)
        self.values: Mapping[str, Decimal] = values
        self.targets: Mapping[str, Any] = {}
        if config.basis == "attainment":
            metric = config.target_metric or config.measure or ""
            self.targets = ctx.targets.get(metric, {}) if current else ctx.targets_in(metric, period)
        self.ranks: dict[str, int] = {}
        self.ranked = len(ctx.people)
        if config.basis == "rank":  # among everyone in scope; someone with nothing to rank is not ranked at all
            ranked = {p: values.get(p, ZERO) for p in ctx.people}
            for person, value in ranked.items():
                if value > ZERO:
                    self.ranks[person] = 1 + sum(1 for other in ranked.values() if other > value)
        self.ctx, self.config = ctx, config

    def entry(self, person: str) -> dict[str, Any]:
        config = self.config
        value = self.values.get(person)
        names: dict[str, Decimal] = dict(config.scale or {})
        entry: dict[str, Any] = {"period": self.period.label, "value": None if value is None else plain(value)}
        subject = value
        if config.basis == "attainment":
            levels = self.targets.get(person)
            if levels is None or not levels.target:
                return entry | {"met": None, "no_data": f"no {config.target_metric or config.measure} target"}
            subject = (value or ZERO) / levels.target
            names |= {"attainment": subject, "target": levels.target}
            entry |= {"attainment": plain(subject.quantize(Decimal("0.0001"))), "target": plain(levels.target)}
        elif config.basis == "rank":
            ranked = self.ranked
            rank = self.ranks.get(person)
            if rank is None or not ranked:
                return entry | {"met": False, "not_ranked": f"no {config.measure} to rank"}
            names |= {"rank": Decimal(rank), "rank_share": Decimal(rank) / ranked, "ranked": Decimal(ranked)}
            subject = value or ZERO
            entry |= {
                "rank": rank,
                "ranked": ranked,
                "rank_share": plain((Decimal(rank) / ranked).quantize(Decimal("0.0001"))),
            }
        if subject is None:
            return entry | {"met": None, "no_data": "no value this period"}
        names["value"] = subject
        met = judge(config.condition, subject, lambda name, back: names.get(name) if not back else None)
        return entry | {"met": met}


def _words(config: Streak, entry: Mapping[str, Any]) -> str:
    if entry.get("met") is None:
        return f"{entry['period']} no data"
    if "not_ranked" in entry:
        return f"{entry['period']} not ranked ({entry['not_ranked']})"
    if "rank" in entry:
        return (
            f"{entry['period']} ranked {entry['rank']} of {entry['ranked']} ({percent(Decimal(entry['rank_share']))})"
        )
    if "attainment" in entry:
        return f"{entry['period']} {percent(Decimal(entry['attainment']))}"
    value = Decimal(entry["value"])
    grade = next((name for name, at in (config.scale or {}).items() if at == value), None)
    return f"{entry['period']} {grade + ' (' + plain(value) + ')' if grade else shown(value)}"


def evaluate_streak(ctx: RuleContext, config: Streak) -> list[RuleResult]:
    grain = _grain(ctx, config)
    ends = _ending_in(ctx.period, grain)
    if not ends:
        return []
    span = list(reversed(periods_back(ends[0], config.periods))) + ends  # oldest first
    judged = {p.label: _Judged(ctx, config, p) for p in span}
    results: list[RuleResult] = []
    what = {"rank": "rank", "attainment": "attainment"}.get(config.basis, config.manual or config.measure or "")
    for person in ctx.people:
        entries = [judged[p.label].entry(person) for p in span]
        for index in range(config.periods, len(entries)):
            run = entries[index - config.periods + 1 : index + 1]
            before = entries[index - config.periods]
            if all(e["met"] is True for e in run) and before["met"] is not True:
                seen = ", ".join(_words(config, e) for e in run)
                explanation = (
                    f"{what} {config.condition} in {config.periods} {grain}s in a row ({seen}): {config.recommend} "
                    "recommended for HR review. A recommendation only; nothing happens automatically."
                    + (f" {config.message}" if config.message else "")
                )
                trace = {
                    "rule_type": "streak",
                    "recommendation": config.recommend,
                    "status": "eligible",
                    "action": "recommendation for HR review; no automatic action is taken",
                    "condition": f"{what} {config.condition}",
                    "grain": grain,
                    "periods": config.periods,
                    "inputs": {"periods_met": config.periods, "last_period": run[-1]["period"]},
                    "evidence": run,
                    "before": before,
                    "explanation": explanation,
                }
                results.append(
                    RuleResult(person, None, trace, kind="recommendation", status="eligible", attention=True)
                )
                break
    return results


def _streak_names(config: Streak) -> set[str]:
    return {"value", "rank", "rank_share", "ranked", "attainment", "target", *(config.scale or {})}


def _streak_metrics(config: Streak) -> set[str]:
    names = {config.measure} if config.measure else set()
    if config.basis == "attainment" and config.target_metric:
        names.add(config.target_metric)
    return names


# --- escalation ---------------------------------------------------------------------------------------


def _step(config: Escalation, count: int) -> EscalationStep | None:
    reached = [step for step in config.steps if step.count <= count]
    return reached[-1] if reached else None


def evaluate_escalation(ctx: RuleContext, config: Escalation) -> list[RuleResult]:
    first = periods_back(ctx.period, config.window - 1)[-1] if config.window > 1 else ctx.period
    window = (
        ctx.period
        if first == ctx.period
        else parse_period(f"{first.start.isoformat()}..{(ctx.period.end - timedelta(days=1)).isoformat()}")
    )
    upheld: dict[str, list[FindingReview]] = {}
    for review in ctx.reviews_in(window):
        if review.decision == "uphold" and review.check in config.checks:
            upheld.setdefault(review.person_id, []).append(review)
    results: list[RuleResult] = []
    for person in ctx.people:
        counted = upheld.get(person, [])
        for position, review in enumerate(counted, start=1):
            day = local_day(review.reviewed_at, ctx.time_zone)
            if not ctx.period.start <= day < ctx.period.end:
                continue  # upheld in an earlier period of the window: counted, reported then
            step = _step(config, position)
            if step is None:
                continue
            listed = "; ".join(
                f"{r.finding_id} ({r.check}, {r.period}, upheld {local_day(r.reviewed_at, ctx.time_zone)})"
                for r in counted[:position]
            )
            effect = step.effect.replace("_", " ")
            sentence = (
                f"Upheld finding number {position} of {config.window} periods ({listed}): {effect}"
                + (f" and a deduction of {shown(step.deduct)} {ctx.currency}" if step.deduct else "")
                + ", as the plan declares."
                + (f" {step.note}" if step.note else "")
            )
            trace: dict[str, Any] = {
                "rule_type": "escalation",
                "status": step.effect,
                "count": position,
                "window": config.window,
                "finding": review.finding_id,
                "inputs": {"upheld_findings": position, "window_periods": config.window},
                "findings": [
                    {"id": r.finding_id, "check": r.check, "period": r.period, "upheld": r.reviewed_at.isoformat()}
                    for r in counted[:position]
                ],
                "explanation": sentence,
            }
            results.append(RuleResult(person, None, trace, kind="recommendation", status=step.effect, attention=True))
            if step.deduct:
                deduction = trace | {
                    "lines": [
                        {"step": step.effect, "basis": money_text(step.deduct), "amount": money_text(-step.deduct)}
                    ],
                    "total": money_text(-step.deduct),
                }
                results.append(RuleResult(person, ctx.round_total(-step.deduct), deduction))
    return results


@hookimpl
def kpi_rule_types() -> list[RuleType[Any]]:
    return [
        RuleType(
            name="streak",
            description=(
                "N periods in a row meeting a condition (a rank, a rating, attainment, a process KPI) recommend a "
                "raise, a promotion or coaching for HR review, with the periods as evidence."
            ),
            config_model=Streak,
            metrics=_streak_metrics,
            local_names=_streak_names,
            evaluate=evaluate_streak,
        ),
        RuleType(
            name="escalation",
            component="deduction",
            description=(
                "Counts HR's upheld findings of chosen checks over a window; each step's declared effect "
                "(warning, referral, a deduction) for the finding that reaches it."
            ),
            config_model=Escalation,
            metrics=lambda _cfg: set(),
            evaluate=evaluate_escalation,
        ),
    ]
