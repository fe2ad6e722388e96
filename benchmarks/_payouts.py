"""The payout arithmetic of the baselines, written by hand from the plan files (not from the engine).

``rules/sales-commission.yaml``: marginal tiers on attainment of the monthly bookings target, 5 % up
to the target, 8 % to 150 % of it, 10 % above; capped at 60,000; rounded half up to the cent.

``rules/scorecard-sales-rep.yaml``: revenue (bookings ÷ target, capped at 150 %) 50 %, new customers
(÷ target, capped at 150 %) 10 %, lead conversion rate 20 % (5 % / 10 % / 15 % → 50 / 100 / 150 %),
visits per week 10 % (2 / 3 / 4), complaint satisfaction 10 % (3.5 / 4 / 4.5); linear between the
points, 0 below the first, 150 % beyond the last. The score is rounded half up to 4 decimals and
pays 10,000 × score, rounded half up to the cent. The metrics' own roundings are the catalogue's:
rates to 6 decimals, visits per week to 2, mean scores to 4 (half even).

The commission plan also runs three deal checks that change what it pays (its ``effect``s): a deal
entered twice (same owner, customer, amount, product line, close day and creation day) earns nothing;
deals of one owner, customer, product line and deal type, each under 50,000, closed within 7 days of
the group's first and together at or over 50,000, hold the owner's month when the group holds a deal of
the month; a customer lost within 90 days of a won deal's close takes back what the deal earned, at the
rate of the month that paid it (the deal's credit × that month's commission ÷ its bookings), or takes the
deal out of the month's bookings when it closed in the month. Days are the plan's (Asia/Shanghai).

A baseline gives each person the integers below, and the candidate deals and churn events as rows;
these functions turn them into the payouts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from kpi_engine import Period, parse_period

__all__ = [
    "COMMISSION_CAP_CENTS",
    "MONTHS",
    "CandidateDeal",
    "ChurnedDeal",
    "CommissionChecks",
    "RepFacts",
    "commission_cents",
    "local_day",
    "month_bounds",
    "scorecard_payout",
]

MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
TIME_ZONE = "Asia/Shanghai"
COMMISSION_CAP_CENTS = 6_000_000
CENT = Decimal("0.01")
ZERO = Decimal(0)
CAP = Decimal("1.5")
UNITS = Decimal(10) ** 10  # bookings are summed in ten-billionths (amount × split share, exactly)
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Bounds:
    period: Period
    start: object  # UTC instants, naive (as stored)
    end: object
    first_day: date
    end_day: date  # exclusive
    days: int


def month_bounds(label: str) -> Bounds:
    period = parse_period(label)
    start, end = period.bounds_utc(TIME_ZONE)
    return Bounds(period, start.replace(tzinfo=None), end.replace(tzinfo=None), period.start, period.end, period.days)


def commission_cents(bookings_units: int, target_millionths: int) -> int:
    """Commission in cents for bookings (10^-10 yuan) against a target (10^-6 yuan), in integers."""
    b, t = bookings_units, target_millionths * 10_000
    h = t * 3 // 2
    if b <= t:
        c = 5 * b
    elif b <= h:
        c = 5 * t + 8 * (b - t)
    else:
        c = 5 * t + 8 * (h - t) + 10 * (b - h)
    return min((c + 5_000_000_000) // 10_000_000_000, COMMISSION_CAP_CENTS)  # 10^-12 yuan → cents, half up


@dataclass(frozen=True)
class RepFacts:
    """One representative's month, as integers: what the scorecard's five KPIs are computed from."""

    bookings_units: int  # 10^-10 yuan
    bookings_target: int | None  # 10^-6 yuan
    new_customers: int
    new_customers_target: int | None  # 10^-6
    leads_created: int
    leads_converted: int
    visits: int
    survey_score_sum: int  # 10^-6
    survey_count: int


def _linear(actual: Decimal, points: tuple[Decimal, Decimal, Decimal]) -> Decimal:
    factors = (Decimal("0.5"), Decimal(1), CAP)
    if actual < points[0]:
        return ZERO
    if actual > points[2]:
        return CAP
    for (a, fa), (b, fb) in zip(zip(points, factors), zip(points[1:], factors[1:])):
        if actual <= b:
            return fa + (fb - fa) * (actual - a) / (b - a)
    return CAP


LEAD_POINTS = (Decimal("0.05"), Decimal("0.10"), Decimal("0.15"))
VISIT_POINTS = (Decimal(2), Decimal(3), Decimal(4))
SURVEY_POINTS = (Decimal("3.5"), Decimal(4), Decimal("4.5"))


def scorecard_payout(f: RepFacts, days: int) -> Decimal | None:
    """The sales-rep scorecard payout, or None when a target is missing (the engine skips the person)."""
    if not f.bookings_target or f.new_customers_target is None:
        return None
    revenue = min(Decimal(f.bookings_units) / UNITS / (Decimal(f.bookings_target) / MILLION), CAP)
    new_target = Decimal(f.new_customers_target) / MILLION
    new = min(Decimal(f.new_customers) / new_target if new_target else ZERO, CAP)
    rate = (
        (Decimal(f.leads_converted) / Decimal(f.leads_created)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
        if f.leads_created
        else ZERO
    )
    weekly = (Decimal(f.visits) * 7 / Decimal(days)).quantize(CENT, ROUND_HALF_EVEN)
    survey = (
        (Decimal(f.survey_score_sum) / MILLION / f.survey_count).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)
        if f.survey_count
        else ZERO
    )
    score = (
        Decimal("0.5") * revenue
        + Decimal("0.1") * new
        + Decimal("0.2") * _linear(rate, LEAD_POINTS)
        + Decimal("0.1") * _linear(weekly, VISIT_POINTS)
        + Decimal("0.1") * _linear(survey, SURVEY_POINTS)
    ).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return (10_000 * score).quantize(CENT, ROUND_HALF_UP)


# --- the commission plan's deal checks ----------------------------------------------------------

SPLIT_LIMIT = Decimal(50_000)
SPLIT_DAYS = 7
CHURN_DAYS = 90
CLAWBACK_MONTHS = 12
ZONE = ZoneInfo(TIME_ZONE)


def local_day(moment: datetime | str) -> date:
    """The plan's calendar day of a stored UTC instant (SQLite hands back its text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(ZONE).date()


@dataclass(frozen=True)
class CandidateDeal:
    """A won deal whose owner won another deal of the same customer within 14 days (the only possible split or copy)."""

    id: int
    owner: str
    customer: int
    amount: Decimal  # yuan
    product: str | None
    deal_type: str | None
    closed: date
    created: date | None
    owner_units: int  # the owner's credit, 10^-10 yuan


@dataclass(frozen=True)
class ChurnedDeal:
    """A churn event of the month on a deal: its owner, the deal's close day and the owner's credit."""

    owner: str
    deal_id: int
    status: str
    closed: date
    churned: date
    owner_units: int


class CommissionChecks:
    """What the three checks do to one month's commission: excluded credit, held people, clawback lines."""

    def __init__(self, label: str, candidates: Iterable[CandidateDeal], churned: Iterable[ChurnedDeal]) -> None:
        self.bounds = month_bounds(label)
        deals = list(candidates)
        this_month = [d for d in deals if d.closed >= self.bounds.first_day]
        self.excluded_units: dict[str, int] = defaultdict(int)
        copies: dict[tuple[object, ...], list[CandidateDeal]] = defaultdict(list)
        for d in this_month:
            copies[(d.owner, d.customer, d.amount, d.closed, d.product, d.created)].append(d)
        for group in copies.values():
            if len(group) > 1:
                for d in group:
                    self.excluded_units[d.owner] += d.owner_units
        self.held = {owner for owner, group in self._split_groups(deals)}
        self.clawbacks: list[ChurnedDeal] = []
        for c in churned:
            if c.status != "won" or not 0 <= (c.churned - c.closed).days <= CHURN_DAYS:
                continue
            if c.closed >= self.bounds.first_day:
                self.excluded_units[c.owner] += c.owner_units  # a deal of this month earns nothing instead
            else:
                self.clawbacks.append(c)

    def _split_groups(self, deals: list[CandidateDeal]) -> Iterable[tuple[str, list[CandidateDeal]]]:
        groups: dict[tuple[object, ...], list[CandidateDeal]] = defaultdict(list)
        for d in deals:
            if d.amount < SPLIT_LIMIT:
                groups[(d.owner, d.customer, d.product, d.deal_type)].append(d)
        for (owner, *_), group in groups.items():
            group.sort(key=lambda d: (d.closed, d.id))
            i = 0
            while i < len(group):
                j = i
                while j + 1 < len(group) and (group[j + 1].closed - group[i].closed).days <= SPLIT_DAYS:
                    j += 1
                cluster = group[i : j + 1]
                if (
                    len(cluster) >= 2
                    and sum(d.amount for d in cluster) >= SPLIT_LIMIT
                    and any(d.closed >= self.bounds.first_day for d in cluster)
                ):
                    yield owner, cluster
                    i = j + 1
                else:
                    i += 1

    def clawback_lines(self, paid: Callable[[str], dict[str, tuple[Decimal | None, int]]]) -> dict[str, Decimal]:
        """Negative amounts per person: what each early-churned deal earned in the month that paid it.

        ``paid(month)`` gives that month's ``{person: (commission paid or None when held, bookings units)}``.
        """
        back: dict[str, Decimal] = defaultdict(Decimal)
        oldest = self.bounds.first_day
        for _ in range(CLAWBACK_MONTHS):
            oldest = (oldest - timedelta(days=1)).replace(day=1)
        for c in self.clawbacks:
            if c.closed < oldest:
                continue
            commission, units = paid(c.closed.strftime("%Y-%m")).get(c.owner, (None, 0))
            if commission is None or not units:
                continue
            earned = Decimal(c.owner_units) * commission / Decimal(units)
            back[c.owner] -= min(earned, commission).quantize(CENT, ROUND_HALF_UP)
        return dict(back)
