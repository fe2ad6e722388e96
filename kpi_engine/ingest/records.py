"""Boundary models: one validated record per row of a CRM export, before it touches the store.

Every model reads the loose values found in exports (``"12,500.00"``, ``"5%"``,
``"2026/10/31 23:30"``, ``"销售"``) into exact, typed values. Naive times are read in the
time zone given as ``default_tz`` in the validation context (UTC if absent) and kept
as aware UTC datetimes; a deal's status is derived from its raw stage with the
``stage_map`` of the context when the export has no status column (``strict_stages`` in the
context refuses a stage that is neither mapped nor known).

There is one model per table of facts (``ENTITIES``, in the order they can be loaded: what a record
names is loaded before it). This module holds the organisation, the deals and the funnel; the money
after the deal, marketing, service and exchange rates are in ``fact_records``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from ..errors import ConfigurationError, PeriodError
from ..periods import parse_period
from ..store.schema import ACTIVITY_KINDS
from .cells import (
    KIND_SYNONYMS,
    Currency,
    Day,
    Money,
    NonNegativeMoney,
    Ratio,
    Text,
    UTCTime,
    WholeNumber,
    YesNo,
    derive_status,
    is_blank,
    normal_text,
    parse_datetime,
    read_status,
    read_synonym,
)
from .fact_records import (
    ChurnEventRecord,
    ContentStatRecord,
    FxRateRecord,
    MarketingSpendRecord,
    PaymentRecord,
    RefundRecord,
    RenewalRecord,
    SupportTicketRecord,
    SurveyResponseRecord,
    TrainingRecord,
    WebVisitRecord,
)
from .org_records import OrgAssignmentRecord, TeamHierarchyRecord, TeamRecord, read_role
from .record_base import BaseRecord, not_before
from .vocabulary import stage_status

__all__ = [
    "ENTITIES",
    "RECORD_MODELS",
    "ActivityRecord",
    "BaseRecord",
    "ChurnEventRecord",
    "ContentStatRecord",
    "CustomerRecord",
    "DealRecord",
    "DealSplitRecord",
    "DealStageRecord",
    "FxRateRecord",
    "LeadRecord",
    "ManualScoreRecord",
    "MarketingSpendRecord",
    "OrgAssignmentRecord",
    "PaymentRecord",
    "PersonRecord",
    "RefundRecord",
    "RenewalRecord",
    "SupportTicketRecord",
    "SurveyResponseRecord",
    "TargetRecord",
    "TeamHierarchyRecord",
    "TeamRecord",
    "TrainingRecord",
    "WebVisitRecord",
    "derive_status",
    "entity_name",
    "parse_datetime",
]


class PersonRecord(BaseRecord):
    """A person of the organisation, keyed by the short id HR uses in plans."""

    entity: ClassVar[str] = "people"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)
    aliases: ClassVar[tuple[str, ...]] = (
        "person",
        "users",
        "user",
        "owners",
        "owner",
        "employees",
        "employee",
        "staff",
        "人员",
        "员工",
        "用户",
    )
    description: ClassVar[str] = "People: the id plans use, role, team, manager, employment dates."
    example: ClassVar[dict[str, str]] = {
        "id": "E1001",
        "name": "Alice Chen",
        "role": "sales_rep",
        "email": "alice@example.com",
        "team_id": "east",
        "manager_id": "M1",
        "region": "East",
        "hire_date": "2024-03-01",
        "leave_date": "",
    }
    references: ClassVar[dict[str, str]] = {
        "team_id": "a team (created when not yet known)",
        "manager_id": "a person (in this file or stored)",
    }

    id: Text
    name: Text
    role: Annotated[str, BeforeValidator(read_role)]
    email: Text | None = None
    team_id: Text | None = None
    manager_id: Text | None = None
    region: Text | None = None
    hire_date: Day | None = None
    leave_date: Day | None = None

    @field_validator("leave_date")
    @classmethod
    def _left_after_hired(cls, value: date | None, info: ValidationInfo) -> date | None:
        return not_before(value, info, "hire_date")

    @model_validator(mode="after")
    def _not_own_manager(self) -> PersonRecord:
        if self.manager_id is not None and self.manager_id == self.id:
            raise ValueError(f"{self.id} cannot be their own manager")
        return self


# --- customers and deals ------------------------------------------------------------------


class CustomerRecord(BaseRecord):
    """A customer (account) of a CRM; other records name it by its remote id or its name."""

    entity: ClassVar[str] = "customers"
    aliases: ClassVar[tuple[str, ...]] = ("customer", "accounts", "account", "clients", "companies", "客户", "账户")
    description: ClassVar[str] = "Customers (accounts) and their account owner, whom after-sale metrics credit."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "C-1",
        "name": "Acme Corp",
        "segment": "enterprise",
        "industry": "manufacturing",
        "region": "East",
        "owner_id": "E1001",
        "created_at": "2025-03-01",
    }
    references: ClassVar[dict[str, str]] = {"owner_id": "a person (the account owner)"}

    remote_id: Text
    name: Text
    segment: Text | None = None
    industry: Text | None = None
    region: Text | None = None
    owner_id: Text | None = None
    created_at: UTCTime | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False


class DealRecord(BaseRecord):
    """A deal (opportunity) of a CRM; ``status`` comes from the stage when absent."""

    entity: ClassVar[str] = "deals"
    derived_fields: ClassVar[tuple[str, ...]] = ("status",)
    aliases: ClassVar[tuple[str, ...]] = ("deal", "opportunities", "opportunity", "商机", "订单", "合同")
    description: ClassVar[str] = "Deals (opportunities): amount, currency, owner, stage or status, close time."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "D-1",
        "name": "Acme renewal",
        "customer": "C-1",
        "owner_id": "E1001",
        "stage_raw": "Closed Won",
        "status": "won",
        "amount": "12,500.00",
        "currency": "CNY",
        "discount": "5%",
        "created_at": "2026-09-01 09:00",
        "closed_at": "2026-10-15 16:00",
        "product_line": "platform",
        "lead_source": "webinar",
        "deal_type": "new",
        "cost": "8,000.00",
        "go_live_at": "2026-11-01",
    }
    references: ClassVar[dict[str, str]] = {
        "customer": "a customer, by remote id or name (created when not yet known)",
        "owner_id": "a person",
    }

    remote_id: Text
    name: Text | None = None
    customer: Text | None = None
    owner_id: Text | None = None
    stage_raw: Text | None = None
    status: Annotated[Literal["open", "won", "lost"], BeforeValidator(read_status)]
    amount: Money
    currency: Currency
    discount: Ratio | None = None
    created_at: UTCTime | None = None
    closed_at: UTCTime | None = None
    modified_at: UTCTime | None = None
    product_line: Text | None = None
    lead_source: Text | None = None
    deal_type: Text | None = None
    is_deleted: YesNo = False
    cost: NonNegativeMoney | None = None  # margin = amount − cost
    go_live_at: UTCTime | None = None  # an instalment milestone

    @model_validator(mode="before")
    @classmethod
    def _status_from_stage(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and is_blank(data.get("status")):
            data = _with_status(data, info)
        return data

    @field_validator("stage_raw", mode="before")
    @classmethod
    def _stage_known(cls, value: Any) -> Any:
        return _refuse_unmapped(value)

    @field_validator("discount")
    @classmethod
    def _discount_is_a_share(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"discount {value} is not between 0 and 1 (write 15% or 0.15)")
        return value

    @field_validator("deal_type")
    @classmethod
    def _deal_type_lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @field_validator("amount")
    @classmethod
    def _not_below_zero(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError(
                f"{value} is below zero: a deal's amount is what was sold; money given back is a refund or a "
                "credit note (imported as refunds, a positive amount)"
            )
        return value

    @field_validator("closed_at")
    @classmethod
    def _closed_after_created(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return not_before(value, info, "created_at")


class _Unmapped(str):
    """A raw stage the stage map does not know: refused by the stage's own field, so the error names its column."""

    reason = ""


def _with_status(data: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    """The record's values with the status its raw stage stands for (by the context's stage map)."""
    context = info.context or {}
    stage = data.get("stage_raw")
    if is_blank(stage):
        return {**data, "status": "open"}
    known = context.get("stage_statuses")  # an import's answers so far, stage by stage (see importing)
    status = known.get(stage) if known is not None else None
    if status is None:
        try:
            status = stage_status(
                str(stage).strip(), context.get("stage_map"), strict=bool(context.get("strict_stages"))
            )
        except ValueError as exc:
            unmapped = _Unmapped(str(stage))
            unmapped.reason = str(exc)
            return {**data, "stage_raw": unmapped, "status": "open"}
        if known is not None and isinstance(stage, str) and len(known) < 10_000:
            known[stage] = status
    return {**data, "status": status}


def _refuse_unmapped(value: Any) -> Any:
    if isinstance(value, _Unmapped):
        raise ValueError(value.reason)  # noqa: TRY004 - pydantic reports ValueErrors
    return value


class DealSplitRecord(BaseRecord):
    """A person's share of a deal's credit (Salesforce ``OpportunitySplit``); keyed by deal and person."""

    entity: ClassVar[str] = "deal_splits"
    key_fields: ClassVar[tuple[str, ...]] = ("deal_remote_id", "person_id")
    aliases: ClassVar[tuple[str, ...]] = ("splits", "split", "credit_splits", "opportunity_splits", "业绩拆分", "分成")
    description: ClassVar[str] = "Credit splits: who shares a deal's credit, and what share (0.6 = 60 %)."
    example: ClassVar[dict[str, str]] = {
        "deal_remote_id": "D-1",
        "person_id": "E1002",
        "share": "40%",
        "split_role": "overlay",
    }
    references: ClassVar[dict[str, str]] = {"deal_remote_id": "a deal of the same source", "person_id": "a person"}

    deal_remote_id: Text
    person_id: Text
    share: Ratio
    split_role: Text | None = None

    @field_validator("share")
    @classmethod
    def _a_share(cls, value: Decimal) -> Decimal:
        if not 0 < value <= 1:
            raise ValueError(f"share {value} is not above 0 and at most 1 (write 40% or 0.4)")
        return value


class DealStageRecord(BaseRecord):
    """A stage a deal entered, and when: how long deals sit in each stage."""

    entity: ClassVar[str] = "deal_stage_history"
    key_fields: ClassVar[tuple[str, ...]] = ("deal_remote_id", "entered_at")
    derived_fields: ClassVar[tuple[str, ...]] = ("status",)
    aliases: ClassVar[tuple[str, ...]] = ("stage_history", "deal_stages", "stages", "阶段历史", "阶段变更")
    description: ClassVar[str] = "The stages each deal went through, with the time it entered each one."
    example: ClassVar[dict[str, str]] = {
        "deal_remote_id": "D-1",
        "stage_raw": "Negotiation",
        "status": "open",
        "entered_at": "2026-10-02 10:00",
    }
    references: ClassVar[dict[str, str]] = {"deal_remote_id": "a deal of the same source"}

    deal_remote_id: Text
    stage_raw: Text
    status: Annotated[Literal["open", "won", "lost"], BeforeValidator(read_status)]
    entered_at: UTCTime

    @model_validator(mode="before")
    @classmethod
    def _status_from_stage(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and is_blank(data.get("status")) and not is_blank(data.get("stage_raw")):
            data = _with_status(data, info)
        return data

    @field_validator("stage_raw", mode="before")
    @classmethod
    def _stage_known(cls, value: Any) -> Any:
        return _refuse_unmapped(value)


# --- activity and funnel ------------------------------------------------------------------


class ActivityRecord(BaseRecord):
    """A call, visit, meeting, email or task logged by a person."""

    entity: ClassVar[str] = "activities"
    aliases: ClassVar[tuple[str, ...]] = ("activity", "calls", "call", "活动", "拜访", "跟进", "跟进记录")
    description: ClassVar[str] = "Calls, visits, meetings, e-mails and tasks, with their evidence flag."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "A-1",
        "kind": "visit",
        "owner_id": "E1001",
        "occurred_at": "2026-10-03 14:00",
        "customer": "C-1",
        "deal_remote_id": "D-1",
        "duration_seconds": "1:30:00",
        "has_evidence": "yes",
        "subject": "On-site visit",
    }
    references: ClassVar[dict[str, str]] = {
        "owner_id": "a person",
        "customer": "a customer, by remote id or name (created when not yet known)",
        "deal_remote_id": "a deal of the same source",
    }

    remote_id: Text
    kind: Annotated[str, BeforeValidator(lambda v: read_synonym(v, KIND_SYNONYMS, ACTIVITY_KINDS, "kind of activity"))]
    owner_id: Text | None = None
    occurred_at: UTCTime
    customer: Text | None = None
    deal_remote_id: Text | None = None
    duration_seconds: Annotated[WholeNumber, Field(ge=0)] | None = None
    has_evidence: YesNo = False
    subject: Text | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False


class LeadRecord(BaseRecord):
    """A lead and the time stamps of its way through the funnel."""

    entity: ClassVar[str] = "leads"
    aliases: ClassVar[tuple[str, ...]] = ("lead", "prospects", "线索", "潜在客户")
    description: ClassVar[str] = "Leads: channel, campaign, sales and marketing owners, funnel time stamps."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "L-1",
        "owner_id": "E1001",
        "marketing_owner_id": "E1003",
        "channel": "webinar",
        "campaign": "Q4 launch",
        "customer": "C-1",
        "created_at": "2026-08-20 09:00",
        "assigned_at": "2026-08-20 10:00",
        "first_contact_at": "2026-08-21 09:30",
        "mql_at": "2026-08-20 09:30",
        "sql_at": "2026-08-25 11:00",
        "converted_deal_remote_id": "D-1",
        "status": "converted",
        "score": "80",
    }
    references: ClassVar[dict[str, str]] = {
        "owner_id": "a person (sales)",
        "marketing_owner_id": "a person (marketing)",
        "customer": "a customer, by remote id or name (created when not yet known)",
        "converted_deal_remote_id": "a deal of the same source",
    }

    remote_id: Text
    owner_id: Text | None = None
    marketing_owner_id: Text | None = None
    channel: Text | None = None
    campaign: Text | None = None
    customer: Text | None = None
    created_at: UTCTime
    assigned_at: UTCTime | None = None
    first_contact_at: UTCTime | None = None
    mql_at: UTCTime | None = None
    sql_at: UTCTime | None = None
    converted_deal_remote_id: Text | None = None
    status: Text | None = None
    score: WholeNumber | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False

    @field_validator("assigned_at", "first_contact_at")
    @classmethod
    def _after_created(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return not_before(value, info, "created_at")


# --- targets and hand-entered scores ------------------------------------------------------


def _read_period(value: Any) -> Any:
    if is_blank(value):
        return None
    try:
        return parse_period(str(value)).label
    except PeriodError as exc:
        raise ValueError(exc.message.rstrip(".")) from None


Label = Annotated[str, BeforeValidator(_read_period)]


class TargetRecord(BaseRecord):
    """A target (with optional baseline and challenge levels) of a person, team or the company."""

    entity: ClassVar[str] = "targets"
    key_fields: ClassVar[tuple[str, ...]] = ("subject_type", "subject_id", "metric", "period")
    aliases: ClassVar[tuple[str, ...]] = ("target", "quotas", "quota", "目标", "指标", "任务额")
    description: ClassVar[str] = "Targets (baseline, target, challenge) per person, team or company and period."
    example: ClassVar[dict[str, str]] = {
        "subject_type": "person",
        "subject_id": "E1001",
        "metric": "bookings",
        "period": "2026-10",
        "baseline": "50,000",
        "target": "100,000",
        "challenge": "150,000",
        "currency": "CNY",
    }
    references: ClassVar[dict[str, str]] = {"subject_id": "a person when subject_type is person"}

    subject_type: Annotated[
        Literal["person", "team", "company"],
        BeforeValidator(lambda v: None if is_blank(v) else normal_text(str(v)).replace("individual", "person")),
    ]
    subject_id: Text
    metric: Text
    period: Label
    baseline: Ratio | None = None
    target: Ratio
    challenge: Ratio | None = None
    currency: Currency | None = None


class ManualScoreRecord(BaseRecord):
    """A score entered by hand (report quality, a manager's review) for a person, metric and period."""

    entity: ClassVar[str] = "manual_scores"
    key_fields: ClassVar[tuple[str, ...]] = ("person_id", "metric", "period")
    aliases: ClassVar[tuple[str, ...]] = ("scores", "manual_score", "reviews", "评分", "人工评分", "主管评分")
    description: ClassVar[str] = "Scores entered by hand (a manager's review, report quality) per person and period."
    example: ClassVar[dict[str, str]] = {
        "person_id": "E1001",
        "metric": "manager_review",
        "period": "2026-Q4",
        "score": "4.5",
        "scored_by": "M1",
        "comment": "Strong quarter",
        "entered_at": "2026-12-20 10:00",
    }
    references: ClassVar[dict[str, str]] = {"person_id": "a person"}

    person_id: Text
    metric: Text
    period: Label
    score: Ratio
    scored_by: Text | None = None
    comment: Text | None = None
    entered_at: UTCTime | None = None


# --- the registry ---------------------------------------------------------------------------

_MODELS: tuple[type[BaseRecord], ...] = (
    TeamRecord,
    TeamHierarchyRecord,
    PersonRecord,
    OrgAssignmentRecord,
    CustomerRecord,
    DealRecord,
    DealSplitRecord,
    DealStageRecord,
    LeadRecord,
    ActivityRecord,
    PaymentRecord,
    RefundRecord,
    RenewalRecord,
    ChurnEventRecord,
    SurveyResponseRecord,
    SupportTicketRecord,
    TrainingRecord,
    MarketingSpendRecord,
    WebVisitRecord,
    ContentStatRecord,
    TargetRecord,
    ManualScoreRecord,
    FxRateRecord,
)

ENTITIES: tuple[str, ...] = tuple(model.entity for model in _MODELS)
"""Every entity that can be imported or synced, in the order they load: what a record names comes first."""

RECORD_MODELS: dict[str, type[BaseRecord]] = {model.entity: model for model in _MODELS}

_ENTITY_ALIASES: dict[str, str] = {}
for _model in _MODELS:
    for _name in (_model.entity, *_model.aliases):
        _ENTITY_ALIASES[normal_text(_name).replace(" ", "_")] = _model.entity


def entity_name(name: str) -> str:
    """The canonical entity for a name or a common synonym (``deal`` → ``deals``, ``回款`` → ``payments``)."""
    key = normal_text(name).replace(" ", "_")
    if key not in _ENTITY_ALIASES:
        raise ConfigurationError(
            f"{name!r} is not an entity that can be imported.", hint=f"use one of {', '.join(ENTITIES)}"
        )
    return _ENTITY_ALIASES[key]
