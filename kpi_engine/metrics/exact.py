"""Exact products of scaled integers in SQL, on every backend, without overflow.

An amount (ten-thousandths) times a share (millionths) times an exchange rate (10⁻¹⁰) is a number of
20 decimal places and up to 40 digits: far beyond a 64-bit integer. PostgreSQL refuses such a
product ("bigint out of range") and SQLite silently turns it into a float, which loses the cents.
``exact_product`` cuts each factor into chunks small enough that every partial product fits in 18
digits, and returns the partial products as terms at their own scales (``[(expression, scale)]``),
each split again so that summing a column over millions of rows stays far below 2⁶³. The terms add
up to the exact product; ``Measure(facts, "sum", columns, scales)`` sums each column and Python adds
them in ``Decimal``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, literal, type_coerce

__all__ = ["UNIT_SCALE", "exact_product"]

UNIT_SCALE = 4
"""The scale of the column collecting whole ten-thousandths (money's scale)."""
_SLICE = 10  # digits below the unit scale per remainder column: a column's sum over 9·10⁸ rows still fits


def _int(value: int) -> Any:
    return literal(value, BigInteger())


def _raw(expr: Any) -> Any:
    return type_coerce(expr, BigInteger())


def _chunks(expr: Any, digits: int, size: int) -> list[tuple[Any, int]]:
    """``expr`` as chunks of ``size`` digits, least significant first: ``[(chunk, position)]``.

    SQL integer division truncates toward zero and ``%`` keeps the dividend's sign on both backends, so
    ``x == Σ chunk · 10^(size·position)`` holds for negative numbers too.
    """
    count = max(1, math.ceil(digits / size))
    parts = []
    for position in range(count):
        shifted = expr if position == 0 else expr // _int(10 ** (size * position))
        chunk = shifted if position == count - 1 else shifted % _int(10**size)
        parts.append((chunk, position))
    return parts


def exact_product(factors: Sequence[tuple[Any, int, int]]) -> list[tuple[Any, int]]:
    """Terms ``(integer expression, scale)`` whose sum is exactly the product of ``factors``.

    Each factor is ``(integer expression, scale, digits)``: a scaled integer (``12.5`` at scale 4 is
    ``125000``) whose absolute value is below ``10**digits``. Every term of every row is below 10¹⁸,
    and the columns of scale above ``UNIT_SCALE`` hold at most ``10**10`` each, so that a column's sum
    never overflows where the product itself fits money's range. The first term is always the one at
    ``UNIT_SCALE``.
    """
    if not factors:
        raise ValueError("a product needs at least one factor")
    if len(factors) == 1:
        expr, scale, _ = factors[0]
        return [(_raw(expr), scale)]
    size = 18 // len(factors)
    chunked = [_chunks(_raw(expr), digits, size) for expr, _, digits in factors]
    total_scale = sum(scale for _, scale, _ in factors)
    groups: dict[int, Any] = {}
    for combination in itertools.product(*chunked):
        term = combination[0][0]
        for chunk, _ in combination[1:]:
            term = term * chunk
        scale = total_scale - size * sum(position for _, position in combination)
        groups[scale] = term if scale not in groups else groups[scale] + term
    units: Any = None
    exact_units: list[Any] = []  # a partial product landing on the unit scale: a column of its own
    by_scale: dict[int, Any] = {}
    for scale, term in sorted(groups.items()):
        if scale == UNIT_SCALE:
            exact_units.append(term)
        elif scale < UNIT_SCALE:
            by_scale[scale] = term  # a whole number of 10^-scale: its column's sum is bounded by the money it is
        else:
            whole = term // _int(10 ** (scale - UNIT_SCALE))
            units = whole if units is None else units + whole
            top = UNIT_SCALE
            while top < scale:
                step = min(_SLICE, scale - top)
                piece = (term // _int(10 ** (scale - top - step))) % _int(10**step)
                by_scale[top + step] = piece if top + step not in by_scale else by_scale[top + step] + piece
                top += step
    first = [units, *exact_units] if units is not None else exact_units
    return [(_raw(expr), UNIT_SCALE) for expr in first] + [
        (_raw(expr), scale) for scale, expr in sorted(by_scale.items())
    ]
