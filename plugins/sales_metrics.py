"""Sales and activity metrics: bookings, deals, customers, collections and logged activities.

Every metric is declared from facts (``fact_metric``): the rows it counts, selected for the period,
then aggregated per person (or team, region, product line, channel) before anything is joined.
Amounts go through ``MoneyTerms``: in the plan's currency, converted as the plan declares (exactly,
with the original amount, currency and rate in the evidence), and a fact that cannot be converted is
an error naming it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased

from kpi_engine import (
    Division,
    Measure,
    Metric,
    MetricContext,
    MoneyTerms,
    Ratio,
    fact_metric,
    hookimpl,
    schema,
    seconds_between,
    within,
)

__all__ = ["kpi_metrics"]

deals = schema.deals
splits = schema.deal_splits
activities = schema.activities
payments = schema.payments
refunds = schema.refunds
customers = schema.customers

SOURCE = "docs/catalogue.md §1 (sources 002, 003, 004)"


def _raw(column: Any) -> Any:
    return type_coerce(column, BigInteger())


CREDIT = MoneyTerms("credit", shared=True)
"""A won deal's credit to one person: the whole (converted) amount without splits, else amount × share."""
AMOUNT = MoneyTerms("amount")
UPSELL = MoneyTerms("upsell")
NET = MoneyTerms("net")


def won_in_period(ctx: MetricContext, *, currency: bool = True) -> Any:
    """Won deals closed in the period; with ``currency``, only those the context's money reads (see MoneyTerms)."""
    conditions = [deals.c.status == "won", deals.c.is_deleted.is_(False), within(deals.c.closed_at, ctx)]
    if currency:
        conditions.append(AMOUNT.keeps(ctx, deals.c.currency))
    return and_(*conditions)


# --- bookings: credited through deal splits ---------------------------------------------------


def bookings_facts(ctx: MetricContext) -> Select[Any]:
    """Each won deal once per credited person, with the credited amount's exact terms in the plan's currency.

    amount (ten-thousandths) × share (millionths) × rate (10⁻¹⁰) is cut into terms that never overflow
    (``MoneyTerms``), so sums are exact on every backend and nothing is rounded.
    """
    inner = (
        select(
            func.coalesce(splits.c.person_id, deals.c.owner_id).label("person_id"),
            deals.c.id.label("record_id"),
            deals.c.product_line,
            deals.c.lead_source.label("channel"),
            deals.c.closed_at,
            deals.c.amount.label("deal_amount"),
            func.coalesce(splits.c.share, literal(Decimal(1), Ratio())).label("share"),
            func.coalesce(splits.c.split_role, literal("owner", String)).label("split_role"),
            deals.c.remote_id.label("crm_id"),
            deals.c.customer_id,
            deals.c.deal_type,
            deals.c.discount,
            *CREDIT.inputs(
                ctx, deals.c.amount, deals.c.currency, deals.c.closed_at, record=(deals, "deal"), share=splits.c.share
            ),
        )
        .select_from(deals.outerjoin(splits, splits.c.deal_id == deals.c.id))
        .where(won_in_period(ctx))
    )
    return CREDIT.facts(ctx, inner)


_FORMULA_COLUMNS: tuple[str, ...] = ("deal_amount", "share", "split_role", "crm_id", "customer_id", "product_line")
_FORMULA_COLUMNS += ("deal_type", "discount", "channel", "closed_at")
bookings_records = CREDIT.evidence(bookings_facts, order=("closed_at",), extra=_FORMULA_COLUMNS)
"""Each won deal once per credited person, with the credited amount, the deal's own amount, currency and rate;
the columns a formula may read besides: the whole deal's ``deal_amount`` (in the deal's currency), the
``share`` credited and its ``split_role`` (``owner`` without splits), the CRM's id ``crm_id``,
``customer_id``, ``product_line``, ``deal_type``, ``discount``, ``channel`` and ``closed_at``."""


# --- won deals of an owner ------------------------------------------------------------------


def won_facts(ctx: MetricContext) -> Select[Any]:
    upsell = case((deals.c.deal_type == "upsell", deals.c.amount), else_=None)
    inner = select(
        deals.c.owner_id.label("person_id"),
        deals.c.id.label("record_id"),
        deals.c.product_line,
        deals.c.lead_source.label("channel"),
        deals.c.customer_id,
        seconds_between(deals.c.created_at, deals.c.closed_at).label("cycle_seconds"),
        *AMOUNT.inputs(ctx, deals.c.amount, deals.c.currency, deals.c.closed_at, record=(deals, "deal")),
        *UPSELL.inputs(ctx, upsell, deals.c.currency, deals.c.closed_at, record=(deals, "upsell deal")),
    ).where(won_in_period(ctx))
    return UPSELL.facts(ctx, AMOUNT.facts(ctx, inner))


def new_customer_facts(ctx: MetricContext) -> Select[Any]:
    """Each customer's first won deal ever (ties broken by deal id), when it closed in the period."""
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
    return select(
        deals.c.owner_id.label("person_id"),
        deals.c.id.label("record_id"),
        deals.c.product_line,
        deals.c.lead_source.label("channel"),
        deals.c.customer_id,
    ).where(won_in_period(ctx, currency=False), deals.c.customer_id.is_not(None), ~before)


def repeat_facts(ctx: MetricContext) -> Select[Any]:
    """Won deals of the period with their customer, and the customer again when it had bought before."""
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
    return select(
        deals.c.owner_id.label("person_id"),
        deals.c.product_line,
        deals.c.lead_source.label("channel"),
        deals.c.customer_id,
        case((before, deals.c.customer_id), else_=None).label("repeat_customer"),
    ).where(won_in_period(ctx, currency=False), deals.c.customer_id.is_not(None))


def opportunity_facts(ctx: MetricContext) -> Select[Any]:
    return select(
        deals.c.owner_id.label("person_id"),
        deals.c.id.label("record_id"),
        deals.c.product_line,
        deals.c.lead_source.label("channel"),
    ).where(deals.c.is_deleted.is_(False), within(deals.c.created_at, ctx))


# --- money after the deal -------------------------------------------------------------------


def _after_sale_facts(table: Any, at: Any, what: str) -> Any:
    def facts(ctx: MetricContext) -> Select[Any]:
        inner = (
            select(
                func.coalesce(deals.c.owner_id, customers.c.owner_id).label("person_id"),
                table.c.id.label("record_id"),
                deals.c.product_line,
                deals.c.lead_source.label("channel"),
                *AMOUNT.inputs(ctx, table.c.amount, table.c.currency, at, record=(table, what)),
            )
            .select_from(
                table.outerjoin(deals, deals.c.id == table.c.deal_id).outerjoin(
                    customers, customers.c.id == table.c.customer_id
                )
            )
            .where(table.c.is_deleted.is_(False), within(at, ctx), AMOUNT.keeps(ctx, table.c.currency))
        )
        return AMOUNT.facts(ctx, inner)

    return facts


collection_facts = _after_sale_facts(payments, payments.c.received_at, "payment")
refund_facts = _after_sale_facts(refunds, refunds.c.occurred_at, "refund")


def lifetime_facts(ctx: MetricContext) -> Any:
    """Everything a customer bought (won) and got back (refunds) up to the period's end, per account owner."""
    bought = (
        select(
            customers.c.owner_id.label("person_id"),
            deals.c.customer_id.label("buyer"),
            *NET.inputs(ctx, deals.c.amount, deals.c.currency, deals.c.closed_at, record=(deals, "deal")),
        )
        .select_from(deals.join(customers, customers.c.id == deals.c.customer_id))
        .where(
            deals.c.status == "won",
            deals.c.is_deleted.is_(False),
            deals.c.closed_at < ctx.end,
            NET.keeps(ctx, deals.c.currency),
        )
    )
    returned = (
        select(
            customers.c.owner_id.label("person_id"),
            type_coerce(None, BigInteger()).label("buyer"),
            *NET.inputs(
                ctx, -_raw(refunds.c.amount), refunds.c.currency, refunds.c.occurred_at, record=(refunds, "refund")
            ),
        )
        .select_from(refunds.join(customers, customers.c.id == refunds.c.customer_id))
        .where(refunds.c.is_deleted.is_(False), refunds.c.occurred_at < ctx.end, NET.keeps(ctx, refunds.c.currency))
    )
    return NET.facts(ctx, bought.union_all(returned))


# --- activities -----------------------------------------------------------------------------


def activity_facts(*kinds: str, with_customer: bool = False) -> Any:
    def facts(ctx: MetricContext) -> Select[Any]:
        conditions = [activities.c.is_deleted.is_(False), within(activities.c.occurred_at, ctx)]
        if kinds:
            conditions.append(activities.c.kind.in_(kinds) if len(kinds) > 1 else activities.c.kind == kinds[0])
        if with_customer:
            conditions.append(activities.c.customer_id.is_not(None))
        return select(
            activities.c.owner_id.label("person_id"),
            activities.c.id.label("record_id"),
            case((activities.c.deal_id.is_not(None), 1), else_=0).label("linked_to_deal"),
        ).where(*conditions)

    return facts


visit_facts = activity_facts("visit")

MONEY = 4
DURATION = Division(scale=2, zero_denominator="missing")


@hookimpl
def kpi_metrics() -> list[Metric]:
    won = Measure(won_facts, "count")
    return [
        fact_metric(
            "bookings",
            "Won deal amounts closed in the period (销售额), credited through deal splits when a deal has them.",
            "money",
            CREDIT.measure(bookings_facts),
            evidence=bookings_records,
            evidence_table="deals",
            evidence_adds_up=True,  # each deal's credited amount, exactly: they add up to the person's bookings
            source=SOURCE,
        ),
        fact_metric(
            "won_deals",
            "Deals the person owns that were won in the period.",
            "count",
            won,
            evidence_table="deals",
            source=SOURCE,
        ),
        fact_metric(
            "new_customers",
            "Customers whose first won deal ever closed in the period (新客户数), credited to that deal's owner.",
            "count",
            Measure(new_customer_facts, "count_distinct", "customer_id"),
            source=SOURCE,
        ),
        fact_metric(
            "average_selling_price",
            "Won amount ÷ won deals of the owner in the period (客单价, ASP).",
            "money",
            AMOUNT.measure(won_facts),
            won,
            division=Division(scale=MONEY, zero_denominator="missing"),
            source=SOURCE,
        ),
        fact_metric(
            "sales_cycle_days",
            "Mean days from creation to close of the deals won in the period.",
            "days",
            Measure(won_facts, "sum", "cycle_seconds"),
            won,
            division=Division(scale=2, zero_denominator="missing", divisor=86_400),
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "upsell_amount",
            "Won amount of upsell and cross-sell deals to existing customers (增购).",
            "money",
            UPSELL.measure(won_facts),
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "opportunities_created",
            "Deals (opportunities) opened in the period: the funnel's 商机 stage.",
            "count",
            Measure(opportunity_facts, "count"),
            evidence_table="deals",
            source=SOURCE,
        ),
        fact_metric(
            "repurchase_rate",
            "Customers who bought in the period and had bought "
            "before (or twice in it) ÷ customers who bought (复购率).",
            "ratio",
            Measure(repeat_facts, "count_distinct", "repeat_customer"),
            Measure(repeat_facts, "count_distinct", "customer_id"),
            grain="quarter",
            source=SOURCE,
        ),
        fact_metric(
            "collections",
            "Cash received in the period against the person's deals "
            "(回款); customer-level payments go to the account owner.",
            "money",
            AMOUNT.measure(collection_facts),
            evidence=AMOUNT.evidence(collection_facts),
            evidence_table="payments",
            evidence_adds_up=True,
            source=SOURCE,
        ),
        fact_metric(
            "refunds",
            "Refunds, cancellations and credit notes booked in the period against the person's deals.",
            "money",
            AMOUNT.measure(refund_facts),
            evidence=AMOUNT.evidence(refund_facts),
            evidence_table="refunds",
            evidence_adds_up=True,
            source=SOURCE,
        ),
        fact_metric(
            "customer_lifetime_value",
            "Net revenue (won minus refunds) per customer of the account "
            "owner, over each customer's life up to the period end.",
            "money",
            NET.measure(lifetime_facts),
            Measure(lifetime_facts, "count_distinct", "buyer"),
            division=Division(scale=MONEY, zero_denominator="missing"),
            grain="year",
            source=SOURCE,
        ),
        fact_metric(
            "activities",
            "Calls, visits, meetings, e-mails and tasks logged.",
            "count",
            Measure(activity_facts(), "count"),
            evidence_table="activities",
            source=SOURCE,
        ),
        fact_metric(
            "visits",
            "Customer visits logged (拜访量).",
            "count",
            Measure(visit_facts, "count"),
            grain="week",
            evidence_table="activities",
            source=SOURCE,
        ),
        fact_metric(
            "calls",
            "Calls logged (拨打量).",
            "count",
            Measure(activity_facts("call"), "count"),
            grain="week",
            evidence_table="activities",
            source=SOURCE,
        ),
        fact_metric(
            "meetings",
            "Meetings logged.",
            "count",
            Measure(activity_facts("meeting"), "count"),
            grain="week",
            evidence_table="activities",
            source=SOURCE,
        ),
        fact_metric(
            "visits_per_week",
            "Visits logged ÷ weeks in the period (days ÷ 7): the weekly visit rate of source 003.",
            "count",
            Measure(visit_facts, "count"),
            Measure(None, "period_days"),
            division=Division(scale=2, zero_denominator="zero", multiplier=Decimal(7)),
            grain="week",
            source=SOURCE,
        ),
        fact_metric(
            "visit_conversion_rate",
            "Visits linked to an opportunity (a deal) ÷ visits logged (拜访转化率).",
            "ratio",
            Measure(visit_facts, "sum", "linked_to_deal"),
            Measure(visit_facts, "count"),
            source=SOURCE,
        ),
        fact_metric(
            "follow_ups",
            "Calls, visits, meetings and e-mails with a customer (follow-up frequency).",
            "count",
            Measure(activity_facts("call", "visit", "meeting", "email", with_customer=True), "count"),
            evidence_table="activities",
            source=SOURCE,
        ),
    ]
