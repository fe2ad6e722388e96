"""What one period's reports read, in a few queries: its runs and lines, where each plan stands, and the
ledger (this period's entries and the year's, for the year to date).

Every page of a site is built from one ``PeriodData``, so the company page, the team pages and the
statements add up to the same figures.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Text, cast, exists, select

from ..errors import ConfigurationError, PeriodError
from ..ledger.entries import LedgerEntry, ledger_entries
from ..periods import Period, parse_period
from ..store import schema as s
from ..store.database import Store

__all__ = [
    "PeriodData",
    "PeriodLine",
    "RunInfo",
    "by_person",
    "earlier_lines",
    "load_period_data",
    "outcome_traces",
]

_CHUNK = 900  # ids per IN (...) list: under every backend's limit of bound parameters


@dataclass(frozen=True)
class RunInfo:
    """A saved run of the period: its plan, version and the hash of the plan text it was evaluated with."""

    id: str
    plan_id: str
    plan_version: str
    plan_hash: str
    time_zone: str
    created_at: datetime
    status: str  # where the plan's period stands: calculated / approved / closed


@dataclass(frozen=True)
class PeriodLine:
    """An outcome line of one of the period's runs."""

    id: int
    run_id: str
    plan_id: str
    rule_id: str
    person_id: str
    kind: str
    amount: Decimal | None
    currency: str | None
    status: str | None
    attention: bool
    ledger_kind: str | None
    component: str | None
    trace: Mapping[str, Any]


@dataclass
class PeriodData:
    """The period, its runs by plan, their lines, and the ledger entries the reports total."""

    period: Period
    runs: dict[str, RunInfo]
    lines: list[PeriodLine]
    entries: list[LedgerEntry]  # posted in the period
    year_entries: list[LedgerEntry]  # posted in the period's year, up to and including the period
    entry_sources: dict[int, tuple[int | None, int | None]]  # entry id -> (outcome id, adjustment id)
    adjustment_reasons: dict[int, str] = field(default_factory=dict)
    approvals_pending: list[tuple[str, str, str]] = field(default_factory=list)  # (plan, period, evaluated by)

    def lines_of(self, person_id: str) -> list[PeriodLine]:
        return [line for line in self.lines if line.person_id == person_id]

    def closed(self, plan_id: str | None) -> bool:
        run = self.runs.get(plan_id or "")
        return run is not None and run.status == "closed"

    @property
    def time_zone(self) -> str:
        """The time zone most of the period's plans are evaluated in (UTC when there are none)."""
        zones = [run.time_zone for run in self.runs.values()]
        return max(sorted(set(zones)), key=zones.count) if zones else "UTC"

    @property
    def currency(self) -> str:
        """The currency most money of the period is in (CNY when there is none)."""
        counts: dict[str, int] = defaultdict(int)
        for line in self.lines:
            if line.currency:
                counts[line.currency] += 1
        for entry in self.entries:
            counts[entry.currency] += 1
        return max(sorted(counts), key=lambda c: counts[c]) if counts else "CNY"


def _year_labels(store: Store, period: Period) -> list[str]:
    """Labels of the ledger's periods that lie in the period's year and end by the period's end."""
    first = date(period.start.year, 1, 1)
    with store.connect() as conn:
        labels = conn.execute(select(s.ledger_entries.c.period_posted).distinct()).scalars().all()
    inside = []
    for label in labels:
        try:
            posted = parse_period(label)
        except PeriodError:
            continue
        if posted.start >= first and posted.end <= period.end:
            inside.append(label)
    return sorted(inside)


def outcome_traces(store: Store, ids: Iterable[int]) -> dict[int, Mapping[str, Any]]:
    """Traces of outcome lines by id."""
    o = s.outcomes
    wanted = sorted(set(ids))
    found: dict[int, Mapping[str, Any]] = {}
    with store.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for oid, text in conn.execute(select(o.c.id, cast(o.c.trace, Text)).where(o.c.id.in_(chunk))):
                found[oid] = json.loads(text)
    return found


def load_period_data(store: Store, label: str, *, today: date | None = None) -> PeriodData:
    """Everything the reports of ``label`` read; a period nothing was evaluated for is an error saying so.

    ``today`` (default: the date) decides which periods are over and awaiting approval."""
    period = parse_period(label)
    today = today or date.today()
    r, st = s.evaluation_runs, s.period_states
    with store.connect() as conn:
        run_rows = conn.execute(select(r).where(r.c.period == period.label).order_by(r.c.plan_id)).all()
        states = {
            plan: (status, by)
            for plan, status, by in conn.execute(
                select(st.c.plan_id, st.c.status, st.c.evaluated_by).where(st.c.period == period.label)
            )
        }
        pending = conn.execute(
            select(st.c.plan_id, st.c.period, st.c.evaluated_by)
            .where(
                st.c.status.in_(("calculated", "approved")),
                st.c.period_end <= today,
                # plans that pay nothing (PIP, alerts) may stay calculated without holding up payroll
                exists().where(s.outcomes.c.run_id == st.c.run_id, s.outcomes.c.kind.in_(("payout", "held"))),
            )
            .order_by(st.c.period_start, st.c.plan_id)
        ).all()
        if not run_rows:
            raise ConfigurationError(
                f"nothing was evaluated for {period.label}, so there is nothing to report.",
                hint=f"evaluate it first: kpi evaluate --plan rules/ --period {period.label}",
            )
        runs = {
            row.plan_id: RunInfo(
                id=row.id,
                plan_id=row.plan_id,
                plan_version=row.plan_version,
                plan_hash=row.plan_hash,
                time_zone=row.time_zone,
                created_at=row.created_at,
                status=states.get(row.plan_id, ("closed" if row.status == "closed" else "calculated", ""))[0],
            )
            for row in run_rows
        }
        plan_of = {run.id: run.plan_id for run in runs.values()}
        lines = _lines(conn, plan_of)
        e = s.ledger_entries
        sources = {
            eid: (oid, aid)
            for eid, oid, aid in conn.execute(
                select(e.c.id, e.c.outcome_id, e.c.adjustment_id).where(e.c.period_posted == period.label)
            )
        }
        a = s.adjustments
        reasons = dict(conn.execute(select(a.c.id, a.c.reason)).all())
    entries = ledger_entries(store, period=period.label)
    year_entries = [entry for lab in _year_labels(store, period) for entry in ledger_entries(store, period=lab)]
    return PeriodData(
        period=period,
        runs=runs,
        lines=lines,
        entries=entries,
        year_entries=year_entries,
        entry_sources=sources,
        adjustment_reasons=reasons,
        approvals_pending=[(plan, per, by) for plan, per, by in pending],
    )


def _lines(conn: Connection, plan_of: Mapping[str, str]) -> list[PeriodLine]:
    """The outcome lines of the runs ``plan_of`` names (run id -> plan id), in the order they were saved."""
    o = s.outcomes
    rows = conn.execute(
        select(
            o.c.id,
            o.c.run_id,
            o.c.rule_id,
            o.c.person_id,
            o.c.kind,
            o.c.amount,
            o.c.currency,
            o.c.status,
            o.c.attention,
            o.c.ledger_kind,
            o.c.component,
            cast(o.c.trace, Text),
        )
        .where(o.c.run_id.in_(sorted(plan_of)))
        .order_by(o.c.id)
    ).all()
    return [
        PeriodLine(
            id=row[0],
            run_id=row[1],
            plan_id=plan_of[row[1]],
            rule_id=row[2],
            person_id=row[3],
            kind=row[4],
            amount=row[5],
            currency=row[6],
            status=row[7],
            attention=bool(row[8]),
            ledger_kind=row[9],
            component=row[10],
            trace=json.loads(row[11]),
        )
        for row in rows
    ]


def earlier_lines(store: Store, plan_ids: Iterable[str], labels: Iterable[str]) -> dict[str, list[PeriodLine]]:
    """The saved lines of ``plan_ids`` for each period of ``labels`` (periods never evaluated are absent)."""
    r = s.evaluation_runs
    with store.connect() as conn:
        runs = conn.execute(
            select(r.c.id, r.c.plan_id, r.c.period).where(
                r.c.plan_id.in_(sorted(set(plan_ids))), r.c.period.in_(sorted(set(labels)))
            )
        ).all()
        period_of = {run_id: label for run_id, _, label in runs}
        lines = _lines(conn, {run_id: plan for run_id, plan, _ in runs}) if runs else []
    found: dict[str, list[PeriodLine]] = defaultdict(list)
    for line in lines:
        found[period_of[line.run_id]].append(line)
    return dict(found)


def by_person(entries: Sequence[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    grouped: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.person_id].append(entry)
    return grouped
