"""Shared fixtures: a fresh store on the backend chosen by ``KPI_TEST_DATABASE_URL``.

Without the variable the suite runs on SQLite files; with a PostgreSQL URL every store
fixture runs on that server (its tables are emptied between tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from kpi_engine.store.database import Store, open_store
from kpi_engine.store.schema import metadata

POSTGRES_URL_ENV = "KPI_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)


def _reset_postgres(url: str) -> Store:
    store = open_store(url)
    with store.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return store


def _in_schema(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def _postgres_ready() -> Iterator[str]:
    """A PostgreSQL URL on a schema of this test session's own, so parallel runs never collide.

    Skipped only outside CI when the server is absent; on CI a missing server fails the run.
    """
    base = os.environ.get("KPI_TEST_DATABASE_URL") or postgres_url()
    schema = f"kpi_test_{os.getpid()}"
    try:
        admin = create_engine(_psycopg(base))
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = _in_schema(base, schema)
        open_store(url).dispose()
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {base} is required on CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {base}: {exc}")
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def _psycopg(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


@contextmanager
def database_of_its_own(name: str, folder: Path) -> Iterator[str]:
    """A URL on the suite's backend for one module's data: a PostgreSQL schema ``name`` of its own
    (dropped after), or a SQLite file ``name`` in ``folder``."""
    base = os.environ.get("KPI_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{folder / f'{name}.sqlite'}"
        return
    schema = f"{name}_{os.getpid()}"
    admin = create_engine(_psycopg(base))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _in_schema(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """A migrated, empty store on the suite's backend."""
    if os.environ.get("KPI_TEST_DATABASE_URL"):
        s = _reset_postgres(request.getfixturevalue("_postgres_ready"))
    else:
        s = open_store(f"sqlite:///{tmp_path / 'kpi.sqlite'}")
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'kpi-sqlite.sqlite'}")
    yield s
    s.dispose()


@pytest.fixture
def postgres_store(_postgres_ready: str) -> Iterator[Store]:
    s = _reset_postgres(_postgres_ready)
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def sample_company_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A factory of stores holding a generated sample company, on the suite's backend, made once per session.

    ``sample_company_store(seed=2026, clean=False)`` returns ``(store, summary)``; the same arguments give
    the same store for the whole session (tests may evaluate plans in it; they never delete data). On
    PostgreSQL each company lives in a schema of its own, apart from the per-test ``store`` fixture.
    """
    from kpi_engine.sample import generate_sample_company

    made: dict[tuple[Any, ...], tuple[Store, Any]] = {}
    schemas: list[str] = []
    base = os.environ.get("KPI_TEST_DATABASE_URL")
    admin = create_engine(_psycopg(base)) if base else None

    def make(
        *, seed: int = 2026, clean: bool = False, months: int = 12, end_month: str = "2026-10"
    ) -> tuple[Store, Any]:
        key = (seed, clean, months, end_month)
        if key not in made:
            name = (
                f"sample_{os.getpid()}_{seed}_{'clean' if clean else 'planted'}_{months}_{end_month.replace('-', '')}"
            )
            if admin is not None and base is not None:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
                    conn.execute(text(f"CREATE SCHEMA {name}"))
                schemas.append(name)
                store = open_store(_in_schema(base, name))
            else:
                store = open_store(f"sqlite:///{tmp_path_factory.mktemp('sample') / (name + '.sqlite')}")
            with store.begin() as conn:
                summary = generate_sample_company(conn, seed=seed, clean=clean, months=months, end_month=end_month)
            made[key] = (store, summary)
        return made[key]

    yield make
    for store, _ in made.values():
        store.dispose()
    if admin is not None:
        with admin.begin() as conn:
            for name in schemas:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        admin.dispose()
