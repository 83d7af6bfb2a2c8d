"""The paper's printed numbers (numbers.csv) and where documents disagree with them (seed_discrepancies.csv,
inconsistencies.csv): the CSV reader, the checked vocabularies and the look-ups `number` / `numbers`.

Standard library and the plugin's CSV reader (``pytest_claims.paper.read_rows``). `paper` re-exports everything public
here.
"""

from __future__ import annotations

import difflib
import functools
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from pytest_claims.paper import NumbersError, read_rows

HERE = Path(__file__).resolve().parent
NUMBERS_CSV = HERE / "numbers.csv"
SEED_DISCREPANCIES_CSV = HERE / "seed_discrepancies.csv"
INCONSISTENCIES_CSV = HERE / "inconsistencies.csv"

NUMBER_COLUMNS = ("table", "row", "column", "value", "std", "unit", "model", "pretraining", "dataset", "metric", "note")

# Canonical filter keys (docs/DESIGN.md section 1); an empty string means "not applicable".
MODELS = frozenset({
    "ViT-B/32", "ViT-B/16", "ViT-L/32", "ViT-L/16", "ViT-H/14",
    "R50x1", "R50x2", "R101x1", "R152x1", "R152x2", "R152x4", "R200x3",
    "R50+ViT-B/32", "R50+ViT-B/16", "R50+ViT-L/32", "R50+ViT-L/16", "EfficientNet-L2",
    "ViT-Base", "ViT-Large", "ViT-Huge",  # Table 1 rows
})
PRETRAININGS = frozenset({"imagenet", "imagenet21k", "jft300m"})
DATASETS = frozenset({"imagenet", "imagenet_real", "cifar10", "cifar100", "pets", "flowers102", "vtab"})
METRICS = frozenset({"top1", "layers", "hidden_size", "mlp_size", "heads", "params", "tpu_core_days", "epochs", "exaflops",
                     # Table 4 (fine-tuning hyper-parameters) and its caption
                     "steps", "base_lr", "batch_size", "weight_decay", "grad_clip_norm",
                     # Table 3 (pre-training hyper-parameters), Table 2's caption (runs per cell), Table 7's
                     # "Average" row (mean over its datasets) and Table 8 (ImageNet 5-shot, printed as a fraction)
                     "dropout", "runs", "mean_top1", "fewshot_top1"})


class PaperDataError(ValueError):
    """A data file of paper/ is malformed; the message names the file and line."""


@dataclass(frozen=True)
class PaperNumber:
    """One printed cell. Duck-types pytest_claims' PaperValue (value, std, unit, table, row, column)."""

    table: str
    row: str
    column: str
    value: float
    std: float | None
    unit: str
    model: str
    pretraining: str
    dataset: str
    metric: str
    note: str

    @property
    def source(self) -> dict[str, str]:
        return {"table": self.table, "row": self.row, "column": self.column}

    @property
    def label(self) -> str:
        """Human-readable provenance, e.g. 'Table 2 / ImageNet / Ours-JFT (ViT-H/14)'."""
        return f"{self.table} / {self.row} / {self.column}"

    def __str__(self) -> str:
        pm = "" if self.std is None else f" ± {self.std:g}"
        return f"{self.value:g}{pm} {self.unit} ({self.label})".replace("  ", " ")


FIELD_NAMES = tuple(f.name for f in fields(PaperNumber))


def _float(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PaperDataError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise PaperDataError(f"{where}: {what} {text!r} is not finite")
    return value


def _read_csv(path: Path, expected: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    """The rows of one of paper/'s CSV files (the plugin's reader: errors name the file and line to fix)."""
    if not path.is_file():
        raise PaperDataError(f"{path} is missing; it is part of the paper data (see paper/README.md)")
    try:
        return read_rows(path, expected)
    except NumbersError as exc:
        raise PaperDataError(str(exc)) from None


@functools.cache
def _all_numbers() -> tuple[PaperNumber, ...]:
    out = []
    for line, raw in enumerate(_read_csv(NUMBERS_CSV, NUMBER_COLUMNS), start=2):
        where = f"{NUMBERS_CSV.name}:{line}"
        std = raw["std"].strip()
        out.append(PaperNumber(
            table=raw["table"], row=raw["row"], column=raw["column"],
            value=_float(raw["value"], "value", where),
            std=_float(std, "std", where) if std else None,
            unit=raw["unit"], model=raw["model"], pretraining=raw["pretraining"], dataset=raw["dataset"],
            metric=raw["metric"], note=raw["note"],
        ))
    return tuple(out)


def _check_filters(filters: dict) -> None:
    unknown = sorted(set(filters) - set(FIELD_NAMES))
    if unknown:
        raise TypeError(f"unknown filter(s) {unknown}; filter on any of {list(FIELD_NAMES)}")


def numbers(**filters: object) -> list[PaperNumber]:
    """All paper numbers whose fields equal the filters, in file order.

    ``numbers(table="Table 5", pretraining="jft300m")``; a float filter on value/std compares numerically.
    """
    _check_filters(filters)
    return [n for n in _all_numbers() if all(getattr(n, k) == v for k, v in filters.items())]


def _describe(n: PaperNumber) -> str:
    keys = ", ".join(f"{k}={getattr(n, k)!r}" for k in ("model", "pretraining", "dataset", "metric") if getattr(n, k))
    return f"{n.label} = {n.value:g}" + (f" [{keys}]" if keys else "")


def _close_matches(filters: dict, pool: tuple[PaperNumber, ...], n: int = 5) -> list[PaperNumber]:
    # Score every row by how well it matches the asked-for fields (string similarity per field), so a
    # typo ("Imagenet", "ViT-B16") or an over-specific filter still points at the intended cells.
    def score(p: PaperNumber) -> float:
        return sum(difflib.SequenceMatcher(None, str(v), str(getattr(p, k))).ratio() for k, v in filters.items())
    return sorted(pool, key=score, reverse=True)[:n]


def number(**filters: object) -> PaperNumber:
    """Exactly one paper number matching the filters; LookupError listing close matches otherwise."""
    _check_filters(filters)
    if not filters:
        raise TypeError("number() needs filters, e.g. number(table='Table 1', row='ViT-Base', column='Layers')")
    return _exactly_one(numbers(**filters), filters, _all_numbers(), "paper number", NUMBERS_CSV)


def _exactly_one(found: list, filters: dict, pool: tuple | list, what: str, source: Path) -> PaperNumber:
    """The one match; else a LookupError that lists the matches (add a filter) or the close matches."""
    if len(found) == 1:
        return found[0]
    asked = ", ".join(f"{k}={v!r}" for k, v in filters.items())
    if found:
        listing = "\n  ".join(_describe(n) for n in found[:10])
        more = f"\n  ... and {len(found) - 10} more" if len(found) > 10 else ""
        raise LookupError(f"{len(found)} {what}s match {asked} in {source}; add a filter (e.g. row=...) to pick "
                          f"one:\n  {listing}{more}")
    listing = "\n  ".join(_describe(n) for n in _close_matches(filters, pool))
    raise LookupError(f"no {what} matches {asked} in {source}; close matches:\n  {listing}")


@functools.cache
def _discrepancies() -> tuple[dict[str, str], ...]:
    return tuple(_read_csv(SEED_DISCREPANCIES_CSV, ("seed_file", "location", "seed_says", "paper_says",
                                                    "table", "row", "column", "note")))


def discrepancies(**filters: str) -> list[dict[str, str]]:
    """Rows of seed_discrepancies.csv (seed vs paper, and seed vs seed), optionally filtered by column."""
    return [dict(r) for r in _discrepancies() if all(r.get(k) == v for k, v in filters.items())]


@functools.cache
def _inconsistencies() -> tuple[dict[str, str], ...]:
    return tuple(_read_csv(INCONSISTENCIES_CSV, ("id", "kind", "a_table", "a_row", "a_column", "a_value", "b_table",
                                                 "b_row", "b_column", "b_value", "explained_by_paper", "note")))


def inconsistencies(**filters: str) -> list[dict[str, str]]:
    """Rows of inconsistencies.csv: places where the paper's own numbers disagree."""
    return [dict(r) for r in _inconsistencies() if all(r.get(k) == v for k, v in filters.items())]


def as_dict(n: PaperNumber) -> dict:
    """JSON-safe dict of a paper number (for records and reports)."""
    return asdict(n)
