"""Plan files: HR's YAML, validated whole, with every problem pointing at file, line and column."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._errors import PlanError
from ._money import quantize
from ._periods import Period, zone
from ._yaml import Located, load_located
from .plugins import Registry, get_registry

__all__ = ["LoadedPlan", "Plan", "Rounding", "Scope", "load_plan", "parse_plan"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Rounding(_Strict):
    """How and where amounts are rounded (nowhere else)."""

    mode: Literal["half_up", "half_even", "down", "up", "floor", "ceiling"] = "half_up"
    places: int = Field(2, ge=0, le=4)
    at: Literal["line", "person_period"] = "person_period"

    def apply(self, value: Decimal) -> Decimal:
        return quantize(value, self.places, self.mode)


class Scope(_Strict):
    """Who the plan measures: any of these roles, teams or named people (empty = everyone)."""

    roles: list[str] = []
    teams: list[str] = []
    people: list[str] = []


class Effective(_Strict):
    """The dates a plan version is in force: ``from`` inclusive, ``to`` exclusive."""

    from_: date = Field(alias="from")
    to: date | None = None


class RuleSpec(BaseModel):
    """One rule of a plan: ``id``, ``type`` and the type's own settings."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str


class Plan(_Strict):
    """A plan file's top level."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: str = "1"
    name: str | None = None
    description: str | None = None
    effective: Effective | None = None
    applies_to: Scope = Scope()
    period: Literal["month", "quarter", "year", "week", "range"] = "month"
    time_zone: str = "UTC"
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    rounding: Rounding
    rules: list[RuleSpec] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> str:
        return str(value)


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan: the model, each rule's typed config, and the hash of its text."""

    plan: Plan
    configs: dict[str, BaseModel]  # rule id -> validated config
    plan_hash: str
    path: str

    @property
    def id(self) -> str:
        return self.plan.id

    def round_line(self, value: Decimal) -> Decimal:
        return self.plan.rounding.apply(value) if self.plan.rounding.at == "line" else value

    def round_total(self, value: Decimal) -> Decimal:
        return self.plan.rounding.apply(value)

    def in_force(self, period: Period) -> bool:
        eff = self.plan.effective
        return eff is None or (eff.from_ < period.end and (eff.to is None or period.start < eff.to))


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for listing valid keys)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _problems(exc: ValidationError, doc: Located, model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> list[str]:
    out: list[str] = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        line, col = doc.where(loc)
        where = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            owner = _model_at(model, tuple(err["loc"]))
            valid = _keys_of(owner) if owner else []
            near = difflib.get_close_matches(key, valid, n=1)
            hint = (f"did you mean {near[0]!r}? " if near else "") + (f"valid keys: {', '.join(valid)}" if valid else "")
            parent = ".".join(str(p) for p in loc[:-1])
            place = f" in {parent}" if parent else ""
            out.append(f"{doc.path}:{line}:{col}: unknown key {key!r}{place}. {hint}".rstrip())
        elif err["type"] == "missing":
            out.append(f"{doc.path}:{line}:{col}: {where} is required but missing.")
        else:
            message = err["msg"].removeprefix("Value error, ")
            given = err.get("input")
            shown = "" if isinstance(given, (dict, list)) else f" (got {given!r})"
            out.append(f"{doc.path}:{line}:{col}: {where}: {message}{shown}.")
    return out


def parse_plan(text: str, path: str | Path = "<plan>", *, registry: Registry | None = None) -> LoadedPlan:
    """Validate a plan's text; raise ``PlanError`` listing every problem at once."""
    registry = registry or get_registry()
    try:
        doc = load_located(text, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(f"{where}: the plan is not valid YAML: {problem}.", hint="check indentation and quotes") from None
    if not isinstance(doc.data, dict):
        raise PlanError(f"{path}:1:1: a plan must be a mapping of keys (id, currency, rounding, rules ...).")
    problems: list[str] = []
    try:
        plan = Plan.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(_problems(exc, doc, Plan))
        plan = None
    configs: dict[str, BaseModel] = {}
    raw_rules = doc.data.get("rules") if isinstance(doc.data.get("rules"), list) else []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        if not isinstance(raw, dict) or "type" not in raw or "id" not in raw:
            continue
        line, col = doc.where(("rules", index, "type"))
        if raw["id"] in seen:
            problems.append(f"{doc.path}:{line}:{col}: two rules are called {raw['id']!r}; rule ids must be unique.")
        seen.add(raw["id"])
        rule_type = registry.rule_types.get(raw["type"])
        if rule_type is None:
            near = difflib.get_close_matches(str(raw["type"]), registry.rule_types, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"known types: {', '.join(sorted(registry.rule_types))}"
            problems.append(f"{doc.path}:{line}:{col}: unknown rule type {raw['type']!r}. {hint}")
            continue
        settings = {k: v for k, v in raw.items() if k not in ("id", "type")}
        try:
            config = rule_type.config_model.model_validate(settings)
        except ValidationError as exc:
            problems.extend(_problems(exc, doc, rule_type.config_model, ("rules", index)))
            continue
        configs[raw["id"]] = config
        for metric in sorted(rule_type.metrics(config)):
            if metric not in registry.metrics:
                near = difflib.get_close_matches(metric, registry.metrics, n=1)
                hint = f"did you mean {near[0]!r}?" if near else f"known metrics: {', '.join(sorted(registry.metrics))}"
                problems.append(f"{doc.path}:{line}:{col}: rule {raw['id']!r} uses unknown metric {metric!r}. {hint}")
    if problems or plan is None:
        count = len(problems)
        raise PlanError(
            f"{problems[0]}" if count == 1 else f"{path} has {count} problems; the first: {problems[0]}",
            hint=None if count == 1 else "fix each problem listed above",
            problems=problems,
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedPlan(plan=plan, configs=configs, plan_hash=digest, path=str(path))


def load_plan(path: str | Path, *, registry: Registry | None = None) -> LoadedPlan:
    """Read and validate a plan file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"the plan file {str(p)!r} does not exist.", hint="give the path of a YAML plan, e.g. rules/sales-commission.yaml") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read the plan file {str(p)!r}: {exc}.") from None
    return parse_plan(text, p, registry=registry)
