"""Custom metrics in YAML: filter + aggregate or a ratio of two metrics, registered like plugin metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kpi_engine import (
    CustomMetricError,
    load_custom_metrics,
    load_plugins,
    parse_period,
    schema,
)
from kpi_engine.metrics.compute import metric_context

CTX = metric_context(parse_period("2026-10"), "UTC", "CNY")
AT = datetime(2026, 10, 5, 9, tzinfo=UTC)

METRICS = """\
metrics:
  - name: big_won_deals
    description: Won deals of 100,000 or more.
    unit: count
    facts: deals
    time: closed_at
    person: owner_id
    where: {status: won, amount: {">=": 100000}}
    aggregate: count
  - name: median_cycle_days
    description: Median days from creation to close of won deals.
    unit: days
    facts: deals
    time: closed_at
    person: owner_id
    where: {status: won}
    aggregate: median
    duration: {from: created_at, to: closed_at, in: days}
  - name: average_won_amount
    description: Mean amount of the won deals.
    unit: money
    facts: deals
    time: closed_at
    person: owner_id
    where: {status: won}
    aggregate: average
    column: amount
    scale: 4
  - name: big_deal_share
    description: Big won deals ÷ won deals.
    unit: ratio
    ratio: {numerator: big_won_deals, denominator: won_deals}
"""


def _deal(conn: Any, n: int, owner: str, amount: str, days: int) -> None:
    conn.execute(
        schema.deals.insert().values(
            source="t",
            remote_id=f"D{n}",
            owner_id=owner,
            status="won",
            amount=Decimal(amount),
            currency="CNY",
            created_at=AT - timedelta(days=days),
            closed_at=AT,
            is_deleted=False,
            product_line="CRM",
            lead_source="search",
        )
    )


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "sales.yaml").write_text(METRICS, encoding="utf-8")
    monkeypatch.setenv("KPI_METRICS_PATH", str(tmp_path / "metrics"))
    return load_plugins()


def test_custom_metrics_are_registered_like_plugin_metrics_and_computed_in_sql(store: Any, registry: Any) -> None:
    assert registry.owners[("metric", "big_deal_share")] == "custom_metrics"
    with store.begin() as conn:
        conn.execute(schema.people.insert(), [{"id": "A", "name": "A", "role": "sales_rep"}])
        for n, (amount, days) in enumerate((("150000", 10), ("20000", 20), ("100000", 41), ("5000", 3)), start=1):
            _deal(conn, n, "A", amount, days)
    with store.connect() as conn:
        value = {
            name: dict(conn.execute(registry.metric(name).query(CTX)).all())
            for name in ("big_won_deals", "median_cycle_days", "average_won_amount", "big_deal_share")
        }
    assert value["big_won_deals"] == {"A": 2}
    assert value["median_cycle_days"] == {"A": Decimal("15.00")}  # durations 3, 10, 20, 41 days: mean of 10 and 20
    assert value["average_won_amount"] == {"A": Decimal("68750.0000")}
    assert value["big_deal_share"] == {"A": Decimal("0.500000")}


def test_custom_metrics_can_be_grouped_like_built_ins(store: Any, registry: Any) -> None:
    from kpi_engine import compute_metric

    with store.begin() as conn:
        conn.execute(schema.people.insert(), [{"id": "A", "name": "A", "role": "sales_rep"}])
        _deal(conn, 1, "A", "150000", 5)
    with store.connect() as conn:
        rows = compute_metric(conn, registry.metric("big_won_deals"), parse_period("2026-10"), by="product_line")
    assert [(r.group, r.value) for r in rows] == [("CRM", Decimal(1))]


def test_every_problem_is_reported_at_its_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "metrics:\n"
        "  - name: x\n    description: d\n    facts: deals\n    time: closed_at\n"
        "    person: owner\n    aggregate: count\n"
        "  - name: y\n    description: d\n    ratio: {numerator: x, denominator: bookngs}\n"
        "  - name: z\n    description: d\n    facts: deals\n    time: closed_at\n"
        "    person: owner_id\n    aggregate: count\n    colour: red\n",
        encoding="utf-8",
    )
    with pytest.raises(CustomMetricError) as caught:
        load_custom_metrics([bad], load_plugins(use_entry_points=True).metrics)
    problems = caught.value.problems
    assert f"{bad}:6:5: deals has no column 'owner'. did you mean 'owner_id'?" in problems
    assert any(p.startswith(f"{bad}:17:5: unknown key 'colour'") for p in problems)
    assert any(
        p.startswith(f"{bad}:10:") and "unknown metric 'bookngs'" in p and "did you mean 'bookings'" in p
        for p in problems
    )


def test_a_missing_metrics_path_is_one_sentence(tmp_path: Path) -> None:
    from kpi_engine.metrics.custom import custom_metric_files

    with pytest.raises(CustomMetricError, match="does not exist"):
        custom_metric_files(tmp_path / "nowhere")
