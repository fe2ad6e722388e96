"""One export file streamed into the store: its header matched to fields, its rows validated and written a
batch at a time, every problem found kept with its row and column.

``FileImport`` works inside the caller's transaction; ``importing`` runs one per file and rolls everything
back when any file has a problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
from .loading import LoadCounts, RecordLoader
from .mapping import ColumnMapping
from .records import RECORD_MODELS
from .tables import open_table

__all__ = ["IMPORT_BATCH", "PROBLEMS_KEPT", "FileImport", "FileSettings", "ImportSummary"]

Progress = Callable[[str, int, int], None]


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


IMPORT_BATCH = 5_000
"""Rows validated, then written, together: memory holds one batch whatever the file's length."""
PROBLEMS_KEPT = 1_000
"""Problems listed per file; beyond them only the count of bad rows grows."""


def _blank(row: list[Any]) -> bool:
    """Whether every cell of the row is empty (for most rows, the first cell answers)."""
    return all(is_blank(c) for c in row)


class _Problems:
    """A file's problems, one sentence each (the first ``PROBLEMS_KEPT``), and the number of its bad rows."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self.bad_rows = 0
        self._last_bad = 0  # a row's problems come together: its cells, or its references, or its key
        self.repeats: list[tuple[int, str, tuple[Any, ...]]] = []  # (row, column, key) repeating an earlier batch

    def add(self, number: int, line: str) -> None:
        if number != self._last_bad:
            self.bad_rows += 1
            self._last_bad = number
        if len(self.found) < PROBLEMS_KEPT:
            self.found.append((number, line))

    @property
    def lines(self) -> list[str]:
        """The problems in the order of their rows (a batch's references are checked after its cells)."""
        return [line for _, line in sorted(self.found, key=lambda item: item[0])]

    def __bool__(self) -> bool:
        return self.bad_rows > 0


@dataclass
class FileSettings:
    """How one file is read: its entity, mapping, source and the command line's column overrides."""

    entity: str
    rules: ColumnMapping
    source: str
    overrides: dict[str, str]
    strict: bool
    reason: str | None


@dataclass
class _Batch:
    records: list[Any] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    keys: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def clear(self) -> None:
        self.records, self.numbers, self.keys = [], [], {}


class FileImport:
    """One file streamed into the store: rows validated and written a batch at a time.

    Bad rows are never written; the rows around them still are, so every problem of the file (bad
    cells, unknown references, repeated keys) is found in one pass. The caller rolls the transaction
    back when any file has a problem: the import stays all or nothing.
    """

    def __init__(self, conn: Any, path: Path, settings: FileSettings, progress: Progress | None) -> None:
        self.conn, self.path, self.settings, self.progress = conn, path, settings, progress
        self.model = RECORD_MODELS[settings.entity]
        self.problems = _Problems()
        self.headers: dict[str, str] = {}
        self._width = 0
        self.warnings: list[str] = []
        self.rows_read = 0
        self.too_big: list[str] = []  # targets moving beyond ±20 % (the first PROBLEMS_KEPT)
        self.too_big_count = 0
        self.sha256 = ""
        self.counts = LoadCounts()
        rules = settings.rules
        self._context = {
            "default_tz": rules.time_zone,
            "stage_map": rules.stage_map,
            "strict_stages": True,
            "stage_statuses": {},  # each raw stage's status, worked out once per file
        }

    def run(self) -> None:
        settings, rules = self.settings, self.settings.rules
        with open_table(self.path, rules.sheet) as table:
            self.sha256 = table.sha256
            header = next(table.rows, None)
            if header is None or all(is_blank(c) for c in header):
                raise ImportRejected(f"{self.path.name} is empty or has no header row; nothing was imported.")
            index_of, self.headers, notes = _columns(self.path.name, header, settings.entity, rules, settings.overrides)
            if settings.strict and notes:
                raise ImportRejected(
                    f"{notes[0].replace(' and was not imported', '').replace(' and were not imported', '')}; "
                    "nothing was imported (--strict).",
                    hint="map or ignore every column, or import without --strict",
                    problems=notes,
                )
            self.warnings = notes
            self._width = max(index_of.values(), default=-1) + 1
            loader = RecordLoader(self.conn, settings.entity, settings.source)
            whole = bool(loader.spec.self_refs)  # a manager may come later in the file: load it as one batch
            batch = _Batch()
            for number, row in enumerate(table.rows, start=2):
                if _blank(row):
                    continue
                self.rows_read += 1
                record = self._record(number, row, index_of)
                if record is None:
                    continue
                key = record.key()
                if key in batch.keys:
                    self._repeat(number, key, batch.keys[key])
                    continue
                batch.keys[key] = number
                batch.records.append(record)
                batch.numbers.append(number)
                if len(batch.records) >= IMPORT_BATCH and not whole:
                    self._flush(loader, batch)
                    if self.progress:
                        self.progress(f"importing {self.path.name}", table.position, table.size)
            self._flush(loader, batch)
            self.counts = loader.finish()
        if self.problems.repeats:
            self._name_first_rows()

    def _record(self, number: int, row: list[Any], index_of: dict[str, int], problems: _Problems | None = None) -> Any:
        """The row's record, or None with its problems noted."""
        defaults = self.settings.rules.defaults
        if len(row) >= self._width and not defaults:
            values = {name: row[index] for name, index in index_of.items()}
        else:
            values = dict(defaults)
            for name, index in index_of.items():
                cell = row[index] if index < len(row) else None
                if not is_blank(cell) or name not in defaults:
                    values[name] = cell
        try:
            return self.model.model_validate(values, context=self._context)
        except ValidationError as exc:
            for error in exc.errors():
                column = str(error["loc"][0]) if error["loc"] else None
                where = f", column {self.headers.get(column, column)!r}" if column else ""
                (problems or self.problems).add(number, f"row {number}{where}: {_reason(error)}")
            return None

    def _repeat(self, number: int, key: tuple[Any, ...], first: int | None) -> None:
        column = self.model.key_fields[0]
        shown = _shown(key[0]) if len(key) == 1 else str(key)
        if first is None:  # an earlier batch wrote it: its row is found once the file is read
            listed = len(self.problems.found) < PROBLEMS_KEPT
            self.problems.add(number, "")
            if listed:  # only the listed ones are named: memory stays bounded however many repeat
                self.problems.repeats.append((number, column, key))
            return
        self.problems.add(
            number, f"row {number}, column {self.headers.get(column, column)!r}: {shown} repeats row {first}"
        )

    def _flush(self, loader: RecordLoader, batch: _Batch) -> None:
        if not batch.records:
            return
        changes: list[TargetChange] = []
        if self.settings.entity == "targets":
            records = batch.records
            changes = compare_targets(
                self.conn,
                [
                    TargetChange(r.subject_type, r.subject_id, r.metric, r.period, r.baseline, r.target, r.challenge)
                    for r in records
                ],
            )
            for number, change in zip(batch.numbers, changes, strict=True):
                if change.beyond_limit:
                    self.too_big_count += 1
                    if len(self.too_big) < PROBLEMS_KEPT:
                        self.too_big.append(f"row {number}: target {change.describe()} moves more than ±20 %")
        problems, repeats = loader.load(batch.records, partial=True)
        if self.settings.entity == "targets" and changes:
            by = f"import {self.path.name}"
            log_target_changes(self.conn, changes, reason=self.settings.reason, changed_by=by, now=datetime.now(UTC))
        for problem in problems:
            number = batch.numbers[problem.index]
            column = self.headers.get(problem.field, problem.field)
            self.problems.add(number, f"row {number}, column {column!r}: {problem.reason}")
        for index in repeats:
            self._repeat(batch.numbers[index], batch.records[index].key(), None)
        batch.clear()

    def _name_first_rows(self) -> None:
        """The rows that keys repeated across batches first appeared in: the file read again, keys only."""
        wanted = {key for _, _, key in self.problems.repeats}
        first: dict[tuple[Any, ...], int] = {}
        with open_table(self.path, self.settings.rules.sheet) as table:
            header = next(table.rows)
            index_of, _, _ = _columns(
                self.path.name, header, self.settings.entity, self.settings.rules, self.settings.overrides
            )
            already_listed = _Problems()  # the first reading listed these rows' problems
            for number, row in enumerate(table.rows, start=2):
                if _blank(row):
                    continue
                record = self._record(number, row, index_of, already_listed)
                if record is not None and record.key() in wanted:
                    first.setdefault(record.key(), number)
        named = {}
        for number, column, key in self.problems.repeats:
            shown = _shown(key[0]) if len(key) == 1 else str(key)
            where = f"row {number}, column {self.headers.get(column, column)!r}"
            named[number] = f"{where}: {shown} repeats row {first.get(key, '?')}"
        found = self.problems.found
        self.problems.found = [(n, named.get(n, "?") if line == "" else line) for n, line in found]

    def summary(self) -> ImportSummary:
        return ImportSummary(
            str(self.path),
            self.settings.entity,
            self.rows_read,
            self.counts.inserted,
            self.counts.updated,
            self.counts.unchanged,
            tuple(self.warnings),
        )

    def reject_if_bad(self) -> None:
        file = self.path.name
        lines = [line for line in self.problems.lines if line]
        if self.problems:
            count = self.problems.bad_rows
            if count == 1 and len(lines) == 1:
                message = f"{file} has 1 bad row ({lines[0]}); nothing was imported."
            else:
                message = f"{file} has {count} bad row{'s' if count != 1 else ''}; nothing was imported."
            if count > len(lines):
                lines.append(f"(the first {len(lines)} problems are listed)")
            raise ImportRejected(message, hint="correct the rows listed and import the file again", problems=lines)
        if self.too_big and self.settings.reason is None:
            too_big, count = self.too_big, self.too_big_count
            if too_big:
                raise ImportRejected(
                    f"{file} changes {count} target{'s' if count > 1 else ''} by more than ±20 % "
                    f"({too_big[0]}); nothing was imported.",
                    hint=(
                        "keep changes within ±20 %, or import again with --override-reason saying why (the reason "
                        "is recorded)"
                    ),
                    problems=too_big,
                )

    def record_import(self) -> None:
        """The log of imports: what was imported, when, and what it changed."""
        self.conn.execute(
            s.imports.insert().values(
                file_name=self.path.name,
                sha256=self.sha256,
                entity=self.settings.entity,
                source=self.settings.source,
                rows_read=self.rows_read,
                rows_inserted=self.counts.inserted,
                rows_updated=self.counts.updated,
                imported_at=datetime.now(UTC),
            )
        )
