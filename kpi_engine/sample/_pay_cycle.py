"""The sample company's pay cycle: a year run the way operations and finance would run it.

Every month before the last is evaluated by operations (``li.na``), approved and closed by finance
(``wang.fang``), in order. Then, before the last month is evaluated, three things happen that a real
month brings: a deal of a month already paid is cancelled in the CRM (its month is corrected in the
open month, as a prior-period adjustment), HR (``zhao.min``) releases a payout held over a finding (it
is paid once, in the open month), and operations asks for a one-off bonus that finance approves. The
last month is left evaluated and awaiting approval. Running it again changes nothing: closed months
stay closed, and each event happens once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import or_, select

from ..engine.evaluation import evaluate_plans
from ..findings.store import list_findings, review_finding
from ..ingest.loading import upsert_records
from ..ingest.records import DealRecord
from ..ledger.adjustments import decide_adjustment, list_adjustments, request_adjustment
from ..ledger.lifecycle import approve_period, close_period, period_states
from ..periods import Period, earlier_period, parse_period
from ..plans.files import plans_in_force
from ..store import schema as s
from ..store.database import Store
from ..store.runs import EvaluationRun

__all__ = ["OPERATIONS", "FINANCE", "HR", "DemoCycle", "run_demo_cycle"]

OPERATIONS, FINANCE, HR = "li.na", "wang.fang", "zhao.min"
CANCELLED = "Cancelled (refunded)"
BONUS_REASON = "One-off bonus: the Shenzhen trade fair booth, staffed over a weekend"
Progress = Callable[[str, int, int], None]


@dataclass
class DemoCycle:
    """What the sample's year of pay cycle did, for the demo to tell."""

    closed: list[str] = field(default_factory=list)
    cancelled: str | None = None  # the deal cancelled after its month was paid
    released: str | None = None  # the finding whose hold was released
    adjustment: int | None = None
    runs: list[EvaluationRun] = field(default_factory=list)  # the last month's, awaiting approval


def _months(first: str, last: str) -> list[Period]:
    months = [parse_period(last)]
    while months[-1].label != first:
        months.append(months[-1].previous())
    return list(reversed(months))


def _evaluate(store: Store, folder: Path, month: Period) -> list[EvaluationRun]:
    plans, _ = plans_in_force(folder, month)
    return evaluate_plans(store, plans, month, by=OPERATIONS) if plans else []


def _cancel_a_paid_deal(store: Store, month: Period) -> str | None:
    """The largest won deal of ``month`` that a sales rep closed, cancelled in the CRM (as a sync would write it)."""
    d, p = s.deals, s.people
    start, end = month.bounds_utc("Asia/Shanghai")
    with store.begin() as conn:
        row = conn.execute(
            select(d)
            .join(p, p.c.id == d.c.owner_id)
            .where(
                d.c.source == "demo",
                d.c.closed_at >= start,
                d.c.closed_at < end,
                p.c.role == "sales_rep",
                d.c.is_deleted.is_(False),
                or_(d.c.status == "won", d.c.stage_raw == CANCELLED),  # the same deal when run again
            )
            .order_by(d.c.amount.desc(), d.c.id)
            .limit(1)
        ).first()
        if row is None:
            return None
        if row.status == "won":
            record = DealRecord(
                remote_id=row.remote_id,
                owner_id=row.owner_id,
                status="lost",
                stage_raw=CANCELLED,
                amount=row.amount,
                currency=row.currency,
                closed_at=row.closed_at,
            )
            upsert_records(conn, "deals", "demo", [record])
    return str(row.remote_id)


def _release_a_hold(store: Store) -> str | None:
    """HR releases the first held payout's finding (once)."""
    held = [f for f in list_findings(store) if f.effect == "hold"]
    if not held:
        return None
    finding = sorted(held, key=lambda f: (f.period, f.id))[0]
    if finding.review is None:
        review_finding(
            store,
            finding.id,
            "release",
            "Checked with the customer: three separate orders from three sites, not one order split.",
            HR,
        )
    return finding.id


def _adjust(store: Store, month: Period) -> int:
    """Operations asks for a one-off bonus, finance approves it (once)."""
    for made in list_adjustments(store, period=month.label):
        if made.reason == BONUS_REASON:
            return made.id
    with store.connect() as conn:
        person = conn.execute(
            select(s.people.c.id).where(s.people.c.role == "sales_rep").order_by(s.people.c.id).limit(1)
        ).scalar()
    made = request_adjustment(
        store,
        person_id=str(person),
        amount=Decimal("2000"),
        currency="CNY",
        reason=BONUS_REASON,
        period=month.label,
        by=OPERATIONS,
        component="bonus",
    )
    decide_adjustment(store, made.id, approve=True, by=FINANCE, note="agreed with the sales director")
    return made.id


def run_demo_cycle(store: Store, folder: Path, first: str, last: str, progress: Progress | None = None) -> DemoCycle:
    """Close every month before ``last`` in order, bring the late events, evaluate ``last`` (awaiting approval)."""
    step = progress or (lambda *_: None)
    cycle = DemoCycle()
    months = _months(first, last)
    states = {(st.plan_id, st.period): st.status for st in period_states(store)}
    for index, month in enumerate(months[:-1]):
        step(f"closing {month.label}", index, len(months))
        if any(status == "closed" for (_, label), status in states.items() if label == month.label):
            cycle.closed.append(month.label)
            continue
        if not _evaluate(store, folder, month):
            continue
        approve_period(store, None, month.label, FINANCE)
        close_period(store, None, month.label, FINANCE)
        cycle.closed.append(month.label)
    last_month = months[-1]
    cycle.cancelled = _cancel_a_paid_deal(store, earlier_period(last_month, 2))
    cycle.released = _release_a_hold(store)
    cycle.adjustment = _adjust(store, last_month)
    step(f"evaluating {last_month.label}", len(months) - 1, len(months))
    cycle.runs = _evaluate(store, folder, last_month)
    step("done", len(months), len(months))
    return cycle


def awaiting(runs: Sequence[EvaluationRun]) -> list[str]:
    """The plans of ``runs`` (the last month) with money to approve."""
    return sorted({r.plan_id for r in runs if any(o.kind in ("payout", "held") and o.amount for o in r.outcomes)})
