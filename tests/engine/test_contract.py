"""The typed contract between the engine and its plugins: a line's status is data, a missing period is a typed
error that ``evaluate_through`` answers, findings are built with keywords, traces are read by attribute."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel, ConfigDict

from kpi_engine import (
    Finding,
    FormulaText,
    PeriodsNotEvaluated,
    RuleContext,
    RuleResult,
    RuleType,
    TraceView,
    evaluate,
    evaluate_through,
    get_run,
    hookimpl,
    list_runs,
    load_plugins,
    parse_plan,
)
from kpi_engine.cli.summaries import plan_summary
from tests.support.factories import add_person, add_won_deals


class Notice(BaseModel):
    """A toy recommendation: asks for attention when ``when`` holds, in words of its own."""

    model_config = ConfigDict(extra="forbid")

    when: FormulaText


def notice(ctx: RuleContext, config: Notice) -> list[RuleResult]:
    assert ctx.formula is not None
    out = []
    for person in ctx.people:
        act = bool(ctx.formula(config.when, person))
        word = "have a word" if act else "all quiet"  # words no command knows
        out.append(RuleResult(person, None, {"explanation": word}, kind="recommendation", status=word, attention=act))
    return out


class Running(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: FormulaText


def running(ctx: RuleContext, config: Running) -> list[RuleResult]:
    assert ctx.formula is not None
    return [RuleResult(p, Decimal(ctx.formula(config.amount, p)), {"explanation": "running"}) for p in ctx.people]


class Toys:
    @hookimpl
    def kpi_rule_types(self) -> list[RuleType]:
        return [
            RuleType(name="notice", description="Toy.", config_model=Notice, metrics=lambda _c: set(), evaluate=notice),
            RuleType(
                name="running", description="Toy.", config_model=Running, metrics=lambda _c: set(), evaluate=running
            ),
        ]


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"contract_toys": Toys()})


def plan(registry, rules: str, head: str = ""):
    text = f"id: toy\ncurrency: USD\nrounding: {{places: 2}}\n{head}rules:\n{rules}"
    return parse_plan(text, "toy.yaml", registry=registry)


def test_a_line_says_whether_it_asks_for_attention_and_the_summary_reads_that_not_the_plugins_words(store, registry):
    add_person(store, "E1")
    add_person(store, "E2")
    add_won_deals(store, "E1", ["500"])
    rules = '  - {id: n, type: notice, when: "bookings > 100"}\n'
    saved = get_run(store, evaluate(store, plan(registry, rules), "2026-10", registry=registry).id)
    lines = {o.person_id: (o.status, o.attention) for o in saved.outcomes}
    assert lines == {"E1": ("have a word", True), "E2": ("all quiet", False)}
    assert "1 recommendation(s) for HR review raised or firing (E1)" in plan_summary(saved)


def test_a_missing_earlier_period_is_a_typed_error_naming_the_first_one_to_evaluate(store, registry):
    add_person(store, "E1")
    rules = '  - {id: total, type: running, amount: "total[-1] + 1"}\n'
    loaded = plan(registry, rules, "effective: {from: 2026-08-01}\n")
    with pytest.raises(PeriodsNotEvaluated) as err:
        evaluate(store, loaded, "2026-10", registry=registry)
    assert (err.value.plan_id, err.value.rule) == ("toy", "total")
    assert (err.value.needed.label, err.value.first_missing.label) == ("2026-09", "2026-08")
    assert list_runs(store) == []  # nothing half-saved


def test_evaluate_through_evaluates_the_missing_periods_in_order_then_the_one_asked(store, registry):
    add_person(store, "E1")
    rules = '  - {id: total, type: running, amount: "total[-1] + 1"}\n'
    loaded = plan(registry, rules, "effective: {from: 2026-08-01}\n")
    run = evaluate_through(store, loaded, "2026-11", registry=registry)
    assert (run.period, run.outcomes[0].amount) == ("2026-11", Decimal("4.00"))
    assert sorted(r.period for r in list_runs(store)) == ["2026-08", "2026-09", "2026-10", "2026-11"]


def test_evaluate_through_since_evaluates_every_period_again_in_order(store, registry):
    add_person(store, "E1")
    add_won_deals(store, "E1", ["10"], closed_at=datetime(2026, 9, 3, tzinfo=UTC))
    rules = '  - {id: pay, type: running, amount: "bookings"}\n'
    loaded = plan(registry, rules)
    evaluate_through(store, loaded, "2026-10", since="2026-07", registry=registry)
    assert sorted(r.period for r in list_runs(store)) == ["2026-07", "2026-08", "2026-09", "2026-10"]


def test_a_finding_is_built_with_keywords_only():
    with pytest.raises(TypeError):
        Finding("split", "E1", "2026-10", "high", "why", {"deals": (1,)})  # type: ignore[misc]
    found = Finding(check="split", person_id="E1", period="2026-10", severity="high", explanation="why", evidence={})
    assert found.as_result().attention is True


def test_a_trace_is_read_by_attribute_whatever_shape_it_was_saved_in():
    view = TraceView({"explanation": "One sentence.", "records": {"table": "deals", "ids": [3, 1]}, "skipped": None})
    assert view.explanation == ["One sentence."] and view.records == [{"table": "deals", "ids": [3, 1]}]
    assert view.skipped is None and view.held is None and view.inputs == {} and view.effect == "flag"
    listed = TraceView({"records": [{"table": "deals", "ids": [1]}, {"table": "refunds", "ids": [2]}]})
    assert [r["table"] for r in listed.records] == ["deals", "refunds"]
