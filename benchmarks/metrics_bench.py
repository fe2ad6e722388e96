"""Benchmark: 20 catalogue metrics, 2,000 people × 12 months, against hand-written SQL on the same database.

The baseline is what a careful engineer would write by hand for each number: one aggregate query
per metric and month, the division done in Python's Decimal. The library runs each metric's own
per-person query (exactly what an evaluation runs). Both must produce identical values; the figure
reported is the library's time ÷ the hand-written time (best of ``--repeat`` rounds each). The first
command, run once, generates the data (2,000 people, 1M deals, 4M activities):

    python benchmarks/scale_data.py sqlite:////tmp/kpi-bench.sqlite --size 0.2
    python benchmarks/metrics_bench.py /tmp/kpi-bench.sqlite
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from kpi_engine import get_registry, open_store, parse_period
from kpi_engine.metrics.compute import metric_context

MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
M4, M10 = Decimal("1e-4"), Decimal("1e-10")

WON = "d.status = 'won' AND d.is_deleted = 0 AND d.closed_at >= :start AND d.closed_at < :end AND d.currency = 'CNY'"
ACT = "a.is_deleted = 0 AND a.occurred_at >= :start AND a.occurred_at < :end"
LEAD = "l.is_deleted = 0 AND l.{at} >= :start AND l.{at} < :end"


def q(value: Any, places: int) -> Decimal:
    return Decimal(value).quantize(Decimal(1).scaleb(-places))


def ratio(n: Any, d: Any, places: int = 6, multiplier: int = 1, divisor: int = 1) -> Decimal | None:
    return None if not d else (Decimal(n) * multiplier / (Decimal(d) * divisor)).quantize(Decimal(1).scaleb(-places))


def money(n: Any) -> Decimal:
    return Decimal(n) * M4


def booked(whole: Any, units: Any, rest: Any) -> Decimal:
    value = Decimal(whole or 0) * M4 + Decimal(units or 0) * M4 + Decimal(rest or 0) * M10
    short = value.quantize(M4)
    return short if short == value else value.quantize(M10)


# name -> (SQL returning person_id and integer aggregates, how the integers become the value)
HAND: dict[str, tuple[str, Callable[..., Any]]] = {
    "bookings": (
        (
            "SELECT COALESCE(s.person_id, d.owner_id), SUM(CASE WHEN s.id IS NULL THEN d.amount END),"
            " SUM(CASE WHEN s.id IS NOT NULL THEN d.amount * s.share / 1000000 END), SUM(CASE WHEN s.id IS NOT NULL"
            " THEN d.amount * s.share % 1000000 END)"
            f" FROM deals d LEFT JOIN deal_splits s ON s.deal_id = d.id WHERE {WON} GROUP BY 1"
        ),
        booked,
    ),
    "won_deals": (f"SELECT d.owner_id, COUNT(*) FROM deals d WHERE {WON} GROUP BY 1", int),
    "new_customers": (
        (
            "SELECT d.owner_id, COUNT(DISTINCT d.customer_id) FROM deals d"
            f" WHERE {WON.replace(' AND d.currency = ' + repr('CNY'), '')} AND d.customer_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM deals e WHERE e.customer_id = d.customer_id AND e.status = 'won'"
            " AND e.is_deleted = 0 AND (e.closed_at < d.closed_at OR (e.closed_at = d.closed_at AND e.id < d.id)))"
            " GROUP BY 1"
        ),
        int,
    ),
    "average_selling_price": (
        f"SELECT d.owner_id, SUM(d.amount), COUNT(*) FROM deals d WHERE {WON} GROUP BY 1",
        lambda s, c: ratio(s, c * 10_000, 4),
    ),
    "sales_cycle_days": (
        "SELECT d.owner_id,"
        " SUM(CAST(strftime('%s', d.closed_at) AS INTEGER) - CAST(strftime('%s', d.created_at) AS INTEGER)), COUNT(*)"
        f" FROM deals d WHERE {WON} GROUP BY 1",
        lambda s, c: ratio(s, c, 2, divisor=86_400),
    ),
    "upsell_amount": (
        "SELECT d.owner_id, COALESCE(SUM(CASE WHEN d.deal_type = 'upsell' THEN d.amount END), 0) FROM deals d"
        f" WHERE {WON} GROUP BY 1",
        lambda s: q(money(s), 4),
    ),
    "collections": (
        (
            "SELECT COALESCE(d.owner_id, c.owner_id), SUM(p.amount) FROM payments p"
            " LEFT JOIN deals d ON d.id = p.deal_id LEFT JOIN customers c ON c.id = p.customer_id"
            " WHERE p.is_deleted = 0 AND p.received_at >= :start AND p.received_at < :end AND p.currency = 'CNY'"
            " GROUP BY 1"
        ),
        lambda s: q(money(s), 4),
    ),
    "activities": (f"SELECT a.owner_id, COUNT(*) FROM activities a WHERE {ACT} GROUP BY 1", int),
    "visits": (f"SELECT a.owner_id, COUNT(*) FROM activities a WHERE {ACT} AND a.kind = 'visit' GROUP BY 1", int),
    "calls": (f"SELECT a.owner_id, COUNT(*) FROM activities a WHERE {ACT} AND a.kind = 'call' GROUP BY 1", int),
    "meetings": (f"SELECT a.owner_id, COUNT(*) FROM activities a WHERE {ACT} AND a.kind = 'meeting' GROUP BY 1", int),
    "visits_per_week": (
        f"SELECT a.owner_id, COUNT(*), :days FROM activities a WHERE {ACT} AND a.kind = 'visit' GROUP BY 1",
        lambda n, days: ratio(n, days, 2, multiplier=7),
    ),
    "visit_conversion_rate": (
        "SELECT a.owner_id, SUM(CASE WHEN a.deal_id IS NOT NULL THEN 1 ELSE 0 END), COUNT(*) FROM activities a"
        f" WHERE {ACT} AND a.kind = 'visit' GROUP BY 1",
        ratio,
    ),
    "follow_ups": (
        f"SELECT a.owner_id, COUNT(*) FROM activities a WHERE {ACT} AND a.kind IN ('call', 'visit', 'meeting', 'email')"
        " AND a.customer_id IS NOT NULL GROUP BY 1",
        int,
    ),
    "leads_created": (
        f"SELECT l.marketing_owner_id, COUNT(*) FROM leads l WHERE {LEAD.format(at='created_at')} GROUP BY 1",
        int,
    ),
    "mql": (f"SELECT l.marketing_owner_id, COUNT(*) FROM leads l WHERE {LEAD.format(at='mql_at')} GROUP BY 1", int),
    "sql": (f"SELECT l.owner_id, COUNT(*) FROM leads l WHERE {LEAD.format(at='sql_at')} GROUP BY 1", int),
    "mql_to_sql_rate": (
        "SELECT l.marketing_owner_id, SUM(CASE WHEN l.sql_at IS NOT NULL THEN 1 ELSE 0 END), COUNT(*) FROM leads l"
        f" WHERE {LEAD.format(at='mql_at')} GROUP BY 1",
        ratio,
    ),
    "lead_conversion_rate": (
        "SELECT l.owner_id, SUM(CASE WHEN l.converted_deal_id IS NOT NULL THEN 1 ELSE 0 END), COUNT(*) FROM leads l"
        f" WHERE {LEAD.format(at='created_at')} GROUP BY 1",
        ratio,
    ),
    "sla_attainment": (
        (
            "SELECT l.owner_id, SUM(CASE WHEN l.first_contact_at IS NOT NULL"
            " AND CAST(strftime('%s', l.first_contact_at) AS INTEGER)"
            " - CAST(strftime('%s', l.assigned_at) AS INTEGER) <= 86400 THEN 1 ELSE 0 END), COUNT(*)"
            f" FROM leads l WHERE {LEAD.format(at='assigned_at')} GROUP BY 1"
        ),
        ratio,
    ),
}


def _bounds(month: str) -> dict[str, Any]:
    period = parse_period(month)
    start, end = period.bounds_utc("UTC")
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    return {"start": start.strftime(fmt), "end": end.strftime(fmt), "days": period.days}


def run_hand(db: sqlite3.Connection) -> tuple[float, dict[tuple[str, str], dict[str, Any]]]:
    results: dict[tuple[str, str], dict[str, Any]] = {}
    started = time.perf_counter()
    for name, (sql, combine) in HAND.items():
        for month in MONTHS:
            params = _bounds(month)
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            results[(name, month)] = {row[0]: combine(*row[1:]) for row in db.execute(sql, used)}
    return time.perf_counter() - started, results


def run_library(store: Any) -> tuple[float, dict[tuple[str, str], dict[str, Any]]]:
    registry = get_registry()
    results: dict[tuple[str, str], dict[str, Any]] = {}
    started = time.perf_counter()
    with store.connect() as conn:
        for name in HAND:
            metric = registry.metric(name)
            for month in MONTHS:
                ctx = metric_context(parse_period(month), "UTC", "CNY")
                results[(name, month)] = dict(conn.execute(metric.query(ctx)))
    return time.perf_counter() - started, results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="SQLite file made by benchmarks/scale_data.py")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    store = open_store(f"sqlite:///{args.database}")
    db = sqlite3.connect(args.database)
    counts = {
        t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("people", "deals", "activities", "leads", "payments", "deal_splits")
    }
    print("data: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    print(
        f"{len(HAND)} metrics × {len(MONTHS)} months = {len(HAND) * len(MONTHS)} "
        f"queries per side; best of {args.repeat} rounds"
    )
    run_hand(db)  # warm the page cache for both sides
    hand_times, lib_times = [], []
    hand = lib = {}
    for _ in range(args.repeat):
        t, hand = run_hand(db)
        hand_times.append(t)
        t, lib = run_library(store)
        lib_times.append(t)
    mismatches = [
        key
        for key in hand
        if {k: v for k, v in hand[key].items() if v is not None} != {k: v for k, v in lib[key].items() if v is not None}
    ]
    best_hand, best_lib = min(hand_times), min(lib_times)
    print(
        f"hand-written SQL: {best_hand:.2f} s   library: {best_lib:.2f} s   "
        f"ratio: {best_lib / best_hand:.2f}×  (limit 2×)"
    )
    print(
        f"identical results: {'yes' if not mismatches else 'NO: ' + ', '.join(f'{n} {m}' for n, m in mismatches[:5])}"
    )
    per_metric = []
    for name, (sql, _) in HAND.items():
        t0 = time.perf_counter()
        for month in MONTHS:
            params = _bounds(month)
            db.execute(sql, {k: v for k, v in params.items() if f":{k}" in sql}).fetchall()
        t1 = time.perf_counter()
        metric = get_registry().metric(name)
        with store.connect() as conn:
            for month in MONTHS:
                conn.execute(metric.query(metric_context(parse_period(month), "UTC", "CNY"))).all()
        t2 = time.perf_counter()
        per_metric.append((name, t1 - t0, t2 - t1))
    for name, h, lib_t in per_metric:
        print(f"  {name:24s} hand {h:6.2f} s  library {lib_t:6.2f} s  {lib_t / h if h else 0:5.2f}×")
    if mismatches or best_lib > 2 * best_hand:
        sys.exit(1)


if __name__ == "__main__":
    main()
