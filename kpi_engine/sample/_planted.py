"""Gaming patterns planted in the sample data, each recorded with the ids of the rows that show it."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ._calendar import Month, shanghai
from ._company import Company, Customer, Person, cents, ratio
from ._deals import RenewalPlan, stage_history, won_by_rep_month
from ._model import PlantedCase
from ._organisation import add_customer

__all__ = ["plant_gaming_patterns"]

THRESHOLD = 50_000  # approval limit reps try to stay under


def plant_gaming_patterns(company: Company, plans: list[RenewalPlan]) -> list[PlantedCase]:
    """Plant every gaming pattern on its own rep (or marketing specialist) and month."""
    rng = company.rng("planted")
    busy = {company.mover, *company.successor, *company.successor.values()}
    reps = [
        p
        for p in company.of_role("sales_rep")
        if p.id not in busy and p.hire < company.window_start and p.leave is None
    ]
    rng.shuffle(reps)
    specialists = company.of_role("marketing_specialist")
    months = company.months[2:-2] or company.months
    pick = lambda k: months[(k * 3) % len(months)]  # noqa: E731 - spreads the patterns over the year
    renewal_customers = {plan.customer.id for plan in plans}
    return [
        _deal_splitting(company, rng, reps[0], pick(0)),
        _period_end_pull_forward(company, rng, reps[1], pick(1)),
        _duplicate_deal(company, rng, reps[2], pick(2)),
        _cancel_and_rebook(company, rng, reps[3], pick(3)),
        _early_churn(company, rng, reps[4], pick(4), renewal_customers),
        _unverified_visits(company, rng, reps[5], pick(5)),
        _activity_inflation(company, rng, reps[6]),
        _discount_spike(company, rng, reps[7], pick(7)),
        _amounts_below_threshold(company, rng, reps[8], pick(8)),
        _leads_without_channel(company, rng, specialists[0], pick(9)),
        _traffic_brushing(company, rng, pick(10)),
        _sandbagging(company, rng, reps[9], pick(11)),
        _fabricated_amounts(company, rng, reps[10]),
    ]


# --- helpers --------------------------------------------------------------------------


def _quiet_customer(
    company: Company,
    rng: random.Random,
    rep: Person,
    days: list[date],
    *,
    spacing: int = 15,
    avoid: set[int] | None = None,
) -> Customer:
    """A customer of the rep with no other deal within ``spacing`` days (else a new account); reserved for this
    pattern."""
    avoid = avoid or set()
    book = [c for c in company.book_on(rep, min(days)) if c not in company.reserved_customers and c not in avoid]
    rng.shuffle(book)
    for customer_id in book:
        customer = company.customers[customer_id]
        if customer.churn_on is None and company.customer_is_free(customer_id, days, spacing=spacing):
            company.reserved_customers.add(customer_id)
            return customer
    created = company.window_start - timedelta(days=rng.randint(60, 700))
    customer = add_customer(company, rng, rep, rep.region, created, company.of_role("customer_success"))
    company.reserved_customers.add(customer.id)
    return customer


def _won_deal(
    company: Company,
    rng: random.Random,
    rep: Person,
    customer: Customer,
    created: date,
    closed: date,
    amount: Decimal,
    *,
    discount: Decimal | None = None,
    product: str = "CRM Cloud",
    hour: int | None = None,
) -> dict[str, Any]:
    created_at = shanghai(created, rng.randint(9, 17), rng.randint(0, 59))
    closed_at = shanghai(closed, hour if hour is not None else rng.randint(10, 18), rng.randint(0, 59))
    row = company.add_deal(
        owner=rep.id,
        customer_id=customer.id,
        status="won",
        stage_raw="Closed Won",
        amount=amount,
        discount=discount if discount is not None else ratio(rng.randint(0, 12), 2),
        created_at=created_at,
        closed_at=closed_at,
        product_line=product,
        lead_source="outbound",
        deal_type="new",
        modified_at=company.clamp(closed_at + timedelta(hours=2)),
    )
    stage_history(company, row)
    return row


def _round_hundreds(rng: random.Random, low: int, high: int) -> Decimal:
    return cents(rng.randint(low // 100, high // 100) * 10_000)


def _ids(rows: list[dict[str, Any]]) -> tuple[int, ...]:
    return tuple(int(r["id"]) for r in rows)


# --- deal patterns --------------------------------------------------------------------


def _deal_splitting(company: Company, rng: random.Random, rep: Person, month: Month) -> PlantedCase:
    first = next(d for d in month.workdays[5:] if d.weekday() == 0)
    days = [first, first + timedelta(days=1), first + timedelta(days=3)]
    customer = _quiet_customer(company, rng, rep, [first - timedelta(days=3), days[-1]])
    rows = [
        _won_deal(company, rng, rep, customer, d - timedelta(days=2), d, _round_hundreds(rng, 38_000, 49_800))
        for d in days
    ]
    total = sum(r["amount"] for r in rows)
    return PlantedCase(
        "deal_splitting",
        rep.id,
        month.label,
        "deals",
        _ids(rows),
        f"One order for {customer.name} split into three deals under {THRESHOLD:,} CNY within four days ({total} CNY "
        "together).",
    )


def _period_end_pull_forward(company: Company, rng: random.Random, rep: Person, month: Month) -> PlantedCase:
    rows = []
    for i in range(6):
        closed = month.last_day - timedelta(days=i % 3)
        customer = _quiet_customer(company, rng, rep, [closed - timedelta(days=12), closed])
        rows.append(
            _won_deal(
                company,
                rng,
                rep,
                customer,
                closed - timedelta(days=rng.randint(10, 12)),
                closed,
                _round_hundreds(rng, 60_000, 120_000),
                hour=rng.randint(10, 21),
            )
        )
    return PlantedCase(
        "period_end_pull_forward",
        rep.id,
        month.label,
        "deals",
        _ids(rows),
        "Six deals booked in the last three days of the month, most of the rep's bookings for it.",
    )


def _duplicate_deal(company: Company, rng: random.Random, rep: Person, month: Month) -> PlantedCase:
    closed = month.workdays[10]
    customer = _quiet_customer(company, rng, rep, [closed - timedelta(days=14), closed])
    original = _won_deal(
        company,
        rng,
        rep,
        customer,
        closed - timedelta(days=14),
        closed,
        _round_hundreds(rng, 60_000, 150_000),
        product="Analytics Suite",
    )
    copy = company.add_deal(
        **{
            k: original[k]
            for k in (
                "status",
                "stage_raw",
                "amount",
                "discount",
                "created_at",
                "closed_at",
                "lead_source",
                "deal_type",
            )
        },
        owner=rep.id,
        customer_id=customer.id,
        product_line=original["product_line"],
        modified_at=original["modified_at"],
    )
    stage_history(company, copy)
    return PlantedCase(
        "duplicate_deal",
        rep.id,
        month.label,
        "deals",
        _ids([original, copy]),
        "The same deal entered twice: same customer, amount, product and dates.",
    )


def _cancel_and_rebook(company: Company, rng: random.Random, rep: Person, month: Month) -> PlantedCase:
    closed = month.workdays[4]
    customer = _quiet_customer(company, rng, rep, [closed - timedelta(days=10), closed + timedelta(days=8)])
    amount = _round_hundreds(rng, 80_000, 200_000)
    original = _won_deal(
        company, rng, rep, customer, closed - timedelta(days=10), closed, amount, product="Marketing Automation"
    )
    refund = company.add_refund(
        original,
        kind="cancellation",
        amount=amount,
        occurred_at=shanghai(closed + timedelta(days=3), 15),
        reason="cancelled by customer request",
    )
    rebooked = _won_deal(
        company,
        rng,
        rep,
        customer,
        closed + timedelta(days=4),
        closed + timedelta(days=6),
        amount,
        product="Marketing Automation",
    )
    return PlantedCase(
        "cancel_and_rebook",
        rep.id,
        month.label,
        "deals",
        _ids([original, rebooked]),
        f"Deal cancelled (refund {refund['id']}) and rebooked for the same customer and product three days later.",
    )


def _early_churn(
    company: Company, rng: random.Random, rep: Person, month: Month, renewal_customers: set[int]
) -> PlantedCase:
    closed = month.workdays[6]
    churned = closed + timedelta(days=40)
    horizon = (company.window_end - closed).days + 30
    customer = _quiet_customer(company, rng, rep, [closed, churned], spacing=horizon, avoid=renewal_customers)
    deal = _won_deal(
        company, rng, rep, customer, closed - timedelta(days=20), closed, _round_hundreds(rng, 50_000, 150_000)
    )
    customer.churn_on = churned
    event = company.add_churn(
        customer,
        owner=rep.id,
        deal_id=deal["id"],
        churned_at=shanghai(churned, 16),
        lost_amount=deal["amount"],
        reason="customer left: product did not do what was promised",
    )
    return PlantedCase(
        "early_churn",
        rep.id,
        month.label,
        "deals",
        _ids([deal]),
        f"Customer churned 40 days after the deal closed (churn event {event['id']}).",
    )


def _discount_spike(company: Company, rng: random.Random, rep: Person, month: Month) -> PlantedCase:
    rows = []
    for i in range(4):
        closed = month.last_day - timedelta(days=4 + i % 2)
        customer = _quiet_customer(company, rng, rep, [closed - timedelta(days=8), closed])
        rows.append(
            _won_deal(
                company,
                rng,
                rep,
                customer,
                closed - timedelta(days=8),
                closed,
                _round_hundreds(rng, 20_000, 40_000),
                discount=ratio(rng.randint(2600, 3000), 4),
            )
        )
    return PlantedCase(
        "discount_spike",
        rep.id,
        month.label,
        "deals",
        _ids(rows),
        "Four deals just before month end with 26-30 % discounts against the rep's usual few percent.",
    )


def _amounts_below_threshold(company: Company, rng: random.Random, rep: Person, month: Month) -> PlantedCase:
    rows = []
    for day in month.workdays[1:13:2]:
        customer = _quiet_customer(company, rng, rep, [day - timedelta(days=7), day])
        amount = cents(rng.randint(47_000_00, 49_950_00))
        rows.append(_won_deal(company, rng, rep, customer, day - timedelta(days=7), day, amount))
    return PlantedCase(
        "amounts_below_threshold",
        rep.id,
        month.label,
        "deals",
        _ids(rows),
        f"Six deals in one month priced between 47,000 and 49,950 CNY, just under the {THRESHOLD:,} CNY approval "
        "limit.",
    )


def _sandbagging(company: Company, rng: random.Random, rep: Person, month: Month) -> PlantedCase:
    rows = []
    for i in range(6):
        closed = month.start + timedelta(days=i % 3)
        customer = _quiet_customer(company, rng, rep, [closed - timedelta(days=30), closed])
        rows.append(
            _won_deal(
                company,
                rng,
                rep,
                customer,
                closed - timedelta(days=rng.randint(20, 30)),
                closed,
                _round_hundreds(rng, 60_000, 120_000),
                hour=rng.randint(10, 18),
            )
        )
    return PlantedCase(
        "sandbagging",
        rep.id,
        month.label,
        "deals",
        _ids(rows),
        "Six deals ready the month before closed in the first three days of the month, most of the rep's bookings for "
        "it.",
    )


def _fabricated_amounts(company: Company, rng: random.Random, rep: Person) -> PlantedCase:
    """Brushed orders (刷单): many small orders in the last month with made-up amounts, all starting with 6 to 9.

    Enough of them that the rep's amounts over the Benford window (six months) reach the check's sample
    of 100 in that month only.
    """
    month = company.months[-1]
    won = won_by_rep_month(company)
    in_window = sum(len(won.get((rep.id, m.label), [])) for m in company.months[-6:])  # the rep's own won deals
    shells = [
        add_customer(
            company,
            rng,
            rep,
            rep.region,
            month.start - timedelta(days=rng.randint(5, 20)),
            company.of_role("customer_success"),
        )
        for _ in range(12)
    ]  # orders from accounts opened for them
    company.reserved_customers.update(c.id for c in shells)
    rows = []
    for i in range(max(60, 115 - in_window)):
        day = month.workdays[i % len(month.workdays)]
        rows.append(
            _won_deal(
                company,
                rng,
                rep,
                shells[i % len(shells)],
                day - timedelta(days=rng.randint(1, 5)),
                day,
                cents(rng.randint(6_000_00, 9_999_99)),
            )
        )
    return PlantedCase(
        "benford",
        rep.id,
        month.label,
        "deals",
        _ids(rows),
        f"{len(rows)} small orders in one month with made-up amounts, every one starting with 6, 7, 8 or 9.",
    )


# --- activity patterns ----------------------------------------------------------------


def _visits(
    company: Company, rng: random.Random, rep: Person, month: Month, count: int, *, evidence: bool
) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        day = month.workdays[i % len(month.workdays)]
        customer_id = rng.choice(company.book_on(rep, day))
        rows.append(
            company.add_activity(
                kind="visit",
                owner=rep.id,
                occurred_at=shanghai(day, rng.randint(9, 18), rng.randint(0, 59)),
                customer_id=customer_id,
                deal_id=None,
                duration_seconds=rng.randint(1800, 5400),
                has_evidence=evidence,
                subject=f"Visit: {company.customers[customer_id].name}",
            )
        )
    return rows


def _unverified_visits(company: Company, rng: random.Random, rep: Person, month: Month) -> PlantedCase:
    rows = _visits(company, rng, rep, month, 18, evidence=False)
    return PlantedCase(
        "unverified_visits",
        rep.id,
        month.label,
        "activities",
        _ids(rows),
        "Eighteen visits in one month logged without check-in, signed page or photo.",
    )


def _activity_inflation(company: Company, rng: random.Random, rep: Person) -> PlantedCase:
    won = won_by_rep_month(company)
    candidates = company.months[1:-1] or company.months
    month = min(candidates, key=lambda m: (len(won.get((rep.id, m.label), [])), m.label))
    rows = _visits(company, rng, rep, month, 45, evidence=True)
    return PlantedCase(
        "activity_inflation",
        rep.id,
        month.label,
        "activities",
        _ids(rows),
        "About four times the team's usual visits in a month, none tied to an opportunity, with almost no deals won.",
    )


# --- marketing patterns ---------------------------------------------------------------


def _leads_without_channel(company: Company, rng: random.Random, specialist: Person, month: Month) -> PlantedCase:
    reps = [p for p in company.of_role("sales_rep") if p.active_on(month.start)]
    rows = []
    for i in range(35):
        day = month.start + timedelta(days=i % month.days)
        created_at = shanghai(day, rng.randint(9, 20), rng.randint(0, 59))
        rows.append(
            company.add_lead(
                owner=rng.choice(reps).id,
                marketing_owner=specialist.id,
                channel=None,
                campaign=None,
                customer_id=None,
                created_at=created_at,
                assigned_at=created_at + timedelta(hours=1),
                first_contact_at=None,
                mql_at=None,
                sql_at=None,
                converted_deal_id=None,
                status="new",
                score=rng.randint(20, 60),
            )
        )
    return PlantedCase(
        "leads_without_channel",
        specialist.id,
        month.label,
        "leads",
        _ids(rows),
        "Thirty-five leads entered in one month with no source channel recorded.",
    )


def _traffic_brushing(company: Company, rng: random.Random, month: Month) -> PlantedCase:
    day = month.workdays[len(month.workdays) // 2]
    campaign = next(c for c in company.campaigns if c.channel == "social" and c.start <= day < c.end)
    rows = []
    for _ in range(150):
        created_at = shanghai(day, 2, 0) + timedelta(seconds=rng.randint(0, 3 * 3600))
        rows.append(
            company.add_lead(
                owner=None,
                marketing_owner=campaign.owner,
                channel=campaign.channel,
                campaign=campaign.name,
                customer_id=None,
                created_at=created_at,
                assigned_at=None,
                first_contact_at=None,
                mql_at=None,
                sql_at=None,
                converted_deal_id=None,
                status="new",
                score=rng.randint(0, 10),
            )
        )
    return PlantedCase(
        "traffic_brushing",
        campaign.owner,
        month.label,
        "leads",
        _ids(rows),
        f"150 leads from campaign '{campaign.name}' within three hours one night, none reaching MQL or SQL.",
    )
