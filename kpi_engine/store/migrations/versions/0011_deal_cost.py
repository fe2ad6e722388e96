"""deals: the cost of what was sold (margin = amount − cost) and the go-live date (an instalment milestone)

A plan on gross margin reads ``deals.cost`` (the cost of goods or of delivery, in the deal's currency, as the
CRM or the import gives it; empty when unknown). An instalment schedule may pay part of a deal's commission
when the customer goes live: ``deals.go_live_at``.

Revision ID: 0011_deal_cost
Revises: 0009_pay_cycle
Create Date: 2026-12-09 02:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kpi_engine.money import Money
from kpi_engine.store.columns import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0011_deal_cost"
down_revision: str | Sequence[str] | None = "0010_fx_rates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost", Money(), nullable=True))
        batch_op.add_column(sa.Column("go_live_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_column("go_live_at")
        batch_op.drop_column("cost")
