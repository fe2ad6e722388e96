"""What a period pays, person by person: the ledger's payable entries for closed plans, the calculated
lines for plans still awaiting approval. The company page, the team pages and the leaderboard add up
these rows, so their totals agree with the statements (ledger plus calculated, each said apart)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ..ledger.posting import PAYABLE
from .period_data import PeriodData

__all__ = ["Payout", "payouts_of", "totals_by"]

ZERO = Decimal(0)
MANUAL = "(manual)"


@dataclass(frozen=True)
class Payout:
    person_id: str
    plan_id: str  # MANUAL for an adjustment that names no plan
    amount: Decimal
    currency: str
    in_ledger: bool


def payouts_of(data: PeriodData) -> list[Payout]:
    """Every amount the period pays: posted entries, then calculated lines of plans not closed."""
    rows = [
        Payout(e.person_id, e.plan_id or MANUAL, e.amount, e.currency, True) for e in data.entries if e.kind in PAYABLE
    ]
    rows += [
        Payout(line.person_id, line.plan_id, line.amount, line.currency or data.currency, False)
        for line in data.lines
        if line.kind == "payout" and line.amount is not None and line.amount != 0 and not data.closed(line.plan_id)
    ]
    return rows


def totals_by(rows: Iterable[Payout], key: str, currency: str) -> dict[str, Decimal]:
    """Totals in ``currency`` by ``person_id`` or ``plan_id``."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        if row.currency == currency:
            sums[getattr(row, key)] += row.amount
    return dict(sums)
