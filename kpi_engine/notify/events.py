"""What is worth telling someone: new PIP recommendations, alerts that start or stop firing, findings
awaiting review, periods awaiting approval, and each manager's weekly digest.

Events are read from the saved runs; each has a key that names it for good (a PIP recommendation of a
person, rule and period with its status; an alert's state change on its day; a finding's id), so the
outbox can send it to a channel once. ``facts`` holds everything a message could say; what a channel
is allowed to say of it is decided when the message is written (``messages``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Text, cast, exists, func, select

from ..findings.store import list_findings
from ..periods import Period, parse_period
from ..reports.roster import Roster, load_roster
from ..store import schema as s
from ..store.database import Store
from ..trace import TraceView

__all__ = ["EVENT_KINDS", "Event", "EventKind", "collect_events", "default_since", "weekly_digests"]

EventKind = Literal["pip", "alert", "finding", "approval", "digest"]
EVENT_KINDS: tuple[EventKind, ...] = ("pip", "alert", "finding", "approval", "digest")
PIP_STATUSES = ("raised", "failed", "extended", "passed")  # "observing" repeats monthly: not news


@dataclass(frozen=True)
class Event:
    """Something to tell, named for good by ``key``."""

    key: str
    kind: EventKind
    period: str
    person_id: str | None = None
    team_id: str | None = None
    manager_id: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "period": self.period,
            "person_id": self.person_id,
            "team_id": self.team_id,
            "manager_id": self.manager_id,
            "facts": dict(self.facts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            key=str(data["key"]),
            kind=data["kind"],
            period=str(data["period"]),
            person_id=data.get("person_id"),
            team_id=data.get("team_id"),
            manager_id=data.get("manager_id"),
            facts=dict(data.get("facts") or {}),
        )


def default_since(store: Store) -> Period | None:
    """The month before the newest period evaluated: what the latest evaluations raised (``None``: nothing)."""
    r = s.evaluation_runs
    with store.connect() as conn:
        newest = conn.execute(select(func.max(r.c.period_start))).scalar()
    if newest is None:
        return None
    return parse_period(f"{newest.year}-{newest.month:02d}").previous()


def _person_facts(roster: Roster, person_id: str) -> dict[str, Any]:
    member = roster.people.get(person_id)
    return {
        "name": member.name if member else person_id,
        "team": member.team_name if member else None,
        "manager": roster.name(member.manager_id) if member and member.manager_id else None,
    }


def collect_events(store: Store, *, since: Period | None = None, today: date | None = None) -> list[Event]:
    """Events of the runs of periods starting at or after ``since`` (default: ``default_since``)."""
    today = today or date.today()
    since = since or default_since(store)
    if since is None:
        return []
    r, o, st = s.evaluation_runs, s.outcomes, s.period_states
    with store.connect() as conn:
        rows = conn.execute(
            select(
                r.c.plan_id,
                r.c.period,
                r.c.period_end,
                o.c.rule_id,
                o.c.person_id,
                o.c.kind,
                o.c.status,
                cast(o.c.trace, Text),
            )
            .join(o, o.c.run_id == r.c.id)
            .where(r.c.period_start >= since.start, o.c.kind.in_(("recommendation", "alert")))
            .order_by(r.c.period_start, r.c.plan_id, o.c.id)
        ).all()
        waiting = conn.execute(
            select(st.c.plan_id, st.c.period, st.c.evaluated_by, st.c.status)
            .where(
                st.c.status.in_(("calculated", "approved")),
                st.c.period_end <= today,
                st.c.period_start >= since.start,
                exists().where(o.c.run_id == st.c.run_id, o.c.kind.in_(("payout", "held"))),
            )
            .order_by(st.c.period_start, st.c.plan_id)
        ).all()
    import json

    rosters: dict[str, Roster] = {}

    def roster_of(label: str) -> Roster:
        if label not in rosters:
            rosters[label] = load_roster(store, parse_period(label))
        return rosters[label]

    events: list[Event] = []
    for plan, label, _end, rule, person, kind, status, text in rows:
        trace = json.loads(text)
        view = TraceView(trace)
        roster = roster_of(label)
        member = roster.people.get(person)
        where = {"team_id": member.team_id if member else None, "manager_id": member.manager_id if member else None}
        base = {**_person_facts(roster, person), "plan": plan, "rule": rule, "explanation": " ".join(view.explanation)}
        if kind == "recommendation" and status in PIP_STATUSES:
            evidence = trace.get("evidence") if isinstance(trace.get("evidence"), list) else []
            events.append(
                Event(
                    key=f"pip|{plan}|{rule}|{person}|{label}|{status}",
                    kind="pip",
                    period=label,
                    person_id=person,
                    **where,
                    facts={**base, "status": status, "evidence": evidence},
                )
            )
        elif kind == "alert" and status in ("firing", "resolved") and not trace.get("carried_over"):
            at = str(trace.get("at") or label)
            events.append(
                Event(
                    key=f"alert|{plan}|{rule}|{person}|{at}|{status}",
                    kind="alert",
                    period=label,
                    person_id=person,
                    **where,
                    facts={
                        **base,
                        "state": "started" if status == "firing" else "stopped",
                        "at": at,
                        "metric": trace.get("metric"),
                        "evidence": trace.get("evidence") or [],
                    },
                )
            )
    for finding in list_findings(store):
        if finding.review is not None or parse_period(finding.period).start < since.start:
            continue
        roster = roster_of(finding.period)
        member = roster.people.get(finding.person_id)
        events.append(
            Event(
                key=f"finding|{finding.id}",
                kind="finding",
                period=finding.period,
                person_id=finding.person_id,
                team_id=member.team_id if member else None,
                manager_id=member.manager_id if member else None,
                facts={
                    **_person_facts(roster, finding.person_id),
                    "plan": finding.plan_id,
                    "check": finding.check,
                    "effect": finding.effect,
                    "severity": finding.severity,
                    "finding": finding.id,
                    "explanation": finding.explanation,
                    "evidence": finding.evidence_text(),
                },
            )
        )
    by_period: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for plan, label, by, status in waiting:
        by_period[label].append((plan, by, status))
    for label, plans in by_period.items():
        names = sorted(p for p, _, _ in plans)
        digest = hashlib.sha256("|".join(names).encode()).hexdigest()[:12]
        events.append(
            Event(
                key=f"approval|{label}|{digest}",
                kind="approval",
                period=label,
                facts={
                    "plans": names,
                    "evaluated_by": sorted({by for _, by, st in plans if st == "calculated"}),
                    "approved": sorted(p for p, _, st in plans if st == "approved"),
                },
            )
        )
    return events


def iso_week(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def weekly_digests(events: Sequence[Event], roster: Roster, today: date) -> list[Event]:
    """One digest per manager for the ISO week that ended before ``today``: the anomalies of their team
    among ``events`` (alerts, PIP recommendations, findings), sent once per week."""
    week_end = today - timedelta(days=today.isoweekday() - 1)  # this week's Monday: the digest covers the week before
    week = iso_week(week_end - timedelta(days=1))
    grouped: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.kind in ("pip", "alert", "finding") and event.manager_id:
            grouped[event.manager_id].append(event)
    digests = []
    for manager_id, items in sorted(grouped.items()):
        manager = roster.people.get(manager_id)
        counts: dict[str, int] = defaultdict(int)
        for item in items:
            counts[
                f"{item.kind}:{item.facts.get('status') or item.facts.get('state') or item.facts.get('effect')}"
            ] += 1
        digests.append(
            Event(
                key=f"digest|{week}|{manager_id}",
                kind="digest",
                period=week,
                person_id=None,
                manager_id=manager_id,
                team_id=manager.team_id if manager else None,
                facts={
                    "manager": manager.name if manager else manager_id,
                    "manager_email": manager.email if manager else None,
                    "week": week,
                    "counts": dict(sorted(counts.items())),
                    "items": [item.as_json() for item in items],
                },
            )
        )
    return digests
