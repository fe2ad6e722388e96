"""A commission's ladder of tiers and rates, and where a person stands on it, for a statement's chart.

Read from the plan's own tiers when the plan file is found (every band, reached or not), else from
the trace's lines (the bands the person reached). Bands written as levels (``target``, ``challenge``)
are resolved with the person's levels from the trace; a rate written as a formula has no single
height and leaves the ladder out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..money import to_decimal
from ..trace import TraceView

__all__ = ["Band", "Ladder", "ladder_of"]


@dataclass(frozen=True)
class Band:
    """``[lower, upper)`` paying ``rate``; ``upper`` is ``None`` for the open top band."""

    lower: Decimal
    upper: Decimal | None
    rate: Decimal
    reached: bool


@dataclass(frozen=True)
class Ladder:
    """The bands in order, on an axis of attainment (a share of target) or of the measured amount."""

    axis: str  # attainment / amount
    bands: tuple[Band, ...]
    position: Decimal | None  # the person's attainment or measured amount

    @property
    def top(self) -> Decimal:
        """Where the chart's axis ends: past the last closed band and past the person's position."""
        ends = [b.upper for b in self.bands if b.upper is not None] + [b.lower for b in self.bands]
        if self.position is not None:
            ends.append(self.position)
        highest = max(ends) if ends else Decimal(1)
        return highest * Decimal("1.15") if highest > 0 else Decimal(1)


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return to_decimal(value if not isinstance(value, float) else str(value))
    except (TypeError, ValueError, InvalidOperation):
        return None


def _bound(value: Any, levels: Mapping[str, Any], attainment: bool) -> Decimal | None:
    if isinstance(value, str) and value.strip() in ("baseline", "target", "challenge"):
        level, target = _number(levels.get(value.strip())), _number(levels.get("target"))
        if level is None:
            return None
        if attainment:
            return level / target if target else None
        return level
    return _number(value)


def ladder_of(trace: Mapping[str, Any], settings: Mapping[str, Any] | None) -> Ladder | None:
    """The ladder of a ``tiered_commission`` line, or ``None`` for any other line."""
    view = TraceView(trace)
    if view.rule_type != "tiered_commission":
        return None
    inputs = view.inputs
    attainment = str(trace.get("basis")) == "attainment"
    position = _number(inputs.get("attainment")) if attainment else None
    if not attainment:
        measured = next((v for k, v in inputs.items() if k not in ("baseline", "target", "challenge")), None)
        position = _number(measured)
    tiers = settings.get("tiers") if settings else None
    bands: list[Band] = []
    if isinstance(tiers, list) and tiers:
        for tier in tiers:
            if not isinstance(tier, Mapping):
                return None
            lower = _bound(tier.get("from"), inputs, attainment)
            upper = _bound(tier.get("to"), inputs, attainment) if tier.get("to") is not None else None
            rate = _number(tier.get("rate"))
            if lower is None or rate is None or (tier.get("to") is not None and upper is None):
                return _from_lines(view, attainment, position, inputs)
            reached = position is not None and position >= lower
            bands.append(Band(lower, upper, rate, reached))
        return Ladder("attainment" if attainment else "amount", tuple(bands), position)
    return _from_lines(view, attainment, position, inputs)


def _from_lines(
    view: TraceView, attainment: bool, position: Decimal | None, inputs: Mapping[str, Any]
) -> Ladder | None:
    target = _number(inputs.get("target"))
    bands = []
    for line in view.lines:
        lower, upper, rate = _number(line.get("lower")), _number(line.get("upper")), _number(line.get("rate"))
        if lower is None or rate is None:
            continue
        if attainment and target:
            lower, upper = lower / target, (upper / target if upper is not None else None)
        bands.append(Band(lower, upper, rate, True))
    if not bands:
        return None
    return Ladder("attainment" if attainment and target else "amount", tuple(bands), position)
