"""Prior-period adjustments: a closed period touched by a later fact is compared with what it paid.

When an open period of a plan is evaluated, each closed period of the plan before it (at most
``pay_cycle.lookback``) that a load changed *after its numbers were computed* — a load whose rows are about the
closed period's days (``fact_changes``), in a table its run read — is evaluated again in memory with
the facts known now. For each ledger event of that period (a rule's line for a person) the
difference between what it would pay now and what the ledger holds for it (the first posting and
every adjustment since) is an **adjustment**: a line of the open period's run (plan setting
``prior_period_adjustments: post``, the default) or a proposal awaiting approval (``review``). Its
trace names the closed period, both amounts, the loads that touched it and the records the line is
computed from now. The closed period itself never changes.

Only what a period earned is compared, per rule and person: releases and adjustments in its run pay
other periods, and a hold counts once its release is paid.
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
from ..trace import PriorPeriodNote, TraceView
from .posting import PAYABLE

__all__ = ["ClosedPeriodChange", "paid_for", "prior_period_adjustments", "touched_closed_periods"]

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
        .add_columns(runs.c.created_at, states.c.closed_at)
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
    for run_id, label, tables, evaluated_at, closed_at in reversed(closed):
        period = parse_period(label)
        first, last = period.bounds_utc(loaded.plan.time_zone)
        # Since its numbers were computed: a change between evaluating and closing is as late as one after.
        query = select(f.c.table_name, f.c.source, f.c.changed_at, f.c.rows).where(
            f.c.changed_at > evaluated_at,
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


def paid_for(
    conn: Connection, plan_id: str, label: str, *, not_posted_in: str | None = None
) -> dict[tuple[str, str], tuple[Decimal, str, bool]]:
    """What the ledger has paid for what a closed period earned, per (rule, person): its lines, the prior-period
    adjustments of it and the releases of its holds; with the component paid as and whether a release was posted.

    ``not_posted_in``: a period being evaluated again (reopened): what it posted is what its new run replaces."""
    e = s.ledger_entries
    query = select(e.c.amount, e.c.kind, e.c.person_id, e.c.rule_id, e.c.component).where(
        e.c.plan_id == plan_id, e.c.period_earned == label, e.c.kind.in_(sorted(PAYABLE))
    )
    if not_posted_in is not None:
        query = query.where(e.c.period_posted != not_posted_in)
    rows = conn.execute(query).all()
    paid: dict[tuple[str, str], tuple[Decimal, str, bool]] = {}
    for amount, kind, person, rule, component in rows:
        total, first, released = paid.get((rule or "", person), (ZERO, component, False))
        paid[(rule or "", person)] = (total + amount, first, released or kind == "release")
    return paid


def _earned(recomputed: Sequence[Outcome], released: set[tuple[str, str]]) -> dict[tuple[str, str], list[Outcome]]:
    """A closed period's own money lines, recomputed, per (rule, person): what it earned (a release or an
    adjustment in its run pays another period) and its holds once their release was posted."""
    earned: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for line in recomputed:
        if not line.amount or line.kind not in ("payout", "held"):
            continue
        if line.ledger_kind == "release":
            continue  # pays the period of the hold
        if line.ledger_kind == "adjustment" and TraceView(line.trace).prior_period is not None:
            continue  # pays the period it corrects (only these lines' traces are looked into: they are few)
        if line.kind == "held" and (line.rule_id, line.person_id) not in released:
            continue  # not paid until released
        earned[(line.rule_id, line.person_id)].append(line)
    return earned


def _reversed_by_rules(loaded: LoadedPlan, registry: Registry) -> set[str]:
    """The late events a rule of the plan takes back itself (a clawback of lost deals)."""
    found: set[str] = set()
    for rule in loaded.plan.rules:
        found |= registry.rule_type(rule.type).reverses(loaded.configs[rule.id])
    return found


def _deals_lost_since(conn: Connection, run_id: str) -> list[int]:
    """The deals a closed run paid on (the records of its lines) that are lost now."""
    o, d = s.outcomes, s.deals
    paid_on: set[int] = set()
    for (refs,) in conn.execute(select(o.c.trace["records"]).where(o.c.run_id == run_id)):
        for ref in refs if isinstance(refs, list) else [refs] if isinstance(refs, dict) else []:
            if isinstance(ref, dict) and ref.get("table") == "deals":
                paid_on.update(int(i) for i in ref.get("ids", []) if isinstance(i, int))
    lost: list[int] = []
    wanted = sorted(paid_on)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        lost.extend(conn.execute(select(d.c.id).where(d.c.id.in_(chunk), d.c.status == "lost")).scalars())
    return lost


def prior_period_adjustments(
    conn: Connection,
    loaded: LoadedPlan,
    period: Period,
    registry: Registry,
    recompute: Any,
) -> list[Outcome]:
    """The adjustment lines of ``period``'s run for the plan's closed periods touched since they were computed.

    ``recompute(period, still_won)`` evaluates a closed period again in memory and returns its outcome lines,
    with the deals ``still_won`` counted as won: when a rule of the plan takes back lost deals itself (a
    clawback of ``deal_lost``), the deals a closed period paid on that are lost now are its to take back, by
    its own policy, and the comparison leaves them alone (else they would be taken back twice).
    With the plan's ``review`` policy the lines are proposals for ``kpi adjust`` instead (the caller
    records them); either way they are returned, each with its ``prior_period`` note. What is compared,
    per rule and person: the period's own lines now (its holds counted once their release is posted)
    against everything the ledger paid for what the period earned (its lines, adjustments of them, the
    releases of its holds).
    """
    lines: list[Outcome] = []
    takes_back_lost_deals = "deal_lost" in _reversed_by_rules(loaded, registry)
    for touched in touched_closed_periods(conn, loaded, period, loaded.plan.pay_cycle.lookback):
        closed = touched.period
        if not loaded.in_force(closed):
            continue  # another version of the plan paid it; its own file is the one to compare with
        paid = paid_for(conn, loaded.id, closed.label, not_posted_in=period.label)
        released = {key for key, (_, _, was_released) in paid.items() if was_released}
        still_won = _deals_lost_since(conn, touched.run_id) if takes_back_lost_deals else []
        earned = _earned(recompute(closed, still_won), released)
        for rule, person in sorted(set(earned) | set(paid)):
            now_lines = earned.get((rule, person), [])
            now_amount = sum((o.amount or ZERO for o in now_lines), ZERO)
            paid_amount, component, _ = paid.get((rule, person), (ZERO, "", False))
            if now_amount == paid_amount:
                continue
            component = now_lines[0].component or rule if now_lines else component
            delta = now_amount - paid_amount
            note = PriorPeriodNote(
                period=closed.label,
                key=f"{loaded.id}|{closed.label}|{rule}|{person}",
                paid=money_text(paid_amount),
                now=money_text(now_amount),
                changes=touched.changes,
                records=[r for o in now_lines for r in TraceView(o.trace).records],
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
