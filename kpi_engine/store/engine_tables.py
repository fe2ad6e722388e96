"""The engine's own records: evaluation runs and their outcome lines, and HR's reviews of findings."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.sql.expression import false

from ..money import Money
from .columns import UTCDateTime, metadata

__all__ = ["evaluation_runs", "finding_reviews", "outcomes"]


evaluation_runs = Table(
    "evaluation_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("plan_id", String(100), nullable=False),
    Column("plan_version", String(64), nullable=False),
    Column("plan_hash", String(64), nullable=False),
    Column("period", String(32), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),  # exclusive
    Column("time_zone", String(64), nullable=False),
    Column("data_watermark", String(200), nullable=False),
    Column("engine_version", String(32), nullable=False),
    Column("status", String(16), nullable=False, default="open"),  # open / closed
    Column("created_at", UTCDateTime(), nullable=False),
    # Who evaluated, and the fact tables the evaluation read (migration 0009_pay_cycle).
    Column("evaluated_by", String(100)),
    Column("tables_read", JSON),
    Index("ix_evaluation_runs_plan_period", "plan_id", "period"),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("evaluation_runs.id", ondelete="CASCADE"), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("rule_id", String(100), nullable=False),
    Column("kind", String(32), nullable=False),  # payout / score / recommendation / alert / finding
    Column("amount", Money()),
    Column("currency", String(3)),
    Column("trace", JSON, nullable=False),
    # A recommendation's, alert's or finding's state in its rule type's words, and whether it asks
    # someone to act (migration 0008_outcome_status).
    Column("status", String(32)),
    Column("attention", Boolean, nullable=False, default=False, server_default=false()),
    # What a money line is in the payout ledger and what payroll pays it as (migration 0009_pay_cycle).
    Column("ledger_kind", String(32)),
    Column("component", String(64)),
    Index("ix_outcomes_run", "run_id", "person_id"),
)


# --- findings: HR's review of anti-gaming findings (migration 0005_finding_reviews) ----------------

finding_reviews = Table(
    "finding_reviews",
    metadata,
    Column("finding_id", String(32), primary_key=True),  # stable across re-runs: plan, check, person, period, evidence
    Column("plan_id", String(100), nullable=False),
    Column("check_rule", String(100), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("period", String(32), nullable=False),
    Column("decision", String(16), nullable=False),  # release / uphold
    Column("note", Text, nullable=False),
    Column("reviewed_by", String(100), nullable=False),
    Column("reviewed_at", UTCDateTime(), nullable=False),
    Index("ix_finding_reviews_plan", "plan_id", "period"),
)
