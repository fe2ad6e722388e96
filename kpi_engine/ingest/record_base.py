"""What every record model shares: blank cells read as missing, unknown fields refused, a natural key.

A record is one row of an export (or one remote record of a connector) read into exact, typed values.
Each model says which entity (table) it loads into, the fields that make its natural key (what makes
re-importing idempotent), an example row for ``kpi import --template``, and a one-line description.
Fields named ``*_remote_id`` and ``customer`` name other records by the CRM's own ids: the loader
resolves them within the same source.

Each text field is as long as the column it loads into allows, read from the schema once when the model
is declared (``text_limits``): a longer cell is refused as that field's error (``'…' is 35 characters long;
deal_type holds at most 32``) on every store, instead of being kept by SQLite and refused by PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, TypeVar, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator
from pydantic.fields import FieldInfo
from sqlalchemy import Column, String

from ..store import schema as s
from .cells import Text, TooLong, is_blank, text_of
from .references import CUSTOMER_FIELDS, DEAL_FIELDS, PERSON_FIELDS, TEAM_FIELDS

__all__ = ["BaseRecord", "not_before", "one_of", "require_one_of", "text_limits"]

T = TypeVar("T", bound=date | None)

_TEXT = get_args(Text)[1]
_NAMED: dict[str, Column[Any]] = {
    **dict.fromkeys(PERSON_FIELDS, s.people.c.id),
    **dict.fromkeys(TEAM_FIELDS, s.teams.c.id),
    **dict.fromkeys(DEAL_FIELDS, s.deals.c.remote_id),
    **dict.fromkeys(CUSTOMER_FIELDS, s.customers.c.remote_id),  # an unknown customer is stored by what names it
}
"""The column a field naming another record is looked up in (its text cannot be longer)."""


def _is_text(info: FieldInfo) -> bool:
    """Whether a field is read as ``Text`` (or ``Text | None``)."""
    found = list(info.metadata)
    for arg in get_args(info.annotation):
        if get_origin(arg) is Annotated:
            found.extend(arg.__metadata__)
    return any(isinstance(m, BeforeValidator) and m.func is _TEXT.func for m in found)


def text_limits(entity: str, fields: dict[str, FieldInfo]) -> dict[str, int]:
    """The most characters each text field of ``entity`` may hold: the shortest of the column it loads into and
    the column of the record it names (``owner_id``: ``people.id``)."""
    table = s.metadata.tables[entity]
    limits: dict[str, int] = {}
    for name, info in fields.items():
        if not _is_text(info):
            continue
        columns = [c for c in (table.c.get(name), _NAMED.get(name)) if c is not None]
        lengths = [c.type.length for c in columns if isinstance(c.type, String) and c.type.length]
        if lengths:
            limits[name] = min(lengths)
    return limits


class BaseRecord(BaseModel):
    """Common settings: unknown fields refused, blank strings read as missing."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)

    entity: ClassVar[str] = ""
    key_fields: ClassVar[tuple[str, ...]] = ("remote_id",)
    derived_fields: ClassVar[tuple[str, ...]] = ()
    """Required fields that are computed from others when their column is absent."""
    aliases: ClassVar[tuple[str, ...]] = ()
    """Other names of the entity (``--entity`` and file names), English and Chinese."""
    description: ClassVar[str] = ""
    example: ClassVar[dict[str, str]] = {}
    """One example value per field, for ``kpi import --template`` and the docs."""
    references: ClassVar[dict[str, str]] = {}
    """Fields naming other records, and what they name (shown in templates and docs)."""
    max_lengths: ClassVar[dict[str, int]] = {}
    """The most characters each text field holds, from the schema (set when the model is declared)."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.entity:
            cls.max_lengths = text_limits(cls.entity, cls.model_fields)

    @model_validator(mode="before")
    @classmethod
    def _blanks_are_missing(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        limits = cls.max_lengths
        read: dict[str, Any] = {}
        for name, value in data.items():
            if isinstance(value, str):
                if len(value) > limits.get(name, len(value)):
                    value = _over(value.strip(), name, limits[name])
                elif not value.strip():
                    value = None
            elif value is not None and name in limits:  # a number from a spreadsheet or a CRM's JSON
                text = text_of(value)
                if isinstance(text, str) and len(text) > limits[name]:
                    value = TooLong(text, name, limits[name])
            read[name] = value
        return read

    def key(self) -> tuple[Any, ...]:
        """The natural key of the record (what makes re-importing idempotent)."""
        return tuple(getattr(self, name) for name in self.key_fields)


def _over(text: str, name: str, limit: int) -> str | None:
    """``text`` (stripped) when it fits, else marked as too long for ``Text`` to refuse."""
    if len(text) <= limit:
        return text or None
    return TooLong(text, name, limit)


def not_before(value: T, info: ValidationInfo, earlier: str) -> T:
    """``value`` (a later date or time of the record), refused when before the ``earlier`` field's value.

    A field validator of the later field: the error is that field's, so the importer names its column.
    """
    first = info.data.get(earlier)
    if value is not None and first is not None and value < first:
        raise ValueError(f"{info.field_name} {_when(value)} is before {earlier} {_when(first)}")
    return value


def _when(moment: Any) -> str:
    return moment.isoformat() if isinstance(moment, (date, datetime)) else str(moment)


def one_of(data: Any, fields: tuple[str, ...]) -> bool:
    """Whether the raw values name at least one of ``fields``."""
    return isinstance(data, dict) and any(not is_blank(data.get(f)) for f in fields)


def require_one_of(record: BaseModel, fields: tuple[str, ...], what: str) -> None:
    """Refuse a record that names none of ``fields`` (e.g. a payment with neither deal nor customer)."""
    if all(getattr(record, f) is None for f in fields):
        names = " or ".join(fields)
        raise ValueError(f"{what} needs {names}; every column of them is empty")
