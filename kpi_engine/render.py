"""Render rows as a readable table, JSON, CSV or an XLSX workbook (for the CLI, exports and reports).

Every CSV and XLSX the project writes goes through here, so that a cell a spreadsheet would run as a
formula cannot: text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written
with a leading apostrophe (OWASP's guidance on CSV injection), unless it is a plain number such as
``-1250.00``, which a spreadsheet reads as the number it is. A customer named
``=HYPERLINK("http://x","y")`` comes out as ``'=HYPERLINK("http://x","y")``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

__all__ = ["FORMATS", "render", "spreadsheet_safe", "write_xlsx"]

FORMATS = ("table", "json", "csv")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: a leading apostrophe before a formula's first character."""
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,}"
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def render(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str = "table", *, numeric: Sequence[str] = ()
) -> str:
    """Rows of dicts as text; ``numeric`` columns are right-aligned in tables."""
    if fmt == "json":
        return json.dumps(list(rows), default=_json_default, ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: ("" if row.get(c) is None else spreadsheet_safe(str(row.get(c)))) for c in columns})
        return out.getvalue().rstrip("\n")
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(_pad(c, widths[i], c in numeric) for i, c in enumerate(columns)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append("  ".join(_pad(v, widths[i], columns[i] in numeric) for i, v in enumerate(r)).rstrip())
    return "\n".join(lines)


def _width(text: str) -> int:
    """Terminal columns of ``text``: East Asian wide and full-width characters take two, combining marks
    and zero-width characters none, everything else (half-width katakana included) one."""
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    if ch.isascii():
        return 1 if ch.isprintable() else 0
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


def write_xlsx(path: Path, sheets: Sequence[tuple[str, Sequence[dict[str, Any]], Sequence[str]]]) -> None:
    """A workbook with one sheet per ``(title, rows, columns)`` and a bold header row. Text is made
    spreadsheet-safe and stored as text; numbers stay numbers while a spreadsheet's double holds them
    exactly (15 significant digits), a longer one is written as its exact text rather than rounded;
    days and times stay dates (times in UTC: XLSX has no time zones)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, rows, columns in sheets:
        sheet = book.create_sheet(title=title[:31] or "data")
        sheet.append([spreadsheet_safe(c) for c in columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_xlsx_cell(row.get(column)) for column in columns])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text stays text, whatever it looks like
    try:
        book.save(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror or exc}.") from None


def _xlsx_cell(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        exact = len(Decimal(value).normalize().as_tuple().digits) <= 15
        return value if exact else str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return value
    return spreadsheet_safe(str(value))
