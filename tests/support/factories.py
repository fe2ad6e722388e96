"""Small helpers that put facts into a store for tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from kpi_engine import Store, schema


def add_person(
    store: Store, person_id: str, *, role: str = "sales_rep", team: str | None = None, **extra: object
) -> None:
    with store.begin() as conn:
        if team:
            exists = conn.execute(schema.teams.select().where(schema.teams.c.id == team)).first()
            if not exists:
                conn.execute(schema.teams.insert().values(id=team, name=team))
        conn.execute(schema.people.insert().values(id=person_id, name=person_id, role=role, team_id=team, **extra))


def add_won_deals(
    store: Store,
    owner: str,
    amounts: list[str],
    *,
    closed_at: datetime = datetime(2026, 10, 15, 8, 0, tzinfo=UTC),
    currency: str = "USD",
    source: str = "test",
) -> list[int]:
    """Won deals for ``owner`` closed at ``closed_at``; returns their ids in order."""
    ids = []
    with store.begin() as conn:
        start = conn.execute(schema.deals.select()).all()
        for n, amount in enumerate(amounts, start=len(start) + 1):
            result = conn.execute(
                schema.deals.insert().values(
                    source=source,
                    remote_id=f"{owner}-{n}",
                    owner_id=owner,
                    status="won",
                    stage_raw="Closed Won",
                    amount=Decimal(amount),
                    currency=currency,
                    created_at=closed_at,
                    closed_at=closed_at,
                    modified_at=closed_at,
                    is_deleted=False,
                )
            )
            ids.append(result.inserted_primary_key[0])
    return ids


def add_target(store: Store, person: str, metric: str, period: str, target: str, **levels: str) -> None:
    with store.begin() as conn:
        conn.execute(
            schema.targets.insert().values(
                subject_type="person",
                subject_id=person,
                metric=metric,
                period=period,
                target=Decimal(target),
                **{k: Decimal(v) for k, v in levels.items()},
            )
        )


__all__ = ["add_person", "add_target", "add_won_deals", "date"]
