"""The Fxiaoke connector against the local Fxiaoke mock: each protocol fact of docs/connectors/fxiaoke.md
(HTTP-200 error codes, the token, offset rules, epoch milliseconds, string amounts)
produces the right typed error or recovery, and the synced data is the tenant's data.
"""

from __future__ import annotations

import json
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
    ConnectorContext,
    ConnectorError,
    MemoryTokenStore,
    RateLimited,
    RetryPolicy,
    Store,
    TransientError,
    open_store,
    schema,
    sync,
)
from kpi_engine.testing import FakeClock
from kpi_engine_connectors.fxiaoke import FxiaokeConnector, classify
from tests.support.mock_servers.fxiaoke import (
    APP_ID,
    APP_SECRET,
    OPEN_USER_ID,
    PERMANENT_CODE,
    FxiaokeError,
    FxiaokeMock,
)


@pytest.fixture
def tenant() -> Iterator[FxiaokeMock]:
    mock = FxiaokeMock(opportunities=500, seed=13)
    mock.start()
    yield mock
    mock.stop()


def connector(
    mock: FxiaokeMock, clock: FakeClock | None = None, tokens: MemoryTokenStore | None = None, **settings: Any
) -> FxiaokeConnector:
    values = {
        "base_url": mock.url,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "permanent_code": PERMANENT_CODE,
        "open_user_id": OPEN_USER_ID,
        **settings,
    }
    context = ConnectorContext(
        clock=clock or FakeClock(),
        token_store=tokens or MemoryTokenStore(),
        draw=lambda: 0.5,
        retry=RetryPolicy(max_attempts=6),
    )
    return FxiaokeConnector.from_env(values, context=context, environ={}, use_keyring=False)  # type: ignore[return-value]


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
            ("remote_id", "kind", "owner_id", "occurred_at", "has_evidence", "subject", "modified_at", "is_deleted"),
        ),
        "leads": (schema.leads, ("remote_id", "owner_id", "channel", "created_at")),
    }
    out = {}
    with store.connect() as conn:
        for name, (table, columns) in tables.items():
            rows = conn.execute(select(*[table.c[c] for c in columns]).order_by(table.c[columns[0]])).all()
            out[name] = [tuple(norm(v) for v in row) for row in rows]
    return out


@pytest.fixture
def clean(tmp_path) -> Any:
    """The snapshot of an undisturbed full sync of a fresh tenant with the same seed (on SQLite)."""

    def run() -> dict[str, list[tuple[Any, ...]]]:
        with FxiaokeMock(opportunities=500, seed=13).running() as mock:
            reference = open_store(f"sqlite:///{tmp_path / 'reference.sqlite'}")
            try:
                sync(reference, connector(mock))
                return snapshot(reference)
            finally:
                reference.dispose()

    return run


def queries(mock: FxiaokeMock) -> list[dict[str, Any]]:
    return [
        body["data"]["search_query_info"]
        for path, body in mock.requests_log
        if path.startswith("/cgi/crm/v2/data/query")
    ]


# --- reading the tenant ------------------------------------------------------------------------


def test_pages_keep_offset_zero_and_limit_at_most_100(store: Store, tenant: FxiaokeMock) -> None:
    sync(store, connector(tenant))
    asked = queries(tenant)
    assert asked and all(q["offset"] == 0 and 1 <= q["limit"] <= 100 for q in asked)
    traces = [path.split("thirdTraceId=")[1] for path, _ in tenant.requests_log]
    assert len(set(traces)) == len(traces), "every call carries its own thirdTraceId"


def test_more_records_sharing_one_time_stamp_than_a_page_are_all_read(store: Store) -> None:
    with FxiaokeMock(opportunities=600, seed=5, bulk_update=260).running() as mock:
        sync(store, connector(mock))
        expected = set(mock.ids("NewOpportunityObj")) | set(mock.ids("NewOpportunityObj", invalid=True))
        ties = [q for q in queries(mock) if any(f["field_name"] == "_id" for f in q["filters"])]
    with store.connect() as conn:
        assert set(conn.execute(select(schema.deals.c.remote_id)).scalars()) == expected
    assert ties, "the instant shared by a whole page was finished by _id"


def test_values_arrive_as_the_common_schema_expects(store: Store, tenant: FxiaokeMock) -> None:
    opp = tenant.ids("NewOpportunityObj")[0]
    shanghai_midnight = 1735228800000  # 2024-12-27 00:00 in Asia/Shanghai (docs/connectors/fxiaoke.md example)
    tenant.update(
        "NewOpportunityObj",
        opp,
        amount="100000.35",
        close_date=shanghai_midnight,
        create_time=shanghai_midnight - 30 * 86_400_000,  # a deal closed before it was created is refused
        owner=["1003"],
        sales_stage="stage_5",
        mc_currency="CNY",
    )
    sync(store, connector(tenant))
    with store.connect() as conn:
        row = conn.execute(select(schema.deals).where(schema.deals.c.remote_id == opp)).one()
        kinds = set(conn.execute(select(schema.activities.c.kind)).scalars())
        evidence = (
            conn.execute(select(schema.activities.c.has_evidence).where(schema.activities.c.kind == "visit"))
            .scalars()
            .all()
        )
    assert (row.amount, row.currency, row.status, row.owner_id) == (Decimal("100000.35"), "CNY", "won", "fx-1003")
    assert row.closed_at == datetime(2024, 12, 26, 16, 0, tzinfo=UTC)
    assert kinds == {"call", "visit", "meeting", "email", "task"}  # from the describe labels 电话 拜访 会议 邮件 跟进
    assert any(evidence) and not all(evidence)


def test_an_invalidated_record_becomes_a_tombstone(store: Store, tenant: FxiaokeMock) -> None:
    sync(store, connector(tenant))
    opp = tenant.ids("NewOpportunityObj")[5]
    tenant.invalidate("NewOpportunityObj", opp)
    summary = sync(store, connector(tenant))
    assert summary.total("deleted") == 1
    with store.connect() as conn:
        assert conn.execute(select(schema.deals.c.is_deleted).where(schema.deals.c.remote_id == opp)).scalar_one()


# --- the token ------------------------------------------------------------------------------------


def test_the_token_is_cached_between_runs(store: Store, tenant: FxiaokeMock) -> None:
    tokens = MemoryTokenStore()
    sync(store, connector(tenant, tokens=tokens))
    sync(store, connector(tenant, tokens=tokens))
    assert tenant.tokens_issued == 1  # the token endpoint takes 10 calls a minute: never more than needed


def test_tokens_expiring_every_few_calls_are_fetched_once_per_expiry(
    store: Store, tenant: FxiaokeMock, clean: Any
) -> None:
    tenant.faults.token_ttl = 4
    sync(store, connector(tenant))
    assert tenant.tokens_issued == pytest.approx(tenant.api_calls / 5, abs=2)
    assert snapshot(store) == clean()


def test_a_token_refused_right_after_a_refresh_is_a_clear_error(
    store: Store, tenant: FxiaokeMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(body: dict[str, Any]) -> None:
        raise FxiaokeError(20016, "the cropId,cropAccessToken or authorization is error")

    monkeypatch.setattr(tenant, "authorize", refuse)
    with pytest.raises(AuthenticationError) as caught:
        sync(store, connector(tenant))
    assert "20016" in str(caught.value) and "refused too" in str(caught.value)
    assert tenant.tokens_issued == 2, "one refresh, not a loop"


def test_wrong_app_credentials_name_the_settings_not_their_values(store: Store, tenant: FxiaokeMock) -> None:
    with pytest.raises(AuthenticationError) as caught:
        sync(store, connector(tenant, app_secret="wrong-secret-123"))
    assert "app_secret" in str(caught.value) and "wrong-secret-123" not in str(caught.value)


# --- limits and failures -------------------------------------------------------------------------


def test_every_third_call_over_the_per_second_limit_still_ends_with_identical_data(
    store: Store, tenant: FxiaokeMock, clean: Any
) -> None:
    tenant.faults.rate_limit_every = 3
    clock = FakeClock()
    sync(store, connector(tenant, clock))
    assert clock.sleeps and set(clock.sleeps) == {1.0}, "errorCode 30004 waits one second"
    assert snapshot(store) == clean()


def test_the_daily_quota_stops_the_sync_and_the_next_run_finishes_it(
    store: Store, tenant: FxiaokeMock, clean: Any
) -> None:
    tenant.faults.daily_limit = 9
    with pytest.raises(RateLimited) as caught:
        sync(store, connector(tenant), batch_size=100)
    assert caught.value.scope == "daily" and "30002" in str(caught.value)
    with store.connect() as conn:
        assert conn.execute(select(schema.sync_runs.c.status)).scalars().all() == ["stopped"]
    tenant.faults.daily_limit = 1_000_000  # the next day
    sync(store, connector(tenant))
    assert snapshot(store) == clean()


def test_gateway_errors_are_retried_with_backoff(store: Store, tenant: FxiaokeMock, clean: Any) -> None:
    tenant.faults.error_burst_every, tenant.faults.error_burst_length = 6, 2
    clock = FakeClock()
    sync(store, connector(tenant, clock))
    assert len(clock.sleeps) >= 4
    assert snapshot(store) == clean()


def test_a_sync_killed_inside_a_shared_time_stamp_resumes_without_loss(store: Store, clean: Any) -> None:
    class Killed(Exception):
        pass

    def crash(stream: str, commit: int) -> None:
        if stream == "opportunities" and commit == 3:
            raise Killed

    with FxiaokeMock(opportunities=500, seed=13).running() as mock:
        with pytest.raises(Killed):
            sync(store, connector(mock), batch_size=100, before_commit=crash)
        sync(store, connector(mock), batch_size=100)
    assert snapshot(store) == clean()


def _answer(body: dict[str, Any] | str, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.url = "http://127.0.0.1/cgi/crm/v2/data/query"
    response._content = (json.dumps(body, ensure_ascii=False) if isinstance(body, dict) else body).encode()
    return response


@pytest.mark.parametrize(
    ("code", "kind", "scope"),
    [
        (20016, AuthenticationError, None),
        (30004, RateLimited, "secondly"),
        (14001, RateLimited, "burst"),
        (30002, RateLimited, "daily"),
        (30003, ConnectorError, None),
        (10013, ConnectorError, None),
        (40001, ConnectorError, None),
    ],
)
def test_http_200_error_codes_are_classified(code: int, kind: type, scope: str | None) -> None:
    problem = classify(_answer({"errorCode": code, "errorMessage": "消息", "traceId": "E-O.1"}))
    assert type(problem) is kind and str(code) in problem.message
    if scope:
        assert problem.scope == scope  # type: ignore[union-attr]
    if code == 20016:
        assert problem.expired  # type: ignore[union-attr]
    if code == 30003:
        assert problem.hint and "quota" in problem.message


def test_good_answers_and_gateway_pages_are_told_apart() -> None:
    assert classify(_answer({"errorCode": 0, "errorMessage": "OK", "data": {"dataList": []}})) is None
    assert isinstance(classify(_answer("<html>502 Bad Gateway</html>", 502)), TransientError)
    assert isinstance(classify(_answer("<html>maintenance</html>", 200)), TransientError)


def test_no_secret_reaches_a_log_line_or_an_error(
    store: Store, tenant: FxiaokeMock, caplog: pytest.LogCaptureFixture
) -> None:
    tenant.faults.token_ttl = 3
    tenant.faults.rate_limit_every = 4
    caplog.set_level(logging.DEBUG)
    # the four objects of the first release: a token every third call stays within the token endpoint's 10 a minute
    sync(store, connector(tenant), streams=["people", "opportunities", "activities", "leads"])
    secrets = [APP_SECRET, PERMANENT_CODE, *tenant._tokens]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text and not any(secret in text for secret in secrets)
