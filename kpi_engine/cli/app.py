"""The ``kpi`` command: a thin layer over the public API (every command is a function you can call)."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from .._version import __version__
from ..errors import ConfigurationError, KPIError
from ..money import money_text, plain
from ..render import FORMATS, render
from ..store import schema as s
from ..store.database import DATABASE_URL_ENV, Store
from .common import Settings as _Settings
from .common import pass_settings
from .common import progress_bar as _progress

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help=f"Database URL (default: ${DATABASE_URL_ENV} or sqlite:///kpi.sqlite).")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="kpi")
@click.pass_context
def cli(ctx: click.Context, db: str | None, debug: bool) -> None:
    """KPI and incentive-compensation engine: import CRM data, evaluate plans, explain every payout."""
    ctx.obj = _Settings(db, debug)


# --- demo ---------------------------------------------------------------------------


def _latest_full_month(today: date) -> str:
    y, m = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{y}-{m:02d}"


@cli.command()
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

    settings: _Settings = ctx.obj
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
        with _progress("Generating the sample company") as progress, store.begin() as conn:
            summary = generate_sample_company(conn, seed=seed, end_month=month, progress=progress)
        Path("kpi-demo.ground-truth.json").write_text(summary.ground_truth_json(), encoding="utf-8")
        counts = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in summary.counts.items() if n)
        click.echo(f"Sample company {summary.first_month}..{summary.last_month}: {counts}.")
        click.echo(
            f"Planted gaming cases (ground truth for the checks): kpi-demo.ground-truth.json ({len(summary.ground_truth)} cases)."
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
        with _progress(f"Evaluating {plan.id} for {label}") as progress:
            summaries.append(_plan_summary(evaluate_through(store, plan, the_month, since=since, progress=progress)))
    main = load_plan(main_plan)
    with _progress(f"Evaluating sales-commission for {month}") as progress:
        # its checks' effects replay earlier months (clawbacks, released holds)
        since = earlier_period(the_month, 11) if has_checks(main) else None
        run = evaluate_through(store, main, the_month, since=since, progress=progress)
    click.echo()
    _print_run_summary(store, run)
    if summaries:
        click.echo("\nThe other example plans for the month:")
        for line in summaries:
            click.echo(f"  {line}")
        click.echo(_cli_findings.findings_by_check(store) + " Each with its records: kpi findings")
        click.echo("Any person's reasons: kpi explain --run RUN --person ID")


def _plan_summary(run: Any) -> str:
    """One line per plan: payout total, scores, recommendations, alerts and findings."""
    kinds: dict[str, list[Any]] = {}
    for o in run.outcomes:
        kinds.setdefault(o.kind, []).append(o)
    parts = []
    if "payout" in kinds:
        paid = [o for o in kinds["payout"] if o.amount]
        currency = next((o.currency for o in paid), "")
        parts.append(f"{len(paid)} paid, total {Decimal(money_text(run.total())):,} {currency}".rstrip())
    if "held" in kinds:
        held = sum((o.amount for o in kinds["held"] if o.amount is not None), Decimal(0))
        parts.append(
            f"{len(kinds['held'])} held pending review, {Decimal(money_text(held)):,} {kinds['held'][0].currency or ''}".rstrip()
        )
    if "score" in kinds:
        scores = [o.amount for o in kinds["score"] if o.amount is not None]
        if scores:
            average = sum(scores, Decimal(0)) / len(scores)
            parts.append(f"{len(scores)} scores, average {average.quantize(Decimal('0.01'))}")
    for kind, label in (
        ("recommendation", "recommendation(s) for HR review"),
        ("alert", "alert line(s)"),
        ("finding", "finding(s)"),
    ):
        if kind in kinds:
            people = sorted({o.person_id for o in kinds[kind] if _raised(o)})
            shown = f" ({', '.join(people[:6])}{' …' if len(people) > 6 else ''})" if people else ""
            parts.append(
                f"{len(people)} {label} raised or firing{shown}" if kind != "finding" else f"{len(kinds[kind])} {label}"
            )
    return (
        f"{run.plan_id} {run.plan_version} · run {run.id}: "
        + ("; ".join(parts) or "nothing raised, nothing paid")
        + "."
    )


def _status(outcome: Any) -> str:
    """A recommendation's ``status`` or an alert's ``state``."""
    return str(outcome.trace.get("status") or outcome.trace.get("state") or "").lower()


def _raised(outcome: Any) -> bool:
    """A recommendation or alert line that asks for attention (not one that says all is well)."""
    return _status(outcome) not in ("", "none", "ok", "resolved", "not_raised", "clear", "quiet", "passed", "inactive")


def _print_notice_summary(store: Store, run: Any) -> None:
    """A run without payouts (PIP recommendations, alerts, scores): one row per line with its status and reason."""
    rows = [
        {
            **row,
            "status": _status(o) or None,
            "why": (row["why"] or "")[:110] + ("…" if len(row["why"] or "") > 110 else ""),
        }
        for row, o in zip(_outcome_rows(store, run), run.outcomes, strict=True)
    ]
    click.echo(f"Plan {run.plan_id} {run.plan_version} · period {run.period} ({run.time_zone}) · run {run.id}")
    if rows:
        click.echo(render(rows, ["person", "name", "team", "rule", "kind", "status", "why"]))
        click.echo()
    click.echo(_plan_summary(run))
    click.echo("Any person's reasons: kpi explain --run RUN --person ID")


def _people_names(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.connect() as conn:
        return {
            pid: (name, team)
            for pid, name, team in conn.execute(
                s.people.select().with_only_columns(s.people.c.id, s.people.c.name, s.people.c.team_id)
            )
        }


def _outcome_rows(store: Store, run: Any, person: str | None = None) -> list[dict[str, Any]]:
    names = _people_names(store)
    rows = []
    for o in run.outcomes:
        if person and o.person_id != person:
            continue
        inputs = o.trace.get("inputs") or {}
        name, team = names.get(o.person_id, (o.person_id, None))
        attainment = _number_or_none(inputs.get("attainment"))
        measured = _number_or_none(next(iter(inputs.values()), None))
        why = o.trace.get("explanation") or o.trace.get("skipped")
        rows.append(
            {
                "person": o.person_id,
                "name": name,
                "team": team,
                "rule": o.rule_id,
                "kind": o.kind,
                "measured": None if measured is None else _number(measured),
                "target": _number_or_none(inputs.get("target")),
                "attainment": f"{attainment * 100:.1f}%" if attainment is not None else None,
                "amount": None if o.amount is None else Decimal(money_text(o.amount)),
                "currency": o.currency,
                "why": " ".join(why) if isinstance(why, list) else why,
                "trace": dict(o.trace),
            }
        )
    return rows


def _number_or_none(text: Any) -> Decimal | None:
    """A trace value as a number, or ``None`` when it is not one (a mapping, a word)."""
    if text is None or isinstance(text, (bool, dict, list)):
        return None
    try:
        value = Decimal(str(text).replace(",", ""))
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def _number(text: Any) -> Decimal:
    """A figure for display: whole numbers as they are, others with at least two decimals."""
    value = Decimal(text)
    return Decimal(plain(value)) if value == value.to_integral_value() else Decimal(money_text(value))


def _per_person(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per person: the first rule's measures, the sum of the payouts, the reasons of the paying lines."""
    people: dict[str, dict[str, Any]] = {}
    for line in lines:
        row = people.setdefault(line["person"], {**line, "amount": None, "why": None})
        for key in ("measured", "target", "attainment"):
            row[key] = row[key] if row[key] is not None else line[key]
        if line["kind"] == "payout" and line["amount"] is not None:
            row["amount"] = (row["amount"] or Decimal(0)) + line["amount"]
            if line["amount"] and line["why"]:
                row["why"] = f"{row['why']} {line['why']}" if row["why"] else line["why"]
    return list(people.values())


def _print_run_summary(store: Store, run: Any) -> None:
    if not any(o.kind == "payout" for o in run.outcomes):
        _print_notice_summary(store, run)
        return
    rows = sorted(_per_person(_outcome_rows(store, run)), key=lambda r: (-(r["amount"] or 0), r["person"]))
    paid = [r for r in rows if r["amount"]]
    click.echo(f"Plan {run.plan_id} {run.plan_version} · period {run.period} ({run.time_zone}) · run {run.id}")
    click.echo(
        render(
            rows,
            ["person", "name", "team", "measured", "target", "attainment", "amount", "currency"],
            numeric=("measured", "target", "amount", "attainment"),
        )
    )
    total = run.total()
    currency = rows[0]["currency"] if rows else ""
    click.echo(f"\n{len(rows)} people evaluated, {len(paid)} paid, total {Decimal(money_text(total)):,} {currency}.")
    held = [o for o in run.outcomes if o.kind == "held" and o.amount is not None]
    if held:
        held_total = sum((o.amount for o in held), Decimal(0))
        click.echo(
            f"Held pending review of findings (not paid): {len(held)} line(s), {Decimal(money_text(held_total)):,} {currency}."
        )
    if paid:
        click.echo(f"Why {paid[0]['name']} earns {paid[0]['amount']:,}: {paid[0]['why']}")
    click.echo("Every line with its reasons: kpi outcomes --format json")


# --- import, evaluate, outcomes -----------------------------------------------------


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--entity",
    type=click.Choice(["people", "deals", "activities", "leads", "targets"]),
    help="What the file holds (default: from the mapping or the file name).",
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML column mapping (field: header, stage map, defaults, time zone).",
)
@click.option("--source", help="Name of the system the export came from (default: the mapping's, else 'import').")
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="FIELD=HEADER",
    help="Map one field to a header of the file; repeatable.",
)
@click.option(
    "--default",
    "defaults",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Value for a field the file lacks or leaves blank (e.g. currency=CNY); repeatable.",
)
@click.option("--time-zone", help="Zone of time stamps written without an offset (default: the mapping's, else UTC).")
@click.option(
    "--override-reason", metavar="TEXT", help="Why targets move by more than ±20 % (recorded with each change)."
)
@pass_settings
def import_(
    settings: _Settings,
    files: tuple[Path, ...],
    entity: str | None,
    mapping: Path | None,
    source: str | None,
    columns: tuple[str, ...],
    defaults: tuple[str, ...],
    time_zone: str | None,
    override_reason: str | None,
) -> None:
    """Import CRM exports (CSV or XLSX). A file with a bad row is rejected whole."""
    from ..ingest.importing import import_file
    from ..ingest.mapping import ColumnMapping, load_mapping

    overrides = _pairs(columns, "--column", "amount='Deal Amount'")
    rules = load_mapping(mapping) if mapping else ColumnMapping()
    if defaults or time_zone:
        update: dict[str, Any] = {"defaults": {**rules.defaults, **_pairs(defaults, "--default", "currency=CNY")}}
        if time_zone:
            update["time_zone"] = time_zone
        rules = ColumnMapping.model_validate({**rules.model_dump(), **update})
    store = settings.store()
    for path in files:
        with _progress(f"Importing {path.name}") as progress:
            summary = import_file(
                store,
                path,
                entity=entity,
                mapping=rules,
                source=source,
                columns=overrides or None,
                progress=progress,
                override_reason=override_reason,
            )
        click.echo(
            f"{path.name}: {summary.rows_read} rows of {summary.entity}: {summary.inserted} inserted, "
            f"{summary.updated} updated, {summary.unchanged} unchanged."
        )


def _pairs(items: tuple[str, ...], option: str, example: str) -> dict[str, str]:
    """``FIELD=VALUE`` options as a dict, refusing anything else with an example."""
    pairs: dict[str, str] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ConfigurationError(f"{option} {item!r} is not FIELD=VALUE.", hint=f"e.g. {option} {example}")
        pairs[field.strip()] = value.strip()
    return pairs


@cli.command()
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
def evaluate(settings: _Settings, plan_file: str, period: str, fmt: str) -> None:
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
    with _progress(f"Evaluating {label} for {the_period.label}") as progress:
        runs = evaluate_plans(store, plans, the_period, progress=progress)
    if fmt != "table":
        _echo_outcomes(store, runs, fmt, None)
    elif len(runs) == 1:
        _print_run_summary(store, runs[0])
    else:
        click.echo(f"Period {the_period.label}: {len(runs)} plans evaluated together.")
        for run in runs:
            click.echo(f"  {_plan_summary(run)}")
        for plan_id in idle:
            click.echo(f"  {plan_id}: no version in force in {the_period.label}.")
        click.echo("A plan's lines: kpi outcomes --run RUN; anyone's reasons: kpi explain --run RUN --person ID")


def _echo_outcomes(store: Store, run: Any, fmt: str, person: str | None) -> None:
    """One run's lines (or several runs', each line naming its plan and run) as a table, JSON or CSV."""
    runs = run if isinstance(run, list) else [run]
    rows = []
    for one in runs:
        for row in _outcome_rows(store, one, person):
            row["run"] = one.id
            row["period"] = one.period
            if len(runs) > 1:
                row["plan"] = one.plan_id
            rows.append(row)
    if len(runs) > 1 and fmt == "csv":
        click.echo(
            render(
                rows,
                [
                    "plan",
                    "run",
                    "period",
                    "person",
                    "name",
                    "team",
                    "rule",
                    "kind",
                    "measured",
                    "target",
                    "attainment",
                    "amount",
                    "currency",
                    "why",
                ],
                "csv",
            )
        )
        return
    run = runs[0]
    if fmt == "json":
        click.echo(render(rows, [], "json"))
    elif fmt == "csv":
        click.echo(
            render(
                rows,
                [
                    "run",
                    "period",
                    "person",
                    "name",
                    "team",
                    "rule",
                    "kind",
                    "measured",
                    "target",
                    "attainment",
                    "amount",
                    "currency",
                    "why",
                ],
                "csv",
            )
        )
    else:
        click.echo(
            f"Run {run.id} · plan {run.plan_id} {run.plan_version} · period {run.period} · data {run.data_watermark}"
        )
        click.echo(
            render(
                rows,
                ["person", "name", "rule", "kind", "attainment", "amount", "currency", "why"],
                numeric=("amount", "attainment"),
            )
        )
        held = sum(
            (
                o.amount
                for o in run.outcomes
                if o.kind == "held" and o.amount is not None and (not person or o.person_id == person)
            ),
            Decimal(0),
        )
        paid = sum(
            (
                o.amount
                for o in run.outcomes
                if o.kind == "payout" and o.amount is not None and (not person or o.person_id == person)
            ),
            Decimal(0),
        )
        if held:
            click.echo(
                f"\nPaid {Decimal(money_text(paid)):,}; held pending review of findings {Decimal(money_text(held)):,} (not paid)."
            )


@cli.command()
@click.option("--run", "run_id", metavar="ID", help="Run to show (default: the newest).")
@click.option("--person", metavar="ID", help="Only this person's lines.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def outcomes(settings: _Settings, run_id: str | None, person: str | None, fmt: str) -> None:
    """Show the outcomes of an evaluation run, with the reason for each line."""
    from ..store.runs import get_run

    store = settings.store()
    _echo_outcomes(store, get_run(store, run_id), fmt, person)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def runs(settings: _Settings, fmt: str) -> None:
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
        }
        for r in list_runs(settings.store())
    ]
    click.echo(render(rows, ["run", "plan", "version", "period", "status", "engine", "created"], fmt))


# --- plugins ------------------------------------------------------------------------


@cli.group()
def plugins() -> None:
    """Plugins: built-in and installed metric, rule and connector plugins."""


@plugins.command("list")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def plugins_list(fmt: str) -> None:
    """Show each plugin's name, version, origin and what it provides."""
    from ..registry import get_registry

    registry = get_registry()
    rows = [
        {"name": p.name, "version": p.version, "origin": p.origin, "provides": p.provides, "error": p.error}
        for p in registry.plugins
    ]
    if fmt != "table":
        click.echo(render(rows, ["name", "version", "origin", "provides", "error"], fmt))
        return
    for row in rows:
        row["provides"] = f"{len(row['provides'])} item(s)"
    columns = ["name", "version", "origin", "provides"] + (["error"] if any(p.error for p in registry.plugins) else [])
    click.echo(render(rows, columns))
    provided = [
        {
            "kind": "rule type",
            "name": name,
            "plugin": registry.owners[("rule type", name)],
            "description": rt.description,
        }
        for name, rt in sorted(registry.rule_types.items())
    ] + [
        {"kind": "metric", "name": name, "plugin": registry.owners[("metric", name)], "description": m.description}
        for name, m in sorted(registry.metrics.items())
    ]
    click.echo()
    click.echo(render(provided, ["kind", "name", "plugin", "description"]))


# --- command groups kept in their own modules -----------------------------------------

from . import (
    connectors as _cli_connectors,
)
from . import (
    findings as _cli_findings,
)
from . import (
    formula as _cli_formula,
)
from . import (
    metrics as _cli_metrics,
)
from . import (
    rules as _cli_rules,
)

for _module in (_cli_rules, _cli_formula, _cli_metrics, _cli_connectors, _cli_findings):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


# --- entry point --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: errors become one sentence and a hint on stderr, with a non-zero exit."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="kpi", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KPIError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc.message}", err=True)
        problems = getattr(exc, "problems", [])
        if len(problems) > 1:
            for problem in problems:
                click.echo(f"  - {problem}", err=True)
        if exc.hint:
            click.echo(f"Hint: {exc.hint}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc}", err=True)
        click.echo("Hint: run again with --debug for the details, and report it if it persists.", err=True)
        sys.exit(1)
    sys.exit(0)
