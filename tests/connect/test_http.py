"""The HTTP layer: timeouts, retries with backoff and jitter, each CRM's rate-limit signals,
pacing under a budget, one OAuth refresh at a time, and the pagination helpers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from kpi_engine import (
    AuthenticationError,
    BearerToken,
    ConnectorError,
    HttpClient,
    MemoryTokenStore,
    OAuth2Refresh,
    RateLimited,
    RetryPolicy,
    StoreTokenStore,
    TokenBucket,
    TransientError,
    cursor_pages,
    default_classify,
    next_link_pages,
    offset_pages,
    parse_retry_after,
)
from kpi_engine.connect.secrets import new_token_key
from kpi_engine.testing import (
    FakeClock,
    MockCRMServer,
    MockRequest,
    MockResponse,
    route,
)
from kpi_engine_connectors.hubspot.connector import classify as hubspot_classify
from tests.support.mock_servers.hubspot import HubSpotMock


class Echo(MockCRMServer):
    name = "echo"

    def __init__(self) -> None:
        super().__init__(static_tokens=["tok-12345"])

    @route("GET", r"/ping")
    def ping(self, request: MockRequest) -> MockResponse:
        return MockResponse(200, {"pong": request.number})

    @route("GET", r"/echo")
    def echo(self, request: MockRequest) -> MockResponse:
        return MockResponse(400, {"error": f"bad request from {request.headers.get('authorization')}"})


@pytest.fixture
def echo():
    with Echo() as server:
        yield server


def client(server, clock, **policy) -> HttpClient:
    return HttpClient(
        server.url, auth=BearerToken("tok-12345"), retry=RetryPolicy(**policy), clock=clock, draw=lambda: 0.5
    )


def test_server_errors_are_retried_with_growing_backoff_and_jitter(echo):
    clock = FakeClock()
    echo.faults.burst(3, "server_error")
    assert client(echo, clock).get_json("/ping") == {"pong": 4}
    assert clock.sleeps == [0.375, 0.75, 1.5], "base 0.5 s doubling, half of each delay drawn at random (0.5 here)"


def test_retries_stop_after_the_policys_attempts_with_a_transient_error(echo):
    clock = FakeClock()
    echo.faults.burst(10, "server_error")
    with pytest.raises(TransientError, match="HTTP 503"):
        client(echo, clock, max_attempts=3).get_json("/ping")
    assert echo.request_count == 3


def test_a_slow_answer_times_out_and_the_call_is_retried(echo):
    echo.faults.slow(0.5, every=1, times=1)
    clock = FakeClock()
    assert client(echo, clock, read_timeout=0.1).get_json("/ping") == {"pong": 2}
    assert len(clock.sleeps) == 1


def test_retry_after_is_honoured(echo):
    clock = FakeClock()
    echo.faults.at(1, MockResponse(429, {"error": "slow down"}, {"Retry-After": "7"}))
    assert client(echo, clock).get_json("/ping") == {"pong": 2}
    assert clock.sleeps == [7.0]


def test_a_wait_longer_than_the_policy_allows_stops_with_rate_limited(echo):
    echo.faults.at(1, MockResponse(429, {}, {"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as error:
        client(echo, FakeClock()).get_json("/ping")
    assert error.value.retry_after == 3600


def test_other_client_errors_are_raised_once_with_the_body_redacted(echo):
    with pytest.raises(ConnectorError) as error:
        client(echo, FakeClock()).get_json("/echo")
    assert "HTTP 400" in str(error.value) and "tok-12345" not in str(error.value)
    assert echo.request_count == 1


@pytest.mark.parametrize(
    ("policy", "scope", "wait"), [("TEN_SECONDLY_ROLLING", "burst", 10.0), ("SECONDLY", "secondly", 1.0)]
)
def test_hubspot_burst_limits_wait_and_retry(policy, scope, wait):
    # HubSpot 429 bodies carry policyName (docs/connectors/hubspot.md; the official SDK waits 10 s / 1 s)
    with HubSpotMock(deals=1, burst_limit=None) as server:
        server.faults.at(1, "rate_limit" if policy == "TEN_SECONDLY_ROLLING" else "secondly_limit")
        clock = FakeClock()
        api = HttpClient(server.url, auth=BearerToken(server.private_token), classify=hubspot_classify, clock=clock)
        api.get_json("/crm/v3/owners")
    assert clock.sleeps == [wait]


def test_hubspots_daily_limit_is_not_waited_out():
    with HubSpotMock(deals=1, burst_limit=None) as server:
        server.faults.at(1, "daily_limit")
        clock = FakeClock()
        api = HttpClient(server.url, auth=BearerToken(server.private_token), classify=hubspot_classify, clock=clock)
        with pytest.raises(RateLimited) as error:
            api.get_json("/crm/v3/owners")
    assert error.value.scope == "daily" and clock.sleeps == [] and server.request_count == 1


def test_a_connector_can_read_errors_sent_with_http_200():
    # Fxiaoke answers errors as HTTP 200 with an errorCode (docs/connectors/fxiaoke.md)
    def classify(response):
        code = response.json().get("errorCode", 0)
        if code == 30004:
            return RateLimited("over the per-second limit", retry_after=1.0, scope="secondly")
        return default_classify(response)

    class Fx(MockCRMServer):
        def public(self, request):
            return True

        @route("GET", r"/data")
        def data(self, request):
            return MockResponse(200, {"errorCode": 30004} if request.number == 1 else {"errorCode": 0, "data": 1})

    with Fx() as server:
        clock = FakeClock()
        assert HttpClient(server.url, classify=classify, clock=clock).get_json("/data")["data"] == 1
    assert clock.sleeps == [1.0]


def test_the_token_bucket_paces_calls_under_the_published_budget():
    clock = FakeClock()
    bucket = TokenBucket(10, 1.0, clock=clock)
    for _ in range(25):
        bucket.acquire()
    assert clock.now - 1000.0 == pytest.approx(1.5), "10 at once, then one every 100 ms"
    bucket.update(100, 10.0)
    assert (bucket.limit, bucket.interval) == (100, 10.0)


def test_concurrent_401s_cause_one_refresh_and_the_calls_go_on():
    with HubSpotMock(deals=1, burst_limit=None) as server:
        tokens = MemoryTokenStore()
        auth = OAuth2Refresh(
            f"{server.url}/oauth/v1/token",
            client_id=server.client_id,
            client_secret=server.client_secret,
            refresh_token=server.refresh_token,
            store=tokens,
            token_key="hubspot:test",
        )
        api = HttpClient(server.url, auth=auth, classify=hubspot_classify, clock=FakeClock())
        api.get_json("/crm/v3/owners")
        assert server.refreshes == 1
        server.tokens.expire_all()
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def call() -> None:
            barrier.wait()
            try:
                api.get_json("/crm/v3/owners")
            except BaseException as exc:  # noqa: BLE001 - a worker thread hands any failure to the test
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert server.refreshes == 2, "eight expired calls, one refresh"
        assert tokens.load("hubspot:test")["access_token"] in server.tokens.live


def test_refreshed_tokens_are_kept_in_the_store_and_reused(store):
    with HubSpotMock(deals=1, burst_limit=None) as server:
        kept = StoreTokenStore(store, new_token_key())
        kwargs = {
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "refresh_token": server.refresh_token,
            "store": kept,
            "token_key": "hubspot:x",
        }
        first = HttpClient(
            server.url, auth=OAuth2Refresh(f"{server.url}/oauth/v1/token", **kwargs), classify=hubspot_classify
        )
        first.get_json("/crm/v3/owners")
        second = HttpClient(
            server.url, auth=OAuth2Refresh(f"{server.url}/oauth/v1/token", **kwargs), classify=hubspot_classify
        )
        second.get_json("/crm/v3/owners")
        assert server.refreshes == 1, "the next run starts with the saved access token"


def test_a_refused_refresh_token_is_an_authentication_error():
    with HubSpotMock(deals=1, burst_limit=None) as server:
        auth = OAuth2Refresh(
            f"{server.url}/oauth/v1/token",
            client_id=server.client_id,
            client_secret=server.client_secret,
            refresh_token="revoked-refresh-token",
        )
        with pytest.raises(AuthenticationError, match="refused the refresh token") as error:
            HttpClient(server.url, auth=auth).get_json("/crm/v3/owners")
        assert "revoked-refresh-token" not in str(error.value)
        assert "revoked-refresh-token" not in repr(auth)


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_cursor_pages_follow_the_cursor_and_resume_from_a_saved_one():
    pages = {
        None: {"results": [1, 2], "paging": {"next": {"after": "B"}}},
        "B": {"results": [3, 4], "paging": {"next": {"after": "C"}}},
        "C": {"results": [5]},
    }
    read = list(cursor_pages(pages.__getitem__, records="results", next_cursor="paging.next.after"))
    assert [p.records for p in read] == [[1, 2], [3, 4], [5]] and [p.next for p in read] == ["B", "C", None]
    resumed = list(cursor_pages(pages.__getitem__, records="results", next_cursor="paging.next.after", start="C"))
    assert [p.records for p in resumed] == [[5]]


def test_offset_pages_stop_at_a_short_page_or_the_total_and_refuse_offsets_past_the_cap():
    rows = list(range(250))

    def fetch(offset: int) -> dict[str, Any]:
        return {"data": {"dataList": rows[offset : offset + 100], "total": 250}}

    read = list(offset_pages(fetch, records="data.dataList", page_size=100, total="data.total"))
    assert [len(p.records) for p in read] == [100, 100, 50] and read[-1].next is None
    with pytest.raises(ValueError, match="beyond"):
        list(offset_pages(fetch, records="data.dataList", page_size=100, max_offset=150))


def test_next_link_pages_call_each_link_once():
    bodies = {"/q": {"records": [1], "nextRecordsUrl": "/q/01g-2000"}, "/q/01g-2000": {"records": [2], "done": True}}
    called: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        called.append(url)
        return bodies[url]

    assert [p.records for p in next_link_pages(fetch, "/q", records="records", next_link="nextRecordsUrl")] == [
        [1],
        [2],
    ]
    assert called == ["/q", "/q/01g-2000"]


def test_mock_servers_bind_127_0_0_1_only():
    with pytest.raises(ValueError):
        Echo.__mro__[1].__init__(Echo.__new__(Echo), host="0.0.0.0")


def test_page_token_pages_walk_zoho_style_tokens():
    from kpi_engine import page_token_pages

    # Zoho: info.next_page_token beyond the 2,000-record page wall (docs/connectors.md §3)
    bodies = {
        None: {"data": [1], "info": {"next_page_token": "t2", "more_records": True}},
        "t2": {"data": [2], "info": {"more_records": False}},
    }
    pages = list(page_token_pages(bodies.__getitem__, records="data", next_token="info.next_page_token"))
    assert [p.records for p in pages] == [[1], [2]] and pages[-1].next is None
