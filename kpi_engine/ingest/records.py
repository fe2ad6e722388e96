"""Boundary models: one validated record per row of a CRM export, before it touches the store.

Every model reads the loose values found in exports (``"12,500.00"``, ``"5%"``,
``"2026/10/31 23:30"``, ``"销售"``) into exact, typed values. Naive times are read in the
time zone given as ``default_tz`` in the validation context (UTC if absent) and kept
as aware UTC datetimes; a deal's status is derived from its raw stage with the
``stage_map`` of the context when the export has no status column.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..errors import ConfigurationError, PeriodError
from ..periods import parse_period
from ..store.schema import ACTIVITY_KINDS, ROLES
from .cells import (
    KIND_SYNONYMS,
    ROLE_SYNONYMS,
    Currency,
    Day,
    Money,
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

__all__ = [
    "ENTITIES",
    "RECORD_MODELS",
    "ActivityRecord",
    "DealRecord",
    "LeadRecord",
    "PersonRecord",
    "TargetRecord",
    "derive_status",
    "entity_name",
    "parse_datetime",
]

ENTITIES = ("people", "deals", "activities", "leads", "targets")

_ENTITY_ALIASES = {
    "people": "people",
    "person": "people",
    "users": "people",
    "user": "people",
    "owners": "people",
    "owner": "people",
    "employees": "people",
    "staff": "people",
    "deals": "deals",
    "deal": "deals",
    "opportunities": "deals",
    "opportunity": "deals",
    "activities": "activities",
    "activity": "activities",
    "leads": "leads",
    "lead": "leads",
    "targets": "targets",
    "target": "targets",
    "quotas": "targets",
    "quota": "targets",
}


def entity_name(name: str) -> str:
    """The canonical entity for a name or a common synonym (``deal`` → ``deals``)."""
    key = name.strip().lower()
    if key not in _ENTITY_ALIASES:
        raise ConfigurationError(
            f"{name!r} is not an entity that can be imported.", hint=f"use one of {', '.join(ENTITIES)}"
        )
    return _ENTITY_ALIASES[key]


# --- records ------------------------------------------------------------------------


class _Record(BaseModel):
    """Common settings: unknown fields refused, blank strings read as missing."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)

    entity: ClassVar[str] = ""
    key_fields: ClassVar[tuple[str, ...]] = ("remote_id",)
    derived_fields: ClassVar[tuple[str, ...]] = ()
    """Required fields that are computed from others when their column is absent."""

    @model_validator(mode="before")
    @classmethod
    def _blanks_are_missing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()}
        return data

    def key(self) -> tuple[Any, ...]:
        """The natural key of the record (what makes re-importing idempotent)."""
        return tuple(getattr(self, name) for name in self.key_fields)


class PersonRecord(_Record):
    """A person of the organisation, keyed by the short id HR uses in plans."""

    entity: ClassVar[str] = "people"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)

    id: Text
    name: Text
    role: Annotated[str, BeforeValidator(lambda v: read_synonym(v, ROLE_SYNONYMS, ROLES, "role"))]
    email: Text | None = None
    team_id: Text | None = None
    manager_id: Text | None = None
    region: Text | None = None
    hire_date: Day | None = None
    leave_date: Day | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> PersonRecord:
        if self.hire_date and self.leave_date and self.leave_date < self.hire_date:
            raise ValueError(f"leave_date {self.leave_date} is before hire_date {self.hire_date}")
        if self.manager_id is not None and self.manager_id == self.id:
            raise ValueError(f"{self.id} cannot be their own manager")
        return self


class DealRecord(_Record):
    """A deal (opportunity) of a CRM; ``status`` comes from the stage when absent."""

    entity: ClassVar[str] = "deals"
    derived_fields: ClassVar[tuple[str, ...]] = ("status",)

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
    cost: Money | None = None  # margin = amount − cost
    go_live_at: UTCTime | None = None  # an instalment milestone

    @model_validator(mode="before")
    @classmethod
    def _status_from_stage(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and is_blank(data.get("status")):
            stage = data.get("stage_raw")
            stage_map = (info.context or {}).get("stage_map") if info.context else None
            data = {**data, "status": derive_status(None if is_blank(stage) else str(stage).strip(), stage_map)}
        return data

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


class ActivityRecord(_Record):
    """A call, visit, meeting, email or task logged by a person."""

    entity: ClassVar[str] = "activities"

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


class LeadRecord(_Record):
    """A lead and the time stamps of its way through the funnel."""

    entity: ClassVar[str] = "leads"

    remote_id: Text
    owner_id: Text | None = None
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


def _read_period(value: Any) -> Any:
    if is_blank(value):
        return None
    try:
        return parse_period(str(value)).label
    except PeriodError as exc:
        raise ValueError(exc.message.rstrip(".")) from None


class TargetRecord(_Record):
    """A target (with optional baseline and challenge levels) of a person, team or the company."""

    entity: ClassVar[str] = "targets"
    key_fields: ClassVar[tuple[str, ...]] = ("subject_type", "subject_id", "metric", "period")

    subject_type: Annotated[
        Literal["person", "team", "company"],
        BeforeValidator(lambda v: None if is_blank(v) else normal_text(str(v)).replace("individual", "person")),
    ]
    subject_id: Text
    metric: Text
    period: Annotated[str, BeforeValidator(_read_period)]
    baseline: Ratio | None = None
    target: Ratio
    challenge: Ratio | None = None
    currency: Currency | None = None


RECORD_MODELS: dict[str, type[_Record]] = {
    "people": PersonRecord,
    "deals": DealRecord,
    "activities": ActivityRecord,
    "leads": LeadRecord,
    "targets": TargetRecord,
}
