"""Core sales, activity and funnel metrics, computed by the database per person and period."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func, select

from kpi_engine import Metric, MetricContext, hookimpl, schema

__all__ = ["kpi_metrics"]

deals = schema.deals
activities = schema.activities
leads = schema.leads
payments = schema.payments


def _won_in_period(ctx: MetricContext) -> Any:
    return and_(
        deals.c.status == "won",
        deals.c.is_deleted.is_(False),
        deals.c.closed_at >= ctx.start,
        deals.c.closed_at < ctx.end,
        deals.c.currency == ctx.currency,
    )


def bookings(ctx: MetricContext) -> Select[Any]:
    return select(deals.c.owner_id.label("person_id"), func.sum(deals.c.amount).label("value")).where(
        _won_in_period(ctx)
    ).group_by(deals.c.owner_id)


def bookings_records(ctx: MetricContext) -> Select[Any]:
    return select(deals.c.owner_id, deals.c.id, deals.c.amount).where(_won_in_period(ctx)).order_by(
        deals.c.owner_id, deals.c.closed_at, deals.c.id
    )


def won_deals(ctx: MetricContext) -> Select[Any]:
    return select(deals.c.owner_id.label("person_id"), func.count().label("value")).where(
        _won_in_period(ctx)
    ).group_by(deals.c.owner_id)


def new_customers(ctx: MetricContext) -> Select[Any]:
    """Customers whose first won deal closed in the period, credited to that deal's owner."""
    first = (
        select(deals.c.customer_id, func.min(deals.c.closed_at).label("first_won"))
        .where(deals.c.status == "won", deals.c.is_deleted.is_(False), deals.c.customer_id.is_not(None))
        .group_by(deals.c.customer_id)
        .subquery()
    )
    firsts = (
        select(deals.c.owner_id, deals.c.customer_id)
        .join(first, and_(first.c.customer_id == deals.c.customer_id, first.c.first_won == deals.c.closed_at))
        .where(deals.c.status == "won", deals.c.is_deleted.is_(False), first.c.first_won >= ctx.start, first.c.first_won < ctx.end)
        .distinct()
        .subquery()
    )
    return select(firsts.c.owner_id.label("person_id"), func.count(firsts.c.customer_id.distinct()).label("value")).group_by(
        firsts.c.owner_id
    )


def _activity_count(kind: str | None) -> Any:
    def build(ctx: MetricContext) -> Select[Any]:
        conditions = [activities.c.is_deleted.is_(False), activities.c.occurred_at >= ctx.start, activities.c.occurred_at < ctx.end]
        if kind:
            conditions.append(activities.c.kind == kind)
        return select(activities.c.owner_id.label("person_id"), func.count().label("value")).where(*conditions).group_by(
            activities.c.owner_id
        )

    return build


def _lead_count(column: Any, owner: Any) -> Any:
    def build(ctx: MetricContext) -> Select[Any]:
        return select(owner.label("person_id"), func.count().label("value")).where(
            leads.c.is_deleted.is_(False), column >= ctx.start, column < ctx.end
        ).group_by(owner)

    return build


def collections(ctx: MetricContext) -> Select[Any]:
    return (
        select(deals.c.owner_id.label("person_id"), func.sum(payments.c.amount).label("value"))
        .join(deals, deals.c.id == payments.c.deal_id)
        .where(
            payments.c.is_deleted.is_(False),
            payments.c.received_at >= ctx.start,
            payments.c.received_at < ctx.end,
            payments.c.currency == ctx.currency,
        )
        .group_by(deals.c.owner_id)
    )


@hookimpl
def kpi_metrics() -> list[Metric]:
    return [
        Metric(
            name="bookings",
            description="Sum of won deal amounts closed in the period (销售额), in the plan's currency.",
            unit="money",
            query=bookings,
            evidence=bookings_records,
            evidence_table="deals",
        ),
        Metric(name="won_deals", description="Number of deals won in the period.", unit="count", query=won_deals),
        Metric(
            name="new_customers",
            description="Customers whose first won deal closed in the period (新客户数).",
            unit="count",
            query=new_customers,
        ),
        Metric(name="activities", description="Calls, visits, meetings and e-mails logged.", unit="count", query=_activity_count(None)),
        Metric(name="visits", description="Customer visits logged (拜访量).", unit="count", query=_activity_count("visit"), grain="week"),
        Metric(name="calls", description="Calls logged (拨打量).", unit="count", query=_activity_count("call"), grain="week"),
        Metric(
            name="leads_created",
            description="Leads created, credited to the marketing owner.",
            unit="count",
            query=_lead_count(leads.c.created_at, leads.c.marketing_owner_id),
        ),
        Metric(
            name="mql",
            description="Leads that became marketing-qualified in the period, credited to the marketing owner.",
            unit="count",
            query=_lead_count(leads.c.mql_at, leads.c.marketing_owner_id),
        ),
        Metric(
            name="sql",
            description="Leads accepted by sales in the period, credited to the sales owner.",
            unit="count",
            query=_lead_count(leads.c.sql_at, leads.c.owner_id),
        ),
        Metric(name="collections", description="Cash received against the person's deals (回款).", unit="money", query=collections),
    ]
