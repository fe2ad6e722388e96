"""Plan tests: run a plan's cases without a database and compare what it pays with what the case expects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ..engine.contract import FindingReview, PersonInfo, RuleResult, TargetLevels
from ..engine.organisation import Organisation
from ..engine.runner import run_rules
from ..errors import KPIError, PlanError
from ..money import money_text, plain, to_decimal
from ..periods import Period, parse_period
from ..registry import Registry, get_registry
from ..store.runs import Outcome
from ..yaml_reader import read_yaml_text
from .cases import PlanTestCase
from .checking import PlanChecker, load_plan
from .files import TESTS_SUFFIX, plan_files
from .model import LoadedPlan
from .source import read_plan_source

__all__ = ["CaseFacts", "CaseResult", "load_cases", "run_case", "run_plan_tests"]

SUMMABLE_UNITS = ("money", "count", "days", "hours", "minutes")
_MATCH_KEYS = ("rule", "person")


@dataclass
class CaseResult:
    """The outcome of one case: passed, or the differences (and an error, if it could not run)."""

    plan: str
    name: str
    source: str | None = None
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)  # period label -> lines

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None


class _TestsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tests: list[PlanTestCase]


def load_cases(plan: LoadedPlan, *, registry: Registry | None = None) -> list[PlanTestCase]:
    """The plan's own ``tests:`` and those of ``<plan>.tests.yaml`` beside it."""
    cases = list(plan.plan.tests)
    path = Path(plan.path)
    beside = path.with_name(path.name.rsplit(".", 1)[0] + TESTS_SUFFIX)
    if beside.is_file():
        try:
            text = read_yaml_text(beside)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise PlanError(f"{beside}:1:1: the plan's test cases cannot be read: {exc}.") from None
        source = read_plan_source(text, beside)
        data = source.data if isinstance(source.data, dict) else {"tests": source.data}
        try:
            cases.extend(_TestsFile.model_validate(data).tests)
        except ValidationError as exc:
            checker = PlanChecker(source, registry or get_registry())
            checker.raw = data
            checker.pydantic(exc, _TestsFile)
            raise PlanError(
                checker.problems[0]
                if len(checker.problems) == 1
                else f"{beside} has {len(checker.problems)} problems; the first: {checker.problems[0]}",
                problems=checker.problems,
            ) from None
    return cases


class CaseFacts:
    """The facts of one case: its people, metric values, targets, records and scores, per period label."""

    def __init__(self, case: PlanTestCase, plan: LoadedPlan, registry: Registry) -> None:
        self.case = case
        self.plan = plan
        self.registry = registry
        self.saved: dict[str, list[Outcome]] = {}
        scope = plan.plan.applies_to
        given = case.people if case.people is not None else {"E1": None}
        people = []
        for pid, spec in given.items():
            role = spec.role if spec and spec.role else (scope.roles[0] if scope.roles else None)
            team = spec.team if spec and spec.team else (scope.teams[0] if scope.teams else None)
            people.append(
                PersonInfo(
                    id=pid,
                    name=(spec.name if spec and spec.name else pid),
                    role=role,
                    team_id=team,
                    manager_id=spec.manager if spec else None,
                    hire_date=spec.hire_date if spec else None,
                    leave_date=spec.leave_date if spec else None,
                )
            )
        self._org = Organisation(people)

    def _aliases(self, metric: str) -> list[str]:
        return [metric, *(name for name, base in self.plan.names.aliases.items() if base == metric)]

    def _by_label(self, table: Mapping[str, Mapping[str, Any]], metric: str, label: str) -> Mapping[str, Any] | None:
        found = table.get(label, {})
        for name in self._aliases(metric):
            if name in found:
                return found[name]
        return None

    def organisation(self) -> Organisation:
        return self._org

    def values(self, metric: str, period: Period) -> Mapping[str, Decimal]:
        exact = self._by_label(self.case.data, metric, period.label)
        if exact is not None:
            return dict(exact)
        rows = self._by_label(self.case.records, metric, period.label)
        if rows is not None:
            return {person: sum((r["value"] for r in self._rows(found)), Decimal(0)) for person, found in rows.items()}
        unit = self.registry.metrics[metric].unit if metric in self.registry.metrics else "money"
        if unit not in SUMMABLE_UNITS:
            return {}
        total: dict[str, Decimal] = {}
        for label in self.case.data:  # a longer period (year to date, a quarter) sums the periods inside it
            inner = _period_or_none(label)
            if inner is None or inner == period or not (period.start <= inner.start and inner.end <= period.end):
                continue
            for person, value in (self._by_label(self.case.data, metric, label) or {}).items():
                total[person] = total.get(person, Decimal(0)) + value
        return total

    def targets(self, metric: str, period: Period) -> Mapping[str, TargetLevels]:
        found = self._by_label(self.case.targets, metric, period.label) or {}
        return {p: TargetLevels(target=t.target, baseline=t.baseline, challenge=t.challenge) for p, t in found.items()}

    @staticmethod
    def _rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for n, row in enumerate(rows, 1):
            details = dict(row)
            details.setdefault("record_id", n)
            details["value"] = to_decimal(details.get("value", 0))
            out.append(details)
        return out

    def evidence(self, metric: str, period: Period) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        found = self._by_label(self.case.records, metric, period.label) or {}
        return {person: self._rows(rows) for person, rows in found.items()}

    def evidence_table(self, metric: str) -> str | None:
        known = self.registry.metrics.get(metric)
        return (known.evidence_table if known else None) or "records"

    def manual_scores(self, kpi: str, label: str) -> Mapping[str, Decimal]:
        return dict(self.case.manual_scores.get(label, {}).get(kpi, {}))

    def history_of(self, rule: str, period: Period, people: Iterable[str]) -> Sequence[RuleResult]:
        wanted = set(people)
        return [result for result in self.history(rule, period) if result.person_id in wanted]

    def reviews_in(self, period: Period) -> Sequence[FindingReview]:
        from datetime import UTC, datetime, time

        return [
            FindingReview(
                finding_id=r.id,
                plan_id=r.plan,
                check=r.check,
                person_id=r.person,
                period=r.period,
                decision=r.decision,
                reviewed_at=datetime.combine(r.reviewed_on, time(12), UTC),
            )
            for r in sorted(self.case.reviews, key=lambda r: (r.reviewed_on, r.id))
            if period.start <= r.reviewed_on < period.end
        ]

    def finding_reviews(self) -> Mapping[str, tuple[str, str]]:
        return {}  # a case has no reviewed findings

    def closed_periods(self) -> frozenset[str]:
        return frozenset()  # a case has no pay cycle

    def released_holds(self) -> frozenset[tuple[str, str, str, str]]:
        return frozenset()

    def history(self, rule: str, period: Period) -> Sequence[RuleResult]:
        lines = self.saved.get(period.label, [])
        return [
            RuleResult(
                person_id=o.person_id,
                amount=o.amount,
                trace=o.trace,
                kind=o.kind,
                status=o.status,
                attention=o.attention,
            )
            for o in lines
            if o.rule_id == rule
        ]


def _period_or_none(label: str) -> Period | None:
    try:
        return parse_period(label)
    except KPIError:
        return None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return to_decimal(value)
    except (TypeError, ValueError):
        return None


def _same(expected: Any, actual: Any) -> bool:
    """Equality as a person means it: ``40`` is ``"40.00"``, a date is its ISO text, a mapping matches the keys
    given."""
    if isinstance(expected, dict):
        return isinstance(actual, Mapping) and all(_same(v, actual.get(k)) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, (list, tuple))
            and len(expected) == len(actual)
            and all(_same(e, a) for e, a in zip(expected, actual))
        )
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(expected).lower() == str(actual).lower()
    left, right = _number(expected), _number(actual)
    if left is not None and right is not None:
        return left == right
    if isinstance(expected, date):
        expected = expected.isoformat()
    return str(expected) == str(actual)


def _shown(value: Any) -> str:
    if isinstance(value, Decimal):
        return money_text(value) if value == value.quantize(Decimal("0.01")) else plain(value)
    if value is None:
        return "none"
    return str(value)


def _field(line: Outcome, key: str, lines: list[Outcome]) -> Any:
    if key == "amount":
        return line.amount
    if key == "kind":
        return line.kind
    if key == "currency":
        return line.currency
    if key == "attention":
        return line.attention
    if key == "status" and line.status is not None:
        return line.status
    if key == "total":  # what the person is paid: a held line is not
        return sum((o.amount for o in lines if o.amount is not None and o.kind != "held"), Decimal(0))
    return line.trace.get(key)


def _compare(label: str, expected: list[dict[str, Any]], actual: list[Outcome], exact: bool) -> list[str]:
    failures: list[str] = []
    matched: set[int] = set()
    for want in expected:
        rule, person = str(want["rule"]), None if want.get("person") is None else str(want["person"])
        lines = [o for o in actual if o.rule_id == rule and (person is None or o.person_id == person)]
        checks = {k: v for k, v in want.items() if k not in _MATCH_KEYS}
        who = f"{label} {rule}" + (f" {person}" if person else "")
        hit = next(
            (
                i
                for i, o in enumerate(actual)
                if o in lines and id(o) not in matched and all(_same(v, _field(o, k, lines)) for k, v in checks.items())
            ),
            None,
        )
        if hit is not None:
            matched.add(id(actual[hit]))
            continue
        if not lines:
            others = sorted({f"{o.rule_id}/{o.person_id}" for o in actual})
            failures.append(f"{who}: expected a line, got none (lines: {', '.join(others) or 'none'})")
            continue
        for line in lines[:3]:
            diffs = [
                f"{k} expected {_shown(v)}, got {_shown(_field(line, k, lines))}"
                for k, v in checks.items()
                if not _same(v, _field(line, k, lines))
            ]
            failures.append(f"{who}: " + "; ".join(diffs))
    if exact:
        for line in actual:
            if id(line) not in matched:
                failures.append(
                    f"{label} {line.rule_id} {line.person_id}: unexpected line, amount {_shown(line.amount)} "
                    f"({line.kind})"
                )
    return failures


def run_case(plan: LoadedPlan, case: PlanTestCase, *, registry: Registry | None = None) -> CaseResult:
    """Evaluate a case's periods in order (each sees the earlier ones as history) and compare."""
    registry = registry or get_registry()
    result = CaseResult(plan=plan.path, name=case.name, source=case.source)
    facts = CaseFacts(case, plan, registry)
    for label in case.labels:
        try:
            period = parse_period(label)
            if not plan.in_force(period):
                raise KPIError(f"plan {plan.id!r} version {plan.plan.version} is not in force in {label}.")
            _, outcomes = run_rules(plan, period, facts, registry)
        except KPIError as exc:
            result.error = f"{label}: {exc}"
            return result
        except Exception as exc:  # noqa: BLE001 - a rule type that breaks on a case is a failed case, not a crash
            result.error = f"{label}: {type(exc).__name__}: {exc}"
            return result
        facts.saved[label] = outcomes
        result.outcomes[label] = outcomes
        result.failures.extend(_compare(label, case.expect.get(label, []), outcomes, case.exact))
    return result


def run_plan_tests(path: str | Path, *, registry: Registry | None = None) -> list[CaseResult]:
    """Every case of every plan under ``path`` (a plan file or a folder of them)."""
    registry = registry or get_registry()
    results: list[CaseResult] = []
    for file in plan_files(path):
        try:
            plan = load_plan(file, registry=registry)
            cases = load_cases(plan, registry=registry)
        except PlanError as exc:
            results.append(CaseResult(plan=str(file), name="(the plan does not validate)", error=str(exc)))
            continue
        results.extend(run_case(plan, case, registry=registry) for case in cases)
    return results
