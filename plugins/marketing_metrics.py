"""Marketing metrics: web traffic, forms, content and social engagement, spend efficiency and ROI.

Spend and revenue are read through ``MoneyTerms``: in the plan's currency, converted as the plan
declares, and a fact that cannot be converted is an error naming it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from kpi_engine import (
    Division,
    Measure,
    Metric,
    MetricContext,
    MoneyTerms,
    fact_metric,
    hookimpl,
    same_period_last_year,
    schema,
    shift_context,
    within,
    within_days,
)

__all__ = ["kpi_metrics"]

visits = schema.web_visits
content = schema.content_stats
spend = schema.marketing_spend
leads = schema.leads
deals = schema.deals
SOURCE = "docs/catalogue.md §1 (sources 000, 001, 002, 003)"
MONEY = 4
RATE = Division(scale=6, zero_denominator="missing")
AMOUNT = MoneyTerms("amount")
SOURCED = MoneyTerms("sourced")


def _genuine(ctx: MetricContext) -> Any:
    """Visits in the period, fake traffic (刷量) excluded."""
    return and_(visits.c.is_deleted.is_(False), visits.c.is_suspect.is_(False), within(visits.c.occurred_at, ctx))


def traffic_facts(ctx: MetricContext) -> Select[Any]:
    return select(
        visits.c.owner_id.label("person_id"),
        visits.c.id.label("record_id"),
        visits.c.channel,
        visits.c.campaign,
        visits.c.visitor_id,
        case((visits.c.form_submitted.is_(True), visits.c.id), else_=None).label("form_visit"),
    ).where(_genuine(ctx))


def traffic_growth_facts(ctx: MetricContext) -> Select[Any]:
    """Visits of the period and of the same period last year, each visitor marked with its side."""
    last = shift_context(ctx, same_period_last_year(ctx.period))
    now = within(visits.c.occurred_at, ctx)
    then = within(visits.c.occurred_at, last)
    return select(
        visits.c.owner_id.label("person_id"),
        visits.c.channel,
        visits.c.campaign,
        case((now, visits.c.visitor_id), else_=None).label("visitor_now"),
        case((then, visits.c.visitor_id), else_=None).label("visitor_then"),
    ).where(visits.c.is_deleted.is_(False), visits.c.is_suspect.is_(False), or_(now, then))


def content_facts(ctx: MetricContext) -> Select[Any]:
    with_audience = content.c.followers.is_not(None)
    return select(
        content.c.owner_id.label("person_id"),
        content.c.id.label("record_id"),
        content.c.channel,
        content.c.campaign,
        content.c.impressions,
        content.c.clicks,
        content.c.downloads,
        case((with_audience, content.c.likes + content.c.comments + content.c.shares), else_=None).label("engagements"),
        content.c.followers,
    ).where(content.c.is_deleted.is_(False), within_days(content.c.day, ctx))


def spend_facts(ctx: MetricContext) -> Select[Any]:
    inner = select(
        spend.c.owner_id.label("person_id"),
        spend.c.id.label("record_id"),
        spend.c.channel,
        spend.c.campaign,
        *AMOUNT.inputs(ctx, spend.c.amount, spend.c.currency, spend.c.day, record=(spend, "marketing spend")),
    ).where(spend.c.is_deleted.is_(False), within_days(spend.c.day, ctx), AMOUNT.keeps(ctx, spend.c.currency))
    return AMOUNT.facts(ctx, inner)


def mql_facts(ctx: MetricContext) -> Select[Any]:
    return select(
        leads.c.marketing_owner_id.label("person_id"), leads.c.id.label("record_id"), leads.c.channel, leads.c.campaign
    ).where(leads.c.is_deleted.is_(False), within(leads.c.mql_at, ctx))


def _first_lead_of(deal_id: Any) -> Any:
    """The lead a deal came from: the first lead converted to it (one per deal, so nothing counts twice)."""
    other = aliased(leads)
    return select(func.min(other.c.id)).where(other.c.converted_deal_id == deal_id).scalar_subquery()


def sourced_revenue_facts(ctx: MetricContext) -> Select[Any]:
    """Won amount of the period attributed to the lead it came from: marketing owner, channel, campaign."""
    inner = (
        select(
            leads.c.marketing_owner_id.label("person_id"),
            deals.c.id.label("record_id"),
            leads.c.channel,
            leads.c.campaign,
            *AMOUNT.inputs(ctx, deals.c.amount, deals.c.currency, deals.c.closed_at, record=(deals, "deal")),
        )
        .select_from(deals.join(leads, leads.c.id == _first_lead_of(deals.c.id)))
        .where(
            deals.c.status == "won",
            deals.c.is_deleted.is_(False),
            within(deals.c.closed_at, ctx),
            AMOUNT.keeps(ctx, deals.c.currency),
        )
    )
    return AMOUNT.facts(ctx, inner)


def acquired_customer_facts(ctx: MetricContext) -> Select[Any]:
    """New customers (first won deal ever closed in the period) won from a marketing lead."""
    earlier = aliased(deals)
    before = exists().where(
        earlier.c.customer_id == deals.c.customer_id,
        earlier.c.status == "won",
        earlier.c.is_deleted.is_(False),
        or_(
            earlier.c.closed_at < deals.c.closed_at,
            and_(earlier.c.closed_at == deals.c.closed_at, earlier.c.id < deals.c.id),
        ),
    )
    return (
        select(leads.c.marketing_owner_id.label("person_id"), leads.c.channel, leads.c.campaign, deals.c.customer_id)
        .select_from(deals.join(leads, leads.c.id == _first_lead_of(deals.c.id)))
        .where(
            deals.c.status == "won",
            deals.c.is_deleted.is_(False),
            within(deals.c.closed_at, ctx),
            deals.c.customer_id.is_not(None),
            ~before,
        )
    )


def marketing_share_facts(ctx: MetricContext) -> Select[Any]:
    """Won deals of the period with their amount, and the amount again when a marketing lead sourced the deal."""
    sourced = exists().where(
        leads.c.converted_deal_id == deals.c.id, leads.c.marketing_owner_id.is_not(None), leads.c.is_deleted.is_(False)
    )
    inner = select(
        deals.c.owner_id.label("person_id"),
        deals.c.id.label("record_id"),
        deals.c.product_line,
        deals.c.lead_source.label("channel"),
        *AMOUNT.inputs(ctx, deals.c.amount, deals.c.currency, deals.c.closed_at, record=(deals, "deal")),
        *SOURCED.inputs(
            ctx,
            case((sourced, deals.c.amount), else_=None),
            deals.c.currency,
            deals.c.closed_at,
            record=(deals, "deal"),
        ),
    ).where(
        deals.c.status == "won",
        deals.c.is_deleted.is_(False),
        within(deals.c.closed_at, ctx),
        AMOUNT.keeps(ctx, deals.c.currency),
    )
    return SOURCED.facts(ctx, AMOUNT.facts(ctx, inner))


@hookimpl
def kpi_metrics() -> list[Metric]:
    sessions = Measure(traffic_facts, "count")
    uv = Measure(traffic_facts, "count_distinct", "visitor_id")
    return [
        fact_metric(
            "unique_visitors",
            "Distinct visitors of the period, fake traffic excluded (UV).",
            "count",
            uv,
            source=SOURCE,
        ),
        fact_metric(
            "uv_growth",
            "Unique visitors against the same period last year: (UV now − UV then) ÷ UV then.",
            "ratio",
            Measure(
                traffic_growth_facts,
                "sql",
                sql=lambda f: func.count(f.c.visitor_now.distinct()) - func.count(f.c.visitor_then.distinct()),
            ),
            Measure(traffic_growth_facts, "count_distinct", "visitor_then"),
            division=RATE,
            source=SOURCE,
        ),
        fact_metric(
            "form_conversion_rate",
            "Form submissions ÷ unique visitors of the period.",
            "ratio",
            Measure(traffic_facts, "count", "form_visit"),
            uv,
            division=RATE,
            source=SOURCE,
        ),
        fact_metric(
            "channel_mix",
            "The group's share of all genuine web sessions of the period (by channel: search, social, direct …).",
            "ratio",
            sessions,
            Measure(traffic_facts, "count", over_all=True),
            division=RATE,
            source=SOURCE,
        ),
        fact_metric(
            "content_exposure",
            "Impressions of the person's content in the period.",
            "count",
            Measure(content_facts, "sum", "impressions"),
            source=SOURCE,
        ),
        fact_metric(
            "content_downloads",
            "Downloads of the person's content in the period.",
            "count",
            Measure(content_facts, "sum", "downloads"),
            source=SOURCE,
        ),
        fact_metric(
            "content_ctr",
            "Clicks ÷ impressions of the person's content in the period.",
            "ratio",
            Measure(content_facts, "sum", "clicks"),
            Measure(content_facts, "sum", "impressions"),
            division=RATE,
            source=SOURCE,
        ),
        fact_metric(
            "channel_engagement_rate",
            "(Likes + comments + shares) ÷ followers reached, summed over the social posts of the period.",
            "ratio",
            Measure(content_facts, "sum", "engagements"),
            Measure(content_facts, "sum", "followers"),
            division=RATE,
            source=SOURCE,
        ),
        fact_metric(
            "marketing_spend",
            "Promotion spend of the period in the plan's currency.",
            "money",
            AMOUNT.measure(spend_facts),
            evidence=AMOUNT.evidence(spend_facts),
            evidence_table="marketing_spend",
            evidence_adds_up=True,
            source=SOURCE,
        ),
        fact_metric(
            "cost_per_lead",
            "Promotion spend ÷ MQL count of the period (CPL), by marketing owner, channel or campaign.",
            "money",
            AMOUNT.measure(spend_facts),
            Measure(mql_facts, "count"),
            division=Division(scale=MONEY, zero_denominator="missing"),
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "customer_acquisition_cost",
            "Promotion spend ÷ new customers won from marketing leads in the period (CAC).",
            "money",
            AMOUNT.measure(spend_facts),
            Measure(acquired_customer_facts, "count_distinct", "customer_id"),
            division=Division(scale=MONEY, zero_denominator="missing"),
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "channel_roi",
            "Won amount attributed to leads ÷ promotion spend, per marketing owner, channel or campaign (ROI).",
            "ratio",
            AMOUNT.measure(sourced_revenue_facts),
            AMOUNT.measure(spend_facts),
            division=RATE,
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "marketing_sourced_revenue_share",
            "Won amount of deals sourced by a marketing lead ÷ all won amount, by deal owner.",
            "ratio",
            SOURCED.measure(marketing_share_facts),
            AMOUNT.measure(marketing_share_facts),
            division=RATE,
            grain="quarter",
            source=SOURCE,
        ),
    ]
