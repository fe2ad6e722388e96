"""Evaluation: metrics by SQL, rules in Python, outcomes saved as one evaluation run."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, text

from . import _schema as s
from ._errors import EvaluationError
from ._money import money_text
from ._periods import Period, parse_period
from ._plan import LoadedPlan, load_plan
from ._store import Store
from ._types import MetricContext, RuleContext, TargetLevels
from ._version import __version__
from .plugins import Registry, get_registry

__all__ = ["EvaluationRun", "Outcome", "ProgressCallback", "evaluate", "get_run", "list_runs"]

ProgressCallback = Callable[[str, int, int], None]
_WATERMARK_TABLES = (s.people, s.deals, s.activities, s.leads, s.payments, s.refunds, s.targets, s.deal_splits)


@dataclass(frozen=True)
class Outcome:
    """One result line of a run."""

    person_id: str
    rule_id: str
    kind: str
    amount: Decimal | None
    currency: str | None
    trace: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "rule_id": self.rule_id,
            "kind": self.kind,
            "amount": None if self.amount is None else money_text(self.amount),
            "currency": self.currency,
            "trace": dict(self.trace),
        }


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
            (o.amount for o in self.outcomes if o.amount is not None and o.kind == "payout" and (currency is None or o.currency == currency)),
            Decimal(0),
        )


def _people_in_scope(conn: Connection, plan: LoadedPlan, period: Period) -> list[str]:
    scope = plan.plan.applies_to
    p = s.people
    conditions = [
        or_(p.c.hire_date.is_(None), p.c.hire_date < period.end),
        or_(p.c.leave_date.is_(None), p.c.leave_date >= period.start),
    ]
    groups = [cond for cond in (p.c.role.in_(scope.roles) if scope.roles else None, p.c.team_id.in_(scope.teams) if scope.teams else None) if cond is not None]
    if groups or scope.people:
        chosen = [and_(*groups)] if groups else []
        if scope.people:
            chosen.append(p.c.id.in_(scope.people))
        conditions.append(or_(*chosen))
    return list(conn.execute(select(p.c.id).where(*conditions).order_by(p.c.id)).scalars())


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


def data_watermark(conn: Connection) -> str:
    """Newest change and row counts of the facts an evaluation reads, as one comparable string."""
    parts: list[str] = []
    newest = ""
    for table in _WATERMARK_TABLES:
        cols = [func.count()]
        if "modified_at" in table.c:
            cols.append(func.max(table.c.modified_at))
        row = conn.execute(select(*cols).select_from(table)).one()
        stamp = row[1].isoformat() if len(row) > 1 and row[1] is not None else ""
        newest = max(newest, stamp)
        parts.append(f"{table.name}={row[0]}@{stamp}")
    digest = hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]
    return f"{newest or 'empty'}#{digest}"


def _lock(conn: Connection, plan_id: str, period: Period) -> None:
    """Two evaluations of one plan and period never interleave (SQLite: BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"{plan_id}|{period.label}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def evaluate(
    store: Store,
    plan: LoadedPlan | str | Path,
    period: Period | str,
    *,
    registry: Registry | None = None,
    progress: ProgressCallback | None = None,
) -> EvaluationRun:
    """Evaluate ``plan`` for ``period`` and save the run, replacing an earlier run of the open period."""
    registry = registry or get_registry()
    loaded = plan if isinstance(plan, LoadedPlan) else load_plan(plan, registry=registry)
    the_period = period if isinstance(period, Period) else parse_period(period)
    if not loaded.in_force(the_period):
        raise EvaluationError(
            f"plan {loaded.id!r} version {loaded.plan.version} is not in force in {the_period.label}.",
            hint="check the plan's effective dates or pick another period",
        )
    tz = loaded.plan.time_zone
    start, end = the_period.bounds_utc(tz)
    ctx = MetricContext(period=the_period, start=start, end=end, time_zone=tz, currency=loaded.plan.currency)
    step = progress or (lambda *_: None)
    rules = loaded.plan.rules
    total_steps = len(rules) + 3

    with store.begin() as conn:
        _lock(conn, loaded.id, the_period)
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
        people = _people_in_scope(conn, loaded, the_period)
        step("people in scope", 1, total_steps)
        needed: set[str] = set()
        for rule in rules:
            needed |= registry.rule_type(rule.type).metrics(loaded.configs[rule.id])
        in_scope = set(people)
        values: dict[str, dict[str, Decimal]] = {}
        for name in sorted(needed):
            metric = registry.metric(name)
            rows = conn.execute(metric.query(ctx)).all()
            values[name] = {pid: _as_decimal(v, name) for pid, v in rows if pid in in_scope and v is not None}
        step("metrics", 2, total_steps)
        targets = _targets(conn, needed, the_period, people)
        evidence_cache: dict[str, dict[str, list[tuple[int, Decimal]]]] = {}

        def records(name: str) -> Mapping[str, Sequence[tuple[int, Decimal]]]:
            if name not in evidence_cache:
                metric = registry.metric(name)
                found: dict[str, list[tuple[int, Decimal]]] = {}
                if metric.evidence is not None:
                    for pid, rid, value in conn.execute(metric.evidence(ctx)):
                        if pid in in_scope:
                            found.setdefault(pid, []).append((rid, _as_decimal(value, name)))
                evidence_cache[name] = found
            return evidence_cache[name]

        rule_ctx = RuleContext(
            period=the_period,
            currency=loaded.plan.currency,
            people=people,
            values=values,
            targets=targets,
            round_line=loaded.round_line,
            round_total=loaded.round_total,
            records=records,
            evidence_table=lambda name: registry.metric(name).evidence_table,
        )
        outcomes: list[Outcome] = []
        for index, rule in enumerate(rules):
            rule_type = registry.rule_type(rule.type)
            for result in rule_type.evaluate(rule_ctx, loaded.configs[rule.id]):
                trace = {"rule": rule.id, **result.trace}
                # The plan's rounding is the last word on every amount, whichever plugin computed it.
                amount = None if result.amount is None else loaded.round_total(result.amount)
                outcomes.append(Outcome(result.person_id, rule.id, result.kind, amount, loaded.plan.currency if amount is not None else None, trace))
            step(f"rule {rule.id}", 3 + index, total_steps)
        watermark = data_watermark(conn)
        # Same plan, period, data and results -> same id; any difference in the results -> a new id.
        results_digest = hashlib.sha256(json.dumps([o.as_dict() for o in outcomes], sort_keys=True, default=str).encode()).hexdigest()
        run_id = hashlib.sha256(f"{loaded.id}|{the_period.label}|{loaded.plan_hash}|{watermark}|{results_digest}".encode()).hexdigest()[:16]
        run = EvaluationRun(
            id=run_id,
            plan_id=loaded.id,
            plan_version=loaded.plan.version,
            plan_hash=loaded.plan_hash,
            period=the_period.label,
            time_zone=tz,
            data_watermark=watermark,
            engine_version=__version__,
            status="open",
            created_at=datetime.now(timezone.utc),
            outcomes=tuple(outcomes),
        )
        _save(conn, run, the_period)
        step("saved", total_steps, total_steps)
    return get_run(store, run.id)  # what was saved is what the caller sees


def _targets(conn: Connection, metrics: set[str], period: Period, people: list[str]) -> dict[str, dict[str, TargetLevels]]:
    t = s.targets
    found: dict[str, dict[str, TargetLevels]] = {}
    rows = conn.execute(
        select(t.c.metric, t.c.subject_id, t.c.baseline, t.c.target, t.c.challenge).where(
            t.c.subject_type == "person", t.c.period == period.label, t.c.metric.in_(sorted(metrics))
        )
    )
    wanted = set(people)
    for metric, person, baseline, target, challenge in rows:
        if person in wanted:
            found.setdefault(metric, {})[person] = TargetLevels(target=target, baseline=baseline, challenge=challenge)
    return found


def _save(conn: Connection, run: EvaluationRun, period: Period) -> None:
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
    if run.outcomes:
        conn.execute(
            insert(s.outcomes),
            [
                {
                    "run_id": run.id,
                    "person_id": o.person_id,
                    "rule_id": o.rule_id,
                    "kind": o.kind,
                    "amount": o.amount,
                    "currency": o.currency,
                    "trace": json.loads(json.dumps(o.trace, default=str)),
                }
                for o in run.outcomes
            ],
        )


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
                raise EvaluationError(f"there is no evaluation run {run_id!r}.", hint="`kpi outcomes` without --run shows the newest run")
            raise EvaluationError("no evaluation has been run in this database yet.", hint="run `kpi evaluate --plan FILE --period P` first")
        lines = conn.execute(
            select(o.c.person_id, o.c.rule_id, o.c.kind, o.c.amount, o.c.currency, o.c.trace).where(o.c.run_id == row.id).order_by(o.c.id)
        ).all()
    outcomes = tuple(Outcome(*line) for line in lines)
    return _run_from_row(row, outcomes)
