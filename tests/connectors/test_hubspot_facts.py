"""HubSpot's facts after the deal against the local mock: commerce payments and their refunds, deals
cancelled after they were won (dealstage history), deal splits as whole sets, campaign spend read
completely, and accounts without deal splits or Marketing Hub (docs/connectors/hubspot.md)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from kpi_engine import ConnectorContext, RetryPolicy, Store, schema, sync
from kpi_engine.testing import FakeClock
from kpi_engine_connectors.hubspot import HubSpotConnector
from tests.support.mock_servers.hubspot import HubSpotMock

DEALS = ["owners", "deals"]


@pytest.fixture
def server() -> Iterator[HubSpotMock]:
    with HubSpotMock(deals=240, burst_limit=None, seed=3) as mock:
        yield mock


def connector(server: HubSpotMock) -> HubSpotConnector:
    context = ConnectorContext(clock=FakeClock(), retry=RetryPolicy(max_attempts=6))
    settings = {"base_url": server.url, "token": server.private_token}
    return HubSpotConnector.from_env(settings, context=context, environ={}, use_keyring=False)  # type: ignore[return-value]


def rows(store: Store, table: Any) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(select(table)).mappings())


def remote_ids(store: Store, table: Any) -> dict[int, str]:
    with store.connect() as conn:
        return dict(conn.execute(select(table.c.id, table.c.remote_id)).all())


def test_payments_are_credited_to_their_deal_and_company_and_failed_ones_are_not_cash(
    store: Store, server: HubSpotMock
) -> None:
    sync(store, connector(server), streams=[*DEALS, "payments"])
    deals, companies = remote_ids(store, schema.deals), remote_ids(store, schema.customers)
    stored = {r["remote_id"]: r for r in rows(store, schema.payments)}
    assert len(stored) == len(server.objects["commerce_payments"]) > 0
    for payment in server.objects["commerce_payments"].values():
        row = stored[str(payment.id)]
        assert deals[row["deal_id"]] == str(payment.associations["deals"][0])
        assert companies[row["customer_id"]] == str(payment.associations["companies"][0])
        assert row["amount"] == Decimal(payment.properties["hs_initial_amount"])
        status = payment.properties["hs_latest_status"]
        assert row["is_deleted"] == (status in ("failed", "processing") or payment.archived_at is not None)


def test_a_processing_payment_that_succeeds_becomes_cash(store: Store, server: HubSpotMock) -> None:
    sync(store, connector(server), streams=[*DEALS, "payments"])
    waiting = next(
        p for p in server.objects["commerce_payments"].values() if p.properties["hs_latest_status"] == "processing"
    )
    server.touch("commerce_payments", waiting.id, hs_latest_status="succeeded")
    sync(store, connector(server), streams=["payments"])
    row = next(r for r in rows(store, schema.payments) if r["remote_id"] == str(waiting.id))
    assert row["is_deleted"] is False


def test_refunds_are_the_refunded_amounts_of_payments(store: Store, server: HubSpotMock) -> None:
    sync(store, connector(server), streams=[*DEALS, "refunds"])
    stored = {r["remote_id"]: r for r in rows(store, schema.refunds)}
    refunded = [p for p in server.objects["commerce_payments"].values() if p.properties["hs_refunds_amount"] != "0"]
    assert set(stored) == {f"payment-{p.id}" for p in refunded}
    for payment in refunded:
        row = stored[f"payment-{payment.id}"]
        assert (row["kind"], row["amount"]) == ("refund", Decimal(payment.properties["hs_refunds_amount"]))


def test_a_won_deal_moved_to_closed_lost_is_a_cancellation_and_winning_it_again_undoes_it(
    store: Store, server: HubSpotMock
) -> None:
    sync(store, connector(server), streams=[*DEALS, "cancellations"])
    before = {r["remote_id"] for r in rows(store, schema.refunds) if not r["is_deleted"]}
    assert before, "the seeded account has cancelled deals"
    won = next(
        d
        for d in server.objects["deals"].values()
        if d.properties["dealstage"] == "closedwon" and d.archived_at is None
    )
    never = next(d for d in server.objects["deals"].values() if d.properties["dealstage"] == "contractsent")
    moment = server.touch("deals", won.id, dealstage="closedlost")
    server.touch("deals", never.id, dealstage="closedlost")
    sync(store, connector(server), streams=[*DEALS, "cancellations"])
    now = {r["remote_id"]: r for r in rows(store, schema.refunds) if not r["is_deleted"]}
    assert set(now) - before == {f"deal-{won.id}"}
    added = now[f"deal-{won.id}"]
    assert (added["kind"], added["amount"], added["occurred_at"]) == (
        "cancellation",
        Decimal(won.properties["amount"]),
        moment,
    )
    assert added["reason"] == "won, then moved to Closed Lost"
    server.touch("deals", won.id, dealstage="closedwon")
    sync(store, connector(server), streams=[*DEALS, "cancellations"])
    assert f"deal-{won.id}" not in {r["remote_id"] for r in rows(store, schema.refunds) if not r["is_deleted"]}


def test_a_deal_s_splits_are_replaced_as_a_whole(store: Store, server: HubSpotMock) -> None:
    sync(store, connector(server), streams=[*DEALS, "splits"])
    deals = remote_ids(store, schema.deals)
    deal = next(d for d, splits in sorted(server.splits.items()) if len(splits) == 2)
    owners = sorted(server.owner_ids())
    server.set_splits(deal, [(owners[0], "0.5"), (owners[1], "0.25"), (owners[2], "0.25")])
    summary = sync(store, connector(server), streams=["splits"])
    stored = sorted(
        (r["person_id"], r["share"]) for r in rows(store, schema.deal_splits) if deals[r["deal_id"]] == str(deal)
    )
    assert stored == sorted(
        [
            (f"hs-{owners[0]}", Decimal("0.5")),
            (f"hs-{owners[1]}", Decimal("0.25")),
            (f"hs-{owners[2]}", Decimal("0.25")),
        ]
    )
    assert summary.streams[0].deleted >= 1 or summary.streams[0].updated >= 1


def test_campaign_spend_is_exact_and_a_removed_item_is_tombstoned(store: Store, server: HubSpotMock) -> None:
    sync(store, connector(server), streams=["owners", "campaign_spend"])
    items = {i["id"]: (guid, i) for guid, spend in server.spend.items() for i in spend}
    stored = {r["remote_id"]: r for r in rows(store, schema.marketing_spend)}
    assert set(stored) == set(items)
    for remote, (guid, item) in items.items():
        campaign = next(c for c in server.campaigns if c["id"] == guid)
        assert stored[remote]["amount"] == Decimal(item["amount"])  # sent as a JSON number, kept exact
        assert str(stored[remote]["day"]) == campaign["properties"]["hs_start_date"]
        assert stored[remote]["campaign"] == campaign["properties"]["hs_name"]
    guid, first = next(iter(items.values()))
    server.remove_spend(guid, first["id"])
    summary = sync(store, connector(server), streams=["campaign_spend"])
    assert summary.streams[0].deleted == 1
    assert next(r for r in rows(store, schema.marketing_spend) if r["remote_id"] == first["id"])["is_deleted"] is True


def test_an_account_without_deal_splits_or_marketing_hub_syncs_the_rest_and_says_why(store: Store) -> None:
    with HubSpotMock(deals=80, burst_limit=None, deal_splits=False, marketing=False) as mock:
        summary = sync(store, connector(mock), streams=[*DEALS, "splits", "campaign_spend", "payments"])
    assert summary.status == "succeeded"
    unavailable = {st.stream: st.unavailable for st in summary.streams if st.unavailable}
    assert set(unavailable) == {"splits", "campaign_spend"}
    assert "Sales Hub Enterprise" in unavailable["splits"] and "Marketing Hub" in unavailable["campaign_spend"]
    assert rows(store, schema.deals) and rows(store, schema.payments)
