"""``kpi import`` fed mutated exports: the answer is the same sentence on every store, and a refusal writes nothing.

Each example takes a valid people, deals or payments file and mutates it as careless exports and
hostile senders do: cells replaced by huge numbers, NUL and control characters, formulas, impossible
and far-off dates, very long strings, foreign currencies; rows made ragged; the whole file re-encoded
(GB18030, UTF-16, Latin-1) or cut short. It is imported through the CLI into the ``store`` fixture's
database (SQLite, or PostgreSQL with ``KPI_TEST_DATABASE_URL``). The promise: exit 0, or exit 1 with
one sentence (and the problems listed under it); never "unexpected", never a traceback; and when the
import is refused, every table holds what it held before.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kpi_engine import Store, import_files, schema
from kpi_engine.cli import main
from tests.support.fuzzing import fuzz_settings

PEOPLE = (
    "id,name,role,team_id,manager_id,hire_date\nM1,Mia,manager,east,,2024-01-01\nE1,Ann,sales_rep,east,M1,2025-02-01\n"
)
FILES = {
    "people": [
        ["id", "name", "role", "team_id", "manager_id", "hire_date", "leave_date"],
        ["E2", "Bo", "sales_rep", "east", "M1", "2025-03-01", ""],
        ["E3", "Cy", "销售", "west", "M1", "2025/04/01", "2026-01-31"],
    ],
    "deals": [
        ["remote_id", "owner_id", "customer", "stage_raw", "status", "amount", "currency", "created_at", "closed_at"],
        ["D-1", "E1", "Acme", "Closed Won", "won", "12,500.00", "CNY", "2026-09-01 09:00", "2026-10-15 16:00"],
        ["D-2", "E1", "Beta", "Proposal", "open", "800", "USD", "2026-09-02", ""],
    ],
    "payments": [
        ["remote_id", "deal_remote_id", "amount", "currency", "received_at"],
        ["P-1", "D-0", "6,250.00", "CNY", "2026-10-20 11:00"],
        ["P-2", "D-0", "1", "CNY", "2026-10-21"],
    ],
}
HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x07\x1b[31m",
    "\r\n",
    '=HYPERLINK("http://x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "'; DROP TABLE deals; --",
    "1e9999",
    "-1e9999",
    "NaN",
    "Infinity",
    "-0",
    "99999999999999999999999999",
    "-12,500.00",
    "0.00001",
    "2147483648",
    "9999-12-31",
    "9999-12-31 23:00-05:00",
    "0001-01-01 00:00+01:00",
    "1899-12-30",
    "2026-02-30",
    "2026-13-01",
    "31/12/2026",
    "ZZZ",
    "XXX",
    "cny",
    "x" * 33,
    "x" * 129,
    "销" * 301,
    "é≈∂ 销售额",
    "\ud800",
    "D-1",
    "E1",
    "won",
    "lost",
    "yes",
]
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1"]
COUNTED = [schema.people, schema.teams, schema.customers, schema.deals, schema.payments, schema.imports]


@st.composite
def exports(draw: st.DrawFn) -> tuple[str, bytes]:
    """A file name and the bytes of a mutated export of one entity."""
    entity = draw(st.sampled_from(sorted(FILES)))
    rows = [list(row) for row in FILES[entity]]
    for _ in range(draw(st.integers(1, 6))):
        row = draw(st.integers(0 if draw(st.booleans()) and draw(st.booleans()) else 1, len(rows) - 1))
        column = draw(st.integers(0, len(rows[row]) - 1))
        rows[row][column] = draw(st.sampled_from(HOSTILE) | st.text(max_size=40))
    if draw(st.booleans()):  # ragged: a row short of cells, or with more than the header
        row = draw(st.integers(1, len(rows) - 1))
        rows[row] = rows[row][: draw(st.integers(0, len(rows[row])))] + draw(
            st.lists(st.sampled_from(HOSTILE), max_size=3)
        )
    if draw(st.booleans()):
        rows.append(list(rows[-1]))  # the same row twice
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))
    text = "\n".join(delimiter.join(_quoted(c, delimiter) for c in row) for row in rows) + "\n"
    encoding = draw(st.sampled_from(ENCODINGS))
    try:
        data = text.encode(encoding, errors="surrogatepass")  # a lone surrogate: bytes no UTF-8 reader accepts
    except UnicodeEncodeError:
        data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # cut short, maybe inside a character
    return f"{entity}.csv", data


def _quoted(cell: str, delimiter: str) -> str:
    if any(c in cell for c in (delimiter, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _counts(store: Store) -> dict[str, int]:
    with store.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in COUNTED}


@pytest.fixture
def company(store: Store, tmp_path: Path) -> Store:
    """People, and one deal payments can name, on the suite's backend."""
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    (tmp_path / "deals.csv").write_text(
        "remote_id,owner_id,status,amount,currency\nD-0,E1,won,12500,CNY\n", encoding="utf-8"
    )
    import_files(store, [tmp_path / "people.csv", tmp_path / "deals.csv"])
    return store


_FUZZ = fuzz_settings(in_suite=40)


# One store for all examples (a function-scoped fixture): each compares what it holds before and after.
@settings(_FUZZ, suppress_health_check=[*_FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture])
@given(export=exports())
def test_a_mutated_export_is_imported_or_refused_in_one_sentence_writing_nothing(
    company: Store, tmp_path: Path, export: tuple[str, bytes]
) -> None:
    name, data = export
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    before = _counts(company)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), pytest.raises(SystemExit) as done:
        main(["--db", company.url, "import", str(path)])
    output = printed.getvalue()
    event(f"exit {done.value.code or 0}")  # --hypothesis-show-statistics: how many imported, how many refused

    assert done.value.code in (None, 0, 1), output
    assert "unexpected" not in output and "Traceback" not in output, output
    if done.value.code == 1:
        assert output.startswith("Error: ") and output.count("Error: ") == 1, output
        assert _counts(company) == before, output
