"""Evaluation runs in the store: a run's record and its outcome lines, saved, listed and read back.

A run is saved whole inside the evaluation's own transaction: the earlier run of the same plan
and period (an open period's) is replaced, its lines with it. Outcome lines are written in bulk
(``COPY`` on PostgreSQL) with each trace stored as the JSON text that was already encoded for the
run's digest, never encoded twice. Reading a run decodes its traces only when they are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, Text, bindparam, cast, delete, insert, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ..errors import EvaluationError
from ..money import money_text
from ..periods import Period
from ..trace import LazyTrace
from . import schema as s
from .database import Store

__all__ = [
    "EvaluationRun",
    "Outcome",
    "SavedLine",
    "closed_run",
    "get_run",
    "list_runs",
    "runs_of_plan",
    "save_run",
    "saved_lines",
]


class Outcome(NamedTuple):
    """One result line of a run: money for ``payout`` lines (with currency), a plain number otherwise.

    A named tuple rather than a frozen dataclass: a run makes one per person and rule, and a tuple
    is built several times faster.
    """

    person_id: str
    rule_id: str
    kind: str
    amount: Decimal | None
    currency: str | None
    trace: Mapping[str, Any]
    status: str | None = None  # a recommendation's or alert's state, in its rule type's words
    attention: bool = False  # whether the line asks someone to act (see ``RuleResult``)
    ledger_kind: str | None = None  # what a money line is in the payout ledger (earning, hold, release …)
    component: str | None = None  # what payroll pays a money line as (commission, bonus …)

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "rule_id": self.rule_id,
            "kind": self.kind,
            "amount": None if self.amount is None else money_text(self.amount),
            "currency": self.currency,
            "status": self.status,
            "attention": self.attention,
            "ledger_kind": self.ledger_kind,
            "component": self.component,
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
    evaluated_by: str | None = None

    def total(self, currency: str | None = None) -> Decimal:
        """The sum of the payout lines (in ``currency`` only, when given); held lines are not paid."""
        return sum(
            (
                o.amount
                for o in self.outcomes
                if o.amount is not None and o.kind == "payout" and (currency is None or o.currency == currency)
            ),
            Decimal(0),
        )


class SavedLine(NamedTuple):
    """An outcome line as an earlier period saved it: what rules replay (draw balances, holds, clawbacks)."""

    person_id: str
    amount: Decimal | None
    trace: Mapping[str, Any]
    kind: str
    status: str | None
    attention: bool


def closed_run(conn: Connection, plan_id: str, label: str) -> str | None:
    """The id of the plan's closed run of the period, if the period is closed."""
    runs = s.evaluation_runs
    return conn.execute(
        select(runs.c.id).where(runs.c.plan_id == plan_id, runs.c.period == label, runs.c.status == "closed")
    ).scalar()


def runs_of_plan(conn: Connection, plan_id: str) -> dict[str, tuple[str, date]]:
    """The plan's saved runs by period label: run id and first day of the period."""
    runs = s.evaluation_runs
    rows = conn.execute(select(runs.c.period, runs.c.id, runs.c.period_start).where(runs.c.plan_id == plan_id))
    return {label: (run_id, start) for label, run_id, start in rows}


def saved_lines(conn: Connection, run_id: str, rule: str, people: Iterable[str] | None = None) -> list[SavedLine]:
    """A saved run's lines of one rule, in the order they were saved (only ``people``'s, when given)."""
    o = s.outcomes
    query = select(o.c.person_id, o.c.amount, o.c.trace, o.c.kind, o.c.status, o.c.attention).where(
        o.c.run_id == run_id, o.c.rule_id == rule
    )
    if people is not None:
        query = query.where(o.c.person_id.in_(sorted(set(people))))
    return [SavedLine(*row) for row in conn.execute(query.order_by(o.c.id))]


class _encoded_json(FunctionElement[Any]):
    """A bound value that already is JSON text, stored in a JSON column as it is (no second encoding)."""

    type = s.outcomes.c.trace.type
    inherit_cache = True
    name = "encoded_json"


@compiles(_encoded_json)
def _encoded_json_default(element: _encoded_json, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(list(element.clauses)[0], **kw)} AS JSON)"


@compiles(_encoded_json, "sqlite")
def _encoded_json_sqlite(element: _encoded_json, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(list(element.clauses)[0], **kw)  # JSON is text in SQLite


def save_run(
    conn: Connection, run: EvaluationRun, period: Period, traces: Sequence[str], tables_read: Iterable[str] = ()
) -> None:
    """Save ``run`` (each line's trace given as its JSON text), replacing the plan's earlier run of the period.

    ``tables_read``: the fact tables the evaluation read (a late change to them may touch the period)."""
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
            evaluated_by=run.evaluated_by,
            tables_read=sorted(tables_read),
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
                    "status": o.status,
                    "attention": o.attention,
                    "ledger_kind": o.ledger_kind,
                    "component": o.component,
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
        columns = "run_id, person_id, rule_id, kind, amount, currency, status, attention, ledger_kind, component, trace"
        with cursor.copy(f"COPY outcomes ({columns}) FROM STDIN") as copy:
            for o, trace in zip(run.outcomes, traces, strict=True):
                amount = to_units(o.amount, conn.dialect)
                marks = (o.status, o.attention, o.ledger_kind, o.component)
                copy.write_row((run.id, o.person_id, o.rule_id, o.kind, amount, o.currency, *marks, trace))
    finally:
        cursor.close()


def run_from_row(row: Row[Any], outcomes: tuple[Outcome, ...]) -> EvaluationRun:
    """An ``EvaluationRun`` from its ``evaluation_runs`` row and its lines."""
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
        evaluated_by=row.evaluated_by,
    )


def list_runs(store: Store) -> list[EvaluationRun]:
    """Every saved run, newest first (without outcomes)."""
    runs = s.evaluation_runs
    with store.connect() as conn:
        rows = conn.execute(select(runs).order_by(runs.c.created_at.desc(), runs.c.id)).all()
    return [run_from_row(r, ()) for r in rows]


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
            select(o.c.person_id, o.c.rule_id, o.c.kind, o.c.amount, o.c.currency, cast(o.c.trace, Text), o.c.status)
            .add_columns(o.c.attention, o.c.ledger_kind, o.c.component)
            .where(o.c.run_id == row.id)
            .order_by(o.c.id)
        ).all()
    # Traces are decoded when read: a run of 10,000 people is listed or totalled without them.
    outcomes = tuple(
        Outcome(p, r, k, a, c, LazyTrace(json.loads, trace), status, attention, ledger_kind, component)
        for p, r, k, a, c, trace, status, attention, ledger_kind, component in lines
    )
    return run_from_row(row, outcomes)
