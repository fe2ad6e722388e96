"""Exact money and ratios: ``Decimal`` in Python, scaled integers in every database.

SQLite has no exact decimal type (its NUMERIC is a float), so amounts are stored as
integers of a fixed scale; ``SUM`` over them is exact on every backend and SQLAlchemy
turns them back into ``Decimal`` on the way out.
"""

from __future__ import annotations

from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    InvalidOperation,
)
from typing import Annotated, Any

from pydantic import BeforeValidator
from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Amount",
    "MONEY_SCALE",
    "RATIO_SCALE",
    "ROUNDING_MODES",
    "ExactDecimal",
    "Money",
    "Ratio",
    "money_text",
    "plain",
    "quantize",
    "to_decimal",
]

MONEY_SCALE = 4
"""Money is stored in ten-thousandths of the currency unit (exact for every ISO 4217 currency)."""
RATIO_SCALE = 6
"""Ratios (shares, discounts, scores) are stored in millionths."""

ROUNDING_MODES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "floor": ROUND_FLOOR,
    "ceiling": ROUND_CEILING,
}


def to_decimal(value: Any) -> Decimal:
    """Read a number exactly; floats are refused because they already lost the cents."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TypeError("a yes/no value is not a number")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        percent = text.endswith("%")
        try:
            result = Decimal(text[:-1] if percent else text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if percent:
            result = result / 100
    elif isinstance(value, float):
        raise TypeError(f"{value!r} is a binary float; write money and rates as exact decimals (quote them in YAML)")
    elif hasattr(value, "isoformat"):
        raise TypeError(f"the date {value.isoformat()} is not a number")
    else:
        raise TypeError(f"{value!r} is not a number")
    if not result.is_finite():
        raise ValueError("infinity and not-a-number are not amounts; write a finite number or leave the key out")
    return result


def _amount(value: Any) -> Decimal:
    """``to_decimal`` for a pydantic field: every refusal a ``ValueError``, which pydantic reports at its key
    (a ``TypeError`` would escape validation: a date written where a number belongs must be a plan error)."""
    try:
        return to_decimal(value)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


Amount = Annotated[Decimal, BeforeValidator(_amount)]
"""A pydantic field type for money, rates and percentages: ``"5%"``, ``"12,500.00"``, ``1200``; floats refused."""


def quantize(value: Decimal, places: int, mode: str = "half_up") -> Decimal:
    """Round to ``places`` decimals with a named rounding mode (see ``ROUNDING_MODES``)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUNDING_MODES[mode])


def plain(value: Decimal) -> str:
    """A number without exponent or trailing zeros: ``100000``, ``22000.5``, ``0.05``."""
    text = str(value)  # traces write thousands of these: the plain text is usually str() without its trailing zeros
    if "E" in text:
        text = f"{value.normalize():f}"
    elif "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text


def money_text(value: Decimal, min_places: int = 2) -> str:
    """An amount with at least ``min_places`` decimals and no meaningless trailing zeros beyond them."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -min_places:
        normal = value.quantize(Decimal(1).scaleb(-min_places))
    return f"{normal:f}"


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as a scaled ``BIGINT``; values finer than the scale are refused, not rounded."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self._factor = Decimal(10) ** scale
        self._exp = Decimal(1).scaleb(-scale)

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        number = to_decimal(value)
        scaled = number * self._factor
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{number} has more than {self.scale} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        # SUM() over BIGINT comes back as int (or Decimal on PostgreSQL); both are exact.
        return (Decimal(int(value)) / self._factor).quantize(self._exp)

    @property
    def python_type(self) -> type:
        return Decimal


def Money() -> ExactDecimal:  # noqa: N802 - reads like a column type
    """Column type for an amount of money (currency kept in a sibling column)."""
    return ExactDecimal(MONEY_SCALE)


def Ratio() -> ExactDecimal:  # noqa: N802
    """Column type for a share, discount or score."""
    return ExactDecimal(RATIO_SCALE)
