"""Posting a closed period's run to the ledger: each money line once, under a key naming what it pays.

A line's **entry key** names the economic event, not the run: ``plan|period|rule|person|kind|n`` for
what a rule earned (``n`` counts a rule's lines of one kind for one person), ``plan|release|…`` for a
hold paid after review, ``plan|clawback|…|table:record`` for what a finding took back,
``<key>#adj@<paid>`` for a prior-period adjustment of ``<key>``. Keys are unique in the ledger, so
whatever is evaluated, closed or exported again, an amount is posted once.

Closing reconciles the run with the ledger: a line whose key another period has already posted
means the run was computed before that posting (it is stale: evaluate again); a period closed,
reopened and closed again posts only the differences (``<key>#r<n>``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from ..errors import PayCycleError
from ..money import money_text
from ..store import schema as s
from ..trace import TraceView

__all__ = [
    "ADJUSTMENT",
    "LEDGER_KINDS",
    "PAYABLE",
    "EntryLine",
    "PostSummary",
    "base_key",
    "lines_of_run",
    "outcome_rows",
    "post_lines",
    "posting_identity",
]

PAYABLE = frozenset({"earning", "release", "clawback", "adjustment", "draw_advance", "draw_recovery"})
"""Kinds of entry that are paid; a ``hold`` is recorded but not paid, a ``payment`` settles what was."""
LEDGER_KINDS = PAYABLE | {"hold", "payment"}
ADJUSTMENT = "adjustment"
MONEY_LINE_KINDS = ("payout", "held")


@dataclass(frozen=True)
class EntryLine:
    """What one money line of a run posts."""

    key: str
    kind: str
    component: str
    person_id: str
    rule_id: str
    period_earned: str
    amount: Decimal
    currency: str
    outcome_id: int | None
    corrects: str | None
    description: str


@dataclass(frozen=True)
class PostSummary:
    """What closing posted: entries, their total by kind, and corrections of an earlier close."""

    entries: int
    corrections: int
    by_kind: Mapping[str, Decimal]


def base_key(key: str) -> str:
    """The event an entry is about, without its correction or adjustment suffix."""
    return key.split("#", 1)[0]


def _kind(kind: str, ledger_kind: str | None) -> str:
    if kind == "held":
        return "hold"
    return ledger_kind if ledger_kind in LEDGER_KINDS else "earning"


def _key(plan_id: str, period: str, rule: str, person: str, kind: str, trace: TraceView, n: int) -> str:
    if (released := trace.released_hold) is not None:
        return f"{plan_id}|release|{rule}|{person}|{released.get('period')}"
    if (back := trace.clawback) is not None and back.get("finding"):
        return f"{plan_id}|clawback|{rule}|{person}|{back.get('table')}:{back.get('record_id')}"
    if (prior := trace.prior_period) is not None:
        return f"{prior['key']}#adj@{prior['paid']}"
    return f"{plan_id}|{period}|{rule}|{person}|{kind}|{n}"


def _earned_in(trace: TraceView, period: str) -> str:
    """The period a line pays for: a release, the hold's; an adjustment, the period corrected; else its own."""
    if (released := trace.released_hold) is not None:
        return str(released.get("period"))
    if (prior := trace.prior_period) is not None:
        return prior["period"]
    return period


POSTING_TRACE_KEYS = ("explanation", "released_hold", "clawback", "prior_period")
"""What posting reads of a line's trace; ``outcome_rows`` reads only these (a trace may be large)."""


def outcome_rows(conn: Connection, run_id: str) -> Sequence[Any]:
    """A run's outcome rows as ``lines_of_run`` reads them, in order, with only the trace keys posting needs."""
    o = s.outcomes
    parts = [o.c.trace[key].label(key) for key in POSTING_TRACE_KEYS]
    return conn.execute(
        select(o.c.id, o.c.person_id, o.c.rule_id, o.c.kind, o.c.amount, o.c.currency, o.c.ledger_kind, o.c.component)
        .add_columns(*parts)
        .where(o.c.run_id == run_id, o.c.kind.in_(sorted(MONEY_LINE_KINDS)), o.c.amount.is_not(None))
        .order_by(o.c.id)
    ).all()


def lines_of_run(plan_id: str, period: str, rows: Iterable[Any]) -> list[EntryLine]:
    """The entry lines of a run's outcome rows (``id, person_id, rule_id, kind, amount, currency,
    ledger_kind, component`` and the ``POSTING_TRACE_KEYS``, or the whole ``trace``), in their order;
    lines without an amount or of another kind post nothing."""
    count: dict[tuple[str, str, str], int] = defaultdict(int)
    lines: list[EntryLine] = []
    for row in rows:
        if row.kind not in MONEY_LINE_KINDS or not row.amount:
            continue  # no money, nothing to post
        trace = getattr(row, "trace", None)
        if trace is None:
            trace = {key: value for key in POSTING_TRACE_KEYS if (value := getattr(row, key)) is not None}
        view = TraceView(trace)
        kind = _kind(row.kind, row.ledger_kind)
        n = count[(row.rule_id, row.person_id, kind)]
        count[(row.rule_id, row.person_id, kind)] += 1
        prior = view.prior_period
        lines.append(
            EntryLine(
                key=_key(plan_id, period, row.rule_id, row.person_id, kind, view, n),
                kind=ADJUSTMENT if prior is not None else kind,
                component=row.component or row.rule_id,
                person_id=row.person_id,
                rule_id=row.rule_id,
                period_earned=_earned_in(view, period),
                amount=row.amount,
                currency=row.currency or "",
                outcome_id=getattr(row, "id", None),
                corrects=prior["period"] if prior is not None else None,
                description=(" ".join(view.explanation) or f"{row.rule_id} of {plan_id} for {period}")[:2000],
            )
        )
    return lines


def posting_identity(key: str) -> str:
    """An entry's key without the ``#r<n>`` of a correction made when a reopened period closed again."""
    head, sep, tail = key.rpartition("#r")
    return head if sep and tail.isdigit() else key


def _posted_elsewhere(conn: Connection, period: str, keys: Sequence[str]) -> list[str]:
    """The keys among ``keys`` that a period other than ``period`` has posted."""
    e = s.ledger_entries
    found: set[str] = set()
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            conn.execute(select(e.c.entry_key).where(e.c.entry_key.in_(chunk), e.c.period_posted != period)).scalars()
        )
    return sorted(found)


def post_lines(
    conn: Connection,
    *,
    plan_id: str,
    period: str,
    run_id: str,
    lines: Sequence[EntryLine],
    by: str,
    now: datetime,
) -> PostSummary:
    """Post a closing period's lines, reconciled with what this period posted before (a reopened period).

    Raises ``PayCycleError`` when another period has already posted one of the lines' events: the run
    was computed before that posting and must be evaluated again.
    """
    e = s.ledger_entries
    stale = _posted_elsewhere(conn, period, [line.key for line in lines])
    if stale:
        raise PayCycleError(
            f"the run of {plan_id} for {period} pays {len(stale)} line(s) that another period has posted already "
            f"(the first: {stale[0]}); it was computed before that period was closed.",
            hint=f"evaluate {plan_id} for {period} again, then approve and close it",
        )
    earlier = conn.execute(select(e).where(e.c.plan_id == plan_id, e.c.period_posted == period).order_by(e.c.id)).all()
    posted_here: dict[str, Decimal] = defaultdict(Decimal)
    revisions: dict[str, int] = defaultdict(int)
    first_of: dict[str, Any] = {}
    for row in earlier:
        identity = posting_identity(row.entry_key)
        posted_here[identity] += row.amount
        if identity != row.entry_key:  # a correction: keys count up from #r1
            revisions[identity] = max(revisions[identity], int(row.entry_key.rpartition("#r")[2]))
        first_of.setdefault(identity, row)
    rows: list[dict[str, Any]] = []
    by_kind: dict[str, Decimal] = defaultdict(Decimal)
    corrections = 0
    base = {"plan_id": plan_id, "period_posted": period, "run_id": run_id, "posted_by": by, "posted_at": now}

    def add(line: EntryLine, entry_key: str, amount: Decimal, description: str) -> None:
        rows.append(
            {
                **base,
                "entry_key": entry_key,
                "kind": line.kind,
                "component": line.component,
                "person_id": line.person_id,
                "rule_id": line.rule_id,
                "period_earned": line.period_earned,
                "amount": amount,
                "currency": line.currency,
                "outcome_id": line.outcome_id,
                "corrects": line.corrects,
                "description": description[:2000],
            }
        )
        by_kind[line.kind] += amount

    for line in lines:
        if line.key not in posted_here:
            add(line, line.key, line.amount, line.description)
            continue
        difference = line.amount - posted_here[line.key]
        if difference:  # a reopened period closed again: post the difference
            revisions[line.key] += 1
            corrections += 1
            add(
                line,
                f"{line.key}#r{revisions[line.key]}",
                difference,
                f"Correction after {period} was reopened: {money_text(line.amount)} now, "
                f"{money_text(posted_here[line.key])} posted before. {line.description}",
            )
    now_keys = {line.key for line in lines}
    for identity, amount in posted_here.items():
        if identity in now_keys or not amount:
            continue
        was = first_of[identity]
        revisions[identity] += 1
        corrections += 1
        gone = EntryLine(
            key=identity,
            kind=was.kind,
            component=was.component,
            person_id=was.person_id,
            rule_id=was.rule_id or "",
            period_earned=was.period_earned,
            amount=-amount,
            currency=was.currency,
            outcome_id=None,
            corrects=was.corrects,
            description="",
        )
        add(
            gone,
            f"{identity}#r{revisions[identity]}",
            -amount,
            f"Correction after {period} was reopened: the line is gone.",
        )
    if rows:
        conn.execute(e.insert(), rows)
    return PostSummary(entries=len(rows), corrections=corrections, by_kind=dict(by_kind))
