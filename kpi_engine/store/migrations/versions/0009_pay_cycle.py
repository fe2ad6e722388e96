"""pay cycle: periods through their lifecycle, the payout ledger, adjustments, the audit trail

Each plan's period is calculated, approved (by someone other than who evaluated it) and closed;
closing posts the run's money lines to an append-only ledger whose ``entry_key`` is unique, so an
amount is posted once. Runs record who evaluated them and which fact tables they read; outcome
lines what they are in the ledger and what payroll pays them as. ``fact_changes`` records what
each load changed and the time its rows are about, so that a closed period touched by a later
change is compared with what it paid.

Revision ID: 0009_pay_cycle
Revises: 0008_outcome_status
Create Date: 2026-12-08 03:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kpi_engine.money import Money
from kpi_engine.store.columns import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0009_pay_cycle"
down_revision: str | Sequence[str] | None = "0008_outcome_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "period_states",
        sa.Column("plan_id", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("evaluated_by", sa.String(length=100), nullable=False),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", "period", name=op.f("pk_period_states")),
    )
    op.create_index("ix_period_states_days", "period_states", ["plan_id", "period_start", "period_end"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entry_key", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=100), nullable=True),
        sa.Column("rule_id", sa.String(length=100), nullable=True),
        sa.Column("period_earned", sa.String(length=32), nullable=False),
        sa.Column("period_posted", sa.String(length=32), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("outcome_id", BIG_ID, nullable=True),
        sa.Column("corrects", sa.String(length=32), nullable=True),
        sa.Column("adjustment_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("posted_by", sa.String(length=100), nullable=False),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("entry_key", name=op.f("uq_ledger_entries_entry_key")),
    )
    op.create_index("ix_ledger_entries_person", "ledger_entries", ["person_id", "period_posted"])
    op.create_index("ix_ledger_entries_posted", "ledger_entries", ["period_posted", "plan_id"])
    op.create_index("ix_ledger_entries_earned", "ledger_entries", ["plan_id", "period_earned"])
    op.create_table(
        "adjustments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=100), nullable=True),
        sa.Column("rule_id", sa.String(length=100), nullable=True),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("corrects", sa.String(length=32), nullable=True),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("proposal_key", sa.String(length=400), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjustments")),
        sa.UniqueConstraint("proposal_key", name=op.f("uq_adjustments_proposal_key")),
    )
    op.create_index("ix_adjustments_period", "adjustments", ["period", "status"])
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=100), nullable=True),
        sa.Column("period", sa.String(length=32), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "fact_changes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=True),
        sa.Column("last_at", UTCDateTime(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fact_changes")),
    )
    op.create_index("ix_fact_changes_at", "fact_changes", ["changed_at", "table_name"])
    with op.batch_alter_table("evaluation_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evaluated_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("tables_read", sa.JSON(), nullable=True))
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ledger_kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("component", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_column("component")
        batch_op.drop_column("ledger_kind")
    with op.batch_alter_table("evaluation_runs", schema=None) as batch_op:
        batch_op.drop_column("tables_read")
        batch_op.drop_column("evaluated_by")
    for table, index in (
        ("fact_changes", "ix_fact_changes_at"),
        ("audit_log", "ix_audit_log_at"),
        ("adjustments", "ix_adjustments_period"),
        ("ledger_entries", "ix_ledger_entries_earned"),
        ("ledger_entries", "ix_ledger_entries_posted"),
        ("ledger_entries", "ix_ledger_entries_person"),
        ("period_states", "ix_period_states_days"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("fact_changes", "audit_log", "adjustments", "ledger_entries", "period_states"):
        op.drop_table(table)
