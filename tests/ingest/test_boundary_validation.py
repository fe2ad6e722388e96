"""One validation at the boundary: a file gets the same answer whichever store it is imported into.

Before (issue 19, item 6): a 35-character ``deal_type`` imported on SQLite and failed on PostgreSQL
with a raw ``StringDataRightTruncation`` and no row number; a negative amount on a won deal, a close
before the creation, ``9999-12-31`` and currency ``ZZZ`` were accepted on both; a misspelt
``--time-zone`` was not answered with the zone meant. Each test states a rule as the importer
enforces it, row and column named, nothing written. The suite runs on SQLite, and on PostgreSQL with
``KPI_TEST_DATABASE_URL``: the same tests hold on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Integer, String, func, select

from kpi_engine import ConfigurationError, ImportRejected, Store, import_file, schema
from kpi_engine.cli import main
from kpi_engine.ingest.cells import FIRST_YEAR, INTEGER_LIMIT, LAST_YEAR
from kpi_engine.ingest.currencies import ISO_4217_CODES
from kpi_engine.ingest.record_base import _is_text
from kpi_engine.ingest.records import RECORD_MODELS, DealRecord
from kpi_engine.ingest.references import CUSTOMER_FIELDS, DEAL_FIELDS

PEOPLE = "id,name,role\nE1,Ann,sales_rep\n"
DEALS = "remote_id,owner_id,status,amount,currency,created_at,closed_at,deal_type\n"
GOOD = "D-1,E1,won,100,CNY,2026-01-01,2026-01-05,new\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def people(store: Store, tmp_path: Path) -> Store:
    import_file(store, write(tmp_path, "people.csv", PEOPLE))
    return store


def refused(store: Store, path: Path, **options: Any) -> list[str]:
    """The problems of a refused import; the store holds no deal afterwards."""
    with pytest.raises(ImportRejected) as rejected:
        import_file(store, path, **options)
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.deals)).scalar() == 0
    return rejected.value.problems


def deal(tmp_path: Path, row: str) -> Path:
    return write(tmp_path, "deals.csv", DEALS + row)


# --- lengths, from the schema ------------------------------------------------------------------


def test_a_text_longer_than_its_column_is_refused_naming_the_column_and_its_limit(
    people: Store, tmp_path: Path
) -> None:
    """Before: imported on SQLite; on PostgreSQL a StringDataRightTruncation dump with no row number."""
    problems = refused(people, deal(tmp_path, f"D-1,E1,won,100,CNY,2026-01-01,2026-01-05,{'x' * 35}\n"))

    assert problems == [f"row 2, column 'deal_type': {'x' * 35!r} is 35 characters long; deal_type holds at most 32"]


def test_a_text_as_long_as_its_column_imports(people: Store, tmp_path: Path) -> None:
    summary = import_file(people, deal(tmp_path, f"D-1,E1,won,100,CNY,2026-01-01,2026-01-05,{'x' * 32}\n"))

    assert summary.inserted == 1


def test_spaces_around_a_cell_do_not_count_towards_its_length(people: Store, tmp_path: Path) -> None:
    summary = import_file(people, deal(tmp_path, f'D-1,E1,won,100,CNY,2026-01-01,2026-01-05,"  {"x" * 32}  "\n'))

    assert summary.inserted == 1


def test_a_long_text_shows_its_start_not_all_of_it(people: Store, tmp_path: Path) -> None:
    (problem,) = refused(people, deal(tmp_path, f"{'D' * 5000},E1,won,100,CNY,2026-01-01,2026-01-05,new\n"))

    assert (
        problem
        == f"row 2, column 'remote_id': {'D' * 37 + '...'!r} is 5,000 characters long; remote_id holds at most 128"
    )


@pytest.mark.parametrize("entity", sorted(RECORD_MODELS))
def test_every_text_field_holds_what_its_column_holds(entity: str) -> None:
    """The limits are read from the schema: no second list of numbers to drift from it."""
    model = RECORD_MODELS[entity]
    table = schema.metadata.tables[entity]
    named = {
        **dict.fromkeys(DEAL_FIELDS, schema.deals.c.remote_id),
        **dict.fromkeys(CUSTOMER_FIELDS, schema.customers.c.remote_id),
    }
    for name, info in model.model_fields.items():
        if not _is_text(info):
            continue
        column = named.get(name, table.c.get(name))
        assert column is not None, f"{entity}.{name} loads into no column"
        if isinstance(column.type, String) and column.type.length:
            assert model.max_lengths[name] == column.type.length, f"{entity}.{name}"
        else:  # an unbounded TEXT column (a score's comment)
            assert name not in model.max_lengths


def test_a_customer_named_by_a_deal_fits_the_remote_id_it_is_created_with_when_unknown() -> None:
    assert DealRecord.max_lengths["customer"] == schema.customers.c.remote_id.type.length == 128


# --- what a cell may hold ------------------------------------------------------------------------


def test_a_nul_character_is_refused_in_any_text(people: Store, tmp_path: Path) -> None:
    """SQLite keeps a NUL; PostgreSQL refuses the whole statement."""
    problems = refused(people, deal(tmp_path, "D-1,E1,won,100,CNY,2026-01-01,2026-01-05,ne\x00w\n"))

    assert problems == ["row 2, column 'deal_type': 'ne\\x00w' holds a NUL character, which no text may hold"]


def test_a_whole_number_beyond_a_sql_integer_is_refused(people: Store, tmp_path: Path) -> None:
    """SQLite keeps 64-bit integers; PostgreSQL's integer stops at 2,147,483,647."""
    activities = write(
        tmp_path,
        "activities.csv",
        "remote_id,kind,owner_id,occurred_at,duration_seconds\n"
        "A-1,call,E1,2026-01-01,2147483647\nA-2,call,E1,2026-01-01,2147483648\n",
    )

    with pytest.raises(ImportRejected) as rejected:
        import_file(people, activities)

    assert rejected.value.problems == [
        "row 3, column 'duration_seconds': '2147483648' is too large for a whole number (at most 2,147,483,647)"
    ]


def test_every_whole_number_loads_into_an_integer_column_so_one_limit_holds_them_all() -> None:
    assert INTEGER_LIMIT == 2**31 - 1
    for entity, model in RECORD_MODELS.items():
        table = schema.metadata.tables[entity]
        for name, info in model.model_fields.items():
            if "_read_int" in repr(info):
                assert isinstance(table.c[name].type, Integer), f"{entity}.{name}"


# --- currencies -----------------------------------------------------------------------------------


def test_a_currency_outside_iso_4217_is_refused(people: Store, tmp_path: Path) -> None:
    problems = refused(people, deal(tmp_path, "D-1,E1,won,100,ZZZ,2026-01-01,2026-01-05,new\n"))

    assert problems == ["row 2, column 'currency': 'ZZZ' is not a currency of ISO 4217 (such as CNY, USD or EUR)"]


@pytest.mark.parametrize("code", ["XXX", "XTS"])
def test_the_codes_for_no_currency_and_for_testing_are_refused(code: str) -> None:
    with pytest.raises(ValidationError, match="not a currency of ISO 4217"):
        DealRecord.model_validate({"remote_id": "D-1", "status": "won", "amount": "1", "currency": code})


@pytest.mark.parametrize("code", ["cny", "USD", "EUR", "JPY", "CHF", "XAU", "ZWG", "XCG", "HRK"])
def test_current_codes_in_any_case_and_the_recently_withdrawn_are_accepted(code: str) -> None:
    record = DealRecord.model_validate({"remote_id": "D-1", "status": "won", "amount": "1", "currency": code})

    assert record.currency == code.upper()


def test_the_iso_4217_list_holds_three_capital_letters_per_code() -> None:
    assert all(len(c) == 3 and c.isascii() and c.isupper() for c in ISO_4217_CODES)
    assert len(ISO_4217_CODES) > 170


# --- dates --------------------------------------------------------------------------------------


def test_a_close_before_the_creation_is_refused_at_the_close(people: Store, tmp_path: Path) -> None:
    problems = refused(people, deal(tmp_path, "D-1,E1,won,100,CNY,2026-02-01,2026-01-05,new\n"))

    assert problems == [
        "row 2, column 'closed_at': closed_at 2026-01-05T00:00:00+00:00 is before created_at 2026-02-01T00:00:00+00:00"
    ]


def test_a_deal_created_and_closed_the_same_moment_imports(people: Store, tmp_path: Path) -> None:
    assert import_file(people, deal(tmp_path, "D-1,E1,won,100,CNY,2026-01-05,2026-01-05,new\n")).inserted == 1


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (
            "9999-12-31",
            "'9999-12-31' is after 2200: a placeholder, not a date (leave the cell empty when there is none)",
        ),
        (
            "2201-01-01",
            "'2201-01-01' is after 2200: a placeholder, not a date (leave the cell empty when there is none)",
        ),
        ("1899-12-30", "'1899-12-30' is before 1900: a spreadsheet's zero date, not a date"),
        ("9999-12-31 23:00-05:00", "'9999-12-31 23:00-05:00' is beyond the dates a calendar holds"),
    ],
)
def test_a_date_beyond_1900_to_2200_is_refused(people: Store, tmp_path: Path, cell: str, reason: str) -> None:
    """Before: 9999-12-31 was stored as a close date on both stores; with an offset it raised an OverflowError."""
    problems = refused(people, deal(tmp_path, f"D-1,E1,won,100,CNY,2026-01-01,{cell},new\n"))

    assert problems == [f"row 2, column 'closed_at': {reason}"]


def test_the_first_and_last_years_import(people: Store, tmp_path: Path) -> None:
    assert (FIRST_YEAR, LAST_YEAR) == (1900, 2200)
    rows = "D-1,E1,won,100,CNY,1900-01-01,2200-12-31,new\n"

    assert import_file(people, deal(tmp_path, rows)).inserted == 1


def test_a_calendar_day_beyond_2200_is_refused_too(store: Store, tmp_path: Path) -> None:
    """An open-ended assignment is an empty valid_to, not 9999-12-31 (as some HR systems write it)."""
    org = write(
        tmp_path, "org_assignments.csv", "person_id,role,valid_from,valid_to\nE1,sales_rep,2026-01-01,9999-12-31\n"
    )

    with pytest.raises(ImportRejected) as rejected:
        import_file(store, org)

    assert rejected.value.problems[0].startswith("row 2, column 'valid_to': '9999-12-31' is after 2200")


def test_a_leads_assignment_and_first_contact_are_not_before_its_creation(people: Store, tmp_path: Path) -> None:
    leads = write(
        tmp_path,
        "leads.csv",
        "remote_id,owner_id,created_at,assigned_at,first_contact_at\n"
        "L-1,E1,2026-01-02,2026-01-01,2026-01-03\nL-2,E1,2026-01-02,2026-01-02,2026-01-01\n",
    )

    with pytest.raises(ImportRejected) as rejected:
        import_file(people, leads)

    assert rejected.value.problems == [
        "row 2, column 'assigned_at': assigned_at 2026-01-01T00:00:00+00:00 is before created_at "
        "2026-01-02T00:00:00+00:00",
        "row 3, column 'first_contact_at': first_contact_at 2026-01-01T00:00:00+00:00 is before created_at "
        "2026-01-02T00:00:00+00:00",
    ]


def test_dates_out_of_order_name_their_column(store: Store, tmp_path: Path) -> None:
    """Before: a leave date before the hire date was reported for the row, with no column."""
    people = write(
        tmp_path, "people.csv", "id,name,role,hire_date,leave_date\nE1,Ann,sales_rep,2026-02-01,2026-01-01\n"
    )

    with pytest.raises(ImportRejected) as rejected:
        import_file(store, people)

    assert rejected.value.problems == [
        "row 2, column 'leave_date': leave_date 2026-01-01 is before hire_date 2026-02-01"
    ]


# --- signs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["won", "open", "lost"])
def test_a_deals_amount_is_not_below_zero_whatever_its_status(people: Store, tmp_path: Path, status: str) -> None:
    """Before: a won deal of -100 was stored and counted as bookings of -100."""
    problems = refused(people, deal(tmp_path, f"D-1,E1,{status},-100,CNY,2026-01-01,2026-01-05,new\n"))

    assert problems == [
        "row 2, column 'amount': -100 is below zero: a deal's amount is what was sold; money given back is a refund "
        "or a credit note (imported as refunds, a positive amount)"
    ]


def test_a_deal_of_nothing_imports(people: Store, tmp_path: Path) -> None:
    assert import_file(people, deal(tmp_path, "D-1,E1,won,0,CNY,2026-01-01,2026-01-05,pilot\n")).inserted == 1


def test_a_deals_cost_is_not_below_zero(people: Store, tmp_path: Path) -> None:
    deals = write(tmp_path, "deals.csv", "remote_id,owner_id,status,amount,currency,cost\nD-1,E1,won,100,CNY,-5\n")

    assert refused(people, deals) == ["row 2, column 'cost': '-5' is below zero"]


def test_money_given_back_is_a_positive_amount(people: Store, tmp_path: Path) -> None:
    import_file(people, deal(tmp_path, GOOD))
    refunds = write(
        tmp_path,
        "refunds.csv",
        "remote_id,kind,deal_remote_id,amount,currency,occurred_at\nR-1,credit note,D-1,-10,CNY,2026-02-01\n",
    )

    with pytest.raises(ImportRejected) as rejected:
        import_file(people, refunds)

    assert rejected.value.problems == ["row 2, column 'amount': '-10' is not above zero"]


# --- the same file, the same answer ---------------------------------------------------------------

BAD_ROWS = (
    DEALS + GOOD.replace("D-1", "D-0") + f"D-1,E1,won,100,CNY,2026-01-01,2026-01-05,{'x' * 35}\n"
    "D-2,E1,won,-100,CNY,2026-01-01,2026-01-05,new\n"
    "D-3,E1,won,100,CNY,2026-02-01,2026-01-05,new\n"
    "D-4,E1,won,100,CNY,2026-01-01,9999-12-31,new\n"
    "D-5,E1,won,100,ZZZ,2026-01-01,2026-01-05,new\n"
    "D-6,E1,lost,100,CNY,2026-01-01,2026-01-05,ne\x00w\n"
    "D-7,E1,won,1e13,CNY,2026-01-01,2026-01-05,new\n"
)


def test_the_same_file_gets_the_same_answer_on_every_store(people: Store, tmp_path: Path) -> None:
    """Whichever store the suite runs on (SQLite, or PostgreSQL with KPI_TEST_DATABASE_URL), one answer, all rows."""
    problems = refused(people, write(tmp_path, "deals.csv", BAD_ROWS))

    assert problems == [
        f"row 3, column 'deal_type': {'x' * 35!r} is 35 characters long; deal_type holds at most 32",
        "row 4, column 'amount': -100 is below zero: a deal's amount is what was sold; money given back is a refund "
        "or a credit note (imported as refunds, a positive amount)",
        "row 5, column 'closed_at': closed_at 2026-01-05T00:00:00+00:00 is before created_at 2026-02-01T00:00:00+00:00",
        "row 6, column 'closed_at': '9999-12-31' is after 2200: a placeholder, not a date (leave the cell empty when "
        "there is none)",
        "row 7, column 'currency': 'ZZZ' is not a currency of ISO 4217 (such as CNY, USD or EUR)",
        "row 8, column 'deal_type': 'ne\\x00w' holds a NUL character, which no text may hold",
        "row 9, column 'amount': '1e13' is too large",
    ]


def test_the_good_rows_of_that_file_import_alike_once_the_bad_ones_are_corrected(people: Store, tmp_path: Path) -> None:
    summary = import_file(people, write(tmp_path, "deals.csv", DEALS + GOOD))

    assert (summary.inserted, summary.rows_read) == (1, 1)


# --- time zones ---------------------------------------------------------------------------------


def test_a_misspelt_time_zone_names_the_zone_meant(people: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as wrong:
        import_file(people, deal(tmp_path, GOOD), time_zone="Asia/Shanghia")

    assert wrong.value.message == "'Asia/Shanghia' is not a time zone (did you mean Asia/Shanghai?)."


def test_a_mapping_with_a_misspelt_time_zone_names_the_zone_meant(people: Store, tmp_path: Path) -> None:
    mapping = write(tmp_path, "mapping.yaml", "entity: deals\ntime_zone: america/new_yrok\n")

    with pytest.raises(ConfigurationError) as wrong:
        import_file(people, deal(tmp_path, GOOD), mapping=mapping)

    assert wrong.value.message == (
        "the mapping file mapping.yaml is wrong at time_zone: 'america/new_yrok' is not a time zone (did you mean "
        "America/New_York?)."
    )


def test_kpi_import_with_a_misspelt_time_zone_is_one_sentence_naming_the_zone_meant(
    people: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the answer did not say which zone was meant, and a zone name too long for a file name was an
    "unexpected OSError"."""
    path = deal(tmp_path, GOOD)
    for given, sentence in [
        ("Asia/Shanghia", "Error: 'Asia/Shanghia' is not a time zone (did you mean Asia/Shanghai?)."),
        ("x" * 300, f"Error: {'x' * 57 + '...'!r} is not a time zone (use an IANA name such as Asia/Shanghai or UTC)."),
    ]:
        with pytest.raises(SystemExit) as done:
            main(["--db", people.url, "import", "--time-zone", given, str(path)])
        printed = capsys.readouterr()

        assert done.value.code == 1
        assert printed.err.splitlines() == [sentence]
        assert "pydantic" not in printed.err and "validation error" not in printed.err
