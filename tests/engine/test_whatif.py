"""A what-if over several months pays what evaluating the draft for real would, month after month: each
month's rules read the draft's own earlier months (a draw's balance, here) from memory, as saved runs read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kpi_engine import DealRecord, evaluate, parse_period, parse_plan, upsert_records
from kpi_engine.engine.whatif import whatif
from tests.support.factories import add_person

CURRENT = """
id: pay
version: "1"
currency: USD
time_zone: UTC
rounding: {places: 2}
rules:
  - {id: commission, type: tiered_commission, measure: bookings, method: marginal, tiers: [{from: 0, rate: 10%}]}
"""
DRAFT = CURRENT.replace('version: "1"', 'version: "2"') + (
    "  - {id: draw, type: draw, guarantee: 1000, earnings_rules: [commission], recoverable: true}\n"
)


def test_a_whatif_of_a_draft_with_a_draw_pays_what_the_draft_would_month_after_month(store):
    add_person(store, "E1")
    # R2: earnings 500 / 700 / 400 topped up to the 1,000 guarantee (draws 500 / 300 / 600, balance 1,400);
    # April earns 1,600, of which the 600 above the guarantee recovers part of the balance: 1,000 paid.
    bookings = {1: "5000", 2: "7000", 3: "4000", 4: "16000"}
    deals = [
        DealRecord(
            remote_id=f"D{m}",
            owner_id="E1",
            status="won",
            amount=a,
            currency="USD",
            closed_at=datetime(2026, m, 10, tzinfo=UTC),
        )
        for m, a in bookings.items()
    ]
    with store.begin() as conn:
        upsert_records(conn, "deals", "crm", deals)
    months = [parse_period(f"2026-{m:02d}") for m in bookings]
    draft = parse_plan(DRAFT, "pay-draft.yaml")

    found = whatif(store, draft, months, against=parse_plan(CURRENT, "pay.yaml"))

    real = sum((evaluate(store, draft, m.label).total() for m in months), Decimal(0))
    [line] = found.lines
    assert line.current == Decimal("3200.00")  # 10 % of 32,000
    assert line.draft == real == Decimal("4000.00")  # 1,000 a month: what the draw's balance made it each month
