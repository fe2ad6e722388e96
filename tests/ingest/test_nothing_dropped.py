"""Nothing an export holds is dropped without a word: each silent drop a new user met is now a warning or an error.

Each test names what happened before: those behaviours were found by importing files as a new user would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kpi_engine import ConfigurationError, ImportRejected, Store, import_file, schema
from kpi_engine.cli import main
from kpi_engine.ingest.importing import guess_entity

PEOPLE = "id,name,role\nE1,Ann,sales_rep\nE2,Bo,sales_rep\nK1,Kai,marketing\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def people(store: Store, tmp_path: Path) -> Store:
    import_file(store, write(tmp_path, "people.csv", PEOPLE))
    return store


def test_a_leads_marketing_owner_is_imported(people: Store, tmp_path: Path) -> None:
    """Before: "250 inserted", with marketing_owner_id NULL on all of them."""
    leads = write(tmp_path, "leads.csv", "remote_id,owner_id,marketing_owner_id,created_at\nL-1,E1,K1,2026-10-01\n")

    summary = import_file(people, leads)

    with people.connect() as conn:
        assert conn.execute(select(schema.leads.c.marketing_owner_id)).scalar() == "K1"
    assert summary.warnings == ()


def test_columns_that_match_no_field_are_named_in_a_warning(people: Store, tmp_path: Path) -> None:
    """Before: the split columns of a deals file were ignored, and the import said "1 unchanged"."""
    deals = write(
        tmp_path,
        "deals.csv",
        "remote_id,owner_id,status,amount,currency,Split Owner,Split Percent\nD-1,E1,won,100,CNY,E2,40%\n",
    )

    summary = import_file(people, deals)

    assert summary.warnings == (
        "deals.csv: columns 'Split Owner' and 'Split Percent' are not fields of deals and were not imported (map "
        "with --column FIELD=HEADER, or list under ignore: in the mapping)",
    )


def test_strict_refuses_a_file_with_unknown_columns_and_writes_nothing(people: Store, tmp_path: Path) -> None:
    deals = write(tmp_path, "deals.csv", "remote_id,owner_id,status,amount,currency,Notes\nD-1,E1,won,100,CNY,vip\n")

    with pytest.raises(ImportRejected) as refused:
        import_file(people, deals, strict=True)

    assert refused.value.message.startswith("deals.csv: column 'Notes' is not a field of deals")
    assert refused.value.message.endswith("nothing was imported (--strict).")
    with people.connect() as conn:
        assert conn.execute(select(schema.deals)).all() == []


def test_a_column_the_mapping_ignores_is_not_reported(people: Store, tmp_path: Path) -> None:
    from kpi_engine import ColumnMapping

    deals = write(tmp_path, "deals.csv", "remote_id,owner_id,status,amount,currency,Notes\nD-1,E1,won,100,CNY,vip\n")

    summary = import_file(people, deals, mapping=ColumnMapping(entity="deals", ignore=["notes"]), strict=True)

    assert summary.warnings == () and summary.inserted == 1


def test_an_unmapped_stage_is_an_error_naming_the_stage_and_the_mapping_key_to_add(
    people: Store, tmp_path: Path
) -> None:
    """Before: a deal at stage 'Weird' with a close date was stored as open."""
    deals = write(
        tmp_path,
        "deals.csv",
        "remote_id,owner_id,stage_raw,amount,currency,closed_at\n"
        "D-1,E1,Closed Won,100,CNY,2026-10-03\nD-2,E1,Weird,200,CNY,2026-10-04\n",
    )

    with pytest.raises(ImportRejected) as refused:
        import_file(people, deals)

    assert refused.value.problems == [
        "row 3, column 'stage_raw': the stage 'Weird' is not mapped to open, won or lost; add it to the mapping's "
        "stage_map (stage_map: {Weird: won}, or lost, or open)"
    ]


def test_a_mapped_stage_and_the_usual_open_stages_of_the_common_crms_import(people: Store, tmp_path: Path) -> None:
    from kpi_engine import ColumnMapping

    deals = write(
        tmp_path,
        "deals.csv",
        "remote_id,owner_id,stage_raw,amount,currency\nD-1,E1,Weird,100,CNY\nD-2,E1,Proposal/Price Quote,1,CNY\n"
        "D-3,E1,qualifiedtobuy,1,CNY\nD-4,E1,谈判审核,1,CNY\n",
    )

    import_file(people, deals, mapping=ColumnMapping(entity="deals", stage_map={"weird": "won"}))

    with people.connect() as conn:
        statuses = dict(conn.execute(select(schema.deals.c.remote_id, schema.deals.c.status)).all())
    assert statuses == {"D-1": "won", "D-2": "open", "D-3": "open", "D-4": "open"}


def test_every_fact_can_be_imported_by_name(people: Store, tmp_path: Path) -> None:
    """Before: "'refunds' is not one of people, deals, activities, leads, targets"."""
    import_file(people, write(tmp_path, "deals.csv", "remote_id,owner_id,status,amount,currency\nD-1,E1,won,100,CNY\n"))
    refunds = write(
        tmp_path,
        "export.csv",
        "remote_id,kind,deal_remote_id,amount,currency,occurred_at\nR-1,credit memo,D-1,10,CNY,2026-10-05\n",
    )

    summary = import_file(people, refunds, entity="refunds")

    assert (summary.entity, summary.inserted) == ("refunds", 1)
    with people.connect() as conn:
        assert conn.execute(select(schema.refunds.c.kind)).scalar() == "credit_note"


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        ("deal_splits.csv", "deal_splits"),  # before: guessed to be deals
        ("opportunity-splits-2026-10.xlsx", "deal_splits"),
        ("deals-2026-10.csv", "deals"),
        ("hubspot-crm-exports-all-deals-2026-10-01.csv", "deals"),
        ("回款记录2026.xlsx", "payments"),
        ("商机导出.csv", "deals"),
        ("team_hierarchy.csv", "team_hierarchy"),
        ("exchange_rates.csv", "fx_rates"),
        ("Support Tickets.csv", "support_tickets"),
    ],
)
def test_a_files_entity_is_the_longest_entity_name_in_it(name: str, entity: str) -> None:
    assert guess_entity(Path(name)) == entity


def test_a_file_name_that_fits_no_entity_or_two_asks_for_entity() -> None:
    with pytest.raises(ConfigurationError, match="cannot tell from the name export.csv") as unknown:
        guess_entity(Path("export.csv"))
    assert "--entity" in (unknown.value.hint or "")
    with pytest.raises(ConfigurationError, match="fits deals and payments alike") as both:
        guess_entity(Path("deals_and_payments.csv"))
    assert "--entity deals" in (both.value.hint or "")


def test_kpi_import_reports_unknown_columns_on_stderr_and_still_imports(
    people: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deals = write(tmp_path, "deals.csv", "remote_id,owner_id,status,amount,currency,Notes\nD-1,E1,won,100,CNY,vip\n")

    with pytest.raises(SystemExit) as done:
        main(["--db", people.url, "import", str(deals)])

    out = capsys.readouterr()
    assert done.value.code == 0
    assert "Warning: deals.csv: column 'Notes' is not a field of deals and was not imported" in out.err
    assert "deals.csv: 1 rows of deals: 1 inserted, 0 updated, 0 unchanged." in out.out


def test_kpi_import_strict_is_one_sentence_and_a_non_zero_exit(
    people: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deals = write(tmp_path, "deals.csv", "remote_id,owner_id,status,amount,currency,Notes\nD-1,E1,won,100,CNY,vip\n")

    with pytest.raises(SystemExit) as done:
        main(["--db", people.url, "import", str(deals), "--strict"])

    err = capsys.readouterr().err
    assert done.value.code == 1 and "Traceback" not in err
    assert err.startswith("Error: deals.csv: column 'Notes' is not a field of deals")
