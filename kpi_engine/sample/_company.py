"""The sample company's state while it is generated: organisation, customer books, rows per table."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..store.schema import (
    activities,
    churn_events,
    content_stats,
    customers,
    deal_splits,
    deal_stage_history,
    deals,
    leads,
    manual_scores,
    marketing_spend,
    org_assignments,
    payments,
    people,
    refunds,
    renewals,
    support_tickets,
    survey_responses,
    targets,
    team_hierarchy,
    teams,
    trainings,
    web_visits,
)
from ._calendar import Month, local_day, shanghai

__all__ = ["SOURCE", "TABLES", "Campaign", "Company", "Customer", "Person", "cents", "ratio"]

SOURCE = "demo"
CURRENCY = "CNY"

TABLES = (
    teams,
    team_hierarchy,
    people,
    org_assignments,
    customers,
    deals,
    deal_stage_history,
    deal_splits,
    leads,
    activities,
    marketing_spend,
    payments,
    refunds,
    renewals,
    churn_events,
    survey_responses,
    targets,
    manual_scores,
    web_visits,
    content_stats,
    support_tickets,
    trainings,
)
"""Every table the generator writes, parents before children."""

_REMOTE_PREFIX = {
    "customers": "C",
    "deals": "D",
    "activities": "A",
    "leads": "L",
    "marketing_spend": "S",
    "payments": "P",
    "refunds": "R",
    "renewals": "N",
    "churn_events": "X",
    "survey_responses": "Q",
    "web_visits": "W",
    "content_stats": "K",
    "support_tickets": "U",
    "trainings": "G",
}
_STREAMS = (
    "organisation",
    "customers",
    "renewals",
    "deals",
    "leads",
    "activities",
    "spend",
    "collections",
    "surveys",
    "targets",
    "planted",
    "digital",
    "service",
    "complaints",
)
_CUSTOMER_SPACING_DAYS = 15


def cents(value: int) -> Decimal:
    """An amount of money from an integer number of cents (exact, two decimals)."""
    return Decimal(value).scaleb(-2)


def ratio(value: int, places: int) -> Decimal:
    """A ratio from an integer count of 10^-places (exact)."""
    return Decimal(value).scaleb(-places)


@dataclass
class Person:
    """An employee as the generator sees them: role, team, employment dates, skill and book of customers."""

    id: str
    name: str
    role: str
    team: str
    region: str
    manager: str | None
    hire: date
    leave: date | None = None
    skill: float = 1.0  # float ok: a productivity factor, not money
    book: list[int] = field(default_factory=list)

    def active_on(self, day: date) -> bool:
        return self.hire <= day and (self.leave is None or day < self.leave)


@dataclass
class Customer:
    """A customer account: owner rep, customer-success contact, segment and (if planned) the day it churns."""

    id: int
    name: str
    segment: str
    industry: str
    region: str
    owner: str
    success_owner: str
    created: date
    churn_on: date | None = None


@dataclass(frozen=True)
class Campaign:
    """A marketing campaign on one channel, run by a marketing specialist between two days."""

    name: str
    channel: str
    start: date
    end: date  # exclusive
    owner: str
    daily_budget: int  # yuan


class Company:
    """Everything generated so far, with id allocation and the row builders the steps share."""

    def __init__(self, seed: int, months: list[Month], clean: bool, first_ids: dict[str, int]) -> None:
        master = random.Random(seed)
        self.streams = {name: random.Random(master.getrandbits(64)) for name in _STREAMS}
        self.seed = seed
        self.months = months
        self.clean = clean
        self.window_start = months[0].start
        self.window_end = months[-1].end
        self.last_instant = shanghai(self.window_end) - timedelta(minutes=1)
        self.rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in TABLES}
        self._next_id = dict(first_ids)
        self._remote_seq = dict.fromkeys(_REMOTE_PREFIX, 0)
        self.people: dict[str, Person] = {}
        self.customers: dict[int, Customer] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self.campaigns: list[Campaign] = []
        self.successor: dict[str, str] = {}  # leaver -> colleague who takes over the book
        self.customer_days: dict[int, list[tuple[int, date]]] = {}  # customer -> (deal id, day) of deal events
        self.reserved_customers: set[int] = set()
        self.customer_names: set[str] = set()
        self.mover: str | None = None  # the rep who changes team mid-year

    # --- lookup -------------------------------------------------------------------

    def rng(self, step: str) -> random.Random:
        return self.streams[step]

    def of_role(self, role: str) -> list[Person]:
        return [p for p in self.people.values() if p.role == role]

    def owner_on(self, customer: Customer, day: date) -> Person:
        """Who serves a customer on a day (a leaver's accounts pass to their successor)."""
        owner = self.people[customer.owner]
        if not owner.active_on(day) and owner.id in self.successor:
            return self.people[self.successor[owner.id]]
        return owner

    def book_on(self, rep: Person, day: date) -> list[int]:
        """Customers a rep serves on a day, including those inherited from a leaver."""
        book = [c for c in rep.book if self.customers[c].created <= day]
        for leaver, heir in self.successor.items():
            if heir == rep.id and not self.people[leaver].active_on(day):
                book += [c for c in self.people[leaver].book if self.customers[c].created <= day]
        return book

    def customer_is_free(
        self, customer_id: int, days: list[date], *, spacing: int = _CUSTOMER_SPACING_DAYS, ignore: int | None = None
    ) -> bool:
        """No other deal of the customer is created or closed within ``spacing`` days of these days."""
        for deal_id, other in self.customer_days.get(customer_id, ()):
            if deal_id == ignore:
                continue
            if any(abs((other - day).days) < spacing for day in days):
                return False
        return True

    def clamp(self, moment: datetime) -> datetime:
        return min(moment, self.last_instant)

    # --- ids ----------------------------------------------------------------------

    def next_id(self, table: str) -> int:
        value = self._next_id[table]
        self._next_id[table] = value + 1
        return value

    def remote_id(self, table: str) -> str:
        self._remote_seq[table] += 1
        width = 7 if table in ("activities", "leads", "web_visits") else 6
        return f"{_REMOTE_PREFIX[table]}{self._remote_seq[table]:0{width}d}"

    def _sourced(self, table: str, modified_at: datetime | None) -> dict[str, Any]:
        return {
            "id": self.next_id(table),
            "source": SOURCE,
            "remote_id": self.remote_id(table),
            "modified_at": modified_at,
            "is_deleted": False,
        }

    # --- row builders -------------------------------------------------------------

    def add_deal(
        self,
        *,
        owner: str,
        customer_id: int,
        status: str,
        stage_raw: str,
        amount: Decimal,
        discount: Decimal,
        created_at: datetime,
        closed_at: datetime | None,
        product_line: str,
        lead_source: str,
        deal_type: str,
        modified_at: datetime,
    ) -> dict[str, Any]:
        """Add a deal and index its days against the customer."""
        row = self._sourced("deals", modified_at)
        customer = self.customers[customer_id]
        row.update(
            name=f"{customer.name} - {product_line}",
            customer_id=customer_id,
            owner_id=owner,
            stage_raw=stage_raw,
            status=status,
            amount=amount,
            currency=CURRENCY,
            discount=discount,
            created_at=created_at,
            closed_at=closed_at,
            product_line=product_line,
            lead_source=lead_source,
            deal_type=deal_type,
            deleted_at=None,
        )
        self.rows["deals"].append(row)
        self.deals[row["id"]] = row
        self.index_deal(row)
        return row

    def index_deal(self, row: dict[str, Any]) -> None:
        """Record the deal's created and closed days against its customer (for spacing checks)."""
        days = self.customer_days.setdefault(row["customer_id"], [])
        days[:] = [(i, d) for i, d in days if i != row["id"]]
        days.append((row["id"], local_day(row["created_at"])))
        if row["closed_at"] is not None:
            days.append((row["id"], local_day(row["closed_at"])))

    def add_activity(
        self,
        *,
        kind: str,
        owner: str,
        occurred_at: datetime,
        customer_id: int | None,
        deal_id: int | None,
        duration_seconds: int | None,
        has_evidence: bool,
        subject: str,
    ) -> dict[str, Any]:
        row = self._sourced("activities", self.clamp(occurred_at + timedelta(hours=2)))
        row.update(
            kind=kind,
            owner_id=owner,
            occurred_at=occurred_at,
            customer_id=customer_id,
            deal_id=deal_id,
            lead_id=None,
            duration_seconds=duration_seconds,
            has_evidence=has_evidence,
            subject=subject,
        )
        self.rows["activities"].append(row)
        return row

    def add_lead(
        self,
        *,
        owner: str | None,
        marketing_owner: str | None,
        channel: str | None,
        campaign: str | None,
        customer_id: int | None,
        created_at: datetime,
        assigned_at: datetime | None,
        first_contact_at: datetime | None,
        mql_at: datetime | None,
        sql_at: datetime | None,
        converted_deal_id: int | None,
        status: str,
        score: int,
    ) -> dict[str, Any]:
        latest = max(t for t in (created_at, assigned_at, first_contact_at, mql_at, sql_at) if t is not None)
        row = self._sourced("leads", self.clamp(latest + timedelta(hours=1)))
        row.update(
            owner_id=owner,
            marketing_owner_id=marketing_owner,
            channel=channel,
            campaign=campaign,
            customer_id=customer_id,
            created_at=created_at,
            assigned_at=assigned_at,
            first_contact_at=first_contact_at,
            mql_at=mql_at,
            sql_at=sql_at,
            converted_deal_id=converted_deal_id,
            status=status,
            score=score,
        )
        self.rows["leads"].append(row)
        return row

    def add_refund(
        self, deal: dict[str, Any], *, kind: str, amount: Decimal, occurred_at: datetime, reason: str
    ) -> dict[str, Any]:
        row = self._sourced("refunds", self.clamp(occurred_at + timedelta(hours=1)))
        row.update(
            deal_id=deal["id"],
            customer_id=deal["customer_id"],
            kind=kind,
            amount=amount,
            currency=CURRENCY,
            occurred_at=occurred_at,
            reason=reason,
        )
        self.rows["refunds"].append(row)
        return row

    def add_churn(
        self,
        customer: Customer,
        *,
        owner: str,
        deal_id: int | None,
        churned_at: datetime,
        lost_amount: Decimal,
        reason: str,
    ) -> dict[str, Any]:
        row = self._sourced("churn_events", self.clamp(churned_at + timedelta(hours=4)))
        row.update(
            customer_id=customer.id,
            owner_id=owner,
            deal_id=deal_id,
            churned_at=churned_at,
            lost_amount=lost_amount,
            currency=CURRENCY,
            reason=reason,
        )
        self.rows["churn_events"].append(row)
        return row

    def add_row(
        self, table: str, values: dict[str, Any], *, sourced: bool = False, modified_at: datetime | None = None
    ) -> dict[str, Any]:
        """A row of any other table, with an explicit id (and source columns when the table has them)."""
        if sourced:
            row = self._sourced(table, modified_at)
        elif "id" in values:
            row = {}
        else:
            row = {"id": self.next_id(table)}
        row.update(values)
        self.rows[table].append(row)
        return row
