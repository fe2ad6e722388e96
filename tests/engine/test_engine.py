"""Evaluation runs: scoped people, time zones, replaceable open periods, identical results everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from kpi_engine import EvaluationError, evaluate, get_run, list_runs, load_plan, schema
from tests.support.factories import add_person, add_target, add_won_deals

EXAMPLE = Path(__file__).parents[2] / "rules" / "sales-commission.yaml"
SHANGHAI_MONTH_END = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)  # 23:30 on 31 October in Shanghai
SHANGHAI_NEXT_MONTH = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 November in Shanghai


def _company(store) -> None:
    add_person(store, "E1", team="east")
    add_person(store, "E2", team="east")
    add_person(store, "M1", role="marketing_specialist", team="mkt")
    add_person(store, "GONE", team="east", leave_date=date(2026, 9, 15))
    add_person(store, "NEW", team="east", hire_date=date(2026, 11, 3))
    add_won_deals(store, "E1", ["60000.00", "52000.50"], currency="CNY")
    add_won_deals(store, "E1", ["10000"], closed_at=SHANGHAI_MONTH_END, currency="CNY")
    add_won_deals(store, "E1", ["99999"], closed_at=SHANGHAI_NEXT_MONTH, currency="CNY")
    add_won_deals(store, "E2", ["40000"], currency="CNY")
    for person, target in (("E1", "100000"), ("E2", "80000")):
        add_target(store, person, "bookings", "2026-10", target, challenge=str(Decimal(target) * Decimal("1.5")))


def test_example_plan_pays_reps_in_scope_in_the_plans_time_zone(store):
    _company(store)
    run = evaluate(store, load_plan(EXAMPLE), "2026-10")
    by_person = {o.person_id: o for o in run.outcomes if o.rule_id == "commission"}
    assert {o.person_id for o in run.outcomes} == {"E1", "E2"}  # marketing, leaver and future hire are out of scope
    e1 = by_person["E1"]
    assert Decimal(e1.trace["inputs"]["bookings"]) == Decimal("122000.50")  # 23:30 Shanghai counts, 00:30 does not
    # 100,000 x 5% + 22,000.50 x 8% = 5,000 + 1,760.04
    assert e1.amount == Decimal("6760.04")
    assert by_person["E2"].amount == Decimal("2000.00")
    assert len(e1.trace["records"]["ids"]) == 3


def test_re_evaluating_an_open_period_with_the_same_data_replaces_the_run_identically(store):
    _company(store)
    first = evaluate(store, load_plan(EXAMPLE), "2026-10")
    second = evaluate(store, load_plan(EXAMPLE), "2026-10")
    assert first.id == second.id
    assert [o.as_dict() for o in first.outcomes] == [o.as_dict() for o in second.outcomes]
    assert [r.id for r in list_runs(store)] == [first.id]
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.outcomes)).scalar() == len(first.outcomes)
    assert [o.as_dict() for o in get_run(store).outcomes] == [o.as_dict() for o in first.outcomes]


def test_new_data_gives_a_new_run_that_replaces_the_old_one(store):
    _company(store)
    first = evaluate(store, load_plan(EXAMPLE), "2026-10")
    add_won_deals(store, "E2", ["1000"], currency="CNY")
    second = evaluate(store, load_plan(EXAMPLE), "2026-10")
    assert first.id != second.id and first.data_watermark != second.data_watermark
    assert [r.id for r in list_runs(store)] == [second.id]


def test_a_closed_period_never_changes(store):
    _company(store)
    run = evaluate(store, load_plan(EXAMPLE), "2026-10")
    with store.begin() as conn:
        conn.execute(update(schema.evaluation_runs).values(status="closed"))
    with pytest.raises(EvaluationError, match="closed"):
        evaluate(store, load_plan(EXAMPLE), "2026-10")
    assert get_run(store, run.id).outcomes == run.outcomes


def test_a_plan_out_of_force_is_refused(store):
    _company(store)
    with pytest.raises(EvaluationError, match="not in force"):
        evaluate(store, load_plan(EXAMPLE), "2025-12")


def test_a_person_without_a_target_is_listed_with_the_reason(store):
    _company(store)
    add_person(store, "E3", team="east")
    run = evaluate(store, load_plan(EXAMPLE), "2026-10")
    e3 = next(o for o in run.outcomes if o.person_id == "E3")
    assert e3.amount is None and "no bookings target" in e3.trace["skipped"]


def test_unknown_run_is_a_clear_error(store):
    with pytest.raises(EvaluationError, match="no evaluation has been run"):
        get_run(store)
    with pytest.raises(EvaluationError, match="no evaluation run 'nope'"):
        get_run(store, "nope")


@pytest.mark.postgres
def test_the_same_evaluation_gives_identical_outcomes_on_sqlite_and_postgresql(sqlite_store, postgres_store):
    results = []
    for backend in (sqlite_store, postgres_store):
        _company(backend)
        run = evaluate(backend, load_plan(EXAMPLE), "2026-10")
        results.append((run.id, run.data_watermark, [o.as_dict() for o in run.outcomes]))
    assert results[0] == results[1]


@pytest.mark.postgres
def test_the_sample_company_evaluates_identically_on_sqlite_and_postgresql(sqlite_store, postgres_store):
    from kpi_engine.sample import generate_sample_company

    results = []
    for backend in (sqlite_store, postgres_store):
        with backend.begin() as conn:
            generate_sample_company(conn, end_month="2026-10")
        run = evaluate(backend, load_plan(EXAMPLE), "2026-10")
        results.append((run.id, [o.as_dict() for o in run.outcomes]))
    assert results[0][1] and results[0] == results[1]
    assert sum(1 for o in results[0][1] if o["amount"] not in (None, "0.00")) >= 10


def test_a_changed_target_with_the_same_row_count_gives_a_new_run(store):
    _company(store)
    first = evaluate(store, load_plan(EXAMPLE), "2026-10")
    with store.begin() as conn:
        conn.execute(update(schema.targets).where(schema.targets.c.subject_id == "E2").values(target=Decimal(50000)))
    second = evaluate(store, load_plan(EXAMPLE), "2026-10")
    assert second.id != first.id
    assert [r.id for r in list_runs(store)] == [second.id]


def test_the_data_watermark_covers_the_tables_the_plan_read_and_no_others(store):
    """A new activity changes nothing the commission plan reads, so its run keeps its id; a new deal does not."""
    _company(store)
    first = evaluate(store, load_plan(EXAMPLE), "2026-10")
    with store.begin() as conn:
        conn.execute(
            schema.activities.insert().values(
                source="manual",
                remote_id="A1",
                kind="visit",
                owner_id="E1",
                occurred_at=datetime(2026, 10, 5, 2, 0, tzinfo=UTC),
            )
        )
    second = evaluate(store, load_plan(EXAMPLE), "2026-10")
    assert (second.id, second.data_watermark) == (first.id, first.data_watermark)
    add_won_deals(store, "E2", ["1000"], currency="CNY")
    assert evaluate(store, load_plan(EXAMPLE), "2026-10").data_watermark != first.data_watermark


def test_the_garbage_collector_is_paused_only_while_rules_run(store):
    import gc

    from kpi_engine.engine.collector import collector_paused

    _company(store)
    seen = []
    with collector_paused():
        seen.append(gc.isenabled())
        with collector_paused():  # nested runs share the pause
            seen.append(gc.isenabled())
        seen.append(gc.isenabled())
    evaluate(store, load_plan(EXAMPLE), "2026-10")
    assert seen == [False, False, False] and gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a rule failed")
    assert gc.isenabled()


RULES = Path(__file__).parents[2] / "rules"


def _statements(store) -> list[str]:
    from sqlalchemy import event

    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_plans_evaluated_together_save_the_runs_each_would_save_alone(store):
    from kpi_engine import evaluate_plans

    _company(store)
    plans = [
        load_plan(RULES / "sales-commission.yaml"),
        load_plan(RULES / "scorecard-sales-rep.yaml"),
        load_plan(RULES / "sales-bonuses.yaml"),
    ]
    alone = [evaluate(store, plan, "2026-10") for plan in plans]
    together = evaluate_plans(store, plans, "2026-10")
    assert [(r.id, r.data_watermark) for r in together] == [(r.id, r.data_watermark) for r in alone]
    assert [[o.as_dict() for o in r.outcomes] for r in together] == [[o.as_dict() for o in r.outcomes] for r in alone]
    assert sorted(r.id for r in list_runs(store)) == sorted(r.id for r in together)


def test_plans_evaluated_together_read_a_shared_metric_once(store):
    from kpi_engine import evaluate_plans

    _company(store)
    plans = [
        load_plan(RULES / "sales-commission.yaml"),
        load_plan(RULES / "scorecard-sales-rep.yaml"),
        load_plan(RULES / "sales-bonuses.yaml"),
    ]
    seen = _statements(store)
    for plan in plans:
        evaluate(store, plan, "2026-10")
    alone, seen[:] = len(seen), []
    evaluate_plans(store, plans, "2026-10")
    bookings = [q for q in seen if "deal_splits.share" in q and "GROUP BY" in q]  # the bookings metric's query
    rows = [q for q in seen if "deal_splits.share" in q and "GROUP BY" not in q]  # its evidence: each deal's credit
    # The commission reads the deals behind bookings first; they add up to everyone's bookings, which the
    # scorecard and the bonuses then read without another query.
    assert (len(bookings), len(rows)) == (0, 1) and len(seen) < alone


def test_a_value_added_up_from_its_evidence_is_the_value_the_database_gives(sample_company_store):
    from kpi_engine import get_registry
    from kpi_engine.engine.facts import StoreFacts
    from kpi_engine.periods import parse_period

    store, _ = sample_company_store(seed=2026)
    registry = get_registry()
    loaded = load_plan(EXAMPLE)
    added_up = [name for name, metric in registry.metrics.items() if metric.evidence_adds_up]
    assert {"bookings", "won_deals", "visits"} <= set(added_up)
    with store.connect() as conn:
        for month in ("2026-03", "2026-07"):
            period = parse_period(month)
            for name in added_up:
                from_rows = StoreFacts(conn, loaded, registry)
                from_rows.evidence(name, period)
                by_query = StoreFacts(conn, loaded, registry).values(name, period)
                assert from_rows.values(name, period) == by_query, (name, month)


def test_when_one_plan_cannot_be_evaluated_no_run_of_the_others_is_saved(store):
    from kpi_engine import evaluate_plans

    _company(store)
    with pytest.raises(EvaluationError, match="has not been evaluated"):  # the PIP plan needs its earlier months first
        evaluate_plans(store, [load_plan(RULES / "sales-commission.yaml"), load_plan(RULES / "pip.yaml")], "2026-10")
    assert list_runs(store) == []
    with pytest.raises(EvaluationError, match="given twice"):
        evaluate_plans(store, [EXAMPLE, EXAMPLE], "2026-10")
