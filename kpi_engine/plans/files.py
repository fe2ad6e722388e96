"""Finding plan files: a file, a folder of plans and their versions, or a plan id looked up in ``rules/``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import PlanError
from ..periods import Period
from ..registry import Registry
from ..yaml_reader import read_yaml_text
from .checking import load_plan
from .model import LoadedPlan
from .source import read_plan_source

__all__ = ["RULES_FOLDER", "load_plan_for", "plan_files", "plan_id_of", "plans_in_force"]

RULES_FOLDER = Path("rules")
TESTS_SUFFIX = ".tests.yaml"


def plan_files(path: str | Path) -> list[Path]:
    """The plan files of a path: itself, or the ``*.yaml``/``*.yml`` files of a folder (tests files excepted)."""
    p = Path(path)
    if p.is_dir():
        return sorted(
            f for f in (*p.glob("*.yaml"), *p.glob("*.yml")) if not f.name.endswith((TESTS_SUFFIX, ".tests.yml"))
        )
    return [p]


def plan_id_of(path: Path) -> str | None:
    """A plan file's ``id`` read without validating the rest (``None`` when it cannot be read).

    Files are read again each time (cheap) and parsed only when their text changed: evaluating a folder of
    plans month after month asks each file's id many times.
    """
    try:
        text = read_yaml_text(path)
    except (OSError, UnicodeDecodeError, ValueError):  # unreadable, not text, or too large to be a plan
        return None
    key = (str(path), hashlib.sha256(text.encode()).hexdigest())
    if key not in _IDS:
        try:
            data = read_plan_source(text, path).data
        except PlanError:
            data = None
        if len(_IDS) >= 1024:
            _IDS.pop(next(iter(_IDS)))
        _IDS[key] = str(data["id"]) if isinstance(data, dict) and "id" in data else None
    return _IDS[key]


_IDS: dict[tuple[str, str], str | None] = {}


def _packaged_rules() -> Path | None:
    try:
        from importlib.resources import files

        folder = Path(str(files("kpi_engine_rules")))
    except (ModuleNotFoundError, TypeError):
        return None
    return folder if folder.is_dir() else None


def _folder_for_id(plan_id: str) -> Path:
    for folder in (RULES_FOLDER, _packaged_rules()):
        if folder is not None and folder.is_dir() and any(plan_id_of(f) == plan_id for f in plan_files(folder)):
            return folder
    raise PlanError(
        f"there is no plan file {plan_id!r} and no plan with that id in {RULES_FOLDER}/.",
        hint="give the path of a plan file or folder, or the id of a plan in rules/",
    )


def load_plan_for(
    path_or_id: str | Path, period: Period, plan_id: str | None = None, *, registry: Registry | None = None
) -> LoadedPlan:
    """The plan version in force in ``period``: from a file, from the versions in a folder, or by plan id.

    Several versions of a plan (same ``id``, different ``version`` and ``effective`` dates) may sit in one
    folder; exactly one must be in force for the period.
    """
    p = Path(path_or_id)
    if not p.exists() and p.suffix not in (".yaml", ".yml") and "/" not in str(path_or_id):
        plan_id, p = str(path_or_id), _folder_for_id(str(path_or_id))
    if not p.is_dir():
        return load_plan(p, registry=registry)
    candidates = [f for f in plan_files(p) if plan_id is None or plan_id_of(f) == plan_id]
    ids = sorted({i for f in candidates if (i := plan_id_of(f)) is not None})
    if not ids:
        raise PlanError(
            f"{p} holds no plan{f' with id {plan_id!r}' if plan_id else ''}.",
            hint="give a plan file or the folder holding it",
        )
    if len(ids) > 1:
        raise PlanError(
            f"{p} holds several plans ({', '.join(ids)}); which one is meant?",
            hint="give the plan id as well, or the file",
        )
    versions = [load_plan(f, registry=registry) for f in candidates if plan_id_of(f) == ids[0]]
    in_force = [v for v in versions if v.in_force(period)]
    if len(in_force) > 1:
        files = " and ".join(f"{v.path} (version {v.plan.version})" for v in in_force)
        raise PlanError(
            f"two versions of plan {ids[0]!r} are in force in {period.label}: {files}.",
            hint=(
                "make their effective dates meet without overlapping (the earlier one's 'to' is the later one's 'from')"
            ),
        )
    if not in_force:
        spans = "; ".join(f"{v.plan.version}: {_span(v)}" for v in versions)
        raise PlanError(
            f"no version of plan {ids[0]!r} is in force in {period.label} ({spans}).",
            hint="pick another period or add a version for it",
        )
    return in_force[0]


def plans_in_force(
    folder: str | Path, period: Period, *, registry: Registry | None = None
) -> tuple[list[LoadedPlan], list[str]]:
    """Every plan of a folder in force in ``period`` (the version in force of each plan id), and the ids of
    the plans with no version in force then."""
    ids = sorted({i for f in plan_files(folder) if (i := plan_id_of(f)) is not None})
    if not ids:
        raise PlanError(f"{folder} holds no plan.", hint="give a plan file or the folder holding it")
    found, idle = [], []
    for plan_id in ids:
        versions = [load_plan(f, registry=registry) for f in plan_files(folder) if plan_id_of(f) == plan_id]
        if not any(v.in_force(period) for v in versions):
            idle.append(plan_id)
            continue
        found.append(load_plan_for(folder, period, plan_id, registry=registry))
    return found, idle


def _span(plan: LoadedPlan) -> str:
    eff = plan.plan.effective
    if eff is None:
        return "always"
    return f"from {eff.from_.isoformat()}" + (f" to {eff.to.isoformat()}" if eff.to else "")
