"""Lead funnel metrics: leads, MQL, SQL, conversion between stages, routing speed and follow-up SLAs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, literal, select

from kpi_engine import (
    Division,
    Measure,
    Metric,
    MetricContext,
    fact_metric,
    hookimpl,
    schema,
    seconds_between,
    within,
)

__all__ = ["kpi_metrics"]

leads = schema.leads
deals = schema.deals
SOURCE = "docs/catalogue.md §1 (sources 000, 001, 002)"
FIRST_CONTACT_SLA_SECONDS = 24 * 3600
"""A lead assigned to sales is first contacted within 24 hours (the follow-up SLA of source 000)."""


def lead_facts(stage: Any, owner: Any, *, with_outcome: bool = False) -> Any:
    """Leads whose ``stage`` time falls in the period, credited to ``owner``, with their funnel outcomes."""

    def facts(ctx: MetricContext) -> Select[Any]:
        source: Any = leads.outerjoin(deals, deals.c.id == leads.c.converted_deal_id) if with_outcome else leads
        won: Any = case((deals.c.status == "won", 1), else_=0) if with_outcome else literal(0)
        return (
            select(
                owner.label("person_id"),
                leads.c.id.label("record_id"),
                leads.c.channel,
                leads.c.campaign,
                case((leads.c.sql_at.is_not(None), 1), else_=0).label("reached_sql"),
                case((leads.c.converted_deal_id.is_not(None), 1), else_=0).label("converted"),
                won.label("won"),
                case((leads.c.campaign.is_not(None), leads.c.id), else_=None).label("campaign_lead"),
                case((leads.c.campaign.is_not(None) & leads.c.converted_deal_id.is_not(None), 1), else_=0).label(
                    "campaign_converted"
                ),
                seconds_between(leads.c.created_at, leads.c.first_contact_at).label("to_first_contact"),
                seconds_between(leads.c.created_at, leads.c.assigned_at).label("to_assignment"),
                case(
                    (
                        leads.c.first_contact_at.is_not(None)
                        & (seconds_between(leads.c.assigned_at, leads.c.first_contact_at) <= FIRST_CONTACT_SLA_SECONDS),
                        1,
                    ),
                    else_=0,
                ).label("within_sla"),
            )
            .select_from(source)
            .where(leads.c.is_deleted.is_(False), within(stage, ctx))
        )

    return facts


created = lead_facts(leads.c.created_at, leads.c.marketing_owner_id)
created_for_sales = lead_facts(leads.c.created_at, leads.c.owner_id)
mql_cohort = lead_facts(leads.c.mql_at, leads.c.marketing_owner_id)
sql_cohort = lead_facts(leads.c.sql_at, leads.c.owner_id)
sql_outcomes = lead_facts(leads.c.sql_at, leads.c.owner_id, with_outcome=True)
contacted = lead_facts(leads.c.first_contact_at, leads.c.owner_id)
assigned_marketing = lead_facts(leads.c.assigned_at, leads.c.marketing_owner_id)
assigned_sales = lead_facts(leads.c.assigned_at, leads.c.owner_id)
RATE = Division(scale=6, zero_denominator="missing")


@hookimpl
def kpi_metrics() -> list[Metric]:
    return [
        fact_metric(
            "leads_created",
            "Leads created in the period, credited to the marketing owner.",
            "count",
            Measure(created, "count"),
            evidence_table="leads",
            source=SOURCE,
        ),
        fact_metric(
            "mql",
            "Leads that became marketing-qualified in the period, credited to the marketing owner.",
            "count",
            Measure(mql_cohort, "count"),
            evidence_table="leads",
            source=SOURCE,
        ),
        fact_metric(
            "sql",
            "Leads accepted by sales in the period, credited to the sales owner.",
            "count",
            Measure(sql_cohort, "count"),
            evidence_table="leads",
            source=SOURCE,
        ),
        fact_metric(
            "mql_to_sql_rate",
            "Of the leads that became MQL in the period, the share sales accepted (SQL), by marketing owner.",
            "ratio",
            Measure(mql_cohort, "sum", "reached_sql"),
            Measure(mql_cohort, "count"),
            division=RATE,
            source=SOURCE,
        ),
        fact_metric(
            "lead_conversion_rate",
            "Leads created in the period that converted to an opportunity or deal ÷ leads created, by sales owner.",
            "ratio",
            Measure(created_for_sales, "sum", "converted"),
            Measure(created_for_sales, "count"),
            division=RATE,
            source=SOURCE,
        ),
        fact_metric(
            "win_rate",
            "Leads accepted by sales (SQL) in the period whose deal was won ÷ those SQL (成单率).",
            "ratio",
            Measure(sql_outcomes, "sum", "won"),
            Measure(sql_outcomes, "count"),
            division=RATE,
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "campaign_conversion_rate",
            "Campaign leads created in the period that converted to a deal ÷ campaign leads, by marketing owner.",
            "ratio",
            Measure(created, "sum", "campaign_converted"),
            Measure(created, "count", "campaign_lead"),
            division=RATE,
            source=SOURCE,
        ),
        fact_metric(
            "time_to_first_follow_up",
            "Mean hours from a lead's creation to its first contact, for leads first contacted in the period.",
            "hours",
            Measure(contacted, "sum", "to_first_contact"),
            Measure(contacted, "count", "to_first_contact"),
            division=Division(scale=2, zero_denominator="missing", divisor=3600),
            source=SOURCE,
        ),
        fact_metric(
            "lead_routing_minutes",
            "Mean minutes from a lead's capture to its assignment to sales, for leads assigned in the period.",
            "minutes",
            Measure(assigned_marketing, "sum", "to_assignment"),
            Measure(assigned_marketing, "count", "to_assignment"),
            division=Division(scale=2, zero_denominator="missing", divisor=60),
            source=SOURCE,
        ),
        fact_metric(
            "sla_attainment",
            "Leads assigned in the period and first contacted within "
            "24 hours of assignment ÷ leads assigned, by sales owner.",
            "ratio",
            Measure(assigned_sales, "sum", "within_sla"),
            Measure(assigned_sales, "count"),
            division=RATE,
            source=SOURCE,
        ),
    ]
