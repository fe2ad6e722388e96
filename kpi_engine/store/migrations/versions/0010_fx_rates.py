"""fx rates: what one unit of a currency is worth in another on a day, for plans that convert

A plan declares how facts in other currencies are converted into its own (the rate on the fact's
date, the period's average or a fixed rate of the plan); the dated rates are imported into
``fx_rates``, unique by currency pair and day, exact to ten decimal places.

Revision ID: 0010_fx_rates
Revises: 0009_pay_cycle
Create Date: 2026-12-08 05:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kpi_engine.money import ExactDecimal
from kpi_engine.store.columns import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0010_fx_rates"
down_revision: str | Sequence[str] | None = "0009_pay_cycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "fx_rates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", ExactDecimal(10), nullable=False),
        sa.Column("modified_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
        sa.UniqueConstraint("from_currency", "to_currency", "day", name="uq_fx_rates_pair_day"),
    )
    op.create_index("ix_fx_rates_to_day", "fx_rates", ["to_currency", "day"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_fx_rates_to_day", table_name="fx_rates")
    op.drop_table("fx_rates")
