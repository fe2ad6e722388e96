"""The common schema: every CRM and file lands in these tables (SQLAlchemy Core).

Conventions:
- people and teams have short string ids that HR uses in plans (``E1001``, ``east``);
- facts (deals, activities, leads, ...) have integer ids and are unique by
  ``(source, remote_id)``: the system they came from and its own id, so that
  re-importing or re-syncing upserts instead of duplicating;
- money is ``Money`` (exact scaled integer) with its ``currency`` beside it;
- time stamps are UTC (``UTCDateTime``); calendar days are ``Date``;
- deleted records stay as tombstones (``is_deleted``) so that history explains itself.

This module declares the facts and the organisation; the engine's records (``engine_tables``), the pay
cycle's (``ledger_tables``), what loading keeps (``load_tables``), exchange rates (``fx_tables``) and what
notifying keeps (``notify_tables``) are declared beside it on the same ``metadata`` and exported from here
too, so ``schema.<table>`` names every table.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..money import Money, Ratio
from .columns import UTCDateTime, metadata, source_columns
from .engine_tables import evaluation_runs, finding_reviews, outcomes
from .fx_tables import FX_RATE_SCALE, fx_rates
from .ledger_tables import adjustments, audit_log, ledger_entries, period_states
from .load_tables import connector_tokens, fact_changes, imports, sync_runs, sync_state
from .notify_tables import daily_runs, notifications

__all__ = [
    "ACTIVITY_KINDS",
    "DEAL_STATUSES",
    "FX_RATE_SCALE",
    "ROLES",
    "UTCDateTime",
    "activities",
    "adjustments",
    "audit_log",
    "churn_events",
    "connector_tokens",
    "content_stats",
    "customers",
    "daily_runs",
    "deal_splits",
    "deal_stage_history",
    "deals",
    "evaluation_runs",
    "fact_changes",
    "finding_reviews",
    "fx_rates",
    "imports",
    "leads",
    "ledger_entries",
    "manual_scores",
    "marketing_spend",
    "metadata",
    "notifications",
    "org_assignments",
    "outcomes",
    "payments",
    "people",
    "period_states",
    "refunds",
    "renewals",
    "survey_responses",
    "support_tickets",
    "sync_runs",
    "sync_state",
    "target_changes",
    "targets",
    "team_hierarchy",
    "teams",
    "trainings",
    "web_visits",
]

ROLES = ("sales_rep", "marketing_specialist", "customer_success", "manager")
DEAL_STATUSES = ("open", "won", "lost")
ACTIVITY_KINDS = ("call", "visit", "meeting", "email", "task")


# --- organisation -----------------------------------------------------------------

teams = Table(
    "teams",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region", String(100)),
    Column("parent_team_id", String(64), ForeignKey("teams.id")),
)

team_hierarchy = Table(
    "team_hierarchy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(64), ForeignKey("teams.id"), nullable=False),
    Column("parent_team_id", String(64), ForeignKey("teams.id")),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),  # exclusive; NULL = still in force
    Index("ix_team_hierarchy_team", "team_id", "valid_from"),
)

people = Table(
    "people",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("source", String(64), nullable=False, default="manual"),
    Column("remote_id", String(128)),
    Column("name", String(200), nullable=False),
    Column("email", String(200)),
    Column("role", String(64), nullable=False),
    Column("team_id", String(64), ForeignKey("teams.id")),
    Column("manager_id", String(64), ForeignKey("people.id")),
    Column("region", String(100)),
    Column("hire_date", Date),
    Column("leave_date", Date),
    Column("modified_at", UTCDateTime()),
)

org_assignments = Table(
    "org_assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(64), ForeignKey("people.id"), nullable=False),
    Column("team_id", String(64), ForeignKey("teams.id")),
    Column("manager_id", String(64), ForeignKey("people.id")),
    Column("role", String(64), nullable=False),
    Column("region", String(100)),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),  # exclusive; NULL = still in force
    Index("ix_org_assignments_person", "person_id", "valid_from"),
)

# --- customers and deals ----------------------------------------------------------

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("name", String(300), nullable=False),
    Column("segment", String(64)),
    Column("industry", String(100)),
    Column("region", String(100)),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("created_at", UTCDateTime()),
    UniqueConstraint("source", "remote_id", name="uq_customers_source_remote"),
)

deals = Table(
    "deals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("name", String(300)),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("stage_raw", String(100)),
    Column("status", String(8), nullable=False, default="open"),  # open / won / lost
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("discount", Ratio()),  # share of list price given away, 0.15 = 15 %
    Column("created_at", UTCDateTime()),
    Column("closed_at", UTCDateTime()),
    Column("product_line", String(100)),
    Column("lead_source", String(100)),
    Column("deal_type", String(32)),  # new / renewal / upsell
    Column("deleted_at", UTCDateTime()),
    Column("cost", Money()),  # cost of what was sold, in the deal's currency: margin = amount − cost (0011)
    Column("go_live_at", UTCDateTime()),  # when the customer went live: an instalment milestone (0011)
    UniqueConstraint("source", "remote_id", name="uq_deals_source_remote"),
    # A period's won deals, with what their metrics read (migration 0007).
    Index(
        "ix_deals_status_closed",
        "status",
        "closed_at",
        "owner_id",
        "is_deleted",
        "currency",
        "amount",
        "customer_id",
        "discount",
    ),
    Index("ix_deals_customer_owner_closed", "customer_id", "owner_id", "closed_at"),
)

deal_splits = Table(
    "deal_splits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deal_id", Integer, ForeignKey("deals.id"), nullable=False),
    Column("person_id", String(64), ForeignKey("people.id"), nullable=False),
    Column("share", Ratio(), nullable=False),  # 0.6 = 60 % of the credit
    Column("split_role", String(64)),
    UniqueConstraint("deal_id", "person_id", name="uq_deal_splits_deal_person"),
)

deal_stage_history = Table(
    "deal_stage_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deal_id", Integer, ForeignKey("deals.id"), nullable=False),
    Column("stage_raw", String(100), nullable=False),
    Column("status", String(8), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Index("ix_deal_stage_history_deal", "deal_id", "entered_at"),
)

# --- activity and funnel ----------------------------------------------------------

activities = Table(
    "activities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("kind", String(16), nullable=False),  # call / visit / meeting / email / task
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("deal_id", Integer, ForeignKey("deals.id")),
    Column("lead_id", Integer, ForeignKey("leads.id")),
    Column("duration_seconds", Integer),
    Column("has_evidence", Boolean, nullable=False, default=False),  # signed page, check-in, recording
    Column("subject", String(300)),
    UniqueConstraint("source", "remote_id", name="uq_activities_source_remote"),
    # A period's activities of some kinds, with what their metrics read (migration 0007).
    Index(
        "ix_activities_kind_time",
        "kind",
        "occurred_at",
        "owner_id",
        "is_deleted",
        "customer_id",
        "deal_id",
        "has_evidence",
    ),
)

leads = Table(
    "leads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("marketing_owner_id", String(64), ForeignKey("people.id")),
    Column("channel", String(64)),  # source channel; NULL = not recorded
    Column("campaign", String(200)),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("assigned_at", UTCDateTime()),
    Column("first_contact_at", UTCDateTime()),
    Column("mql_at", UTCDateTime()),
    Column("sql_at", UTCDateTime()),
    Column("converted_deal_id", Integer, ForeignKey("deals.id")),
    Column("status", String(32)),
    Column("score", Integer),
    UniqueConstraint("source", "remote_id", name="uq_leads_source_remote"),
    Index("ix_leads_created", "created_at"),
)

marketing_spend = Table(
    "marketing_spend",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("day", Date, nullable=False),
    Column("channel", String(64), nullable=False),
    Column("campaign", String(200)),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    UniqueConstraint("source", "remote_id", name="uq_marketing_spend_source_remote"),
    Index("ix_marketing_spend_day", "day"),
)

# --- money after the deal ---------------------------------------------------------

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("deal_id", Integer, ForeignKey("deals.id")),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    UniqueConstraint("source", "remote_id", name="uq_payments_source_remote"),
    Index("ix_payments_deal", "deal_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("deal_id", Integer, ForeignKey("deals.id")),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("kind", String(16), nullable=False),  # refund / cancellation / credit_note
    Column("amount", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("reason", String(300)),
    UniqueConstraint("source", "remote_id", name="uq_refunds_source_remote"),
    Index("ix_refunds_deal", "deal_id"),
)

renewals = Table(
    "renewals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("contract_deal_id", Integer, ForeignKey("deals.id")),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("due_date", Date, nullable=False),
    Column("outcome", String(16), nullable=False),  # pending / renewed / churned
    Column("renewal_deal_id", Integer, ForeignKey("deals.id")),
    Column("amount", Money()),
    Column("currency", String(3)),
    Column("decided_at", UTCDateTime()),
    UniqueConstraint("source", "remote_id", name="uq_renewals_source_remote"),
)

churn_events = Table(
    "churn_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("deal_id", Integer, ForeignKey("deals.id")),
    Column("churned_at", UTCDateTime(), nullable=False),
    Column("lost_amount", Money()),
    Column("currency", String(3)),
    Column("reason", String(300)),
    UniqueConstraint("source", "remote_id", name="uq_churn_events_source_remote"),
)

survey_responses = Table(
    "survey_responses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("kind", String(32), nullable=False),  # nps / satisfaction / complaint_satisfaction
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("person_id", String(64), ForeignKey("people.id")),  # whom the answer rates
    Column("deal_id", Integer, ForeignKey("deals.id")),
    Column("score", Ratio(), nullable=False),  # NPS 0-10, satisfaction 1-5
    Column("responded_at", UTCDateTime(), nullable=False),
    UniqueConstraint("source", "remote_id", name="uq_survey_responses_source_remote"),
)

# --- targets and hand-entered scores ----------------------------------------------

targets = Table(
    "targets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_type", String(8), nullable=False),  # person / team / company
    Column("subject_id", String(64), nullable=False),
    Column("metric", String(100), nullable=False),
    Column("period", String(32), nullable=False),  # canonical period label, e.g. 2026-10
    Column("baseline", Ratio()),
    Column("target", Ratio(), nullable=False),
    Column("challenge", Ratio()),
    Column("currency", String(3)),
    Column("reason", Text),
    Column("modified_at", UTCDateTime()),
    UniqueConstraint("subject_type", "subject_id", "metric", "period", name="uq_targets_subject_metric_period"),
)

manual_scores = Table(
    "manual_scores",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(64), ForeignKey("people.id"), nullable=False),
    Column("metric", String(100), nullable=False),  # e.g. report_quality, manager_review
    Column("period", String(32), nullable=False),
    Column("score", Ratio(), nullable=False),
    Column("scored_by", String(64)),
    Column("comment", Text),
    Column("entered_at", UTCDateTime()),
    UniqueConstraint("person_id", "metric", "period", name="uq_manual_scores_person_metric_period"),
)


# --- metrics: web traffic, content, support, training; target change log (migration 0003_metrics) ----

web_visits = Table(
    "web_visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("visitor_id", String(128), nullable=False),  # cookie or device id: unique visitors count these
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("channel", String(64)),  # search / social / direct / referral / content / event
    Column("campaign", String(200)),
    Column("owner_id", String(64), ForeignKey("people.id")),  # marketing owner of the channel or campaign
    Column("landing_page", String(300)),
    Column("form_submitted", Boolean, nullable=False, default=False),
    Column("is_suspect", Boolean, nullable=False, default=False),  # fake traffic, excluded from every metric
    UniqueConstraint("source", "remote_id", name="uq_web_visits_source_remote"),
    Index("ix_web_visits_time", "occurred_at"),
)

content_stats = Table(
    "content_stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("content_id", String(128), nullable=False),  # article, video, whitepaper or social post
    Column("title", String(300)),
    Column("kind", String(32)),
    Column("channel", String(64)),
    Column("campaign", String(200)),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("day", Date, nullable=False),
    Column("impressions", Integer, nullable=False, default=0),
    Column("clicks", Integer, nullable=False, default=0),
    Column("downloads", Integer, nullable=False, default=0),
    Column("likes", Integer, nullable=False, default=0),
    Column("comments", Integer, nullable=False, default=0),
    Column("shares", Integer, nullable=False, default=0),
    Column("followers", Integer),  # audience the post reached (social accounts); NULL elsewhere
    UniqueConstraint("source", "remote_id", name="uq_content_stats_source_remote"),
    Index("ix_content_stats_day", "day"),
)

support_tickets = Table(
    "support_tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("kind", String(32), nullable=False),  # issue / complaint / question
    Column("priority", String(16)),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("first_response_at", UTCDateTime()),
    Column("resolved_at", UTCDateTime()),
    UniqueConstraint("source", "remote_id", name="uq_support_tickets_source_remote"),
    Index("ix_support_tickets_resolved", "resolved_at"),
)

trainings = Table(
    "trainings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *source_columns(),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("owner_id", String(64), ForeignKey("people.id")),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("attendees", Integer),
    Column("topic", String(300)),
    UniqueConstraint("source", "remote_id", name="uq_trainings_source_remote"),
    Index("ix_trainings_time", "occurred_at"),
)

target_changes = Table(
    "target_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_type", String(8), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("metric", String(100), nullable=False),
    Column("period", String(32), nullable=False),
    Column("old_target", Ratio()),
    Column("new_target", Ratio(), nullable=False),
    Column("old_baseline", Ratio()),
    Column("new_baseline", Ratio()),
    Column("old_challenge", Ratio()),
    Column("new_challenge", Ratio()),
    Column("change", Ratio()),  # new / old - 1; NULL for a first target
    Column("reason", Text),
    Column("changed_by", String(64)),
    Column("changed_at", UTCDateTime(), nullable=False),
    Index("ix_target_changes_subject", "subject_type", "subject_id", "metric", "period"),
)

Index("ix_leads_converted_deal", leads.c.converted_deal_id)

# Customers are resolved by remote id or by name within a source (connectors and imports alike; migration
# 0004_connectors).
Index("ix_customers_source_name", customers.c.source, customers.c.name)
