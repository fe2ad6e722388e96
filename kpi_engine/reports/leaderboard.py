"""The leaderboard (销售龙虎榜) and the month's stars (月度之星) from the period's lines.

Boards rank the measures the plans name: what the commission measures (bookings), attainment, and
each rank bonus's measure (visits …). Stars are the month's best attainment at or over target and the
winners of every rank bonus (best newcomer, top visits), as the bonus rules decided them, ties included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ..trace import TraceView
from .period_data import PeriodData
from .roster import Member, Roster
from .standings import Ranked, attainments, measured_values, number, rank

__all__ = ["Board", "Leaderboard", "Star", "build_leaderboard"]

STAR_OF_THE_MONTH = "star_of_the_month"


@dataclass(frozen=True)
class Board:
    measure: str
    unit: str  # money / count / ratio
    currency: str | None
    rows: tuple[tuple[Ranked, Member], ...]


@dataclass(frozen=True)
class Star:
    award: str  # the rank bonus's rule id, or star_of_the_month
    plan_id: str | None
    member: Member
    measure: str
    value: Decimal | None
    unit: str
    prize: Decimal | None
    currency: str | None
    shared: bool


@dataclass(frozen=True)
class Leaderboard:
    boards: tuple[Board, ...]
    stars: tuple[Star, ...]


def build_leaderboard(data: PeriodData, roster: Roster, unit_of: Callable[[str], str]) -> Leaderboard:
    """Boards and stars; ``unit_of(metric)`` says whether a measure is money, a count or a ratio."""

    def member(pid: str) -> Member:
        return roster.people.get(pid) or Member(pid, pid, None, None, None, None, None, None)

    boards: list[Board] = []
    measured = measured_values(data.lines)
    currency = next((x.currency for x in data.lines if x.kind == "payout" and x.currency), data.currency)
    by_measure: dict[str, dict[str, Decimal]] = {}
    for person, (measure, value) in measured.items():
        by_measure.setdefault(measure, {})[person] = value
    for measure, values in sorted(by_measure.items()):
        unit = unit_of(measure)
        boards.append(
            Board(
                measure,
                unit,
                currency if unit == "money" else None,
                tuple((r, member(r.person_id)) for r in rank(values)),
            )
        )
    reached = attainments(data.lines)
    if reached:
        boards.append(Board("attainment", "ratio", None, tuple((r, member(r.person_id)) for r in rank(reached))))
    stars: list[Star] = []
    top = [r for r in rank(reached) if r.place == 1 and r.value >= 1]
    for r in top:
        stars.append(
            Star(STAR_OF_THE_MONTH, None, member(r.person_id), "attainment", r.value, "ratio", None, None, len(top) > 1)
        )
    rank_rules: dict[tuple[str, str], dict[str, Decimal]] = {}
    measure_of: dict[tuple[str, str], str] = {}
    prizes: dict[tuple[str, str], dict[str, Decimal]] = {}
    winners: dict[tuple[str, str], list[Mapping[str, object]]] = {}
    for line in data.lines:
        view = TraceView(line.trace)
        if view.rule_type != "bonus" or line.trace.get("per") != "rank":
            continue
        key = (line.plan_id, line.rule_id)
        for name, value in view.inputs.items():
            if (found := number(value)) is not None:
                rank_rules.setdefault(key, {})[line.person_id] = found
                measure_of.setdefault(key, name)
                break
        if line.amount:
            prizes.setdefault(key, {})[line.person_id] = line.amount
        listed = line.trace.get("winners")
        if isinstance(listed, list) and key not in winners:
            winners[key] = [w for w in listed if isinstance(w, Mapping)]
    for (plan_id, rule_id), values in sorted(rank_rules.items()):
        measure = measure_of[(plan_id, rule_id)]
        unit = unit_of(measure)
        if measure not in by_measure and measure != "attainment":
            by_measure[measure] = values
            boards.append(
                Board(
                    measure,
                    unit,
                    currency if unit == "money" else None,
                    tuple((r, member(r.person_id)) for r in rank(values)),
                )
            )
        won = winners.get((plan_id, rule_id), [])
        for w in won:
            pid = str(w.get("person"))
            stars.append(
                Star(
                    award=rule_id,
                    plan_id=plan_id,
                    member=member(pid),
                    measure=measure,
                    value=values.get(pid),
                    unit=unit,
                    prize=prizes.get((plan_id, rule_id), {}).get(pid),
                    currency=currency,
                    shared=len(won) > 1,
                )
            )
    return Leaderboard(tuple(boards), tuple(stars))
