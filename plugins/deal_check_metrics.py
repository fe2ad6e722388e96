"""Evidence metrics of the deal checks: the won deals, cancellations and churn behind each finding.

The database does the selecting and aggregating: a check reads the current period's rows (and
small day ranges next to it) and compares them with *aggregated* values of earlier periods
(``won_amount`` over the last days of a month, ``average_discount``, the first-digit counts of
``deal_first_digits``), never a year of rows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    select,
    type_coerce,
    union,
)
from sqlalchemy.orm import aliased

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

__all__ = [
    "cancellation_rows",
    "churn_rows",
    "closed_deal_rows",
    "first_digit_rows",
    "kpi_metrics",
    "rebook_candidate_rows",
    "repeat_customer_rows",
]

deals = schema.deals
refunds = schema.refunds
churn = schema.churn_events

SOURCE = "docs/catalogue.md §6 (anti-gaming)"
MONEY = 4
RATIO = 6


def _raw(column: Any) -> Any:
    return type_coerce(column, BigInteger())


def _won(ctx: MetricContext) -> Any:
    return and_(
        deals.c.status == "won",
        deals.c.is_deleted.is_(False),
        deals.c.currency == ctx.currency,
        within(deals.c.closed_at, ctx),
    )


def _first_cancellation() -> Any:
    """When the deal was first cancelled (a refund of kind cancellation), if ever."""
    return (
        select(func.min(refunds.c.occurred_at))
        .where(refunds.c.deal_id == deals.c.id, refunds.c.kind == "cancellation", refunds.c.is_deleted.is_(False))
        .scalar_subquery()
    )


def won_deal_facts(ctx: MetricContext) -> Select[Any]:
    """The owner's won deals of the period, with the amount and discount as raw units."""
    return select(
        deals.c.owner_id.label("person_id"),
        deals.c.id.label("record_id"),
        deals.c.product_line,
        deals.c.customer_id,
        _raw(deals.c.amount).label("amount"),
        _raw(deals.c.discount).label("discount"),
    ).where(_won(ctx))


def _deal_columns() -> list[Any]:
    return [
        deals.c.owner_id.label("person_id"),
        deals.c.id.label("record_id"),
        deals.c.amount.label("value"),
        deals.c.customer_id,
        deals.c.product_line,
        deals.c.discount,
        deals.c.created_at,
        deals.c.closed_at,
        deals.c.deal_type,
        _first_cancellation().label("cancelled_at"),
    ]


def closed_deal_rows(ctx: MetricContext) -> Select[Any]:
    """Each won deal of the period once, for its owner.

    Customer, product, amount, discount, dates, first cancellation.
    """
    return select(*_deal_columns()).where(_won(ctx)).order_by(deals.c.owner_id, deals.c.closed_at, deals.c.id)


REPEAT_DAYS = 14  # a deal-splitting window is at most 14 days


def repeat_customer_rows(ctx: MetricContext) -> Select[Any]:
    """The period's won deals whose owner won another deal for the same customer closed within 14 days of it.

    Only these can be split orders or duplicates, so the checks never load every deal of the period. Each row
    also carries the customer's pace: ``customer_orders_365``, its won deals in the year before this one, and
    ``customer_first_order``, when the first of them closed.
    """
    other = aliased(deals)
    twin = exists().where(
        other.c.customer_id == deals.c.customer_id,
        other.c.owner_id == deals.c.owner_id,
        other.c.id != deals.c.id,
        other.c.status == "won",
        other.c.is_deleted.is_(False),
        other.c.currency == ctx.currency,
        other.c.closed_at >= ctx.start - timedelta(days=REPEAT_DAYS + 1),
        other.c.closed_at < ctx.end + timedelta(days=REPEAT_DAYS + 1),
        seconds_between(deals.c.closed_at, other.c.closed_at).between(-REPEAT_DAYS * 86_400, REPEAT_DAYS * 86_400),
    )
    return (
        select(*_deal_columns(), *_pace_columns(ctx))
        .where(_won(ctx), deals.c.customer_id.is_not(None), twin)
        .order_by(deals.c.owner_id, deals.c.closed_at, deals.c.id)
    )


CUSTOMER_PACE_DAYS = 365  # a customer's ordering pace is read over the year before a deal


def _customer_orders_before(ctx: MetricContext, column: Any = None) -> Any:
    """How many won deals the deal's customer placed (with anyone) in the 365 days before the deal's close (or, with
    ``column``, that column's minimum: the first of them): its pace."""
    earlier = aliased(deals)
    return (
        select(func.count() if column is None else func.min(getattr(earlier.c, column)))
        .where(
            earlier.c.customer_id == deals.c.customer_id,
            earlier.c.status == "won",
            earlier.c.is_deleted.is_(False),
            earlier.c.closed_at >= ctx.start - timedelta(days=CUSTOMER_PACE_DAYS + 1),
            earlier.c.closed_at < ctx.end,
            seconds_between(earlier.c.closed_at, deals.c.closed_at).between(1, CUSTOMER_PACE_DAYS * 86_400),
        )
        .scalar_subquery()
    )


def _pace_columns(ctx: MetricContext) -> list[Any]:
    return [
        _customer_orders_before(ctx).label("customer_orders_365"),
        _customer_orders_before(ctx, "closed_at").label("customer_first_order"),
    ]


REBOOK_DAYS = 366  # a rebooking window is at most 365 days


def rebook_candidate_rows(ctx: MetricContext) -> Select[Any]:
    """The period's won deals for customers with a cancellation or a churn event in the year before the period's end."""
    since = ctx.start - timedelta(days=REBOOK_DAYS)
    cancelled = aliased(deals)
    lost = union(
        select(cancelled.c.customer_id.label("customer_id"))
        .select_from(refunds.join(cancelled, cancelled.c.id == refunds.c.deal_id))
        .where(
            refunds.c.kind == "cancellation",
            refunds.c.is_deleted.is_(False),
            refunds.c.occurred_at >= since,
            refunds.c.occurred_at < ctx.end,
        ),
        select(churn.c.customer_id.label("customer_id")).where(
            churn.c.is_deleted.is_(False), churn.c.churned_at >= since, churn.c.churned_at < ctx.end
        ),
    ).subquery("lost_customers")
    return (
        select(*_deal_columns(), *_pace_columns(ctx))
        .where(_won(ctx), deals.c.customer_id.in_(select(lost.c.customer_id)))
        .order_by(deals.c.owner_id, deals.c.closed_at, deals.c.id)
    )


def cancellation_facts(ctx: MetricContext) -> Select[Any]:
    return (
        select(deals.c.owner_id.label("person_id"), refunds.c.id.label("record_id"))
        .select_from(refunds.join(deals, deals.c.id == refunds.c.deal_id))
        .where(
            refunds.c.kind == "cancellation",
            refunds.c.is_deleted.is_(False),
            within(refunds.c.occurred_at, ctx),
            deals.c.is_deleted.is_(False),
        )
    )


def cancellation_rows(ctx: MetricContext) -> Select[Any]:
    """Cancellations of the period with the deal they cancel (owner, customer, product, amount, close)."""
    return (
        select(
            deals.c.owner_id.label("person_id"),
            refunds.c.id.label("record_id"),
            refunds.c.amount.label("value"),
            deals.c.id.label("deal_id"),
            deals.c.customer_id,
            deals.c.product_line,
            deals.c.amount.label("deal_amount"),
            deals.c.closed_at,
            refunds.c.occurred_at,
        )
        .select_from(refunds.join(deals, deals.c.id == refunds.c.deal_id))
        .where(
            refunds.c.kind == "cancellation",
            refunds.c.is_deleted.is_(False),
            within(refunds.c.occurred_at, ctx),
            deals.c.is_deleted.is_(False),
        )
        .order_by(deals.c.owner_id, refunds.c.occurred_at, refunds.c.id)
    )


def churn_facts(ctx: MetricContext) -> Select[Any]:
    return (
        select(func.coalesce(deals.c.owner_id, churn.c.owner_id).label("person_id"), churn.c.id.label("record_id"))
        .select_from(churn.outerjoin(deals, deals.c.id == churn.c.deal_id))
        .where(churn.c.is_deleted.is_(False), within(churn.c.churned_at, ctx))
    )


def churn_rows(ctx: MetricContext) -> Select[Any]:
    """Churn events of the period with the deal they name, if any (owner, customer, product, amount, close)."""
    person = func.coalesce(deals.c.owner_id, churn.c.owner_id)
    return (
        select(
            person.label("person_id"),
            churn.c.id.label("record_id"),
            func.coalesce(churn.c.lost_amount, deals.c.amount, 0).label("value"),
            churn.c.deal_id,
            churn.c.customer_id,
            deals.c.product_line,
            deals.c.amount.label("deal_amount"),
            deals.c.status.label("deal_status"),
            deals.c.closed_at,
            churn.c.churned_at,
        )
        .select_from(churn.outerjoin(deals, and_(deals.c.id == churn.c.deal_id, deals.c.is_deleted.is_(False))))
        .where(churn.c.is_deleted.is_(False), within(churn.c.churned_at, ctx))
        .order_by(person, churn.c.churned_at, churn.c.id)
    )


def _first_digit() -> Any:
    """The first significant digit of a positive amount: the first character of its raw units (ten-thousandths)."""
    return cast(func.substr(cast(_raw(deals.c.amount), String), 1, 1), Integer)


def first_digit_rows(ctx: MetricContext) -> Select[Any]:
    """Already aggregated: per owner, one row per first digit (record_id = the digit, value = how many won deals)."""
    digit = _first_digit()
    return (
        select(deals.c.owner_id.label("person_id"), digit.label("record_id"), func.count().label("value"))
        .where(_won(ctx), deals.c.amount > 0)
        .group_by(deals.c.owner_id, digit)
        .order_by(deals.c.owner_id, digit)
    )


@hookimpl
def kpi_metrics() -> list[Metric]:
    won = Measure(won_deal_facts, "count")
    return [
        fact_metric(
            "closed_deal_details",
            "Won deals the person owns that closed in the period; evidence rows "
            "carry customer, product, amount, discount, dates and first cancellation.",
            "count",
            won,
            evidence=closed_deal_rows,
            evidence_table="deals",
            source=SOURCE,
        ),
        fact_metric(
            "repeat_customer_deals",
            "Won deals of the period whose owner won another deal for the same "
            "customer within 14 days of it (split-order and duplicate candidates).",
            "count",
            won,
            evidence=repeat_customer_rows,
            evidence_table="deals",
            source=SOURCE,
        ),
        fact_metric(
            "rebook_candidates",
            "Won deals of the period for customers with a cancellation or "
            "churn event in the year before (cancel-and-rebook candidates).",
            "count",
            won,
            evidence=rebook_candidate_rows,
            evidence_table="deals",
            source=SOURCE,
        ),
        fact_metric(
            "won_amount",
            "Won deal amounts the person owns, closed in the period (not "
            "split between people); evidence: each deal and its amount.",
            "money",
            Measure(won_deal_facts, "sum", "amount", MONEY),
            evidence_table="deals",
            source=SOURCE,
        ),
        fact_metric(
            "average_discount",
            "Mean discount of the won deals the person owns that closed "
            "in the period (deals without a discount count as none).",
            "ratio",
            Measure(won_deal_facts, "sum", "discount", RATIO),
            won,
            division=Division(scale=RATIO, zero_denominator="missing"),
            source=SOURCE,
        ),
        fact_metric(
            "deal_cancellations",
            "Cancellations (refunds of kind cancellation) booked in the period, by the owner of the deal they cancel.",
            "count",
            Measure(cancellation_facts, "count"),
            evidence=cancellation_rows,
            evidence_table="refunds",
            source=SOURCE,
        ),
        fact_metric(
            "deal_churn_events",
            "Customers lost (churn events) in the period, by the owner "
            "of the deal the event names (else the account owner).",
            "count",
            Measure(churn_facts, "count"),
            evidence=churn_rows,
            evidence_table="churn_events",
            source=SOURCE,
        ),
        fact_metric(
            "deal_first_digits",
            "Won deals with a positive amount the person owns, closed in the "
            "period; evidence: counts per first digit (Benford screening).",
            "count",
            Measure(won_deal_facts, "count"),
            evidence=first_digit_rows,
            source=SOURCE,
        ),
    ]
