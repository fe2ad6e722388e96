"""Writing rows to an XLSX workbook that is safe to open: no cell a spreadsheet would run as a formula.

A text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is what spreadsheets read as a
formula (OWASP's CSV injection); openpyxl stores a text starting with ``=`` as one. Such a text is written
with a leading apostrophe, as the CSV export does. Numbers stay numbers when a spreadsheet's double holds
them exactly (15 significant digits); a longer amount is written as its exact text rather than rounded.
Days and times stay dates (times in UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["FORMULA_STARTS", "safe_text", "write_xlsx"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """``text``, with a leading apostrophe when a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        # A spreadsheet number is a double: exact up to 15 significant digits (what the importer reads back).
        return value if len(Decimal(value).normalize().as_tuple().digits) <= 15 else str(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # shown in UTC: XLSX has no time zones
    if isinstance(value, date):
        return value
    return safe_text(str(value))


def write_xlsx(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "data") -> None:
    """``rows`` as one sheet named ``title`` with ``columns`` as its header."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "data")
    sheet.append([safe_text(c) for c in columns])
    for row in rows:
        sheet.append([_cell(row.get(c)) for c in columns])
    book.save(path)
