"""The ±20 % rule for target changes (source 003), shared by every path that writes targets.

A target that moves more than ``CHANGE_LIMIT`` from the value it replaces is refused unless a
reason is given; every change (first targets included) is written to ``target_changes`` with its
reason, so the history of a quota can be shown to the person it measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select

from ..money import plain
from ..store import schema as s

__all__ = ["CHANGE_LIMIT", "TargetChange", "compare_targets", "log_target_changes"]

CHANGE_LIMIT = Decimal("0.20")
"""Largest change of a saved target without a stated reason (source 003: adjustments within ±20 %)."""


@dataclass(frozen=True)
class TargetChange:
    """One target as it would be written, beside the row it replaces (``old`` is None for a new one)."""

    subject_type: str
    subject_id: str
    metric: str
    period: str
    baseline: Decimal | None
    target: Decimal
    challenge: Decimal | None
    old: Any = None  # the targets row replaced, if any

    @property
    def change(self) -> Decimal | None:
        """new / old − 1 of the target level; None for a first target or an old target of zero."""
        if self.old is None or not self.old.target:
            return None
        return (self.target / self.old.target - 1).quantize(Decimal("0.000001"))

    @property
    def beyond_limit(self) -> bool:
        change = self.change
        return change is not None and abs(change) > CHANGE_LIMIT

    @property
    def unchanged(self) -> bool:
        return self.old is not None and (self.old.baseline, self.old.target, self.old.challenge) == (
            self.baseline,
            self.target,
            self.challenge,
        )

    def describe(self) -> str:
        change = self.change or Decimal(0)
        return (
            f"{self.subject_id} {self.metric} {self.period}: {plain(self.old.target)} → {plain(self.target)} "
            f"({change * 100:+.1f}%)"
        )


def compare_targets(conn: Connection, wanted: Sequence[TargetChange]) -> list[TargetChange]:
    """``wanted`` with each item's ``old`` row filled in from the targets already stored."""
    t = s.targets
    keys = {(w.subject_type, w.subject_id, w.metric, w.period) for w in wanted}
    existing: dict[tuple[str, str, str, str], Any] = {}
    if keys:
        metrics = sorted({k[2] for k in keys})
        periods = sorted({k[3] for k in keys})
        for row in conn.execute(select(t).where(t.c.metric.in_(metrics), t.c.period.in_(periods))):
            key = (row.subject_type, row.subject_id, row.metric, row.period)
            if key in keys:
                existing[key] = row
    return [
        TargetChange(
            w.subject_type,
            w.subject_id,
            w.metric,
            w.period,
            w.baseline,
            w.target,
            w.challenge,
            existing.get((w.subject_type, w.subject_id, w.metric, w.period)),
        )
        for w in wanted
    ]


def log_target_changes(
    conn: Connection, changes: Sequence[TargetChange], *, reason: str | None, changed_by: str | None, now: datetime
) -> int:
    """Write one ``target_changes`` row per target that is new or different; returns how many."""
    rows = [
        {
            "subject_type": c.subject_type,
            "subject_id": c.subject_id,
            "metric": c.metric,
            "period": c.period,
            "old_target": c.old.target if c.old is not None else None,
            "new_target": c.target,
            "old_baseline": c.old.baseline if c.old is not None else None,
            "new_baseline": c.baseline,
            "old_challenge": c.old.challenge if c.old is not None else None,
            "new_challenge": c.challenge,
            "change": c.change,
            "reason": reason,
            "changed_by": changed_by,
            "changed_at": now,
        }
        for c in changes
        if not c.unchanged
    ]
    if rows:
        conn.execute(insert(s.target_changes), rows)
    return len(rows)
