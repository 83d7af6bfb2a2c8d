"""Independent measurements of the paper's cells and of the registry's checkpoints (``references.csv``).

Not the paper: numbers others measured on the same models, each with where it is published (repository, file,
commit) and the setting it was measured in — the official repository's re-runs of the paper's fine-tunes
(google-research/vision_transformer README) and timm's ImageNet / ReaL top-1 of the same released
checkpoints under timm's own preprocessing (huggingface/pytorch-image-models results CSVs). A row stands
beside a printed cell (``table, row, column``; empty where the paper prints none, e.g. a 224-px fine-tune) and,
where it measured one registry checkpoint, names it (``checkpoint``). Reports show them beside the paper's
value; value checks are still judged against the paper; the harness check (claims/test_harness_references.py)
judges the suite against timm's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from paper.printed import PaperDataError, _float, _read_csv

HERE = Path(__file__).resolve().parent
REFERENCES_CSV = HERE / "references.csv"
REFERENCE_COLUMNS = ("table", "row", "column", "checkpoint", "dataset", "metric", "value", "unit", "source",
                     "repository", "file", "commit", "setting", "note")


@dataclass(frozen=True)
class Reference:
    """One independent measurement, with its provenance and setting."""

    table: str
    row: str
    column: str
    checkpoint: str
    dataset: str
    metric: str
    value: float
    unit: str
    source: str
    repository: str
    file: str
    commit: str
    setting: str
    note: str

    @property
    def cell(self) -> tuple[str, str, str]:
        return (self.table, self.row, self.column)

    def to_record(self) -> dict[str, Any]:
        """What a check record carries beside the paper's value (pytest_claims ``references=``)."""
        return {"source": self.source, "value": self.value, "unit": self.unit, "setting": self.setting,
                "repository": self.repository, "file": self.file, "commit": self.commit,
                "checkpoint": self.checkpoint, "dataset": self.dataset}


@functools.cache
def _all() -> tuple[Reference, ...]:
    out = []
    for line, raw in enumerate(_read_csv(REFERENCES_CSV, REFERENCE_COLUMNS), start=2):
        where = f"{REFERENCES_CSV.name}:{line}"
        missing = [k for k in ("dataset", "metric", "source", "repository", "file", "commit", "setting") if not raw[k]]
        if missing or not (raw["checkpoint"] or raw["table"]):
            raise PaperDataError(f"{where}: a reference needs {missing or 'a paper cell or a checkpoint'}")
        if bool(raw["table"]) != bool(raw["row"]) or bool(raw["table"]) != bool(raw["column"]):
            raise PaperDataError(f"{where}: a paper cell is table, row and column together")
        out.append(Reference(**{**raw, "value": _float(raw["value"], "value", where)}))
    return tuple(out)


FIELD_NAMES = tuple(f.name for f in fields(Reference))


def references(**filters: object) -> list[Reference]:
    """Every reference whose fields equal the filters, in file order; ``references(number=n)`` — those beside
    the printed cell of paper number `n` (anything with table, row, column)."""
    number = filters.pop("number", None)
    unknown = sorted(set(filters) - set(FIELD_NAMES))
    if unknown:
        raise TypeError(f"unknown filter(s) {unknown}; filter on number= or any of {list(FIELD_NAMES)}")
    found = [r for r in _all() if all(getattr(r, k) == v for k, v in filters.items())]
    if number is not None:
        cell = (str(number.table), str(number.row), str(number.column))
        found = [r for r in found if r.cell == cell]
    return found
