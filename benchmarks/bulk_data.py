"""Bulk data for the metrics benchmark: a large company written straight into SQLite with executemany.

1,000 people in 50 teams, 200,000 customers, 1,000,000 deals (about 2 % split), 4,000,000 activities,
500,000 leads and 400,000 payments over the 12 months of 2026. Rows are plain tuples in the exact
storage format of the schema (money as scaled integers, UTC time stamps as text), so loading takes
a minute or two instead of hours. Deterministic for a seed.

    python benchmarks/bulk_data.py /tmp/kpi-bench.sqlite
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from kpi_engine import open_store

PEOPLE = 1_000
TEAMS = 50
CUSTOMERS = 200_000
DEALS = 1_000_000
ACTIVITIES = 4_000_000
LEADS = 500_000
PAYMENTS = 400_000
YEAR_START = datetime(2026, 1, 1)
SECONDS_IN_YEAR = 365 * 86_400
KINDS = ("call", "call", "email", "visit", "meeting", "task")
CHANNELS = ("search", "social", "referral", "event", "direct", "content")
PRODUCTS = ("CRM Cloud", "Marketing Automation", "Analytics Suite", "Service Desk")


def stamp(moment: datetime) -> str:
    """The text SQLAlchemy stores a UTC DateTime as on SQLite."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _moment(rng: random.Random, *, lo: int = 0, hi: int = SECONDS_IN_YEAR) -> datetime:
    return YEAR_START + timedelta(seconds=rng.randrange(lo, hi))


def generate(path: Path, seed: int = 1, scale: float = 1.0) -> dict[str, int]:
    if path.exists():
        path.unlink()
    open_store(f"sqlite:///{path}").dispose()  # the schema, through the migrations
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    counts: dict[str, int] = {}

    def put(table: str, columns: str, rows: list[tuple]) -> None:
        marks = ", ".join("?" * len(columns.split(",")))
        db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        counts[table] = counts.get(table, 0) + len(rows)

    n_people, n_customers = PEOPLE, int(CUSTOMERS * scale)
    n_deals, n_acts, n_leads, n_pay = int(DEALS * scale), int(ACTIVITIES * scale), int(LEADS * scale), int(PAYMENTS * scale)
    put("teams", "id, name, region, parent_team_id", [("hq", "HQ", "China", None)])
    put("teams", "id, name, region, parent_team_id", [(f"t{t:02d}", f"Team {t}", ("East", "North", "South")[t % 3], "hq") for t in range(TEAMS)])
    people = [f"P{i:04d}" for i in range(n_people)]
    put("people", "id, source, name, role, team_id, region", [(p, "bench", p, "sales_rep" if i % 10 else "marketing_specialist", f"t{i % TEAMS:02d}", ("East", "North", "South")[i % TEAMS % 3]) for i, p in enumerate(people)])
    put("org_assignments", "person_id, team_id, role, region, valid_from", [(p, f"t{i % TEAMS:02d}", "sales_rep", ("East", "North", "South")[i % TEAMS % 3], "2020-01-01") for i, p in enumerate(people)])
    put("customers", "id, source, remote_id, is_deleted, name, owner_id, created_at", [(c, "bench", f"C{c}", 0, f"Customer {c}", rng.choice(people), stamp(YEAR_START - timedelta(days=rng.randrange(1, 2000)))) for c in range(1, n_customers + 1)])

    deals = []
    splits = []
    won_ids = []
    for d in range(1, n_deals + 1):
        created = _moment(rng, lo=-60 * 86_400)
        roll = rng.random()
        status = "won" if roll < 0.5 else "lost" if roll < 0.85 else "open"
        closed = created + timedelta(seconds=rng.randrange(86_400, 90 * 86_400)) if status != "open" else None
        owner = rng.choice(people)
        amount = rng.randrange(5_000, 300_000) * 10_000 + rng.choice((0, 0, 0, rng.randrange(0, 10_000)))
        deal_type = rng.choice(("new", "new", "upsell", "renewal"))
        deals.append((d, "bench", f"D{d}", 0, rng.randrange(1, n_customers + 1), owner, "Closed Won" if status == "won" else "x", status, amount, "CNY",
                      stamp(created), stamp(closed) if closed else None, rng.choice(PRODUCTS), rng.choice(CHANNELS), deal_type))
        if status == "won":
            won_ids.append((d, amount))
            if rng.random() < 0.02:
                mate = rng.choice(people)
                if mate != owner:
                    share = rng.choice((300_000, 400_000, 500_000))
                    splits.append((d, owner, 1_000_000 - share, "primary"))
                    splits.append((d, mate, share, "overlay"))
        if len(deals) == 100_000:
            put("deals", "id, source, remote_id, is_deleted, customer_id, owner_id, stage_raw, status, amount, currency, created_at, closed_at, product_line, lead_source, deal_type", deals)
            deals = []
    if deals:
        put("deals", "id, source, remote_id, is_deleted, customer_id, owner_id, stage_raw, status, amount, currency, created_at, closed_at, product_line, lead_source, deal_type", deals)
    put("deal_splits", "deal_id, person_id, share, split_role", splits)

    payments = []
    for i in range(1, n_pay + 1):
        deal_id, amount = rng.choice(won_ids)
        payments.append((i, "bench", f"P{i}", 0, deal_id, None, amount // 2, "CNY", stamp(_moment(rng))))
    put("payments", "id, source, remote_id, is_deleted, deal_id, customer_id, amount, currency, received_at", payments)

    batch = []
    for i in range(1, n_acts + 1):
        kind = rng.choice(KINDS)
        batch.append((i, "bench", f"A{i}", 0, kind, rng.choice(people), stamp(_moment(rng)), rng.randrange(1, n_customers + 1) if rng.random() < 0.9 else None,
                      rng.randrange(1, n_deals + 1) if rng.random() < 0.3 else None, 0))
        if len(batch) == 200_000:
            put("activities", "id, source, remote_id, is_deleted, kind, owner_id, occurred_at, customer_id, deal_id, has_evidence", batch)
            batch = []
    if batch:
        put("activities", "id, source, remote_id, is_deleted, kind, owner_id, occurred_at, customer_id, deal_id, has_evidence", batch)

    leads = []
    for i in range(1, n_leads + 1):
        created = _moment(rng)
        assigned = created + timedelta(minutes=rng.randrange(5, 600))
        contact = assigned + timedelta(hours=rng.randrange(1, 72)) if rng.random() < 0.8 else None
        mql = contact + timedelta(days=rng.randrange(0, 5)) if contact and rng.random() < 0.3 else None
        sql = mql + timedelta(days=rng.randrange(1, 10)) if mql and rng.random() < 0.4 else None
        converted = rng.randrange(1, n_deals + 1) if sql and rng.random() < 0.5 else None
        leads.append((i, "bench", f"L{i}", 0, rng.choice(people), rng.choice(people[::10]), rng.choice(CHANNELS), stamp(created), stamp(assigned),
                      stamp(contact) if contact else None, stamp(mql) if mql else None, stamp(sql) if sql else None, converted))
    put("leads", "id, source, remote_id, is_deleted, owner_id, marketing_owner_id, channel, created_at, assigned_at, first_contact_at, mql_at, sql_at, converted_deal_id", leads)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="SQLite file to (re)create, outside the repository, e.g. /tmp/kpi-bench.sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the full size (people stay 1,000).")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.database, args.seed, args.scale)
    print(f"wrote {', '.join(f'{n:,} {t}' for t, n in counts.items())} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
