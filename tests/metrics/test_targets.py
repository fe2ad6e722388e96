"""Targets: exact top-down decomposition with three levels, and changes beyond ±20 % need a reason (seeds 003, 004)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from kpi_engine import ConfigurationError, get_registry, parse_period, schema
from kpi_engine.metrics.targets import TargetLine, allocate, decompose_target, save_targets
from kpi_engine.sample import generate_sample_company


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12).map(lambda n: Decimal(n).scaleb(-2)),
    weights=st.lists(st.integers(min_value=0, max_value=10**6).map(Decimal), min_size=1, max_size=30),
)
def test_parts_add_up_to_the_whole_and_stay_within_one_unit_of_their_share(
    total: Decimal, weights: list[Decimal]
) -> None:
    parts = allocate(total, weights, 2)
    assert sum(parts) == total
    weight_sum = sum(weights) or len(weights)
    for part, w in zip(parts, weights if sum(weights) else [Decimal(1)] * len(weights), strict=True):
        assert abs(part - total * w / weight_sum) < Decimal("0.01")


def test_the_remainder_goes_to_the_largest_dropped_fractions_then_the_earlier_part() -> None:
    assert allocate(Decimal("100.00"), [Decimal(1)] * 3) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert allocate(Decimal(10), [Decimal(1), Decimal(2)], 0) == [Decimal(3), Decimal(7)]


@pytest.fixture
def company(store: Any) -> Any:
    with store.begin() as conn:
        generate_sample_company(conn, end_month="2026-12", months=12)
    return store


def test_a_year_breaks_into_quarters_and_months_by_seasonality_and_into_teams_by_last_year(company: Any) -> None:
    metric = get_registry().metric("bookings")
    year = parse_period("2027")
    with company.connect() as conn:
        lines = decompose_target(
            conn,
            metric,
            year,
            Decimal(120000000),
            by_time="month",
            seasonality=True,
            split="team",
            weights="last-year",
            time_zone="Asia/Shanghai",
        )
    assert len({x.period for x in lines}) == 12
    for level, whole in (
        ("baseline", Decimal("96000000.00")),
        ("target", Decimal("120000000.00")),
        ("challenge", Decimal("180000000.00")),
    ):
        assert sum(x.level(level) for x in lines) == whole
    quarter_one = [x for x in lines if x.period in ("2027-01", "2027-02", "2027-03")]
    assert sum(x.target for x in quarter_one) != Decimal("30000000.00")  # weighted by last year's months, not even
    by_team: dict[str, Decimal] = {}
    for x in lines:
        by_team[x.subject_id] = by_team.get(x.subject_id, Decimal(0)) + x.target
    assert by_team["marketing"] == 0 and by_team["east"] > 0  # no bookings last year, no share


def test_a_change_beyond_twenty_percent_is_refused_without_a_reason_and_recorded_with_one(store: Any) -> None:
    first = [TargetLine("person", "E1", "2027-01", Decimal(80), Decimal(100), Decimal(150))]
    with store.begin() as conn:
        save_targets(conn, "bookings", first)
    within = [TargetLine("person", "E1", "2027-01", Decimal(96), Decimal(120), Decimal(180))]
    beyond = [TargetLine("person", "E1", "2027-01", Decimal(64), Decimal(80), Decimal(100))]
    with store.begin() as conn:
        save_targets(conn, "bookings", within)  # +20 % exactly is allowed
    with pytest.raises(ConfigurationError, match="more than ±20 %"), store.begin() as conn:
        save_targets(conn, "bookings", beyond)  # 120 → 80 is −33 %
    with store.begin() as conn:
        save_targets(conn, "bookings", beyond, override_reason="market shifted: 1000万 → 800万 (source 003)")
    with store.connect() as conn:
        target = conn.execute(select(schema.targets.c.target, schema.targets.c.reason)).one()
        log = conn.execute(
            select(
                schema.target_changes.c.old_target, schema.target_changes.c.new_target, schema.target_changes.c.reason
            ).order_by(schema.target_changes.c.id)
        ).all()
    assert target == (Decimal(80), "market shifted: 1000万 → 800万 (source 003)")
    assert [(o, n) for o, n, _ in log] == [
        (None, Decimal(100)),
        (Decimal(100), Decimal(120)),
        (Decimal(120), Decimal(80)),
    ]
    assert log[-1][2].startswith("market shifted")


def test_kpi_targets_plan_shows_the_breakdown_and_saves_only_with_save(
    company: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kpi_engine.cli import main

    url = company.url
    args = [
        "--db",
        url,
        "targets",
        "plan",
        "--metric",
        "bookings",
        "--period",
        "2027-Q1",
        "--total",
        "9,000,000",
        "--by-time",
        "month",
        "--split",
        "region",
        "--weights",
        "East=2,North=2,South=1",
    ]
    with pytest.raises(SystemExit) as done:
        main(args)
    out = capsys.readouterr().out
    assert done.value.code in (0, None) and "Nothing saved" in out and "target 9,000,000.00" in out
    with company.connect() as conn:
        assert conn.execute(select(schema.targets.c.id).where(schema.targets.c.period == "2027-01")).first() is None
    with pytest.raises(SystemExit):
        main([*args, "--save"])
    with company.connect() as conn:
        saved = dict(
            conn.execute(
                select(schema.targets.c.subject_id, schema.targets.c.target).where(schema.targets.c.period == "2027-01")
            ).all()
        )
    # January has 31 of the quarter's 90 days: 3,100,000, split 2:2:1.
    assert saved == {
        "East": Decimal(1240000),
        "North": Decimal(1240000),
        "South": Decimal(620000),
        "National": Decimal(0),
    }
