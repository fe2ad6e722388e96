"""PIP trigger and alerts through the engine and a real store: state carried by saved runs, days read by SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kpi_engine import EvaluationError, evaluate, parse_plan
from tests.support.factories import add_person, add_target, add_won_deals

PIP_PLAN = """
id: pip-e2e
effective: {from: 2026-01-01}
applies_to: {roles: [sales_rep]}
time_zone: Asia/Shanghai
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
metrics:
  attainment: bookings / quota
targets:
  quota: {metric: bookings}
rules:
  - id: pip
    type: pip_trigger
    measure: attainment
    fails_when: "< 100%"
    consecutive: 2
    observation: {periods: 3, pass_when_met: 2}
"""


def test_p1_months_evaluated_in_order_raise_once_and_pass(store):
    """Golden P1 (seed 002) on a database: attainment 105, 95, 90, 101, 99, 104 % of a target of 100."""
    plan = parse_plan(PIP_PLAN)
    add_person(store, "E1")
    statuses = {}
    for month, booked in zip(range(1, 7), ["105", "95", "90", "101", "99", "104"]):
        label = f"2026-{month:02d}"
        add_won_deals(store, "E1", [booked], closed_at=datetime(2026, month, 10, tzinfo=UTC))
        add_target(store, "E1", "bookings", label, "100")
        run = evaluate(store, plan, label)
        statuses[label] = [o.trace["status"] for o in run.outcomes if o.rule_id == "pip"]
    assert statuses == {
        "2026-01": [],
        "2026-02": [],
        "2026-03": ["raised"],
        "2026-04": ["observing"],
        "2026-05": ["observing"],
        "2026-06": ["passed"],
    }


def test_someone_outside_the_plan_without_targets_does_not_hide_the_reps_history(store):
    """A manager (out of scope, no targets) must not turn every earlier month into "no data" for the reps."""
    plan = parse_plan(PIP_PLAN)
    add_person(store, "E1")
    add_person(store, "M1", role="manager")
    statuses = {}
    for month, booked in zip(range(1, 4), ["105", "95", "90"]):
        label = f"2026-{month:02d}"
        add_won_deals(store, "E1", [booked], closed_at=datetime(2026, month, 10, tzinfo=UTC))
        add_target(store, "E1", "bookings", label, "100")
        run = evaluate(store, plan, label)
        statuses[label] = [(o.person_id, o.trace["status"]) for o in run.outcomes if o.rule_id == "pip"]
    assert statuses["2026-03"] == [("E1", "raised")]


def test_skipping_a_month_is_refused_rather_than_guessed(store):
    plan = parse_plan(PIP_PLAN)
    add_person(store, "E1")
    for month in ("2026-01", "2026-02", "2026-03"):
        add_target(store, "E1", "bookings", month, "100")
    evaluate(store, plan, "2026-01")
    with pytest.raises(EvaluationError, match="2026-02 has not been evaluated"):
        evaluate(store, plan, "2026-03")


ALERT_PLAN = """
id: alert-e2e
applies_to: {roles: [sales_rep]}
time_zone: Asia/Shanghai
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
rules:
  - id: low_days
    type: alert
    metric: bookings
    breach_when: "< 100"
    for: 3
    interval: day
    no_data: counts_as_breach
"""


def test_daily_alert_reads_each_day_in_the_plans_time_zone(store):
    add_person(store, "E1", hire_date=datetime(2026, 3, 1).date())
    # 16:30 UTC on 1 March is 00:30 on 2 March in Shanghai: day 1 has nothing, day 2 has 500.
    for day, hour, amount in [(1, 16, "500"), (2, 3, "50"), (6, 3, "500")]:
        add_won_deals(store, "E1", [amount], closed_at=datetime(2026, 3, day, hour, 30, tzinfo=UTC))
    run = evaluate(store, parse_plan(ALERT_PLAN), "2026-03")
    states = [(o.trace["state"], o.trace["at"]) for o in run.outcomes if o.rule_id == "low_days"][:2]
    # Day 1 no data (a breach), day 2 at 500 ends the run; days 3, 4, 5 at 0 or nothing fire on day 5; day 6 resolves.
    assert states == [("firing", "2026-03-05"), ("resolved", "2026-03-06")]
