"""Smoke test of the scale benchmark at 1 % (100 people, 50,000 deals, 200,000 activities, 10,000 leads).

What is checked is the computation of the figures, never their speed: the generator writes the rows
asked for; the engine, the hand-written SQL and the pandas script pay the same to the cent; every
plan in ``rules/`` evaluates; the report prints numbers and ratios, and refuses ratios when payouts
differ. To stay within the suite's time budget the company is generated once for the module, the
12 months are checked for the commission plan only (the scorecard for one month), and the rule
benchmark's own smoke test lives in ``tests/test_rule_bench_smoke.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from kpi_engine import get_run, list_runs, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))  # the benchmark scripts, by name

import baseline_pandas
import baseline_sql
import scale_bench
import scale_data

from .conftest import database_of_its_own

SIZE = 0.01
MONTH = "2026-01"
COMMISSION = (("sales-commission", "commission"),)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A 1 % scale company on the suite's backend (PostgreSQL: a schema of its own), generated once."""
    with database_of_its_own("scale_smoke", tmp_path_factory.mktemp("scale")) as url:
        loaded = scale_data.generate(url, size=SIZE, seed=3)
        store = open_store(url)
        yield {"url": url, "store": store, "loaded": loaded}
        store.dispose()


@pytest.fixture(scope="module")
def month_results(company: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The one-month steps, computed in this process with made-up seconds (speed is not under test)."""
    store = company["store"]
    results: dict[str, dict[str, Any]] = {}
    results["metrics-month"] = scale_bench.plan_metrics(store, MONTH) | {"seconds": 1.0, "peak_mb": 1.0}
    results["pay-month"] = {"payouts": scale_bench.payout_map(store, [MONTH]), "seconds": 4.0, "peak_mb": 1.0}
    results["sql-month"] = {
        "payouts": scale_bench.baseline_map(baseline_sql.payouts(store, [MONTH])),
        "seconds": 2.0,
        "peak_mb": 1.0,
    }
    results["pandas-month"] = {
        "payouts": scale_bench.baseline_map(baseline_pandas.payouts(store, [MONTH])),
        "seconds": 8.0,
        "peak_mb": 1.0,
    }
    results["full-month"] = scale_bench.evaluate_every_plan(store, [MONTH]) | {"seconds": 6.0, "peak_mb": 1.0}
    return results


def test_the_generator_writes_the_rows_asked_for_at_one_percent(company):
    loaded = company["loaded"]
    assert loaded["asked"] == {
        "people": 100,
        "customers": 5_000,
        "deals": 50_000,
        "activities": 200_000,
        "leads": 10_000,
    }
    for table, asked in loaded["asked"].items():
        assert loaded["rows"][table] == asked, table
    with company["store"].connect() as conn:
        for table, asked in loaded["asked"].items():
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() == asked, table
        roles = dict(conn.execute(text("SELECT role, COUNT(*) FROM people GROUP BY role")).all())
        splits = conn.execute(text("SELECT COUNT(DISTINCT deal_id) FROM deal_splits")).scalar_one()
        won = conn.execute(text("SELECT COUNT(*) FROM deals WHERE status = 'won'")).scalar_one()
    assert set(roles) == {"manager", "sales_rep", "marketing_specialist", "customer_success"}
    assert 0.01 < splits / won < 0.03  # about 2 % of the won deals are split


def test_the_same_seed_draws_the_same_company():
    first, second = scale_data.ScaleCompany(SIZE, 3), scale_data.ScaleCompany(SIZE, 3)
    a, b = list(first.organisation()), list(second.organisation())
    assert [(x.table, x.columns[0][2]) for x in a] == [(y.table, y.columns[0][2]) for y in b]
    deals_a, deals_b = next(first.customers()), next(second.customers())
    assert deals_a.columns[-1][2].tolist() == deals_b.columns[-1][2].tolist()


def test_engine_sql_and_pandas_pay_every_representative_the_same_to_the_cent(month_results):
    engine = month_results["pay-month"]["payouts"]
    assert set(engine) == {f"sales-commission|{MONTH}", f"scorecard-sales-rep|{MONTH}"}
    assert all(len(paid) > 50 for paid in engine.values())
    assert sum(Decimal(v) for v in engine[f"sales-commission|{MONTH}"].values() if v) > 0
    assert month_results["sql-month"]["payouts"] == engine
    assert month_results["pandas-month"]["payouts"] == engine
    assert scale_bench.compare(month_results) == []


def test_the_commission_of_the_twelve_months_is_the_same_in_engine_sql_and_pandas(company):
    store = company["store"]
    months = scale_bench.MONTHS
    engine = scale_bench.payout_map(store, months, COMMISSION)
    wanted = {
        key: paid
        for key, paid in scale_bench.baseline_map(baseline_sql.payouts(store, months)).items()
        if key.startswith("sales-commission")
    }
    assert len(engine) == 12
    assert engine == wanted
    by_pandas = scale_bench.baseline_map(baseline_pandas.payouts(store, months))
    assert engine == {key: paid for key, paid in by_pandas.items() if key.startswith("sales-commission")}


def test_the_baselines_apply_the_commission_plans_checks_as_the_engine_does(sample_company_store):
    """On the sample company, whose planted split order, duplicate and early churn change the commission
    (held in 2026-01, excluded in 2026-07, clawed back in 2026-06), both baselines pay what the engine pays."""
    store, _summary = sample_company_store(seed=2026)
    months = [f"2026-{m:02d}" for m in range(1, 11)]
    engine = scale_bench.payout_map(store, months)
    assert scale_bench.baseline_map(baseline_sql.payouts(store, months)) == engine
    assert scale_bench.baseline_map(baseline_pandas.payouts(store, months)) == engine
    runs = {run.period: run for run in list_runs(store) if run.plan_id == "sales-commission"}
    held = [o for o in get_run(store, runs["2026-01"].id).outcomes if o.kind == "held"]
    excluded = [o for o in get_run(store, runs["2026-07"].id).outcomes if o.kind == "payout" and "excluded" in o.trace]
    clawed = [o for o in get_run(store, runs["2026-06"].id).outcomes if o.kind == "payout" and "clawback" in o.trace]
    assert held and excluded and clawed
    assert engine["sales-commission|2026-06"][clawed[0].person_id] is not None


def test_a_payout_that_differs_from_a_baseline_is_reported_and_no_ratio_is_printed(company, month_results):
    broken = {step: dict(result) for step, result in month_results.items()}
    key = f"sales-commission|{MONTH}"
    person = min(broken["sql-month"]["payouts"][key])
    payouts = {k: dict(v) for k, v in broken["sql-month"]["payouts"].items()}
    payouts[key][person] = str(Decimal(payouts[key][person] or 0) + Decimal("0.01"))
    broken["sql-month"] = {**broken["sql-month"], "payouts": payouts}
    problems = scale_bench.compare(broken)
    assert len(problems) == 1 and person in problems[0] and "sql-month" in problems[0]
    lines = scale_bench.report(company["url"], "0.01", broken, _counts(company), MONTH)
    assert "PAYOUTS DIFFER:" in lines
    assert not any(line.startswith("ratios") for line in lines)


def test_every_plan_in_rules_evaluates_for_a_month(month_results):
    full = month_results["full-month"]
    plans = set(full["plans"])
    assert {
        "sales-commission",
        "sales-bonuses",
        "scorecard-sales-rep",
        "scorecard-customer-success",
        "scorecard-marketing-specialist",
        "pip",
        "conversion-alert",
    } <= plans
    assert {p.stem for p in scale_bench.RULES.glob("*.yaml")} == plans  # integrity plans included as they land
    assert full["outcomes"] > 100
    assert set(full["per_plan"]) == plans


def test_the_metrics_step_computes_a_value_for_most_people(month_results):
    metrics = month_results["metrics-month"]
    assert metrics["metrics"] == len(scale_bench.PLAN_METRICS) == 15
    assert metrics["values"] > 500  # 15 metrics over 100 people, each for the roles it measures


def test_the_report_prints_numbers_and_the_ratios_of_the_figures(company, month_results):
    lines = scale_bench.report(company["url"], "0.01", month_results, _counts(company), MONTH)
    text_out = "\n".join(lines)
    assert "100 people, 50,000 deals, 200,000 activities, 10,000 leads" in lines[0]
    rows = [line for line in lines if re.match(r"^(engine|hand-written|pandas|15 plan)", line)]
    assert len(rows) == 5
    for row in rows:
        assert re.search(r"\s\d+\.\d\d\s+\d+ MB", row), row
    assert "payouts identical to the cent: pay-month = sql-month; pay-month = pandas-month" in text_out
    # 4 s of engine against 2 s of SQL and 8 s of pandas; 6 s for every plan
    assert (
        "month: engine ÷ SQL = 2.00×; month: engine ÷ pandas = 0.50×; "
        "month: every plan ÷ SQL of the two paying plans = 3.00×" in text_out
    )


def _counts(company: dict[str, Any]) -> dict[str, int]:
    with company["store"].connect() as conn:
        return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in scale_bench.FACT_TABLES}
