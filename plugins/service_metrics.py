"""Customer-success metrics: renewals, retention and churn, surveys, tickets and training."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Select, case, exists, func, select, type_coerce

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
    within_days,
)

__all__ = ["kpi_metrics"]

renewals = schema.renewals
customers = schema.customers
churn = schema.churn_events
surveys = schema.survey_responses
tickets = schema.support_tickets
trainings = schema.trainings
activities = schema.activities
SOURCE = "docs/catalogue.md §1 (sources 001, 002, 003, 004)"
RATE = Division(scale=6, zero_denominator="missing")


def renewal_facts(ctx: MetricContext) -> Select[Any]:
    """Contracts due in the period; pending ones count as due and not (yet) renewed."""
    return select(
        renewals.c.owner_id.label("person_id"),
        renewals.c.id.label("record_id"),
        case((renewals.c.outcome == "renewed", 1), else_=0).label("renewed"),
    ).where(renewals.c.is_deleted.is_(False), within_days(renewals.c.due_date, ctx))


def base_facts(ctx: MetricContext) -> Select[Any]:
    """Customers on the books at the period's start (created before it, not churned before it), by account owner."""
    churned_before = exists().where(
        churn.c.customer_id == customers.c.id, churn.c.is_deleted.is_(False), churn.c.churned_at < ctx.start
    )
    churned_now = exists().where(
        churn.c.customer_id == customers.c.id, churn.c.is_deleted.is_(False), within(churn.c.churned_at, ctx)
    )
    return select(
        customers.c.owner_id.label("person_id"),
        customers.c.id.label("record_id"),
        case((churned_now, 1), else_=0).label("churned"),
    ).where(customers.c.is_deleted.is_(False), customers.c.created_at < ctx.start, ~churned_before)


def survey_facts(kind: str) -> Any:
    def facts(ctx: MetricContext) -> Select[Any]:
        return select(
            surveys.c.person_id.label("person_id"),
            surveys.c.id.label("record_id"),
            type_coerce(surveys.c.score, BigInteger()).label("score"),
            case((surveys.c.score >= Decimal(9), 1), (surveys.c.score <= Decimal(6), -1), else_=0).label("nps_points"),
        ).where(surveys.c.is_deleted.is_(False), surveys.c.kind == kind, within(surveys.c.responded_at, ctx))

    return facts


def ticket_facts(ctx: MetricContext) -> Select[Any]:
    return select(
        tickets.c.owner_id.label("person_id"),
        tickets.c.id.label("record_id"),
        seconds_between(tickets.c.opened_at, tickets.c.resolved_at).label("resolution_seconds"),
    ).where(tickets.c.is_deleted.is_(False), within(tickets.c.resolved_at, ctx))


def trained_facts(ctx: MetricContext) -> Select[Any]:
    return select(trainings.c.owner_id.label("person_id"), trainings.c.customer_id).where(
        trainings.c.is_deleted.is_(False), within(trainings.c.occurred_at, ctx)
    )


def served_facts(ctx: MetricContext) -> Any:
    """Customers the person worked with in the period: activities, tickets opened and trainings."""
    touched = select(activities.c.owner_id.label("person_id"), activities.c.customer_id).where(
        activities.c.is_deleted.is_(False), within(activities.c.occurred_at, ctx), activities.c.customer_id.is_not(None)
    )
    supported = select(tickets.c.owner_id.label("person_id"), tickets.c.customer_id).where(
        tickets.c.is_deleted.is_(False), within(tickets.c.opened_at, ctx), tickets.c.customer_id.is_not(None)
    )
    return touched.union_all(supported, trained_facts(ctx))


def _survey_average(name: str, description: str, kind: str) -> Metric:
    facts = survey_facts(kind)
    return fact_metric(
        name,
        description,
        "score",
        Measure(facts, "sum", "score", 6),
        Measure(facts, "count"),
        division=Division(scale=4, zero_denominator="missing"),
        grain="quarter",
        source=SOURCE,
    )


@hookimpl
def kpi_metrics() -> list[Metric]:
    base = Measure(base_facts, "count")
    nps = survey_facts("nps")
    return [
        fact_metric(
            "renewal_rate",
            "Contracts renewed ÷ contracts due in the period (续约率); undecided ones count as not renewed.",
            "ratio",
            Measure(renewal_facts, "sum", "renewed"),
            Measure(renewal_facts, "count"),
            division=RATE,
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "churn_rate",
            "Customers on the books at the period's start who churned "
            "in it ÷ those customers (流失率), by account owner.",
            "ratio",
            Measure(base_facts, "sum", "churned"),
            base,
            division=RATE,
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "retention_rate",
            "Customers on the books at the period's start still active at its end ÷ those customers (留存率).",
            "ratio",
            Measure(base_facts, "sql", sql=lambda f: func.count() - func.coalesce(func.sum(f.c.churned), 0)),
            base,
            division=RATE,
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "nps",
            "Net promoter score of the answers about the person: % promoters (9-10) − % detractors (0-6).",
            "score",
            Measure(nps, "sum", "nps_points"),
            Measure(nps, "count"),
            division=Division(scale=2, zero_denominator="missing", multiplier=Decimal(100)),
            grain="quarter",
            source=SOURCE,
        ),
        _survey_average(
            "satisfaction", "Mean customer satisfaction score (1-5) of the answers about the person.", "satisfaction"
        ),
        _survey_average(
            "complaint_satisfaction",
            "Mean complaint-handling satisfaction score (1-5) of the answers about the person.",
            "complaint_satisfaction",
        ),
        fact_metric(
            "issue_resolution_hours",
            "Mean hours from opening to resolution of the support tickets resolved in the period.",
            "hours",
            Measure(ticket_facts, "sum", "resolution_seconds"),
            Measure(ticket_facts, "count"),
            division=Division(scale=2, zero_denominator="missing", divisor=3600),
            source=SOURCE,
        ),
        fact_metric(
            "issue_resolution_hours_p90",
            "90th percentile (nearest rank) of hours to resolve the tickets resolved in the period.",
            "hours",
            Measure(ticket_facts, "percentile", "resolution_seconds", percentile=90),
            division=Division(scale=2, zero_denominator="missing", divisor=3600),
            source=SOURCE,
        ),
        fact_metric(
            "training_coverage",
            "Customers trained in the period ÷ customers the person "
            "worked with in it (activities, tickets, trainings).",
            "ratio",
            Measure(trained_facts, "count_distinct", "customer_id"),
            Measure(served_facts, "count_distinct", "customer_id"),
            division=RATE,
            source=SOURCE,
        ),
    ]
