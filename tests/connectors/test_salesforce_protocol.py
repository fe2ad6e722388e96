"""The Salesforce connector against the local Salesforce mock: each protocol fact of
docs/connectors/salesforce.md produces the right typed error or recovery, and the synced data is the
org's data, whatever happened on the way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import select

from kpi_engine import (
    AuthenticationError,
    ConnectorConfigurationError,
    ConnectorContext,
    ConnectorError,
    MemoryTokenStore,
    RateLimited,
    RetryPolicy,
    Store,
    open_store,
    schema,
    sync,
)
from kpi_engine.testing import FakeClock
from kpi_engine_connectors.salesforce import SalesforceConnector, classify
from tests.support.mock_servers.salesforce import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    SalesforceMock,
)


@pytest.fixture
def org() -> Iterator[SalesforceMock]:
    mock = SalesforceMock(opportunities=600, seed=11)
    mock.start()
    yield mock
    mock.stop()


def connector(
    mock: SalesforceMock, clock: FakeClock | None = None, tokens: MemoryTokenStore | None = None, **settings: Any
) -> SalesforceConnector:
    values = {
        "instance_url": mock.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "batch_size": 200,
        **settings,
    }
    context = ConnectorContext(
        clock=clock or FakeClock(),
        token_store=tokens or MemoryTokenStore(),
        draw=lambda: 0.5,
        retry=RetryPolicy(max_attempts=6),
    )
    return SalesforceConnector.from_env(values, context=context, environ={}, use_keyring=False)  # type: ignore[return-value]


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """The synced rows of every entity, in a form that compares across runs and backends."""

    def norm(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        return value

    tables = {
        "people": (schema.people, ("id", "remote_id", "name", "email", "role")),
        "deals": (
            schema.deals,
            (
                "remote_id",
                "name",
                "owner_id",
                "stage_raw",
                "status",
                "amount",
                "currency",
                "created_at",
                "closed_at",
                "modified_at",
                "is_deleted",
            ),
        ),
        "activities": (
            schema.activities,
            (
                "remote_id",
                "kind",
                "owner_id",
                "occurred_at",
                "duration_seconds",
                "has_evidence",
                "modified_at",
                "is_deleted",
            ),
        ),
        "leads": (schema.leads, ("remote_id", "owner_id", "channel", "created_at")),
    }
    out = {}
    with store.connect() as conn:
        for name, (table, columns) in tables.items():
            rows = conn.execute(
                select(*[table.c[c] for c in columns]).order_by(*[table.c[c] for c in columns[:1]])
            ).all()
            out[name] = [tuple(norm(v) for v in row) for row in rows]
    return out


@pytest.fixture
def clean(tmp_path) -> Iterator[Any]:
    """The snapshot of an undisturbed full sync of a fresh org with the same seed (on SQLite)."""

    def run() -> dict[str, list[tuple[Any, ...]]]:
        mock = SalesforceMock(opportunities=600, seed=11)
        with mock.running():
            reference = open_store(f"sqlite:///{tmp_path / 'reference.sqlite'}")
            try:
                sync(reference, connector(mock))
                return snapshot(reference)
            finally:
                reference.dispose()

    yield run


# --- reading the org -------------------------------------------------------------------------


def test_full_sync_reads_every_object_through_next_records_url_pages(store: Store, org: SalesforceMock) -> None:
    summary = sync(store, connector(org))
    by_stream = {s.stream: s for s in summary.streams}
    live_opps = len(org.ids("Opportunity")) + len(org.ids("Opportunity", deleted=True))
    assert by_stream["opportunities"].read >= live_opps  # plus the hard-deleted ids getDeleted reports
    assert by_stream["opportunities"].pages >= live_opps // 200
    queries = [line for line in org.requests_log if "/queryAll/?" in line or "/query/?" in line]
    more = [line for line in org.requests_log if "/query/01g" in line]
    assert queries and more, "first pages come from the query, the next ones from nextRecordsUrl"
    with store.connect() as conn:
        deals = conn.execute(select(schema.deals.c.remote_id, schema.deals.c.is_deleted)).all()
    assert {r.remote_id for r in deals if not r.is_deleted} == set(org.ids("Opportunity"))
    assert {r.remote_id for r in deals if r.is_deleted} == set(org.ids("Opportunity", deleted=True))


def test_incremental_sync_right_after_a_full_one_changes_nothing(store: Store, org: SalesforceMock) -> None:
    sync(store, connector(org))
    again = sync(store, connector(org))
    assert (again.total("inserted"), again.total("updated"), again.total("deleted")) == (0, 0, 0)
    assert any("SystemModstamp >= " in line or "SystemModstamp+%3E%3D" in line for line in org.requests_log[-20:])


def test_won_and_lost_come_from_the_flags_not_the_stage_label(store: Store, org: SalesforceMock) -> None:
    sync(store, connector(org))
    opp = org.ids("Opportunity")[3]
    org.update("Opportunity", opp, StageName="Closed Won")
    org.records["Opportunity"][opp]["StageName"] = "Signed (custom label)"  # labels are editable per org
    sync(store, connector(org))
    with store.connect() as conn:
        row = conn.execute(select(schema.deals).where(schema.deals.c.remote_id == opp)).one()
    assert (row.status, row.stage_raw) == ("won", "Signed (custom label)")
    assert row.closed_at is not None


def test_amounts_are_exact_decimals_and_currency_follows_the_org(store: Store, org: SalesforceMock) -> None:
    opp = org.ids("Opportunity")[0]
    org.update("Opportunity", opp, Amount=Decimal("1234567.89"), CurrencyIsoCode="EUR")
    sync(store, connector(org))
    with store.connect() as conn:
        row = conn.execute(select(schema.deals).where(schema.deals.c.remote_id == opp)).one()
    assert (row.amount, row.currency) == (Decimal("1234567.89"), "EUR")


def test_a_single_currency_org_gets_the_mapping_default_currency(store: Store) -> None:
    mock = SalesforceMock(opportunities=50, seed=3, multi_currency=False)
    with mock.running():
        sync(store, connector(mock))
        assert not any("CurrencyIsoCode" in line for line in mock.requests_log)
    with store.connect() as conn:
        assert set(conn.execute(select(schema.deals.c.currency)).scalars()) == {"USD"}


def test_the_page_size_is_asked_with_sforce_query_options(org: SalesforceMock) -> None:
    c = connector(org, batch_size=500)
    pages = [
        item
        for item in c.read(c.stream("opportunities"), _state("opportunities"))
        if type(item).__name__ == "Checkpoint"
    ]
    assert 2 <= len(pages) <= 4  # 600 records (+ recycle bin) in pages of 500, then the deleted phase


def _state(stream: str, **kwargs: Any) -> Any:
    from kpi_engine import StreamState

    return StreamState(stream=stream, **kwargs)


# --- faults ---------------------------------------------------------------------------------------


def test_every_third_call_refused_for_concurrency_still_ends_with_identical_data(
    store: Store, org: SalesforceMock, clean: Any
) -> None:
    org.faults.rate_limit_every = 3
    clock = FakeClock()
    sync(store, connector(org, clock))
    assert clock.sleeps, "the concurrency limit was waited out"
    assert snapshot(store) == clean()


def test_the_daily_allocation_stops_the_sync_and_the_next_run_finishes_it(
    store: Store, org: SalesforceMock, clean: Any
) -> None:
    org.faults.daily_limit = 12
    with pytest.raises(RateLimited) as caught:
        sync(store, connector(org))
    assert caught.value.scope == "daily" and caught.value.status == 403
    assert "api-usage=12/12" in str(caught.value)
    with store.connect() as conn:
        assert conn.execute(select(schema.sync_runs.c.status)).scalars().all() == ["stopped"]
    org.faults.daily_limit = 100_000  # a new day
    sync(store, connector(org))
    assert snapshot(store) == clean()


def test_the_api_reserve_stops_before_the_allocation_is_gone(store: Store, org: SalesforceMock) -> None:
    org.faults.daily_limit = 30
    with pytest.raises(RateLimited) as caught:
        sync(store, connector(org, api_reserve=20))
    assert caught.value.scope == "daily"
    assert org.api_requests <= 11


def test_an_expired_session_is_refreshed_once_and_the_sync_goes_on(
    store: Store, org: SalesforceMock, clean: Any
) -> None:
    tokens = MemoryTokenStore()
    sync(store, connector(org, tokens=tokens), streams=["users"])
    assert org.tokens_issued == 1
    org.expire_sessions()  # 401 INVALID_SESSION_ID on the next call
    sync(store, connector(org, tokens=tokens))
    assert org.tokens_issued == 2
    assert snapshot(store) == clean()


def test_sessions_that_expire_every_few_calls_cost_one_refresh_each(
    store: Store, org: SalesforceMock, clean: Any
) -> None:
    org.faults.session_ttl = 5
    sync(store, connector(org))
    calls = org.api_requests
    assert org.tokens_issued == pytest.approx(calls / 6, abs=2)
    assert snapshot(store) == clean()


def test_a_revoked_refresh_token_is_a_clear_authentication_error(store: Store, org: SalesforceMock) -> None:
    with pytest.raises(AuthenticationError) as caught:
        sync(store, connector(org, refresh_token="5Aep-revoked"))
    assert "refresh token" in str(caught.value)
    assert "5Aep-revoked" not in str(caught.value)


def test_bursts_of_503_are_retried_with_backoff(store: Store, org: SalesforceMock, clean: Any) -> None:
    org.faults.error_burst_every, org.faults.error_burst_length = 7, 3
    clock = FakeClock()
    sync(store, connector(org, clock))
    assert len(clock.sleeps) >= 3
    assert snapshot(store) == clean()


def test_a_field_the_org_does_not_have_is_refused_by_name(store: Store, org: SalesforceMock, tmp_path) -> None:
    mapping = tmp_path / "sf.yaml"
    mapping.write_text(
        "streams:\n  opportunities:\n    fields: {amount: Amount, product_line: Product_Line__c}\n", encoding="utf-8"
    )
    with pytest.raises(ConnectorConfigurationError) as caught:
        sync(store, connector(org), mapping=mapping, streams=["opportunities"])
    assert "Product_Line__c" in str(caught.value) and "Opportunity" in str(caught.value)


def test_salesforce_errors_are_classified_from_their_json_array_bodies() -> None:
    def answer(status: int, body: str, headers: dict[str, str] | None = None) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = body.encode()
        response.headers.update(headers or {})
        return response

    total = classify(
        answer(
            403,
            '[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]',
            {"Sforce-Limit-Info": "api-usage=5001/5000"},
        )
    )
    assert isinstance(total, RateLimited) and total.scope == "daily" and total.retry_after is None
    assert "api-usage=5001/5000" in total.message
    concurrent = classify(
        answer(
            403,
            '[{"message":"ConcurrentRequests (Concurrent API Requests) Limit '
            'exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]',
        )
    )
    assert isinstance(concurrent, RateLimited) and concurrent.scope == "concurrency"
    expired = classify(answer(401, '[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]'))
    assert isinstance(expired, AuthenticationError) and expired.expired
    forbidden = classify(
        answer(403, '[{"message":"insufficient access rights on object id","errorCode":"INSUFFICIENT_ACCESS"}]')
    )
    assert isinstance(forbidden, AuthenticationError) and not forbidden.expired
    bad = classify(answer(400, '[{"message":"unexpected token: FORM","errorCode":"MALFORMED_QUERY"}]'))
    assert isinstance(bad, ConnectorError) and "MALFORMED_QUERY" in bad.message and bad.hint


# --- ties, resumption, deletes ------------------------------------------------------------------


def test_records_sharing_one_system_modstamp_across_pages_are_all_read(store: Store) -> None:
    mock = SalesforceMock(opportunities=700, seed=5, bulk_update=450)  # one instant for more than two pages
    with mock.running():
        sync(store, connector(mock))
        expected = set(mock.ids("Opportunity")) | set(mock.ids("Opportunity", deleted=True))
    with store.connect() as conn:
        assert set(conn.execute(select(schema.deals.c.remote_id)).scalars()) == expected


def test_a_sync_killed_between_a_page_and_its_commit_resumes_without_loss_or_duplicates(
    store: Store, org: SalesforceMock, clean: Any
) -> None:
    class Killed(Exception):
        pass

    def crash(stream: str, commit: int) -> None:
        if stream == "opportunities" and commit == 2:
            raise Killed

    with pytest.raises(Killed):
        sync(store, connector(org), batch_size=200, before_commit=crash)
    state_query = select(schema.sync_state.c.state).where(schema.sync_state.c.stream == "opportunities")
    with store.connect() as conn:
        saved = conn.execute(state_query).scalar_one()
    assert saved["pending"]["position"]["phase"] == "query"  # the first page's position was committed
    sync(store, connector(org), batch_size=200)
    resumed = [line for line in org.requests_log if "Id+%3E+" in line or "Id > " in line]
    assert resumed, "the resumed read continues after (SystemModstamp, Id) of the last committed page"
    assert snapshot(store) == clean()


def test_soft_and_hard_deletes_become_tombstones(store: Store, org: SalesforceMock) -> None:
    sync(store, connector(org))
    soft, hard = org.ids("Opportunity")[:2]
    task = org.ids("Task")[0]
    org.delete("Opportunity", soft)  # recycle bin: queryAll returns IsDeleted = true
    org.purge("Opportunity", hard)  # gone: only getDeleted still knows it
    org.delete("Task", task)
    org.advance(120)  # getDeleted covers whole minutes, up to its latestDateCovered
    summary = sync(store, connector(org))
    deleted = {st.stream: st.deleted for st in summary.streams if st.deleted}
    assert (deleted["opportunities"], deleted["tasks"]) == (2, 1)
    assert set(deleted) <= {"opportunities", "tasks", "splits", "cancellations", "payments"}  # what went with them
    with store.connect() as conn:
        rows = dict(
            conn.execute(
                select(schema.deals.c.remote_id, schema.deals.c.deleted_at).where(
                    schema.deals.c.is_deleted.is_(True), schema.deals.c.remote_id.in_([soft, hard])
                )
            ).all()
        )
        assert set(rows) == {soft, hard} and all(rows.values())
        assert conn.execute(
            select(schema.activities.c.is_deleted).where(schema.activities.c.remote_id == task)
        ).scalar_one()


def test_no_secret_reaches_a_log_line_or_an_error(
    store: Store, org: SalesforceMock, caplog: pytest.LogCaptureFixture
) -> None:
    org.faults.session_ttl = 4
    org.faults.rate_limit_every = 5
    caplog.set_level(logging.DEBUG)
    sync(store, connector(org), streams=["users", "opportunities"])
    tokens = [*org._tokens, CLIENT_SECRET, REFRESH_TOKEN]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text and not any(secret in text for secret in tokens)
