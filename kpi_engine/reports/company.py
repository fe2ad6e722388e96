"""The company page's figures: payouts by plan and team, cost of sales, attainment distribution, the
month against the twelve before it, and what awaits approval."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from ..ledger.posting import PAYABLE
from ..metrics.compute import metric_context, metric_values
from ..periods import Period, earlier_period
from ..registry import get_registry
from ..store import schema as s
from ..store.database import Store
from .payouts import Payout, totals_by
from .period_data import PeriodData
from .roster import Roster
from .standings import attainments

__all__ = ["ATTAINMENT_BANDS", "Company", "MonthFigures", "build_company"]

ZERO = Decimal(0)
ATTAINMENT_BANDS: tuple[tuple[Decimal, Decimal | None], ...] = (
    (Decimal(0), Decimal("0.5")),
    (Decimal("0.5"), Decimal("0.8")),
    (Decimal("0.8"), Decimal(1)),
    (Decimal(1), Decimal("1.2")),
    (Decimal("1.2"), Decimal("1.5")),
    (Decimal("1.5"), None),
)
BOOKINGS = "bookings"


@dataclass(frozen=True)
class MonthFigures:
    label: str
    payouts: Decimal
    bookings: Decimal | None
    in_ledger: bool

    @property
    def cost_of_sales(self) -> Decimal | None:
        return self.payouts / self.bookings if self.bookings else None


@dataclass(frozen=True)
class Company:
    currency: str
    total: Decimal
    total_in_ledger: Decimal
    total_calculated: Decimal
    by_plan: tuple[tuple[str, Decimal, bool], ...]  # plan, amount, all of it in the ledger
    by_team: tuple[tuple[str | None, Decimal], ...]
    bookings: Decimal | None
    attainment_bands: tuple[tuple[tuple[Decimal, Decimal | None], int], ...]
    people_measured: int
    at_or_over_target: int
    months: tuple[MonthFigures, ...]
    pending: tuple[tuple[str, str, str], ...]

    @property
    def cost_of_sales(self) -> Decimal | None:
        return self.total / self.bookings if self.bookings else None


def _bookings(store: Store, periods: Sequence[Period], time_zone: str, currency: str) -> dict[str, Decimal | None]:
    """Company bookings per period (``None`` when no bookings metric is registered)."""
    metric = get_registry().metrics.get(BOOKINGS)
    if metric is None:
        return {p.label: None for p in periods}
    found: dict[str, Decimal | None] = {}
    with store.connect() as conn:
        for p in periods:
            values = metric_values(conn, metric, metric_context(p, time_zone, currency), by="company")
            found[p.label] = sum((v for v in values.values() if v is not None), ZERO)
    return found


def _ledger_by_month(store: Store, labels: Sequence[str], currency: str) -> dict[str, Decimal]:
    e = s.ledger_entries
    with store.connect() as conn:
        rows = conn.execute(
            select(e.c.period_posted, func.sum(e.c.amount))
            .where(e.c.period_posted.in_(list(labels)), e.c.kind.in_(sorted(PAYABLE)), e.c.currency == currency)
            .group_by(e.c.period_posted)
        ).all()
    return {label: Decimal(total or 0) for label, total in rows}


def build_company(store: Store, data: PeriodData, roster: Roster, payouts: Sequence[Payout]) -> Company:
    currency = data.currency
    by_plan_totals = totals_by(payouts, "plan_id", currency)
    in_ledger = {p.plan_id for p in payouts if p.in_ledger}
    calculated = {p.plan_id for p in payouts if not p.in_ledger}
    by_plan = tuple(
        (plan, amount, plan in in_ledger and plan not in calculated)
        for plan, amount in sorted(by_plan_totals.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    teams: dict[str | None, Decimal] = defaultdict(lambda: ZERO)
    for row in payouts:
        if row.currency == currency:
            member = roster.people.get(row.person_id)
            teams[member.team_id if member else None] += row.amount
    by_team = tuple(sorted(teams.items(), key=lambda kv: (-kv[1], kv[0] or "")))
    total = sum((p.amount for p in payouts if p.currency == currency), ZERO)
    total_ledger = sum((p.amount for p in payouts if p.currency == currency and p.in_ledger), ZERO)
    reached = attainments(data.lines)
    bands = []
    for lower, upper in ATTAINMENT_BANDS:
        count = sum(1 for v in reached.values() if v >= lower and (upper is None or v < upper))
        bands.append(((lower, upper), count))
    period = data.period
    history = [period] if period.grain != "month" else [earlier_period(period, back) for back in range(12, -1, -1)]
    bookings = _bookings(store, history, data.time_zone, currency)
    posted = _ledger_by_month(store, [p.label for p in history[:-1]], currency)
    months = [MonthFigures(p.label, posted.get(p.label, ZERO), bookings.get(p.label), True) for p in history[:-1]]
    months.append(MonthFigures(period.label, total, bookings.get(period.label), total == total_ledger))
    return Company(
        currency=currency,
        total=total,
        total_in_ledger=total_ledger,
        total_calculated=total - total_ledger,
        by_plan=by_plan,
        by_team=by_team,
        bookings=bookings.get(period.label),
        attainment_bands=tuple(bands),
        people_measured=len(reached),
        at_or_over_target=sum(1 for v in reached.values() if v >= 1),
        months=tuple(months),
        pending=tuple(data.approvals_pending),
    )
