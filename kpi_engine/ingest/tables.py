"""Reading an export's rows as a stream: CSV (UTF-8 or GB18030, comma, semicolon or tab) and XLSX, cells kept exact."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfigurationError, ImportRejected

__all__ = ["Table", "open_table", "read_table"]


def _cell(value: Any) -> Any:
    """A spreadsheet cell as an exact value: binary floats become the decimal they display."""
    if isinstance(value, float):
        number = Decimal(repr(value))
        return int(number) if number == number.to_integral_value() and abs(number) < 2**53 else number
    if isinstance(value, str):
        return value.strip()
    return value


_CHUNK = 1 << 20


def _encoding(path: Path) -> tuple[str, str]:
    """The file's text encoding (UTF-8, else GB18030) and its SHA-256, read once in chunks (constant memory)."""
    digest = hashlib.sha256()
    decoders = {name: codecs.getincrementaldecoder(name)() for name in ("utf-8-sig", "gb18030")}
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                for name, decoder in list(decoders.items()):
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        del decoders[name]
        for name, decoder in list(decoders.items()):
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                del decoders[name]
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}.") from None
    if not decoders:
        raise ImportRejected(
            f"{path.name} is neither UTF-8 nor GB18030 text; nothing was imported.", hint="save the export as CSV UTF-8"
        )
    return next(iter(decoders)), digest.hexdigest()


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read from it (how far a streamed import has come)."""

    def __init__(self, handle: io.BufferedReader) -> None:
        self._handle = handle
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = self._handle.readinto(buffer)
        self.done += size or 0
        return size or 0


@dataclass
class Table:
    """An export opened for reading: its SHA-256, its size, and its rows one at a time (header first).

    ``position`` says how far the reading has come, in the unit of ``size`` (bytes of a CSV, rows of a
    sheet), for a progress bar.
    """

    name: str
    sha256: str
    size: int
    rows: Iterator[list[Any]]
    _where: Callable[[], int]

    @property
    def position(self) -> int:
        return self._where()


def _csv_rows(name: str, text: TextIO) -> Iterator[list[Any]]:
    try:
        first = text.readline()
        delimiter = max((",", ";", "\t"), key=first.count)
        lines = itertools.chain([first], text) if first else iter(())
        for row in csv.reader(lines, delimiter=delimiter):
            yield [v.strip() for v in row]
    except csv.Error as exc:
        raise ImportRejected(f"{name} is not a readable CSV file ({exc}); nothing was imported.") from None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def open_table(path: Path, sheet: str | None = None) -> Iterator[Table]:
    """A CSV or XLSX export read as a stream of rows, cells as str, int, Decimal or datetime.

    Memory does not grow with the file: a CSV is decoded and parsed as it is read, a workbook read in
    openpyxl's read-only mode.
    """
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        encoding, sha256 = _encoding(path)
        with path.open("rb") as raw:
            counting = _Counting(raw)
            text = io.TextIOWrapper(io.BufferedReader(counting, _CHUNK), encoding=encoding, newline="")
            size = path.stat().st_size
            yield Table(path.name, sha256, size, _csv_rows(path.name, text), lambda: counting.done)
        return
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            sha256 = _file_sha256(path)
            book = load_workbook(path, read_only=True, data_only=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}.") from None
        except Exception as exc:  # noqa: BLE001 - openpyxl and zipfile raise many kinds for a bad file
            message = f"{path.name} is not a readable XLSX workbook ({exc}); nothing was imported."
            raise ImportRejected(message) from None
        try:
            if sheet is not None and sheet not in book.sheetnames:
                raise ConfigurationError(
                    f"{path.name} has no sheet {sheet!r}; its sheets are {', '.join(book.sheetnames)}."
                )
            worksheet = book[sheet] if sheet is not None else book.worksheets[0]
            read = 0

            def rows() -> Iterator[list[Any]]:
                nonlocal read
                for row in worksheet.iter_rows(values_only=True):
                    read += 1
                    yield [_cell(v) for v in row]

            yield Table(path.name, sha256, worksheet.max_row or 0, rows(), lambda: read)
        finally:
            book.close()
        return
    raise ConfigurationError(
        f"{path.name} is neither a .csv nor a .xlsx file.", hint="save .xls files as .xlsx or CSV UTF-8"
    )


def read_table(path: Path, sheet: str | None = None) -> list[list[Any]]:
    """Every row of a CSV or XLSX file (header first), for small files; imports use ``open_table``."""
    with open_table(path, sheet) as table:
        return list(table.rows)
