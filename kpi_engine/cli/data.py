"""``kpi import``: CRM exports (CSV, XLSX) into the store, all rows checked before any is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import ConfigurationError
from .common import Settings, pass_settings, progress_bar

__all__ = ["COMMANDS"]


@click.command("import")
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
    settings: Settings,
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
        with progress_bar(f"Importing {path.name}") as progress:
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


COMMANDS: list[click.Command] = [import_]
