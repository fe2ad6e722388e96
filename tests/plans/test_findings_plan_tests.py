"""Plan tests (no database) see findings and their effects exactly as an evaluation does."""

from __future__ import annotations

import types

from kpi_engine import hookimpl, load_plugins, parse_plan
from kpi_engine.plans.plan_tests import load_cases, run_case
from tests.support.findings_toys import BIG_DEALS, LOOK_BACK


@hookimpl
def kpi_rule_types():
    yield BIG_DEALS
    yield LOOK_BACK


REGISTRY = load_plugins(extra={"toy-checks": types.SimpleNamespace(kpi_rule_types=kpi_rule_types)})

PLAN = """
id: toy-plan-tests
currency: USD
time_zone: UTC
rounding: {places: 2}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    tiers: [{from: 0, to: 100000, rate: 5%}, {from: 100000, rate: 10%}]
  - id: big
    type: EFFECT_CHECK
    at_least: 100000
    effect: EFFECT
    affects: [commission]
tests:
  - name: CASE
    periods: [2026-09, 2026-10]
    people: {E1: {role: sales_rep}}
    data:
      2026-09: {bookings: {E1: 200000}}
      2026-10: {bookings: {E1: 170000}}
    records:
      2026-09: {bookings: {E1: [{record_id: 7, value: 50000}, {record_id: 8, value: 150000}]}}
      2026-10: {bookings: {E1: [{record_id: 11, value: 50000}, {record_id: 12, value: 120000}]}}
    expect:
      EXPECT
"""


def run(effect: str, expect: str, check: str = "big_deals") -> list[str]:
    text = (
        PLAN.replace("EFFECT_CHECK", check)
        .replace("EFFECT", effect)
        .replace("CASE", f"{effect} in a plan test")
        .replace("EXPECT", expect)
    )
    plan = parse_plan(text, "toy-plan-tests.yaml", registry=REGISTRY)
    (case,) = load_cases(plan, registry=REGISTRY)
    result = run_case(plan, case, registry=REGISTRY)
    return [result.error] if result.error else list(result.failures)


def test_hold_in_a_plan_test():
    # September: 100,000 x 5 % + 100,000 x 10 % = 15,000 held; October: 100,000 x 5 % + 70,000 x 10 % = 12,000 held
    expect = """2026-09:
        - {rule: big, person: E1, kind: finding, check: big_deals, effect: hold}
        - {rule: commission, person: E1, kind: held, amount: "15000.00", total: 0}
      2026-10:
        - {rule: commission, person: E1, kind: held, amount: "12000.00"}"""
    assert run("hold", expect) == []


def test_exclude_in_a_plan_test():
    # September without deal 8: 50,000 x 5 % = 2,500; October without deal 12: 2,500
    expect = """2026-09:
        - {rule: commission, person: E1, amount: "2500.00"}
      2026-10:
        - {rule: commission, person: E1, amount: "2500.00"}"""
    assert run("exclude", expect) == []
    assert run("exclude", expect.replace('"2500.00"', '"2600.00"', 1)) != []  # the expectation can fail


def test_clawback_in_a_plan_test_reverses_last_periods_record_at_the_rate_paid():
    # October's check names September's deal 8 (150,000): September paid 15,000 on 200,000 (7.5 %) -> 11,250 back
    expect = """2026-10:
        - {rule: commission, person: E1, amount: "12000.00"}
        - {rule: commission, person: E1, amount: "-11250.00"}"""
    assert run("clawback", expect, check="big_deals_last_period") == []
