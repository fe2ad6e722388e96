"""What-if: a draft plan evaluated over past periods in memory, set against what the plan in force paid.

Nothing is written: the draft's periods are evaluated in one read-only transaction that is rolled
back, and its lines live only in memory (a draft that carries state from period to period, a draw's
balance or a hold, reads its own earlier periods of the window there, and the real plan's saved
periods before it). So a what-if is never seen by ``kpi outcomes``, ``kpi period`` or the ledger,
however its plan id and version are set.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from ..errors import EvaluationError, PeriodError
from ..periods import Period, parse_period
from ..plans.files import load_plan_for
from ..plans.model import LoadedPlan
from ..registry import Registry, get_registry
from ..store import schema as s
from ..store.database import Store
from ..store.runs import Outcome, runs_of_plan
from .collector import collector_paused
from .contract import RuleResult
from .facts import SharedFacts, StoreFacts
from .runner import run_rules

__all__ = ["WhatIf", "WhatIfLine", "periods_between", "whatif"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class WhatIfLine:
    """One person over the window: what the plan in force paid, what the draft would have paid."""

    person_id: str
    name: str
    current: Decimal
    draft: Decimal

    @property
    def difference(self) -> Decimal:
        return self.draft - self.current


@dataclass(frozen=True)
class WhatIf:
    """A draft against the plan in force over some periods, per person and in total."""

    draft: str
    against: str
    periods: list[str]
    currency: str
    lines: list[WhatIfLine]
    current_from: dict[str, str]  # period -> "saved run <id>" or "computed"

    @property
    def current_total(self) -> Decimal:
        return sum((line.current for line in self.lines), ZERO)

    @property
    def draft_total(self) -> Decimal:
        return sum((line.draft for line in self.lines), ZERO)

    def winners(self, n: int = 5) -> list[WhatIfLine]:
        return [x for x in sorted(self.lines, key=lambda x: (-x.difference, x.person_id)) if x.difference > 0][:n]

    def losers(self, n: int = 5) -> list[WhatIfLine]:
        return [x for x in sorted(self.lines, key=lambda x: (x.difference, x.person_id)) if x.difference < 0][:n]


def periods_between(text: str, grain: str) -> list[Period]:
    """``2026-01..2026-11`` (two periods of the plan's grain, in order) or one period, as the list it spans."""
    first_text, sep, last_text = text.partition("..")
    if sep:
        try:
            first, last = parse_period(first_text), parse_period(last_text)
        except PeriodError:
            first = last = parse_period(text)  # a range of days
    else:
        first = last = parse_period(text)
    if first.grain != last.grain or first.start > last.start:
        raise PeriodError(f"{text!r} is not a span of periods: write FIRST..LAST, e.g. 2026-01..2026-11.")
    if first.grain != grain and grain != "range":
        raise PeriodError(
            f"the draft pays by {grain}; {text!r} is not a span of {grain}s.", hint="e.g. --periods 2026-01..2026-11"
        )
    periods = [last]
    while periods[-1].start > first.start and len(periods) < 240:
        periods.append(periods[-1].previous())
    return list(reversed(periods))


class _ScratchFacts(StoreFacts):
    """The store's facts for a draft, its own earlier periods of the window answered from memory.

    A period's lines are kept by rule, their traces as JSON text (as a run saves them): a year of a
    large company's lines as Python objects took gigabytes."""

    def __init__(self, conn: Connection, loaded: LoadedPlan, registry: Registry, shared: SharedFacts) -> None:
        super().__init__(conn, loaded, registry, shared)
        self.memory: dict[str, dict[str, list[_Kept]]] = {}

    def keep(self, period: Period, lines: Sequence[Outcome]) -> None:
        by_rule: dict[str, list[_Kept]] = defaultdict(list)
        for o in lines:
            trace = json.dumps(dict(o.trace), default=str)
            by_rule[o.rule_id].append(_Kept(o.person_id, o.amount, trace, o.kind, o.status, o.attention))
        self.memory[period.label] = dict(by_rule)

    def history(self, rule: str, period: Period) -> Sequence[RuleResult]:
        if period.label in self.memory:
            return [kept.result() for kept in self.memory[period.label].get(rule, ())]
        return super().history(rule, period)

    def history_of(self, rule: str, period: Period, people: Iterable[str]) -> Sequence[RuleResult]:
        if period.label in self.memory:
            wanted = set(people)
            return [k.result() for k in self.memory[period.label].get(rule, ()) if k.person_id in wanted]
        return super().history_of(rule, period, people)


class _Kept(NamedTuple):
    person_id: str
    amount: Decimal | None
    trace: str
    kind: str
    status: str | None
    attention: bool

    def result(self) -> RuleResult:
        return RuleResult(self.person_id, self.amount, json.loads(self.trace), self.kind, self.status, self.attention)


def _paid(lines: Iterable[Any]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.kind == "payout" and line.amount is not None:
            totals[line.person_id] += line.amount
    return totals


def whatif(
    store: Store,
    draft: LoadedPlan,
    periods: Sequence[Period],
    *,
    against: LoadedPlan | str | Path | None = None,
    registry: Registry | None = None,
) -> WhatIf:
    """Evaluate ``draft`` for ``periods`` in memory and set it against the plan in force (``against``,
    default the plan with the draft's id in ``rules/``): its saved runs where they exist, else computed."""
    registry = registry or get_registry()
    if not periods:
        raise EvaluationError("a what-if needs at least one period.")
    draft_totals: dict[str, Decimal] = defaultdict(Decimal)
    current_totals: dict[str, Decimal] = defaultdict(Decimal)
    current_from: dict[str, str] = {}
    against_id = against.id if isinstance(against, LoadedPlan) else str(against or draft.id)
    with store.snapshot() as conn, collector_paused():  # one state read throughout, nothing written
        shared = SharedFacts()
        scratch = _ScratchFacts(conn, draft, registry, shared)
        saved = runs_of_plan(conn, against_id)
        for period in periods:
            if not draft.in_force(period):
                raise EvaluationError(
                    f"the draft {draft.id!r} version {draft.plan.version} is not in force in {period.label}.",
                    hint="check its effective dates or the periods asked for",
                )
            _, lines = run_rules(draft, period, scratch, registry)
            scratch.keep(period, lines)
            for person, amount in _paid(lines).items():
                draft_totals[person] += amount
            if period.label in saved:
                run_id = saved[period.label][0]
                o = s.outcomes
                rows = conn.execute(select(o.c.person_id, o.c.kind, o.c.amount).where(o.c.run_id == run_id)).all()
                current_from[period.label] = f"saved run {run_id}"
                paid = _paid(rows)
            else:
                current = (
                    against
                    if isinstance(against, LoadedPlan)
                    else load_plan_for(against or draft.id, period, registry=registry)
                )
                paid = _paid(run_rules(current, period, StoreFacts(conn, current, registry, shared), registry)[1])
                current_from[period.label] = "computed"
            for person, amount in paid.items():
                current_totals[person] += amount
        names = {row.id: row.name for row in conn.execute(select(s.people.c.id, s.people.c.name))}
    people = sorted(p for p in set(draft_totals) | set(current_totals) if draft_totals.get(p) or current_totals.get(p))
    return WhatIf(
        draft=f"{draft.id} {draft.plan.version} ({draft.path})",
        against=against_id,
        periods=[p.label for p in periods],
        currency=draft.plan.currency,
        lines=[WhatIfLine(p, names.get(p, p), current_totals.get(p, ZERO), draft_totals.get(p, ZERO)) for p in people],
        current_from=current_from,
    )
