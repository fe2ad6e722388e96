"""A sample company after a year of pay cycle (the demo's), made once per session on the suite's backend,
and a small store of hostile names for the escaping tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from kpi_engine import Store, balances, ledger_entries
from kpi_engine.sample._pay_cycle import run_demo_cycle

CLOSED, OPEN = "2026-09", "2026-10"
TODAY = date(2026, 11, 8)
RULES = Path(str(files("kpi_engine_rules")))


@pytest.fixture(scope="session")
def paid_year(sample_company_store) -> tuple[Store, Any]:
    """Months to 2026-09 closed, 2026-10 evaluated and awaiting approval, with the demo's late events
    (a cancelled deal corrected as a prior-period adjustment, a released hold, a one-off bonus).

    Seed 11: a company of its own, since closing months would stop other tests from evaluating them."""
    store, summary = sample_company_store(seed=11, end_month=OPEN)
    cycle = run_demo_cycle(store, RULES, summary.first_month, OPEN)
    return store, cycle


def ledger_payable(store: Store, person: str, period: str) -> dict[str, Decimal]:
    """What ``kpi ledger --person P --period M`` prints as payable, by currency."""
    return {b.currency: b.payable for b in balances(ledger_entries(store, person_id=person, period=period))}
