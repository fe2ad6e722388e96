"""Deals of the sample company: the pipeline per rep and month, renewals, stage history and splits."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ._calendar import Month, local_day, shanghai
from ._company import Company, Customer, Person, cents, ratio
from ._names import CHANNEL_WEIGHTS, CHANNELS, OPEN_STAGES, PRODUCT_LINES

__all__ = ["RenewalPlan", "build_deals", "plan_renewals", "random_amount", "stage_history"]

_AMOUNT_RANGE = {"enterprise": (60_000, 300_000), "mid_market": (15_000, 160_000), "smb": (5_000, 60_000)}
_MONTH_END_DAYS = 3
_MONTH_END_SHARE_CAP = Decimal("0.30")
_BACKGROUND_DISCOUNT_CAP_AT_MONTH_END = Decimal("0.15")


@dataclass
class RenewalPlan:
    """A contract signed before the year that comes up for renewal during it."""

    customer: Customer
    due: date
    outcome: str  # renewed / churned / pending
    amount: Decimal
    renewal_deal_id: int | None = None


def plan_renewals(company: Company) -> list[RenewalPlan]:
    """Pick the renewals due in the year and their outcomes (churned customers stop buying)."""
    rng = company.rng("renewals")
    ws, we = company.window_start, company.window_end
    plans: list[RenewalPlan] = []
    for customer in company.customers.values():
        if customer.created >= ws or rng.random() > 0.55:
            continue
        due = ws + timedelta(days=rng.randint(45, (we - ws).days - 1))
        if (we - due).days < 40:
            outcome = "renewed" if rng.random() < 0.3 else "pending"
        else:
            outcome = "churned" if rng.random() < 0.18 else "renewed"
        if outcome == "churned":
            customer.churn_on = due
        plans.append(RenewalPlan(customer, due, outcome, random_amount(rng, customer.segment)))
    return plans


def random_amount(rng: random.Random, segment: str) -> Decimal:
    """A deal amount in CNY, log-uniform within the segment's range; most are round hundreds."""
    low, high = _AMOUNT_RANGE[segment]
    value = int(low * (high / low) ** rng.random())
    if rng.random() < 0.6:
        return cents(value // 100 * 10_000)
    return cents(value * 100 + rng.randint(0, 99))


def random_discount(rng: random.Random) -> Decimal:
    """A discount between 0 and 30 %, mostly small, written with two to four decimals."""
    value = min(0.30, rng.triangular(0.0, 0.30, 0.05))
    if rng.random() < 0.5:
        return ratio(round(value * 100), 2)
    return ratio(round(value * 10_000), 4)


def _working_time(rng: random.Random, day: date) -> datetime:
    return shanghai(day, rng.randint(9, 18), rng.randint(0, 59), rng.randint(0, 59))


def _next_workday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def build_deals(company: Company, renewal_plans: list[RenewalPlan]) -> None:
    """Pipeline deals per rep and month, renewal deals, month-end smoothing, time-zone edge cases."""
    rng = company.rng("deals")
    for rep in company.of_role("sales_rep"):
        for month in company.months:
            active = [d for d in month.workdays if rep.active_on(d)]
            if not active:
                continue
            count = round(rng.randint(6, 11) * rep.skill * len(active) / len(month.workdays))
            for _ in range(count):
                _pipeline_deal(company, rng, rep, rng.choice(active))
    _renewal_deals(company, rng, renewal_plans)
    _smooth_month_end(company, rng)
    _time_zone_edge_cases(company, rng)
    for row in company.rows["deals"]:
        if row["closed_at"] is not None:
            close = local_day(row["closed_at"])
            month_end = (close.replace(day=28) + timedelta(days=4)).replace(day=1)
            if (month_end - close).days <= 5 and row["discount"] > _BACKGROUND_DISCOUNT_CAP_AT_MONTH_END:
                row["discount"] = ratio(rng.randint(0, 15), 2)
        row["modified_at"] = company.clamp(
            max(row["created_at"], row["closed_at"] or row["created_at"]) + timedelta(hours=rng.randint(1, 48))
        )
    _splits(company, rng)
    for row in company.rows["deals"]:
        stage_history(company, row)


def _pipeline_deal(company: Company, rng: random.Random, rep: Person, created_day: date) -> None:
    """One deal a rep opens on a day: won, lost or still open, with a customer from the rep's book."""
    close_day = _next_workday(created_day + timedelta(days=rng.randint(5, 60)))
    if rng.random() < 0.6:
        month_end = (close_day.replace(day=28) + timedelta(days=4)).replace(day=1)
        if (month_end - close_day).days <= _MONTH_END_DAYS:
            close_day = _next_workday(created_day + timedelta(days=rng.randint(5, 60)))
    roll = rng.random()
    closes = close_day < company.window_end and rep.active_on(close_day)
    status = ("won" if roll < 0.55 else "lost" if roll < 0.9 else "open") if closes else "open"
    if status == "open" and rep.leave is not None and created_day < rep.leave - timedelta(days=3):
        status, close_day = "lost", _next_workday(rep.leave - timedelta(days=7))
        if close_day <= created_day or close_day >= rep.leave:
            return
    days = [created_day, close_day] if status != "open" else [created_day]
    customer = _free_customer(company, rng, rep, days)
    if customer is None:
        return
    created_at = _working_time(rng, created_day)
    closed_at = _working_time(rng, close_day) if status != "open" else None
    if closed_at is not None and closed_at <= created_at:
        closed_at = created_at + timedelta(hours=rng.randint(2, 6))
    first_deal = not any(d for d, _ in company.customer_days.get(customer.id, ()))
    if customer.created < company.window_start or not first_deal:
        deal_type = "upsell" if rng.random() < 0.4 else "new"
    else:
        deal_type = "new"
    lead_source = (
        rng.choices(CHANNELS + ("outbound",), weights=CHANNEL_WEIGHTS + (25,))[0]
        if deal_type == "new"
        else "existing_customer"
    )
    stage = {"won": "Closed Won", "lost": "Closed Lost"}.get(status) or rng.choice(OPEN_STAGES)
    company.add_deal(
        owner=rep.id,
        customer_id=customer.id,
        status=status,
        stage_raw=stage,
        amount=random_amount(rng, customer.segment),
        discount=random_discount(rng),
        created_at=created_at,
        closed_at=closed_at,
        product_line=rng.choice(PRODUCT_LINES[:4]) if rng.random() < 0.9 else PRODUCT_LINES[4],
        lead_source=lead_source,
        deal_type=deal_type,
        modified_at=created_at,
    )


def _free_customer(company: Company, rng: random.Random, rep: Person, days: list[date]) -> Customer | None:
    """A customer of the rep's book with no other deal near these days and no churn coming up."""
    book = company.book_on(rep, days[0])
    rng.shuffle(book)
    for customer_id in book:
        customer = company.customers[customer_id]
        if customer_id in company.reserved_customers:
            continue
        if customer.churn_on is not None and max(days) > customer.churn_on - timedelta(days=90):
            continue
        if company.customer_is_free(customer_id, days):
            return customer
    return None


def _renewal_deals(company: Company, rng: random.Random, plans: list[RenewalPlan]) -> None:
    """A won renewal deal, closed shortly before the due date, for every renewed contract."""
    for plan in plans:
        if plan.outcome != "renewed":
            continue
        close_day = _next_workday(plan.due - timedelta(days=rng.randint(3, 20)))
        if close_day >= company.window_end:
            plan.outcome = "pending"
            continue
        created_day = max(company.window_start, close_day - timedelta(days=rng.randint(15, 40)))
        owner = company.owner_on(plan.customer, created_day)
        if not owner.active_on(close_day):
            owner = company.owner_on(plan.customer, close_day)
        created_at = _working_time(rng, created_day)
        closed_at = max(_working_time(rng, close_day), created_at + timedelta(hours=3))
        row = company.add_deal(
            owner=owner.id,
            customer_id=plan.customer.id,
            status="won",
            stage_raw="Closed Won",
            amount=plan.amount,
            discount=ratio(rng.randint(0, 10), 2),
            created_at=created_at,
            closed_at=closed_at,
            product_line=PRODUCT_LINES[0],
            lead_source="existing_customer",
            deal_type="renewal",
            modified_at=closed_at,
        )
        plan.renewal_deal_id = row["id"]


def won_by_rep_month(company: Company) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Won deals grouped by owner and Shanghai close month."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in company.rows["deals"]:
        if row["status"] == "won":
            groups[(row["owner_id"], local_day(row["closed_at"]).strftime("%Y-%m"))].append(row)
    return groups


def _month_of(company: Company, label: str) -> Month | None:
    return next((m for m in company.months if m.label == label), None)


def _smooth_month_end(company: Company, rng: random.Random) -> None:
    """Keep each rep's share of bookings in a month's last three days ordinary (no accidental pull-forward)."""
    for (_owner, label), rows in sorted(won_by_rep_month(company).items()):
        month = _month_of(company, label)
        if month is None:
            continue
        total = sum(r["amount"] for r in rows)
        late = sorted(
            (r for r in rows if month.in_last_days(local_day(r["closed_at"]), _MONTH_END_DAYS)),
            key=lambda r: (-r["amount"], r["id"]),
        )
        late_total = sum(r["amount"] for r in late)
        for row in late:
            if late_total <= total * _MONTH_END_SHARE_CAP:
                break
            if _move_close(company, rng, row, month):
                late_total -= row["amount"]


def _move_close(company: Company, rng: random.Random, row: dict[str, Any], month: Month) -> bool:
    """Move a won deal's close to an earlier working day of its month, if the customer allows it."""
    created = local_day(row["created_at"])
    candidates = [d for d in month.workdays if created < d and (month.end - d).days > _MONTH_END_DAYS + 2]
    rng.shuffle(candidates)
    for spacing in (15, 5):
        for day in candidates:
            if company.customer_is_free(row["customer_id"], [day], spacing=spacing, ignore=row["id"]):
                row["closed_at"] = max(_working_time(rng, day), row["created_at"] + timedelta(hours=2))
                company.index_deal(row)
                return True
    return False


def _time_zone_edge_cases(company: Company, rng: random.Random) -> None:
    """A few deals closed at 23:30 Shanghai time on a month's last day (15:30 UTC the same day)."""
    moved: set[str] = set()
    rows = [r for r in company.rows["deals"] if r["status"] == "won" and r["deal_type"] != "renewal"]
    for row in rows:
        day = local_day(row["closed_at"])
        month = _month_of(company, day.strftime("%Y-%m"))
        if month is None or month.label in moved or not month.in_last_days(day, _MONTH_END_DAYS):
            continue
        last = month.last_day
        owner = company.people[row["owner_id"]]
        if not owner.active_on(last) or not company.customer_is_free(row["customer_id"], [last], ignore=row["id"]):
            continue
        row["closed_at"] = shanghai(last, 23, 30)
        company.index_deal(row)
        moved.add(month.label)
        if len(moved) == 4:
            break


def _splits(company: Company, rng: random.Random) -> None:
    """A few won deals shared with a teammate; the shares of a deal add up to exactly 1."""
    shares = ((Decimal("0.6"), Decimal("0.4")), (Decimal("0.5"), Decimal("0.5")), (Decimal("0.7"), Decimal("0.3")))
    reps = company.of_role("sales_rep")
    for row in company.rows["deals"]:
        if row["status"] != "won" or rng.random() > 0.02:
            continue
        owner = company.people[row["owner_id"]]
        day = local_day(row["closed_at"])
        mates = [p for p in reps if p.team == owner.team and p.id != owner.id and p.active_on(day)]
        if not mates:
            continue
        mate = rng.choice(mates)
        primary, overlay = rng.choice(shares)
        company.add_row(
            "deal_splits", {"deal_id": row["id"], "person_id": owner.id, "share": primary, "split_role": "primary"}
        )
        company.add_row(
            "deal_splits", {"deal_id": row["id"], "person_id": mate.id, "share": overlay, "split_role": "overlay"}
        )


def stage_history(company: Company, row: dict[str, Any]) -> None:
    """The stages a deal went through, from Qualification to where it stands now."""
    start: datetime = row["created_at"]
    if row["status"] == "won":
        path = ["Qualification", "Proposal", "Negotiation"]
    elif row["status"] == "lost":
        path = ["Qualification", "Proposal"]
    else:
        path = list(OPEN_STAGES[: OPEN_STAGES.index(row["stage_raw"]) + 1])
    end: datetime = row["closed_at"] or company.clamp(start + timedelta(days=3 * len(path)))
    span = end - start
    for i, stage in enumerate(path):
        company.add_row(
            "deal_stage_history",
            {
                "deal_id": row["id"],
                "stage_raw": stage,
                "status": "open",
                "entered_at": start + span * i / (len(path) + 1),
            },
        )
    if row["closed_at"] is not None:
        company.add_row(
            "deal_stage_history",
            {
                "deal_id": row["id"],
                "stage_raw": row["stage_raw"],
                "status": row["status"],
                "entered_at": row["closed_at"],
            },
        )
