"""What loading records: file imports, CRM syncs (their runs, state and refreshed tokens)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from .columns import UTCDateTime, metadata

__all__ = ["connector_tokens", "fact_changes", "imports", "sync_runs", "sync_state"]


sync_state = Table(
    "sync_state",
    metadata,
    Column("connector", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file_name", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_inserted", Integer, nullable=False),
    Column("rows_updated", Integer, nullable=False),
    Column("imported_at", UTCDateTime(), nullable=False),
)


# --- connectors: sync runs and refreshed OAuth tokens (migration 0004_connectors) ------

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connector", String(100), nullable=False),
    Column("source", String(64), nullable=False),
    Column("full_refresh", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),  # running / succeeded / failed / stopped
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("records_read", Integer, nullable=False, default=0),
    Column("inserted", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("deleted", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("summary", JSON),  # per stream counts and skipped reasons
    Column("error", Text),
    Index("ix_sync_runs_connector", "connector", "started_at"),
)

connector_tokens = Table(
    "connector_tokens",
    metadata,
    Column("key", String(200), primary_key=True),  # e.g. hubspot:<client id>
    Column("value", JSON, nullable=False),  # access and refresh token of an OAuth app
    Column("updated_at", UTCDateTime(), nullable=False),
)


fact_changes = Table(
    "fact_changes",
    metadata,
    # What each load changed, and the time the changed rows are about (migration 0009_pay_cycle): the first
    # and last time stamp or date found in the rows inserted or updated (before and after the change). A
    # closed period whose days a later change touches is compared with what it paid (prior-period
    # adjustments); a change with no time (an organisation row without dates) touches every period.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("table_name", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
    Column("first_at", UTCDateTime()),
    Column("last_at", UTCDateTime()),
    Column("rows", Integer, nullable=False),
    Index("ix_fact_changes_at", "changed_at", "table_name"),
)
