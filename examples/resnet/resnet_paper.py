"""The printed numbers of He et al. 2015 (arXiv 1512.03385) used by this example: numbers.csv, one row per cell,
each with where it was checked against the paper's text."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

NUMBERS_CSV = Path(__file__).resolve().parent / "numbers.csv"


@dataclass(frozen=True)
class PaperNumber:
    """One printed cell; duck-types pytest_claims.PaperValue (value, std, unit, table, row, column)."""

    table: str
    row: str
    column: str
    value: float
    std: float | None  # the ± printed beside the value, if any
    unit: str
    checked_against: str


@functools.cache
def _numbers() -> tuple[PaperNumber, ...]:
    with NUMBERS_CSV.open(newline="", encoding="utf-8") as fh:
        return tuple(PaperNumber(r["table"], r["row"], r["column"], float(r["value"]),
                                 float(r["std"]) if r["std"] else None, r["unit"], r["checked_against"])
                     for r in csv.DictReader(fh))


def number(table: str, row: str, column: str) -> PaperNumber:
    found = [n for n in _numbers() if (n.table, n.row, n.column) == (table, row, column)]
    if len(found) != 1:
        rows = sorted({f"{n.row} / {n.column}" for n in _numbers() if n.table == table})
        raise LookupError(f"{NUMBERS_CSV.name} has {len(found)} cells {table} / {row} / {column}; "
                          f"{table} has: {', '.join(rows) or '(no such table)'}")
    return found[0]
