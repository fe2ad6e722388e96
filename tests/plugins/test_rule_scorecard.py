"""Weighted scorecard rule type: weights, levels, scoring curves, hand-entered scores, gates and payouts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from kpi_engine import PersonInfo
from kpi_engine_plugins.scorecard import (
    Scorecard,
    ScorecardKPI,
    achievement_factor,
    evaluate,
)
from tests.support.rule_context import context, d

LEVELS = {"baseline": 80, "target": 100, "challenge": 150}


def kpi(**settings: Any) -> ScorecardKPI:
    return ScorecardKPI.model_validate(
        {"name": "revenue", "metric": "bookings", "weight": "100%", "levels": LEVELS} | settings
    )


def factor(config: ScorecardKPI, actual: object) -> Decimal:
    levels = {
        k: d(v)
        for k, v in (config.levels.model_dump(exclude_none=True) if not isinstance(config.levels, str) else {}).items()
    }
    return achievement_factor(config, d(actual), levels)[0]


def results(config: Scorecard, **ctx: Any) -> dict[str, Any]:
    score, payout = evaluate(context(**ctx), config)
    assert (score.kind, payout.kind) == ("score", "payout")
    return {
        "score": score.amount,
        "payout": payout.amount,
        "trace": dict(payout.trace),
        "score_trace": dict(score.trace),
    }


# --- S1 ---------------------------------------------------------------------------------------

S1 = {
    "target_incentive": 100000,
    "kpis": [
        {"name": "revenue", "metric": "bookings", "weight": "50%", "curve": "ratio", "levels": {"target": 100}},
        {"name": "customers", "metric": "new_customers", "weight": "20%", "curve": "ratio", "levels": {"target": 100}},
        {"name": "visits", "metric": "visits", "weight": "15%", "curve": "ratio", "levels": {"target": 100}},
        {
            "name": "satisfaction",
            "metric": "complaint_satisfaction",
            "weight": "15%",
            "curve": "ratio",
            "levels": {"target": 100},
        },
    ],
}
S1_VALUES = {
    "bookings": {"E1": 110},
    "new_customers": {"E1": 80},
    "visits": {"E1": 100},
    "complaint_satisfaction": {"E1": 0},
}


def test_scorecard_pays_target_incentive_times_weighted_score():
    """Golden S1, intelligentspm balanced-scorecard article: 100,000 × (0.55 + 0.16 + 0.15 + 0) = 86,000."""
    found = results(Scorecard.model_validate(S1), values=S1_VALUES)
    assert found["score"] == d("0.8600")
    assert found["payout"] == d("86000.00")
    assert [(k["kpi"], k["factor"], k["weight"], k["contribution"]) for k in found["trace"]["kpis"]] == [
        ("revenue", "1.1", "0.5", "0.55"),
        ("customers", "0.8", "0.2", "0.16"),
        ("visits", "1", "0.15", "0.15"),
        ("satisfaction", "0", "0.15", "0"),
    ]
    assert found["trace"]["explanation"][-1] == "Payout = target incentive 100,000 × score 86% = 86,000."


def test_unmet_gate_pays_nothing_but_the_score_is_still_reported():
    """Golden S1 with the gate "revenue factor ≥ 1.2": unmet at 1.10, so 0 (derived)."""
    found = results(Scorecard.model_validate(S1 | {"gate": "revenue_factor >= 1.2"}), values=S1_VALUES)
    assert found["payout"] == d("0.00")
    assert found["score"] == d("0.8600")
    assert found["trace"]["gate"] == {
        "condition": "revenue_factor >= 1.2",
        "met": False,
        "inputs": {"revenue_factor": "1.1"},
    }
    assert found["trace"]["explanation"][-2] == "The gate revenue_factor >= 1.2 is not met (revenue_factor = 1.1)."


# --- configuration ----------------------------------------------------------------------------


def test_weights_must_add_up_to_one_hundred_percent():
    bad = S1 | {"kpis": [k | {"weight": "30%"} if k["name"] == "revenue" else k for k in S1["kpis"]]}
    with pytest.raises(
        ValidationError, match=r"add up to 80%, not 100% \(revenue 30%, customers 20%, visits 15%, satisfaction 15%\)"
    ):
        Scorecard.model_validate(bad)


def test_a_kpi_is_either_measured_or_scored_by_hand_with_a_scale():
    with pytest.raises(ValidationError, match="exactly one of metric"):
        ScorecardKPI.model_validate({"name": "x", "weight": "10%"})
    with pytest.raises(ValidationError, match="needs scale_max"):
        ScorecardKPI.model_validate({"name": "x", "manual": "report_quality", "weight": "10%"})


def test_target_incentive_is_one_amount_or_per_role():
    with pytest.raises(ValidationError, match="either as target_incentive"):
        Scorecard.model_validate({"kpis": S1["kpis"]})


# --- curves -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected"),
    [(70, "0"), (80, "0.5"), (90, "0.75"), (100, "1"), (125, "1.25"), (150, "1.5"), (200, "1.5")],
)
def test_linear_curve_runs_through_baseline_target_and_challenge(actual, expected):
    assert factor(kpi(), actual) == d(expected)


def test_linear_curve_extended_beyond_challenge_stops_at_the_cap():
    extended = kpi(extend=True, cap="200%")
    assert factor(extended, 175) == d("1.75")
    assert factor(extended, 400) == d("2")
    with pytest.raises(ValidationError, match="declare its cap"):
        kpi(extend=True)


@pytest.mark.parametrize(
    ("hours", "expected"), [(60, "0"), (48, "0.5"), (36, "0.75"), (24, "1"), (18, "1.25"), (6, "1.5")]
)
def test_lower_is_better_kpi_scores_higher_for_shorter_resolution_times(hours, expected):
    resolution = kpi(
        metric="issue_resolution_hours",
        direction="lower_is_better",
        levels={"baseline": 48, "target": 24, "challenge": 12},
    )
    assert factor(resolution, hours) == d(expected)


def test_steps_curve_pays_the_factor_of_the_highest_step_reached():
    steps = kpi(
        curve="steps",
        steps=[
            {"from": "baseline", "factor": "50%"},
            {"from": "target", "factor": "100%"},
            {"from": "challenge", "factor": "120%"},
        ],
    )
    assert [factor(steps, v) for v in (79, 80, 99, 100, 149, 150, 500)] == [
        d(x) for x in ("0", "0.5", "0.5", "1", "1", "1.2", "1.2")
    ]


def test_levels_come_from_the_persons_targets_by_default():
    config = Scorecard.model_validate(
        {"target_incentive": 1000, "kpis": [{"name": "revenue", "metric": "bookings", "weight": "100%"}]}
    )
    found = results(config, values={"bookings": {"E1": 125}}, targets={"bookings": {"E1": LEVELS}})
    assert found["score"] == d("1.2500")
    assert found["payout"] == d("1250.00")
    assert found["trace"]["kpis"][0]["levels"] == {"baseline": "80", "target": "100", "challenge": "150"}


def test_a_person_without_the_levels_is_not_scored_and_the_trace_says_why():
    config = Scorecard.model_validate(
        {"target_incentive": 1000, "kpis": [{"name": "revenue", "metric": "bookings", "weight": "100%"}]}
    )
    found = results(config, values={"bookings": {"E1": 125}}, targets={"bookings": {"E1": {"target": 100}}})
    assert found["payout"] is None and found["score"] is None
    assert (
        found["trace"]["skipped"]
        == "KPI revenue has no baseline or challenge level in the bookings targets for this person and period"
    )


# --- hand-entered scores and roles ------------------------------------------------------------

MARKETING = {
    "target_incentive_by_role": {"marketing_specialist": 20000},
    "kpis": [
        {"name": "leads", "metric": "leads_created", "weight": "80%", "curve": "ratio", "levels": {"target": 100}},
        {"name": "report_quality", "manual": "report_quality", "scale_max": 5, "weight": "20%"},
    ],
}


def test_manual_score_is_divided_by_its_scale():
    people = {"M1": PersonInfo(id="M1", name="M1", role="marketing_specialist")}
    found = results(
        Scorecard.model_validate(MARKETING),
        values={"leads_created": {"M1": 100}},
        manual={"report_quality": {"M1": "4.5"}},
        people_info=people,
    )
    assert found["score"] == d("0.9800")  # 80% × 1 + 20% × 4.5 / 5
    assert found["payout"] == d("19600.00")
    assert found["trace"]["kpis"][1]["how"] == "score 4.5 of 5"


def test_missing_manual_score_counts_as_zero_and_says_so():
    people = {"M1": PersonInfo(id="M1", name="M1", role="marketing_specialist")}
    found = results(Scorecard.model_validate(MARKETING), values={"leads_created": {"M1": 100}}, people_info=people)
    assert found["score"] == d("0.8000")
    assert found["trace"]["kpis"][1]["how"] == "no data: no report_quality score entered, counted as 0"


def test_person_whose_role_has_no_target_incentive_gets_a_score_but_no_payout():
    people = {"M1": PersonInfo(id="M1", name="M1", role="sales_rep")}
    found = results(Scorecard.model_validate(MARKETING), values={"leads_created": {"M1": 100}}, people_info=people)
    assert found["score"] == d("0.8000")
    assert found["payout"] is None
    assert found["trace"]["skipped"] == "no target incentive for the role 'sales_rep'"


def test_lower_is_better_kpi_without_a_value_is_not_the_best_possible():
    config = Scorecard.model_validate(
        {
            "target_incentive": 1000,
            "kpis": [
                {"name": "revenue", "metric": "bookings", "weight": "50%", "curve": "ratio", "levels": {"target": 100}},
                {
                    "name": "resolution",
                    "metric": "issue_resolution_hours",
                    "weight": "50%",
                    "direction": "lower_is_better",
                    "levels": {"baseline": 48, "target": 24, "challenge": 12},
                },
            ],
        }
    )
    found = results(config, values={"bookings": {"E1": 100}, "issue_resolution_hours": {}})
    assert found["score"] == d("0.5")
    assert (
        found["trace"]["kpis"][1]["how"]
        == "no data: no issue_resolution_hours value this period, scored as below the first point"
    )
