"""Hand-written SQL baseline: the commission and sales-rep scorecard payouts, one statement per month.

One statement per month reads, for every sales representative in scope, the integers both plans
pay on (bookings credited through splits, targets, new customers, leads created and converted,
visits, complaint-survey scores) and computes the commission in SQL, in integers, to the cent. Two
more read what the commission plan's deal checks look at: won deals whose owner won another deal of
the same customer within 14 days (the only possible split orders and copies), and the month's churn
events on deals. The checks' effects (a copy earns nothing, a split order holds the month, an early
churn takes back what the deal earned) and the scorecard's five factors are then a few lines of
Python per person (``benchmarks/_payouts.py``). The same text runs on SQLite and PostgreSQL but for
one comparison of time stamps. This is the practical limit an engine that reads the same database
can approach.

    python benchmarks/baseline_sql.py sqlite:////work/bench-data/kpi-10.sqlite --months 2026-01
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from _payouts import (
    MONTHS,
    CandidateDeal,
    ChurnedDeal,
    CommissionChecks,
    RepFacts,
    commission_cents,
    local_day,
    month_bounds,
    scorecard_payout,
)
from sqlalchemy import text

from kpi_engine import Store, open_store

__all__ = ["PAYOUT_SQL", "payouts"]

WON = "d.status = 'won' AND NOT d.is_deleted AND d.closed_at >= :start AND d.closed_at < :end"

PAYOUT_SQL = f"""
WITH scope AS (
    SELECT DISTINCT p.id AS person_id FROM people p JOIN org_assignments a ON a.person_id = p.id
    WHERE a.role = 'sales_rep' AND a.valid_from < :end_day AND (a.valid_to IS NULL OR a.valid_to > :first_day)
      AND (p.hire_date IS NULL OR p.hire_date < :end_day) AND (p.leave_date IS NULL OR p.leave_date > :first_day)
), credit AS (
    SELECT COALESCE(s.person_id, d.owner_id) AS person_id,
           SUM(CASE WHEN s.id IS NULL THEN d.amount * 1000000 ELSE d.amount * s.share END) AS units
    FROM deals d LEFT JOIN deal_splits s ON s.deal_id = d.id
    WHERE {WON} AND d.currency = 'CNY'
    GROUP BY COALESCE(s.person_id, d.owner_id)
), first_wins AS (
    SELECT d.owner_id AS person_id, COUNT(DISTINCT d.customer_id) AS n FROM deals d
    WHERE {WON} AND d.customer_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM deals e WHERE e.customer_id = d.customer_id AND e.status = 'won' AND NOT e.is_deleted
          AND (e.closed_at < d.closed_at OR (e.closed_at = d.closed_at AND e.id < d.id)))
    GROUP BY d.owner_id
), lead_counts AS (
    SELECT owner_id AS person_id, COUNT(*) AS created,
           SUM(CASE WHEN converted_deal_id IS NOT NULL THEN 1 ELSE 0 END) AS converted
    FROM leads WHERE NOT is_deleted AND created_at >= :start AND created_at < :end GROUP BY owner_id
), visit_counts AS (
    SELECT owner_id AS person_id, COUNT(*) AS n FROM activities
    WHERE NOT is_deleted AND kind = 'visit' AND occurred_at >= :start AND occurred_at < :end GROUP BY owner_id
), surveys AS (
    SELECT person_id, SUM(score) AS total, COUNT(*) AS n FROM survey_responses
    WHERE NOT is_deleted AND kind = 'complaint_satisfaction' AND responded_at >= :start AND responded_at < :end
    GROUP BY person_id
), quota AS (
    SELECT subject_id AS person_id,
           MAX(CASE WHEN metric = 'bookings' THEN target END) AS bookings,
           MAX(CASE WHEN metric = 'new_customers' THEN target END) AS new_customers
    FROM targets WHERE subject_type = 'person' AND period = :label AND metric IN ('bookings', 'new_customers')
    GROUP BY subject_id
), facts AS (
    SELECT s.person_id, COALESCE(c.units, 0) AS b, q.bookings * 10000 AS t, q.bookings AS bookings_target,
           COALESCE(f.n, 0) AS new_customers, q.new_customers AS new_customers_target,
           COALESCE(l.created, 0) AS leads_created, COALESCE(l.converted, 0) AS leads_converted,
           COALESCE(v.n, 0) AS visits, COALESCE(sv.total, 0) AS survey_total, COALESCE(sv.n, 0) AS survey_count
    FROM scope s
    LEFT JOIN credit c ON c.person_id = s.person_id
    LEFT JOIN first_wins f ON f.person_id = s.person_id
    LEFT JOIN lead_counts l ON l.person_id = s.person_id
    LEFT JOIN visit_counts v ON v.person_id = s.person_id
    LEFT JOIN surveys sv ON sv.person_id = s.person_id
    LEFT JOIN quota q ON q.person_id = s.person_id
), commission AS (
    SELECT facts.*, CASE WHEN t IS NULL OR t = 0 THEN NULL ELSE (
               CASE WHEN b <= t THEN 5 * b
                    WHEN b <= t * 3 / 2 THEN 5 * t + 8 * (b - t)
                    ELSE 5 * t + 8 * (t * 3 / 2 - t) + 10 * (b - t * 3 / 2) END + 5000000000) / 10000000000
           END AS cents  -- 5 / 8 / 10 % of 10^-10 yuan is 10^-12 yuan; to cents, half up
    FROM facts
)
SELECT person_id, CASE WHEN cents > 6000000 THEN 6000000 ELSE cents END AS commission_cents,
       b, bookings_target, new_customers, new_customers_target, leads_created, leads_converted, visits,
       survey_total, survey_count
FROM commission
"""


OWNER_UNITS = """COALESCE(
    (SELECT s.share FROM deal_splits s WHERE s.deal_id = d.id AND s.person_id = d.owner_id) * d.amount,
    CASE WHEN EXISTS (SELECT 1 FROM deal_splits s WHERE s.deal_id = d.id) THEN 0 ELSE d.amount * 1000000 END)"""

# Won deals (of the month and the 7 days before) whose owner won another deal of the same customer within 14 days.
CANDIDATES_SQL = f"""
SELECT d.id, d.owner_id, d.customer_id, d.amount, d.product_line, d.deal_type, d.closed_at, d.created_at,
       {OWNER_UNITS} AS owner_units
FROM deals d
WHERE d.status = 'won' AND NOT d.is_deleted AND d.currency = 'CNY' AND d.customer_id IS NOT NULL
  AND d.closed_at >= :window_start AND d.closed_at < :end
  AND EXISTS (SELECT 1 FROM deals e WHERE e.customer_id = d.customer_id AND e.owner_id = d.owner_id AND e.id <> d.id
              AND e.status = 'won' AND NOT e.is_deleted AND e.currency = 'CNY'
              AND e.closed_at >= :near_start AND e.closed_at < :near_end AND {{within_14_days}})
"""
WITHIN_14_DAYS = {
    "sqlite": "ABS(julianday(e.closed_at) - julianday(d.closed_at)) <= 14",
    "postgresql": "e.closed_at BETWEEN d.closed_at - INTERVAL '14 days' AND d.closed_at + INTERVAL '14 days'",
}
CHURN_SQL = f"""
SELECT d.owner_id, d.id, d.status, d.closed_at, c.churned_at, {OWNER_UNITS} AS owner_units
FROM churn_events c JOIN deals d ON d.id = c.deal_id AND NOT d.is_deleted
WHERE NOT c.is_deleted AND c.churned_at >= :start AND c.churned_at < :end AND d.closed_at IS NOT NULL
"""


def _stamp(dialect: str, moment: Any) -> Any:
    return (
        moment.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else moment
    )  # SQLite: compare with the stored text


def _params(dialect: str, label: str) -> dict[str, Any]:
    bounds = month_bounds(label)
    params: dict[str, Any] = {
        "label": label,
        "start": bounds.start,
        "end": bounds.end,
        "first_day": bounds.first_day,
        "end_day": bounds.end_day,
        "window_start": bounds.start - timedelta(days=7),
    }
    params["near_start"] = params["window_start"] - timedelta(days=15)
    params["near_end"] = bounds.end + timedelta(days=15)
    if dialect == "sqlite":
        params = {
            k: _stamp(dialect, v) if k in ("start", "end", "window_start", "near_start", "near_end") else v
            for k, v in params.items()
        }
        params |= {"first_day": bounds.first_day.isoformat(), "end_day": bounds.end_day.isoformat()}
    return params


class _Months:
    """Each month's rows and checks, read once (a clawback looks at the month that paid the deal)."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn, self.dialect = conn, dialect
        self.payout = text(PAYOUT_SQL)
        self.candidates = text(CANDIDATES_SQL.format(within_14_days=WITHIN_14_DAYS[dialect]))
        self.churn = text(CHURN_SQL)
        self.rows: dict[str, list[Any]] = {}
        self.checks: dict[str, CommissionChecks] = {}

    def month(self, label: str) -> tuple[list[Any], CommissionChecks]:
        if label not in self.rows:
            params = _params(self.dialect, label)
            self.rows[label] = list(self.conn.execute(self.payout, params))
            candidates = [
                CandidateDeal(
                    int(r[0]),
                    r[1],
                    int(r[2]),
                    Decimal(int(r[3])) / 10_000,
                    r[4],
                    r[5],
                    local_day(r[6]),
                    None if r[7] is None else local_day(r[7]),
                    int(r[8]),
                )
                for r in self.conn.execute(self.candidates, params)
            ]
            churned = [
                ChurnedDeal(r[0], int(r[1]), r[2], local_day(r[3]), local_day(r[4]), int(r[5]))
                for r in self.conn.execute(self.churn, params)
            ]
            self.checks[label] = CommissionChecks(label, candidates, churned)
        return self.rows[label], self.checks[label]

    def commission(self, label: str) -> dict[str, tuple[Decimal | None, int]]:
        """{person: (commission paid, or None when held or without a target; bookings units after exclusions)}."""
        rows, checks = self.month(label)
        paid: dict[str, tuple[Decimal | None, int]] = {}
        for row in rows:
            person, cents, units, target = row[0], row[1], int(row[2]), row[3]
            if checks.excluded_units.get(person):  # a copy or an early-churned deal of the month earns nothing
                units -= checks.excluded_units[person]
                cents = commission_cents(units, int(target)) if target else None
            paid[person] = (None if cents is None or person in checks.held else Decimal(int(cents)) / 100, units)
        return paid


def payouts(store: Store, months: list[str]) -> dict[tuple[str, str], dict[str, Decimal | None]]:
    """{(plan id, month): {person: payout}} for sales-commission and scorecard-sales-rep (a held commission is not
    paid)."""
    result: dict[tuple[str, str], dict[str, Decimal | None]] = {}
    with store.connect() as conn:
        cache = _Months(conn, store.dialect)
        for label in months:
            days = month_bounds(label).days
            rows, checks = cache.month(label)
            paid = cache.commission(label)
            clawed = checks.clawback_lines(cache.commission)
            commission: dict[str, Decimal | None] = {}
            scorecard: dict[str, Decimal | None] = {}
            for row in rows:
                person = row[0]
                amount, _units = paid[person]
                if person in clawed:
                    amount = (amount or Decimal(0)) + clawed[person]
                if amount is not None or person not in checks.held:
                    commission[person] = amount
                scorecard[person] = scorecard_payout(RepFacts(*(None if v is None else int(v) for v in row[2:])), days)
            result[("sales-commission", label)] = commission
            result[("scorecard-sales-rep", label)] = scorecard
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--months", nargs="*", default=MONTHS)
    args = parser.parse_args(argv)
    store = open_store(args.url)
    started = time.perf_counter()
    found = payouts(store, args.months)
    seconds = time.perf_counter() - started
    for (plan, month), paid in sorted(found.items()):
        total = sum((v for v in paid.values() if v is not None), Decimal(0))
        print(f"{plan:22s} {month}  {len(paid):6,} people  total {total:,.2f}")
    print(f"{seconds:.2f} s")


if __name__ == "__main__":
    main()
