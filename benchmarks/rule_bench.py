"""Rule evaluations per second: the example commission rule over people whose facts are in memory.

    .venv/bin/python benchmarks/rule_bench.py [--people 100000] [--deals 3] [--rounds 3]

**One rule evaluation** is one rule of a plan applied to one person for one period, with the
person's facts already in memory (metric value, target levels, the records behind the value),
deciding what the person is paid: the amount rounded as the plan says, one outcome line with the
trace attached. No database is involved: the facts come from an in-memory source with the same
interface the database source has, so the figures are the rule engine's own cost, not SQL's.

The rule is the ``commission`` rule of ``rules/sales-commission.yaml`` alone (marginal tiers on
attainment of the bookings target, a cap, plan rounding); the plan's anti-gaming checks are left
out so that every evaluation counted is a commission decided.

Four figures, each the best of ``--rounds`` rounds over every person, on the same inputs in the
same run:

- ``engine``: ``run_rules`` of that plan: people in scope, the rule, rounding and outcome lines. A
  trace is attached to every line and written when it is first read (``LazyTrace``);
- ``engine+trace``: the same, then every trace read as saving a run reads it (inputs, tier lines,
  record ids, explanation sentences);
- ``rule type``: the ``tiered_commission`` rule type alone (``RuleType.evaluate``, no runner);
- ``by hand``: the same tier arithmetic written directly in Python on ``Decimal`` (no trace), the
  baseline.

Before timing, the engine's payout of every person is checked against the hand-written one, and
every trace against the amount and the person's deals.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml

from kpi_engine import (
    LoadedPlan,
    Period,
    PersonInfo,
    Registry,
    RuleResult,
    TargetLevels,
    get_registry,
    parse_period,
    parse_plan,
)
from kpi_engine.engine.collector import collector_paused
from kpi_engine.engine.organisation import Organisation
from kpi_engine.engine.runner import run_rules
from kpi_engine.store.runs import Outcome

PLAN = Path(__file__).resolve().parent.parent / "rules" / "sales-commission.yaml"
RULE = "commission"
PERIOD = "2026-06"
CENT = Decimal("0.01")
ZERO = Decimal(0)
# The ladder of rules/sales-commission.yaml, written out: (from, to, rate) on attainment, and the cap.
BANDS = (
    (Decimal(0), Decimal(1), Decimal("0.05")),
    (Decimal(1), Decimal("1.5"), Decimal("0.08")),
    (Decimal("1.5"), None, Decimal("0.10")),
)
CAP = Decimal(60000)


class MemoryFacts:
    """Facts of one period held in memory: bookings, their deals and targets per person."""

    def __init__(
        self,
        people: Sequence[PersonInfo],
        deals: Mapping[str, list[tuple[int, Decimal]]],
        targets: Mapping[str, TargetLevels],
    ) -> None:
        self._org = Organisation(people)
        self._bookings = {person: sum((amount for _, amount in rows), ZERO) for person, rows in deals.items()}
        self._targets = targets
        # Built once, as the database source reads each metric's evidence once per evaluation.
        self._evidence = {
            person: [{"record_id": rid, "value": amount} for rid, amount in rows] for person, rows in deals.items()
        }

    def organisation(self) -> Organisation:
        return self._org

    def values(self, metric: str, period: Period) -> Mapping[str, Decimal]:
        return self._bookings if metric == "bookings" else {}

    def targets(self, metric: str, period: Period) -> Mapping[str, TargetLevels]:
        return self._targets if metric == "bookings" else {}

    def evidence(self, metric: str, period: Period) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        return self._evidence if metric == "bookings" else {}

    def evidence_table(self, metric: str) -> str | None:
        return "deals"

    def manual_scores(self, kpi: str, label: str) -> Mapping[str, Decimal]:
        return {}

    def history(self, rule: str, period: Period) -> Sequence[RuleResult]:
        return ()


@dataclass(frozen=True)
class Company:
    people: list[PersonInfo]
    deals: dict[str, list[tuple[int, Decimal]]]
    targets: dict[str, TargetLevels]

    def facts(self) -> MemoryFacts:
        return MemoryFacts(self.people, self.deals, self.targets)


def make_company(n_people: int, deals_each: int, seed: int = 1) -> Company:
    """People with ``deals_each`` won deals of 5,000-300,000 each and a target of 300,000 (challenge 450,000)."""
    rng = random.Random(seed)
    people = [PersonInfo(id=f"E{i:06d}", name=f"E{i:06d}", role="sales_rep") for i in range(n_people)]
    deals: dict[str, list[tuple[int, Decimal]]] = {}
    record = 0
    for person in people:
        rows = []
        for _ in range(deals_each):
            record += 1
            rows.append((record, Decimal(rng.randrange(500_000, 30_000_000)).scaleb(-2)))
        deals[person.id] = rows
    target = TargetLevels(target=Decimal(300000), baseline=Decimal(240000), challenge=Decimal(450000))
    return Company(people, deals, {p.id: target for p in people})


def commission_by_hand(bookings: Decimal, target: Decimal) -> Decimal:
    """Marginal tiers on attainment, the cap, then half-up to cents: the plan's arithmetic without a trace."""
    total = ZERO
    for low, high, rate in BANDS:
        start = low * target
        if bookings <= start:
            break
        end = bookings if high is None else min(bookings, high * target)
        total += (end - start) * rate
    return min(total, CAP).quantize(CENT, rounding=ROUND_HALF_UP)


def by_hand(company: Company) -> dict[str, Decimal]:
    return {
        person: commission_by_hand(sum((amount for _, amount in rows), ZERO), company.targets[person].target)
        for person, rows in company.deals.items()
    }


def commission_plan(registry: Registry) -> LoadedPlan:
    """``rules/sales-commission.yaml`` with its ``commission`` rule only (no checks, no plan tests)."""
    data = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    data["rules"] = [r for r in data["rules"] if r["id"] == RULE]
    data.pop("tests", None)
    return parse_plan(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), PLAN, registry=registry)


def engine(loaded: LoadedPlan, period: Period, facts: MemoryFacts, registry: Registry) -> list[Outcome]:
    return run_rules(loaded, period, facts, registry)[1]


def engine_with_traces(loaded: LoadedPlan, period: Period, facts: MemoryFacts, registry: Registry) -> list[Outcome]:
    with collector_paused():  # as ``evaluate`` reads them: in the same pause of the garbage collector
        outcomes = engine(loaded, period, facts, registry)
        for outcome in outcomes:
            dict(outcome.trace)  # what saving a run reads
    return outcomes


def rule_type_only(loaded: LoadedPlan, period: Period, facts: MemoryFacts, registry: Registry) -> list[RuleResult]:
    """The rule type's own evaluation for every person, with a context filled as the runner fills it."""
    from kpi_engine.engine.runner import Book

    rule = loaded.plan.rules[0]
    book = Book(loaded, period, facts, registry)
    rule_type = registry.rule_type(rule.type)
    for metric in rule_type.metrics(loaded.configs[rule.id]):
        book.values(metric, period)
    return list(rule_type.evaluate(book.context(rule.id), loaded.configs[rule.id]))


def best_seconds(work: Callable[[], Any], rounds: int) -> float:
    best = float("inf")  # float ok: timings
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def check(company: Company, loaded: LoadedPlan, period: Period, registry: Registry) -> int:
    """Every person's engine payout equals the hand-written one; returns the number of people checked."""
    expected = by_hand(company)
    outcomes = engine(loaded, period, company.facts(), registry)
    paid = {o.person_id: o.amount for o in outcomes}
    if paid != expected:
        wrong = next(p for p in expected if paid.get(p) != expected[p])
        raise AssertionError(f"{wrong}: the engine pays {paid.get(wrong)}, the hand-written tiers {expected[wrong]}")
    for o in outcomes:
        if len(o.trace["records"]["ids"]) != len(company.deals[o.person_id]) or Decimal(o.trace["total"]) != o.amount:
            raise AssertionError(f"the trace of {o.person_id} does not list every deal or does not explain the amount")
    return len(paid)


def measure(n_people: int, deals_each: int, rounds: int) -> dict[str, float]:
    """Evaluations per second of the three ways (people × rules ÷ the best round's seconds)."""
    registry = get_registry()
    loaded = commission_plan(registry)
    period = parse_period(PERIOD)
    company = make_company(n_people, deals_each)
    evaluations = check(company, loaded, period, registry) * len(loaded.plan.rules)
    facts = company.facts()
    seconds = {
        "engine": best_seconds(lambda: engine(loaded, period, facts, registry), rounds),
        "engine+trace": best_seconds(lambda: engine_with_traces(loaded, period, facts, registry), rounds),
        "rule type": best_seconds(lambda: rule_type_only(loaded, period, facts, registry), rounds),
        "by hand": best_seconds(lambda: by_hand(company), rounds),
    }
    return {name: evaluations / took for name, took in seconds.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000, help="people evaluated per round (default 100,000)")
    parser.add_argument("--deals", type=int, default=3, help="won deals per person in the period (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure; the best is kept (default 3)")
    args = parser.parse_args(argv)
    print(
        f"Python {platform.python_version()} on {platform.machine()}; {args.people:,} "
        f"people × 1 rule, {args.deals} deals each, best of {args.rounds}"
    )
    rates = measure(args.people, args.deals, args.rounds)
    baseline = rates["by hand"]
    print(f"{'way':<14} {'evaluations/s':>14} {'× by hand':>10}")
    for name, per_second in rates.items():
        print(f"{name:<14} {per_second:>14,.0f} {per_second / baseline:>10.3f}")


if __name__ == "__main__":
    main()
