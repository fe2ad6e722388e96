"""A third party can add a metric and a rule type through the public API alone (the guide's example)."""

from __future__ import annotations

import types
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from kpi_engine import Amount, Metric, RuleResult, RuleType, evaluate, hookimpl, load_plugins, parse_plan, schema
from tests.support.factories import add_person, add_won_deals


class FlatBonus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_deal: Amount
    metric: str = "large_deals"


def large_deals(ctx):
    d = schema.deals
    return (
        select(d.c.owner_id, func.count())
        .where(d.c.status == "won", d.c.amount >= Decimal(10000), d.c.closed_at >= ctx.start, d.c.closed_at < ctx.end)
        .group_by(d.c.owner_id)
    )


def pay_flat_bonus(ctx, config: FlatBonus):
    return [
        RuleResult(
            person,
            ctx.value(config.metric, person) * config.per_deal,
            {"inputs": {config.metric: str(ctx.value(config.metric, person))}},
        )
        for person in ctx.people
    ]


@hookimpl
def kpi_metrics():
    yield Metric(name="large_deals", description="Won deals of 10,000 or more.", unit="count", query=large_deals)


@hookimpl
def kpi_rule_types():
    yield RuleType(
        name="flat_bonus",
        description="A fixed amount per counted record.",
        config_model=FlatBonus,
        metrics=lambda cfg: {cfg.metric},
        evaluate=pay_flat_bonus,
    )


PLAN = """
id: big-deal-bonus
currency: USD
rounding: {places: 2}
rules:
  - id: bonus
    type: flat_bonus
    per_deal: 250.00
"""


def test_a_third_party_rule_type_and_metric_work_from_a_plan(store):
    registry = load_plugins(
        extra={"acme": types.SimpleNamespace(kpi_metrics=kpi_metrics, kpi_rule_types=kpi_rule_types)}
    )
    assert registry.owners[("rule type", "flat_bonus")] == "acme"
    add_person(store, "rep")
    add_won_deals(store, "rep", ["9999.99", "10000", "25000"])
    run = evaluate(store, parse_plan(PLAN, "bonus.yaml", registry=registry), "2026-10", registry=registry)
    assert [(o.person_id, o.amount) for o in run.outcomes] == [("rep", Decimal("500.00"))]


def test_a_metric_returning_floats_is_refused_by_name(store):
    import pytest
    from sqlalchemy import literal

    from kpi_engine import EvaluationError

    @hookimpl
    def kpi_metrics():
        yield Metric(
            name="large_deals",
            description="A float by mistake.",
            unit="ratio",
            query=lambda ctx: select(literal("rep"), literal(0.1)),
        )

    registry = load_plugins(
        extra={"sloppy": types.SimpleNamespace(kpi_metrics=kpi_metrics, kpi_rule_types=kpi_rule_types)}
    )
    add_person(store, "rep")
    with pytest.raises(EvaluationError, match="metric 'large_deals' returned 0.1"):
        evaluate(store, parse_plan(PLAN, "bonus.yaml", registry=registry), "2026-10", registry=registry)
