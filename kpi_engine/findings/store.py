"""Saved findings and HR's reviews of them: listing, and recording a release or an upheld decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ..errors import ConfigurationError
from ..store import schema as s
from ..store.audit import record_action
from ..store.database import Store
from ..trace import TraceView
from .model import FINDING

__all__ = ["SavedFinding", "list_findings", "review_finding", "reviews_of"]

DECISIONS = ("release", "uphold")


@dataclass(frozen=True)
class SavedFinding:
    """A finding line of a saved run, with HR's decision on it if there is one."""

    id: str
    plan_id: str
    run_id: str
    check: str
    rule_id: str
    person_id: str
    period: str
    severity: str
    effect: str
    affects: tuple[str, ...]
    explanation: str
    evidence: Mapping[str, tuple[Any, ...]]
    figures: Mapping[str, Any]
    review: str | None = None
    review_note: str | None = None
    category: str = "gaming"
    """``gaming`` (a signal of gaming) or ``process`` (a gap in how work is recorded, such as missing evidence)."""

    def evidence_text(self) -> str:
        return "; ".join(f"{table}: {', '.join(str(i) for i in ids)}" for table, ids in self.evidence.items())

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "plan": self.plan_id,
            "run": self.run_id,
            "check": self.check,
            "category": self.category,
            "rule": self.rule_id,
            "person": self.person_id,
            "period": self.period,
            "severity": self.severity,
            "effect": self.effect,
            "affects": list(self.affects),
            "explanation": self.explanation,
            "evidence": {table: list(ids) for table, ids in self.evidence.items()},
            "figures": dict(self.figures),
            "review": self.review,
            "review_note": self.review_note,
        }


def reviews_of(conn: Connection, plan_id: str) -> dict[str, tuple[str, str]]:
    """Finding id -> (decision, person), for one plan."""
    r = s.finding_reviews
    rows = conn.execute(select(r.c.finding_id, r.c.decision, r.c.person_id).where(r.c.plan_id == plan_id))
    return {fid: (decision, person) for fid, decision, person in rows}


def list_findings(
    store: Store,
    *,
    run_id: str | None = None,
    plan_id: str | None = None,
    period: str | None = None,
    person_id: str | None = None,
    check: str | None = None,
) -> list[SavedFinding]:
    """Findings of one run, or of the saved run of every plan and period (a re-run replaces a period's run)."""
    runs, o, r = s.evaluation_runs, s.outcomes, s.finding_reviews
    query = (
        select(runs.c.plan_id, runs.c.id, runs.c.period, o.c.person_id, o.c.rule_id, o.c.trace)
        .join(o, o.c.run_id == runs.c.id)
        .where(o.c.kind == FINDING)
        .order_by(runs.c.plan_id, runs.c.period_start, o.c.person_id, o.c.id)
    )
    if run_id:
        query = query.where(runs.c.id == run_id)
    if plan_id:
        query = query.where(runs.c.plan_id == plan_id)
    if period:
        query = query.where(runs.c.period == period)
    if person_id:
        query = query.where(o.c.person_id == person_id)
    with store.connect() as conn:
        if run_id and conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise ConfigurationError(f"there is no evaluation run {run_id!r}.", hint="`kpi runs` lists the saved runs")
        rows = conn.execute(query).all()
        reviews = {
            fid: (decision, note)
            for fid, decision, note in conn.execute(select(r.c.finding_id, r.c.decision, r.c.note))
        }
    found: list[SavedFinding] = []
    for plan, run, label, person, rule, trace in rows:
        view = TraceView(trace)
        name = view.check or rule
        if check and check not in (name, rule):
            continue
        fid = view.finding_id or ""
        decision, note = reviews.get(fid, (None, None))
        found.append(
            SavedFinding(
                id=fid,
                plan_id=plan,
                run_id=run,
                check=name,
                rule_id=rule,
                person_id=person,
                period=view.period or label,
                severity=view.severity or "",
                effect=view.effect,
                affects=tuple(view.affects),
                explanation=" ".join(view.explanation),
                evidence={rec["table"]: tuple(rec["ids"]) for rec in view.records},
                figures=dict(view.figures),
                review=decision,
                review_note=note,
                category=view.category,
            )
        )
    return found


def review_finding(store: Store, finding_id: str, decision: str, note: str, reviewed_by: str) -> SavedFinding:
    """Record HR's decision on a finding (once): ``release`` pays a held payout in the first period after the
    hold that is not closed, ``uphold`` never does. The decision is in the audit trail."""
    if decision not in DECISIONS:
        raise ConfigurationError(f"a review decides {' or '.join(DECISIONS)}, not {decision!r}.")
    if not note.strip():
        raise ConfigurationError("a review needs a note saying why (--note).")
    matches = [f for f in list_findings(store) if f.id == finding_id]
    if not matches:
        raise ConfigurationError(
            f"there is no finding {finding_id!r} in the saved runs.", hint="`kpi findings` lists them with their ids"
        )
    finding = matches[0]
    r = s.finding_reviews
    with store.begin() as conn:
        earlier = conn.execute(
            select(r.c.decision, r.c.reviewed_by, r.c.reviewed_at).where(r.c.finding_id == finding_id)
        ).first()
        if earlier is not None:
            raise ConfigurationError(
                f"finding {finding_id} was already reviewed ({earlier[0]} by {earlier[1]} on {earlier[2]:%Y-%m-%d}); a "
                "review is final.",
            )
        conn.execute(
            insert(r).values(
                finding_id=finding_id,
                plan_id=finding.plan_id,
                check_rule=finding.rule_id,
                person_id=finding.person_id,
                period=finding.period,
                decision=decision,
                note=note.strip(),
                reviewed_by=reviewed_by,
                reviewed_at=datetime.now(UTC),
            )
        )
        record_action(
            conn,
            reviewed_by,
            "review",
            plan_id=finding.plan_id,
            period=finding.period,
            run_id=finding.run_id,
            subject=finding_id,
            reason=note.strip(),
            details={"decision": decision, "person": finding.person_id, "check": finding.check},
        )
    return SavedFinding(**{**finding.__dict__, "review": decision, "review_note": note.strip()})
