"""Prior-period adjustments: a closed period touched by a later fact is compared with what it paid.

When an open period of a plan is evaluated, each closed period of the plan before it (at most
``pay_cycle.lookback``) that a load changed *after it was closed* — a load whose rows are about the
closed period's days (``fact_changes``), in a table its run read — is evaluated again in memory with
the facts known now. For each ledger event of that period (a rule's line for a person) the
difference between what it would pay now and what the ledger holds for it (the first posting and
every adjustment since) is an **adjustment**: a line of the open period's run (plan setting
``prior_period_adjustments: post``, the default) or a proposal awaiting approval (``review``). Its
trace names the closed period, both amounts, the loads that touched it and the records the line is
computed from now. The closed period itself never changes.

Only what a period earned is compared: releases of holds and earlier adjustments are payments of
other events, and holds are not paid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from ..money import money_text
from ..periods import Period, parse_period
from ..plans.model import LoadedPlan
from ..registry import Registry
from ..store import schema as s
from ..store.runs import Outcome
from ..trace import PriorPeriodNote, RecordsRef, TraceView
from .posting import PAYABLE, base_key, lines_of_run

__all__ = ["ClosedPeriodChange", "prior_period_adjustments", "touched_closed_periods"]

ZERO = Decimal(0)


class ClosedPeriodChange:
    """A closed period of a plan, and the loads that touched its days after it was closed."""

    def __init__(self, period: Period, run_id: str, closed_at: datetime, changes: list[dict[str, Any]]) -> None:
        self.period = period
        self.run_id = run_id
        self.closed_at = closed_at
        self.changes = changes


def touched_closed_periods(
    conn: Connection, loaded: LoadedPlan, before: Period, lookback: int
) -> list[ClosedPeriodChange]:
    """The plan's closed periods ending by ``before``'s start (the last ``lookback``), touched by a later load."""
    if lookback <= 0:
        return []
    runs, states = s.evaluation_runs, s.period_states
    closed = conn.execute(
        select(runs.c.id, runs.c.period, runs.c.tables_read)
        .add_columns(states.c.closed_at)
        .join(states, and_(states.c.plan_id == runs.c.plan_id, states.c.period == runs.c.period))
        .where(
            runs.c.plan_id == loaded.id,
            runs.c.status == "closed",
            states.c.status == "closed",
            runs.c.period_end <= before.start,
        )
        .order_by(runs.c.period_start.desc())
        .limit(lookback)
    ).all()
    found: list[ClosedPeriodChange] = []
    f = s.fact_changes
    for run_id, label, tables, closed_at in reversed(closed):
        period = parse_period(label)
        first, last = period.bounds_utc(loaded.plan.time_zone)
        query = select(f.c.table_name, f.c.source, f.c.changed_at, f.c.rows).where(
            f.c.changed_at > closed_at,
            or_(
                f.c.first_at.is_(None),
                and_(f.c.first_at < last + timedelta(days=1), f.c.last_at >= first - timedelta(days=1)),
            ),
        )
        if tables:
            query = query.where(f.c.table_name.in_(sorted(tables)))
        changes = [
            {"table": t, "source": src, "at": at.isoformat(timespec="seconds"), "rows": n}
            for t, src, at, n in conn.execute(query.order_by(f.c.id))
        ]
        if changes:
            found.append(ClosedPeriodChange(period, run_id, closed_at, changes))
    return found


def _paid(conn: Connection, plan_id: str, label: str) -> dict[str, tuple[Decimal, str, str, str, str]]:
    """What the ledger holds for each event a closed period earned: base key -> (amount, kind, person, rule,
    component)."""
    e = s.ledger_entries
    rows = conn.execute(
        select(e.c.entry_key, e.c.amount, e.c.kind, e.c.person_id, e.c.rule_id, e.c.component).where(
            e.c.plan_id == plan_id, e.c.period_earned == label, e.c.kind != "payment"
        )
    ).all()
    paid: dict[str, tuple[Decimal, str, str, str, str]] = {}
    for key, amount, kind, person, rule, component in rows:
        if "|release|" in key:
            continue
        base = base_key(key)
        total, first_kind, *_ = paid.get(base, (ZERO, kind))
        if first_kind == "adjustment":
            first_kind = kind  # the event's own kind, from its first posting
        paid[base] = (total + amount, first_kind, person, rule or "", component)
    return paid


def prior_period_adjustments(
    conn: Connection,
    loaded: LoadedPlan,
    period: Period,
    registry: Registry,
    recompute: Any,
) -> list[Outcome]:
    """The adjustment lines of ``period``'s run for the plan's closed periods touched since they closed.

    ``recompute(period)`` evaluates a closed period again in memory and returns its outcome lines.
    With the plan's ``review`` policy the lines are proposals for ``kpi adjust`` instead (the caller
    records them); either way they are returned, each with its ``prior_period`` note.
    """
    lines: list[Outcome] = []
    for touched in touched_closed_periods(conn, loaded, period, loaded.plan.pay_cycle.lookback):
        closed = touched.period
        if not loaded.in_force(closed):
            continue  # another version of the plan paid it; its own file is the one to compare with
        recomputed: Sequence[Outcome] = recompute(closed)
        now: dict[str, tuple[Decimal, Outcome | None]] = {}
        records: dict[str, list[RecordsRef]] = {}
        for money_line, entry in zip(
            [o for o in recomputed if o.kind in ("payout", "held") and o.amount],
            lines_of_run(loaded.id, closed.label, recomputed),
            strict=True,
        ):
            if "|release|" in entry.key or "#adj@" in entry.key:
                continue
            amount = now.get(entry.key, (ZERO, money_line))[0] + entry.amount
            now[entry.key] = (amount, money_line)
            records[entry.key] = TraceView(money_line.trace).records
        paid = _paid(conn, loaded.id, closed.label)
        for key in sorted(set(now) | set(paid)):
            now_amount, line = now[key] if key in now else (ZERO, None)
            paid_amount, kind, person, rule, component = paid.get(key, (ZERO, "", "", "", ""))
            if line is not None:
                kind = kind or ("hold" if line.kind == "held" else line.ledger_kind or "earning")
                person, rule, component = line.person_id, line.rule_id, line.component or line.rule_id
            if kind not in PAYABLE or now_amount == paid_amount:
                continue
            delta = now_amount - paid_amount
            note = PriorPeriodNote(
                period=closed.label,
                key=key,
                paid=money_text(paid_amount),
                now=money_text(now_amount),
                changes=touched.changes,
                records=records.get(key, []),
            )
            tables = ", ".join(sorted({c["table"] for c in touched.changes}))
            sentence = (
                f"Prior-period adjustment for {closed.label} (closed {touched.closed_at:%Y-%m-%d}): {rule} would pay "
                f"{money_text(now_amount)} now against {money_text(paid_amount)} paid, after later changes to "
                f"{tables}; the difference, {money_text(delta)}, is paid in {period.label}."
            )
            lines.append(
                Outcome(
                    person,
                    rule,
                    "payout",
                    delta,
                    loaded.plan.currency,
                    {"rule": rule, "prior_period": note, "explanation": [sentence], "records": note["records"]},
                    None,
                    False,
                    "adjustment",
                    component,
                )
            )
    return lines


def proposals_of(lines: Sequence[Outcome], plan_id: str, period: Period, by: str) -> list[dict[str, Any]]:
    """Rows of ``adjustments`` for prior-period lines a plan wants reviewed before they are paid."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for line in lines:
        note = TraceView(line.trace).prior_period
        assert note is not None and line.amount is not None
        rows.append(
            {
                "origin": "prior_period",
                "person_id": line.person_id,
                "plan_id": plan_id,
                "rule_id": line.rule_id,
                "period": period.label,
                "corrects": note["period"],
                "amount": line.amount,
                "currency": line.currency or "",
                "component": line.component or line.rule_id,
                "reason": " ".join(TraceView(line.trace).explanation),
                "details": dict(note),
                "proposal_key": f"{note['key']}#adj@{note['paid']}",
                "status": "pending",
                "requested_by": by,
                "requested_at": now,
            }
        )
    return rows


def by_person(lines: Sequence[Outcome]) -> dict[str, Decimal]:
    """The adjustment lines' total per person (what the evaluation prints)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.person_id] += line.amount or ZERO
    return dict(totals)
