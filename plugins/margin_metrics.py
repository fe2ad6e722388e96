"""Margin metrics: what won deals cost and what they leave (amount − cost), credited like bookings.

A deal's cost is ``deals.cost`` (migration 0011): the cost of the goods or of delivering what was sold, in the
deal's currency, imported from a column ``cost`` or synced from the CRM where it holds one. Margin follows
OCA's ``commission`` module for Odoo ("Margin (Amount - Cost)": the percentage is computed from the profit
only), credited through deal splits exactly as bookings are (amount × share, nothing rounded).

A won deal without a cost has no margin: ``gross_margin`` and ``margin_rate`` leave it out and
``deals_without_cost`` counts it (a plan may gate on it), and a rule that reads the margin's records (a
commission on margin, per period or per transaction) stops with an error naming the deal, so that nobody is
paid on a margin nobody knows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Select, String, and_, case, func, literal, select, type_coerce

from kpi_engine import (
    Division,
    Measure,
    Metric,
    MetricContext,
    Ratio,
    exact_terms,
    fact_metric,
    hookimpl,
    schema,
    within,
)

__all__ = ["kpi_metrics"]

deals = schema.deals
splits = schema.deal_splits

SHARE_UNITS = 1_000_000  # a Ratio is stored in millionths
MONEY = 4
SOURCE = "OCA commission (Odoo), commission/models/commission_mixin.py: margin = amount − cost; docs/rule-types.md"


def _raw(column: Any) -> Any:
    return type_coerce(column, BigInteger())


def _won(ctx: MetricContext) -> Any:
    return and_(
        deals.c.status == "won",
        deals.c.is_deleted.is_(False),
        within(deals.c.closed_at, ctx),
        deals.c.currency == ctx.currency,
    )


def _credited(amount: Any) -> tuple[Any, Any, Any]:
    """``amount`` (a Money column or expression, in ten-thousandths) credited to one person: whole without
    splits, else amount × share split into whole ten-thousandths and a remainder in 10^-10 (exact)."""
    product = amount * _raw(splits.c.share)
    whole = case((splits.c.id.is_(None), amount), else_=None)
    units = case((splits.c.id.is_not(None), product // SHARE_UNITS), else_=None)
    rest = case((splits.c.id.is_not(None), product % SHARE_UNITS), else_=None)
    return whole, units, rest


def _margin_parts() -> tuple[Any, Any, Any]:
    return _credited(_raw(deals.c.amount) - _raw(deals.c.cost))


def margin_facts(ctx: MetricContext) -> Select[Any]:
    """Each won deal with a cost, once per credited person: its margin (and amount) credited by share."""
    whole, units, rest = _margin_parts()
    a_whole, a_units, a_rest = _credited(_raw(deals.c.amount))
    c_whole, c_units, c_rest = _credited(_raw(deals.c.cost))
    return (
        select(
            func.coalesce(splits.c.person_id, deals.c.owner_id).label("person_id"),
            deals.c.id.label("record_id"),
            deals.c.product_line,
            deals.c.lead_source.label("channel"),
            whole.label("whole"),
            units.label("units"),
            rest.label("rest"),
            a_whole.label("amount_whole"),
            a_units.label("amount_units"),
            a_rest.label("amount_rest"),
            c_whole.label("cost_whole"),
            c_units.label("cost_units"),
            c_rest.label("cost_rest"),
        )
        .select_from(deals.outerjoin(splits, splits.c.deal_id == deals.c.id))
        .where(_won(ctx), deals.c.cost.is_not(None))
    )


def margin_records(ctx: MetricContext) -> Select[Any]:
    """Each won deal once per credited person with its credited margin (no value when the deal has no cost),
    and the columns a formula may read: ``deal_amount``, ``cost``, ``share``, ``split_role``, ``crm_id``."""
    whole, units, rest = _margin_parts()
    value = exact_terms((whole, 4), (units, 4), (rest, 10))
    return (
        select(
            func.coalesce(splits.c.person_id, deals.c.owner_id).label("person_id"),
            deals.c.id.label("record_id"),
            case((deals.c.cost.is_not(None), value), else_=None).label("value"),
            deals.c.amount.label("deal_amount"),
            deals.c.cost,
            func.coalesce(splits.c.share, literal(Decimal(1), Ratio())).label("share"),
            func.coalesce(splits.c.split_role, literal("owner", String)).label("split_role"),
            deals.c.remote_id.label("crm_id"),
            deals.c.product_line,
            deals.c.closed_at,
        )
        .select_from(deals.outerjoin(splits, splits.c.deal_id == deals.c.id))
        .where(_won(ctx))
        .order_by("person_id", deals.c.closed_at, deals.c.id)
    )


def uncosted_facts(ctx: MetricContext) -> Select[Any]:
    return select(deals.c.owner_id.label("person_id"), deals.c.id.label("record_id")).where(
        _won(ctx), deals.c.cost.is_(None)
    )


@hookimpl
def kpi_metrics() -> list[Metric]:
    margin = Measure(margin_facts, "sum", ("whole", "units", "rest"), (MONEY, MONEY, 10))
    return [
        fact_metric(
            "gross_margin",
            "Won amount minus cost (毛利) of the deals won in the period that have a cost, credited through deal "
            "splits; a deal sold below cost counts negative.",
            "money",
            margin,
            evidence=margin_records,
            evidence_table="deals",
            source=SOURCE,
        ),
        fact_metric(
            "deal_cost",
            "Cost of the deals won in the period (deals.cost), credited through deal splits.",
            "money",
            Measure(margin_facts, "sum", ("cost_whole", "cost_units", "cost_rest"), (MONEY, MONEY, 10)),
            source=SOURCE,
        ),
        fact_metric(
            "margin_rate",
            "Gross margin ÷ won amount of the deals won in the period that have a cost (毛利率).",
            "ratio",
            margin,
            Measure(margin_facts, "sum", ("amount_whole", "amount_units", "amount_rest"), (MONEY, MONEY, 10)),
            division=Division(scale=6, zero_denominator="missing"),
            source=SOURCE,
        ),
        fact_metric(
            "deals_without_cost",
            "Deals the person owns that were won in the period with no cost recorded (their margin is unknown).",
            "count",
            Measure(uncosted_facts, "count"),
            evidence_table="deals",
            source=SOURCE,
        ),
    ]
