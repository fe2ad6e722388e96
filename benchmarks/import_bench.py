"""Importing a deals export: rows per second and peak memory, against a bare insert of the same rows.

A CSV of N deals (as a CRM exports them: remote id, name, customer by name, owner, stage, amount,
currency, dates, product line, source, type) is written once, streamed, with ``--deals`` rows. Then,
each in a fresh process on a freshly migrated empty store holding the 1,000 people the deals name:

1. ``bare``: the ceiling of the database side, the rows parsed with the ``csv`` module and written
   with one ``executemany`` per 10,000 rows (SQLite) or ``COPY`` (PostgreSQL), in one transaction,
   converted only as far as the column types need (scaled integers, UTC timestamps); no customer,
   no validation, no reference checks;
2. ``import``: ``kpi import deals.csv``, the product: every row validated, owners checked, customers
   created from their names, compared with what is stored, logged for the pay cycle; all or nothing.

Each step reports its wall time and the peak resident set of its process (``ru_maxrss``): a bounded
import's peak does not grow with the file.

    python benchmarks/import_bench.py sqlite --deals 200000
    python benchmarks/import_bench.py postgresql://postgres@127.0.0.1:5432/kpi_import_bench --deals 2000000
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEOPLE = 1_000
CUSTOMERS = 40_000
COLUMNS = [
    "remote_id",
    "name",
    "customer",
    "owner_id",
    "stage_raw",
    "amount",
    "currency",
    "created_at",
    "closed_at",
    "product_line",
    "lead_source",
    "deal_type",
]
STAGES = [("Closed Won", 6), ("Closed Lost", 3), ("Negotiation", 1)]

__all__ = ["main", "write_deals"]


def write_deals(path: Path, count: int, seed: int = 7) -> None:
    """A deals export of ``count`` rows, written as it is generated (constant memory)."""
    draw = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    stages = [name for name, weight in STAGES for _ in range(weight)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for n in range(count):
            created = start + timedelta(minutes=draw.randrange(0, 60 * 24 * 600))
            closed = created + timedelta(hours=draw.randrange(1, 24 * 90))
            amount = Decimal(int(draw.lognormvariate(10, 1.1) * 100)) / 100
            out.writerow(
                [
                    f"D{n:08d}",
                    f"Order {n}",
                    f"Customer {draw.randrange(CUSTOMERS):05d}",
                    f"E{draw.randrange(PEOPLE):04d}",
                    draw.choice(stages),
                    f"{amount:.2f}",
                    "CNY",
                    created.strftime("%Y-%m-%d %H:%M:%S"),
                    closed.strftime("%Y-%m-%d %H:%M:%S"),
                    draw.choice(["Standard", "Pro", "Enterprise"]),
                    draw.choice(["web", "referral", "event", "partner"]),
                    draw.choice(["new", "renewal", "upsell"]),
                ]
            )


def _fresh_store(url: str, folder: Path) -> str:
    """A migrated, empty store with the people the deals name; its URL."""
    from sqlalchemy import create_engine, text

    from kpi_engine import PersonRecord, open_store, upsert_records

    if url == "sqlite":
        path = folder / "kpi.sqlite"
        for leftover in folder.glob("kpi.sqlite*"):
            leftover.unlink()
        url = f"sqlite:///{path}"
    else:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    store = open_store(url)
    people = [PersonRecord(id=f"E{n:04d}", name=f"Rep {n}", role="sales_rep") for n in range(PEOPLE)]
    with store.begin() as conn:
        upsert_records(conn, "people", "hr", people)
    store.dispose()
    return url


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def bare(url: str, csv_path: Path) -> int:
    """The same rows written with no product in the way (executemany, or COPY on PostgreSQL)."""
    from kpi_engine import open_store

    store = open_store(url)
    statuses = {"Closed Won": "won", "Closed Lost": "lost"}
    written = 0
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with csv_path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            next(rows)
            shaped = (
                (
                    "bench",
                    r[0],
                    False,
                    r[1],
                    r[3],
                    r[4],
                    statuses.get(r[4], "open"),
                    int(Decimal(r[5]) * 10_000),
                    r[6],
                    _utc(r[7]),
                    _utc(r[8]),
                    r[9],
                    r[10],
                    r[11],
                )
                for r in rows
            )
            columns = (
                "source, remote_id, is_deleted, name, owner_id, stage_raw, status, amount, currency, "
                "created_at, closed_at, product_line, lead_source, deal_type"
            )
            if store.dialect == "postgresql":
                with cursor.copy(f"COPY deals ({columns}) FROM STDIN") as copy:
                    for row in shaped:
                        copy.write_row(row)
                        written += 1
            else:
                sql = f"INSERT INTO deals ({columns}) VALUES ({', '.join('?' * 14)})"
                cursor.execute("BEGIN IMMEDIATE")
                batch: list[tuple[Any, ...]] = []
                for row in shaped:
                    batch.append((*row[:9], row[9].isoformat(" "), row[10].isoformat(" "), *row[11:]))
                    if len(batch) == 10_000:
                        cursor.executemany(sql, batch)
                        written += len(batch)
                        batch = []
                cursor.executemany(sql, batch)
                written += len(batch)
        raw.commit()
    finally:
        raw.close()
        store.dispose()
    return written


def product(url: str, csv_path: Path) -> int:
    from kpi_engine import import_file, open_store

    store = open_store(url)
    summary = import_file(store, csv_path, entity="deals", source="bench", time_zone="UTC")
    store.dispose()
    return summary.inserted


def _child(step: str, url: str, csv_path: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), url, "--run-step", step, "--csv", str(csv_path)]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_step(step: str, url: str, csv_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    rows = bare(url, csv_path) if step == "bare" else product(url, csv_path)
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url", help="'sqlite' (a file in a temporary folder) or a PostgreSQL URL (its schema is reset)")
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--folder", type=Path, help="where the CSV and the SQLite file go (default: a temporary one)")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument("--run-step", help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_step:
        print(json.dumps(run_step(args.run_step, args.url, args.csv)))
        return
    folder = args.folder or Path(tempfile.mkdtemp(prefix="kpi-import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"deals-{args.deals}.csv"
    if not csv_path.exists():
        write_deals(csv_path, args.deals)
    results = {}
    for step in ("bare", "import"):
        url = _fresh_store(args.url, folder)
        results[step] = _child(step, url, csv_path)
    size_mb = csv_path.stat().st_size / 2**20
    backend = "sqlite" if args.url == "sqlite" else "postgresql"
    report = io.StringIO()
    print(f"Import benchmark: {args.deals:,} deals ({size_mb:.1f} MB CSV) into {backend}", file=report)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}", file=report)
    print(f"{'step':<46}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}", file=report)
    labels = {
        "bare": "bare " + ("COPY" if backend == "postgresql" else "executemany") + " (no validation)",
        "import": "kpi import (validated, all or nothing)",
    }
    for step, figures in results.items():
        rate = figures["rows"] / figures["seconds"]
        print(f"{labels[step]:<46}{figures['seconds']:>9.1f}{rate:>10,.0f}{figures['peak_mb']:>9.0f}", file=report)
    ratio = results["import"]["seconds"] / results["bare"]["seconds"]
    print(f"import / bare: {ratio:.1f} times the time", file=report)
    text = report.getvalue()
    print(text, end="")
    if args.output:
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
