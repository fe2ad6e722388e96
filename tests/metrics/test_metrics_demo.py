"""The sample company yields every catalogue metric for its latest month, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from kpi_engine import compute_metric, get_registry, parse_period
from kpi_engine.cli import main
from kpi_engine.metrics.compute import metric_context
from kpi_engine.sample import generate_sample_company

# The names plans and rule types depend on (docs/catalogue.md §1); a few more exist.
CATALOGUE = (
    "bookings",
    "won_deals",
    "new_customers",
    "average_selling_price",
    "win_rate",
    "sales_cycle_days",
    "leads_created",
    "mql",
    "sql",
    "mql_to_sql_rate",
    "lead_conversion_rate",
    "cost_per_lead",
    "customer_acquisition_cost",
    "visits",
    "calls",
    "meetings",
    "activities",
    "visits_per_week",
    "visit_conversion_rate",
    "collections",
    "refunds",
    "renewal_rate",
    "upsell_amount",
    "retention_rate",
    "churn_rate",
    "repurchase_rate",
    "nps",
    "satisfaction",
    "complaint_satisfaction",
    "follow_ups",
    "issue_resolution_hours",
    "training_coverage",
    "unique_visitors",
    "uv_growth",
    "form_conversion_rate",
    "channel_mix",
    "content_exposure",
    "channel_engagement_rate",
    "campaign_conversion_rate",
    "marketing_sourced_revenue_share",
    "channel_roi",
    "customer_lifetime_value",
    "time_to_first_follow_up",
    "lead_routing_minutes",
    "sla_attainment",
)
LATEST = metric_context(parse_period("2026-10"), "Asia/Shanghai", "CNY")


def _all_values(store: Any) -> dict[str, dict[str, Any]]:
    registry = get_registry()
    with store.connect() as conn:
        return {
            name: dict(conn.execute(registry.metric(name).query(LATEST)).all()) for name in sorted(registry.metrics)
        }


@pytest.fixture(scope="module")
def demo_values(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from kpi_engine import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite'}")
    with store.begin() as conn:
        generate_sample_company(conn)
    yield _all_values(store)
    store.dispose()


@pytest.mark.parametrize("name", CATALOGUE)
def test_the_demo_yields_the_metric_for_its_latest_month(demo_values: dict[str, dict[str, Any]], name: str) -> None:
    values = [v for v in demo_values[name].values() if v is not None]
    assert values, f"{name} has no value in 2026-10"
    assert all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in values)


def test_ratios_of_the_demo_stay_within_their_bounds(demo_values: dict[str, dict[str, Any]]) -> None:
    for name in (
        "win_rate",
        "mql_to_sql_rate",
        "lead_conversion_rate",
        "renewal_rate",
        "retention_rate",
        "churn_rate",
        "sla_attainment",
        "channel_mix",
    ):
        assert all(Decimal(0) <= v <= Decimal(1) for v in demo_values[name].values() if v is not None), name
    shares = demo_values["channel_mix"].values()
    assert abs(sum(shares) - 1) <= len(shares) * Decimal("0.0000005")  # each share rounded to 6 places on its own


def test_sqlite_and_postgresql_give_identical_values_for_every_metric(sqlite_store: Any, postgres_store: Any) -> None:
    for store in (sqlite_store, postgres_store):
        with store.begin() as conn:
            generate_sample_company(conn, seed=11, months=6)
    assert _all_values(sqlite_store) == _all_values(postgres_store)


def test_team_roll_up_follows_the_mover_and_adds_up_to_the_company(demo_values: Any, tmp_path: Any) -> None:
    from kpi_engine import open_store

    store = open_store(f"sqlite:///{tmp_path / 'roll.sqlite'}")
    with store.begin() as conn:
        summary = generate_sample_company(conn)
    registry = get_registry()
    year = parse_period("2026-01-01..2026-10-31")
    with store.connect() as conn:
        teams = {
            r.group: r.value
            for r in compute_metric(
                conn, registry.metric("bookings"), year, by="team", time_zone="Asia/Shanghai", currency="CNY"
            )
        }
        company = compute_metric(
            conn, registry.metric("bookings"), year, by="company", time_zone="Asia/Shanghai", currency="CNY"
        )[0].value
        people = compute_metric(
            conn, registry.metric("bookings"), year, by="person", time_zone="Asia/Shanghai", currency="CNY"
        )
    assert teams["hq"] == company == sum(r.value for r in people)
    assert sum(v for k, v in teams.items() if k != "hq") == company  # every person in exactly one team at a time
    store.dispose()
    assert summary.counts["org_assignments"] > summary.counts["people"]  # the mover has two assignments


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def kpi(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KPI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KPI_METRICS_PATH", raising=False)

    def run(*args: str) -> Result:
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        captured = capsys.readouterr()
        return Result(exit_.value.code or 0, captured.out, captured.err)

    return run


def test_metrics_list_as_json_gives_every_catalogue_metric_with_its_definition(kpi: Any) -> None:
    result = kpi("metrics", "list", "--format", "json")
    assert result.code == 0
    listed = {m["name"]: m for m in json.loads(result.out)}
    assert set(CATALOGUE) <= set(listed)
    for name in CATALOGUE:
        assert listed[name]["definition"] and listed[name]["unit"] and "person" in listed[name]["by"]
    assert "channel" in listed["cost_per_lead"]["by"] and "team" in listed["bookings"]["by"]


def test_metrics_show_an_unknown_grouping_is_one_sentence(kpi: Any) -> None:
    result = kpi("metrics", "show", "win_rate", "--period", "2026-10", "--by", "product_line")
    assert result.code == 1 and "cannot be grouped by product_line" in result.err and "Traceback" not in result.err
    result = kpi("metrics", "show", "bookngs", "--period", "2026-10")
    assert result.code == 1 and "did you mean 'bookings'" in result.err
