"""The outbox: each event recorded once per channel, sent until a delivery succeeds, retried with backoff.

``enqueue`` adds the events a channel has not seen (the unique ``(channel, event_key)`` makes a second
insert a no-op on both stores). ``deliver`` claims the channel's pending rows (a row moves from
``pending`` to ``sending`` in one conditional update, so two runs never send the same row), sends them
as one message (a digest per manager), and tries again after 1, 2, 4 … seconds on a refusal that may
pass, through the injected clock so that tests never wait. Rows still failing stay ``pending`` with the
time of their next attempt and the last error; after ``MAX_ATTEMPTS`` they are ``failed`` and reported.
A row left ``sending`` by a run that died is taken up again after ``STALE``: delivery is at least once,
the most a chat webhook without idempotency keys allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..connect.secrets import redact
from ..errors import DeliveryFailed
from ..store import schema as s
from ..store.database import Store
from .config import ChannelConfig
from .events import Event
from .messages import Message, compose, digest_message
from .transports import Transport

__all__ = ["ATTEMPTS_PER_RUN", "ChannelReport", "Clock", "MAX_ATTEMPTS", "SystemClock", "deliver", "enqueue"]

ATTEMPTS_PER_RUN = 4  # the first try and three more, after 1, 2 and 4 seconds
MAX_ATTEMPTS = 12  # over all runs, before a row is given up as failed
LONGEST_WAIT = 60.0  # float ok: seconds; a Retry-After beyond it is left to the next run
STALE = timedelta(minutes=15)


class Clock(Protocol):
    """Wall time in seconds since the epoch, and a way to wait (a test's returns at once)."""

    def time(self) -> float: ...  # float ok: seconds

    def sleep(self, seconds: float) -> None: ...  # float ok: seconds


class SystemClock:
    def time(self) -> float:  # float ok: seconds
        import time

        return time.time()

    def sleep(self, seconds: float) -> None:  # float ok: seconds
        import time

        time.sleep(seconds)


@dataclass
class ChannelReport:
    """What one channel got in a run."""

    channel: str
    queued: int = 0  # events new to the channel this run
    sent: int = 0  # events delivered this run
    messages: int = 0
    pending: int = 0  # still to send (a later run tries again)
    failed: int = 0  # given up
    errors: list[str] = field(default_factory=list)


def _now(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.time(), UTC)


def _wanted(event: Event, channel: ChannelConfig) -> bool:
    if event.kind not in channel.events:
        return False
    if channel.teams is not None and event.kind != "approval" and event.team_id not in channel.teams:
        return False
    return True


def enqueue(store: Store, channel: ChannelConfig, events: Sequence[Event], clock: Clock) -> int:
    """Record the events ``channel`` receives and has not seen; return how many were new."""
    rows = [
        {
            "channel": channel.name,
            "event_key": event.key,
            "kind": event.kind,
            "period": event.period,
            "person_id": event.person_id,
            "event": event.as_json(),
            "status": "pending",
            "attempts": 0,
            "created_at": _now(clock),
        }
        for event in events
        if _wanted(event, channel)
    ]
    if not rows:
        return 0
    n = s.notifications
    added = 0
    with store.begin() as conn:
        known = set(
            conn.execute(
                select(n.c.event_key).where(
                    n.c.channel == channel.name, n.c.event_key.in_([r["event_key"] for r in rows])
                )
            ).scalars()
        )
        fresh = [r for r in rows if r["event_key"] not in known]
        if fresh:
            dialect = store.engine.dialect.name
            statement: Any = (
                (postgresql.insert(n) if dialect == "postgresql" else sqlite.insert(n)).on_conflict_do_nothing(
                    index_elements=["channel", "event_key"]
                )
                if dialect in ("postgresql", "sqlite")
                else insert(n)
            )
            # the rows inserted come back (a key another run inserted meanwhile is skipped): an executemany's
            # rowcount is not summed on every driver (psycopg answers -1)
            added = len(conn.execute(statement.returning(n.c.id), fresh).all())
    return max(added, 0)


def _claim(store: Store, channel: str, now: datetime) -> list[tuple[int, Event, int]]:
    n = s.notifications
    with store.begin() as conn:
        conn.execute(
            update(n)
            .where(n.c.channel == channel, n.c.status == "sending", n.c.next_attempt_at < now - STALE)
            .values(status="pending")
        )
        candidates = conn.execute(
            select(n.c.id, n.c.event, n.c.attempts)
            .where(
                n.c.channel == channel,
                n.c.status == "pending",
                (n.c.next_attempt_at.is_(None)) | (n.c.next_attempt_at <= now),
            )
            .order_by(n.c.id)
        ).all()
        claimed = []
        for row_id, event, attempts in candidates:
            done = conn.execute(
                update(n).where(n.c.id == row_id, n.c.status == "pending").values(status="sending", next_attempt_at=now)
            ).rowcount
            if done == 1:
                claimed.append((row_id, Event.from_json(event), attempts))
    return claimed


def _send_with_retries(transport: Transport, message: Message, clock: Clock) -> str | None:
    """Send; on a retryable refusal wait 1, 2, 4 … seconds and try again. Return the last error, or None."""
    error: str | None = None
    for attempt in range(ATTEMPTS_PER_RUN):
        try:
            transport.send(message)
            return None
        except DeliveryFailed as exc:
            error = redact(str(exc))
            if not exc.retryable or attempt == ATTEMPTS_PER_RUN - 1:
                return error if exc.retryable else f"not retryable: {error}"
            wait = exc.retry_after if exc.retry_after is not None else float(2**attempt)
            if wait > LONGEST_WAIT:
                return error
            clock.sleep(wait)
    return error


def _finish(
    store: Store, ids: Sequence[int], error: str | None, clock: Clock, attempts: dict[int, int], report: ChannelReport
) -> None:
    n = s.notifications
    now = _now(clock)
    with store.begin() as conn:
        for row_id in ids:
            if error is None:
                conn.execute(
                    update(n)
                    .where(n.c.id == row_id)
                    .values(status="sent", sent_at=now, attempts=attempts[row_id] + 1, last_error=None)
                )
                report.sent += 1
                continue
            tried = attempts[row_id] + 1
            gave_up = tried >= MAX_ATTEMPTS or error.startswith("not retryable")
            conn.execute(
                update(n)
                .where(n.c.id == row_id)
                .values(
                    status="failed" if gave_up else "pending",
                    attempts=tried,
                    last_error=error,
                    next_attempt_at=None if gave_up else now + timedelta(minutes=5 * 2 ** min(tried, 6)),
                )
            )
            if gave_up:
                report.failed += 1
            else:
                report.pending += 1


def deliver(
    store: Store,
    channel: ChannelConfig,
    transport: Transport,
    clock: Clock,
    *,
    site_url: str | None = None,
    report: ChannelReport | None = None,
) -> ChannelReport:
    """Send the channel's pending events: the digests one message each, the rest as one message."""
    report = report or ChannelReport(channel.name)
    claimed = _claim(store, channel.name, _now(clock))
    if not claimed:
        return report
    attempts = {row_id: tried for row_id, _, tried in claimed}
    batches: list[tuple[list[int], Message]] = []
    digests = [(row_id, e) for row_id, e, _ in claimed if e.kind == "digest"]
    others = [(row_id, e) for row_id, e, _ in claimed if e.kind != "digest"]
    if others:
        batches.append(([r for r, _ in others], compose([e for _, e in others], channel, site_url=site_url)))
    for row_id, event in digests:
        batches.append(([row_id], digest_message(event, channel, site_url=site_url)))
    for ids, message in batches:
        error = _send_with_retries(transport, message, clock)
        if error is None:
            report.messages += 1
        else:
            report.errors.append(error)
        _finish(store, ids, error, clock, attempts, report)
    return report
