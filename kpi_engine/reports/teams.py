"""A page per manager: each member's attainment, payout, trend over six months and what is open about them
(findings awaiting review, alerts firing, a PIP)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..findings.store import SavedFinding
from ..periods import earlier_period
from ..store.database import Store
from .payouts import Payout
from .period_data import PeriodData, earlier_lines
from .roster import Member, Roster
from .standings import attainments

__all__ = ["TRAILING_MONTHS", "TeamMember", "TeamPage", "build_team_pages"]

ZERO = Decimal(0)
TRAILING_MONTHS = 6


@dataclass(frozen=True)
class TeamMember:
    member: Member
    attainment: Decimal | None
    payout: Decimal
    in_ledger: bool
    trend: tuple[tuple[str, Decimal | None], ...]
    open_findings: tuple[SavedFinding, ...]
    alert_firing: bool
    pip_status: str | None


@dataclass(frozen=True)
class TeamPage:
    manager: Member
    currency: str
    members: tuple[TeamMember, ...]

    @property
    def total(self) -> Decimal:
        return sum((m.payout for m in self.members), ZERO)

    @property
    def page(self) -> str:
        return self.manager.page


def build_team_pages(
    store: Store, data: PeriodData, roster: Roster, payouts: Sequence[Payout], findings: Sequence[SavedFinding]
) -> list[TeamPage]:
    currency = data.currency
    period = data.period
    labels = [earlier_period(period, back).label for back in range(TRAILING_MONTHS - 1, 0, -1)]
    plans = {line.plan_id for line in data.lines if line.trace.get("rule_type") == "tiered_commission"}
    history = earlier_lines(store, plans, labels) if plans and period.grain == "month" else {}
    by_label = {label: attainments(history.get(label, [])) for label in labels}
    by_label[period.label] = attainments(data.lines)
    paid: dict[str, Decimal] = {}
    all_in_ledger: dict[str, bool] = {}
    for row in payouts:
        if row.currency == currency:
            paid[row.person_id] = paid.get(row.person_id, ZERO) + row.amount
            all_in_ledger[row.person_id] = all_in_ledger.get(row.person_id, True) and row.in_ledger
    firing = {x.person_id for x in data.lines if x.kind == "alert" and x.status == "firing"}
    pip = {x.person_id: x.status for x in data.lines if x.kind == "recommendation"}
    open_findings = [f for f in findings if f.review is None]
    pages = []
    for manager in roster.managers():
        members = []
        for person in roster.reports_of(manager.id):
            members.append(
                TeamMember(
                    member=person,
                    attainment=by_label[period.label].get(person.id),
                    payout=paid.get(person.id, ZERO),
                    in_ledger=all_in_ledger.get(person.id, True),
                    trend=tuple((label, by_label[label].get(person.id)) for label in [*labels, period.label]),
                    open_findings=tuple(f for f in open_findings if f.person_id == person.id),
                    alert_firing=person.id in firing,
                    pip_status=pip.get(person.id),
                )
            )
        members.sort(key=lambda m: (-(m.attainment if m.attainment is not None else Decimal(-1)), m.member.name))
        pages.append(TeamPage(manager, currency, tuple(members)))
    return pages
