"""pytest fixtures for connector authors (registered through the ``pytest11`` entry point).

- ``fake_clock``: a ``FakeClock`` (waits return at once, and are recorded);
- ``connector_context``: a ``ConnectorContext`` on that clock with an in-memory token store;
- ``start_mock``: ``start_mock(server)`` starts a mock server and stops it after the test;
- ``store``: an empty, migrated SQLite store in the test's temporary folder (a project's own
  ``store`` fixture takes precedence, e.g. one that also runs on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..connect.connector import ConnectorContext
from ..connect.secrets import MemoryTokenStore
from ..store.database import Store, open_store
from ._fakes import FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def connector_context(fake_clock: FakeClock) -> ConnectorContext:
    return ConnectorContext(clock=fake_clock, token_store=MemoryTokenStore())


@pytest.fixture
def start_mock() -> Iterator[Callable[[Any], Any]]:
    started: list[Any] = []

    def start(server: Any) -> Any:
        server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'kpi-connector-test.sqlite'}")
    yield s
    s.dispose()
