"""Golden case R2 (Oracle Sales IC, "Example of Incentive Compensation Draw and Recovery") as a plan test."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kpi_engine.plans.plan_tests import run_plan_tests

PLAN = Path(__file__).parents[1] / "golden" / "golden_r2_recoverable_draw.yaml"


def test_r2_plan_passes_its_cases():
    for result in run_plan_tests(PLAN):
        assert result.source and result.passed, f"{result.name}: {result.error or result.failures}"


def test_r2_draws_500_300_600_pay_1000_and_leave_a_balance_of_1400():
    """Guarantee 1,000; earnings 500 / 700 / 400 -> draws 500 / 300 / 600; balance 500 / 800 / 1,400."""
    r2 = run_plan_tests(PLAN)[0]
    draws = [next(o for o in r2.outcomes[m] if o.rule_id == "draw") for m in ("2026-01", "2026-02", "2026-03")]
    assert [o.amount for o in draws] == [Decimal("500.00"), Decimal("300.00"), Decimal("600.00")]
    assert [Decimal(o.trace["paid"]) for o in draws] == [Decimal(1000)] * 3
    assert [Decimal(o.trace["balance_after"]) for o in draws] == [Decimal(500), Decimal(800), Decimal(1400)]
