"""``kpi daily``: the daily loop, for cron or a systemd timer (examples in docs/reports.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import KPIError
from .common import Settings, pass_settings

__all__ = ["COMMANDS"]


@click.command("daily")
@click.option("--period", metavar="P", help="The open period (default: this month).")
@click.option(
    "--plans",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of plans (default: ./rules, else the example plans).",
)
@click.option(
    "--site",
    type=click.Path(path_type=Path),
    default=Path("report-site"),
    show_default=True,
    help="Folder of the report site to refresh.",
)
@click.option("--no-site", is_flag=True, help="Do not refresh the report site.")
@click.option(
    "--notify-config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Channels file (default: $KPI_NOTIFY_CONFIG, else ./notify.yaml when it exists).",
)
@click.option(
    "--connector",
    "connectors",
    multiple=True,
    metavar="NAME",
    help="Sync this connector (repeatable; default: every connector with settings in the environment).",
)
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@pass_settings
def daily(
    settings: Settings,
    period: str | None,
    plans: Path | None,
    site: Path,
    no_site: bool,
    notify_config: Path | None,
    connectors: tuple[str, ...],
    lang: str,
) -> None:
    """Sync every configured CRM, evaluate the open period's alert and PIP plans, refresh the report site and
    send notifications; one run at a time, safe to run again."""
    from ..daily import run_daily
    from ..notify.config import CONFIG_ENV
    from ..periods import parse_period
    from ..reports.plan_texts import default_plan_folders

    folder = plans or next(iter(default_plan_folders()), Path("rules"))
    config = notify_config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else Path("notify.yaml"))
    summary = run_daily(
        settings.store(),
        plans=folder,
        site=None if no_site else site,
        notify_config=config if (notify_config or config.exists()) else None,
        period=parse_period(period) if period else None,
        connectors=list(connectors) if connectors else None,
        actor=settings.actor(),
        lang=lang,
    )
    click.echo(f"Daily run for {summary.period}:")
    synced = ", ".join(f"{k} {v}" for k, v in summary.synced.items()) or "no connector configured"
    click.echo(f"  synced: {synced}")
    click.echo(f"  evaluated: {', '.join(summary.evaluated) or 'nothing'}")
    click.echo(f"  site: {summary.site or 'not refreshed'}")
    notified = ", ".join(f"{k} {v}" for k, v in summary.notified.items())
    click.echo(f"  notified: {notified or 'no channel configured'}")
    if summary.failures:
        for failure in summary.failures:
            click.echo(f"  failed: {failure}", err=True)
        raise KPIError(
            f"{len(summary.failures)} step(s) of the daily run failed; the others ran.",
            hint="the next run tries them again; see the lines above",
        )


COMMANDS: list[click.Command] = [daily]
