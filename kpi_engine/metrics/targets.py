"""Targets top-down: a company target split over time and people, exactly, with three levels each.

Decomposition (source 004): an annual target → quarters → months (even, or weighted by last year's
seasonality), and each time piece → regions, teams or people (by last year's share, even, or
explicit weights). Each of the three levels — baseline, target, challenge (基准值/目标值/挑战值,
source 003) — is decomposed the same way, so every level's parts add up to its whole.

Remainder rule (declared): every part is first rounded *down* to ``places`` decimals; the units
left over go one each to the parts with the largest dropped fractions, ties to the earlier part in
the listed order. Parts therefore add up exactly to the whole and no part is more than one unit
away from its exact share.

Changes (source 003): a saved target that moves more than ±20 % from the value it replaces is
refused unless a reason is given; every change is written to ``target_changes`` with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import Connection, insert, or_, select, update

from ..errors import ConfigurationError
from ..periods import Period
from ..store import schema as s
from .compute import metric_context, metric_values, split_period
from .declaration import Metric
from .measures import same_period_last_year
from .target_changes import CHANGE_LIMIT, TargetChange, compare_targets, log_target_changes

__all__ = [
    "CHANGE_LIMIT",
    "TargetLine",
    "allocate",
    "decompose_target",
    "levels_from_last_period",
    "parse_levels",
    "parse_weights",
    "save_targets",
]

LEVELS = ("baseline", "target", "challenge")


@dataclass(frozen=True)
class TargetLine:
    """One subject's three levels for one period."""

    subject_type: str  # company / region / team / person
    subject_id: str
    period: str
    baseline: Decimal
    target: Decimal
    challenge: Decimal

    def level(self, name: str) -> Decimal:
        return getattr(self, name)


def allocate(total: Decimal, weights: Sequence[Decimal], places: int = 2) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights``; the parts add up to ``total`` exactly (see module rule)."""
    if not weights:
        return []
    unit = Decimal(1).scaleb(-places)
    whole = total.quantize(unit)
    if whole != total:
        raise ConfigurationError(
            f"{total} has more than {places} decimals.",
            hint="round the whole before splitting it, or allow more places",
        )
    if any(w < 0 for w in weights):
        raise ConfigurationError("a weight is negative.", hint="weights are shares: zero or more")
    weight_sum = sum(weights, Decimal(0))
    shares = list(weights) if weight_sum > 0 else [Decimal(1)] * len(weights)
    weight_sum = sum(shares, Decimal(0))
    sign = -1 if total < 0 else 1
    units = int(abs(total) / unit)
    exact = [Decimal(units) * w / weight_sum for w in shares]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    left = units - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [sign * Decimal(n) * unit for n in floors]


def _time_pieces(period: Period, grain: str | None) -> list[Period]:
    if grain is None:
        return [period]
    if grain not in ("quarter", "month"):
        raise ConfigurationError(
            f"targets are split by quarter or month, not {grain!r}.", hint="use --by-time quarter or month"
        )
    return split_period(period, grain)


def _history(
    conn: Connection, metric: Metric, period: Period, by: str, time_zone: str, currency: str
) -> dict[str, Decimal]:
    values = metric_values(
        conn, metric, metric_context(period, time_zone, currency), "company" if by == "company" else by
    )
    return {k: v for k, v in values.items() if k is not None and v is not None}


def _subjects(conn: Connection, split: str, period: Period, team: str | None) -> list[str]:
    if split == "company":
        return ["company"]
    if split == "team":
        return sorted(
            t for t in conn.execute(select(s.teams.c.id).where(s.teams.c.parent_team_id.is_not(None))).scalars()
        )
    if split == "region":
        return sorted(
            {
                r
                for r in conn.execute(select(s.teams.c.region).where(s.teams.c.parent_team_id.is_not(None))).scalars()
                if r
            }
        )
    p = s.people
    query = select(p.c.id).where(
        or_(p.c.hire_date.is_(None), p.c.hire_date < period.end),
        or_(p.c.leave_date.is_(None), p.c.leave_date >= period.start),
        p.c.role != "manager",
    )
    if team:
        query = query.where(p.c.team_id == team)
    return sorted(conn.execute(query).scalars())


def decompose_target(
    conn: Connection,
    metric: Metric,
    period: Period,
    total: Decimal,
    *,
    by_time: str | None = None,
    seasonality: bool = False,
    split: str = "company",
    weights: str | Mapping[str, Decimal] = "even",
    levels: tuple[Decimal, Decimal, Decimal] = (Decimal("0.8"), Decimal(1), Decimal("1.5")),
    places: int = 2,
    team: str | None = None,
    time_zone: str = "UTC",
    currency: str = "CNY",
) -> list[TargetLine]:
    """The breakdown of ``total`` over time pieces and subjects, for each level; nothing is saved."""
    if split not in ("company", "region", "team", "person"):
        raise ConfigurationError(f"targets are split to company, region, team or person, not {split!r}.")
    unit = Decimal(1).scaleb(-places)
    whole = {name: (total * factor).quantize(unit) for name, factor in zip(LEVELS, levels, strict=True)}
    last_year = same_period_last_year(period)
    # Time: the year to quarters, each quarter to its months, so every level adds up at each step.
    pieces: list[tuple[Period, dict[str, Decimal]]] = [(period, whole)]
    steps = {"quarter": ["quarter"], "month": ["quarter", "month"] if period.grain == "year" else ["month"]}.get(
        by_time or "", []
    )
    for grain in steps:
        next_pieces: list[tuple[Period, dict[str, Decimal]]] = []
        for piece, amounts in pieces:
            parts = _time_pieces(piece, grain)
            if seasonality:
                history = [
                    sum(
                        _history(conn, metric, same_period_last_year(p), "company", time_zone, currency).values(),
                        Decimal(0),
                    )
                    for p in parts
                ]
                time_weights = [max(h, Decimal(0)) for h in history]
            else:
                time_weights = [Decimal(p.days) if grain == "month" else Decimal(1) for p in parts]
            split_levels = {name: allocate(amounts[name], time_weights, places) for name in LEVELS}
            next_pieces += [(p, {name: split_levels[name][i] for name in LEVELS}) for i, p in enumerate(parts)]
        pieces = next_pieces
    subjects = _subjects(conn, split, period, team)
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(subjects))
        if unknown:
            raise ConfigurationError(
                f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a {split} of this company.",
                hint=f"known: {', '.join(subjects)}",
            )
        subject_weights = [Decimal(weights.get(x, 0)) for x in subjects]
    elif weights == "last-year":
        last_year_values = _history(conn, metric, last_year, split, time_zone, currency)
        subject_weights = [max(last_year_values.get(x, Decimal(0)), Decimal(0)) for x in subjects]
    elif weights == "even":
        subject_weights = [Decimal(1)] * len(subjects)
    else:
        raise ConfigurationError(
            f"{weights!r} is not a way to weigh subjects.", hint="use even, last-year or NAME=WEIGHT pairs"
        )
    lines: list[TargetLine] = []
    for piece, amounts in pieces:
        split_levels = {name: allocate(amounts[name], subject_weights, places) for name in LEVELS}
        for i, subject in enumerate(subjects):
            lines.append(TargetLine(split, subject, piece.label, *(split_levels[name][i] for name in LEVELS)))
    return lines


def levels_from_last_period(
    conn: Connection,
    metric: Metric,
    period: Period,
    *,
    split: str = "person",
    factors: tuple[Decimal, Decimal, Decimal] = (Decimal("1.2"), Decimal("1.5"), Decimal(2)),
    places: int = 2,
    time_zone: str = "UTC",
    currency: str = "CNY",
) -> list[TargetLine]:
    """Each subject's levels as multiples of what it did in the previous period (source 003: 120 %, 150 %, 200 %)."""
    unit = Decimal(1).scaleb(-places)
    history = _history(conn, metric, period.previous(), split, time_zone, currency)
    return [
        TargetLine(split, subject, period.label, *((value * f).quantize(unit) for f in factors))
        for subject, value in sorted(history.items())
    ]


def save_targets(
    conn: Connection,
    metric: str,
    lines: Sequence[TargetLine],
    *,
    currency: str | None = None,
    override_reason: str | None = None,
    changed_by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Upsert the lines as targets in one transaction; a change beyond ±20 % needs ``override_reason``."""
    t = s.targets
    now = now or datetime.now(UTC)
    reason = override_reason.strip() if override_reason else None
    wanted = [
        TargetChange(
            line.subject_type, line.subject_id, metric, line.period, line.baseline, line.target, line.challenge
        )
        for line in lines
    ]
    changes = compare_targets(conn, wanted)
    too_big = [c.describe() for c in changes if c.beyond_limit]
    if too_big and not reason:
        raise ConfigurationError(
            f"{len(too_big)} target{'s' if len(too_big) > 1 else ''} would change by more than ±20 % (first: "
            f"{too_big[0]}); nothing was saved.",
            hint="adjust within ±20 % or give --override-reason with why the target moves (it is recorded)",
        )
    for change in changes:
        values = {
            "baseline": change.baseline,
            "target": change.target,
            "challenge": change.challenge,
            "currency": currency,
            "reason": reason,
            "modified_at": now,
        }
        if change.old is None:
            conn.execute(
                insert(t).values(
                    subject_type=change.subject_type,
                    subject_id=change.subject_id,
                    metric=metric,
                    period=change.period,
                    **values,
                )
            )
        elif not change.unchanged:
            conn.execute(update(t).where(t.c.id == change.old.id).values(**values))
    log_target_changes(conn, changes, reason=reason, changed_by=changed_by, now=now)
    return len(changes)


def parse_levels(text: str) -> tuple[Decimal, Decimal, Decimal]:
    """``80%,100%,150%`` (baseline, target, challenge) as three factors."""
    from ..money import to_decimal

    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = tuple(to_decimal(p) for p in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or any(v <= 0 for v in values):
        raise ConfigurationError(
            f"{text!r} is not three levels.", hint="write baseline,target,challenge, e.g. 80%,100%,150%"
        )
    return values[0], values[1], values[2]


def parse_weights(text: str) -> str | dict[str, Decimal]:
    """``even``, ``last-year`` or ``east=3,north=2``."""
    from ..money import to_decimal

    if text in ("even", "last-year"):
        return text
    pairs: dict[str, Decimal] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            pairs[name.strip()] = to_decimal(value)
        except (TypeError, ValueError):
            sep = ""
        if not sep or not name.strip():
            raise ConfigurationError(
                f"{text!r} is not a weighting.", hint="use even, last-year or NAME=WEIGHT pairs, e.g. east=3,north=2"
            )
    return pairs
