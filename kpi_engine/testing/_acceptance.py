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

``fact_streams`` names the streams of facts after the deal (payments, refunds, splits, spend …): the
crash, token-expiry and tombstone tests run in each of them too. A stream kept by its natural key
(``deal_splits``, ``deal_stage_history``) is identified as ``"<deal remote id>|<person id>"`` or
``"<deal remote id>|<entered_at, ISO 8601 UTC>"`` in ``live_ids`` and in what ``delete`` returns.

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
from sqlalchemy import Table, select

from ..connect.connector import ENTITY_ORDER, KEYED_BY_DEAL, Connector, ConnectorContext
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
    issued. ``deleted_stream`` names the stream used for crash and delete tests; ``fact_streams``
    the streams of facts those tests also run in.
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
    fact_streams: Sequence[str] = ()
    streams: Sequence[str] | None = None
    batch_size: int = 100
    mapping: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _rows(conn: Any, table: Table, source: str) -> list[tuple[Any, ...]]:
    """A table's rows of ``source``, its references to deals and customers written as their remote ids."""
    deals, customers = s.deals.alias("d"), s.customers.alias("c")
    columns: list[Any] = [c for c in table.c if c.name not in _SURROGATES]
    joined: Any = table
    if "deal_id" in table.c:
        columns.append(deals.c.remote_id.label("deal_remote_id"))
        joined = joined.outerjoin(deals, deals.c.id == table.c.deal_id)
    if "customer_id" in table.c:
        columns.append(customers.c.remote_id.label("customer_remote_id"))
        joined = joined.outerjoin(customers, customers.c.id == table.c.customer_id)
    query = select(*columns).select_from(joined)
    query = query.where(table.c.source == source) if "source" in table.c else query.where(deals.c.source == source)
    return sorted((tuple(r) for r in conn.execute(query).all()), key=repr)


def store_snapshot(store: Store, source: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a connector can write for a source (people, deals, their splits and stage history,
    leads, activities, payments, refunds, marketing spend …), without surrogate ids."""
    with store.connect() as conn:
        return {entity: _rows(conn, getattr(s, entity), source) for entity in ENTITY_ORDER}


def _identity(row: Any, entity: str) -> str:
    """How an entity kept by its natural key is named in ``live_ids``: deal and person, or deal and instant."""
    if entity == "deal_splits":
        return f"{row.deal_remote_id}|{row.person_id}"
    moment = row.entered_at
    return f"{row.deal_remote_id}|{moment.isoformat()}"


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
        if entity in KEYED_BY_DEAL:  # no tombstones: a deleted row is gone
            if deleted:
                return set()
            d = s.deals.c
            query = select(table, d.remote_id.label("deal_remote_id")).join(s.deals, d.id == table.c.deal_id)
            with store.connect() as conn:
                return {_identity(row, entity) for row in conn.execute(query.where(d.source == source))}
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
            if entity in KEYED_BY_DEAL:
                continue  # one row per natural key: a unique constraint holds it
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
            expiring = [target.deleted_stream, *target.fact_streams]

            def expire(stream: str, commit: int) -> None:
                if stream in expiring and stream not in grants:
                    grants[stream] = target.token_grants(server)  # type: ignore[misc]
                    target.expire_token(server)  # type: ignore[misc]

            summary = self.sync(store, target, connector, before_commit=expire)
            assert summary.status == "succeeded"
            assert set(grants) == set(expiring), f"no commit in {sorted(set(expiring) - set(grants))}"
            first = min(grants.values())
            chosen = [st for st in connector.streams() if target.streams is None or st.name in target.streams]
            last = sorted(chosen, key=lambda st: ENTITY_ORDER.index(st.entity))[-1].name
            followed = len(expiring) - (1 if last in expiring else 0)  # no call follows the last stream's commit
            assert target.token_grants(server) - first == followed, "exactly one refresh after each expiry"
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

    def test_a_crash_in_each_fact_stream_loses_and_duplicates_nothing(
        self, store: Store, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        if not target.fact_streams:
            pytest.skip("the connector reads no facts after the deal")
        with self.running(target) as server:
            connector = self.connector(target, server, clock)
            for fact_stream in target.fact_streams:

                def crash(stream: str, commit: int, where: str = fact_stream) -> None:
                    if stream == where:
                        raise SimulatedCrash(f"the process died before the first commit of {where}")

                with pytest.raises(SimulatedCrash):
                    self.sync(store, target, self.connector(target, server, clock), full=True, before_commit=crash)
                resumed = self.sync(store, target, self.connector(target, server, clock))
                assert resumed.status == "succeeded"
                self.assert_holds_exactly(store, target, connector, server)
            again = self.sync(store, target, self.connector(target, server, clock))
            assert (again.total("inserted"), again.total("updated"), again.total("deleted")) == (0, 0, 0), (
                again.as_dict()
            )

    def test_deleted_facts_become_tombstones(
        self, store: Store, acceptance_target: AcceptanceTarget, clock: FakeClock
    ) -> None:
        target = acceptance_target
        if not target.fact_streams:
            pytest.skip("the connector reads no facts after the deal")
        with self.running(target) as server:
            connector = self.connector(target, server, clock)
            self.sync(store, target, connector)
            removed = {stream: target.delete(server, stream) for stream in target.fact_streams}
            summary = self.sync(store, target, self.connector(target, server, clock))
            source = self.source(target, connector)
            for stream, remote in removed.items():
                entity = connector.stream(stream).entity
                assert remote not in self.stored_ids(store, source, entity, deleted=False), f"{stream}: {remote}"
                if entity not in KEYED_BY_DEAL:
                    assert remote in self.stored_ids(store, source, entity, deleted=True), f"{stream}: {remote}"
            deleted = {st.stream: st.deleted for st in summary.streams}
            assert all(deleted.get(stream, 0) >= 1 for stream in removed), deleted
            self.assert_holds_exactly(store, target, connector, server)
