"""Import of CRM exports (CSV and XLSX): every row of every file is checked first, then all load in one transaction.

A file's entity comes from ``--entity``, the mapping (its ``file`` patterns) or the file's name
(``deal_splits-2026-10.csv`` is deal splits, not deals: the entity name of the most words found in
it wins, and a name that fits two entities equally is refused). Files are loaded in ``ENTITIES`` order,
so a folder holding a CRM's whole export imports in one command: people before the deals they own,
deals before their payments. Headers that match no field are reported (an error with ``strict``);
nothing is dropped without a word.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..errors import ConfigurationError, ImportRejected
from ..metrics.target_changes import TargetChange, compare_targets, log_target_changes
from ..store import schema as s
from .cells import is_blank
from .loading import LoadCounts, UnresolvedReferences, upsert_records
from .mapping import ColumnMapping, ExportMapping, load_mapping
from .records import ENTITIES, RECORD_MODELS, entity_name
from .tables import read_table

__all__ = ["ImportSummary", "guess_entity", "import_file", "import_files", "read_table"]

Progress = Callable[[str, int, int], None]
IMPORTABLE = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")


@dataclass(frozen=True)
class ImportSummary:
    """What one imported file held and what it changed, with what it did not import (``warnings``)."""

    file: str
    entity: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    warnings: tuple[str, ...] = ()


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


# --- one file, read and checked ----------------------------------------------------------------


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header).casefold()


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "missing" or (is_blank(error.get("input")) and error["type"] != "value_error"):
        return "a value is required but the cell is empty"
    return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


@dataclass
class _File:
    """A file read and validated, ready to load."""

    path: Path
    data: bytes
    entity: str
    source: str
    records: list[Any] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    warnings: list[str] = field(default_factory=list)


def _columns(
    file: str, header: list[Any], entity: str, mapping: ColumnMapping, overrides: dict[str, str]
) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Column index and header of every field found in the file, and what the file has besides.

    A missing required field rejects the file; headers that match no field (and are not ignored by the
    mapping) and repeated headers come back as sentences for the caller to warn or refuse with.
    """
    model = RECORD_MODELS[entity]
    wanted = {**mapping.columns, **overrides}
    unknown = sorted((set(wanted) | set(mapping.defaults)) - set(model.model_fields))
    if unknown:
        raise ConfigurationError(
            f"{', '.join(map(repr, unknown))} {'is not a field' if len(unknown) == 1 else 'are not fields'} of "
            f"{entity}.",
            hint=f"the fields of {entity} are {', '.join(model.model_fields)}",
        )
    by_norm: dict[str, int] = {}
    repeated: list[str] = []
    for index, cell in enumerate(header):
        if is_blank(cell):
            continue
        if _norm(str(cell)) in by_norm:
            repeated.append(repr(str(cell)))
        else:
            by_norm[_norm(str(cell))] = index
    found = ", ".join(repr(str(h)) for h in header if not is_blank(h)) or "none"
    index_of: dict[str, int] = {}
    missing: list[str] = []
    for name, info in model.model_fields.items():
        target = wanted.get(name, name)
        at = by_norm.get(_norm(str(target)))
        if at is not None:
            index_of[name] = at
        elif name in wanted:
            missing.append(f"{target!r} (for {name})")
        elif info.is_required() and name not in mapping.defaults and name not in model.derived_fields:
            missing.append(repr(name))
    if missing:
        raise ImportRejected(
            f"{file} has no column{'' if len(missing) == 1 else 's'} {_and(missing)}; the headers found are {found}; "
            "nothing was imported.",
            hint="rename the header, or map it with --column FIELD=HEADER or a mapping file",
        )
    used = set(index_of.values())
    ignored = {_norm(h) for h in mapping.ignore}
    extra = [
        repr(str(cell))
        for index, cell in enumerate(header)
        if not is_blank(cell) and index not in used and _norm(str(cell)) not in ignored and index in by_norm.values()
    ]
    notes = []
    if extra:
        notes.append(
            f"{file}: {'column' if len(extra) == 1 else 'columns'} {_and(extra)} "
            f"{'is not a field' if len(extra) == 1 else 'are not fields'} of {entity} and "
            f"{'was' if len(extra) == 1 else 'were'} not imported (map with --column FIELD=HEADER, or list under "
            "ignore: in the mapping)"
        )
    if repeated:
        notes.append(
            f"{file}: {_and(repeated)} repeat{'s' if len(repeated) == 1 else ''} an earlier header; the first is read"
        )
    return index_of, {name: str(header[index]) for name, index in index_of.items()}, notes


def _read_file(
    path: Path,
    entity: str,
    rules: ColumnMapping,
    source: str,
    overrides: dict[str, str],
    strict: bool,
    progress: Progress | None,
) -> tuple[_File, list[str], set[int]]:
    """The file's records, or its problems (row, column, reason) and the numbers of its bad rows."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}.") from None
    rows = read_table(path, data, rules.sheet)
    if not rows or all(is_blank(c) for c in rows[0]):
        raise ImportRejected(f"{path.name} is empty or has no header row; nothing was imported.")
    index_of, headers, notes = _columns(path.name, rows[0], entity, rules, overrides)
    if strict and notes:
        raise ImportRejected(
            f"{notes[0].replace(' and was not imported', '').replace(' and were not imported', '')}; "
            "nothing was imported (--strict).",
            hint="map or ignore every column, or import without --strict",
            problems=notes,
        )
    loaded = _File(path, data, entity, source, headers=headers, warnings=notes)
    model = RECORD_MODELS[entity]
    context = {"default_tz": rules.time_zone, "stage_map": rules.stage_map, "strict_stages": True}
    problems: list[str] = []
    bad_rows: set[int] = set()
    keys: dict[tuple[Any, ...], int] = {}
    body = rows[1:]
    for offset, row in enumerate(body):
        number = offset + 2
        if all(is_blank(c) for c in row):
            continue
        loaded.rows_read += 1
        values = dict(rules.defaults)
        for name, index in index_of.items():
            cell = row[index] if index < len(row) else None
            if not is_blank(cell) or name not in rules.defaults:
                values[name] = cell
        try:
            record = model.model_validate(values, context=context)
        except ValidationError as exc:
            bad_rows.add(number)
            for error in exc.errors():
                column = str(error["loc"][0]) if error["loc"] else None
                where = f", column {headers.get(column, column)!r}" if column else ""
                problems.append(f"row {number}{where}: {_reason(error)}")
            continue
        key = record.key()
        if key in keys:
            bad_rows.add(number)
            first = model.key_fields[0]
            problems.append(
                f"row {number}, column {headers.get(first, first)!r}: {_shown(key[0]) if len(key) == 1 else key} "
                f"repeats row {keys[key]}"
            )
            continue
        keys[key] = number
        loaded.records.append(record)
        loaded.row_numbers.append(number)
        if progress and len(loaded.records) % 500 == 0:
            progress(f"validating {path.name}", offset + 1, len(body))
    return loaded, problems, bad_rows


def _reject_if(file: str, problems: list[str], bad_rows: set[int]) -> None:
    if not problems:
        return
    count = len(bad_rows)
    if len(problems) == 1:
        message = f"{file} has 1 bad row ({problems[0]}); nothing was imported."
    else:
        message = f"{file} has {count} bad row{'s' if count != 1 else ''}; nothing was imported."
    raise ImportRejected(message, hint="correct the rows listed and import the file again", problems=problems)


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

    Every row of every file is checked before anything is written (``ImportRejected`` lists every bad
    row of every file); then the files load in dependency order (``ENTITIES``) in one transaction, so a
    refund finds the deal of the deals file imported with it. ``columns`` (field → header), ``defaults``
    (field → value) and ``time_zone`` override the mapping's, for each entity that has the field.
    Targets follow the ±20 % rule: a target
    moving further from the one it replaces rejects the import unless ``override_reason`` is given.
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
    prepared: list[_File] = []
    failures: list[ImportRejected] = []
    entities = {name for _, name in plan}
    for option, given in (("--column", columns or {}), ("--default", defaults or {})):
        fitting = {f for f in given if any(f in RECORD_MODELS[e].model_fields for e in entities)}
        if len(entities) > 1 and set(given) - fitting:
            unknown = sorted(set(given) - fitting)
            raise ConfigurationError(
                f"{option} {', '.join(map(repr, unknown))} is not a field of {', '.join(sorted(entities))}.",
                hint="see kpi import --entity ENTITY --template for each entity's fields",
            )
    for path, name in plan:
        entry = _entry(rules.for_entity(name), name, defaults or {}, time_zone, len(entities) > 1)
        fields = RECORD_MODELS[name].model_fields
        mine = {k: v for k, v in (columns or {}).items() if k in fields or len(entities) == 1}
        try:
            loaded, problems, bad_rows = _read_file(
                path, name, entry, source or entry.source or "import", mine, strict, progress
            )
            _reject_if(path.name, problems, bad_rows)
        except ImportRejected as exc:
            failures.append(exc)
            continue
        prepared.append(loaded)
    _reject_all(failures, len(plan))

    reason = override_reason.strip() if override_reason and override_reason.strip() else None
    summaries: list[ImportSummary] = []
    with store.begin() as conn:
        for loaded in prepared:
            summaries.append(_load(conn, loaded, reason, progress))
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


def _load(conn: Any, loaded: _File, reason: str | None, progress: Progress | None) -> ImportSummary:
    name, file = loaded.entity, loaded.path.name
    changes = _target_changes(conn, file, loaded.records, loaded.row_numbers, reason) if name == "targets" else []
    try:
        counts: LoadCounts = upsert_records(conn, name, loaded.source, loaded.records, progress=progress)
    except UnresolvedReferences as exc:  # name the spreadsheet rows, not the record positions
        problems, bad_rows = [], set()
        for problem in exc.references:
            number = loaded.row_numbers[problem.index]
            bad_rows.add(number)
            problems.append(
                f"row {number}, column {loaded.headers.get(problem.field, problem.field)!r}: {problem.reason}"
            )
        _reject_if(file, problems, bad_rows)
        raise
    if changes:
        log_target_changes(conn, changes, reason=reason, changed_by=f"import {file}", now=datetime.now(UTC))
    conn.execute(
        s.imports.insert().values(
            file_name=file,
            sha256=hashlib.sha256(loaded.data).hexdigest(),
            entity=name,
            source=loaded.source,
            rows_read=loaded.rows_read,
            rows_inserted=counts.inserted,
            rows_updated=counts.updated,
            imported_at=datetime.now(UTC),
        )
    )
    return ImportSummary(
        str(loaded.path),
        name,
        loaded.rows_read,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        tuple(loaded.warnings),
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


def _target_changes(
    conn: Any, file: str, records: list[Any], row_numbers: list[int], reason: str | None
) -> list[TargetChange]:
    """The targets the file would write beside those they replace; beyond ±20 % needs a reason."""
    changes = compare_targets(
        conn,
        [
            TargetChange(r.subject_type, r.subject_id, r.metric, r.period, r.baseline, r.target, r.challenge)
            for r in records
        ],
    )
    if reason is None:
        too_big = [
            f"row {row_numbers[i]}: target {c.describe()} moves more than ±20 %"
            for i, c in enumerate(changes)
            if c.beyond_limit
        ]
        if too_big:
            raise ImportRejected(
                f"{file} changes {len(too_big)} target{'s' if len(too_big) > 1 else ''} by more than ±20 % "
                f"({too_big[0]}); nothing was imported.",
                hint=(
                    "keep changes within ±20 %, or import again with --override-reason saying why (the reason is "
                    "recorded)"
                ),
                problems=too_big,
            )
    return changes
