"""Idempotent loading of validated records into the common schema (files and CRM connectors).

Facts are keyed by ``(source, remote_id)``, people by their id and targets by
``(subject_type, subject_id, metric, period)``. Incoming values are compared with the
stored row, so loading the same records twice changes nothing. References are resolved
in batches: customers by remote id or name within the source (created when unknown),
deals by remote id within the source, owners and managers among the people.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, Table, and_, bindparam, or_, select

from ..errors import ImportRejected, PeriodError
from ..periods import parse_period
from ..store import schema as s
from .records import RECORD_MODELS, entity_name

__all__ = [
    "BATCH_SIZE",
    "LoadCounts",
    "log_fact_change",
    "ReferenceProblem",
    "UnresolvedReferences",
    "reference_problems",
    "upsert_records",
]

BATCH_SIZE = 500
"""Records per lookup: one SELECT fetches the stored rows of a whole batch."""

Progress = Callable[[str, int, int], None]
T = TypeVar("T")


@dataclass
class LoadCounts:
    """How many records were inserted, updated, or found already up to date."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: LoadCounts) -> LoadCounts:
        return LoadCounts(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )


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


@dataclass(frozen=True)
class _Spec:
    table: Table
    key: tuple[str, ...]
    has_source: bool


_SPECS = {
    "people": _Spec(s.people, ("id",), True),
    "deals": _Spec(s.deals, ("remote_id",), True),
    "activities": _Spec(s.activities, ("remote_id",), True),
    "leads": _Spec(s.leads, ("remote_id",), True),
    "targets": _Spec(s.targets, ("subject_type", "subject_id", "metric", "period"), False),
}

_RENAMES = {"customer": "customer_id", "deal_remote_id": "deal_id", "converted_deal_remote_id": "converted_deal_id"}
_PERSON_FIELDS = ("owner_id", "manager_id")
_DEAL_FIELDS = ("deal_remote_id", "converted_deal_remote_id")


def _chunks(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _values(records: Sequence[BaseModel], field: str) -> list[str]:
    if not records or field not in type(records[0]).model_fields:  # a failed getattr on a model is slow
        return []
    return sorted({v for r in records if (v := getattr(r, field)) is not None})


def _existing(conn: Connection, column: Any, values: Iterable[str], *where: Any) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(values))):
        found.update(conn.execute(select(column).where(column.in_(chunk), *where)).scalars())
    return found


def _deal_ids(conn: Connection, source: str, remote_ids: Iterable[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    d = s.deals.c
    for chunk in _chunks(sorted(set(remote_ids))):
        ids.update(conn.execute(select(d.remote_id, d.id).where(d.source == source, d.remote_id.in_(chunk))).all())
    return ids


def _check_records(entity: str, records: Sequence[BaseModel]) -> str:
    name = entity_name(entity)
    model = RECORD_MODELS[name]
    for record in records:
        if not isinstance(record, model):
            raise ImportRejected(f"{type(record).__name__} cannot be loaded as {name}; expected {model.__name__}.")
    return name


def reference_problems(
    conn: Connection, entity: str, source: str, records: Sequence[BaseModel]
) -> list[ReferenceProblem]:
    """Records that name a person or deal that is neither stored nor among ``records`` (people only)."""
    name = _check_records(entity, records)
    problems: list[ReferenceProblem] = []
    people_needed = {v for f in _PERSON_FIELDS for v in _values(records, f)}
    if name == "targets":
        people_needed |= {r.subject_id for r in records if r.subject_type == "person"}  # type: ignore[attr-defined]
    known_people = _existing(conn, s.people.c.id, people_needed)
    if name == "people":
        known_people |= {r.id for r in records}  # type: ignore[attr-defined]
    deals_needed = {v for f in _DEAL_FIELDS for v in _values(records, f)}
    known_deals = set(_deal_ids(conn, source, deals_needed)) if deals_needed else set()
    fields = RECORD_MODELS[name].model_fields
    person_fields = [f for f in _PERSON_FIELDS if f in fields]
    deal_fields = [f for f in _DEAL_FIELDS if f in fields]
    for index, record in enumerate(records):
        for field in person_fields:
            value = getattr(record, field)
            if value is not None and value not in known_people:
                problems.append(
                    ReferenceProblem(index, field, f"{value!r} is not a known person (import the people first)")
                )
        for field in deal_fields:
            value = getattr(record, field)
            if value is not None and value not in known_deals:
                problems.append(
                    ReferenceProblem(
                        index, field, f"{value!r} is not a known deal of source {source!r} (import the deals first)"
                    )
                )
        if name == "targets" and record.subject_type == "person" and record.subject_id not in known_people:  # type: ignore[attr-defined]
            problems.append(ReferenceProblem(index, "subject_id", f"{record.subject_id!r} is not a known person"))  # type: ignore[attr-defined]
    return problems


def _customer_ids(conn: Connection, source: str, references: list[str]) -> dict[str, int]:
    """Customer id per reference (a remote id or a name within the source), creating the unknown ones."""
    c = s.customers.c
    ids: dict[str, int] = {}

    def lookup(values: list[str]) -> None:
        for chunk in _chunks(values):
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


def _ensure_teams(conn: Connection, records: Sequence[BaseModel]) -> None:
    wanted = _values(records, "team_id")
    missing = sorted(set(wanted) - _existing(conn, s.teams.c.id, wanted))
    if missing:
        conn.execute(s.teams.insert(), [{"id": t, "name": t} for t in missing])


def _row(record: BaseModel, fields: Iterable[str], refs: dict[str, dict[str, int]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for field in fields:
        value = getattr(record, field)
        if field in _RENAMES:
            row[_RENAMES[field]] = None if value is None else refs[field][value]
        else:
            row[field] = value
    return row


def _key_filter(spec: _Spec, source: str, batch: Sequence[BaseModel]) -> Any:
    cols = spec.table.c
    clauses: list[ColumnElement[bool]] = [cols[k].in_(sorted({str(getattr(r, k)) for r in batch})) for k in spec.key]
    if spec.has_source and spec.key != ("id",):
        clauses.append(cols.source == source)
    return and_(*clauses)


_NOT_ABOUT_TIME = frozenset({"modified_at"})  # when the CRM last touched a row says nothing of the period it is about


def _moments(row: Mapping[str, Any]) -> Iterator[datetime]:
    for column, value in row.items():
        if column in _NOT_ABOUT_TIME or value is None:
            continue
        if isinstance(value, datetime):
            yield value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        elif isinstance(value, date):
            yield datetime.combine(value, time.min, UTC)
        elif column == "period" and isinstance(value, str):
            try:
                period = parse_period(value)
            except PeriodError:
                continue
            yield datetime.combine(period.start, time.min, UTC)
            yield datetime.combine(period.end, time.min, UTC)


def log_fact_change(conn: Connection, table: str, source: str, rows: Sequence[Any]) -> None:
    """Record that ``rows`` of ``table`` were written now, with the span of time they are about.

    ``rows`` are row mappings, or lists of them (an updated row as it was and as it becomes). A row
    with no time stamp or date at all (an organisation row without dates) makes the change touch
    every period: ``first_at`` and ``last_at`` stay empty. Prior-period adjustments read this.
    """
    first: datetime | None = None
    last: datetime | None = None
    timeless = False
    for item in rows:
        parts = item if isinstance(item, list) else [item]
        moments = [m for part in parts for m in _moments(part)]
        if not moments:
            timeless = True
            continue
        first = min(moments) if first is None else min(first, *moments)
        last = max(moments) if last is None else max(last, *moments)
    conn.execute(
        s.fact_changes.insert().values(
            table_name=table,
            source=source,
            changed_at=datetime.now(UTC),
            first_at=None if timeless else first,
            last_at=None if timeless else last,
            rows=len(rows),
        )
    )


def upsert_records(
    conn: Connection, entity: str, source: str, records: Sequence[BaseModel], *, progress: Progress | None = None
) -> LoadCounts:
    """Insert new records, update changed ones and leave equal ones alone; returns the counts.

    Raises ``UnresolvedReferences`` (writing nothing) when a record names an unknown person
    or deal, and ``ImportRejected`` when two records share a key.
    """
    name = _check_records(entity, records)
    spec = _SPECS[name]
    seen: dict[tuple[Any, ...], int] = {}
    for index, record in enumerate(records):
        key = record.key()  # type: ignore[attr-defined]
        if key in seen:
            raise ImportRejected(
                f"{name} records {seen[key] + 1} and {index + 1} have the same key {key}; nothing was loaded."
            )
        seen[key] = index
    problems = reference_problems(conn, name, source, records)
    if problems:
        raise UnresolvedReferences(
            f"{len(problems)} {name} references cannot be resolved; nothing was loaded.", problems
        )

    refs: dict[str, dict[str, int]] = {}
    if "customer" in RECORD_MODELS[name].model_fields:
        refs["customer"] = _customer_ids(conn, source, _values(records, "customer"))
    for field in _DEAL_FIELDS:
        if field in RECORD_MODELS[name].model_fields:
            refs[field] = _deal_ids(conn, source, _values(records, field))
    if name == "people":
        _ensure_teams(conn, records)

    all_fields = list(RECORD_MODELS[name].model_fields)
    extra = {"source": source} if spec.has_source else {}
    counts = LoadCounts()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    managers: list[dict[str, Any]] = []
    touched: dict[Any, list[dict[str, Any]]] = {}
    for done, batch in enumerate(_chunks(records), start=1):
        stored = {
            tuple(row._mapping[k] for k in spec.key): row
            for row in conn.execute(select(spec.table).where(_key_filter(spec, source, batch)))
        }
        for record in batch:
            current = stored.get(record.key())  # type: ignore[attr-defined]
            if current is None:
                row = {**_row(record, all_fields, refs), **extra}
                if name == "people" and row.get("manager_id"):
                    managers.append({"_id": row["id"], "manager_id": row["manager_id"]})
                    row["manager_id"] = None
                inserts.append(row)
                counts.inserted += 1
                continue
            incoming = {**_row(record, [f for f in all_fields if f in record.model_fields_set], refs), **extra}
            changes = {col: value for col, value in incoming.items() if current._mapping[col] != value}
            if changes:
                updates.append({"_pk": current._mapping["id"], **changes})
                # what the change is about: the row as it was and as it becomes
                touched[current._mapping["id"]] = [dict(current._mapping), changes]
                counts.updated += 1
            else:
                counts.unchanged += 1
        if progress:
            progress(f"comparing {name}", min(done * BATCH_SIZE, len(records)), len(records))
    changed_rows = [*inserts, *(touched[u["_pk"]] for u in updates)]
    if changed_rows:
        log_fact_change(conn, spec.table.name, source, changed_rows)
    if inserts:
        conn.execute(spec.table.insert(), inserts)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for update in updates:
        by_columns.setdefault(tuple(sorted(update)), []).append(update)
    for columns, rows in by_columns.items():
        values: dict[str, Any] = {col: bindparam(f"v_{col}") for col in columns if col != "_pk"}
        statement = spec.table.update().where(spec.table.c.id == bindparam("_pk")).values(values)
        conn.execute(statement, [{"_pk": r["_pk"], **{f"v_{c}": r[c] for c in columns if c != "_pk"}} for r in rows])
    if managers:
        conn.execute(
            s.people.update().where(s.people.c.id == bindparam("_id")).values(manager_id=bindparam("manager_id")),
            managers,
        )
    if progress:
        progress(f"saved {name}", len(records), len(records))
    return counts
