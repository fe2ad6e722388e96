"""The plan's declared effect of a check's findings changes payouts exactly: flag, hold (and release), exclude,
clawback.

A toy check (registered as a third party would) flags every won deal of 100,000 or more; a 10 % commission
on bookings is the payout rule it affects. E1 closes 50,000 and 120,000 in October 2026.
"""

from __future__ import annotations

import types
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kpi_engine import (
    ConfigurationError,
    PlanError,
    evaluate,
    hookimpl,
    load_plugins,
    parse_plan,
)
from kpi_engine.findings.store import list_findings, review_finding
from tests.support.factories import add_person, add_won_deals
from tests.support.findings_toys import BIG_DEALS, LOOK_BACK

OCT = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)


@hookimpl
def kpi_rule_types():
    yield BIG_DEALS


@hookimpl(specname="kpi_rule_types")
def look_back_types():
    yield LOOK_BACK


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"toy-checks": types.SimpleNamespace(kpi_rule_types=kpi_rule_types)})


def plan(registry, effect: str, *, per: str = "period", affects: str = "[commission]", extra: str = ""):
    text = f"""
id: toy-effects
currency: USD
time_zone: UTC
rounding: {{places: 2}}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    per: {per}
    tiers: [{{from: 0, rate: 10%}}]
  - id: big
    type: big_deals
    at_least: 100000
    effect: {effect}
    affects: {affects}
{extra}"""
    return parse_plan(text, "toy-effects.yaml", registry=registry)


def lines(run, kind=None, rule="commission"):
    return [o for o in run.outcomes if o.rule_id == rule and (kind is None or o.kind == kind)]


def paid(run) -> Decimal:
    return sum((o.amount for o in run.outcomes if o.kind == "payout" and o.amount is not None), Decimal(0))


@pytest.fixture
def october(store):
    add_person(store, "E1")
    ids = add_won_deals(store, "E1", ["50000", "120000"], closed_at=OCT)
    return store, ids


def test_the_check_runs_before_the_rule_it_affects_and_flag_changes_nothing(october, registry):
    store, ids = october
    loaded = plan(registry, "flag", affects="[]")
    assert loaded.rules_in_order[0].id == "commission"  # nothing to wait for with flag and no affects
    held = plan(registry, "hold")
    assert [r.id for r in held.rules_in_order] == ["big", "commission"]
    run = evaluate(store, loaded, "2026-10", registry=registry)
    assert paid(run) == Decimal("17000.00")  # 170,000 x 10 %
    (finding,) = [o for o in run.outcomes if o.kind == "finding"]
    assert finding.trace["records"] == [{"table": "deals", "ids": [ids[1]]}]
    assert finding.trace["effect"] == "flag" and len(finding.trace["id"]) == 16


def test_hold_keeps_the_amount_as_held_and_a_rerun_gives_the_same_finding_id(october, registry):
    store, _ = october
    loaded = plan(registry, "hold")
    run = evaluate(store, loaded, "2026-10", registry=registry)
    (line,) = lines(run)
    assert (line.kind, line.amount, line.currency) == ("held", Decimal("17000.00"), "USD")
    assert paid(run) == 0 and run.total() == 0
    (finding,) = [o for o in run.outcomes if o.kind == "finding"]
    assert line.trace["held"]["findings"] == [finding.trace["id"]]
    again = evaluate(store, loaded, "2026-10", registry=registry)
    assert [o.trace["id"] for o in again.outcomes if o.kind == "finding"] == [finding.trace["id"]]
    assert paid(again) == 0


def test_a_hold_acts_only_on_the_severities_the_plan_maps_and_the_finding_says_so(october, registry):
    store, _ = october
    loaded = plan(registry, "hold", extra="    severity: medium\n    act_on: [high]\n")
    run = evaluate(store, loaded, "2026-10", registry=registry)
    assert paid(run) == Decimal("17000.00") and [o.kind for o in lines(run)] == ["payout"]
    (finding,) = [o for o in run.outcomes if o.kind == "finding"]
    assert finding.trace["severity"] == "medium" and finding.trace["category"] == "gaming"
    assert "acts only on high; this finding is listed for review only" in finding.trace["effect_note"]
    high = plan(registry, "hold", extra="    severity: high\n    act_on: [high]\n")
    assert paid(evaluate(store, high, "2026-10", registry=registry)) == 0


def test_a_released_hold_is_paid_once_in_the_next_period_and_an_upheld_one_never(october, registry):
    store, _ = october
    add_won_deals(store, "E1", ["30000"], closed_at=NOV)
    loaded = plan(registry, "hold")
    evaluate(store, loaded, "2026-10", registry=registry)
    (finding,) = list_findings(store, plan_id="toy-effects")
    november = evaluate(store, loaded, "2026-11", registry=registry)
    assert paid(november) == Decimal("3000.00")  # not released yet: only November's own commission
    review_finding(store, finding.id, "release", "Deal checked with the customer: genuine.", "hr.li")
    with pytest.raises(ConfigurationError, match="already reviewed"):
        review_finding(store, finding.id, "uphold", "second thoughts", "hr.li")
    november = evaluate(store, loaded, "2026-11", registry=registry)
    release = [o for o in lines(november) if "released_hold" in o.trace]
    assert [o.amount for o in release] == [Decimal("17000.00")]
    assert "Hold of 2026-10 released after review" in release[0].trace["explanation"][0]
    assert paid(november) == Decimal("20000.00")
    again = evaluate(store, loaded, "2026-11", registry=registry)  # re-running November pays it once, not twice
    assert paid(again) == Decimal("20000.00")
    december = evaluate(store, loaded, "2026-12", registry=registry)  # and December does not pay it again
    assert paid(december) == 0


def test_an_upheld_hold_is_never_paid(october, registry):
    store, _ = october
    loaded = plan(registry, "hold")
    evaluate(store, loaded, "2026-10", registry=registry)
    (finding,) = list_findings(store, plan_id="toy-effects")
    review_finding(store, finding.id, "uphold", "Brushed order confirmed.", "hr.li")
    assert paid(evaluate(store, loaded, "2026-11", registry=registry)) == 0


def test_exclude_takes_the_records_credit_out_of_the_measure(october, registry):
    store, ids = october
    run = evaluate(store, plan(registry, "exclude"), "2026-10", registry=registry)
    (line,) = lines(run)
    assert line.amount == Decimal("5000.00")  # 50,000 x 10 %: the 120,000 deal is not credited
    assert line.trace["excluded"][0]["records"] == [{"table": "deals", "ids": [str(ids[1])]}]
    assert line.trace["excluded_changes"] == {"bookings": "170000 → 50000"}
    per_deal = evaluate(store, plan(registry, "exclude", per="transaction"), "2026-10", registry=registry)
    (line,) = lines(per_deal)
    assert line.amount == Decimal("5000.00")
    assert {str(item["record_id"]) for item in line.trace["lines"]} == {str(ids[0])}


def test_clawback_of_a_record_of_this_period_excludes_it(store, registry):
    add_person(store, "E1")
    add_won_deals(store, "E1", ["30000", "150000"], closed_at=NOV)
    november = evaluate(store, plan(registry, "clawback"), "2026-11", registry=registry)
    (own,) = lines(november)
    assert own.amount == Decimal("3000.00")  # the 150,000 deal of November is excluded: 30,000 x 10 %
    assert own.trace["excluded"][0]["effect"] == "clawback"


def test_clawback_of_an_earlier_record_at_the_rate_paid_never_twice(store, registry):
    back_registry = load_plugins(extra={"toy": types.SimpleNamespace(kpi_rule_types=look_back_types)})
    add_person(store, "E1")
    october_ids = add_won_deals(store, "E1", ["50000", "150000"], closed_at=OCT)
    add_won_deals(store, "E1", ["40000"], closed_at=NOV)
    text = """
id: toy-clawback
currency: USD
time_zone: UTC
rounding: {places: 2}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    tiers: [{from: 0, to: 100000, rate: 5%}, {from: 100000, rate: 10%}]
  - id: churned
    type: big_deals_last_period
    at_least: 100000
    effect: clawback
    affects: [commission]
"""
    loaded = parse_plan(text, "toy-clawback.yaml", registry=back_registry)
    october = evaluate(store, loaded, "2026-10", registry=back_registry)
    assert paid(october) == Decimal("15000.00")  # 100,000 x 5 % + 100,000 x 10 %: effective rate 7.5 %
    november = evaluate(store, loaded, "2026-11", registry=back_registry)
    (back,) = [o for o in lines(november) if "clawback" in o.trace]
    assert back.amount == Decimal("-11250.00")  # 150,000 x 15,000 / 200,000, the rate paid in October
    assert back.trace["clawback"]["record_id"] == str(october_ids[1]) and back.trace["clawback"]["paid_in"] == "2026-10"
    assert paid(november) == Decimal("2000.00") - Decimal("11250.00")
    again = evaluate(store, loaded, "2026-11", registry=back_registry)
    assert paid(again) == paid(november)  # re-running November claws back once
    december = evaluate(store, loaded, "2026-12", registry=back_registry)
    assert not [o for o in lines(december) if "clawback" in o.trace]  # December finds the record clawed back already


def test_plan_validation_of_effects(registry):
    with pytest.raises(PlanError, match="effect 'hold' needs `affects`"):
        plan(registry, "hold", affects="[]")
    with pytest.raises(PlanError, match="affects unknown rule 'comission'. did you mean 'commission'"):
        plan(registry, "flag", affects="[comission]")
    with pytest.raises(PlanError, match=r"toy-effects.yaml:\d+:\d+: rule 'big' cannot affect itself"):
        plan(registry, "exclude", affects="[big]")


def _deal_count(ctx):
    from sqlalchemy import func, select

    from kpi_engine import schema

    d = schema.deals
    return (
        select(d.c.owner_id, func.count())
        .where(d.c.status == "won", d.c.closed_at >= ctx.start, d.c.closed_at < ctx.end)
        .group_by(d.c.owner_id)
    )


def _deal_count_rows(ctx):
    from sqlalchemy import select

    from kpi_engine import schema

    d = schema.deals
    return select(d.c.owner_id, d.c.id, d.c.amount).where(
        d.c.status == "won", d.c.closed_at >= ctx.start, d.c.closed_at < ctx.end
    )


@hookimpl(specname="kpi_metrics")
def count_metric():
    from kpi_engine import Metric

    # A count whose evidence rows carry the deals' amounts: its value is not the sum of its evidence values.
    yield Metric(
        name="deals_counted",
        description="Won deals (evidence: their amounts).",
        unit="count",
        query=_deal_count,
        evidence=_deal_count_rows,
        evidence_table="deals",
    )


def test_a_measure_that_cannot_be_reduced_exactly_is_left_as_measured_and_both_lines_say_so(october, registry):
    store, _ = october
    toy = load_plugins(extra={"toy": types.SimpleNamespace(kpi_rule_types=kpi_rule_types, kpi_metrics=count_metric)})
    text = """
id: toy-count
currency: USD
time_zone: UTC
rounding: {places: 2}
rules:
  - id: per_deal
    type: tiered_commission
    measure: deals_counted
    method: marginal
    tiers: [{from: 0, rate: 100}]
  - id: big
    type: big_deals
    metric: deals_counted
    at_least: 100000
    effect: exclude
    affects: [per_deal]
"""
    run = evaluate(store, parse_plan(text, "toy-count.yaml", registry=toy), "2026-10", registry=toy)
    (line,) = lines(run, rule="per_deal")
    assert line.amount == Decimal("200.00")  # 2 deals x 100: left as measured, never silently wrong
    assert "deals_counted is not the sum of its evidence rows" in line.trace["excluded_note"]
    (finding,) = [o for o in run.outcomes if o.kind == "finding"]
    assert "cannot be taken out of it exactly" in finding.trace["effect_note"]
