"""What the sample generator hands back: the planted gaming cases and a summary of the rows written."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

__all__ = ["PlantedCase", "SampleSummary"]


@dataclass(frozen=True)
class PlantedCase:
    """One gaming pattern deliberately planted in the sample data, with the rows that show it."""

    pattern: str
    person_id: str
    period: str
    table: str
    record_ids: tuple[int, ...]
    note: str


@dataclass(frozen=True)
class SampleSummary:
    """The seed and months of a generated sample company, rows written per table and its ground truth."""

    seed: int
    first_month: str
    last_month: str
    counts: dict[str, int] = field(hash=False)
    ground_truth: tuple[PlantedCase, ...]

    def ground_truth_json(self) -> str:
        """The planted cases as stable JSON (sorted keys), for answer keys and comparisons."""
        payload = {
            "seed": self.seed,
            "first_month": self.first_month,
            "last_month": self.last_month,
            "cases": [asdict(case) for case in self.ground_truth],
        }
        return json.dumps(payload, sort_keys=True, ensure_ascii=False, indent=2)
