"""``insert_many``, the bulk path of the importer, stores exactly what ``conn.execute(insert)`` stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from kpi_engine import schema
from kpi_engine.store.database import insert_many


def _deal(remote_id: str) -> dict[str, object]:
    return {
        "source": "crm",
        "remote_id": remote_id,
        "is_deleted": False,
        "name": "Order 'one'; --",
        "owner_id": None,
        "status": "won",
        "amount": Decimal("12345.6789"),
        "currency": "CNY",
        "discount": Decimal("0.125"),
        "created_at": datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
        "closed_at": datetime(2026, 3, 31, 23, 59, tzinfo=timezone(timedelta(hours=8))),
    }


def test_rows_written_in_bulk_read_back_as_rows_written_one_by_one(store):
    with store.begin() as conn:
        conn.execute(schema.deals.insert(), [_deal("A")])
        insert_many(conn, schema.deals, [_deal("B")])
    with store.connect() as conn:
        rows = {r.remote_id: r._asdict() for r in conn.execute(select(schema.deals))}
    one, bulk = rows["A"], rows["B"]
    for row in (one, bulk):
        del row["id"], row["remote_id"]
    assert bulk == one
    assert bulk["amount"] == Decimal("12345.6789")
    assert bulk["closed_at"] == datetime(2026, 3, 31, 15, 59, tzinfo=UTC)


def test_rows_written_in_bulk_are_found_by_the_queries_that_look_them_up(store):
    with store.begin() as conn:
        insert_many(conn, schema.deals, [_deal("B")])
    wanted = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    with store.connect() as conn:
        found = conn.execute(select(schema.deals.c.remote_id).where(schema.deals.c.created_at == wanted)).scalars()
        assert list(found) == ["B"]
