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

Deleted records become tombstones (``is_deleted``; ``deleted_at`` on deals).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, select

from ..ingest.loading import LoadCounts, UnresolvedReferences, upsert_records
from ..ingest.records import RECORD_MODELS
from ..store import schema as s
from ..store.database import Store
from .connector import ENTITY_ORDER, Checkpoint, Connector, Record, Stream, StreamState
from .errors import ConnectorConfigurationError, ConnectorError, RateLimited
from .mapping import SourceMapping, StreamMapping, load_source_mapping
from .secrets import install_log_redaction, redact

__all__ = ["DEFAULT_LOOKBACK", "StreamSummary", "SyncSummary", "load_sync_state", "parse_cursor", "sync"]

log = logging.getLogger("kpi_engine.sync")
install_log_redaction()

DEFAULT_LOOKBACK = timedelta(minutes=5)
DEFAULT_BATCH_SIZE = 1000

Progress = Callable[[str, int, int], None]
BeforeCommit = Callable[[str, int], None]


@dataclass
class StreamSummary:
    """What one stream's sync did."""

    stream: str
    entity: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    pages: int = 0
    commits: int = 0
    cursor: str | None = None

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "entity": self.entity,
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": self.skipped_total,
            "skipped_reasons": dict(self.skipped.most_common()),
            "pages": self.pages,
            "cursor": self.cursor,
        }


@dataclass
class SyncSummary:
    """What a sync did, per stream and in total; ``status`` is succeeded, failed or stopped."""

    connector: str
    source: str
    full: bool
    run_id: int | None = None
    status: str = "running"
    error: str | None = None
    streams: list[StreamSummary] = field(default_factory=list)

    def total(self, name: str) -> int:
        if name == "skipped":
            return sum(st.skipped_total for st in self.streams)
        return sum(getattr(st, name) for st in self.streams)

    @property
    def skipped_reasons(self) -> Counter[str]:
        reasons: Counter[str] = Counter()
        for st in self.streams:
            reasons.update({f"{st.stream}: {reason}": n for reason, n in st.skipped.items()})
        return reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "source": self.source,
            "full": self.full,
            "run_id": self.run_id,
            "status": self.status,
            "error": self.error,
            **{k: self.total(k) for k in ("read", "inserted", "updated", "unchanged", "deleted", "skipped")},
            "streams": [st.as_dict() for st in self.streams],
        }


# --- cursors --------------------------------------------------------------------------


def parse_cursor(value: Any, fmt: str = "iso8601") -> datetime | None:
    """A cursor value as an aware UTC datetime (ISO 8601 text with any offset, epoch ms or s)."""
    if value is None or value == "":
        return None
    if type(value) is str and fmt == "iso8601" and len(value) > 19 and value[10] == "T":  # the common case, read in C
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, datetime):
        moment = value
    elif fmt in ("epoch_ms", "epoch_s") or isinstance(value, int):
        number = int(str(value).split(".")[0])
        moment = datetime.fromtimestamp(number / 1000 if fmt != "epoch_s" else number, tz=UTC)
    else:
        text = str(value).strip()
        if text.isdigit():
            return parse_cursor(int(text), "epoch_ms" if fmt == "iso8601" and len(text) > 11 else fmt)
        text = text.replace(" ", "T", 1) if "T" not in text and len(text) > 10 else text
        if text[-5:-4] in "+-" and text[-4:].isdigit() and text[-3] != ":":  # +0000 → +00:00
            text = f"{text[:-2]}:{text[-2:]}"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _id_key(remote_id: str) -> tuple[int, int, str]:
    return (0, int(remote_id), "") if remote_id.isdigit() else (1, 0, remote_id)


def _later(a: tuple[datetime, str] | None, b: tuple[datetime, str]) -> tuple[datetime, str]:
    if a is None:
        return b
    return b if (b[0], _id_key(b[1])) > (a[0], _id_key(a[1])) else a


# --- state ------------------------------------------------------------------------------


def load_sync_state(conn: Connection, connector: str, stream: str) -> dict[str, Any]:
    """The saved state of one stream (empty when it was never synced)."""
    t = s.sync_state
    row = conn.execute(select(t.c.state).where(t.c.connector == connector, t.c.stream == stream)).first()
    return dict(row.state) if row else {}


def _save_state(conn: Connection, connector: str, stream: str, state: dict[str, Any]) -> None:
    t = s.sync_state
    now = datetime.now(UTC)
    done = conn.execute(
        t.update().where(t.c.connector == connector, t.c.stream == stream).values(state=state, updated_at=now)
    ).rowcount
    if not done:
        conn.execute(t.insert().values(connector=connector, stream=stream, state=state, updated_at=now))


# --- mapping records ------------------------------------------------------------------------


class _Mapper:
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
        """Translate the CRM owner id to a person id; the reason when it is unknown."""
        for name in ("owner_id", "manager_id"):
            remote = values.get(name)
            if remote in (None, ""):
                values[name] = None
                continue
            remote = str(remote)
            person = self.owners.get(remote)
            if person is None:
                if name == "manager_id":
                    values[name] = None
                    continue
                return f"owner {remote} is not a known person"
            values[name] = person
        return None

    def validate(self, values: dict[str, Any]) -> Any:
        names = self.field_names
        for name in self.time_fields:  # ISO 8601 with an offset, the common case, read in C
            value = values.get(name)
            if type(value) is str and len(value) > 19:
                try:
                    moment = datetime.fromisoformat(value)
                except ValueError:
                    continue
                if moment.tzinfo is not None:
                    values[name] = moment.astimezone(UTC)
        return self.model.model_validate({k: v for k, v in values.items() if k in names}, context=self.context)


def _holds_datetime(annotation: Any) -> bool:
    """Whether a field's type is a datetime, possibly optional or annotated with validators."""
    if annotation is datetime:
        return True
    return any(_holds_datetime(arg) for arg in get_args(annotation) if arg is not type(None))


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


# --- the engine ---------------------------------------------------------------------------

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _pages(items: Iterable[Record | Checkpoint]) -> Iterator[list[Record | Checkpoint]]:
    page: list[Record | Checkpoint] = []
    for item in items:
        page.append(item)
        if isinstance(item, Checkpoint):
            yield page
            page = []
    if page:
        yield page


def _prefetched(items: Iterable[Record | Checkpoint], depth: int) -> Iterator[list[Record | Checkpoint]]:
    """Pages (records up to and including a checkpoint), read ahead by a thread while earlier pages are written.

    The connector's generator runs in one reading thread; its errors reach the caller in order.
    With ``depth`` 0 it runs in the caller's thread.
    """
    if depth <= 0:
        yield from _pages(items)
        return
    pages: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in _pages(items):
                while not stop.is_set():
                    try:
                        pages.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pages.put(_DONE)
        except BaseException as exc:
            pages.put(_Failure(exc))

    reader = threading.Thread(target=produce, name="kpi-sync-reader", daemon=True)
    reader.start()
    try:
        while True:
            page = pages.get()
            if page is _DONE:
                return
            if isinstance(page, _Failure):
                raise page.error
            yield page
    finally:
        stop.set()
        while reader.is_alive():
            try:
                pages.get(timeout=0.05)
            except queue.Empty:
                pass


@dataclass
class _Batch:
    live: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)
    deleted_ids: list[tuple[str, datetime | None]] = field(default_factory=list)  # tombstones with no full record
    remote_ids: dict[str, str] = field(default_factory=dict)  # person id -> CRM user id (people)
    high: tuple[datetime, str] | None = None
    keys: set[Any] = field(default_factory=set)


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
            saved = {"cursor": _iso(engine.since)}
        pending = saved.get("pending") or {}
        cursor = parse_cursor(saved.get("cursor"))
        tie = saved.get("tie_breaker_id")
        if pending:
            since = parse_cursor(pending.get("since"))
            started = parse_cursor(pending.get("started_at")) or engine.started
            high_raw = pending.get("high_water")
            high = (parse_cursor(high_raw[0]), str(high_raw[1])) if high_raw else None
        else:
            since = None
            if cursor is not None and stream.cursor_field:
                since = cursor if engine.since is not None else cursor - engine.lookback
            started = engine.started
            high = (cursor, str(tie or "")) if cursor is not None else None
        mapping = engine.mapping.streams.get(stream.name, StreamMapping())
        self.mapper = _Mapper(stream, mapping, engine.mapping, engine.source, owners)
        state = StreamState(
            stream=stream.name,
            since=since,
            cursor=cursor,
            tie_breaker_id=tie,
            position=pending.get("position"),
            fields=mapping.remote_fields(),
        )
        base = {"cursor": _iso(cursor), "tie_breaker_id": tie}
        batch = _Batch()
        count = 0
        for page in _prefetched(engine.connector.read(stream, state), engine.prefetch):
            item = page[-1]
            for record in page:
                if isinstance(record, Record):
                    self.summary.read += 1
                    count += 1
                    high = self.add(batch, record, high)
            if isinstance(item, Checkpoint):
                self.summary.pages += 1
                if count >= engine.batch_size:
                    self.commit(
                        batch,
                        {
                            **base,
                            "pending": {
                                "since": _iso(since),
                                "started_at": _iso(started),
                                "position": item.position,
                                "high_water": [_iso(high[0]), high[1]] if high else None,
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
            final = {"cursor": _iso(mark), "tie_breaker_id": mark_id}
        self.summary.cursor = final.get("cursor")
        self.commit(batch, final)

    def add(self, batch: _Batch, record: Record, high: tuple[datetime, str] | None) -> tuple[datetime, str] | None:
        mapper = self.mapper
        summary = self.summary
        remote_id = mapper.remote_id(record)
        if remote_id is None:
            summary.skipped[f"no {self.stream.primary_key}"] += 1
            return high
        if self.stream.cursor_field:
            try:
                moment = parse_cursor(record.data.get(self.stream.cursor_field), self.stream.cursor_format)
            except (ValueError, TypeError, OverflowError):
                moment = None
            if moment is not None:
                high = _later(high, (moment, remote_id))
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
            if record.deleted:
                stamp = parse_cursor(record.data.get(self.stream.cursor_field)) if self.stream.cursor_field else None
                batch.deleted_ids.append((remote_id, stamp))
            else:
                summary.skipped[_reason(exc)] += 1
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

    def commit(self, batch: _Batch, state: dict[str, Any]) -> None:
        engine = self.engine
        summary = self.summary
        with engine.store.begin() as conn:
            tombstones = batch.deleted
            already_deleted: set[str] = set()
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
            _save_state(conn, engine.connector.name, self.stream.name, state)
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


def _mapping_for(connector: Connector, mapping: SourceMapping | str | Path | None) -> SourceMapping:
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
    """
    if since is not None and since.tzinfo is None:
        raise ConnectorConfigurationError(
            f"the time {since.isoformat()} to sync from has no time zone.", hint="write it as 2026-01-01T00:00:00Z"
        )
    source_mapping = _mapping_for(connector, mapping)
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
    chosen = _ordered(connector.streams() if streams is None else [connector.stream(n) for n in streams])
    with store.begin() as conn:
        summary.run_id = conn.execute(
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
        ).inserted_primary_key[0]
    log.info("sync %s (run %s) started: %s", connector.name, summary.run_id, "full" if full else "incremental")
    try:
        for stream in chosen:
            stream_summary = StreamSummary(stream=stream.name, entity=stream.entity)
            summary.streams.append(stream_summary)
            _StreamSync(engine, stream, stream_summary).run()
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
        _finish_run(store, summary)
    return summary


def _finish_run(store: Store, summary: SyncSummary) -> None:
    try:
        with store.begin() as conn:
            conn.execute(
                s.sync_runs.update()
                .where(s.sync_runs.c.id == summary.run_id)
                .values(
                    status=summary.status,
                    finished_at=datetime.now(UTC),
                    records_read=summary.total("read"),
                    inserted=summary.total("inserted"),
                    updated=summary.total("updated"),
                    unchanged=summary.total("unchanged"),
                    deleted=summary.total("deleted"),
                    skipped=summary.total("skipped"),
                    summary=summary.as_dict(),
                    error=summary.error,
                )
            )
    except Exception:
        log.warning("could not record the end of sync run %s", summary.run_id)
