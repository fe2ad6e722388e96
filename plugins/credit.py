"""Credit splits and manager overrides along the organisation as of the period.

``credit_split``: each won deal of the period is credited to the people of its ``deal_splits``
rows by their share (a deal without splits credits its owner in full). Every share is rounded to
``places`` decimals and the lines of a deal add up *exactly* to the deal's amount times its total
share, rounded the same way: the cents left over by rounding go where the plan declares
(``remainder``):

- ``largest_remainder`` (default): one smallest unit at a time to the lines that lost the most to
  rounding (ties: the larger share, then the person id);
- ``largest_share``: all of it to the person with the largest share (ties: the person id);
- ``owner``: all of it to the deal's owner when credited, else as ``largest_share``.

Without ``rate`` the outcome is the credited amount (kind ``credit``, for later rules to read
through ``ctx.results``); with ``rate`` it is a payout of rate × credit.

``manager_override``: a manager earns a share of what the people below them earned (another
rule's results) or booked (a metric), by level: ``levels: [5%, 2%]`` pays the direct manager 5 %
and the manager above 2 %. The hierarchy is read as of the period's last day (``as_of:
period_end``), or as of each record's own date (``as_of: record``, with a metric whose evidence
rows carry the date): someone who moved team mid-period then credits the old manager for the deals
before the move and the new one after.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select, String, and_, exists, func, literal, select, union_all

from kpi_engine import (
    Amount,
    Metric,
    MetricContext,
    Ratio,
    RuleContext,
    RuleResult,
    RuleType,
    hookimpl,
    money_text,
    plain,
    quantize,
    schema,
)

from ._support import local_day, percent, shown

__all__ = ["CreditSplit", "ManagerOverride", "kpi_metrics", "kpi_rule_types", "managers_above", "split_amount"]

ZERO = Decimal(0)
Remainder = Literal["largest_remainder", "largest_share", "owner"]

deals = schema.deals
splits = schema.deal_splits


# --- the deal_credit metric -------------------------------------------------------------


def _won(ctx: MetricContext) -> Any:
    return and_(
        deals.c.status == "won",
        deals.c.is_deleted.is_(False),
        deals.c.closed_at >= ctx.start,
        deals.c.closed_at < ctx.end,
        deals.c.currency == ctx.currency,
    )


def deal_credit_rows(ctx: MetricContext) -> Select[Any]:
    """Evidence: one row per credited person and won deal, with the deal's amount, the share and the owner."""
    split_rows = (
        select(
            splits.c.person_id.label("person_id"),
            deals.c.id.label("record_id"),
            deals.c.amount.label("value"),
            splits.c.share.label("share"),
            splits.c.split_role.label("split_role"),
            deals.c.owner_id.label("owner_id"),
            deals.c.closed_at.label("closed_at"),
        )
        .join(deals, deals.c.id == splits.c.deal_id)
        .where(_won(ctx))
    )
    owner_rows = select(
        deals.c.owner_id.label("person_id"),
        deals.c.id.label("record_id"),
        deals.c.amount.label("value"),
        literal(Decimal(1), Ratio()).label("share"),
        literal("owner", String).label("split_role"),
        deals.c.owner_id.label("owner_id"),
        deals.c.closed_at.label("closed_at"),
    ).where(_won(ctx), deals.c.owner_id.is_not(None), ~exists().where(splits.c.deal_id == deals.c.id))
    both = union_all(split_rows, owner_rows).subquery()
    return select(*both.c).order_by(both.c.person_id, both.c.closed_at, both.c.record_id)


def credited_deals(ctx: MetricContext) -> Select[Any]:
    """Per person, the number of won deals of the period they hold credit for."""
    both = deal_credit_rows(ctx).subquery()
    return select(both.c.person_id, func.count().label("value")).group_by(both.c.person_id)


# --- exact splits ----------------------------------------------------------------------


def split_amount(
    amount: Decimal,
    shares: Sequence[tuple[str, Decimal]],
    *,
    places: int = 2,
    mode: str = "half_up",
    remainder: Remainder = "largest_remainder",
    owner: str | None = None,
) -> dict[str, Decimal]:
    """Credit ``amount`` by ``shares`` (person, share); the lines add up exactly to
    ``amount × Σshares`` rounded to ``places``, the rounding difference placed by ``remainder``."""
    if not shares:
        return {}
    unit = Decimal(1).scaleb(-places)
    exact = {person: amount * share for person, share in shares}
    total = quantize(sum(exact.values(), ZERO), places, mode)
    if remainder == "largest_remainder":
        lines = {person: quantize(value, places, "floor") for person, value in exact.items()}
        left = int((total - sum(lines.values(), ZERO)) / unit)
        share_of = dict(shares)
        step = unit if left >= 0 else -unit
        order = sorted(
            exact, key=lambda p: (-(exact[p] - lines[p]) if left >= 0 else (exact[p] - lines[p]), -share_of[p], p)
        )
        for index in range(abs(left)):
            lines[order[index % len(order)]] += step
        return lines
    lines = {person: quantize(value, places, mode) for person, value in exact.items()}
    difference = total - sum(lines.values(), ZERO)
    if difference:
        largest = min(shares, key=lambda ps: (-ps[1], ps[0]))[0]
        gets = owner if remainder == "owner" and owner in lines else largest
        lines[gets] += difference
    return lines


class CreditSplit(BaseModel):
    """Settings of a ``credit_split`` rule."""

    model_config = ConfigDict(extra="forbid")

    metric: str = "deal_credit"
    places: int = Field(2, ge=0, le=4)  # credit is rounded to these decimals, per deal and person
    rounding: Literal["half_up", "half_even", "down", "up", "floor", "ceiling"] = "half_up"
    remainder: Remainder = "largest_remainder"
    rate: Amount | None = None  # pay this rate on the credit; without it the outcome is the credit itself


def evaluate_credit(ctx: RuleContext, config: CreditSplit) -> list[RuleResult]:
    by_deal: dict[Any, dict[str, Any]] = {}
    for person, rows in ctx.record_details(config.metric).items():
        for row in rows:
            deal = by_deal.setdefault(
                row["record_id"], {"amount": Decimal(str(row["value"])), "owner": row.get("owner_id"), "shares": []}
            )
            deal["shares"].append((person, Decimal(str(row["share"])), row.get("split_role")))
    lines_of: dict[str, list[dict[str, Any]]] = {}
    for deal_id, deal in sorted(by_deal.items(), key=lambda kv: str(kv[0])):
        shares = [(person, share) for person, share, _ in deal["shares"]]
        credited = split_amount(
            deal["amount"],
            shares,
            places=config.places,
            mode=config.rounding,
            remainder=config.remainder,
            owner=deal["owner"],
        )
        total_share = sum((share for _, share in shares), ZERO)
        for person, share, role in deal["shares"]:
            line: dict[str, Any] = {
                "record_id": deal_id,
                "deal_amount": money_text(deal["amount"]),
                "share": plain(share),
                "split_role": role,
                "credit": money_text(credited[person]),
            }
            if total_share != 1:
                line["note"] = f"the deal's shares add up to {percent(total_share)}"
            if config.rate is not None:
                line |= {
                    "rate": plain(config.rate),
                    "amount": money_text(ctx.round_line(credited[person] * config.rate)),
                }
            lines_of.setdefault(person, []).append(line)
    results: list[RuleResult] = []
    for person in ctx.people:
        lines = lines_of.get(person, [])
        credit = sum((Decimal(line["credit"]) for line in lines), ZERO)
        if config.rate is None:
            amount, kind = credit, "credit"
        else:
            amount, kind = ctx.round_total(sum((Decimal(line["amount"]) for line in lines), ZERO)), "payout"
        deals_text = ", ".join(
            f"deal {line['record_id']} {percent(Decimal(line['share']))} of "
            f"{shown(Decimal(line['deal_amount']))} = {shown(Decimal(line['credit']))}"
            for line in lines
        )
        explanation = f"Credit {shown(credit)} {ctx.currency}" + (
            f" from {deals_text}" if lines else ": no credited deals"
        )
        if config.rate is not None:
            explanation += f"; at {percent(config.rate)} pays {shown(amount)}"
        trace = {
            "rule_type": "credit_split",
            "remainder": config.remainder,
            "inputs": {"credit": money_text(credit)},
            "lines": lines,
            "records": {"table": "deals", "ids": [line["record_id"] for line in lines]},
            "total": money_text(amount),
            "explanation": explanation + ".",
        }
        results.append(RuleResult(person_id=person, amount=amount, trace=trace, kind=kind))
    return results


# --- manager overrides -----------------------------------------------------------------


def managers_above(ctx: RuleContext, person: str, day: date) -> list[str]:
    """Direct manager first, then theirs: from ``ctx.org`` as of ``day``, else the managers in ``people_info``."""
    if ctx.org is not None:
        return list(ctx.org.managers_above(person, day))
    chain: list[str] = []
    current = ctx.people_info.get(person)
    while (
        current is not None and current.manager_id and current.manager_id not in chain and current.manager_id != person
    ):
        chain.append(current.manager_id)
        current = ctx.people_info.get(current.manager_id)
    return chain


class ManagerOverride(BaseModel):
    """Settings of a ``manager_override`` rule."""

    model_config = ConfigDict(extra="forbid")

    source_rule: str | None = None  # a share of this rule's results of the people below
    source_metric: str | None = None  # or of this metric of the people below
    levels: list[Amount] = Field(min_length=1, max_length=10)  # direct manager first
    # same: every level's rate on the whole source; remaining: each level's rate on what the levels below it
    # left (the direct manager takes theirs first, the next level its share of the rest, and so on).
    base: Literal["same", "remaining"] = "same"
    as_of: Literal["period_end", "record"] = "period_end"
    date_field: str = "closed_at"  # the evidence column dating a record, for ``as_of: record``

    @model_validator(mode="after")
    def _one_source(self) -> ManagerOverride:
        if (self.source_rule is None) == (self.source_metric is None):
            raise ValueError("give exactly one of source_rule (a rule's results) or source_metric (a metric)")
        if self.as_of == "record" and self.source_metric is None:
            raise ValueError("as_of: record needs source_metric, whose evidence rows carry each record's date")
        return self


def _as_date(value: Any, time_zone: str) -> date:
    if isinstance(value, (datetime, date)):
        return local_day(value, time_zone)
    return local_day(datetime.fromisoformat(str(value)), time_zone)


def evaluate_override(ctx: RuleContext, config: ManagerOverride) -> list[RuleResult]:
    last_day = ctx.period.end - timedelta(days=1)
    contributions: list[tuple[str, Decimal, date, Any]] = []  # (person below, amount, as of, record)
    if config.as_of == "record":
        assert config.source_metric is not None
        for person, rows in sorted(ctx.record_details(config.source_metric).items()):
            for row in rows:
                when = (
                    _as_date(row[config.date_field], ctx.time_zone)
                    if row.get(config.date_field) is not None
                    else last_day
                )
                contributions.append((person, Decimal(str(row["value"])), when, row.get("record_id")))
    elif config.source_rule is not None:
        for person, amount in sorted(ctx.results.get(config.source_rule, {}).items()):
            contributions.append((person, amount, last_day, None))
    else:
        assert config.source_metric is not None
        for person, amount in sorted(ctx.values.get(config.source_metric, {}).items()):
            contributions.append((person, amount, last_day, None))
    source = config.source_rule or config.source_metric
    in_scope = set(ctx.people)
    lines_of: dict[str, list[dict[str, Any]]] = {}
    for person, amount, when, record in contributions:
        if not amount:
            continue
        basis = amount
        for level, manager in enumerate(managers_above(ctx, person, when)[: len(config.levels)], start=1):
            rate = config.levels[level - 1]
            taken = ctx.round_line(basis * rate)
            this_basis = basis
            if config.base == "remaining":  # the next level's base is what this one left
                basis -= taken
            if manager not in in_scope:
                continue
            line: dict[str, Any] = {
                "from": person,
                "level": level,
                "as_of": when.isoformat(),
                "basis": money_text(this_basis),
                "rate": plain(rate),
                "amount": money_text(taken),
            }
            if config.base == "remaining" and level > 1:
                line["base"] = f"{money_text(amount)} less what the {level - 1} level(s) below took"
            if record is not None:
                line["record_id"] = record
            lines_of.setdefault(manager, []).append(line)
    results: list[RuleResult] = []
    for manager in ctx.people:
        lines = lines_of.get(manager)
        if not lines:
            continue
        total = ctx.round_total(sum((Decimal(line["amount"]) for line in lines), ZERO))
        per_person: dict[tuple[str, int, str], Decimal] = {}
        for line in lines:
            key = (line["from"], line["level"], line["rate"])
            per_person[key] = per_person.get(key, ZERO) + Decimal(line["basis"])
        of_what = "what the levels below left of " if config.base == "remaining" else ""
        parts = ", ".join(
            f"{percent(Decimal(rate))} of {of_what if level > 1 else ''}{who}'s {shown(basis)} (level {level})"
            for (who, level, rate), basis in per_person.items()
        )
        trace: dict[str, Any] = {
            "rule_type": "manager_override",
            "source": source,
            "base": config.base,
            "as_of": config.as_of,
            "levels": [plain(rate) for rate in config.levels],
            "inputs": {"people_below": sorted({line["from"] for line in lines})},
            "lines": lines,
            "total": money_text(total),
            "explanation": f"Override on {source}: {parts} = {shown(total)} {ctx.currency}.",
        }
        if config.as_of == "record":
            trace["records"] = {"table": "deals", "ids": [line["record_id"] for line in lines if "record_id" in line]}
        results.append(RuleResult(person_id=manager, amount=total, trace=trace))
    return results


@hookimpl
def kpi_metrics() -> list[Metric]:
    return [
        Metric(
            name="deal_credit",
            description=(
                "Won deals of the period each person holds credit for (deal_splits; the owner in full without splits)."
            ),
            unit="count",
            query=credited_deals,
            evidence=deal_credit_rows,
            evidence_table="deals",
        )
    ]


@hookimpl
def kpi_rule_types() -> list[RuleType[Any]]:
    return [
        RuleType(
            name="credit_split",
            description=(
                "Credits each won deal to its split holders by share; "
                "lines add up exactly to the deal, remainder as declared."
            ),
            config_model=CreditSplit,
            metrics=lambda cfg: {cfg.metric},
            evaluate=evaluate_credit,
        ),
        RuleType(
            name="manager_override",
            component="override",
            description=(
                "Pays managers a share of the results or bookings of the people below them, by level, as of the period."
            ),
            config_model=ManagerOverride,
            metrics=lambda cfg: {cfg.source_metric} if cfg.source_metric else set(),
            rules=lambda cfg: {cfg.source_rule} if cfg.source_rule else set(),
            evaluate=evaluate_override,
        ),
    ]
