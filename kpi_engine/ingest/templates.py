"""What an import file of each entity looks like: its columns (required first), an example row, references."""

from __future__ import annotations

from dataclasses import dataclass

from .records import ENTITIES, RECORD_MODELS, entity_name

__all__ = ["EntityTemplate", "entity_template", "entity_templates"]

_LAST = ("modified_at", "is_deleted")  # bookkeeping of the CRM: rarely in an export, shown last


@dataclass(frozen=True)
class EntityTemplate:
    """The columns of one entity's import file, in the order a template shows them."""

    entity: str
    description: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    example: tuple[str, ...]
    key: tuple[str, ...]
    references: dict[str, str]
    derived: tuple[str, ...]

    def legend(self) -> list[str]:
        """Sentences saying which columns are required, what makes a row unique and what each reference names."""
        optional = [c for c in self.columns if c not in self.required]
        lines = [
            f"{self.entity}: {self.description}",
            f"required: {', '.join(self.required)}",
            f"optional: {', '.join(optional) or 'none'}",
            f"unique by: {', '.join(self.key)}" + (" within the source" if "remote_id" in self.key else ""),
        ]
        for name in self.derived:
            lines.append(f"{name}: from stage_raw when the column is absent (the mapping's stage_map first)")
        lines.extend(f"{name} names {what}" for name, what in self.references.items())
        return lines


def entity_template(entity: str) -> EntityTemplate:
    """The template of one entity (a name or synonym)."""
    name = entity_name(entity)
    model = RECORD_MODELS[name]
    fields = [f for f in model.model_fields if f not in _LAST] + [f for f in _LAST if f in model.model_fields]
    required = tuple(f for f in fields if model.model_fields[f].is_required() and f not in model.derived_fields)
    ordered = [*required, *(f for f in fields if f not in required)]
    return EntityTemplate(
        entity=name,
        description=model.description,
        columns=tuple(ordered),
        required=required,
        example=tuple(model.example.get(f, "") for f in ordered),
        key=model.key_fields,
        references=dict(model.references),
        derived=model.derived_fields,
    )


def entity_templates() -> list[EntityTemplate]:
    """Every entity's template, in loading order."""
    return [entity_template(name) for name in ENTITIES]
