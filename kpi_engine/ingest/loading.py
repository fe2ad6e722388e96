"""Idempotent loading of validated records into the common schema (files and CRM connectors).

Each entity has a spec (``_SPECS``): its table and natural key. Facts are keyed by ``(source,
remote_id)``; people and teams by their id; targets by ``(subject_type, subject_id, metric, period)``;
dated organisation rows by who they are about and ``valid_from``; splits by deal and person; exchange
rates by currency pair and day. Incoming values are compared with the stored row, so loading the same
records twice changes nothing. References are resolved in batches (``references``): customers by
remote id or name within the source (created when unknown), deals by remote id within the source,
people among the people, teams created when first named. A record naming a deal but not its customer
takes the deal's customer (and a survey answer the deal's owner as the person rated).

``upsert_records`` is the one path that writes facts: every change it makes is logged in
``fact_changes`` with the span of time the changed rows are about, which the pay cycle reads to find
closed periods a late fact touches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, Date, DateTime, Integer, Table, and_, bindparam, func, select

from ..errors import ImportRejected, PeriodError
from ..periods import parse_period
from ..store import schema as s
from ..store.database import insert_many, refresh_statistics
from .records import RECORD_MODELS, entity_name
from .references import (
    BATCH_SIZE,
    CUSTOMER_FIELDS,
    DEAL_FIELDS,
    DealRef,
    ReferenceProblem,
    UnresolvedReferences,
    chunks,
    customer_ids,
    deal_problems,
    ensure_teams,
    field_values,
    person_problems,
)

__all__ = [
    "BATCH_SIZE",
    "LoadCounts",
    "RecordLoader",
    "ReferenceProblem",
    "UnresolvedReferences",
    "entity_table",
    "log_fact_change",
    "reference_problems",
    "upsert_records",
]

Progress = Callable[[str, int, int], None]


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
class _Spec:
    table: Table
    key: tuple[str, ...]  # columns of the natural key
    source_in_key: bool = False  # the key is unique within a source (a CRM's own ids)
    self_refs: tuple[str, ...] = ()  # columns naming rows of the same table: set once every row exists
    from_deal: Mapping[str, str] = field(default_factory=dict)  # column -> the deal's column, when the record is silent
    deal_field: str = "deal_remote_id"  # the field naming the deal ``from_deal`` reads


_FACT = ("source", "remote_id")
_SPECS: dict[str, _Spec] = {
    "teams": _Spec(s.teams, ("id",), self_refs=("parent_team_id",)),
    "team_hierarchy": _Spec(s.team_hierarchy, ("team_id", "valid_from")),
    "people": _Spec(s.people, ("id",), self_refs=("manager_id",)),
    "org_assignments": _Spec(s.org_assignments, ("person_id", "valid_from")),
    "customers": _Spec(s.customers, _FACT, True),
    "deals": _Spec(s.deals, _FACT, True),
    "deal_splits": _Spec(s.deal_splits, ("deal_id", "person_id")),
    "deal_stage_history": _Spec(s.deal_stage_history, ("deal_id", "entered_at")),
    "leads": _Spec(s.leads, _FACT, True),
    "activities": _Spec(s.activities, _FACT, True),
    "payments": _Spec(s.payments, _FACT, True, from_deal={"customer_id": "customer_id"}),
    "refunds": _Spec(s.refunds, _FACT, True, from_deal={"customer_id": "customer_id"}),
    "renewals": _Spec(
        s.renewals, _FACT, True, from_deal={"customer_id": "customer_id"}, deal_field="contract_deal_remote_id"
    ),
    "churn_events": _Spec(s.churn_events, _FACT, True, from_deal={"customer_id": "customer_id"}),
    "survey_responses": _Spec(
        s.survey_responses, _FACT, True, from_deal={"customer_id": "customer_id", "person_id": "owner_id"}
    ),
    "support_tickets": _Spec(s.support_tickets, _FACT, True),
    "trainings": _Spec(s.trainings, _FACT, True),
    "marketing_spend": _Spec(s.marketing_spend, _FACT, True),
    "web_visits": _Spec(s.web_visits, _FACT, True),
    "content_stats": _Spec(s.content_stats, _FACT, True),
    "targets": _Spec(s.targets, ("subject_type", "subject_id", "metric", "period")),
    "manual_scores": _Spec(s.manual_scores, ("person_id", "metric", "period")),
    "fx_rates": _Spec(s.fx_rates, ("from_currency", "to_currency", "day")),
}
_REQUIRED_FROM_DEAL = {("renewals", "customer_id"), ("churn_events", "customer_id"), ("survey_responses", "person_id")}
"""Columns a record may leave to its deal but the row cannot do without."""
_RENAMES = {**DEAL_FIELDS, **CUSTOMER_FIELDS}


def entity_table(entity: str) -> Table:
    """The table an entity loads into."""
    return _SPECS[entity_name(entity)].table


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
    in_batch = {r.id for r in records} if name == "people" else set()  # type: ignore[attr-defined]
    problems = person_problems(conn, name, records, in_batch)
    deal_found, deals = deal_problems(conn, source, records)
    problems += deal_found
    spec = _SPECS[name]
    for column, deal_column in spec.from_deal.items():
        if (name, column) not in _REQUIRED_FROM_DEAL:
            continue
        own = "customer" if column == "customer_id" else column
        for index, record in enumerate(records):
            remote = getattr(record, spec.deal_field)
            deal = deals.get(remote) if remote is not None else None
            if getattr(record, own) is None and deal is not None and getattr(deal, deal_column) is None:
                what = "customer" if column == "customer_id" else "owner"
                problems.append(
                    ReferenceProblem(
                        index, own, f"the deal {remote!r} has no {what} to take; give the {own} column a value"
                    )
                )
    return sorted(problems, key=lambda p: p.index)


def _row(record: BaseModel, fields: Iterable[str], refs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in fields:
        value = getattr(record, name)
        if name in _RENAMES:
            found = None if value is None else refs[name][value]
            row[_RENAMES[name]] = found.id if isinstance(found, DealRef) else found
        else:
            row[name] = value
    return row


def _from_deal(spec: _Spec, record: BaseModel, row: dict[str, Any], refs: dict[str, dict[str, Any]]) -> None:
    """Fill the columns the record leaves to its deal (its customer, a survey's person rated)."""
    remote = getattr(record, spec.deal_field, None)
    if remote is None:
        return
    deal: DealRef = refs[spec.deal_field][remote]
    for column, deal_column in spec.from_deal.items():
        own = "customer" if column == "customer_id" else column
        if getattr(record, own) is None:
            row[column] = getattr(deal, deal_column)


def _key_filter(spec: _Spec, source: str, rows: Sequence[Mapping[str, Any]]) -> Any:
    cols = spec.table.c
    clauses: list[ColumnElement[bool]] = [
        cols[k].in_(sorted({r[k] for r in rows}, key=str)) for k in spec.key if k != "source"
    ]
    if spec.source_in_key:
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


class _Span:
    """The span of time changed rows are about, gathered row by row (a row with no time at all: every period)."""

    def __init__(self) -> None:
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.timeless = False
        self.rows = 0
        self._columns: dict[str, list[str]] = {}

    def _times(self, table: Table) -> list[str]:
        found = self._columns.get(table.name)
        if found is None:
            found = [
                c.name
                for c in table.c
                if c.name not in _NOT_ABOUT_TIME
                and (c.name == "period" or isinstance(getattr(c.type, "impl", c.type), (DateTime, Date)))
            ]
            self._columns[table.name] = found
        return found

    def add(self, table: Table | None, *parts: Mapping[str, Any]) -> None:
        """One changed row, as one or more mappings (an updated row as it was and as it becomes)."""
        moments: list[datetime] = []
        for part in parts:
            about = part if table is None else {c: part[c] for c in self._times(table) if c in part}
            moments.extend(_moments(about))
        self.rows += 1
        if not moments:
            self.timeless = True
            return
        low, high = min(moments), max(moments)
        self.first = low if self.first is None or low < self.first else self.first
        self.last = high if self.last is None or high > self.last else self.last

    def log(self, conn: Connection, table: str, source: str) -> None:
        if not self.rows:
            return
        conn.execute(
            s.fact_changes.insert().values(
                table_name=table,
                source=source,
                changed_at=datetime.now(UTC),
                first_at=None if self.timeless else self.first,
                last_at=None if self.timeless else self.last,
                rows=self.rows,
            )
        )


def log_fact_change(conn: Connection, table: str, source: str, rows: Sequence[Any]) -> None:
    """Record that ``rows`` of ``table`` were written now, with the span of time they are about.

    ``rows`` are row mappings, or lists of them (an updated row as it was and as it becomes). A row
    with no time stamp or date at all (an organisation row without dates) makes the change touch
    every period: ``first_at`` and ``last_at`` stay empty. Prior-period adjustments read this.
    """
    span = _Span()
    for item in rows:
        span.add(None, *(item if isinstance(item, list) else [item]))
    span.log(conn, table, source)


def _adopt_named_customers(conn: Connection, source: str, records: Sequence[Any]) -> None:
    """A customer first named by name in another file (stored with its name as remote id) takes the remote
    id the customer file gives it, instead of being stored twice."""
    c = s.customers.c
    by_remote = {r.remote_id: r for r in records}
    stored = {
        remote
        for chunk in chunks(sorted(by_remote))
        for remote in conn.execute(select(c.remote_id).where(c.source == source, c.remote_id.in_(chunk))).scalars()
    }
    names = {r.name: r.remote_id for r in records if r.remote_id not in stored and r.name != r.remote_id}
    for chunk in chunks(sorted(names)):
        named = conn.execute(
            select(c.id, c.remote_id).where(c.source == source, c.remote_id.in_(chunk), c.name == c.remote_id)
        ).all()
        for row in named:
            if names[row.remote_id] not in stored:
                conn.execute(s.customers.update().where(c.id == row.id).values(remote_id=names[row.remote_id]))
                stored.add(names[row.remote_id])


_CUSTOMERS_KEPT = 200_000
_ANALYZE_AFTER = 5_000
"""Rows a load inserts before the table's statistics are refreshed (then each time it doubles)."""


class RecordLoader:
    """Loads one entity's records into the store batch by batch, inside the caller's transaction.

    A streamed import hands it one batch at a time: each ``load`` checks the batch's references,
    writes the records that resolve and answers with the problems of those that do not; a record whose
    key an earlier batch already wrote comes back in ``repeats`` (by position in its batch) and is not
    written. ``finish`` sets self references and logs, once, the span of time every change is about.
    Memory holds one batch, plus a bit per stored row for the repeats.
    """

    def __init__(self, conn: Connection, entity: str, source: str) -> None:
        self.conn = conn
        self.name = entity_name(entity)
        self.source = source
        self.spec = _SPECS[self.name]
        self.fields = list(RECORD_MODELS[self.name].model_fields)
        self.counts = LoadCounts()
        self._span = _Span()
        self._later: list[dict[str, Any]] = []
        self._numbered = isinstance(self.spec.table.c.id.type, Integer)
        self._first_new = 1
        if self._numbered:
            top = conn.execute(select(func.max(self.spec.table.c.id))).scalar()
            self._first_new = (top or 0) + 1
        self._matched = bytearray(self._first_new // 8 + 1)  # stored rows an earlier batch already matched
        self._matched_keys: set[Any] = set()  # the same, for rows keyed by a text id (people, teams)
        self._customer_cache: dict[str, int] = {}
        self._written = 0  # rows inserted since the statistics were last refreshed
        self._analysed = 0

    def load(self, records: Sequence[BaseModel], *, partial: bool = False) -> tuple[list[ReferenceProblem], list[int]]:
        """Write ``records``; their reference problems and the positions of those repeating an earlier batch.

        With a problem, nothing is written unless ``partial``: then every record without one is.
        """
        _check_records(self.name, records)
        problems = reference_problems(self.conn, self.name, self.source, records)
        if problems:
            if not partial:
                return problems, []
            bad = {p.index for p in problems}
            kept = [i for i in range(len(records)) if i not in bad]
            repeats = self._write([records[i] for i in kept])
            return problems, [kept[i] for i in repeats]
        return [], self._write(records)

    def _write(self, records: Sequence[BaseModel]) -> list[int]:
        if not records:
            return []
        conn, spec, name, source = self.conn, self.spec, self.name, self.source
        fields = self.fields
        refs: dict[str, dict[str, Any]] = {}
        for ref_field in CUSTOMER_FIELDS:
            if ref_field in fields:
                refs[ref_field] = self._customers(field_values(records, ref_field))
        if any(f in fields for f in DEAL_FIELDS):
            _, deals = deal_problems(conn, source, records)
            for ref_field in DEAL_FIELDS:
                if ref_field in fields:
                    refs[ref_field] = deals
        if name == "customers":
            _adopt_named_customers(conn, source, records)
        ensure_teams(conn, records, exclude={r.id for r in records} if name == "teams" else None)  # type: ignore[attr-defined]

        extra = {"source": source} if "source" in spec.table.c else {}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        repeats: list[int] = []
        for start, batch in zip(range(0, len(records), BATCH_SIZE), chunks(records), strict=True):
            rows = []
            for record in batch:
                row = {**_row(record, fields, refs), **extra}
                if spec.from_deal:
                    _from_deal(spec, record, row, refs)
                if name == "teams" and row.get("name") is None:
                    row["name"] = row["id"]
                rows.append(row)
            stored = {
                tuple(found._mapping[k] for k in spec.key): found
                for found in conn.execute(select(spec.table).where(_key_filter(spec, source, rows)))
            }
            for offset, (record, row) in enumerate(zip(batch, rows, strict=True)):
                current = stored.get(tuple(row[k] for k in spec.key))
                if current is None:
                    deferred = {c: row[c] for c in spec.self_refs if row.get(c) is not None}
                    if deferred:
                        self._later.append({"_key": [row[k] for k in spec.key], **deferred})
                        row.update(dict.fromkeys(deferred))
                    inserts.append(row)
                    self._span.add(spec.table, row)
                    self.counts.inserted += 1
                    continue
                if self._already_matched(current._mapping["id"]):
                    repeats.append(start + offset)
                    continue
                wanted = {f for f in fields if f in record.model_fields_set}
                incoming = {**_row(record, wanted, refs), **extra}
                if spec.from_deal:
                    _from_deal(spec, record, incoming, refs)
                if name == "teams" and incoming.get("name", "") is None:
                    del incoming["name"]
                changes = {col: value for col, value in incoming.items() if current._mapping[col] != value}
                if changes:
                    updates.append({"_pk": current._mapping["id"], **changes})
                    # what the change is about: the row as it was and as it becomes
                    self._span.add(spec.table, dict(current._mapping), changes)
                    self.counts.updated += 1
                else:
                    self.counts.unchanged += 1
        insert_many(conn, spec.table, inserts)
        self._written += len(inserts)
        if self._written >= max(_ANALYZE_AFTER, self._analysed):  # the table grew: let the planner know
            refresh_statistics(conn, spec.table, *((s.customers,) if "customer" in fields else ()))
            self._analysed, self._written = self._analysed + self._written, 0
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for update in updates:
            by_columns.setdefault(tuple(sorted(update)), []).append(update)
        for columns, grouped in by_columns.items():
            values: dict[str, Any] = {col: bindparam(f"v_{col}") for col in columns if col != "_pk"}
            statement = spec.table.update().where(spec.table.c.id == bindparam("_pk")).values(values)
            conn.execute(
                statement, [{"_pk": r["_pk"], **{f"v_{c}": r[c] for c in columns if c != "_pk"}} for r in grouped]
            )
        return repeats

    def _customers(self, references: list[str]) -> dict[str, int]:
        """Customer ids by reference, those of earlier batches remembered (up to ``_CUSTOMERS_KEPT``)."""
        cache = self._customer_cache
        missing = [r for r in references if r not in cache]
        if missing and len(cache) + len(missing) > _CUSTOMERS_KEPT:
            cache.clear()
            missing = references
        if missing:
            cache.update(customer_ids(self.conn, self.source, missing))
        return cache

    def _already_matched(self, row_id: Any) -> bool:
        """Whether an earlier record of this load wrote or matched the stored row ``row_id`` (and mark it)."""
        if not self._numbered:
            if row_id in self._matched_keys:
                return True
            self._matched_keys.add(row_id)
            return False
        if row_id >= self._first_new:
            return True  # inserted by this load
        byte, bit = divmod(row_id, 8)
        if self._matched[byte] >> bit & 1:
            return True
        self._matched[byte] |= 1 << bit
        return False

    def finish(self) -> LoadCounts:
        """Set the self references of inserted rows and log the change; the counts of the whole load."""
        _set_self_references(self.conn, self.spec, self._later)
        self._later = []
        self._span.log(self.conn, self.spec.table.name, self.source)
        return self.counts


def upsert_records(
    conn: Connection, entity: str, source: str, records: Sequence[BaseModel], *, progress: Progress | None = None
) -> LoadCounts:
    """Insert new records, update changed ones and leave equal ones alone; returns the counts.

    Raises ``UnresolvedReferences`` (writing nothing) when a record names an unknown person
    or deal, and ``ImportRejected`` when two records share a key.
    """
    name = _check_records(entity, records)
    seen: dict[tuple[Any, ...], int] = {}
    for index, record in enumerate(records):
        key = record.key()  # type: ignore[attr-defined]
        if key in seen:
            raise ImportRejected(
                f"{name} records {seen[key] + 1} and {index + 1} have the same key {key}; nothing was loaded."
            )
        seen[key] = index
    loader = RecordLoader(conn, name, source)
    problems, _ = loader.load(records)
    if problems:
        raise UnresolvedReferences(
            f"{len(problems)} {name} references cannot be resolved; nothing was loaded.", problems
        )
    counts = loader.finish()
    if progress:
        progress(f"saved {name}", len(records), len(records))
    return counts


def _set_self_references(conn: Connection, spec: _Spec, later: list[dict[str, Any]]) -> None:
    """A manager or parent team inserted in the same batch: set once both rows exist."""
    if not later:
        return
    (key,) = spec.key  # people and teams: keyed by their id
    for column in spec.self_refs:
        rows = [{"_k": item["_key"][0], "_v": item[column]} for item in later if column in item]
        if rows:
            conn.execute(
                spec.table.update().where(spec.table.c[key] == bindparam("_k")).values({column: bindparam("_v")}),
                rows,
            )
