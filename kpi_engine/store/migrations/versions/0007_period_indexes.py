"""facts: indexes that lead with what a period's metrics filter on, covering the columns they read

Every metric reads one period of a fact table: activities of some kinds between two instants, won
deals closed between two instants, each grouped by their owner. Indexes that led with the owner made
SQLite walk every owner's range and fetch each row from the table, a random read per row (a month
of 1.7 million activities: 4 s; a year: 40 s). Leading with the kind or status and the time, and
carrying the columns the metrics read, turns that into one range of the index (10 to 60 times
faster on SQLite; PostgreSQL reads the same ranges with index-only scans).

Revision ID: 0007_period_indexes
Revises: 0006_deal_customer_index
Create Date: 2026-12-04 22:30:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_period_indexes"
down_revision: str | Sequence[str] | None = "0006_deal_customer_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVITY_COLUMNS = ["kind", "occurred_at", "owner_id", "is_deleted", "customer_id", "deal_id", "has_evidence"]
DEAL_COLUMNS = ["status", "closed_at", "owner_id", "is_deleted", "currency", "amount", "customer_id", "discount"]


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_owner_time")
        batch_op.create_index("ix_activities_kind_time", ACTIVITY_COLUMNS, unique=False)
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_owner_closed")
        batch_op.create_index("ix_deals_status_closed", DEAL_COLUMNS, unique=False)
    # Without statistics for the new indexes SQLite guesses, and guesses badly (a month's metrics: 0.6 s
    # with them, 35 s without); PostgreSQL samples, quickly.
    op.execute("ANALYZE activities")
    op.execute("ANALYZE deals")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_status_closed")
        batch_op.create_index("ix_deals_owner_closed", ["owner_id", "closed_at"], unique=False)
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_kind_time")
        batch_op.create_index("ix_activities_owner_time", ["owner_id", "occurred_at"], unique=False)
