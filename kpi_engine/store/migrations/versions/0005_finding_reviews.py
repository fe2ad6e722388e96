"""findings: HR's review of anti-gaming findings (release or uphold)

Revision ID: 0005_finding_reviews
Revises: 0001
Create Date: 2026-11-22 03:20:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_finding_reviews"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "finding_reviews",
        sa.Column("finding_id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=100), nullable=False),
        sa.Column("check_rule", sa.String(length=100), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("finding_id", name=op.f("pk_finding_reviews")),
    )
    with op.batch_alter_table("finding_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_finding_reviews_plan", ["plan_id", "period"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("finding_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_finding_reviews_plan")
    op.drop_table("finding_reviews")
