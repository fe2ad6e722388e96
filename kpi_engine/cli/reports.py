"""``kpi report`` (the period's static site) and ``kpi statement`` (one person's statement, or everyone's)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigurationError
from .common import Settings, pass_settings

__all__ = ["COMMANDS"]

LANG = click.Choice(["en", "zh"])
PLANS_HELP = "Folder of plan files to read tiers and names from (default: ./rules and the example plans)."


def _plan_folders(plans: Path | None) -> list[Path] | None:
    if plans is None:
        return None
    if not plans.is_dir():
        raise ConfigurationError(f"{plans} is not a folder of plan files.", hint="e.g. --plans rules/")
    return [plans]


@click.command("report")
@click.option("--period", required=True, metavar="P", help="The period, e.g. 2026-11.")
@click.option("--out", type=click.Path(path_type=Path), help="Folder of the site (default: report-<period>).")
@click.option("--lang", type=LANG, default="en", show_default=True, help="Language of the labels: zh or en.")
@click.option("--plans", type=click.Path(path_type=Path), help=PLANS_HELP)
@pass_settings
def report(settings: Settings, period: str, out: Path | None, lang: str, plans: Path | None) -> None:
    """Write the period's reports as a static site that opens offline: company, leaderboard, teams,
    statements, HR."""
    from ..periods import parse_period
    from ..reports import build_site

    label = parse_period(period).label
    folder = out or Path(f"report-{label}")
    summary = build_site(settings.store(), label, folder, lang=lang, plan_folders=_plan_folders(plans))
    click.echo(
        f"Site of {summary.period} ({summary.lang}): {len(summary.pages)} pages, {summary.statements} statements, "
        f"{summary.charts} charts, in {summary.seconds:.1f} s. Open {folder / 'index.html'}"
    )


@click.command("statement")
@click.option("--person", metavar="ID", help="Whose statement (leave out with --all).")
@click.option("--all", "everyone", is_flag=True, help="Everyone paid or calculated in the period.")
@click.option("--period", required=True, metavar="P", help="The period, e.g. 2026-10.")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default="html", show_default=True)
@click.option("--lang", type=LANG, default="en", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The file (one person) or folder (--all); default: <person>-<period>.<format> or statements-<period>/.",
)
@click.option("--plans", type=click.Path(path_type=Path), help=PLANS_HELP)
@pass_settings
def statement(
    settings: Settings,
    person: str | None,
    everyone: bool,
    period: str,
    fmt: str,
    lang: str,
    out: Path | None,
    plans: Path | None,
) -> None:
    """A person's statement (销售人员提成单) for a period: every line the ledger pays with its reason, as HTML or
    an A4 PDF; --all writes everyone's."""
    from ..periods import parse_period
    from ..reports.statements import statements_for, write_statement, write_statements

    if bool(person) == everyone:
        raise ConfigurationError(
            "name one person with --person, or everyone with --all.",
            hint="kpi statement --person E1011 --period 2026-10 --format pdf",
        )
    label = parse_period(period).label
    folders = _plan_folders(plans)
    store = settings.store()
    if person:
        target = out or Path(f"{person}-{label}.{fmt}")
        if target.is_dir():
            target = target / f"{person}-{label}.{fmt}"
        write_statement(store, person, label, target, fmt=fmt, lang=lang, plan_folders=folders)
        click.echo(f"Statement of {person} for {label} written to {target}.")
        return
    folder = out or Path(f"statements-{label}")
    data, statements = statements_for(store, label, plan_folders=folders)
    written = write_statements(store, data, statements, folder, fmt=fmt, lang=lang, plan_folders=folders)
    click.echo(f"{len(written)} statements of {label} written to {folder}.")


COMMANDS: list[click.Command] = [report, statement]
