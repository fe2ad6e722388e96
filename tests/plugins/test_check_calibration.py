"""The anti-gaming checks do not accuse honest reps (issue 18): one specification per cause measured on an honest
company, each of which raised a finding before the checks compared a person with their own history, their
customers' pace, the same point of earlier quarters and the business calendar.

The figures of the honest generator (benchmarks/honest_company.py) are in docs/anti-gaming.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from kpi_engine import Finding, Period, PersonInfo, RuleContext, business_calendar, register_calendar
from kpi_engine_plugins.activity_checks import (
    ActivityInflation,
    UnverifiedActivity,
    evaluate_inflation,
    evaluate_unverified,
)
from kpi_engine_plugins.deal_checks import DealSplitting, deal_splitting
from kpi_engine_plugins.deal_timing_checks import (
    PeriodEndPullForward,
    Sandbagging,
    period_end_pull_forward,
    sandbagging,
)
from tests.support.rule_context import context


def _findings(results: list[Any]) -> list[Finding]:
    return [Finding.from_result(r) for r in results]


def _serving(ctx: RuleContext, rows: Mapping[str, Mapping[str, Mapping[str, Sequence[dict[str, Any]]]]]) -> RuleContext:
    def details_in(metric: str, period: Period) -> Mapping[str, Sequence[dict[str, Any]]]:
        return rows.get(period.label, {}).get(metric, {})

    return dataclasses.replace(ctx, record_details_in=details_in, time_zone="Asia/Shanghai")


def _deal(record_id: int, amount: int, day: str, customer: int = 7, **extra: Any) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "value": Decimal(amount),
        "customer_id": customer,
        "product_line": "CRM Cloud",
        "deal_type": "upsell",
        "closed_at": f"{day}T03:00:00+00:00",
        **extra,
    }


# --- deal_splitting: a repeat customer at its own pace --------------------------------------------


def _splitting(rows: list[dict[str, Any]]) -> list[Finding]:
    ctx = _serving(context(period="2026-05", people=["E1"], details={"repeat_customer_deals": {"E1": rows}}), {})
    return _findings(deal_splitting(ctx, DealSplitting()))


def test_two_orders_within_a_week_from_a_customer_that_orders_46_times_a_year_are_its_pace_not_a_split() -> None:
    assert (
        _splitting(
            [
                _deal(1, 38_000, "2026-05-11", customer_orders_365=46, customer_first_order="2025-07-15"),
                _deal(2, 36_000, "2026-05-14"),
            ]
        )
        == []
    )


def test_two_ordinary_orders_that_happen_to_cross_the_limit_are_not_a_split() -> None:
    # 28,400 and 26,000: each far under 50,000 (55 % of it on average), nothing lands just under the limit
    assert _splitting([_deal(1, 28_400, "2026-05-11"), _deal(2, 26_000, "2026-05-12")]) == []


def test_a_split_just_under_the_limit_by_a_customer_that_rarely_orders_is_still_found_and_says_why() -> None:
    rows = [
        _deal(i, amount, day, customer_orders_365=2)
        for i, (amount, day) in enumerate([(48_000, "2026-05-11"), (45_000, "2026-05-12"), (44_000, "2026-05-14")], 1)
    ]
    (found,) = _splitting(rows)
    assert found.evidence == {"deals": (1, 2, 3)} and found.severity == "high"
    assert found.figures["mean_part_of_limit"] == "91.3%" and found.figures["customer_orders_year_before"] == "2"
    assert "pace is unknown (2 orders in the year before" in found.explanation


def test_a_split_by_a_customer_with_a_known_slow_pace_names_the_chance_at_that_pace() -> None:
    rows = [
        _deal(1, 45_000, "2026-05-11", customer_orders_365=4, customer_first_order="2025-05-11"),
        _deal(2, 42_000, "2026-05-12"),
    ]
    (found,) = _splitting(rows)
    assert found.figures["chance_at_customer_pace"] == "7.4%"
    assert (
        "ordered 4 times in the 365 days before (one every 91.2 days), so 2 within 7 days happen 7.4% of the time"
        in (found.explanation)
    )


def test_in_the_first_month_of_data_two_orders_near_the_limit_from_a_customer_of_unknown_pace_are_not_a_split() -> None:
    # the honest company's false findings: one earlier order, so no pace; before, an unknown pace counted as a rare
    # customer and two ordinary orders of 41,200 and 46,000 four days apart were a split
    rows = [_deal(1, 41_200, "2026-01-12", customer_orders_365=1), _deal(2, 46_000, "2026-01-15")]
    ctx = _serving(context(period="2026-01", people=["E1"], details={"repeat_customer_deals": {"E1": rows}}), {})
    assert deal_splitting(ctx, DealSplitting()) == []


def test_without_the_customers_pace_parts_each_just_under_the_limit_are_still_a_split() -> None:
    rows = [_deal(1, 46_000, "2026-05-11", customer_orders_365=1), _deal(2, 47_500, "2026-05-13")]
    (found,) = _splitting(rows)
    assert found.evidence == {"deals": (1, 2)} and found.figures["chance_at_customer_pace"] == "unknown"
    assert "pace is unknown (1 orders in the year before" in found.explanation
    assert "each part is at least 90.0% of the limit" in found.explanation


# --- period_end_pull_forward and sandbagging: history, quarters, calendar -------------------------


def _march(history: Mapping[str, Mapping[str, Mapping[str, object]]], period_total: int = 300_000) -> RuleContext:
    rows = [_deal(i, 70_000, day, customer=i) for i, day in enumerate(["2026-03-29", "2026-03-30", "2026-03-31"], 1)]
    ctx = context(period="2026-03", people=["E1"], earlier={"2026-03": {"won_amount": {"E1": period_total}}, **history})
    return _serving(ctx, {"2026-03-29..2026-03-31": {"closed_deal_details": {"E1": rows}}})


def test_in_the_first_month_of_data_there_is_no_usual_and_the_timing_checks_do_not_judge() -> None:
    # before: 'usual' was taken as zero (usual_period_amount 0.00) and the norm as an even spread, so 70 % fired
    assert period_end_pull_forward(_march({}), PeriodEndPullForward()) == []


def test_one_earlier_month_is_not_yet_a_usual() -> None:
    one = {"2026-02": {"won_amount": {"E1": 300_000}}, "2026-02-26..2026-02-28": {"won_amount": {"E1": 30_000}}}
    assert period_end_pull_forward(_march(one), PeriodEndPullForward()) == []
    assert period_end_pull_forward(_march(one), PeriodEndPullForward(min_history=1))  # the plan may ask for less


def _months(shares: Mapping[str, tuple[int, int]]) -> dict[str, dict[str, dict[str, object]]]:
    """Month label -> (won amount, won amount in the month's last three days)."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for label, (total, last) in shares.items():
        year, month = map(int, label.split("-"))
        end = (date(year + month // 12, month % 12 + 1, 1) - date.resolution).day
        out[label] = {"won_amount": {"E1": total}}
        out[f"{label}-{end - 2:02d}..{label}-{end:02d}"] = {"won_amount": {"E1": last}}
    return out


def test_a_quarter_end_rush_like_the_persons_earlier_quarter_ends_is_no_pull_forward() -> None:
    # the last quarter-end (December) closed half its bookings in the last three days; January and February 10 %
    history = _months({"2025-12": (300_000, 150_000), "2026-01": (300_000, 30_000), "2026-02": (300_000, 30_000)})
    assert period_end_pull_forward(_march(history), PeriodEndPullForward()) == []
    # without the same point of earlier quarters the ordinary months' 10 % would make 70 % a finding
    (found,) = _findings(period_end_pull_forward(_march(history), PeriodEndPullForward(quarters_back=0)))
    assert "usually (3 of the 3 periods before)" in found.explanation
    assert "working days (CN calendar)" in found.explanation and found.figures["margin"] == "25.0%"


def test_a_pull_forward_names_every_comparison_in_its_sentence() -> None:
    history = _months({"2025-12": (300_000, 30_000), "2026-01": (300_000, 30_000), "2026-02": (300_000, 30_000)})
    (found,) = _findings(period_end_pull_forward(_march(history, 240_000), PeriodEndPullForward()))
    assert found.figures["share"] == "87.5%" and found.figures["same_point_of_earlier_quarters"] == "10.0%"
    assert "87.5% of the period's 240,000" in found.explanation and "10.0% usually" in found.explanation
    assert "at the same point of 1 earlier quarter" in found.explanation


def _june(last_days: list[int], period_total: int) -> RuleContext:
    # usually 400,000 a month, 10 % of it in the last three days, at quarter ends too
    history = _months(dict.fromkeys(("2026-03", "2026-04", "2026-05"), (400_000, 40_000)))
    rows = [_deal(i, amount, f"2026-06-{28 + i % 3}", customer=i) for i, amount in enumerate(last_days, 1)]
    ctx = context(period="2026-06", people=["E1"], earlier={"2026-06": {"won_amount": {"E1": period_total}}, **history})
    return _serving(ctx, {"2026-06-28..2026-06-30": {"closed_deal_details": {"E1": rows}}})


def test_a_pull_forward_on_top_of_a_big_month_is_found_by_its_weight_against_the_usual_month() -> None:
    # 1,200,000 in the last three days is only 50 % of a 2,400,000 month (under the 60 % share) but three usual months
    (found,) = _findings(period_end_pull_forward(_june([150_000] * 8, 2_400_000), PeriodEndPullForward()))
    assert found.figures["share"] == "50.0%" and found.evidence == {"deals": tuple(range(1, 9))}


def test_a_big_month_whose_last_days_hold_less_than_two_usual_months_is_judged_by_its_share() -> None:
    assert period_end_pull_forward(_june([200_000] * 3, 1_200_000), PeriodEndPullForward()) == []


def test_a_holiday_month_against_months_with_no_data_is_not_sandbagging() -> None:
    # February 2026: the Spring Festival (15-23 February) leaves 16 working days; the month before is the only
    # one with data, so there is no usual to compare with (before: '0.0 % usually' from months with no data)
    rows = [_deal(i, 60_000, day, customer=i) for i, day in enumerate(["2026-02-02", "2026-02-02", "2026-02-03"], 1)]
    ctx = context(
        period="2026-02",
        people=["E1"],
        earlier={"2026-02": {"won_amount": {"E1": 200_000}}, "2026-01": {"won_amount": {"E1": 300_000}}},
    )
    ctx = _serving(ctx, {"2026-02-01..2026-02-03": {"closed_deal_details": {"E1": rows}}})
    assert sandbagging(ctx, Sandbagging(min_deals=3)) == []


def test_the_china_calendar_knows_the_spring_festival_and_the_weekends_worked_in_its_place() -> None:
    cn = business_calendar("CN")
    assert cn.working_days(date(2026, 2, 1), date(2026, 3, 1)) == 16
    assert not cn.is_working_day(date(2026, 2, 17)) and cn.is_working_day(date(2026, 2, 28))
    assert cn.covers(2026) and not cn.covers(2030)


def test_a_plan_names_another_calendar_and_an_unknown_one_is_refused() -> None:
    register_calendar("TEST-HOLIDAYS", holidays=[date(2026, 3, 30), date(2026, 3, 31)], years=[2026])
    assert PeriodEndPullForward(calendar="test-holidays").calendar == "TEST-HOLIDAYS"
    with pytest.raises(ValidationError, match="no business calendar 'MARS'"):
        PeriodEndPullForward(calendar="MARS")


# --- activity: habits are not spikes -------------------------------------------------------------


def _visits(period: str, logged: int, unverified: int, history: Mapping[str, tuple[int, int]]) -> RuleContext:
    earlier = {p: {"visits_and_meetings": {"E1": v}, "unverified_visits": {"E1": u}} for p, (v, u) in history.items()}
    return context(
        period=period,
        values={"visits_and_meetings": {"E1": logged}, "unverified_visits": {"E1": unverified}},
        details={"unverified_visits": {"E1": [{"record_id": i, "value": 1} for i in range(unverified)]}},
        earlier=earlier,
    )


def test_a_rep_who_habitually_misses_evidence_on_a_third_of_visits_is_not_flagged_month_after_month() -> None:
    habit = {"2026-06": (30, 9), "2026-07": (32, 9), "2026-08": (28, 8)}
    assert evaluate_unverified(_visits("2026-09", 30, 10, habit), UnverifiedActivity()) == []


def test_a_jump_in_missing_evidence_is_a_process_finding_against_the_persons_usual() -> None:
    usual = {"2026-06": (30, 2), "2026-07": (32, 3), "2026-08": (28, 2)}
    (found,) = _findings(evaluate_unverified(_visits("2026-09", 30, 18, usual), UnverifiedActivity()))
    assert found.category == "process" and found.figures["usual_share"] == "7.78%"
    assert "against 7.78% usually (3 periods before)" in found.explanation


def test_without_history_missing_evidence_is_judged_only_on_the_plans_absolute_rule() -> None:
    config = UnverifiedActivity(without_history_share=Decimal("0.5"))
    assert evaluate_unverified(_visits("2026-01", 30, 10, {}), config) == []
    (found,) = _findings(evaluate_unverified(_visits("2026-01", 30, 16, {}), config))
    assert "no usual share to compare" in found.explanation


def test_a_hunter_who_always_visits_three_times_the_team_is_not_inflating_activity() -> None:
    team = {"E1": 60, "E2": 20, "E3": 22, "E4": 18}
    won = {"E1": 1, "E2": 3, "E3": 3, "E4": 3}
    earlier = {p: {"visits": {"E1": 58}} for p in ("2026-03", "2026-04", "2026-05")}
    info = {p: PersonInfo(id=p, name=p, role="sales_rep", team_id="T1") for p in team}
    ctx = context(
        people_info=info,
        period="2026-06",
        values={"visits": team, "won_deals": won},
        earlier=earlier,
        details={"visits": {"E1": [{"record_id": i, "value": 1} for i in range(60)]}},
    )
    assert evaluate_inflation(ctx, ActivityInflation(min_team=3)) == []
    spike = {p: {"visits": {"E1": 19}} for p in ("2026-03", "2026-04", "2026-05")}
    (found,) = _findings(
        evaluate_inflation(
            dataclasses.replace(ctx, values_in=context(earlier=spike).values_in), ActivityInflation(min_team=3)
        )
    )
    assert found.figures["usual_visits"] == "19" and "own usual (19 visits" in found.explanation
