"""The sync engine: reads a connector's streams into the common schema, incrementally and safely.

For each stream (people first, then deals, leads, activities):

1. The saved state gives the cursor of the last complete read; the read asks for records
   changed at or after ``cursor - lookback`` (``>=``, so records sharing the cursor's time
   stamp are read again, never skipped; the lookback catches records committed late).
2. Records are mapped with the source's field mapping, validated, and upserted on
   ``(source, remote_id)``: reading a record twice changes nothing. A record that cannot be
   mapped (bad value, unknown owner or deal) is skipped with its reason, never a crash.
3. At a ``Checkpoint`` (after at least ``batch_size`` records) the rows and the position of
   the next page are committed in one transaction. A read killed anywhere resumes from its
   last committed page; pages read twice upsert to the same rows.
4. When the read completes, the cursor moves to the high-water mark ``(time stamp, id)`` of
   what was read (never past the time the read started, for records changed during the read).

Deleted records become tombstones (``is_deleted``; ``deleted_at`` on deals). Entities stored by their
natural key without a remote id (``KEYED_BY_DEAL``: deal splits, stage history) have no tombstone
column: a deleted record removes the stored row, logged in ``fact_changes`` like every other change.
A stream whose data the account does not have (``StreamUnavailable``) is reported and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, and_, bindparam, delete, or_, select

from ..ingest.loading import LoadCounts, UnresolvedReferences, log_fact_change, upsert_records
from ..store import schema as s
from ..store.database import Store
from .connector import (
    ENTITY_ORDER,
    KEYED_BY_DEAL,
    Checkpoint,
    Connector,
    DealCovered,
    Record,
    Stream,
    StreamState,
)
from .errors import ConnectorConfigurationError, ConnectorError, RateLimited, StreamUnavailable
from .mapper import RecordMapper, first_problem
from .mapping import SourceMapping, StreamMapping, load_source_mapping
from .prefetch import prefetched
from .secrets import install_log_redaction, redact
from .sync_state import (
    StreamSummary,
    SyncSummary,
    finish_sync_run,
    iso_utc,
    later_mark,
    load_sync_state,
    parse_cursor,
    save_sync_state,
)

__all__ = [
    "DEFAULT_LOOKBACK",
    "StreamSummary",
    "SyncSummary",
    "load_sync_state",
    "parse_cursor",
    "source_mapping_for",
    "sync",
]

log = logging.getLogger("kpi_engine.sync")

DEFAULT_LOOKBACK = timedelta(minutes=5)
DEFAULT_BATCH_SIZE = 1000

Progress = Callable[[str, int, int], None]
BeforeCommit = Callable[[str, int], None]


@dataclass
class _Batch:
    live: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)
    deleted_ids: list[tuple[str, datetime | None]] = field(default_factory=list)  # tombstones with no full record
    remote_ids: dict[str, str] = field(default_factory=dict)  # person id -> CRM user id (people)
    high: tuple[datetime, str] | None = None
    keys: set[Any] = field(default_factory=set)
    covered: set[str] = field(default_factory=set)  # deals whose whole set of rows came in this batch


class _StreamSync:
    def __init__(self, engine: _Sync, stream: Stream, summary: StreamSummary) -> None:
        self.engine = engine
        self.stream = stream
        self.summary = summary
        self.table = getattr(s, stream.entity)

    def run(self) -> None:
        engine = self.engine
        stream = self.stream
        with engine.store.connect() as conn:
            saved = load_sync_state(conn, engine.connector.name, stream.name)
            owners = engine.owner_index(conn)
        if engine.full:
            saved = {}
        if engine.since is not None:
            saved = {"cursor": iso_utc(engine.since)}
        pending = saved.get("pending") or {}
        cursor = parse_cursor(saved.get("cursor"))
        tie = saved.get("tie_breaker_id")
        if pending:
            since = parse_cursor(pending.get("since"))
            started = parse_cursor(pending.get("started_at")) or engine.started
            high_raw = pending.get("high_water")
            high = None
            if high_raw:
                high_at = parse_cursor(high_raw[0])
                high = (high_at, str(high_raw[1])) if high_at is not None else None
        else:
            since = None
            if cursor is not None and stream.cursor_field:
                since = cursor if engine.since is not None else cursor - engine.lookback
            started = engine.started
            high = (cursor, str(tie or "")) if cursor is not None else None
        mapping = engine.mapping.streams.get(stream.name, StreamMapping())
        self.mapper = RecordMapper(stream, mapping, engine.mapping, engine.source, owners)
        state = StreamState(
            stream=stream.name,
            since=since,
            cursor=cursor,
            tie_breaker_id=tie,
            position=pending.get("position"),
            fields=mapping.remote_fields(),
        )
        base = {"cursor": iso_utc(cursor), "tie_breaker_id": tie}
        self.seen: set[str] | None = set() if stream.complete_read and not pending else None
        batch = _Batch()
        count = 0
        for page in prefetched(engine.connector.read(stream, state), engine.prefetch):
            item = page[-1]
            for record in page:
                if isinstance(record, Record):
                    self.summary.read += 1
                    count += 1
                    high = self.add(batch, record, high)
                elif isinstance(record, DealCovered):
                    batch.covered.add(record.deal_remote_id)
            if isinstance(item, Checkpoint):
                self.summary.pages += 1
                if count >= engine.batch_size:
                    self.commit(
                        batch,
                        {
                            **base,
                            "pending": {
                                "since": iso_utc(since),
                                "started_at": iso_utc(started),
                                "position": item.position,
                                "high_water": [iso_utc(high[0]), high[1]] if high else None,
                            },
                        },
                    )
                    batch = _Batch()
                    count = 0
                if engine.progress:
                    engine.progress(stream.name, self.summary.read, 0)
        final: dict[str, Any] = dict(base)
        if high is not None and stream.cursor_field:
            mark, mark_id = high
            if mark > started:
                mark, mark_id = started, ""
            final = {"cursor": iso_utc(mark), "tie_breaker_id": mark_id}
        self.summary.cursor = final.get("cursor")
        self.commit(batch, final, reconcile=self.seen is not None)

    def add(self, batch: _Batch, record: Record, high: tuple[datetime, str] | None) -> tuple[datetime, str] | None:
        mapper = self.mapper
        summary = self.summary
        remote_id = mapper.remote_id(record)
        if remote_id is None:
            summary.skipped[f"no {self.stream.primary_key}"] += 1
            return high
        if self.seen is not None:
            self.seen.add(remote_id)
        if self.stream.cursor_field:
            try:
                moment = parse_cursor(record.data.get(self.stream.cursor_field), self.stream.cursor_format)
            except (ValueError, TypeError, OverflowError):
                moment = None
            if moment is not None:
                high = later_mark(high, (moment, remote_id))
        if self.stream.entity == "people" and remote_id in self.engine.mapping.owners:
            summary.unchanged += 1  # mapped to a person HR already keeps: linked, never overwritten
            return high
        values = mapper.values(record, remote_id)
        if self.stream.entity != "people":
            problem = mapper.owner(values)
            if problem:
                summary.skipped[problem] += 1
                return high
        try:
            validated = mapper.validate(values)
        except ValidationError as exc:
            if record.deleted and self.stream.entity in KEYED_BY_DEAL:
                summary.skipped[f"deleted without its deal and key ({first_problem(exc)})"] += 1
            elif record.deleted:
                stamp = parse_cursor(record.data.get(self.stream.cursor_field)) if self.stream.cursor_field else None
                batch.deleted_ids.append((remote_id, stamp))
            else:
                summary.skipped[first_problem(exc)] += 1
            return high
        key = validated.key()
        if key in batch.keys:  # the same record twice in one batch: keep the later one
            batch.live = [r for r in batch.live if r.key() != key]
            batch.deleted = [r for r in batch.deleted if r.key() != key]
        batch.keys.add(key)
        if self.stream.entity == "people":
            batch.remote_ids[validated.id] = remote_id
            batch.live.append(validated)
        elif record.deleted:
            batch.deleted.append(validated)
        else:
            batch.live.append(validated)
        return high

    def commit(self, batch: _Batch, state: dict[str, Any], *, reconcile: bool = False) -> None:
        engine = self.engine
        summary = self.summary
        with engine.store.begin() as conn:
            if reconcile and self.seen is not None:  # a complete read: what it did not return is gone
                col = self.table.c
                missing = (
                    set(
                        conn.execute(
                            select(col.remote_id).where(col.source == engine.source, col.is_deleted.is_(False))
                        ).scalars()
                    )
                    - self.seen
                )
                if missing:
                    batch.deleted_ids.extend((remote_id, None) for remote_id in sorted(missing))
            tombstones = batch.deleted
            already_deleted: set[str] = set()
            if tombstones and self.stream.entity in KEYED_BY_DEAL:
                self.remove_keyed(conn, tombstones)
                tombstones = []
            if batch.covered and self.stream.entity in KEYED_BY_DEAL:
                self.remove_uncovered(conn, batch)
            if tombstones:
                col = self.table.c
                already_deleted = set(
                    conn.execute(
                        select(col.remote_id).where(
                            col.source == engine.source,
                            col.remote_id.in_([r.remote_id for r in tombstones]),
                            col.is_deleted.is_(True),
                        )
                    ).scalars()
                )
            live = batch.live
            if live:
                counts = self.upsert(conn, live)
                summary.inserted += counts.inserted
                summary.updated += counts.updated
                summary.unchanged += counts.unchanged
            if tombstones:
                before = self.summary.skipped_total
                self.upsert(conn, tombstones)
                if self.summary.skipped_total != before:  # tombstones whose references are gone were skipped
                    kept = set(
                        conn.execute(
                            select(self.table.c.remote_id).where(
                                self.table.c.source == engine.source,
                                self.table.c.remote_id.in_([r.remote_id for r in tombstones]),
                            )
                        ).scalars()
                    )
                    tombstones = [r for r in tombstones if r.remote_id in kept]
                new_tombstones = [r.remote_id for r in tombstones if r.remote_id not in already_deleted]
                summary.deleted += len(new_tombstones)
                summary.unchanged += len(tombstones) - len(new_tombstones)
                if self.stream.entity == "deals" and new_tombstones:
                    self.stamp_deleted(conn, new_tombstones)
            if batch.deleted_ids:
                self.mark_deleted(conn, batch.deleted_ids)
            if batch.remote_ids:
                self.link_people(conn, batch.remote_ids)
            save_sync_state(conn, engine.connector.name, self.stream.name, state)
            summary.commits += 1
            if engine.before_commit is not None:
                engine.before_commit(self.stream.name, summary.commits)
        if batch.remote_ids:
            engine._owners = None

    def upsert(self, conn: Connection, records: list[Any]) -> Any:
        """Upsert records; those naming a deal or person that does not exist are skipped with the reason."""
        try:
            return upsert_records(conn, self.stream.entity, self.engine.source, records)
        except UnresolvedReferences as exc:
            bad: set[int] = set()
            for problem in exc.references:
                if problem.index not in bad:
                    bad.add(problem.index)
                    reason = problem.reason.split(" (")[0].replace(f" of source {self.engine.source!r}", "")
                    self.summary.skipped[f"{problem.field} {reason}"] += 1
            kept = [r for i, r in enumerate(records) if i not in bad]
            return upsert_records(conn, self.stream.entity, self.engine.source, kept) if kept else LoadCounts()

    def remove_keyed(self, conn: Connection, records: list[Any]) -> None:
        """Deleted records of an entity kept by its natural key: remove the stored rows they name."""
        table = self.table
        d = s.deals.c
        remotes = sorted({r.deal_remote_id for r in records})
        found = select(d.remote_id, d.id).where(d.source == self.engine.source, d.remote_id.in_(remotes))
        deal_ids: dict[str, int] = {row.remote_id: row.id for row in conn.execute(found)}
        second = "person_id" if self.stream.entity == "deal_splits" else "entered_at"
        wanted = [(deal_ids[r.deal_remote_id], getattr(r, second)) for r in records if r.deal_remote_id in deal_ids]
        match = or_(*(and_(table.c.deal_id == deal, table.c[second] == other) for deal, other in wanted))
        gone = [dict(row._mapping) for row in conn.execute(select(table).where(match))] if wanted else []
        if gone:
            log_fact_change(conn, table.name, self.engine.source, gone)
            conn.execute(delete(table).where(table.c.id.in_([row["id"] for row in gone])))
        self.summary.deleted += len(gone)
        self.summary.unchanged += len(records) - len(gone)

    def remove_uncovered(self, conn: Connection, batch: _Batch) -> None:
        """Rows of deals whose whole set came in this batch, but which were not in it: gone in the CRM."""
        table = self.table
        d = s.deals.c
        second = "person_id" if self.stream.entity == "deal_splits" else "entered_at"
        kept = {(r.deal_remote_id, getattr(r, second)) for r in batch.live}
        query = (
            select(table, d.remote_id.label("deal_remote_id"))
            .join(s.deals, d.id == table.c.deal_id)
            .where(d.source == self.engine.source, d.remote_id.in_(sorted(batch.covered)))
        )
        gone = [row for row in conn.execute(query) if (row.deal_remote_id, row._mapping[second]) not in kept]
        if gone:
            rows = [{c.name: row._mapping[c.name] for c in table.c} for row in gone]
            log_fact_change(conn, table.name, self.engine.source, rows)
            conn.execute(delete(table).where(table.c.id.in_([row["id"] for row in rows])))
            self.summary.deleted += len(gone)

    def stamp_deleted(self, conn: Connection, remote_ids: list[str]) -> None:
        d = s.deals.c
        now = datetime.now(UTC)
        conn.execute(
            s.deals.update()
            .where(d.source == self.engine.source, d.remote_id.in_(remote_ids), d.deleted_at.is_(None))
            .values(deleted_at=now)
        )

    def mark_deleted(self, conn: Connection, items: list[tuple[str, datetime | None]]) -> None:
        """Tombstones that came without a full record (a deleted-records call): mark the stored row."""
        col = self.table.c
        ids = [remote_id for remote_id, _ in items]
        live = set(
            conn.execute(
                select(col.remote_id).where(
                    col.source == self.engine.source, col.remote_id.in_(ids), col.is_deleted.is_(False)
                )
            ).scalars()
        )
        known = set(
            conn.execute(
                select(col.remote_id).where(col.source == self.engine.source, col.remote_id.in_(ids))
            ).scalars()
        )
        for remote_id, _ in items:
            if remote_id not in known:
                self.summary.skipped["deleted before it was synced"] += 1
        if not live:
            return
        # The rows as they were: the periods they counted in change (a deleted October deal changes October).
        gone = conn.execute(select(self.table).where(col.source == self.engine.source, col.remote_id.in_(sorted(live))))
        log_fact_change(conn, self.table.name, self.engine.source, [dict(row._mapping) for row in gone])
        values: dict[str, Any] = {"is_deleted": True}
        if self.stream.entity == "deals":
            values["deleted_at"] = datetime.now(UTC)
        conn.execute(
            self.table.update()
            .where(col.source == self.engine.source, col.remote_id.in_(sorted(live)))
            .values(**values)
        )
        self.summary.deleted += len(live)

    def link_people(self, conn: Connection, remote_ids: dict[str, str]) -> None:
        p = s.people.c
        conn.execute(
            s.people.update()
            .where(p.id == bindparam("_id"))
            .values(remote_id=bindparam("_remote"), source=self.engine.source),
            [{"_id": person, "_remote": remote} for person, remote in remote_ids.items()],
        )


class _Sync:
    def __init__(
        self,
        store: Store,
        connector: Connector,
        *,
        full: bool,
        since: datetime | None,
        lookback: timedelta,
        batch_size: int,
        mapping: SourceMapping,
        progress: Progress | None,
        before_commit: BeforeCommit | None,
        prefetch: int = 4,
    ) -> None:
        self.store = store
        self.connector = connector
        self.full = full
        self.since = since
        self.lookback = lookback
        self.batch_size = batch_size
        self.mapping = mapping
        self.source = mapping.source or connector.name
        self.progress = progress
        self.before_commit = before_commit
        self.prefetch = prefetch
        self.started = datetime.now(UTC)
        self._owners: dict[str, str] | None = None

    def owner_index(self, conn: Connection) -> dict[str, str]:
        """CRM owner id -> person id: the mapping's ``owners``, then people synced from this source."""
        if self._owners is None:
            p = s.people.c
            found = {
                str(r): pid
                for r, pid in conn.execute(
                    select(p.remote_id, p.id).where(p.source == self.source, p.remote_id.is_not(None))
                )
            }
            known = (
                set(conn.execute(select(p.id).where(p.id.in_(sorted(set(self.mapping.owners.values()))))).scalars())
                if self.mapping.owners
                else set()
            )
            found.update({remote: person for remote, person in self.mapping.owners.items() if person in known})
            self._owners = found
        return self._owners


def source_mapping_for(connector: Connector, mapping: SourceMapping | str | Path | None) -> SourceMapping:
    if isinstance(mapping, SourceMapping):
        result = mapping
    elif mapping is not None:
        result = load_source_mapping(mapping)
    elif connector.mapping_file is not None:
        result = load_source_mapping(connector.mapping_file)
    else:
        result = SourceMapping()
    where = str(mapping) if isinstance(mapping, (str, Path)) else f"of {connector.name}"
    result.check_entities({st.name: st.entity for st in connector.streams()}, where)
    return result


def _ordered(streams: Iterable[Stream]) -> list[Stream]:
    return sorted(streams, key=lambda st: ENTITY_ORDER.index(st.entity))


def sync(
    store: Store,
    connector: Connector,
    *,
    full: bool = False,
    since: datetime | None = None,
    streams: Sequence[str] | None = None,
    mapping: SourceMapping | str | Path | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    before_commit: BeforeCommit | None = None,
    prefetch: int = 4,
) -> SyncSummary:
    """Sync a connector's streams into ``store`` and return what happened.

    ``full`` reads everything again (rows still upsert, nothing duplicates); ``since`` reads
    records changed at or after that instant instead of the saved cursor. ``batch_size`` is
    the number of records per transaction (rounded up to whole pages). ``before_commit`` is
    called inside each transaction just before it commits, with the stream and the commit
    number (tests raise there to simulate a crash between a page and its commit). ``prefetch``
    is how many pages a reading thread may fetch ahead while earlier ones are written (0: none).

    A daily rate limit stops the sync with status ``stopped`` (what was committed stays; the
    next run resumes); any other connector error fails it. Both are recorded in ``sync_runs``.
    The HTTP libraries' loggers mask secrets from here on (``install_log_redaction``).
    """
    install_log_redaction()
    if since is not None and since.tzinfo is None:
        raise ConnectorConfigurationError(
            f"the time {since.isoformat()} to sync from has no time zone.", hint="write it as 2026-01-01T00:00:00Z"
        )
    source_mapping = source_mapping_for(connector, mapping)
    engine = _Sync(
        store,
        connector,
        full=full,
        since=since,
        lookback=lookback,
        batch_size=max(1, batch_size),
        mapping=source_mapping,
        progress=progress,
        before_commit=before_commit,
        prefetch=prefetch,
    )
    summary = SyncSummary(connector=connector.name, source=engine.source, full=full)
    everything = connector.streams()
    for stream in everything:
        others = [st.name for st in everything if st.entity == stream.entity and st.name != stream.name]
        if stream.complete_read and others:
            raise ConnectorConfigurationError(
                f"{connector.name}: stream {stream.name} reads {stream.entity} completely, "
                f"but {', '.join(others)} also fill it; a complete read would tombstone their rows."
            )
    chosen = _ordered(everything if streams is None else [connector.stream(n) for n in streams])
    with store.begin() as conn:
        inserted = conn.execute(
            s.sync_runs.insert().values(
                connector=connector.name,
                source=engine.source,
                full_refresh=full,
                status="running",
                started_at=engine.started,
                records_read=0,
                inserted=0,
                updated=0,
                unchanged=0,
                deleted=0,
                skipped=0,
            )
        ).inserted_primary_key
        summary.run_id = None if inserted is None else inserted[0]
    log.info("sync %s (run %s) started: %s", connector.name, summary.run_id, "full" if full else "incremental")
    try:
        for stream in chosen:
            stream_summary = StreamSummary(stream=stream.name, entity=stream.entity)
            summary.streams.append(stream_summary)
            try:
                _StreamSync(engine, stream, stream_summary).run()
            except StreamUnavailable as exc:
                stream_summary.unavailable = redact(exc.message)
                log.warning("stream %s: nothing to read in this account: %s", stream.name, stream_summary.unavailable)
            log.info("stream %s: %s", stream.name, stream_summary.as_dict())
        summary.status = "succeeded"
    except RateLimited as exc:
        summary.status = "stopped" if exc.scope == "daily" else "failed"
        summary.error = redact(str(exc))
        raise
    except ConnectorError as exc:
        summary.status = "failed"
        summary.error = redact(str(exc))
        raise
    except BaseException as exc:
        summary.status = "failed"
        summary.error = redact(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        finish_sync_run(store, summary)
    return summary
