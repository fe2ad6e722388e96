"""YAML that keeps exact numbers and remembers where each key and value was written.

Every YAML input of the engine (plans, custom metrics, column and source mappings) is read here:
with PyYAML's safe loader (no Python tags), floats as ``Decimal`` from their text (``0.05`` stays
exactly 0.05), and the position of every key path, so that a problem is reported at its line and
column.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Located", "load_located"]

_SPECIAL_FLOATS = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}


class _ExactLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals: ``0.05`` stays exactly 0.05."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    # YAML's infinities and not-a-number become Decimal's, which every amount refuses with a sentence
    # naming the key ("is not a finite number"), where Decimal(".inf") would raise ConversionSyntax.
    return Decimal(_SPECIAL_FLOATS.get(text.lower(), text))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


class Located:
    """A parsed YAML document: its data, the (line, column) of every key path (1-based) and its value nodes."""

    def __init__(
        self,
        data: Any,
        marks: dict[tuple[Any, ...], tuple[int, int]],
        path: str,
        nodes: dict[tuple[Any, ...], yaml.Node] | None = None,
    ) -> None:
        self.data = data
        self.marks = marks
        self.path = path
        self.nodes = nodes or {}

    def where(self, loc: tuple[Any, ...]) -> tuple[int, int]:
        """The closest known position for a key path (walks up to the parent if needed)."""
        loc = tuple(loc)
        while loc and loc not in self.marks:
            loc = loc[:-1]
        return self.marks.get(loc, (1, 1))


def _walk(
    node: yaml.Node,
    prefix: tuple[Any, ...],
    marks: dict[tuple[Any, ...], tuple[int, int]],
    nodes: dict[tuple[Any, ...], yaml.Node],
) -> None:
    marks.setdefault(prefix, (node.start_mark.line + 1, node.start_mark.column + 1))
    nodes[prefix] = node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, key.value)
            marks[path] = (key.start_mark.line + 1, key.start_mark.column + 1)
            _walk(value, path, marks, nodes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*prefix, index), marks, nodes)


def load_located(text: str, path: str | Path = "<plan>") -> Located:
    """Parse YAML safely (no Python tags), with exact decimals, key positions and value nodes.

    Raises PyYAML's ``YAMLError`` for a syntax error, and ``ValueError`` or ``ArithmeticError`` for a
    scalar tagged as a number that is not one; callers turn them into their own located errors.
    """
    loader = _ExactLoader(text)
    try:
        node = loader.get_single_node()
        marks: dict[tuple[Any, ...], tuple[int, int]] = {}
        nodes: dict[tuple[Any, ...], yaml.Node] = {}
        if node is not None:
            _walk(node, (), marks, nodes)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return Located(data, marks, str(path), nodes)
