"""Field mappings of a CRM source: which remote field fills which field of the common schema.

One YAML file per source, shipped with its connector and replaceable by the operator::

    source: hubspot                      # name of the source in the store (default: the connector)
    person_id: "hs-{remote_id}"          # id given to people created from CRM users
    owners:                              # CRM owner id -> a person HR keeps (linked, never overwritten)
      "41629779": E1001
    streams:
      deals:
        fields: {amount: amount, currency: deal_currency_code, stage_raw: dealstage,
                 owner_id: hubspot_owner_id, closed_at: closedate, product_line: product_line__c}
        stage_map: {closedwon: won, closedlost: lost}   # stage id/label -> open / won / lost
        defaults: {currency: USD}                       # when the CRM sends nothing
        time_zone: UTC                                  # zone of times sent without an offset

``fields`` maps a field of the entity (see ``DealRecord``, ``PersonRecord``, ``ActivityRecord``,
``LeadRecord``) to the name of a remote field; custom fields are mapped the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import KPIError
from ..ingest.records import RECORD_MODELS
from ..periods import zone
from .errors import ConnectorConfigurationError

__all__ = ["SourceMapping", "StreamMapping", "load_source_mapping"]


class StreamMapping(BaseModel):
    """How one stream's remote fields fill the fields of its entity."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str] = Field(default_factory=dict)
    stage_map: dict[str, Literal["open", "won", "lost"]] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    time_zone: str = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except KPIError as exc:
            raise ValueError(exc.message.removesuffix(".")) from None
        return value

    @field_validator("stage_map", mode="before")
    @classmethod
    def _lower_statuses(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): (str(v).strip().lower() if v is not None else v) for k, v in value.items()}
        return value

    def remote_fields(self) -> frozenset[str]:
        return frozenset(self.fields.values())


class SourceMapping(BaseModel):
    """The mapping of a whole source: its streams, and how CRM users become people."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = None
    person_id: str = "{source}-{remote_id}"
    owners: dict[str, str] = Field(default_factory=dict)
    streams: dict[str, StreamMapping] = Field(default_factory=dict)

    @field_validator("owners", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    def person_for(self, source: str, remote_id: str) -> str:
        """The person id of a CRM user: the ``owners`` entry, else the ``person_id`` template."""
        mapped = self.owners.get(remote_id)
        if mapped is not None:
            return mapped
        return self.person_id.replace("{source}", source).replace("{remote_id}", remote_id)

    def check_entities(self, entities: dict[str, str], where: str) -> None:
        """Refuse mappings of unknown streams or of fields their entity does not have."""
        for stream, mapping in self.streams.items():
            if stream not in entities:
                raise ConnectorConfigurationError(
                    f"the mapping {where} maps a stream {stream!r} the connector does not have.",
                    hint=f"its streams are: {', '.join(entities)}",
                )
            model = RECORD_MODELS[entities[stream]]
            unknown = sorted((set(mapping.fields) | set(mapping.defaults)) - set(model.model_fields))
            if unknown:
                raise ConnectorConfigurationError(
                    f"the mapping {where} maps {', '.join(map(repr, unknown))} of stream {stream!r}, "
                    f"which {'is not a field' if len(unknown) == 1 else 'are not fields'} of {entities[stream]}.",
                    hint=f"fields of {entities[stream]}: {', '.join(model.model_fields)}",
                )


def load_source_mapping(path: str | Path) -> SourceMapping:
    """Read a source mapping YAML file; a bad one raises ``ConnectorConfigurationError``."""
    from ..yaml_reader import YAMLRefused, load_located, read_yaml_text

    file = Path(path)
    try:
        text = read_yaml_text(file, encoding="utf-8-sig")
    except OSError as exc:
        raise ConnectorConfigurationError(f"cannot read the mapping file {file}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ConnectorConfigurationError(f"the mapping file {file.name} is not UTF-8 text.") from None
    except YAMLRefused as exc:
        raise ConnectorConfigurationError(f"the mapping file {exc}.") from None
    try:
        data = load_located(text, file).data or {}
    except (yaml.YAMLError, ValueError, ArithmeticError) as exc:
        raise ConnectorConfigurationError(f"the mapping file {file.name} is not valid YAML: {exc}.") from None
    if not isinstance(data, dict):
        raise ConnectorConfigurationError(
            f"the mapping file {file.name} must be a YAML mapping (source, owners, streams)."
        )
    try:
        return SourceMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        raise ConnectorConfigurationError(
            f"the mapping file {file.name} is wrong{f' at {where}' if where else ''}: {reason}.",
            hint="see docs/connectors.md for the mapping format",
        ) from None
