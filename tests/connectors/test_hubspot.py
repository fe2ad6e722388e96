"""HubSpot CRM v3 specifics (docs/connectors/hubspot.md): paging limits, search and its 10,000 cap,
archived records, string-typed properties, offsets, owners, rate-limit policies and engagements."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from kpi_engine import ConnectorContext, RateLimited, schema, sync
from kpi_engine.testing import FakeClock
from kpi_engine_connectors.hubspot import HubSpotConnector
from kpi_engine_connectors.hubspot import connector as hubspot_module
from tests.support.mock_servers.hubspot import HubSpotMock

UTC = UTC


@pytest.fixture
def server():
    with HubSpotMock(deals=260, burst_limit=None) as mock:
        yield mock


def connect(server: HubSpotMock, **settings) -> HubSpotConnector:
    return HubSpotConnector.from_env(
        {"base_url": server.url, "token": server.private_token, **settings},
        environ={},
        context=ConnectorContext(clock=FakeClock()),
        use_keyring=False,
    )


def deals(store) -> dict:
    d = schema.deals.c
    with store.connect() as conn:
        return {r.remote_id: r for r in conn.execute(select(schema.deals).where(d.source == "hubspot"))}


def test_lists_page_by_after_at_most_100_records_and_the_mock_refuses_more(server):
    import requests

    answer = requests.get(
        f"{server.url}/crm/v3/objects/deals",
        params={"limit": 101},
        headers={"Authorization": f"Bearer {server.private_token}"},
    )
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
    connector = connect(server)
    records = [r for r in connector.read(connector.stream("deals"), _full()) if hasattr(r, "data")]
    assert len(records) == 260
    limits = {int(r.arg("limit")) for r in server.requests[1:] if r.path == "/crm/v3/objects/deals"}
    assert limits == {100}
    last = [r for r in server.requests if r.path == "/crm/v3/objects/deals" and r.arg("archived") == "false"][-1]
    assert last.arg("after"), "later pages pass the after token of the previous page"


def _full():
    from kpi_engine import StreamState

    return StreamState(stream="deals")


def test_properties_arrive_as_strings_and_land_as_exact_values_in_utc(store, server):
    sync(store, connect(server))
    rows = deals(store)
    source = server.objects["deals"]
    offset_deal = next(n for n, o in source.items() if "+08:00" in o.properties["closedate"] and o.archived_at is None)
    props = source[offset_deal].properties
    row = rows[str(offset_deal)]
    assert row.amount == Decimal(props["amount"])
    assert row.closed_at == datetime.fromisoformat(props["closedate"]).astimezone(UTC)
    assert row.status == {"true": "won"}.get(
        props["hs_is_closed_won"], "lost" if props["hs_is_closed"] == "true" else "open"
    )
    blank = next(n for n, o in source.items() if o.properties["deal_currency_code"] == "" and o.archived_at is None)
    assert rows[str(blank)].currency == "USD", "deals without a currency take the mapping's default"


def test_owners_become_people_and_deals_name_them_by_owner_id_not_user_id(store, server):
    sync(store, connect(server))
    with store.connect() as conn:
        people = dict(
            conn.execute(
                select(schema.people.c.remote_id, schema.people.c.id).where(schema.people.c.source == "hubspot")
            ).all()
        )
    assert set(people) == server.owner_ids(), "archived owners too: their deals stay theirs"
    some = next(
        o for o in server.objects["deals"].values() if o.properties["hubspot_owner_id"] and o.archived_at is None
    )
    assert (
        deals(store)[str(some.id)].owner_id
        == people[some.properties["hubspot_owner_id"]]
        == f"hs-{some.properties['hubspot_owner_id']}"
    )


def test_archived_records_are_read_separately_and_become_tombstones(store, server):
    sync(store, connect(server))
    archived = server.archived_ids("deals")
    assert archived
    rows = deals(store)
    assert all(rows[i].is_deleted for i in archived)
    assert any(r.path == "/crm/v3/objects/deals" and r.arg("archived") == "true" for r in server.requests)


def test_incremental_reads_search_on_the_modified_time_with_gte(store, server):
    sync(store, connect(server))
    changed = sorted(server.live_ids("deals"))[:3]
    for number in changed:
        server.touch("deals", number, amount="999")
    before = server.request_count
    summary = sync(store, connect(server))
    searches = [r for r in server.requests[before:] if r.path == "/crm/v3/objects/deals/search"]
    assert searches and searches[0].json()["filterGroups"][0]["filters"][0]["operator"] == "GTE"
    assert searches[0].json()["limit"] == 200
    assert [deals(store)[n].amount for n in changed] == [Decimal("999")] * 3
    assert next(s for s in summary.streams if s.stream == "deals").updated == 3


def test_search_results_keep_their_company_through_the_associations_batch_read(store, server):
    sync(store, connect(server))
    number = sorted(server.live_ids("deals"))[5]
    customer_before = deals(store)[number].customer_id
    server.touch("deals", number, dealname="Renamed")
    sync(store, connect(server))
    assert deals(store)[number].customer_id == customer_before is not None
    assert any(r.path == "/crm/v4/associations/deals/companies/batch/read" for r in server.requests)


def test_search_past_its_10000_result_cap_starts_a_new_query_from_the_last_time_seen(store, monkeypatch):
    monkeypatch.setattr(hubspot_module, "SEARCH_RESULT_CAP", 120)
    with HubSpotMock(deals=400, burst_limit=None, search_cap=120, archived_share=0) as server:
        sync(store, connect(server, search_page_size=50), since=datetime(2000, 1, 1, tzinfo=UTC))
        floors = {
            r.json()["filterGroups"][0]["filters"][0]["value"]
            for r in server.requests
            if r.path.endswith("/deals/search")
        }
        assert len(floors) >= 4, "the cap forced new queries"
        assert set(deals(store)) == server.live_ids("deals")


def test_a_daily_limit_stops_the_sync_and_the_next_run_resumes(store, server):
    connector = connect(server)
    server.faults.at(4, "daily_limit")  # during the deals stream
    with pytest.raises(RateLimited) as error:
        sync(store, connector, batch_size=100)
    assert error.value.scope == "daily" and "daily" in str(error.value)
    with store.connect() as conn:
        run = conn.execute(select(schema.sync_runs).order_by(schema.sync_runs.c.id.desc())).first()
    assert run.status == "stopped"
    sync(store, connect(server))
    assert {k for k, r in deals(store).items() if not r.is_deleted} == server.live_ids("deals")


def test_bursts_of_server_errors_and_slow_answers_are_survived(store, server):
    server.faults.burst(3, "server_error", after=2)
    server.faults.slow(0.2, every=5, times=2)
    summary = sync(store, connect(server))
    assert summary.status == "succeeded"
    assert {k for k, r in deals(store).items() if not r.is_deleted} == server.live_ids("deals")


def test_calls_meetings_and_tasks_become_activities_linked_to_their_deals(store, server):
    sync(store, connect(server))
    a = schema.activities.c
    with store.connect() as conn:
        kinds = dict(conn.execute(select(a.kind, schema.activities.c.id).where(a.source == "hubspot")).all())
        linked = conn.execute(
            select(a.remote_id, a.deal_id, a.duration_seconds).where(
                a.source == "hubspot", a.kind == "call", a.deal_id.is_not(None)
            )
        ).first()
    assert set(kinds) == {"call", "meeting", "task"}
    call = server.objects["calls"][int(linked.remote_id)]
    assert linked.duration_seconds == int(call.properties["hs_call_duration"]) // 1000


def test_contacts_become_leads_with_their_channel_and_mql_time(store, server):
    sync(store, connect(server))
    leads = schema.leads.c
    with store.connect() as conn:
        rows = conn.execute(select(schema.leads).where(leads.source == "hubspot", leads.is_deleted.is_(False))).all()
    assert {r.remote_id for r in rows} == server.live_ids("contacts")
    assert {r.channel for r in rows} <= {
        "organic_search",
        "paid_search",
        "email_marketing",
        "social_media",
        "referrals",
        "direct_traffic",
        "offline",
    }
    assert any(r.mql_at is not None for r in rows)


def test_check_says_how_it_authenticated(server):
    assert "private-app token" in connect(server).check()


def test_the_mock_paces_answers_with_hubspot_rate_limit_headers(server):
    import requests

    answer = requests.get(f"{server.url}/crm/v3/owners", headers={"Authorization": f"Bearer {server.private_token}"})
    assert {
        "X-HubSpot-RateLimit-Max",
        "X-HubSpot-RateLimit-Remaining",
        "X-HubSpot-RateLimit-Interval-Milliseconds",
        "X-HubSpot-RateLimit-Daily",
    } <= set(answer.headers)


def test_an_incremental_read_killed_mid_search_resumes_from_its_last_committed_page(store, server):
    from kpi_engine.testing import SimulatedCrash

    sync(store, connect(server))
    changed = sorted(server.live_ids("deals"))[:230]
    for number in changed:
        server.touch("deals", number, amount="4321")

    def crash(stream: str, commit: int) -> None:
        if stream == "deals" and commit == 2:
            raise SimulatedCrash("killed between a search page and its commit")

    with pytest.raises(SimulatedCrash):
        sync(store, connect(server, search_page_size=50), batch_size=50, before_commit=crash)
    resumed = sync(store, connect(server, search_page_size=50), batch_size=50)
    rows = deals(store)
    assert [rows[n].amount for n in changed] == [Decimal("4321")] * 230
    deals_summary = next(s for s in resumed.streams if s.stream == "deals")
    assert deals_summary.read < 230 + len(server.archived_ids("deals")), (
        "the resumed read started after the committed pages"
    )


def test_a_long_property_list_is_split_over_several_calls_instead_of_a_414(store, server, monkeypatch):
    # Too many properties make the URI too long (HubSpot 414, airbytehq/airbyte#33976)
    monkeypatch.setattr(hubspot_module, "MAX_PROPERTIES_LENGTH", 60)
    sync(store, connect(server), streams=["owners", "deals"])
    lists = [
        r
        for r in server.requests
        if r.path == "/crm/v3/objects/deals" and not r.arg("after") and r.arg("archived") == "false"
    ]
    assert len(lists) >= 3 and all(len(r.arg("properties")) <= 60 for r in lists)
    some = next(
        o
        for o in server.objects["deals"].values()
        if o.archived_at is None and o.properties["deal_currency_code"] == "EUR"
    )
    row = deals(store)[str(some.id)]
    assert (row.amount, row.currency, row.stage_raw, row.customer_id is not None) == (
        Decimal(some.properties["amount"]),
        "EUR",
        some.properties["dealstage"],
        True,
    )
