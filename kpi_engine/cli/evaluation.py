"""``kpi evaluate``, ``kpi outcomes`` and ``kpi runs``: evaluate plans for a period, read the saved runs."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigurationError
from ..render import FORMATS, render
from .common import Settings, pass_settings, progress_bar
from .summaries import echo_outcomes, plan_summary, print_run_summary

__all__ = ["COMMANDS"]


@click.command()
@click.option(
    "--plan",
    "plan_file",
    required=True,
    metavar="FILE|FOLDER|ID",
    help="Plan file, folder of plan versions, or plan id in rules/.",
)
@click.option("--period", required=True, help="2026-10, 2026-Q3, 2026 or 2026-01-01..2026-03-15.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def evaluate(settings: Settings, plan_file: str, period: str, fmt: str) -> None:
    """Evaluate a plan for a period and save the run (re-running an open period replaces it).

    For a folder or a plan id, the version of the plan in force in the period is used. A folder of
    several plans (rules/) evaluates every plan in force, together: each metric is read once for all
    of them, and if one plan fails no run of any is saved.
    """
    from ..engine.evaluation import evaluate_plans
    from ..periods import parse_period
    from ..plans.files import load_plan_for, plan_files, plan_id_of, plans_in_force

    the_period = parse_period(period)
    folder = Path(plan_file)
    idle: list[str] = []
    if folder.is_dir() and len({plan_id_of(f) for f in plan_files(folder)} - {None}) > 1:
        plans, idle = plans_in_force(folder, the_period)
        if not plans:
            raise ConfigurationError(
                f"no plan in {folder} is in force in {the_period.label}.",
                hint="pick another period or check the plans' effective dates",
            )
    else:
        plans = [load_plan_for(plan_file, the_period)]
    store = settings.store()
    label = plans[0].id if len(plans) == 1 else f"{len(plans)} plans"
    with progress_bar(f"Evaluating {label} for {the_period.label}") as progress:
        runs = evaluate_plans(store, plans, the_period, progress=progress, by=settings.actor())
    if fmt != "table":
        echo_outcomes(store, runs, fmt, None)
    elif len(runs) == 1:
        print_run_summary(store, runs[0])
    else:
        click.echo(f"Period {the_period.label}: {len(runs)} plans evaluated together.")
        for run in runs:
            click.echo(f"  {plan_summary(run)}")
        for plan_id in idle:
            click.echo(f"  {plan_id}: no version in force in {the_period.label}.")
        click.echo("A plan's lines: kpi outcomes --run RUN; anyone's reasons: kpi explain --run RUN --person ID")


@click.command()
@click.option("--run", "run_id", metavar="ID", help="Run to show (default: the newest).")
@click.option("--person", metavar="ID", help="Only this person's lines.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def outcomes(settings: Settings, run_id: str | None, person: str | None, fmt: str) -> None:
    """Show the outcomes of an evaluation run, with the reason for each line."""
    from ..store.runs import get_run

    store = settings.store()
    echo_outcomes(store, get_run(store, run_id), fmt, person)


@click.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def runs(settings: Settings, fmt: str) -> None:
    """List saved evaluation runs, newest first."""
    from ..store.runs import list_runs

    rows = [
        {
            "run": r.id,
            "plan": r.plan_id,
            "version": r.plan_version,
            "period": r.period,
            "status": r.status,
            "engine": r.engine_version,
            "created": r.created_at.isoformat(timespec="seconds"),
            "evaluated_by": r.evaluated_by,
        }
        for r in list_runs(settings.store())
    ]
    click.echo(render(rows, ["run", "plan", "version", "period", "status", "evaluated_by", "engine", "created"], fmt))


COMMANDS: list[click.Command] = [evaluate, outcomes, runs]
