"""Clawback: refunds, cancellations, deals lost after they were won, and early churn reverse what a deal earned.

An event linked to a deal that earned commission, within ``within_days`` days after the deal closed, takes
back the commission as a negative payout line in the period being evaluated (the current open period; a
closed period never changes). The events are what CRMs record (source 003 ties complaints, cancellations and
churn caused by over-promising to the commission, docs/catalogue.md §6):

- a row of ``refunds`` (kind refund, cancellation or credit note) or of ``churn_events``;
- a won deal that became lost (cancelled): its stage history's change to a lost stage, or, for a deal without
  stage history, its status lost with the time the CRM last modified it (kind ``deal_lost``).

What the deal earned is read from the commission rule's saved outcome of the period the deal closed in
(``ctx.history(commission_rule, period_of_close)``), and only if the deal is among the records that outcome
paid on: the deal's own lines when the commission pays per transaction, otherwise the deal's amount at the
period's rate. ``rate: calculated`` (the default) is the rate the tiers gave (their lines ÷ the measure),
before a floor, cap, multiplier or payout threshold; ``rate: effective`` is what was paid ÷ the measure. A deal
that closed in the period being evaluated uses this run's commission ÷ measure. A commission rule that pays
by instalments (``instalments``) is read through its own lines: only what was paid so far is taken back.

The share recovered is the event's amount ÷ the deal's amount (at most all of it); a churn event without a
lost amount, and a deal lost, take back the whole commission. Only the paid part is recovered: the lines of
one deal never add up to more than it earned, counting this rule's saved lines of earlier periods, and an
event already clawed back is never clawed back again. A deal whose commission cannot be found (never
evaluated, nothing paid) recovers nothing and the trace says why; a lost deal that never earned anything is
not an event at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, String, and_, exists, func, literal, or_, select, union_all

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
EventKind = Literal["refund", "cancellation", "credit_note", "churn", "deal_lost"]
ALL_EVENTS: list[EventKind] = ["refund", "cancellation", "credit_note", "churn", "deal_lost"]

deals = schema.deals
refunds = schema.refunds
churn = schema.churn_events
stages = schema.deal_stage_history

EARNED = ("won", "lost")  # a deal that earned commission is won, or was won and became lost (cancelled)


def _refund_rows(ctx: MetricContext) -> Select[Any]:
    return (
        select(
            deals.c.owner_id.label("person_id"),
            refunds.c.id.label("record_id"),
            refunds.c.amount.label("value"),
            refunds.c.amount.label("event_amount"),
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
            deals.c.status.in_(EARNED),
            deals.c.is_deleted.is_(False),
            deals.c.currency == ctx.currency,
        )
    )


def _churn_rows(ctx: MetricContext) -> Select[Any]:
    return (
        select(
            deals.c.owner_id.label("person_id"),
            churn.c.id.label("record_id"),
            # a churn without a lost amount takes back the whole commission: its value is the deal's amount
            func.coalesce(churn.c.lost_amount, deals.c.amount).label("value"),
            churn.c.lost_amount.label("event_amount"),
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
            deals.c.status.in_(EARNED),
            deals.c.is_deleted.is_(False),
            deals.c.currency == ctx.currency,
        )
    )


def _lost_rows(ctx: MetricContext) -> Select[Any]:
    """Won deals that became lost in the period: the stage history's change to a lost stage (the last one),
    or for a deal without stage history its status lost and the time the CRM last modified it."""
    lost_at = (
        select(func.max(stages.c.entered_at))
        .where(stages.c.deal_id == deals.c.id, stages.c.status == "lost")
        .scalar_subquery()
    )
    moment = func.coalesce(lost_at, deals.c.modified_at)
    was_won = exists().where(stages.c.deal_id == deals.c.id, stages.c.status == "won")
    no_history = ~exists().where(stages.c.deal_id == deals.c.id)
    return select(
        deals.c.owner_id.label("person_id"),
        deals.c.id.label("record_id"),
        deals.c.amount.label("value"),
        literal(None, deals.c.amount.type).label("event_amount"),
        literal("deals", String).label("event_table"),
        literal("deal_lost", String).label("kind"),
        moment.label("occurred_at"),
        deals.c.id.label("deal_id"),
        deals.c.amount.label("deal_amount"),
        deals.c.closed_at.label("closed_at"),
    ).where(
        deals.c.status == "lost",
        deals.c.is_deleted.is_(False),
        deals.c.closed_at.is_not(None),
        deals.c.currency == ctx.currency,
        or_(was_won, no_history),
        and_(moment >= ctx.start, moment < ctx.end),
    )


def _all_rows(ctx: MetricContext) -> Any:
    return union_all(_refund_rows(ctx), _churn_rows(ctx), _lost_rows(ctx)).subquery()


def clawback_event_rows(ctx: MetricContext) -> Select[Any]:
    """Evidence: every refund, cancellation, credit note, churn event and lost deal of the period on a deal that
    was won."""
    every = _all_rows(ctx)
    return select(*every.c).order_by(every.c.person_id, every.c.occurred_at, every.c.event_table, every.c.record_id)


def clawback_events(ctx: MetricContext) -> Select[Any]:
    """Per deal owner, the number of such events in the period."""
    every = _all_rows(ctx)
    return select(every.c.person_id, func.count().label("value")).group_by(every.c.person_id)


class Clawback(BaseModel):
    """Settings of a ``clawback`` rule."""

    model_config = ConfigDict(extra="forbid")

    commission_rule: str  # the rule of this plan that paid the commission being reversed
    within_days: int = Field(ge=0, le=3660)  # events later than this many days after the close are not clawed back
    events: list[EventKind] = Field(default_factory=lambda: list(ALL_EVENTS), min_length=1)
    measure: str = "bookings"  # what the commission rule measured (for its rate)
    rate: Literal["calculated", "effective"] = "calculated"  # the tiers' rate, or what was paid ÷ the measure
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
        measured_on = {str(rid) for rid, _ in ctx.records(config.measure).get(person, ())}
        if measured_on and str(deal_id) not in measured_on:
            return None, f"deal {deal_id} is not among the records of {config.measure} this period"
        return (
            deal_amount * paid / measured,
            f"this period's effective rate {plain((paid / measured).quantize(Decimal('0.000001')))}",
        )
    saved = saved_outcomes.of(config.commission_rule, period, person)
    if not saved:
        return None, f"no {config.commission_rule} outcome saved for {period.label}"
    if any(str(line.get("deal_id")) == str(deal_id) and "instalment" in line for s in saved for line in _lines(s)):
        return _instalments_paid(ctx, config, saved_outcomes, person, deal_id, period)
    outcome = saved[0]
    paid_on = _record_ids(outcome.trace.get("records"))
    if paid_on is not None and str(deal_id) not in paid_on:
        return None, f"deal {deal_id} is not among the records {config.commission_rule} paid on in {period.label}"
    lines = _lines(outcome)
    calculated = sum((Decimal(str(line["amount"])) for line in lines), ZERO)
    own = [Decimal(str(line["amount"])) for line in lines if str(line.get("record_id")) == str(deal_id)]
    if own:
        earned = sum(own, ZERO)
        if config.rate == "effective" and calculated and outcome.amount is not None:
            return (
                earned * outcome.amount / calculated,
                f"the deal's own lines of {config.commission_rule} in {period.label} at the rate paid "
                f"({plain(outcome.amount)} paid of {plain(calculated)} calculated)",
            )
        return earned, f"the deal's own lines of {config.commission_rule} in {period.label}"
    measured = _amount((outcome.trace.get("inputs") or {}).get(config.measure))
    if not measured:
        return None, f"{config.commission_rule} in {period.label} measured no {config.measure}"
    if config.rate == "effective":
        if outcome.amount is None:
            return None, f"{config.commission_rule} in {period.label} paid nothing on {config.measure}"
        return (
            deal_amount * outcome.amount / measured,
            f"the effective rate paid in {period.label}: {plain(outcome.amount)} ÷ {plain(measured)}",
        )
    if not lines:
        return None, f"{config.commission_rule} in {period.label} calculated nothing on {config.measure}"
    return (
        deal_amount * calculated / measured,
        f"the rate calculated in {period.label}: {plain(calculated)} ÷ {plain(measured)} "
        f"(paid {plain(outcome.amount) if outcome.amount is not None else 'nothing'})",
    )


def _lines(outcome: RuleResult) -> list[Mapping[str, Any]]:
    return [line for line in outcome.trace.get("lines") or [] if isinstance(line, Mapping)]


def _record_ids(records: Any) -> set[str] | None:
    """The ids of the records an outcome names (``None`` when it names none)."""
    refs = records if isinstance(records, list) else [records] if isinstance(records, Mapping) else []
    ids = {str(i) for ref in refs if isinstance(ref, Mapping) for i in ref.get("ids") or []}
    return ids or None


def _instalments_paid(
    ctx: RuleContext, config: Clawback, saved: SavedOutcomes, person: str, deal_id: Any, since: Period
) -> tuple[Decimal | None, str]:
    """What an instalments rule paid for a deal from its close up to this period (only that is taken back)."""
    paid = ZERO
    periods = [since] + [p for p in reversed(periods_back(ctx.period, 240)) if since < p]
    for period in periods:
        for outcome in saved.of(config.commission_rule, period, person):
            paid += sum(
                (Decimal(str(line["amount"])) for line in _lines(outcome) if str(line.get("deal_id")) == str(deal_id)),
                ZERO,
            )
    if not paid:
        return None, f"no instalment of {config.commission_rule} paid for deal {deal_id} yet"
    return paid, f"the instalments of {config.commission_rule} paid for the deal since {since.label}"


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


def _event_words(line: Mapping[str, Any]) -> str:
    if line["kind"] == "deal_lost":
        return f"deal {line['deal_id']} became lost (cancelled) {line['days_after_close']} days after its close"
    what = shown(Decimal(line["event_amount"])) if line["event_amount"] else "the whole deal"
    kind = str(line["kind"]).replace("_", " ")
    return f"{kind} of {what} on deal {line['deal_id']} ({line['days_after_close']} days after its close)"


def _explain(
    lines: Sequence[Mapping[str, Any]], skipped: Sequence[Mapping[str, Any]], total: Decimal, currency: str
) -> str:
    parts = []
    for line in lines:
        parts.append(
            f"{_event_words(line)} takes back {shown(-Decimal(line['amount']))} of the "
            f"{shown(Decimal(line['commission_paid']))} it earned"
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
        skipped: list[dict[str, Any]] = []
        recovered_now: dict[str, Decimal] = {}
        earlier_cache: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for row in rows:
            event = f"{row['event_table']}:{row['record_id']}"
            kind = str(row["kind"])
            if kind not in config.events:
                if kind != "deal_lost":  # lost deals are events only for plans that claw them back
                    reason = f"{kind.replace('_', ' ')} is not clawed back by this plan"
                    skipped.append({"event": event, "record_id": row["record_id"], "reason": reason})
                continue
            closed_day = local_day(_moment(row["closed_at"]), ctx.time_zone)
            event_day = local_day(_moment(row["occurred_at"]), ctx.time_zone)
            days = (event_day - closed_day).days
            if days > config.within_days or days < 0:
                reason = f"{days} days after the close, outside {config.within_days}"
                skipped.append({"event": event, "record_id": row["record_id"], "reason": reason})
                continue
            deal_id = row["deal_id"]
            deal_amount = _amount(row["deal_amount"]) or ZERO
            close_period = period_containing(closed_day, ctx.period.grain if ctx.period.grain != "range" else "month")
            commission, source = _deal_commission(ctx, config, saved, person, deal_id, deal_amount, close_period)
            if commission is None or commission <= ZERO:
                if kind != "deal_lost":  # a lost deal that earned nothing is no event at all
                    skipped.append({"event": event, "record_id": row["record_id"], "reason": source})
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
                reason = f"already clawed back in {period_label}"
                skipped.append({"event": event, "record_id": row["record_id"], "reason": reason})
                continue
            already = -sum((Decimal(str(line["amount"])) for _, line in earlier), ZERO) + recovered_now.get(key, ZERO)
            event_amount = _amount(row.get("event_amount", row["value"]))
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
        if not lines and not skipped:
            continue
        total = ctx.round_total(-sum(recovered_now.values(), ZERO))
        trace: dict[str, Any] = {
            "rule_type": "clawback",
            "inputs": {
                "commission_rule": config.commission_rule,
                "within_days": config.within_days,
                "rate": config.rate,
                "events": len(lines) + len(skipped),
            },
            "lines": lines,
            "not_clawed_back": skipped,
            "records": [
                {"table": table, "ids": ids}
                for table in ("deals", "refunds", "churn_events")
                if (
                    ids := [
                        line["record_id"]
                        for line in [*lines, *skipped]
                        if str(line["event"]).split(":", 1)[0] == table and "record_id" in line
                    ]
                )
            ],
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
                "Refunds, cancellations, credit notes, churn events and deals lost after they were won, "
                "in the period, by deal owner."
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
            records=lambda cfg: {cfg.events_metric},
            reverses=lambda cfg: set(cfg.events),
            evaluate=evaluate,
        )
    ]
