"""Import of CRM exports (CSV and XLSX): every file streamed into one transaction, kept whole or not at all.

A file's entity comes from ``--entity``, the mapping (its ``file`` patterns) or the file's name
(``deal_splits-2026-10.csv`` is deal splits, not deals: the entity name of the most words found in
it wins, and a name that fits two entities equally is refused). Files are loaded in ``ENTITIES`` order,
so a folder holding a CRM's whole export imports in one command: people before the deals they own,
deals before their payments. Headers that match no field are reported (an error with ``strict``);
nothing is dropped without a word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigurationError, ImportRejected
from .file_import import FileImport, FileSettings, ImportSummary
from .mapping import ColumnMapping, ExportMapping, load_mapping
from .records import ENTITIES, RECORD_MODELS, entity_name
from .tables import read_table

__all__ = ["ImportSummary", "guess_entity", "import_file", "import_files", "read_table"]

Progress = Callable[[str, int, int], None]
IMPORTABLE = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")


# --- which entity a file holds ---------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff]+")


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    return [_singular(w) for w in re.findall(r"[a-z]+", text.casefold())]


def _name_index() -> list[tuple[str, list[str] | str]]:
    """(entity, words or a Chinese name) for every name of every entity."""
    index: list[tuple[str, list[str] | str]] = []
    for entity, model in RECORD_MODELS.items():
        for name in (entity, *model.aliases):
            if _CJK.search(name):
                index.append((entity, name))
            else:
                index.append((entity, _words(name.replace("_", " "))))
    return index


_NAMES = _name_index()


def guess_entity(path: Path) -> str:
    """The entity a file holds, from its name (``deals-2026-10.csv`` → ``deals``, ``回款.xlsx`` → ``payments``)."""
    stem = path.stem
    words = _words(stem)
    best: dict[str, int] = {}
    for entity, name in _NAMES:
        if isinstance(name, str):
            found = name in stem
            score = (len(name) + 1) // 2  # about a word per two characters
        else:
            found = any(words[i : i + len(name)] == name for i in range(len(words) - len(name) + 1))
            score = len(name)
        if found:
            best[entity] = max(best.get(entity, 0), score)
    if best:
        top = max(best.values())
        winners = sorted((e for e, v in best.items() if v == top), key=ENTITIES.index)
        if len(winners) == 1:
            return winners[0]
        raise ConfigurationError(
            f"the name {path.name} fits {' and '.join(winners)} alike.",
            hint=f"pass --entity {winners[0]} (or another entity), or name the file in the mapping",
        )
    raise ConfigurationError(
        f"cannot tell from the name {path.name} what the file holds.",
        hint=f"pass --entity (one of {', '.join(ENTITIES)}), or set file patterns in the mapping",
    )


# --- importing ----------------------------------------------------------------------------------


def _export_mapping(mapping: ColumnMapping | ExportMapping | str | Path | None) -> ExportMapping:
    if mapping is None:
        return ExportMapping()
    if isinstance(mapping, ExportMapping):
        return mapping
    if isinstance(mapping, ColumnMapping):
        return ExportMapping.of(mapping)
    return load_mapping(mapping)


def _files(paths: Sequence[str | Path]) -> list[Path]:
    """The files to import: each path given, and the CSV and XLSX files of each folder given."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in IMPORTABLE and not p.name.startswith((".", "~$"))
            )
            if not inside:
                raise ConfigurationError(f"the folder {path} holds no CSV or XLSX file.")
            found.extend(inside)
        else:
            found.append(path)
    return found


def import_files(
    store: Any,
    paths: Sequence[str | Path],
    *,
    entity: str | None = None,
    mapping: ColumnMapping | ExportMapping | str | Path | None = None,
    source: str | None = None,
    columns: dict[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
    time_zone: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    override_reason: str | None = None,
) -> list[ImportSummary]:
    """Import CSV and XLSX exports (files, or folders of them) whole, or nothing at all.

    The files are streamed in dependency order (``ENTITIES``) into one transaction, a batch of rows
    at a time (memory does not grow with a file's length), so a refund finds the deal of the deals file
    imported with it. Every row of every file is checked; with any problem (``ImportRejected`` lists the
    bad rows of every file) the transaction is rolled back and nothing is kept. ``columns`` (field →
    header), ``defaults`` (field → value) and ``time_zone`` override the mapping's, for each entity that
    has the field. Targets follow the ±20 % rule: a target moving further from the one it replaces
    rejects the import unless ``override_reason`` is given.
    """
    rules = _export_mapping(mapping)
    forced = entity_name(entity) if entity else None
    named = [n for n in rules.entities if n]
    if forced and len(named) == 1 and named[0] != forced and not rules.entities[named[0]].file:
        raise ConfigurationError(f"the mapping is for {named[0]} but the files were imported as {forced}.")
    plan: list[tuple[Path, str]] = []
    for path in _files(paths):
        name = forced or rules.entity_of(path) or guess_entity(path)
        plan.append((path, name))
    plan.sort(key=lambda item: ENTITIES.index(item[1]))  # stable: files of one entity keep their order
    entities = {name for _, name in plan}
    for option, given in (("--column", columns or {}), ("--default", defaults or {})):
        fitting = {f for f in given if any(f in RECORD_MODELS[e].model_fields for e in entities)}
        if len(entities) > 1 and set(given) - fitting:
            unknown = sorted(set(given) - fitting)
            raise ConfigurationError(
                f"{option} {', '.join(map(repr, unknown))} is not a field of {', '.join(sorted(entities))}.",
                hint="see kpi import --entity ENTITY --template for each entity's fields",
            )
    reason = override_reason.strip() if override_reason and override_reason.strip() else None
    settings: list[tuple[Path, FileSettings]] = []
    for path, name in plan:
        entry = _entry(rules.for_entity(name), name, defaults or {}, time_zone, len(entities) > 1)
        fields = RECORD_MODELS[name].model_fields
        mine = {k: v for k, v in (columns or {}).items() if k in fields or len(entities) == 1}
        settings.append((path, FileSettings(name, entry, source or entry.source or "import", mine, strict, reason)))
    failures: list[ImportRejected] = []
    summaries: list[ImportSummary] = []
    with store.begin() as conn:
        for path, setting in settings:
            streamed = FileImport(conn, path, setting, progress)
            try:
                streamed.run()
                streamed.reject_if_bad()
            except ImportRejected as exc:
                failures.append(exc)
                continue
            streamed.record_import()
            summaries.append(streamed.summary())
        _reject_all(failures, len(plan))  # raised inside the transaction: nothing is kept
    return summaries


def _entry(
    entry: ColumnMapping, name: str, defaults: dict[str, Any], time_zone: str | None, several: bool
) -> ColumnMapping:
    """The mapping of one entity with the command line's defaults and time zone on top."""
    if not defaults and not time_zone:
        return entry
    fields = RECORD_MODELS[name].model_fields
    mine = {k: v for k, v in defaults.items() if k in fields or not several}
    update: dict[str, Any] = {"defaults": {**entry.defaults, **mine}}
    if time_zone:
        update["time_zone"] = time_zone
    try:
        return ColumnMapping.model_validate({**entry.model_dump(), **update, "entity": name})
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ConfigurationError(f"{reason}.") from None


def _reject_all(failures: list[ImportRejected], files: int) -> None:
    if not failures:
        return
    if len(failures) == 1:
        raise failures[0]
    problems = [f"{f.message.removesuffix(' nothing was imported.').rstrip(';')}" for f in failures]
    for failure in failures:
        problems.extend(f"  {p}" for p in getattr(failure, "problems", [])[:20])
    raise ImportRejected(
        f"{len(failures)} of {files} files cannot be imported; nothing was imported.",
        hint="correct the files listed and import them again",
        problems=problems,
    )


def import_file(
    store: Any,
    path: str | Path,
    *,
    entity: str | None = None,
    mapping: ColumnMapping | ExportMapping | str | Path | None = None,
    source: str | None = None,
    columns: dict[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
    time_zone: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    override_reason: str | None = None,
) -> ImportSummary:
    """Import one CSV or XLSX export whole, or nothing at all (``ImportRejected`` lists every bad row).

    Targets follow the ±20 % rule: a target moving further from the one it replaces rejects the
    file unless ``override_reason`` is given; every new or changed target is logged with the reason.
    """
    (summary,) = import_files(
        store,
        [path],
        entity=entity,
        mapping=mapping,
        source=source,
        columns=columns,
        defaults=defaults,
        time_zone=time_zone,
        strict=strict,
        progress=progress,
        override_reason=override_reason,
    )
    return summary
