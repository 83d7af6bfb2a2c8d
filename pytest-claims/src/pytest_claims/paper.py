"""A paper's printed numbers as data: a CSV with one row per printed cell, read into values a check takes as ``paper``.

Columns: ``table``, ``row``, ``column``, ``value`` (required; the value as printed, e.g. ``0.27``), ``std`` and
``unit`` (optional: the ± printed beside the value, the unit); any other column (where the number was checked
against the paper, a note) is kept in ``provenance``. The number of decimals printed is read from the value's text
(``0.27`` → 2, ``19.4`` → 1, ``18`` → 0), so a tolerance with a ``digits`` part accepts "what rounds to the printed
number" cell by cell. ``[tool.claims] numbers = "numbers.csv"`` names the file for the ``paper_numbers`` fixture.

    numbers = load_numbers("numbers.csv")
    claim_check.value(measured, paper=numbers.number("Table 1", "ViT-Base", "Layers"), tolerance="printed", ...)
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Numbers", "NumbersError", "PaperNumber", "load_numbers", "read_rows"]

REQUIRED = ("table", "row", "column", "value")
OPTIONAL = ("std", "unit")


class NumbersError(LookupError):
    """A numbers file is malformed, or a cell is not in it; the message says which and what is there."""

    def __str__(self) -> str:  # LookupError would repr() a single argument
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class PaperNumber:
    """One printed cell: what ``pytest_claims.PaperValue.of`` takes, with the decimals printed and provenance."""

    table: str
    row: str
    column: str
    value: float
    std: float | None
    unit: str
    decimals: int
    provenance: Mapping[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"{self.table} / {self.row} / {self.column}"


def decimals_of(text: str) -> int:
    """Decimal places of a number as printed: ``0.270`` → 3, ``18`` → 0, ``1.5e-3`` → 4."""
    mantissa, _, exponent = text.strip().lower().partition("e")
    places = len(mantissa.partition(".")[2])
    return max(0, places - int(exponent or 0))


def _number(text: str, what: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise NumbersError(f"{where}: {what} {text!r} is not a number") from None


class Numbers:
    """The cells of one numbers file, looked up by (table, row, column)."""

    def __init__(self, path: Path, cells: tuple[PaperNumber, ...]) -> None:
        self.path = path
        self._cells = cells
        self._index: dict[tuple[str, str, str], PaperNumber] = {}
        for cell in cells:
            key = (cell.table, cell.row, cell.column)
            if key in self._index:
                raise NumbersError(f"{path}: the cell {cell.source} is listed twice")
            self._index[key] = cell

    def __iter__(self) -> Iterator[PaperNumber]:
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)

    def number(self, table: str, row: str, column: str) -> PaperNumber:
        """The cell; an unknown one is an error naming the closest cells of the file."""
        found = self._index.get((table, row, column))
        if found is not None:
            return found
        wanted = f"{table} / {row} / {column}"
        close = difflib.get_close_matches(wanted, [c.source for c in self._cells], n=3, cutoff=0.5)
        hint = f"; closest: {'; '.join(close)}" if close else f"; tables: {', '.join(sorted({c.table for c in self}))}"
        raise NumbersError(f"{self.path.name} has no cell {wanted}{hint}")


def read_rows(path: str | Path, columns: Sequence[str] | None = None) -> list[dict[str, str]]:
    """The rows of a UTF-8 CSV file with a header line, as dicts; ``columns``: the header it must have, in order.

    Every error names the file and, where there is one, the line a person must fix (``numbers.csv:3: byte 0xff is
    not UTF-8``), not a byte offset or a bare ``csv.Error``."""
    path = Path(path)
    header, rows = _read(path)
    if columns is not None and tuple(header) != tuple(columns):
        raise NumbersError(f"{path}: header is {header}, expected {list(columns)}")
    return rows


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV file (``read_rows``' errors)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NumbersError(f"cannot read {path}: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NumbersError(f"{path}:{line}: byte {data[exc.start]:#04x} is not UTF-8; save the file as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return list(reader.fieldnames or []), list(reader)
    except csv.Error as exc:
        # the csv reader's own count: DictReader.line_num is the last row it returned, one line short here
        raise NumbersError(f"{path}:{reader.reader.line_num}: not valid CSV: {exc}") from None


def load_numbers(path: str | Path) -> Numbers:
    """Read a numbers CSV (columns above). Blank std and unit are None and ""."""
    path = Path(path)
    columns, rows = _read(path)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise NumbersError(f"{path} lacks the column(s) {missing}; a numbers file has {', '.join(REQUIRED)} "
                           f"(and optionally {', '.join(OPTIONAL)}, then any provenance columns)")
    cells = []
    for line, row in enumerate(rows, start=2):
        where = f"{path.name}, line {line}"
        text, std = (row["value"] or "").strip(), (row.get("std") or "").strip()
        if not all((row[c] or "").strip() for c in ("table", "row", "column")) or not text:
            raise NumbersError(f"{where}: table, row, column and value must all be given")
        cells.append(PaperNumber(
            table=row["table"].strip(), row=row["row"].strip(), column=row["column"].strip(),
            value=_number(text, "value", where), std=_number(std, "std", where) if std else None,
            unit=(row.get("unit") or "").strip(), decimals=decimals_of(text),
            provenance={k: v for k, v in row.items() if k not in (*REQUIRED, *OPTIONAL) and k and v}))
    return Numbers(path, tuple(cells))
