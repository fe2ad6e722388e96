"""Import of CRM exports (CSV and XLSX): every row is validated first, then all load in one transaction."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..errors import ConfigurationError, ImportRejected
from ..metrics.target_changes import TargetChange, compare_targets, log_target_changes
from ..store import schema as s
from .cells import is_blank
from .loading import LoadCounts, UnresolvedReferences, upsert_records
from .mapping import ColumnMapping, load_mapping
from .records import RECORD_MODELS, entity_name

__all__ = ["ImportSummary", "guess_entity", "import_file", "read_table"]

Progress = Callable[[str, int, int], None]

_NAME_HINTS = (
    ("deals", ("deal", "opportunit", "商机", "订单", "合同")),
    ("activities", ("activit", "visit", "call", "活动", "拜访", "跟进")),
    ("leads", ("lead", "线索")),
    ("targets", ("target", "quota", "目标", "指标")),
    ("people", ("people", "person", "user", "owner", "employee", "staff", "人员", "员工", "用户")),
)


@dataclass(frozen=True)
class ImportSummary:
    """What one imported file held and what it changed."""

    file: str
    entity: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int


def guess_entity(path: Path) -> str:
    """The entity a file holds, from its name (``deals-2026-10.csv`` → ``deals``)."""
    stem = path.stem.lower()
    for entity, hints in _NAME_HINTS:
        if any(hint in stem for hint in hints):
            return entity
    raise ConfigurationError(
        f"cannot tell from the name {path.name} what the file holds.",
        hint="pass --entity people, deals, activities, leads or targets (or set entity in the mapping)",
    )


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header).casefold()


def _cell(value: Any) -> Any:
    """A spreadsheet cell as an exact value: binary floats become the decimal they display."""
    if isinstance(value, float):
        number = Decimal(repr(value))
        return int(number) if number == number.to_integral_value() and abs(number) < 2**53 else number
    if isinstance(value, str):
        return value.strip()
    return value


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected(
        f"{name} is neither UTF-8 nor GB18030 text; nothing was imported.", hint="save the export as CSV UTF-8"
    )


def _read_csv(data: bytes, name: str) -> list[list[Any]]:
    text = _decode(data, name)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        return [[_cell(v) for v in row] for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise ImportRejected(f"{name} is not a readable CSV file ({exc}); nothing was imported.") from None


def _read_xlsx(path: Path, sheet: str | None) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl and zipfile raise many kinds for a bad file
        raise ImportRejected(f"{path.name} is not a readable XLSX workbook ({exc}); nothing was imported.") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise ConfigurationError(
                f"{path.name} has no sheet {sheet!r}; its sheets are {', '.join(book.sheetnames)}."
            )
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        return [[_cell(v) for v in row] for row in worksheet.iter_rows(values_only=True)]
    finally:
        book.close()


def read_table(path: Path, data: bytes, sheet: str | None = None) -> list[list[Any]]:
    """The rows of a CSV or XLSX file (header first), cells as str, int, Decimal or datetime."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(data, path.name)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    raise ConfigurationError(
        f"{path.name} is neither a .csv nor a .xlsx file.", hint="save .xls files as .xlsx or CSV UTF-8"
    )


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _resolve_mapping(mapping: ColumnMapping | str | Path | None) -> ColumnMapping:
    if mapping is None:
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    return load_mapping(mapping)


def _columns(
    file: str, header: list[Any], entity: str, mapping: ColumnMapping, overrides: dict[str, str]
) -> tuple[dict[str, int], dict[str, str]]:
    """Column index and header of every field found in the file; missing required fields are rejected."""
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
    for index, cell in enumerate(header):
        if not is_blank(cell):
            by_norm.setdefault(_norm(str(cell)), index)
    found = ", ".join(repr(str(h)) for h in header if not is_blank(h)) or "none"
    index_of: dict[str, int] = {}
    missing: list[str] = []
    for field, info in model.model_fields.items():
        target = wanted.get(field, field)
        at = by_norm.get(_norm(str(target)))
        if at is not None:
            index_of[field] = at
        elif field in wanted:
            missing.append(f"{target!r} (for {field})")
        elif info.is_required() and field not in mapping.defaults and field not in model.derived_fields:
            missing.append(repr(field))
    if missing:
        raise ImportRejected(
            f"{file} has no column{'' if len(missing) == 1 else 's'} {_and(missing)}; the headers found are {found}; "
            "nothing was imported.",
            hint="rename the header, or map it with --column FIELD=HEADER or a mapping file",
        )
    return index_of, {field: str(header[index]) for field, index in index_of.items()}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "missing" or (is_blank(error.get("input")) and error["type"] != "value_error"):
        return "a value is required but the cell is empty"
    return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def import_file(
    store: Any,
    path: str | Path,
    *,
    entity: str | None = None,
    mapping: ColumnMapping | str | Path | None = None,
    source: str | None = None,
    columns: dict[str, str] | None = None,
    progress: Progress | None = None,
    override_reason: str | None = None,
) -> ImportSummary:
    """Import one CSV or XLSX export whole, or nothing at all (``ImportRejected`` lists every bad row).

    Targets follow the ±20 % rule: a target moving further from the one it replaces rejects the
    file unless ``override_reason`` is given; every new or changed target is logged with the reason.
    """
    file = Path(path)
    rules = _resolve_mapping(mapping)
    name = entity_name(entity) if entity else rules.entity or guess_entity(file)
    if entity and rules.entity and rules.entity != name:
        raise ConfigurationError(f"the mapping is for {rules.entity} but the file was imported as {name}.")
    source_name = source or rules.source or "import"
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {file}: {exc.strerror}.") from None

    rows = read_table(file, data, rules.sheet)
    if not rows or all(is_blank(c) for c in rows[0]):
        raise ImportRejected(f"{file.name} is empty or has no header row; nothing was imported.")
    index_of, headers = _columns(file.name, rows[0], name, rules, columns or {})
    model = RECORD_MODELS[name]
    context = {"default_tz": rules.time_zone, "stage_map": rules.stage_map}

    problems: list[str] = []
    bad_rows: set[int] = set()
    records: list[Any] = []
    row_numbers: list[int] = []
    keys: dict[tuple[Any, ...], int] = {}
    body = rows[1:]
    for offset, row in enumerate(body):
        number = offset + 2
        if all(is_blank(c) for c in row):
            continue
        values = dict(rules.defaults)
        for field, index in index_of.items():
            cell = row[index] if index < len(row) else None
            if not is_blank(cell) or field not in rules.defaults:
                values[field] = cell
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
            field = model.key_fields[0]
            problems.append(
                f"row {number}, column {headers.get(field, field)!r}: {_shown(key[0]) if len(key) == 1 else key} "
                f"repeats row {keys[key]}"
            )
            continue
        keys[key] = number
        records.append(record)
        row_numbers.append(number)
        if progress and len(records) % 500 == 0:
            progress("validating", offset + 1, len(body))
    rows_read = sum(1 for row in body if not all(is_blank(c) for c in row))
    _reject_if(file.name, problems, bad_rows)

    reason = override_reason.strip() if override_reason and override_reason.strip() else None
    with store.begin() as conn:
        changes = _target_changes(conn, file.name, records, row_numbers, reason) if name == "targets" else []
        try:
            counts: LoadCounts = upsert_records(conn, name, source_name, records, progress=progress)
        except UnresolvedReferences as exc:  # name the spreadsheet rows, not the record positions
            for problem in exc.references:
                number = row_numbers[problem.index]
                bad_rows.add(number)
                problems.append(f"row {number}, column {headers.get(problem.field, problem.field)!r}: {problem.reason}")
            _reject_if(file.name, problems, bad_rows)
        if changes:
            log_target_changes(conn, changes, reason=reason, changed_by=f"import {file.name}", now=datetime.now(UTC))
        conn.execute(
            s.imports.insert().values(
                file_name=file.name,
                sha256=hashlib.sha256(data).hexdigest(),
                entity=name,
                source=source_name,
                rows_read=rows_read,
                rows_inserted=counts.inserted,
                rows_updated=counts.updated,
                imported_at=datetime.now(UTC),
            )
        )
    return ImportSummary(str(file), name, rows_read, counts.inserted, counts.updated, counts.unchanged)


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


def _reject_if(file: str, problems: list[str], bad_rows: set[int]) -> None:
    if not problems:
        return
    count = len(bad_rows)
    if len(problems) == 1:
        message = f"{file} has 1 bad row ({problems[0]}); nothing was imported."
    else:
        message = f"{file} has {count} bad row{'s' if count != 1 else ''}; nothing was imported."
    raise ImportRejected(message, hint="correct the rows listed and import the file again", problems=problems)
