"""Values the paper implies but does not print (derived.csv), each checked against the printed cells it follows from.

Pure standard library. `paper` re-exports everything public here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from pathlib import Path

from paper.formula import evaluate_formula
from paper.printed import NUMBER_COLUMNS, PaperDataError, PaperNumber, _exactly_one, _float, _read_csv, number

DERIVED_CSV = Path(__file__).resolve().parent / "derived.csv"

DERIVED_COLUMNS = (*NUMBER_COLUMNS, "derivation", "formula", "inputs")


@dataclass(frozen=True)
class DerivedNumber(PaperNumber):
    """A value the paper implies but does not print (§3.2's token counts, the midpoint of "2 − 4×").

    It is a ``PaperNumber`` (a claim passes it as ``paper=``) whose table/row/column name where it is
    implied, plus how: ``derivation`` quotes the sentences it follows from; ``formula`` is arithmetic over
    ``inputs`` (names bound to printed cells of numbers.csv, as (table, row, column)), or empty where the
    value follows from a statement rather than from printed numbers.
    """

    derivation: str
    formula: str
    inputs: tuple[tuple[str, tuple[str, str, str]], ...]

    def recompute(self) -> float | None:
        """``formula`` evaluated on the printed values of ``inputs``; None where there is no formula."""
        if not self.formula:
            return None
        values = {name: number(table=t, row=r, column=c).value for name, (t, r, c) in self.inputs}
        return evaluate_formula(self.formula, values)


def _parse_inputs(text: str, where: str) -> tuple[tuple[str, tuple[str, str, str]], ...]:
    """``name=table|row|column; name=...`` → ((name, (table, row, column)), ...)."""
    out = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, cell = item.partition("=")
        parts = tuple(part.strip() for part in cell.split("|"))
        if not sep or not name.strip().isidentifier() or len(parts) != 3:
            raise PaperDataError(f"{where}: input {item!r} is not name=table|row|column")
        out.append((name.strip(), parts))
    return tuple(out)


def load_derived(path: Path = DERIVED_CSV) -> tuple[DerivedNumber, ...]:
    """Parse and check a derived-values file: every input is one printed cell, every formula gives its value."""
    out = []
    for line, raw in enumerate(_read_csv(path, DERIVED_COLUMNS), start=2):
        where = f"{path.name}:{line}"
        std = raw["std"].strip()
        n = DerivedNumber(
            table=raw["table"], row=raw["row"], column=raw["column"], value=_float(raw["value"], "value", where),
            std=_float(std, "std", where) if std else None, unit=raw["unit"], model=raw["model"],
            pretraining=raw["pretraining"], dataset=raw["dataset"], metric=raw["metric"], note=raw["note"],
            derivation=raw["derivation"], formula=raw["formula"].strip(), inputs=_parse_inputs(raw["inputs"], where))
        if not n.derivation.strip():
            raise PaperDataError(f"{where}: {n.label} says nothing of how it is derived")
        if bool(n.formula) != bool(n.inputs):
            raise PaperDataError(f"{where}: a formula needs the printed cells it reads as inputs, and inputs a formula")
        try:
            recomputed = n.recompute()
        except LookupError as exc:
            raise PaperDataError(f"{where}: an input of {n.label} is not one printed cell: {exc}") from None
        if recomputed is not None and not math.isclose(recomputed, n.value, rel_tol=1e-12, abs_tol=1e-12):
            raise PaperDataError(f"{where}: {n.label} = {n.value:g}, but {n.formula} gives {recomputed:g}")
        out.append(n)
    return tuple(out)


@functools.cache
def _all_derived() -> tuple[DerivedNumber, ...]:
    return load_derived()


DERIVED_FIELD_NAMES = tuple(f.name for f in fields(DerivedNumber))


def derived_numbers(**filters: object) -> list[DerivedNumber]:
    """All derived values whose fields equal the filters, in file order (``numbers`` for derived.csv)."""
    unknown = sorted(set(filters) - set(DERIVED_FIELD_NAMES))
    if unknown:
        raise TypeError(f"unknown filter(s) {unknown}; filter on any of {list(DERIVED_FIELD_NAMES)}")
    return [n for n in _all_derived() if all(getattr(n, k) == v for k, v in filters.items())]


def derived(**filters: object) -> DerivedNumber:
    """Exactly one derived value matching the filters; LookupError listing close matches otherwise."""
    if not filters:
        raise TypeError("derived() needs filters, e.g. derived(table='Section 3.2', column='class-token change')")
    return _exactly_one(derived_numbers(**filters), filters, _all_derived(), "derived value", DERIVED_CSV)
