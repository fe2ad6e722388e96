"""Reading the ledger: its entries, and per person what was earned, held, paid and is still due."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ..money import money_text
from ..periods import parse_period
from ..store import schema as s
from ..store.database import Store
from .posting import PAYABLE

__all__ = ["Balance", "LedgerEntry", "balances", "ledger_entries"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class LedgerEntry:
    """One posted entry."""

    id: int
    entry_key: str
    kind: str
    component: str
    person_id: str
    plan_id: str | None
    rule_id: str | None
    period_earned: str
    period_posted: str
    amount: Decimal
    currency: str
    run_id: str | None
    corrects: str | None
    description: str
    posted_by: str
    posted_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "person": self.person_id,
            "posted": self.period_posted,
            "earned": self.period_earned,
            "plan": self.plan_id,
            "rule": self.rule_id,
            "kind": self.kind,
            "component": self.component,
            "amount": money_text(self.amount),
            "currency": self.currency,
            "corrects": self.corrects,
            "run": self.run_id,
            "key": self.entry_key,
            "description": self.description,
            "posted_by": self.posted_by,
            "posted_at": self.posted_at.isoformat(timespec="seconds"),
        }


def ledger_entries(
    store: Store,
    *,
    person_id: str | None = None,
    period: str | None = None,
    plan_id: str | None = None,
    kinds: frozenset[str] | None = None,
) -> list[LedgerEntry]:
    """Entries in the order they were posted; ``period`` is the period they were posted in."""
    e = s.ledger_entries
    query = select(e).order_by(e.c.id)
    if person_id is not None:
        query = query.where(e.c.person_id == person_id)
    if period is not None:
        query = query.where(e.c.period_posted == parse_period(period).label)
    if plan_id is not None:
        query = query.where(e.c.plan_id == plan_id)
    if kinds is not None:
        query = query.where(e.c.kind.in_(sorted(kinds)))
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return [
        LedgerEntry(
            id=r.id,
            entry_key=r.entry_key,
            kind=r.kind,
            component=r.component,
            person_id=r.person_id,
            plan_id=r.plan_id,
            rule_id=r.rule_id,
            period_earned=r.period_earned,
            period_posted=r.period_posted,
            amount=r.amount,
            currency=r.currency,
            run_id=r.run_id,
            corrects=r.corrects,
            description=r.description,
            posted_by=r.posted_by,
            posted_at=r.posted_at,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Balance:
    """A person's position in one currency: earned (payable entries), held (not paid), paid, still due."""

    person_id: str
    currency: str
    payable: Decimal
    held: Decimal
    paid: Decimal

    @property
    def due(self) -> Decimal:
        return self.payable - self.paid

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": self.person_id,
            "currency": self.currency,
            "payable": money_text(self.payable),
            "held": money_text(self.held),
            "paid": money_text(self.paid),
            "due": money_text(self.due),
        }


def balances(entries: list[LedgerEntry]) -> list[Balance]:
    """Each person's balance over ``entries``, by person and currency."""
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for entry in entries:
        totals = sums[(entry.person_id, entry.currency)]
        if entry.kind in PAYABLE:
            totals[0] += entry.amount
        elif entry.kind == "hold":
            totals[1] += entry.amount
        elif entry.kind == "payment":
            totals[2] -= entry.amount  # a payment is posted as what it takes off the balance
    return [
        Balance(person_id=person, currency=currency, payable=p, held=h, paid=paid)
        for (person, currency), (p, h, paid) in sorted(sums.items())
    ]
