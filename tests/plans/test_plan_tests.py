"""Plan tests: cases carried by a plan (or a file beside it) run without a database and show their differences."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_engine import PlanError, parse_plan
from kpi_engine.cli import cli
from kpi_engine.plans.plan_tests import load_cases, run_case, run_plan_tests
from tests.support.plan_toys import toy_registry

T2 = """id: t2
currency: USD
rounding: {mode: half_up, places: 2, at: line}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    tiers:
      - {from: 0, to: 1000, rate: 1%}
      - {from: 1000, to: 5000, rate: 2%}
      - {from: 5000, to: 10000, rate: 3%}
tests:
  - name: T2 marginal tiers on 2,500
    source: Oracle Sales IC 24B readiness notes
    period: 2026-01
    data: {2026-01: {bookings: {E1: 2500}}}
    expect:
      2026-01:
        - {rule: commission, person: E1, amount: "40.00"}
"""


def cases_of(text: str, tmp_path: Path, name: str = "plan.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return run_plan_tests(path, registry=toy_registry())


def test_a_golden_case_passes_as_a_plan_test(tmp_path):
    """Golden case T2 (Oracle Sales IC 24B readiness notes): 1,000 x 1% + 1,500 x 2% = 40."""
    [result] = cases_of(T2, tmp_path)
    assert result.passed, result.failures
    assert result.source == "Oracle Sales IC 24B readiness notes"
    [line] = result.outcomes["2026-01"]
    assert [entry["amount"] for entry in line.trace["lines"]] == ["10.00", "30.00"]


def test_a_wrong_expectation_shows_expected_against_actual(tmp_path):
    [result] = cases_of(T2.replace('amount: "40.00"', 'amount: "41.00", kind: payout'), tmp_path)
    assert not result.passed
    assert result.failures == ["2026-01 commission E1: amount expected 41.00, got 40.00"]


def test_a_missing_line_and_unexpected_lines_when_the_case_is_exact(tmp_path):
    text = T2.replace("person: E1,", "person: E2,")
    [result] = cases_of(text, tmp_path)
    assert result.failures == ["2026-01 commission E2: expected a line, got none (lines: commission/E1)"]
    [exact] = cases_of(
        T2.replace("    period: 2026-01\n", "    period: 2026-01\n    exact: true\n    people: {E1: {}, E2: {}}\n"),
        tmp_path,
    )
    assert exact.failures == ["2026-01 commission E2: unexpected line, amount 0.00 (payout)"]


def test_trace_keys_and_records_can_be_expected(tmp_path):
    text = T2.replace(
        "    data: {2026-01: {bookings: {E1: 2500}}}\n",
        "    records: {2026-01: {bookings: {E1: [{record_id: 7, value: 2000}, {record_id: 9, value: 500}]}}}\n",
    )
    text = text.replace('amount: "40.00"}', 'amount: "40.00", method: marginal, records: {ids: [7, 9]}}')
    [result] = cases_of(text, tmp_path)
    assert result.passed, result.failures


def test_periods_run_in_order_and_later_ones_see_the_earlier_outcomes(tmp_path):
    """Golden case R2 (Oracle Sales IC, "Example of Incentive Compensation Draw and Recovery"):
    earnings 500, 700, 400 against a recoverable draw of 1,000: draws 500 / 300 / 600, balance 500 / 800 / 1,400."""
    text = """id: r2
currency: USD
rounding: {places: 2}
rules:
  - {id: earnings, type: formula_pay, amount: bookings}
  - {id: draw, type: draw, guarantee: 1000, earnings_rules: [earnings], recoverable: true}
tests:
  - name: R2 recoverable draw
    source: Oracle Sales IC docs, "Example of Incentive Compensation Draw and Recovery"
    periods: [2026-01, 2026-02, 2026-03]
    data:
      2026-01: {bookings: {E1: 500}}
      2026-02: {bookings: {E1: 700}}
      2026-03: {bookings: {E1: 400}}
    expect:
      2026-01: [{rule: draw, person: E1, amount: "500.00", balance_after: "500"}]
      2026-02: [{rule: draw, person: E1, amount: "300.00", balance_after: "800"}]
      2026-03: [{rule: draw, person: E1, amount: "600.00", balance_after: "1400"}]
"""
    [result] = cases_of(text, tmp_path)
    assert result.passed, (result.failures, result.error)


def test_cases_may_sit_in_a_file_beside_the_plan(tmp_path):
    plan_text = T2.split("tests:")[0]
    (tmp_path / "t2.tests.yaml").write_text("tests:" + T2.split("tests:")[1])
    [result] = cases_of(plan_text, tmp_path, "t2.yaml")
    assert result.passed and result.name == "T2 marginal tiers on 2,500"


def test_a_bad_case_is_a_located_plan_problem(tmp_path):
    text = T2.replace("    period: 2026-01\n", "    perod: 2026-01\n")
    with pytest.raises(PlanError) as err:
        parse_plan(text, "t2.yaml", registry=toy_registry())
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "perod" in row)
    assert any(
        p.startswith(f"t2.yaml:{line}:5: unknown key 'perod'") and "did you mean 'period'?" in p
        for p in err.value.problems
    )


def test_a_case_that_cannot_run_reports_why(tmp_path):
    text = T2.replace("period: 2026-01", "period: 2026-01").replace(
        "id: t2\n", "id: t2\neffective: {from: 2027-01-01}\n"
    )
    [result] = cases_of(text, tmp_path)
    assert not result.passed and "not in force in 2026-01" in (result.error or "")


def test_kpi_rules_test_prints_the_differences_and_exits_1(tmp_path):
    from click.testing import CliRunner

    (tmp_path / "good.yaml").write_text(T2)
    (tmp_path / "bad.yaml").write_text(T2.replace("id: t2", "id: t2b").replace('amount: "40.00"', 'amount: "41.00"'))
    result = CliRunner().invoke(cli, ["rules", "test", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "amount expected 41.00, got 40.00" in result.output
    assert "2 cases in 2 plans: 1 passed, 1 failed." in result.output
    ok = CliRunner().invoke(cli, ["rules", "test", "-v", str(tmp_path / "good.yaml")])
    assert ok.exit_code == 0 and "PASS" in ok.output and "[Oracle Sales IC 24B readiness notes]" in ok.output


def test_kpi_rules_validate_reports_good_files_and_every_problem_of_bad_ones(tmp_path):
    from click.testing import CliRunner

    (tmp_path / "good.yaml").write_text(T2)
    (tmp_path / "bad.yaml").write_text(
        T2.replace("currency: USD", "currency: usd").replace("method: marginal", "methd: marginal")
    )
    result = CliRunner().invoke(cli, ["rules", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert f"OK {tmp_path / 'good.yaml'} (t2 v1, 1 rule)" in result.stdout
    assert "bad.yaml:2:" in result.stderr and "did you mean 'method'?" in result.stderr


def test_load_cases_reads_the_plans_own_cases(tmp_path):
    path = tmp_path / "t2.yaml"
    path.write_text(T2)
    from kpi_engine import load_plan

    plan = load_plan(path, registry=toy_registry())
    [case] = load_cases(plan)
    assert run_case(plan, case, registry=toy_registry()).passed
