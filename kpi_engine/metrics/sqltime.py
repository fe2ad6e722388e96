"""Portable SQL about time: whole seconds between two UTC time stamps, and a period's bounds as filters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, and_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

if TYPE_CHECKING:  # pragma: no cover
    from .declaration import MetricContext

__all__ = ["seconds_between", "within", "within_days"]


class seconds_between(FunctionElement[int]):
    """Whole seconds from ``start`` to ``end`` (both truncated to the second), as an integer on every backend."""

    type = BigInteger()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_default(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(CAST(EXTRACT(EPOCH FROM date_trunc('second', {compiler.process(end, **kw)})) AS BIGINT)"
        f" - CAST(EXTRACT(EPOCH FROM date_trunc('second', {compiler.process(start, **kw)})) AS BIGINT))"
    )


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(CAST(strftime('%s', {compiler.process(end, **kw)}) AS INTEGER)"
        f" - CAST(strftime('%s', {compiler.process(start, **kw)}) AS INTEGER))"
    )


def within(column: Any, ctx: MetricContext) -> Any:
    """``start <= column < end`` for a UTC time-stamp column (sargable)."""
    return and_(column >= ctx.start, column < ctx.end)


def within_days(column: Any, ctx: MetricContext) -> Any:
    """``start <= column < end`` for a calendar-day column, in the period's own days."""
    return and_(column >= ctx.period.start, column < ctx.period.end)
