"""notifications: the outbox of kpi notify (each event sent to a channel once), and the runs of kpi daily

Revision ID: 0013_notifications
Revises: 0011_deal_cost
Create Date: 2026-12-08 02:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kpi_engine.store.columns import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0013_notifications"
down_revision: str | Sequence[str] | None = "0011_deal_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("event_key", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=True),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "event_key", name="uq_notifications_channel_event"),
    )
    op.create_index("ix_notifications_status", "notifications", ["status", "channel"], unique=False)
    op.create_table(
        "daily_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_daily_runs_started", "daily_runs", ["started_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_daily_runs_started", table_name="daily_runs")
    op.drop_table("daily_runs")
    op.drop_index("ix_notifications_status", table_name="notifications")
    op.drop_table("notifications")
