"""Fxiaoke's facts after the deal against the local mock: 回款 credited to the 商机 of their 销售订单,
退款, 市场活动 costs on their day in Asia/Shanghai, and no deal splits, said rather than invented
(docs/connectors/fxiaoke.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kpi_engine import ConnectorContext, RetryPolicy, Store, schema, sync
from kpi_engine.testing import FakeClock
from kpi_engine_connectors.fxiaoke import FxiaokeConnector
from tests.support.mock_servers.fxiaoke import APP_ID, APP_SECRET, OPEN_USER_ID, PERMANENT_CODE, FxiaokeMock

STREAMS = ["people", "opportunities", "payments", "refunds", "campaign_spend"]


@pytest.fixture
def tenant() -> Iterator[FxiaokeMock]:
    with FxiaokeMock(opportunities=300, seed=5).running() as mock:
        yield mock


def connector(tenant: FxiaokeMock) -> FxiaokeConnector:
    settings = {"base_url": tenant.url, "app_id": APP_ID, "app_secret": APP_SECRET}
    settings.update(permanent_code=PERMANENT_CODE, open_user_id=OPEN_USER_ID)
    context = ConnectorContext(clock=FakeClock(), retry=RetryPolicy(max_attempts=6))
    return FxiaokeConnector.from_env(settings, context=context, environ={}, use_keyring=False)  # type: ignore[return-value]


def rows(store: Store, table: Any) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(select(table)).mappings())


def test_payments_are_credited_to_the_opportunity_of_their_sales_order(store: Store, tenant: FxiaokeMock) -> None:
    sync(store, connector(tenant), streams=STREAMS)
    with store.connect() as conn:
        deal_of = dict(conn.execute(select(schema.deals.c.id, schema.deals.c.remote_id)).all())
        customer_of = dict(conn.execute(select(schema.customers.c.id, schema.customers.c.remote_id)).all())
    stored = {r["remote_id"]: r for r in rows(store, schema.payments)}
    orders = tenant.records["SalesOrderObj"]
    without = 0
    for payment in tenant.records["PaymentObj"].values():
        row = stored[payment["_id"]]
        opportunity = orders[payment["order_id"]]["new_opportunity_id"]
        assert (deal_of.get(row["deal_id"]) if row["deal_id"] else None) == opportunity
        without += opportunity is None
        assert customer_of[row["customer_id"]] == payment["account_id"]
        assert (row["amount"], row["currency"]) == (Decimal(payment["amount"]), "CNY")
        assert row["received_at"] == datetime.fromtimestamp(payment["payment_time"] // 1000, tz=UTC)
        assert row["is_deleted"] == (payment["life_status"] != "normal")
    assert without, "an order entered without its 商机 credits the customer only"


def test_a_payment_under_review_counts_once_approved(store: Store, tenant: FxiaokeMock) -> None:
    sync(store, connector(tenant), streams=STREAMS)
    waiting = next(p for p in tenant.records["PaymentObj"].values() if p["life_status"] == "under_review")
    tenant.update("PaymentObj", waiting["_id"], life_status="normal")
    tenant.advance(60)
    sync(store, connector(tenant), streams=["payments"])
    assert next(r for r in rows(store, schema.payments) if r["remote_id"] == waiting["_id"])["is_deleted"] is False


def test_refunds_are_the_refunded_amounts(store: Store, tenant: FxiaokeMock) -> None:
    sync(store, connector(tenant), streams=STREAMS)
    stored = {r["remote_id"]: r for r in rows(store, schema.refunds)}
    assert set(stored) == set(tenant.records["RefundObj"])
    for refund in tenant.records["RefundObj"].values():
        assert (stored[refund["_id"]]["kind"], stored[refund["_id"]]["amount"]) == (
            "refund",
            Decimal(refund["refunded_amount"]),
        )


def test_marketing_event_costs_are_spend_on_their_day_in_shanghai(store: Store, tenant: FxiaokeMock) -> None:
    summary = sync(store, connector(tenant), streams=STREAMS)
    stored = {r["remote_id"]: r for r in rows(store, schema.marketing_spend)}
    shanghai = ZoneInfo("Asia/Shanghai")
    for event in tenant.records["MarketingEventObj"].values():
        if event["actual_cost"] is None:
            assert event["_id"] not in stored
            continue
        row = stored[event["_id"]]
        begin = datetime.fromtimestamp(event["begin_time"] // 1000, tz=UTC)
        assert row["day"] == begin.astimezone(shanghai).date() != begin.date()  # midnight in Shanghai is 16:00 UTC
        assert row["amount"] == Decimal(event["actual_cost"])
        assert row["channel"] in ("会议", "展会", "线上推广", "广告")
    spend = next(st for st in summary.streams if st.stream == "campaign_spend")
    assert sum(spend.skipped.values()) == sum(
        1 for e in tenant.records["MarketingEventObj"].values() if e["actual_cost"] is None
    )


def test_fxiaoke_says_it_has_no_deal_splits_rather_than_invent_them() -> None:
    from kpi_engine.cli.app import cli

    assert "deal_splits" in FxiaokeConnector.unsupported
    assert all(
        st.entity != "deal_splits" for st in FxiaokeConnector.streams(FxiaokeConnector.__new__(FxiaokeConnector))
    )
    result = CliRunner().invoke(cli, ["connectors", "list"])
    assert result.exit_code == 0, result.output
    assert "fxiaoke: deal_splits: Fxiaoke's open API documents no credit-split object" in result.output
