"""Traces: what a rule says about each line, typed (``RuleTrace``), read by attribute, written when read.

A trace is a JSON-able mapping saved with its outcome line. ``RuleTrace`` names the keys the engine
understands (a rule type may add its own); the engine, ``kpi explain`` and the commands read them
through ``TraceView``, by attribute, so that a key is spelt in one place and checked by the type
checker.

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
from typing import Any, TypedDict

__all__ = [
    "ClawbackNote",
    "ExcludedNote",
    "HeldNote",
    "LazyTrace",
    "PriorPeriodNote",
    "RecordsRef",
    "ReleasedHold",
    "RuleTrace",
    "TraceView",
    "merged_trace",
]


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


# --- what a trace may hold: the keys the engine understands ----------------------------------------------


class RecordsRef(TypedDict):
    """The records behind a number: a table and the ids of its rows."""

    table: str
    ids: list[Any]


class HeldNote(TypedDict):
    """On a ``held`` line: the findings it waits for, the period held and why."""

    findings: list[str]
    period: str
    note: str


class ExcludedNote(TypedDict):
    """On a payout line: records a finding took out of the rule's measures."""

    finding: str
    check: str
    effect: str
    records: list[RecordsRef]
    reason: str


class ClawbackNote(TypedDict):
    """On a negative payout line: what a finding took back, from which record and period."""

    finding: str
    check: str
    table: str
    record_id: str
    paid_in: str


class ReleasedHold(TypedDict):
    """On a payout line: the hold of an earlier period it pays, after its findings were released."""

    period: str
    findings: list[str]


class PriorPeriodNote(TypedDict):
    """On a prior-period adjustment: the closed period, what it paid and what it would pay now."""

    period: str  # the closed period corrected
    key: str  # the ledger event corrected
    paid: str  # posted for it so far
    now: str  # what the closed period would pay now
    changes: list[dict[str, Any]]  # the loads that touched the period after it closed
    records: list[RecordsRef]  # the records the period's line is computed from now


class RuleTrace(TypedDict, total=False):
    """The keys of a trace the engine, ``kpi explain`` and the reports understand; all optional.

    A rule type writes the ones it has and may add its own (shown as details). The engine adds
    ``rule`` and, when it applies, ``proration`` and ``exact_amount``; findings' effects add the
    notes of the second group to the payout lines they act on.
    """

    rule: str
    rule_type: str
    explanation: str | list[str]  # a sentence or several
    inputs: dict[str, Any]  # name -> value text (a nested mapping is shown as name.key)
    lines: list[dict[str, Any]]  # the tiers or branches taken (from, to, basis, rate, amount …)
    records: RecordsRef | list[RecordsRef]
    skipped: str  # why no amount was computed
    proration: str  # how a target was prorated
    exact_amount: str  # a non-money amount before it was shortened to the store's places
    # a finding's line
    id: str
    check: str
    period: str
    severity: str
    effect: str
    affects: list[str]
    figures: dict[str, Any]
    effect_note: str
    # a payout line a finding acted on
    held: HeldNote
    excluded: list[ExcludedNote]
    excluded_changes: dict[str, str]
    excluded_note: str
    clawback: ClawbackNote
    released_hold: ReleasedHold
    prior_period: PriorPeriodNote


class TraceView:
    """A trace read by attribute through the keys of ``RuleTrace``: how the core reads any trace.

    Works on any trace mapping: a rule's fresh dict, a ``LazyTrace``, one decoded from the store. A
    key that is missing, or holds something of the wrong shape, reads as empty (``None``, ``[]``, ``{}``).
    """

    __slots__ = ("_trace",)

    def __init__(self, trace: Mapping[str, Any]) -> None:
        self._trace = trace

    def _text(self, key: str) -> str | None:
        value = self._trace.get(key)
        return None if value is None else str(value)

    def _mapping(self, key: str) -> Mapping[str, Any] | None:
        value = self._trace.get(key)
        return value if isinstance(value, Mapping) and value else None

    @property
    def data(self) -> Mapping[str, Any]:
        """The whole trace, for what the engine does not interpret."""
        return self._trace

    @property
    def rule_type(self) -> str | None:
        return self._text("rule_type")

    @property
    def explanation(self) -> list[str]:
        """The sentences, one or several."""
        value = self._trace.get("explanation")
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]

    @property
    def inputs(self) -> Mapping[str, Any]:
        return self._mapping("inputs") or {}

    @property
    def lines(self) -> list[Mapping[str, Any]]:
        value = self._trace.get("lines") or []
        return [line if isinstance(line, Mapping) else {"line": line} for line in value]

    @property
    def records(self) -> list[RecordsRef]:
        """The records behind the line, as a list (a trace may name one table or several)."""
        return _records(self._trace.get("records"))

    @property
    def skipped(self) -> str | None:
        return self._text("skipped")

    @property
    def proration(self) -> str | None:
        return self._text("proration")

    @property
    def finding_id(self) -> str | None:
        return self._text("id")

    @property
    def check(self) -> str | None:
        return self._text("check")

    @property
    def period(self) -> str | None:
        return self._text("period")

    @property
    def severity(self) -> str | None:
        return self._text("severity")

    @property
    def category(self) -> str:
        """A finding's kind: ``gaming`` (a signal of gaming) or ``process`` (a gap in how work is recorded)."""
        return self._text("category") or "gaming"

    @property
    def effect(self) -> str:
        return self._text("effect") or "flag"

    @property
    def affects(self) -> list[str]:
        return [str(a) for a in self._trace.get("affects") or ()]

    @property
    def figures(self) -> Mapping[str, Any]:
        return self._mapping("figures") or {}

    @property
    def effect_note(self) -> str | None:
        return self._text("effect_note")

    @property
    def held(self) -> HeldNote | None:
        return self._mapping("held")  # type: ignore[return-value]  # written by the engine as a HeldNote

    @property
    def excluded(self) -> list[ExcludedNote]:
        return [item for item in self._trace.get("excluded") or () if isinstance(item, Mapping)]  # type: ignore[misc]

    @property
    def excluded_changes(self) -> Mapping[str, str]:
        return self._mapping("excluded_changes") or {}

    @property
    def excluded_note(self) -> str | None:
        return self._text("excluded_note")

    @property
    def clawback(self) -> ClawbackNote | None:
        return self._mapping("clawback")  # type: ignore[return-value]  # written by the engine as a ClawbackNote

    @property
    def released_hold(self) -> ReleasedHold | None:
        return self._mapping("released_hold")  # type: ignore[return-value]  # written by the engine

    @property
    def prior_period(self) -> PriorPeriodNote | None:
        return self._mapping("prior_period")  # type: ignore[return-value]  # written by the engine


def _records(value: Any) -> list[RecordsRef]:
    if isinstance(value, Mapping):
        return [RecordsRef(table=str(value.get("table")), ids=list(value.get("ids", [])))]
    if isinstance(value, list):
        return [r for item in value for r in _records(item)]
    return []
