"""``kpi metrics …`` and ``kpi targets …``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from ..money import money_text, plain
from ..render import FORMATS, render
from .common import Settings, pass_settings

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []  # registered on the ``kpi`` group by kpi_engine.cli

METRICS_PATH_HELP = "Folder or YAML file of custom metrics (default: $KPI_METRICS_PATH, else ./metrics if it exists)."


def _registry(metrics_path: Path | None) -> Any:
    from ..metrics.custom import registry_with_custom_metrics

    return registry_with_custom_metrics(metrics_path)


@click.group()
def metrics() -> None:
    """Metrics: what each one measures, and its values for any period, grain and group."""


@metrics.command("list")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--metrics", "metrics_path", type=click.Path(path_type=Path), help=METRICS_PATH_HELP)
def metrics_list(fmt: str, metrics_path: Path | None) -> None:
    """Every metric with its definition, unit, default grain, the groupings it allows and its plugin."""
    from ..metrics.compute import metric_context
    from ..metrics.measures import declared_dimensions
    from ..metrics.rollup import ORG_GROUPINGS
    from ..periods import parse_period

    registry = _registry(metrics_path)
    probe = metric_context(parse_period("2026-01"))
    rows = []
    for name, metric in sorted(registry.metrics.items()):
        numerator = metric.numerator
        grouped = numerator is not None
        rows.append(
            {
                "name": name,
                "definition": metric.description,
                "unit": metric.unit,
                "grain": metric.grain,
                "kind": "ratio"
                if metric.denominator is not None
                else (numerator.aggregate if numerator is not None else "plugin query"),
                "by": ["person", *ORG_GROUPINGS, *declared_dimensions(metric, probe)] if grouped else ["person"],
                "plugin": registry.owners.get(("metric", name), "?"),
                "source": metric.source or None,
            }
        )
    if fmt == "table":
        for row in rows:
            row["by"] = ", ".join(row["by"])
        click.echo(render(rows, ["name", "unit", "grain", "definition"]))
        click.echo(f"\n{len(rows)} metrics. Definitions and groupings as JSON: kpi metrics list --format json")
    else:
        if fmt == "csv":
            for row in rows:
                row["by"] = " ".join(row["by"])
        click.echo(render(rows, ["name", "unit", "grain", "kind", "by", "plugin", "source", "definition"], fmt))


def _default_currency(store: Any) -> str:
    from sqlalchemy import func, select

    from ..store import schema as s

    with store.connect() as conn:
        row = conn.execute(
            select(s.deals.c.currency, func.count())
            .group_by(s.deals.c.currency)
            .order_by(func.count().desc(), s.deals.c.currency)
        ).first()
    return row[0] if row else "CNY"


def _shown(value: Decimal | None) -> str | None:
    return None if value is None else plain(value) if value == value.to_integral_value() else f"{value.normalize():f}"


@metrics.command("show")
@click.argument("metric")
@click.option("--period", required=True, help="2026-10, 2026-Q3, 2026, 2026-W05 or 2026-01-01..2026-03-15.")
@click.option(
    "--by",
    "by",
    type=click.Choice(["person", "team", "region", "company", "product_line", "channel", "campaign"]),
    default="person",
    show_default=True,
)
@click.option(
    "--grain",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    help="Cut the period into these pieces, one value each.",
)
@click.option("--window", help="ytd (year to date) or rolling-N (the N months ending with each piece).")
@click.option(
    "--compare",
    type=click.Choice(["previous", "last-year"]),
    help="Show the previous period or the same period last year and the growth.",
)
@click.option("--time-zone", default="UTC", show_default=True, help="Zone the period's days are read in.")
@click.option("--currency", help="Currency of money metrics (default: the currency of most deals).")
@click.option("--metrics", "metrics_path", type=click.Path(path_type=Path), help=METRICS_PATH_HELP)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def metrics_show(
    settings: Settings,
    metric: str,
    period: str,
    by: str,
    grain: str | None,
    window: str | None,
    compare: str | None,
    time_zone: str,
    currency: str | None,
    metrics_path: Path | None,
    fmt: str,
) -> None:
    """Values of METRIC for a period, per person, team, region, product line, channel or campaign."""
    from sqlalchemy import select

    from ..metrics.compute import compute_metric
    from ..periods import parse_period, zone
    from ..store import schema as s

    the_period = parse_period(period)
    zone(time_zone)
    registry = _registry(metrics_path)
    definition = registry.metric(metric)
    store = settings.store()
    currency = currency or _default_currency(store)
    with store.connect() as conn:
        rows = compute_metric(
            conn,
            definition,
            the_period,
            by=by,
            grain=grain,
            window=window,
            compare=compare,
            time_zone=time_zone,
            currency=currency,
        )
        names: dict[str, str] = {}
        if by == "person":
            names = dict(conn.execute(select(s.people.c.id, s.people.c.name)).all())
        elif by == "team":
            names = dict(conn.execute(select(s.teams.c.id, s.teams.c.name)).all())
    out = [
        {
            "metric": r.metric,
            "period": r.period,
            by: r.group,
            "name": names.get(r.group or "", None),
            "value": _shown(r.value),
            **(
                {
                    "compared_period": r.compared_period,
                    "compared_value": _shown(r.compared_value),
                    "growth": _shown(r.growth),
                }
                if compare
                else {}
            ),
        }
        for r in rows
    ]
    columns = (
        ["period", by]
        + (["name"] if names else [])
        + ["value"]
        + (["compared_period", "compared_value", "growth"] if compare else [])
    )
    if fmt == "table":
        click.echo(f"{definition.name} ({definition.unit}): {definition.description}")
        if not out:
            click.echo("No facts in this period.")
            return
        table = _readable(out, rows, by, definition, currency, bool(compare))
        shown = [
            "rank",
            "period",
            by,
            *(["name"] if names else []),
            "value",
            *(["compared_period", "compared_value", "growth"] if compare else []),
        ]
        if len({r.period for r in rows}) == 1:
            shown.remove("period")
        click.echo(render(table, shown, numeric=("rank", "value", "compared_value", "growth")))
    else:
        click.echo(render(out, ["metric", *columns], fmt))


ROLLED_UP = ("team", "company")  # a team's value includes its sub-teams': the rows do not add up


def _additive(definition: Any) -> bool:
    """Whether the groups' values add up to the whole (sums and counts of rows; not ratios or distinct counts)."""
    numerator = definition.numerator
    return definition.denominator is None and numerator is not None and numerator.aggregate in ("sum", "count")


def _readable(
    out: list[dict[str, Any]], rows: list[Any], by: str, definition: Any, currency: str, compare: bool
) -> list[dict[str, Any]]:
    """The table people read: each period's groups ranked by value (highest first, ties sharing a rank), money
    with its currency, ratios as percentages, and a total per period where the values add up."""
    from decimal import Decimal

    from ..reports.standings import rank

    def shown(value: Decimal | None) -> str | None:
        if value is None:
            return None
        if definition.unit == "money":
            return f"{Decimal(money_text(value)):,} {currency}"
        if definition.unit == "ratio":
            return f"{(value * 100).quantize(Decimal('0.01'))}%"
        return f"{value.normalize():,f}" if value != value.to_integral_value() else f"{value:,.0f}"

    table: list[dict[str, Any]] = []
    periods = list(dict.fromkeys(r.period for r in rows))
    for label in periods:
        piece = [(o, r) for o, r in zip(out, rows) if r.period == label]
        places = {
            x.person_id: x.place
            for x in rank({str(i): r.value for i, (_, r) in enumerate(piece) if r.value is not None})
        }
        ordered = sorted(
            enumerate(piece),
            key=lambda item: (item[1][1].value is None, -(item[1][1].value or 0), str(item[1][1].group)),
        )
        for index, (o, r) in ordered:
            table.append(
                {
                    **o,
                    "rank": places.get(str(index)),
                    "value": shown(r.value),
                    "compared_value": shown(r.compared_value) if compare else None,
                    "growth": f"{(r.growth * 100).quantize(Decimal('0.1'))}%"
                    if compare and r.growth is not None
                    else None,
                }
            )
        if _additive(definition) and by not in ROLLED_UP and len(piece) > 1:
            values = [r.value for _, r in piece if r.value is not None]
            before = [r.compared_value for _, r in piece if r.compared_value is not None]
            table.append(
                {
                    "period": label,
                    by: "total",
                    "value": shown(sum(values, Decimal(0))),
                    "compared_value": shown(sum(before, Decimal(0))) if compare and before else None,
                }
            )
    return table


COMMANDS.append(metrics)


@click.group()
def targets() -> None:
    """Targets: break a company target down over time and people, then save it."""


@targets.command("plan")
@click.option("--metric", required=True, help="Metric the target is for, e.g. bookings.")
@click.option("--period", required=True, help="The whole: 2027 (a year) or 2027-Q1.")
@click.option("--total", help="The company target for the period (e.g. 12,000,000). Omit with --from-last-period.")
@click.option(
    "--by-time",
    type=click.Choice(["quarter", "month"]),
    help="Split the period into quarters or months (a year → quarters → months).",
)
@click.option(
    "--seasonality",
    is_flag=True,
    help="Weigh time pieces by last year's values of the metric (default: even, months by days).",
)
@click.option(
    "--split", type=click.Choice(["company", "region", "team", "person"]), default="company", show_default=True
)
@click.option("--team", help="With --split person: only this team's people.")
@click.option(
    "--weights",
    default="even",
    show_default=True,
    help="even, last-year (each subject's share last year) or NAME=WEIGHT pairs.",
)
@click.option(
    "--levels",
    default="80%,100%,150%",
    show_default=True,
    help="Baseline, target and challenge as factors of the total.",
)
@click.option(
    "--from-last-period",
    is_flag=True,
    help="Levels as multiples of each subject's previous period (with --levels 120%,150%,200%).",
)
@click.option(
    "--places",
    default=2,
    show_default=True,
    type=click.IntRange(0, 10),
    help="Decimals of each part (the remainder rule keeps sums exact).",
)
@click.option("--time-zone", default="UTC", show_default=True)
@click.option("--currency", help="Currency of money targets (default: the currency of most deals).")
@click.option("--save", is_flag=True, help="Save the breakdown as targets (otherwise it is only shown).")
@click.option("--override-reason", help="Why a target changes by more than ±20 % (recorded with the change).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def targets_plan(
    settings: Settings,
    metric: str,
    period: str,
    total: str | None,
    by_time: str | None,
    seasonality: bool,
    split: str,
    team: str | None,
    weights: str,
    levels: str,
    from_last_period: bool,
    places: int,
    time_zone: str,
    currency: str | None,
    save: bool,
    override_reason: str | None,
    fmt: str,
) -> None:
    """Show how a target breaks down (quarters, months; regions, teams, people) and save it with --save."""
    from ..errors import ConfigurationError
    from ..metrics.targets import decompose_target, levels_from_last_period, parse_levels, parse_weights, save_targets
    from ..money import to_decimal
    from ..periods import parse_period

    the_period = parse_period(period)
    definition = _registry(None).metric(metric)
    factors = parse_levels(levels if not (from_last_period and levels == "80%,100%,150%") else "120%,150%,200%")
    store = settings.store()
    currency = currency or _default_currency(store)
    with store.begin() as conn:
        if from_last_period:
            lines = levels_from_last_period(
                conn,
                definition,
                the_period,
                split=split,
                factors=factors,
                places=places,
                time_zone=time_zone,
                currency=currency,
            )
        else:
            if total is None:
                raise ConfigurationError(
                    "a target breakdown needs --total (or --from-last-period).", hint="e.g. --total 12,000,000"
                )
            try:
                whole = to_decimal(total)
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"--total {total!r}: {exc}.", hint="write it as 12000000 or 12,000,000"
                ) from None
            lines = decompose_target(
                conn,
                definition,
                the_period,
                whole,
                by_time=by_time,
                seasonality=seasonality,
                split=split,
                weights=parse_weights(weights),
                levels=factors,
                places=places,
                team=team,
                time_zone=time_zone,
                currency=currency,
            )
        if save:
            saved = save_targets(
                conn,
                metric,
                lines,
                currency=currency if definition.unit == "money" else None,
                override_reason=override_reason,
            )
    rows = [
        {
            "period": x.period,
            "subject_type": x.subject_type,
            "subject": x.subject_id,
            "baseline": x.baseline,
            "target": x.target,
            "challenge": x.challenge,
        }
        for x in lines
    ]
    if fmt != "table":
        click.echo(render(rows, ["period", "subject_type", "subject", "baseline", "target", "challenge"], fmt))
    else:
        click.echo(
            render(
                rows,
                ["period", "subject", "baseline", "target", "challenge"],
                numeric=("baseline", "target", "challenge"),
            )
        )
        sums = {
            "baseline": sum((x.baseline or Decimal(0) for x in lines), Decimal(0)),
            "target": sum((x.target for x in lines), Decimal(0)),
            "challenge": sum((x.challenge or Decimal(0) for x in lines), Decimal(0)),
        }
        click.echo(
            f"\n{len(rows)} lines; totals: baseline {sums['baseline']:,}, target {sums['target']:,}, challenge "
            f"{sums['challenge']:,}."
        )
        click.echo(f"Saved {saved} targets." if save else "Nothing saved: add --save to store these targets.")


COMMANDS.append(targets)
