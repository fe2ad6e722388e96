"""The pay cycle: a period is calculated, approved by someone else, closed once, and paid once.

A toy plan pays 10 % of bookings per month (a toy check holds a month with a deal of 100,000 or more);
``ops.li`` evaluates, ``fin.wang`` approves and closes. Facts change the way imports and syncs change
them (``upsert_records``), so the ledger sees late facts as they would arrive from a CRM.
"""

from __future__ import annotations

import json
import types
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from kpi_engine import (
    DealRecord,
    EvaluationError,
    PayCycleError,
    evaluate,
    get_run,
    hookimpl,
    list_runs,
    load_plugins,
    parse_plan,
    schema,
    upsert_records,
)
from kpi_engine.engine.whatif import whatif
from kpi_engine.findings.store import list_findings, review_finding
from kpi_engine.ledger.adjustments import decide_adjustment, list_adjustments, request_adjustment
from kpi_engine.ledger.entries import balances, ledger_entries
from kpi_engine.ledger.lifecycle import approve_period, close_period, period_states, reopen_period
from kpi_engine.periods import parse_period
from kpi_engine.store.audit import audit_trail
from tests.support.factories import add_person
from tests.support.findings_toys import BIG_DEALS

OPS, FIN = "ops.li", "fin.wang"


@hookimpl
def kpi_rule_types():
    yield BIG_DEALS


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"toy-checks": types.SimpleNamespace(kpi_rule_types=kpi_rule_types)})


def plan(registry, *, policy: str = "post", check: bool = False, version: str = "1", clawback: str = ""):
    checks = "  - {id: big, type: big_deals, at_least: 100000, effect: hold, affects: [commission]}\n" if check else ""
    if clawback:
        checks += f"  - {{id: clawback, type: clawback, commission_rule: commission, {clawback}}}\n"
    text = f"""
id: pay
version: "{version}"
currency: USD
time_zone: UTC
rounding: {{places: 2}}
pay_cycle: {{prior_period_adjustments: {policy}}}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    tiers: [{{from: 0, rate: 10%}}]
{checks}"""
    return parse_plan(text, "pay.yaml", registry=registry)


def deal(remote: str, amount: str, day: datetime, owner: str = "E1") -> DealRecord:
    return DealRecord(remote_id=remote, owner_id=owner, status="won", amount=amount, currency="USD", closed_at=day)


def load(store, *records: DealRecord) -> None:
    with store.begin() as conn:
        upsert_records(conn, "deals", "crm", list(records))


def day(month: int, d: int = 15) -> datetime:
    return datetime(2026, month, d, 8, 0, tzinfo=UTC)


def cycle(store, loaded, period: str, registry) -> None:
    """Evaluate as ops, approve and close as finance."""
    evaluate(store, loaded, period, registry=registry, by=OPS)
    approve_period(store, "pay", period, FIN)
    close_period(store, "pay", period, FIN)


def saved_lines(store, period: str) -> str:
    """A period's run and every line of it as text, to compare byte for byte."""
    run = next(r for r in list_runs(store) if r.plan_id == "pay" and r.period == period)
    full = get_run(store, run.id)
    return json.dumps([run.id, run.data_watermark, [o.as_dict() for o in full.outcomes]], sort_keys=True, default=str)


def payable(store, person: str = "E1") -> Decimal:
    [balance] = [b for b in balances(ledger_entries(store, person_id=person)) if b.currency == "USD"]
    return balance.payable


@pytest.fixture
def company(store):
    add_person(store, "E1")
    add_person(store, "E2")
    return store


def test_approving_ones_own_evaluation_is_refused_and_someone_else_approves(company, registry):
    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)))
    evaluate(company, loaded, "2026-10", registry=registry, by=OPS)
    with pytest.raises(PayCycleError, match="four eyes"):
        approve_period(company, "pay", "2026-10", OPS)
    [state] = approve_period(company, "pay", "2026-10", FIN)
    assert (state.status, state.evaluated_by, state.approved_by) == ("approved", OPS, FIN)


def test_closing_needs_an_approval_and_a_new_evaluation_takes_the_approval_back(company, registry):
    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)))
    evaluate(company, loaded, "2026-10", registry=registry, by=OPS)
    with pytest.raises(PayCycleError, match="only an approved period is closed"):
        close_period(company, "pay", "2026-10", FIN)
    approve_period(company, "pay", "2026-10", FIN)
    evaluate(company, loaded, "2026-10", registry=registry, by=OPS)  # the numbers approved are no longer these
    [state] = period_states(company, plan_id="pay")
    assert state.status == "calculated" and state.approved_by is None


def test_a_closed_period_is_posted_once_and_never_evaluated_again_under_any_label(company, registry):
    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)))
    cycle(company, loaded, "2026-10", registry)
    before = saved_lines(company, "2026-10")
    assert [(e.kind, e.amount, e.period_posted) for e in ledger_entries(company)] == [
        ("earning", Decimal("1000.0000"), "2026-10")
    ]
    for label in ("2026-10", "2026-10-01..2026-10-31", "2026-10-31", "2026-Q4"):  # by its days, not its label
        with pytest.raises(EvaluationError, match="closed"):
            evaluate(company, plan(registry, version="2"), label, registry=registry, by=OPS)
    with pytest.raises(PayCycleError):
        close_period(company, "pay", "2026-10", FIN)
    assert saved_lines(company, "2026-10") == before
    assert len(ledger_entries(company)) == 1


def test_a_monthly_plan_asked_for_a_quarter_names_the_months_to_evaluate(company, registry):
    with pytest.raises(EvaluationError) as err:
        evaluate(company, plan(registry), "2026-Q3", registry=registry, by=OPS)
    assert "2026-07, 2026-08, 2026-09" in (err.value.hint or "")


def test_a_late_correction_of_a_paid_month_is_paid_in_the_open_month_and_the_paid_month_stays(company, registry):
    # Was: a refund added later and re-running October cut an already-paid 7,665.37 to 6,499.02.
    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)), deal("D2", "3000", day(11, 5)))
    cycle(company, loaded, "2026-10", registry)
    october = saved_lines(company, "2026-10")
    load(company, deal("D1", "8000", day(10)))  # the CRM corrects October's deal after October was paid
    november = evaluate(company, loaded, "2026-11", registry=registry, by=OPS)
    [adjustment] = [o for o in november.outcomes if o.ledger_kind == "adjustment"]
    note = adjustment.trace["prior_period"]
    assert (adjustment.person_id, adjustment.amount) == ("E1", Decimal("-200.00"))
    assert (note["period"], note["paid"], note["now"]) == ("2026-10", "1000.00", "800.00")
    assert note["changes"][0]["table"] == "deals" and note["records"] == [{"table": "deals", "ids": [1]}]
    assert "2026-10" in adjustment.trace["explanation"][0]
    approve_period(company, "pay", "2026-11", FIN)
    close_period(company, "pay", "2026-11", FIN)
    assert saved_lines(company, "2026-10") == october  # the paid month, byte for byte
    assert payable(company) == Decimal("1100.0000")  # 1,000 paid in October, 300 earned and -200 in November
    evaluate(company, loaded, "2026-12", registry=registry, by=OPS)  # nothing left to adjust: paid once
    assert not [o for o in get_run(company).outcomes if o.ledger_kind == "adjustment"]


def _lose(store, remote: str, amount: str, closed: datetime, lost: datetime) -> None:
    """The CRM moves a won deal to a lost stage (as a sync writes it)."""
    with store.begin() as conn:
        upsert_records(
            conn,
            "deals",
            "crm",
            [
                DealRecord(
                    remote_id=remote,
                    owner_id="E1",
                    status="lost",
                    amount=amount,
                    currency="USD",
                    closed_at=closed,
                    modified_at=lost,
                )
            ],
        )


def test_a_deal_lost_after_its_month_was_paid_is_taken_back_once_by_the_plans_clawback(company, registry):
    # Was: the clawback rule took the commission back, and the prior-period adjustment of the paid month too.
    loaded = plan(registry, clawback="within_days: 365, events: [deal_lost]")
    load(company, deal("D1", "10000", day(10)), deal("D2", "3000", day(10, 20)))
    cycle(company, loaded, "2026-10", registry)
    _lose(company, "D1", "10000", day(10), day(11, 3))
    cycle(company, loaded, "2026-11", registry)
    november = [(e.kind, e.rule_id, e.amount) for e in ledger_entries(company) if e.period_posted == "2026-11"]
    assert november == [("clawback", "clawback", Decimal("-1000.0000"))]
    assert payable(company) == Decimal("300.0000")


def test_without_a_clawback_rule_the_lost_deal_is_a_prior_period_adjustment(company, registry):
    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)), deal("D2", "3000", day(10, 20)))
    cycle(company, loaded, "2026-10", registry)
    _lose(company, "D1", "10000", day(10), day(11, 3))
    cycle(company, loaded, "2026-11", registry)
    november = [(e.kind, e.corrects, e.amount) for e in ledger_entries(company) if e.period_posted == "2026-11"]
    assert november == [("adjustment", "2026-10", Decimal("-1000.0000"))]
    assert payable(company) == Decimal("300.0000")


def test_a_plan_that_reviews_adjustments_lists_them_and_approval_posts_them_once(company, registry):
    loaded = plan(registry, policy="review")
    load(company, deal("D1", "10000", day(10)))
    cycle(company, loaded, "2026-10", registry)
    load(company, deal("D1", "9000", day(10)))
    run = evaluate(company, loaded, "2026-11", registry=registry, by=OPS)
    assert not [o for o in run.outcomes if o.ledger_kind == "adjustment"]
    [proposal] = list_adjustments(company, status="pending")
    assert (proposal.origin, proposal.amount, proposal.corrects, proposal.period) == (
        "prior_period",
        Decimal("-100.0000"),
        "2026-10",
        "2026-11",
    )
    evaluate(company, loaded, "2026-11", registry=registry, by=OPS)  # evaluated again: the same proposal, once
    assert len(list_adjustments(company)) == 1
    with pytest.raises(PayCycleError, match="four eyes"):
        decide_adjustment(company, proposal.id, approve=True, by=OPS)
    decide_adjustment(company, proposal.id, approve=True, by=FIN)
    assert payable(company) == Decimal("900.0000")


def test_a_released_hold_is_paid_in_one_period_whatever_order_periods_are_evaluated_in(company, registry):
    # Was: after a release, evaluating 2026-11, then 2026-10, then 2026-09 left the release line in all three runs.
    loaded = plan(registry, check=True)
    load(company, deal("D1", "120000", day(8)), deal("D2", "1000", day(9)), deal("D3", "1000", day(10)))
    cycle(company, loaded, "2026-07", registry)
    evaluate(company, loaded, "2026-08", registry=registry, by=OPS)  # held: a deal of 120,000
    approve_period(company, "pay", "2026-08", FIN)
    close_period(company, "pay", "2026-08", FIN)
    [finding] = list_findings(company)
    review_finding(company, finding.id, "release", "Genuine order, checked with the customer.", "hr.zhao")
    runs = {p: evaluate(company, loaded, p, registry=registry, by=OPS) for p in ("2026-11", "2026-10", "2026-09")}
    released = {p: [o.amount for o in r.outcomes if o.ledger_kind == "release"] for p, r in runs.items()}
    assert released == {"2026-11": [], "2026-10": [], "2026-09": [Decimal("12000.00")]}
    for label in ("2026-09", "2026-10", "2026-11"):
        approve_period(company, "pay", label, FIN)
        close_period(company, "pay", label, FIN)
    assert [e.amount for e in ledger_entries(company, kinds=frozenset({"release"}))] == [Decimal("12000.0000")]


def test_a_run_computed_before_another_period_posted_the_same_correction_is_refused_at_close(company, registry):
    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)))
    cycle(company, loaded, "2026-10", registry)
    load(company, deal("D1", "7000", day(10)))
    for label in ("2026-11", "2026-12"):  # both open months see October's correction
        evaluate(company, loaded, label, registry=registry, by=OPS)
        approve_period(company, "pay", label, FIN)
    close_period(company, "pay", "2026-11", FIN)
    with pytest.raises(PayCycleError, match="evaluate pay for 2026-12 again"):
        close_period(company, "pay", "2026-12", FIN)
    december = evaluate(company, loaded, "2026-12", registry=registry, by=OPS)
    assert not [o for o in december.outcomes if o.ledger_kind == "adjustment"]
    approve_period(company, "pay", "2026-12", FIN)
    close_period(company, "pay", "2026-12", FIN)
    assert [e.amount for e in ledger_entries(company, kinds=frozenset({"adjustment"}))] == [Decimal("-300.0000")]


def test_reopening_needs_a_reason_is_refused_once_paid_and_closing_again_posts_only_the_difference(
    company, registry, tmp_path
):
    from kpi_engine.ledger.payroll import export_payroll

    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)))
    cycle(company, loaded, "2026-10", registry)
    with pytest.raises(PayCycleError, match="why"):
        reopen_period(company, "pay", "2026-10", FIN, " ")
    reopen_period(company, "pay", "2026-10", FIN, "D1 was booked at the wrong amount before payroll ran.")
    load(company, deal("D1", "11000", day(10)))
    cycle(company, loaded, "2026-10", registry)
    entries = ledger_entries(company)
    assert [(e.entry_key.endswith("#r1"), e.amount) for e in entries] == [
        (False, Decimal("1000.0000")),
        (True, Decimal("100.0000")),
    ]
    export_payroll(company, "2026-10", tmp_path / "october.csv", by=FIN)
    with pytest.raises(PayCycleError, match="exported to payroll"):
        reopen_period(company, "pay", "2026-10", FIN, "Again.")


def test_a_manual_adjustment_is_approved_by_someone_else_and_paid_in_its_period(company, registry, tmp_path):
    from kpi_engine.ledger.payroll import export_payroll

    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)))
    evaluate(company, loaded, "2026-10", registry=registry, by=OPS)
    made = request_adjustment(
        company,
        person_id="E2",
        amount=Decimal("2000"),
        currency="USD",
        reason="Relocation bonus",
        period="2026-10",
        by=OPS,
    )
    approve_period(company, "pay", "2026-10", FIN)
    close_period(company, "pay", "2026-10", FIN)
    with pytest.raises(PayCycleError, match="await a decision"):
        export_payroll(company, "2026-10", tmp_path / "october.csv", by=FIN)
    with pytest.raises(PayCycleError, match="four eyes"):
        decide_adjustment(company, made.id, approve=True, by=OPS)
    decide_adjustment(company, made.id, approve=True, by=FIN)
    payroll = export_payroll(company, "2026-10", tmp_path / "october.csv", by=FIN)
    assert payroll.person_totals == {("E1", "USD"): Decimal("1000.0000"), ("E2", "USD"): Decimal("2000.0000")}


def test_whatif_never_touches_real_runs_the_period_states_or_the_ledger(company, registry):
    # Was: evaluating a draft copy of a plan (same id, new version) for 2026-09 replaced the real run of 2026-09.
    loaded = plan(registry)
    load(company, deal("D1", "10000", day(9)), deal("D2", "20000", day(10)))
    cycle(company, loaded, "2026-09", registry)
    evaluate(company, loaded, "2026-10", registry=registry, by=OPS)
    before = (saved_lines(company, "2026-09"), saved_lines(company, "2026-10"), period_states(company))
    entries = ledger_entries(company)
    draft_text = """
id: pay
version: "2-draft"
currency: USD
time_zone: UTC
rounding: {places: 2}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    tiers: [{from: 0, to: 15000, rate: 10%}, {from: 15000, rate: 12%}]
"""
    draft = parse_plan(draft_text, "draft.yaml", registry=registry)
    result = whatif(company, draft, [parse_period("2026-09"), parse_period("2026-10")], registry=registry)
    [line] = result.lines
    assert (line.current, line.draft) == (Decimal("3000.00"), Decimal("3100.00"))
    assert sorted(result.current_from) == ["2026-09", "2026-10"]
    assert all(how.startswith("saved run") for how in result.current_from.values())
    assert (saved_lines(company, "2026-09"), saved_lines(company, "2026-10"), period_states(company)) == before
    assert ledger_entries(company) == entries


def test_the_audit_trail_lists_every_action_with_who_and_why(company, registry):
    loaded = plan(registry)
    load(company, deal("D1", "10000", day(10)))
    cycle(company, loaded, "2026-10", registry)
    reopen_period(company, "pay", "2026-10", FIN, "Wrong deal amount.")
    trail = [(e.action, e.actor, e.period, e.reason) for e in audit_trail(company)]
    assert trail == [
        ("evaluate", OPS, "2026-10", None),
        ("approve", FIN, "2026-10", None),
        ("close", FIN, "2026-10", None),
        ("reopen", FIN, "2026-10", "Wrong deal amount."),
    ]
    with company.connect() as conn:
        runs = conn.execute(select(schema.evaluation_runs.c.evaluated_by)).scalars().all()
    assert runs == [OPS]
