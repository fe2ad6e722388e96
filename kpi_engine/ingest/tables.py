"""Reading an export's rows: CSV (UTF-8 or GB18030, comma, semicolon or tab) and XLSX, cells kept exact."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, ImportRejected

__all__ = ["read_table"]


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
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(data, path.name)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    raise ConfigurationError(
        f"{path.name} is neither a .csv nor a .xlsx file.", hint="save .xls files as .xlsx or CSV UTF-8"
    )
