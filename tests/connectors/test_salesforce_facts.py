"""Salesforce's facts after the deal against the local mock: opportunity splits of one split type,
Billing payments and refunds, cancellations read from the stage history, campaign costs, and orgs
that lack splits or the Billing package (docs/connectors/salesforce.md, "Facts after the deal")."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from kpi_engine import ConnectorConfigurationError, ConnectorContext, RetryPolicy, Store, schema, sync
from kpi_engine.testing import FakeClock
from kpi_engine_connectors.salesforce import SalesforceConnector
from tests.support.mock_servers.salesforce import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, SalesforceMock

FACTS = ["users", "opportunities", "splits", "payments", "refunds", "cancellations", "campaigns"]


@pytest.fixture
def org() -> Iterator[SalesforceMock]:
    with SalesforceMock(opportunities=300, seed=5).running() as mock:
        yield mock


def connector(mock: SalesforceMock, **settings: Any) -> SalesforceConnector:
    values = {"instance_url": mock.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    values.update(refresh_token=REFRESH_TOKEN, batch_size=200, **settings)
    context = ConnectorContext(clock=FakeClock(), retry=RetryPolicy(max_attempts=6))
    return SalesforceConnector.from_env(values, context=context, environ={}, use_keyring=False)  # type: ignore[return-value]


def rows(store: Store, table: Any) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(select(table)).mappings())


def test_revenue_splits_are_shares_of_the_opportunity_and_name_its_owners(store: Store, org: SalesforceMock) -> None:
    sync(store, connector(org), streams=["users", "opportunities", "splits"])
    d = schema.deals.c
    with store.connect() as conn:
        deal_of = dict(conn.execute(select(d.id, d.remote_id)).all())
    stored = {(deal_of[r["deal_id"]], r["person_id"]): r for r in rows(store, schema.deal_splits)}
    revenue = org.split_types["Revenue"]
    for split in org.records["OpportunitySplit"].values():
        key = (split["OpportunityId"], f"sf-{split['SplitOwnerId']}")
        if split["SplitTypeId"] != revenue or split["IsDeleted"]:
            continue
        assert stored[key]["share"] == split["SplitPercentage"] / 100
        assert stored[key]["split_role"] == "Revenue"
    shares: dict[str, Decimal] = {}
    for (deal, _), row in stored.items():
        shares[deal] = shares.get(deal, Decimal(0)) + row["share"]
    assert Decimal(1) in set(shares.values()), "revenue splits of an opportunity add up to 100 %"
    assert len(stored) == sum(
        1 for s in org.records["OpportunitySplit"].values() if s["SplitTypeId"] == revenue and not s["IsDeleted"]
    )


def test_the_split_type_is_a_setting_and_an_unknown_one_is_named(store: Store, org: SalesforceMock) -> None:
    sync(store, connector(org, split_type="Overlay"), streams=["users", "opportunities", "splits"])
    overlay = [s for s in org.records["OpportunitySplit"].values() if s["SplitTypeId"] == org.split_types["Overlay"]]
    assert len(rows(store, schema.deal_splits)) == len([s for s in overlay if not s["IsDeleted"]]) > 0
    with pytest.raises(ConnectorConfigurationError, match="KPI_SALESFORCE_SPLIT_TYPE") as refused:
        sync(store, connector(org, split_type="Territory"), streams=["splits"])
    assert "Overlay, Revenue" in str(refused.value)


def test_a_split_moved_to_the_recycle_bin_is_removed(store: Store, org: SalesforceMock) -> None:
    sync(store, connector(org), streams=["users", "opportunities", "splits"])
    before = len(rows(store, schema.deal_splits))
    revenue = org.split_types["Revenue"]
    victim = next(
        i for i in org.ids("OpportunitySplit") if org.records["OpportunitySplit"][i]["SplitTypeId"] == revenue
    )
    org.delete("OpportunitySplit", victim)
    org.advance(120)
    summary = sync(store, connector(org), streams=["splits"])
    assert summary.streams[0].deleted == 1
    assert len(rows(store, schema.deal_splits)) == before - 1
    with store.connect() as conn:
        logged = conn.execute(select(schema.fact_changes).where(schema.fact_changes.c.table_name == "deal_splits"))
        assert [r.rows for r in logged][-1] == 1, "the removal is logged in fact_changes"


def test_billing_payments_and_refunds_name_the_account_and_cancelled_ones_are_deleted(
    store: Store, org: SalesforceMock
) -> None:
    sync(store, connector(org), streams=FACTS)
    c = schema.customers.c
    with store.connect() as conn:
        account_of = dict(conn.execute(select(c.id, c.remote_id)).all())
    payments = {r["remote_id"]: r for r in rows(store, schema.payments)}
    for payment in org.records["blng__Payment__c"].values():
        stored = payments[payment["Id"]]
        assert stored["amount"] == payment["blng__Amount__c"] and stored["currency"] == payment["CurrencyIsoCode"]
        assert account_of[stored["customer_id"]] == payment["blng__Account__c"]
        assert stored["is_deleted"] == (payment["IsDeleted"] or payment["blng__Status__c"] == "Canceled")
    refunds = [r for r in rows(store, schema.refunds) if r["kind"] == "refund"]
    assert {r["remote_id"] for r in refunds} == set(org.records["blng__Refund__c"])
    assert all(r["reason"] == "Returned licences" for r in refunds)


def test_a_won_opportunity_moved_to_closed_lost_is_a_cancellation(store: Store, org: SalesforceMock) -> None:
    sync(store, connector(org), streams=FACTS)
    seeded = [r for r in rows(store, schema.refunds) if r["kind"] == "cancellation"]
    assert seeded, "the seeded org has cancellations"
    won = next(o for o in org.records["Opportunity"].values() if o["IsWon"] and o["Amount"] and not o["IsDeleted"])
    org.advance(60)
    org.update("Opportunity", won["Id"], StageName="Closed Lost")
    lost = next(o for o in org.records["Opportunity"].values() if o["StageName"] == "Prospecting" and o["Amount"])
    org.update("Opportunity", lost["Id"], StageName="Closed Lost")  # lost without being won: no cancellation
    org.advance(120)
    sync(store, connector(org), streams=FACTS)
    d = schema.deals.c
    with store.connect() as conn:
        deal_id = conn.execute(select(d.id).where(d.remote_id == won["Id"])).scalar_one()
        status = conn.execute(select(d.status).where(d.remote_id == won["Id"])).scalar_one()
    added = [r for r in rows(store, schema.refunds) if r["kind"] == "cancellation" and r not in seeded]
    assert [(r["deal_id"], r["amount"], r["reason"]) for r in added] == [
        (deal_id, won["Amount"], "won, then moved to Closed Lost")
    ]
    assert status == "lost"


def test_campaign_costs_are_spend_on_the_start_date_and_campaigns_without_a_cost_are_skipped(
    store: Store, org: SalesforceMock
) -> None:
    summary = sync(store, connector(org), streams=["users", "campaigns"])
    spend = {r["remote_id"]: r for r in rows(store, schema.marketing_spend)}
    for campaign in org.records["Campaign"].values():
        if campaign["ActualCost"] is None:
            assert campaign["Id"] not in spend
            continue
        stored = spend[campaign["Id"]]
        assert (stored["day"], stored["amount"], stored["campaign"]) == (
            campaign["StartDate"],
            campaign["ActualCost"],
            campaign["Name"],
        )
        assert stored["channel"] == (campaign["Type"] or "campaign")
        assert stored["owner_id"] == f"sf-{campaign['OwnerId']}"
    skipped = summary.streams[-1].skipped
    assert sum(skipped.values()) == sum(1 for c in org.records["Campaign"].values() if c["ActualCost"] is None)
    assert all(reason.startswith("amount:") for reason in skipped)


def test_an_org_without_splits_or_billing_syncs_the_rest_and_says_why(store: Store) -> None:
    with SalesforceMock(opportunities=120, seed=3, splits=False, billing=False).running() as mock:
        summary = sync(store, connector(mock), streams=FACTS)
    assert summary.status == "succeeded"
    unavailable = {st.stream: st.unavailable for st in summary.streams if st.unavailable}
    assert set(unavailable) == {"splits", "payments", "refunds"}
    assert "Opportunity Splits are not enabled" in unavailable["splits"]
    assert "payment_object" in unavailable["payments"]
    assert rows(store, schema.deals) and not rows(store, schema.payments)


def test_a_payment_object_named_in_the_settings_that_the_org_lacks_is_a_configuration_error(
    store: Store, org: SalesforceMock
) -> None:
    with pytest.raises(ConnectorConfigurationError, match="no Payment__c object .KPI_SALESFORCE_PAYMENT_OBJECT"):
        sync(store, connector(org, payment_object="Payment__c"), streams=["payments"])


def test_a_split_given_to_another_owner_leaves_no_stale_row(store: Store, org: SalesforceMock) -> None:
    sync(store, connector(org), streams=["users", "opportunities", "splits"])
    revenue = org.split_types["Revenue"]
    split = next(
        s
        for s in org.records["OpportunitySplit"].values()
        if s["SplitTypeId"] == revenue and not s["IsDeleted"] and s["SplitPercentage"] == 100
    )
    other = next(u for u in org.ids("User") if u != split["SplitOwnerId"])
    org.advance(60)
    org.update("OpportunitySplit", split["Id"], SplitOwnerId=other)
    org.advance(120)
    summary = sync(store, connector(org), streams=["splits"])
    d = schema.deals.c
    with store.connect() as conn:
        deal = conn.execute(select(d.id).where(d.remote_id == split["OpportunityId"])).scalar_one()
    owners = [r["person_id"] for r in rows(store, schema.deal_splits) if r["deal_id"] == deal]
    assert owners == [f"sf-{other}"]
    assert (summary.streams[0].inserted, summary.streams[0].deleted) == (1, 1)
