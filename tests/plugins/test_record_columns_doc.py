"""docs/rule-types.md lists every record column each metric offers to formulas, exactly.

Before: the columns a rule could read (``share``, ``split_role``, ``owner_id`` of ``deal_credit`` …) were
documented nowhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from kpi_engine import MetricContext, get_registry, parse_period

DOC = Path(__file__).parents[2] / "docs" / "rule-types.md"


def _documented() -> dict[str, set[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Record columns a formula can read", 1)[1].split("\n## ", 1)[0]
    found: dict[str, set[str]] = {}
    for row in section.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("Metric", "---"):
            continue
        metrics = re.findall(r"`([a-z_]+)`", cells[0])
        values = {"owner", "refund", "cancellation", "credit_note", "churn", "deal_lost"}  # a column's values
        columns = set(re.findall(r"`([a-z][a-z0-9_]*)`", cells[3])) - values
        for metric in metrics:
            found[metric] = columns
    return found


CONVERSION = {"original_amount", "original_currency", "rate", "rate_day"}
"""Columns every money metric's records carry (documented once, below the table)."""


def test_the_conversion_columns_of_money_records_are_documented_once():
    text = DOC.read_text(encoding="utf-8").split("### Record columns a formula can read", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{column}`" in text.split("| Metric |")[-1].split("\n\n", 1)[1] for column in CONVERSION)


def test_every_metric_with_extra_record_columns_is_documented_with_exactly_those_columns():
    period = parse_period("2026-10")
    start, end = period.bounds_utc("UTC")
    ctx = MetricContext(period=period, start=start, end=end, time_zone="UTC", currency="USD")
    documented = _documented()
    for name, metric in get_registry().metrics.items():
        if metric.evidence is None:
            continue
        extra = [c.name for c in metric.evidence(ctx).selected_columns][3:]
        extra = [column for column in extra if column not in CONVERSION]
        if not extra:
            continue
        assert name in documented, f"{name}'s record columns ({', '.join(extra)}) are not in docs/rule-types.md"
        assert documented[name] == set(extra), (name, sorted(documented[name] ^ set(extra)))
