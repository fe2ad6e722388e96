"""Saved runs written straight into a store, for tests of what reads them (notifications, reports)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kpi_engine import EvaluationRun, Outcome, Store, parse_period
from kpi_engine.store import schema
from kpi_engine.store.runs import save_run


def save_lines(
    store: Store,
    plan_id: str,
    period: str,
    lines: Sequence[tuple[str, str, str, str | None, dict[str, Any]]],
    *,
    amount: Decimal | None = None,
) -> str:
    """Save a run of ``plan_id`` for ``period`` whose lines are (person, rule, kind, status, trace)."""
    label = parse_period(period)
    outcomes = tuple(
        Outcome(
            person,
            rule,
            kind,
            amount,
            "CNY" if amount is not None else None,
            trace,
            status,
            status in ("raised", "failed", "firing"),
        )
        for person, rule, kind, status, trace in lines
    )
    run = EvaluationRun(
        id=f"{plan_id[:10]}-{label.label}"[:32],
        plan_id=plan_id,
        plan_version="1",
        plan_hash="0" * 64,
        period=label.label,
        time_zone="Asia/Shanghai",
        data_watermark="test",
        engine_version="test",
        status="open",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        outcomes=outcomes,
        evaluated_by="li.na",
    )
    with store.begin() as conn:
        save_run(conn, run, label, [json.dumps(o.trace) for o in outcomes])
    return run.id


def add_people(store: Store, people: Sequence[tuple[str, str, str | None, str | None]]) -> None:
    """People as (id, name, team, manager); teams are created as needed."""
    with store.begin() as conn:
        for team in sorted({t for _, _, t, _ in people if t}):
            conn.execute(schema.teams.insert().values(id=team, name=f"Team {team}"))
        for pid, name, team, manager in sorted(people, key=lambda p: p[3] is not None):
            conn.execute(
                schema.people.insert().values(
                    id=pid,
                    name=name,
                    role="sales_rep" if manager else "manager",
                    team_id=team,
                    manager_id=manager,
                    email=f"{pid.lower()}@example.com",
                )
            )
