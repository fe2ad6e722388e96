"""Instalments: a deal's commission paid in parts, on dates, on milestones or as the customer pays.

The commission rule says what each deal earned (``tiered_commission`` with ``outcome: earned``: its lines
per deal with ``per: transaction``, else its rate on each deal's credited amount); this rule pays it on the
plan's schedule, each part once, in the period it falls due:

- ``due: close`` (the signature), or a date field of the deal (``due: go_live_at``, a milestone), plus
  ``after_days`` (``{share: 20%, due: go_live_at, after_days: 90}``: 90 days after go-live);
- ``due: collections``: each payment received against the deal pays its part of the instalment
  (share × earned × payment ÷ the deal's amount), never more than the instalment in all.

Later instalments stop when the deal is cancelled or churns (``stop_on``: the deal became lost, a churn
event, a cancellation), on or before the day they fall due; the trace names what stopped them. A ``clawback``
whose ``commission_rule`` is this rule takes back only what was paid. Instalments are followed for ``horizon``
periods after the close; one not due by then lapses. The state is the rule's own saved lines (what was paid on
collections so far), replayed, so evaluating a period again pays the same.

Sources: Oracle Customer Connect, "How to pay 50/50 on order/on payment collection?" (half the commission on
the order, the rest as the invoices are collected); SparrowGenie, "Milestone Commission" (40 % at signing,
15 % at kickoff, 25 % at go-live, 20 % at the 90-day review).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select, and_, case, exists, func, or_, select

from kpi_engine import (
    Amount,
    ConfigProblems,
    EvaluationError,
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

from ._support import SavedOutcomes, local_day, percent, periods_back, shown

__all__ = ["Instalment", "Instalments", "kpi_metrics", "kpi_rule_types"]

ZERO = Decimal(0)
Stop = Literal["deal_lost", "churn", "cancellation"]
ALL_STOPS: list[Stop] = ["deal_lost", "churn", "cancellation"]
DATE_FIELDS = ("closed_at", "go_live_at")

deals = schema.deals
stages = schema.deal_stage_history
churn = schema.churn_events
refunds = schema.refunds
payments = schema.payments


# --- what the schedule reads ------------------------------------------------------------------------


def instalment_deal_rows(ctx: MetricContext) -> Select[Any]:
    """Evidence: the deals closed in the period that were won (and may since have been lost), with the dates a
    schedule reads: close, go-live, when it became lost, churned or was cancelled (the first of each)."""
    lost_at = (
        select(func.max(stages.c.entered_at))
        .where(stages.c.deal_id == deals.c.id, stages.c.status == "lost")
        .scalar_subquery()
    )
    churned_at = (
        select(func.min(churn.c.churned_at))
        .where(churn.c.deal_id == deals.c.id, churn.c.is_deleted.is_(False))
        .scalar_subquery()
    )
    cancelled_at = (
        select(func.min(refunds.c.occurred_at))
        .where(refunds.c.deal_id == deals.c.id, refunds.c.kind == "cancellation", refunds.c.is_deleted.is_(False))
        .scalar_subquery()
    )
    was_won = exists().where(stages.c.deal_id == deals.c.id, stages.c.status == "won")
    no_history = ~exists().where(stages.c.deal_id == deals.c.id)
    return (
        select(
            deals.c.owner_id.label("person_id"),
            deals.c.id.label("record_id"),
            deals.c.amount.label("value"),
            deals.c.remote_id.label("crm_id"),
            deals.c.status,
            deals.c.closed_at,
            deals.c.go_live_at,
            case((deals.c.status == "lost", func.coalesce(lost_at, deals.c.modified_at)), else_=None).label("lost_at"),
            churned_at.label("churned_at"),
            cancelled_at.label("cancelled_at"),
        )
        .where(
            deals.c.is_deleted.is_(False),
            deals.c.closed_at >= ctx.start,
            deals.c.closed_at < ctx.end,
            deals.c.currency == ctx.currency,
            or_(deals.c.status == "won", and_(deals.c.status == "lost", or_(was_won, no_history))),
        )
        .order_by(deals.c.owner_id, deals.c.closed_at, deals.c.id)
    )


def _count_of(rows: Any) -> Any:
    def query(ctx: MetricContext) -> Select[Any]:
        found = rows(ctx).subquery()
        return select(found.c.person_id, func.count().label("value")).group_by(found.c.person_id)

    return query


def deal_collection_rows(ctx: MetricContext) -> Select[Any]:
    """Evidence: payments received in the period against a deal, credited to the deal's owner."""
    return (
        select(
            deals.c.owner_id.label("person_id"),
            payments.c.id.label("record_id"),
            payments.c.amount.label("value"),
            payments.c.deal_id,
            payments.c.received_at,
        )
        .join(deals, deals.c.id == payments.c.deal_id)
        .where(
            payments.c.is_deleted.is_(False),
            payments.c.received_at >= ctx.start,
            payments.c.received_at < ctx.end,
            payments.c.currency == ctx.currency,
        )
        .order_by(deals.c.owner_id, payments.c.received_at, payments.c.id)
    )


# --- the settings ---------------------------------------------------------------------------------------


class Instalment(BaseModel):
    """One part of the commission and when it falls due."""

    model_config = ConfigDict(extra="forbid")

    share: Amount
    due: str = "close"  # close (the signature), a date field of the deal (go_live_at), or collections
    after_days: int = Field(0, ge=0, le=3660)
    label: str | None = None  # how the trace names it (default: from ``on`` and ``after_days``)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.due == "collections":
            return "on collection"
        what = "signature" if self.due in ("close", "closed_at") else self.due.removesuffix("_at").replace("_", " ")
        return f"{self.after_days} days after {what}" if self.after_days else f"at {what}"


class Instalments(BaseModel):
    """Settings of an ``instalments`` rule."""

    model_config = ConfigDict(extra="forbid")

    commission_rule: str  # the rule that says what each deal earned (outcome: earned)
    schedule: list[Instalment] = Field(min_length=1, max_length=12)
    measure: str = "bookings"  # what a per-period commission measured (its rate × each deal's credited amount)
    horizon: int = Field(12, ge=0, le=60)  # periods after the close within which instalments are followed
    stop_on: list[Stop] = Field(default_factory=lambda: list(ALL_STOPS))
    deals_metric: str = "instalment_deals"
    collections_metric: str = "deal_collections"

    @model_validator(mode="after")
    def _consistent(self) -> Instalments:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        total = sum((part.share for part in self.schedule), ZERO)
        if total != 1:
            listed = ", ".join(f"{percent(p.share)} {p.name}" for p in self.schedule)
            problems.append((("schedule",), f"the instalments add up to {percent(total)}, not 100% ({listed})"))
        for index, part in enumerate(self.schedule):
            if not ZERO < part.share <= 1:
                problems.append(
                    (("schedule", index, "share"), f"a share is above 0% and at most 100%, not {part.share}")
                )
            if part.due not in ("close", "collections", *DATE_FIELDS):
                problems.append(
                    (
                        ("schedule", index, "on"),
                        f"an instalment falls due at close, on collections or on a date field of the deal "
                        f"({', '.join(DATE_FIELDS)}), not {part.due!r}",
                    )
                )
            if part.due == "collections" and part.after_days:
                problems.append(
                    (("schedule", index, "after_days"), "an instalment on collections is paid as they come")
                )
        if problems:
            raise ConfigProblems(problems, settings=self)
        return self


# --- the schedule -----------------------------------------------------------------------------------------


def _day(value: Any, time_zone: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        from datetime import datetime

        value = datetime.fromisoformat(value)
    return local_day(value, time_zone)


def _lines(result: RuleResult) -> list[Mapping[str, Any]]:
    return [line for line in result.trace.get("lines") or [] if isinstance(line, Mapping)]


def _earned(
    ctx: RuleContext, config: Instalments, results: Sequence[RuleResult], period: Period, person: str
) -> dict[str, Decimal]:
    """What each deal earned in ``period`` by the commission rule: deal id → amount."""
    if not results:
        return {}
    for result in results:
        if result.kind == "payout":
            raise EvaluationError(
                f"rule {config.commission_rule!r} pays its commission itself, so the instalments of rule "
                f"{ctx.rule_id!r} would pay it a second time.",
                hint=f"set outcome: earned on rule {config.commission_rule!r}: it then says what each deal earned",
            )
    lines = [line for result in results for line in _lines(result)]
    per_deal: dict[str, Decimal] = {}
    for line in lines:
        if line.get("record_id") is not None:
            key = str(line["record_id"])
            per_deal[key] = per_deal.get(key, ZERO) + Decimal(str(line["amount"]))
    if per_deal:
        return per_deal
    calculated = sum((Decimal(str(line["amount"])) for line in lines), ZERO)
    measured = Decimal(str((results[0].trace.get("inputs") or {}).get(config.measure) or 0))
    if not calculated or not measured:
        return {}
    rows = (
        ctx.record_details(config.measure) if period == ctx.period else ctx.record_details_in(config.measure, period)
    ).get(person, ())
    return {str(row["record_id"]): Decimal(str(row["value"])) * calculated / measured for row in rows}


def _stop(config: Instalments, deal: Mapping[str, Any], time_zone: str) -> tuple[date | None, str]:
    """The first day the deal stopped its later instalments, and why (``None`` when it has not)."""
    found: list[tuple[date, str]] = []
    for event, column, words in (
        ("deal_lost", "lost_at", "became lost (cancelled)"),
        ("churn", "churned_at", "churned"),
        ("cancellation", "cancelled_at", "was cancelled"),
    ):
        day = _day(deal.get(column), time_zone)
        if event in config.stop_on and day is not None:
            found.append((day, f"the deal {words} on {day.isoformat()}"))
    return min(found) if found else (None, "")


def _paid_on_collections(
    ctx: RuleContext, saved: SavedOutcomes, person: str, deal: str, part: int, since: Period
) -> Decimal:
    """What this rule paid on collections for one deal and instalment in the periods since the close."""
    paid = ZERO
    for period in periods_back(ctx.period, 240):
        if period < since:
            break
        for result in saved.of(ctx.rule_id, period, person):
            for line in _lines(result):
                if str(line.get("deal_id")) == deal and line.get("instalment") == part + 1:
                    paid += Decimal(str(line["amount"]))
    return paid


def evaluate(ctx: RuleContext, config: Instalments) -> list[RuleResult]:
    saved = SavedOutcomes(ctx)
    collected: dict[str, list[Mapping[str, Any]]] = {}
    if any(part.due == "collections" for part in config.schedule):
        for rows in ctx.record_details(config.collections_metric).values():
            for row in rows:
                collected.setdefault(str(row["deal_id"]), []).append(row)
    lines_of: dict[str, list[dict[str, Any]]] = {}
    stopped_of: dict[str, list[dict[str, Any]]] = {}
    closes = [ctx.period, *periods_back(ctx.period, config.horizon)]
    for close in closes:
        current = close == ctx.period
        results = ctx.outcomes(config.commission_rule) if current else ctx.history(config.commission_rule, close)
        by_person: dict[str, list[RuleResult]] = {}
        for result in results:
            by_person.setdefault(result.person_id, []).append(result)
        if not any(p in by_person for p in ctx.people):
            continue
        facts = (
            ctx.record_details(config.deals_metric) if current else ctx.record_details_in(config.deals_metric, close)
        )
        deal_rows = {str(row["record_id"]): row for rows in facts.values() for row in rows}
        for person in ctx.people:
            for deal_id, earned in _earned(ctx, config, by_person.get(person, []), close, person).items():
                if earned <= ZERO or deal_id not in deal_rows:
                    continue
                deal = deal_rows[deal_id]
                _schedule(ctx, config, saved, person, close, deal_id, deal, earned, collected, lines_of, stopped_of)
    results_out: list[RuleResult] = []
    for person in ctx.people:
        lines, stopped = lines_of.get(person, []), stopped_of.get(person, [])
        if not lines and not stopped:
            continue
        total = ctx.round_total(sum((Decimal(line["amount"]) for line in lines), ZERO))
        sentences = [line["sentence"] for line in lines] + [s["sentence"] for s in stopped]
        trace: dict[str, Any] = {
            "rule_type": "instalments",
            "inputs": {"commission_rule": config.commission_rule, "instalments_due": len(lines)},
            "lines": [{k: v for k, v in line.items() if k != "sentence"} for line in lines],
            "stopped": [{k: v for k, v in s.items() if k != "sentence"} for s in stopped],
            "records": [{"table": "deals", "ids": sorted({int(line["deal_id"]) for line in [*lines, *stopped]})}],
            "total": money_text(total),
            "explanation": [*sentences, f"Paid this period: {shown(total)} {ctx.currency}."],
        }
        if not stopped:
            del trace["stopped"]
        results_out.append(RuleResult(person_id=person, amount=total, trace=trace))
    return results_out


def _schedule(
    ctx: RuleContext,
    config: Instalments,
    saved: SavedOutcomes,
    person: str,
    close: Period,
    deal_id: str,
    deal: Mapping[str, Any],
    earned: Decimal,
    collected: Mapping[str, list[Mapping[str, Any]]],
    lines_of: dict[str, list[dict[str, Any]]],
    stopped_of: dict[str, list[dict[str, Any]]],
) -> None:
    """The instalments of one deal that fall due in the period: paid, or stopped by a cancellation."""
    tz = ctx.time_zone
    name = deal.get("crm_id") or f"#{deal_id}"
    stop_day, stop_why = _stop(config, deal, tz)
    amount_of_deal = Decimal(str(deal["value"]))
    for index, part in enumerate(config.schedule):
        base = {
            "deal_id": int(deal_id),
            "crm_id": deal.get("crm_id"),
            "instalment": index + 1,
            "of": len(config.schedule),
            "due_on": part.name,
            "share": plain(part.share),
            "earned": money_text(earned),
            "closed_in": close.label,
        }
        if part.due == "collections":
            paid_before = _paid_on_collections(ctx, saved, person, deal_id, index, close)
            due = earned * part.share
            for payment in collected.get(deal_id, ()):
                day = _day(payment["received_at"], tz)
                assert day is not None
                if stop_day is not None and stop_day <= day:
                    stopped_of.setdefault(person, []).append(
                        base
                        | {
                            "due": day.isoformat(),
                            "payment_id": payment["record_id"],
                            "reason": stop_why,
                            "sentence": f"{name}: the part of instalment {index + 1} on the payment of "
                            f"{day.isoformat()} is not paid: {stop_why}.",
                        }
                    )
                    continue
                value = Decimal(str(payment["value"]))
                part_amount = due * value / amount_of_deal if amount_of_deal else ZERO
                part_amount = ctx.round_line(max(min(part_amount, due - paid_before), ZERO))
                paid_before += part_amount
                lines_of.setdefault(person, []).append(
                    base
                    | {
                        "due": day.isoformat(),
                        "payment_id": payment["record_id"],
                        "collected": money_text(value),
                        "basis": money_text(earned),
                        "rate": plain(part.share),
                        "amount": money_text(part_amount),
                        "sentence": f"{name} earned {shown(earned)}: instalment {index + 1} of "
                        f"{len(config.schedule)} ({percent(part.share)} {part.name}) pays {shown(part_amount)} on "
                        f"the {shown(value)} collected on {day.isoformat()} ({shown(value)} of the deal's "
                        f"{shown(amount_of_deal)}).",
                    }
                )
            continue
        start = _day(deal.get("closed_at") if part.due in ("close", "closed_at") else deal.get(part.due), tz)
        if start is None:
            continue  # the milestone has not happened (yet): nothing falls due
        due_day = start + timedelta(days=part.after_days)
        if not ctx.period.start <= due_day < ctx.period.end:
            continue
        if stop_day is not None and stop_day <= due_day:
            stopped_of.setdefault(person, []).append(
                base
                | {
                    "due": due_day.isoformat(),
                    "reason": stop_why,
                    "sentence": f"{name}: instalment {index + 1} ({percent(part.share)} {part.name}, due "
                    f"{due_day.isoformat()}) is not paid: {stop_why}.",
                }
            )
            continue
        amount = ctx.round_line(earned * part.share)
        lines_of.setdefault(person, []).append(
            base
            | {
                "due": due_day.isoformat(),
                "basis": money_text(earned),
                "rate": plain(part.share),
                "amount": money_text(amount),
                "sentence": f"{name} earned {shown(earned)} (closed in {close.label}): instalment {index + 1} of "
                f"{len(config.schedule)} ({percent(part.share)} {part.name}, due {due_day.isoformat()}) pays "
                f"{shown(amount)}.",
            }
        )


@hookimpl
def kpi_metrics() -> list[Metric]:
    return [
        Metric(
            name="instalment_deals",
            description=(
                "Deals closed in the period that were won (some since lost), with the dates an instalment "
                "schedule reads: close, go-live, lost, churned, cancelled."
            ),
            unit="count",
            query=_count_of(instalment_deal_rows),
            evidence=instalment_deal_rows,
            evidence_table="deals",
        ),
        Metric(
            name="deal_collections",
            description="Payments received in the period against a deal, credited to the deal's owner.",
            unit="count",
            query=_count_of(deal_collection_rows),
            evidence=deal_collection_rows,
            evidence_table="payments",
        ),
    ]


@hookimpl
def kpi_rule_types() -> list[RuleType[Instalments]]:
    return [
        RuleType(
            name="instalments",
            component="commission",
            description=(
                "Pays what each deal earned in instalments: at signature, on a milestone date, after N days or "
                "on collections; later instalments stop when the deal is cancelled or churns."
            ),
            config_model=Instalments,
            metrics=lambda cfg: {cfg.deals_metric, cfg.collections_metric, cfg.measure},
            rules=lambda cfg: {cfg.commission_rule},
            records=lambda cfg: {cfg.deals_metric},
            evaluate=evaluate,
        )
    ]
