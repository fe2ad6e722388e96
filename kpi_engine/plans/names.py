"""The names a plan's formulas may use, what each one is, and the order its rules run in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from ..formula.formula import Formula

__all__ = ["NameKind", "PlanNames", "dependency_order", "formulas_in", "references_of"]

NameKind = Literal["local", "alias", "derived", "target", "span", "rule", "metric"]


def formulas_in(value: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every compiled formula inside a validated rule config, with the key path it was written at."""
    if isinstance(value, Formula):
        yield loc, value
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            yield from formulas_in(getattr(value, name), (*loc, info.alias or name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from formulas_in(item, (*loc, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from formulas_in(item, (*loc, index))


def references_of(formula: Any) -> set[tuple[str, int]]:
    """``(name, periods back)`` pairs a formula reads: ``bookings`` is ``(bookings, 0)``, ``bookings[-1]`` is
    ``(bookings, 1)``."""
    return {(str(name), int(back)) for name, back in formula.references}


@dataclass
class PlanNames:
    """What each name of a plan stands for: an alias of a metric, a derived formula, a target level, a rule."""

    aliases: dict[str, str] = field(default_factory=dict)  # name -> registered metric
    derived: dict[str, Any] = field(default_factory=dict)  # name -> compiled formula
    targets: dict[str, Any] = field(default_factory=dict)  # name -> TargetSpec
    spans: dict[str, Any] = field(default_factory=dict)  # name -> SpanSpec (another name over a longer span)
    rules: list[str] = field(default_factory=list)
    metrics: frozenset[str] = frozenset()  # registered metric names

    def kind(self, name: str) -> NameKind | None:
        if name in self.aliases:
            return "alias"
        if name in self.derived:
            return "derived"
        if name in self.targets:
            return "target"
        if name in self.spans:
            return "span"
        if name in self.rules:
            return "rule"
        if name in self.metrics:
            return "metric"
        return None

    def known(self) -> list[str]:
        return sorted({*self.aliases, *self.derived, *self.targets, *self.spans, *self.rules, *self.metrics})

    def base_metric(self, name: str) -> str | None:
        """The registered metric behind a name (itself, or what an alias or a target is bound to)."""
        if name in self.aliases:
            return self.aliases[name]
        if name in self.targets:
            return self.base_metric(self.targets[name].metric) or self.targets[name].metric
        return name if name in self.metrics else None

    def metrics_needed(self, names: Iterable[str]) -> set[str]:
        """Registered metrics behind ``names``, following derived formulas (each visited once)."""
        needed: set[str] = set()
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.derived:
                todo.extend(n for n, _ in references_of(self.derived[name]))
            elif name in self.spans:
                todo.append(self.spans[name].of)
            elif (base := self.base_metric(name)) is not None:
                needed.add(base)
        return needed


def dependency_order(order: list[str], needs: Mapping[str, set[str]]) -> tuple[list[str], list[str] | None]:
    """Rules sorted so each follows the rules it reads, plan order kept otherwise; and a cycle, if any.

    The cycle is returned as the rules on it, first repeated at the end (``a → b → a``).
    """
    done: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = placed
    path: list[str] = []

    def visit(rule: str) -> list[str] | None:
        if state.get(rule) == 2:
            return None
        if state.get(rule) == 1:
            return path[path.index(rule) :] + [rule]
        state[rule] = 1
        path.append(rule)
        for dep in [d for d in order if d in needs.get(rule, set())]:
            cycle = visit(dep)
            if cycle:
                return cycle
        path.pop()
        state[rule] = 2
        done.append(rule)
        return None

    for rule in order:
        cycle = visit(rule)
        if cycle:
            return order, cycle
    return done, None
