"""A deal's cost and go-live date import from a file's columns (migration 0011), exactly.

Before: deals carried no cost, so a plan on gross margin could not be written (``uses unknown name 'cogs'``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from kpi_engine import import_file, schema
from tests.ingest.test_import import DATA


def test_cost_and_go_live_are_imported_exactly(store, tmp_path):
    import_file(store, DATA / "people.csv")
    deals = tmp_path / "deals.csv"
    deals.write_text(
        "Remote ID,Owner ID,Stage Raw,Amount,Currency,Closed At,Cost,Go Live At\n"
        'D-1,E1001,Closed Won,"12,500.00",USD,2026-10-15T08:00:00Z,"7,812.5050",2026-11-20T00:00:00Z\n'
        "D-2,E1001,Closed Won,3000,USD,2026-10-16T08:00:00Z,,\n",
        encoding="utf-8",
    )
    import_file(store, deals)
    d = schema.deals
    with store.connect() as conn:
        rows = conn.execute(select(d.c.remote_id, d.c.cost, d.c.go_live_at).order_by(d.c.remote_id)).all()
    assert rows == [
        ("D-1", Decimal("7812.5050"), datetime(2026, 11, 20, tzinfo=UTC)),
        ("D-2", None, None),
    ]
