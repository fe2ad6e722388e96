"""One daily run at a time: a lock that holds across processes and hosts for the store in use.

PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection kept for the run, so
two hosts running ``kpi daily`` against one database never overlap, and the lock goes with the
connection if the process dies. SQLite: an OS file lock (``filelock``) on ``<database>.daily.lock``
beside the database file, released by the kernel when the process dies. Neither waits: a second
run is told at once that another holds the lock.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from ..errors import RunInProgress
from ..store.database import Store

__all__ = ["DAILY_LOCK_KEY", "daily_lock"]

DAILY_LOCK_KEY = zlib.crc32(b"kpi daily")


@contextmanager
def daily_lock(store: Store) -> Iterator[None]:
    """Hold the daily lock for the ``with`` block, or raise ``RunInProgress`` at once."""
    if store.dialect == "postgresql":
        with store.try_session_lock(DAILY_LOCK_KEY) as got:
            if not got:
                raise RunInProgress(
                    "another kpi daily is running against this database; this run did nothing.",
                    hint="wait for it to finish (a timer or cron entry runs it again at its next time)",
                )
            yield
        return
    database = make_url(store.url).database
    if not database or database == ":memory:":
        yield  # a database of this process alone: nobody else can run against it
        return
    from filelock import FileLock, Timeout

    lock = FileLock(f"{database}.daily.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunInProgress(
            f"another kpi daily is running against {database}; this run did nothing.",
            hint="wait for it to finish (a timer or cron entry runs it again at its next time)",
        ) from None
    try:
        yield
    finally:
        lock.release()
