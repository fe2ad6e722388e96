"""A plan's period through the pay cycle: calculated → approved → closed, and reopened with a reason.

- **calculated**: evaluated; every evaluation (re)sets it, since an approval is of specific numbers
  (the run's id is a digest of them).
- **approved**: by someone other than who last evaluated it (four eyes), of the run then saved.
- **closed**: its approved run posted to the ledger (``posting``); from then on no evaluation may
  touch its days, whatever label it is asked under (``2026-10``, ``2026-10-01..2026-10-31``, ``2026-Q4``).
- **reopened**: back to calculated, with a reason, only while nothing of it was paid and no later
  period has corrected it; closing it again posts only the differences.

Each step writes the audit trail in the same transaction.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, TypeVar

from sqlalchemy import ColumnElement, Connection, and_, select, update

from ..errors import EvaluationError, PayCycleError
from ..periods import Period, parse_period
from ..store import schema as s
from ..store.audit import record_action
from ..store.database import Store
from .posting import PostSummary, lines_of_run, outcome_rows, post_lines

__all__ = [
    "PeriodState",
    "Status",
    "approve_period",
    "close_period",
    "ensure_open",
    "period_lock",
    "period_states",
    "record_evaluation",
    "reopen_period",
]

Status = Literal["calculated", "approved", "closed"]
T = TypeVar("T")


@dataclass(frozen=True)
class PeriodState:
    """Where one plan's period stands, with who moved it there and when."""

    plan_id: str
    period: str
    start: date
    end: date
    status: str
    run_id: str
    evaluated_by: str
    evaluated_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "plan": self.plan_id,
            "period": self.period,
            "status": self.status,
            "run": self.run_id,
            "evaluated_by": self.evaluated_by,
            "evaluated_at": self.evaluated_at.isoformat(timespec="seconds"),
            "approved_by": self.approved_by,
            "approved_at": self.approved_at.isoformat(timespec="seconds") if self.approved_at else None,
            "closed_by": self.closed_by,
            "closed_at": self.closed_at.isoformat(timespec="seconds") if self.closed_at else None,
        }


def _state(row: object) -> PeriodState:
    r = row._mapping  # type: ignore[attr-defined]
    return PeriodState(
        plan_id=r["plan_id"],
        period=r["period"],
        start=r["period_start"],
        end=r["period_end"],
        status=r["status"],
        run_id=r["run_id"],
        evaluated_by=r["evaluated_by"],
        evaluated_at=r["evaluated_at"],
        approved_by=r["approved_by"],
        approved_at=r["approved_at"],
        closed_by=r["closed_by"],
        closed_at=r["closed_at"],
    )


def ensure_open(conn: Connection, plan_id: str, period: Period) -> None:
    """Refuse to evaluate days of a closed period of the plan, under any label."""
    runs = s.evaluation_runs
    closed = conn.execute(
        select(runs.c.period, runs.c.id)
        .where(
            runs.c.plan_id == plan_id,
            runs.c.status == "closed",
            runs.c.period_start < period.end,
            period.start < runs.c.period_end,
        )
        .order_by(runs.c.period_start)
    ).first()
    if closed is None:
        return
    label, run_id = closed
    if label == period.label:
        message = f"{period.label} is closed for plan {plan_id!r} (run {run_id}); a closed period never changes."
    else:
        message = (
            f"{period.label} overlaps {label}, which is closed for plan {plan_id!r} (run {run_id}); "
            "a closed period never changes, under any label."
        )
    raise EvaluationError(
        message,
        hint="a late fact for a closed period is paid as a prior-period adjustment when the open period is evaluated",
    )


def record_evaluation(conn: Connection, plan_id: str, period: Period, run_id: str, by: str, at: datetime) -> None:
    """An evaluation saved: the period is calculated, by ``by``, whatever it was before (closed excepted)."""
    p = s.period_states
    values = {
        "period_start": period.start,
        "period_end": period.end,
        "status": "calculated",
        "run_id": run_id,
        "evaluated_by": by,
        "evaluated_at": at,
        "approved_by": None,
        "approved_at": None,
        "closed_by": None,
        "closed_at": None,
    }
    done = conn.execute(update(p).where(p.c.plan_id == plan_id, p.c.period == period.label).values(**values))
    if not done.rowcount:
        conn.execute(p.insert().values(plan_id=plan_id, period=period.label, **values))
    record_action(conn, by, "evaluate", plan_id=plan_id, period=period.label, run_id=run_id, at=at)


def period_states(store: Store, *, plan_id: str | None = None, period: str | None = None) -> list[PeriodState]:
    """Every plan's periods with where they stand, by plan and period start."""
    p = s.period_states
    query = select(p).order_by(p.c.plan_id, p.c.period_start, p.c.period)
    if plan_id is not None:
        query = query.where(p.c.plan_id == plan_id)
    if period is not None:
        query = query.where(p.c.period == parse_period(period).label)
    with store.connect() as conn:
        return [_state(row) for row in conn.execute(query)]


def _targets(conn: Connection, plan_id: str | None, label: str) -> list[PeriodState]:
    p = s.period_states
    query = select(p).where(p.c.period == label).order_by(p.c.plan_id)
    if plan_id is not None:
        query = query.where(p.c.plan_id == plan_id)
    found = [_state(row) for row in conn.execute(query)]
    if not found:
        whose = f"plan {plan_id!r}" if plan_id else "any plan"
        raise PayCycleError(
            f"{label} has not been evaluated for {whose}.",
            hint=f"evaluate it first: kpi evaluate --plan {plan_id or 'rules/'} --period {label}",
        )
    return found


def period_lock(plan_id: str, label: str) -> int:
    """The key of the lock every step of a plan's period takes (evaluate, approve, close, reopen)."""
    return zlib.crc32(f"{plan_id}|{label}".encode())


def _under_period_locks(
    store: Store, plan_id: str | None, label: str, step: Callable[[Connection, list[PeriodState]], T]
) -> T:
    """Run one pay-cycle step on the plans' period under their locks, on one state of the store,
    so it never interleaves with an evaluation, or another step, of the same plan and period."""
    with store.connect() as conn:
        locked = {state.plan_id for state in _targets(conn, plan_id, label)}

    def locked_step(conn: Connection) -> T:
        states = _targets(conn, plan_id, label)
        if {state.plan_id for state in states} - locked:
            raise PayCycleError(
                f"a plan was evaluated for {label} while this command ran; nothing was changed.",
                hint="run the command again",
            )
        return step(conn, states)

    return store.write_in_snapshot(locked_step, locks=[period_lock(plan, label) for plan in sorted(locked)])


def approve_period(store: Store, plan_id: str | None, period: str, by: str) -> list[PeriodState]:
    """Approve the calculated period of one plan (or of every plan evaluated for it): four eyes."""
    label = parse_period(period).label
    now = datetime.now(UTC)

    def approve(conn: Connection, states: list[PeriodState]) -> list[PeriodState]:
        for state in states:
            if state.status != "calculated":
                raise PayCycleError(
                    f"{label} of plan {state.plan_id!r} is {state.status}, not awaiting approval.",
                    hint="only a calculated period is approved; reopen a closed one with a reason first",
                )
            if state.evaluated_by == by:
                raise PayCycleError(
                    f"{by} evaluated {label} of plan {state.plan_id!r} and cannot approve it too (four eyes).",
                    hint="someone else approves it: kpi --as NAME period approve ...",
                )
        p = s.period_states
        for state in states:
            conn.execute(
                update(p)
                .where(p.c.plan_id == state.plan_id, p.c.period == label, p.c.status == "calculated")
                .values(status="approved", approved_by=by, approved_at=now)
            )
            record_action(conn, by, "approve", plan_id=state.plan_id, period=label, run_id=state.run_id, at=now)
        return [_state(row) for row in conn.execute(select(p).where(p.c.period == label, _plans(states)))]

    return _under_period_locks(store, plan_id, label, approve)


def _plans(states: Sequence[PeriodState]) -> ColumnElement[bool]:
    return s.period_states.c.plan_id.in_([st.plan_id for st in states])


def close_period(store: Store, plan_id: str | None, period: str, by: str) -> dict[str, PostSummary]:
    """Close an approved period (of one plan or of every plan evaluated for it): post its run to the ledger."""
    label = parse_period(period).label
    now = datetime.now(UTC)

    def close(conn: Connection, states: list[PeriodState]) -> dict[str, PostSummary]:
        posted: dict[str, PostSummary] = {}
        for state in states:
            if state.status != "approved":
                raise PayCycleError(
                    f"{label} of plan {state.plan_id!r} is {state.status}; only an approved period is closed.",
                    hint=f"approve it first: kpi --as NAME period approve --plan {state.plan_id} --period {label}",
                )
        runs, p = s.evaluation_runs, s.period_states
        for state in states:
            current = conn.execute(
                select(runs.c.id).where(runs.c.plan_id == state.plan_id, runs.c.period == label)
            ).scalar()
            if current != state.run_id:
                raise PayCycleError(
                    f"the run approved for {label} of plan {state.plan_id!r} is no longer the saved one.",
                    hint="evaluate and approve the period again",
                )
            rows = outcome_rows(conn, state.run_id)
            posted[state.plan_id] = post_lines(
                conn,
                plan_id=state.plan_id,
                period=label,
                run_id=state.run_id,
                lines=lines_of_run(state.plan_id, label, rows),
                by=by,
                now=now,
            )
            conn.execute(update(runs).where(runs.c.id == state.run_id).values(status="closed"))
            conn.execute(
                update(p)
                .where(p.c.plan_id == state.plan_id, p.c.period == label)
                .values(status="closed", closed_by=by, closed_at=now)
            )
            summary = posted[state.plan_id]
            record_action(
                conn,
                by,
                "close",
                plan_id=state.plan_id,
                period=label,
                run_id=state.run_id,
                at=now,
                details={"entries": summary.entries, "corrections": summary.corrections},
            )
        return posted

    return _under_period_locks(store, plan_id, label, close)


def reopen_period(store: Store, plan_id: str, period: str, by: str, reason: str) -> PeriodState:
    """Reopen a closed period with a reason, while nothing of it was paid and no later period corrected it."""
    label = parse_period(period).label
    if not reason.strip():
        raise PayCycleError("say why the period is reopened: --reason TEXT.")
    now = datetime.now(UTC)

    def reopen(conn: Connection, states: list[PeriodState]) -> PeriodState:
        [state] = states
        if state.status != "closed":
            raise PayCycleError(f"{label} of plan {plan_id!r} is {state.status}, not closed; nothing to reopen.")
        e = s.ledger_entries
        paid = conn.execute(select(e.c.id).where(e.c.kind == "payment", e.c.period_posted == label).limit(1)).first()
        if paid is not None:
            raise PayCycleError(
                f"{label} has been exported to payroll; a paid period is not reopened.",
                hint="correct it with an adjustment in the open period: kpi adjust --person P --amount X --reason TEXT",
            )
        corrected = conn.execute(
            select(e.c.period_posted)
            .where(and_(e.c.plan_id == plan_id, e.c.corrects == label, e.c.period_posted != label))
            .limit(1)
        ).scalar()
        if corrected is not None:
            raise PayCycleError(
                f"{label} of plan {plan_id!r} has been corrected by a prior-period adjustment in {corrected}; "
                "reopening it would pay that correction twice.",
                hint="correct it again through the open period (a late fact is adjusted there automatically)",
            )
        runs, p = s.evaluation_runs, s.period_states
        conn.execute(update(runs).where(runs.c.id == state.run_id).values(status="open"))
        conn.execute(
            update(p)
            .where(p.c.plan_id == plan_id, p.c.period == label)
            .values(status="calculated", approved_by=None, approved_at=None, closed_by=None, closed_at=None)
        )
        record_action(conn, by, "reopen", plan_id=plan_id, period=label, run_id=state.run_id, reason=reason, at=now)
        return _state(conn.execute(select(p).where(p.c.plan_id == plan_id, p.c.period == label)).one())

    return _under_period_locks(store, plan_id, label, reopen)
