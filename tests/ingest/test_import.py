"""Importing CRM exports: exact values, idempotent re-imports, whole-file rejection."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from kpi_engine import (
    ColumnMapping,
    ConfigurationError,
    DealRecord,
    ImportRejected,
    PersonRecord,
    Store,
    import_file,
    load_mapping,
    schema,
    upsert_records,
)
from kpi_engine.cli import main

DATA = Path(__file__).parents[1] / "data" / "import"
UTC = UTC


def snapshot(store: Store, *tables: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the given tables, in id order."""
    tables = tables or (
        schema.people,
        schema.teams,
        schema.customers,
        schema.deals,
        schema.activities,
        schema.leads,
        schema.targets,
    )
    with store.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))] for t in tables}


def deals_by_remote_id(store: Store) -> dict[str, Any]:
    with store.connect() as conn:
        return {r.remote_id: r for r in conn.execute(select(schema.deals))}


def import_people(store: Store) -> None:
    summary = import_file(store, DATA / "people.csv")
    assert (summary.entity, summary.inserted) == ("people", 4)


def copy_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / name
    target.write_text((DATA / name).read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return target


def test_people_then_deals_csv_import_stores_exact_amounts_and_utc_times(store: Store) -> None:
    import_people(store)
    summary = import_file(store, DATA / "deals.csv")

    assert (summary.entity, summary.rows_read, summary.inserted, summary.updated, summary.unchanged) == (
        "deals",
        4,
        4,
        0,
        0,
    )
    deals = deals_by_remote_id(store)
    assert deals["D-1"].amount == Decimal("12500.00")
    assert deals["D-2"].amount == Decimal("3000.5")
    assert deals["D-4"].amount == Decimal("0.0001")
    assert deals["D-1"].discount == Decimal("0.05")
    assert deals["D-1"].currency == "USD"
    assert [deals[k].status for k in ("D-1", "D-2", "D-3", "D-4")] == ["won", "open", "lost", "won"]
    assert deals["D-1"].closed_at == datetime(2026, 10, 15, 8, 0, tzinfo=UTC)
    assert deals["D-3"].closed_at == datetime(2026, 10, 20, 15, 45, tzinfo=UTC)
    assert deals["D-3"].created_at == datetime(2026, 10, 3, 10, 0, tzinfo=UTC)
    assert all(d.source == "import" and d.is_deleted is False for d in deals.values())
    with store.connect() as conn:
        customers = dict(conn.execute(select(schema.customers.c.name, schema.customers.c.id)).all())
        people = {r.id: r for r in conn.execute(select(schema.people))}
        logged = conn.execute(select(schema.imports)).all()
    assert sorted(customers) == ["Acme Corp", "Globex", "Initech"]
    assert deals["D-1"].customer_id == deals["D-4"].customer_id == customers["Acme Corp"]
    assert people["E1001"].role == "sales_rep" and people["E1002"].role == "sales_rep"
    assert people["E1003"].role == "marketing_specialist" and people["M1"].role == "manager"
    assert people["E1001"].manager_id == "M1" and people["E1002"].hire_date == date(2025, 1, 15)
    assert [(r.file_name, r.entity, r.rows_read, r.rows_inserted) for r in logged] == [
        ("people.csv", "people", 4, 4),
        ("deals.csv", "deals", 4, 4),
    ]


def test_reimporting_the_same_file_changes_nothing(store: Store) -> None:
    import_people(store)
    import_file(store, DATA / "deals.csv")
    before = snapshot(store)

    again = import_file(store, DATA / "deals.csv")
    people_again = import_file(store, DATA / "people.csv")

    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert (people_again.inserted, people_again.updated, people_again.unchanged) == (0, 0, 4)
    assert snapshot(store) == before


def test_a_changed_amount_on_reimport_updates_only_that_row(store: Store, tmp_path: Path) -> None:
    import_people(store)
    import_file(store, DATA / "deals.csv")
    before = deals_by_remote_id(store)

    changed = copy_with(tmp_path, "deals.csv", '"12,500.00"', '"13,000.00"')
    summary = import_file(store, changed)

    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 3)
    after = deals_by_remote_id(store)
    assert after["D-1"].amount == Decimal("13000.00")
    assert after["D-1"].id == before["D-1"].id
    assert {k: tuple(v) for k, v in after.items() if k != "D-1"} == {
        k: tuple(v) for k, v in before.items() if k != "D-1"
    }


def test_a_file_with_bad_rows_is_rejected_whole_naming_rows_and_columns(store: Store) -> None:
    import_people(store)
    before = snapshot(store, *schema.metadata.sorted_tables)

    with pytest.raises(ImportRejected) as caught:
        import_file(store, DATA / "deals_bad.csv")

    error = caught.value
    assert error.message == "deals_bad.csv has 2 bad rows; nothing was imported."
    assert error.problems == [
        "row 3, column 'Amount': '12,5x0' is not a number",
        "row 4, column 'Closed At': '2026-02-30 10:00' is not a possible date and time",
    ]
    assert snapshot(store, *schema.metadata.sorted_tables) == before


def test_a_deal_owned_by_an_unknown_person_is_rejected_and_nothing_is_written(store: Store, tmp_path: Path) -> None:
    import_people(store)
    before = snapshot(store, *schema.metadata.sorted_tables)
    bad = copy_with(tmp_path, "deals.csv", "Initech,E1002", "Initech,E9999")

    with pytest.raises(ImportRejected) as caught:
        import_file(store, bad)

    assert caught.value.problems == [
        "row 4, column 'Owner ID': 'E9999' is not a known person (import the people first)"
    ]
    assert "row 4" in caught.value.message
    assert snapshot(store, *schema.metadata.sorted_tables) == before


def test_a_missing_required_column_is_rejected_naming_it_and_the_headers_found(store: Store, tmp_path: Path) -> None:
    import_people(store)
    no_amount = tmp_path / "deals.csv"
    no_amount.write_text("Remote ID,Currency\nD-1,USD\n", encoding="utf-8")

    with pytest.raises(ImportRejected, match=r"no column 'amount'; the headers found are 'Remote ID', 'Currency'"):
        import_file(store, no_amount)


def test_xlsx_import_reads_numbers_and_dates_exactly(store: Store, tmp_path: Path) -> None:
    import_people(store)
    book = Workbook()
    sheet = book.active
    sheet.append(["remote_id", "customer", "owner_id", "stage_raw", "amount", "currency", "discount", "closed_at"])
    sheet.append([1001, "Acme Corp", "E1001", "Closed Won", 12500.1, "USD", 0.15, datetime(2026, 10, 15, 8, 0)])
    sheet.append(["X-2", "Globex", "E1002", "Proposal", 99, "EUR", None, None])
    sheet.append([None] * 8)
    path = tmp_path / "opportunities.xlsx"
    book.save(path)

    summary = import_file(store, path)

    assert (summary.entity, summary.rows_read, summary.inserted) == ("deals", 2, 2)
    deals = deals_by_remote_id(store)
    assert deals["1001"].amount == Decimal("12500.1")
    assert deals["1001"].discount == Decimal("0.15")
    assert deals["1001"].closed_at == datetime(2026, 10, 15, 8, 0, tzinfo=UTC)
    assert (deals["X-2"].status, deals["X-2"].currency) == ("open", "EUR")
    assert import_file(store, path).unchanged == 2


def test_a_mapping_with_chinese_headers_and_a_stage_map_imports_in_its_time_zone(store: Store) -> None:
    import_people(store)
    summary = import_file(store, DATA / "deals_cn.csv", mapping=DATA / "deals_cn.yaml")

    assert (summary.entity, summary.inserted) == ("deals", 4)
    deals = deals_by_remote_id(store)
    assert {k: d.status for k, d in deals.items()} == {"CN-1": "won", "CN-2": "open", "CN-3": "lost", "CN-4": "won"}
    assert deals["CN-1"].amount == Decimal("1200000.00")
    assert deals["CN-1"].currency == "CNY" and deals["CN-1"].source == "crm_cn"
    assert deals["CN-1"].stage_raw == "赢单"
    assert deals["CN-1"].closed_at == datetime(2026, 10, 31, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert deals["CN-4"].closed_at == datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
    assert deals["CN-1"].customer_id == deals["CN-3"].customer_id


def test_a_gb18030_csv_from_a_chinese_crm_is_read(store: Store) -> None:
    import_people(store)
    mapping = load_mapping(DATA / "deals_cn.yaml")

    summary = import_file(store, DATA / "deals_cn_gb18030.csv", mapping=mapping)

    assert summary.inserted == 4
    deals = deals_by_remote_id(store)
    assert deals["CN-1"].name == "华东大单"
    with store.connect() as conn:
        assert "上海某科技有限公司" in set(conn.execute(select(schema.customers.c.name)).scalars())


def test_column_overrides_map_fields_to_headers(store: Store, tmp_path: Path) -> None:
    import_people(store)
    path = tmp_path / "export.csv"
    path.write_text("Opportunity,Deal Amount,Curr,Owner\nO-1,10.50,usd,E1001\n", encoding="utf-8")

    summary = import_file(
        store,
        path,
        entity="deals",
        source="hubspot",
        columns={"remote_id": "Opportunity", "amount": "Deal Amount", "currency": "Curr", "owner_id": "Owner"},
    )

    assert summary.inserted == 1
    deal = deals_by_remote_id(store)["O-1"]
    assert (deal.source, deal.amount, deal.currency, deal.owner_id) == ("hubspot", Decimal("10.50"), "USD", "E1001")


def test_activities_leads_and_targets_resolve_their_references(store: Store) -> None:
    import_people(store)
    import_file(store, DATA / "deals.csv")

    assert import_file(store, DATA / "activities.csv").inserted == 3
    assert import_file(store, DATA / "leads.csv").inserted == 2
    assert import_file(store, DATA / "targets.csv").inserted == 3

    deals = deals_by_remote_id(store)
    with store.connect() as conn:
        activities = {r.remote_id: r for r in conn.execute(select(schema.activities))}
        leads = {r.remote_id: r for r in conn.execute(select(schema.leads))}
        targets = {(r.subject_id, r.period): r for r in conn.execute(select(schema.targets))}
        customers = conn.execute(select(func.count()).select_from(schema.customers)).scalar()
    assert [activities[k].kind for k in ("A-1", "A-2", "A-3")] == ["call", "visit", "email"]
    assert activities["A-1"].deal_id == deals["D-1"].id and activities["A-1"].has_evidence is True
    assert activities["A-2"].duration_seconds == 5400
    assert activities["A-2"].occurred_at == datetime(2026, 10, 3, 6, 0, tzinfo=UTC)
    assert activities["A-3"].customer_id is None and activities["A-3"].has_evidence is False
    assert leads["L-1"].converted_deal_id == deals["D-1"].id and leads["L-1"].score == 80
    assert customers == 4  # Hooli is new
    assert targets[("E1001", "2026-10")].target == Decimal("100000.00")
    assert targets[("E1002", "2026-Q4")].baseline is None
    assert targets[("east", "2026")].target == Decimal("0.35")
    assert import_file(store, DATA / "targets.csv").unchanged == 3


def test_an_unknown_file_name_without_entity_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    shutil.copy(DATA / "deals.csv", path)

    with pytest.raises(ConfigurationError, match="--entity"):
        import_file(store, path)


def test_upsert_records_is_idempotent_for_connectors(store: Store) -> None:
    with store.begin() as conn:
        upsert_records(conn, "people", "crm", [PersonRecord(id="E1", name="Ann", role="sales rep")])
    deal = DealRecord.model_validate(
        {
            "remote_id": "9",
            "owner_id": "E1",
            "customer": "Acme",
            "stage_raw": "Won",
            "amount": "1,000",
            "currency": "usd",
            "closed_at": "2026-10-31 23:30",
        },
        context={"default_tz": "Asia/Shanghai"},
    )

    with store.begin() as conn:
        first = upsert_records(conn, "deals", "crm", [deal])
    with store.begin() as conn:
        second = upsert_records(conn, "deals", "crm", [deal])

    assert (first.inserted, second.inserted, second.updated, second.unchanged) == (1, 0, 0, 1)
    stored = deals_by_remote_id(store)["9"]
    assert (stored.status, stored.closed_at) == ("won", datetime(2026, 10, 31, 15, 30, tzinfo=UTC))


def test_a_mapping_naming_an_unknown_field_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="'amout' is not a field of deals"):
        ColumnMapping.model_validate({"entity": "deals", "columns": {"amout": "金额"}})


def test_a_target_moving_more_than_twenty_percent_needs_a_recorded_reason(store: Store, tmp_path: Path) -> None:
    """Source 003: targets are adjusted within ±20 %; a larger move is refused unless a reason is given."""
    import_people(store)
    import_file(store, DATA / "targets.csv")
    raised = tmp_path / "targets.csv"
    raised.write_text(
        "Subject Type,Subject ID,Metric,Period,Target\n"
        'person,E1001,won_revenue,2026-10,"119,000"\n'  # +19 %: allowed
        "person,E1002,won_revenue,2026-Q4,400000\n",  # +33.3 %: needs a reason
        encoding="utf-8",
    )

    with pytest.raises(ImportRejected) as refused:
        import_file(store, raised, entity="targets")
    assert "row 3: target E1002 won_revenue 2026-Q4: 300000 → 400000 (+33.3%)" in refused.value.problems[0]
    with store.connect() as conn:  # nothing was written, not even the allowed row
        targets = {r.subject_id: r.target for r in conn.execute(select(schema.targets))}
    assert targets["E1001"] == Decimal("100000.00") and targets["E1002"] == Decimal("300000")

    import_file(store, raised, entity="targets", override_reason="Territory doubled after the reorganisation")
    with store.connect() as conn:
        changes = {
            r.subject_id: r
            for r in conn.execute(select(schema.target_changes).where(schema.target_changes.c.old_target.is_not(None)))
        }
    assert changes["E1002"].reason == "Territory doubled after the reorganisation"
    assert changes["E1002"].change == Decimal("0.333333")
    assert changes["E1001"].new_target == Decimal("119000")


def test_kpi_import_refuses_a_large_target_change_with_one_sentence(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_people(store)
    import_file(store, DATA / "targets.csv")
    raised = tmp_path / "targets.csv"
    raised.write_text(
        "Subject Type,Subject ID,Metric,Period,Target\nperson,E1001,won_revenue,2026-10,50000\n", encoding="utf-8"
    )

    with pytest.raises(SystemExit) as exit_:
        main(["--db", store.url, "import", str(raised), "--entity", "targets"])

    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert "changes 1 target by more than ±20 %" in err and "--override-reason" in err and "Traceback" not in err
