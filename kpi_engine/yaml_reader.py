"""YAML that keeps exact numbers and remembers where each value was written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Located", "load_located"]


class _ExactLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals: ``0.05`` stays exactly 0.05."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


class Located:
    """A parsed YAML document plus the (line, column) of every key path, 1-based."""

    def __init__(self, data: Any, marks: dict[tuple[Any, ...], tuple[int, int]], path: str) -> None:
        self.data = data
        self.marks = marks
        self.path = path

    def where(self, loc: tuple[Any, ...]) -> tuple[int, int]:
        """The closest known position for a key path (walks up to the parent if needed)."""
        loc = tuple(loc)
        while loc and loc not in self.marks:
            loc = loc[:-1]
        return self.marks.get(loc, (1, 1))


def _walk(node: yaml.Node, prefix: tuple[Any, ...], marks: dict[tuple[Any, ...], tuple[int, int]]) -> None:
    marks.setdefault(prefix, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, key.value)
            marks[path] = (key.start_mark.line + 1, key.start_mark.column + 1)
            _walk(value, path, marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*prefix, index), marks)


def load_located(text: str, path: str | Path = "<plan>") -> Located:
    """Parse YAML safely (no Python tags), with exact decimals and key positions."""
    loader = _ExactLoader(text)
    try:
        node = loader.get_single_node()
        marks: dict[tuple[Any, ...], tuple[int, int]] = {}
        if node is not None:
            _walk(node, (), marks)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return Located(data, marks, str(path))
