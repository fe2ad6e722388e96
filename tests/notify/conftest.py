"""A store with a small team, a month of PIP and alert lines, and a fake wall clock for kpi notify's tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kpi_engine import Store
from tests.support.saved_runs import add_people, save_lines

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


class WallClock:
    """Wall time that moves only when asked to wait; every wait is recorded."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start.timestamp()
        self.sleeps: list[float] = []  # float ok: seconds

    def time(self) -> float:  # float ok: seconds
        return self.now

    def sleep(self, seconds: float) -> None:  # float ok: seconds
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def wall_clock() -> WallClock:
    return WallClock()


PIP_TRACE: dict[str, Any] = {
    "rule_type": "pip_trigger",
    "status": "raised",
    "explanation": "attainment < 100% in 2 consecutive periods.",
    "evidence": [
        {"period": "2026-10", "value": "0.82", "met": False},
        {"period": "2026-11", "value": "0.74", "met": False},
    ],
}
ALERT_TRACE: dict[str, Any] = {
    "rule_type": "alert",
    "metric": "lead_conversion_rate",
    "state": "firing",
    "at": "2026-11-05",
    "evidence": [
        {"interval": "2026-11-03", "value": "0.05"},
        {"interval": "2026-11-04", "value": "0.04"},
        {"interval": "2026-11-05", "value": "0.06"},
    ],
    "explanation": "lead conversion rate < 10% on 3 consecutive days.",
}


@pytest.fixture
def team_store(store: Store) -> Iterator[Store]:
    """Manager M1 (team east) with Li Lei (E1) and a hostile name (E2); November's PIP and alert lines."""
    add_people(
        store,
        [
            ("M1", "Wang Hong", "east", None),
            ("E1", "Li Lei", "east", "M1"),
            ("E2", "[x](http://evil) <b>", "east", "M1"),
        ],
    )
    save_lines(store, "pip", "2026-11", [("E1", "pip", "recommendation", "raised", PIP_TRACE)])
    save_lines(
        store,
        "conversion-alert",
        "2026-11",
        [
            ("E2", "conversion_alert", "alert", "firing", ALERT_TRACE),
            ("E1", "conversion_alert", "alert", "firing", {**ALERT_TRACE, "carried_over": True, "at": "2026-11-01"}),
        ],
    )
    yield store


def write_config(folder: Path, text: str) -> Path:
    path = folder / "notify.yaml"
    path.write_text(text, encoding="utf-8")
    return path
