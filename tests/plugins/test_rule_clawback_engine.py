"""Clawback, draws and credit splits through the engine and a real store (SQLite, or PostgreSQL when set)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kpi_engine import evaluate, parse_plan, schema
from tests.support.factories import add_person, add_won_deals

PLAN = """
id: clawback-e2e
effective: {from: 2026-01-01}
applies_to: {roles: [sales_rep]}
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
rules:
  - id: commission
    type: tiered_commission
    method: marginal
    per: transaction
    tiers:
      - {from: 0, rate: 10%}
  - id: clawback
    type: clawback
    commission_rule: commission
    within_days: 90
  - id: draw
    type: draw
    guarantee: 1000
    earnings_rules: [commission, clawback]
    recoverable: true
"""


def refund(store, deal: int, amount: str, when: datetime, remote: str, kind: str = "refund") -> None:
    with store.begin() as conn:
        conn.execute(
            schema.refunds.insert().values(
                source="test",
                remote_id=remote,
                deal_id=deal,
                kind=kind,
                amount=Decimal(amount),
                currency="USD",
                occurred_at=when,
                is_deleted=False,
                modified_at=when,
            )
        )


def lines(run, rule: str) -> dict[str, Decimal | None]:
    return {o.person_id: o.amount for o in run.outcomes if o.rule_id == rule}


def test_refunds_reverse_paid_commission_in_later_periods_once_and_never_beyond_it(store):
    plan = parse_plan(PLAN)
    add_person(store, "E1")
    [deal] = add_won_deals(store, "E1", ["10000"], closed_at=datetime(2026, 1, 15, tzinfo=UTC))
    january = evaluate(store, plan, "2026-01")
    assert lines(january, "commission") == {"E1": Decimal("1000.00")}

    refund(store, deal, "2500", datetime(2026, 2, 4, tzinfo=UTC), "r1")
    february = evaluate(store, plan, "2026-02")
    assert lines(february, "clawback") == {"E1": Decimal("-250.00")}
    again = evaluate(store, plan, "2026-02")  # re-running the open period claws back nothing twice
    assert lines(again, "clawback") == {"E1": Decimal("-250.00")}

    refund(store, deal, "10000", datetime(2026, 3, 2, tzinfo=UTC), "r2", kind="cancellation")
    march = evaluate(store, plan, "2026-03")
    [line] = [o for o in march.outcomes if o.rule_id == "clawback"]
    assert line.amount == Decimal("-750.00")  # only what is left of the 1,000 paid
    assert line.trace["lines"][0]["already_recovered"] == "250.00"
    assert line.trace["records"] == [{"table": "refunds", "ids": [2]}]

    # The draw reads commission and clawback: 0 earned in February, -250 clawed back -> 1,250 advanced.
    assert lines(february, "draw") == {"E1": Decimal("1250.00")}
    [draw] = [o for o in march.outcomes if o.rule_id == "draw"]
    assert (draw.trace["balance_before"], draw.trace["balance_after"]) == ("1250.00", "3000.00")


SPLIT_PLAN = """
id: split-e2e
applies_to: {roles: [sales_rep, manager]}
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
rules:
  - id: credit
    type: credit_split
    rate: 5%
  - id: override
    type: manager_override
    source_rule: credit
    levels: [10%]
"""


def test_split_credit_and_override_through_the_engine(store):
    add_person(store, "M1", role="manager")
    add_person(store, "A", manager_id="M1")
    add_person(store, "B", manager_id="M1")
    [deal] = add_won_deals(store, "A", ["100.00"], closed_at=datetime(2026, 3, 10, tzinfo=UTC))
    with store.begin() as conn:
        conn.execute(
            schema.deal_splits.insert(),
            [
                {"deal_id": deal, "person_id": "A", "share": Decimal("0.333333")},
                {"deal_id": deal, "person_id": "B", "share": Decimal("0.666667")},
            ],
        )
    run = evaluate(store, parse_plan(SPLIT_PLAN), "2026-03")
    credit = {o.person_id: Decimal(o.trace["inputs"]["credit"]) for o in run.outcomes if o.rule_id == "credit"}
    assert credit == {"A": Decimal("33.33"), "B": Decimal("66.67"), "M1": Decimal("0")}
    assert sum(credit.values()) == Decimal("100.00")
    assert lines(run, "override") == {"M1": Decimal("0.50")}  # 10% of 1.67 + 3.33
