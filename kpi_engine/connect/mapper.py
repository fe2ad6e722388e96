"""Remote records of a stream mapped to the common schema's records: fields, defaults, owners, validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ..ingest.records import RECORD_MODELS
from .connector import Record, Stream
from .mapping import SourceMapping, StreamMapping

__all__ = ["RecordMapper", "first_problem"]

_PERSON_FIELDS = ("owner_id", "manager_id", "person_id", "marketing_owner_id")
"""Fields naming a person by the CRM's user id (translated through the source's people)."""


class RecordMapper:
    """Turns remote records of one stream into validated records of its entity."""

    def __init__(
        self, stream: Stream, mapping: StreamMapping, source_mapping: SourceMapping, source: str, owners: dict[str, str]
    ) -> None:
        self.stream = stream
        self.mapping = mapping
        self.source_mapping = source_mapping
        self.source = source
        self.owners = owners  # CRM owner id -> person id
        self.model = RECORD_MODELS[stream.entity]
        self.field_names = frozenset(self.model.model_fields)
        self.time_fields = [name for name, info in self.model.model_fields.items() if _holds_datetime(info.annotation)]
        self.context = {"stage_map": mapping.stage_map or None, "default_tz": ZoneInfo(mapping.time_zone)}
        self.pairs = list(mapping.fields.items())

    def remote_id(self, record: Record) -> str | None:
        value = record.data.get(self.stream.primary_key)
        return None if value is None or value == "" else str(value)

    def values(self, record: Record, remote_id: str) -> dict[str, Any]:
        data = record.data
        # A remote field the CRM did not send leaves the stored value alone; one sent empty clears it.
        values = {name: data[remote] for name, remote in self.pairs if remote in data}
        for name, default in self.mapping.defaults.items():
            if values.get(name) in (None, ""):
                values[name] = default
        if self.stream.entity == "people":
            values["id"] = self.source_mapping.person_for(self.source, remote_id)
            values.pop("remote_id", None)
        else:
            values["remote_id"] = remote_id
            values["is_deleted"] = record.deleted
        return values

    def owner(self, values: dict[str, Any]) -> str | None:
        """Translate the CRM user ids of the record (owner, manager, a split's person, a lead's marketing
        owner) to person ids; the reason when one that matters is unknown (an unknown manager is left empty)."""
        for name in _PERSON_FIELDS:
            remote = values.get(name)
            if name not in values:
                continue
            if remote in (None, ""):
                values[name] = None
                continue
            remote = str(remote)
            person = self.owners.get(remote)
            if person is None:
                if name == "manager_id":
                    values[name] = None
                    continue
                what = "owner" if name == "owner_id" else name.removesuffix("_id").replace("_", " ")
                return f"{what} {remote} is not a known person"
            values[name] = person
        return None

    def validate(self, values: dict[str, Any]) -> Any:
        names = self.field_names
        for name in self.time_fields:  # ISO 8601 with an offset, the common case, read in C
            value = values.get(name)
            if type(value) is str and len(value) > 19:
                try:
                    moment = datetime.fromisoformat(value)
                    if moment.tzinfo is not None:
                        values[name] = moment.astimezone(UTC)
                except (ValueError, OverflowError):  # left to the model, which says what is wrong
                    continue
        return self.model.model_validate({k: v for k, v in values.items() if k in names}, context=self.context)


def _holds_datetime(annotation: Any) -> bool:
    """Whether a field's type is a datetime, possibly optional or annotated with validators."""
    if annotation is datetime:
        return True
    return any(_holds_datetime(arg) for arg in get_args(annotation) if arg is not type(None))


def first_problem(exc: ValidationError) -> str:
    first = exc.errors(include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


# --- the engine ---------------------------------------------------------------------------
