"""Plans name values over other spans (``spans:``): the quarter's and the year's in a monthly plan.

Before: a plan had no name for the quarter's or the year's numbers (``unknown key 'spans'``), so a quarterly
condition in a monthly plan was written by adding months by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kpi_engine import PlanError, evaluate, parse_plan
from tests.support.factories import add_person, add_target, add_won_deals

MONTHLY = """
id: quarter-names
applies_to: {roles: [sales_rep]}
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
metrics:
  attainment: bookings / quota
targets:
  quota: {metric: bookings}
spans:
  quarter_bookings: {of: bookings, over: quarter_to_date}
  quarter_quota: {of: quota, over: quarter}
  quarter_attainment: {of: attainment, over: quarter_to_date}
rules:
  - id: on_track_for_the_quarter
    type: bonus
    per: person
    when: "quarter_bookings >= quarter_quota * 2 / 3"
    amount: 300
"""


def test_a_monthly_plan_reads_the_quarter_so_far_and_the_quarters_quota(store):
    """Monthly quotas of 100,000: the quarter's quota is 300,000; by the end of February 210,000 is booked
    (more than two thirds): 300; the quarter to date's attainment is 210,000 ÷ 200,000 = 105 %."""
    add_person(store, "E1")
    add_won_deals(store, "E1", ["90000"], closed_at=datetime(2026, 1, 10, tzinfo=UTC))
    add_won_deals(store, "E1", ["120000"], closed_at=datetime(2026, 2, 10, tzinfo=UTC))
    for month in ("2026-01", "2026-02", "2026-03"):
        add_target(store, "E1", "bookings", month, "100000")
    plan = parse_plan(MONTHLY)
    [january] = evaluate(store, plan, "2026-01").outcomes
    [february] = evaluate(store, plan, "2026-02").outcomes
    assert (january.amount, february.amount) == (Decimal("0.00"), Decimal("300.00"))
    assert february.trace["condition"]["inputs"] == {"quarter_bookings": "210000", "quarter_quota": "300000"}


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ("  x: {of: commision, over: year}", "span 'x' is of an unknown name ('commision')"),
        ("  x: {of: on_track_for_the_quarter, over: year}", "span 'x' is of a rule ('on_track_for_the_quarter')"),
        ("  x: {of: quarter_bookings, over: year}", "span 'x' is of another span ('quarter_bookings')"),
        ("  x: {of: bookings, over: decade}", "spans.x.over: Input should be"),
    ],
)
def test_a_span_of_what_cannot_be_spanned_is_refused_at_its_line(spans, message):
    text = MONTHLY.replace("rules:\n", spans + "\nrules:\n", 1)
    with pytest.raises(PlanError) as err:
        parse_plan(text, "p.yaml")
    assert any(message in problem for problem in err.value.problems), err.value.problems
