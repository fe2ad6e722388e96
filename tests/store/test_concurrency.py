"""Readers and writers at the same time: reads never wait for a write, and a run reads one state of the facts.

On SQLite, a file database is in WAL mode and read-only commands begin deferred transactions, so a
read runs while an import holds the write lock. On both stores an evaluation reads one snapshot
(PostgreSQL: REPEATABLE READ after its locks are held), so the data watermark saved with a run
always describes what it paid.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import types
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from kpi_engine import DealRecord, evaluate, load_plugins, open_store, parse_plan, schema, upsert_records
from kpi_engine.cli import main
from kpi_engine.engine.facts import data_watermark
from tests.support.factories import add_person

PLAN = """
id: pay
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


def _deal(n: int) -> DealRecord:
    day = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    return DealRecord(
        remote_id=f"D{n}", owner_id="rep", status="won", amount=Decimal(100 * n), currency="USD", closed_at=day
    )


def test_a_file_database_is_in_wal_mode(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'kpi.sqlite'}")
    with store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.dispose()


def test_read_only_commands_answer_while_an_import_holds_the_write_lock(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'kpi.sqlite'}"
    store = open_store(url)
    add_person(store, "rep")
    with store.begin() as conn:
        upsert_records(conn, "deals", "crm", [_deal(1)])
    plan = parse_plan(PLAN, "pay.yaml")
    evaluate(store, plan, "2026-10")

    read_only = [["runs"], ["outcomes"], ["period", "list"], ["ledger"], ["audit"], ["findings"]]
    answers = {}
    with store.begin() as writer:  # an import in the middle of its transaction
        upsert_records(writer, "deals", "crm", [_deal(2)])
        for command in read_only:
            started = time.monotonic()
            with pytest.raises(SystemExit) as exit_:
                main(["--db", url, *command])
            answers[" ".join(command)] = (exit_.value.code or 0, time.monotonic() - started, capsys.readouterr().err)
    store.dispose()
    assert {command: code for command, (code, _, _) in answers.items()} == dict.fromkeys(answers, 0), answers
    assert all(seconds < 10 for _, seconds, _ in answers.values()), "a read waited for the writer"


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"nothing": types.SimpleNamespace()})


def test_evaluations_racing_imports_save_the_watermark_of_what_they_paid(store, registry):
    """Every run is re-derived: its watermark names one committed state, and its payout is that state's."""
    add_person(store, "rep")
    with store.begin() as conn:
        upsert_records(conn, "deals", "crm", [_deal(1)])
    plan = parse_plan(PLAN, "pay.yaml", registry=registry)
    first = evaluate(store, plan, "2026-10", registry=registry)
    with store.connect() as conn:
        tables = conn.execute(
            select(schema.evaluation_runs.c.tables_read).where(schema.evaluation_runs.c.id == first.id)
        ).scalar()
    assert "deals" in tables

    imports = 40
    state_of: dict[str, int] = {}  # watermark -> number of deals committed
    with store.connect() as conn:
        state_of[data_watermark(conn, tables)] = 1
    runs = []
    failures: list[BaseException] = []

    def importer() -> None:
        try:
            for n in range(2, imports + 1):
                with store.begin() as conn:
                    upsert_records(conn, "deals", "crm", [_deal(n)])
                with store.connect() as conn:
                    state_of[data_watermark(conn, tables)] = n
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    def evaluator() -> None:
        try:
            while not done.is_set():
                runs.append(evaluate(store, plan, "2026-10", registry=registry))
                # SQLite grants its write lock to whoever asks first when it frees, not in turn: an evaluation
                # taking it again at once could keep the importer waiting past its busy timeout. A short pause
                # lets the two interleave, as evaluations and imports do in use.
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    done = threading.Event()
    threads = [threading.Thread(target=importer), threading.Thread(target=evaluator)]
    threads[1].start()
    threads[0].start()
    threads[0].join()
    done.set()
    threads[1].join()
    assert failures == []
    assert len(runs) >= 5, "the race needs a few evaluations during the imports"
    for run in runs:
        assert run.data_watermark.split("#")[1] in {w.split("#")[1] for w in state_of}, run.data_watermark
        deals = next(n for w, n in state_of.items() if w.split("#")[1] == run.data_watermark.split("#")[1])
        assert run.total() == Decimal(10 * sum(range(1, deals + 1))).quantize(Decimal("0.01")), (run.id, deals)
    with store.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deals")).scalar() == imports


def test_a_writer_kept_from_the_write_lock_past_the_busy_timeout_gets_one_sentence(tmp_path, monkeypatch, capsys):
    from kpi_engine.store import database

    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT", 0.2)
    path = tmp_path / "kpi.sqlite"
    open_store(f"sqlite:///{path}").dispose()
    people = tmp_path / "people.csv"
    people.write_text("id,name,role\nE1,Ann,sales_rep\n", encoding="utf-8")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer, holding the lock
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["--db", f"sqlite:///{path}", "import", str(people)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert "stayed locked by another writer for 0.2 s; nothing was written." in err
    assert "unexpected" not in err and "Traceback" not in err
    store = open_store(f"sqlite:///{path}")
    with store.connect() as conn:
        assert conn.execute(select(schema.people.c.id)).all() == []
    store.dispose()
