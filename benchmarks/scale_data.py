"""A company at the scale of a large sales organisation, bulk-loaded into SQLite or PostgreSQL.

At ``--size 1``: 10,000 people (managers, sales representatives, marketing specialists, customer
success) in teams of ten under five regions, 500,000 customers, 5,000,000 deals (about 2 % of the
won ones split), 20,000,000 activities and 1,000,000 leads over the 12 months of 2026, with the
payments, refunds, renewals, churn events, surveys, support tickets, trainings, content statistics,
web visits, manual scores and the monthly targets every example plan in ``rules/`` reads. Every
count scales with ``--size`` (people too, at least 30 so that every role has a team).

The schema is the project's own (``open_store`` runs the migrations); rows are then written in the
exact storage format (money as scaled integers, UTC time stamps) through the bulk path of each
backend: SQLite ``executemany`` in large batches with the journal and syncs off, PostgreSQL
``COPY ... FROM STDIN``, secondary indexes dropped during the load and rebuilt after it, then
``ANALYZE``. Columns are drawn with NumPy from one seed, so a seed gives the same company on both
backends.

    python benchmarks/scale_data.py sqlite:////work/bench-data/kpi-100.sqlite --size 1
    python benchmarks/scale_data.py postgresql://postgres@127.0.0.1:5432/kpi_bench_100 --size 1
    python benchmarks/scale_data.py sqlite:///kpi-1.sqlite --size 0.01 --seed 7

An SQLite file is recreated; a PostgreSQL database (or the schema of its ``search_path``) must be
empty unless ``--replace`` is given, which empties its tables first.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kpi_engine import Store, open_store, schema

__all__ = ["FULL", "ScaleCompany", "generate", "main", "people_for"]

FULL = {"people": 10_000, "customers": 500_000, "deals": 5_000_000, "activities": 20_000_000, "leads": 1_000_000}
MIN_PEOPLE = 30
YEAR = 2026
# Plans are in Asia/Shanghai: 2026 starts at 2025-12-31 16:00 UTC. Facts are drawn in that local year.
EPOCH = datetime(YEAR - 1, 12, 31, 16, 0, 0)
YEAR_SECONDS = 365 * 86_400
SOURCE = "scale"
REGIONS = ("East", "North", "South", "West", "Central")
CHANNELS = ("search", "social", "referral", "event", "direct", "content")
PRODUCTS = ("CRM Cloud", "Marketing Automation", "Analytics Suite", "Service Desk")
ACTIVITY_KINDS = ("call", "email", "visit", "meeting", "task")
ACTIVITY_WEIGHTS = (0.42, 0.25, 0.08, 0.10, 0.15)
MEAN_DEAL_YUAN = 16_000  # deal amounts are drawn uniformly from 2,000 to 30,000 yuan (and cents)
WON, LOST = 0.5, 0.35  # shares of deals; the rest are open
CHUNK = 500_000
MONEY = 10_000  # money is stored in ten-thousandths
RATIO = 1_000_000  # ratios, shares and scores in millionths


def people_for(size: float) -> int:
    return max(MIN_PEOPLE, round(FULL["people"] * size))


# --- text of stored values ----------------------------------------------------------------------


MISSING = -(10**15)  # a time stamp that is not there (NULL)
_DAYS_BEFORE = 2_400
_DAY_TEXT = [(EPOCH.date() + timedelta(days=d - _DAYS_BEFORE)).isoformat() for d in range(_DAYS_BEFORE + 1_200)]
_CLOCK_TEXT = [f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000" for s in range(86_400)]
_EPOCH_SHIFT = 16 * 3600  # EPOCH is 16:00 UTC; seconds are counted from it


def stamps(seconds: np.ndarray) -> list[str | None]:
    """UTC time stamps as SQLAlchemy writes them, for seconds after EPOCH (``MISSING`` = NULL)."""
    present = seconds > MISSING
    shifted = np.where(present, seconds, 0) + _EPOCH_SHIFT
    days = (shifted // 86_400 + _DAYS_BEFORE).tolist()
    clock = (shifted % 86_400).tolist()
    return [_DAY_TEXT[d] + _CLOCK_TEXT[c] if p else None for p, d, c in zip(present.tolist(), days, clock)]


def day_text(days: np.ndarray) -> list[str]:
    """Calendar days (Shanghai) as ISO dates, for day numbers counted from 1 January 2026."""
    return [_DAY_TEXT[d + _DAYS_BEFORE + 1] for d in days.tolist()]


def in_time_order(rng: np.random.Generator, position: np.ndarray, total: int, jitter_days: int = 3) -> np.ndarray:
    """Seconds of the year for rows ``position`` (0-based) of ``total``, rising with the position.

    A CRM numbers its records as they are entered, so a month's rows sit together in the table, a few
    days out of order (``jitter_days``); drawing times independently of ids would scatter every month
    over the whole table, a worst case no real store has.
    """
    slot = position * YEAR_SECONDS // max(total, 1)
    jitter = rng.integers(-jitter_days * 86_400, jitter_days * 86_400 + 1, len(position))
    return np.clip(slot + jitter, 0, YEAR_SECONDS - 1)


# --- tables as columns --------------------------------------------------------------------------

Column = tuple[str, str, Any]  # name, kind (int / nint / text / stamp / bool / day), values


@dataclass
class Batch:
    table: str
    columns: list[Column]

    def __len__(self) -> int:
        return len(self.columns[0][2])


def _people_ids(index: np.ndarray, ids: Sequence[str]) -> list[str]:
    return [ids[i] for i in index.tolist()]


@dataclass
class ScaleCompany:
    """The drawn organisation; facts are produced in batches from it."""

    size: float
    seed: int
    n_people: int = 0
    people: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    hires: list[date] = field(default_factory=list)
    reps: list[str] = field(default_factory=list)
    marketers: list[str] = field(default_factory=list)
    success: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)  # everyone but managers
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.n_people = people_for(self.size)
        for name in ("customers", "deals", "activities", "leads"):
            self.counts[name] = max(round(FULL[name] * self.size), 1)
        self.rng = np.random.default_rng(self.seed)

    # organisation ------------------------------------------------------------------------------

    def organisation(self) -> Iterator[Batch]:
        rng = self.rng
        n_teams = (self.n_people + 9) // 10
        team_rows = [("hq", "Headquarters", "China", None)] + [
            (f"r{r}", f"{name} Region", name, "hq") for r, name in enumerate(REGIONS)
        ]
        kinds = ["marketing" if t % 10 == 1 else "success" if t % 10 == 3 else "sales" for t in range(n_teams)]
        for t in range(n_teams):
            region = t % len(REGIONS)
            team_rows.append((f"t{t:04d}", f"{REGIONS[region]} {kinds[t].title()} {t}", REGIONS[region], f"r{region}"))
        yield Batch(
            "teams",
            [
                ("id", "text", [r[0] for r in team_rows]),
                ("name", "text", [r[1] for r in team_rows]),
                ("region", "text", [r[2] for r in team_rows]),
                ("parent_team_id", "text", [r[3] for r in team_rows]),
            ],
        )
        yield Batch(
            "team_hierarchy",
            [
                ("team_id", "text", [r[0] for r in team_rows]),
                ("parent_team_id", "text", [r[3] for r in team_rows]),
                ("valid_from", "text", ["2019-01-01"] * len(team_rows)),
            ],
        )
        role_of = {"sales": "sales_rep", "marketing": "marketing_specialist", "success": "customer_success"}
        managers, regions, teams_of = [], [], []
        for i in range(self.n_people):
            t = i // 10
            pid = f"E{i + 1:05d}"
            role = "manager" if i % 10 == 0 else role_of[kinds[t]]
            self.people.append(pid)
            self.roles.append(role)
            teams_of.append(f"t{t:04d}")
            regions.append(REGIONS[t % len(REGIONS)])
            managers.append(None if i % 10 == 0 else f"E{t * 10 + 1:05d}")
        self.teams = teams_of
        # 4 % of the staff joined during 2026 (the newcomers of the bonus plan); the rest before it.
        joined = rng.random(self.n_people) < 0.04
        earlier = rng.integers(0, 6 * 365, self.n_people)
        during = rng.integers(0, 330, self.n_people)
        base = date(YEAR, 1, 1)
        self.hires = [
            base + timedelta(days=int(d)) if j else base - timedelta(days=int(e) + 1)
            for j, e, d in zip(joined.tolist(), earlier.tolist(), during.tolist())
        ]
        self.reps = [p for p, r in zip(self.people, self.roles) if r == "sales_rep"]
        self.marketers = [p for p, r in zip(self.people, self.roles) if r == "marketing_specialist"]
        self.success = [p for p, r in zip(self.people, self.roles) if r == "customer_success"]
        self.workers = [p for p, r in zip(self.people, self.roles) if r != "manager"]
        hire_text = [h.isoformat() for h in self.hires]
        yield Batch(
            "people",
            [
                ("id", "text", self.people),
                ("source", "text", [SOURCE] * self.n_people),
                ("remote_id", "text", self.people),
                ("name", "text", [f"Person {p}" for p in self.people]),
                ("role", "text", self.roles),
                ("team_id", "text", teams_of),
                ("manager_id", "text", managers),
                ("region", "text", regions),
                ("hire_date", "text", hire_text),
            ],
        )
        yield Batch(
            "org_assignments",
            [
                ("person_id", "text", self.people),
                ("team_id", "text", teams_of),
                ("manager_id", "text", managers),
                ("role", "text", self.roles),
                ("region", "text", regions),
                ("valid_from", "text", hire_text),
            ],
        )

    # customers ---------------------------------------------------------------------------------

    def customers(self) -> Iterator[Batch]:
        rng = self.rng
        n = self.counts["customers"]
        owners_pool = self.reps + self.success
        for start in range(0, n, CHUNK):
            k = min(CHUNK, n - start)
            ids = np.arange(start + 1, start + k + 1)
            created = -rng.integers(86_400, 5 * YEAR_SECONDS, k)
            yield Batch(
                "customers",
                [
                    ("id", "int", ids),
                    ("source", "text", [SOURCE] * k),
                    ("remote_id", "text", [f"C{i:09d}" for i in ids.tolist()]),
                    ("is_deleted", "bool", np.zeros(k, dtype=np.int64)),
                    ("name", "text", [f"Customer {i}" for i in ids.tolist()]),
                    ("segment", "text", [("SMB", "Mid-market", "Enterprise")[i % 3] for i in ids.tolist()]),
                    ("region", "text", [REGIONS[i % 5] for i in ids.tolist()]),
                    ("owner_id", "text", _people_ids(rng.integers(0, len(owners_pool), k), owners_pool)),
                    ("created_at", "stamp", created),
                ],
            )

    # deals, splits, payments, refunds ----------------------------------------------------------

    def deals(self) -> Iterator[Batch]:
        """2025 wins of the existing customers first, then the deals of 2026.

        70 % of the customers bought in 2025; 2026 deals draw from a customer pool that grows through
        the year, so new customers (a first win ever) arrive every month.
        """
        rng = self.rng
        n_customers = self.counts["customers"]
        existing = int(n_customers * 0.7)
        total = self.counts["deals"]
        history = min(existing, total // 10)
        reps = self.reps
        next_id, split_id, pay_id, refund_id = 1, 1, 1, 1
        for start in range(0, total, CHUNK):
            k = min(CHUNK, total - start)
            ids = np.arange(next_id, next_id + k)
            next_id += k
            past = ids <= history
            roll = rng.random(k)
            status = np.where(past | (roll < WON), 0, np.where(roll < WON + LOST, 1, 2))  # 0 won, 1 lost, 2 open
            closed = in_time_order(rng, ids - history - 1, total - history)
            closed = np.where(past, -rng.integers(86_400, 330 * 86_400, k), closed)
            cycle = rng.integers(86_400, 120 * 86_400, k)
            created = np.where(status == 2, rng.integers(-60 * 86_400, YEAR_SECONDS, k), closed - cycle)
            closed = np.where(status == 2, MISSING, closed)
            pool = existing + ((n_customers - existing) * np.clip(closed, 0, None) // YEAR_SECONDS)
            customer = np.where(past, ids, 1 + (rng.random(k) * np.maximum(pool, 1)).astype(np.int64))
            owner_idx = rng.integers(0, len(reps), k)
            amount = rng.integers(2_000, 30_001, k) * MONEY + rng.integers(0, 100, k) * 100
            deal_type = rng.choice(3, k, p=(0.5, 0.25, 0.25))
            stage = np.array(["Closed Won", "Closed Lost", "Negotiation"])[status].tolist()
            yield Batch(
                "deals",
                [
                    ("id", "int", ids),
                    ("source", "text", [SOURCE] * k),
                    ("remote_id", "text", [f"D{i:09d}" for i in ids.tolist()]),
                    ("is_deleted", "bool", np.zeros(k, dtype=np.int64)),
                    ("customer_id", "int", customer),
                    ("owner_id", "text", _people_ids(owner_idx, reps)),
                    ("stage_raw", "text", stage),
                    ("status", "text", np.array(["won", "lost", "open"])[status].tolist()),
                    ("amount", "int", amount),
                    ("currency", "text", ["CNY"] * k),
                    ("discount", "int", rng.integers(0, 25, k) * 10_000),
                    ("created_at", "stamp", created),
                    ("closed_at", "stamp", closed),
                    ("product_line", "text", np.array(PRODUCTS)[rng.integers(0, len(PRODUCTS), k)].tolist()),
                    ("lead_source", "text", np.array(CHANNELS)[rng.integers(0, len(CHANNELS), k)].tolist()),
                    ("deal_type", "text", np.array(["new", "upsell", "renewal"])[deal_type].tolist()),
                ],
            )
            won = (status == 0) & ~past
            # About 2 % of the won deals are split with another representative (60/40 or 70/30).
            split = won & (rng.random(k) < 0.02)
            s_ids, s_owner = ids[split], owner_idx[split]
            mate = (s_owner + rng.integers(1, max(len(reps), 2), len(s_ids))) % len(reps)
            mate_share = rng.choice(np.array([300_000, 400_000]), len(s_ids))
            m = len(s_ids)
            if m and len(reps) > 1:
                deal_col = np.repeat(s_ids, 2)
                person_idx = np.column_stack([s_owner, mate]).ravel()
                shares = np.column_stack([RATIO - mate_share, mate_share]).ravel()
                yield Batch(
                    "deal_splits",
                    [
                        ("id", "int", np.arange(split_id, split_id + 2 * m)),
                        ("deal_id", "int", deal_col),
                        ("person_id", "text", _people_ids(person_idx, reps)),
                        ("share", "int", shares),
                        ("split_role", "text", ["primary", "overlay"] * m),
                    ],
                )
                split_id += 2 * m
            # Most won deals are paid within two months; about 1 % are partly refunded.
            paid = won & (rng.random(k) < 0.7)
            p = int(paid.sum())
            p_ids = np.arange(pay_id, pay_id + p)
            pay_id += p
            yield Batch(
                "payments",
                [
                    ("id", "int", p_ids),
                    ("source", "text", [SOURCE] * p),
                    ("remote_id", "text", [f"P{i:09d}" for i in p_ids.tolist()]),
                    ("is_deleted", "bool", np.zeros(p, dtype=np.int64)),
                    ("deal_id", "int", ids[paid]),
                    ("customer_id", "int", customer[paid]),
                    ("amount", "int", amount[paid]),
                    ("currency", "text", ["CNY"] * p),
                    ("received_at", "stamp", closed[paid] + rng.integers(3_600, 60 * 86_400, p)),
                ],
            )
            refunded = won & (rng.random(k) < 0.01)
            r = int(refunded.sum())
            r_ids = np.arange(refund_id, refund_id + r)
            refund_id += r
            yield Batch(
                "refunds",
                [
                    ("id", "int", r_ids),
                    ("source", "text", [SOURCE] * r),
                    ("remote_id", "text", [f"R{i:09d}" for i in r_ids.tolist()]),
                    ("is_deleted", "bool", np.zeros(r, dtype=np.int64)),
                    ("deal_id", "int", ids[refunded]),
                    ("customer_id", "int", customer[refunded]),
                    ("kind", "text", ["refund"] * r),
                    ("amount", "int", amount[refunded] // 2 // 100 * 100),
                    ("currency", "text", ["CNY"] * r),
                    ("occurred_at", "stamp", closed[refunded] + rng.integers(86_400, 90 * 86_400, r)),
                ],
            )

    # activities --------------------------------------------------------------------------------

    def activities(self) -> Iterator[Batch]:
        rng = self.rng
        total = self.counts["activities"]
        workers = self.workers
        kinds = np.array(ACTIVITY_KINDS)
        for start in range(0, total, CHUNK):
            k = min(CHUNK, total - start)
            ids = np.arange(start + 1, start + k + 1)
            kind = rng.choice(len(ACTIVITY_KINDS), k, p=ACTIVITY_WEIGHTS)
            customer = np.where(rng.random(k) < 0.9, rng.integers(1, self.counts["customers"] + 1, k), -1)
            deal = np.where(rng.random(k) < 0.3, rng.integers(1, self.counts["deals"] + 1, k), -1)
            evidence = (rng.random(k) < np.where(kind == 2, 0.92, np.where(kind == 3, 0.95, 0.5))).astype(
                np.int64
            )  # visits and meetings carry a check-in or signed page
            yield Batch(
                "activities",
                [
                    ("id", "int", ids),
                    ("source", "text", [SOURCE] * k),
                    ("remote_id", "text", [f"A{i:09d}" for i in ids.tolist()]),
                    ("is_deleted", "bool", np.zeros(k, dtype=np.int64)),
                    ("kind", "text", kinds[kind].tolist()),
                    ("owner_id", "text", _people_ids(rng.integers(0, len(workers), k), workers)),
                    ("occurred_at", "stamp", in_time_order(rng, ids - 1, total)),
                    ("customer_id", "nint", customer),
                    ("deal_id", "nint", deal),
                    ("duration_seconds", "nint", np.where(kind == 0, rng.integers(30, 1_800, k), -1)),
                    ("has_evidence", "bool", evidence),
                ],
            )

    # leads -------------------------------------------------------------------------------------

    def leads(self) -> Iterator[Batch]:
        rng = self.rng
        total = self.counts["leads"]
        channels = np.array(CHANNELS)
        for start in range(0, total, CHUNK):
            k = min(CHUNK, total - start)
            ids = np.arange(start + 1, start + k + 1)
            created = in_time_order(rng, ids - 1, total)
            assigned = created + rng.integers(300, 36_000, k)
            contacted = np.where(rng.random(k) < 0.85, assigned + rng.integers(3_600, 48 * 3_600, k), MISSING)
            mql = np.where(
                (contacted > MISSING) & (rng.random(k) < 0.35), contacted + rng.integers(0, 5 * 86_400, k), MISSING
            )
            sql = np.where(
                (mql > MISSING) & (rng.random(k) < 0.45), mql + rng.integers(86_400, 10 * 86_400, k), MISSING
            )
            converted = np.where(rng.random(k) < 0.10, rng.integers(1, self.counts["deals"] + 1, k), -1)
            channel = rng.integers(0, len(CHANNELS), k)
            month = np.clip(created // (YEAR_SECONDS // 12), 0, 11) + 1
            campaign = [
                f"{channels[c]}-{YEAR}-{m:02d}" if use else None
                for c, m, use in zip(channel.tolist(), month.tolist(), (rng.random(k) < 0.6).tolist())
            ]
            marketers = self.marketers or self.workers
            yield Batch(
                "leads",
                [
                    ("id", "int", ids),
                    ("source", "text", [SOURCE] * k),
                    ("remote_id", "text", [f"L{i:09d}" for i in ids.tolist()]),
                    ("is_deleted", "bool", np.zeros(k, dtype=np.int64)),
                    ("owner_id", "text", _people_ids(rng.integers(0, len(self.reps), k), self.reps)),
                    ("marketing_owner_id", "text", _people_ids(rng.integers(0, len(marketers), k), marketers)),
                    ("channel", "text", channels[channel].tolist()),
                    ("campaign", "text", campaign),
                    ("created_at", "stamp", created),
                    ("assigned_at", "stamp", assigned),
                    ("first_contact_at", "stamp", contacted),
                    ("mql_at", "stamp", mql),
                    ("sql_at", "stamp", sql),
                    ("converted_deal_id", "nint", converted),
                ],
            )

    # service, marketing and survey facts per person and month ----------------------------------

    def _per_person_month(self, people: list[str], per_month: int) -> tuple[np.ndarray, np.ndarray]:
        """(person index, second of the year) for ``per_month`` facts of every person every month."""
        n = len(people) * 12 * per_month
        person = np.repeat(np.arange(len(people)), 12 * per_month)
        month = np.tile(np.repeat(np.arange(12), per_month), len(people))
        edges = [(date(YEAR, m, 1) - date(YEAR, 1, 1)).days * 86_400 for m in range(1, 13)] + [YEAR_SECONDS]
        month_start = np.array(edges[:-1])
        month_len = np.diff(np.array(edges))
        second = month_start[month] + (self.rng.random(n) * month_len[month]).astype(np.int64)
        return person, second

    def service(self) -> Iterator[Batch]:
        rng = self.rng
        cs = self.success
        n_customers = self.counts["customers"]
        # Renewals due: 20 contracts per customer-success person and month, 85 % renewed.
        person, second = self._per_person_month(cs, 20)
        n = len(person)
        ids = np.arange(1, n + 1)
        outcome = rng.choice(3, n, p=(0.85, 0.10, 0.05))
        yield Batch(
            "renewals",
            [
                ("id", "int", ids),
                ("source", "text", [SOURCE] * n),
                ("remote_id", "text", [f"N{i:09d}" for i in ids.tolist()]),
                ("is_deleted", "bool", np.zeros(n, dtype=np.int64)),
                ("customer_id", "int", rng.integers(1, n_customers + 1, n)),
                ("owner_id", "text", _people_ids(person, cs)),
                ("due_date", "day", second // 86_400),
                ("outcome", "text", np.array(["renewed", "churned", "pending"])[outcome].tolist()),
                (
                    "decided_at",
                    "stamp",
                    np.where(outcome == 2, MISSING, np.maximum(second - rng.integers(0, 20 * 86_400, n), 0)),
                ),
            ],
        )
        churned = outcome == 1
        c = int(churned.sum())
        c_ids = np.arange(1, c + 1)
        yield Batch(
            "churn_events",
            [
                ("id", "int", c_ids),
                ("source", "text", [SOURCE] * c),
                ("remote_id", "text", [f"X{i:09d}" for i in c_ids.tolist()]),
                ("is_deleted", "bool", np.zeros(c, dtype=np.int64)),
                ("customer_id", "int", rng.integers(1, n_customers + 1, c)),
                ("owner_id", "text", _people_ids(person[churned], cs)),
                ("churned_at", "stamp", second[churned]),
                ("lost_amount", "int", rng.integers(2_000, 30_000, c) * MONEY),
                ("currency", "text", ["CNY"] * c),
            ],
        )
        # Support tickets: 15 resolved per person and month, 2 to 100 hours to resolve.
        person, second = self._per_person_month(cs, 15)
        n = len(person)
        ids = np.arange(1, n + 1)
        opened = second - rng.integers(2 * 3_600, 100 * 3_600, n)
        yield Batch(
            "support_tickets",
            [
                ("id", "int", ids),
                ("source", "text", [SOURCE] * n),
                ("remote_id", "text", [f"T{i:09d}" for i in ids.tolist()]),
                ("is_deleted", "bool", np.zeros(n, dtype=np.int64)),
                ("customer_id", "int", rng.integers(1, n_customers + 1, n)),
                ("owner_id", "text", _people_ids(person, cs)),
                ("kind", "text", np.array(["issue", "complaint", "question"])[rng.integers(0, 3, n)].tolist()),
                ("opened_at", "stamp", opened),
                ("first_response_at", "stamp", opened + 1_800),
                ("resolved_at", "stamp", second),
            ],
        )
        # Trainings: 15 customers trained per person and month (coverage of the customers served).
        person, second = self._per_person_month(cs, 15)
        n = len(person)
        ids = np.arange(1, n + 1)
        yield Batch(
            "trainings",
            [
                ("id", "int", ids),
                ("source", "text", [SOURCE] * n),
                ("remote_id", "text", [f"G{i:09d}" for i in ids.tolist()]),
                ("is_deleted", "bool", np.zeros(n, dtype=np.int64)),
                ("customer_id", "int", rng.integers(1, n_customers + 1, n)),
                ("owner_id", "text", _people_ids(person, cs)),
                ("occurred_at", "stamp", second),
                ("attendees", "int", rng.integers(1, 20, n)),
            ],
        )
        # Surveys: 3 complaint-handling answers about each representative a month, 1 to 5.
        person, second = self._per_person_month(self.reps, 3)
        n = len(person)
        ids = np.arange(1, n + 1)
        yield Batch(
            "survey_responses",
            [
                ("id", "int", ids),
                ("source", "text", [SOURCE] * n),
                ("remote_id", "text", [f"S{i:09d}" for i in ids.tolist()]),
                ("is_deleted", "bool", np.zeros(n, dtype=np.int64)),
                ("kind", "text", ["complaint_satisfaction"] * n),
                ("customer_id", "int", rng.integers(1, n_customers + 1, n)),
                ("person_id", "text", _people_ids(person, self.reps)),
                ("score", "int", rng.choice(np.array([2, 3, 4, 4, 5, 5]), n) * RATIO),
                ("responded_at", "stamp", second),
            ],
        )

    def marketing(self) -> Iterator[Batch]:
        rng = self.rng
        mk = self.marketers
        # Content: 10 posts per specialist and month, about 2,000 impressions and 1 % engagement each.
        person, second = self._per_person_month(mk, 10)
        n = len(person)
        ids = np.arange(1, n + 1)
        followers = rng.integers(3_000, 8_000, n)
        yield Batch(
            "content_stats",
            [
                ("id", "int", ids),
                ("source", "text", [SOURCE] * n),
                ("remote_id", "text", [f"K{i:09d}" for i in ids.tolist()]),
                ("is_deleted", "bool", np.zeros(n, dtype=np.int64)),
                ("content_id", "text", [f"post-{i}" for i in ids.tolist()]),
                ("kind", "text", ["social_post"] * n),
                ("channel", "text", ["social"] * n),
                ("owner_id", "text", _people_ids(person, mk)),
                ("day", "day", second // 86_400),
                ("impressions", "int", rng.integers(1_000, 3_000, n)),
                ("clicks", "int", rng.integers(10, 60, n)),
                ("downloads", "int", rng.integers(0, 10, n)),
                ("likes", "int", rng.integers(10, 60, n)),
                ("comments", "int", rng.integers(0, 10, n)),
                ("shares", "int", rng.integers(0, 10, n)),
                ("followers", "int", followers),
            ],
        )
        # Web visits: 50 sessions per specialist's channels and month.
        person, second = self._per_person_month(mk, 50)
        n = len(person)
        ids = np.arange(1, n + 1)
        yield Batch(
            "web_visits",
            [
                ("id", "int", ids),
                ("source", "text", [SOURCE] * n),
                ("remote_id", "text", [f"W{i:09d}" for i in ids.tolist()]),
                ("is_deleted", "bool", np.zeros(n, dtype=np.int64)),
                ("visitor_id", "text", [f"v{v}" for v in rng.integers(0, max(n // 3, 1), n).tolist()]),
                ("occurred_at", "stamp", second),
                ("channel", "text", np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n)].tolist()),
                ("owner_id", "text", _people_ids(person, mk)),
                ("form_submitted", "bool", (rng.random(n) < 0.05).astype(np.int64)),
                ("is_suspect", "bool", (rng.random(n) < 0.02).astype(np.int64)),
            ],
        )
        # Report quality, scored by the manager each quarter (out of 5).
        quarters = [f"{YEAR}-Q{q}" for q in range(1, 5)]
        n = len(mk) * 4
        yield Batch(
            "manual_scores",
            [
                ("person_id", "text", [p for p in mk for _ in quarters]),
                ("metric", "text", ["report_quality"] * n),
                ("period", "text", quarters * len(mk)),
                ("score", "int", rng.integers(25, 51, n) * RATIO // 10),
            ],
        )

    # targets -----------------------------------------------------------------------------------

    def targets(self) -> Iterator[Batch]:
        """Monthly targets of every person: bookings, new customers and visits for representatives,
        MQLs for marketing, renewal rate for customer success (baseline 0.8 ×, challenge 1.5 ×)."""
        rng = self.rng
        deals_2026 = self.counts["deals"] - min(int(self.counts["customers"] * 0.7), self.counts["deals"] // 10)
        typical = deals_2026 * WON / max(len(self.reps), 1) / 12 * MEAN_DEAL_YUAN
        subject, metric, period, baseline, target, challenge, currency = [], [], [], [], [], [], []

        def add(
            person: str,
            name: str,
            month: str,
            value: int,
            low: int | None = None,
            high: int | None = None,
            money: bool = False,
        ) -> None:
            subject.append(person)
            metric.append(name)
            period.append(month)
            target.append(value)
            baseline.append(value * 8 // 10 if low is None else low)
            challenge.append(value * 3 // 2 if high is None else high)
            currency.append("CNY" if money else None)

        months = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
        factor = rng.uniform(0.75, 1.3, (len(self.reps), 12))
        new_customers = rng.integers(1, 4, (len(self.reps), 12))
        visits = rng.integers(10, 15, (len(self.reps), 12))
        for i, person in enumerate(self.reps):
            for m, month in enumerate(months):
                add(person, "bookings", month, int(round(typical * factor[i, m], -3)) * RATIO, money=True)
                add(person, "new_customers", month, int(new_customers[i, m]) * RATIO)
                add(person, "visits", month, int(visits[i, m]) * RATIO)
        mql_typical = self.counts["leads"] * 0.85 * 0.35 / max(len(self.marketers), 1) / 12
        for person in self.marketers:
            for month in months:
                add(person, "mql", month, max(10, round(mql_typical)) * RATIO)
        for person in self.success:
            for month in months:
                add(person, "renewal_rate", month, 850_000, 800_000, 920_000)
        n = len(subject)
        yield Batch(
            "targets",
            [
                ("subject_type", "text", ["person"] * n),
                ("subject_id", "text", subject),
                ("metric", "text", metric),
                ("period", "text", period),
                ("baseline", "int", np.array(baseline, dtype=np.int64)),
                ("target", "int", np.array(target, dtype=np.int64)),
                ("challenge", "int", np.array(challenge, dtype=np.int64)),
                ("currency", "text", currency),
            ],
        )

    def batches(self) -> Iterator[Batch]:
        for step in (
            self.organisation,
            self.customers,
            self.deals,
            self.activities,
            self.leads,
            self.service,
            self.marketing,
            self.targets,
        ):
            yield from step()


# --- writers ------------------------------------------------------------------------------------


def _sqlite_values(kind: str, values: Any) -> list[Any]:
    if kind in ("int", "bool"):
        return values.tolist()
    if kind == "nint":
        return [None if v < 0 else v for v in values.tolist()]
    if kind == "stamp":
        return stamps(values)
    if kind == "day":
        return day_text(values)
    return list(values)


def _copy_values(kind: str, values: Any) -> list[str]:
    if kind == "int":
        return [str(v) for v in values.tolist()]
    if kind == "bool":
        return ["t" if v else "f" for v in values.tolist()]
    if kind == "nint":
        return ["\\N" if v < 0 else str(v) for v in values.tolist()]
    if kind == "stamp":
        return ["\\N" if s is None else s for s in stamps(values)]
    if kind == "day":
        return day_text(values)
    return ["\\N" if v is None else v for v in values]


class _Writer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}  # float ok: timings

    def write(self, batch: Batch) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def count(self, batch: Batch, seconds: float) -> None:
        self.rows[batch.table] = self.rows.get(batch.table, 0) + len(batch)
        self.seconds[batch.table] = self.seconds.get(batch.table, 0.0) + seconds


class _SQLiteWriter(_Writer):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        path = make_url(store.url).database
        store.dispose()
        self.db = sqlite3.connect(path or "")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-400000")
        self.indexes = self.db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND name LIKE 'ix_%'"
        ).fetchall()
        for name, _ in self.indexes:
            self.db.execute(f'DROP INDEX "{name}"')

    def write(self, batch: Batch) -> None:
        if not len(batch):
            return
        started = time.perf_counter()
        names = ", ".join(name for name, _, _ in batch.columns)
        marks = ", ".join("?" * len(batch.columns))
        values = [_sqlite_values(kind, v) for _, kind, v in batch.columns]
        self.db.executemany(f"INSERT INTO {batch.table} ({names}) VALUES ({marks})", zip(*values))
        self.count(batch, time.perf_counter() - started)

    def finish(self) -> None:
        for _, sql in self.indexes:
            self.db.execute(sql)
        self.db.commit()
        self.db.execute("ANALYZE")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.close()


class _PostgresWriter(_Writer):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.raw = store.engine.raw_connection()
        self.conn = self.raw.driver_connection
        cur = self.conn.cursor()
        try:
            cur.execute(
                "SET session_replication_role = replica"
            )  # rows are consistent by construction: skip FK triggers
        except Exception:  # noqa: BLE001 - not a superuser: foreign keys are checked row by row
            self.conn.rollback()
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'ix\\_%'"
        )
        self.indexes = cur.fetchall()
        for name, _ in self.indexes:
            cur.execute(f'DROP INDEX "{name}"')

    def write(self, batch: Batch) -> None:
        if not len(batch):
            return
        started = time.perf_counter()
        names = ", ".join(name for name, _, _ in batch.columns)
        values = [_copy_values(kind, v) for _, kind, v in batch.columns]
        body = "\n".join(map("\t".join, zip(*values))) + "\n"
        with self.conn.cursor() as cur, cur.copy(f"COPY {batch.table} ({names}) FROM STDIN") as copy:
            copy.write(body.encode())
        self.count(batch, time.perf_counter() - started)

    def finish(self) -> None:
        cur = self.conn.cursor()
        for _, sql in self.indexes:
            cur.execute(sql)
        for table in self.rows:
            if "id" in schema.metadata.tables[table].c and self.rows[table] and table not in ("teams", "people"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        cur.execute("SET session_replication_role = origin")
        self.conn.commit()
        self.conn.autocommit = True
        cur = self.conn.cursor()
        for table in self.rows:
            cur.execute(f"ANALYZE {table}")
        self.raw.close()


def _empty(store: Store, replace: bool) -> None:
    """A PostgreSQL target must be empty (``--replace`` empties it)."""
    with store.begin() as conn:
        held = [
            t.name
            for t in schema.metadata.sorted_tables
            if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {t.name})")).scalar()
        ]
        if held and not replace:
            raise SystemExit(
                f"the database already holds data ({', '.join(held[:4])} …); give --replace to empty it first."
            )
        if held:
            names = ", ".join(t.name for t in schema.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def generate(
    url: str, *, size: float = 1.0, seed: int = 1, replace: bool = False, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Create the company at ``url`` and return the rows written per table and the load timings."""
    if size <= 0:
        raise ValueError("the size must be above 0")
    started = time.perf_counter()
    dialect = make_url(url).get_backend_name()
    if dialect == "sqlite":
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = open_store(url)
    if dialect != "sqlite":
        _empty(store, replace)
    writer: _Writer = _SQLiteWriter(store) if dialect == "sqlite" else _PostgresWriter(store)
    company = ScaleCompany(size, seed)
    drawn = 0.0
    mark = time.perf_counter()
    for batch in company.batches():
        drawn += time.perf_counter() - mark  # float ok: timing
        writer.write(batch)
        if progress:
            progress(f"{batch.table}: {writer.rows[batch.table]:,} rows")
        mark = time.perf_counter()
    index_start = time.perf_counter()
    writer.finish()
    finished = time.perf_counter()
    store.dispose()
    return {
        "rows": dict(writer.rows),
        "table_seconds": dict(writer.seconds),
        "seconds": finished - started,
        "draw_seconds": drawn,
        "index_seconds": finished - index_start,
        "people": company.n_people,
        "asked": {**company.counts, "people": company.n_people},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "url", help="sqlite:///path/file.sqlite (recreated) or postgresql://user@host/db (must be empty)"
    )
    parser.add_argument(
        "--size",
        type=float,
        default=1.0,
        help="fraction of the full company (1 = 10,000 people, 5M deals, 20M activities)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replace", action="store_true", help="empty a PostgreSQL database that already holds data")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.size <= 0:
        parser.error("--size must be above 0")
    last = [time.perf_counter()]

    def progress(message: str) -> None:
        if not args.quiet and time.perf_counter() - last[0] > 5:
            last[0] = time.perf_counter()
            print(f"  {message}", file=sys.stderr)

    result = generate(args.url, size=args.size, seed=args.seed, replace=args.replace, progress=progress)
    total = sum(result["rows"].values())
    print(
        f"size {args.size:g}: {result['people']:,} people; "
        + ", ".join(f"{n:,} {t}" for t, n in result["rows"].items())
    )
    print(
        f"loaded {total:,} rows in {result['seconds']:.1f} s ({total / result['seconds']:,.0f} rows/s; "
        f"drawing {result['draw_seconds']:.1f} s, indexes and ANALYZE {result['index_seconds']:.1f} s)"
    )
    for table in ("deals", "activities", "leads"):
        seconds = result["table_seconds"].get(table)
        if seconds:
            print(f"  {table}: {result['rows'][table] / seconds:,.0f} rows/s written")


if __name__ == "__main__":
    main()
