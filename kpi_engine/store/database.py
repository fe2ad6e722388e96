"""The store: one SQLAlchemy engine over SQLite (default) or PostgreSQL, migrated in place."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from ..errors import StoreError

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_FILE",
    "SQLITE_BUSY_TIMEOUT",
    "Store",
    "default_database_url",
    "insert_many",
    "open_store",
    "refresh_statistics",
]

DATABASE_URL_ENV = "KPI_DATABASE_URL"
SQLITE_BUSY_TIMEOUT = 30.0
"""Seconds a SQLite writer waits for the write lock before its command gives up."""
_SQLITE_BUSY_CODES = {5, 6, 517}  # SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT
DEFAULT_DATABASE_FILE = "kpi.sqlite"
_MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


def default_database_url() -> str:
    """``$KPI_DATABASE_URL``, else an SQLite file ``kpi.sqlite`` in the current folder."""
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{DEFAULT_DATABASE_FILE}"


def _normalise_url(url: str) -> str:
    # A bare PostgreSQL URL means the psycopg 3 driver, the one this project installs.
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Store:
    """A database holding the common schema, evaluation runs and sync state."""

    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        try:
            parsed = make_url(self.url)
        except Exception:  # noqa: BLE001 - SQLAlchemy raises several kinds for a bad URL
            raise StoreError(
                f"{url!r} is not a database URL.",
                hint="use sqlite:///path/to/file.sqlite or postgresql://user@host/dbname",
            ) from None
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT}
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except (ImportError, SQLAlchemyError) as exc:
            raise StoreError(
                f"cannot use the database {parsed.render_as_string(hide_password=True)}: {exc}.",
                hint="for PostgreSQL install the driver with: pip install 'kpi-engine[postgres]'",
            ) from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (creates it in an empty database)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        try:
            if self._is_current(config):
                return  # nothing to migrate: no write transaction, so readers never wait on writers
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "heads")  # feature branches of migrations may coexist
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0].rstrip(".")
            raise StoreError(
                f"cannot open the database {self.display_url}: {reason}.",
                hint=f"check --db or ${DATABASE_URL_ENV}",
            ) from None

    def _is_current(self, config: Any) -> bool:
        from alembic.script import ScriptDirectory

        heads = set(ScriptDirectory.from_config(config).get_heads())
        with self.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            return set(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()) == heads

    def schema_revision(self) -> str | None:
        """The migration the database is at, or None for an empty database."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all.

        On SQLite a writer waits ``SQLITE_BUSY_TIMEOUT`` seconds for the write lock; past it the
        transaction is rolled back and ``StoreError`` says so (SQLite does not grant the lock in turn, so
        a writer can wait behind others taking it back to back).
        """
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            if getattr(exc.orig, "sqlite_errorcode", None) not in _SQLITE_BUSY_CODES:
                raise
            raise StoreError(
                f"the database {self.display_url} stayed locked by another writer for {SQLITE_BUSY_TIMEOUT:g} s; "
                "nothing was written.",
                hint="run the command again once the other kpi command (an import, an evaluation, a sync) is done",
            ) from None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading: on SQLite its transactions take no write lock (in WAL mode a
        reader never waits for a writer, nor a writer for a reader)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True})
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """One read transaction whose every query sees the same committed state, rolled back at the end.

        SQLite: a deferred transaction in WAL mode reads one snapshot. PostgreSQL: REPEATABLE READ
        (READ COMMITTED, its default, would let each query see what committed since the last).
        """
        with self.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin() as transaction:
                try:
                    yield conn
                finally:
                    transaction.rollback()

    def write_in_snapshot(self, work: Callable[[Connection], T], *, locks: Sequence[int] = ()) -> T:
        """Run ``work`` in one write transaction whose reads all see one state, taken once ``locks`` are held.

        SQLite: ``BEGIN IMMEDIATE`` excludes every other writer, so the state cannot move. PostgreSQL:
        the advisory ``locks`` are taken for the session first, then a REPEATABLE READ transaction
        starts (a snapshot taken before the locks were granted would miss what their last holder
        wrote); a serialization failure rolls everything back and runs ``work`` again, a few times.
        """
        if self.dialect != "postgresql":
            with self.begin() as conn:
                return work(conn)
        for attempt in range(1, _SNAPSHOT_ATTEMPTS + 1):
            try:
                return self._locked_repeatable_read(work, locks)
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) not in _RETRYABLE or attempt == _SNAPSHOT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _locked_repeatable_read(self, work: Callable[[Connection], T], locks: Sequence[int]) -> T:
        with self.engine.connect() as conn:
            try:
                for key in sorted(set(locks)):  # always in one order: two callers never wait on each other
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                conn.commit()
                conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    return work(conn)
            finally:
                if conn.in_transaction():
                    conn.rollback()
                if locks and not conn.invalidated:
                    conn.execution_options(isolation_level="READ COMMITTED")
                    conn.execute(text("SELECT pg_advisory_unlock_all()"))
                    conn.commit()

    @contextmanager
    def try_session_lock(self, key: int) -> Iterator[bool]:
        """PostgreSQL: try a session advisory lock on a connection held for the ``with`` block, never waiting.

        Yields whether it was granted; a granted lock is released at the end, and goes with the
        connection if the process dies. Other stores yield ``True`` (they lock by other means).
        """
        if self.dialect != "postgresql":
            yield True
            return
        with self.engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got and not conn.invalidated:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()


_READ_ONLY = "kpi_read_only"
_SNAPSHOT_ATTEMPTS = 5
_RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock detected


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (mappings with the same keys) in bulk, inside the connection's transaction.

    Each column's bind processor (exact decimals to scaled integers, times to UTC) is applied as
    ``conn.execute`` would, without its per-row bookkeeping, which costs more than the database's own
    work on a bulk load. PostgreSQL: ``COPY … FROM STDIN`` (a row per round trip would be hundreds of
    times slower); SQLite: one ``executemany`` of SQLAlchemy's insert compiled for the dialect. Table
    and column names come from the schema, quoted by the dialect; values are never part of the SQL.
    """
    if not rows:
        return
    dialect = conn.dialect
    keys = list(rows[0])
    processors = [(key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in keys]
    if dialect.name == "postgresql":
        quote = dialect.identifier_preparer
        columns = ", ".join(quote.quote(table.c[key].name) for key in keys)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {quote.format_table(table)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[k] if process is None else process(row[k]) for k, process in processors])
        finally:
            cursor.close()
        return
    compiled = table.insert().compile(dialect=dialect, column_keys=keys)
    if not compiled.positional:  # pragma: no cover - the two stores are SQLite (qmark) and PostgreSQL (COPY)
        conn.execute(table.insert(), list(rows))
        return
    order = dict(processors)
    positional = [(name, order[name]) for name in (compiled.positiontup or ())]
    params = [tuple(row[k] if process is None else process(row[k]) for k, process in positional) for row in rows]
    conn.exec_driver_sql(str(compiled), params)


def refresh_statistics(conn: Connection, *tables: Table) -> None:
    """PostgreSQL: ``ANALYZE`` the tables, inside the transaction (its own new rows counted).

    A bulk load into a table the planner believes empty (never analysed, or much smaller when it was)
    gets sequential scans for its per-batch lookups, each slower as the table grows: 0.2 s a batch
    at 50,000 rows. SQLite's planner uses the indexes without statistics: nothing to do.
    """
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.format_table(table)}")


def _sqlite_begin(conn: Connection) -> None:
    """Writers begin IMMEDIATE (they queue on the write lock up front; two evaluations never
    interleave); readers begin DEFERRED and, in WAL mode, read a snapshot while a writer writes."""
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun explicitly (see "begin" listener)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # file databases; an in-memory one keeps its own mode
    cursor.execute(
        "PRAGMA cache_size=-65536"
    )  # 64 MiB of pages (the default 2 MiB re-reads a month of deals for every metric)
    cursor.close()


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """Open the store at ``url`` (default: ``default_database_url()``), migrating it unless told not to."""
    store = Store(url or default_database_url())
    if upgrade:
        store.upgrade()
    return store
