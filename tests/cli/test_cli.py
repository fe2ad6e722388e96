"""The kpi command: one sentence and a hint on bad input, a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from tests.cli.conftest import one_sentence_error as _one_sentence_error

EXAMPLE = Path(__file__).parents[2] / "rules" / "sales-commission.yaml"
EXAMPLES = EXAMPLE.parent


def test_help_lists_the_commands(kpi):
    result = kpi("--help")
    assert result.code == 0
    for command in ("demo", "import", "evaluate", "outcomes", "plugins"):
        assert command in result.out


def test_evaluate_with_an_impossible_period_is_one_sentence(kpi):
    first = _one_sentence_error(kpi("evaluate", "--plan", str(EXAMPLE), "--period", "2026-13"))
    assert "'2026-13' is not a possible period" in first


def test_evaluate_with_a_missing_plan_file_is_one_sentence(kpi):
    first = _one_sentence_error(kpi("evaluate", "--plan", "nowhere.yaml", "--period", "2026-10"))
    assert "nowhere.yaml" in first and "does not exist" in first


def test_evaluate_with_a_misspelt_key_names_file_line_and_valid_keys(kpi, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(EXAMPLE.read_text().replace("time_zone:", "timezone:"))
    result = kpi("evaluate", "--plan", str(plan), "--period", "2026-10")
    first = _one_sentence_error(result)
    line = next(i for i, row in enumerate(plan.read_text().splitlines(), 1) if row.startswith("timezone:"))
    assert f"plan.yaml:{line}:1: unknown key 'timezone'" in first
    assert "did you mean 'time_zone'?" in first and "valid keys:" in first


def test_debug_shows_the_traceback(kpi):
    result = kpi("--debug", "evaluate", "--plan", str(EXAMPLE), "--period", "2026-13")
    assert result.code == 1
    assert result.err.startswith("Traceback (most recent call last):")
    assert "kpi_engine.errors.PeriodError: '2026-13' is not a possible period" in result.err


def test_outcomes_before_any_evaluation_says_what_to_do(kpi):
    first = _one_sentence_error(kpi("outcomes"))
    assert "no evaluation has been run" in first


def test_plugins_list_shows_builtins_with_version_and_origin(kpi):
    result = kpi("plugins", "list", "--format", "json")
    assert result.code == 0
    plugins = {p["name"]: p for p in json.loads(result.out)}
    assert plugins["tiered_commission"]["origin"].startswith("built-in")
    assert plugins["tiered_commission"]["version"]
    assert "rule type:tiered_commission" in plugins["tiered_commission"]["provides"]
    assert "metric:bookings" in plugins["sales_metrics"]["provides"]
    table = kpi("plugins", "list").out
    assert "tiered_commission" in table and "bookings" in table and "built-in" in table


DATA = Path(__file__).parents[1] / "data" / "import"


def test_import_with_a_malformed_row_names_the_row_and_imports_nothing(kpi, tmp_path):
    from sqlalchemy import func, select

    from kpi_engine import open_store, schema

    assert kpi("import", str(DATA / "people.csv")).code == 0
    result = kpi("import", str(DATA / "deals_bad.csv"))
    first = _one_sentence_error(result)
    assert "deals_bad.csv has 2 bad rows; nothing was imported." in first
    assert "row 3, column 'Amount'" in result.err
    store = open_store(f"sqlite:///{tmp_path / 'kpi.sqlite'}")
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.deals)).scalar() == 0


def test_importing_the_same_file_twice_changes_nothing(kpi):
    assert kpi("import", str(DATA / "people.csv"), str(DATA / "deals.csv")).code == 0
    again = kpi("import", str(DATA / "people.csv"), str(DATA / "deals.csv"))
    assert again.code == 0
    assert "0 inserted, 0 updated, 4 unchanged" in again.out


def test_demo_in_an_empty_folder_prints_payouts_and_rerunning_changes_nothing(kpi, tmp_path):
    first = kpi("demo", "--month", "2026-10")
    assert first.code == 0, first.err
    assert "Plan sales-commission 2026.1 · period 2026-10 (Asia/Shanghai)" in first.out
    assert "people evaluated" in first.out and "CNY" in first.out
    assert (tmp_path / "kpi.sqlite").exists() and (tmp_path / "kpi-demo.ground-truth.json").exists()
    run_line = next(row for row in first.out.splitlines() if row.startswith("Plan "))
    second = kpi("demo", "--month", "2026-10")
    assert second.code == 0 and "already loaded" in second.out
    assert run_line in second.out  # same data, same run id
    outcomes = json.loads(kpi("outcomes", "--format", "json").out)
    assert outcomes and all(o["trace"]["explanation"] for o in outcomes if o["amount"])
    # The PIP plan's earlier months are evaluated first, so its recommendations show in the summary.
    assert re.search(r"pip 2026\.1 · run \w+: [1-9]\d* recommendation\(s\) for HR review raised or firing", first.out)


def test_evaluating_a_plan_without_payouts_lists_each_recommendation_with_its_status(kpi):
    assert kpi("demo", "--month", "2026-10").code == 0
    alerts = kpi("evaluate", "--plan", str(EXAMPLES / "conversion-alert.yaml"), "--period", "2026-10")
    assert alerts.code == 0, alerts.err
    assert "firing" in alerts.out and "alert line(s) raised or firing" in alerts.out
    assert "paid" not in alerts.out  # no payout table for a plan that pays nothing


def test_evaluating_the_rules_folder_evaluates_every_plan_in_force_together(kpi):
    assert kpi("demo", "--month", "2026-10").code == 0
    together = kpi("evaluate", "--plan", str(EXAMPLES), "--period", "2026-10")
    assert together.code == 0, together.err
    plans = sorted({p.stem for p in EXAMPLES.glob("*.yaml")})
    assert f"{len(plans)} plans evaluated together" in together.out
    assert all(re.search(rf"^  {plan} 2026\.1 · run \w+: ", together.out, re.M) for plan in plans)
    lines = json.loads(kpi("evaluate", "--plan", str(EXAMPLES), "--period", "2026-10", "--format", "json").out)
    assert {"sales-commission", "scorecard-sales-rep", "sales-bonuses"} <= {line["plan"] for line in lines}
    # the same data gives the same runs: the commission's run is the one the demo saved
    demo_run = next(
        row for row in kpi("demo", "--month", "2026-10").out.splitlines() if row.startswith("Plan sales-commission")
    )
    assert demo_run.rsplit("run ", 1)[1] in together.out
    first = _one_sentence_error(kpi("evaluate", "--plan", str(EXAMPLES), "--period", "2019-01"))
    assert "no plan in" in first and "in force in 2019-01" in first


def test_demo_refuses_a_database_holding_other_data(kpi):
    assert kpi("import", str(DATA / "people.csv")).code == 0
    first = _one_sentence_error(kpi("demo"))
    assert "not the sample company" in first


def test_columns_can_be_mapped_with_options(kpi, tmp_path):
    from sqlalchemy import select

    from kpi_engine import open_store, schema

    assert kpi("import", str(DATA / "people.csv")).code == 0
    export = tmp_path / "opportunities.csv"
    export.write_text(
        'Opportunity,Rep,Value,Stage,Won On\nOPP-9,E1001,"1,234.56",Closed Won,2026-10-03 10:00\n', encoding="utf-8"
    )
    result = kpi(
        "import",
        str(export),
        "--entity",
        "deals",
        "--source",
        "crm",
        "--column",
        "remote_id=Opportunity",
        "--column",
        "owner_id=Rep",
        "--column",
        "amount=Value",
        "--column",
        "stage_raw=Stage",
        "--column",
        "closed_at=Won On",
        "--column",
        "currency=Currency",
    )
    assert result.code != 0 and "Currency" in result.err  # a mapped header the file lacks is named
    result = kpi(
        "import",
        str(export),
        "--entity",
        "deals",
        "--source",
        "crm",
        "--default",
        "currency=CNY",
        "--time-zone",
        "Asia/Shanghai",
        "--column",
        "remote_id=Opportunity",
        "--column",
        "owner_id=Rep",
        "--column",
        "amount=Value",
        "--column",
        "stage_raw=Stage",
        "--column",
        "closed_at=Won On",
    )
    assert result.code == 0, result.err
    store = open_store(f"sqlite:///{tmp_path / 'kpi.sqlite'}")
    with store.connect() as conn:
        deal = conn.execute(select(schema.deals).where(schema.deals.c.remote_id == "OPP-9")).one()
    assert (
        deal.amount == Decimal("1234.56") and deal.status == "won" and deal.source == "crm" and deal.currency == "CNY"
    )
    assert deal.closed_at.isoformat() == "2026-10-03T02:00:00+00:00"  # 10:00 in Shanghai
