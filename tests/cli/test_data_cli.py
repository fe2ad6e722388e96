"""kpi import --template and --help, kpi data list and summary, kpi fx: what can be imported, what is stored."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kpi_engine import ENTITIES, Store, import_file, import_files
from kpi_engine.cli import main

COMPANY = Path(__file__).parents[1] / "data" / "company"


def kpi(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main([*args])
    out = capsys.readouterr()
    return int(done.value.code or 0), out.out, out.err


@pytest.fixture
def company(store: Store, tmp_path: Path) -> Store:
    folder = tmp_path / "export"
    shutil.copytree(COMPANY, folder)
    (folder / "mapping.yaml").unlink()
    import_files(store, [folder], mapping=COMPANY / "mapping.yaml")
    return store


def test_the_help_of_kpi_import_lists_every_entity(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = kpi(capsys, "import", "--help")
    assert code == 0
    listed = out.split("Entities, in the order")[1]
    assert [line.split()[0] for line in listed.splitlines()[1:] if line.strip()] == list(ENTITIES)


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_template_is_an_importable_header_and_example_row_with_its_legend(
    entity: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = kpi(capsys, "import", "--entity", entity, "--template")

    assert code == 0
    header, example = list(csv.reader(io.StringIO(out)))
    assert len(header) == len(example) and header[0] and any(example)
    legend = err.splitlines()
    assert legend[0].startswith(f"# {entity}: ") and legend[1].startswith("# required: ")
    required = legend[1].removeprefix("# required: ").split(", ")
    assert header[: len(required)] == required  # required columns first


def test_a_payments_template_written_to_a_file_imports_as_it_is(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_file(store, COMPANY / "people.csv")
    import_file(store, COMPANY / "customers.csv")
    import_file(store, COMPANY / "deals.csv")
    for entity in ("customers", "payments"):
        _, out, _ = kpi(capsys, "import", "--entity", entity, "--template")
        (tmp_path / f"{entity}.csv").write_text(out, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(
        (tmp_path / "customers.csv").read_text(encoding="utf-8").replace("E1001", "E1"), encoding="utf-8"
    )

    summaries = import_files(store, [tmp_path / "customers.csv", tmp_path / "payments.csv"])

    assert [(s.entity, s.inserted, s.warnings) for s in summaries] == [("customers", 0, ()), ("payments", 1, ())]


def test_data_list_shows_references_by_the_crms_ids_and_filters(
    company: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kpi(capsys, "--db", company.url, "data", "list", "payments", "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert [(r["remote_id"], r["deal_remote_id"], r["customer"], r["amount"]) for r in rows] == [
        ("P-1", "D-1", "C-1", "60000.0000"),
        ("P-2", "D-2", "C-2", "20000.0000"),
        ("P-3", None, "C-4", "5000.0000"),
    ]

    _, out, _ = kpi(
        capsys,
        "--db",
        company.url,
        "data",
        "list",
        "payments",
        "--filter",
        "amount>=20000",
        "--filter",
        "deal_remote_id!=",
        "--format",
        "csv",
    )
    assert [r["remote_id"] for r in csv.DictReader(io.StringIO(out))] == ["P-1", "P-2"]

    _, out, _ = kpi(capsys, "--db", company.url, "data", "list", "targets")
    assert "E1" in out and "100,000.000000" in out and out.rstrip().endswith("2 targets rows.")


def test_data_list_in_a_time_zone_reads_filters_and_shows_times_there(
    company: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """D-2 closed at 10:00 on 20 October in Shanghai (02:00 UTC)."""
    _, out, _ = kpi(
        capsys,
        "--db",
        company.url,
        "data",
        "list",
        "deals",
        "--time-zone",
        "Asia/Shanghai",
        "--filter",
        "closed_at>=2026-10-20 10:00",
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["remote_id"], r["closed_at"]) for r in rows] == [("D-2", "2026-10-20 10:00:00+08:00")]


def test_a_bad_filter_is_one_sentence(company: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = kpi(capsys, "--db", company.url, "data", "list", "deals", "--filter", "amount>=lots")
    assert code == 1 and err.startswith("Error: 'lots' is not a number, which amount holds.")
    code, _, err = kpi(capsys, "--db", company.url, "data", "list", "deals", "--filter", "colour=red")
    assert code == 1 and "'colour' is not a column of deals" in err and "Traceback" not in err


def test_an_xlsx_export_neutralises_formulas_and_keeps_amounts(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_file(store, COMPANY / "people.csv")
    deals = tmp_path / "deals.csv"
    deals.write_text(
        'remote_id,name,owner_id,status,amount,currency\nD-1,"=HYPERLINK(""http://x"",""y"")",E1,won,1234.5678,CNY\n'
        "D-2,@SUM(A1),E1,won,123456789012.3456,CNY\n",
        encoding="utf-8",
    )
    import_file(store, deals)
    target = tmp_path / "out.xlsx"

    code, out, _ = kpi(capsys, "--db", store.url, "data", "list", "deals", "--format", "xlsx", "--output", str(target))

    assert code == 0 and "2 deals rows written" in out
    sheet = load_workbook(target).active
    rows = list(sheet.iter_rows(values_only=True))
    names = [row[rows[0].index("name")] for row in rows[1:]]
    amounts = [row[rows[0].index("amount")] for row in rows[1:]]
    assert names == ['\'=HYPERLINK("http://x","y")', "'@SUM(A1)"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert amounts == [1234.5678, "123456789012.3456"]  # 16 digits: exact text rather than a rounded double


def test_data_summary_counts_each_entity_per_source_with_its_span_and_last_import(
    company: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kpi(capsys, "--db", company.url, "data", "summary", "--format", "json")
    rows = {r["entity"]: r for r in json.loads(out)}
    assert code == 0 and set(rows) == set(ENTITIES) - {"web_visits"}  # the fixture folder has no web visits
    assert (rows["payments"]["source"], rows["payments"]["rows"]) == ("crm", 3)
    assert rows["payments"]["from"].startswith("2026-10-25") and rows["payments"]["to"].startswith("2026-10-30")
    assert rows["payments"]["last_import"] is not None
    assert (rows["targets"]["from"], rows["targets"]["to"]) == ("2026-10", "2026-10")


def test_kpi_fx_lists_the_rates_imported(company: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = kpi(capsys, "--db", company.url, "fx", "--to", "CNY", "--period", "2026-10")
    assert code == 0
    assert "2026-10-15  USD   CNY   7.1  crm" in out
    _, out, _ = kpi(capsys, "--db", company.url, "fx", "--period", "2026-09")
    assert out.startswith("No exchange rates in 2026-09")
