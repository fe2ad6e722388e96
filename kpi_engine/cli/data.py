"""``kpi import`` (CRM exports into the store, all rows checked before any is written) and ``kpi data …``
(what is stored: the rows of any entity, and a summary of them all)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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


def _source(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from ..ingest.mapping import check_source

    try:
        return check_source(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}.") from None


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
@click.option(
    "--source",
    callback=_source,
    help="Name of the system the export came from (default: the mapping's, else 'import').",
)
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


@click.group()
def data() -> None:
    """What is stored: the rows of any entity as imported, and a summary of every entity."""


@data.command("list")
@click.argument("entity", callback=_entity)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Keep rows whose FIELD is (=), is not (!=), is at least (>=, >, <=, <) or contains (~) VALUE; repeatable.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table", show_default=True
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (xlsx needs one).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows (default: all).")
@click.option("--time-zone", help="Show time stamps (and read --filter times) in this zone (default: UTC).")
@pass_settings
def data_list(
    settings: Settings,
    entity: str,
    filters: tuple[str, ...],
    fmt: str,
    output: Path | None,
    limit: int | None,
    time_zone: str | None,
) -> None:
    """The stored rows of ENTITY (targets, people, deals, payments …), with references by the CRM's ids."""
    from ..ingest.stored import stored_rows
    from ..render import render

    with settings.store().connect() as conn:
        found = stored_rows(conn, entity, filters, limit=limit, time_zone=time_zone)
    if fmt == "xlsx":
        from ..render import write_xlsx

        if output is None:
            raise ConfigurationError("--format xlsx needs --output FILE.xlsx.")
        write_xlsx(output, [(found.entity, found.rows, found.columns)])
        click.echo(f"{len(found.rows)} {found.entity} rows written to {output}.")
        return
    numeric = [c for c in found.columns if found.rows and all(_is_number(r.get(c)) for r in found.rows)]
    rows = found.rows if fmt == "json" else [{k: _shown(v) for k, v in r.items()} for r in found.rows]
    text = render(rows, found.columns, fmt, numeric=numeric)
    if output is not None:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot write {output}: {exc.strerror or exc}.") from None
        click.echo(f"{len(found.rows)} {found.entity} rows written to {output}.")
        return
    click.echo(text)
    if fmt == "table":
        more = f" of {found.total} (--limit)" if found.total > len(found.rows) else ""
        click.echo(f"\n{len(found.rows)}{more} {found.entity} rows.")


@data.command("summary")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@pass_settings
def data_summary(settings: Settings, fmt: str) -> None:
    """Rows per entity and source, the span of time they are about, the last import and the last syncs."""
    from ..ingest.stored import entity_summaries, sync_summaries
    from ..render import render

    with settings.store().connect() as conn:
        entities = entity_summaries(conn)
        syncs = sync_summaries(conn)
    rows = [
        {
            "entity": e.entity,
            "source": e.source,
            "rows": e.rows,
            "deleted": e.deleted,
            "from": e.first,
            "to": e.last,
            "last_import": e.last_import,
        }
        for e in entities
    ]
    if fmt != "json":
        rows = [{k: _shown(v) for k, v in r.items()} for r in rows]
    if fmt != "table":
        click.echo(render(rows, list(rows[0]) if rows else ["entity"], fmt))
        return
    if not rows:
        click.echo("Nothing is stored yet: kpi import FILES (see kpi import --help) or kpi sync CONNECTOR.")
        return
    click.echo(render(rows, list(rows[0]), numeric=["rows", "deleted"]))
    if syncs:
        click.echo("\nLast syncs:")
        shown = [{k: _shown(v) for k, v in r.items()} for r in syncs]
        click.echo(render(shown, list(syncs[0]), numeric=["records", "inserted", "updated"]))


def _shown(value: Any) -> Any:
    """A time stamp to the second with its offset (``2026-10-15 16:00:00+08:00``); anything else as it is."""
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, Decimal)) and not isinstance(value, bool))


COMMANDS: list[click.Command] = [import_, data]
