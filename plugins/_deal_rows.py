"""Reading deal evidence rows for the deal checks: days in the plan's time zone, amounts, norms, team-mates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from kpi_engine import Period, RuleContext, parse_period

from ._support import local_day, periods_back

__all__ = [
    "Deal",
    "chance_at_pace",
    "day_range",
    "deals_of",
    "pct",
    "pooled_share",
    "teammates",
    "to_day",
    "to_decimal",
]

ZERO = Decimal(0)


def to_day(value: Any, time_zone: str) -> date | None:
    """The local calendar day of a stored time stamp (a bare ``YYYY-MM-DD`` is taken as already local)."""
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return local_day(value, time_zone)
    text = str(value)
    if len(text) == 10:
        return date.fromisoformat(text)
    return local_day(datetime.fromisoformat(text), time_zone)


def to_decimal(value: Any) -> Decimal | None:
    return None if value is None else value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class Deal:
    """A won deal as the checks read it (``closed_deal_details`` evidence row); slotted, a period can hold many."""

    id: int
    owner: str
    customer: Any
    product: str | None
    amount: Decimal
    discount: Decimal | None
    created: date | None
    closed: date
    cancelled: date | None
    deal_type: str | None = None
    customer_orders: int | None = None  # the customer's won deals in the year before this one, when the row has it
    customer_first_order: date | None = None  # and the day the first of them closed

    def customer_interval(self, min_orders: int) -> Decimal | None:
        """The customer's usual days between orders before this deal, from at least ``min_orders`` orders over 30 days
        or more; ``None`` when its pace is unknown."""
        if not self.customer_orders or self.customer_orders < min_orders or self.customer_first_order is None:
            return None
        span = (self.closed - self.customer_first_order).days
        return Decimal(span) / self.customer_orders if span >= 30 else None


def deals_of(
    rows_by_person: Mapping[str, Sequence[Mapping[str, Any]]], time_zone: str, people: Iterable[str] | None = None
) -> dict[str, list[Deal]]:
    """The rows as ``Deal`` s, per owner (all owners, or only ``people``), ordered by close day and id."""
    wanted = None if people is None else set(people)
    found: dict[str, list[Deal]] = {}
    for person, rows in rows_by_person.items():
        if wanted is not None and person not in wanted:
            continue
        deals = []
        for row in rows:
            closed = to_day(row.get("closed_at"), time_zone)
            if closed is None:
                continue
            deals.append(
                Deal(
                    id=int(row["record_id"]),
                    owner=person,
                    customer=row.get("customer_id"),
                    product=row.get("product_line"),
                    amount=to_decimal(row.get("value")) or ZERO,
                    discount=to_decimal(row.get("discount")),
                    created=to_day(row.get("created_at"), time_zone),
                    closed=closed,
                    cancelled=to_day(row.get("cancelled_at"), time_zone),
                    deal_type=row.get("deal_type"),
                    customer_orders=None if row.get("customer_orders_365") is None else int(row["customer_orders_365"]),
                    customer_first_order=to_day(row.get("customer_first_order"), time_zone),
                )
            )
        deals.sort(key=lambda d: (d.closed, d.id))
        found[person] = deals
    return found


def day_range(first: date, last: date) -> Period:
    """The days ``first`` to ``last`` (both included) as one period."""
    return parse_period(first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}")


def pooled_share(ctx: RuleContext, metric: str, person: str, lookback: int, part: Any) -> tuple[Decimal, Decimal, int]:
    """Over the ``lookback`` periods before this one: the person's ``metric`` in ``part(period)``, in the whole
    periods, and how many of them had any.

    Read from aggregated values (one grouped query per period and part), never from earlier rows.
    """
    inside = whole = ZERO
    periods = 0
    for earlier in periods_back(ctx.period, lookback):
        total = ctx.values_in(metric, earlier).get(person)
        if not total:
            continue
        whole += total
        periods += 1
        inside += ctx.values_in(metric, part(earlier)).get(person, ZERO)
    return inside, whole, periods


def teammates(ctx: RuleContext, person: str) -> list[str]:
    """The person's team as of the period's last day, without them.

    Everyone in scope when the organisation is unknown.
    """
    day = ctx.period.end - timedelta(days=1)
    if ctx.org is not None:
        team = ctx.org.team_of(person, day)
        if team is not None:
            return [m for m in ctx.org.members(team, day) if m != person]
    return [p for p in ctx.people if p != person]


def pct(value: Decimal) -> str:
    """A share for a sentence, to 0.1 %: ``0.2612`` as ``26.1%``."""
    return f"{(value * 100).quantize(Decimal('0.1'))}%"


def chance_at_pace(interval: Decimal, days: int, more: int) -> Decimal:
    """How likely a customer ordering every ``interval`` days on average, at random (Poisson), places ``more``
    further orders within ``days`` of one: the chance that a group of its orders is just its own pace."""
    mean = Decimal(max(days, 1)) / max(interval, Decimal(1))
    term = (-mean).exp()
    below = Decimal(0)
    for i in range(more):
        below += term
        term = term * mean / (i + 1)
    return max(Decimal(0), 1 - below)
