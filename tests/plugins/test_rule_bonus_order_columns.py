"""A SPIFF per qualifying order reads the order, not the credited share; a column with no value names its record.

Before: the records of ``bookings`` carried only the credited amount, so "each order of at least 1,000" on an
order split 50/50 compared the 500 share and paid nothing (and no column held the order's amount); a column
holding no value stopped the evaluation with a Python ``TypeError``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kpi_engine import EvaluationError, evaluate, parse_plan, schema
from tests.support.factories import add_person, add_won_deals

SPIFF = """
id: order-spiff
applies_to: {roles: [sales_rep]}
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
rules:
  - id: spiff
    type: bonus
    per: record
    measure: bookings
    columns: [deal_amount, share]
    when: "deal_amount >= 1000"
    amount: "100 * share"
"""


def test_a_spiff_per_order_of_at_least_1000_qualifies_a_split_order_by_the_order(store):
    """An order of 1,000 split 50/50 between E1 and E2: each credited 500, each earns half the 100 SPIFF."""
    add_person(store, "E1")
    add_person(store, "E2")
    [order] = add_won_deals(store, "E1", ["1000"], closed_at=datetime(2026, 10, 5, tzinfo=UTC))
    with store.begin() as conn:
        conn.execute(
            schema.deal_splits.insert(),
            [
                {"deal_id": order, "person_id": "E1", "share": Decimal("0.5"), "split_role": "owner"},
                {"deal_id": order, "person_id": "E2", "share": Decimal("0.5"), "split_role": "overlay"},
            ],
        )
    run = evaluate(store, parse_plan(SPIFF), "2026-10")
    assert {o.person_id: o.amount for o in run.outcomes} == {"E1": Decimal("50.00"), "E2": Decimal("50.00")}
    [line] = next(o for o in run.outcomes if o.person_id == "E2").trace["lines"]
    assert (line["record_id"], line["value"]) == (order, "500")


def test_a_column_without_a_value_is_a_data_error_naming_the_record(store):
    add_person(store, "E1")
    [deal] = add_won_deals(store, "E1", ["2000"], closed_at=datetime(2026, 10, 5, tzinfo=UTC))
    plan = parse_plan(
        SPIFF.replace("columns: [deal_amount, share]", "columns: [discount]")
        .replace('when: "deal_amount >= 1000"', 'when: "discount < 10%"')
        .replace('"100 * share"', "100")
    )
    with pytest.raises(EvaluationError) as err:
        evaluate(store, plan, "2026-10")
    assert err.value.message == f"record {deal} of bookings has no discount, which the rule's formulas read."
