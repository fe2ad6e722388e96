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

_SOBJECT = {"users": "User", "opportunities": "Opportunity", "tasks": "Task", "events": "Event", "leads": "Lead"}


def settings(org: SalesforceMock, auth: str) -> dict[str, Any]:
    """Salesforce has one way in: the connected app's refresh-token grant (``token`` and ``oauth`` alike)."""
    return {
        "instance_url": org.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }


def live_ids(org: SalesforceMock, stream: str) -> set[str]:
    """Records out of the recycle bin, except those naming an opportunity that was hard-deleted
    (the sync skips them with that reason: the deal they name no longer exists anywhere)."""
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


def delete_one(org: SalesforceMock, stream: str) -> str:
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
            batch_size=200,
        )
