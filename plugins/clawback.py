"""Clawback: refunds, cancellations and early churn reverse the commission a deal earned.

An event (a row of ``refunds`` of kind refund / cancellation / credit_note, or of ``churn_events``)
linked to a won deal and happening within ``within_days`` days after the deal closed takes back the
commission at the rate it was *paid*, as a negative payout line in the period being evaluated
(the current open period; a closed period never changes). Source 003 ties complaints, cancellations
and churn caused by over-promising to the commission (docs/catalogue.md §6, result tracing).

What the deal earned is read from the commission rule's saved outcome of the period the deal
closed in (``ctx.history(commission_rule, period_of_close)``):

- when that outcome has a line per deal (``per: transaction``), the deal's own lines;
- otherwise the period's *effective rate* paid (total ÷ ``measure``) times the deal's amount;
- a deal that closed in the period being evaluated uses this run's commission and measure.

The share recovered is the event's amount ÷ the deal's amount (at most all of it); a churn event
without a lost amount takes back the whole commission. Only the paid part is recovered: the lines
of one deal never add up to more than it earned, counting this rule's saved lines of earlier
periods, and an event already clawed back is never clawed back again. A deal whose commission
cannot be found (never evaluated, nothing paid) recovers nothing and the trace says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, String, func, literal, select, union_all

from kpi_engine import (
    Metric,
    MetricContext,
    Period,
    RuleContext,
    RuleResult,
    RuleType,
    hookimpl,
    money_text,
    plain,
    schema,
)

from ._support import SavedOutcomes, local_day, period_containing, periods_back, shown

__all__ = ["Clawback", "clawback_events", "kpi_metrics", "kpi_rule_types"]

ZERO = Decimal(0)
EventKind = Literal["refund", "cancellation", "credit_note", "churn"]

deals = schema.deals
refunds = schema.refunds
churn = schema.churn_events


def _refund_rows(ctx: MetricContext) -> Select[Any]:
    return (
        select(
            deals.c.owner_id.label("person_id"),
            refunds.c.id.label("record_id"),
            refunds.c.amount.label("value"),
            literal("refunds", String).label("event_table"),
            refunds.c.kind.label("kind"),
            refunds.c.occurred_at.label("occurred_at"),
            deals.c.id.label("deal_id"),
            deals.c.amount.label("deal_amount"),
            deals.c.closed_at.label("closed_at"),
        )
        .join(deals, deals.c.id == refunds.c.deal_id)
        .where(
            refunds.c.is_deleted.is_(False),
            refunds.c.occurred_at >= ctx.start,
            refunds.c.occurred_at < ctx.end,
            refunds.c.currency == ctx.currency,
            deals.c.status == "won",
            deals.c.is_deleted.is_(False),
            deals.c.currency == ctx.currency,
        )
    )


def _churn_rows(ctx: MetricContext) -> Select[Any]:
    return (
        select(
            deals.c.owner_id.label("person_id"),
            churn.c.id.label("record_id"),
            churn.c.lost_amount.label("value"),
            literal("churn_events", String).label("event_table"),
            literal("churn", String).label("kind"),
            churn.c.churned_at.label("occurred_at"),
            deals.c.id.label("deal_id"),
            deals.c.amount.label("deal_amount"),
            deals.c.closed_at.label("closed_at"),
        )
        .join(deals, deals.c.id == churn.c.deal_id)
        .where(
            churn.c.is_deleted.is_(False),
            churn.c.churned_at >= ctx.start,
            churn.c.churned_at < ctx.end,
            deals.c.status == "won",
            deals.c.is_deleted.is_(False),
            deals.c.currency == ctx.currency,
        )
    )


def clawback_event_rows(ctx: MetricContext) -> Select[Any]:
    """Evidence: every refund, cancellation, credit note and churn event of the period on a won deal."""
    both = union_all(_refund_rows(ctx), _churn_rows(ctx)).subquery()
    return select(*both.c).order_by(both.c.person_id, both.c.occurred_at, both.c.event_table, both.c.record_id)


def clawback_events(ctx: MetricContext) -> Select[Any]:
    """Per deal owner, the number of such events in the period."""
    both = union_all(_refund_rows(ctx), _churn_rows(ctx)).subquery()
    return select(both.c.person_id, func.count().label("value")).group_by(both.c.person_id)


class Clawback(BaseModel):
    """Settings of a ``clawback`` rule."""

    model_config = ConfigDict(extra="forbid")

    commission_rule: str  # the rule of this plan that paid the commission being reversed
    within_days: int = Field(ge=0, le=3660)  # events later than this many days after the close are not clawed back
    events: list[EventKind] = Field(default=["refund", "cancellation", "credit_note", "churn"], min_length=1)
    measure: str = "bookings"  # what the commission rule measured (for its effective rate)
    events_metric: str = "clawback_events"


def _moment(value: Any) -> datetime | date:
    if isinstance(value, (datetime, date)):
        return value
    return datetime.fromisoformat(str(value))


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _deal_commission(
    ctx: RuleContext,
    config: Clawback,
    saved_outcomes: SavedOutcomes,
    person: str,
    deal_id: Any,
    deal_amount: Decimal,
    period: Period,
) -> tuple[Decimal | None, str]:
    """What ``deal_id`` earned when it was paid, and how that was found."""
    if period == ctx.period:
        paid = ctx.results.get(config.commission_rule, {}).get(person)
        measured = ctx.values.get(config.measure, {}).get(person)
        if paid is None or not measured:
            return None, f"no {config.commission_rule} result in this period"
        return (
            deal_amount * paid / measured,
            f"this period's effective rate {plain((paid / measured).quantize(Decimal('0.000001')))}",
        )
    saved = saved_outcomes.of(config.commission_rule, period, person)
    if not saved:
        return None, f"no {config.commission_rule} outcome saved for {period.label}"
    outcome = saved[0]
    lines = outcome.trace.get("lines") or []
    own = [Decimal(str(line["amount"])) for line in lines if str(line.get("record_id")) == str(deal_id)]
    if own:
        return sum(own, ZERO), f"the deal's own lines of {config.commission_rule} in {period.label}"
    measured = _amount((outcome.trace.get("inputs") or {}).get(config.measure))
    if outcome.amount is None or not measured:
        return None, f"{config.commission_rule} in {period.label} paid nothing on {config.measure}"
    rate = outcome.amount / measured
    return deal_amount * rate, f"the effective rate paid in {period.label}: {plain(outcome.amount)} ÷ {plain(measured)}"


def _earlier_lines(
    ctx: RuleContext, saved: SavedOutcomes, person: str, since: Period
) -> list[tuple[str, Mapping[str, Any]]]:
    """This rule's saved lines for ``person`` in the periods from ``since`` up to the one before this."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    if since >= ctx.period:
        return found
    for period in periods_back(ctx.period, 240):
        if period < since:
            break
        for result in saved.of(ctx.rule_id, period, person):
            found.extend((period.label, line) for line in result.trace.get("lines") or [])
    return found


def _explain(
    lines: Sequence[Mapping[str, Any]], skipped: Sequence[Mapping[str, Any]], total: Decimal, currency: str
) -> str:
    parts = []
    for line in lines:
        parts.append(
            f"{line['kind']} of {shown(Decimal(line['event_amount'])) if line['event_amount'] else 'the whole deal'} "
            f"on deal {line['deal_id']} ({line['days_after_close']} days after its close) takes back "
            f"{shown(-Decimal(line['amount']))} of the {shown(Decimal(line['commission_paid']))} it earned"
            + (
                f" (already recovered {shown(Decimal(line['already_recovered']))})"
                if Decimal(line["already_recovered"])
                else ""
            )
        )
    text = (
        "; ".join(parts) + f": {shown(total)} {currency}."
        if parts
        else f"Nothing to claw back: {shown(total)} {currency}."
    )
    if skipped:
        text += " Not clawed back: " + "; ".join(f"{s['event']} ({s['reason']})" for s in skipped) + "."
    return text


def evaluate(ctx: RuleContext, config: Clawback) -> list[RuleResult]:
    results: list[RuleResult] = []
    details = ctx.record_details(config.events_metric)
    saved = SavedOutcomes(ctx)
    for person in ctx.people:
        rows = details.get(person, ())
        if not rows:
            continue
        lines: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        recovered_now: dict[str, Decimal] = {}
        earlier_cache: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for row in rows:
            event = f"{row['event_table']}:{row['record_id']}"
            kind = str(row["kind"])
            if kind not in config.events:
                skipped.append({"event": event, "reason": f"{kind} is not clawed back by this plan"})
                continue
            closed_day = local_day(_moment(row["closed_at"]), ctx.time_zone)
            event_day = local_day(_moment(row["occurred_at"]), ctx.time_zone)
            days = (event_day - closed_day).days
            if days > config.within_days or days < 0:
                skipped.append({"event": event, "reason": f"{days} days after the close, outside {config.within_days}"})
                continue
            deal_id = row["deal_id"]
            deal_amount = _amount(row["deal_amount"]) or ZERO
            close_period = period_containing(closed_day, ctx.period.grain if ctx.period.grain != "range" else "month")
            commission, source = _deal_commission(ctx, config, saved, person, deal_id, deal_amount, close_period)
            if commission is None or commission <= ZERO:
                skipped.append({"event": event, "reason": source})
                continue
            key = str(deal_id)
            if key not in earlier_cache:
                earlier_cache[key] = [
                    (p, line)
                    for p, line in _earlier_lines(ctx, saved, person, close_period)
                    if str(line.get("deal_id")) == key
                ]
            earlier = earlier_cache[key]
            if any(line.get("event") == event for _, line in earlier):
                period_label = next(p for p, line in earlier if line.get("event") == event)
                skipped.append({"event": event, "reason": f"already clawed back in {period_label}"})
                continue
            already = -sum((Decimal(str(line["amount"])) for _, line in earlier), ZERO) + recovered_now.get(key, ZERO)
            event_amount = _amount(row["value"])
            share = (
                Decimal(1) if event_amount is None or not deal_amount else min(event_amount / deal_amount, Decimal(1))
            )
            recover = max(min(commission * share, commission - already), ZERO)
            recover = ctx.round_line(recover)
            recovered_now[key] = recovered_now.get(key, ZERO) + recover
            lines.append(
                {
                    "event": event,
                    "kind": kind,
                    "deal_id": deal_id,
                    "record_id": row["record_id"],
                    "closed_at": closed_day.isoformat(),
                    "occurred_at": event_day.isoformat(),
                    "days_after_close": days,
                    "event_amount": None if event_amount is None else money_text(event_amount),
                    "deal_amount": money_text(deal_amount),
                    "commission_paid": money_text(commission),
                    "commission_from": source,
                    "share": plain(share.quantize(Decimal("0.000001"))),
                    "already_recovered": money_text(already),
                    "amount": money_text(-recover),
                }
            )
        total = ctx.round_total(-sum(recovered_now.values(), ZERO))
        trace: dict[str, Any] = {
            "rule_type": "clawback",
            "inputs": {
                "commission_rule": config.commission_rule,
                "within_days": config.within_days,
                "events": len(rows),
            },
            "lines": lines,
            "not_clawed_back": skipped,
            "records": {
                "table": "refunds, churn_events",
                "ids": [f"{r['event_table']}:{r['record_id']}" for r in rows],
            },
            "total": money_text(total),
            "explanation": _explain(lines, skipped, total, ctx.currency),
        }
        results.append(RuleResult(person_id=person, amount=total, trace=trace, ledger_kind="clawback"))
    return results


@hookimpl
def kpi_metrics() -> list[Metric]:
    return [
        Metric(
            name="clawback_events",
            description=(
                "Refunds, cancellations, credit notes and churn events of the period on won deals, by deal owner."
            ),
            unit="count",
            query=clawback_events,
            evidence=clawback_event_rows,
            evidence_table="refunds",
        )
    ]


@hookimpl
def kpi_rule_types() -> list[RuleType[Clawback]]:
    return [
        RuleType(
            name="clawback",
            component="clawback",
            description="Reverses paid commission for refunds, cancellations and churn within N days after the close.",
            config_model=Clawback,
            metrics=lambda cfg: {cfg.events_metric, cfg.measure},
            rules=lambda cfg: {cfg.commission_rule},
            evaluate=evaluate,
        )
    ]
