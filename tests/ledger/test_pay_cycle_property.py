"""Paid once, whatever happens: over random sequences of evaluations, approvals, closes, reopenings, late facts,
releases of holds and manual adjustments, every person's posted ledger equals what the closed periods,
recomputed with every fact known at the end, pay, plus the adjustments approved; and no event is posted twice.

The plan pays 10 % of bookings per month and holds a month with a deal of 100,000 or more (a toy check);
a hold released by review is paid once. After the random steps the next month is evaluated and closed,
which posts whatever late facts the closed months still owed. ``KPI_PROPERTY_EXAMPLES=2000`` searches longer.
"""

from __future__ import annotations

import os
import types
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_engine import (
    DealRecord,
    EvaluationError,
    PayCycleError,
    evaluate,
    hookimpl,
    load_plugins,
    open_store,
    parse_plan,
    upsert_records,
)
from kpi_engine.engine.facts import StoreFacts
from kpi_engine.engine.runner import run_rules
from kpi_engine.findings.store import list_findings, review_finding
from kpi_engine.ledger.adjustments import decide_adjustment, request_adjustment
from kpi_engine.ledger.entries import ledger_entries
from kpi_engine.ledger.lifecycle import approve_period, close_period, period_states, reopen_period
from kpi_engine.ledger.posting import PAYABLE, posting_identity
from kpi_engine.periods import parse_period
from tests.support.factories import add_person
from tests.support.findings_toys import BIG_DEALS

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
SETTLE = "2026-06"
PEOPLE = ["E1", "E2"]
PLAN = """
id: pay
currency: USD
time_zone: UTC
rounding: {places: 2}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    tiers: [{from: 0, rate: 10%}]
  - {id: big, type: big_deals, at_least: 100000, effect: hold, affects: [commission]}
"""


@hookimpl
def kpi_rule_types():
    yield BIG_DEALS


REGISTRY = load_plugins(extra={"toy-checks": types.SimpleNamespace(kpi_rule_types=kpi_rule_types)})
LOADED = parse_plan(PLAN, "pay.yaml", registry=REGISTRY)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("cycle"), st.sampled_from(MONTHS)),
        st.tuples(st.just("evaluate"), st.sampled_from(MONTHS)),
        st.tuples(st.just("approve"), st.sampled_from(MONTHS)),
        st.tuples(st.just("close"), st.sampled_from(MONTHS)),
        st.tuples(st.just("reopen"), st.sampled_from(MONTHS)),
        st.tuples(
            st.just("fact"),
            st.tuples(
                st.sampled_from(MONTHS),
                st.sampled_from(PEOPLE),
                st.integers(0, 3),
                st.sampled_from([0, 500, 2000, 150000]),
            ),
        ),
        st.tuples(st.just("release"), st.integers(0, 5)),
        st.tuples(
            st.just("adjust"),
            st.tuples(st.sampled_from(PEOPLE), st.sampled_from(MONTHS + [SETTLE]), st.integers(-300, 300)),
        ),
    ),
    min_size=1,
    max_size=28,
)


def _fact(store, month: str, person: str, n: int, amount: int) -> None:
    """A deal of ``person`` in ``month`` as the CRM sends it now (a new deal, or a correction of one)."""
    start = parse_period(month).start
    record = DealRecord(
        remote_id=f"{person}-{month}-{n}",
        owner_id=person,
        status="won" if amount else "lost",
        amount=str(amount or 1),
        currency="USD",
        closed_at=datetime(start.year, start.month, 10 + n, 9, 0, tzinfo=UTC),
    )
    with store.begin() as conn:
        upsert_records(conn, "deals", "crm", [record])


def _apply(store, step, adjustments: dict[str, Decimal]) -> None:
    action, arg = step
    if action == "cycle":  # evaluated by ops, approved and closed by finance
        for part in ("evaluate", "approve", "close"):
            _apply(store, (part, arg), adjustments)
        return
    try:
        if action == "evaluate":
            evaluate(store, LOADED, arg, registry=REGISTRY, by="ops")
        elif action == "approve":
            approve_period(store, "pay", arg, "fin")
        elif action == "close":
            close_period(store, "pay", arg, "fin")
        elif action == "reopen":
            reopen_period(store, "pay", arg, "fin", "a correction before payroll")
        elif action == "fact":
            _fact(store, *arg)
        elif action == "release":
            found = sorted(f.id for f in list_findings(store) if f.review is None)
            if found:
                review_finding(store, found[arg % len(found)], "release", "checked: genuine", "hr")
        elif action == "adjust":
            person, month, amount = arg
            if amount:
                made = request_adjustment(
                    store,
                    person_id=person,
                    amount=Decimal(amount),
                    currency="USD",
                    reason="one-off",
                    period=month,
                    by="ops",
                )
                decide_adjustment(store, made.id, approve=True, by="fin")
                adjustments[person] += Decimal(amount)
    except (EvaluationError, PayCycleError):
        pass  # a step the pay cycle refuses changes nothing


def _recomputed(store, closed: list[str]) -> dict[str, Decimal]:
    """What the closed months pay with every fact known now: their earnings, and the holds released since."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    released = {(f.person_id, f.period) for f in list_findings(store) if f.review == "release"}
    with store.connect() as conn:
        for month in closed:
            lines = run_rules(LOADED, parse_period(month), StoreFacts(conn, LOADED, REGISTRY), REGISTRY)[1]
            for line in lines:
                if line.amount and line.kind == "payout" and line.ledger_kind == "earning":
                    totals[line.person_id] += line.amount
                elif line.amount and line.kind == "held" and (line.person_id, month) in released:
                    totals[line.person_id] += line.amount  # released and paid once, in a closed month
    return totals


@settings(
    max_examples=int(os.environ.get("KPI_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps)
def test_every_person_is_paid_what_the_closed_months_pay_now_once(tmp_path_factory, sequence):
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('cycle') / 'kpi.sqlite'}")
    try:
        for person in PEOPLE:
            add_person(store, person)
        adjustments: dict[str, Decimal] = defaultdict(Decimal)
        for step in sequence:
            _apply(store, step, adjustments)
        # Settle: every month still open is evaluated and closed in order, then the next one, which posts the
        # prior-period adjustments the closed months still owe.
        for month in [*MONTHS, SETTLE]:
            _apply(store, ("evaluate", month), adjustments)
            _apply(store, ("approve", month), adjustments)
            _apply(store, ("close", month), adjustments)
        closed = [s.period for s in period_states(store, plan_id="pay") if s.status == "closed"]
        assert set(closed) == {*MONTHS, SETTLE}
        entries = ledger_entries(store)
        keys = [e.entry_key for e in entries]
        assert len(keys) == len(set(keys))  # no event posted twice
        assert len({posting_identity(k) for k in keys if "#r" not in k}) == len([k for k in keys if "#r" not in k])
        posted: dict[str, Decimal] = defaultdict(Decimal)
        for e in entries:
            if e.kind in PAYABLE:
                posted[e.person_id] += e.amount
        expected = _recomputed(store, [*MONTHS, SETTLE])
        for person in PEOPLE:
            assert posted[person] == expected[person] + adjustments[person], (person, sequence)
    finally:
        store.dispose()
