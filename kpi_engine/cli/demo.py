"""``kpi demo``: a sample company and its year of pay cycle, the latest month awaiting approval."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import click
from sqlalchemy import func, select

from ..errors import ConfigurationError
from ..money import money_text
from ..sample._pay_cycle import FINANCE, HR, OPERATIONS, DemoCycle, awaiting, run_demo_cycle
from ..store import schema as s
from ..store.runs import EvaluationRun
from ..trace import TraceView
from .common import Settings, progress_bar
from .findings import findings_by_check
from .summaries import plan_summary, print_run_summary

__all__ = ["COMMANDS"]


def _latest_full_month(today: date) -> str:
    y, m = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{y}-{m:02d}"


@click.command()
@click.option("--month", metavar="YYYY-MM", help="Last month of sample data (default: the latest full month).")
@click.option(
    "--seed",
    default=2026,
    show_default=True,
    type=click.IntRange(0, 2**32 - 1),
    help="Seed of the sample company (same seed, same data).",
)
@click.pass_context
def demo(ctx: click.Context, month: str | None, seed: int) -> None:
    """Generate a sample company into ./kpi.sqlite and run its pay cycle: every month before the last closed,
    the last evaluated and awaiting approval; print what it pays, corrects and finds."""
    from importlib.resources import files

    from ..periods import parse_period
    from ..sample import generate_sample_company

    settings: Settings = ctx.obj
    month = month or _latest_full_month(date.today())
    parse_period(month)
    store = settings.store()
    click.echo(f"Database: {store.display_url}")
    with store.connect() as conn:
        sources = set(conn.execute(s.people.select().with_only_columns(s.people.c.source).distinct()).scalars())
    if sources - {"demo"}:
        raise ConfigurationError(
            f"the database {store.display_url} already holds data that is not the sample company.",
            hint="run the demo in an empty folder or give another database with --db",
        )
    if not sources:
        with progress_bar("Generating the sample company") as progress, store.begin() as conn:
            summary = generate_sample_company(conn, seed=seed, end_month=month, progress=progress)
        Path("kpi-demo.ground-truth.json").write_text(summary.ground_truth_json(), encoding="utf-8")
        counts = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in summary.counts.items() if n)
        click.echo(f"Sample company {summary.first_month}..{summary.last_month}: {counts}.")
        click.echo(
            "Planted gaming cases (ground truth for the checks): kpi-demo.ground-truth.json "
            f"({len(summary.ground_truth)} cases)."
        )
    else:
        click.echo("The sample company is already loaded; evaluating again (same data, same outcomes).")
    folder = Path(str(files("kpi_engine_rules")))
    with store.connect() as conn:
        first = conn.execute(select(func.min(s.deals.c.created_at))).scalar()
    first_month = f"{first.year}-{first.month:02d}" if first else month
    with progress_bar("Running the pay cycle of the sample year") as progress:
        cycle = run_demo_cycle(store, folder, first_month, month, progress)
    runs = {run.plan_id: run for run in cycle.runs}
    click.echo(
        f"Pay cycle: {cycle.closed[0]}..{cycle.closed[-1]} evaluated by {OPERATIONS}, approved and closed by {FINANCE}."
        if cycle.closed
        else "Pay cycle: no month closed yet."
    )
    main = runs.get("sales-commission")
    if main is not None:
        click.echo()
        print_run_summary(store, main)
    _print_events(cycle, runs, month)
    others = [run for plan_id, run in sorted(runs.items()) if plan_id != "sales-commission"]
    if others:
        click.echo("\nThe other example plans for the month:")
        for run in others:
            click.echo(f"  {plan_summary(run)}")
        click.echo(findings_by_check(store) + " Each with its records: kpi findings")
    waiting = awaiting(cycle.runs)
    if waiting:
        click.echo(f"\nAwaiting approval for {month} (evaluated by {OPERATIONS}): {', '.join(waiting)}.")
        click.echo(f"  kpi --as {FINANCE} period approve --period {month}")
        click.echo(f"  kpi --as {FINANCE} period close --period {month}")
        click.echo(f"  kpi --as {FINANCE} payroll export --period {month} --format xlsx --out payroll-{month}.xlsx")
    click.echo(
        "Any person's reasons: kpi explain --run RUN --person ID. The ledger: kpi ledger. Who did what: kpi audit."
    )


def _print_events(cycle: DemoCycle, runs: dict[str, EvaluationRun], month: str) -> None:
    """The month's late events as the evaluation paid them: prior-period adjustments, a release, an adjustment."""
    adjustments = [(run.plan_id, o) for run in runs.values() for o in run.outcomes if o.ledger_kind == "adjustment"]
    if cycle.cancelled:
        click.echo(
            f"\nDeal {cycle.cancelled} was cancelled in the CRM after its month was paid; the months it touched "
            f"are corrected in {month} ({len(adjustments)} prior-period adjustment line(s)):"
        )
        for plan_id, line in sorted(adjustments, key=lambda x: (x[0], x[1].person_id)):
            note = TraceView(line.trace).prior_period
            assert note is not None and line.amount is not None
            click.echo(
                f"  {plan_id} {line.rule_id} {line.person_id} for {note['period']}: paid {_money(note['paid'])}, "
                f"now {_money(note['now'])}: {_money(line.amount)} {line.currency}"
            )
    releases = [o for run in runs.values() for o in run.outcomes if o.ledger_kind == "release"]
    for line in releases:
        released = TraceView(line.trace).released_hold
        held_in = released.get("period") if released else "?"
        click.echo(
            f"Released after review by {HR}: {line.person_id}'s commission held in {held_in}, "
            f"{_money(line.amount or Decimal(0))} {line.currency}, paid once in {month}."
        )
    if cycle.adjustment is not None:
        click.echo(
            f"Adjustment {cycle.adjustment}: a one-off bonus asked for by {OPERATIONS} and approved by {FINANCE}, "
            f"paid in {month} (kpi adjust list)."
        )


def _money(amount: Decimal | str) -> str:
    return f"{Decimal(money_text(Decimal(amount))):,}"


COMMANDS: list[click.Command] = [demo]
