"""docs/catalogue.md §1 names the metric of each KPI: the names exist, and every §1 metric is named."""

from __future__ import annotations

import re
from pathlib import Path

from kpi_engine import load_plugins

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "catalogue.md"

# Plain names in the "Metric" column that are not metrics: a table, a manual score, a rule type.
NOT_METRICS = {"deal_stage_history", "report_quality", "scorecard"}


def section(number: int) -> str:
    text = CATALOGUE.read_text(encoding="utf-8")
    start = text.index(f"\n## {number}. ")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def metric_column_names() -> set[str]:
    rows = [line for line in section(1).splitlines() if line.startswith("| ") and not line.startswith("| KPI")]
    names: set[str] = set()
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) == 5 and not set(cells[4]) <= {"-", " "}:
            names |= set(re.findall(r"`([a-z][a-z0-9_]*)`", cells[4]))
    return names


def test_every_metric_the_catalogue_names_exists():
    metrics = load_plugins().metrics
    named = metric_column_names() - NOT_METRICS
    assert len(named) > 40, "the table of section 1 was not read"
    assert sorted(named - set(metrics)) == []


def test_every_metric_citing_section_1_is_in_the_catalogue():
    text = section(1)
    cited = {name for name, metric in load_plugins().metrics.items() if metric.source and "§1" in metric.source}
    assert len(cited) > 40
    assert sorted(name for name in cited if f"`{name}`" not in text) == []
