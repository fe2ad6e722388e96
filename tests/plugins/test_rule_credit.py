"""Credit splits add up exactly to the deal; manager overrides follow the organisation as of the period."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from kpi_engine import MetricContext, PersonInfo, RuleResult, parse_period, quantize, schema
from kpi_engine_plugins.credit import (
    CreditSplit,
    ManagerOverride,
    deal_credit_rows,
    evaluate_credit,
    evaluate_override,
    split_amount,
)
from tests.support.factories import add_person, add_won_deals
from tests.support.rule_book import Ledger, d


@st.composite
def deals_with_shares(draw):
    amount = Decimal(draw(st.integers(min_value=0, max_value=10**13))).scaleb(-4)  # money at its stored scale
    cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=999_999), max_size=6, unique=True)))
    bounds = [0, *cuts, 1_000_000]
    shares = [Decimal(b - a).scaleb(-6) for a, b in zip(bounds, bounds[1:])]  # shares of a million adding to 100%
    return amount, [(f"P{i}", share) for i, share in enumerate(shares)]


@given(
    deals_with_shares(),
    st.sampled_from(["largest_remainder", "largest_share", "owner"]),
    st.integers(0, 4),
    st.sampled_from(["half_up", "half_even", "down", "floor", "ceiling"]),
)
def test_split_lines_add_up_exactly_to_the_amount_after_rounding(deal, remainder, places, mode):
    amount, shares = deal
    lines = split_amount(amount, shares, places=places, mode=mode, remainder=remainder, owner="P0")
    assert sum(lines.values(), Decimal(0)) == quantize(amount, places, mode)
    assert all(line == quantize(line, places) for line in lines.values())
    unit = Decimal(1).scaleb(-places)
    assert all(
        abs(lines[p] - amount * s) <= unit * (len(shares) if remainder != "largest_remainder" else 1) for p, s in shares
    )


def test_a_third_each_gives_the_left_over_cent_by_the_declared_rule():
    thirds = [("A", d("0.333333")), ("B", d("0.333333")), ("C", d("0.333334"))]
    assert split_amount(d("100"), thirds) == {"A": d("33.33"), "B": d("33.33"), "C": d("33.34")}
    assert split_amount(d("100"), thirds, remainder="largest_share") == {
        "A": d("33.33"),
        "B": d("33.33"),
        "C": d("33.34"),
    }
    assert split_amount(d("100"), thirds, remainder="owner", owner="A") == {
        "A": d("33.34"),
        "B": d("33.33"),
        "C": d("33.33"),
    }


def credit_rows(ledger: Ledger, period: str, deal: int, amount: str, owner: str, shares: dict[str, str]) -> None:
    for person, share in shares.items():
        rows = (
            ledger.details.setdefault(parse_period(period).label, {})
            .setdefault("deal_credit", {})
            .setdefault(person, [])
        )
        rows.append(
            {
                "record_id": deal,
                "value": d(amount),
                "share": d(share),
                "split_role": None,
                "owner_id": owner,
                "closed_at": datetime(2026, 3, 10, tzinfo=UTC),
            }
        )


def test_credit_split_credits_each_deal_by_share_and_pays_the_rate_on_it():
    ledger = Ledger(people=["A", "B", "C"])
    credit_rows(ledger, "2026-03", 1, "1000.00", "A", {"A": "0.6", "B": "0.4"})
    credit_rows(ledger, "2026-03", 2, "100.00", "C", {"A": "0.333333", "B": "0.333333", "C": "0.333334"})
    out = ledger.run("2026-03", [("credit", evaluate_credit, CreditSplit(rate=d("0.05")))])["credit"]
    credit = {r.person_id: Decimal(r.trace["inputs"]["credit"]) for r in out}
    assert credit == {"A": d("633.33"), "B": d("433.33"), "C": d("33.34")}
    assert sum(credit.values()) == d("1100.00")
    assert {r.person_id: r.amount for r in out} == {"A": d("31.67"), "B": d("21.67"), "C": d("1.67")}
    assert out[0].kind == "payout" and out[0].trace["records"]["ids"] == [1, 2]
    assert "deal 1 60% of 1,000 = 600" in out[0].trace["explanation"]


def test_credit_without_a_rate_is_a_credit_outcome_for_later_rules():
    ledger = Ledger(people=["A"])
    credit_rows(ledger, "2026-03", 1, "500", "A", {"A": "1"})
    [result] = ledger.run("2026-03", [("credit", evaluate_credit, CreditSplit())])["credit"]
    assert (result.kind, result.amount) == ("credit", d("500.00"))


def test_deal_credit_metric_uses_splits_and_credits_the_owner_when_there_are_none(store):
    add_person(store, "A")
    add_person(store, "B")
    closed = datetime(2026, 3, 10, tzinfo=UTC)
    split_deal, own_deal = add_won_deals(store, "A", ["1000", "300"], closed_at=closed)
    with store.begin() as conn:
        conn.execute(
            schema.deal_splits.insert(),
            [
                {"deal_id": split_deal, "person_id": "A", "share": d("0.6"), "split_role": "owner"},
                {"deal_id": split_deal, "person_id": "B", "share": d("0.4"), "split_role": "overlay"},
            ],
        )
    period = parse_period("2026-03")
    start, end = period.bounds_utc("UTC")
    with store.connect() as conn:
        rows = [
            dict(r) for r in conn.execute(deal_credit_rows(MetricContext(period, start, end, "UTC", "USD"))).mappings()
        ]
    assert [(r["person_id"], r["record_id"], r["share"], r["split_role"]) for r in rows] == [
        ("A", split_deal, d("0.6"), "owner"),
        ("A", own_deal, d("1"), "owner"),
        ("B", split_deal, d("0.4"), "overlay"),
    ]


class MovesOrg:
    """E1 reports to M1 until 15 March, then to M2; both managers report to D."""

    def managers_above(self, person: str, day: date) -> list[str]:
        if person == "E1":
            return ["M1" if day < date(2026, 3, 15) else "M2", "D"]
        return {"M1": ["D"], "M2": ["D"]}.get(person, [])

    def manager_of(self, person: str, day: date) -> str | None:
        chain = self.managers_above(person, day)
        return chain[0] if chain else None

    def team_of(self, person: str, day: date) -> str | None:
        return None

    def members(self, team: str, day: date, *, with_subteams: bool = True) -> list[str]:
        return []


def test_override_pays_each_level_its_rate_on_the_commission_below():
    ledger = Ledger(people=["E1", "M1", "M2", "D"], org=MovesOrg())

    def commission(ctx, _config):
        return [RuleResult("E1", d("1000"), {})]

    override = ManagerOverride(source_rule="commission", levels=[d("0.05"), d("0.02")])
    out = ledger.run("2026-03", [("commission", commission, None), ("override", evaluate_override, override)])[
        "override"
    ]
    # As of 31 March E1 is under M2, so M2 earns the direct level and D the next; M1 nothing.
    assert {r.person_id: r.amount for r in out} == {"M2": d("50.00"), "D": d("20.00")}
    assert "5% of E1's 1,000 (level 1)" in out[0].trace["explanation"]


def test_override_per_record_credits_the_old_manager_before_a_move_and_the_new_one_after():
    ledger = Ledger(people=["E1", "M1", "M2", "D"], org=MovesOrg())
    ledger.rows(
        "2026-03",
        "bookings",
        "E1",
        [
            {"record_id": 11, "value": d("4000"), "closed_at": datetime(2026, 3, 5, 12, tzinfo=UTC)},
            {"record_id": 12, "value": d("6000"), "closed_at": datetime(2026, 3, 20, 12, tzinfo=UTC)},
        ],
    )
    override = ManagerOverride(source_metric="bookings", levels=[d("0.01"), d("0.005")], as_of="record")
    out = ledger.run("2026-03", [("override", evaluate_override, override)])["override"]
    assert {r.person_id: r.amount for r in out} == {"M1": d("40.00"), "M2": d("60.00"), "D": d("50.00")}
    m1 = next(r for r in out if r.person_id == "M1")
    assert m1.trace["records"] == {"table": "deals", "ids": [11]}
    assert m1.trace["lines"][0]["as_of"] == "2026-03-05"


def test_override_without_an_org_view_follows_the_managers_of_the_people_records():
    people = {
        "E1": PersonInfo(id="E1", name="E1", manager_id="M1"),
        "M1": PersonInfo(id="M1", name="M1", manager_id="D"),
        "D": PersonInfo(id="D", name="D"),
    }
    ledger = Ledger(people=["E1", "M1", "D"], people_info=people).set(
        "2026-03", "bookings", {"E1": "10000", "M1": "2000"}
    )
    override = ManagerOverride(source_metric="bookings", levels=[d("0.01"), d("0.005")])
    out = ledger.run("2026-03", [("override", evaluate_override, override)])["override"]
    assert {r.person_id: r.amount for r in out} == {"M1": d("100.00"), "D": d("70.00")}


def test_override_names_exactly_one_source():
    with pytest.raises(ValidationError, match="exactly one of source_rule"):
        ManagerOverride(levels=[d("0.05")])
    with pytest.raises(ValidationError, match="as_of: record needs source_metric"):
        ManagerOverride(source_rule="commission", levels=[d("0.05")], as_of="record")
