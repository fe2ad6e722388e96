"""The sample company generator: deterministic, realistic in shape, and honest about what it planted."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from kpi_engine.sample import PlantedCase, SampleSummary, generate_sample_company
from kpi_engine.store.schema import activities, deals, leads, metadata, payments, people, targets, teams

_OWNER_COLUMNS = {"deals": ("owner_id",), "activities": ("owner_id",), "leads": ("owner_id", "marketing_owner_id")}


@pytest.fixture
def sample(store) -> SampleSummary:
    with store.begin() as conn:
        return generate_sample_company(conn)


def test_same_seed_writes_the_same_counts_and_ground_truth_in_two_stores(store, sqlite_store) -> None:
    with store.begin() as conn:
        first = generate_sample_company(conn, seed=7)
    with sqlite_store.begin() as conn:
        second = generate_sample_company(conn, seed=7)
    assert first.counts == second.counts
    assert first.ground_truth_json() == second.ground_truth_json()
    with store.connect() as a, sqlite_store.connect() as b:
        query = select(deals.c.id, deals.c.amount, deals.c.closed_at, deals.c.discount).order_by(deals.c.id)
        assert a.execute(query).all() == b.execute(query).all()


def test_a_different_seed_gives_a_different_company(store, sqlite_store) -> None:
    with store.begin() as conn:
        first = generate_sample_company(conn, seed=1)
    with sqlite_store.begin() as conn:
        second = generate_sample_company(conn, seed=2)
    assert first.ground_truth_json() != second.ground_truth_json()


def test_company_has_at_least_thirty_people_in_the_roles_and_three_sales_teams(store, sample) -> None:
    with store.connect() as conn:
        roles = Counter(conn.execute(select(people.c.role)).scalars())
        team_ids = set(conn.execute(select(teams.c.id)).scalars())
    assert sum(roles.values()) >= 30
    assert {"sales_rep", "marketing_specialist", "customer_success", "manager"} <= set(roles)
    assert roles["sales_rep"] > roles["marketing_specialist"] + roles["customer_success"]
    assert {"east", "north", "south"} <= team_ids and len(team_ids) >= 3


def test_twelve_months_are_covered_ending_with_the_requested_month(store, sample) -> None:
    assert (sample.first_month, sample.last_month) == ("2025-11", "2026-10")
    with store.connect() as conn:
        months = set(conn.execute(select(targets.c.period).where(targets.c.metric == "bookings")).scalars())
        closes = conn.execute(select(deals.c.closed_at).where(deals.c.status == "won")).scalars().all()
    assert len(months) == 12
    assert len({c.strftime("%Y-%m") for c in closes}) >= 12


def test_row_counts_are_in_the_documented_ranges(sample) -> None:
    counts = sample.counts
    assert 2_000 <= counts["deals"] <= 4_000
    assert 15_000 <= counts["activities"] <= 30_000
    assert 5_000 <= counts["leads"] <= 10_000
    assert counts["targets"] > 0 and counts["payments"] > 0 and counts["renewals"] > 0


def test_every_planted_case_points_at_rows_of_its_person(store, sample) -> None:
    tables = {t.name: t for t in metadata.sorted_tables}
    assert len({case.pattern for case in sample.ground_truth}) == 13
    with store.connect() as conn:
        for case in sample.ground_truth:
            table = tables[case.table]
            columns = [table.c[name] for name in _OWNER_COLUMNS[case.table]]
            rows = conn.execute(select(table.c.id, *columns).where(table.c.id.in_(case.record_ids))).all()
            assert len(rows) == len(case.record_ids), case.pattern
            assert all(case.person_id in row[1:] for row in rows), case.pattern


def test_deal_splitting_case_has_three_small_deals_that_together_pass_the_limit(store, sample) -> None:
    case = next(c for c in sample.ground_truth if c.pattern == "deal_splitting")
    with store.connect() as conn:
        rows = conn.execute(
            select(deals.c.amount, deals.c.customer_id, deals.c.closed_at).where(deals.c.id.in_(case.record_ids))
        ).all()
    assert len(rows) == 3 and len({r.customer_id for r in rows}) == 1
    assert all(r.amount < Decimal("50000") for r in rows) and sum(r.amount for r in rows) > Decimal("50000")
    assert (max(r.closed_at for r in rows) - min(r.closed_at for r in rows)).days <= 4


def test_clean_company_has_no_ground_truth_and_no_unchannelled_leads(store) -> None:
    with store.begin() as conn:
        summary = generate_sample_company(conn, clean=True)
    assert summary.ground_truth == ()
    assert '"cases": []' in summary.ground_truth_json()
    with store.connect() as conn:
        assert conn.execute(select(func.count()).where(leads.c.channel.is_(None))).scalar_one() == 0


def test_money_comes_back_as_exact_decimals_and_nothing_is_deleted(store, sample) -> None:
    with store.connect() as conn:
        amounts = conn.execute(select(deals.c.amount, deals.c.discount, deals.c.is_deleted)).all()
        paid = conn.execute(select(payments.c.deal_id, func.sum(payments.c.amount)).group_by(payments.c.deal_id)).all()
        owed = dict(conn.execute(select(deals.c.id, deals.c.amount)).all())
    assert all(isinstance(a, Decimal) and a == a.quantize(Decimal("0.01")) for a, _, _ in amounts)
    assert all(isinstance(d, Decimal) and Decimal(0) <= d <= Decimal("0.30") for _, d, _ in amounts)
    assert not any(deleted for _, _, deleted in amounts)
    assert all(total <= owed[deal_id] for deal_id, total in paid)


def test_time_stamps_are_aware_utc_and_deals_close_after_they_open(store, sample) -> None:
    with store.connect() as conn:
        rows = conn.execute(select(deals.c.created_at, deals.c.closed_at, deals.c.modified_at, deals.c.status)).all()
        visits = conn.execute(select(activities.c.occurred_at).limit(50)).scalars().all()
    assert all(v.utcoffset() is not None and v.utcoffset().total_seconds() == 0 for v in visits)
    for created, closed, modified, status in rows:
        assert (closed is None) == (status == "open")
        if closed is not None:
            assert created < closed <= modified
        assert modified >= created


def test_some_deals_close_at_half_past_eleven_shanghai_on_a_month_end(store, sample) -> None:
    with store.connect() as conn:
        closes = conn.execute(select(deals.c.closed_at).where(deals.c.closed_at.is_not(None))).scalars().all()
    edge = [c for c in closes if (c.hour, c.minute) == (15, 30)]
    assert edge and all(c.day == _last_day(c.year, c.month) for c in edge)


def test_progress_is_reported_for_every_step(store) -> None:
    seen: list[tuple[str, int, int]] = []
    with store.begin() as conn:
        generate_sample_company(conn, clean=True, progress=lambda name, done, total: seen.append((name, done, total)))
    assert seen[0][1] == 0 and seen[-1][1] == seen[-1][2]
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)


def test_planted_case_is_immutable_and_serialises_its_record_ids() -> None:
    case = PlantedCase("duplicate_deal", "E1001", "2026-05", "deals", (4, 5), "Same deal twice.")
    with pytest.raises(AttributeError):
        case.person_id = "E1002"  # type: ignore[misc]
    summary = SampleSummary(1, "2026-01", "2026-12", {"deals": 2}, (case,))
    assert '"record_ids": [\n        4,\n        5\n      ]' in summary.ground_truth_json()


def _last_day(year: int, month: int) -> int:
    import calendar

    return calendar.monthrange(year, month)[1]
