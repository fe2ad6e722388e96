"""Adjustments that people decide: a one-off correction or bonus, or a prior-period difference held for review.

An adjustment is requested (``kpi adjust``) or proposed by an evaluation (a plan whose
``pay_cycle.prior_period_adjustments`` is ``review``), then approved or rejected by someone else
(four eyes). Approving posts it to the ledger in its period, once; a period already paid takes no
new entry (the adjustment goes in the open period instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update

from ..errors import PayCycleError
from ..money import money_text
from ..periods import parse_period
from ..store import schema as s
from ..store.audit import record_action
from ..store.database import Store
from .prior_periods import paid_for

__all__ = ["Adjustment", "decide_adjustment", "list_adjustments", "propose_adjustments", "request_adjustment"]


@dataclass(frozen=True)
class Adjustment:
    """An adjustment with where it stands."""

    id: int
    origin: str
    person_id: str
    plan_id: str | None
    rule_id: str | None
    period: str
    corrects: str | None
    amount: Decimal
    currency: str
    component: str
    reason: str
    details: Mapping[str, Any]
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "origin": self.origin,
            "person": self.person_id,
            "plan": self.plan_id,
            "period": self.period,
            "corrects": self.corrects,
            "amount": money_text(self.amount),
            "currency": self.currency,
            "component": self.component,
            "reason": self.reason,
            "status": self.status,
            "requested_by": self.requested_by,
            "decided_by": self.decided_by,
        }


def _adjustment(row: Any) -> Adjustment:
    r = row._mapping
    return Adjustment(
        id=r["id"],
        origin=r["origin"],
        person_id=r["person_id"],
        plan_id=r["plan_id"],
        rule_id=r["rule_id"],
        period=r["period"],
        corrects=r["corrects"],
        amount=r["amount"],
        currency=r["currency"],
        component=r["component"],
        reason=r["reason"],
        details=r["details"] or {},
        status=r["status"],
        requested_by=r["requested_by"],
        requested_at=r["requested_at"],
        decided_by=r["decided_by"],
        decided_at=r["decided_at"],
    )


def _paid_period(conn: Connection, label: str) -> bool:
    e = s.ledger_entries
    return (
        conn.execute(select(e.c.id).where(e.c.kind == "payment", e.c.period_posted == label).limit(1)).first()
        is not None
    )


def propose_adjustments(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record prior-period proposals; one already proposed (same event, same amount paid so far) is kept as it is."""
    a = s.adjustments
    for row in rows:
        exists = conn.execute(select(a.c.id).where(a.c.proposal_key == row["proposal_key"])).first()
        if exists is None:
            conn.execute(a.insert().values(**row))
            record_action(
                conn,
                row["requested_by"],
                "adjust",
                plan_id=row["plan_id"],
                period=row["period"],
                subject=row["person_id"],
                reason=row["reason"],
                details={"amount": money_text(row["amount"]), "corrects": row["corrects"], "origin": "prior_period"},
            )


def request_adjustment(
    store: Store,
    *,
    person_id: str,
    amount: Decimal,
    currency: str,
    reason: str,
    period: str,
    by: str,
    plan_id: str | None = None,
    component: str = "adjustment",
) -> Adjustment:
    """Ask for a one-off correction or bonus, paid in ``period`` once someone else approves it."""
    label = parse_period(period).label
    if not reason.strip():
        raise PayCycleError("say why: an adjustment needs --reason TEXT.")
    if not amount:
        raise PayCycleError(
            "an adjustment of 0 changes nothing.", hint="give the amount to add (or a negative one to take back)"
        )
    now = datetime.now(UTC)
    with store.begin() as conn:
        known = conn.execute(select(s.people.c.id).where(s.people.c.id == person_id)).first()
        if known is None:
            raise PayCycleError(f"{person_id!r} is not a known person.", hint="kpi data list people shows who is")
        if _paid_period(conn, label):
            raise PayCycleError(
                f"{label} has been exported to payroll; a paid period takes no new adjustment.",
                hint="post it in the open period: --period <the month being paid next>",
            )
        a = s.adjustments
        new_id = conn.execute(
            a.insert().values(
                origin="manual",
                person_id=person_id,
                plan_id=plan_id,
                period=label,
                amount=amount,
                currency=currency,
                component=component,
                reason=reason.strip(),
                status="pending",
                requested_by=by,
                requested_at=now,
            )
        ).inserted_primary_key
        assert new_id is not None
        record_action(
            conn,
            by,
            "adjust",
            plan_id=plan_id,
            period=label,
            subject=person_id,
            reason=reason.strip(),
            details={"adjustment": new_id[0], "amount": money_text(amount), "currency": currency},
            at=now,
        )
        return _adjustment(conn.execute(select(a).where(a.c.id == new_id[0])).one())


def decide_adjustment(store: Store, adjustment_id: int, *, approve: bool, by: str, note: str = "") -> Adjustment:
    """Approve (post to the ledger) or reject a pending adjustment; the one who asked cannot decide (four eyes)."""
    now = datetime.now(UTC)
    a, e = s.adjustments, s.ledger_entries
    with store.begin() as conn:
        row = conn.execute(select(a).where(a.c.id == adjustment_id)).first()
        if row is None:
            raise PayCycleError(f"there is no adjustment {adjustment_id}.", hint="kpi adjust list shows them")
        adjustment = _adjustment(row)
        if adjustment.status != "pending":
            raise PayCycleError(f"adjustment {adjustment_id} is {adjustment.status} already; a decision is final.")
        if adjustment.requested_by == by:
            raise PayCycleError(
                f"{by} asked for adjustment {adjustment_id} and cannot decide it too (four eyes).",
                hint="someone else decides: kpi --as NAME adjust approve ID",
            )
        entry_key = f"adjustment|{adjustment.id}"
        if approve:
            if _paid_period(conn, adjustment.period):
                raise PayCycleError(
                    f"{adjustment.period} has been exported to payroll; adjustment {adjustment_id} cannot be paid in "
                    "it.",
                    hint="reject it and ask for it again in the open period",
                )
            if adjustment.origin == "prior_period":
                entry_key = row.proposal_key
                paid = paid_for(conn, adjustment.plan_id or "", adjustment.corrects or "")
                paid_now = paid.get((adjustment.rule_id or "", adjustment.person_id), (Decimal(0), "", False))[0]
                if money_text(paid_now) != adjustment.details.get("paid"):
                    raise PayCycleError(
                        f"adjustment {adjustment_id} compared with {adjustment.details.get('paid')} paid for "
                        f"{adjustment.corrects}, and {money_text(paid_now)} is paid now; it is out of date.",
                        hint="reject it and evaluate the open period again for a fresh comparison",
                    )
            conn.execute(
                e.insert().values(
                    entry_key=entry_key,
                    kind="adjustment",
                    component=adjustment.component,
                    person_id=adjustment.person_id,
                    plan_id=adjustment.plan_id,
                    rule_id=adjustment.rule_id,
                    period_earned=adjustment.corrects or adjustment.period,
                    period_posted=adjustment.period,
                    amount=adjustment.amount,
                    currency=adjustment.currency,
                    corrects=adjustment.corrects,
                    adjustment_id=adjustment.id,
                    description=adjustment.reason[:2000],
                    posted_by=by,
                    posted_at=now,
                )
            )
        status = "approved" if approve else "rejected"
        conn.execute(update(a).where(a.c.id == adjustment_id).values(status=status, decided_by=by, decided_at=now))
        record_action(
            conn,
            by,
            "approve_adjustment" if approve else "reject_adjustment",
            plan_id=adjustment.plan_id,
            period=adjustment.period,
            subject=adjustment.person_id,
            reason=note or None,
            details={"adjustment": adjustment_id, "amount": money_text(adjustment.amount)},
            at=now,
        )
        return _adjustment(conn.execute(select(a).where(a.c.id == adjustment_id)).one())


def list_adjustments(
    store: Store, *, status: str | None = None, period: str | None = None, person_id: str | None = None
) -> list[Adjustment]:
    """Adjustments, oldest first, of one status, period or person when given."""
    a = s.adjustments
    query = select(a).order_by(a.c.id)
    if status is not None:
        query = query.where(a.c.status == status)
    if period is not None:
        query = query.where(a.c.period == parse_period(period).label)
    if person_id is not None:
        query = query.where(a.c.person_id == person_id)
    with store.connect() as conn:
        return [_adjustment(row) for row in conn.execute(query)]
