"""The store: one SQLAlchemy engine over SQLite (default) or PostgreSQL, migrated in place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..errors import StoreError

__all__ = ["DATABASE_URL_ENV", "DEFAULT_DATABASE_FILE", "Store", "default_database_url", "open_store"]

DATABASE_URL_ENV = "KPI_DATABASE_URL"
DEFAULT_DATABASE_FILE = "kpi.sqlite"
_MIGRATIONS = Path(__file__).parent / "migrations"


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
            kwargs["connect_args"] = {"timeout": 30}
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except (ImportError, SQLAlchemyError) as exc:
            raise StoreError(
                f"cannot use the database {parsed.render_as_string(hide_password=True)}: {exc}.",
                hint="for PostgreSQL install the driver with: pip install 'kpi-engine[postgres]'",
            ) from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # Let BEGIN IMMEDIATE serialise writers (two evaluations never interleave).
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

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
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "heads")  # feature branches of migrations may coexist
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0].rstrip(".")
            raise StoreError(
                f"cannot open the database {self.display_url}: {reason}.",
                hint=f"check --db or ${DATABASE_URL_ENV}",
            ) from None

    def schema_revision(self) -> str | None:
        """The migration the database is at, or None for an empty database."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun explicitly (see "begin" listener)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
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
