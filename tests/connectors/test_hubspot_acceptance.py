"""HubSpot passes the acceptance suite every connector runs, on the suite's backend (SQLite or PostgreSQL),
its facts after the deal included: payments, refunds, cancelled deals, deal splits and campaign spend."""

from __future__ import annotations

import pytest

from kpi_engine.testing import AcceptanceTarget, ConnectorAcceptanceSuite
from kpi_engine_connectors.hubspot import HubSpotConnector
from tests.support.mock_servers.hubspot import HubSpotMock

FACT_STREAMS = ("payments", "refunds", "cancellations", "splits", "campaign_spend")


def _settings(server: HubSpotMock, auth: str) -> dict[str, str]:
    if auth == "oauth":
        return {
            "base_url": server.url,
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "refresh_token": server.refresh_token,
        }
    return {"base_url": server.url, "token": server.private_token}


def live_ids(server: HubSpotMock, stream: str) -> set[str]:
    """What a sync must hold as live rows of each stream, computed from the mock's data."""
    if stream not in FACT_STREAMS:
        return server.live_ids(stream)
    payments = [server.objects["commerce_payments"][int(i)] for i in server.live_ids("commerce_payments")]
    deals = [server.objects["deals"][int(i)] for i in server.live_ids("deals")]
    if stream == "payments":
        return {str(p.id) for p in payments if p.properties["hs_latest_status"] not in ("failed", "processing")}
    if stream == "refunds":
        return {f"payment-{p.id}" for p in payments if p.properties["hs_refunds_amount"] not in ("", "0")}
    if stream == "cancellations":
        found = set()
        for deal in deals:
            stages = [stage for stage, _ in server.stage_history.get(deal.id, [])]
            moves = list(zip(stages, stages[1:], strict=False))
            if ("closedwon", "closedlost") in moves and stages[-1] == "closedlost":
                found.add(f"deal-{deal.id}")
        return found
    if stream == "splits":
        return {
            f"{deal.id}|hs-{split['properties']['hubspot_owner_id']}"
            for deal in deals
            for split in server.splits.get(deal.id, [])
        }
    return {item["id"] for items in server.spend.values() for item in items}


def _delete_one(server: HubSpotMock, stream: str) -> str:
    """Someone deletes a record of the stream in HubSpot; returns how the sync names what went away."""
    if stream == "payments":
        victim = sorted(live_ids(server, stream))[0]
        server.archive("commerce_payments", victim)
        return victim
    if stream == "refunds":
        victim = sorted(live_ids(server, stream))[0]
        server.archive("commerce_payments", victim.removeprefix("payment-"))
        return victim
    if stream == "cancellations":
        victim = sorted(live_ids(server, stream))[0]
        server.archive("deals", victim.removeprefix("deal-"))
        return victim
    if stream == "splits":  # a two-way split becomes the owner's alone
        deal = next(d for d, splits in sorted(server.splits.items()) if len(splits) == 2)
        owner, other = (s["properties"]["hubspot_owner_id"] for s in server.splits[deal])
        server.set_splits(deal, [(owner, "1.0")])
        return f"{deal}|hs-{other}"
    if stream == "campaign_spend":
        campaign, items = next((c, items) for c, items in server.spend.items() if items)
        server.remove_spend(campaign, items[0]["id"])
        return items[0]["id"]
    victim = sorted(server.live_ids(stream))[3]
    server.archive(stream, victim)
    return victim


class TestHubSpotAcceptance(ConnectorAcceptanceSuite):
    @pytest.fixture
    def acceptance_target(self) -> AcceptanceTarget:
        return AcceptanceTarget(
            connector=HubSpotConnector,
            server=lambda: HubSpotMock(deals=340, burst_limit=None),
            settings=_settings,
            live_ids=live_ids,
            delete=_delete_one,
            rate_limit_every=lambda server, k: server.faults.every(k, "rate_limit"),
            expire_token=lambda server: server.tokens.expire_all(),
            token_grants=lambda server: server.refreshes,
            deleted_stream="deals",
            fact_streams=FACT_STREAMS,
            batch_size=100,
        )
