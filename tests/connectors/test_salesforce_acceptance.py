"""Salesforce passes the acceptance suite every connector runs, against the local Salesforce mock,
on the suite's backend (SQLite, or PostgreSQL with ``KPI_TEST_DATABASE_URL``)."""

from __future__ import annotations

from typing import Any

import pytest

from kpi_engine.testing import AcceptanceTarget, ConnectorAcceptanceSuite
from kpi_engine_connectors.salesforce import SalesforceConnector
from tests.support.mock_servers.salesforce import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    SalesforceMock,
)

_SOBJECT = {
    "users": "User",
    "opportunities": "Opportunity",
    "tasks": "Task",
    "events": "Event",
    "leads": "Lead",
    "splits": "OpportunitySplit",
    "payments": "blng__Payment__c",
    "refunds": "blng__Refund__c",
    "cancellations": "OpportunityHistory",
    "campaigns": "Campaign",
}
FACT_STREAMS = ("splits", "payments", "refunds", "cancellations", "campaigns")


def settings(org: SalesforceMock, auth: str) -> dict[str, Any]:
    """Salesforce has one way in: the connected app's refresh-token grant (``token`` and ``oauth`` alike)."""
    return {
        "instance_url": org.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }


def live_ids(org: SalesforceMock, stream: str) -> set[str]:
    """What a sync must hold as live rows of a stream, computed from the org's records.

    Records out of the recycle bin, except those naming an opportunity that was hard-deleted (the
    sync skips them with that reason: the deal they name no longer exists anywhere). Splits are of
    the Revenue type and named ``<opportunity>|sf-<owner>``; payments and refunds are ``Posted``;
    cancellations are lost-stage history rows of opportunities that were won before; campaigns
    have an actual cost.
    """
    if stream in FACT_STREAMS:
        return _fact_ids(org, stream)
    sobject = _SOBJECT[stream]
    opportunities = set(org.records["Opportunity"])  # live and in the recycle bin: both are stored rows
    ids = set()
    for record_id in org.ids(sobject):
        row = org.records[sobject][record_id]
        deal = (
            row.get("WhatId")
            if sobject in ("Task", "Event")
            else row.get("ConvertedOpportunityId")
            if sobject == "Lead"
            else None
        )
        if deal and str(deal).startswith("006") and deal not in opportunities:
            continue
        ids.add(record_id)
    return ids


def _fact_ids(org: SalesforceMock, stream: str) -> set[str]:
    sobject = _SOBJECT[stream]
    rows = [org.records[sobject][i] for i in org.ids(sobject)]
    if stream == "splits":
        revenue = org.split_types["Revenue"]
        return {f"{r['OpportunityId']}|sf-{r['SplitOwnerId']}" for r in rows if r["SplitTypeId"] == revenue}
    if stream in ("payments", "refunds"):
        return {r["Id"] for r in rows if r["blng__Status__c"] == "Posted"}
    if stream == "campaigns":
        return {r["Id"] for r in rows if r["ActualCost"] is not None}
    history = list(org.records["OpportunityHistory"].values())
    return {
        r["Id"]
        for r in rows
        if r["StageName"] == "Closed Lost"
        and r["Amount"]
        and any(
            h["OpportunityId"] == r["OpportunityId"]
            and h["StageName"] == "Closed Won"
            and h["CreatedDate"] < r["CreatedDate"]
            for h in history
        )
    }


def delete_one(org: SalesforceMock, stream: str) -> str:
    """Someone deletes a record of the stream; returns how the sync names it."""
    if stream == "cancellations":  # history rows go with their opportunity
        victim = sorted(live_ids(org, stream))[1]
        opportunity = org.records["OpportunityHistory"][victim]["OpportunityId"]
        org.delete("Opportunity", opportunity)
        return victim
    if stream == "splits":
        revenue = org.split_types["Revenue"]
        victim = next(
            i for i in org.ids("OpportunitySplit") if org.records["OpportunitySplit"][i]["SplitTypeId"] == revenue
        )
        row = org.records["OpportunitySplit"][victim]
        org.delete("OpportunitySplit", victim)
        return f"{row['OpportunityId']}|sf-{row['SplitOwnerId']}"
    if stream in ("payments", "refunds", "campaigns"):
        victim = sorted(live_ids(org, stream))[0]
        org.delete(_SOBJECT[stream], victim)
        return victim
    victim = org.ids(_SOBJECT[stream])[3]
    org.delete(_SOBJECT[stream], victim)
    return victim


class TestSalesforceAcceptance(ConnectorAcceptanceSuite):
    @pytest.fixture
    def acceptance_target(self) -> AcceptanceTarget:
        return AcceptanceTarget(
            connector=SalesforceConnector,
            server=lambda: SalesforceMock(opportunities=450, seed=23),
            settings=settings,
            live_ids=live_ids,
            delete=delete_one,
            rate_limit_every=lambda org, k: setattr(org.faults, "rate_limit_every", k),
            expire_token=lambda org: org.expire_sessions(),
            token_grants=lambda org: org.tokens_issued,
            deleted_stream="opportunities",
            fact_streams=FACT_STREAMS,
            batch_size=200,
        )
