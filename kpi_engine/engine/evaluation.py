"""Evaluation: metrics by SQL, rules in Python, outcomes saved as one evaluation run."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Executable,
    Integer,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import TableClause, TextClause
from sqlalchemy.sql.functions import FunctionElement

from .._version import __version__
from ..errors import EvaluationError
from ..money import MONEY_SCALE, money_text
from ..periods import Period, parse_period
from ..plans.checking import LoadedPlan
from ..plans.files import load_plan_for
from ..registry import Registry, get_registry
from ..store import schema as s
from ..store.database import Store
from ..trace import LazyTrace
from .contract import MetricContext, RuleResult, TargetLevels
from .organisation import Organisation, load_organisation
from .runner import Outcome, collector_paused, earlier_period, run_rules

__all__ = [
    "EvaluationRun",
    "Outcome",
    "ProgressCallback",
    "SharedFacts",
    "StoreFacts",
    "evaluate",
    "evaluate_plans",
    "get_run",
    "list_runs",
]

ProgressCallback = Callable[[str, int, int], None]
_MONEY_STEP = Decimal(1).scaleb(-MONEY_SCALE)
_WATERMARK_TABLES = (
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


@dataclass(frozen=True)
class EvaluationRun:
    """A saved evaluation of one plan version for one period."""

    id: str
    plan_id: str
    plan_version: str
    plan_hash: str
    period: str
    time_zone: str
    data_watermark: str
    engine_version: str
    status: str
    created_at: datetime
    outcomes: tuple[Outcome, ...] = field(default=())

    def total(self, currency: str | None = None) -> Decimal:
        return sum(
            (
                o.amount
                for o in self.outcomes
                if o.amount is not None and o.kind == "payout" and (currency is None or o.currency == currency)
            ),
            Decimal(0),
        )


def _as_decimal(value: Any, metric: str) -> Decimal:
    """A metric value as ``Decimal``; a binary float means the metric lost exactness, so it is refused."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise EvaluationError(
        f"metric {metric!r} returned {value!r} ({type(value).__name__}), not an exact number.",
        hint="build ratios and averages from summed integers or Money columns, never floating-point SQL",
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
    for table in _WATERMARK_TABLES:
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


def _lock(conn: Connection, plan_id: str, period: Period) -> None:
    """Two evaluations of one plan and period never interleave (SQLite: BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"{plan_id}|{period.label}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _tables_of(statement: Executable) -> set[str]:
    """The tables a statement reads (every fact table when it holds SQL text that cannot be looked into)."""
    found: set[str] = set()
    for element in visitors.iterate(statement):
        if isinstance(element, TextClause):
            return {t.name for t in _WATERMARK_TABLES}
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
        self._run_labels: dict[str, Any] | None = None

    def _metric_context(self, period: Period) -> MetricContext:
        tz = self.loaded.plan.time_zone
        start, end = period.bounds_utc(tz)
        return MetricContext(period=period, start=start, end=end, time_zone=tz, currency=self.loaded.plan.currency)

    def organisation(self) -> Organisation:
        if self.shared.org is None:
            self.shared.org = load_organisation(self.conn)
        return self.shared.org

    def _read(self, statement: Executable) -> CursorResult[Any]:
        self.tables_read |= _tables_of(statement)
        return self.conn.execute(statement)

    def values(self, metric: str, period: Period) -> Mapping[str, Decimal]:
        key = (metric, period.label, self.loaded.plan.time_zone, self.loaded.plan.currency)
        if key not in self.shared.values:
            statement = self.registry.metric(metric).query(self._metric_context(period))
            rows = self.conn.execute(statement).all()
            found = {pid: _as_decimal(v, metric) for pid, v in rows if pid is not None and v is not None}
            self.shared.values[key] = (found, _tables_of(statement))
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

    def evidence(self, metric: str, period: Period) -> Mapping[str, Sequence[Mapping[str, Any]]]:
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
                    details = {"record_id": values[1], "value": _as_decimal(values[2], metric)}
                    details.update(zip(extra, values[3:]))
                    found.setdefault(values[0], []).append(details)
                shared = (metric, period.label, self.loaded.plan.time_zone, self.loaded.plan.currency)
                if declared.evidence_adds_up and shared not in self.shared.values:
                    # The rows just read add up to each person's value: no second pass over the same facts.
                    totals = {person: sum((r["value"] for r in rows), Decimal(0)) for person, rows in found.items()}
                    self.shared.values[shared] = (totals, _tables_of(statement))
            self._evidence[key] = found
        return self._evidence[key]

    def evidence_table(self, metric: str) -> str | None:
        return self.registry.metric(metric).evidence_table

    def manual_scores(self, kpi: str, label: str) -> Mapping[str, Decimal]:
        m = s.manual_scores
        rows = self._read(select(m.c.person_id, m.c.score).where(m.c.metric == kpi, m.c.period == label))
        return {person: score for person, score in rows}

    def finding_reviews(self) -> Mapping[str, tuple[str, str]]:
        """HR's decisions on this plan's findings: finding id -> (release / uphold, person)."""
        from ..findings.store import reviews_of

        return reviews_of(self.conn, self.loaded.id)

    def history_of(self, rule: str, period: Period, people: Iterable[str]) -> Sequence[RuleResult]:
        """``history`` for a few people only (what findings' effects replay); a period never evaluated has none."""
        run = self._runs().get(period.label)
        wanted = sorted(set(people))
        if run is None or not wanted:
            return ()
        o = s.outcomes
        rows = self.conn.execute(
            select(o.c.person_id, o.c.amount, o.c.trace, o.c.kind)
            .where(o.c.run_id == run[0], o.c.rule_id == rule, o.c.person_id.in_(wanted))
            .order_by(o.c.id)
        )
        return [RuleResult(person_id=p, amount=a, trace=t, kind=k) for p, a, t, k in rows]

    def _runs(self) -> dict[str, Any]:
        """This plan's saved runs by period label (id and first day)."""
        if self._run_labels is None:
            r = s.evaluation_runs
            rows = self.conn.execute(select(r.c.period, r.c.id, r.c.period_start).where(r.c.plan_id == self.loaded.id))
            self._run_labels = {label: (run_id, start) for label, run_id, start in rows}
        return self._run_labels

    def history(self, rule: str, period: Period) -> Sequence[RuleResult]:
        runs = self._runs()
        if period.label in runs:
            o = s.outcomes
            rows = self.conn.execute(
                select(o.c.person_id, o.c.amount, o.c.trace, o.c.kind)
                .where(o.c.run_id == runs[period.label][0], o.c.rule_id == rule)
                .order_by(o.c.id)
            )
            return [RuleResult(person_id=p, amount=a, trace=t, kind=k) for p, a, t, k in rows]
        effective = self.loaded.plan.effective
        start = effective.from_ if effective else min((first for _, first in runs.values()), default=None)
        if start is None or period.end <= start:
            return ()  # before the plan began, there is nothing to carry
        missing = period
        step = period
        for _ in range(240):
            step = earlier_period(step, 1)
            if step.end <= start or step.label in runs:
                break
            missing = step
        raise EvaluationError(
            f"rule {rule!r} of plan {self.loaded.id!r} needs its outcomes of {period.label}, and {missing.label} has not been evaluated.",
            hint=f"evaluate the periods in order, starting with: kpi evaluate --plan {self.loaded.id} --period {missing.label}",
        )


def evaluate(
    store: Store,
    plan: LoadedPlan | str | Path,
    period: Period | str,
    *,
    registry: Registry | None = None,
    progress: ProgressCallback | None = None,
) -> EvaluationRun:
    """Evaluate ``plan`` for ``period`` and save the run, replacing an earlier run of the open period.

    ``plan`` is a loaded plan, a plan file, a folder of plan versions or a plan id (searched in ``rules/``);
    for a folder or an id the version in force in the period is used.
    """
    return evaluate_plans(store, [plan], period, registry=registry, progress=progress)[0]


def evaluate_plans(
    store: Store,
    plans: Sequence[LoadedPlan | str | Path],
    period: Period | str,
    *,
    registry: Registry | None = None,
    progress: ProgressCallback | None = None,
) -> list[EvaluationRun]:
    """Evaluate several plans for one period in one transaction and save a run for each.

    Each metric, target and the organisation are read once for all the plans (a commission plan, the
    scorecards and the bonuses all read bookings). All or nothing: when one plan cannot be evaluated,
    no run of any of them is saved. Each run is what ``evaluate`` of that plan alone would save.
    """
    registry = registry or get_registry()
    the_period = period if isinstance(period, Period) else parse_period(period)
    loaded_plans = [p if isinstance(p, LoadedPlan) else load_plan_for(p, the_period, registry=registry) for p in plans]
    seen: dict[str, LoadedPlan] = {}
    for loaded in loaded_plans:
        if not loaded.in_force(the_period):
            raise EvaluationError(
                f"plan {loaded.id!r} version {loaded.plan.version} is not in force in {the_period.label}.",
                hint="check the plan's effective dates or pick another period",
            )
        if loaded.id in seen:
            raise EvaluationError(
                f"plan {loaded.id!r} is given twice ({seen[loaded.id].path} and {loaded.path}).",
                hint="give each plan once",
            )
        seen[loaded.id] = loaded
    step = progress or (lambda *_: None)
    total_steps = sum(len(loaded.plan.rules) + 2 for loaded in loaded_plans)
    shared = SharedFacts()
    runs: list[EvaluationRun] = []
    with store.begin() as conn:
        for plan_id in sorted(seen):  # always in the same order, so that two such calls never wait on each other
            _lock(conn, plan_id, the_period)
        done = 0
        for loaded in loaded_plans:
            runs.append(
                _evaluate_in(
                    conn,
                    loaded,
                    the_period,
                    registry,
                    shared,
                    lambda label, n, _t, base=done: step(label, base + n, total_steps),
                )
            )
            done += len(loaded.plan.rules) + 2
    return runs


def _evaluate_in(
    conn: Connection,
    loaded: LoadedPlan,
    the_period: Period,
    registry: Registry,
    shared: SharedFacts,
    step: ProgressCallback,
) -> EvaluationRun:
    """One plan's evaluation inside the caller's transaction (its lock already held); the run as saved."""
    total_steps = len(loaded.plan.rules) + 2
    closed = conn.execute(
        select(s.evaluation_runs.c.id).where(
            s.evaluation_runs.c.plan_id == loaded.id,
            s.evaluation_runs.c.period == the_period.label,
            s.evaluation_runs.c.status == "closed",
        )
    ).first()
    if closed:
        raise EvaluationError(
            f"{the_period.label} is closed for plan {loaded.id!r} (run {closed[0]}); a closed period never changes.",
            hint="post corrections as adjustments in the current open period",
        )
    facts = StoreFacts(conn, loaded, registry, shared)
    step("people in scope", 1, total_steps)
    with collector_paused():  # traces are written as they are read, here: in the same pause as the rules
        _, outcomes = run_rules(
            loaded,
            the_period,
            facts,
            registry,
            on_rule=lambda rule, done, _n: step(f"rule {rule}", 1 + done, total_steps),
        )
        traces = [json.dumps(dict(o.trace), default=str) for o in outcomes]  # each trace is encoded once, as saved
    watermark = data_watermark(conn, facts.tables_read)
    # Same plan, period, data and results -> same id; any difference in the results -> a new id.
    digest = hashlib.sha256()
    for o, trace in zip(outcomes, traces, strict=True):
        amount = "" if o.amount is None else money_text(o.amount)
        digest.update(f"{o.person_id}|{o.rule_id}|{o.kind}|{amount}|{o.currency}|{trace}\n".encode())
    run_id = hashlib.sha256(
        f"{loaded.id}|{the_period.label}|{loaded.plan_hash}|{watermark}|{digest.hexdigest()}".encode()
    ).hexdigest()[:16]
    run = EvaluationRun(
        id=run_id,
        plan_id=loaded.id,
        plan_version=loaded.plan.version,
        plan_hash=loaded.plan_hash,
        period=the_period.label,
        time_zone=loaded.plan.time_zone,
        data_watermark=watermark,
        engine_version=__version__,
        status="open",
        created_at=datetime.now(UTC),
        outcomes=tuple(outcomes),
    )
    _save(conn, run, the_period, traces)
    step("saved", total_steps, total_steps)
    row = conn.execute(select(s.evaluation_runs).where(s.evaluation_runs.c.id == run.id)).one()
    # What was saved is what the caller sees: each amount as the column gives it back, each trace decoded from
    # the text that was stored (when it is read); reading the lines back would cost a query and a decode per line.
    # (the column keeps MONEY_SCALE places, and saving refused any finer amount, so quantizing is exact)
    saved = tuple(
        Outcome(
            o.person_id,
            o.rule_id,
            o.kind,
            None if o.amount is None else o.amount.quantize(_MONEY_STEP),
            o.currency,
            LazyTrace(json.loads, trace),
        )
        for o, trace in zip(outcomes, traces, strict=True)
    )
    return _run_from_row(row, saved)


class _encoded_json(FunctionElement[Any]):
    """A bound value that already is JSON text, stored in a JSON column as it is (no second encoding)."""

    type = s.outcomes.c.trace.type
    inherit_cache = True
    name = "encoded_json"


@compiles(_encoded_json)
def _encoded_json_default(element: _encoded_json, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(list(element.clauses)[0], **kw)} AS JSON)"


@compiles(_encoded_json, "sqlite")
def _encoded_json_sqlite(element: _encoded_json, compiler: Any, **kw: Any) -> str:
    return compiler.process(list(element.clauses)[0], **kw)  # JSON is text in SQLite


def _save(conn: Connection, run: EvaluationRun, period: Period, traces: Sequence[str]) -> None:
    runs = s.evaluation_runs
    old = select(runs.c.id).where(runs.c.plan_id == run.plan_id, runs.c.period == run.period)
    conn.execute(delete(s.outcomes).where(s.outcomes.c.run_id.in_(old)))
    conn.execute(delete(runs).where(runs.c.plan_id == run.plan_id, runs.c.period == run.period))
    conn.execute(
        insert(runs).values(
            id=run.id,
            plan_id=run.plan_id,
            plan_version=run.plan_version,
            plan_hash=run.plan_hash,
            period=run.period,
            period_start=period.start,
            period_end=period.end,
            time_zone=run.time_zone,
            data_watermark=run.data_watermark,
            engine_version=run.engine_version,
            status=run.status,
            created_at=run.created_at,
        )
    )
    if run.outcomes and conn.dialect.name == "postgresql":
        _copy_outcomes(conn, run, traces)
    elif run.outcomes:
        conn.execute(
            insert(s.outcomes).values(trace=_encoded_json(bindparam("trace_text", type_=Text()))),
            [
                {
                    "run_id": run.id,
                    "person_id": o.person_id,
                    "rule_id": o.rule_id,
                    "kind": o.kind,
                    "amount": o.amount,
                    "currency": o.currency,
                    "trace_text": trace,
                }
                for o, trace in zip(run.outcomes, traces, strict=True)
            ],
        )


def _copy_outcomes(conn: Connection, run: EvaluationRun, traces: Sequence[str]) -> None:
    """PostgreSQL's bulk path for a run's lines (``COPY``), in the evaluation's own transaction."""
    to_units = s.outcomes.c.amount.type.process_bind_param  # type: ignore[attr-defined]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(
            "COPY outcomes (run_id, person_id, rule_id, kind, amount, currency, trace) FROM STDIN"
        ) as copy:
            for o, trace in zip(run.outcomes, traces, strict=True):
                copy.write_row(
                    (run.id, o.person_id, o.rule_id, o.kind, to_units(o.amount, conn.dialect), o.currency, trace)
                )
    finally:
        cursor.close()


def _run_from_row(row: Any, outcomes: tuple[Outcome, ...]) -> EvaluationRun:
    return EvaluationRun(
        id=row.id,
        plan_id=row.plan_id,
        plan_version=row.plan_version,
        plan_hash=row.plan_hash,
        period=row.period,
        time_zone=row.time_zone,
        data_watermark=row.data_watermark,
        engine_version=row.engine_version,
        status=row.status,
        created_at=row.created_at,
        outcomes=outcomes,
    )


def list_runs(store: Store) -> list[EvaluationRun]:
    """Every saved run, newest first (without outcomes)."""
    runs = s.evaluation_runs
    with store.connect() as conn:
        rows = conn.execute(select(runs).order_by(runs.c.created_at.desc(), runs.c.id)).all()
    return [_run_from_row(r, ()) for r in rows]


def get_run(store: Store, run_id: str | None = None) -> EvaluationRun:
    """A run with its outcomes: the one named, or the newest."""
    runs = s.evaluation_runs
    o = s.outcomes
    with store.connect() as conn:
        query = select(runs)
        query = query.where(runs.c.id == run_id) if run_id else query.order_by(runs.c.created_at.desc()).limit(1)
        row = conn.execute(query).first()
        if row is None:
            if run_id:
                raise EvaluationError(
                    f"there is no evaluation run {run_id!r}.", hint="`kpi outcomes` without --run shows the newest run"
                )
            raise EvaluationError(
                "no evaluation has been run in this database yet.",
                hint="run `kpi evaluate --plan FILE --period P` first",
            )
        lines = conn.execute(
            select(o.c.person_id, o.c.rule_id, o.c.kind, o.c.amount, o.c.currency, cast(o.c.trace, Text))
            .where(o.c.run_id == row.id)
            .order_by(o.c.id)
        ).all()
    # Traces are decoded when read: a run of 10,000 people is listed or totalled without them.
    outcomes = tuple(Outcome(p, r, k, a, c, LazyTrace(json.loads, trace)) for p, r, k, a, c, trace in lines)
    return _run_from_row(row, outcomes)
