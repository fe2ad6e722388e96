"""Column types and conventions every table of the schema shares: UTC time stamps, naming, a fact's source."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, MetaData, String
from sqlalchemy.types import TypeDecorator

__all__ = ["UTCDateTime", "metadata", "source_columns"]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC on every backend and returned aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"time stamp {value.isoformat()} has no time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # aggregates over SQLite come back as text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def source_columns() -> list[Column[Any]]:
    """Where a record came from, and when it last changed there."""
    return [
        Column("source", String(64), nullable=False, default="manual"),
        Column("remote_id", String(128), nullable=False),
        Column("modified_at", UTCDateTime(), nullable=True),
        Column("is_deleted", Boolean, nullable=False, default=False),
    ]
