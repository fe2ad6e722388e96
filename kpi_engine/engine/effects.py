"""What a plan does about its checks' findings: flag, hold, exclude or claw back, applied to the rules it names.

A check rule runs before the payout rules it ``affects`` (the plan's order says so). Each finding gets a
stable id (plan, check rule, person, period, evidence ids). Then, for each affected rule and person:

- ``hold``: the person's payout lines of the rule become lines of kind ``held`` (amount and currency
  kept, not paid). A later evaluation pays a hold whose findings were all *released* by a review as a
  payout line "hold of 2026-05 released after review", found by replaying saved outcomes, so a re-run
  never pays it twice. An upheld hold is never paid.
- ``exclude``: the evidence records are taken out of what the rule reads: its per-record rows lose them
  and every per-period value summed over the same table is reduced by exactly their evidence values
  (derived metrics built on those values are recomputed). A value that cannot be reduced exactly (a
  ratio, or a value its evidence rows do not add up to) is left as measured and both the finding and the
  line say so.
- ``clawback``: what the rule paid on an evidence record in an earlier period (its saved line names the
  record: per-record ``lines`` or the ``records`` behind a period total) is reversed as a negative payout
  line here, at the rate paid, never more than was paid, once per record; a record of this period is
  excluded instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import KPIError
from ..findings.model import FINDING, HELD, CheckConfig, finding_id, is_check
from ..formula.formula import Formula
from ..money import plain
from ..periods import Period, earlier_period
from ..plans.names import references_of
from ..trace import ClawbackNote, ExcludedNote, HeldNote, RecordsRef, ReleasedHold, TraceView
from .contract import RuleContext, RuleResult

if TYPE_CHECKING:
    from .runner import Book

__all__ = ["RELEASED", "UPHELD", "Effects"]

ZERO = Decimal(0)
RELEASED = "release"
UPHELD = "uphold"
Row = Mapping[str, Any]


@dataclass
class _Found:
    """A finding of this run with the plan's declared effect."""

    id: str
    rule_id: str
    person: str
    config: CheckConfig
    explanation: str
    evidence: dict[str, set[str]]  # table -> record ids (as text: ids compare across sources as text)
    trace: dict[str, Any]


@dataclass
class _Exclusion:
    """What one affected rule does not see for one person, and how its values changed."""

    findings: list[_Found] = field(default_factory=list)
    ids: dict[str, set[str]] = field(default_factory=dict)  # table -> record ids
    values: dict[str, Decimal] = field(default_factory=dict)  # plan name -> adjusted value
    changes: dict[str, str] = field(default_factory=dict)  # plan name -> "a → b"
    inexact: list[str] = field(default_factory=list)


class _Overlay(Mapping[str, Mapping[str, Decimal]]):
    """``ctx.values`` with some people's values of some names replaced."""

    def __init__(
        self, base: Mapping[str, Mapping[str, Decimal]], overrides: Mapping[str, Mapping[str, Decimal]]
    ) -> None:
        self._base = base
        self._overrides = overrides

    def __getitem__(self, name: str) -> Mapping[str, Decimal]:
        found = self._base[name]
        if name in self._overrides:
            return {**found, **self._overrides[name]}
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._base

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)


def _text_ids(ids: Iterable[Any]) -> set[str]:
    return {str(i) for i in ids}


class Effects:
    """The findings of one evaluation and their effects on the rules they affect."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self.loaded = book.loaded
        self.period: Period = book.period
        self.found: list[_Found] = []
        self.by_rule: dict[str, list[_Found]] = {}  # affected rule -> findings acting on it
        self.exclusions: dict[str, dict[str, _Exclusion]] = {}  # affected rule -> person -> exclusion
        self._history: dict[tuple[str, str, frozenset[str]], Sequence[RuleResult]] = {}
        self._reviews: Mapping[str, tuple[str, str]] | None = None
        self.affected = {
            a
            for rule_id, cfg in self.loaded.configs.items()
            if is_check(cfg) and cfg.effect != "flag"
            for a in cfg.affects
        }

    # --- the check rules' findings -------------------------------------------------------

    def findings(self, rule_id: str, config: CheckConfig, results: Iterable[RuleResult]) -> list[RuleResult]:
        """A check's lines with their ids; the findings are kept for the rules they affect."""
        out: list[RuleResult] = []
        for result in results:
            if result.kind != FINDING:
                out.append(result)
                continue
            trace = dict(result.trace)
            view = TraceView(trace)
            evidence = {r["table"]: _text_ids(r["ids"]) for r in view.records}
            fid = finding_id(self.loaded.id, rule_id, result.person_id, view.period or self.period.label, evidence)
            trace = {"id": fid, **trace, "effect": config.effect, "affects": list(config.affects)}
            acts = config.acts_on(str(trace.get("severity", config.severity)))
            if config.effect != "flag" and not acts:
                trace["effect_note"] = (
                    f"Severity {trace.get('severity')}: the plan's {config.effect} acts only on "
                    f"{', '.join(config.act_on)}; this finding is listed for review only."
                )
            found = _Found(fid, rule_id, result.person_id, config, " ".join(view.explanation), evidence, trace)
            self.found.append(found)
            if acts:
                for affected in config.affects:
                    self.by_rule.setdefault(affected, []).append(found)
                    if config.effect in ("exclude", "clawback"):
                        self._plan_exclusion(affected, found)
            out.append(replace(result, trace=trace))
        return out

    def _plan_exclusion(self, rule_id: str, found: _Found) -> None:
        """Work out, now, how the rule's values for the person change, so the finding can say if it cannot be exact."""
        evidence = found.evidence
        if found.config.effect == "clawback":  # only records of this period are excluded; earlier ones are clawed back
            evidence = {
                t: {i for i in ids if self._in_this_period(rule_id, found.person, t, i)} for t, ids in evidence.items()
            }
            evidence = {t: ids for t, ids in evidence.items() if ids}
            if not evidence:
                return
        exclusion = self.exclusions.setdefault(rule_id, {}).setdefault(found.person, _Exclusion())
        exclusion.findings.append(found)
        for table, ids in evidence.items():
            exclusion.ids.setdefault(table, set()).update(ids)
        self._recompute(rule_id, found.person, exclusion)
        notes = list(exclusion.inexact)
        if notes:
            found.trace["effect_note"] = " ".join(notes)

    def _reads(self, rule_id: str) -> set[str]:
        rule = next(r for r in self.loaded.plan.rules if r.id == rule_id)
        rule_type = self.book.registry.rule_type(rule.type)
        return set(self.loaded.reads.get(rule_id, frozenset())) | set(rule_type.metrics(self.loaded.configs[rule_id]))

    def _recompute(self, rule_id: str, person: str, exclusion: _Exclusion) -> None:
        book = self.book
        names = self.loaded.names
        exclusion.values.clear()
        exclusion.changes.clear()
        exclusion.inexact.clear()
        reads = self._reads(rule_id)
        plain_names = sorted(n for n in reads if names.kind(n) in ("metric", "alias"))
        derived = sorted(n for n in reads if names.kind(n) == "derived")
        tables_read: set[str] = set()
        for name in plain_names + sorted({r for d in derived for r in self._bases_of(d)} - set(plain_names)):
            metric = names.base_metric(name) or name
            table = book.facts.evidence_table(metric)
            if table not in exclusion.ids:
                continue
            tables_read.add(table)
            rows = book.facts.evidence(metric, self.period).get(person, ())
            excluded = [r for r in rows if str(r["record_id"]) in exclusion.ids[table]]
            if not excluded:
                continue
            before = book.values(name, self.period).get(person, ZERO)
            known = book.registry.metrics.get(metric)
            if known is not None and known.denominator is not None:
                exclusion.inexact.append(
                    f"{name} is a ratio: the excluded records cannot be taken out of it exactly, so it was left as "
                    "measured."
                )
                continue
            if sum((r["value"] for r in rows), ZERO) != before:
                exclusion.inexact.append(
                    f"{name} is not the sum of its evidence rows: the excluded records cannot be taken out of it "
                    "exactly, so it was left as measured."
                )
                continue
            after = before - sum((r["value"] for r in excluded), ZERO)
            exclusion.values[name] = after
            exclusion.changes[name] = f"{plain(before)} → {plain(after)}"
        unread = sorted(set(exclusion.ids) - tables_read)
        if unread and not tables_read:
            exclusion.inexact.append(
                f"{rule_id} measures nothing built from {', '.join(unread)}: no credit of these records could be taken "
                "out of it."
            )
        if not exclusion.values:
            return
        for name in derived:  # derived names read through the adjusted values, in dependency order
            self._derived(name, person, exclusion, set())

    def _bases_of(self, name: str) -> set[str]:
        names = self.loaded.names
        found: set[str] = set()
        todo, seen = [name], set()
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            if names.kind(current) in ("metric", "alias"):
                found.add(current)
            elif names.kind(current) == "derived":
                todo.extend(n for n, back in references_of(names.derived[current]) if back == 0)
        return found

    def _derived(self, name: str, person: str, exclusion: _Exclusion, seen: set[str]) -> None:
        names = self.loaded.names
        if name in exclusion.values or name in seen:
            return
        seen.add(name)
        formula = names.derived[name]
        for ref, back in references_of(formula):
            if back == 0 and names.kind(ref) == "derived":
                self._derived(ref, person, exclusion, seen)
        if not (self._bases_of(name) & set(exclusion.values)):
            return
        before = self.book.values(name, self.period).get(person, ZERO)
        try:
            after = self.book.evaluate(formula, person, dict(exclusion.values))
        except KPIError as exc:
            exclusion.inexact.append(
                f"{name} could not be recomputed without the excluded records ({exc.message.rstrip('.')}), so it was "
                "left as computed."
            )
            return
        exclusion.values[name] = after
        exclusion.changes[name] = f"{plain(before)} → {plain(after)}"

    # --- the affected rules --------------------------------------------------------------

    def context(self, rule_id: str, ctx: RuleContext) -> RuleContext:
        """The affected rule's context without the excluded records and their credit."""
        people = self.exclusions.get(rule_id)
        if not people:
            return ctx
        overrides: dict[str, dict[str, Decimal]] = {}
        for person, exclusion in people.items():
            for name, value in exclusion.values.items():
                overrides.setdefault(name, {})[person] = value
        book = self.book

        def details(name: str) -> Mapping[str, Sequence[Row]]:
            rows = ctx.record_details(name)
            table = ctx.evidence_table(name)
            out = dict(rows)
            for person, exclusion in people.items():
                ids = exclusion.ids.get(table or "")
                if ids and person in out:
                    out[person] = [r for r in out[person] if str(r["record_id"]) not in ids]
            return out

        def records(name: str) -> Mapping[str, Sequence[tuple[int, Decimal]]]:
            return {person: [(r["record_id"], r["value"]) for r in rows] for person, rows in details(name).items()}

        def values_in(name: str, period: Period) -> Mapping[str, Decimal]:
            found = ctx.values_in(name, period)
            if period == self.period and name in overrides:
                return {**found, **overrides[name]}
            return found

        def evaluate_formula(formula: Formula, person: str, extra: Mapping[str, Any] | None = None) -> Decimal | bool:
            exclusion = people.get(person)
            return book.evaluate(formula, person, {**(exclusion.values if exclusion else {}), **(extra or {})})

        return replace(
            ctx,
            values=_Overlay(ctx.values, overrides),
            records=records,
            record_details=details,
            values_in=values_in,
            formula=evaluate_formula,
        )

    def results(self, rule_id: str, results: Iterable[RuleResult]) -> list[RuleResult]:
        """An affected rule's lines with the effects applied, then its clawbacks and released holds."""
        if rule_id not in self.affected:
            return list(results)
        acting = self.by_rule.get(rule_id, [])
        held: dict[str, list[_Found]] = {}
        for found in acting:
            if found.config.effect == "hold":
                held.setdefault(found.person, []).append(found)
        exclusions = self.exclusions.get(rule_id, {})
        out: list[RuleResult] = []
        for result in results:
            exclusion = exclusions.get(result.person_id)
            if (exclusion is None or result.kind != "payout") and result.person_id not in held:
                out.append(result)  # nothing acts on this line: its trace stays as the rule wrote it (unread if lazy)
                continue
            trace = dict(result.trace)
            if exclusion is not None and result.kind == "payout":
                trace["excluded"] = [
                    ExcludedNote(
                        finding=f.id,
                        check=f.rule_id,
                        effect=f.config.effect,
                        records=[RecordsRef(table=t, ids=sorted(ids)) for t, ids in sorted(f.evidence.items())],
                        reason=f.explanation,
                    )
                    for f in exclusion.findings
                ]
                if exclusion.changes:
                    trace["excluded_changes"] = dict(exclusion.changes)
                if exclusion.inexact:
                    trace["excluded_note"] = " ".join(exclusion.inexact)
            kind = result.kind
            if result.person_id in held and result.kind == "payout" and result.amount is not None:
                ids = [f.id for f in held[result.person_id]]
                kind = HELD
                trace["held"] = HeldNote(
                    findings=ids,
                    period=self.period.label,
                    note=f"Held pending review of finding {', '.join(ids)}: {held[result.person_id][0].explanation}",
                )
            out.append(replace(result, trace=trace, kind=kind))
        out.extend(self._clawbacks(rule_id, [f for f in acting if f.config.effect == "clawback"]))
        out.extend(self._releases(rule_id))
        return out

    # --- earlier periods: clawbacks and released holds -------------------------------------

    def _saved(self, rule_id: str, period: Period, people: set[str]) -> Sequence[RuleResult]:
        """The rule's saved lines of ``period`` for ``people`` (read once per rule and period)."""
        key = (rule_id, period.label, frozenset(people))
        if key not in self._history:
            facts = self.book.facts
            self._history[key] = facts.history_of(rule_id, period, people)  # only these people's lines
        return self._history[key]

    def _back(self, count: int) -> list[Period]:
        return [earlier_period(self.period, n) for n in range(1, count + 1)]

    def _clawbacks(self, rule_id: str, acting: list[_Found]) -> list[RuleResult]:
        if not acting:
            return []
        measure_of = self._measures(rule_id)
        people = {f.person for f in acting}
        lines: list[RuleResult] = []
        for found in acting:
            periods = self._back(found.config.clawback_periods)
            for table, ids in sorted(found.evidence.items()):
                for record in sorted(ids):
                    if self._in_this_period(rule_id, found.person, table, record):
                        continue  # a record of this period is excluded instead
                    line = self._clawback(rule_id, found, table, record, periods, measure_of, people)
                    if line is not None:
                        lines.append(line)
        return lines

    def _in_this_period(self, rule_id: str, person: str, table: str, record: str) -> bool:
        for name in self._reads(rule_id):
            metric = self.loaded.names.base_metric(name)
            if not metric or self.book.facts.evidence_table(metric) != table:
                continue
            if any(
                str(r["record_id"]) == record for r in self.book.facts.evidence(metric, self.period).get(person, ())
            ):
                return True
        return False

    def _measures(self, rule_id: str) -> dict[str, str]:
        """Evidence table -> the plan name of a sum metric the rule reads over it."""
        out: dict[str, str] = {}
        for name in sorted(self._reads(rule_id)):
            metric = self.loaded.names.base_metric(name)
            if metric is None:
                continue
            table = self.book.facts.evidence_table(metric)
            if table and table not in out:
                out[table] = name
        return out

    def _clawback(
        self,
        rule_id: str,
        found: _Found,
        table: str,
        record: str,
        periods: list[Period],
        measure_of: Mapping[str, str],
        people: set[str],
    ) -> RuleResult | None:
        person = found.person
        paid: Decimal | None = None
        paid_in: Period | None = None
        how = ""
        taken = ZERO
        for period in periods:  # newest first: earlier clawbacks of the record, then the line that paid it
            for line in self._saved(rule_id, period, people):
                if line.person_id != person or line.amount is None:
                    continue
                back = TraceView(line.trace).clawback
                if back and back.get("table") == table and str(back.get("record_id")) == record:
                    taken += -line.amount
                    continue
                if paid is not None or line.kind != "payout" or back:
                    continue
                earned, why = self._earned(line, table, record, period, measure_of)
                if earned is not None:
                    paid, paid_in, how = earned, period, why
            if paid is not None:
                break
        if paid is None or paid_in is None:
            return None
        amount = max(paid - taken, ZERO)
        if not amount:
            return None
        amount = self.loaded.round_total(amount)
        return RuleResult(
            person_id=person,
            amount=-amount,
            kind="payout",
            ledger_kind="clawback",
            trace={
                "clawback": ClawbackNote(
                    finding=found.id, check=found.rule_id, table=table, record_id=record, paid_in=paid_in.label
                ),
                "explanation": [
                    (
                        f"Clawed back {amount:,.2f} paid in {paid_in.label} on {table} #{record} ({how}), "
                        f"after finding {found.id}: {found.explanation}"
                    )
                ],
            },
        )

    def _earned(
        self, line: RuleResult, table: str, record: str, period: Period, measure_of: Mapping[str, str]
    ) -> tuple[Decimal | None, str]:
        view = TraceView(line.trace)
        own = [Decimal(str(item["amount"])) for item in view.lines if str(item.get("record_id")) == record]
        if own:
            return sum(own, ZERO), "its own lines"
        if not any(named["table"] == table and record in _text_ids(named["ids"]) for named in view.records):
            return None, ""
        name = measure_of.get(table)
        measured_text = view.inputs.get(name or "")
        if name is None or measured_text is None or not Decimal(str(measured_text)) or not line.amount:
            return None, ""
        metric = self.loaded.names.base_metric(name) or name
        rows = self.book.facts.evidence(metric, period).get(line.person_id, ())
        value = next((r["value"] for r in rows if str(r["record_id"]) == record), None)
        if value is None:
            return None, ""
        measured = Decimal(str(measured_text))
        earned = min(value * line.amount / measured, line.amount)
        return earned, f"{value:,} at the rate paid, {line.amount:,} ÷ {measured:,}"

    def reviews(self) -> Mapping[str, tuple[str, str]]:
        """Finding id -> (decision, person) of this plan's reviewed findings."""
        if self._reviews is None:
            self._reviews = dict(self.book.facts.finding_reviews())
        return self._reviews

    def _releases(self, rule_id: str) -> list[RuleResult]:
        decided = self.reviews()
        reviews = {fid: decision for fid, (decision, _person) in decided.items()}
        people = {person for decision, person in decided.values() if decision == RELEASED}
        if not people:
            return []
        lookback = max(
            (c.clawback_periods for c in self.loaded.configs.values() if is_check(c) and rule_id in c.affects),
            default=12,
        )
        periods = self._back(lookback)
        released: set[tuple[str, str]] = set()  # (person, held period) already paid by a release line
        released |= {  # posted by another period (a reopened period's own postings are what its run replaces)
            (person, held)
            for rule, person, held, posted in self.book.facts.released_holds()
            if rule == rule_id and posted != self.period.label
        }
        closed = self.book.facts.closed_periods()
        lines: list[RuleResult] = []
        for back, period in enumerate(periods):  # newest first: a release line is seen before the hold it pays
            # A release is paid in the first period after the hold that is not closed: the same one whatever
            # order periods are evaluated in, so it is paid once (the ledger holds what was closed).
            home = all(p.label in closed for p in periods[:back])
            for line in self._saved(rule_id, period, people):
                view = TraceView(line.trace)
                if release := view.released_hold:
                    released.add((line.person_id, str(release.get("period"))))
                    continue
                hold = view.held
                if line.kind != HELD or not hold or line.amount is None or (line.person_id, period.label) in released:
                    continue
                ids = list(hold.get("findings", ()))
                if not home or not ids or any(reviews.get(i) != RELEASED for i in ids):
                    continue
                released.add((line.person_id, period.label))
                lines.append(
                    RuleResult(
                        person_id=line.person_id,
                        amount=line.amount,
                        kind="payout",
                        ledger_kind="release",
                        trace={
                            "released_hold": ReleasedHold(period=period.label, findings=ids),
                            "explanation": [
                                f"Hold of {period.label} released after review: {line.amount:,.2f} paid now (finding "
                                f"{', '.join(ids)})."
                            ],
                        },
                    )
                )
        return lines
