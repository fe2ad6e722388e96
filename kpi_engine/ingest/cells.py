"""Readers for the loose values found in CRM exports: numbers, times, yes/no, codes.

Each reader turns a cell (``"12,500.00"``, ``"5%"``, ``"2026/10/31 23:30"``, ``"是"``) into an
exact, typed value or raises ``ValueError`` with a sentence naming what is wrong; the
``Annotated`` types below let pydantic models use them as field types.

The readers hold every value to what both stores can keep alike (docs/import.md, "What a cell may
hold"): dates and times between ``FIRST_YEAR`` and ``LAST_YEAR``, whole numbers within a SQL
``INTEGER``, currencies of ISO 4217, text without NUL characters and (through ``TooLong``, which
``BaseRecord`` hands in) no longer than its column.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo

from ..errors import PeriodError
from ..money import MONEY_SCALE, RATIO_SCALE, to_decimal
from ..periods import zone as named_zone
from ..store.schema import ACTIVITY_KINDS, DEAL_STATUSES, FX_RATE_SCALE, ROLES
from .currencies import ISO_4217_CODES

__all__ = [
    "FIRST_YEAR",
    "INTEGER_LIMIT",
    "LAST_YEAR",
    "Currency",
    "Day",
    "KIND_SYNONYMS",
    "Money",
    "NonNegativeMoney",
    "PositiveMoney",
    "ROLE_SYNONYMS",
    "Rate",
    "Ratio",
    "Text",
    "TooLong",
    "UTCTime",
    "WholeNumber",
    "YesNo",
    "derive_status",
    "is_blank",
    "normal_text",
    "parse_datetime",
    "read_status",
    "read_synonym",
    "text_of",
]


FIRST_YEAR = 1900
"""The earliest year a date or time may be in: before it a cell holds a spreadsheet's zero date (1899-12-30)."""
LAST_YEAR = 2200
"""The latest year a date or time may be in: after it a cell holds a placeholder (9999-12-31), not a date."""
INTEGER_LIMIT = 2**31 - 1
"""The largest whole number the store's ``Integer`` columns hold on every backend (PostgreSQL's ``integer``)."""


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _exact(scale: int, limit: int = 12, sign: str = "") -> Any:
    """A reader of numbers with at most ``scale`` decimals below ``10**limit``; ``sign`` ``+`` (above zero) or
    ``0+`` (zero or above)."""

    def read(value: Any) -> Decimal | None:
        if is_blank(value):
            return None
        try:
            number = to_decimal(value)
        except TypeError as exc:  # pydantic reports ValueError only
            raise ValueError(str(exc)) from None
        if abs(number) >= Decimal(10) ** limit:
            raise ValueError(f"{value!r} is too large")
        if number != number.quantize(Decimal(1).scaleb(-scale)):
            raise ValueError(f"{value!r} has more than {scale} decimal places")
        if sign == "+" and number <= 0:
            raise ValueError(f"{value!r} is not above zero")
        if sign == "0+" and number < 0:
            raise ValueError(f"{value!r} is below zero")
        return number

    return read


Money = Annotated[Decimal, BeforeValidator(_exact(MONEY_SCALE))]
PositiveMoney = Annotated[Decimal, BeforeValidator(_exact(MONEY_SCALE, sign="+"))]
"""An amount above zero (a payment, a refund: what is given back is written as a positive amount)."""
NonNegativeMoney = Annotated[Decimal, BeforeValidator(_exact(MONEY_SCALE, sign="0+"))]
Ratio = Annotated[Decimal, BeforeValidator(_exact(RATIO_SCALE))]
Rate = Annotated[Decimal, BeforeValidator(_exact(FX_RATE_SCALE, limit=6, sign="+"))]
"""An exchange rate: above zero, below a million, at most ten decimal places."""

_DATETIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:(?:[ T]+|日)(\d{1,2})[:时](\d{2})(?:[:分](\d{2})(?:\.(\d{1,6})\d*)?秒?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)


def _context_zone(info: ValidationInfo | None) -> tzinfo:
    context = info.context if info is not None else None
    zone = (context or {}).get("default_tz") or UTC
    if isinstance(zone, str):
        try:
            return named_zone(zone)
        except PeriodError as exc:
            raise ValueError(exc.message.removesuffix(".")) from None
    return zone


def _offset(text: str) -> tzinfo:
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _read_text_moment(value: str) -> datetime:
    text = value.strip()
    try:
        return datetime.fromisoformat(text)  # ISO 8601, read in C: what most exports write
    except ValueError:
        pass
    match = _DATETIME.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a possible date and time")
    y, mo, d, h, mi, s, frac, zone = match.groups()
    micro = int((frac or "0").ljust(6, "0"))
    try:
        moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro)
    except ValueError:
        raise ValueError(f"{value!r} is not a possible date and time") from None
    return moment.replace(tzinfo=_offset(zone)) if zone else moment


def parse_datetime(value: Any, default_tz: tzinfo = UTC) -> datetime | None:
    """An aware UTC datetime from an ISO string, a common export format or a datetime."""
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = _read_text_moment(value)
    else:
        raise ValueError(f"{value!r} is not a date and time")  # noqa: TRY004 - pydantic reports ValueErrors
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31 23:00-05:00 is in the year 10000 in UTC
        raise ValueError(f"{value!r} is beyond the dates a calendar holds") from None


def _in_years(value: Any, year: int) -> None:
    if year > LAST_YEAR:
        raise ValueError(
            f"{value!r} is after {LAST_YEAR}: a placeholder, not a date (leave the cell empty when there is none)"
        )
    if year < FIRST_YEAR:
        raise ValueError(f"{value!r} is before {FIRST_YEAR}: a spreadsheet's zero date, not a date")


def _read_datetime(value: Any, info: ValidationInfo) -> datetime | None:
    moment = parse_datetime(value, _context_zone(info))
    if moment is not None and not FIRST_YEAR <= moment.year <= LAST_YEAR:
        _in_years(value, moment.year)
    return moment


def _read_date(value: Any) -> date | None:
    day = _a_date(value)
    if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
        _in_years(value, day.year)
    return day


def _a_date(value: Any) -> date | None:
    if is_blank(value):
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
    if is_blank(value):
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


_DURATION = re.compile(r"\s*\d+(:\d{1,2}){1,2}\s*")


def _read_int(value: Any) -> int | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a whole number")  # noqa: TRY004 - pydantic reports ValueErrors
    if isinstance(value, int):
        return _within_integer(value, value)
    if isinstance(value, str) and _DURATION.fullmatch(value):
        seconds = 0
        for part in value.strip().split(":"):
            seconds = seconds * 60 + int(part)
        return _within_integer(value, seconds)
    try:
        number = to_decimal(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a whole number") from None
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return _within_integer(value, int(number))


def _within_integer(value: Any, number: int) -> int:
    if abs(number) > INTEGER_LIMIT:
        raise ValueError(f"{value!r} is too large for a whole number (at most {INTEGER_LIMIT:,})")
    return number


WholeNumber = Annotated[int, BeforeValidator(_read_int)]


class TooLong(str):
    """A text longer than its column holds, marked by ``BaseRecord`` before the fields are read: ``Text`` refuses
    it with ``reason``, so the error is the field's own (row and column named) and the other fields are still read.
    """

    __slots__ = ("reason",)
    reason: str

    def __new__(cls, text: str, field: str, limit: int) -> TooLong:
        marked = super().__new__(cls, text)
        shown = text if len(text) <= 40 else f"{text[:37]}..."
        marked.reason = f"{shown!r} is {len(text):,} characters long; {field} holds at most {limit}"
        return marked


def text_of(value: Any) -> Any:
    """A cell as the text ``Text`` keeps: numbers written out (``12`` for ``12.0``), spaces around stripped."""
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


def _text(value: Any) -> Any:
    if type(value) is str:  # the common case first (a TooLong is not exactly a str)
        value = value.strip()
    elif value.__class__ is TooLong:
        raise ValueError(value.reason)
    else:
        value = text_of(value)
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise ValueError(f"{value[:40]!r} holds a NUL character, which no text may hold")
    return value or None


Text = Annotated[str, BeforeValidator(_text)]


def normal_text(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def read_synonym(value: Any, table: dict[str, str], allowed: tuple[str, ...], what: str) -> Any:
    if is_blank(value):
        return None
    key = normal_text(str(value))
    if key in table:
        return table[key]
    raise ValueError(f"{value!r} is not a {what} (use one of {', '.join(allowed)})")


ROLE_SYNONYMS = {
    **{normal_text(r): r for r in ROLES},
    **dict.fromkeys(
        [
            "sales rep",
            "sales representative",
            "sales",
            "salesperson",
            "sales person",
            "account executive",
            "ae",
            "rep",
            "销售",
            "销售代表",
            "销售人员",
            "客户经理",
        ],
        "sales_rep",
    ),
    **dict.fromkeys(
        ["marketing", "marketer", "marketing specialist", "市场", "市场专员", "市场部"], "marketing_specialist"
    ),
    **dict.fromkeys(
        ["customer success", "cs", "csm", "customer success manager", "客户成功", "客服"], "customer_success"
    ),
    **dict.fromkeys(["manager", "sales manager", "team lead", "team leader", "经理", "销售经理", "主管"], "manager"),
}

KIND_SYNONYMS = {
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
        if normal_text(raw) == normal_text(stage_raw):
            return status
    if _LOST.search(stage_raw):
        return "lost"
    if _WON.search(stage_raw):
        return "won"
    return "open"


def read_status(value: Any) -> Any:
    if is_blank(value):
        return None
    key = normal_text(str(value))
    if key in DEAL_STATUSES:
        return key
    if key in ("进行中", "跟进中", "active", "in progress", "pending"):
        return "open"
    derived = derive_status(str(value))
    if derived != "open":
        return derived
    raise ValueError(f"{value!r} is not a deal status (use open, won or lost)")


def _read_currency(value: Any) -> Any:
    if is_blank(value):
        return None
    text = str(value).strip().upper()
    if text in ISO_4217_CODES:
        return text
    if len(text) == 3 and text.isascii() and text.isalpha():
        raise ValueError(f"{value!r} is not a currency of ISO 4217 (such as CNY, USD or EUR)")
    raise ValueError(f"{value!r} is not a three-letter currency code such as USD or CNY")


Currency = Annotated[str, BeforeValidator(_read_currency)]
