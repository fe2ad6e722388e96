"""An in-memory ledger of several periods that runs rule types through hand-built ``RuleContext``s.

It plays the engine's part for rules that read earlier periods: ``values_in``/``targets_in`` answer
from the ledger and ``history`` returns what the rule produced when its earlier period was run
here, so a rule type's multi-period behaviour is testable without a database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kpi_engine import OrgView, PersonInfo, RuleContext, RuleResult, TargetLevels, parse_period, quantize

__all__ = ["Ledger", "ctx_for", "d"]


def d(value: object) -> Decimal:
    return Decimal(str(value))


def _round(value: Decimal) -> Decimal:
    return quantize(value, 2, "half_up")


@dataclass
class Ledger:
    """Metric values, targets and evidence rows per period label, and the outcomes saved so far."""

    people: list[str]
    values: dict[str, dict[str, dict[str, Decimal]]] = field(
        default_factory=dict
    )  # period -> metric -> person -> value
    targets: dict[str, dict[str, dict[str, TargetLevels]]] = field(default_factory=dict)
    details: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = field(
        default_factory=dict
    )  # period -> metric -> person -> rows
    saved: dict[tuple[str, str], list[RuleResult]] = field(default_factory=dict)  # (rule, period) -> outcomes
    people_info: dict[str, PersonInfo] = field(default_factory=dict)
    org: OrgView | None = None
    time_zone: str = "UTC"

    def set(self, period: str, metric: str, values: Mapping[str, object]) -> Ledger:
        label = parse_period(period).label
        self.values.setdefault(label, {})[metric] = {p: d(v) for p, v in values.items()}
        return self

    def target(self, period: str, metric: str, targets: Mapping[str, object]) -> Ledger:
        label = parse_period(period).label
        self.targets.setdefault(label, {})[metric] = {p: TargetLevels(target=d(v)) for p, v in targets.items()}
        return self

    def rows(self, period: str, metric: str, person: str, rows: list[dict[str, Any]]) -> Ledger:
        label = parse_period(period).label
        self.details.setdefault(label, {}).setdefault(metric, {})[person] = rows
        return self

    def context(
        self, period: str, rule_id: str, results: Mapping[str, Mapping[str, Decimal]] | None = None
    ) -> RuleContext:
        the_period = parse_period(period)
        label = the_period.label
        details = self.details.get(label, {})

        def records(metric: str) -> Mapping[str, Sequence[tuple[int, Decimal]]]:
            return {
                p: [(row["record_id"], row["value"]) for row in rows] for p, rows in details.get(metric, {}).items()
            }

        return RuleContext(
            period=the_period,
            currency="USD",
            people=list(self.people),
            values=self.values.get(label, {}),
            targets=self.targets.get(label, {}),
            round_line=lambda v: v,
            round_total=_round,
            records=records,
            rule_id=rule_id,
            time_zone=self.time_zone,
            people_info=self.people_info,
            org=self.org,
            results=results or {},
            values_in=lambda metric, p: self.values.get(p.label, {}).get(metric, {}),
            targets_in=lambda metric, p: self.targets.get(p.label, {}).get(metric, {}),
            history=lambda rule, p: self.saved.get((rule, p.label), []),
            record_details=lambda metric: details.get(metric, {}),
        )

    def run(
        self,
        period: str,
        rules: Sequence[tuple[str, Callable[[RuleContext, Any], list[RuleResult]], Any]],
    ) -> dict[str, list[RuleResult]]:
        """Evaluate ``rules`` (id, evaluate, config) in order for one period and save their outcomes."""
        label = parse_period(period).label
        results: dict[str, dict[str, Decimal]] = {}
        produced: dict[str, list[RuleResult]] = {}
        for rule_id, evaluate, config in rules:
            outcomes = evaluate(self.context(label, rule_id, results), config)
            produced[rule_id] = outcomes
            self.saved[(rule_id, label)] = outcomes
            results[rule_id] = {o.person_id: o.amount for o in outcomes if o.amount is not None}
        return produced


def ctx_for(period: str, people: list[str], **fields: Any) -> RuleContext:
    """A one-period context with everything else empty unless given."""
    ledger = Ledger(people=people)
    ctx = ledger.context(period, fields.pop("rule_id", "rule"))
    for name, value in fields.items():
        setattr(ctx, name, value)
    return ctx
