"""The acceptance suite every connector passes against its mock server.

Subclass ``ConnectorAcceptanceSuite`` in a test module and give it an ``acceptance_target``
fixture that says how to start your mock server and how to script it::

    import pytest
    from kpi_engine.testing import AcceptanceTarget, ConnectorAcceptanceSuite

    class TestAcmeAcceptance(ConnectorAcceptanceSuite):
        @pytest.fixture
        def acceptance_target(self):
            return AcceptanceTarget(
                connector=AcmeConnector,
                server=lambda: AcmeMock(deals=300),
                settings=lambda server, auth: {"base_url": server.url, "token": server.token},
                live_ids=lambda server, stream: server.live_ids(stream),
                delete=lambda server, stream: server.archive_one(stream),
                rate_limit_every=lambda server, k: server.faults.every(k, "rate_limit"),
                expire_token=lambda server: server.tokens.expire_all(),
                token_grants=lambda server: server.refreshes,
            )

The tests use the ``store`` fixture (the pytest plugin gives an SQLite one; a project's own
``store`` fixture replaces it, e.g. to run on PostgreSQL too). Time is a ``FakeClock``: rate-limit
waits and backoff never really sleep.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ..connect.connector import Connector, ConnectorContext
from ..connect.errors import ConnectorConfigurationError
from ..connect.http import RetryPolicy
from ..connect.secrets import MemoryTokenStore
from ..connect.sync import SyncSummary, sync
from ..store import schema as s
from ..store.database import Store, open_store
from ._fakes import FakeClock

__all__ = ["AcceptanceTarget", "ConnectorAcceptanceSuite", "SimulatedCrash", "store_snapshot"]

_SURROGATES = {"id", "customer_id", "deal_id", "lead_id", "converted_deal_id", "deleted_at"}


class SimulatedCrash(RuntimeError):
    """Raised inside a sync transaction to simulate the process dying before the commit."""


@dataclass
class AcceptanceTarget:
    """How the acceptance suite drives one connector and its mock server.

    ``server()`` builds a mock (an object with ``start()`` and ``stop()``); ``settings(server,
    auth)`` gives the connector's settings for ``auth`` ``"token"`` or ``"oauth"``;
    ``live_ids(server, stream)`` the remote ids a sync must hold as live rows; ``delete(server,
    stream)`` deletes one record in the CRM and returns its id; ``rate_limit_every(server, k)``
    makes every k-th call a rate-limit answer in the CRM's dialect; ``expire_token(server)``
    expires the current OAuth access token; ``token_grants(server)`` counts tokens the server
    issued. ``deleted_stream`` names the stream used for crash and delete tests.
    """

    connector: type[Connector]
    server: Callable[[], Any]
    settings: Callable[[Any, str], dict[str, Any]]
    live_ids: Callable[[Any, str], set[str]]
    delete: Callable[[Any, str], str]
    rate_limit_every: Callable[[Any, int], None]
    expire_token: Callable[[Any], None] | None = None
    token_grants: Callable[[Any], int] | None = None
    deleted_stream: str = "deals"
    streams: Sequence[str] | None = None
    batch_size: int = 100
    mapping: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def store_snapshot(store: Store, source: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of a source in people, deals, leads and activities, without surrogate ids."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    with store.connect() as conn:
        for table in (s.people, s.deals, s.leads, s.activities):
            columns = [c for c in table.c if c.name not in _SURROGATES]
            rows = conn.execute(select(*columns).where(table.c.source == source)).all()
            snapshot[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return snapshot


class ConnectorAcceptanceSuite:
    """The behaviour every connector must show against its mock server (see the module docstring)."""

    # --- helpers ------------------------------------------------------------------------

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @contextmanager
    def running(self, target: AcceptanceTarget) -> Iterator[Any]:
        server = target.server()
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def connector(
        self,
        target: AcceptanceTarget,
        server: Any,
        clock: FakeClock,
        auth: str = "token",
        tokens: MemoryTokenStore | None = None,
    ) -> Connector:
        context = ConnectorContext(
            clock=clock, token_store=tokens or MemoryTokenStore(), retry=RetryPolicy(max_attempts=6)
        )
        return target.connector.from_env(target.settings(server, auth), environ={}, context=context, use_keyring=False)

    def sync(self, store: Store, target: AcceptanceTarget, connector: Connector, **options: Any) -> SyncSummary:
        options.setdefault("batch_size", target.batch_size)
        if target.mapping is not None:
            options.setdefault("mapping", target.mapping)
        return sync(store, connector, streams=target.streams, **options)

    def source(self, target: AcceptanceTarget, connector: Connector) -> str:
        from ..connect.sync import source_mapping_for

        return source_mapping_for(connector, target.mapping).source or connector.name

    def stored_ids(self, store: Store, source: str, entity: str, *, deleted: bool) -> set[str]:
        table = getattr(s, entity)
        with store.connect() as conn:
            column = table.c.remote_id
            return set(
                conn.execute(select(column).where(table.c.source == source, table.c.is_deleted.is_(deleted))).scalars()
            )

    def expected_ids(self, target: AcceptanceTarget, connector: Connector, server: Any) -> dict[str, set[str]]:
        expected: dict[str, set[str]] = {}
        chosen = set(target.streams) if target.streams else None
        for stream in connector.streams():
            if stream.entity == "people" or (chosen is not None and stream.name not in chosen):
                continue
            expected.setdefault(stream.entity, set()).update(target.live_ids(server, stream.name))
        return expected

    def assert_holds_exactly(self, store: Store, target: AcceptanceTarget, connector: Connector, server: Any) -> None:
        source = self.source(target, connector)
        for entity, ids in self.expected_ids(target, connector, server).items():
            stored = self.stored_ids(store, source, entity, deleted=False)
            missing, extra = ids - stored, stored - ids
            assert not missing and not extra, (
                f"{entity}: {len(missing)} missing (e.g. {sorted(missing)[:3]}), {len(extra)} unexpected (e.g. "
                f"{sorted(extra)[:3]})"
            )
            table = getattr(s, entity)
            with store.connect() as conn:
                count = len(conn.execute(select(table.c.id).where(table.c.source == source)).all())
                distinct = len(set(conn.execute(select(table.c.remote_id).where(table.c.source == source)).scalars()))
            assert count == distinct, f"{entity}: {count - distinct} duplicated rows"

    # --- the suite ------------------------------------------------------------------------

    def test_settings_are_validated_without_echoing_secrets(
        self, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        with pytest.raises(ConnectorConfigurationError) as missing:
            target.connector.from_env({}, environ={}, use_keyring=False)
        assert "KPI_" in str(missing.value), "the error names the environment variable to set"
        with pytest.raises(ConnectorConfigurationError):
            target.connector.from_env({"no_such_setting": "x"}, environ={}, use_keyring=False)
        with self.running(target) as server:
            values = target.settings(server, "token")
            connector = self.connector(target, server, clock)
            shown = repr(connector.settings) + str(connector.settings.model_dump())
            for name, value in values.items():
                if connector.settings_model.model_fields.get(name) and "secret" in str(
                    connector.settings_model.model_fields[name].json_schema_extra or ""
                ):
                    assert str(value) not in shown, f"the secret {name} shows in the settings' repr"

    def test_check_reaches_the_crm(self, acceptance_target: AcceptanceTarget, clock: FakeClock) -> None:
        with self.running(acceptance_target) as server:
            message = self.connector(acceptance_target, server, clock).check()
        assert isinstance(message, str) and message

    def test_full_read_holds_every_live_record_once(
        self, store: Store, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        with self.running(target) as server:
            connector = self.connector(target, server, clock)
            summary = self.sync(store, target, connector)
            assert summary.status == "succeeded"
            assert summary.total("read") > 0
            self.assert_holds_exactly(store, target, connector, server)

    def test_an_incremental_read_right_after_finds_nothing_new(
        self, store: Store, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        with self.running(target) as server:
            connector = self.connector(target, server, clock)
            self.sync(store, target, connector)
            before = store_snapshot(store, self.source(target, connector))
            again = self.sync(store, target, self.connector(target, server, clock))
            assert (again.total("inserted"), again.total("updated"), again.total("deleted")) == (0, 0, 0), (
                again.as_dict()
            )
            assert store_snapshot(store, self.source(target, connector)) == before

    def test_a_crash_between_a_page_and_its_commit_loses_and_duplicates_nothing(
        self, store: Store, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        with self.running(target) as server:
            connector = self.connector(target, server, clock)

            def crash(stream: str, commit: int) -> None:
                if stream == target.deleted_stream and commit == 2:
                    raise SimulatedCrash("the process died before the commit")

            with pytest.raises(SimulatedCrash):
                self.sync(store, target, connector, before_commit=crash)
            resumed = self.sync(store, target, self.connector(target, server, clock))
            assert resumed.status == "succeeded"
            self.assert_holds_exactly(store, target, connector, server)
            again = self.sync(store, target, self.connector(target, server, clock))
            assert (again.total("inserted"), again.total("updated"), again.total("deleted")) == (0, 0, 0), (
                again.as_dict()
            )

    def test_a_storm_of_rate_limit_answers_ends_with_identical_data(
        self, store: Store, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        with self.running(target) as server, tempfile.TemporaryDirectory() as folder:
            baseline_store = open_store(f"sqlite:///{Path(folder) / 'baseline.sqlite'}")
            try:
                connector = self.connector(target, server, FakeClock())
                self.sync(baseline_store, target, connector)
                baseline = store_snapshot(baseline_store, self.source(target, connector))
            finally:
                baseline_store.dispose()
            target.rate_limit_every(server, 3)
            stormy = self.connector(target, server, clock)
            summary = self.sync(store, target, stormy)
            assert summary.status == "succeeded"
            assert clock.sleeps, "the rate-limit answers were waited out"
            assert store_snapshot(store, self.source(target, stormy)) == baseline

    def test_an_expired_token_is_refreshed_once_and_the_sync_goes_on(
        self, store: Store, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        if target.expire_token is None or target.token_grants is None:
            pytest.skip("the connector has no refreshable tokens")
        with self.running(target) as server:
            connector = self.connector(target, server, clock, auth="oauth")
            grants: dict[str, int] = {}

            def expire(stream: str, commit: int) -> None:
                if stream == target.deleted_stream and commit == 1 and not grants:
                    grants["at_expiry"] = target.token_grants(server)  # type: ignore[misc]
                    target.expire_token(server)  # type: ignore[misc]

            summary = self.sync(store, target, connector, before_commit=expire)
            assert summary.status == "succeeded"
            assert grants, f"the stream {target.deleted_stream} committed nothing"
            assert target.token_grants(server) - grants["at_expiry"] == 1, "exactly one refresh after the expiry"
            self.assert_holds_exactly(store, target, connector, server)

    def test_deleted_records_become_tombstones(
        self, store: Store, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        with self.running(target) as server:
            connector = self.connector(target, server, clock)
            self.sync(store, target, connector)
            removed = target.delete(server, target.deleted_stream)
            summary = self.sync(store, target, self.connector(target, server, clock))
            entity = connector.stream(target.deleted_stream).entity
            source = self.source(target, connector)
            assert removed in self.stored_ids(store, source, entity, deleted=True)
            assert removed not in self.stored_ids(store, source, entity, deleted=False)
            assert summary.total("deleted") >= 1
            self.assert_holds_exactly(store, target, connector, server)
