"""The records behind a line, as people know them: the CRM's own id, what the record is, its amount and day.

Traces name records by table and internal id; a rep recognises deal ``D002060`` of their CRM, not row
1113. ``RecordBook`` reads every record a report names in one query per table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select

from ..store import schema as s
from ..store.database import Store
from ..trace import RecordsRef

__all__ = ["RecordBook", "RecordRow"]

_CHUNK = 900


@dataclass(frozen=True)
class RecordRow:
    """A record behind a number: its table, the CRM's id (``source:remote id``), what it is, amount and day."""

    table: str
    id: Any
    crm_id: str
    description: str
    amount: Decimal | None
    currency: str | None
    day: date | datetime | None
    status: str | None


_DAY_COLUMN = {
    "deals": "closed_at",
    "activities": "occurred_at",
    "leads": "created_at",
    "payments": "received_at",
    "refunds": "occurred_at",
    "churn_events": "churned_at",
    "survey_responses": "responded_at",
    "support_tickets": "opened_at",
    "trainings": "occurred_at",
    "web_visits": "occurred_at",
    "renewals": "due_date",
    "marketing_spend": "day",
    "content_stats": "day",
}
_WHAT_COLUMNS = ("name", "subject", "kind", "title", "reason", "channel")
_STATUS_COLUMNS = ("status", "outcome")


class RecordBook:
    """Records read once for a whole report; ``rows(refs)`` answers from what was read."""

    def __init__(self, store: Store, refs: Iterable[RecordsRef]) -> None:
        wanted: dict[str, set[Any]] = defaultdict(set)
        for ref in refs:
            wanted[str(ref["table"])].update(ref["ids"])
        self._rows: dict[tuple[str, str], RecordRow] = {}
        tables = s.metadata.tables
        customers: dict[int, str] = {}
        with store.connect() as conn:
            if "deals" in wanted or "activities" in wanted:
                customers = dict(conn.execute(select(s.customers.c.id, s.customers.c.name)).all())
            for name, ids in wanted.items():
                table = tables.get(name)
                if table is None or "id" not in table.c:
                    continue
                keys = sorted({int(i) for i in ids if str(i).lstrip("-").isdigit()})
                for start in range(0, len(keys), _CHUNK):
                    for row in conn.execute(select(table).where(table.c.id.in_(keys[start : start + _CHUNK]))):
                        self._rows[(name, str(row.id))] = _record(name, table, row._mapping, customers)

    def rows(self, refs: Iterable[RecordsRef]) -> list[RecordRow]:
        """The records of ``refs`` in the order named (a record no longer stored is shown by its id)."""
        found = []
        for ref in refs:
            for rid in ref["ids"]:
                row = self._rows.get((str(ref["table"]), str(rid)))
                found.append(row or RecordRow(str(ref["table"]), rid, f"#{rid}", "", None, None, None, None))
        return found


def _record(name: str, table: Table, row: Any, customers: dict[int, str]) -> RecordRow:
    source, remote = row.get("source"), row.get("remote_id")
    crm_id = f"{remote}" if source in (None, "manual", "demo") else f"{source}:{remote}"
    what = next((str(row[c]) for c in _WHAT_COLUMNS if c in table.c and row.get(c)), "")
    customer = customers.get(row.get("customer_id")) if "customer_id" in table.c else None
    if customer:
        what = f"{what} · {customer}" if what else customer
    amount = row.get("amount") if "amount" in table.c else row.get("lost_amount")
    status = next((str(row[c]) for c in _STATUS_COLUMNS if c in table.c and row.get(c)), None)
    if row.get("is_deleted"):
        status = "deleted"
    day_column = _DAY_COLUMN.get(name)
    return RecordRow(
        table=name,
        id=row["id"],
        crm_id=crm_id if remote is not None else f"#{row['id']}",
        description=what,
        amount=amount,
        currency=row.get("currency"),
        day=row.get(day_column) if day_column else None,
        status=status,
    )
