"""The deal checks on generated companies: every planted deal pattern is found with its records, a clean company
raises nothing.

The sample company plants each gaming pattern on one rep and month (kpi_engine/sample/_planted.py).
rules/deal-integrity.yaml is evaluated month by month, once per company, through the engine.

False-positive rate (findings per person-month checked) on clean companies of seeds 2026-2029,
12 months each: 0 findings in 1,164 person-months (291 a company), i.e. 0 %; the assertion below is that it stays 0.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kpi_engine import Finding, RuleResult, evaluate, get_registry, parse_period, schema
from kpi_engine.metrics.compute import metric_context

PLAN = Path(__file__).parents[2] / "rules" / "deal-integrity.yaml"
DEAL_PATTERNS = (
    "deal_splitting",
    "period_end_pull_forward",
    "duplicate_deal",
    "cancel_and_rebook",
    "early_churn",
    "discount_spike",
    "amounts_below_threshold",
    "sandbagging",
    "benford",
)
CHECKS = DEAL_PATTERNS
CLEAN_SEEDS = (2026, 2027, 2028, 2029)


def _months(end: str = "2026-10", count: int = 12) -> list[str]:
    period = parse_period(end)
    labels = [period.label]
    for _ in range(count - 1):
        period = period.previous()
        labels.append(period.label)
    return labels[::-1]


def _run_months(store: Any) -> tuple[list[Finding], int]:
    """Every month of the sample evaluated in order: the findings and how many person-months were checked
    (sales reps employed during the month, the plan's scope)."""
    p = schema.people
    with store.connect() as conn:
        reps = conn.execute(select(p.c.hire_date, p.c.leave_date).where(p.c.role == "sales_rep")).all()
    findings: list[Finding] = []
    person_months = 0
    for label in _months():
        run = evaluate(store, PLAN, label)
        period = parse_period(label)
        person_months += sum(
            1
            for hired, left in reps
            if (hired is None or hired < period.end) and (left is None or left >= period.start)
        )
        findings.extend(
            Finding.from_result(RuleResult(person_id=o.person_id, amount=None, trace=o.trace, kind=o.kind))
            for o in run.outcomes
            if o.kind == "finding"
        )
    return findings, person_months


@pytest.fixture(scope="module")
def planted(sample_company_store: Callable[..., tuple[Any, Any]]) -> tuple[list[Finding], Any]:
    store, summary = sample_company_store(seed=2026)
    findings, _ = _run_months(store)
    return findings, summary


@pytest.fixture(scope="module")
def clean_runs(sample_company_store: Callable[..., tuple[Any, Any]]) -> dict[int, tuple[list[Finding], int]]:
    return {seed: _run_months(sample_company_store(seed=seed, clean=True)[0]) for seed in CLEAN_SEEDS}


@pytest.mark.parametrize("pattern", DEAL_PATTERNS)
def test_every_planted_deal_pattern_is_found_by_its_check_with_the_planted_records(
    pattern: str, planted: tuple[list[Finding], Any]
) -> None:
    findings, summary = planted
    case = next(c for c in summary.ground_truth if c.pattern == pattern)
    matching = [
        f
        for f in findings
        if f.check == pattern
        and f.person_id == case.person_id
        and f.period == case.period
        and set(case.record_ids) <= set(f.evidence.get(case.table, ()))
    ]
    assert matching, (
        f"{pattern}: no finding for {case.person_id} in {case.period} naming {case.table} {case.record_ids}; got "
        + "; ".join(f"{f.check} {f.person_id} {f.period} {dict(f.evidence)}" for f in findings)
    )
    assert all(f.explanation and f.severity in ("low", "medium", "high") for f in matching)


def test_on_the_planted_company_every_finding_is_a_planted_case(planted: tuple[list[Finding], Any]) -> None:
    findings, summary = planted
    cases = {(c.pattern, c.person_id, c.period) for c in summary.ground_truth}
    assert [f for f in findings if (f.check, f.person_id, f.period) not in cases] == []


def test_early_churn_names_the_churn_event_as_well_as_the_deal(planted: tuple[list[Finding], Any]) -> None:
    findings, _ = planted
    (churn,) = [f for f in findings if f.check == "early_churn"]
    assert set(churn.evidence) == {"deals", "churn_events"} and len(churn.evidence["churn_events"]) == 1
    assert churn.figures["days_after_close"] == "40"


def test_no_deal_check_fires_on_clean_companies_false_positive_rate_zero(
    clean_runs: dict[int, tuple[list[Finding], int]],
) -> None:
    """False-positive rate = findings ÷ person-months checked, over clean companies of four seeds (12 months each)."""
    findings = [f for found, _ in clean_runs.values() for f in found]
    person_months = sum(n for _, n in clean_runs.values())
    assert person_months >= 1000  # the rate is measured on a real sample, not a handful of months
    assert [f"{f.check} {f.person_id} {f.period}: {f.explanation}" for f in findings] == []
    assert len(findings) / person_months == 0
    assert {f.check for f in findings} <= set(CHECKS)


def test_candidate_metrics_hold_a_few_of_the_periods_deals_and_every_planted_one(
    sample_company_store: Callable[..., tuple[Any, Any]],
) -> None:
    """Split orders and duplicates need another deal of the same customer nearby, rebookings an earlier loss:
    the database returns only those deals, so the checks never hold every deal of a large period."""
    store, summary = sample_company_store(seed=2026)
    registry = get_registry()

    def ids(metric: str, label: str) -> set[int]:
        with store.connect() as conn:
            return {
                row[1]
                for row in conn.execute(
                    registry.metric(metric).evidence(metric_context(parse_period(label), "Asia/Shanghai", "CNY"))
                )
            }

    for pattern, metric in (
        ("deal_splitting", "repeat_customer_deals"),
        ("duplicate_deal", "repeat_customer_deals"),
        ("cancel_and_rebook", "rebook_candidates"),
    ):
        case = next(c for c in summary.ground_truth if c.pattern == pattern)
        every = ids("closed_deal_details", case.period)
        found = ids(metric, case.period)
        assert found <= every and len(found) * 4 < len(every), (
            f"{metric} in {case.period}: {len(found)} of {len(every)} deals"
        )
        assert (set(case.record_ids) & every) <= found
