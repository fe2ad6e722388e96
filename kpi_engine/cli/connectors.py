"""``kpi connectors …`` and ``kpi sync``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ..errors import KPIError
from ..render import FORMATS, render
from .common import Settings, pass_settings

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []  # registered on the ``kpi`` group by kpi_engine.cli


def _connector_rows(fmt: str) -> list[dict[str, Any]]:
    from ..connect.connector import settings_schema
    from ..registry import get_registry

    registry = get_registry()
    rows = []
    for name, connector in sorted(registry.connectors.items()):
        settings = settings_schema(connector)
        streams = [
            {
                "name": s.name,
                "entity": s.entity,
                "primary_key": s.primary_key,
                "cursor_field": s.cursor_field,
                "reports_deletes": s.reports_deletes,
            }
            for s in _streams_of(connector)
        ]
        rows.append(
            {
                "name": name,
                "description": connector.description,
                "plugin": registry.owners.get(("connector", name), "?"),
                "streams": streams if fmt == "json" else ", ".join(s["name"] for s in streams),
                "not_in_crm": dict(connector.unsupported)
                if fmt == "json"
                else "; ".join(f"{entity}: {why}" for entity, why in connector.unsupported.items()),
                "settings": settings
                if fmt == "json"
                else ", ".join(
                    f"{r['variable']}{' (secret)' if r['secret'] else ''}"
                    for r in settings
                    if r["required"] or r["secret"]
                ),
            }
        )
    return rows


def _streams_of(connector: Any) -> list[Any]:
    """Streams without settings: instantiate with defaults when the model allows it, else ask the class."""
    try:
        probe = connector.__new__(connector)
        return list(connector.streams(probe))
    except Exception:  # noqa: BLE001 - a connector whose streams need settings lists none here
        return []


@click.group("connectors")
def connectors() -> None:
    """CRM connectors: list them, check a connection, scaffold a new one."""


@connectors.command("list")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def connectors_list(fmt: str) -> None:
    """Show each connector, its streams and the environment variables of its settings."""
    rows = _connector_rows(fmt)
    if fmt == "table":
        click.echo(render(rows, ["name", "plugin", "streams", "settings"]))
        lacking = [row for row in rows if row["not_in_crm"]]
        if lacking:
            click.echo("\nFacts a CRM does not have (import them from files: kpi import):")
            for row in lacking:
                click.echo(f"  {row['name']}: {row['not_in_crm']}")
        click.echo("\nDetails (stream keys, cursor fields, every setting): kpi connectors list --format json")
    else:
        click.echo(render(rows, ["name", "description", "plugin", "streams", "settings"], fmt))


def _build(name: str, settings: Settings, *, with_store: bool = True) -> Any:
    from ..connect.connector import ConnectorContext
    from ..connect.secrets import default_token_store
    from ..registry import get_registry

    connector_class = get_registry().connector(name)
    store = settings.store() if with_store else None
    context = ConnectorContext(token_store=default_token_store(store))
    return connector_class.from_env(context=context), store


def _safely(debug: bool, action: Any) -> Any:
    """Run ``action``; an unexpected error becomes one redacted sentence unless --debug."""
    from ..connect.errors import ConnectorError
    from ..connect.secrets import redact

    try:
        return action()
    except KPIError:
        raise
    except Exception as exc:
        if debug:
            raise
        raise ConnectorError(
            redact(f"unexpected {type(exc).__name__}: {exc}"), hint="run again with --debug for the details"
        ) from None


@connectors.command("check")
@click.argument("name")
@pass_settings
def connectors_check(settings: Settings, name: str) -> None:
    """Make one authenticated call to the CRM with the connector's settings."""
    connector, store = _build(name, settings)
    try:
        message = _safely(settings.debug, connector.check)
    finally:
        connector.close()
    click.echo(f"{name}: OK, {message}.")


@connectors.command("new")
@click.argument("name")
@click.option(
    "--path",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder in which to create the package.",
)
def connectors_new(name: str, folder: Path) -> None:
    """Scaffold a connector package with a mock server and the acceptance tests."""
    from ..connect.scaffold import scaffold_connector

    created = scaffold_connector(name, folder)
    click.echo(f"Created {created} with {sum(1 for p in created.rglob('*') if p.is_file())} files.")
    click.echo(f"Next: cd {created} && pip install -e . && pytest")


@connectors.command("token-key")
def connectors_token_key() -> None:
    """Print a new key for $KPI_TOKEN_KEY (encrypts refreshed OAuth tokens kept in the database)."""
    from ..connect.secrets import TOKEN_KEY_ENV, new_token_key

    click.echo(new_token_key())
    click.echo(f"Keep it with the other secrets and set it as ${TOKEN_KEY_ENV} for every kpi command.", err=True)


def _parse_since(value: str | None) -> datetime | None:
    from ..connect.errors import ConnectorConfigurationError
    from ..connect.sync import parse_cursor

    if value is None:
        return None
    try:
        moment = (
            datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if "T" in value or " " in value.strip()
            else None
        )
        if moment is None:
            moment = datetime.fromisoformat(value.strip()).replace(tzinfo=UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return parse_cursor(moment)
    except ValueError:
        raise ConnectorConfigurationError(
            f"--since {value!r} is not a date or time.",
            hint="e.g. --since 2026-01-01 or --since 2026-01-01T08:00:00+08:00",
        ) from None


class _Progress:
    """One line per stream on standard error, rewritten in place on a terminal."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last: tuple[str, int] | None = None

    def __call__(self, stream: str, read: int, _total: int) -> None:
        if self.tty:
            sys.stderr.write(f"\r  {stream}: {read:,} records read")
            sys.stderr.flush()
        self.last = (stream, read)

    def done(self) -> None:
        if self.tty and self.last:
            sys.stderr.write("\n")


@click.command("sync")
@click.argument("name")
@click.option("--full", is_flag=True, help="Read everything again instead of what changed since the last sync.")
@click.option(
    "--since",
    metavar="TIME",
    help="Read records changed at or after this date/time (ISO 8601; UTC unless it has an offset).",
)
@click.option("--stream", "streams", multiple=True, metavar="STREAM", help="Sync only this stream; repeatable.")
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Field mapping YAML (default: the connector's own).",
)
@click.option(
    "--lookback",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Minutes re-read before the saved cursor.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def sync_command(
    settings: Settings,
    name: str,
    full: bool,
    since: str | None,
    streams: tuple[str, ...],
    mapping: Path | None,
    lookback: int,
    fmt: str,
) -> None:
    """Sync a CRM into the store: incremental by default, resumable, never duplicating a record."""
    from ..connect.sync import sync

    moment = _parse_since(since)
    connector, store = _build(name, settings)
    progress = _Progress()
    if fmt == "table":
        click.echo(
            f"Syncing {name} into {store.display_url} "
            f"({'full' if full else 'since ' + moment.isoformat() if moment else 'incremental'})",
            err=True,
        )
    try:
        summary = _safely(
            settings.debug,
            lambda: sync(
                store,
                connector,
                full=full,
                since=moment,
                streams=list(streams) or None,
                mapping=mapping,
                lookback=timedelta(minutes=lookback),
                progress=progress,
            ),
        )
    finally:
        progress.done()
        connector.close()
    if fmt != "table":
        click.echo(
            json.dumps(summary.as_dict(), indent=2)
            if fmt == "json"
            else render(
                [st.as_dict() for st in summary.streams],
                ["stream", "entity", "read", "inserted", "updated", "unchanged", "deleted", "skipped"],
                "csv",
            )
        )
        return
    rows = [st.as_dict() for st in summary.streams]
    total = {
        "stream": "total",
        "entity": "",
        **{k: summary.total(k) for k in ("read", "inserted", "updated", "unchanged", "deleted", "skipped")},
    }
    numeric = ("read", "inserted", "updated", "unchanged", "deleted", "skipped")
    click.echo(render(rows + [total], ["stream", "entity", *numeric], numeric=numeric))
    for st in summary.streams:
        if st.unavailable:
            click.echo(f"\n{st.stream}: nothing to read in this account ({st.unavailable}).")
    reasons = summary.skipped_reasons
    if reasons:
        click.echo("\nSkipped:")
        for reason, count in reasons.most_common(20):
            click.echo(f"  {count:>7,}  {reason}")
    click.echo(f"\nSync run {summary.run_id}: {summary.status}.")


COMMANDS.extend([connectors, sync_command])
