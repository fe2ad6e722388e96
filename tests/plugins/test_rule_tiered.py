"""Tiered commission rule type: marginal and retroactive bands, per period, transaction or year to date,
levels as band ends, gates, rate formulas, accelerators, caps, floors and payout thresholds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kpi_engine_plugins.tiered_commission import (
    Band,
    TieredCommission,
    evaluate,
    tier_split,
)
from tests.support.rule_context import context, d

LADDER = [
    {"from": 0, "to": 1000, "rate": "1%"},
    {"from": 1000, "to": 5000, "rate": "2%"},
    {"from": 5000, "to": 10000, "rate": "3%"},
]


def rule(**settings_: Any) -> TieredCommission:
    return TieredCommission.model_validate({"method": "marginal", "tiers": LADDER} | settings_)


def pay(config: TieredCommission, **ctx: Any) -> tuple[Decimal | None, dict[str, Any]]:
    [result] = evaluate(context(**ctx), config)
    return result.amount, dict(result.trace)


# --- configuration -------------------------------------------------------------------------


def test_method_must_be_stated_explicitly():
    with pytest.raises(ValidationError, match="method"):
        TieredCommission.model_validate({"tiers": LADDER})


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([{"from": 0, "to": 1000, "rate": "1%"}, {"from": 900, "rate": "2%"}], "overlap"),
        ([{"from": 0, "to": 1000, "rate": "1%"}, {"from": 1100, "rate": "2%"}], "leave a gap"),
        ([{"from": 100, "rate": "1%"}], "must start at 0"),
        ([{"from": 0, "rate": "1%"}, {"from": 1000, "rate": "2%"}], "only the last tier may be open-ended"),
        (
            [{"from": 0, "to": "challenge", "rate": "1%"}, {"from": "challenge", "to": "target", "rate": "2%"}],
            "not after it",
        ),
    ],
)
def test_tiers_that_overlap_leave_gaps_or_run_backwards_are_refused(tiers, message):
    with pytest.raises(ValidationError, match=message):
        TieredCommission.model_validate({"method": "marginal", "tiers": tiers})


def test_excess_only_bands_are_trailing_bands_of_retroactive_tiers():
    excess_first = [{"from": 0, "to": 10, "rate": "1%", "excess_only": True}, {"from": 10, "rate": "2%"}]
    with pytest.raises(ValidationError, match="first tier cannot be excess_only"):
        TieredCommission.model_validate({"method": "retroactive", "tiers": excess_first})
    with pytest.raises(ValidationError, match="belong to retroactive tiers"):
        TieredCommission.model_validate(
            {
                "method": "marginal",
                "tiers": [{"from": 0, "to": 10, "rate": "1%"}, {"from": 10, "rate": "2%", "excess_only": True}],
            }
        )


def test_floor_above_cap_and_per_transaction_formula_measure_are_refused():
    with pytest.raises(ValidationError, match="floor 500 is above the cap 100"):
        rule(cap=100, floor=500, floor_applies="always")
    with pytest.raises(ValidationError, match="one metric name"):
        rule(per="transaction", measure="invoiced - credit_notes")
    with pytest.raises(ValidationError, match="not per transaction"):
        rule(per="transaction", basis="attainment")


# --- golden figures through a hand-built context ---------------------------------------------


def test_marginal_tiers_split_amount_at_each_boundary():
    """Golden T2, Oracle Sales IC 24B readiness notes: 2,500 pays 1,000 × 1% + 1,500 × 2% = 40."""
    amount, trace = pay(rule(), values={"bookings": {"E1": 2500}})
    assert amount == d("40.00")
    assert [(line["band"], line["basis"], line["rate"], line["amount"]) for line in trace["lines"]] == [
        ("0–1,000", "1000", "0.01", "10.00"),
        ("1,000–5,000", "1500", "0.02", "30.00"),
    ]
    assert trace["explanation"][-1] == "Each band pays its rate on the part inside it: 1,000 × 1% + 1,500 × 2% = 40."


def test_year_to_date_marginal_pays_the_new_deal_at_the_bands_it_fills():
    """Golden T5, Salesforce Spiff Trailhead "Use marginal payout rule functions":
    145,000 booked earlier in the year, a new deal of 20,000 earns 5,000 × 4% + 15,000 × 6% = 1,100."""
    config = TieredCommission.model_validate(
        {
            "method": "marginal",
            "per": "year_to_date",
            "tiers": [
                {"from": 0, "to": 150000, "rate": "4%"},
                {"from": 150000, "to": 250000, "rate": "6%"},
                {"from": 250000, "rate": "8%"},
            ],
        }
    )
    amount, trace = pay(
        config,
        period="2026-03",
        values={"bookings": {"E1": 20000}},
        earlier={"2026-01": {"bookings": {"E1": 100000}}, "2026-02": {"bookings": {"E1": 45000}}},
    )
    assert amount == d("1100.00")
    assert [(line["basis"], line["rate"]) for line in trace["lines"]] == [("5000", "0.04"), ("15000", "0.06")]
    assert trace["inputs"]["prior_year_to_date"] == "145000"
    assert trace["inputs"]["year_to_date"] == "165000"


def test_year_to_date_in_january_has_no_earlier_bookings():
    config = rule(per="year_to_date")
    amount, trace = pay(config, period="2026-01", values={"bookings": {"E1": 2500}})
    assert amount == d("40.00")
    assert trace["inputs"]["prior_year_to_date"] == "0"


def test_year_to_date_retroactive_pays_the_difference_of_the_two_totals():
    config = rule(method="retroactive", per="year_to_date")
    # Year to date 6,000 reaches the 3% band (180); the 900 booked before paid 1% (9): 171 now.
    amount, trace = pay(
        config, period="2026-02", values={"bookings": {"E1": 5100}}, earlier={"2026-01": {"bookings": {"E1": 900}}}
    )
    assert amount == d("171.00")
    assert [(line["part"], line["amount"]) for line in trace["lines"]] == [
        ("year_to_date", "180.00"),
        ("before_this_period", "-9.00"),
    ]


SEED_003_LEVELS = [
    {"from": 0, "to": "target", "rate": "5%"},
    {"from": "target", "to": "challenge", "rate": "8%"},
    {"from": "challenge", "rate": "10%"},
]
TARGETS = {"bookings": {"E1": {"target": 100000, "challenge": 150000}}}


def test_seed_003_ladder_marginal_between_target_and_challenge():
    """Golden T7 (derived from seed 003): 180,000 pays 5,000 + 4,000 + 3,000 = 12,000."""
    config = TieredCommission.model_validate({"method": "marginal", "tiers": SEED_003_LEVELS})
    amount, trace = pay(config, values={"bookings": {"E1": 180000}}, targets=TARGETS)
    assert amount == d("12000.00")
    assert [line["amount"] for line in trace["lines"]] == ["5000.00", "4000.00", "3000.00"]
    assert [line["band"] for line in trace["lines"]] == ["0–target", "target–challenge", "challenge and above"]
    assert trace["inputs"]["attainment"] == "1.8"


def test_reaching_a_level_pays_its_rate_up_to_it_and_the_excess_at_the_top_rate():
    """Golden T8 (derived from seed 003): 150,000 × 8% + 30,000 × 10% = 15,000."""
    tiers = [*SEED_003_LEVELS[:2], {"from": "challenge", "rate": "10%", "excess_only": True}]
    config = TieredCommission.model_validate({"method": "retroactive", "tiers": tiers})
    amount, trace = pay(config, values={"bookings": {"E1": 180000}}, targets=TARGETS)
    assert amount == d("15000.00")
    assert [(line["basis"], line["rate"]) for line in trace["lines"]] == [("150000", "0.08"), ("30000", "0.1")]
    # Below the challenge the whole amount is paid at the band reached.
    assert pay(config, values={"bookings": {"E1": 120000}}, targets=TARGETS)[0] == d("9600.00")


def test_a_person_without_the_levels_the_bands_need_is_not_paid_and_the_trace_says_why():
    config = TieredCommission.model_validate({"method": "marginal", "tiers": SEED_003_LEVELS})
    amount, trace = pay(config, values={"bookings": {"E1": 180000}})
    assert amount is None
    assert trace["skipped"] == "no bookings target for this person and period"
    amount, trace = pay(config, values={"bookings": {"E1": 180000}}, targets={"bookings": {"E1": {"target": 100000}}})
    assert amount is None
    assert "no challenge level" in trace["skipped"]


def test_per_transaction_measures_each_record_from_zero():
    """Golden T1, Oracle Sales IC "Examples of Calculating Earnings Using Step Rates": 164."""
    config = TieredCommission.model_validate(
        {
            "method": "marginal",
            "per": "transaction",
            "tiers": [
                {"from": 0, "to": 1000, "rate": "1%"},
                {"from": 1000, "to": 3000, "rate": "2%"},
                {"from": 3000, "to": 8000, "rate": "3%"},
                {"from": 8000, "to": 20000, "rate": "5%"},
            ],
        }
    )
    deals = [(i, v) for i, v in enumerate([200, 300, 1500, 1200, 2000, 4500], start=1)]
    amount, trace = pay(
        config, values={"bookings": {"E1": 9700}}, records={"bookings": {"E1": deals}}, rounding_at="line"
    )
    assert amount == d("164.00")
    assert trace["records"] == {"table": "deals", "ids": [1, 2, 3, 4, 5, 6]}
    assert "#6: 4,500 → 95" in trace["explanation"][-1]


# --- gates, rate formulas, accelerators and limits --------------------------------------------


def test_unmet_gate_pays_nothing_and_names_the_condition_and_the_value():
    config = rule(gate="new_customers >= 2")
    amount, trace = pay(config, values={"bookings": {"E1": 2500}, "new_customers": {"E1": 1}})
    assert amount == d("0.00")
    assert trace["gate"] == {"condition": "new_customers >= 2", "met": False, "inputs": {"new_customers": "1"}}
    assert trace["explanation"][-1] == "Nothing is paid: the gate new_customers >= 2 is not met (new_customers = 1)."
    assert pay(config, values={"bookings": {"E1": 2500}, "new_customers": {"E1": 2}})[0] == d("40.00")


def test_a_rate_may_be_a_formula_of_the_plan_names():
    tiers = [{"from": 0, "rate": "if new_customers >= 3 then 6% else 5%"}]
    config = TieredCommission.model_validate({"method": "marginal", "tiers": tiers})
    assert pay(config, values={"bookings": {"E1": 10000}, "new_customers": {"E1": 3}})[0] == d("600.00")
    assert pay(config, values={"bookings": {"E1": 10000}, "new_customers": {"E1": 2}})[0] == d("500.00")


def test_accelerator_multiplies_the_commission_and_shows_the_change_as_a_line():
    config = rule(multiplier="if value >= 2000 then 1.5 else 1")
    amount, trace = pay(config, values={"bookings": {"E1": 2500}})
    assert amount == d("60.00")
    assert trace["adjustments"] == [
        {"step": "multiplier", "amount": "20.00", "factor": "1.5", "formula": "if value >= 2000 then 1.5 else 1"}
    ]
    assert "accelerator" in trace["explanation"][-1]


def test_cap_floor_and_payout_threshold_each_explained():
    capped, trace = pay(rule(cap=30), values={"bookings": {"E1": 2500}})
    assert capped == d("30.00")
    assert trace["adjustments"] == [{"step": "cap", "amount": "-10.00", "limit": "30"}]
    floored, _ = pay(rule(floor=50, floor_applies="always"), values={"bookings": {"E1": 2500}})
    assert floored == d("50.00")
    small, trace = pay(rule(payout_threshold=50), values={"bookings": {"E1": 2500}})
    assert small == d("0.00")
    assert trace["explanation"][-1] == "40 is below the payout threshold of 50, so nothing is paid this period."


def test_boundary_value_belongs_to_the_lower_band_unless_the_plan_says_upper():
    tiers = [{"from": 0, "to": 10000, "rate": "1%"}, {"from": 10000, "rate": "2%"}]
    lower = TieredCommission.model_validate({"method": "retroactive", "tiers": tiers})
    upper = TieredCommission.model_validate({"method": "retroactive", "boundary": "upper", "tiers": tiers})
    assert pay(lower, values={"bookings": {"E1": 10000}})[0] == d("100.00")
    assert pay(upper, values={"bookings": {"E1": 10000}})[0] == d("200.00")


def test_measure_may_be_a_formula_net_of_credit_notes():
    """Golden R1, ADempiere issue 1628: 4% on invoices 1,000 net of credit notes 200 is 32, not 48."""
    config = TieredCommission.model_validate(
        {"method": "marginal", "measure": "invoiced - credit_notes", "tiers": [{"from": 0, "rate": "4%"}]}
    )
    amount, trace = pay(config, values={"invoiced": {"E1": 1000}, "credit_notes": {"E1": 200}})
    assert amount == d("32.00")
    assert trace["inputs"] == {"invoiced - credit_notes": "800", "credit_notes": "200", "invoiced": "1000"}


# --- properties -------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def ladders(draw: Any) -> list[Band]:
    cuts = sorted(set(draw(st.lists(st.decimals(min_value=1, max_value=10**8, places=2), max_size=5))))
    ends = [Decimal(0), *cuts]
    uppers: list[Decimal | None] = [*cuts, None]
    return [Band(lo, hi, draw(rates), f"band {i}") for i, (lo, hi) in enumerate(zip(ends, uppers))]


@settings(max_examples=300)
@given(bands=ladders(), value=amounts, boundary=st.sampled_from(["lower", "upper"]))
def test_marginal_lines_add_up_to_the_total_and_cover_the_amount(bands, value, boundary):
    lines = tier_split(bands, value, method="marginal", boundary=boundary)
    assert sum((line["basis"] for line in lines), Decimal(0)) == value
    assert sum((line["amount"] for line in lines), Decimal(0)) == sum(
        (line["basis"] * line["rate"] for line in lines), Decimal(0)
    )


@settings(max_examples=200)
@given(bands=ladders(), value=amounts, at=st.sampled_from(["line", "person_period"]))
def test_marginal_lines_add_up_to_the_total_after_rounding_at_the_declared_point(bands, value, at):
    tiers = [{"from": b.lower, "to": b.upper, "rate": b.rate} for b in bands]
    config = TieredCommission.model_validate({"method": "marginal", "tiers": tiers})
    [result] = evaluate(context(values={"bookings": {"E1": value}}, rounding_at=at), config)
    line_sum = sum((Decimal(line["amount"]) for line in result.trace["lines"]), Decimal(0))
    exact = sum((line["amount"] for line in tier_split(bands, value, method="marginal")), Decimal(0))
    if at == "line":
        assert line_sum == result.amount  # rounded lines add up exactly to the total
    else:
        assert line_sum == exact  # exact lines, rounded once at the person-period
        assert result.amount == exact.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


@settings(max_examples=300)
@given(bands=ladders(), value=amounts.filter(lambda v: v > 0), boundary=st.sampled_from(["lower", "upper"]))
def test_retroactive_pays_the_reached_bands_rate_on_the_whole_amount(bands, value, boundary):
    [line] = tier_split(bands, value, method="retroactive", boundary=boundary)
    inside = [b for b in bands if (b.upper is None or (value <= b.upper if boundary == "lower" else value < b.upper))]
    assert line["rate"] == inside[0].rate
    assert line["amount"] == inside[0].rate * value


# --- amounts decided at once, traces written when read ---------------------------------------

LEVELLED = [
    {"from": 0, "to": "target", "rate": "4%"},
    {"from": "target", "to": "challenge", "rate": "7%"},
    {"from": "challenge", "rate": "9%"},
]
ATTAINMENT = [
    {"from": "0%", "to": "100%", "rate": "5%"},
    {"from": "100%", "to": "150%", "rate": "8%"},
    {"from": "150%", "rate": "10%"},
]


@settings(max_examples=150, deadline=None)
@given(
    measured=st.decimals(min_value=-1000, max_value=40000, places=4, allow_nan=False),
    target=st.decimals(min_value=0, max_value=20000, places=2, allow_nan=False),
    tiers=st.sampled_from([LADDER, LEVELLED, ATTAINMENT]),
    method=st.sampled_from(["marginal", "retroactive"]),
    boundary=st.sampled_from(["lower", "upper"]),
    limits=st.sampled_from(
        [
            {},
            {"cap": "150"},
            {"floor": "20", "floor_applies": "always"},
            {"floor": "20", "floor_applies": "with_sales"},
            {"payout_threshold": "35"},
            {"cap": "400", "floor": "5", "floor_applies": "always"},
        ]
    ),
    rounding_at=st.sampled_from(["line", "person_period"]),
)
def test_an_amount_decided_without_its_trace_is_the_amount_the_trace_explains(
    measured, target, tiers, method, boundary, limits, rounding_at
):
    from kpi_engine_plugins.tiered_commission import _pay

    basis = {"basis": "attainment"} if tiers is ATTAINMENT else {}
    config = TieredCommission.model_validate({"method": method, "boundary": boundary, "tiers": tiers} | basis | limits)
    levels = {"target": target, "challenge": target * Decimal("1.5")}
    ctx = context(values={"bookings": {"E1": measured}}, targets={"bookings": {"E1": levels}}, rounding_at=rounding_at)
    [decided] = evaluate(ctx, config)
    explained = _pay(ctx, config, "E1", {})
    assert decided.amount == explained.amount
    assert dict(decided.trace) == dict(explained.trace)


def test_the_usual_rule_leaves_its_trace_unwritten_until_it_is_read():
    from kpi_engine import LazyTrace

    [result] = evaluate(context(values={"bookings": {"E1": 2500}}), rule())
    assert isinstance(result.trace, LazyTrace) and not result.trace.rendered
    assert result.amount == d("40.00") and result.trace["total"] == "40.00" and result.trace.rendered


def test_a_rule_with_a_gate_or_a_rate_formula_writes_its_trace_at_once():
    gated = rule(gate="bookings > 100")
    formula_rate = rule(tiers=[{"from": 0, "rate": "if bookings > 1000 then 2% else 1%"}])
    for config in (gated, formula_rate):
        [result] = evaluate(context(values={"bookings": {"E1": 2500}}), config)
        assert isinstance(result.trace, dict)
