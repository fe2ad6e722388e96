"""What is stored, as it was imported: the rows of any entity (filtered), and a summary of every entity.

Rows are shown in the import's own terms: a payment's deal by its remote id, a deal's customer by the
customer's remote id, so that what was imported can be checked against the export it came from (and
exported again). ``id`` is the stored id that traces and findings name (``deals #12``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Boolean, Connection, Date, Integer, Table, cast, func, literal, select
from sqlalchemy.sql import ColumnElement

from ..errors import ConfigurationError
from ..money import ExactDecimal, to_decimal
from ..periods import zone
from ..store import schema as s
from .cells import parse_datetime
from .loading import entity_table
from .records import ENTITIES, entity_name
from .references import CUSTOMER_FIELDS, DEAL_FIELDS

__all__ = ["EntitySummary", "StoredRows", "entity_summaries", "stored_rows", "sync_summaries"]

TIME_COLUMNS = {
    "team_hierarchy": "valid_from",
    "people": "hire_date",
    "org_assignments": "valid_from",
    "customers": "created_at",
    "deals": "closed_at",
    "deal_stage_history": "entered_at",
    "leads": "created_at",
    "activities": "occurred_at",
    "payments": "received_at",
    "refunds": "occurred_at",
    "renewals": "due_date",
    "churn_events": "churned_at",
    "survey_responses": "responded_at",
    "support_tickets": "opened_at",
    "trainings": "occurred_at",
    "marketing_spend": "day",
    "web_visits": "occurred_at",
    "content_stats": "day",
    "targets": "period",
    "manual_scores": "period",
    "fx_rates": "day",
}
"""The column that says when each entity's rows happened (the date range of ``kpi data summary``)."""
_DEAL_COLUMNS = {column: name for name, column in DEAL_FIELDS.items()}
_CUSTOMER_COLUMNS = {column: name for name, column in CUSTOMER_FIELDS.items()}
_FILTER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<|~)\s*(.*)$")


@dataclass(frozen=True)
class StoredRows:
    """Rows of one entity with their columns, in the import's terms."""

    entity: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    total: int  # rows matching the filters, before ``limit``


_LAST = ("source", "modified_at", "is_deleted", "deleted_at")  # bookkeeping: after what the row says


def _columns(table: Table) -> dict[str, ColumnElement[Any]]:
    """Output name → expression: references to deals and customers as their remote ids, bookkeeping last."""
    shown: dict[str, ColumnElement[Any]] = {}
    ordered = [c for c in table.c if c.name not in _LAST] + [table.c[n] for n in _LAST if n in table.c]
    for column in ordered:
        if column.name in _DEAL_COLUMNS and table is not s.deals:
            deal = s.deals.alias(f"ref_{column.name}")
            shown[_DEAL_COLUMNS[column.name]] = (
                select(deal.c.remote_id).where(deal.c.id == column).scalar_subquery().label(_DEAL_COLUMNS[column.name])
            )
        elif column.name in _CUSTOMER_COLUMNS:
            customer = s.customers.alias("ref_customer")
            shown["customer"] = (
                select(customer.c.remote_id).where(customer.c.id == column).scalar_subquery().label("customer")
            )
        else:
            shown[column.name] = column
    return shown


def _value(column: ColumnElement[Any], text: str, name: str, time_zone: str | None) -> Any:
    """A filter's value read as the column's type (a day, a time stamp, an amount, yes/no)."""
    kind = column.type
    readers: list[tuple[type, str, Any]] = [
        (ExactDecimal, "a number", to_decimal),
        (Boolean, "yes or no", _yes_no),
        (Integer, "a whole number", int),
        (Date, "a date such as 2026-10-01", lambda v: date.fromisoformat(v)),
        (s.UTCDateTime, "a date and time such as 2026-10-01 09:00", lambda v: _moment(v, time_zone)),
    ]
    for kind_of, what, read in readers:
        if isinstance(kind, kind_of):
            try:
                return read(text)
            except (ValueError, TypeError):
                raise ConfigurationError(f"{text!r} is not {what}, which {name} holds.") from None
    return text


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value in ("yes", "y", "true", "1", "是"):
        return True
    if value in ("no", "n", "false", "0", "否"):
        return False
    raise ValueError(text)


def _moment(text: str, time_zone: str | None) -> datetime:
    moment = parse_datetime(text, zone(time_zone) if time_zone else UTC)
    if moment is None:
        raise ValueError(text)
    return moment


def _condition(
    columns: dict[str, ColumnElement[Any]], text: str, entity: str, time_zone: str | None
) -> ColumnElement[bool]:
    match = _FILTER.match(text)
    if not match:
        raise ConfigurationError(
            f"the filter {text!r} is not FIELD=VALUE.",
            hint="e.g. --filter currency=USD --filter 'closed_at>=2026-10-01' --filter name~Acme",
        )
    name, op, raw = match.groups()
    if name not in columns:
        raise ConfigurationError(f"{name!r} is not a column of {entity}.", hint=f"its columns: {', '.join(columns)}")
    column = columns[name]
    if op == "~":
        return func.lower(column).contains(raw.strip().lower())
    if raw.strip() in ("", "null", "none") and op in ("=", "!="):
        return column.is_(None) if op == "=" else column.is_not(None)
    value = _value(column, raw.strip(), name, time_zone)
    comparisons = {
        "=": column == value,
        "!=": column != value,
        ">=": column >= value,
        "<=": column <= value,
        ">": column > value,
        "<": column < value,
    }
    return comparisons[op]


def stored_rows(
    conn: Connection,
    entity: str,
    filters: Sequence[str] = (),
    *,
    limit: int | None = None,
    time_zone: str | None = None,
) -> StoredRows:
    """The stored rows of ``entity`` matching every filter (``field=value``, ``>=``, ``<``, ``!=``, ``~`` contains).

    Time stamps are UTC, or in ``time_zone`` when given (filters on them are read in it too)."""
    name = entity_name(entity)
    table = entity_table(name)
    columns = _columns(table)
    conditions = [_condition(columns, f, name, time_zone) for f in filters]
    query = select(*columns.values()).where(*conditions)
    order = [table.c[c] for c in ("id",) if c in table.c] or list(table.primary_key.columns)
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar() or 0
    rows = [dict(r) for r in conn.execute(query.order_by(*order).limit(limit)).mappings()]
    if time_zone:
        local = zone(time_zone)
        for row in rows:
            for key, value in row.items():
                if isinstance(value, datetime):
                    row[key] = value.astimezone(local)
    return StoredRows(name, tuple(columns), rows, total)


@dataclass(frozen=True)
class EntitySummary:
    """What is stored of one entity from one source."""

    entity: str
    source: str
    rows: int
    deleted: int
    first: Any
    last: Any
    last_import: datetime | None


def entity_summaries(conn: Connection) -> list[EntitySummary]:
    """Counts per entity and source, the span of time the rows are about and the entity's last import."""
    imported = {
        (row.entity, row.source): row.last
        for row in conn.execute(
            select(s.imports.c.entity, s.imports.c.source, func.max(s.imports.c.imported_at).label("last")).group_by(
                s.imports.c.entity, s.imports.c.source
            )
        )
    }
    found: list[EntitySummary] = []
    for entity in ENTITIES:
        table = entity_table(entity)
        deleted = func.sum(cast(table.c.is_deleted, Integer())) if "is_deleted" in table.c else literal(0)
        at = table.c[TIME_COLUMNS[entity]] if entity in TIME_COLUMNS else None
        spans = [func.min(at), func.max(at)] if at is not None else [literal(None), literal(None)]
        if "source" in table.c:
            query = select(table.c.source, func.count(), deleted, *spans).group_by(table.c.source)
        else:
            query = select(literal(""), func.count(), deleted, *spans).select_from(table)
        for src, count, gone, first, last in conn.execute(query):
            if count:
                found.append(
                    EntitySummary(entity, src, count, int(gone or 0), first, last, imported.get((entity, src)))
                )
    return found


def sync_summaries(conn: Connection) -> list[dict[str, Any]]:
    """Each connector's last sync: when it finished, how it ended, what it read and changed."""
    r = s.sync_runs.c
    last = select(r.connector, func.max(r.id).label("id")).group_by(r.connector).subquery()
    rows = conn.execute(
        select(r.connector, r.source, r.status, r.finished_at, r.records_read, r.inserted, r.updated)
        .join(last, last.c.id == r.id)
        .order_by(r.connector)
    )
    return [
        {
            "connector": row.connector,
            "source": row.source,
            "status": row.status,
            "finished": row.finished_at,
            "records": row.records_read,
            "inserted": row.inserted,
            "updated": row.updated,
        }
        for row in rows
    ]
