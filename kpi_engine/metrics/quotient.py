"""Exact values from SQL: a metric's integer sums travel as text (``"n1,n2/d1"``) and become ``Decimal`` here.

``Division`` says how a value is formed (scale, rounding, what a zero denominator means); ``Quotient`` is the
column type that reads the text, adds the terms of their scales exactly and divides in ``Decimal``. A text
starting with ``!`` is a guard's complaint (a fact the measure cannot use) and becomes an ``EvaluationError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Literal

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from ..errors import EvaluationError
from ..money import ROUNDING_MODES

__all__ = ["STEPS", "Division", "Quotient"]


@dataclass(frozen=True)
class Division:
    """How a metric's value is formed: ``numerator × multiplier ÷ (denominator × divisor)``.

    The division happens in ``Decimal`` and is rounded to ``scale`` places with ``rounding``.
    ``zero_denominator``: ``zero`` (the value is 0), ``missing`` (no value for that group) or ``error``.
    """

    scale: int = 6
    rounding: str = "half_even"
    zero_denominator: Literal["zero", "missing", "error"] = "missing"
    multiplier: Decimal = Decimal(1)
    divisor: int = 1
    trim_to: int | None = None  # drop trailing zeros down to this scale (exact sums of mixed scales)

    def divide(self, numerator: Decimal, denominator: Decimal, metric: str = "") -> Decimal | None:
        if denominator == 0:
            if self.zero_denominator == "zero":
                return Decimal(0).quantize(Decimal(1).scaleb(-self.scale))
            if self.zero_denominator == "missing":
                return None
            raise EvaluationError(
                f"metric {metric or '?'} divides by zero for a group with no {('denominator')} facts.",
                hint="declare zero_denominator: zero or missing for this metric",
            )
        with localcontext() as exact:
            exact.prec = 60
            value = numerator * self.multiplier / (denominator * self.divisor)
            value = value.quantize(
                Decimal(1).scaleb(-self.scale), rounding=ROUNDING_MODES.get(self.rounding, ROUND_HALF_EVEN)
            )
            if self.trim_to is not None:
                short = value.quantize(Decimal(1).scaleb(-self.trim_to))
                if short == value:
                    return short
            return value


_ZERO = Decimal(0)
STEPS = {places: Decimal(1).scaleb(-places) for places in range(31)}
_SAFE_DIGITS = 16  # digits before the point that leave room for 12 after it in the default context


class Quotient(TypeDecorator[Decimal]):
    """``"n1,n2/d1"`` text from SQL → the exact Decimal quotient (see ``Division``)."""

    impl = String
    cache_ok = True

    def __init__(
        self,
        num_scales: tuple[int, ...],
        den_scales: tuple[int, ...],
        division: Division,
        metric: str,
        refused: Callable[[str], tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.num_scales = num_scales
        self.den_scales = den_scales
        self.division = division
        self.metric = metric
        self.refused = refused
        self._sum_only = division.multiplier == 1 and division.divisor == 1 and den_scales == (0,)
        self._wide = max(num_scales + den_scales) > 10  # converted amounts: more digits than the default context

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        text = str(value)
        if text.startswith("!"):  # a guard: a fact the measure cannot use
            sentence, hint = self.refused(text[1:]) if self.refused else (text[1:], None)
            raise EvaluationError(f"{sentence}.", hint=hint)
        if self._wide:  # an amount of up to 20 decimal places: exact, without the zeros it does not need
            with localcontext() as wide:
                wide.prec = 80
                found = self._value(text)
                if found is None or self.division.trim_to is None:
                    return found
                places = max(-int(found.normalize().as_tuple().exponent), self.division.trim_to)
                return found.quantize(STEPS[places]) if places < self.division.scale else found
        return self._value(text)

    def _value(self, text: str) -> Decimal | None:
        num_text, _, den_text = text.partition("/")
        first, _, others = num_text.partition(",")
        if others.strip("0,") == "" and first.lstrip("-").isdigit() and num_text.count(",") == len(self.num_scales) - 1:
            units = int(first)  # only the first term is not zero: the usual value (a deal without splits)
            numerator, finest = Decimal(units).scaleb(-self.num_scales[0]), (self.num_scales[0] if units else 0)
        else:
            numerator, finest = _terms(num_text, self.num_scales)
        division = self.division
        if den_text == "1" and self._sum_only and numerator.adjusted() < _SAFE_DIGITS:
            # A sum with nothing to divide (most evidence values): ``divide`` would give this, more slowly.
            if division.trim_to is not None and finest <= division.trim_to:
                return numerator.quantize(STEPS[division.trim_to])
            value = numerator.quantize(
                STEPS[division.scale], rounding=ROUNDING_MODES.get(division.rounding, ROUND_HALF_EVEN)
            )
            if division.trim_to is not None and (short := value.quantize(STEPS[division.trim_to])) == value:
                return short
            return value
        denominator, _ = _terms(den_text, self.den_scales)
        return division.divide(numerator, denominator, self.metric)


def _terms(text: str, scales: tuple[int, ...]) -> tuple[Decimal, int]:
    """The exact sum of ``"n1,n2"``, integers at the given scales (``"123400,5"`` at 4 and 10 → 12.3400000005),
    and the finest scale of a term that is not zero (0 when all are)."""
    parts = text.split(",")
    if len(parts) != len(scales):
        raise ValueError(f"{text!r} does not have {len(scales)} terms")
    total, finest = 0, 0
    for part, scale in zip(parts, scales):
        if not part or part == "0":
            continue
        try:
            units = int(part)
        except ValueError:  # a backend that wrote "12.0" for an integer; never a float that lost digits
            number = Decimal(part)
            if "e" in part.lower() or number != number.to_integral_value() or abs(number) >= 2**53:
                raise EvaluationError(
                    f"a sum came back from the database as {part}, not a whole number: an amount too large to add "
                    "up exactly.",
                    hint="check the amounts and rates of the facts summed (money is at most 10^12 per fact)",
                ) from None
            units = int(number)
        if units:
            top = max(finest, scale)
            total = total * 10 ** (top - finest) + units * 10 ** (top - scale)  # exact, whatever the context
            finest = top
    return Decimal(f"{total}E-{finest}") if total else _ZERO, finest
