"""What a sync remembers and reports: cursors, each stream's saved state, the summaries, the ``sync_runs`` row."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from ..store import schema as s
from ..store.database import Store

__all__ = [
    "StreamSummary",
    "SyncSummary",
    "finish_sync_run",
    "iso_utc",
    "later_mark",
    "load_sync_state",
    "parse_cursor",
    "remote_id_order",
    "save_sync_state",
]

log = logging.getLogger("kpi_engine.sync")


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
    unavailable: str | None = None
    """Why the CRM has nothing to read for this stream (an object not enabled), when it said so."""

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
            "unavailable": self.unavailable,
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


def iso_utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def remote_id_order(remote_id: str) -> tuple[int, int, str]:
    return (0, int(remote_id), "") if remote_id.isdigit() else (1, 0, remote_id)


def later_mark(a: tuple[datetime, str] | None, b: tuple[datetime, str]) -> tuple[datetime, str]:
    if a is None:
        return b
    return b if (b[0], remote_id_order(b[1])) > (a[0], remote_id_order(a[1])) else a


# --- state ------------------------------------------------------------------------------


def load_sync_state(conn: Connection, connector: str, stream: str) -> dict[str, Any]:
    """The saved state of one stream (empty when it was never synced)."""
    t = s.sync_state
    row = conn.execute(select(t.c.state).where(t.c.connector == connector, t.c.stream == stream)).first()
    return dict(row.state) if row else {}


def save_sync_state(conn: Connection, connector: str, stream: str, state: dict[str, Any]) -> None:
    t = s.sync_state
    now = datetime.now(UTC)
    done = conn.execute(
        t.update().where(t.c.connector == connector, t.c.stream == stream).values(state=state, updated_at=now)
    ).rowcount
    if not done:
        conn.execute(t.insert().values(connector=connector, stream=stream, state=state, updated_at=now))


def finish_sync_run(store: Store, summary: SyncSummary) -> None:
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
    except Exception:  # noqa: BLE001 - the sync's own error, if any, is the one to raise
        log.warning("could not record the end of sync run %s", summary.run_id)
