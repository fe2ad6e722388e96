"""Golden cases T1-T4 and T6 of the project's golden list, each a plan file plus its expected payout.

Sources are cited per case; "derived" figures follow the source's stated rule.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kpi_engine import evaluate, load_plan
from tests.factories import add_person, add_target, add_won_deals

PLANS = Path(__file__).parent / "golden"


def payout(store, plan_file: str, period: str = "2026-10") -> tuple[Decimal, dict]:
    run = evaluate(store, load_plan(PLANS / plan_file), period)
    [line] = [o for o in run.outcomes if o.person_id == "rep"]
    return line.amount, dict(line.trace)


def test_t1_step_rates_measure_each_transaction_from_zero(store):
    """Oracle Sales IC, "Examples of Calculating Earnings Using Step Rates": 2+3+20+14+30+95 = 164."""
    add_person(store, "rep")
    ids = add_won_deals(store, "rep", ["200", "300", "1500", "1200", "2000", "4500"])
    amount, trace = payout(store, "t1-step-rates-per-transaction.yaml")
    assert amount == Decimal("164.00")
    per_deal: dict[int, Decimal] = {}
    for line in trace["lines"]:
        per_deal[line["record_id"]] = per_deal.get(line["record_id"], Decimal(0)) + Decimal(line["amount"])
    assert [per_deal[i] for i in ids] == [Decimal(x) for x in ("2", "3", "20", "14", "30", "95")]
    assert trace["records"] == {"table": "deals", "ids": ids}


def test_t2_marginal_tiers_split_amount_at_each_boundary(store):
    """Oracle Sales IC 24B readiness notes: 2,500 pays 1,000 x 1% + 1,500 x 2% = 40 (effective 1.6%)."""
    add_person(store, "rep")
    add_won_deals(store, "rep", ["2500"])
    amount, trace = payout(store, "t2-marginal.yaml")
    assert amount == Decimal("40.00")
    assert [(Decimal(l["basis"]), Decimal(l["rate"]), Decimal(l["amount"])) for l in trace["lines"]] == [
        (Decimal(1000), Decimal("0.01"), Decimal(10)),
        (Decimal(1500), Decimal("0.02"), Decimal(30)),
    ]


@pytest.mark.parametrize(
    ("method", "bookings", "expected"),
    [("retroactive", "15000", "300.00"), ("retroactive", "60000", "1800.00"), ("marginal", "15000", "200.00"), ("marginal", "60000", "1200.00")],
)
def test_t3_retroactive_pays_reached_tier_on_everything_marginal_only_above(store, method, bookings, expected):
    """Oracle Sales IC, "Options for Splitting Attainment Numbers Across Rate Tiers" (figures derived)."""
    add_person(store, "rep")
    add_won_deals(store, "rep", [bookings])
    assert payout(store, f"t3-{method}.yaml")[0] == Decimal(expected)


@pytest.mark.parametrize(("method", "expected"), [("retroactive", "15.00"), ("marginal", "13.00")])
def test_t4_attainment_accelerator_on_quota_of_100(store, method, expected):
    """Salesforce Spiff help, "How to create an accelerator": 125 on quota 100 (figures derived)."""
    add_person(store, "rep")
    add_won_deals(store, "rep", ["125"])
    add_target(store, "rep", "bookings", "2026-10", "100")
    amount, trace = payout(store, f"t4-{method}.yaml")
    assert amount == Decimal(expected)
    assert Decimal(trace["inputs"]["attainment"]) == Decimal("1.25")


@pytest.mark.parametrize(("bookings", "expected"), [("6000", "620.00"), ("4000", "400.00"), ("5000", "500.00")])
def test_t6_commission_kata_ten_percent_to_5000_twelve_above(store, bookings, expected):
    """Public gist richardlawrence/1138036 (commission kata)."""
    add_person(store, "rep")
    add_won_deals(store, "rep", [bookings])
    assert payout(store, "t6-kata.yaml")[0] == Decimal(expected)


def test_boundary_value_belongs_to_lower_tier_unless_plan_says_upper(store, tmp_path):
    """Golden list rule: a value exactly on a boundary is in the lower band; the plan can choose the upper."""
    add_person(store, "rep")
    add_won_deals(store, "rep", ["10000"])
    assert payout(store, "t3-retroactive.yaml")[0] == Decimal("100.00")
    upper = (PLANS / "t3-retroactive.yaml").read_text().replace("boundary: lower", "boundary: upper")
    (tmp_path / "upper.yaml").write_text(upper)
    run = evaluate(store, load_plan(tmp_path / "upper.yaml"), "2026-10")
    assert run.outcomes[0].amount == Decimal("200.00")
