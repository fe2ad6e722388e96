"""A plan's YAML with the position of every key and value, down to a column inside a formula string."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import PlanError
from ..yaml_reader import Located, YAMLRefused, load_located, problem_at

__all__ = ["PlanSource", "read_plan_source"]

_ESCAPE_WIDTH = {"x": 4, "u": 6, "U": 10}


class PlanSource(Located):
    """A parsed plan: its data, key positions (``where``) and value nodes (for columns inside strings)."""

    def __init__(self, located: Located, text: str) -> None:
        super().__init__(located.data, located.marks, located.path, located.nodes)
        self.text = text
        self.values = located.nodes

    def value_at(self, loc: tuple[Any, ...]) -> tuple[int, int]:
        """Where the value of ``loc`` starts (the key's position when the value is not known)."""
        node = self.values.get(tuple(loc))
        if node is None:
            return self.where(loc)
        return node.start_mark.line + 1, node.start_mark.column + 1

    def inside(self, loc: tuple[Any, ...], offset: int) -> tuple[int, int]:
        """The line and column of character ``offset`` (0-based) of the string value at ``loc``.

        Quotes, escapes (``''``, ``\\"``) and folded lines are accounted for, so a caret lands on
        the character HR wrote, not on where it would be in the unquoted string.
        """
        node = self.values.get(tuple(loc))
        if not isinstance(node, yaml.ScalarNode):
            return self.value_at(loc)
        return _scalar_position(self.text, node, max(offset, 0))


def _scalar_position(text: str, node: yaml.ScalarNode, offset: int) -> tuple[int, int]:
    start, end = node.start_mark, node.end_mark
    style = node.style
    if style in ("|", ">"):
        return _block_position(text, node, offset)
    source = text[start.index : end.index]
    line, col = start.line + 1, start.column + 1
    i = 0
    if style in ("'", '"'):
        i, col = 1, col + 1
    remaining = offset
    at_line_start = False
    while i < len(source) and remaining > 0:
        ch = source[i]
        if ch == "\n":
            # A line break inside a flow scalar folds to one space; the next line's indentation is skipped.
            remaining -= 1
            line, col, i = line + 1, 1, i + 1
            at_line_start = True
            continue
        if at_line_start and ch in " \t":
            i, col = i + 1, col + 1
            continue
        at_line_start = False
        width = 1
        if style == "'" and source.startswith("''", i):
            width = 2
        elif style == '"' and ch == "\\" and i + 1 < len(source):
            width = _ESCAPE_WIDTH.get(source[i + 1], 2)
        i, col, remaining = i + width, col + width, remaining - 1
    while at_line_start and i < len(source) and source[i] in " \t":
        i, col = i + 1, col + 1
    return line, col


def _block_position(text: str, node: yaml.ScalarNode, offset: int) -> tuple[int, int]:
    """Literal (``|``) and folded (``>``) scalars: content starts on the line after the indicator."""
    lines = text[node.start_mark.index : node.end_mark.index].split("\n")[1:]
    first = node.start_mark.line + 2
    content = [ln for ln in lines if ln.strip()]
    indent = min((len(ln) - len(ln.lstrip(" ")) for ln in content), default=0)
    remaining = offset
    for n, raw in enumerate(lines):
        body = raw[indent:] if raw.strip() else ""
        if remaining <= len(body):
            return first + n, indent + remaining + 1
        remaining -= len(body) + 1
    return first, indent + 1


def yaml_problem(exc: yaml.YAMLError, path: str | Path, text: str = "") -> PlanError:
    """A YAML syntax error (or a character no YAML file may hold) as a located ``PlanError``."""
    line, column, problem = problem_at(exc, text)
    message = f"{path}:{line}:{column}: the plan is not valid YAML: {problem}."
    return PlanError(
        message, hint="check indentation and quotes", problems=[f"{message} Hint: check indentation and quotes"]
    )


def read_plan_source(text: str, path: str | Path = "<plan>") -> PlanSource:
    """Parse a plan's text safely (no Python tags), keeping positions; YAML errors become ``PlanError``."""
    try:
        located = load_located(text, path)
    except yaml.YAMLError as exc:
        raise yaml_problem(exc, path, text) from None
    except YAMLRefused as exc:
        raise PlanError(
            f"{path}:1:1: the plan is refused: {exc}.", hint="a plan is a short file of plain keys"
        ) from None
    except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:
        # e.g. a scalar tagged !!float that is not a number, or a document nested absurdly deep
        raise PlanError(
            f"{path}:1:1: the plan cannot be read: {exc}.", hint="check the values written with YAML tags (!!)"
        ) from None
    return PlanSource(located, text)
