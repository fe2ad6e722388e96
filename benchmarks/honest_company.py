"""An honest company, built independently of the sample generator, to measure how often the anti-gaming checks
accuse reps who did nothing wrong (issue 18), and whether gaming planted on top of it is still found.

The company (seeded, ``--reps`` in teams of 10, the 12 months of ``--year``):

- customers, each rep's book, order at their own heavy-tailed pace (0.5 to about 50 orders a year, lognormal),
  first a ``new`` deal, then ``upsell`` or ``renewal`` of the same product line mostly;
- amounts lognormal (a customer's own size times a per-order spread; first digits close to Benford's law);
- a quarter-end rush: the last 10 days of a quarter book about 3 times the usual rate (26-33 % of a quarter's
  bookings), weekends are slow and China's public holidays quiet (``kpi_engine.calendars``, CN);
- discounts by habit (each rep's own mean, 3-15 %), visit rates varying 3x between reps (hunters and farmers),
  about 90 % of visits with evidence (a few reps habitually miss it on 25-30 % of visits);
- about 2 % of deals cancelled 5-60 days after the close, about 2 % of customers lost (churn) during the year.

Everything is written as CRM-style CSV files (people, deals, activities, refunds, churn events) and loaded with
``kpi import`` into a fresh store, then both integrity plans (``rules/deal-integrity.yaml``,
``rules/activity-integrity.yaml``) are evaluated month by month, in order. With ``--plant`` gaming is planted on
top (a split order, a period-end pull-forward, sandbagging, a duplicate deal, a month of visits without evidence,
inflated visits) and each planted case must be found for its rep and month, naming every planted record.

    python benchmarks/honest_company.py --seeds 1 2 3 --reps 60
    python benchmarks/honest_company.py --seeds 1 --reps 60 --plant
    python benchmarks/honest_company.py --seeds 1 --reps 60 --database postgresql://postgres@127.0.0.1:5432/test

Prints, per seed and size, the findings per check as a share of person-months, and the planted-case recall.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kpi_engine import business_calendar, evaluate_plans, open_store, schema

__all__ = ["Company", "Planted", "build", "evaluate", "main"]

ROOT = Path(__file__).resolve().parents[1]
PLANS = [ROOT / "rules" / "deal-integrity.yaml", ROOT / "rules" / "activity-integrity.yaml"]
PRODUCTS = ["CRM Cloud", "Service Desk", "Analytics Suite"]
SHANGHAI = 8  # hours ahead of UTC, no daylight saving


@dataclass
class Planted:
    check: str
    person: str
    period: str
    table: str
    remote_ids: list[str]


@dataclass
class Company:
    people: list[dict[str, Any]] = field(default_factory=list)
    deals: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    churn: list[dict[str, Any]] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)


def _utc(day: date, rng: random.Random) -> str:
    local = datetime(day.year, day.month, day.day, rng.randint(9, 19), rng.randint(0, 59), tzinfo=UTC)
    return (local - timedelta(hours=SHANGHAI)).strftime("%Y-%m-%d %H:%M")


def _days(year: int) -> list[date]:
    start = date(year, 1, 1)
    return [start + timedelta(days=i) for i in range((date(year + 1, 1, 1) - start).days)]


def _day_weight(day: date) -> float:
    """How busy a day is: working days 1, weekends 0.15, public holidays 0.05, a quarter's last 10 days 3 times."""
    calendar = business_calendar("CN")
    weight = 1.0 if calendar.is_working_day(day) else (0.15 if day.weekday() >= 5 else 0.05)
    quarter_end = date(day.year + (day.month >= 10), (((day.month - 1) // 3 + 1) * 3) % 12 + 1, 1)
    if (quarter_end - day).days <= 10:
        weight *= 3.0
    return weight


def build(seed: int, reps: int, year: int = 2026) -> Company:
    """The honest company: nothing in it is gaming."""
    rng = random.Random(seed)
    company = Company()
    days = _days(year)
    weights = [_day_weight(d) for d in days]
    deal_no = activity_no = 0
    for r in range(reps):
        person = f"E{1001 + r}"
        company.people.append(
            {
                "id": person,
                "name": f"Rep {r + 1}",
                "role": "sales_rep",
                "team_id": f"T{r // 10 + 1}",
                "hire_date": f"{year - 2}-01-01",
            }
        )
        discount_habit = rng.uniform(0.03, 0.15)
        for c in range(rng.randint(25, 45)):
            customer = f"C-{person}-{c}"
            rate = min(50.0, math.exp(rng.gauss(math.log(4), 1.1)))  # orders a year, heavy-tailed
            size = math.exp(rng.gauss(math.log(18_000), 0.6))
            product = rng.choice(PRODUCTS)
            count = sum(1 for _ in range(1000) if rng.random() < rate / 1000)  # ~Binomial(1000, rate/1000)
            order_days = sorted(rng.choices(days, weights=weights, k=count))
            orders: set[tuple[Any, ...]] = set()
            for i, day in enumerate(order_days):
                deal_no += 1
                amount = max(1_000, round(size * math.exp(rng.gauss(0, 0.7)), -2))
                deal: dict[str, Any] = {
                    "remote_id": f"D{deal_no}",
                    "customer": customer,
                    "owner_id": person,
                    "status": "won",
                    "amount": str(amount),
                    "currency": "CNY",
                    "discount": f"{max(0.0, min(0.4, rng.gauss(discount_habit, 0.03))):.3f}",
                    "created_at": _utc(day - timedelta(days=rng.randint(5, 40)), rng),
                    "closed_at": _utc(day, rng),
                    "product_line": product if rng.random() < 0.85 else rng.choice(PRODUCTS),
                    "deal_type": "new" if i == 0 else rng.choice(["upsell", "renewal"]),
                }
                # two orders of one customer alike in amount, product, creation and close day are one deal entered
                # twice, which an honest CRM does not hold: a collision (a customer ordering weekly, amounts in
                # hundreds, creation dates from 36 days) moves the amount by 100, without another random draw
                while (key := (deal["amount"], deal["product_line"], deal["created_at"][:10], day)) in orders:
                    amount += 100
                    deal["amount"] = str(amount)
                orders.add(key)
                company.deals.append(deal)
                if rng.random() < 0.02:
                    company.refunds.append(
                        {
                            "remote_id": f"R{deal_no}",
                            "kind": "cancellation",
                            "amount": str(amount),
                            "currency": "CNY",
                            "occurred_at": _utc(day + timedelta(days=rng.randint(5, 60)), rng),
                            "deal_remote_id": f"D{deal_no}",
                        }
                    )
            if order_days and rng.random() < 0.02:
                lost = order_days[-1] + timedelta(days=rng.randint(100, 300))
                if lost.year == year:
                    company.churn.append(
                        {
                            "remote_id": f"CH-{customer}",
                            "churned_at": _utc(lost, rng),
                            "customer": customer,
                            "owner_id": person,
                            "deal_remote_id": f"D{deal_no}",
                            "lost_amount": "10000",
                            "currency": "CNY",
                        }
                    )
        visits_a_day = rng.uniform(0.6, 1.8)  # hunters and farmers: 3 times apart
        misses = rng.uniform(0.25, 0.30) if rng.random() < 0.1 else rng.uniform(0.03, 0.12)
        calendar = business_calendar("CN")
        for day in days:
            if not calendar.is_working_day(day):
                continue
            for _ in range(sum(1 for _ in range(4) if rng.random() < visits_a_day / 4)):
                activity_no += 1
                company.activities.append(
                    {
                        "remote_id": f"A{activity_no}",
                        "kind": "visit",
                        "occurred_at": _utc(day, rng),
                        "owner_id": person,
                        "has_evidence": "no" if rng.random() < misses else "yes",
                    }
                )
    return company


def plant(company: Company, seed: int, year: int = 2026) -> None:
    """Gaming on top of the honest company, each case on its own rep and month (April to October)."""
    rng = random.Random(seed * 7919)
    reps = [p["id"] for p in company.people]
    rng.shuffle(reps)
    n = [0]

    def deal(rep: str, customer: str, day: date, amount: int, **extra: Any) -> str:
        n[0] += 1
        remote = f"P{n[0]}"
        company.deals.append(
            {
                "remote_id": remote,
                "customer": customer,
                "owner_id": rep,
                "status": "won",
                "amount": str(amount),
                "currency": "CNY",
                "discount": "0.05",
                "created_at": _utc(day - timedelta(days=10), rng),
                "closed_at": _utc(day, rng),
                "product_line": "CRM Cloud",
                "deal_type": "new",
                **extra,
            }
        )
        return remote

    def visits(rep: str, month: int, count: int, evidence: str) -> list[str]:
        ids = []
        for i in range(count):
            n[0] += 1
            ids.append(f"PA{n[0]}")
            day = date(year, month, 1 + i % 27)
            company.activities.append(
                {
                    "remote_id": ids[-1],
                    "kind": "visit",
                    "occurred_at": _utc(day, rng),
                    "owner_id": rep,
                    "has_evidence": evidence,
                }
            )
        return ids

    m = f"{year}-05"
    split = [
        deal(reps[0], "Planted split customer", date(year, 5, d), rng.randrange(38_000, 49_800, 100))
        for d in (11, 12, 14)
    ]
    company.planted.append(Planted("deal_splitting", reps[0], m, "deals", split))
    end = [
        deal(reps[1], f"Planted pull {i}", date(year, 6, 30 - i % 3), rng.randrange(120_000, 200_000, 100))
        for i in range(8)
    ]
    company.planted.append(Planted("period_end_pull_forward", reps[1], f"{year}-06", "deals", end))
    start = [
        deal(reps[2], f"Planted held {i}", date(year, 8, 1 + i % 3), rng.randrange(120_000, 200_000, 100))
        for i in range(8)
    ]
    company.planted.append(Planted("sandbagging", reps[2], f"{year}-08", "deals", start))
    original = deal(reps[3], "Planted duplicate", date(year, 7, 15), 73_400)
    copy = deal(reps[3], "Planted duplicate", date(year, 7, 15), 73_400)
    company.planted.append(Planted("duplicate_deal", reps[3], f"{year}-07", "deals", [original, copy]))
    company.planted.append(
        Planted("unverified_activity", reps[4], f"{year}-09", "activities", visits(reps[4], 9, 18, "no"))
    )
    company.planted.append(
        Planted("activity_inflation", reps[5], f"{year}-10", "activities", visits(reps[5], 10, 60, "yes"))
    )


def _write(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def evaluate(company: Company, url: str, year: int = 2026, months: Sequence[int] = range(1, 13)) -> dict[str, Any]:
    """Import the company's CSV files with ``kpi import`` into the store at ``url``; evaluate both plans for each of
    ``months`` (all 12 by default), in order; return the findings per check, the person-months checked and the
    planted cases found."""
    with tempfile.TemporaryDirectory() as folder:
        for name, rows in (
            ("people", company.people),
            ("deals", company.deals),
            ("activities", company.activities),
            ("refunds", company.refunds),
            ("churn_events", company.churn),
        ):
            _write(Path(folder), name, rows)
        kpi = Path(sys.executable).with_name("kpi")
        subprocess.run(
            [str(kpi), "import", folder],
            check=True,
            env={**os.environ, "KPI_DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
        )
    store = open_store(url)
    findings: list[dict[str, Any]] = []
    person_months = len(PLANS) * len(months) * len(company.people)  # every rep in scope of both plans each month
    try:
        for month in months:
            for run in evaluate_plans(store, PLANS, f"{year}-{month:02d}"):
                findings += [
                    {"person": o.person_id, "period": o.trace["period"], **o.trace}
                    for o in run.outcomes
                    if o.kind == "finding"
                ]
        with store.engine.connect() as db:
            ids = {row[0]: row[1] for row in db.execute(select(schema.deals.c.remote_id, schema.deals.c.id))}
            ids.update(
                {row[0]: row[1] for row in db.execute(select(schema.activities.c.remote_id, schema.activities.c.id))}
            )
    finally:
        store.dispose()
    found = []
    for case in company.planted:
        want = {ids[r] for r in case.remote_ids}
        found.append(
            any(
                f["check"] == case.check
                and f["person"] == case.person
                and f["period"] == case.period
                and want <= {i for rec in f["records"] if rec["table"] == case.table for i in rec["ids"]}
                for f in findings
            )
        )
    planted = {(c.person, c.period) for c in company.planted}
    honest = [f for f in findings if (f["person"], f["period"]) not in planted]
    return {"findings": honest, "person_months": person_months, "recall": list(zip(company.planted, found))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--reps", type=int, nargs="+", default=[60])
    parser.add_argument("--plant", action="store_true", help="plant gaming on top and report its recall")
    parser.add_argument("--database", help="a PostgreSQL URL (emptied schema of its own); default a fresh SQLite file")
    args = parser.parse_args(argv)
    for reps in args.reps:
        for seed in args.seeds:
            company = build(seed, reps)
            if args.plant:
                plant(company, seed)
            with tempfile.TemporaryDirectory() as folder:
                url = args.database or f"sqlite:///{folder}/honest.sqlite"
                result = evaluate(company, url)
            checks = Counter(f["check"] for f in result["findings"])
            rep_months = reps * 12
            flagged = len({(f["person"], f["period"]) for f in result["findings"]})
            total = sum(checks.values())
            print(
                f"seed {seed}, {reps} reps, {len(company.deals)} deals, {len(company.activities)} visits: "
                f"{total} findings in {result['person_months']} person-months checked "
                f"({Decimal(100 * total) / max(result['person_months'], 1):.2f} %), rep-months with a finding "
                f"{flagged} of {rep_months} ({Decimal(100 * flagged) / rep_months:.2f} %)"
            )
            for check, count in sorted(checks.items()):
                kinds = Counter(f.get("category", "gaming") for f in result["findings"] if f["check"] == check)
                print(f"  {check:26} {count:4}  {Decimal(100 * count) / rep_months:.2f} % of rep-months  {dict(kinds)}")
            for case, hit in result["recall"]:
                print(f"  planted {case.check:24} {case.person} {case.period}: {'found' if hit else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
