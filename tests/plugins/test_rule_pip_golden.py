"""Golden cases P1 and P2 (seed 002) and the example PIP plan, run as the plans' own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_engine.plans.plan_tests import run_plan_tests

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    "plan",
    [
        "tests/golden/golden_p1_p2_pip_trigger.yaml",  # P1, P2: seed 002 (rule); the pass criterion is a plan choice
        "rules/pip.yaml",  # seed 002: two months under 70 % of target -> PIP, 3-month observation, 2 of 3 passes
    ],
)
def test_pip_plans_pass_their_cases(plan):
    results = run_plan_tests(ROOT / plan)
    assert results, f"{plan} has no cases"
    for result in results:
        assert result.source, f"{result.name} cites no source"
        assert result.passed, f"{result.name}: {result.error or result.failures}"


def test_p1_recommendation_is_raised_once_with_its_evidence_and_passes_in_june():
    """Golden P1, seed 002: Jan 105%, Feb 95%, Mar 90%, Apr 101%, May 99%, Jun 104%."""
    [p1, _p2] = run_plan_tests(ROOT / "tests/golden/golden_p1_p2_pip_trigger.yaml")
    statuses = {label: [o.trace["status"] for o in lines] for label, lines in p1.outcomes.items()}
    assert statuses == {
        "2026-01": [],
        "2026-02": [],
        "2026-03": ["raised"],
        "2026-04": ["observing"],
        "2026-05": ["observing"],
        "2026-06": ["passed"],
    }
    [raised] = p1.outcomes["2026-03"]
    assert [(e["period"], e["value"]) for e in raised.trace["evidence"]] == [("2026-02", "0.95"), ("2026-03", "0.9")]
    assert raised.kind == "recommendation" and raised.amount is None
    assert "nothing happens automatically" in raised.trace["explanation"]
