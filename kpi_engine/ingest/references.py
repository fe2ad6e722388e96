"""What records name, resolved in batches: people by id, deals by the CRM's remote id, customers and teams.

A record names other records by the ids of the system it came from: a refund names its deal's remote
id, a split names the deal and the person, a lead its converted deal. People and deals must already
exist (or, for people and teams, be in the same batch); customers and teams are created when first
named, since exports name them by name or code long before (if ever) a customer file arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, or_, select

from ..errors import ImportRejected
from ..store import schema as s

__all__ = [
    "BATCH_SIZE",
    "CUSTOMER_FIELDS",
    "DEAL_FIELDS",
    "PERSON_FIELDS",
    "TEAM_FIELDS",
    "DealRef",
    "ReferenceProblem",
    "UnresolvedReferences",
    "chunks",
    "customer_ids",
    "deal_problems",
    "deal_refs",
    "ensure_teams",
    "existing",
    "field_values",
    "person_problems",
]

BATCH_SIZE = 500
"""Records per lookup: one SELECT fetches the stored rows of a whole batch."""

PERSON_FIELDS = ("owner_id", "manager_id", "person_id", "marketing_owner_id")
"""Fields naming a person by the id plans use."""
TEAM_FIELDS = ("team_id", "parent_team_id")
"""Fields naming a team; a team not yet known is created with its id as its name."""
DEAL_FIELDS = {
    "deal_remote_id": "deal_id",
    "converted_deal_remote_id": "converted_deal_id",
    "contract_deal_remote_id": "contract_deal_id",
    "renewal_deal_remote_id": "renewal_deal_id",
}
"""Fields naming a deal by its remote id within the source, and the column of its stored id."""
CUSTOMER_FIELDS = {"customer": "customer_id"}
"""Fields naming a customer by remote id or name within the source (created when unknown)."""

T = TypeVar("T")


@dataclass(frozen=True)
class ReferenceProblem:
    """A record (by position in the batch) whose ``field`` names something that does not exist."""

    index: int
    field: str
    reason: str


class UnresolvedReferences(ImportRejected):
    """Records name people or deals that do not exist; ``references`` says which record and field."""

    def __init__(self, message: str, references: list[ReferenceProblem]) -> None:
        lines = [f"record {p.index + 1}, {p.field}: {p.reason}" for p in references]
        super().__init__(message, problems=lines)
        self.references = references


class DealRef(NamedTuple):
    """A stored deal as other records use it: its id, customer and owner."""

    id: int
    customer_id: int | None
    owner_id: str | None


def chunks(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def field_values(records: Sequence[BaseModel], field: str) -> list[str]:
    """The distinct values of ``field`` among ``records`` (none when the model has no such field)."""
    if not records or field not in type(records[0]).model_fields:  # a failed getattr on a model is slow
        return []
    return sorted({v for r in records if (v := getattr(r, field)) is not None})


def existing(conn: Connection, column: Any, values: Iterable[str], *where: Any) -> set[str]:
    """Those of ``values`` found in ``column``."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(values))):
        found.update(conn.execute(select(column).where(column.in_(chunk), *where)).scalars())
    return found


def deal_refs(conn: Connection, source: str, remote_ids: Iterable[str]) -> dict[str, DealRef]:
    """The stored deals of ``source`` by remote id."""
    found: dict[str, DealRef] = {}
    d = s.deals.c
    for chunk in chunks(sorted(set(remote_ids))):
        rows = conn.execute(
            select(d.remote_id, d.id, d.customer_id, d.owner_id).where(d.source == source, d.remote_id.in_(chunk))
        )
        found.update({r.remote_id: DealRef(r.id, r.customer_id, r.owner_id) for r in rows})
    return found


def customer_ids(conn: Connection, source: str, references: list[str]) -> dict[str, int]:
    """Customer id per reference (a remote id or a name within the source), creating the unknown ones."""
    c = s.customers.c
    ids: dict[str, int] = {}

    def lookup(values: list[str]) -> None:
        for chunk in chunks(values):
            rows = conn.execute(
                select(c.id, c.remote_id, c.name)
                .where(c.source == source, or_(c.remote_id.in_(chunk), c.name.in_(chunk)))
                .order_by(c.id)
            ).all()
            by_remote = {r.remote_id: r.id for r in rows}
            by_name: dict[str, int] = {}
            for r in rows:
                by_name.setdefault(r.name, r.id)
            for value in chunk:
                found = by_remote.get(value, by_name.get(value))
                if found is not None:
                    ids[value] = found

    lookup(references)
    missing = [v for v in references if v not in ids]
    if missing:
        conn.execute(
            s.customers.insert(), [{"source": source, "remote_id": v, "name": v, "is_deleted": False} for v in missing]
        )
        lookup(missing)
    return ids


def ensure_teams(conn: Connection, records: Sequence[BaseModel], exclude: set[str] | None = None) -> None:
    """Create the teams ``records`` name that do not exist yet (named by their id)."""
    wanted = {v for f in TEAM_FIELDS for v in field_values(records, f)} - (exclude or set())
    missing = sorted(wanted - existing(conn, s.teams.c.id, wanted))
    if missing:
        conn.execute(s.teams.insert(), [{"id": t, "name": t} for t in missing])


def person_problems(
    conn: Connection, entity: str, records: Sequence[BaseModel], also_known: set[str]
) -> list[ReferenceProblem]:
    """Records naming a person who is neither stored nor in ``also_known``."""
    fields = [f for f in PERSON_FIELDS if records and f in type(records[0]).model_fields]
    needed = {v for f in fields for v in field_values(records, f)}
    if entity == "targets":
        needed |= {r.subject_id for r in records if r.subject_type == "person"}  # type: ignore[attr-defined]
    known = existing(conn, s.people.c.id, needed - also_known) | also_known
    problems: list[ReferenceProblem] = []
    for index, record in enumerate(records):
        for field in fields:
            value = getattr(record, field)
            if value is not None and value not in known:
                problems.append(
                    ReferenceProblem(index, field, f"{value!r} is not a known person (import the people first)")
                )
        if entity == "targets" and record.subject_type == "person" and record.subject_id not in known:  # type: ignore[attr-defined]
            problems.append(ReferenceProblem(index, "subject_id", f"{record.subject_id!r} is not a known person"))  # type: ignore[attr-defined]
    return problems


def deal_problems(
    conn: Connection, source: str, records: Sequence[BaseModel]
) -> tuple[list[ReferenceProblem], dict[str, DealRef]]:
    """Records naming a deal the source does not have; and the deals found, by remote id."""
    fields = [f for f in DEAL_FIELDS if records and f in type(records[0]).model_fields]
    needed = {v for f in fields for v in field_values(records, f)}
    found = deal_refs(conn, source, needed) if needed else {}
    problems = [
        ReferenceProblem(index, field, f"{value!r} is not a known deal of source {source!r} (import the deals first)")
        for index, record in enumerate(records)
        for field in fields
        if (value := getattr(record, field)) is not None and value not in found
    ]
    return problems, found
