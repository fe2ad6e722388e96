"""Roll-ups follow the organisation as it was: a mover counts for the old team before and the new one after."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from kpi_engine import compute_metric, get_registry, parse_period, schema


def test_a_person_who_moved_team_in_june_counts_for_each_team_in_its_own_months(store: Any) -> None:
    with store.begin() as conn:
        conn.execute(
            schema.teams.insert(),
            [
                {"id": "hq", "name": "HQ"},
                {"id": "east", "name": "East", "parent_team_id": "hq"},
                {"id": "north", "name": "North", "parent_team_id": "hq"},
            ],
        )
        conn.execute(
            schema.team_hierarchy.insert(),
            [{"team_id": t, "parent_team_id": "hq", "valid_from": date(2020, 1, 1)} for t in ("east", "north")],
        )
        conn.execute(
            schema.people.insert(),
            [{"id": "M", "name": "Mover", "role": "sales_rep", "team_id": "north", "region": "North"}],
        )
        conn.execute(
            schema.org_assignments.insert(),
            [
                {
                    "person_id": "M",
                    "team_id": "east",
                    "role": "sales_rep",
                    "region": "East",
                    "valid_from": date(2020, 1, 1),
                    "valid_to": date(2026, 6, 1),
                },
                {
                    "person_id": "M",
                    "team_id": "north",
                    "role": "sales_rep",
                    "region": "North",
                    "valid_from": date(2026, 6, 1),
                    "valid_to": None,
                },
            ],
        )
        for n, (day, amount) in enumerate(
            (
                (datetime(2026, 5, 31, 15, 59, tzinfo=UTC), "100"),
                (datetime(2026, 5, 31, 16, 1, tzinfo=UTC), "10"),
                (datetime(2026, 7, 2, tzinfo=UTC), "1"),
            )
        ):
            conn.execute(
                schema.deals.insert().values(
                    source="t",
                    remote_id=f"D{n}",
                    owner_id="M",
                    status="won",
                    amount=Decimal(amount),
                    currency="CNY",
                    created_at=day,
                    closed_at=day,
                    is_deleted=False,
                )
            )
    bookings = get_registry().metric("bookings")
    with store.connect() as conn:
        teams = {
            r.group: r.value
            for r in compute_metric(
                conn, bookings, parse_period("2026-04-01..2026-09-30"), by="team", time_zone="Asia/Shanghai"
            )
        }
        regions = {
            r.group: r.value
            for r in compute_metric(conn, bookings, parse_period("2026"), by="region", time_zone="Asia/Shanghai")
        }
    # 31 May 15:59 UTC is 23:59 in Shanghai (still May, East); 16:01 UTC is already 1 June there (North).
    assert teams == {"east": Decimal(100), "north": Decimal(11), "hq": Decimal(111)}
    assert regions == {"East": Decimal(100), "North": Decimal(11)}
