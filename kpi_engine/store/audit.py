"""The audit trail: who evaluated, approved, closed, reopened, adjusted, reviewed and paid, when, and why.

Every action of the pay cycle writes one row in the same transaction as the change it records, so
the trail never claims what did not happen and never misses what did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, select

from . import schema as s
from .database import Store

__all__ = ["Action", "AuditEvent", "audit_trail", "record_action"]

Action = Literal[
    "evaluate",
    "approve",
    "close",
    "reopen",
    "adjust",
    "approve_adjustment",
    "reject_adjustment",
    "review",
    "pay",
]


@dataclass(frozen=True)
class AuditEvent:
    """One action: when, who, what, on which plan, period, run or subject, and why."""

    at: datetime
    actor: str
    action: str
    plan_id: str | None
    period: str | None
    run_id: str | None
    subject: str | None
    reason: str | None
    details: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(timespec="seconds"),
            "actor": self.actor,
            "action": self.action,
            "plan": self.plan_id,
            "period": self.period,
            "run": self.run_id,
            "subject": self.subject,
            "reason": self.reason,
            "details": dict(self.details),
        }


def record_action(
    conn: Connection,
    actor: str,
    action: Action,
    *,
    plan_id: str | None = None,
    period: str | None = None,
    run_id: str | None = None,
    subject: str | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Write one row of the audit trail (inside the caller's transaction)."""
    conn.execute(
        s.audit_log.insert().values(
            at=at or datetime.now(UTC),
            actor=actor,
            action=action,
            plan_id=plan_id,
            period=period,
            run_id=run_id,
            subject=subject,
            reason=reason,
            details=dict(details or {}),
        )
    )


def audit_trail(
    store: Store, *, since: datetime | None = None, plan_id: str | None = None, period: str | None = None
) -> list[AuditEvent]:
    """The trail in the order it happened, from ``since`` on, of one plan or period when given."""
    a = s.audit_log
    query = select(a).order_by(a.c.at, a.c.id)
    if since is not None:
        query = query.where(a.c.at >= since)
    if plan_id is not None:
        query = query.where(a.c.plan_id == plan_id)
    if period is not None:
        query = query.where(a.c.period == period)
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return [
        AuditEvent(
            at=r.at,
            actor=r.actor,
            action=r.action,
            plan_id=r.plan_id,
            period=r.period,
            run_id=r.run_id,
            subject=r.subject,
            reason=r.reason,
            details=r.details or {},
        )
        for r in rows
    ]
