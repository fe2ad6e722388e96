"""What every record model shares: blank cells read as missing, unknown fields refused, a natural key.

A record is one row of an export (or one remote record of a connector) read into exact, typed values.
Each model says which entity (table) it loads into, the fields that make its natural key (what makes
re-importing idempotent), an example row for ``kpi import --template``, and a one-line description.
Fields named ``*_remote_id`` and ``customer`` name other records by the CRM's own ids: the loader
resolves them within the same source.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from .cells import is_blank

__all__ = ["BaseRecord", "one_of", "require_one_of"]


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

    @model_validator(mode="before")
    @classmethod
    def _blanks_are_missing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()}
        return data

    def key(self) -> tuple[Any, ...]:
        """The natural key of the record (what makes re-importing idempotent)."""
        return tuple(getattr(self, name) for name in self.key_fields)


def one_of(data: Any, fields: tuple[str, ...]) -> bool:
    """Whether the raw values name at least one of ``fields``."""
    return isinstance(data, dict) and any(not is_blank(data.get(f)) for f in fields)


def require_one_of(record: BaseModel, fields: tuple[str, ...], what: str) -> None:
    """Refuse a record that names none of ``fields`` (e.g. a payment with neither deal nor customer)."""
    if all(getattr(record, f) is None for f in fields):
        names = " or ".join(fields)
        raise ValueError(f"{what} needs {names}; every column of them is empty")
