"""What the engine gives a rule: people and organisation as of the period, earlier results, other periods,
saved history, evidence rows, hand-entered scores and formulas over the plan's names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from kpi_engine import EvaluationError, evaluate, parse_period, parse_plan, schema
from tests.support.factories import add_person, add_target, add_won_deals
from tests.support.plan_toys import LOOK, PROBED, SEEN, toy_registry

OCT = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)
SEP = datetime(2026, 9, 15, 8, 0, tzinfo=UTC)


def plan(rules: str, head: str = "") -> object:
    text = f"id: ctx\ncurrency: USD\nrounding: {{places: 2}}\n{head}rules:\n{rules}"
    return parse_plan(text, "ctx.yaml", registry=toy_registry())


def run(store, rules: str, period: str = "2026-10", head: str = "", look=None):
    PROBED.clear()
    SEEN.clear()
    LOOK[:] = [look] if look else []
    return evaluate(store, plan(rules, head), period, registry=toy_registry())


def test_people_and_their_team_are_taken_as_of_the_period_from_org_assignments(store):
    add_person(store, "MOVER", team="east", manager_id=None)
    add_person(store, "STAY", team="north")
    with store.begin() as conn:
        conn.execute(
            schema.org_assignments.insert(),
            [
                {
                    "person_id": "MOVER",
                    "team_id": "east",
                    "role": "sales_rep",
                    "valid_from": date(2025, 1, 1),
                    "valid_to": date(2026, 10, 1),
                },
                {
                    "person_id": "MOVER",
                    "team_id": "north",
                    "role": "sales_rep",
                    "valid_from": date(2026, 10, 1),
                    "valid_to": None,
                },
            ],
        )
    run(store, "  - {id: p, type: probe}\n", "2026-09", head="applies_to: {teams: [east]}\n")
    assert PROBED[0].people == ["MOVER"] and PROBED[0].people_info["MOVER"].team_id == "east"
    run(store, "  - {id: p, type: probe}\n", "2026-10", head="applies_to: {teams: [north]}\n")
    ctx = PROBED[0]
    assert ctx.people == ["MOVER", "STAY"]
    assert (
        ctx.people_info["MOVER"].team_id == "north" and ctx.people_info["STAY"].team_id == "north"
    )  # STAY: from people
    assert (
        ctx.org is not None and ctx.org.team_of("MOVER", date(2026, 9, 30)) == "east"
    )  # the organisation is read once, kept in memory
    assert (ctx.plan_id, ctx.rule_id, ctx.time_zone) == ("ctx", "p", "UTC")


def test_a_team_in_scope_includes_its_sub_teams(store):
    with store.begin() as conn:
        conn.execute(
            schema.teams.insert(),
            [{"id": "sales", "name": "Sales"}, {"id": "east", "name": "East", "parent_team_id": "sales"}],
        )
        conn.execute(
            schema.team_hierarchy.insert(),
            [{"team_id": "east", "parent_team_id": "sales", "valid_from": date(2020, 1, 1)}],
        )
    add_person(store, "E1", team="east")
    run(store, "  - {id: p, type: probe}\n", head="applies_to: {teams: [sales]}\n")
    assert PROBED[0].people == ["E1"]


def test_formulas_read_aliases_derived_metrics_targets_and_earlier_rules(store):
    add_person(store, "E1")
    add_won_deals(store, "E1", ["1000", "500"])
    add_target(store, "E1", "bookings", "2026-10", "1000", challenge="2000")
    head = """metrics:
  sales: bookings
  attainment: sales / quota
targets:
  quota: {metric: bookings}
  stretch: {metric: bookings, level: challenge}
"""
    rules = """  - {id: score, type: formula_pay, kind: score, amount: "attainment * 100 / 7"}
  - {id: commission, type: formula_pay, amount: "min(sales, quota) * 5% + max(sales - quota, 0) * 8% + stretch * 0"}
  - {id: kicker, type: formula_pay, amount: "commission * 10%"}
"""
    result = run(store, rules, head=head)
    by_rule = {o.rule_id: o for o in result.outcomes}
    assert by_rule["commission"].amount == Decimal("90.00") and by_rule["commission"].currency == "USD"
    assert by_rule["kicker"].amount == Decimal("9.00")
    score = by_rule["score"]
    assert score.kind == "score" and score.currency is None  # not money: no currency, no money rounding
    assert score.amount == Decimal("21.4286") and score.trace["exact_amount"].startswith("21.428571")


def test_a_target_prorated_to_days_employed_says_so(store):
    add_person(store, "NEW", hire_date=date(2026, 10, 22))  # 10 of 31 days
    add_won_deals(store, "NEW", ["310"])
    add_target(store, "NEW", "bookings", "2026-10", "3100")
    head = "targets:\n  quota: {metric: bookings, prorate: days_employed}\n"
    result = run(store, '  - {id: c, type: formula_pay, amount: "quota"}\n', head=head)
    [line] = result.outcomes
    assert line.amount == Decimal("1000.00")
    assert (
        "prorated to the 10 of 31 days employed" in line.trace["proration"]
        and "3100 × 10/31 = 1000.00" in line.trace["proration"]
    )


def test_values_of_other_periods_and_earlier_periods_in_formulas(store):
    add_person(store, "E1")
    add_won_deals(store, "E1", ["700"], closed_at=SEP)
    add_won_deals(store, "E1", ["100"])

    def look(ctx):
        return (
            ctx.values_in("bookings", parse_period("2026-09")),
            ctx.values_in("bookings", parse_period("2026-Q3")),
            ctx.values["bookings"],
        )

    result = run(
        store,
        '  - {id: p, type: probe}\n  - {id: c, type: formula_pay, amount: "bookings - bookings[-1]"}\n',
        look=look,
    )
    assert SEEN[0] == ({"E1": Decimal("700.0000")}, {"E1": Decimal("700.0000")}, {"E1": Decimal("100.0000")})
    assert result.outcomes[-1].amount == Decimal("-600.00")


def test_history_is_this_plans_saved_outcomes_and_an_unevaluated_period_says_which_to_run_first(store):
    add_person(store, "E1")
    add_won_deals(store, "E1", ["100"], closed_at=datetime(2026, 8, 10, tzinfo=UTC))
    head = "effective: {from: 2026-08-01}\n"
    rules = '  - {id: running, type: formula_pay, amount: "running[-1] + bookings"}\n'
    first = run(store, rules, "2026-08", head=head)  # before the plan began: nothing carried
    assert first.outcomes[0].amount == Decimal("100.00")
    with pytest.raises(EvaluationError) as err:
        run(store, rules, "2026-10", head=head)
    assert "2026-09 has not been evaluated" in err.value.message and "--period 2026-09" in (err.value.hint or "")
    run(store, rules, "2026-09", head=head)
    third = run(store, rules, "2026-10", head=head)
    assert third.outcomes[0].amount == Decimal("100.00")

    def look(ctx):
        return [r.amount for r in ctx.history("running", parse_period("2026-10"))]

    run(
        store,
        '  - {id: running, type: formula_pay, amount: "0"}\n  - {id: p, type: probe}\n',
        "2026-11",
        head=head,
        look=look,
    )
    assert SEEN == [[Decimal("100.00")]]


def test_record_details_carry_every_column_of_the_evidence(store):
    add_person(store, "E1")
    ids = add_won_deals(store, "E1", ["100", "250"])
    run(
        store,
        "  - {id: p, type: probe}\n",
        look=lambda ctx: (ctx.record_details("bookings")["E1"], ctx.records("bookings")["E1"]),
    )
    rows, pairs = SEEN[0]
    assert [r["record_id"] for r in rows] == ids and [r["value"] for r in rows] == [
        Decimal("100.0000"),
        Decimal("250.0000"),
    ]
    assert pairs == [(ids[0], Decimal("100.0000")), (ids[1], Decimal("250.0000"))]


def test_a_month_reads_its_quarters_hand_entered_score(store):
    add_person(store, "E1")
    with store.begin() as conn:
        conn.execute(
            schema.manual_scores.insert(),
            [
                {"person_id": "E1", "metric": "manager_review", "period": "2026-Q4", "score": Decimal("4.5")},
                {"person_id": "E1", "metric": "report_quality", "period": "2026-10", "score": Decimal(3)},
            ],
        )
    run(
        store,
        "  - {id: p, type: probe}\n",
        look=lambda ctx: [ctx.manual_scores(k) for k in ("manager_review", "report_quality", "nothing")],
    )
    assert SEEN[0] == [{"E1": Decimal("4.500000")}, {"E1": Decimal("3.000000")}, {}]
