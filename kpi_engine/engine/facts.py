"""Where a run's numbers come from: the ``Facts`` a runner reads, and the database's implementation of them.

``StoreFacts`` answers each question of a plan's rules with one SQL statement (a metric's values, its
evidence rows, targets, hand-entered scores, the plan's saved outcomes of an earlier period), and
remembers the tables it read for the run's data watermark. Plans evaluated together share what they
read through ``SharedFacts``. Plan tests answer the same questions from a case's data
(``kpi_engine.plans.plan_tests.CaseFacts``), so a rule cannot tell the two apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ClauseElement, Connection, CursorResult, Integer, Select, func, select
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import TableClause, TextClause

from ..errors import EvaluationError, PeriodsNotEvaluated
from ..findings.store import reviews_of
from ..fx import resolve_conversion
from ..metrics.declaration import MetricContext
from ..periods import Period
from ..plans.model import LoadedPlan
from ..registry import Registry
from ..store import schema as s
from ..store.runs import SavedLine, runs_of_plan, saved_lines
from .contract import FindingReview, RuleResult, TargetLevels
from .organisation import Organisation, load_organisation

__all__ = ["WATERMARK_TABLES", "Facts", "Row", "SharedFacts", "StoreFacts", "data_watermark", "tables_of"]

Row = Mapping[str, Any]
WATERMARK_TABLES = (
    s.people,
    s.org_assignments,
    s.team_hierarchy,
    s.customers,
    s.deals,
    s.deal_splits,
    s.activities,
    s.leads,
    s.payments,
    s.refunds,
    s.renewals,
    s.churn_events,
    s.survey_responses,
    s.marketing_spend,
    s.targets,
    s.manual_scores,
    s.web_visits,
    s.content_stats,
    s.support_tickets,
    s.trainings,
    s.teams,
    s.deal_stage_history,
)
"""The fact tables an evaluation may read, in the order the watermark lists them."""


class Facts(Protocol):
    """Where the numbers come from: per registered metric and period, keyed by person."""

    def organisation(self) -> Organisation: ...

    def values(self, metric: str, period: Period) -> Mapping[str, Decimal]: ...

    def targets(self, metric: str, period: Period) -> Mapping[str, TargetLevels]: ...

    def evidence(self, metric: str, period: Period) -> Mapping[str, Sequence[Row]]:
        """Rows with ``record_id``, ``value`` and any other column the metric's evidence selects."""
        ...

    def evidence_table(self, metric: str) -> str | None: ...

    def manual_scores(self, kpi: str, label: str) -> Mapping[str, Decimal]: ...

    def history(self, rule: str, period: Period) -> Sequence[RuleResult]:
        """What the plan's rule saved for ``period``; ``PeriodsNotEvaluated`` if that period was never evaluated."""
        ...

    def history_of(self, rule: str, period: Period, people: Iterable[str]) -> Sequence[RuleResult]:
        """``history`` of a few people only; a period never evaluated has none (what findings' effects replay)."""
        ...

    def finding_reviews(self) -> Mapping[str, tuple[str, str]]:
        """HR's decisions on the plan's findings: finding id -> (``release`` or ``uphold``, person)."""
        ...

    def reviews_in(self, period: Period) -> Sequence[FindingReview]:
        """HR's decisions on the findings of any plan made during ``period`` (the plan's time zone), oldest first."""
        ...

    def closed_periods(self) -> frozenset[str]:
        """The labels of the plan's closed periods."""
        ...

    def released_holds(self) -> frozenset[tuple[str, str, str, str]]:
        """Holds whose release the ledger has posted: (rule, person, period held, period that posted it)."""
        ...


def exact_value(
    value: Any, metric: str, record: Any = None, table: str | None = None, person: str | None = None
) -> Decimal:
    """A metric value as ``Decimal``; anything else is an error naming the record it came from.

    A record with no value, or text where a number belongs, is a data error to correct at the source; a
    binary float means the metric itself lost exactness (a defect of its SQL), so it is refused.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    where = (
        f"record {record} of {table or 'its table'}"
        if record is not None
        else f"person {person}"
        if person is not None
        else "a person"
    )
    if value is None:
        raise EvaluationError(
            f"metric {metric!r} has no value for {where}.",
            hint="fill in the missing number in the CRM (or the file imported), then evaluate again",
        )
    if isinstance(value, float):
        raise EvaluationError(
            f"metric {metric!r} returned {value!r} (a binary float) for {where}, not an exact number.",
            hint="the metric's SQL must build ratios and averages from summed integers or Money columns",
        )
    raise EvaluationError(
        f"metric {metric!r} gave {value!r} for {where}, not a number.",
        hint="correct the record in the CRM (or the file imported), then evaluate again",
    )


def data_watermark(conn: Connection, tables: Iterable[str] | None = None) -> str:
    """The state of the facts an evaluation read, as one comparable string, cheap at any size.

    For each table read (every fact table when ``tables`` is not given): its newest row id (a
    primary-key lookup) or, for a table without an integer key, its row count; with them the newest
    file import and CRM sync, which record every change made through the product (a re-import that
    updates rows in place adds no row, but it is an import). Counting or scanning a large table
    would cost seconds per plan and tell no more. The text starts with the time of the newest import
    or sync (``direct`` when the data was written by other means).
    """
    read = None if tables is None else set(tables)
    parts: list[str] = []
    for table in WATERMARK_TABLES:
        if read is not None and table.name not in read:
            continue
        key = table.c.get("id")
        measure = func.max(key) if key is not None and isinstance(key.type, Integer) else func.count()
        parts.append(f"{table.name}={conn.execute(select(measure).select_from(table)).scalar()}")
    newest = ""
    for log, stamp in ((s.imports, s.imports.c.imported_at), (s.sync_runs, s.sync_runs.c.finished_at)):
        last_id, last_at = conn.execute(select(func.max(log.c.id), func.max(stamp))).one()
        parts.append(f"{log.name}={last_id}")
        newest = max(newest, last_at.isoformat() if last_at is not None else "")
    digest = hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]
    return f"{newest or 'direct'}#{digest}"


def tables_of(statement: ClauseElement) -> set[str]:
    """The tables a statement reads (every fact table when it holds SQL text that cannot be looked into)."""
    found: set[str] = set()
    for element in visitors.iterate(statement):
        if isinstance(element, TextClause):
            return {t.name for t in WATERMARK_TABLES}
        if isinstance(element, TableClause):
            found.add(element.name)
    return found


class SharedFacts:
    """What plans evaluated together in one transaction read once: the organisation, metric values, targets.

    Values are kept per metric, period, time zone and currency (the context their SQL was built for),
    with the tables they were read from, so that each plan's watermark still names every table it used.
    Evidence rows are not kept: they are large, and a plan's rules read them once.
    """

    def __init__(self) -> None:
        self.org: Organisation | None = None
        self.values: dict[tuple[str, str, str, str], tuple[Mapping[str, Decimal], set[str]]] = {}
        self.targets: dict[tuple[str, str], Mapping[str, TargetLevels]] = {}


class StoreFacts:
    """The facts of one database for one plan: metric SQL per period, targets, scores, saved history."""

    def __init__(
        self, conn: Connection, loaded: LoadedPlan, registry: Registry, shared: SharedFacts | None = None
    ) -> None:
        self.conn = conn
        self.tables_read: set[str] = {s.people.name, s.org_assignments.name, s.team_hierarchy.name}  # the organisation
        self.loaded = loaded
        self.registry = registry
        self.shared = shared or SharedFacts()
        self._evidence: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
        self._run_labels: dict[str, tuple[str, date]] | None = None
        self._contexts: dict[str, MetricContext] = {}

    def _metric_context(self, period: Period) -> MetricContext:
        if period.label not in self._contexts:  # the conversion reads the period's rates once
            plan = self.loaded.plan
            start, end = period.bounds_utc(plan.time_zone)
            conversion = resolve_conversion(self.conn, plan.currency, plan.conversion, period, plan.time_zone)
            self._contexts[period.label] = MetricContext(period, start, end, plan.time_zone, plan.currency, conversion)
        return self._contexts[period.label]

    def _money_key(self) -> str:
        """What the plan's money is read in: its currency and conversion (two plans may differ in either)."""
        plan = self.loaded.plan
        return f"{plan.currency}|{plan.conversion.model_dump_json() if plan.conversion else ''}"

    def organisation(self) -> Organisation:
        if self.shared.org is None:
            self.shared.org = load_organisation(self.conn)
        return self.shared.org

    def _read(self, statement: Select[Any]) -> CursorResult[Any]:
        self.tables_read |= tables_of(statement)
        return self.conn.execute(statement)

    def values(self, metric: str, period: Period) -> Mapping[str, Decimal]:
        key = (metric, period.label, self.loaded.plan.time_zone, self._money_key())
        if key not in self.shared.values:
            statement = self.registry.metric(metric).query(self._metric_context(period))
            rows = self.conn.execute(statement).all()
            read = {pid: exact_value(v, metric, person=pid) for pid, v in rows if pid is not None and v is not None}
            self.shared.values[key] = (read, tables_of(statement))
        found, tables = self.shared.values[key]
        self.tables_read |= tables
        return found

    def targets(self, metric: str, period: Period) -> Mapping[str, TargetLevels]:
        t = s.targets
        self.tables_read.add(t.name)
        key = (metric, period.label)
        if key not in self.shared.targets:
            rows = self.conn.execute(
                select(t.c.subject_id, t.c.baseline, t.c.target, t.c.challenge).where(
                    t.c.subject_type == "person", t.c.period == period.label, t.c.metric == metric
                )
            )
            self.shared.targets[key] = {
                person: TargetLevels(target=target, baseline=baseline, challenge=challenge)
                for person, baseline, target, challenge in rows
            }
        return self.shared.targets[key]

    def evidence(self, metric: str, period: Period) -> Mapping[str, Sequence[Row]]:
        key = (metric, period.label)
        if key not in self._evidence:
            found: dict[str, list[dict[str, Any]]] = {}
            declared = self.registry.metric(metric)
            if declared.evidence is not None:
                statement = declared.evidence(self._metric_context(period))
                result = self._read(statement)
                extra = list(result.keys())[3:]
                for row in result:
                    values = tuple(row)
                    details = {
                        "record_id": values[1],
                        "value": exact_value(values[2], metric, values[1], declared.evidence_table),
                    }
                    details.update(zip(extra, values[3:], strict=True))
                    found.setdefault(values[0], []).append(details)
                shared = (metric, period.label, self.loaded.plan.time_zone, self._money_key())
                if declared.evidence_adds_up and shared not in self.shared.values:
                    # The rows just read add up to each person's value: no second pass over the same facts.
                    totals = {person: sum((r["value"] for r in rows), Decimal(0)) for person, rows in found.items()}
                    self.shared.values[shared] = (totals, tables_of(statement))
            self._evidence[key] = found
        return self._evidence[key]

    def evidence_table(self, metric: str) -> str | None:
        return self.registry.metric(metric).evidence_table

    def manual_scores(self, kpi: str, label: str) -> Mapping[str, Decimal]:
        m = s.manual_scores
        rows = self._read(select(m.c.person_id, m.c.score).where(m.c.metric == kpi, m.c.period == label))
        return {row.person_id: row.score for row in rows}

    def finding_reviews(self) -> Mapping[str, tuple[str, str]]:
        return reviews_of(self.conn, self.loaded.id)

    def reviews_in(self, period: Period) -> Sequence[FindingReview]:
        r = s.finding_reviews
        start, end = period.bounds_utc(self.loaded.plan.time_zone)
        rows = self._read(
            select(r).where(r.c.reviewed_at >= start, r.c.reviewed_at < end).order_by(r.c.reviewed_at, r.c.finding_id)
        )
        return [
            FindingReview(
                finding_id=row.finding_id,
                plan_id=row.plan_id,
                check=row.check_rule,
                person_id=row.person_id,
                period=row.period,
                decision=row.decision,
                reviewed_at=row.reviewed_at,
                note=row.note,
            )
            for row in rows
        ]

    def closed_periods(self) -> frozenset[str]:
        runs = s.evaluation_runs
        rows = self.conn.execute(
            select(runs.c.period).where(runs.c.plan_id == self.loaded.id, runs.c.status == "closed")
        ).scalars()
        return frozenset(rows)

    def released_holds(self) -> frozenset[tuple[str, str, str, str]]:
        e = s.ledger_entries
        rows = self.conn.execute(
            select(e.c.entry_key, e.c.period_posted).where(e.c.plan_id == self.loaded.id, e.c.kind == "release")
        )
        found = set()
        for key, posted in rows:
            parts = key.split("#", 1)[0].split("|")  # plan|release|rule|person|period
            if len(parts) == 5:
                found.add((parts[2], parts[3], parts[4], posted))
        return frozenset(found)

    def _runs(self) -> dict[str, tuple[str, date]]:
        """This plan's saved runs by period label (id and first day)."""
        if self._run_labels is None:
            self._run_labels = runs_of_plan(self.conn, self.loaded.id)
        return self._run_labels

    def history_of(self, rule: str, period: Period, people: Iterable[str]) -> Sequence[RuleResult]:
        run = self._runs().get(period.label)
        wanted = set(people)
        if run is None or not wanted:
            return ()
        return [_result(line) for line in saved_lines(self.conn, run[0], rule, wanted)]

    def history(self, rule: str, period: Period) -> Sequence[RuleResult]:
        runs = self._runs()
        if period.label in runs:
            return [_result(line) for line in saved_lines(self.conn, runs[period.label][0], rule)]
        effective = self.loaded.plan.effective
        start = effective.from_ if effective else min((first for _, first in runs.values()), default=None)
        if start is None or period.end <= start:
            return ()  # before the plan began, there is nothing to carry
        missing = step = period
        for _ in range(240):
            step = step.previous()
            if step.end <= start or step.label in runs:
                break
            missing = step
        raise PeriodsNotEvaluated(plan_id=self.loaded.id, rule=rule, needed=period, first_missing=missing)


def _result(line: SavedLine) -> RuleResult:
    return RuleResult(
        person_id=line.person_id,
        amount=line.amount,
        trace=line.trace,
        kind=line.kind,
        status=line.status,
        attention=line.attention,
    )
