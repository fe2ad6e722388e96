"""Scale benchmark: the engine on a large company, against hand-written SQL and pandas in the same run.

Every measured step runs in a fresh Python process, so its time and its peak resident set
(``ru_maxrss`` of that process) are its own:

- ``load``: the bulk load of ``benchmarks/scale_data.py`` (with ``--generate SIZE``);
- ``metrics-month`` / ``metrics-year``: the 15 metrics the payout plans read, for one month and for
  the year 2026 as one period, through the engine's metric SQL;
- ``pay-month`` / ``pay-year``: the engine evaluating ``sales-commission`` and ``scorecard-sales-rep``
  for one month and for the 12 months (runs saved, as ``kpi evaluate`` does);
- ``sql-month`` / ``sql-year``: the hand-written SQL of the same payouts (``baseline_sql.py``);
- ``pandas-month`` / ``pandas-year``: the pandas script of the same payouts (``baseline_pandas.py``);
- ``full-month`` / ``full-year``: every plan in ``rules/`` (commission, bonuses, the three scorecards,
  PIP, the conversion alert and the integrity checks), one month and the 12 months in order;
- ``rules``: rule evaluations per second (``benchmarks/rule_bench.py``, no database).

Before any ratio is printed, the payouts of the engine, the SQL and the pandas baselines are
compared person by person, to the cent; a difference fails the benchmark (exit 1).

    python benchmarks/scale_bench.py sqlite:////work/bench-data/kpi-10.sqlite
    python benchmarks/scale_bench.py postgresql://postgres@127.0.0.1:5432/kpi_bench_10 --generate 0.1
    python benchmarks/scale_bench.py URL --steps metrics-month pay-month sql-month pandas-month full-month
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "rules"
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
PAYING = (("sales-commission", "commission"), ("scorecard-sales-rep", "scorecard"))
PLAN_METRICS = (
    "bookings",
    "new_customers",
    "lead_conversion_rate",
    "visits",
    "visits_per_week",
    "complaint_satisfaction",
    "renewal_rate",
    "upsell_amount",
    "follow_ups",
    "issue_resolution_hours",
    "training_coverage",
    "leads_created",
    "campaign_conversion_rate",
    "content_exposure",
    "channel_engagement_rate",
)
ALL_STEPS = (
    "metrics-month",
    "metrics-year",
    "pay-month",
    "sql-month",
    "pandas-month",
    "pay-year",
    "sql-year",
    "pandas-year",
    "full-month",
    "full-year",
    "rules",
)
FACT_TABLES = (
    "people",
    "customers",
    "deals",
    "deal_splits",
    "activities",
    "leads",
    "payments",
    "refunds",
    "renewals",
    "support_tickets",
    "trainings",
    "survey_responses",
    "content_stats",
    "web_visits",
    "targets",
)

__all__ = [
    "ALL_STEPS",
    "amount_text",
    "baseline_map",
    "compare",
    "evaluate_every_plan",
    "main",
    "payout_map",
    "plan_metrics",
    "report",
    "run_step",
]


# --- steps (each in its own process) ------------------------------------------------------------


def amount_text(value: Decimal | None) -> str | None:
    """An amount as comparable text: 19992.42 whether it was saved as 19992.4200 or computed as 19992.42."""
    return None if value is None else format(Decimal(value).normalize(), "f")


def payout_map(
    store: Any, months: list[str], paying: tuple[tuple[str, str], ...] = PAYING
) -> dict[str, dict[str, str | None]]:
    """The engine's payouts ``{"plan|month": {person: amount}}``: the plans evaluated together, month by month,
    saved."""
    from kpi_engine import evaluate_plans, load_plan

    found: dict[str, dict[str, str | None]] = {}
    plans = [load_plan(RULES / f"{plan}.yaml") for plan, _ in paying]
    for month in months:
        for (plan, rule), run in zip(paying, evaluate_plans(store, plans, month), strict=True):
            found[f"{plan}|{month}"] = paid_by_person(run.outcomes, rule)
    return found


def paid_by_person(outcomes: Any, rule: str) -> dict[str, str | None]:
    """What a rule pays each person: the sum of their payout lines (a clawback is a line of its own; a held line is
    not paid)."""
    paid: dict[str, Decimal | None] = {}
    for o in outcomes:
        if o.kind == "payout" and o.rule_id == rule:
            before = paid.get(o.person_id)
            paid[o.person_id] = o.amount if before is None else before + (o.amount or Decimal(0))
    return {person: amount_text(amount) for person, amount in paid.items()}


def baseline_map(found: dict[tuple[str, str], dict[str, Decimal | None]]) -> dict[str, dict[str, str | None]]:
    return {f"{plan}|{month}": {p: amount_text(v) for p, v in paid.items()} for (plan, month), paid in found.items()}


def evaluate_every_plan(store: Any, months: list[str]) -> dict[str, Any]:
    """Every plan in ``rules/``, evaluated together for each month in order (as ``kpi evaluate --plan rules/``):
    seconds per plan and outcome lines."""
    from kpi_engine import evaluate_plans, load_plan

    plans = [load_plan(p) for p in sorted(RULES.glob("*.yaml"))]
    per_plan: dict[str, float] = {p.id: 0.0 for p in plans}
    outcomes = 0
    saved: list[float] = []  # when each plan's run of the month was saved

    def progress(label: str, _done: int, _total: int) -> None:
        if label == "saved":
            saved.append(time.perf_counter())

    for month in months:
        saved.clear()
        started = time.perf_counter()
        runs = evaluate_plans(store, plans, month, progress=progress)
        for plan, begin, end in zip(plans, [started, *saved[:-1]], saved, strict=True):
            per_plan[plan.id] += end - begin  # float ok: timing
        outcomes += sum(len(run.outcomes) for run in runs)
    return {"plans": [p.id for p in plans], "per_plan": per_plan, "outcomes": outcomes}


def plan_metrics(store: Any, label: str) -> dict[str, Any]:
    """Compute the metrics the payout plans read for one period, as the engine does (values per person)."""
    from kpi_engine import get_registry, metric_values, parse_period
    from kpi_engine.metrics.compute import metric_context

    registry = get_registry()
    ctx = metric_context(parse_period(label), "Asia/Shanghai", "CNY")
    values = 0
    with store.connect() as conn:
        for name in PLAN_METRICS:
            values += len(metric_values(conn, registry.metric(name), ctx))
    return {"metrics": len(PLAN_METRICS), "values": values}


def run_step(step: str, url: str, month: str, rule_people: int = 10_000) -> dict[str, Any]:
    """Run one step in this process and return its figures (seconds, peak RSS and what it computed)."""
    sys.path.insert(0, str(HERE))
    from kpi_engine import get_registry, open_store

    if step == "rules":
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(HERE / "rule_bench.py"), "--people", str(rule_people), "--rounds", "3"],
            capture_output=True,
            text=True,
            check=True,
        )
        rusage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "seconds": time.perf_counter() - started,
            "peak_mb": rusage.ru_maxrss / 1024,
            "output": out.stdout.strip(),
        }
    store = open_store(url)
    # What every process pays once before its work (opening the store, loading the plugins, importing
    # pandas) is not timed: the figures are the work on the data.
    if step.startswith("pandas-"):
        import baseline_pandas
    elif not step.startswith("sql-"):
        get_registry()
    months = [month] if step.endswith("-month") else MONTHS
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if step.startswith("metrics-"):
        result = plan_metrics(store, month if step == "metrics-month" else "2026")
    elif step.startswith("pay-"):
        result = {"payouts": payout_map(store, months)}
    elif step.startswith("sql-"):
        import baseline_sql

        result = {"payouts": baseline_map(baseline_sql.payouts(store, months))}
    elif step.startswith("pandas-"):
        import baseline_pandas

        result = {"payouts": baseline_map(baseline_pandas.payouts(store, months))}
    elif step.startswith("full-"):
        result = evaluate_every_plan(store, months)
    else:
        raise SystemExit(f"unknown step {step!r}; steps: {', '.join(ALL_STEPS)}")
    result["seconds"] = time.perf_counter() - started
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.dispose()
    return result


def _in_child(step: str, url: str, month: str, rule_people: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        url,
        "--run-step",
        step,
        "--month",
        month,
        "--rule-people",
        str(rule_people),
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- comparison and report ----------------------------------------------------------------------


def compare(results: dict[str, dict[str, Any]]) -> list[str]:
    """Differences between the engine's payouts and each baseline's (empty: identical to the cent)."""
    problems: list[str] = []
    for span in ("month", "year"):
        engine = results.get(f"pay-{span}", {}).get("payouts")
        if engine is None:
            continue
        for other in (f"sql-{span}", f"pandas-{span}"):
            theirs = results.get(other, {}).get("payouts")
            if theirs is None:
                continue
            for key in sorted(set(engine) | set(theirs)):
                mine, them = engine.get(key, {}), theirs.get(key, {})
                mine = {p: (None if v is None else Decimal(v)) for p, v in mine.items()}
                them = {p: (None if v is None else Decimal(v)) for p, v in them.items()}
                wrong = sorted(p for p in set(mine) | set(them) if mine.get(p, "absent") != them.get(p, "absent"))
                if wrong:
                    p = wrong[0]
                    problems.append(
                        f"{key}: engine and {other} differ for {len(wrong)} people, "
                        f"e.g. {p}: {mine.get(p, 'absent')} vs {them.get(p, 'absent')}"
                    )
    return problems


def _counts(url: str) -> dict[str, int]:
    from sqlalchemy import text

    from kpi_engine import open_store

    store = open_store(url)
    with store.connect() as conn:
        counts = {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in FACT_TABLES}
    store.dispose()
    return counts


def _machine(url: str) -> str:
    import sqlite3

    from sqlalchemy import text

    from kpi_engine import open_store

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    line = (
        f"{os.cpu_count()} cores, {memory:.0f} GB RAM, {platform.machine()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    if url.startswith("postgresql"):
        store = open_store(url)
        with store.connect() as conn:
            line += ", " + str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0].join(
                ["PostgreSQL ", ""]
            )
        store.dispose()
    return line


def _payout_count(result: dict[str, Any]) -> int:
    return sum(len(v) for v in result.get("payouts", {}).values())


def report(url: str, size: str, results: dict[str, dict[str, Any]], counts: dict[str, int], month: str) -> list[str]:
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    lines = [
        f"scale benchmark on {backend}{f', size {size}' if size else ''}: "
        + ", ".join(f"{counts[t]:,} {t}" for t in ("people", "deals", "activities", "leads")),
        f"machine: {_machine(url)}",
        f"one month = {month}; year = the 12 months of 2026; each step in a fresh process (peak RSS of that process)"
        + (
            f"; one-month steps: the fastest of {repeat} runs"
            if (repeat := max((r.get("runs", 1) for r in results.values()), default=1)) > 1
            else ""
        ),
        "",
        f"{'step':<52} {'seconds':>9} {'peak RSS':>10}  figure",
    ]
    names = {
        "load": "bulk load (scale_data.py)",
        "metrics-month": f"{len(PLAN_METRICS)} plan metrics, one month",
        "metrics-year": f"{len(PLAN_METRICS)} plan metrics, the year as one period",
        "pay-month": "engine: commission + sales-rep scorecard, one month",
        "sql-month": "hand-written SQL: same payouts, one month",
        "pandas-month": "pandas: same payouts, one month",
        "pay-year": "engine: commission + sales-rep scorecard, 12 months",
        "sql-year": "hand-written SQL: same payouts, 12 months",
        "pandas-year": "pandas: same payouts, 12 months",
        "full-month": "engine: every plan in rules/, one month",
        "full-year": "engine: every plan in rules/, 12 months",
        "rules": "rule evaluations (rule_bench.py, no database)",
    }
    for step, result in results.items():
        figure = ""
        if step == "load":
            figure = f"{result['rows']:,} rows, {result['rows'] / result['seconds']:,.0f} rows/s"
        elif step.startswith("metrics-"):
            figure = f"{result['values']:,} values"
        elif "payouts" in result:
            figure = f"{_payout_count(result):,} payouts"
        elif step.startswith("full-"):
            figure = f"{len(result['plans'])} plans, {result['outcomes']:,} outcome lines"
        elif step == "rules":
            figure = next(
                (
                    ln.split()[1] + " evaluations/s (engine)"
                    for ln in result["output"].splitlines()
                    if ln.startswith("engine")
                ),
                "",
            )
        lines.append(f"{names.get(step, step):<52} {result['seconds']:>9.2f} {result['peak_mb']:>7.0f} MB  {figure}")
    for step in ("full-month", "full-year"):
        if step in results:
            spent = ", ".join(
                f"{plan} {seconds:.1f} s"
                for plan, seconds in sorted(results[step]["per_plan"].items(), key=lambda kv: -kv[1])
            )
            lines.append(f"  {step} by plan: {spent}")
    if "rules" in results:
        lines += ["", "rule_bench.py:"] + ["  " + ln for ln in results["rules"]["output"].splitlines()]
    lines.append("")
    problems = compare(results)
    checked = [
        f"{a} = {b}"
        for a, b in (
            ("pay-month", "sql-month"),
            ("pay-month", "pandas-month"),
            ("pay-year", "sql-year"),
            ("pay-year", "pandas-year"),
        )
        if a in results and b in results
    ]
    if problems:
        lines += ["PAYOUTS DIFFER:"] + ["  " + p for p in problems[:20]]
        return lines
    if checked:
        lines.append(f"payouts identical to the cent: {'; '.join(checked)}")
    ratios = []
    for span in ("month", "year"):
        engine = results.get(f"pay-{span}")
        full = results.get(f"full-{span}")
        for base, name in ((f"sql-{span}", "SQL"), (f"pandas-{span}", "pandas")):
            if base in results and engine:
                ratios.append(f"{span}: engine ÷ {name} = {engine['seconds'] / results[base]['seconds']:.2f}×")
        if full and f"sql-{span}" in results:
            ratios.append(
                f"{span}: every plan ÷ SQL of the two paying plans = "
                f"{full['seconds'] / results[f'sql-{span}']['seconds']:.2f}×"
            )
    if ratios:
        lines.append("ratios (same data, same run): " + "; ".join(ratios))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("url", help="database made by benchmarks/scale_data.py (or to make with --generate)")
    parser.add_argument(
        "--generate", type=float, metavar="SIZE", help="(re)create the company at this size first and measure the load"
    )
    parser.add_argument(
        "--steps", nargs="*", default=list(ALL_STEPS), help=f"steps to run (default: all): {' '.join(ALL_STEPS)}"
    )
    parser.add_argument("--month", default="2026-01", help="the month of the one-month steps (default 2026-01)")
    parser.add_argument("--size", default="", help="the size label to print (default: the --generate size)")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--rule-people", type=int, default=10_000, help="people per round of rule_bench.py (default 10,000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each one-month step this many times and keep the fastest (default 1)"
    )
    parser.add_argument("--run-step", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_step:
        print(json.dumps(run_step(args.run_step, args.url, args.month, args.rule_people)))
        return
    unknown = [s for s in args.steps if s not in ALL_STEPS]
    if unknown:
        parser.error(f"unknown step {unknown[0]!r}; steps: {', '.join(ALL_STEPS)}")
    results: dict[str, dict[str, Any]] = {}
    if args.generate:
        command = [
            sys.executable,
            str(HERE / "scale_data.py"),
            args.url,
            "--size",
            str(args.generate),
            "--replace",
            "--quiet",
        ]
        started = time.perf_counter()
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the load failed:\n{done.stderr.strip()[-3000:]}")
        seconds = time.perf_counter() - started
        rows = int(done.stdout.split("loaded ")[1].split(" rows")[0].replace(",", ""))
        results["load"] = {
            "seconds": seconds,
            "rows": rows,
            "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "output": done.stdout.strip(),
        }
    counts = _counts(args.url)
    for step in [s for s in ALL_STEPS if s in args.steps]:
        print(f"  {step} …", file=sys.stderr, flush=True)
        runs = [
            _in_child(step, args.url, args.month, args.rule_people)
            for _ in range(args.repeat if step.endswith("-month") else 1)
        ]
        results[step] = min(runs, key=lambda r: r["seconds"]) | {
            "peak_mb": max(r["peak_mb"] for r in runs),
            "runs": len(runs),
        }
    lines = report(args.url, args.size or (f"{args.generate:g}" if args.generate else ""), results, counts, args.month)
    if "load" in results:
        lines[1:1] = ["load: " + ln for ln in results["load"]["output"].splitlines()]
    text_out = "\n".join(lines)
    print(text_out)
    if args.output:
        with args.output.open("a") as out:
            out.write(text_out + "\n\n")
    if any(line.startswith("PAYOUTS DIFFER") for line in lines):
        sys.exit(1)


if __name__ == "__main__":
    main()
