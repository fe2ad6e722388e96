"""Traces written when they are read: a rule decides an amount at once and explains it on demand.

Working out why a person earns what they earn (the inputs, the tier lines, the sentences) costs
several times what the amount itself costs. A rule type may therefore return its amount with a
``LazyTrace``: a mapping that runs the rule's explanation the first time anything reads it, and
keeps the result. Saving a run reads every trace, so every saved line carries its full trace; a
plan test or a simulation that looks only at amounts never pays for the sentences.

The explanation must be computable from what the rule had when it decided: the same context,
the same config, the same person. It runs at most once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["LazyTrace", "merged_trace"]


class LazyTrace(Mapping[str, Any]):
    """A trace mapping computed by ``render(*args)`` the first time it is read."""

    __slots__ = ("_args", "_data", "_render")

    def __init__(self, render: Callable[..., Mapping[str, Any]], *args: Any) -> None:
        self._render: Callable[..., Mapping[str, Any]] | None = render
        self._args: tuple[Any, ...] = args
        self._data: dict[str, Any] | None = None

    @property
    def rendered(self) -> bool:
        """Whether the trace has been worked out already."""
        return self._data is not None

    def _resolve(self) -> dict[str, Any]:
        if self._data is None:
            assert self._render is not None
            data = self._render(*self._args)
            self._data = dict(data.items()) if isinstance(data, LazyTrace) else dict(data)
            self._render, self._args = None, ()  # what it was computed from can go
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._resolve()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolve())

    def __len__(self) -> int:
        return len(self._resolve())

    def __contains__(self, key: object) -> bool:
        return key in self._resolve()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._resolve() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping, compared by content

    def __repr__(self) -> str:
        return f"LazyTrace({self._resolve()!r})" if self.rendered else "LazyTrace(<not yet rendered>)"


def _merge(first: Mapping[str, Any], trace: Mapping[str, Any], last: Mapping[str, Any]) -> dict[str, Any]:
    return {**first, **(trace._resolve() if isinstance(trace, LazyTrace) else trace), **last}


def merged_trace(
    first: Mapping[str, Any], trace: Mapping[str, Any], last: Mapping[str, Any] | None = None
) -> Mapping[str, Any]:
    """``{**first, **trace, **last}``, still unrendered when ``trace`` is a ``LazyTrace`` that nobody has read."""
    if isinstance(trace, LazyTrace) and not trace.rendered:
        return LazyTrace(_merge, first, trace, last or {})
    return _merge(first, trace, last or {})
