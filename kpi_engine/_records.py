"""Boundary models: one validated record per row of a CRM export, before it touches the store.

Every model reads the loose values found in exports (``"12,500.00"``, ``"5%"``,
``"2026/10/31 23:30"``, ``"销售"``) into exact, typed values. Naive times are read in the
time zone given as ``default_tz`` in the validation context (UTC if absent) and kept
as aware UTC datetimes; a deal's status is derived from its raw stage with the
``stage_map`` of the context when the export has no status column.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ._errors import ConfigurationError, PeriodError
from ._money import MONEY_SCALE, RATIO_SCALE, to_decimal
from ._periods import parse_period
from ._schema import ACTIVITY_KINDS, DEAL_STATUSES, ROLES

__all__ = [
    "ENTITIES",
    "RECORD_MODELS",
    "ActivityRecord",
    "ColumnMapping",
    "DealRecord",
    "LeadRecord",
    "PersonRecord",
    "TargetRecord",
    "derive_status",
    "entity_name",
    "load_mapping",
    "parse_datetime",
]

ENTITIES = ("people", "deals", "activities", "leads", "targets")

_ENTITY_ALIASES = {
    "people": "people", "person": "people", "users": "people", "user": "people", "owners": "people",
    "owner": "people", "employees": "people", "staff": "people",
    "deals": "deals", "deal": "deals", "opportunities": "deals", "opportunity": "deals",
    "activities": "activities", "activity": "activities",
    "leads": "leads", "lead": "leads",
    "targets": "targets", "target": "targets", "quotas": "targets", "quota": "targets",
}


def entity_name(name: str) -> str:
    """The canonical entity for a name or a common synonym (``deal`` → ``deals``)."""
    key = name.strip().lower()
    if key not in _ENTITY_ALIASES:
        raise ConfigurationError(f"{name!r} is not an entity that can be imported.", hint=f"use one of {', '.join(ENTITIES)}")
    return _ENTITY_ALIASES[key]


# --- scalar readers -----------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _exact(scale: int) -> Any:
    def read(value: Any) -> Decimal | None:
        if _blank(value):
            return None
        try:
            number = to_decimal(value)
        except TypeError as exc:  # pydantic reports ValueError only
            raise ValueError(str(exc)) from None
        if abs(number) >= Decimal(10) ** 12:
            raise ValueError(f"{value!r} is too large")
        if number != number.quantize(Decimal(1).scaleb(-scale)):
            raise ValueError(f"{value!r} has more than {scale} decimal places")
        return number

    return read


Money = Annotated[Decimal, BeforeValidator(_exact(MONEY_SCALE))]
Ratio = Annotated[Decimal, BeforeValidator(_exact(RATIO_SCALE))]

_DATETIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:(?:[ T]+|日)(\d{1,2})[:时](\d{2})(?:[:分](\d{2})(?:\.(\d{1,6})\d*)?秒?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)


def _context_zone(info: ValidationInfo | None) -> tzinfo:
    context = info.context if info is not None else None
    zone = (context or {}).get("default_tz") or timezone.utc
    if isinstance(zone, str):
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone!r} is not a time zone") from None
    return zone


def _offset(text: str) -> tzinfo:
    if text.upper() in ("Z", "UTC", "GMT"):
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(value: Any, default_tz: tzinfo = timezone.utc) -> datetime | None:
    """An aware UTC datetime from an ISO string, a common export format or a datetime."""
    if _blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        match = _DATETIME.match(text)
        try:
            if match:
                y, mo, d, h, mi, s, frac, zone = match.groups()
                micro = int((frac or "0").ljust(6, "0"))
                moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro)
                if zone:
                    moment = moment.replace(tzinfo=_offset(zone))
            else:
                moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a possible date and time") from None
    else:
        raise ValueError(f"{value!r} is not a date and time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)
    return moment.astimezone(timezone.utc)


def _read_datetime(value: Any, info: ValidationInfo) -> datetime | None:
    return parse_datetime(value, _context_zone(info))


def _read_date(value: Any) -> date | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        match = _DATETIME.match(value.strip())
        if match and not match.group(4):
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                raise ValueError(f"{value!r} is not a possible date") from None
    raise ValueError(f"{value!r} is not a date (write it as 2026-10-31)")


UTCTime = Annotated[datetime, BeforeValidator(_read_datetime)]
Day = Annotated[date, BeforeValidator(_read_date)]

_TRUE = {"yes", "y", "true", "t", "1", "是", "有", "x", "✓"}
_FALSE = {"no", "n", "false", "f", "0", "否", "无", "-"}


def _read_bool(value: Any) -> bool:
    if _blank(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not yes or no")


YesNo = Annotated[bool, BeforeValidator(_read_bool)]


def _read_int(value: Any) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(:\d{1,2}){1,2}\s*", value):
        seconds = 0
        for part in value.strip().split(":"):
            seconds = seconds * 60 + int(part)
        return seconds
    try:
        number = to_decimal(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a whole number") from None
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


WholeNumber = Annotated[int, BeforeValidator(_read_int)]


def _text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


Text = Annotated[str, BeforeValidator(_text)]


def _normal(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def _synonyms(value: Any, table: dict[str, str], allowed: tuple[str, ...], what: str) -> Any:
    if _blank(value):
        return None
    key = _normal(str(value))
    if key in table:
        return table[key]
    raise ValueError(f"{value!r} is not a {what} (use one of {', '.join(allowed)})")


_ROLE_SYNONYMS = {
    **{_normal(r): r for r in ROLES},
    **dict.fromkeys(
        ["sales rep", "sales representative", "sales", "salesperson", "sales person", "account executive", "ae",
         "rep", "销售", "销售代表", "销售人员", "客户经理"], "sales_rep"),
    **dict.fromkeys(["marketing", "marketer", "marketing specialist", "市场", "市场专员", "市场部"], "marketing_specialist"),
    **dict.fromkeys(["customer success", "cs", "csm", "customer success manager", "客户成功", "客服"], "customer_success"),
    **dict.fromkeys(["manager", "sales manager", "team lead", "team leader", "经理", "销售经理", "主管"], "manager"),
}

_KIND_SYNONYMS = {
    **{k: k for k in ACTIVITY_KINDS},
    **dict.fromkeys(["phone", "phone call", "calls", "电话", "通话", "致电"], "call"),
    **dict.fromkeys(["visits", "site visit", "onsite", "on site", "customer visit", "拜访", "上门", "走访"], "visit"),
    **dict.fromkeys(["meetings", "video call", "video meeting", "demo", "会议", "会面", "开会"], "meeting"),
    **dict.fromkeys(["e mail", "emails", "mail", "邮件", "电子邮件"], "email"),
    **dict.fromkeys(["tasks", "todo", "to do", "follow up", "任务", "待办", "跟进"], "task"),
}

_WON = re.compile(r"\bwon\b|成交|赢单|签约", re.IGNORECASE)
_LOST = re.compile(r"\blost\b|输单|丢单|失败", re.IGNORECASE)


def derive_status(stage_raw: str | None, stage_map: dict[str, str] | None = None) -> str:
    """open, won or lost for a raw CRM stage: the explicit map first, then the default keywords."""
    if not stage_raw:
        return "open"
    for raw, status in (stage_map or {}).items():
        if _normal(raw) == _normal(stage_raw):
            return status
    if _LOST.search(stage_raw):
        return "lost"
    if _WON.search(stage_raw):
        return "won"
    return "open"


def _read_status(value: Any) -> Any:
    if _blank(value):
        return None
    key = _normal(str(value))
    if key in DEAL_STATUSES:
        return key
    if key in ("进行中", "跟进中", "active", "in progress", "pending"):
        return "open"
    derived = derive_status(str(value))
    if derived != "open":
        return derived
    raise ValueError(f"{value!r} is not a deal status (use open, won or lost)")


def _read_currency(value: Any) -> Any:
    if _blank(value):
        return None
    text = str(value).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise ValueError(f"{value!r} is not a three-letter currency code such as USD or CNY")
    return text


Currency = Annotated[str, BeforeValidator(_read_currency)]


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
    role: Annotated[str, BeforeValidator(lambda v: _synonyms(v, _ROLE_SYNONYMS, ROLES, "role"))]
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
    status: Annotated[Literal["open", "won", "lost"], BeforeValidator(_read_status)]
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

    @model_validator(mode="before")
    @classmethod
    def _status_from_stage(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and _blank(data.get("status")):
            stage = data.get("stage_raw")
            stage_map = (info.context or {}).get("stage_map") if info.context else None
            data = {**data, "status": derive_status(None if _blank(stage) else str(stage).strip(), stage_map)}
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
    kind: Annotated[str, BeforeValidator(lambda v: _synonyms(v, _KIND_SYNONYMS, ACTIVITY_KINDS, "kind of activity"))]
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
    if _blank(value):
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
        BeforeValidator(lambda v: None if _blank(v) else _normal(str(v)).replace("individual", "person")),
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


# --- column mapping -----------------------------------------------------------------


class ColumnMapping(BaseModel):
    """How the columns of one kind of export map onto the fields of an entity."""

    model_config = ConfigDict(extra="forbid")

    entity: str | None = None
    source: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    stage_map: dict[str, Literal["open", "won", "lost"]] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    time_zone: str = "UTC"
    sheet: str | None = None

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, value: str | None) -> str | None:
        if value is None:
            return None
        key = value.strip().lower()
        if key not in _ENTITY_ALIASES:
            raise ValueError(f"{value!r} is not an entity (use one of {', '.join(ENTITIES)})")
        return _ENTITY_ALIASES[key]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (use an IANA name such as Asia/Shanghai)") from None
        return value

    @field_validator("stage_map", mode="before")
    @classmethod
    def _lower_statuses(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): (str(v).strip().lower() if v is not None else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _fields_exist(self) -> ColumnMapping:
        if self.entity is None:
            return self
        fields = RECORD_MODELS[self.entity].model_fields
        unknown = sorted((set(self.columns) | set(self.defaults)) - set(fields))
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} {'is not a field' if len(unknown) == 1 else 'are not fields'} "
                f"of {self.entity} (fields: {', '.join(fields)})"
            )
        return self


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read a YAML mapping file; a bad one raises ``ConfigurationError`` naming the problem."""
    from ._yaml import load_located

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the mapping file {file}: {exc.strerror}.") from None
    try:
        data = load_located(text, file).data or {}
    except Exception as exc:  # noqa: BLE001 - yaml raises several kinds
        raise ConfigurationError(f"the mapping file {file.name} is not valid YAML: {exc}.") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"the mapping file {file.name} must be a YAML mapping (entity, columns, ...).")
    data = {k: (str(v) if k in ("time_zone", "source", "sheet") and v is not None else v) for k, v in data.items()}
    for key in ("columns", "stage_map"):
        if isinstance(data.get(key), dict):
            data[key] = {str(k): (str(v) if v is not None else v) for k, v in data[key].items()}
    try:
        return ColumnMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        raise ConfigurationError(
            f"the mapping file {file.name} is wrong{f' at {where}' if where else ''}: {reason}.",
            hint="see 'kpi import --help' for the mapping format",
        ) from None
