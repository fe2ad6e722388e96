"""Statements (销售人员提成单) add up what the ledger pays: every total is ``kpi ledger``'s to the cent, lines of
plans not yet closed are shown apart and never added, and each line carries its reason and records."""

from __future__ import annotations

from decimal import Decimal

from kpi_engine import balances, ledger_entries
from kpi_engine.reports import load_period_data, statements_for
from tests.reports.conftest import CLOSED, OPEN, ledger_payable


def test_every_statement_of_a_closed_month_totals_the_ledger_to_the_cent(paid_year):
    store, _ = paid_year

    data, statements = statements_for(store, CLOSED)

    paid_people = {e.person_id for e in ledger_entries(store, period=CLOSED)}
    assert {s.person.id for s in statements} == paid_people and len(statements) > 20
    for statement in statements:
        expected = ledger_payable(store, statement.person.id, CLOSED)
        assert {c: statement.total(c) for c in expected} == expected
        assert sum((line.amount for line in statement.lines if line.paid), Decimal(0)) == statement.total()
        assert statement.calculated == () and not statement.provisional
    grand = sum((b.payable for b in balances(ledger_entries(store, period=CLOSED))), Decimal(0))
    assert sum((s.total() for s in statements), Decimal(0)) == grand


def test_an_open_month_shows_its_calculated_lines_apart_from_the_ledger_total(paid_year):
    store, _ = paid_year

    data, statements = statements_for(store, OPEN)

    assert all(s.provisional for s in statements if s.calculated)
    for statement in statements:
        assert {c: statement.total(c) for c in statement.currencies} == {
            c: ledger_payable(store, statement.person.id, OPEN).get(c, Decimal(0)) for c in statement.currencies
        }
    run_totals = sum(
        (line.amount for line in data.lines if line.kind == "payout" and line.amount and not data.closed(line.plan_id)),
        Decimal(0),
    )
    assert sum((s.calculated_total() for s in statements), Decimal(0)) == run_totals


def test_late_events_are_explained_on_the_statement_they_pay_on(paid_year):
    store, cycle = paid_year
    _, statements = statements_for(store, OPEN)
    lines = [(s.person.id, line) for s in statements for line in (*s.lines, *s.calculated)]

    adjustment = [line for _, line in lines if line.kind == "adjustment" and line.corrects is not None]
    assert adjustment and not any(line.in_ledger for line in adjustment)  # paid when the open month closes
    commission = [line for line in adjustment if line.rule_id == "commission"]
    assert commission and commission[0].records  # the records the closed month is computed from now
    assert "Prior-period adjustment for " + commission[0].corrects in commission[0].reasons[0]
    release = [line for _, line in lines if line.kind == "release"]
    assert release and all("released" in " ".join(line.reasons) for line in release)
    bonus = [line for _, line in lines if line.in_ledger and line.kind == "adjustment" and not line.plan_id]
    assert bonus and "trade fair" in bonus[0].reasons[0]


def test_a_commission_line_shows_its_ladder_and_the_crm_ids_behind_it(paid_year):
    store, _ = paid_year
    _, statements = statements_for(store, CLOSED)

    commission = [
        line for s in statements for line in s.lines if line.rule_id == "commission" and line.kind == "earning"
    ]

    assert commission
    line = commission[0]
    assert line.ladder is not None and [(b.lower, b.upper, b.rate) for b in line.ladder.bands] == [
        (Decimal(0), Decimal(1), Decimal("0.05")),
        (Decimal(1), Decimal("1.5"), Decimal("0.08")),
        (Decimal("1.5"), None, Decimal("0.10")),
    ]
    assert line.records and all(r.crm_id.startswith("D") for r in line.records)
    assert any("bookings" in name for name, _ in line.figures)


def test_period_data_names_the_plans_awaiting_approval(paid_year):
    store, _ = paid_year

    data = load_period_data(store, OPEN)

    assert {plan for plan, period, _ in data.approvals_pending if period == OPEN} >= {"sales-commission"}
