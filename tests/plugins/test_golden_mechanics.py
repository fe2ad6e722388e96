"""Golden cases of the plan mechanics real plans need: gated accelerators (G1), the year's values in a quarterly
plan (G2), commission on margin (M1), year-to-date tiers on attainment and on a formula (Y1), clawback at the
rate calculated (C1), instalments (I1), override chains (O1) and career streaks (K1).

Each is a plan file in tests/golden carrying its cases as plan tests (run here, each citing its source); the
tests below run the same plans through the engine on a database. Every figure is worked by hand in the plan
file's header and in the docstrings; "derived" figures follow the source's stated rule on numbers of our own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_engine import evaluate, load_plan, schema
from kpi_engine.plans.plan_tests import run_plan_tests
from tests.support.factories import add_person, add_target, add_won_deals

GOLDEN = Path(__file__).parents[1] / "golden"
MECHANICS = sorted(p.name for p in GOLDEN.glob("[cgikmoy][0-9]-*.yaml"))


@pytest.mark.parametrize("plan", MECHANICS)
def test_each_golden_plan_passes_its_own_cases_each_citing_its_source(plan):
    results = run_plan_tests(GOLDEN / plan)
    assert results, f"{plan} carries no plan tests"
    for case in results:
        assert case.source, f"{plan}: case {case.name!r} does not cite its source"
        assert case.passed, f"{plan}: {case.name}: {case.error or case.failures}"


def amounts(run, rule: str) -> dict[str, Decimal | None]:
    return {o.person_id: o.amount for o in run.outcomes if o.rule_id == rule and o.kind == "payout"}


def new_customers(store, owner: str, count: int, when: datetime) -> None:
    """``count`` first deals of new customers (one each, 1 USD so that bookings barely move)."""
    with store.begin() as conn:
        for n in range(count):
            customer = conn.execute(
                schema.customers.insert().values(source="t", remote_id=f"{owner}-c{n}", name=f"{owner} {n}")
            ).inserted_primary_key[0]
            conn.execute(
                schema.deals.insert().values(
                    source="t",
                    remote_id=f"{owner}-new-{n}",
                    owner_id=owner,
                    customer_id=customer,
                    status="won",
                    amount=Decimal(0),
                    currency="USD",
                    closed_at=when,
                    is_deleted=False,
                )
            )


def test_g1_accelerators_pay_only_behind_their_gate(store):
    """prowi.io, "Accelerator": 195,000 on an annual quota of 150,000 pays 12,000 + 3,600 + 2,400 = 18,000 with
    the accelerators; with the gate (3 new customers) unmet, 195,000 x 8 % = 15,600 (base rate) or 150,000 x 8 %
    = 12,000 (nothing above quota)."""
    when = datetime(2026, 6, 1, tzinfo=UTC)
    for person, customers in (("MET", 3), ("UNMET", 2)):
        add_person(store, person)
        add_won_deals(store, person, ["195000"], closed_at=when)
        new_customers(store, person, customers, when)
        add_target(store, person, "bookings", "2026", "150000")
    run = evaluate(store, load_plan(GOLDEN / "g1-gated-accelerators.yaml"), "2026")
    assert amounts(run, "commission") == {"MET": Decimal("18000.00"), "UNMET": Decimal("15600.00")}
    assert amounts(run, "accelerators_or_nothing") == {"MET": Decimal("18000.00"), "UNMET": Decimal("12000.00")}
    unmet = next(o for o in run.outcomes if o.person_id == "UNMET" and o.rule_id == "commission")
    assert unmet.trace["gate"]["met"] is False and unmet.trace["gate"]["held_back_bands_pay"] == "base_rate"
    assert "the accelerators from 100% on pay the rate of the band below them (0%–100%)" in " ".join(
        unmet.trace["explanation"]
    )


def test_g2_a_quarterly_plan_reads_the_year_to_date_and_the_years_quota_by_name(store):
    """Golden G2: Q1 30,000, Q2 48,750 against 37,500 a quarter: the year to date (78,750) is on its quota
    (75,000), so Q2 pays 3,000 + 900 + 600 = 4,500; the year's quota is the sum of the quarters', 150,000."""
    add_person(store, "ON_TRACK")
    add_won_deals(store, "ON_TRACK", ["30000"], closed_at=datetime(2026, 2, 10, tzinfo=UTC))
    add_won_deals(store, "ON_TRACK", ["48750"], closed_at=datetime(2026, 5, 10, tzinfo=UTC))
    for quarter in ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"):
        add_target(store, "ON_TRACK", "bookings", quarter, "37500")
    plan = load_plan(GOLDEN / "g2-quarterly-plan-gated-on-the-year.yaml")
    evaluate(store, plan, "2026-Q1")
    q2 = evaluate(store, plan, "2026-Q2")
    assert amounts(q2, "commission") == {"ON_TRACK": Decimal("4500.00")}
    assert amounts(q2, "year_on_track") == {"ON_TRACK": Decimal("500.00")}
    bonus = next(o for o in q2.outcomes if o.rule_id == "year_on_track")
    assert bonus.trace["condition"]["inputs"] == {"annual_quota": "150000", "bookings_ytd": "78750"}


def test_m1_commission_on_the_margin_of_each_deal(store):
    """OCA commission, "Margin (Amount - Cost)" at 10 %: 1,000 that cost 600 pays 40, 500 that cost 700 pays 0;
    on the month's margin, (400 - 200) x 10 % = 20."""
    add_person(store, "E1")
    ids = add_won_deals(store, "E1", ["1000", "500"])
    with store.begin() as conn:
        for deal, cost in zip(ids, ("600", "700")):
            conn.execute(schema.deals.update().where(schema.deals.c.id == deal).values(cost=Decimal(cost)))
    run = evaluate(store, load_plan(GOLDEN / "m1-margin-commission.yaml"), "2026-10")
    assert amounts(run, "commission") == {"E1": Decimal("40.00")}
    assert amounts(run, "on_the_month_margin") == {"E1": Decimal("20.00")}


def test_m1_a_deal_without_a_cost_stops_a_margin_commission_naming_the_deal(store):
    from kpi_engine import EvaluationError

    add_person(store, "E1")
    [deal] = add_won_deals(store, "E1", ["1000"])
    with pytest.raises(EvaluationError) as err:
        evaluate(store, load_plan(GOLDEN / "m1-margin-commission.yaml"), "2026-10")
    assert err.value.message == f"metric 'gross_margin' has no value for record {deal} of deals."


def test_y1_year_to_date_attainment_against_the_sum_of_the_monthly_quotas(store):
    """Sales Cookie's cumulative tiers (6 / 8 / 10 %) on the year to date: 5,400, then 12,800 - 5,400 = 7,400,
    then 23,600 - 12,800 = 10,800."""
    add_person(store, "E1")
    for month, amount in (("01", "90000"), ("02", "120000"), ("03", "160000")):
        add_won_deals(store, "E1", [amount], closed_at=datetime(2026, int(month), 12, tzinfo=UTC))
        add_target(store, "E1", "bookings", f"2026-{month}", "100000")
    plan = load_plan(GOLDEN / "y1-year-to-date-attainment-and-formula.yaml")
    paid = [amounts(evaluate(store, plan, m), "on_attainment")["E1"] for m in ("2026-01", "2026-02", "2026-03")]
    assert paid == [Decimal("5400.00"), Decimal("7400.00"), Decimal("10800.00")]


def test_i1_half_on_the_order_the_rest_as_the_invoices_are_collected(store):
    """Oracle Customer Connect, "50/50 on order / on payment collection": 10,000 at 10 % earns 1,000; 500 on the
    order in January, 250 on each collection of 5,000 (February, March)."""
    add_person(store, "E1")
    [order] = add_won_deals(store, "E1", ["10000"], closed_at=datetime(2026, 1, 20, tzinfo=UTC))
    with store.begin() as conn:
        for n, month in enumerate((2, 3), start=1):
            when = datetime(2026, month, 18, tzinfo=UTC)
            conn.execute(
                schema.payments.insert().values(
                    source="t",
                    remote_id=f"inv-{n}",
                    deal_id=order,
                    amount=Decimal(5000),
                    currency="USD",
                    received_at=when,
                    modified_at=when,
                    is_deleted=False,
                )
            )
    plan = load_plan(GOLDEN / "i1-instalments.yaml")
    paid = [amounts(evaluate(store, plan, m), "on_order_and_collection") for m in ("2026-01", "2026-02", "2026-03")]
    assert paid == [{"E1": Decimal("500.00")}, {"E1": Decimal("250.00")}, {"E1": Decimal("250.00")}]


def test_i1_later_instalments_stop_when_the_deal_is_cancelled_and_the_clawback_takes_back_only_what_was_paid(store):
    """SparrowGenie's milestones on a deal of 300,000 at 10 % (30,000): 12,000 at signing (January), 4,500 at
    kickoff (February); the deal is cancelled in the CRM on 20 February, before go-live: nothing more is paid."""
    add_person(store, "E1")
    [deal] = add_won_deals(store, "E1", ["300000"], closed_at=datetime(2026, 1, 10, tzinfo=UTC))
    with store.begin() as conn:
        conn.execute(
            schema.deals.update().where(schema.deals.c.id == deal).values(go_live_at=datetime(2026, 3, 2, tzinfo=UTC))
        )
    plan = load_plan(GOLDEN / "i1-instalments.yaml")
    assert amounts(evaluate(store, plan, "2026-01"), "on_milestones") == {"E1": Decimal("12000.00")}
    assert amounts(evaluate(store, plan, "2026-02"), "on_milestones") == {"E1": Decimal("4500.00")}
    with store.begin() as conn:
        conn.execute(
            schema.deals.update()
            .where(schema.deals.c.id == deal)
            .values(status="lost", stage_raw="Cancelled", modified_at=datetime(2026, 2, 20, tzinfo=UTC))
        )
    march = evaluate(store, plan, "2026-03")
    [line] = [o for o in march.outcomes if o.rule_id == "on_milestones"]
    assert line.amount == Decimal("0.00")
    assert [(s["instalment"], s["reason"]) for s in line.trace["stopped"]] == [
        (3, "the deal became lost (cancelled) on 2026-02-20")
    ]


def test_o1_an_override_chain_takes_each_levels_share_of_what_remains(store):
    """Team split (cld.bz policy manual): 3,000 of commission, 20 % to the first level (600), 15 % of the
    remaining 2,400 to the next (360); the same-base override pays 600 and 450."""
    add_person(store, "HEAD", role="head")
    add_person(store, "SUP", role="supervisor", manager_id="HEAD")
    add_person(store, "REP", manager_id="SUP")
    add_won_deals(store, "REP", ["100000"])
    run = evaluate(store, load_plan(GOLDEN / "o1-override-chain.yaml"), "2026-10")
    assert amounts(run, "chain") == {"SUP": Decimal("600.00"), "HEAD": Decimal("360.00")}
    assert amounts(run, "same_base") == {"SUP": Decimal("600.00"), "HEAD": Decimal("450.00")}
    head = next(o for o in run.outcomes if o.rule_id == "chain" and o.person_id == "HEAD")
    [line] = head.trace["lines"]
    assert (line["basis"], line["rate"], line["amount"]) == ("2400.00", "0.15", "360.00")


def test_k1_the_top_seller_three_quarters_running_is_recommended_for_a_raise_in_september(store):
    """Seed 002: top 10 % three quarters in a row. Ten reps; E1 sells most in Q1, Q2 and Q3: a recommendation
    for HR review in September (the month that completes Q3), none in August, with the quarters as evidence."""
    for n in range(1, 11):
        add_person(store, f"E{n}")
    for month in (2, 5, 8):
        for n in range(1, 11):
            amount = "100000" if n == 1 else str(10000 * (11 - n))
            add_won_deals(store, f"E{n}", [amount], closed_at=datetime(2026, month, 10, tzinfo=UTC))
    plan = load_plan(GOLDEN / "k1-career-streaks.yaml")
    for month in ("2026-06", "2026-07", "2026-08"):
        august = evaluate(store, plan, month)
    assert [o for o in august.outcomes if o.rule_id == "raise"] == []
    september = evaluate(store, plan, "2026-09")
    [raise_] = [o for o in september.outcomes if o.rule_id == "raise"]
    assert (raise_.person_id, raise_.kind, raise_.status, raise_.attention) == (
        "E1",
        "recommendation",
        "eligible",
        True,
    )
    assert raise_.amount is None
    assert [(e["period"], e["rank"], e["ranked"]) for e in raise_.trace["evidence"]] == [
        ("2026-Q1", 1, 10),
        ("2026-Q2", 1, 10),
        ("2026-Q3", 1, 10),
    ]
    assert "nothing happens automatically" in raise_.trace["explanation"]


def test_k1_upheld_fabrication_findings_escalate_by_their_count(store):
    """Seed 003: the first upheld fabrication is a warning and a deduction (1,000, a plan choice), the second a
    referral to HR; a released finding does not count."""
    add_person(store, "E1")
    with store.begin() as conn:
        for fid, check, decision, when in (
            ("F-1", "duplicate_deal", "uphold", datetime(2026, 3, 5, 9, tzinfo=UTC)),
            ("F-2", "unverified_activity", "release", datetime(2026, 5, 5, 9, tzinfo=UTC)),
            ("F-3", "unverified_activity", "uphold", datetime(2026, 8, 11, 9, tzinfo=UTC)),
        ):
            conn.execute(
                schema.finding_reviews.insert().values(
                    finding_id=fid,
                    plan_id="activity-integrity",
                    check_rule=check,
                    person_id="E1",
                    period="2026-02",
                    decision=decision,
                    note="checked",
                    reviewed_by="zhao.min",
                    reviewed_at=when,
                )
            )
    plan = load_plan(GOLDEN / "k1-career-streaks.yaml")
    march = [o for o in evaluate(store, plan, "2026-03").outcomes if o.rule_id == "fabrication"]
    assert [(o.kind, o.status, o.amount) for o in march] == [
        ("recommendation", "warning", None),
        ("payout", None, Decimal("-1000.00")),
    ]
    assert march[1].component == "deduction"
    may = [o for o in evaluate(store, plan, "2026-05").outcomes if o.rule_id == "fabrication"]
    assert may == []
    august = [o for o in evaluate(store, plan, "2026-08").outcomes if o.rule_id == "fabrication"]
    assert [(o.kind, o.status) for o in august] == [("recommendation", "referral")]
    assert [f["id"] for f in august[0].trace["findings"]] == ["F-1", "F-3"]
