"""Pay cycle benchmark: what closing a month and a what-if cost, against evaluating, in the same run.

On a company made by ``benchmarks/scale_data.py`` (``--generate SIZE``), for the commission plan:

- ``year``: the 12 months of 2026 evaluated for real, in order, runs saved (as ``kpi evaluate`` does);
- ``whatif``: a draft of the same plan (same rules, another version) over the same 12 months, in memory,
  against the saved runs (``kpi whatif``); the target is at most 1.2 times ``year``;
- ``evaluate-month``: month ``--month`` evaluated again once every month before it is closed (the
  prior-period comparison looks at each closed month and finds nothing touched);
- ``close-month``: that month approved and closed: its lines posted to the ledger. The target:
  closing (posting and the comparison) at most 20 % on top of evaluating it;
- ``late-month``: after a deal of a closed month is corrected (as a sync would write it), the month after
  ``--month`` evaluated: the comparison evaluates the touched month again and adjusts it.

Every step runs in a fresh process; its time excludes only opening the store and loading plugins,
and its memory is that process's peak resident set. The months before ``--month`` are approved and
closed between ``year`` and ``evaluate-month`` (not timed).

    python benchmarks/pay_cycle_bench.py sqlite:////work/bench-data/kpi-100.sqlite
    python benchmarks/pay_cycle_bench.py postgresql://postgres@127.0.0.1:5432/kpi_bench_1 --generate 0.01
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLAN = HERE.parent / "rules" / "sales-commission.yaml"
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
STEPS = ("year", "whatif", "close-before", "evaluate-month", "close-month", "late-month")
OPS, FIN = "bench.ops", "bench.fin"

__all__ = ["STEPS", "main", "report", "run_step"]


def _draft() -> Any:
    from kpi_engine import parse_plan

    text = PLAN.read_text(encoding="utf-8").replace('version: "2026.1"', 'version: "2027-draft"', 1)
    return parse_plan(text, "sales-commission-draft.yaml")


def run_step(step: str, url: str, month: str) -> dict[str, Any]:
    """One step in this process: its figures (seconds, peak RSS and what it did)."""
    from kpi_engine import (
        approve_period,
        close_period,
        evaluate,
        get_registry,
        load_plan,
        open_store,
        parse_period,
        whatif,
    )

    store = open_store(url)
    get_registry()
    plan = load_plan(PLAN)
    before = [m for m in MONTHS if m < month]
    result: dict[str, Any] = {}
    started = time.perf_counter()
    if step == "year":
        lines = sum(len(evaluate(store, plan, m, by=OPS).outcomes) for m in MONTHS)
        result = {"months": len(MONTHS), "lines": lines}
    elif step == "whatif":
        found = whatif(store, _draft(), [parse_period(m) for m in MONTHS], against=plan)
        result = {"months": len(MONTHS), "people": len(found.lines), "draft_total": str(found.draft_total)}
        result["current_total"] = str(found.current_total)
        result["from_saved"] = sum(1 for how in found.current_from.values() if how.startswith("saved"))
    elif step == "close-before":
        for m in before:
            approve_period(store, plan.id, m, FIN)
            close_period(store, plan.id, m, FIN)
        result = {"closed": len(before)}
    elif step == "evaluate-month":
        run = evaluate(store, plan, month, by=OPS)
        result = {"lines": len(run.outcomes), "adjustments": _adjustments(run)}
    elif step == "close-month":
        approve_period(store, plan.id, month, FIN)
        posted = close_period(store, plan.id, month, FIN)[plan.id]
        result = {"entries": posted.entries, "payable": str(sum(posted.by_kind.values(), Decimal(0)))}
    elif step == "late-month":
        corrected = _correct_a_deal(store, before[-2] if len(before) > 1 else before[-1])
        started = time.perf_counter()  # the correction itself is a load, not the comparison
        following = MONTHS[MONTHS.index(month) + 1]
        run = evaluate(store, plan, following, by=OPS)
        result = {"corrected": corrected, "month": following, "adjustments": _adjustments(run)}
    else:
        raise SystemExit(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    result["seconds"] = time.perf_counter() - started
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.dispose()
    return result


def _adjustments(run: Any) -> int:
    return sum(1 for o in run.outcomes if o.ledger_kind == "adjustment")


def _correct_a_deal(store: Any, month: str) -> str:
    """The largest won deal of ``month`` halved in the CRM, written as a sync writes it (``upsert_records``)."""
    from sqlalchemy import select

    from kpi_engine import DealRecord, parse_period, schema, upsert_records

    d = schema.deals
    start, end = parse_period(month).bounds_utc("Asia/Shanghai")
    with store.begin() as conn:
        row = conn.execute(
            select(d)
            .where(d.c.status == "won", d.c.closed_at >= start, d.c.closed_at < end)
            .order_by(d.c.amount.desc())
            .limit(1)
        ).one()
        record = DealRecord(
            remote_id=row.remote_id,
            owner_id=row.owner_id,
            status="won",
            amount=(row.amount / 2).quantize(Decimal("0.01")),
            currency=row.currency,
            closed_at=row.closed_at,
        )
        upsert_records(conn, "deals", row.source, [record])
    return f"{row.remote_id} of {month}"


def _in_child(step: str, url: str, month: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), url, "--run-step", step, "--month", month]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(url: str, size: str, results: dict[str, dict[str, Any]], month: str) -> list[str]:
    """The figures and the two ratios the targets are about."""
    year, whatif = results["year"], results["whatif"]
    evaluate, close, late = results["evaluate-month"], results["close-month"], results["late-month"]
    backend = url.split(":", 1)[0]
    lines = [
        f"Pay cycle benchmark, size {size or '?'}, {backend}, commission plan, month {month}",
        f"machine: {platform.machine()}, Python {platform.python_version()}",
        "",
        f"{'step':<44}{'seconds':>10}{'peak MB':>10}",
        *(
            f"{label:<44}{figures['seconds']:>10.2f}{figures['peak_mb']:>10.0f}"
            for label, figures in (
                ("evaluate 12 months for real", year),
                ("what-if of a draft over the 12 months", whatif),
                (f"evaluate {month} (months before closed)", evaluate),
                (f"approve and close {month}", close),
                (f"evaluate {late['month']} after a late correction", late),
            )
        ),
        "",
        f"what-if / evaluating for real: {whatif['seconds'] / year['seconds']:.2f} (target at most 1.20); "
        f"{whatif['from_saved']} of 12 months set against saved runs",
        f"closing / evaluating the month: {close['seconds'] / evaluate['seconds']:.2f} (target at most 0.20); "
        f"{close['entries']} ledger entries posted, {evaluate['adjustments']} adjustments (no late fact)",
        f"late correction ({late['corrected']}): {late['adjustments']} adjustment line(s) in {late['month']}; "
        f"{late['seconds'] / evaluate['seconds']:.2f} times a month's evaluation (the touched month evaluated again)",
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="database made by benchmarks/scale_data.py (or to make with --generate)")
    parser.add_argument("--generate", type=float, metavar="SIZE", help="(re)create the company at this size first")
    parser.add_argument("--month", default="2026-07", help="the month closed (default 2026-07)")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument("--run-step", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_step:
        print(json.dumps(run_step(args.run_step, args.url, args.month), default=str))
        return
    if args.generate:
        subprocess.run(
            [sys.executable, str(HERE / "scale_data.py"), args.url, "--size", str(args.generate)], check=True
        )
    results = {step: _in_child(step, args.url, args.month) for step in STEPS}
    lines = report(args.url, f"{args.generate:g}" if args.generate else "", results, args.month)
    print("\n".join(lines))
    if args.output:
        args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
