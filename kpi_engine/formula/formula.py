"""The plan formula language: compile HR's text once, evaluate it many times, safely.

``compile_formula("min(bookings, quota) * 5% + max(bookings - quota, 0) * 8%")`` reads the text
with a hand-written scanner and parser (never Python's ``eval``, ``exec`` or ``ast``), checks
types and caps, and returns an immutable ``Formula`` whose ``evaluate(env)`` runs nested
closures over exact ``Decimal`` arithmetic. See docs/formulas.md for the language.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from ..errors import FormulaError
from .compiler import ANY, BOOLEAN, Evaluator, compile_tree
from .parser import Name, Node, children, parse

__all__ = ["ConditionText", "Formula", "FormulaText", "FormulaValueError", "compile_condition", "compile_formula"]


class Formula:
    """A compiled formula or condition: immutable, hashable, safe to share between threads.

    ``references`` holds each name with how many periods back it looks (``attainment[-1]`` ->
    ``("attainment", 1)``); ``names`` the names read for the current period. ``evaluate`` takes
    the values by key: ``"bookings"`` for this period, ``"attainment[-1]"`` for earlier ones.
    """

    __slots__ = ("_run", "is_condition", "names", "references", "subject", "text")

    _run: Evaluator
    text: str
    references: frozenset[tuple[str, int]]
    names: frozenset[str]
    is_condition: bool
    subject: str | None

    def __init__(
        self, text: str, run: Evaluator, references: frozenset[tuple[str, int]], is_condition: bool, subject: str | None
    ) -> None:
        for slot, value in (
            ("text", text),
            ("_run", run),
            ("references", references),
            ("names", frozenset(name for name, back in references if back == 0)),
            ("is_condition", is_condition),
            ("subject", subject),
        ):
            object.__setattr__(self, slot, value)

    def evaluate(self, env: Mapping[str, Decimal | bool]) -> Decimal | bool:
        """The value for these inputs; a missing name or a fault raises ``FormulaError``."""
        return self._run(env)

    @property
    def keys(self) -> frozenset[str]:
        """The keys ``evaluate`` reads: ``bookings``, ``attainment[-1]`` ..."""
        return frozenset(name if not back else f"{name}[-{back}]" for name, back in self.references)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Formula cannot be changed; compile a new one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a Formula cannot be changed; compile a new one")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Formula):
            return NotImplemented
        return (self.text, self.is_condition, self.subject) == (other.text, other.is_condition, other.subject)

    def __hash__(self) -> int:
        return hash((self.text, self.is_condition, self.subject))

    def __repr__(self) -> str:
        kind = "condition" if self.is_condition else "formula"
        return f"<{kind} {self.text!r}>"

    def __str__(self) -> str:
        return self.text

    def __reduce__(self) -> tuple[Any, ...]:
        if self.subject is not None:
            return (_recompile_condition, (self.text, self.subject))
        return (compile_formula, (self.text,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _formula_from_config,
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="always"),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "description": "a formula, e.g. min(bookings, quota) * 5%"}


def compile_formula(text: str, *, names: Collection[str] | None = None) -> Formula:
    """Parse and compile ``text`` once; with ``names``, any other name is an error (with the nearest as a hint)."""
    if not isinstance(text, str):
        raise TypeError(f"a formula is text, not {type(text).__name__}")
    return _compiled(text, None if names is None else frozenset(names), None)


def compile_condition(text: str, *, subject: str = "value", names: Collection[str] | None = None) -> Formula:
    """A tier or trigger condition: ``>= 100%`` and ``[80%..100%)`` test ``subject``; anything else is a yes/no
    formula."""
    if not isinstance(text, str):
        raise TypeError(f"a condition is text, not {type(text).__name__}")
    return _compiled(text, None if names is None else frozenset(names), subject)


def _recompile_condition(text: str, subject: str) -> Formula:
    return compile_condition(text, subject=subject)


@lru_cache(maxsize=2048)
def _compiled(text: str, names: frozenset[str] | None, subject: str | None) -> Formula:
    tree = parse(text, names=names, subject=subject)
    run, kind = compile_tree(text, tree, want=BOOLEAN if subject is not None else ANY)
    return Formula(text, run, frozenset(_references(tree)), kind == BOOLEAN, subject)


def _references(root: Node) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            found.add((node.name, node.back))
        stack.extend(children(node))
    return found


# --- pydantic types for plan models -----------------------------------------------------


class FormulaValueError(ValueError):
    """A formula in a config model that does not compile, as the ``ValueError`` pydantic reports.

    Its text reads ``unknown function 'exec' at column 1. hint`` for anyone who prints the
    validation error; ``error`` is the ``FormulaError`` itself, so a plan checker places the problem
    at the formula's character from ``error.position`` without reading the text.
    """

    def __init__(self, error: FormulaError) -> None:
        hint = f". {error.hint}" if error.hint else ""
        super().__init__(f"{error.reason} at {error.location}{hint}")
        self.error = error


def _formula_from_config(value: Any) -> Formula:
    if isinstance(value, Formula):
        return value
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, Decimal)):
        value = f"{Decimal(value):f}"
    elif isinstance(value, float):
        raise ValueError(f"{value!r} is a binary float. write the number in quotes so it stays exact")  # noqa: TRY004
    if not isinstance(value, str):
        raise ValueError(f"a formula is text, not {type(value).__name__}")  # noqa: TRY004 - pydantic reports ValueErrors
    try:
        return compile_formula(value)
    except FormulaError as error:
        raise FormulaValueError(error) from error


def _condition_from_config(value: Any) -> Formula:
    if isinstance(value, Formula) and value.is_condition:
        return value
    if isinstance(value, bool):
        value = "true" if value else "false"
    if not isinstance(value, str):
        raise ValueError(f"a condition is text such as '>= 100%' or '[80%..100%)', not {type(value).__name__}")  # noqa: TRY004
    try:
        return compile_condition(value)
    except FormulaError as error:
        raise FormulaValueError(error) from error


FormulaText = Annotated[Formula, BeforeValidator(_formula_from_config)]
"""A formula in a config model: a string (or a bare number, a constant formula), compiled on validation."""
ConditionText = Annotated[Formula, BeforeValidator(_condition_from_config)]
"""A condition in a config model (``>= 100%``, ``[80%..100%)``, ``attainment[-1] < 80%``), compiled on validation."""
