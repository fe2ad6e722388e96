"""Deal timing checks: bookings pulled into a period's last days, held back into the next one, and discounts
bought to get there.

- ``period_end_pull_forward``: the share of a person's won amount closed in the period's last days against
  their own norm (the same share over earlier periods, from aggregated values), with minimum amounts so a
  few small deals do not fire; and period-end deals cancelled soon after their close.
- ``sandbagging``: the mirror — the share closed in the period's first days against the person's norm
  (deals held back from the period before). A check of its own, so a plan can switch on either.
- ``discount_spike``: deals near the period end discounted well above the person's and the team's usual discount.

Each reads only the rows of its window (a day range of the period, ``ctx.record_details_in``); period
totals and norms are aggregated values (``ctx.values_in`` over this and earlier periods and day ranges,
one grouped query each), never earlier periods' rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from kpi_engine import (
    Amount,
    CheckConfig,
    ConfigurationError,
    Finding,
    Period,
    RuleContext,
    RuleResult,
    RuleType,
    business_calendar,
    hookimpl,
)

from ._deal_rows import Deal, day_range, deals_of, pct, pooled_share, teammates
from ._support import periods_back, shown

__all__ = ["DiscountSpike", "PeriodEndPullForward", "Sandbagging", "kpi_rule_types"]

ZERO = Decimal(0)
DEALS = "closed_deal_details"


def _ids(deals: list[Deal]) -> tuple[int, ...]:
    return tuple(sorted(d.id for d in deals))


class _BookingTiming(CheckConfig):
    lookback: int = Field(default=3, ge=1, le=24)  # earlier periods the person's norm is taken from
    min_share: Amount = Decimal("0.6")  # the share of the period's won amount in the window, at least
    margin: Amount = Decimal("0.25")  # and at least this much above the person's norm and the team's share this period
    min_amount: Amount = Decimal(100_000)  # won amount in the window, at least
    min_deals: int = Field(default=3, ge=1)  # deals in the window, at least
    min_of_usual: Amount = Decimal(
        "0.5"
    )  # and their amount at least this share of the person's usual period (lookback mean)
    min_history: int = Field(default=2, ge=1, le=24)  # earlier periods with bookings needed; fewer: not judged
    # under min_share still counts when the window holds this many of the person's usual periods: a big month of
    # ordinary deals dilutes the share of a pull-forward, not its weight against the person's usual
    or_usual_periods: Amount = Field(default=Decimal(2), gt=0)
    quarters_back: int = Field(default=4, ge=0, le=8)  # also the same period-end of this many earlier quarters
    calendar: str = "CN"  # business calendar: the even spread counts working days (kpi_engine.calendars)
    amount_metric: str = "won_amount"
    deals_metric: str = DEALS

    @field_validator("calendar")
    @classmethod
    def _known_calendar(cls, value: str) -> str:
        try:
            return business_calendar(value).name
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None


class PeriodEndPullForward(_BookingTiming):
    """Bookings crowded into the period's last ``last_days`` days, or period-end deals cancelled soon after."""

    last_days: int = Field(default=3, ge=1, le=31)
    cancelled_within_days: int = Field(
        default=30, ge=0, le=365
    )  # a period-end deal cancelled within this many days of its close
    min_cancelled: int = Field(default=2, ge=1)  # period-end deals cancelled soon after, for a finding on their own


class Sandbagging(_BookingTiming):
    """Bookings crowded into the period's first ``first_days`` days: deals held back from the period before."""

    first_days: int = Field(default=3, ge=1, le=31)


def _last_days(n: int) -> Callable[[Period], Period]:
    return lambda p: day_range(max(p.start, p.end - timedelta(days=n)), p.end - timedelta(days=1))


def _first_days(n: int) -> Callable[[Period], Period]:
    return lambda p: day_range(p.start, min(p.end, p.start + timedelta(days=n)) - timedelta(days=1))


def _window_deals(
    ctx: RuleContext, metric: str, window: Period, people: Iterable[str] | None = None
) -> dict[str, list[Deal]]:
    """The won deals that closed inside ``window`` (a few days of the period): the only rows a timing check reads."""
    found = deals_of(ctx.record_details_in(metric, window), ctx.time_zone, people)
    return {p: [d for d in deals if window.start <= d.closed < window.end] for p, deals in found.items()}


def _same_period_of_earlier_quarters(period: Period, quarters: int) -> list[Period]:
    """The periods at the same place in the ``quarters`` quarters before (a month: 3, 6, 9, ... months back)."""
    if period.grain != "month" or not quarters:
        return []
    back = periods_back(period, 3 * quarters)
    return [back[3 * k - 1] for k in range(1, quarters + 1)]


def _pooled(
    ctx: RuleContext, metric: str, person: str, periods: Iterable[Period], part: Any
) -> tuple[Decimal, Decimal, int]:
    """The person's ``metric`` in ``part(p)`` and in the whole of each of ``periods``, and how many had any."""
    inside = whole = ZERO
    count = 0
    for earlier in periods:
        total = ctx.values_in(metric, earlier).get(person)
        if not total:
            continue
        whole += total
        count += 1
        inside += ctx.values_in(metric, part(earlier)).get(person, ZERO)
    return inside, whole, count


def _timing(
    ctx: RuleContext, cfg: _BookingTiming, check: str, part: Callable[[Period], Period], where: str
) -> list[RuleResult]:
    window = part(ctx.period)
    calendar = business_calendar(cfg.calendar)
    period_days = calendar.working_days(ctx.period.start, ctx.period.end)
    uniform = (
        Decimal(calendar.working_days(window.start, window.end)) / period_days
        if period_days
        else Decimal((window.end - window.start).days) / (ctx.period.end - ctx.period.start).days
    )
    everyone = _window_deals(ctx, cfg.deals_metric, window)
    totals = ctx.values_in(cfg.amount_metric, ctx.period)
    same_place = _same_period_of_earlier_quarters(ctx.period, cfg.quarters_back)
    results = []
    for person in ctx.people:
        inside = everyone.get(person, [])
        amount = sum((d.amount for d in inside), ZERO)
        total = totals.get(person, ZERO)
        if not total or len(inside) < cfg.min_deals or amount < cfg.min_amount:
            continue
        share = amount / total
        earlier_inside, earlier_total, earlier_periods = pooled_share(
            ctx, cfg.amount_metric, person, cfg.lookback, part
        )
        if earlier_periods < min(cfg.min_history, cfg.lookback):
            continue  # no history is unknown, not zero: the person's usual cannot be told from fewer periods
        usual = earlier_total / earlier_periods
        if amount < cfg.min_of_usual * usual:
            continue
        if share < cfg.min_share and amount < cfg.or_usual_periods * usual:
            continue
        norm = earlier_inside / earlier_total
        q_inside, q_total, q_periods = _pooled(ctx, cfg.amount_metric, person, same_place, part)
        quarter_norm = q_inside / q_total if q_periods else None
        mates = teammates(ctx, person)
        team_inside = sum((d.amount for m in mates for d in everyone.get(m, [])), ZERO)
        team_total = sum((totals.get(m, ZERO) for m in mates), ZERO)
        team = team_inside / team_total if team_total else None
        reference = max(n for n in (norm, quarter_norm, team, uniform) if n is not None)
        if share - reference < cfg.margin:
            continue
        basis = f"{earlier_periods} of the {cfg.lookback} periods before"
        quarter_text = (
            f", {pct(quarter_norm)} at the same point of {q_periods} earlier quarter{'s' if q_periods > 1 else ''}"
            if quarter_norm is not None
            else ""
        )
        results.append(
            Finding(
                check=check,
                person_id=person,
                period=ctx.period.label,
                severity="high" if share - reference >= 2 * cfg.margin else cfg.severity,
                explanation=(
                    f"{len(inside)} deals worth {shown(amount)} {ctx.currency} closed in the {where} ({window.label}), "
                    f"{pct(share)} of the period's {shown(total)} {ctx.currency}, against {pct(norm)} usually "
                    f"({basis}){quarter_text}, {'no team figure' if team is None else pct(team) + ' for the team'} "
                    f"this period and {pct(uniform)} of the period's working days ({calendar.name} calendar); "
                    f"the plan looks at {pct(cfg.margin)} above the highest of these."
                ),
                evidence={"deals": _ids(inside)},
                figures={
                    "window": window.label,
                    "deals": str(len(inside)),
                    "amount": str(amount),
                    "period_amount": str(total),
                    "share": pct(share),
                    "norm": pct(norm),
                    "norm_from": basis,
                    "same_point_of_earlier_quarters": "no history" if quarter_norm is None else pct(quarter_norm),
                    "team_share": "no team" if team is None else pct(team),
                    "working_day_share": pct(uniform),
                    "margin": pct(cfg.margin),
                    "usual_period_amount": str(usual.quantize(Decimal("0.01"))),
                },
            ).as_result(cfg)
        )
    return results


def _cancelled_after_period_end(ctx: RuleContext, cfg: PeriodEndPullForward, found: set[str]) -> list[RuleResult]:
    window = _last_days(cfg.last_days)(ctx.period)
    results = []
    for person, deals in _window_deals(ctx, cfg.deals_metric, window, ctx.people).items():
        if person in found:
            continue
        undone = [
            d
            for d in deals
            if d.cancelled is not None and 0 <= (d.cancelled - d.closed).days <= cfg.cancelled_within_days
        ]
        if len(undone) < cfg.min_cancelled:
            continue
        amount = sum((d.amount for d in undone), ZERO)
        results.append(
            Finding(
                check="period_end_pull_forward",
                person_id=person,
                period=ctx.period.label,
                severity=cfg.severity,
                explanation=(
                    f"{len(undone)} deals worth {shown(amount)} {ctx.currency} closed in the period's "
                    f"last {cfg.last_days} days and were cancelled within {cfg.cancelled_within_days} "
                    f"days ({', '.join(f'deal {d.id} on {d.cancelled}' for d in undone)}): possibly "
                    "booked early to reach the period's target."
                ),
                evidence={"deals": _ids(undone)},
                figures={"window": window.label, "cancelled_deals": str(len(undone)), "amount": str(amount)},
            ).as_result(cfg)
        )
    return results


def period_end_pull_forward(ctx: RuleContext, cfg: PeriodEndPullForward) -> list[RuleResult]:
    results = _timing(
        ctx, cfg, "period_end_pull_forward", _last_days(cfg.last_days), f"period's last {cfg.last_days} days"
    )
    return results + _cancelled_after_period_end(ctx, cfg, {r.person_id for r in results})


def sandbagging(ctx: RuleContext, cfg: Sandbagging) -> list[RuleResult]:
    return _timing(ctx, cfg, "sandbagging", _first_days(cfg.first_days), f"period's first {cfg.first_days} days")


# --- discount_spike -------------------------------------------------------------------------------


class DiscountSpike(CheckConfig):
    """Deals in the period's last ``last_days`` days discounted well above the person's and the team's norm."""

    last_days: int = Field(default=7, ge=1, le=31)
    lookback: int = Field(default=3, ge=1, le=24)  # earlier periods the norms are taken from
    min_discount: Amount = Decimal("0.2")  # a spiking deal's discount is at least this
    margin: Amount = Decimal("0.1")  # and at least this far above both norms
    min_deals: int = Field(default=3, ge=1)  # spiking deals in the window, at least
    min_share: Amount = Decimal("0.6")  # and at least this share of the person's deals in the window
    discount_metric: str = "average_discount"
    deals_metric: str = DEALS


def _mean(values: list[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


def discount_spike(ctx: RuleContext, cfg: DiscountSpike) -> list[RuleResult]:
    window = _last_days(cfg.last_days)(ctx.period)
    earlier = [ctx.values_in(cfg.discount_metric, p) for p in periods_back(ctx.period, cfg.lookback)]
    results = []
    for person, deals in _window_deals(ctx, cfg.deals_metric, window, ctx.people).items():
        candidates = [d for d in deals if d.discount is not None and d.discount >= cfg.min_discount]
        if len(candidates) < cfg.min_deals:
            continue
        own = _mean([v[person] for v in earlier if person in v])
        mates = teammates(ctx, person)
        team = _mean([v[m] for v in earlier for m in mates if m in v])
        norms = [n for n in (own, team) if n is not None]
        reference = max(norms) if norms else ZERO
        spiking = [d for d in candidates if d.discount is not None and d.discount >= reference + cfg.margin]
        if len(spiking) < cfg.min_deals or Decimal(len(spiking)) / len(deals) < cfg.min_share:
            continue
        mean = sum((d.discount or ZERO for d in spiking), ZERO) / len(spiking)
        results.append(
            Finding(
                check="discount_spike",
                person_id=person,
                period=ctx.period.label,
                severity="high" if mean >= reference + 2 * cfg.margin else cfg.severity,
                explanation=(
                    f"{len(spiking)} of {len(deals)} deals closed in the period's last {cfg.last_days} days with "
                    f"discounts of {pct(mean)} on average, against {'no history' if own is None else pct(own)} "
                    f"usually for the person and {'no history' if team is None else pct(team)} for the team: "
                    "discounts may have bought the period's target."
                ),
                evidence={"deals": _ids(spiking)},
                figures={
                    "window": window.label,
                    "deals": str(len(spiking)),
                    "window_deals": str(len(deals)),
                    "mean_discount": pct(mean),
                    "discounts": ", ".join(pct(d.discount or ZERO) for d in spiking),
                    "person_norm": "no history" if own is None else pct(own),
                    "team_norm": "no history" if team is None else pct(team),
                },
            ).as_result(cfg)
        )
    return results


@hookimpl
def kpi_rule_types() -> list[RuleType[Any]]:
    return [
        RuleType(
            name="period_end_pull_forward",
            description="Finds bookings crowded into a period's last days against the person's norm.",
            config_model=PeriodEndPullForward,
            metrics=lambda cfg: {cfg.deals_metric, cfg.amount_metric},
            evaluate=period_end_pull_forward,
        ),
        RuleType(
            name="sandbagging",
            description="Finds bookings crowded into a period's first days against the person's norm.",
            config_model=Sandbagging,
            metrics=lambda cfg: {cfg.deals_metric, cfg.amount_metric},
            evaluate=sandbagging,
        ),
        RuleType(
            name="discount_spike",
            description="Finds deals near a period's end discounted well above the person's and team's norm.",
            config_model=DiscountSpike,
            metrics=lambda cfg: {cfg.deals_metric, cfg.discount_metric},
            evaluate=discount_spike,
        ),
    ]
