"""Column mappings: which header of an export holds which field, stage maps, defaults, time zone.

A mapping file describes one entity (``entity: deals`` with its ``columns`` …) or a whole CRM export
(``entities:`` holding one such mapping per entity, each with the ``file`` names it applies to), so
that one command imports an export folder::

    source: fxiaoke
    time_zone: Asia/Shanghai
    entities:
      deals:    {file: "商机*.csv", columns: {remote_id: 商机编号, amount: 金额}, stage_map: {赢单: won}}
      payments: {file: "回款*.xlsx", columns: {remote_id: 回款编号, deal_remote_id: 商机编号}}

``ignore`` lists headers the export has that the schema does not want (they are not reported).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigurationError, PeriodError
from ..periods import zone
from ..store import schema as s
from .records import ENTITIES, RECORD_MODELS, entity_name

__all__ = ["ColumnMapping", "ExportMapping", "check_source", "load_mapping"]

_SOURCE_LENGTH: int = s.deals.c.source.type.length  # type: ignore[attr-defined]
"""The most characters a source name holds (every table's ``source`` column)."""


def check_source(value: str) -> str:
    """A source name the store can keep alike on every backend: not too long, no NUL; else ``ValueError``."""
    if len(value) > _SOURCE_LENGTH:
        raise ValueError(f"the source name is {len(value)} characters long; a source holds at most {_SOURCE_LENGTH}")
    if "\x00" in value:
        raise ValueError("the source name holds a NUL character")
    return value


def _check_zone(value: str) -> str:
    """A known IANA zone, or a ``ValueError`` naming the closest ones (``did you mean Asia/Shanghai?``)."""
    try:
        zone(value)
    except PeriodError as exc:
        raise ValueError(exc.message.removesuffix(".")) from None
    return value


def _known_entity(value: str) -> str:
    try:
        return entity_name(value)
    except ConfigurationError:
        raise ValueError(f"{value!r} is not an entity (use one of {', '.join(ENTITIES)})") from None


class ColumnMapping(BaseModel):
    """How the columns of one kind of export map onto the fields of an entity."""

    model_config = ConfigDict(extra="forbid")

    entity: str | None = None
    source: str | None = None
    file: str | list[str] | None = None
    """File names (glob patterns, e.g. ``回款*.xlsx``) this mapping applies to in an export folder."""
    columns: dict[str, str] = Field(default_factory=dict)
    stage_map: dict[str, Literal["open", "won", "lost"]] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list)
    """Headers of the export that hold nothing the schema keeps (not reported as unknown)."""
    time_zone: str = "UTC"
    sheet: str | None = None

    @field_validator("entity")
    @classmethod
    def _entity(cls, value: str | None) -> str | None:
        return None if value is None else _known_entity(value)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("source")
    @classmethod
    def _source_fits(cls, value: str | None) -> str | None:
        return None if value is None else check_source(value)

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

    def matches(self, file: Path) -> bool:
        """Whether ``file`` is one of the files this mapping names (by its ``file`` patterns)."""
        patterns = [self.file] if isinstance(self.file, str) else (self.file or [])
        return any(fnmatch.fnmatch(file.name.casefold(), p.casefold()) for p in patterns)


class ExportMapping(BaseModel):
    """The mappings of a CRM's whole export: one ``ColumnMapping`` per entity, sharing source and time zone."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = None
    time_zone: str = "UTC"
    entities: dict[str, ColumnMapping] = Field(default_factory=dict)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("source")
    @classmethod
    def _source_fits(cls, value: str | None) -> str | None:
        return None if value is None else check_source(value)

    @model_validator(mode="before")
    @classmethod
    def _entities_named(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("entities"), dict):
            return data
        named: dict[str, Any] = {}
        for key, value in data["entities"].items():
            name = _known_entity(str(key)) if key else ""
            body = dict(value or {}) if isinstance(value, dict) else value
            if isinstance(body, dict):
                if body.get("entity") not in (None, key, name):
                    raise ValueError(f"the entry {key} says entity {body['entity']}")
                body["entity"] = name
            named[name] = body
        return {**data, "entities": named}

    @model_validator(mode="after")
    def _shared_settings(self) -> ExportMapping:
        for name, entry in self.entities.items():
            if entry.source is None:
                entry.source = self.source
            if "time_zone" not in entry.model_fields_set:
                entry.time_zone = self.time_zone
            self.entities[name] = entry
        return self

    @classmethod
    def of(cls, mapping: ColumnMapping) -> ExportMapping:
        """A one-entity mapping as an export mapping (its entity may be left to the file names)."""
        return cls(source=mapping.source, time_zone=mapping.time_zone, entities={mapping.entity or "": mapping})

    def for_entity(self, name: str) -> ColumnMapping:
        """The mapping of one entity: its entry, or the one entry without an entity, or nothing at all."""
        if name in self.entities:
            return self.entities[name]
        if "" in self.entities:
            return self.entities[""].model_copy(update={"entity": name})
        return ColumnMapping(source=self.source, time_zone=self.time_zone, entity=name)

    def entity_of(self, file: Path) -> str | None:
        """The entity whose ``file`` patterns match ``file``; the only entity when there is one and no pattern."""
        matching = [name for name, entry in self.entities.items() if name and entry.matches(file)]
        if len(matching) > 1:
            raise ConfigurationError(
                f"{file.name} matches the file patterns of {' and '.join(matching)} in the mapping.",
                hint="make the patterns distinct, or pass --entity",
            )
        if matching:
            return matching[0]
        named = [name for name in self.entities if name]
        if len(named) == 1 and self.entities[named[0]].file is None:
            return named[0]
        return None


def load_mapping(path: str | Path) -> ExportMapping:
    """Read a YAML mapping file (one entity, or ``entities:`` of a whole export); a bad one raises
    ``ConfigurationError`` naming the problem and where it is."""
    from ..yaml_reader import YAMLRefused, load_located, read_yaml_text

    file = Path(path)
    try:
        text = read_yaml_text(file, encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the mapping file {file}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"the mapping file {file.name} is not UTF-8 text.") from None
    except YAMLRefused as exc:
        raise ConfigurationError(f"the mapping file {exc}.") from None
    try:
        data = load_located(text, file).data or {}
    except Exception as exc:  # noqa: BLE001 - yaml raises several kinds
        raise ConfigurationError(f"the mapping file {file.name} is not valid YAML: {exc}.") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"the mapping file {file.name} must be a YAML mapping (entity, columns, ...).")
    try:
        if "entities" in data:
            if "entity" in data or "columns" in data:
                raise ConfigurationError(
                    f"the mapping file {file.name} has both entities and a top-level entity or columns.",
                    hint="put each entity's columns under entities: <entity>:",
                )
            data = {k: _texts(k, v) for k, v in data.items() if k != "entities"} | {
                "entities": {
                    str(k): ({kk: _texts(kk, vv) for kk, vv in v.items()} if isinstance(v, dict) else v)
                    for k, v in (data["entities"] or {}).items()
                }
            }
            return ExportMapping.model_validate(data)
        return ExportMapping.of(ColumnMapping.model_validate({k: _texts(k, v) for k, v in data.items()}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        raise ConfigurationError(
            f"the mapping file {file.name} is wrong{f' at {where}' if where else ''}: {reason}.",
            hint="see docs/import.md for the mapping format",
        ) from None


def _texts(key: str, value: Any) -> Any:
    """YAML numbers and dates where the mapping wants text (a header named 2026, a sheet named 1)."""
    if key in ("time_zone", "source", "sheet") and value is not None:
        return str(value)
    if key in ("columns", "stage_map") and isinstance(value, dict):
        return {str(k): (str(v) if v is not None else v) for k, v in value.items()}
    if key == "ignore" and isinstance(value, list):
        return [str(v) for v in value]
    return value
