"""Smoke test of the honest company benchmark (``benchmarks/honest_company.py``, issue 18), small: 6 reps.

What is checked is that the generator builds, imports and evaluates on the suite's backend and that every case
planted on top is found for its rep and month with its records. The false-finding rates are the benchmark's
to print (docs/anti-gaming.md), never asserted here: 6 reps are too few for a rate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))  # the benchmark scripts, by name

import honest_company

from .conftest import database_of_its_own

PLANTED_MONTHS = range(5, 11)  # the planted cases fall in May to October; earlier months are their history


def test_the_honest_company_is_honest_by_construction_and_has_no_identical_orders() -> None:
    company = honest_company.build(seed=3, reps=6)
    assert company.planted == [] and {p["role"] for p in company.people} == {"sales_rep"}
    orders = [
        (d["customer"], d["amount"], d["product_line"], d["created_at"][:10], d["closed_at"][:10])
        for d in company.deals
    ]
    assert len(orders) == len(set(orders))


def test_every_planted_case_is_found_with_its_records(tmp_path_factory: pytest.TempPathFactory) -> None:
    company = honest_company.build(seed=1, reps=6)
    honest_company.plant(company, seed=1)
    with database_of_its_own("honest_smoke", tmp_path_factory.mktemp("honest")) as url:
        result = honest_company.evaluate(company, url, months=PLANTED_MONTHS)
    assert [(case.check, found) for case, found in result["recall"]] == [
        (check, True)
        for check in (
            "deal_splitting",
            "period_end_pull_forward",
            "sandbagging",
            "duplicate_deal",
            "unverified_activity",
            "activity_inflation",
        )
    ]
    assert result["person_months"] == 2 * len(PLANTED_MONTHS) * 6
