"""``kpi rules try``: HR's formula playground."""

from __future__ import annotations

import sys
from decimal import Decimal

import click

from ..errors import ConfigurationError, FormulaError, KPIError
from ..formula.formula import Formula, compile_condition, compile_formula
from ..money import money_text, to_decimal
from .rules import rules

__all__ = ["COMMANDS", "parse_value", "try_formula"]

COMMANDS: list[click.Command] = []  # registered on the ``kpi`` group by kpi_engine.cli

_SUBJECT = "value"


def parse_value(text: str) -> Decimal | bool:
    """A value as HR types it: ``120000``, ``100,000``, ``12,500.00``, ``5%``, ``true``, ``false``."""
    word = text.strip().lower()
    if word in ("true", "yes"):
        return True
    if word in ("false", "no"):
        return False
    try:
        return to_decimal(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a number or true/false") from None


def _looks_like_condition(text: str) -> bool:
    start = text.lstrip()[:1]
    if start in ("<", ">", "=", "!", "["):
        return True
    if start == "(" and ".." in text:
        try:
            compile_formula(text)
        except FormulaError:
            return True
    return False


def try_formula(
    text: str, values: dict[str, Decimal | bool], *, condition: bool | None = None
) -> tuple[Formula, Decimal | bool]:
    """Compile ``text`` (a condition when asked, or when it starts with a comparison or an interval) and evaluate it."""
    if condition is None:
        condition = _looks_like_condition(text)
    formula = compile_condition(text, subject=_SUBJECT) if condition else compile_formula(text)
    missing = sorted(formula.keys - values.keys())
    if missing:
        needed = ", ".join(sorted(formula.keys))
        options = " ".join("--value X" if key == _SUBJECT and condition else f"--set {key}=..." for key in missing)
        raise ConfigurationError(
            f"the formula needs a value for {', '.join(missing)} (it uses {needed}).",
            hint=f"add {options}",
        )
    return formula, formula.evaluate(values)


def _shown(result: Decimal | bool) -> str:
    if isinstance(result, bool):
        return "true" if result else "false"
    return money_text(result.copy_abs() if result == 0 else result)


def _pointed(error: FormulaError) -> KPIError:
    """The error as one sentence, the formula with a caret under the fault, and the hint."""
    caret = "\n".join(f"  {line}" for line in error.caret().splitlines())
    return KPIError(f"{error.reason} at {error.location}.\n{caret}", hint=error.hint)


@rules.command("try")
@click.argument("formula")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="A value for a name: --set quota=100,000 --set rate=5% --set attainment[-1]=92%; repeatable.",
)
@click.option(
    "--condition",
    "as_condition",
    is_flag=True,
    help="Test a condition (>= 100%, [80%..100%), or any yes/no formula) against --value.",
)
@click.option("--value", metavar="X", help="The value a condition tests (e.g. an attainment: 95%).")
def try_(formula: str, settings: tuple[str, ...], as_condition: bool, value: str | None) -> None:
    """Evaluate FORMULA with the given values and print the result, or the error under its position.

    FORMULA '-' reads the formula from standard input; put -- before a formula that starts
    with a minus sign, after the options: kpi rules try --set bookings=100 -- '-bookings * 5%'.
    """
    text = sys.stdin.read() if formula == "-" else formula
    values: dict[str, Decimal | bool] = {}
    for item in settings:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(
                f"--set {item!r} is not NAME=VALUE.", hint="e.g. --set quota=100,000 or --set rate=5%"
            )
        try:
            values[name.strip()] = parse_value(raw)
        except ValueError as exc:
            raise ConfigurationError(
                f"--set {name.strip()}: {exc}.", hint="write a number (120000, 100,000, 12.5%) or true/false"
            ) from None
    if value is not None:
        try:
            values[_SUBJECT] = parse_value(value)
        except ValueError as exc:
            raise ConfigurationError(f"--value: {exc}.", hint="write a number (95%, 120000) or true/false") from None
    try:
        _, result = try_formula(text, values, condition=True if as_condition else None)
    except FormulaError as error:
        raise _pointed(error) from None
    click.echo(_shown(result))
