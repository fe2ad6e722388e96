"""Column mappings: which header of an export holds which field, stage maps, defaults, time zone."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigurationError, PeriodError
from ..periods import zone
from .records import ENTITIES, RECORD_MODELS, entity_name

__all__ = ["ColumnMapping", "load_mapping"]


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
        try:
            return entity_name(value)
        except ConfigurationError:
            raise ValueError(f"{value!r} is not an entity (use one of {', '.join(ENTITIES)})") from None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except PeriodError:
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
    from ..yaml_reader import load_located

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
