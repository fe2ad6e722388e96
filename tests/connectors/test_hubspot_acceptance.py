"""HubSpot passes the acceptance suite every connector runs, on the suite's backend (SQLite or PostgreSQL)."""

from __future__ import annotations

import pytest

from kpi_engine.testing import AcceptanceTarget, ConnectorAcceptanceSuite
from kpi_engine_connectors.hubspot import HubSpotConnector
from tests.support.mock_servers.hubspot import HubSpotMock


def _settings(server: HubSpotMock, auth: str) -> dict[str, str]:
    if auth == "oauth":
        return {
            "base_url": server.url,
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "refresh_token": server.refresh_token,
        }
    return {"base_url": server.url, "token": server.private_token}


def _delete_one(server: HubSpotMock, stream: str) -> str:
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
            live_ids=lambda server, stream: server.live_ids(stream),
            delete=_delete_one,
            rate_limit_every=lambda server, k: server.faults.every(k, "rate_limit"),
            expire_token=lambda server: server.tokens.expire_all(),
            token_grants=lambda server: server.refreshes,
            deleted_stream="deals",
            batch_size=100,
        )
