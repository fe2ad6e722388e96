"""What notifying and the daily loop record (migration 0013_notifications).

``notifications`` is the outbox: one row per channel and event, unique by ``(channel, event_key)``, so
an event is sent to a channel once whatever runs again; a row stays ``pending`` until a delivery
succeeds, with its attempts, the time of the next one and the last error. ``daily_runs`` records each
run of ``kpi daily``: when, what it did, how it ended.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from .columns import UTCDateTime, metadata

__all__ = ["daily_runs", "notifications"]

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("channel", String(100), nullable=False),
    Column("event_key", String(400), nullable=False),
    Column("kind", String(32), nullable=False),  # pip / alert / finding / approval / digest
    Column("period", String(32)),
    Column("person_id", String(64)),
    Column("event", JSON, nullable=False),  # what the message is rendered from, at the channel's level of detail
    Column("status", String(16), nullable=False),  # pending / sending / sent / failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime()),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    UniqueConstraint("channel", "event_key", name="uq_notifications_channel_event"),
    Index("ix_notifications_status", "status", "channel"),
)

daily_runs = Table(
    "daily_runs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("period", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # running / done / failed
    Column("host", String(200)),
    Column("summary", JSON),
    Column("error", Text),
    Index("ix_daily_runs_started", "started_at"),
)
