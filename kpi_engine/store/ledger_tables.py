"""The pay cycle's records: each plan's periods through their lifecycle, the payout ledger, manual
adjustments, and the audit trail of who did what (migration 0009_pay_cycle).

The ledger is append-only: an entry is never updated or deleted. ``entry_key`` names the economic
event an entry pays (a plan's rule for a person and a period, a released hold, a correction of a
closed period ...), and is unique, so that an amount is posted once and only once whatever is
evaluated, closed or exported again.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Date, Index, Integer, String, Table, Text

from ..money import Money
from .columns import UTCDateTime, metadata

__all__ = ["adjustments", "audit_log", "ledger_entries", "period_states"]

period_states = Table(
    "period_states",
    metadata,
    Column("plan_id", String(100), primary_key=True),
    Column("period", String(32), primary_key=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),  # exclusive
    Column("status", String(16), nullable=False),  # calculated / approved / closed
    Column("run_id", String(32), nullable=False),  # the run the status is about (approval is of its numbers)
    Column("evaluated_by", String(100), nullable=False),
    Column("evaluated_at", UTCDateTime(), nullable=False),
    Column("approved_by", String(100)),
    Column("approved_at", UTCDateTime()),
    Column("closed_by", String(100)),
    Column("closed_at", UTCDateTime()),
    Index("ix_period_states_days", "plan_id", "period_start", "period_end"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("entry_key", String(400), nullable=False, unique=True),
    # earning / hold / release / clawback / adjustment / draw_advance / draw_recovery / payment
    Column("kind", String(32), nullable=False),
    Column("component", String(64), nullable=False),  # what payroll pays it as: commission, bonus, draw ...
    Column("person_id", String(64), nullable=False),
    Column("plan_id", String(100)),  # none for a manual adjustment that names no plan
    Column("rule_id", String(100)),
    Column("period_earned", String(32), nullable=False),
    Column("period_posted", String(32), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("run_id", String(32)),
    Column("outcome_id", BigInteger().with_variant(Integer, "sqlite")),
    Column("corrects", String(32)),  # the period a correction or prior-period adjustment is about
    Column("adjustment_id", Integer),
    Column("description", Text, nullable=False),
    Column("posted_by", String(100), nullable=False),
    Column("posted_at", UTCDateTime(), nullable=False),
    Index("ix_ledger_entries_person", "person_id", "period_posted"),
    Index("ix_ledger_entries_posted", "period_posted", "plan_id"),
    Index("ix_ledger_entries_earned", "plan_id", "period_earned"),
)

adjustments = Table(
    "adjustments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", String(16), nullable=False),  # manual / prior_period
    Column("person_id", String(64), nullable=False),
    Column("plan_id", String(100)),
    Column("rule_id", String(100)),
    Column("period", String(32), nullable=False),  # the period it is paid in
    Column("corrects", String(32)),  # a prior-period adjustment: the closed period it corrects
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("component", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", JSON),  # a prior-period adjustment's comparison: paid, now, the records behind it
    Column("proposal_key", String(400), unique=True),  # the same proposal evaluated again is the same row
    Column("status", String(16), nullable=False),  # pending / approved / rejected
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("decided_by", String(100)),
    Column("decided_at", UTCDateTime()),
    Index("ix_adjustments_period", "period", "status"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    # evaluate / approve / close / reopen / adjust / approve_adjustment / reject_adjustment / review / pay
    Column("action", String(32), nullable=False),
    Column("plan_id", String(100)),
    Column("period", String(32)),
    Column("run_id", String(32)),
    Column("subject", String(200)),  # a person, a finding, an adjustment
    Column("reason", Text),
    Column("details", JSON),
    Index("ix_audit_log_at", "at"),
)
