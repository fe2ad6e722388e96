"""PIP trigger: consecutive failing periods raise one recommendation for HR review, then a window decides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kpi_engine_plugins.pip_trigger import PipTrigger, evaluate
from tests.support.rule_book import Ledger

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]


def seed_002_rule(**observation: object) -> PipTrigger:
    """Seed 002: two consecutive months below target -> PIP with a 3-month observation (pass: met in 2 of 3)."""
    return PipTrigger.model_validate(
        {
            "measure": "bookings",
            "basis": "attainment",
            "fails_when": "< 100%",
            "consecutive": 2,
            "observation": {"periods": 3, "pass_when_met": 2, **observation},
        }
    )


def monthly(attainment: list[int], person: str = "E1") -> Ledger:
    """Bookings against a target of 100 each month, so bookings read as attainment percent."""
    ledger = Ledger(people=[person])
    for month, value in zip(MONTHS, attainment):
        ledger.set(month, "bookings", {person: value}).target(month, "bookings", {person: 100})
    return ledger


def run_months(ledger: Ledger, config: PipTrigger, months: list[str]) -> dict[str, list[str]]:
    return {m: [o.trace["status"] for o in ledger.run(m, [("pip", evaluate, config)])["pip"]] for m in months}


def test_p1_two_months_below_target_raise_one_recommendation_that_passes_in_june():
    """Golden P1, seed 002 (rule; the pass criterion is a plan choice): attainment Jan 105%, Feb 95%,
    Mar 90%, Apr 101%, May 99%, Jun 104% -> raised at March, no second recommendation in
    April-June, passed at June (met in April and June)."""
    ledger = monthly([105, 95, 90, 101, 99, 104])
    statuses = run_months(ledger, seed_002_rule(), MONTHS[:6])
    assert statuses == {
        "2026-01": [],
        "2026-02": [],
        "2026-03": ["raised"],
        "2026-04": ["observing"],
        "2026-05": ["observing"],
        "2026-06": ["passed"],
    }
    [raised] = ledger.saved[("pip", "2026-03")]
    assert raised.kind == "recommendation" and raised.amount is None
    assert [(e["period"], e["value"]) for e in raised.trace["evidence"]] == [("2026-02", "0.95"), ("2026-03", "0.9")]
    assert "HR review" in raised.trace["explanation"] and "nothing happens automatically" in raised.trace["explanation"]
    assert raised.trace["action"].startswith("recommendation for HR review")
    [passed] = ledger.saved[("pip", "2026-06")]
    assert [e["met"] for e in passed.trace["evidence"]] == [True, False, True]


def test_p2_never_two_consecutive_months_below_raises_nothing():
    """Golden P2, seed 002: Jan 95%, Feb 105%, Mar 96%, Apr 104% -> no recommendation."""
    ledger = monthly([95, 105, 96, 104])
    assert run_months(ledger, seed_002_rule(), MONTHS[:4]) == {m: [] for m in MONTHS[:4]}


def test_window_met_in_fewer_periods_than_required_fails():
    ledger = monthly([90, 90, 101, 90, 90])
    statuses = run_months(ledger, seed_002_rule(), MONTHS[:5])
    assert statuses["2026-02"] == ["raised"] and statuses["2026-05"] == ["failed"]


def test_declared_extension_gives_a_near_miss_more_periods():
    rule = seed_002_rule(extension={"when_met": 1, "periods": 2, "pass_when_met": 1})
    ledger = monthly([90, 90, 101, 90, 90, 90, 100])
    statuses = run_months(ledger, rule, MONTHS[:7])
    assert [statuses[m] for m in MONTHS[1:7]] == [
        ["raised"],
        ["observing"],
        ["observing"],
        ["extended"],
        ["observing"],
        ["passed"],
    ]


def test_failing_count_starts_again_after_a_decision():
    ledger = monthly([90, 90, 100, 100, 90, 90, 90])
    statuses = run_months(ledger, seed_002_rule(), MONTHS[:7])
    # Raised in Feb; window Mar-May passes in May although May failed; June alone is one failing month.
    assert [statuses[m] for m in MONTHS[1:7]] == [["raised"], ["observing"], ["observing"], ["passed"], [], ["raised"]]


def test_rerunning_a_period_never_changes_the_answer():
    ledger = monthly([105, 95, 90, 101, 99, 104])
    first = run_months(ledger, seed_002_rule(), MONTHS[:6])
    for month in MONTHS[:6]:
        again = [o.trace["status"] for o in ledger.run(month, [("pip", evaluate, seed_002_rule())])["pip"]]
        assert again == first[month]


def test_state_is_replayed_from_the_data_when_earlier_periods_were_not_evaluated():
    ledger = monthly([105, 95, 90, 101, 99, 104])
    [outcome] = ledger.run("2026-05", [("pip", evaluate, seed_002_rule())])["pip"]
    assert outcome.trace["status"] == "observing"
    assert outcome.trace["replayed"] == ["2026-03: raised", "2026-04: observing"]


def test_month_without_a_target_is_no_data_and_breaks_a_failing_run():
    ledger = monthly([90, 90, 90])
    ledger.targets["2026-02"] = {}
    assert run_months(ledger, seed_002_rule(), MONTHS[:3]) == {"2026-01": [], "2026-02": [], "2026-03": []}


def test_measure_may_be_a_plan_name_and_the_condition_read_other_names():
    ledger = Ledger(people=["E1"])
    for month, (attainment, calls) in zip(MONTHS, [("0.9", "10"), ("0.8", "50"), ("0.7", "10"), ("0.6", "10")]):
        ledger.set(month, "attainment", {"E1": attainment}).set(month, "calls", {"E1": calls})
    rule = PipTrigger.model_validate(
        {
            "measure": "attainment",
            "fails_when": "value < 100% and calls < 20",
            "consecutive": 2,
            "observation": {"periods": 3, "pass_when_met": 2},
        }
    )
    statuses = run_months(ledger, rule, MONTHS[:4])
    assert [statuses[m] for m in MONTHS[:4]] == [[], [], [], ["raised"]]  # February had enough calls


def test_pass_criterion_must_fit_the_window():
    with pytest.raises(ValidationError, match="cannot require 4 periods met out of 3"):
        seed_002_rule(pass_when_met=4)
