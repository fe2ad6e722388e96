"""``kpi rules …`` (validate and test plan files) and ``kpi explain``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..render import FORMATS, render
from .common import Settings, pass_settings

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []  # registered on the ``kpi`` group by kpi_engine.cli


@click.group()
def rules() -> None:
    """Plan files: validate them, test them against their cases, try a formula."""


def _plan_paths(paths: tuple[Path, ...]) -> list[Path]:
    from ..errors import PlanError
    from ..plans.files import plan_files

    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise PlanError(f"{path} does not exist.", hint="give plan files or folders holding them, e.g. rules/")
        files = plan_files(path)
        if path.is_dir() and not files:
            raise PlanError(
                f"{path} holds no plan files (*.yaml).", hint="give plan files or folders holding them, e.g. rules/"
            )
        found.extend(files)
    return found


@rules.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check plan files (or folders of them); every problem with file, line, column and a hint."""
    from ..errors import PlanError
    from ..plans.checking import load_plan

    bad = 0
    for path in _plan_paths(paths):
        try:
            plan = load_plan(path)
        except PlanError as exc:
            bad += 1
            for problem in exc.problems:
                click.echo(problem, err=True)
            continue
        count = len(plan.plan.rules)
        click.echo(f"OK {path} ({plan.id} v{plan.plan.version}, {count} rule{'s' if count != 1 else ''})")
    if bad:
        click.echo(f"{bad} plan file{'s' if bad != 1 else ''} did not validate.", err=True)
        sys.exit(1)


@rules.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="List passing cases too.")
def test(paths: tuple[Path, ...], verbose: bool) -> None:
    """Run the cases plans carry (``tests:`` or ``<plan>.tests.yaml``) and show every difference."""
    from ..plans.plan_tests import run_plan_tests

    results = [r for path in _plan_paths(paths) for r in run_plan_tests(path)]
    failed = [r for r in results if not r.passed]
    for r in results:
        cited = f" [{r.source}]" if r.source else ""
        if r.passed:
            if verbose:
                click.echo(f"PASS {r.plan}: {r.name}{cited}")
            continue
        click.echo(f"FAIL {r.plan}: {r.name}{cited}")
        if r.error:
            click.echo(f"  error: {r.error}")
        for failure in r.failures:
            click.echo(f"  {failure}")
    plans = len({r.plan for r in results})
    click.echo(
        f"{len(results)} case{'s' if len(results) != 1 else ''} in {plans} plan{'s' if plans != 1 else ''}: "
        f"{len(results) - len(failed)} passed, {len(failed)} failed."
    )
    if failed:
        sys.exit(1)


COMMANDS.append(rules)


@click.command()
@click.option("--run", "run_id", metavar="ID", help="Run to explain (default: the newest).")
@click.option("--person", required=True, metavar="ID", help="The person whose outcomes to explain.")
@click.option("--rule", metavar="ID", help="Only this rule.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table is text for people; json for machines.",
)
@pass_settings
def explain(settings: Settings, run_id: str | None, person: str, rule: str | None, fmt: str) -> None:
    """Explain a person's outcomes: sentences, inputs, tiers or branches taken, records behind them."""
    from ..engine.explain import crm_ids, explain_outcomes, findings_section, render_explanations
    from ..findings.store import list_findings
    from ..store import schema as s
    from ..store.runs import get_run

    store = settings.store()
    run = get_run(store, run_id)
    items = explain_outcomes(run.outcomes, person, rule, run_id=run.id)
    others = [f for f in list_findings(store, period=run.period, person_id=person) if f.run_id != run.id]
    if fmt == "json":
        rows = [{"run": run.id, "plan": run.plan_id, "period": run.period, "person": person, **item} for item in items]
        rows += [
            {"run": f.run_id, "plan": f.plan_id, "period": f.period, "person": person, "kind": "finding", **f.as_dict()}
            for f in others
        ]
        click.echo(render(rows, [], "json"))
        return
    if fmt == "csv":
        rows = [
            {
                "run": run.id,
                "period": run.period,
                "person": person,
                **item,
                "explanation": " ".join(item["explanation"]),
            }
            for item in items
        ]
        click.echo(
            render(rows, ["run", "period", "person", "rule", "kind", "amount", "currency", "explanation"], "csv")
        )
        return
    with store.connect() as conn:
        name = conn.execute(
            s.people.select().with_only_columns(s.people.c.name).where(s.people.c.id == person)
        ).scalar()
        crm = crm_ids(conn, items)
    header = f"Run {run.id} · plan {run.plan_id} {run.plan_version} · period {run.period} ({run.time_zone})"
    click.echo(render_explanations(person, name, header, items, crm), nl=False)
    if others:
        click.echo("\n" + findings_section(others), nl=False)


COMMANDS.append(explain)
