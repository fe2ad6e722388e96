"""Plan files: HR's YAML, validated whole, with every problem pointing at file, line and column."""

from __future__ import annotations

import copy
import difflib
import hashlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from ..errors import ConfigProblems, FormulaError, KPIError, PlanError
from ..formula.formula import FormulaValueError, compile_formula
from ..registry import Registry, get_registry
from ..yaml_reader import YAMLRefused, read_yaml_text
from .model import LoadedPlan, Plan, SpanSpec, TargetSpec
from .names import PlanNames, dependency_order, formulas_in, references_of
from .source import PlanSource, read_plan_source

__all__ = ["PlanChecker", "load_plan", "parse_plan"]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for listing valid keys)."""
    current: Any = model
    key_next = False  # the part after a dict field is one of its keys, not a field
    for part in loc[:-1]:
        if isinstance(part, int) or key_next:
            key_next = False
            continue
        field_info = (
            current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        )
        if field_info is None:
            return None
        annotation = field_info.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for candidate in list(candidates):
            candidates.extend(getattr(candidate, "__args__", ()))  # list[Tier] | None, dict[str, X]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return None
        key_next = any(getattr(c, "__origin__", None) is dict for c in candidates)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _nearest(name: str, choices: list[str] | Any, what: str) -> str:
    near = difflib.get_close_matches(name, list(choices), n=1)
    if near:
        return f"did you mean {near[0]!r}?"
    shown = sorted(choices)
    return (
        f"known {what}: {', '.join(shown[:30])}{' …' if len(shown) > 30 else ''}" if shown else f"no {what} are defined"
    )


class PlanChecker:
    """Collects every problem of one plan file, each located at the key or character it is about."""

    def __init__(self, source: PlanSource, registry: Registry) -> None:
        self.source = source
        self.registry = registry
        self.problems: list[str] = []
        self.raw: dict[str, Any] = source.data
        self.rule_ids: dict[int, str] = {}
        self.refused: dict[str, BaseModel] = {}  # settings of refused rules, still checked against the plan's names

    # --- reporting -------------------------------------------------------------------

    def add(self, position: tuple[int, int], message: str) -> None:
        line, col = position
        text = f"{self.source.path}:{line}:{col}: {message}"
        if text not in self.problems:
            self.problems.append(text)

    def describe(self, loc: tuple[Any, ...]) -> str:
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and loc[1] in self.rule_ids:
            rest = ".".join(str(p) for p in loc[2:])
            return f"rule {self.rule_ids[loc[1]]!r}" + (f", {rest}" if rest else "")
        return ".".join(str(p) for p in loc) or "the plan"

    def pydantic(self, exc: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> None:
        self.errors(exc.errors(), model, prefix)

    def errors(self, errors: list[Any], model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> None:
        for err in errors:
            rel = tuple(err["loc"])
            loc = (*prefix, *rel)
            if err["type"] == "extra_forbidden":
                key = str(rel[-1])
                owner = _model_at(model, rel)
                valid = _keys_of(owner) if owner else []
                near = difflib.get_close_matches(key, valid, n=1)
                hint = (f"did you mean {near[0]!r}? " if near else "") + (
                    f"valid keys: {', '.join(valid)}" if valid else ""
                )
                parent = self.describe(loc[:-1]) if loc[:-1] else ""
                place = f" in {parent}" if parent else ""
                self.add(self.source.where(loc), f"unknown key {key!r}{place}. {hint}".rstrip())
                continue
            if err["type"] == "missing":
                self.add(
                    self.source.where(loc),
                    f"{self.describe(loc)}: {rel[-1] if rel else 'a value'} is required but missing.",
                )
                continue
            message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            position = self.source.where(loc)
            raised = (err.get("ctx") or {}).get("error")
            if isinstance(raised, ConfigProblems):  # a validator's every finding, each at its own key
                for sub, sentence in raised.problems:
                    at = self.source.where((*loc, *sub)) if sub else None
                    self.add(
                        at or self._mentioned_key(loc, sentence) or position,
                        f"{self.describe(loc)}: {sentence.rstrip('.')}.",
                    )
                continue
            formula_error = raised.error if isinstance(raised, FormulaValueError) else None
            if formula_error is not None:  # at the formula's character, from the error's position
                message = _sentence(formula_error).rstrip(".")
                position = self.source.inside(loc, formula_error.position)
            elif not rel or (prefix and loc == prefix):
                position = self._mentioned_key(loc, message) or position
            given = err.get("input")
            shown = (
                ""
                if isinstance(given, (dict, list)) or not rel or given is None or formula_error is not None
                else f" (got {self._written(loc, given)})"
            )
            self.add(position, f"{self.describe(loc)}: {message.rstrip('.')}{shown}.")

    def _written(self, loc: tuple[Any, ...], given: Any) -> str:
        """A value as the plan wrote it: a number's text (``.inf``, ``5%``), anything else as Python shows it."""
        node = self.source.values.get(tuple(loc))
        if not isinstance(given, str) and isinstance(node, yaml.ScalarNode):
            return str(node.value)  # a number or a date as written, not as Python shows it
        return repr(given)

    def _mentioned_key(self, loc: tuple[Any, ...], message: str) -> tuple[int, int] | None:
        """For a problem about a whole rule, the key its sentence names first (``tiers …`` → the ``tiers`` key)."""
        node = self._raw_at(loc)
        if not isinstance(node, dict):
            return None
        best: tuple[int, str] | None = None
        for key in node:
            found = re.search(rf"\b{re.escape(str(key))}\b", message)
            if found and key not in ("id", "type") and (best is None or found.start() < best[0]):
                best = (found.start(), str(key))
        return self.source.where((*loc, best[1])) if best else None

    def _raw_at(self, loc: tuple[Any, ...]) -> Any:
        node: Any = self.raw
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def _value_loc(self, loc: tuple[Any, ...], value: str) -> tuple[Any, ...] | None:
        """The key path of the first scalar equal to ``value`` under ``loc`` (where a metric name was written)."""
        node = self._raw_at(loc)
        if node == value:
            return loc
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, _item in items:
            if key in ("id", "type") and len(loc) == 2:
                continue
            found = self._value_loc((*loc, key), value)
            if found is not None:
                return found
        return None

    # --- checks ----------------------------------------------------------------------

    def top_level(self) -> Plan | None:
        try:
            return Plan.model_validate(self.raw)
        except ValidationError as exc:
            self.pydantic(exc, Plan)
            return None

    def rules(self) -> tuple[dict[str, BaseModel], dict[str, int]]:
        configs: dict[str, BaseModel] = {}
        index_of: dict[str, int] = {}
        written = self.raw.get("rules")
        raw_rules: list[Any] = written if isinstance(written, list) else []
        for index, raw in enumerate(raw_rules):
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                self.rule_ids[index] = raw["id"]
        for index, raw in enumerate(raw_rules):
            if not isinstance(raw, dict) or "type" not in raw or "id" not in raw:
                continue
            position = self.source.where(("rules", index, "type"))
            rule_id = str(raw["id"])
            if rule_id in index_of:
                self.add(
                    self.source.where(("rules", index, "id")),
                    f"two rules are called {rule_id!r}; rule ids must be unique.",
                )
                continue
            index_of[rule_id] = index
            rule_type = self.registry.rule_types.get(str(raw["type"]))
            if rule_type is None:
                self.add(
                    position,
                    f"unknown rule type {raw['type']!r}. "
                    f"{_nearest(str(raw['type']), self.registry.rule_types, 'types')}",
                )
                continue
            settings = {k: v for k, v in raw.items() if k not in ("id", "type", "component")}
            try:
                configs[rule_id] = rule_type.config_model.model_validate(settings)
            except ValidationError as exc:
                self.pydantic(exc, rule_type.config_model, ("rules", index))
                checked = self._checks_behind(exc, rule_type.config_model, settings, ("rules", index))
                if checked is not None:
                    self.refused[rule_id] = checked
            except (
                KPIError,
                ValueError,
                TypeError,
                ArithmeticError,
            ) as exc:  # a validator that raised outside pydantic's wrapping
                self.add(position, f"rule {rule_id!r}: {str(exc).rstrip('.')}.")
        return configs, index_of

    def _checks_behind(
        self, exc: ValidationError, model: type[BaseModel], settings: dict[str, Any], prefix: tuple[Any, ...]
    ) -> BaseModel | None:
        """The checks a config model's own validator would make, which pydantic skips once a key is wrong; and
        settings to check the plan's names against (the rule is refused either way).

        The settings are validated again without what was wrong (an unknown key, a bad value; whatever then
        misses a required key goes with it), and the validator's findings are reported unless they are
        about what was taken out. A plan with a misspelt key and tiers that leave a gap hears of both.
        """
        errors = exc.errors()
        if any(not err["loc"] for err in errors):  # the model's own checks ran: their settings, if they gave them
            return next((s for err in errors if isinstance(s := _settings_of(err), BaseModel)), None)
        repaired = copy.deepcopy(settings)
        taken: list[tuple[Any, ...]] = []  # what was taken out, besides unknown keys
        for _ in range(6):
            for err in errors:
                loc = tuple(err["loc"])
                if err["type"] == "missing":
                    loc = loc[:-1]
                    if not loc:
                        return None  # a required key of the rule itself: its checks cannot run
                if _delete(repaired, loc) and err["type"] != "extra_forbidden":
                    taken.append(loc)
            try:
                return model.model_validate(repaired)
            except ValidationError as again:
                errors = again.errors()
                if any(not err["loc"] for err in errors):
                    self.errors(_untouched([e for e in errors if not e["loc"]], taken), model, prefix)
                    return next((s for err in errors if isinstance(s := _settings_of(err), BaseModel)), None)
        return None

    def names(self, plan: Plan | None) -> PlanNames:
        """Aliases, derived formulas and targets (read from the raw text when the top level is invalid)."""
        metrics = (
            plan.metrics
            if plan
            else {k: str(v) for k, v in _dict(self.raw.get("metrics")).items() if isinstance(k, str)}
        )
        targets: dict[str, Any] = dict(plan.targets) if plan else {}
        if plan is None:
            for name, spec in _dict(self.raw.get("targets")).items():
                if isinstance(spec, dict) and isinstance(spec.get("metric"), str):
                    targets[str(name)] = TargetSpec.model_construct(
                        metric=spec["metric"], level="target", prorate="none"
                    )
        rule_ids = list(self.rule_ids.values())
        spans: dict[str, Any] = dict(plan.spans) if plan else {}
        if plan is None:
            for name, spec in _dict(self.raw.get("spans")).items():
                if isinstance(spec, dict) and isinstance(spec.get("of"), str):
                    spans[str(name)] = SpanSpec.model_construct(of=spec["of"], over=spec.get("over", "year"))
        names = PlanNames(targets=targets, spans=spans, rules=rule_ids, metrics=frozenset(self.registry.metrics))
        for name, text in metrics.items():
            if text.strip() in self.registry.metrics:
                names.aliases[name] = text.strip()
                continue
            try:
                names.derived[name] = compile_formula(text)
            except FormulaError as exc:
                position = self.source.inside(("metrics", name), exc.position)
                self.add(position, f"metric {name!r}: {_sentence(exc)}")
        for name, spec in targets.items():
            if names.base_metric(spec.metric) is None:
                where = self.source.value_at(("targets", name, "metric"))
                self.add(
                    where,
                    f"target {name!r} is bound to unknown metric {spec.metric!r}. "
                    f"{_nearest(spec.metric, [*self.registry.metrics, *names.aliases], 'metrics')}",
                )
        for name in sorted({*names.aliases, *names.derived, *names.targets, *names.spans} & set(rule_ids)):
            self.add(
                self.source.where(
                    ("metrics", name) if name in metrics else ("targets", name) if name in targets else ("spans", name)
                ),
                f"{name!r} names both a rule and a metric or target; give them different names.",
            )
        for name in sorted(set(names.spans) & {*names.aliases, *names.derived, *names.targets, *names.metrics}):
            self.add(self.source.where(("spans", name)), f"{name!r} names both a span and a metric or target.")
        for name, spec in names.spans.items():
            kind = names.kind(spec.of)
            if kind is None or kind in ("rule", "span"):
                what = {"rule": "a rule", "span": "another span"}.get(kind or "", "an unknown name")
                known = [n for n in names.known() if names.kind(n) not in ("rule", "span")]
                self.add(
                    self.source.value_at(("spans", name, "of")),
                    f"span {name!r} is of {what} ({spec.of!r}); a span is of a metric, a target or a "
                    f"metric formula. {_nearest(spec.of, known, 'names') if kind is None else ''}".rstrip(),
                )
        for name, formula in names.derived.items():
            for ref, _back in sorted(references_of(formula)):
                if names.kind(ref) is None:
                    self.add(
                        self._name_in_formula(("metrics", name), formula, ref),
                        f"metric {name!r} uses unknown name {ref!r}. {_nearest(ref, names.known(), 'names')}",
                    )
        cycle = _derived_cycle(names)
        if cycle:
            self.add(
                self.source.where(("metrics", cycle[0]) if cycle[0] in names.derived else ("spans", cycle[0])),
                f"metrics {' → '.join(cycle)} are defined in terms of each other.",
            )
        return names

    def _name_in_formula(self, loc: tuple[Any, ...], formula: Any, name: str) -> tuple[int, int]:
        found = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", formula.text)
        return self.source.inside(loc, found.start()) if found else self.source.value_at(loc)

    def references(
        self, configs: dict[str, BaseModel], index_of: dict[str, int], names: PlanNames
    ) -> dict[str, frozenset[str]]:
        """Every name each rule reads, checked against the plan's names; returns rule id -> names read."""
        reads: dict[str, frozenset[str]] = {}
        raw_rules = self.raw.get("rules") or []
        for rule_id, config in configs.items():
            index = index_of[rule_id]
            rule_type = self.registry.rule_type(str(raw_rules[index]["type"]))
            local = set(rule_type.local_names(config))
            read: set[str] = set()
            for name in sorted(rule_type.metrics(config)):
                read.add(name)
                if names.kind(name) is None:
                    at = self._value_loc(("rules", index), name)
                    where = self.source.value_at(at) if at else self.source.where(("rules", index, "type"))
                    self.add(
                        where,
                        f"rule {rule_id!r} uses unknown metric {name!r}. "
                        f"{_nearest(name, [*names.metrics, *names.aliases, *names.derived], 'metrics')}",
                    )
            for name in sorted(rule_type.rules(config)):
                read.add(name)
                if name not in names.rules:
                    at = self._value_loc(("rules", index), name)
                    where = self.source.value_at(at) if at else self.source.where(("rules", index, "type"))
                    self.add(
                        where,
                        f"rule {rule_id!r} reads the results of unknown rule {name!r}. "
                        f"{_nearest(name, names.rules, 'rules')}",
                    )
            for loc, formula in formulas_in(config, ("rules", index)):
                for name, back in sorted(references_of(formula)):
                    if name in local and back == 0:
                        continue
                    if names.kind(name) is None:
                        self.add(
                            self._name_in_formula(loc, formula, name),
                            f"rule {rule_id!r} uses unknown name {name!r}. "
                            f"{_nearest(name, [*names.known(), *local], 'names')}",
                        )
                    elif back == 0:
                        read.add(name)
            reads[rule_id] = frozenset(read)
        return reads

    def effects(
        self, configs: dict[str, BaseModel], index_of: dict[str, int], reads: dict[str, frozenset[str]]
    ) -> None:
        """A check's ``affects`` names payout rules of this plan, which then run after it; an effect needs them."""
        from ..findings.model import is_check

        for rule_id, config in configs.items():
            if not is_check(config):
                continue
            index = index_of[rule_id]
            effect = getattr(config, "effect", "flag")
            affects = list(getattr(config, "affects", []))
            if effect != "flag" and not affects:
                where = self.source.where(("rules", index, "effect"))
                self.add(
                    where,
                    f"rule {rule_id!r}: effect {effect!r} needs `affects`, the payout rules of this plan it acts on.",
                )
            for n, name in enumerate(affects):
                where = self.source.value_at(("rules", index, "affects", n))
                if name == rule_id:
                    self.add(where, f"rule {rule_id!r} cannot affect itself.")
                elif name not in index_of and name not in self.rule_ids.values():
                    self.add(
                        where,
                        f"rule {rule_id!r} affects unknown rule {name!r}. "
                        f"{_nearest(name, [r for r in index_of if not is_check(configs.get(r))], 'payout rules')}",
                    )
                elif is_check(configs.get(name)):
                    self.add(
                        where, f"rule {rule_id!r} affects {name!r}, which is a check; a check affects payout rules."
                    )
                elif name in reads:
                    reads[name] = reads[name] | {rule_id}  # the check runs before the rule it affects

    def order(self, names: PlanNames, reads: dict[str, frozenset[str]], index_of: dict[str, int]) -> tuple[str, ...]:
        rule_set = set(names.rules)
        needs = {rule: _rules_behind(names, read, rule_set) for rule, read in reads.items()}
        order, cycle = dependency_order([r for r in names.rules if r in reads], needs)
        if cycle:
            first = cycle[0]
            where = self.source.where(("rules", index_of[first], "id")) if first in index_of else (1, 1)
            if len(cycle) == 2:
                self.add(
                    where,
                    f"rule {first!r} reads its own result; a rule can read only earlier periods of itself "
                    f"({first}[-1]).",
                )
            else:
                self.add(
                    where,
                    f"rules {' → '.join(cycle)} read each other's results in a cycle; none of them can be evaluated "
                    "first.",
                )
        return tuple(order)


def _settings_of(err: Any) -> Any:
    raised = (err.get("ctx") or {}).get("error")
    return raised.settings if isinstance(raised, ConfigProblems) else None


def _delete(data: Any, loc: tuple[Any, ...]) -> bool:
    """Take the key or item at ``loc`` out of nested settings; whether there was one."""
    for part in loc[:-1]:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    try:
        del data[loc[-1]]
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _untouched(errors: list[Any], taken: list[tuple[Any, ...]]) -> list[Any]:
    """A validator's findings that are not about settings taken out (they would be guesses)."""

    def about_taken(loc: tuple[Any, ...]) -> bool:
        return any(loc[: len(t)] == t or t[: len(loc)] == loc for t in taken if loc)

    found = []
    for err in errors:
        raised = (err.get("ctx") or {}).get("error")
        if isinstance(raised, ConfigProblems):
            kept = [(loc, sentence) for loc, sentence in raised.problems if not about_taken(tuple(loc))]
            if kept:
                found.append({**err, "ctx": {**err["ctx"], "error": ConfigProblems(kept)}})
        elif not any(re.search(rf"\b{re.escape(str(t[0]))}\b", str(err["msg"])) for t in taken):
            found.append(err)
    return found


def _dict(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _sentence(error: FormulaError) -> str:
    """A formula error as one sentence without its position (the file's line and column say where)."""
    return f"{error.reason.rstrip('.')}." + (f" {error.hint}" if error.hint else "")


def _rules_behind(names: PlanNames, read: frozenset[str], rules: set[str]) -> set[str]:
    """Rules a set of names depends on, directly or through derived metrics."""
    found: set[str] = set()
    seen: set[str] = set()
    todo = list(read)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in rules:
            found.add(name)
        elif name in names.derived:
            todo.extend(n for n, back in references_of(names.derived[name]) if back == 0)
    return found


def _derived_cycle(names: PlanNames) -> list[str] | None:
    inner = {*names.derived, *names.spans}
    needs = {n: {r for r, back in references_of(f) if back == 0 and r in inner} for n, f in names.derived.items()}
    needs |= {n: {spec.of} & inner for n, spec in names.spans.items()}
    _, cycle = dependency_order([*names.derived, *names.spans], needs)
    return cycle


def parse_plan(text: str, path: str | Path = "<plan>", *, registry: Registry | None = None) -> LoadedPlan:
    """Validate a plan's text; raise ``PlanError`` listing every problem at once."""
    registry = registry or get_registry()
    source = read_plan_source(text, path)
    if not isinstance(source.data, dict):
        raise PlanError(f"{path}:1:1: a plan must be a mapping of keys (id, currency, rounding, rules ...).")
    checker = PlanChecker(source, registry)
    plan = checker.top_level()
    configs, index_of = checker.rules()
    names = checker.names(plan)
    reads = checker.references(configs | checker.refused, index_of, names)
    checker.effects(configs, index_of, reads)
    order = checker.order(names, reads, index_of)
    problems = checker.problems
    if problems or plan is None:
        count = len(problems)
        raise PlanError(
            f"{problems[0]}" if count == 1 else f"{path} has {count} problems; the first: {problems[0]}",
            hint=None if count == 1 else "fix each problem listed above",
            problems=problems,
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedPlan(
        plan=plan, configs=configs, plan_hash=digest, path=str(path), names=names, order=order, reads=reads
    )


def load_plan(path: str | Path, *, registry: Registry | None = None) -> LoadedPlan:
    """Read and validate a plan file (the same text, read before for the same registry, is not validated again)."""
    p = Path(path)
    registry = registry or get_registry()
    try:
        text = read_yaml_text(p)
    except FileNotFoundError:
        raise PlanError(
            f"the plan file {str(p)!r} does not exist.",
            hint="give the path of a YAML plan, e.g. rules/sales-commission.yaml",
        ) from None
    except YAMLRefused as exc:
        raise PlanError(f"{p}:1:1: the plan is refused: {exc}.", hint="a plan is a short file of plain keys") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read the plan file {str(p)!r}: {exc}.") from None
    key = (str(p.resolve()), hashlib.sha256(text.encode()).hexdigest())
    cached = _LOADED.get(key)
    if cached is not None and cached[0] is registry:
        return cached[1]
    loaded = parse_plan(text, p, registry=registry)
    if len(_LOADED) >= 256:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[key] = (registry, loaded)
    return loaded


# Validated plans by file and text: a run of months, or plans evaluated again, reads each once.
_LOADED: dict[tuple[str, str], tuple[Registry, LoadedPlan]] = {}
