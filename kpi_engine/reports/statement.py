"""Statements (销售人员提成单): per person and period, every line the ledger pays with its reason, and the
period's calculated lines that are not in the ledger yet.

The total of a statement is the ledger's: ``balances(ledger_entries(person, period))`` is what
``kpi ledger --person P --period M`` prints, and a statement adds up exactly those entries. A plan whose
period is not closed has no entries yet; its calculated lines are shown apart, marked as awaiting
approval, and are never added to the ledger's total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..ledger.entries import Balance, LedgerEntry, balances
from ..periods import Period
from ..trace import RecordsRef, TraceView
from .ladders import Ladder, ladder_of
from .period_data import PeriodData, PeriodLine, by_person
from .plan_texts import PlanTexts
from .records import RecordBook, RecordRow
from .roster import Member, Roster

__all__ = ["ScoreLine", "Statement", "StatementLine", "build_statements", "records_named"]

ZERO = Decimal(0)
MAX_RECORDS = 200  # per line: a statement lists the records behind a number, not a table dump


@dataclass(frozen=True)
class StatementLine:
    """One amount: posted in the ledger (``in_ledger``) or calculated and awaiting the period's close."""

    in_ledger: bool
    kind: str  # the ledger's kind: earning, hold, release, clawback, adjustment, draw_advance, draw_recovery, payment
    plan_id: str | None
    rule_id: str | None
    component: str
    period_earned: str
    corrects: str | None
    amount: Decimal
    currency: str
    reasons: tuple[str, ...]
    figures: tuple[tuple[str, str], ...]
    ladder: Ladder | None
    records: tuple[RecordRow, ...]
    entry_id: int | None = None

    @property
    def paid(self) -> bool:
        """Whether the amount is paid (a hold is recorded but not paid; a payment settles)."""
        return self.kind not in ("hold", "payment")


@dataclass(frozen=True)
class ScoreLine:
    """A scorecard's score for the period, with its KPIs (kpi, actual, factor, weight, contribution)."""

    plan_id: str
    rule_id: str
    score: Decimal
    kpis: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Statement:
    """A person's statement for a period."""

    person: Member
    period: Period
    currency: str
    lines: tuple[StatementLine, ...]  # in the ledger, in posting order
    calculated: tuple[StatementLine, ...]  # plans whose period is not closed: not in the ledger yet
    payments: tuple[StatementLine, ...]
    scores: tuple[ScoreLine, ...]
    balances: tuple[Balance, ...]  # the ledger's, for the period: payable, held, paid, due
    year_to_date: tuple[Balance, ...]
    plan_status: tuple[tuple[str, str], ...]

    def _sum(self, rows: Sequence[Balance], what: str, currency: str | None) -> Decimal:
        wanted = currency or self.currency
        return sum((getattr(b, what) for b in rows if b.currency == wanted), ZERO)

    def total(self, currency: str | None = None) -> Decimal:
        """What the ledger pays the person for the period (earnings, releases, clawbacks, adjustments…)."""
        return self._sum(self.balances, "payable", currency)

    def held(self, currency: str | None = None) -> Decimal:
        return self._sum(self.balances, "held", currency)

    def paid(self, currency: str | None = None) -> Decimal:
        return self._sum(self.balances, "paid", currency)

    def due(self, currency: str | None = None) -> Decimal:
        return self._sum(self.balances, "due", currency)

    def ytd_total(self, currency: str | None = None) -> Decimal:
        return self._sum(self.year_to_date, "payable", currency)

    def ytd_paid(self, currency: str | None = None) -> Decimal:
        return self._sum(self.year_to_date, "paid", currency)

    def calculated_total(self, currency: str | None = None) -> Decimal:
        wanted = currency or self.currency
        return sum((x.amount for x in self.calculated if x.paid and x.currency == wanted), ZERO)

    @property
    def currencies(self) -> list[str]:
        found = {b.currency for b in self.balances} | {x.currency for x in self.calculated}
        return sorted(found) or [self.currency]

    @property
    def provisional(self) -> bool:
        """Whether some plan of the period is not closed, so the statement may still change."""
        return any(status != "closed" for _, status in self.plan_status)


def records_named(trace: Mapping[str, Any]) -> list[RecordsRef]:
    """Every record a line's trace names: its own, a prior-period note's, excluded and clawed-back records."""
    view = TraceView(trace)
    refs = list(view.records)
    note = view.prior_period
    if note:
        refs += [r for r in note.get("records", []) if isinstance(r, Mapping)]
    for excluded in view.excluded:
        refs += list(excluded.get("records", []))
    claw = view.clawback
    if claw and claw.get("table") and claw.get("record_id") is not None:
        refs.append(RecordsRef(table=str(claw["table"]), ids=[claw["record_id"]]))
    return refs


def _figures(trace: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    shown = []
    for key, value in TraceView(trace).inputs.items():
        if isinstance(value, Mapping):
            shown += [(f"{key}.{k}", str(v)) for k, v in value.items() if not isinstance(v, (Mapping, list))]
        elif not isinstance(value, list) and value is not None:
            shown.append((key, str(value)))
    return tuple(shown)


def _reasons(trace: Mapping[str, Any] | None, fallback: str) -> tuple[str, ...]:
    view = TraceView(trace or {})
    said = [*view.explanation]
    if not said and view.skipped:
        said.append(view.skipped)
    held = view.held
    if held and held.get("note"):
        said.append(str(held["note"]))
    if view.excluded_note:
        said.append(view.excluded_note)
    return tuple(said) or ((fallback,) if fallback else ())


class _Builder:
    def __init__(self, data: PeriodData, plans: PlanTexts, book: RecordBook, traces: Mapping[int, Mapping[str, Any]]):
        self.data, self.plans, self.book, self.traces = data, plans, book, traces

    def _ladder(self, plan_id: str | None, rule_id: str | None, trace: Mapping[str, Any]) -> Ladder | None:
        run = self.data.runs.get(plan_id or "")
        settings = self.plans.rule(run.plan_hash, rule_id or "") if run else None
        return ladder_of(trace, settings)

    def _records(self, trace: Mapping[str, Any]) -> tuple[RecordRow, ...]:
        return tuple(self.book.rows(records_named(trace))[:MAX_RECORDS])

    def entry_line(self, entry: LedgerEntry) -> StatementLine:
        outcome_id, adjustment_id = self.data.entry_sources.get(entry.id, (None, None))
        trace = self.traces.get(outcome_id) if outcome_id is not None else None
        reason = self.data.adjustment_reasons.get(adjustment_id, "") if adjustment_id is not None else ""
        reasons = ((reason,) if reason else ()) + _reasons(trace, "" if reason else entry.description)
        return StatementLine(
            in_ledger=True,
            kind=entry.kind,
            plan_id=entry.plan_id,
            rule_id=entry.rule_id,
            component=entry.component,
            period_earned=entry.period_earned,
            corrects=entry.corrects,
            amount=entry.amount,
            currency=entry.currency,
            reasons=reasons,
            figures=_figures(trace) if trace else (),
            ladder=self._ladder(entry.plan_id, entry.rule_id, trace) if trace else None,
            records=self._records(trace) if trace else (),
            entry_id=entry.id,
        )

    def calculated_line(self, line: PeriodLine) -> StatementLine:
        note = TraceView(line.trace).prior_period
        return StatementLine(
            in_ledger=False,
            kind=line.ledger_kind or ("hold" if line.kind == "held" else "earning"),
            plan_id=line.plan_id,
            rule_id=line.rule_id,
            component=line.component or line.rule_id,
            period_earned=self.data.period.label if not note else str(note.get("period")),
            corrects=str(note.get("period")) if note else None,
            amount=line.amount or ZERO,
            currency=line.currency or self.data.currency,
            reasons=_reasons(line.trace, ""),
            figures=_figures(line.trace),
            ladder=self._ladder(line.plan_id, line.rule_id, line.trace),
            records=self._records(line.trace),
        )


def _score(line: PeriodLine) -> ScoreLine | None:
    if line.amount is None:
        return None
    kpis = line.trace.get("kpis")
    return ScoreLine(
        plan_id=line.plan_id,
        rule_id=line.rule_id,
        score=line.amount,
        kpis=tuple(k for k in kpis if isinstance(k, Mapping)) if isinstance(kpis, list) else (),
    )


def build_statements(
    data: PeriodData,
    roster: Roster,
    plans: PlanTexts,
    book: RecordBook,
    traces: Mapping[int, Mapping[str, Any]],
    people: Sequence[str] | None = None,
) -> list[Statement]:
    """Statements of ``people`` (default: everyone with a ledger entry or a money line in the period)."""
    builder = _Builder(data, plans, book, traces)
    entries = by_person(data.entries)
    year = by_person(data.year_entries)
    money_lines: dict[str, list[PeriodLine]] = {}
    score_lines: dict[str, list[PeriodLine]] = {}
    for line in data.lines:
        if line.kind in ("payout", "held") and line.amount is not None and not data.closed(line.plan_id):
            if line.amount != 0:
                money_lines.setdefault(line.person_id, []).append(line)
        elif line.kind == "score":
            score_lines.setdefault(line.person_id, []).append(line)
    wanted = people if people is not None else sorted(set(entries) | set(money_lines))
    statements = []
    for person_id in wanted:
        member = roster.people.get(person_id) or Member(person_id, person_id, None, None, None, None, None, None)
        own = entries.get(person_id, [])
        posted = [builder.entry_line(e) for e in own if e.kind != "payment"]
        payments = [builder.entry_line(e) for e in own if e.kind == "payment"]
        calculated = [builder.calculated_line(x) for x in money_lines.get(person_id, [])]
        currencies = [x.currency for x in (*posted, *calculated)]
        currency = max(sorted(set(currencies)), key=currencies.count) if currencies else data.currency
        plans_seen = sorted(
            {x.plan_id for x in (*posted, *calculated) if x.plan_id}
            | {x.plan_id for x in score_lines.get(person_id, [])}
        )
        statements.append(
            Statement(
                person=member,
                period=data.period,
                currency=currency,
                lines=tuple(posted),
                calculated=tuple(calculated),
                payments=tuple(payments),
                scores=tuple(s for s in map(_score, score_lines.get(person_id, [])) if s is not None),
                balances=tuple(balances(own)),
                year_to_date=tuple(balances(year.get(person_id, []))),
                plan_status=tuple(
                    (plan, data.runs[plan].status if plan in data.runs else "closed") for plan in plans_seen
                ),
            )
        )
    return statements
