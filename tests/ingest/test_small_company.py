"""A small company imported entirely from files, one per entity, in one command, and the catalogue metrics
that read those facts, against values computed by hand.

The export (``tests/data/company``, plus ``web_visits.xlsx`` written here) is October 2026 in Shanghai:

- Sales: Ann (E1) and Bo (E2) under Mia (M1). Acme's expansion D-1 (100,000 CNY, won 10 Oct) is split 60 % to
  Ann and 40 % to Bo; Bo also wins Globex's pilot D-2 (50,000, 20 Oct). Bookings: Ann 60,000;
  Bo 40,000 + 50,000 = 90,000.
- Cash (回款, a GB18030 file with a Chinese CRM's headers): 60,000 against D-1 (Ann's), 20,000 against D-2
  (Bo's) and 5,000 from Umbrella (named by name) without a deal, which goes to its account owner Cy (C1).
  Collections: Ann 60,000, Bo 20,000, Cy 5,000. One refund (退款) of 2,000 against D-2: Bo's refunds 2,000.
- Marketing: Kai (K1) spent 3,000 + 1,500 = 4,500 and brought three MQLs in October (L-2, L-3, L-4; L-5 never
  became one): cost per lead 4,500 / 3 = 1,500. Web: visitors v1 (twice, one form) and v2, and v3 flagged as
  fake traffic: 2 unique visitors, form conversion 1 / 2 = 0.5. Content: 80 clicks of 2,000 impressions: 0.04.
- Customer success: Cy's answers: NPS 10, 9 and 3: (2 promoters − 1 detractor) / 3 = 33.33; satisfaction
  (4.5 + 3.5) / 2 = 4. Renewals due in October: Umbrella renewed, Globex churned, Globex's pilot pending
  (its customer taken from deal D-2): 1 / 3 = 0.333333. Customers on the books on 1 October: Acme, Globex and
  Umbrella (Initech arrived on 5 October); Globex churned: churn 1 / 3 = 0.333333. Tickets resolved in 4 h and
  24 h: 14.00 hours. Trained customers {Acme} of served customers {Acme, Umbrella}: 0.5 (Ann and Bo, who
  visited and called customers and trained none: 0).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from kpi_engine import ENTITIES, Store, get_registry, import_files, metric_values, parse_period, schema
from kpi_engine.cli import main
from kpi_engine.ingest.loading import entity_table
from kpi_engine.metrics.compute import metric_context

COMPANY = Path(__file__).parents[1] / "data" / "company"


def export_folder(tmp_path: Path) -> Path:
    """The company's export, with the web visits as an XLSX workbook."""
    folder = tmp_path / "export"
    shutil.copytree(COMPANY, folder)
    (folder / "mapping.yaml").unlink()
    book = Workbook()
    sheet = book.active
    sheet.append(
        ["remote_id", "visitor_id", "occurred_at", "channel", "campaign", "owner_id", "form_submitted", "is_suspect"]
    )
    sheet.append(["W-1", "v1", datetime(2026, 10, 2, 10, 0), "search", "Q4", "K1", "yes", "no"])
    sheet.append(["W-2", "v1", datetime(2026, 10, 3, 10, 0), "search", "Q4", "K1", "no", "no"])
    sheet.append(["W-3", "v2", datetime(2026, 10, 3, 11, 0), "social", "Q4", "K1", "no", "no"])
    sheet.append(["W-4", "v3", datetime(2026, 10, 4, 11, 0), "social", "Q4", "K1", "no", "yes"])
    book.save(folder / "web_visits.xlsx")
    return folder


def values(store: Store, metric: str) -> dict[str | None, Decimal | None]:
    ctx = metric_context(parse_period("2026-10"), "Asia/Shanghai", "CNY")
    with store.connect() as conn:
        return metric_values(conn, get_registry().metric(metric), ctx)


def test_a_whole_export_folder_imports_in_one_command_and_the_catalogue_metrics_read_it(
    store: Store, tmp_path: Path
) -> None:
    folder = export_folder(tmp_path)

    summaries = import_files(store, [folder], mapping=COMPANY / "mapping.yaml")

    assert [s.entity for s in summaries] == list(ENTITIES)  # one file per entity, in dependency order
    assert all(s.inserted == s.rows_read > 0 and not s.warnings for s in summaries)
    with store.connect() as conn:
        for entity in ENTITIES:
            assert conn.execute(select(func.count()).select_from(entity_table(entity))).scalar(), entity

    assert values(store, "bookings") == {"E1": Decimal("60000"), "E2": Decimal("90000")}
    assert values(store, "collections") == {"E1": Decimal("60000"), "E2": Decimal("20000"), "C1": Decimal("5000")}
    assert values(store, "refunds") == {"E2": Decimal("2000")}
    assert values(store, "marketing_spend") == {"K1": Decimal("4500")}
    assert values(store, "cost_per_lead") == {"K1": Decimal("1500")}
    assert values(store, "unique_visitors") == {"K1": 2}
    assert values(store, "form_conversion_rate") == {"K1": Decimal("0.5")}
    assert values(store, "content_ctr") == {"K1": Decimal("0.04")}
    assert values(store, "nps") == {"C1": Decimal("33.33")}
    assert values(store, "satisfaction") == {"C1": Decimal("4")}
    assert values(store, "renewal_rate") == {"C1": Decimal("0.333333")}
    assert values(store, "churn_rate") == {"C1": Decimal("0.333333")}
    assert values(store, "issue_resolution_hours") == {"C1": Decimal("14")}
    assert values(store, "training_coverage") == {"C1": Decimal("0.5"), "E1": 0, "E2": 0}  # reps trained nobody
    assert values(store, "visits") == {"E1": 1, "E2": 1}


def test_importing_the_same_export_again_changes_nothing(store: Store, tmp_path: Path) -> None:
    folder = export_folder(tmp_path)
    import_files(store, [folder], mapping=COMPANY / "mapping.yaml")
    with store.connect() as conn:
        before = {e: conn.execute(select(entity_table(e))).all() for e in ENTITIES}
        changes = conn.execute(select(func.count()).select_from(schema.fact_changes)).scalar()

    again = import_files(store, [folder], mapping=COMPANY / "mapping.yaml")

    assert all((s.inserted, s.updated) == (0, 0) for s in again)
    with store.connect() as conn:
        assert {e: conn.execute(select(entity_table(e))).all() for e in ENTITIES} == before
        assert conn.execute(select(func.count()).select_from(schema.fact_changes)).scalar() == changes


def test_a_bad_row_in_one_file_of_the_folder_imports_nothing_of_any_file(store: Store, tmp_path: Path) -> None:
    folder = export_folder(tmp_path)
    refunds = folder / "refunds.csv"
    refunds.write_text(refunds.read_text(encoding="utf-8").replace("D-2,2000.00", "D-404,2000.00"), encoding="utf-8")

    with pytest.raises(Exception) as refused:
        import_files(store, [folder], mapping=COMPANY / "mapping.yaml")

    assert "row 2, column 'deal_remote_id': 'D-404' is not a known deal of source 'crm'" in str(refused.value.problems)  # type: ignore[attr-defined]
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.people)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(schema.imports)).scalar() == 0


def test_kpi_import_of_the_folder_prints_a_line_per_file(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = export_folder(tmp_path)

    with pytest.raises(SystemExit) as done:
        main(["--db", store.url, "import", str(folder), "--mapping", str(COMPANY / "mapping.yaml")])

    out = capsys.readouterr()
    assert done.value.code == 0, out.err
    assert "回款.csv: 3 rows of payments: 3 inserted, 0 updated, 0 unchanged." in out.out
    assert "web_visits.xlsx: 4 rows of web_visits: 4 inserted, 0 updated, 0 unchanged." in out.out
    assert len(out.out.splitlines()) == len(ENTITIES)
