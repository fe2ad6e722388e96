"""The rule benchmark at 1 % of its size: its figures count the right evaluations of the right payouts.

Speed is never asserted here; ``benchmarks/rule_bench.py`` prints it.
"""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "rule_bench.py"


@pytest.fixture(scope="module")
def rule_bench():
    spec = importlib.util.spec_from_file_location("rule_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rule_bench"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("rule_bench", None)


def test_the_hand_written_baseline_pays_the_plans_marginal_ladder_and_cap(rule_bench):
    target = Decimal(300000)
    # 300,000 × 5% + 150,000 × 8% + 50,000 × 10% = 15,000 + 12,000 + 5,000
    assert rule_bench.commission_by_hand(Decimal(500000), target) == Decimal("32000.00")
    assert rule_bench.commission_by_hand(Decimal("100000.10"), target) == Decimal("5000.01")  # 5,000.005 half up
    assert rule_bench.commission_by_hand(Decimal(0), target) == Decimal("0.00")
    assert rule_bench.commission_by_hand(Decimal(2000000), target) == Decimal("60000.00")  # the cap


def test_the_benchmark_plan_is_the_example_commission_rule_alone(rule_bench):
    from kpi_engine import get_registry, load_plan

    registry = get_registry()
    loaded = rule_bench.commission_plan(registry)
    example = load_plan(rule_bench.PLAN, registry=registry)
    assert [r.id for r in loaded.plan.rules] == ["commission"]  # every evaluation counted is a commission decided
    assert loaded.configs["commission"] == example.configs["commission"]


def test_the_engine_and_the_baseline_agree_on_every_person_of_a_one_percent_company(rule_bench):
    from kpi_engine import get_registry, parse_period

    registry = get_registry()
    loaded = rule_bench.commission_plan(registry)
    company = rule_bench.make_company(1_000, 3)
    assert rule_bench.check(company, loaded, parse_period(rule_bench.PERIOD), registry) == 1_000
    outcomes = rule_bench.engine(loaded, parse_period(rule_bench.PERIOD), company.facts(), registry)
    assert len(outcomes) == 1_000 and all(o.rule_id == "commission" and o.trace["explanation"] for o in outcomes)
    paid = sorted(o.amount for o in outcomes)
    assert paid[0] < paid[-1] <= Decimal(60000)  # the company spans the ladder, and the cap holds


def test_a_payout_that_differs_from_the_baseline_fails_the_check(rule_bench, monkeypatch):
    from kpi_engine import get_registry, parse_period

    registry = get_registry()
    loaded = rule_bench.commission_plan(registry)
    monkeypatch.setattr(rule_bench, "CAP", Decimal(1000))
    with pytest.raises(AssertionError, match="the engine pays"):
        rule_bench.check(rule_bench.make_company(100, 3), loaded, parse_period(rule_bench.PERIOD), registry)


def test_the_figures_are_evaluations_per_second_of_each_way(rule_bench):
    rates = rule_bench.measure(200, 2, 1)
    assert list(rates) == ["engine", "engine+trace", "rule type", "by hand"]
    assert all(rate > 0 for rate in rates.values())
