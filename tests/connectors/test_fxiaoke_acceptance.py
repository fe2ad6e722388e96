"""Fxiaoke passes the acceptance suite every connector runs, against the local Fxiaoke mock,
on the suite's backend (SQLite, or PostgreSQL with ``KPI_TEST_DATABASE_URL``)."""

from __future__ import annotations

from typing import Any

import pytest

from kpi_engine.testing import AcceptanceTarget, ConnectorAcceptanceSuite
from kpi_engine_connectors.fxiaoke import FxiaokeConnector
from tests.support.mock_servers.fxiaoke import (
    APP_ID,
    APP_SECRET,
    OPEN_USER_ID,
    PERMANENT_CODE,
    FxiaokeMock,
)

_OBJECT = {
    "people": "PersonnelObj",
    "opportunities": "NewOpportunityObj",
    "activities": "ActiveRecordObj",
    "leads": "LeadsObj",
    "payments": "PaymentObj",
    "refunds": "RefundObj",
    "campaign_spend": "MarketingEventObj",
}
FACT_STREAMS = ("payments", "refunds", "campaign_spend")


def settings(tenant: FxiaokeMock, auth: str) -> dict[str, Any]:
    """One way in for ``token`` and ``oauth`` alike: the app's corpAccessToken."""
    return {
        "base_url": tenant.url,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "permanent_code": PERMANENT_CODE,
        "open_user_id": OPEN_USER_ID,
    }


def live_ids(tenant: FxiaokeMock, stream: str) -> set[str]:
    """Records that are neither invalidated (作废) nor deleted; 回款 and 退款 that took effect (normal);
    市场活动 with an actual cost."""
    rows = {i: tenant.records[_OBJECT[stream]][i] for i in tenant.ids(_OBJECT[stream])}
    if stream in ("payments", "refunds"):
        return {i for i, row in rows.items() if row["life_status"] == "normal"}
    if stream == "campaign_spend":
        return {i for i, row in rows.items() if row["actual_cost"] is not None}
    return set(rows)


def invalidate_one(tenant: FxiaokeMock, stream: str) -> str:
    victim = sorted(live_ids(tenant, stream))[3 if stream not in FACT_STREAMS else 0]
    tenant.invalidate(_OBJECT[stream], victim)
    return victim


class TestFxiaokeAcceptance(ConnectorAcceptanceSuite):
    @pytest.fixture
    def acceptance_target(self) -> AcceptanceTarget:
        return AcceptanceTarget(
            connector=FxiaokeConnector,
            server=lambda: FxiaokeMock(opportunities=450, seed=23),
            settings=settings,
            live_ids=live_ids,
            delete=invalidate_one,
            rate_limit_every=lambda tenant, k: setattr(tenant.faults, "rate_limit_every", k),
            expire_token=lambda tenant: tenant.expire_tokens(),
            token_grants=lambda tenant: tenant.tokens_issued,
            deleted_stream="opportunities",
            fact_streams=FACT_STREAMS,
            batch_size=100,
        )
