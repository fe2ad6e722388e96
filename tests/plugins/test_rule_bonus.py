"""Bonus / SPIFF rule type: per qualifying record, per person meeting a condition, ranked awards with declared ties."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from kpi_engine import PersonInfo
from kpi_engine_plugins.bonus import Bonus, evaluate, rank_awards
from tests.support.rule_context import context, d


def paid(config: dict[str, Any], **ctx: Any) -> dict[str, tuple[Decimal | None, dict[str, Any]]]:
    return {r.person_id: (r.amount, dict(r.trace)) for r in evaluate(context(**ctx), Bonus.model_validate(config))}


# --- per record -------------------------------------------------------------------------------

NEW_LOGO_SPIFF = {
    "per": "record",
    "measure": "bookings",
    "columns": ["new_customer"],
    "when": "new_customer and value > 50000",
    "amount": 500,
}
DEALS = [
    {"record_id": 11, "value": Decimal(60000), "new_customer": True, "stage": "won"},
    {"record_id": 12, "value": Decimal(80000), "new_customer": False, "stage": "won"},
    {"record_id": 13, "value": Decimal(50000), "new_customer": True, "stage": "won"},
    {"record_id": 14, "value": Decimal(75000), "new_customer": True, "stage": "won"},
]


def test_each_new_customer_deal_above_50000_earns_500():
    [(amount, trace)] = paid(
        NEW_LOGO_SPIFF, values={"bookings": {"E1": 265000}}, details={"bookings": {"E1": DEALS}}
    ).values()
    assert amount == d("1000.00")
    assert [line["record_id"] for line in trace["lines"]] == [11, 14]
    assert trace["records"] == {"table": "deals", "ids": [11, 14]}
    assert trace["explanation"][0] == "2 of 4 bookings records meeting new_customer and value > 50000 earn 500 each."


def test_record_amount_may_be_a_formula_and_the_person_total_capped():
    config = {"per": "record", "measure": "bookings", "amount": "value * 1%", "cap": 1000}
    [(amount, trace)] = paid(config, values={"bookings": {"E1": 265000}}, details={"bookings": {"E1": DEALS}}).values()
    assert [line["amount"] for line in trace["lines"]] == ["600.00", "800.00", "500.00", "750.00"]
    assert amount == d("1000.00")
    assert trace["explanation"][-1] == "Capped at 1,000 per period (was 2,650)."


def test_a_column_the_rule_reads_must_exist_on_the_records():
    from kpi_engine import EvaluationError

    rows = [{"record_id": 1, "value": Decimal(60000)}]
    with pytest.raises(EvaluationError, match="record 1 of bookings has no column 'new_customer'"):
        paid(NEW_LOGO_SPIFF, values={"bookings": {"E1": 1}}, details={"bookings": {"E1": rows}})


# --- per person -------------------------------------------------------------------------------

OVER_ACHIEVEMENT = {"per": "person", "measure": "bookings", "when": "attainment >= 120%", "amount": 3000}


def test_over_achievement_bonus_when_sales_exceed_target_by_20_percent():
    """Seed 002: an extra reward when sales exceed the target by 20 %."""
    targets = {"bookings": {"A": {"target": 100000}, "B": {"target": 100000}}}
    found = paid(OVER_ACHIEVEMENT, values={"bookings": {"A": 120000, "B": 119999}}, targets=targets)
    assert found["A"][0] == d("3000.00")
    assert found["B"][0] == d("0.00")
    assert found["B"][1]["explanation"] == ["The condition attainment >= 120% is not met (attainment = 1.19999)."]


def test_person_bonus_amount_may_be_a_formula_of_the_plan_names():
    config = {"per": "person", "when": "new_customers >= 3", "amount": "new_customers * 200"}
    found = paid(config, values={"new_customers": {"A": 4, "B": 2}})
    assert (found["A"][0], found["B"][0]) == (d("800.00"), d("0.00"))


# --- ranked awards ----------------------------------------------------------------------------

TOP_VISITS = {"per": "rank", "measure": "visits", "top": 1, "amount": 2000, "ties": "split"}


def test_top_monthly_visits_earns_2000():
    """Seed 003: process leaders get a bonus, e.g. top monthly visits ¥2000."""
    found = paid(TOP_VISITS, values={"visits": {"A": 40, "B": 55, "C": 31}})
    assert {p: a for p, (a, _) in found.items()} == {"A": d("0.00"), "B": d("2000.00"), "C": d("0.00")}
    assert found["A"][1]["explanation"][-1] == "No award: ranked 2nd, outside the top 1."
    assert found["B"][1]["winners"] == [{"person": "B", "visits": "55", "place": "1"}]


@pytest.mark.parametrize(
    ("ties", "expected"),
    [
        ("split", {"A": "666.66", "B": "666.67", "C": "666.67"}),  # the rounding remainder goes to the first by id
        ("all", {"A": "2000.00", "B": "2000.00", "C": "2000.00"}),
    ],
)
def test_ties_are_split_exactly_or_all_paid_as_declared(ties, expected):
    found = paid(TOP_VISITS | {"ties": ties}, values={"visits": {"A": 50, "B": 50, "C": 50, "D": 10}})
    assert {p: a for p, (a, _) in found.items() if a} == {p: d(v) for p, v in expected.items()}
    if ties == "split":
        assert sum(d(v) for v in expected.values()) == d(2000)


def test_tie_break_metric_orders_people_tied_on_the_measure():
    config = TOP_VISITS | {"ties": "tie_break", "tie_break": "bookings"}
    found = paid(config, values={"visits": {"A": 50, "B": 50}, "bookings": {"A": 1000, "B": 5000}})
    assert (found["A"][0], found["B"][0]) == (d("0.00"), d("2000.00"))


def test_awards_by_place_share_the_places_a_tie_occupies():
    # A first; B and C tie for second and third: (2,000 + 1,000) / 2 each.
    awards = rank_awards(
        [("A", d(9), None), ("B", d(5), None), ("C", d(5), None), ("D", d(1), None)],
        [d(3000), d(2000), d(1000)],
        "split",
    )
    assert {p: a for p, (_, a, _) in awards.items()} == {"A": d(3000), "B": d(1500), "C": d(1500)}


def test_best_newcomer_ranks_only_people_hired_within_the_window():
    people = {
        "old": PersonInfo(id="old", name="old", hire_date=date(2024, 1, 1)),
        "new": PersonInfo(id="new", name="new", hire_date=date(2025, 12, 1)),
    }
    config = {"per": "rank", "measure": "bookings", "top": 1, "amount": 5000, "ties": "split", "hired_within_days": 90}
    found = paid(config, values={"bookings": {"old": 900000, "new": 100000}}, people_info=people)
    assert (found["old"][0], found["new"][0]) == (d("0.00"), d("5000.00"))
    assert (
        found["old"][1]["explanation"][-1]
        == "No award: not eligible: hired 2024-01-01, 761 days before the period's last day (limit 90)."
    )


def test_nobody_without_a_value_wins():
    found = paid(TOP_VISITS, values={"visits": {"A": 0}})
    assert found["A"][0] == d("0.00")
    assert found["A"][1]["explanation"][-1] == "No award: no visits this period."


def test_ranked_awards_must_declare_ties_and_fixed_amounts():
    with pytest.raises(ValidationError, match="must declare ties"):
        Bonus.model_validate({"per": "rank", "measure": "visits", "top": 1, "amount": 2000})
    with pytest.raises(ValidationError, match="awards lists 1 amounts for top 2"):
        Bonus.model_validate({"per": "rank", "measure": "visits", "top": 2, "awards": [1], "ties": "all"})
    with pytest.raises(ValidationError, match="belong to ranked awards"):
        Bonus.model_validate({"per": "person", "amount": 1, "top": 3})
