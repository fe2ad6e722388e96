"""Golden cases T1-T8, R1 and S1 of the project's golden list, each a plan file plus its expected payout.

Every plan file in tests/golden also carries its cases as plan tests (``tests:``), run here through
the plan-test runner; the cases below run the same plans through the engine on a database.
Sources are cited per case; "derived" figures follow the source's stated rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_engine import evaluate, load_plan, schema
from kpi_engine.plans.plan_tests import run_plan_tests
from tests.support.factories import add_person, add_target, add_won_deals

PLANS = Path(__file__).parents[1] / "golden"
RULES = Path(__file__).parents[2] / "rules"


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
    assert [(Decimal(line["basis"]), Decimal(line["rate"]), Decimal(line["amount"])) for line in trace["lines"]] == [
        (Decimal(1000), Decimal("0.01"), Decimal(10)),
        (Decimal(1500), Decimal("0.02"), Decimal(30)),
    ]


@pytest.mark.parametrize(
    ("method", "bookings", "expected"),
    [
        ("retroactive", "15000", "300.00"),
        ("retroactive", "60000", "1800.00"),
        ("marginal", "15000", "200.00"),
        ("marginal", "60000", "1200.00"),
    ],
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


def test_t5_year_to_date_marginal_pays_the_new_deal_at_the_bands_it_fills(store):
    """Salesforce Spiff Trailhead, "Use marginal payout rule functions": after 145,000 this year,
    a deal of 20,000 earns 5,000 x 4% + 15,000 x 6% = 1,100."""
    add_person(store, "rep")
    add_won_deals(store, "rep", ["100000"], closed_at=datetime(2026, 1, 20, tzinfo=UTC))
    add_won_deals(store, "rep", ["45000"], closed_at=datetime(2026, 2, 10, tzinfo=UTC))
    add_won_deals(store, "rep", ["20000"], closed_at=datetime(2026, 3, 5, tzinfo=UTC))
    amount, trace = payout(store, "t5-year-to-date.yaml", "2026-03")
    assert amount == Decimal("1100.00")
    assert trace["inputs"]["prior_year_to_date"] == "145000"
    assert [(line["basis"], line["rate"]) for line in trace["lines"]] == [("5000", "0.04"), ("15000", "0.06")]


@pytest.mark.parametrize(
    ("plan", "expected"), [("t7-seed-003-marginal.yaml", "12000.00"), ("t8-seed-003-reached-level.yaml", "15000.00")]
)
def test_t7_t8_seed_003_ladder_between_target_and_challenge(store, plan, expected):
    """Seed 003 (derived): 180,000 against target 100,000 and challenge 150,000 pays 12,000 marginal
    (5,000 + 4,000 + 3,000) or 15,000 when reaching a level pays its rate up to it (150,000 x 8% + 30,000 x 10%)."""
    add_person(store, "rep")
    add_won_deals(store, "rep", ["180000"])
    add_target(store, "rep", "bookings", "2026-10", "100000", challenge="150000")
    amount, trace = payout(store, plan)
    assert amount == Decimal(expected)
    assert trace["inputs"]["challenge"] == "150000"


def test_r1_commission_on_invoices_net_of_credit_notes(store):
    """ADempiere issue 1628: 4% on invoices of 1,000 less a credit note of 200 is 32, not 48."""
    add_person(store, "rep")
    [deal] = add_won_deals(store, "rep", ["1000"])
    when = datetime(2026, 10, 20, tzinfo=UTC)
    with store.begin() as conn:
        conn.execute(
            schema.refunds.insert().values(
                source="test",
                remote_id="cn-1",
                deal_id=deal,
                kind="credit_note",
                amount=Decimal(200),
                currency="USD",
                occurred_at=when,
                modified_at=when,
                is_deleted=False,
            )
        )
    amount, trace = payout(store, "r1-net-of-credit-notes.yaml")
    assert amount == Decimal("32.00")
    assert trace["inputs"]["invoiced - credit_notes"] == "800"


def test_s1_scorecard_through_the_engine_reports_a_score_and_a_payout(store):
    """intelligentspm balanced-scorecard article (derived): revenue at 110% of target with every other
    KPI at zero scores 50% x 1.10 = 55%, so 55,000 of 100,000; behind the gate "revenue factor >= 1.2", 0."""
    add_person(store, "rep")
    add_won_deals(store, "rep", ["110000"])
    run = evaluate(store, load_plan(PLANS / "s1-scorecard.yaml"), "2026-10")
    found = {(o.rule_id, o.kind): o.amount for o in run.outcomes}
    assert found == {
        ("scorecard", "score"): Decimal("0.55"),
        ("scorecard", "payout"): Decimal("55000.00"),
        ("gated_scorecard", "score"): Decimal("0.55"),
        ("gated_scorecard", "payout"): Decimal("0.00"),
    }


GOLDEN_PLANS = sorted(p.name for pattern in ("t[0-9]-*.yaml", "r1-*.yaml", "s1-*.yaml") for p in PLANS.glob(pattern))
EXAMPLE_PLANS = [
    "sales-commission.yaml",
    "sales-bonuses.yaml",
    "scorecard-sales-rep.yaml",
    "scorecard-marketing-specialist.yaml",
    "scorecard-customer-success.yaml",
]


def test_every_golden_commission_case_has_a_plan_file():
    assert [name.split("-")[0] for name in GOLDEN_PLANS] == [
        "r1",
        "s1",
        "t1",
        "t2",
        "t3",
        "t3",
        "t4",
        "t4",
        "t5",
        "t6",
        "t7",
        "t8",
    ]


@pytest.mark.parametrize(
    "plan", [PLANS / name for name in GOLDEN_PLANS] + [RULES / name for name in EXAMPLE_PLANS], ids=lambda p: p.name
)
def test_plan_files_pass_their_own_plan_tests_each_citing_its_source(plan):
    """Every golden plan file and example plan carries its cases as plan tests: `kpi rules test PATH`."""
    results = run_plan_tests(plan)
    assert results, f"{plan.name} carries no plan tests"
    for case in results:
        assert case.source, f"{plan.name}: case {case.name!r} does not cite its source"
        assert case.passed, f"{plan.name}: {case.name}: {case.error or case.failures}"
