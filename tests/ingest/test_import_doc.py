"""docs/import.md says what the code does: its entity tables are the templates, its mapping and conversions load."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kpi_engine.fx import CurrencyConversion
from kpi_engine.ingest.mapping import load_mapping
from kpi_engine.ingest.records import ENTITIES, RECORD_MODELS
from kpi_engine.ingest.templates import entity_templates

DOC = Path(__file__).parents[2] / "docs" / "import.md"


def test_the_entity_tables_are_the_templates() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("<!-- entities:")[1].split("<!-- end of entities -->")[0]
    documented = re.findall(r"^### `([a-z_]+)`", section, flags=re.MULTILINE)
    assert documented == list(ENTITIES)
    for template in entity_templates():
        block = section.split(f"### `{template.entity}`")[1].split("### ")[0]
        rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]*) \| ([^|]*) \|", block, flags=re.MULTILINE)
        assert [r[0] for r in rows] == list(template.columns), template.entity
        assert [r[0] for r in rows if r[1].strip() == "yes"] == list(template.required), template.entity
        assert [r[2].strip() for r in rows] == list(template.example), template.entity
        assert RECORD_MODELS[template.entity].description in block


def test_the_whole_export_mapping_of_the_doc_loads(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL) if "entities:" in b)
    path = tmp_path / "fxiaoke.yaml"
    path.write_text(example, encoding="utf-8")

    mapping = load_mapping(path)

    assert set(mapping.entities) == {"people", "deals", "deal_splits", "payments", "refunds"}
    assert mapping.entity_of(Path("回款2026-10.xlsx")) == "payments"
    assert mapping.for_entity("deals").time_zone == "Asia/Shanghai"


def test_every_conversion_the_doc_shows_is_valid() -> None:
    text = DOC.read_text(encoding="utf-8")
    lines = re.findall(r"^#? ?conversion: (\{[^#]*\})", text, flags=re.MULTILINE)
    assert len(lines) == 4
    for line in lines:
        CurrencyConversion.model_validate(yaml.safe_load(line))
