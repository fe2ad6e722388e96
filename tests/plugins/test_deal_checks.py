"""Deal checks on hand-built rows (no database): what each check reads, when it stays silent, what a finding carries.

The plan tests in rules/deal-integrity.yaml cover each check's main case; these cover what a plan
test cannot state easily: neighbouring periods, Benford screening, configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kpi_engine import CheckConfig, Finding, Period, RuleContext, get_registry
from kpi_engine.plans.plan_tests import run_plan_tests
from kpi_engine_plugins.deal_checks import (
    Benford,
    CancelAndRebook,
    DealSplitting,
    EarlyChurn,
    benford,
    cancel_and_rebook,
    deal_splitting,
    early_churn,
)
from kpi_engine_plugins.deal_timing_checks import (
    DiscountSpike,
    PeriodEndPullForward,
    discount_spike,
    period_end_pull_forward,
)
from tests.support.rule_context import context

DEAL_CHECKS = {
    "deal_splitting",
    "duplicate_deal",
    "cancel_and_rebook",
    "early_churn",
    "amounts_below_threshold",
    "benford",
    "period_end_pull_forward",
    "sandbagging",
    "discount_spike",
}


def _with_periods(
    ctx: RuleContext, rows: Mapping[str, Mapping[str, Mapping[str, Sequence[dict[str, Any]]]]], asked: list[str]
) -> RuleContext:
    """``ctx`` whose ``record_details_in`` serves ``rows`` (period label -> metric -> person -> rows) and notes what
    was asked.
    """

    def details_in(metric: str, period: Period) -> Mapping[str, Sequence[dict[str, Any]]]:
        asked.append(f"{metric} {period.label}")
        return rows.get(period.label, {}).get(metric, {})

    return dataclasses.replace(ctx, record_details_in=details_in, time_zone="Asia/Shanghai")


def _deal(
    record_id: int, amount: object, day: str, customer: int = 7, product: str = "CRM Cloud", **extra: Any
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "value": Decimal(str(amount)),
        "customer_id": customer,
        "product_line": product,
        "deal_type": "new",
        "closed_at": f"{day}T03:00:00+00:00",
        **extra,
    }


def _findings(results: list[Any]) -> list[Finding]:
    assert all(r.kind == "finding" and r.amount is None for r in results)
    return [Finding.from_result(r) for r in results]


def test_every_deal_check_is_a_registered_rule_type_with_a_check_config() -> None:
    types = get_registry().rule_types
    assert DEAL_CHECKS <= set(types)
    assert all(issubclass(types[name].config_model, CheckConfig) for name in DEAL_CHECKS)


def test_deal_splitting_reads_the_last_days_of_the_previous_period_only_as_far_back_as_the_window() -> None:
    ctx = context(
        period="2026-01", people=["E1"], details={"repeat_customer_deals": {"E1": [_deal(3, 46_000, "2026-01-02")]}}
    )
    asked: list[str] = []
    ctx = _with_periods(
        ctx, {"2025-12-25..2025-12-31": {"repeat_customer_deals": {"E1": [_deal(1, 47_000, "2025-12-30")]}}}, asked
    )
    (finding,) = _findings(deal_splitting(ctx, DealSplitting(limit=Decimal(50_000), within_days=7)))
    assert asked == ["repeat_customer_deals 2025-12-25..2025-12-31"]
    assert finding.evidence == {"deals": (1, 3)} and finding.period == "2026-01" and finding.figures["total"] == "93000"


def test_deal_splitting_leaves_a_group_wholly_in_the_previous_period_to_that_period() -> None:
    ctx = context(period="2026-01", people=["E1"], details={"repeat_customer_deals": {"E1": []}})
    earlier = [_deal(1, 46_000, "2025-12-29"), _deal(2, 47_000, "2025-12-30")]
    ctx = _with_periods(ctx, {"2025-12-25..2025-12-31": {"repeat_customer_deals": {"E1": earlier}}}, [])
    assert deal_splitting(ctx, DealSplitting()) == []


def test_deal_splitting_does_not_group_a_renewal_with_a_new_sale_unless_the_plan_says_so() -> None:
    rows = [_deal(1, 46_000, "2026-01-12"), {**_deal(2, 47_000, "2026-01-13"), "deal_type": "renewal"}]
    ctx = _with_periods(
        context(period="2026-01", people=["E1"], details={"repeat_customer_deals": {"E1": rows}}), {}, []
    )
    assert deal_splitting(ctx, DealSplitting()) == []
    assert len(deal_splitting(ctx, DealSplitting(same_deal_type=False))) == 1


def test_churn_and_rebook_finds_a_churn_of_the_previous_period_and_names_the_churn_event() -> None:
    churn = {
        "record_id": 5,
        "value": Decimal(90_000),
        "deal_id": 40,
        "customer_id": 7,
        "product_line": "CRM Cloud",
        "deal_amount": Decimal(90_000),
        "churned_at": "2026-01-28T03:00:00+00:00",
    }
    ctx = context(
        period="2026-02", people=["E1"], details={"rebook_candidates": {"E1": [_deal(41, 85_000, "2026-02-10")]}}
    )
    ctx = _with_periods(ctx, {"2026-01-02..2026-01-31": {"deal_churn_events": {"E9": [churn]}}}, [])
    (finding,) = _findings(cancel_and_rebook(ctx, CancelAndRebook(within_days=30)))
    assert finding.evidence == {"deals": (40, 41), "churn_events": (5,)}
    assert finding.figures["days"] == "13"
    assert cancel_and_rebook(ctx, CancelAndRebook(within_days=30, events=["cancellation"])) == []
    assert cancel_and_rebook(ctx, CancelAndRebook(within_days=30, min_amount_ratio=Decimal("0.95"))) == []


def test_early_churn_past_the_window_or_on_a_deal_that_is_no_longer_won_is_no_finding() -> None:
    rows = [
        {
            "record_id": 1,
            "value": 1,
            "deal_id": 10,
            "customer_id": 1,
            "deal_amount": 1,
            "deal_status": "won",
            "closed_at": "2026-01-02T03:00:00+00:00",
            "churned_at": "2026-06-02T03:00:00+00:00",
        },
        {
            "record_id": 2,
            "value": 1,
            "deal_id": 11,
            "customer_id": 2,
            "deal_amount": 1,
            "deal_status": "lost",
            "closed_at": "2026-05-20T03:00:00+00:00",
            "churned_at": "2026-06-02T03:00:00+00:00",
        },
        {"record_id": 3, "value": 1, "deal_id": None, "customer_id": 3, "churned_at": "2026-06-02T03:00:00+00:00"},
    ]
    ctx = context(period="2026-06", people=["E1"], details={"deal_churn_events": {"E1": rows}})
    assert early_churn(ctx, EarlyChurn(within_days=90)) == []


def test_a_check_carries_the_effect_the_plan_declares_in_every_finding() -> None:
    rows = [
        {
            "record_id": 1,
            "value": 1,
            "deal_id": 10,
            "customer_id": 1,
            "deal_amount": 1000,
            "deal_status": "won",
            "closed_at": "2026-05-20T03:00:00+00:00",
            "churned_at": "2026-06-02T03:00:00+00:00",
        }
    ]
    ctx = context(period="2026-06", people=["E1"], details={"deal_churn_events": {"E1": rows}})
    (result,) = early_churn(ctx, EarlyChurn(effect="clawback", affects=["commission"]))
    assert result.trace["effect"] == "clawback" and result.trace["affects"] == ["commission"]
    assert (
        result.trace["period"] == "2026-05" and result.trace["severity"] == "high"
    )  # 13 days: within a third of the window


def test_a_check_refuses_unknown_settings() -> None:
    with pytest.raises(ValidationError):
        DealSplitting.model_validate({"limt": 50_000})


# --- benford ---------------------------------------------------------------------------------


def _digits(counts: Mapping[int, int]) -> list[dict[str, Any]]:
    return [{"record_id": digit, "value": Decimal(n)} for digit, n in counts.items()]


BENFORD_LIKE = {1: 60, 2: 35, 3: 25, 4: 19, 5: 16, 6: 13, 7: 12, 8: 10, 9: 10}  # 200 amounts, close to Benford
FLAT = dict.fromkeys(range(1, 10), 20)  # 180 amounts, evenly spread: generated prices look like this


def _benford_ctx(own: Mapping[int, int], team: Mapping[int, int]) -> RuleContext:
    amounts = [
        {"record_id": 1, "value": Decimal(47_000)},
        {"record_id": 2, "value": Decimal(12_000)},
        {"record_id": 3, "value": Decimal(48_500)},
    ]
    return context(
        period="2026-03",
        people=["E1", "E2"],
        details={"deal_first_digits": {"E1": _digits(own), "E2": _digits(team)}, "won_amount": {"E1": amounts}},
    )


def test_benford_flags_digits_departing_from_the_law_and_the_team_and_names_this_periods_deals_with_them() -> None:
    skewed = {1: 15, 2: 10, 3: 10, 4: 90, 5: 10, 6: 5, 7: 5, 8: 3, 9: 2}  # 150 amounts, crowded on 4
    (finding,) = _findings(benford(_benford_ctx(skewed, BENFORD_LIKE), Benford(periods=1)))
    assert finding.person_id == "E1" and finding.figures["over_represented"] == "4"
    assert finding.evidence == {"deals": (1, 3)}
    assert Decimal(finding.figures["mad"]) > Decimal("0.015")


def test_benford_stays_silent_when_the_person_prices_like_the_team_even_if_neither_follows_the_law() -> None:
    assert benford(_benford_ctx(FLAT, FLAT), Benford(periods=1)) == []


def test_benford_judges_nothing_below_the_minimum_sample() -> None:
    few = {1: 2, 4: 40, 9: 2}
    assert benford(_benford_ctx(few, BENFORD_LIKE), Benford(periods=1, min_sample=100)) == []


def test_benford_sums_the_window_from_aggregated_digit_rows_of_earlier_periods() -> None:
    half = {
        1: 8,
        2: 5,
        3: 5,
        4: 45,
        5: 5,
        6: 3,
        7: 2,
        8: 1,
        9: 1,
    }  # 75 a period: under the minimum alone, over it for two periods
    ctx = _benford_ctx(half, BENFORD_LIKE)
    asked: list[str] = []
    ctx = _with_periods(
        ctx, {"2026-02": {"deal_first_digits": {"E1": _digits(half), "E2": _digits(BENFORD_LIKE)}}}, asked
    )
    assert benford(ctx, Benford(periods=1)) == []
    (finding,) = _findings(benford(ctx, Benford(periods=2)))
    assert finding.figures["amounts"] == "150" and asked[-1] == "deal_first_digits 2026-02"


# --- the plan's own cases -----------------------------------------------------------------------

PLAN = Path(__file__).parents[2] / "rules" / "deal-integrity.yaml"


def test_the_deal_integrity_plan_passes_its_own_plan_tests() -> None:
    results = run_plan_tests(PLAN)
    assert len(results) >= 10
    assert [f"{case.name}: {case.error or case.failures}" for case in results if not case.passed] == []


def test_the_plan_tests_fail_when_a_threshold_changes(tmp_path: Path) -> None:
    changed = tmp_path / "deal-integrity.yaml"
    changed.write_text(PLAN.read_text().replace("    limit: 50000\n", "    limit: 200000\n", 1))
    failed = {case.name: case for case in run_plan_tests(changed) if not case.passed}
    assert "Three deals for one customer and product within three days, each under 50,000, together 123,000" in failed
    # any other case that fails does so because its same-customer deals now each stay under the higher limit and
    # reach it together
    assert all("deal_splitting" in str(case.failures) for case in failed.values())


def test_timing_checks_read_only_the_rows_of_their_window_and_aggregated_totals() -> None:

    def no_period_rows(metric: str) -> Mapping[str, Sequence[dict[str, Any]]]:
        raise AssertionError(f"read every row of {metric} for the period")

    rows = [_deal(i, 100_000, day) for i, day in enumerate(["2026-03-29", "2026-03-30", "2026-03-31"], 1)]
    history = {"2026-01": {"won_amount": {"E1": 300_000}}, "2026-02": {"won_amount": {"E1": 300_000}}}
    ctx = context(period="2026-03", people=["E1"], earlier={"2026-03": {"won_amount": {"E1": 320_000}}, **history})
    asked: list[str] = []
    ctx = _with_periods(
        dataclasses.replace(ctx, record_details=no_period_rows),
        {"2026-03-29..2026-03-31": {"closed_deal_details": {"E1": rows}}},
        asked,
    )
    (finding,) = _findings(period_end_pull_forward(ctx, PeriodEndPullForward()))
    assert finding.figures["share"] == "93.8%" and finding.figures["norm_from"] == "2 of the 3 periods before"
    assert discount_spike(ctx, DiscountSpike()) == []
    assert set(asked) == {"closed_deal_details 2026-03-29..2026-03-31", "closed_deal_details 2026-03-25..2026-03-31"}


def test_discount_spike_needs_the_discounted_deals_to_be_most_of_the_persons_last_days() -> None:
    """A busy rep's three discounted deals among ten in the last week are no spike; three of four are."""
    discounted = [_deal(i, 20_000, "2026-03-30", discount=Decimal("0.3")) for i in (1, 2, 3)]
    ordinary = [_deal(i, 20_000, "2026-03-27", discount=Decimal("0.05")) for i in range(4, 11)]
    earlier = {f"2026-{m:02d}": {"average_discount": {"E1": Decimal("0.05")}} for m in (1, 2)} | {
        "2025-12": {"average_discount": {"E1": Decimal("0.05")}}
    }

    def spikes(deals: list[dict[str, Any]]) -> list[Finding]:
        ctx = context(period="2026-03", people=["E1"], earlier=earlier)
        ctx = _with_periods(ctx, {"2026-03-25..2026-03-31": {"closed_deal_details": {"E1": deals}}}, [])
        return _findings(discount_spike(ctx, DiscountSpike()))

    assert spikes(discounted + ordinary) == []
    (finding,) = spikes(discounted + ordinary[:1])
    assert finding.evidence == {"deals": (1, 2, 3)} and finding.figures["window_deals"] == "4"
    assert finding.explanation.startswith("3 of 4 deals closed in the period's last 7 days")
