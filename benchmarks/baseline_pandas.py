"""A pandas baseline: the commission and sales-rep scorecard payouts as an analyst would script them.

The tables are read with ``pandas.read_sql`` (filtered in SQL to the rows and columns needed: won
deals, the window's leads, visits and complaint surveys, churn events on deals, the targets), then
joined and grouped in pandas; money stays in scaled integers (``int64``) and each person's payout
is computed with the same hand-written arithmetic as the SQL baseline, the commission plan's deal
checks included (``benchmarks/_payouts.py``).

    python benchmarks/baseline_pandas.py sqlite:////work/bench-data/kpi-10.sqlite --months 2026-01
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
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

__all__ = ["payouts"]


def _when(frame: pd.DataFrame, *columns: str) -> None:
    """Time stamps as datetime64 (SQLite hands back their text)."""
    for column in columns:
        if not pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d %H:%M:%S.%f")


def _bound(dialect: str, moment: Any) -> Any:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else moment


def payouts(store: Store, months: list[str]) -> dict[tuple[str, str], dict[str, Decimal | None]]:
    first, last = month_bounds(months[0]), month_bounds(months[-1])
    window = {"start": _bound(store.dialect, first.start), "end": _bound(store.dialect, last.end)}
    with store.connect() as conn:

        def read(sql: str, **params: Any) -> pd.DataFrame:
            return pd.read_sql(text(sql), conn, params=params or None)

        won = read(
            "SELECT id, owner_id, customer_id, amount, currency, closed_at, created_at, product_line, deal_type"
            " FROM deals"
            " WHERE status = 'won' AND NOT is_deleted"
        )
        splits = read("SELECT deal_id, person_id, share FROM deal_splits")
        leads = read(
            "SELECT owner_id, created_at, converted_deal_id FROM leads WHERE NOT is_deleted AND created_at >= :start"
            " AND created_at < :end",
            **window,
        )
        visits = read(
            "SELECT owner_id, occurred_at FROM activities WHERE NOT is_deleted AND kind = 'visit'"
            " AND occurred_at >= :start AND occurred_at < :end",
            **window,
        )
        surveys = read(
            "SELECT person_id, score, responded_at FROM survey_responses WHERE NOT is_deleted"
            " AND kind = 'complaint_satisfaction'"
            " AND responded_at >= :start AND responded_at < :end",
            **window,
        )
        churn = read("SELECT deal_id, churned_at FROM churn_events WHERE NOT is_deleted AND deal_id IS NOT NULL")
        targets = read(
            "SELECT subject_id, metric, period, target FROM targets WHERE subject_type = 'person'"
            " AND metric IN ('bookings', 'new_customers')"
        )
        people = read(
            "SELECT p.id, p.hire_date, p.leave_date, a.role, a.valid_from, a.valid_to FROM people p"
            " JOIN org_assignments a ON a.person_id = p.id"
        )
    _when(won, "closed_at", "created_at")
    _when(leads, "created_at")
    _when(visits, "occurred_at")
    _when(surveys, "responded_at")
    _when(churn, "churned_at")
    for column in ("hire_date", "leave_date", "valid_from", "valid_to"):
        people[column] = pd.to_datetime(people[column])

    # A customer's first win ever (ties by deal id) makes it a new customer of that deal's owner.
    first_wins = won.dropna(subset=["customer_id"]).sort_values(["closed_at", "id"]).drop_duplicates("customer_id")
    cny = won[won["currency"] == "CNY"]
    credited = cny.merge(splits, how="left", left_on="id", right_on="deal_id")
    split = credited["person_id"].notna()
    credited["person"] = credited["person_id"].where(split, credited["owner_id"])
    credited["units"] = np.where(
        split, credited["amount"] * credited["share"].fillna(0).astype("int64"), credited["amount"] * 1_000_000
    )
    # The deal checks: each won deal's credit to its owner, and the deals with a twin of the same owner and customer
    # within 14 days.
    owner_units = credited[credited["person"] == credited["owner_id"]].groupby("id")["units"].sum()
    deals = cny.dropna(subset=["customer_id"]).assign(
        owner_units=lambda f: f["id"].map(owner_units).fillna(0).astype("int64")
    )
    pairs = deals[["id", "owner_id", "customer_id", "closed_at"]].merge(
        deals[["id", "owner_id", "customer_id", "closed_at"]], on=["owner_id", "customer_id"]
    )
    pairs = pairs[
        (pairs["id_x"] != pairs["id_y"])
        & ((pairs["closed_at_x"] - pairs["closed_at_y"]).abs() <= pd.Timedelta(days=14))
    ]
    candidates = deals[deals["id"].isin(pairs["id_x"].unique())]
    churned = churn.merge(deals, left_on="deal_id", right_on="id")
    leads["converted"] = leads["converted_deal_id"].notna().astype("int64")
    targets = targets.pivot_table(index=["period", "subject_id"], columns="metric", values="target", aggfunc="max")

    def checks_of(label: str) -> CommissionChecks:
        b = month_bounds(label)
        start, end = np.datetime64(b.start), np.datetime64(b.end)
        mine = candidates[(candidates["closed_at"] >= start - np.timedelta64(7, "D")) & (candidates["closed_at"] < end)]
        lost = churned[(churned["churned_at"] >= start) & (churned["churned_at"] < end)]
        return CommissionChecks(
            label,
            [
                CandidateDeal(
                    int(r.id),
                    r.owner_id,
                    int(r.customer_id),
                    Decimal(int(r.amount)) / 10_000,
                    r.product_line,
                    r.deal_type,
                    local_day(r.closed_at.to_pydatetime()),
                    None if pd.isna(r.created_at) else local_day(r.created_at.to_pydatetime()),
                    int(r.owner_units),
                )
                for r in mine.itertuples()
            ],
            [
                ChurnedDeal(
                    r.owner_id,
                    int(r.deal_id),
                    "won",
                    local_day(r.closed_at.to_pydatetime()),
                    local_day(r.churned_at.to_pydatetime()),
                    int(r.owner_units),
                )
                for r in lost.itertuples()
            ],
        )

    months_seen: dict[str, tuple[list[str], dict[str, Any], CommissionChecks]] = {}

    def month(label: str) -> tuple[list[str], dict[str, Any], CommissionChecks]:
        if label in months_seen:
            return months_seen[label]
        b = month_bounds(label)
        start, end = np.datetime64(b.start), np.datetime64(b.end)
        first_day, end_day = pd.Timestamp(b.first_day), pd.Timestamp(b.end_day)
        scope = people[
            (people["role"] == "sales_rep")
            & (people["valid_from"] < end_day)
            & (people["valid_to"].isna() | (people["valid_to"] > first_day))
            & (people["hire_date"].isna() | (people["hire_date"] < end_day))
            & (people["leave_date"].isna() | (people["leave_date"] > first_day))
        ]["id"].unique()
        facts = {
            "booked": credited[(credited["closed_at"] >= start) & (credited["closed_at"] < end)]
            .groupby("person")["units"]
            .sum(),
            "new": first_wins[(first_wins["closed_at"] >= start) & (first_wins["closed_at"] < end)]
            .groupby("owner_id")["customer_id"]
            .nunique(),
            "leads": leads[(leads["created_at"] >= start) & (leads["created_at"] < end)]
            .groupby("owner_id")["converted"]
            .agg(["count", "sum"]),
            "visits": visits[(visits["occurred_at"] >= start) & (visits["occurred_at"] < end)]
            .groupby("owner_id")
            .size(),
            "surveys": surveys[(surveys["responded_at"] >= start) & (surveys["responded_at"] < end)]
            .groupby("person_id")["score"]
            .agg(["sum", "count"]),
            "quota": targets.loc[label]
            if label in targets.index.get_level_values(0)
            else pd.DataFrame(columns=["bookings", "new_customers"]),
        }
        months_seen[label] = (list(scope), facts, checks_of(label))
        return months_seen[label]

    def target_of(quota: pd.DataFrame, metric: str, person: str) -> int | None:
        value = quota[metric].get(person) if metric in quota else None
        return None if value is None or pd.isna(value) else int(value)

    def commission(label: str) -> dict[str, tuple[Decimal | None, int]]:
        scope, facts, checks = month(label)
        paid: dict[str, tuple[Decimal | None, int]] = {}
        for person in scope:
            target = target_of(facts["quota"], "bookings", person)
            units = int(facts["booked"].get(person, 0)) - checks.excluded_units.get(person, 0)
            cents = commission_cents(units, target) if target else None
            paid[person] = (None if cents is None or person in checks.held else Decimal(cents) / 100, units)
        return paid

    result: dict[tuple[str, str], dict[str, Decimal | None]] = {}
    for label in months:
        scope, facts, checks = month(label)
        paid = commission(label)
        clawed = checks.clawback_lines(commission)
        by_commission: dict[str, Decimal | None] = {}
        scorecard: dict[str, Decimal | None] = {}
        for person in scope:
            amount = paid[person][0]
            if person in clawed:
                amount = (amount or Decimal(0)) + clawed[person]
            if amount is not None or person not in checks.held:
                by_commission[person] = amount
            lead_row = facts["leads"].loc[person] if person in facts["leads"].index else None
            survey_row = facts["surveys"].loc[person] if person in facts["surveys"].index else None
            rep = RepFacts(
                int(facts["booked"].get(person, 0)),
                target_of(facts["quota"], "bookings", person),
                int(facts["new"].get(person, 0)),
                target_of(facts["quota"], "new_customers", person),
                0 if lead_row is None else int(lead_row["count"]),
                0 if lead_row is None else int(lead_row["sum"]),
                int(facts["visits"].get(person, 0)),
                0 if survey_row is None else int(survey_row["sum"]),
                0 if survey_row is None else int(survey_row["count"]),
            )
            scorecard[person] = scorecard_payout(rep, month_bounds(label).days)
        result[("sales-commission", label)] = by_commission
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
