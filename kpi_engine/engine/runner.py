"""Running a plan's rules for one period over a source of facts (the database, or a plan test's case).

Everything a rule reads goes through ``RuleContext``; this module fills it the same way whatever
the facts come from, so a plan test exercises exactly what an evaluation does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from ..errors import EvaluationError, KPIError
from ..findings.model import is_check
from ..money import MONEY_SCALE, money_text, plain
from ..periods import Period, earlier_period, periods_within, span_of
from ..plans.model import LoadedPlan, Scope
from ..plans.names import references_of
from ..registry import Registry
from ..store.runs import Outcome
from ..trace import merged_trace
from .collector import collector_paused
from .contract import PersonInfo, RuleContext, RuleResult, TargetLevels
from .effects import Effects
from .facts import Facts, Row
from .organisation import Organisation

__all__ = ["MONEY_KINDS", "Book", "employed_days", "in_scope", "run_rules"]

ZERO = Decimal(0)
MONEY_KINDS = frozenset({"payout", "held"})  # held: a payout held pending review of a finding, not paid


def employed_days(info: PersonInfo | None, period: Period) -> int:
    """Days of the period between the person's hire date (inclusive) and leave date (exclusive)."""
    if info is None:
        return period.days
    first = max(period.start, info.hire_date or period.start)
    end = min(period.end, info.leave_date or period.end)
    return max((end - first).days, 0)


def in_scope(scope: Scope, info: PersonInfo, org: Organisation, day: date) -> bool:
    """Roles and teams (with their sub-teams) as of the period; named people always."""
    if info.id in scope.people:
        return True
    if not (scope.roles or scope.teams):
        return not scope.people
    if scope.roles and info.role not in scope.roles:
        return False
    if scope.teams and not (info.team_id and set(org.teams_above(info.team_id, day)) & set(scope.teams)):
        return False
    return True


class _Lazy(Mapping[str, Mapping[str, Any]]):
    """A mapping that computes an entry the first time a rule reads it (metric values of any plan name)."""

    def __init__(self, compute: Callable[[str], Mapping[str, Any] | None], known: Callable[[str], bool]) -> None:
        self._compute = compute
        self._known = known
        self._cache: dict[str, Mapping[str, Any]] = {}

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        if name not in self._cache:
            if not self._known(name):
                raise KeyError(name)
            self._cache[name] = self._compute(name) or {}
        return self._cache[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._known(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._cache))

    def __len__(self) -> int:
        return len(self._cache)


class Book:
    """The numbers of one evaluation: every plan name in any period, computed once and cached."""

    def __init__(self, loaded: LoadedPlan, period: Period, facts: Facts, registry: Registry) -> None:
        self.loaded = loaded
        self.names = loaded.names
        self.period = period
        self.facts = facts
        self.registry = registry
        self.org = facts.organisation()
        seen = self.org.in_period_with_days(period)
        self.infos = {pid: info for pid, (info, _day) in seen.items()}
        scope = loaded.plan.applies_to
        self.people = [pid for pid, (info, day) in seen.items() if in_scope(scope, info, self.org, day)]
        self.results: dict[str, dict[str, Decimal]] = {}
        self.lines: dict[str, list[Outcome]] = {}  # each rule's lines of this run, as they are made
        self._values: dict[tuple[str, str], Mapping[str, Decimal]] = {}
        self._targets: dict[tuple[str, str], Mapping[str, TargetLevels]] = {}
        self._infos: dict[str, dict[str, PersonInfo]] = {period.label: self.infos}
        self._records: dict[str, Mapping[str, Sequence[tuple[int, Decimal]]]] = {}
        self._scores: dict[str, Mapping[str, Decimal]] = {}
        self.prorated: dict[str, set[str]] = {}  # person -> metrics whose targets were prorated this period
        self.prorate_metrics = {
            self.names.base_metric(t.metric) or t.metric
            for t in self.names.targets.values()
            if t.prorate == "days_employed"
        }

    # --- metric values -----------------------------------------------------------------

    def known(self, name: str) -> bool:
        return self.names.kind(name) is not None

    def values(self, name: str, period: Period) -> Mapping[str, Decimal]:
        key = (name, period.label)
        if key not in self._values:
            self._values[key] = self._compute_values(name, period)
        return self._values[key]

    def _compute_values(self, name: str, period: Period) -> Mapping[str, Decimal]:
        kind = self.names.kind(name)
        if kind in ("metric", "alias"):
            return self.facts.values(self.names.base_metric(name) or name, period)
        if kind == "derived":
            formula = self.names.derived[name]
            if period == self.period:  # this period: a value that cannot be computed is an error naming the person
                return {person: self.evaluate(formula, person, {}, period) for person in self.people}
            # An earlier period, for the people of this run: a person whose value cannot be computed then
            # (no target that month, not yet hired) has no value, which rules read as "no data".
            found: dict[str, Decimal] = {}
            for person in self.people:
                try:
                    found[person] = self.evaluate(formula, person, {}, period)
                except KPIError:
                    continue
            return found
        if kind == "target":
            spec = self.names.targets[name]
            return {
                p: getattr(levels, spec.level)
                for p, levels in self.targets(spec.metric, period).items()
                if getattr(levels, spec.level) is not None
            }
        if kind == "rule":
            if period == self.period:
                return self.results.get(name, {})
            return self.history_totals(name, period)
        if kind == "span":
            spec = self.names.spans[name]
            over = span_of(period, spec.over)
            if period == self.period and spec.of in self.names.derived:  # a value that cannot be computed is an error
                formula = self.names.derived[spec.of]
                return {person: self.evaluate(formula, person, {}, over) for person in self.people}
            return self.values(spec.of, over)
        return {}

    def people_in(self, period: Period) -> dict[str, PersonInfo]:
        if period.label not in self._infos:
            self._infos[period.label] = self.org.in_period(period)
        return self._infos[period.label]

    def targets(self, name: str, period: Period) -> Mapping[str, TargetLevels]:
        """The targets of a metric for a period: those set for it, else (a quarter, a year, a span to date of a
        plan by months or quarters) the sum of the targets of the plan's periods that make it up."""
        metric = self.names.base_metric(name) or name
        key = (metric, period.label)
        if key not in self._targets:
            levels = self.facts.targets(metric, period)
            if metric in self.prorate_metrics:
                levels = {p: self._prorate(p, metric, lv, period) for p, lv in levels.items()}
            if not levels:
                levels = self._summed_targets(metric, period)
            self._targets[key] = levels
        return self._targets[key]

    def _summed_targets(self, metric: str, period: Period) -> Mapping[str, TargetLevels]:
        grain = self.loaded.plan.period
        if grain not in ("week", "month", "quarter") or period.grain == grain:
            return {}
        inner = periods_within(period, grain)
        if not inner:
            return {}
        if len(inner) == 1:  # the days of one of the plan's periods, written as a range
            return self.targets(metric, inner[0]) if inner[0].label != period.label else {}
        summed: dict[str, dict[str, Decimal | None]] = {}
        for part in inner:
            for person, levels in self.targets(metric, part).items():
                row = summed.setdefault(person, {"target": ZERO, "baseline": ZERO, "challenge": ZERO})
                for level in ("target", "baseline", "challenge"):
                    value, so_far = getattr(levels, level), row[level]
                    row[level] = None if value is None or so_far is None else so_far + value
        return {
            person: TargetLevels(target=row["target"] or ZERO, baseline=row["baseline"], challenge=row["challenge"])
            for person, row in summed.items()
        }

    def _prorate(self, person: str, metric: str, levels: TargetLevels, period: Period) -> TargetLevels:
        info = self.people_in(period).get(person) or self.org.people.get(person)
        days = employed_days(info, period)
        if days >= period.days:
            return levels
        if period == self.period:
            self.prorated.setdefault(person, set()).add(metric)
        factor = Decimal(days) / Decimal(period.days)
        scale = {
            k: (None if v is None else v * factor)
            for k, v in (("target", levels.target), ("baseline", levels.baseline), ("challenge", levels.challenge))
        }
        return TargetLevels(target=scale["target"] or ZERO, baseline=scale["baseline"], challenge=scale["challenge"])

    def proration_note(self, person: str, metric: str) -> str:
        info = self.infos.get(person)
        days = employed_days(info, self.period)
        raw = self.facts.targets(metric, self.period).get(person)
        if raw is None:
            return ""
        prorated = raw.target * Decimal(days) / Decimal(self.period.days)
        return (
            f"The {metric} target is prorated to the {days} of {self.period.days} days employed in "
            f"{self.period.label}: "
            f"{plain(raw.target)} × {days}/{self.period.days} = {money_text(prorated.quantize(Decimal('0.01')))}."
        )

    def history_totals(self, rule: str, period: Period) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for result in self.facts.history(rule, period):
            if result.amount is not None and result.kind != "held":
                totals[result.person_id] = totals.get(result.person_id, ZERO) + result.amount
        return totals

    # --- formulas ----------------------------------------------------------------------

    def value_of(self, name: str, person: str, period: Period) -> Any:
        kind = self.names.kind(name)
        if kind == "span" and self.names.kind(self.names.spans[name].of) == "target":
            name, period = self.names.spans[name].of, span_of(period, self.names.spans[name].over)
            kind = "target"
        if kind == "target":
            spec = self.names.targets[name]
            levels = self.targets(spec.metric, period).get(person)
            value = None if levels is None else getattr(levels, spec.level)
            if value is None:
                raise EvaluationError(
                    f"{person} has no {spec.level} for {spec.metric} in {period.label} (the plan's {name!r}).",
                    hint=f"import the {spec.metric} targets of {period.label}",
                )
            return value
        return self.values(name, period).get(person, ZERO)

    def evaluate(self, formula: Any, person: str, extra: Mapping[str, Any], period: Period | None = None) -> Any:
        at = period or self.period
        env: dict[str, Any] = dict(extra)
        for name, back in references_of(formula):
            if back == 0 and name in extra:
                continue
            env[name if back == 0 else f"{name}[-{back}]"] = self.value_of(name, person, earlier_period(at, back))
        return formula.evaluate(env)

    # --- the context of one rule -------------------------------------------------------

    def records(self, name: str) -> Mapping[str, Sequence[tuple[int, Decimal]]]:
        if name not in self._records:
            rows = self.record_details(name)
            self._records[name] = {
                person: [(r["record_id"], r["value"]) for r in found] for person, found in rows.items()
            }
        return self._records[name]

    def record_details(self, name: str) -> Mapping[str, Sequence[Row]]:
        if name in self.names.spans:  # the records of the span
            spec = self.names.spans[name]
            base = self.names.base_metric(spec.of)
            return self.facts.evidence(base, span_of(self.period, spec.over)) if base else {}
        return self.facts.evidence(self.names.base_metric(name) or name, self.period)

    def conversions(self, person: str, metrics: set[str]) -> list[dict[str, Any]]:
        """The facts behind ``metrics`` of ``person`` that were converted into the plan's currency (their
        evidence rows carry the original amount, currency and rate): what a converted payout's trace shows."""
        found: list[dict[str, Any]] = []
        plan_currency = self.loaded.plan.currency
        for metric in sorted(metrics):
            for row in self.facts.evidence(metric, self.period).get(person, ()):
                currency = row.get("original_currency")
                if currency is None or currency == plan_currency or row.get("rate") is None:
                    continue
                found.append(
                    {
                        "metric": metric,
                        "table": self.facts.evidence_table(metric),
                        "record_id": row["record_id"],
                        "amount": plain(row["original_amount"]),
                        "currency": currency,
                        "rate": plain(row["rate"]),
                        "rate_day": row["rate_day"].isoformat() if row.get("rate_day") else None,
                        "converted": plain(row["original_amount"] * row["rate"]),
                        "value": plain(row["value"]),
                    }
                )
        return found

    def evidence_table(self, name: str) -> str | None:
        base = self.names.base_metric(self.names.spans[name].of if name in self.names.spans else name)
        return self.facts.evidence_table(base or name) if base or name in self.names.metrics else None

    def outcomes_of(self, rule: str) -> list[RuleResult]:
        """The lines a rule evaluated earlier in this run made (with their traces), as rule results."""
        return [
            RuleResult(o.person_id, o.amount, o.trace, o.kind, o.status, o.attention, o.ledger_kind)  # type: ignore[arg-type]
            for o in self.lines.get(rule, ())
        ]

    def manual_scores(self, kpi: str, period: Period | None = None) -> Mapping[str, Decimal]:
        """Scores entered by hand for a period (a month falls back to its quarter's), read once per run."""
        at = period or self.period
        key = kpi if period is None else f"{kpi}@{at.label}"
        if key not in self._scores:
            found = self.facts.manual_scores(kpi, at.label)
            if not found and at.grain == "month":
                found = self.facts.manual_scores(kpi, f"{at.start.year}-Q{(at.start.month - 1) // 3 + 1}")
            self._scores[key] = found
        return self._scores[key]

    def context(self, rule_id: str) -> RuleContext:
        loaded = self.loaded
        return RuleContext(
            period=self.period,
            currency=loaded.plan.currency,
            people=list(self.people),
            values=_Lazy(lambda n: self.values(n, self.period), self.known),
            targets=_Lazy(lambda n: self.targets(n, self.period), lambda n: self.names.base_metric(n) is not None),
            round_line=loaded.round_line,
            round_total=loaded.round_total,
            records=self.records,
            evidence_table=self.evidence_table,
            plan_id=loaded.id,
            rule_id=rule_id,
            time_zone=loaded.plan.time_zone,
            people_info=self.infos,
            org=self.org,
            results={rule: dict(totals) for rule, totals in self.results.items()},
            outcomes=self.outcomes_of,
            values_in=self.values,
            targets_in=self.targets,
            history=self.facts.history,
            record_details=self.record_details,
            record_details_in=lambda name, period: self.facts.evidence(self.names.base_metric(name) or name, period),
            manual_scores=self.manual_scores,
            manual_scores_in=self.manual_scores,
            reviews_in=lambda period: self.facts.reviews_in(period),  # read only by the rules that ask
            formula=lambda formula, person, extra=None: self.evaluate(formula, person, extra or {}),
        )


def _storable(amount: Decimal) -> tuple[Decimal, Decimal | None]:
    """A non-money number at the store's precision; the exact value too when it had to be shortened."""
    step = Decimal(1).scaleb(-MONEY_SCALE)
    if amount == amount.quantize(step):
        return amount, None
    return amount.quantize(step), amount


def _conversion_note(converted: list[dict[str, Any]], currency: str) -> str:
    """The conversions behind a line, as a sentence: ``deals #12: USD 100000 × 7.1 (rate of 2026-10-15) = 710000``."""
    parts = []
    for c in converted:
        of = f" (rate of {c['rate_day']})" if c["rate_day"] else ""
        credited = f", credited {c['value']}" if c["value"] != c["converted"] else ""
        parts.append(
            f"{c['table']} #{c['record_id']}: {c['currency']} {c['amount']} × {c['rate']}{of} = "
            f"{currency} {c['converted']}{credited}"
        )
    return f"Converted into {currency}: " + "; ".join(parts) + "."


def run_rules(
    loaded: LoadedPlan,
    period: Period,
    facts: Facts,
    registry: Registry,
    *,
    on_rule: Callable[[str, int, int], None] | None = None,
) -> tuple[list[str], list[Outcome]]:
    """Evaluate every rule in dependency order; returns the people in scope and the outcome lines."""
    with collector_paused():
        return _run_rules(loaded, period, facts, registry, on_rule)


def _run_rules(
    loaded: LoadedPlan,
    period: Period,
    facts: Facts,
    registry: Registry,
    on_rule: Callable[[str, int, int], None] | None,
) -> tuple[list[str], list[Outcome]]:
    book = Book(loaded, period, facts, registry)
    effects = Effects(book)
    lines: dict[str, list[Outcome]] = book.lines
    rules = loaded.rules_in_order
    round_total, plan_currency = loaded.round_total, loaded.plan.currency
    for index, rule in enumerate(rules):
        rule_type = registry.rule_type(rule.type)
        config = loaded.configs[rule.id]
        component = rule.component or rule_type.component or rule_type.name
        reads = loaded.reads.get(rule.id, frozenset()) | rule_type.metrics(config)
        prorated_here = {
            m for n in reads if (m := loaded.names.base_metric(n)) is not None and m in book.prorate_metrics
        }
        money_metrics = {
            m for n in reads if (m := loaded.names.base_metric(n)) is not None and registry.metric(m).unit == "money"
        }
        converting = loaded.plan.conversion is not None and bool(money_metrics)
        for metric in rule_type.records(
            config
        ):  # the rows the rule reads, first: their values may add up to the metric's
            book.record_details(metric)
        totals: dict[str, Decimal] = {}
        found = rule_type.evaluate(effects.context(rule.id, book.context(rule.id)), config)
        found = effects.findings(rule.id, config, found) if is_check(config) else effects.results(rule.id, found)
        first = {"rule": rule.id}
        mine = lines[rule.id] = []
        for result in found:
            last: dict[str, Any] = {}
            person, amount, kind, currency = result.person_id, result.amount, result.kind, None
            if amount is not None and kind in MONEY_KINDS:
                # The plan's rounding is the last word on every amount, whichever plugin computed it.
                amount, currency = round_total(amount), plan_currency
            elif amount is not None:
                amount, exact = _storable(amount)
                if exact is not None:
                    last["exact_amount"] = plain(exact)
            if converting and amount is not None and (converted := book.conversions(person, money_metrics)):
                last["conversions"] = converted
                last["conversion"] = _conversion_note(converted, plan_currency)
            if prorated_here and (metrics := prorated_here & book.prorated.get(person, set())):
                notes = [book.proration_note(person, m) for m in sorted(metrics)]
                if any(notes):
                    last["proration"] = " ".join(n for n in notes if n)
            # A trace nobody has read yet stays unread: it is worked out when the run is saved.
            trace = merged_trace(first, result.trace, last)
            ledger_kind = None
            if currency is not None:  # a money line: what it is in the ledger, what payroll pays it as
                ledger_kind = "hold" if kind == "held" else (result.ledger_kind or "earning")
            mine.append(
                Outcome(
                    person,
                    rule.id,
                    kind,
                    amount,
                    currency,
                    trace,
                    result.status,
                    result.attention,
                    ledger_kind,
                    component if currency is not None else None,
                )
            )
            if amount is not None and kind != "held":
                totals[person] = totals.get(person, ZERO) + amount
        book.results[rule.id] = totals
        if on_rule:
            on_rule(rule.id, index + 1, len(rules))
    outcomes = [line for r in loaded.plan.rules for line in lines.get(r.id, ())]  # each rule's lines in its own order
    return book.people, outcomes
