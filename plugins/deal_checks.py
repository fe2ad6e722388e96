"""Deal checks: anti-gaming screens on won deals (docs/catalogue.md §6), each a rule type a plan switches on.

- ``deal_splitting``: one customer's deals, each under a limit, closed within a few days, that together cross it.
- ``duplicate_deal``: the same deal entered twice (customer, amount, product, dates).
- ``cancel_and_rebook``: a deal cancelled (or the customer lost) and the same customer and product rebooked soon after.
- ``early_churn``: a customer lost within N days of a deal's close; meant for effect ``clawback``.
- ``amounts_below_threshold``: amounts clustered just under approval limits or tier thresholds.
- ``benford``: first digits of a person's amounts over a rolling window, against Benford's law *and* the team.

Booking timing (``period_end_pull_forward``, ``sandbagging``, ``discount_spike``) lives in
``deal_timing_checks``. Every threshold comes from the plan, with the defaults documented on
each config model. Findings are recommendations for human review, never verdicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from kpi_engine import (
    Amount,
    CheckConfig,
    Finding,
    RuleContext,
    RuleResult,
    RuleType,
    hookimpl,
)

from ._deal_rows import Deal, chance_at_pace, day_range, deals_of, pct, teammates, to_day, to_decimal
from ._support import period_containing, periods_back, shown

__all__ = [
    "AmountsBelowThreshold",
    "Benford",
    "CancelAndRebook",
    "DealSplitting",
    "DuplicateDeal",
    "EarlyChurn",
    "kpi_rule_types",
]

ZERO = Decimal(0)
REPEATS = "repeat_customer_deals"  # won deals with another deal of the same owner and customer nearby
AMOUNTS = "won_amount"  # its evidence: each won deal of the owner with its amount


def _ids(deals: Sequence[Deal]) -> tuple[int, ...]:
    return tuple(sorted(d.id for d in deals))


def _money(value: Decimal, ctx: RuleContext) -> str:
    return f"{shown(value)} {ctx.currency}"


# --- deal_splitting -----------------------------------------------------------------------------


class DealSplitting(CheckConfig):
    """One order split into deals that each stay under ``limit`` (an approval limit or tier boundary)."""

    limit: Amount = Decimal(50_000)  # each deal under it, together at or over it
    within_days: int = Field(default=7, ge=0, le=14)  # first to last close of the group, in days (candidates reach 14)
    min_deals: int = Field(default=2, ge=2)
    same_product: bool = True  # one order is one product line: deals of different products are not grouped
    same_deal_type: bool = True  # nor a renewal with a new sale or an upsell
    near_limit: Amount = Field(default=Decimal("0.7"), ge=0, le=1)  # the parts average at least this share of it
    near_part: Amount = Field(default=Decimal("0.6"), ge=0, le=1)  # and each part is at least this share of it
    min_customer_orders: int = Field(default=3, ge=1)  # orders in the year before that make a customer's pace known
    pace_chance: Amount = Field(default=Decimal("0.1"), ge=0, le=1)  # at its own pace this likely: no finding
    # A customer whose pace is unknown is not taken to order rarely: only an absolute pattern is a split then,
    # every part at least this share of the limit, or at least ``unknown_pace_deals`` parts.
    unknown_pace_part: Amount = Field(default=Decimal("0.9"), ge=0, le=1)
    unknown_pace_deals: int = Field(default=3, ge=2)
    deals_metric: str = REPEATS


def _split_without_pace(cluster: Sequence[Deal], smallest: Decimal, cfg: DealSplitting) -> bool:
    """Without the customer's pace, two ordinary orders near the limit are not suspicious (no history is unknown,
    not zero): only parts each just under the limit, or many parts, are."""
    return smallest >= cfg.unknown_pace_part * cfg.limit or len(cluster) >= cfg.unknown_pace_deals


def deal_splitting(ctx: RuleContext, cfg: DealSplitting) -> list[RuleResult]:
    current = deals_of(ctx.record_details(cfg.deals_metric), ctx.time_zone, ctx.people)
    before: dict[str, list[Deal]] = {}
    if cfg.within_days:
        window = day_range(ctx.period.start - timedelta(days=cfg.within_days), ctx.period.start - timedelta(days=1))
        before = deals_of(ctx.record_details_in(cfg.deals_metric, window), ctx.time_zone, ctx.people)
    results = []
    for person, deals in current.items():
        by_customer: dict[tuple[Any, Any, Any], list[Deal]] = defaultdict(list)
        for deal in [*before.get(person, []), *deals]:
            if deal.customer is not None and deal.amount < cfg.limit:
                key = (
                    deal.customer,
                    deal.product if cfg.same_product else None,
                    deal.deal_type if cfg.same_deal_type else None,
                )
                by_customer[key].append(deal)
        for (customer, _, _), group in by_customer.items():
            group.sort(key=lambda d: (d.closed, d.id))
            i = 0
            while i < len(group):
                j = i
                while j + 1 < len(group) and (group[j + 1].closed - group[i].closed).days <= cfg.within_days:
                    j += 1
                cluster = group[i : j + 1]
                total = sum((d.amount for d in cluster), ZERO)
                mean_part = total / len(cluster) if cluster else ZERO
                smallest = min((d.amount for d in cluster), default=ZERO)
                first = cluster[0]
                interval = first.customer_interval(cfg.min_customer_orders)
                chance = None if interval is None else chance_at_pace(interval, cfg.within_days, len(cluster) - 1)
                if (
                    len(cluster) >= cfg.min_deals
                    and total >= cfg.limit
                    and any(d.closed >= ctx.period.start for d in cluster)
                    and mean_part >= cfg.near_limit * cfg.limit
                    and smallest >= cfg.near_part * cfg.limit
                    and (
                        chance < cfg.pace_chance if chance is not None else _split_without_pace(cluster, smallest, cfg)
                    )
                ):
                    span = (cluster[-1].closed - cluster[0].closed).days
                    severity = "high" if len(cluster) >= 3 or total >= 2 * cfg.limit else cfg.severity
                    orders = first.customer_orders or 0
                    pace = (
                        f"the customer ordered {orders} times in the "
                        f"{(first.closed - first.customer_first_order).days} days before (one every "
                        f"{shown(interval.quantize(Decimal('0.1')))} days), so {len(cluster)} within "
                        f"{cfg.within_days} days happen {pct(chance)} of the time at its pace"
                        if interval is not None and chance is not None and first.customer_first_order is not None
                        else f"the customer's ordering pace is unknown ({orders} orders in the year before, "
                        f"fewer than {cfg.min_customer_orders} or over less than 30 days), and "
                        + (
                            f"each part is at least {pct(cfg.unknown_pace_part)} of the limit"
                            if smallest >= cfg.unknown_pace_part * cfg.limit
                            else f"{len(cluster)} parts"
                        )
                    )
                    results.append(
                        Finding(
                            check="deal_splitting",
                            person_id=person,
                            period=ctx.period.label,
                            severity=severity,
                            explanation=f"{len(cluster)} deals for customer {customer}"
                            + (f" ({cluster[0].product})" if cfg.same_product and cluster[0].product else "")
                            + (
                                f" closed within {span} days, each under the {_money(cfg.limit, ctx)} limit "
                                f"({_money(mean_part.quantize(Decimal('1')), ctx)} on average, "
                                f"{pct(mean_part / cfg.limit)} of it), add up to {_money(total, ctx)}; {pace}: "
                                "possibly one order split to stay under the limit."
                            ),
                            evidence={"deals": _ids(cluster)},
                            figures={
                                "customer": str(customer),
                                "deals": str(len(cluster)),
                                "total": str(total),
                                "limit": str(cfg.limit),
                                "days": str(span),
                                "amounts": ", ".join(str(d.amount) for d in cluster),
                                "mean_part_of_limit": pct(mean_part / cfg.limit),
                                "customer_orders_year_before": str(first.customer_orders or 0),
                                "customer_interval_days": "unknown"
                                if interval is None
                                else shown(interval.quantize(Decimal("0.1"))),
                                "chance_at_customer_pace": "unknown" if chance is None else pct(chance),
                            },
                        ).as_result(cfg)
                    )
                    i = j + 1
                else:
                    i += 1
    return results


# --- duplicate_deal -----------------------------------------------------------------------------


class DuplicateDeal(CheckConfig):
    """The same deal entered more than once."""

    same_product: bool = True  # the product line must match too
    same_created: bool = True  # the creation day must match too (besides the close day)
    deals_metric: str = REPEATS


def duplicate_deal(ctx: RuleContext, cfg: DuplicateDeal) -> list[RuleResult]:
    results = []
    for person, deals in deals_of(ctx.record_details(cfg.deals_metric), ctx.time_zone, ctx.people).items():
        groups: dict[tuple[Any, ...], list[Deal]] = defaultdict(list)
        for deal in deals:
            if deal.customer is None:
                continue
            key = (
                deal.customer,
                deal.amount,
                deal.closed,
                deal.product if cfg.same_product else None,
                deal.created if cfg.same_created else None,
            )
            groups[key].append(deal)
        for (customer, amount, closed, product, _), group in groups.items():
            if len(group) < 2:
                continue
            results.append(
                Finding(
                    check="duplicate_deal",
                    person_id=person,
                    period=ctx.period.label,
                    severity="high" if len(group) > 2 else cfg.severity,
                    explanation=f"{len(group)} deals for customer {customer} with the same amount {_money(amount, ctx)}"
                    + (f", product {product}" if product else "")
                    + f" and dates (closed {closed.isoformat()}): possibly one deal entered "
                    f"{len(group)} times.",
                    evidence={"deals": _ids(group)},
                    figures={
                        "customer": str(customer),
                        "amount": str(amount),
                        "closed": closed.isoformat(),
                        "copies": str(len(group)),
                    },
                ).as_result(cfg)
            )
    return results


# --- cancel_and_rebook ----------------------------------------------------------------------------


class CancelAndRebook(CheckConfig):
    """A deal cancelled (or its customer lost) and the same customer and product rebooked within ``within_days``."""

    within_days: int = Field(default=30, ge=1, le=365)
    events: list[Literal["cancellation", "churn"]] = Field(default=["cancellation", "churn"], min_length=1)
    min_amount_ratio: Amount = Decimal("0.5")  # the rebooked deal is at least this share of the lost one
    max_amount_ratio: Amount = Decimal("1.5")  # and at most this multiple of it: the same deal booked again
    min_customer_orders: int = Field(default=3, ge=1)  # orders in the year before that make a customer's pace known
    pace_chance: Amount = Field(default=Decimal("0.1"), ge=0, le=1)  # an order this likely at its pace: no finding
    same_product: bool = True
    deals_metric: str = "rebook_candidates"
    cancellations_metric: str = "deal_cancellations"
    churn_metric: str = "deal_churn_events"


def _events(ctx: RuleContext, cfg: CancelAndRebook) -> list[dict[str, Any]]:
    window = day_range(ctx.period.start - timedelta(days=cfg.within_days), ctx.period.start - timedelta(days=1))
    found = []
    sources = [
        ("cancellation", cfg.cancellations_metric, "refunds", "occurred_at"),
        ("churn", cfg.churn_metric, "churn_events", "churned_at"),
    ]
    for kind, metric, table, at in sources:
        if kind not in cfg.events:
            continue
        for period in (window, ctx.period):
            for rows in (
                ctx.record_details_in(metric, period) if period != ctx.period else ctx.record_details(metric)
            ).values():
                for row in rows:
                    day = to_day(row.get(at), ctx.time_zone)
                    if day is None or row.get("customer_id") is None:
                        continue
                    found.append(
                        {
                            "kind": kind,
                            "table": table,
                            "id": int(row["record_id"]),
                            "day": day,
                            "customer": row["customer_id"],
                            "product": row.get("product_line"),
                            "deal_id": row.get("deal_id"),
                            "deal_amount": to_decimal(row.get("deal_amount")) or to_decimal(row.get("value")) or ZERO,
                        }
                    )
    return found


def cancel_and_rebook(ctx: RuleContext, cfg: CancelAndRebook) -> list[RuleResult]:
    by_customer: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for event in _events(ctx, cfg):
        by_customer[event["customer"]].append(event)
    if not by_customer:
        return []
    results = []
    for person, deals in deals_of(ctx.record_details(cfg.deals_metric), ctx.time_zone, ctx.people).items():
        for deal in deals:
            for event in by_customer.get(deal.customer, ()):
                if event["deal_id"] is not None and int(event["deal_id"]) == deal.id:
                    continue
                if cfg.same_product and (deal.product is None or event["product"] != deal.product):
                    continue
                days = (deal.closed - event["day"]).days
                if not 0 <= days <= cfg.within_days or deal.amount < cfg.min_amount_ratio * event["deal_amount"]:
                    continue
                if event["deal_amount"] and deal.amount > cfg.max_amount_ratio * event["deal_amount"]:
                    continue
                interval = deal.customer_interval(cfg.min_customer_orders)
                chance = None if interval is None else chance_at_pace(interval, max(days, 1), 1)
                if chance is not None and chance >= cfg.pace_chance:
                    continue  # a customer that orders this often would have ordered again anyway
                lost = "cancelled" if event["kind"] == "cancellation" else "lost (churn)"
                evidence: dict[str, tuple[int, ...]] = {
                    "deals": tuple(
                        sorted({deal.id, *([int(event["deal_id"])] if event["deal_id"] is not None else [])})
                    ),
                    event["table"]: (event["id"],),
                }
                results.append(
                    Finding(
                        check="cancel_and_rebook",
                        person_id=person,
                        period=ctx.period.label,
                        severity=cfg.severity,
                        explanation=f"Customer {deal.customer} was {lost} on {event['day'].isoformat()}"
                        + (f" (deal {event['deal_id']})" if event["deal_id"] is not None else "")
                        + f" and deal {deal.id}"
                        + (f" for {deal.product}" if deal.product else "")
                        + (
                            f" ({_money(deal.amount, ctx)}) was booked {days} days later"
                            + (
                                f"; the customer orders every {shown(interval.quantize(Decimal('0.1')))} days "
                                f"on average, so an order within {days} days is {pct(chance)} likely at its pace"
                                if interval is not None and chance is not None
                                else "; the customer's ordering pace is unknown"
                            )
                            + ": the credit may be counted twice."
                        ),
                        evidence=evidence,
                        figures={
                            "customer": str(deal.customer),
                            "event": f"{event['table']}:{event['id']}",
                            "days": str(days),
                            "lost_amount": str(event["deal_amount"]),
                            "rebooked_amount": str(deal.amount),
                        },
                    ).as_result(cfg)
                )
                break
    return results


# --- early_churn ----------------------------------------------------------------------------------


class EarlyChurn(CheckConfig):
    """A customer lost within ``within_days`` of a won deal's close: over-promising (source 003).

    Use with effect ``clawback``.
    """

    within_days: int = Field(default=90, ge=1, le=730)
    churn_metric: str = "deal_churn_events"


def early_churn(ctx: RuleContext, cfg: EarlyChurn) -> list[RuleResult]:
    """Evaluated in the period the churn happens; the finding is about the period the deal closed in."""
    grain = ctx.period.grain if ctx.period.grain in ("day", "week", "month", "quarter", "year") else "month"
    results = []
    for person, rows in ctx.record_details(cfg.churn_metric).items():
        if person not in ctx.people:
            continue
        for row in rows:
            if row.get("deal_id") is None or row.get("deal_status", "won") != "won":
                continue
            closed, churned = to_day(row.get("closed_at"), ctx.time_zone), to_day(row.get("churned_at"), ctx.time_zone)
            if closed is None or churned is None:
                continue
            days = (churned - closed).days
            if not 0 <= days <= cfg.within_days:
                continue
            deal_amount = to_decimal(row.get("deal_amount")) or ZERO
            results.append(
                Finding(
                    check="early_churn",
                    person_id=person,
                    period=period_containing(closed, grain).label,
                    severity="high" if days <= cfg.within_days // 3 else cfg.severity,
                    explanation=(
                        f"Customer {row.get('customer_id')} was lost on {churned.isoformat()} (churn event "
                        f"{row['record_id']}), {days} days after deal {row['deal_id']} ({_money(deal_amount, ctx)}) "
                        f"closed on {closed.isoformat()}: the sale may have over-promised."
                    ),
                    evidence={"deals": (int(row["deal_id"]),), "churn_events": (int(row["record_id"]),)},
                    figures={
                        "deal": str(row["deal_id"]),
                        "churn_event": str(row["record_id"]),
                        "days_after_close": str(days),
                        "deal_amount": str(deal_amount),
                        "seen_in": ctx.period.label,
                    },
                ).as_result(cfg)
            )
    return results


# --- amounts_below_threshold ----------------------------------------------------------------------


class AmountsBelowThreshold(CheckConfig):
    """Amounts clustered just under approval limits or tier thresholds."""

    limits: list[Amount] = Field(default=[Decimal(50_000)], min_length=1)
    band: Amount = Decimal(
        "0.06"
    )  # "just under": within this share below the limit (6 %: 47,000-49,999.99 under 50,000)
    min_count: int = Field(default=4, ge=1)  # deals in the band
    min_share: Amount = Decimal("0.3")  # of the person's won deals of the period
    min_deals: int = Field(default=5, ge=1)  # the smallest sample judged
    team_factor: Amount = Decimal(3)  # the person's share is at least this many times the team's (pooled, without them)
    amounts_metric: str = AMOUNTS


def _amounts(ctx: RuleContext, metric: str) -> dict[str, list[tuple[int, Decimal]]]:
    """Each owner's won deals as (id, amount): the leanest rows there are."""
    return {
        p: [(int(r["record_id"]), to_decimal(r["value"]) or ZERO) for r in rows]
        for p, rows in ctx.record_details(metric).items()
    }


def amounts_below_threshold(ctx: RuleContext, cfg: AmountsBelowThreshold) -> list[RuleResult]:
    everyone = _amounts(ctx, cfg.amounts_metric)
    results = []
    for limit in cfg.limits:
        floor = limit * (1 - cfg.band)
        in_band = {p: [i for i, amount in deals if floor <= amount < limit] for p, deals in everyone.items()}
        for person in ctx.people:
            deals = everyone.get(person, [])
            near = in_band.get(person, [])
            if len(deals) < cfg.min_deals or len(near) < cfg.min_count:
                continue
            share = Decimal(len(near)) / len(deals)
            mates = teammates(ctx, person)
            team_total = sum(len(everyone.get(m, [])) for m in mates)
            team_near = sum(len(in_band.get(m, [])) for m in mates)
            team_share = Decimal(team_near) / team_total if team_total else ZERO
            if share < cfg.min_share or share < cfg.team_factor * team_share:
                continue
            results.append(
                Finding(
                    check="amounts_below_threshold",
                    person_id=person,
                    period=ctx.period.label,
                    severity="high" if share >= 2 * cfg.min_share else cfg.severity,
                    explanation=(
                        f"{len(near)} of {len(deals)} won deals ({pct(share)}) are priced "
                        f"between {shown(floor)} and {_money(limit, ctx)}, just under the limit, "
                        f"against {pct(team_share)} of the team's: amounts may be kept under it."
                    ),
                    evidence={"deals": tuple(sorted(near))},
                    figures={
                        "limit": str(limit),
                        "band_from": str(floor),
                        "in_band": str(len(near)),
                        "deals": str(len(deals)),
                        "share": pct(share),
                        "team_share": pct(team_share),
                    },
                ).as_result(cfg)
            )
    return results


# --- benford ------------------------------------------------------------------------------------


def _benford() -> dict[int, Decimal]:
    return {d: (1 + Decimal(1) / d).log10() for d in range(1, 10)}


BENFORD = _benford()


class Benford(CheckConfig):
    """First digits of a person's won amounts over a rolling window, against Benford's law and against the team.

    It fires only when the person's digits depart from both: generated or list-priced amounts are
    rarely Benford-distributed, and a team pricing alike is not a finding about one person.
    """

    periods: int = Field(default=6, ge=1, le=24)  # the window: this period and the ones before it
    min_sample: int = Field(default=100, ge=30)  # amounts in the window before anything is judged
    mad_limit: Amount = Decimal("0.015")  # Nigrini: first-digit MAD above 0.015 is nonconformity
    chi_square_limit: Amount = Decimal("26.125")  # 8 degrees of freedom, p = 0.001
    digits_metric: str = "deal_first_digits"
    amounts_metric: str = AMOUNTS  # this period's deals named as evidence


def _chi_square(counts: dict[int, int], expected: dict[int, Decimal]) -> Decimal:
    n = sum(counts.values())
    total = ZERO
    for digit in range(1, 10):
        e = expected.get(digit, ZERO) * n
        if e > 0:
            total += (counts.get(digit, 0) - e) ** 2 / e
    return total


def benford(ctx: RuleContext, cfg: Benford) -> list[RuleResult]:
    window = [ctx.period, *periods_back(ctx.period, cfg.periods - 1)]
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for period in window:
        rows_by_person = (
            ctx.record_details(cfg.digits_metric)
            if period == ctx.period
            else ctx.record_details_in(cfg.digits_metric, period)
        )
        for person, rows in rows_by_person.items():
            for row in rows:
                counts[person][int(row["record_id"])] += int(row["value"])
    results = []
    current: dict[str, list[tuple[int, Decimal]]] | None = None
    for person in ctx.people:
        own = counts.get(person)
        n = sum(own.values()) if own else 0
        if not own or n < cfg.min_sample:
            continue
        observed = {d: Decimal(own.get(d, 0)) / n for d in range(1, 10)}
        mad = sum((abs(observed[d] - BENFORD[d]) for d in range(1, 10)), ZERO) / 9
        chi_benford = _chi_square(own, BENFORD)
        pooled: dict[int, int] = defaultdict(int)
        for mate in teammates(ctx, person):
            for digit, c in counts.get(mate, {}).items():
                pooled[digit] += c
        pooled_n = sum(pooled.values())
        if pooled_n < cfg.min_sample:
            continue
        team = {d: Decimal(pooled.get(d, 0)) / pooled_n for d in range(1, 10)}
        chi_team = _chi_square(own, team)
        if mad <= cfg.mad_limit or chi_benford <= cfg.chi_square_limit or chi_team <= cfg.chi_square_limit:
            continue
        over = [d for d in range(1, 10) if observed[d] > max(BENFORD[d], team[d])]
        if current is None:
            current = _amounts(ctx, cfg.amounts_metric)
        evidence = tuple(
            sorted(
                i
                for i, amount in current.get(person, [])
                if amount > 0 and int(f"{amount.normalize():f}".lstrip("0.")[0]) in over
            )
        )
        results.append(
            Finding(
                check="benford",
                person_id=person,
                period=ctx.period.label,
                severity=cfg.severity,
                explanation=(
                    f"First digits of {n} won amounts over {len(window)} periods depart from Benford's "
                    f"law (MAD {mad.quantize(Decimal('0.0001'))}, chi-square "
                    f"{chi_benford.quantize(Decimal('0.1'))}) and from the team's own digits (chi-square "
                    f"{chi_team.quantize(Decimal('0.1'))}); digits {', '.join(map(str, over))} come up "
                    "more often than either: a screening signal for review, not proof."
                ),
                evidence={"deals": evidence},
                figures={
                    "amounts": str(n),
                    "mad": str(mad.quantize(Decimal("0.000001"))),
                    "chi_square_benford": str(chi_benford.quantize(Decimal("0.01"))),
                    "chi_square_team": str(chi_team.quantize(Decimal("0.01"))),
                    "over_represented": ", ".join(map(str, over)),
                    "observed": ", ".join(f"{d}: {pct(observed[d])}" for d in range(1, 10)),
                },
            ).as_result(cfg)
        )
    return results


# --- registration -------------------------------------------------------------------------------


@hookimpl
def kpi_rule_types() -> list[RuleType[Any]]:
    return [
        RuleType(
            name="deal_splitting",
            description="Finds one customer's deals, each under a limit, closed within days, that together cross it.",
            config_model=DealSplitting,
            metrics=lambda cfg: {cfg.deals_metric},
            evaluate=deal_splitting,
        ),
        RuleType(
            name="duplicate_deal",
            description="Finds deals entered twice: same customer, amount, product and dates.",
            config_model=DuplicateDeal,
            metrics=lambda cfg: {cfg.deals_metric},
            evaluate=duplicate_deal,
        ),
        RuleType(
            name="cancel_and_rebook",
            description="Finds a customer's product rebooked within days of a cancellation or churn.",
            config_model=CancelAndRebook,
            metrics=lambda cfg: {cfg.deals_metric, cfg.cancellations_metric, cfg.churn_metric},
            evaluate=cancel_and_rebook,
        ),
        RuleType(
            name="early_churn",
            description="Finds customers lost within days of a won deal's close (for clawback).",
            config_model=EarlyChurn,
            metrics=lambda cfg: {cfg.churn_metric},
            evaluate=early_churn,
        ),
        RuleType(
            name="amounts_below_threshold",
            description="Finds won amounts clustered just under approval limits or tier thresholds.",
            config_model=AmountsBelowThreshold,
            metrics=lambda cfg: {cfg.amounts_metric},
            evaluate=amounts_below_threshold,
        ),
        RuleType(
            name="benford",
            description="Screens first digits of a person's amounts against Benford's law and the team's.",
            config_model=Benford,
            metrics=lambda cfg: {cfg.digits_metric, cfg.amounts_metric},
            evaluate=benford,
        ),
    ]
