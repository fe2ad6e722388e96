"""A long export is streamed a batch at a time, and still imports whole or not at all.

The importer holds one batch of rows in memory (``IMPORT_BATCH``); these tests make a batch three
rows long, so that a handful of rows crosses several batches: what one batch wrote is found again
by the next, every problem of the file is still reported with its row, and a problem late in the
file leaves nothing behind, not even the customers the earlier batches created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from kpi_engine import ImportRejected, PersonRecord, Store, import_file, schema, upsert_records
from kpi_engine.ingest import file_import

HEADER = "remote_id,name,customer,owner_id,stage_raw,amount,currency,created_at,closed_at\n"


@pytest.fixture(autouse=True)
def three_rows_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_import, "IMPORT_BATCH", 3)


@pytest.fixture
def people(store: Store) -> Store:
    with store.begin() as conn:
        upsert_records(
            conn, "people", "hr", [PersonRecord(id=f"E{n}", name=f"Rep {n}", role="sales_rep") for n in (1, 2)]
        )
    return store


def deals_file(tmp_path: Path, rows: list[str], name: str = "deals.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def deal(n: int, *, owner: str = "E1", amount: str = "100.00", month: int = 1, customer: str | None = None) -> str:
    return (
        f"D{n},Deal {n},{customer or f'Customer {n}'},{owner},Closed Won,{amount},CNY,"
        f"2026-{month:02d}-01 09:00,2026-{month:02d}-20 17:00"
    )


def counts(store: Store) -> dict[str, Any]:
    with store.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar()
            for t in (schema.deals, schema.customers, schema.fact_changes, schema.imports)
        }


def test_a_file_of_many_batches_loads_every_row_and_logs_one_change_spanning_them_all(people, tmp_path):
    rows = [deal(n, month=1 + n) for n in range(11)]
    summary = import_file(people, deals_file(tmp_path, rows), source="crm")
    assert (summary.rows_read, summary.inserted) == (11, 11)
    with people.connect() as conn:
        change = conn.execute(select(schema.fact_changes).where(schema.fact_changes.c.table_name == "deals")).one()
    assert change.rows == 11
    assert (change.first_at.month, change.last_at.month) == (1, 11)


def test_a_key_repeated_in_a_later_batch_is_reported_with_the_row_it_repeats(people, tmp_path):
    before = counts(people)
    rows = [deal(1), deal(2), deal(3), deal(4), deal(5), deal(2, amount="7.00"), deal(6), deal(3)]
    with pytest.raises(ImportRejected) as refused:
        import_file(people, deals_file(tmp_path, rows), source="crm")
    assert refused.value.problems == [
        "row 7, column 'remote_id': 'D2' repeats row 3",
        "row 9, column 'remote_id': 'D3' repeats row 4",
    ]
    assert counts(people) == before


def test_a_key_repeated_across_batches_of_a_re_import_is_still_caught(people, tmp_path):
    import_file(people, deals_file(tmp_path, [deal(n) for n in range(1, 5)]), source="crm")
    before = counts(people)
    rows = [deal(1), deal(2), deal(3), deal(4), deal(1, amount="5.00")]
    with pytest.raises(ImportRejected) as refused:
        import_file(people, deals_file(tmp_path, rows, "deals-again.csv"), source="crm")
    assert refused.value.problems == ["row 6, column 'remote_id': 'D1' repeats row 2"]
    assert counts(people) == before


def test_a_bad_row_in_the_last_batch_leaves_nothing_of_the_batches_before_it(people, tmp_path):
    before = counts(people)
    rows = [deal(n) for n in range(1, 10)] + [deal(10, owner="E404"), deal(11, amount="12.3.4")]
    with pytest.raises(ImportRejected) as refused:
        import_file(people, deals_file(tmp_path, rows), source="crm")
    assert refused.value.message == "deals.csv has 2 bad rows; nothing was imported."
    assert refused.value.problems == [
        "row 11, column 'owner_id': 'E404' is not a known person (import the people first)",
        "row 12, column 'amount': '12.3.4' is not a number",
    ]
    assert counts(people) == before


def test_a_file_with_more_bad_rows_than_are_listed_says_how_many_there_are(people, tmp_path, monkeypatch):
    monkeypatch.setattr(file_import, "PROBLEMS_KEPT", 2)
    rows = [deal(n, amount="many") for n in range(1, 6)]
    with pytest.raises(ImportRejected) as refused:
        import_file(people, deals_file(tmp_path, rows), source="crm")
    assert refused.value.message == "deals.csv has 5 bad rows; nothing was imported."
    assert refused.value.problems[-1] == "(the first 2 problems are listed)"
    assert len(refused.value.problems) == 3


def test_a_manager_named_later_in_a_people_file_is_found(store, tmp_path):
    path = tmp_path / "people.csv"
    lines = ["id,name,role,manager_id"] + [f"E{n},Rep {n},sales_rep,M1" for n in range(1, 8)] + ["M1,Boss,manager,"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = import_file(store, path)
    assert summary.inserted == 8
    with store.connect() as conn:
        managers = set(conn.execute(select(schema.people.c.manager_id).where(schema.people.c.id != "M1")).scalars())
    assert managers == {"M1"}


def test_a_file_repeating_itself_is_refused_with_the_repeats_listed_up_to_the_limit(people, tmp_path, monkeypatch):
    monkeypatch.setattr(file_import, "PROBLEMS_KEPT", 2)
    rows = [deal(n) for n in range(1, 5)] * 2
    with pytest.raises(ImportRejected) as refused:
        import_file(people, deals_file(tmp_path, rows), source="crm")
    assert refused.value.message == "deals.csv has 4 bad rows; nothing was imported."
    assert refused.value.problems == [
        "row 6, column 'remote_id': 'D1' repeats row 2",
        "row 7, column 'remote_id': 'D2' repeats row 3",
        "(the first 2 problems are listed)",
    ]
