"""Operations run the month from the command line: evaluate, approve (someone else), close, export to payroll;
every CSV they hand out is safe to open in a spreadsheet, and the audit trail says who did what."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.cli.conftest import one_sentence_error

HOSTILE = {
    "E1": '=HYPERLINK("http://x","y")',
    "E2": "@SUM(1+1)",
    "E3": "+cmd|' /C calc'!A0",
}
PLAN = """id: pay
currency: USD
time_zone: UTC
rounding: {places: 2}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    tiers: [{from: 0, rate: 10%}]
"""
PAYROLL = """components:
  commission: {code: C100, account: "6601.01", label: 提成}
  adjustment: {code: A900, account: "6601.09"}
"""


@pytest.fixture
def month(kpi, tmp_path: Path):
    """A company whose people have names a spreadsheet would run, October evaluated by ops.li."""
    people = "ID,Name,Role\n" + "".join(
        f'{pid},"{name.replace(chr(34), chr(34) * 2)}",sales_rep\n' for pid, name in HOSTILE.items()
    )
    (tmp_path / "people.csv").write_text(people, encoding="utf-8")
    (tmp_path / "deals.csv").write_text(
        "Remote ID,Customer,Owner ID,Status,Amount,Currency,Closed At\n"
        "D1,=1+2,E1,won,10000,USD,2026-10-10\n"
        "D2,Acme,E2,won,2500.50,USD,2026-10-12\n"
        "D3,Acme,E3,won,100,USD,2026-10-13\n",
        encoding="utf-8",
    )
    (tmp_path / "pay.yaml").write_text(PLAN, encoding="utf-8")
    (tmp_path / "payroll.yaml").write_text(PAYROLL, encoding="utf-8")
    assert kpi("--as", "ops.li", "import", "people.csv").code == 0
    assert kpi("--as", "ops.li", "import", "deals.csv").code == 0
    assert kpi("--as", "ops.li", "evaluate", "--plan", "pay.yaml", "--period", "2026-10").code == 0
    return kpi


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def _runs_in_a_spreadsheet(cell: str) -> bool:
    if not cell or cell[0] not in "=+-@\t\r":
        return False
    try:
        Decimal(cell)
    except ArithmeticError:
        return True
    return False


def test_the_month_from_evaluation_to_payroll_with_four_eyes_and_an_audit_trail(month, tmp_path):
    first = one_sentence_error(month("--as", "ops.li", "period", "approve", "--period", "2026-10"))
    assert "ops.li evaluated 2026-10 of plan 'pay' and cannot approve it too (four eyes)" in first
    assert "only an approved period is closed" in one_sentence_error(
        month("--as", "fin.wang", "period", "close", "--period", "2026-10")
    )
    assert month("--as", "fin.wang", "period", "approve", "--period", "2026-10").code == 0
    closed = month("--as", "fin.wang", "period", "close", "--period", "2026-10")
    assert closed.code == 0 and "pay 2026-10: closed by fin.wang; 3 ledger entries, 1260.05 payable." in closed.out
    states = month("period", "list", "--format", "json")
    assert '"status": "closed"' in states.out and '"approved_by": "fin.wang"' in states.out

    out = month(
        "--as",
        "fin.wang",
        "payroll",
        "export",
        "--period",
        "2026-10",
        "--out",
        "pay.csv",
        "--mapping",
        "payroll.yaml",
        "--excel",
    )
    assert out.code == 0, out.err
    raw = (tmp_path / "pay.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese label only with the byte order mark
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    lines = [r for r in rows if r["component"] == "commission"]
    assert [(r["person"], r["code"], r["account"], r["label"], r["amount"]) for r in lines] == [
        ("E1", "C100", "6601.01", "提成", "1000.00"),
        ("E2", "C100", "6601.01", "提成", "250.05"),
        ("E3", "C100", "6601.01", "提成", "10.00"),
    ]
    [grand] = [r for r in rows if r["component"] == "GRAND TOTAL"]
    assert grand["amount"] == "1260.05"
    ledger = month("ledger", "--format", "json")
    assert ledger.out.count('"kind": "payment"') == 3 and '"amount": "-1000.00"' in ledger.out

    again = month(
        "--as", "fin.wang", "payroll", "export", "--period", "2026-10", "--format", "xlsx", "--out", "pay.xlsx"
    )
    assert again.code == 0, again.err
    sheet = load_workbook(tmp_path / "pay.xlsx").active
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    header = table[0]
    total = next(r for r in table if r[header.index("component")] == "GRAND TOTAL")
    assert Decimal(str(total[header.index("amount")])) == Decimal("1260.05")
    totals = {
        r[header.index("person")]: Decimal(str(r[header.index("amount")])) for r in table if r[1] and r[3] == "TOTAL"
    }
    ledger_rows = json.loads(month("ledger", "--format", "json").out)
    payable = {}
    for entry in ledger_rows:
        if entry["kind"] != "payment":
            payable[entry["person"]] = payable.get(entry["person"], Decimal(0)) + Decimal(entry["amount"])
    assert totals == payable  # the file's totals are the ledger's, to the cent
    names = {r[header.index("name")] for r in table[1:] if r[header.index("name")]}
    assert names == {"'" + name for name in HOSTILE.values()}  # shown as written, never run
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str))
    assert month("ledger", "--format", "json").out.count('"kind": "payment"') == 3  # paid once

    reopen = one_sentence_error(
        month("--as", "fin.wang", "period", "reopen", "--plan", "pay", "--period", "2026-10", "--reason", "late deal")
    )
    assert "exported to payroll" in reopen
    trail = month("audit", "--format", "csv").out
    actions = [(row["actor"], row["action"]) for row in csv.DictReader(io.StringIO(trail))]
    assert actions == [
        ("ops.li", "evaluate"),
        ("fin.wang", "approve"),
        ("fin.wang", "close"),
        ("fin.wang", "pay"),
        ("fin.wang", "pay"),
    ]


@pytest.mark.parametrize(
    "command",
    [
        ("outcomes", "--format", "csv"),
        ("runs", "--format", "csv"),
        ("period", "list", "--format", "csv"),
        ("evaluate", "--plan", "pay.yaml", "--period", "2026-10", "--format", "csv"),
        ("metrics", "show", "bookings", "--period", "2026-10", "--format", "csv"),
    ],
)
def test_no_csv_the_project_writes_lets_a_spreadsheet_run_a_cell(month, command):
    result = month(*command)
    assert result.code == 0, result.err
    cells = _cells(result.out)
    assert not [c for c in cells if _runs_in_a_spreadsheet(c)]
    if command[0] in ("outcomes", "evaluate"):
        assert "'" + HOSTILE["E1"] in cells and "'" + HOSTILE["E2"] in cells


def test_a_manual_adjustment_from_the_command_line_waits_for_someone_else(month):
    asked = month(
        "--as",
        "ops.li",
        "adjust",
        "--person",
        "E2",
        "--amount",
        "500",
        "--reason",
        "Relocation bonus",
        "--period",
        "2026-10",
        "--currency",
        "USD",
    )
    assert asked.code == 0 and "awaiting approval" in asked.out
    assert "four eyes" in one_sentence_error(month("--as", "ops.li", "adjust", "approve", "1"))
    assert month("--as", "fin.wang", "adjust", "approve", "1").code == 0
    listed = month("adjust", "list", "--format", "csv").out
    assert "approved" in listed and "Relocation bonus" in listed
    missing = one_sentence_error(month("adjust", "--person", "E2", "--amount", "5"))
    assert "needs --reason, --period" in missing
