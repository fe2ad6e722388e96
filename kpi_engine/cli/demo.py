"""``kpi demo``: a sample company, the example plans evaluated for its latest month, what they found."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from ..errors import ConfigurationError
from ..store import schema as s
from .common import Settings, progress_bar
from .findings import findings_by_check
from .summaries import plan_summary, print_run_summary

__all__ = ["COMMANDS"]


def _latest_full_month(today: date) -> str:
    y, m = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{y}-{m:02d}"


@click.command()
@click.option("--month", metavar="YYYY-MM", help="Last month of sample data (default: the latest full month).")
@click.option("--seed", default=2026, show_default=True, help="Seed of the sample company (same seed, same data).")
@click.pass_context
def demo(ctx: click.Context, month: str | None, seed: int) -> None:
    """Generate a sample company into ./kpi.sqlite, evaluate the example plans for the month, print the results."""
    from importlib.resources import files

    from ..engine.evaluation import evaluate_through
    from ..findings.model import has_checks
    from ..periods import earlier_period, parse_period
    from ..plans.checking import load_plan
    from ..plans.files import plan_files
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
    the_month = parse_period(month)
    main_plan = folder / "sales-commission.yaml"
    summaries = []
    for plan_path in [p for p in plan_files(folder) if p != main_plan]:
        plan = load_plan(plan_path)
        if not plan.in_force(the_month):
            summaries.append(f"{plan.id} {plan.plan.version}: not in force in {month}.")
            continue
        # Integrity checks compare months: every month of the sample, in order. A plan carrying state from
        # month to month (PIP, draws) gets the earlier months it replays evaluated first.
        since = earlier_period(the_month, 11) if has_checks(plan) else None
        label = f"every month to {month}" if since else month
        with progress_bar(f"Evaluating {plan.id} for {label}") as progress:
            summaries.append(plan_summary(evaluate_through(store, plan, the_month, since=since, progress=progress)))
    main = load_plan(main_plan)
    with progress_bar(f"Evaluating sales-commission for {month}") as progress:
        # its checks' effects replay earlier months (clawbacks, released holds)
        since = earlier_period(the_month, 11) if has_checks(main) else None
        run = evaluate_through(store, main, the_month, since=since, progress=progress)
    click.echo()
    print_run_summary(store, run)
    if summaries:
        click.echo("\nThe other example plans for the month:")
        for line in summaries:
            click.echo(f"  {line}")
        click.echo(findings_by_check(store) + " Each with its records: kpi findings")
        click.echo("Any person's reasons: kpi explain --run RUN --person ID")


COMMANDS: list[click.Command] = [demo]
