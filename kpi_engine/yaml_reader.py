"""YAML that keeps exact numbers, remembers where each key and value was written, and cannot be made to explode.

Every YAML input of the engine (plans, their test files, custom metrics, column, source and payroll
mappings) is read here: with PyYAML's safe loader (no Python tags), floats as ``Decimal`` from their
text (``0.05`` stays exactly 0.05), and the position of every key path, so that a problem is reported
at its line and column.

YAML is untrusted input, and three things bound the work it can ask for:

- **size**: at most ``MAX_BYTES`` (1 MiB; the largest example plan is 12 KiB). A file is measured
  before it is read, so a 100 MB file is refused without reading it;
- **aliases**: ``&anchor`` and ``*alias`` may share a value, but the document as it expands may hold
  at most ``MAX_VALUES`` values (a "billion laughs" file of a few hundred bytes expands to billions);
  each shared node is walked once;
- **depth**: at most ``MAX_DEPTH`` nested levels.

A refusal is ``YAMLRefused`` (a ``ValueError``) with one sentence; a file that is not YAML at all
(a NUL byte, a bad indentation) raises PyYAML's ``YAMLError``, which ``problem_at`` places at its
line and column. Callers turn both into their own errors naming the file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "Located",
    "YAMLRefused",
    "load_located",
    "problem_at",
    "read_yaml_text",
]

MAX_BYTES = 1 << 20
MAX_VALUES = 200_000
MAX_DEPTH = 64
_SPECIAL_FLOATS = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}


class YAMLRefused(ValueError):
    """A YAML input asks for more than the reader gives any file: too large, too deep, or expanding too far."""


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


def read_yaml_text(path: str | Path, *, encoding: str = "utf-8") -> str:
    """A YAML file's text, refused before it is read when it is larger than ``MAX_BYTES``.

    Raises ``OSError`` and ``UnicodeDecodeError`` as reading does, and ``YAMLRefused``."""
    file = Path(path)
    size = file.stat().st_size
    if size > MAX_BYTES:
        raise YAMLRefused(f"{file.name} is {size:,} bytes; a YAML file of this project is at most {MAX_BYTES:,}")
    with file.open("rb") as handle:
        raw = handle.read(MAX_BYTES + 1)  # a file growing while it is read is still held to the cap
    if len(raw) > MAX_BYTES:
        raise YAMLRefused(f"{file.name} is larger than {MAX_BYTES:,} bytes, the most a YAML file of this project holds")
    return raw.decode(encoding)


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once its aliases are expanded (each shared node counted once per use)."""
    sizes: dict[int, int] = {}
    order: list[yaml.Node] = []
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    seen: set[int] = set()
    while stack:  # a node's children before it, each node once, however often it is aliased
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise YAMLRefused(f"the document nests more than {MAX_DEPTH} levels deep")
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        if isinstance(node, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
    for node in reversed(order):
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(sizes.get(id(child), 1) for pair in node.value for child in pair)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(sizes.get(id(child), 1) for child in node.value)
        else:
            total = 1
        sizes[id(node)] = min(total, MAX_VALUES + 1)
    return sizes[id(root)]


def _walk(
    root: yaml.Node,
    marks: dict[tuple[Any, ...], tuple[int, int]],
    nodes: dict[tuple[Any, ...], yaml.Node],
) -> None:
    """Record where each key path was written; a node reached again through an alias is not walked again."""
    walked: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, prefix = stack.pop()
        marks.setdefault(prefix, (node.start_mark.line + 1, node.start_mark.column + 1))
        nodes.setdefault(prefix, node)
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                path = (*prefix, key.value)
                marks[path] = (key.start_mark.line + 1, key.start_mark.column + 1)
                stack.append((value, path))
        elif isinstance(node, yaml.SequenceNode):
            for index in reversed(range(len(node.value))):
                stack.append((node.value[index], (*prefix, index)))


def load_located(text: str, path: str | Path = "<plan>") -> Located:
    """Parse YAML safely (no Python tags), with exact decimals, key positions and value nodes.

    Raises PyYAML's ``YAMLError`` for a text that is not YAML, ``YAMLRefused`` for one too large, deep
    or expanding, and ``ValueError`` or ``ArithmeticError`` for a scalar tagged as a number that is not one.
    """
    if len(text) > MAX_BYTES or len(text.encode("utf-8")) > MAX_BYTES:
        raise YAMLRefused(f"the text is larger than {MAX_BYTES:,} bytes, the most a YAML file of this project holds")
    loader = _ExactLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YAMLRefused(f"the document nests more than {MAX_DEPTH} levels deep") from None
        marks: dict[tuple[Any, ...], tuple[int, int]] = {}
        nodes: dict[tuple[Any, ...], yaml.Node] = {}
        if node is not None:
            if _expanded_size(node) > MAX_VALUES:
                raise YAMLRefused(
                    f"the document expands to more than {MAX_VALUES:,} values through its aliases (&anchor, *alias)"
                )
            _walk(node, marks, nodes)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return Located(data, marks, str(path), nodes)


def problem_at(exc: yaml.YAMLError, text: str) -> tuple[int, int, str]:
    """Where a YAML error is (line and column, 1-based) and what it is, as one short phrase."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return line, column, f"a character no YAML file may hold ({character!r}, U+{ord(character):04X})"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return 1, 1, problem
    return mark.line + 1, mark.column + 1, problem
