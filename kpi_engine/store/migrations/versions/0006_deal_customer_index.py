"""deals: one index for a customer's deals by owner and close (split orders, duplicates, first wins)

Anti-gaming checks look, for each won deal, for another deal of the same owner and customer closed
within days of it. An index on the customer alone made the database read every deal of the owner
in the window instead; (customer, owner, closed) answers that lookup directly and still serves every
query that looks deals up by customer, so it replaces ``ix_deals_customer``.

Revision ID: 0006_deal_customer_index
Revises: 0001
Create Date: 2026-12-04 19:30:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_deal_customer_index"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_customer")
        batch_op.create_index("ix_deals_customer_owner_closed", ["customer_id", "owner_id", "closed_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_customer_owner_closed")
        batch_op.create_index("ix_deals_customer", ["customer_id"], unique=False)
