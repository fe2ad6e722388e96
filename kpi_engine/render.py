"""Render rows as a readable table, JSON or CSV (for the CLI and for reports)."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

__all__ = ["FORMATS", "render"]

FORMATS = ("table", "json", "csv")


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
            writer.writerow({c: ("" if row.get(c) is None else str(row.get(c))) for c in columns})
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
