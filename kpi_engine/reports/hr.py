"""HR's page: PIP recommendations and observations, alerts that fire or stopped firing, and anti-gaming
findings awaiting review, each with its evidence (the periods and values, the records with CRM ids)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..findings.store import SavedFinding
from ..trace import RecordsRef, TraceView
from .period_data import PeriodData
from .records import RecordBook, RecordRow
from .roster import Member, Roster

__all__ = ["HRItem", "HRPage", "build_hr_page", "finding_refs"]

PIP_ORDER = {"raised": 0, "failed": 1, "extended": 2, "observing": 3, "passed": 4}


@dataclass(frozen=True)
class HRItem:
    """A recommendation, alert or finding about a person, with its evidence."""

    kind: str  # recommendation / alert / finding
    plan_id: str
    rule_id: str
    member: Member
    status: str
    attention: bool
    explanation: str
    evidence: tuple[Mapping[str, Any], ...]  # periods or intervals and their values
    records: tuple[RecordRow, ...]
    finding_id: str | None = None
    effect: str | None = None
    severity: str | None = None
    period: str | None = None


@dataclass(frozen=True)
class HRPage:
    recommendations: tuple[HRItem, ...]
    alerts: tuple[HRItem, ...]
    findings: tuple[HRItem, ...]


def finding_refs(findings: Sequence[SavedFinding]) -> list[RecordsRef]:
    return [RecordsRef(table=t, ids=list(ids)) for f in findings for t, ids in f.evidence.items()]


def build_hr_page(data: PeriodData, roster: Roster, findings: Sequence[SavedFinding], book: RecordBook) -> HRPage:
    def member(pid: str) -> Member:
        return roster.people.get(pid) or Member(pid, pid, None, None, None, None, None, None)

    recommendations, alerts = [], []
    for line in data.lines:
        view = TraceView(line.trace)
        evidence = line.trace.get("evidence")
        item = HRItem(
            kind=line.kind,
            plan_id=line.plan_id,
            rule_id=line.rule_id,
            member=member(line.person_id),
            status=line.status or "",
            attention=line.attention,
            explanation=" ".join(view.explanation),
            evidence=tuple(e for e in evidence if isinstance(e, Mapping)) if isinstance(evidence, list) else (),
            records=(),
            period=str(line.trace.get("at") or data.period.label),
        )
        if line.kind == "recommendation":
            recommendations.append(item)
        elif line.kind == "alert":
            alerts.append(item)
    recommendations.sort(key=lambda i: (PIP_ORDER.get(i.status, 9), i.member.name))
    alerts.sort(key=lambda i: (i.status != "firing", i.period or "", i.member.name))
    awaiting = [
        HRItem(
            kind="finding",
            plan_id=f.plan_id,
            rule_id=f.check,
            member=member(f.person_id),
            status="awaiting review",
            attention=True,
            explanation=f.explanation,
            evidence=tuple({"figure": k, "value": v} for k, v in f.figures.items()),
            records=tuple(book.rows(RecordsRef(table=t, ids=list(ids)) for t, ids in f.evidence.items())),
            finding_id=f.id,
            effect=f.effect,
            severity=f.severity,
            period=f.period,
        )
        for f in findings
        if f.review is None
    ]
    awaiting.sort(key=lambda i: (i.period or "", i.member.name), reverse=True)
    return HRPage(tuple(recommendations), tuple(alerts), tuple(awaiting))
