"""After the deal: collections, refunds, renewals, churn, surveys, hand-entered scores and targets."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ._calendar import Month, local_day, shanghai
from ._company import Company, ratio
from ._deals import RenewalPlan, won_by_rep_month

__all__ = ["build_collections", "build_renewals", "build_scores", "build_surveys", "build_targets"]

_REFUND_REASONS = ("partial delivery", "seats reduced after go-live", "service credit for outage", "price adjustment")


def _within_year(company: Company, moment: datetime) -> bool:
    return moment <= company.last_instant


def build_collections(company: Company) -> None:
    """One or two instalments for most won deals; a few partial refunds and credit notes."""
    rng = company.rng("collections")
    won = [r for r in company.rows["deals"] if r["status"] == "won"]
    for deal in won:
        if rng.random() > 0.88:
            continue
        first_at = deal["closed_at"] + timedelta(days=rng.randint(5, 45), hours=rng.randint(0, 8))
        if not _within_year(company, first_at):
            continue
        amount: Decimal = deal["amount"]
        first = (
            amount
            if rng.random() < 0.6
            else (amount * Decimal(rng.choice((30, 50, 70))) / 100).quantize(Decimal("0.01"))
        )
        _payment(company, deal, first, first_at)
        second_at = first_at + timedelta(days=rng.randint(30, 90))
        if first < amount and _within_year(company, second_at):
            _payment(company, deal, amount - first if rng.random() < 0.8 else (amount - first) / 2, second_at)
    _refunds(company, rng, won)


def _payment(company: Company, deal: dict[str, Any], amount: Decimal, received_at: datetime) -> None:
    company.add_row(
        "payments",
        {
            "deal_id": deal["id"],
            "customer_id": deal["customer_id"],
            "amount": amount.quantize(Decimal("0.01")),
            "currency": "CNY",
            "received_at": received_at,
        },
        sourced=True,
        modified_at=company.clamp(received_at + timedelta(hours=2)),
    )


def _refunds(company: Company, rng: random.Random, won: list[dict[str, Any]]) -> None:
    """Partial refunds and credit notes; a couple of plain cancellations never followed by a rebooking."""
    cancellations = 0
    for deal in won:
        if rng.random() > 0.03:
            continue
        occurred_at = deal["closed_at"] + timedelta(days=rng.randint(10, 60))
        if not _within_year(company, occurred_at):
            continue
        day = local_day(deal["closed_at"])
        quiet = company.customer_is_free(deal["customer_id"], [day + timedelta(days=30)], spacing=45, ignore=deal["id"])
        if cancellations < 3 and quiet and deal["deal_type"] != "renewal":
            cancellations += 1
            company.add_refund(
                deal,
                kind="cancellation",
                amount=deal["amount"],
                occurred_at=occurred_at,
                reason="customer withdrew before go-live",
            )
            continue
        kind = "credit_note" if rng.random() < 0.3 else "refund"
        amount = (deal["amount"] * Decimal(rng.randint(10, 50)) / 100).quantize(Decimal("0.01"))
        company.add_refund(deal, kind=kind, amount=amount, occurred_at=occurred_at, reason=rng.choice(_REFUND_REASONS))


def build_renewals(company: Company, plans: list[RenewalPlan]) -> None:
    """A renewal row per contract due in the year; churned contracts also get a churn event."""
    rng = company.rng("renewals")
    for plan in plans:
        customer = plan.customer
        decided_at = None
        if plan.renewal_deal_id is not None:
            decided_at = company.deals[plan.renewal_deal_id]["closed_at"]
        elif plan.outcome == "churned":
            decided_at = shanghai(plan.due, 17, rng.randint(0, 59))
        company.add_row(
            "renewals",
            {
                "customer_id": customer.id,
                "contract_deal_id": None,
                "owner_id": customer.success_owner,
                "due_date": plan.due,
                "outcome": plan.outcome,
                "renewal_deal_id": plan.renewal_deal_id,
                "amount": plan.amount,
                "currency": "CNY",
                "decided_at": decided_at,
            },
            sourced=True,
            modified_at=company.clamp(decided_at or shanghai(plan.due - timedelta(days=30), 10)),
        )
        if plan.outcome == "churned" and decided_at is not None:
            company.add_churn(
                customer,
                owner=customer.success_owner,
                deal_id=None,
                churned_at=decided_at,
                lost_amount=plan.amount,
                reason=rng.choice(("moved to a competitor", "budget cut", "low adoption", "company restructured")),
            )


def build_surveys(company: Company) -> None:
    """NPS and satisfaction about reps after won deals; complaint-handling satisfaction for customer success and
    reps."""
    rng = company.rng("surveys")
    for deal in company.rows["deals"]:
        if deal["status"] != "won":
            continue
        if rng.random() < 0.3:
            at = deal["closed_at"] + timedelta(days=rng.randint(30, 60), hours=rng.randint(0, 10))
            if _within_year(company, at):
                _survey(
                    company,
                    "nps",
                    deal,
                    deal["owner_id"],
                    Decimal(rng.choices(range(11), weights=[1, 1, 1, 2, 2, 3, 5, 8, 12, 10, 7])[0]),
                    at,
                )
        if rng.random() < 0.25:
            at = deal["closed_at"] + timedelta(days=rng.randint(85, 100), hours=rng.randint(0, 10))
            if _within_year(company, at):
                _survey(
                    company,
                    "satisfaction",
                    deal,
                    deal["owner_id"],
                    Decimal(rng.choices(range(1, 6), weights=[1, 2, 5, 10, 7])[0]),
                    at,
                )
    for customer in company.customers.values():
        if rng.random() < 0.25:
            day = company.window_start + timedelta(
                days=rng.randint(0, (company.window_end - company.window_start).days - 1)
            )
            at = shanghai(max(day, customer.created), rng.randint(9, 20), rng.randint(0, 59))
            score = Decimal(rng.choices(range(1, 6), weights=[1, 2, 4, 8, 6])[0])
            company.add_row(
                "survey_responses",
                {
                    "kind": "complaint_satisfaction",
                    "customer_id": customer.id,
                    "person_id": customer.success_owner,
                    "deal_id": None,
                    "score": score,
                    "responded_at": at,
                },
                sourced=True,
                modified_at=at,
            )
    # Complaints about a sale are handled by its rep (source 003 scores reps on complaint handling);
    # a stream of its own, so every other survey stays as it was.
    complaints = company.rng("complaints")
    for deal in company.rows["deals"]:
        if deal["status"] == "won" and complaints.random() < 0.08:
            at = deal["closed_at"] + timedelta(days=complaints.randint(10, 40), hours=complaints.randint(0, 10))
            if _within_year(company, at):
                score = Decimal(complaints.choices(range(1, 6), weights=[1, 2, 4, 8, 6])[0])
                _survey(company, "complaint_satisfaction", deal, deal["owner_id"], score, at)


def _survey(company: Company, kind: str, deal: dict[str, Any], person: str, score: Decimal, at: datetime) -> None:
    company.add_row(
        "survey_responses",
        {
            "kind": kind,
            "customer_id": deal["customer_id"],
            "person_id": person,
            "deal_id": deal["id"],
            "score": score,
            "responded_at": at,
        },
        sourced=True,
        modified_at=at,
    )


def build_scores(company: Company) -> None:
    """Quarterly manager reviews for everyone below a manager; report quality for marketing specialists."""
    rng = company.rng("surveys")
    for month in company.months:
        if not month.is_quarter_end():
            continue
        entered = shanghai(month.workdays[-1], 17, 0)
        for person in company.people.values():
            if person.role == "manager" or not person.active_on(month.workdays[-1]):
                continue
            metrics = ["manager_review"] + (["report_quality"] if person.role == "marketing_specialist" else [])
            for metric in metrics:
                company.add_row(
                    "manual_scores",
                    {
                        "person_id": person.id,
                        "metric": metric,
                        "period": month.quarter_label,
                        "score": ratio(rng.randint(25, 50), 1),
                        "scored_by": person.manager,
                        "comment": None,
                        "entered_at": entered,
                    },
                )


def build_targets(company: Company) -> None:
    """Monthly targets per person and team: bookings, new customers, visits, MQLs and renewal rate."""
    rng = company.rng("targets")
    bookings = _typical_monthly_bookings(company)
    actual = {key: sum((r["amount"] for r in rows), Decimal(0)) for key, rows in won_by_rep_month(company).items()}
    team_bookings: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    team_mql: dict[str, Decimal] = defaultdict(Decimal)
    mql = _typical_monthly_mql(company)
    for month in company.months:
        set_at = shanghai(month.start - timedelta(days=5), 10)
        for person in company.people.values():
            if not any(person.active_on(d) for d in month.workdays):
                continue
            if person.role == "sales_rep":
                target = _bookings_target(rng, bookings[person.id], actual.get((person.id, month.label), Decimal(0)))
                _target(company, "person", person.id, "bookings", month, target, set_at, money=True)
                _target(company, "person", person.id, "new_customers", month, Decimal(rng.randint(1, 3)), set_at)
                _target(company, "person", person.id, "visits", month, Decimal(rng.choice((10, 12))), set_at)
                team_bookings[(_team_in(company, person.id, month), month.label)] += target
            elif person.role == "marketing_specialist":
                target = Decimal(max(10, round(mql[person.id] * rng.uniform(0.9, 1.15))))
                _target(company, "person", person.id, "mql", month, target, set_at)
                team_mql[month.label] += target
            elif person.role == "customer_success":
                _target(
                    company,
                    "person",
                    person.id,
                    "renewal_rate",
                    month,
                    Decimal("0.85"),
                    set_at,
                    baseline=Decimal("0.80"),
                    challenge=Decimal("0.92"),
                )
        for team in ("east", "north", "south"):
            if team_bookings[(team, month.label)]:
                _target(
                    company, "team", team, "bookings", month, team_bookings[(team, month.label)], set_at, money=True
                )
        _target(company, "team", "marketing", "mql", month, team_mql[month.label], set_at)
        _target(
            company,
            "team",
            "success",
            "renewal_rate",
            month,
            Decimal("0.85"),
            set_at,
            baseline=Decimal("0.80"),
            challenge=Decimal("0.92"),
        )


def _bookings_target(rng: random.Random, typical: Decimal, actual: Decimal) -> Decimal:
    """A monthly bookings target the rep lands at 60-140 % of, never below 60 % of their typical month."""
    attainment = Decimal(rng.randint(600, 1400)) / 1000
    value = max(actual / attainment, Decimal("0.6") * typical, Decimal(50_000))
    return (value / 1000).quantize(Decimal(1)) * 1000


def _team_in(company: Company, person_id: str, month: Month) -> str:
    for row in company.rows["org_assignments"]:
        if (
            row["person_id"] == person_id
            and row["valid_from"] <= month.start
            and (row["valid_to"] is None or month.start < row["valid_to"])
        ):
            return str(row["team_id"])
    return company.people[person_id].team


def _target(
    company: Company,
    subject_type: str,
    subject_id: str,
    metric: str,
    month: Month,
    target: Decimal,
    set_at: datetime,
    *,
    money: bool = False,
    baseline: Decimal | None = None,
    challenge: Decimal | None = None,
) -> None:
    """A target with its baseline (0.8 ×) and challenge (1.5 ×) levels unless given."""
    places = Decimal("0.01") if money else Decimal("0.001")
    company.add_row(
        "targets",
        {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "metric": metric,
            "period": month.label,
            "baseline": baseline if baseline is not None else (target * Decimal("0.8")).quantize(places),
            "target": target,
            "challenge": challenge if challenge is not None else (target * Decimal("1.5")).quantize(places),
            "currency": "CNY" if money else None,
            "reason": None,
            "modified_at": set_at,
        },
    )


def _typical_monthly_bookings(company: Company) -> dict[str, Decimal]:
    """Each rep's average monthly won amount over the months they worked (in CNY)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for (owner, _), rows in won_by_rep_month(company).items():
        totals[owner] += sum((r["amount"] for r in rows), Decimal(0))
    result: dict[str, Decimal] = {}
    for rep in company.of_role("sales_rep"):
        worked = sum(1 for m in company.months if any(rep.active_on(d) for d in m.workdays))
        result[rep.id] = totals[rep.id] / max(1, worked)
    return result


def _typical_monthly_mql(company: Company) -> dict[str, float]:
    counts: dict[str, int] = defaultdict(int)
    for lead in company.rows["leads"]:
        if lead["mql_at"] is not None and lead["marketing_owner_id"]:
            counts[lead["marketing_owner_id"]] += 1
    return {p.id: counts[p.id] / len(company.months) for p in company.of_role("marketing_specialist")}
