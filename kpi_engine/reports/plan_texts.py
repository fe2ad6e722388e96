"""The plan a run was evaluated with, found by its SHA-256 among the plan files, for what a trace omits.

A statement draws a rule's whole ladder of tiers (a trace lists only the bands a person reached), and a
leaderboard breaks ties the way the plan's rank bonus does. Both read the plan's own settings from the
file whose text has the run's hash, so they show the very version that paid; when no such file is
found (the plan was edited since), they fall back to what the trace holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import PlanError
from ..plans.files import RULES_FOLDER, plan_files
from ..plans.source import read_plan_source
from ..yaml_reader import read_yaml_text

__all__ = ["PlanTexts", "default_plan_folders"]


def default_plan_folders() -> list[Path]:
    """``./rules`` and the example plans shipped with the package."""
    folders = [RULES_FOLDER]
    try:
        from importlib.resources import files

        folders.append(Path(str(files("kpi_engine_rules"))))
    except (ModuleNotFoundError, TypeError):
        pass
    return [f for f in folders if f.is_dir()]


class PlanTexts:
    """Plan files by the hash of their text, read once, from ``folders``."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self._by_hash: dict[str, Mapping[str, Any]] = {}
        for folder in folders:
            for path in plan_files(folder):
                try:
                    text = read_yaml_text(path)
                    data = read_plan_source(text, path).data
                except (OSError, UnicodeDecodeError, ValueError, PlanError):
                    continue  # not a plan this report can read: its runs fall back to their traces
                if isinstance(data, Mapping):
                    self._by_hash.setdefault(hashlib.sha256(text.encode("utf-8")).hexdigest(), data)

    def rule(self, plan_hash: str, rule_id: str) -> Mapping[str, Any] | None:
        """The settings of rule ``rule_id`` in the plan whose text hashes to ``plan_hash``."""
        plan = self._by_hash.get(plan_hash)
        rules = plan.get("rules") if plan else None
        if not isinstance(rules, list):
            return None
        for rule in rules:
            if isinstance(rule, Mapping) and rule.get("id") == rule_id:
                return rule
        return None

    def name(self, plan_hash: str) -> str | None:
        """The plan's ``name`` as HR wrote it."""
        plan = self._by_hash.get(plan_hash)
        value = plan.get("name") if plan else None
        return str(value) if value else None
