"""Record models of the organisation over time: teams, the team tree, and who was where from when.

Dated rows (``valid_from`` inclusive, ``valid_to`` exclusive, empty while in force) let a plan read
the organisation as it was in any period; teams named anywhere are created by their id when first seen.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ValidationInfo, field_validator, model_validator

from ..store.schema import ROLES
from .cells import ROLE_SYNONYMS, Day, Text, read_synonym
from .record_base import BaseRecord

__all__ = ["OrgAssignmentRecord", "TeamHierarchyRecord", "TeamRecord", "read_role"]


def read_role(value: Any) -> Any:
    return read_synonym(value, ROLE_SYNONYMS, ROLES, "role")


def _valid_span(end: date | None, info: ValidationInfo) -> date | None:
    """A ``valid_to`` after its row's ``valid_from`` (a field validator of ``valid_to``, so its column is named)."""
    start = info.data.get("valid_from")
    if start is not None and end is not None and end <= start:
        raise ValueError(
            f"valid_to {end} is not after valid_from {start} (it is exclusive: the first day not in force)"
        )
    return end


class TeamRecord(BaseRecord):
    """A team, keyed by the short id plans use (``east``); a team named elsewhere first exists by its id."""

    entity: ClassVar[str] = "teams"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)
    aliases: ClassVar[tuple[str, ...]] = ("team", "groups", "departments", "团队", "部门", "小组")
    description: ClassVar[str] = "Teams and the team each one reports to (its parent today)."
    example: ClassVar[dict[str, str]] = {
        "id": "east",
        "name": "East China",
        "region": "East",
        "parent_team_id": "sales",
    }
    references: ClassVar[dict[str, str]] = {"parent_team_id": "a team (created when not yet known)"}

    id: Text
    name: Text | None = None
    region: Text | None = None
    parent_team_id: Text | None = None

    @model_validator(mode="after")
    def _not_its_own_parent(self) -> TeamRecord:
        if self.parent_team_id is not None and self.parent_team_id == self.id:
            raise ValueError(f"team {self.id} cannot be its own parent")
        return self


class TeamHierarchyRecord(BaseRecord):
    """Which team a team reported to, and from when: the organisation as of any period."""

    entity: ClassVar[str] = "team_hierarchy"
    key_fields: ClassVar[tuple[str, ...]] = ("team_id", "valid_from")
    aliases: ClassVar[tuple[str, ...]] = ("hierarchy", "team_tree", "org_chart", "团队层级", "组织架构")
    description: ClassVar[str] = "A team's parent from one day on (valid_to exclusive, empty: still in force)."
    example: ClassVar[dict[str, str]] = {
        "team_id": "east",
        "parent_team_id": "sales",
        "valid_from": "2026-01-01",
        "valid_to": "",
    }
    references: ClassVar[dict[str, str]] = {
        "team_id": "a team (created when not yet known)",
        "parent_team_id": "a team (created when not yet known)",
    }

    team_id: Text
    parent_team_id: Text | None = None
    valid_from: Day
    valid_to: Day | None = None

    _span = field_validator("valid_to")(_valid_span)

    @model_validator(mode="after")
    def _not_own_parent(self) -> TeamHierarchyRecord:
        if self.parent_team_id is not None and self.parent_team_id == self.team_id:
            raise ValueError(f"team {self.team_id} cannot be its own parent")
        return self


class OrgAssignmentRecord(BaseRecord):
    """A person's role, team and manager from one day on: who is in scope, and where, in any period."""

    entity: ClassVar[str] = "org_assignments"
    key_fields: ClassVar[tuple[str, ...]] = ("person_id", "valid_from")
    aliases: ClassVar[tuple[str, ...]] = ("assignments", "org_history", "transfers", "任职", "调岗", "人事变动")
    description: ClassVar[str] = "A person's role, team and manager from one day on (valid_to exclusive)."
    example: ClassVar[dict[str, str]] = {
        "person_id": "E1001",
        "role": "sales_rep",
        "team_id": "east",
        "manager_id": "M1",
        "region": "East",
        "valid_from": "2026-07-01",
        "valid_to": "",
    }
    references: ClassVar[dict[str, str]] = {
        "person_id": "a person",
        "team_id": "a team (created when not yet known)",
        "manager_id": "a person",
    }

    person_id: Text
    role: Annotated[str, BeforeValidator(read_role)]
    team_id: Text | None = None
    manager_id: Text | None = None
    region: Text | None = None
    valid_from: Day
    valid_to: Day | None = None

    _span = field_validator("valid_to")(_valid_span)

    @model_validator(mode="after")
    def _not_own_manager(self) -> OrgAssignmentRecord:
        if self.manager_id is not None and self.manager_id == self.person_id:
            raise ValueError(f"{self.person_id} cannot be their own manager")
        return self
