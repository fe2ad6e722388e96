"""Where people stand: attainment and measured values read from the period's lines, and ranks with ties.

Ranks are competition ranks (1, 1, 3): people with the same value share a place, which is how a rank
bonus with ``ties: split`` shares its award. Where a rank bonus settled a tie another way
(``tie_break``), its winners are taken from the bonus's own decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..trace import TraceView
from .period_data import PeriodLine

__all__ = ["Ranked", "attainments", "measured_values", "number", "rank"]

LEVELS = ("baseline", "target", "challenge", "attainment", "threshold")


def number(value: Any) -> Decimal | None:
    """A trace's value text as a ``Decimal`` (``None`` when it is not a number)."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    try:
        found = Decimal(str(value).replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return found if found.is_finite() else None


def attainments(lines: Iterable[PeriodLine]) -> dict[str, Decimal]:
    """Each person's attainment of the period: their commission's (measured ÷ target), else a bonus's."""
    found: dict[str, Decimal] = {}
    second: dict[str, Decimal] = {}
    for line in lines:
        view = TraceView(line.trace)
        value = number(view.inputs.get("attainment"))
        if value is None:
            continue
        if view.rule_type == "tiered_commission":
            found.setdefault(line.person_id, value)
        elif view.rule_type in ("bonus", "pip_trigger"):
            second.setdefault(line.person_id, value)
    return {**second, **found}


def measured_values(
    lines: Iterable[PeriodLine], rule_type: str = "tiered_commission"
) -> dict[str, tuple[str, Decimal]]:
    """Each person's measured value (the measure's name and value) of their first ``rule_type`` line."""
    found: dict[str, tuple[str, Decimal]] = {}
    for line in lines:
        view = TraceView(line.trace)
        if view.rule_type != rule_type or line.person_id in found:
            continue
        for key, value in view.inputs.items():
            if key not in LEVELS and (measured := number(value)) is not None:
                found[line.person_id] = (key, measured)
                break
    return found


@dataclass(frozen=True)
class Ranked:
    place: int
    person_id: str
    value: Decimal
    tied: bool


def rank(values: Mapping[str, Decimal], *, descending: bool = True) -> list[Ranked]:
    """Competition ranks: equal values share a place and the next place is skipped (1, 1, 3)."""
    ordered = sorted(values.items(), key=lambda kv: ((-kv[1] if descending else kv[1]), kv[0]))
    counts: dict[Decimal, int] = {}
    for _, value in ordered:
        counts[value] = counts.get(value, 0) + 1
    ranked: list[Ranked] = []
    place = 0
    previous: Decimal | None = None
    for index, (person, value) in enumerate(ordered, start=1):
        if value != previous:
            place, previous = index, value
        ranked.append(Ranked(place, person, value, counts[value] > 1))
    return ranked
