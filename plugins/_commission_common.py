"""Helpers shared by the commission, scorecard and bonus rule types (public ``kpi_engine`` API only)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from kpi_engine import (
    EvaluationError,
    Formula,
    FormulaError,
    RuleContext,
    TargetLevels,
    compile_formula,
    plain,
    to_decimal,
)

__all__ = [
    "LEVELS",
    "ZERO",
    "about",
    "formula_inputs",
    "level_value",
    "metric_value",
    "pairs",
    "percent",
    "percent_about",
    "run_formula",
    "shown",
    "simple_name",
]

ZERO = Decimal(0)
LEVELS = ("baseline", "target", "challenge")


def percent(rate: Decimal) -> str:
    """``0.05`` as ``5%``, ``0.125`` as ``12.5%``."""
    return f"{plain(rate * 100)}%"


def percent_about(rate: Decimal) -> str:
    """A share for reading: to 0.01 %, with ``≈`` when that dropped digits (the trace keeps the exact value)."""
    near = rate.quantize(Decimal("0.0001"))
    return percent(near) if near == rate else f"≈{percent(near)}"


def shown(value: Decimal | bool) -> str:
    """A value as a person reads it in a trace: ``12,500``, ``0.05``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = plain(value)
    whole, dot, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-') or 0):,}{dot}{fraction}"


def simple_name(formula: Formula) -> str | None:
    """The name when a formula is a single bare name (``bookings``), else ``None``."""
    text = formula.text.strip()
    return text if formula.names == frozenset({text}) and len(formula.references) == 1 else None


@lru_cache(maxsize=512)
def _name_formula(name: str) -> Formula:
    return compile_formula(name)


def _earlier(ctx: RuleContext, back: int) -> Any:
    period = ctx.period
    for _ in range(back):
        period = period.previous()
    return period


def run_formula(
    ctx: RuleContext, formula: Formula, person: str, extra: Mapping[str, Any] | None = None
) -> Decimal | bool:
    """Evaluate a plan formula for ``person``: rule-local names first, then the plan's names.

    The engine resolves the plan's names (metrics, aliases, targets, earlier rules' results,
    earlier periods) through ``ctx.formula``; a context built by hand resolves metric values,
    earlier rules' results and earlier periods' values itself.
    """
    local = {k: (v if isinstance(v, (bool, Decimal)) else to_decimal(v)) for k, v in (extra or {}).items()}
    if ctx.formula is not None:
        return ctx.formula(formula, person, local)
    env: dict[str, Decimal | bool] = {}
    for name, back in formula.references:
        if back == 0:
            if name in local:
                env[name] = local[name]
            elif name in ctx.values:
                env[name] = ctx.value(name, person)
            elif name in ctx.results:
                env[name] = ctx.results[name].get(person, ZERO)
        else:
            earlier = ctx.values_in(name, _earlier(ctx, back))
            if earlier:
                env[f"{name}[-{back}]"] = earlier.get(person, ZERO)
    return formula.evaluate(env)


def formula_inputs(
    ctx: RuleContext, formula: Formula, person: str, extra: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The value of each name a formula reads, as text for the trace (names that cannot be read are left out)."""
    found: dict[str, str] = {}
    for name, back in sorted(formula.references):
        key = name if back == 0 else f"{name}[-{back}]"
        try:
            value = run_formula(ctx, _name_formula(key), person, extra)
            found[key] = shown(value) if isinstance(value, bool) else plain(value)
        except FormulaError:
            continue
    return found


def pairs(inputs: Mapping[str, str]) -> str:
    """``new_customers = 1, bookings = 12,500``: a formula's inputs in a sentence."""
    return ", ".join(f"{k} = {v if v in ('true', 'false') else about(Decimal(v))}" for k, v in inputs.items())


def about(value: Decimal) -> str:
    """A number for reading: to six decimals, with ``≈`` when that dropped digits."""
    near = value.quantize(Decimal("0.000001"))
    return shown(value) if near == value else f"≈{shown(near)}"


def level_value(levels: TargetLevels | None, level: str) -> Decimal | None:
    """One of ``baseline``/``target``/``challenge`` of a person's target levels (``None`` when not set)."""
    if levels is None:
        return None
    value = getattr(levels, level)
    return None if value is None else Decimal(value)


def metric_value(ctx: RuleContext, name: str, person: str) -> Decimal:
    """A metric (or a plan name) for ``person`` this period.

    The engine's value, else the plan's formula for the name.
    """
    if name in ctx.values:
        return ctx.value(name, person)
    result = run_formula(ctx, _name_formula(name), person)
    if isinstance(result, bool):
        raise EvaluationError(
            f"{name!r} is a yes/no value, not a number to measure.",
            hint="measure a metric or a formula that computes a number",
        )
    return result
