"""Evaluations per second of compiled plan formulas, against hand-written Python on Decimals.

    .venv/bin/python benchmarks/formula_bench.py [--seconds 1.0]

Each case is timed as the best of several rounds of repeated ``Formula.evaluate`` calls with
``Decimal`` inputs; the baseline is the same calculation written by hand in Python, timed in
the same run on the same inputs. The target for the commission formula is 200,000 evaluations
per second.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from kpi_engine import compile_condition, compile_formula

RATE_UP_TO_QUOTA, RATE_ABOVE_QUOTA, ZERO = Decimal("0.05"), Decimal("0.08"), Decimal(0)
LOW, HIGH, BONUS = Decimal("0.8"), Decimal(1), Decimal("0.10")


def commission_by_hand(env: Mapping[str, Any]) -> Decimal:
    bookings, quota = env["bookings"], env["quota"]
    return min(bookings, quota) * RATE_UP_TO_QUOTA + max(bookings - quota, ZERO) * RATE_ABOVE_QUOTA


def ladder_by_hand(env: Mapping[str, Any]) -> Decimal:
    attainment, bookings = env["attainment"], env["bookings"]
    if attainment >= HIGH:
        return bookings * BONUS
    return bookings * RATE_ABOVE_QUOTA if attainment >= LOW else bookings * RATE_UP_TO_QUOTA


def interval_by_hand(env: Mapping[str, Any]) -> bool:
    return bool(LOW <= env["value"] < HIGH)


CASES: list[tuple[str, Any, Callable[[Mapping[str, Any]], Any], dict[str, Decimal]]] = [
    (
        "min(bookings, quota) * 5% + max(bookings - quota, 0) * 8%",
        compile_formula("min(bookings, quota) * 5% + max(bookings - quota, 0) * 8%"),
        commission_by_hand,
        {"bookings": Decimal(120000), "quota": Decimal(100000)},
    ),
    (
        "if attainment >= 100% then bookings * 10% else if attainment >= 80% then bookings * 8% else bookings * 5%",
        compile_formula(
            "if attainment >= 100% then bookings * 10% else if attainment >= 80% then bookings * 8% else bookings * 5%"
        ),
        ladder_by_hand,
        {"attainment": Decimal("0.92"), "bookings": Decimal(92000)},
    ),
    (
        "[80%..100%)  (condition on value)",
        compile_condition("[80%..100%)"),
        interval_by_hand,
        {"value": Decimal("0.92")},
    ),
]


def rate(fn: Callable[[Mapping[str, Any]], Any], env: Mapping[str, Any], seconds: float) -> float:
    """Best evaluations per second over rounds of about a tenth of ``seconds`` each."""
    batch = 10_000
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(batch):
            fn(env)
        best = max(best, batch / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement (default 1.0)")
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()} on {platform.machine()}; "
        f"best of repeated batches, {args.seconds:g} s per measurement"
    )
    print(f"{'formula':<60} {'compiled/s':>12} {'by hand/s':>12} {'ratio':>6}")
    for label, formula, by_hand, env in CASES:
        assert formula.evaluate(env) == by_hand(env), label
        compiled = rate(formula.evaluate, env, args.seconds)
        baseline = rate(by_hand, env, args.seconds)
        shown = label if len(label) <= 60 else label[:57] + "..."
        print(f"{shown:<60} {compiled:>12,.0f} {baseline:>12,.0f} {compiled / baseline:>6.2f}")
    print("target: 200,000 evaluations per second for the first formula")


if __name__ == "__main__":
    main()
