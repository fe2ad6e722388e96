"""outcomes: a recommendation's, alert's or finding's status and whether it asks someone to act

A rule result says where it stands in two columns of its own: ``status``, in its rule type's words
(``raised``, ``firing``, ``resolved``), and ``attention``. The commands read ``attention`` instead of
knowing each plugin's words for "nothing to do". Lines saved before this migration have no status
and ask for no attention until their period is evaluated again.

Revision ID: 0008_outcome_status
Revises: 0001
Create Date: 2026-12-08 01:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008_outcome_status"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("attention", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_column("attention")
        batch_op.drop_column("status")
