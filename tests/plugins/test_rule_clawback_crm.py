"""Clawback on what CRMs actually record, through the engine and a real store.

- A won deal whose status becomes lost (cancelled) after it was paid is clawed back: from its stage history,
  or from the status change itself (the time the CRM modified it), with or without a cancellation record, once.
  Before: events were read only on deals still won, so a cancelled deal was never clawed back.
- A churn event without a lost amount takes back the whole commission, as documented. Before: the
  evaluation stopped with "metric 'clawback_events' returned None (NoneType)" and a hint about floating-point SQL.
- A deal paid at a floor is clawed back at the rate the tiers calculated unless the plan says ``rate: effective``
  (golden C1). Before: at the floor's effective rate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import update

from kpi_engine import evaluate, load_plan, parse_plan, schema
from tests.support.factories import add_person, add_won_deals

GOLDEN = Path(__file__).parents[1] / "golden"

PLAN = """
id: clawback-crm
effective: {from: 2026-01-01}
applies_to: {roles: [sales_rep]}
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
rules:
  - id: commission
    type: tiered_commission
    method: marginal
    tiers:
      - {from: 0, rate: 10%}
  - id: clawback
    type: clawback
    commission_rule: commission
    within_days: 90
"""

JAN = datetime(2026, 1, 15, 8, tzinfo=UTC)
FEB = datetime(2026, 2, 10, 8, tzinfo=UTC)


def paid_in_january(store, amounts=("10000", "5000")) -> list[int]:
    add_person(store, "E1")
    deals = add_won_deals(store, "E1", list(amounts), closed_at=JAN)
    run = evaluate(store, parse_plan(PLAN), "2026-01")
    assert [o.amount for o in run.outcomes if o.rule_id == "commission"] == [Decimal("1500.00")]
    return deals


def lose(store, deal: int, when: datetime = FEB) -> None:
    """The CRM marks a won deal lost (cancelled): what a sync or an import writes."""
    with store.begin() as conn:
        conn.execute(
            update(schema.deals)
            .where(schema.deals.c.id == deal)
            .values(status="lost", stage_raw="Cancelled", modified_at=when)
        )


def cancellation(store, deal: int, amount: str, when: datetime = FEB) -> None:
    with store.begin() as conn:
        conn.execute(
            schema.refunds.insert().values(
                source="crm",
                remote_id=f"cx-{deal}",
                deal_id=deal,
                kind="cancellation",
                amount=Decimal(amount),
                currency="USD",
                occurred_at=when,
                modified_at=when,
                is_deleted=False,
            )
        )


def clawback_line(run):
    [line] = [o for o in run.outcomes if o.rule_id == "clawback"]
    return line


def test_a_won_deal_that_becomes_lost_after_it_was_paid_is_clawed_back(store):
    """10 % on 10,000 paid 1,000 in January; the deal is cancelled in the CRM on 10 February: -1,000."""
    big, _small = paid_in_january(store)
    lose(store, big)
    line = clawback_line(evaluate(store, parse_plan(PLAN), "2026-02"))
    assert line.amount == Decimal("-1000.00")
    assert line.ledger_kind == "clawback"
    [event] = line.trace["lines"]
    assert (event["kind"], event["deal_id"], event["commission_paid"]) == ("deal_lost", big, "1000.00")
    assert "became lost (cancelled) 26 days after its close" in line.trace["explanation"]


def test_a_cancellation_record_on_the_lost_deal_takes_it_back_once(store):
    """The CRM records the cancellation twice (the status and a cancellation of 10,000): 1,000 back, not 2,000."""
    big, _small = paid_in_january(store)
    lose(store, big)
    cancellation(store, big, "10000")
    line = clawback_line(evaluate(store, parse_plan(PLAN), "2026-02"))
    assert line.amount == Decimal("-1000.00")
    assert sorted(e["kind"] for e in line.trace["lines"]) == ["cancellation", "deal_lost"]
    assert sorted(e["amount"] for e in line.trace["lines"]) == ["-1000.00", "0.00"]
    # evaluated again in March, nothing is taken back a second time
    march = evaluate(store, parse_plan(PLAN), "2026-03")
    assert [o for o in march.outcomes if o.rule_id == "clawback"] == []


def test_the_stage_history_dates_the_cancellation(store):
    """Stage history: won on 15 January, lost on 3 March; the CRM last touched the deal on 20 April."""
    big, _small = paid_in_january(store)
    lose(store, big, when=datetime(2026, 4, 20, tzinfo=UTC))
    with store.begin() as conn:
        conn.execute(
            schema.deal_stage_history.insert(),
            [
                {"deal_id": big, "stage_raw": "Closed Won", "status": "won", "entered_at": JAN},
                {
                    "deal_id": big,
                    "stage_raw": "Cancelled",
                    "status": "lost",
                    "entered_at": datetime(2026, 3, 3, tzinfo=UTC),
                },
            ],
        )
    plan = parse_plan(PLAN)
    evaluate(store, plan, "2026-02")
    march = clawback_line(evaluate(store, plan, "2026-03"))
    assert march.amount == Decimal("-1000.00")
    assert march.trace["lines"][0]["occurred_at"] == "2026-03-03"


def test_a_lost_deal_that_never_earned_anything_is_no_event(store):
    """Not even in a month when its owner earned commission on other deals."""
    add_person(store, "E1")
    add_won_deals(store, "E1", ["3000"], closed_at=FEB)
    with store.begin() as conn:
        conn.execute(
            schema.deals.insert().values(
                source="crm",
                remote_id="L1",
                owner_id="E1",
                status="lost",
                stage_raw="Closed Lost",
                amount=Decimal("8000"),
                currency="USD",
                closed_at=FEB,
                modified_at=FEB,
                is_deleted=False,
            )
        )
    run = evaluate(store, parse_plan(PLAN), "2026-02")
    assert [o for o in run.outcomes if o.rule_id == "clawback"] == []


def test_churn_without_a_lost_amount_takes_back_the_whole_commission(store):
    big, _small = paid_in_january(store)
    with store.begin() as conn:
        conn.execute(schema.customers.insert().values(id=1, source="crm", remote_id="c1", name="Acme"))
        conn.execute(
            schema.churn_events.insert().values(
                source="crm", remote_id="ch1", customer_id=1, deal_id=big, churned_at=FEB, is_deleted=False
            )
        )
    line = clawback_line(evaluate(store, parse_plan(PLAN), "2026-02"))
    assert line.amount == Decimal("-1000.00")
    [event] = line.trace["lines"]
    assert event["event_amount"] is None and event["share"] == "1"
    assert "churn of the whole deal" in line.trace["explanation"]


def test_golden_c1_a_deal_paid_at_the_floor_is_clawed_back_at_the_rate_calculated(store):
    """Golden C1 (Ordway Labs: a 100,000 contract at 15 % earns 15,000; a floor of 20,000 is a plan choice):
    January pays 20,000; the deal is cancelled in February: -15,000 at the rate calculated, -20,000 at the
    rate paid (``rate: effective``)."""
    add_person(store, "E1")
    [deal] = add_won_deals(store, "E1", ["100000"], closed_at=JAN)
    plan = load_plan(GOLDEN / "c1-clawback-calculated-rate.yaml")
    january = evaluate(store, plan, "2026-01")
    assert {o.rule_id: o.amount for o in january.outcomes if o.amount is not None} == {
        "commission": Decimal("20000.00")
    }
    lose(store, deal)
    february = {o.rule_id: o.amount for o in evaluate(store, plan, "2026-02").outcomes}
    assert february == {
        "commission": Decimal("0.00"),
        "clawback": Decimal("-15000.00"),
        "clawback_at_the_rate_paid": Decimal("-20000.00"),
    }
