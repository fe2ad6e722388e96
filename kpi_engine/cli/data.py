"""``kpi import``: CRM exports (CSV, XLSX) into the store, all rows checked before any is written."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigurationError
from ..ingest.records import ENTITIES, RECORD_MODELS
from .common import Settings, pass_settings, progress_bar

__all__ = ["COMMANDS"]


def _entities_help() -> str:
    width = max(len(e) for e in ENTITIES)
    lines = ["\b", "Entities, in the order a folder is imported (--entity E --template shows a file of each):"]
    lines += [f"  {name.ljust(width)}  {RECORD_MODELS[name].description}" for name in ENTITIES]
    return "\n".join(lines)


def _entity(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from ..ingest.records import entity_name

    try:
        return entity_name(value)
    except ConfigurationError as exc:
        raise click.BadParameter(f"{exc.message} {exc.hint}.") from None


@click.command("import", epilog=_entities_help())
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--entity",
    callback=_entity,
    metavar="ENTITY",
    help="What the files hold (default: from the mapping or the file name); see the list below.",
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML column mapping of one entity, or of a whole export (entities: with file patterns).",
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
@click.option("--strict", is_flag=True, help="Refuse files with columns that match no field (default: a warning).")
@click.option("--template", is_flag=True, help="Print the header and an example row of --entity as CSV, and stop.")
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
    strict: bool,
    template: bool,
) -> None:
    """Import CRM exports (CSV or XLSX files, or folders of them). Every row of every file is checked
    first; a bad row rejects the whole import, and the files load together in dependency order."""
    if template:
        _print_template(entity)
        return
    if not files:
        raise ConfigurationError(
            "give the files or folders to import.", hint="e.g. kpi import exports/ --mapping my-crm.yaml"
        )
    from ..ingest.importing import import_files

    with progress_bar("Importing") as progress:
        summaries = import_files(
            settings.store(),
            files,
            entity=entity,
            mapping=mapping,
            source=source,
            columns=_pairs(columns, "--column", "amount='Deal Amount'") or None,
            defaults=_pairs(defaults, "--default", "currency=CNY") or None,
            time_zone=time_zone,
            strict=strict,
            progress=progress,
            override_reason=override_reason,
        )
    for summary in summaries:
        for warning in summary.warnings:
            click.echo(f"Warning: {warning}.", err=True)
        click.echo(
            f"{Path(summary.file).name}: {summary.rows_read} rows of {summary.entity}: {summary.inserted} inserted, "
            f"{summary.updated} updated, {summary.unchanged} unchanged."
        )


def _print_template(entity: str | None) -> None:
    from ..ingest.templates import entity_template
    from ..render import render

    if entity is None:
        raise ConfigurationError(
            "--template needs --entity.", hint=f"e.g. --entity payments (one of {', '.join(ENTITIES)})"
        )
    shown = entity_template(entity)
    row = dict(zip(shown.columns, shown.example, strict=True))
    click.echo(render([row], shown.columns, "csv"))
    for line in shown.legend():
        click.echo(f"# {line}", err=True)


def _pairs(items: tuple[str, ...], option: str, example: str) -> dict[str, str]:
    """``FIELD=VALUE`` options as a dict, refusing anything else with an example."""
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(f"{option} {item!r} is not FIELD=VALUE.", hint=f"e.g. {option} {example}")
        pairs[name.strip()] = value.strip()
    return pairs


COMMANDS: list[click.Command] = [import_]
