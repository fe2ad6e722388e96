"""kpi daily: one run at a time on either store, every step idempotent, each run recorded."""

from __future__ import annotations

from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy import select

from kpi_engine import schema
from kpi_engine.daily import daily_lock, run_daily
from kpi_engine.errors import RunInProgress
from kpi_engine.periods import parse_period
from tests.support.saved_runs import add_people

RULES = Path(str(files("kpi_engine_rules")))


def test_a_second_run_is_refused_while_the_first_holds_the_lock(store):
    with daily_lock(store):
        with pytest.raises(RunInProgress, match="another kpi daily is running"):
            with daily_lock(store):
                pass
    with daily_lock(store):  # released: the next run goes ahead
        pass


def test_a_daily_run_evaluates_the_alert_and_pip_plans_builds_the_site_and_is_recorded(store, tmp_path):
    add_people(store, [("M1", "Wang Hong", "east", None), ("E1", "Li Lei", "east", "M1")])

    first = run_daily(
        store,
        plans=RULES,
        site=tmp_path / "site",
        notify_config=None,
        period=parse_period("2026-02"),
        connectors=[],
        today=date(2026, 2, 20),
    )
    second = run_daily(
        store,
        plans=RULES,
        site=tmp_path / "site",
        notify_config=None,
        period=parse_period("2026-02"),
        connectors=[],
        today=date(2026, 2, 21),
    )

    assert sorted(first.evaluated) == ["conversion-alert", "pip"] and first.failures == []
    assert (tmp_path / "site" / "index.html").is_file() and first.site is not None
    assert second.evaluated == first.evaluated
    with store.connect() as conn:
        runs = conn.execute(select(schema.daily_runs.c.status, schema.daily_runs.c.period)).all()
        saved = conn.execute(select(schema.evaluation_runs.c.plan_id, schema.evaluation_runs.c.period)).all()
    assert [tuple(r) for r in runs] == [("done", "2026-02"), ("done", "2026-02")]
    assert sorted(tuple(r) for r in saved if r[1] == "2026-02") == [("conversion-alert", "2026-02"), ("pip", "2026-02")]


def test_a_step_that_fails_is_recorded_and_the_others_still_run(store, tmp_path):
    summary = run_daily(
        store,
        plans=RULES,
        site=None,
        notify_config=tmp_path / "missing.yaml",
        period=parse_period("2026-02"),
        connectors=["no-such-crm"],
        today=date(2026, 2, 20),
    )

    assert summary.synced == {"no-such-crm": "failed"}
    assert any(f.startswith("sync no-such-crm") for f in summary.failures)
    assert any(f.startswith("notify:") and "no notification config" in f for f in summary.failures)
    assert sorted(summary.evaluated) == ["conversion-alert", "pip"]
    with store.connect() as conn:
        assert conn.execute(select(schema.daily_runs.c.status)).scalar() == "failed"
