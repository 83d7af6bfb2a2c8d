"""The paper (arXiv 2010.11929 v2) as data: its printed numbers, its claims, and where others misquote it.

Files next to this module (conventions and provenance in README.md):

* ``numbers.csv``            every number of Tables 1-9 (and a few from the text), one row per cell
* ``derived.csv``            values the paper implies but does not print, each with how it follows from what it prints
* ``claims.toml``            the claim catalog read by the ``pytest_claims`` plugin
* ``seed_discrepancies.csv`` where the seed documents disagree with the paper or with each other
* ``inconsistencies.csv``    where the paper disagrees with itself

Pure standard library, so the plugin, fixtures and tests can import it without torch.
"""

from __future__ import annotations

import ast
import csv
import difflib
import fnmatch
import functools
import io
import math
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUMBERS_CSV = HERE / "numbers.csv"
CLAIMS_TOML = HERE / "claims.toml"
SEED_DISCREPANCIES_CSV = HERE / "seed_discrepancies.csv"
INCONSISTENCIES_CSV = HERE / "inconsistencies.csv"
DERIVED_CSV = HERE / "derived.csv"

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
    if not path.is_file():
        raise PaperDataError(f"{path} is missing; it is part of the paper data (see paper/README.md)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # name the line a user must fix, not a byte offset deep in a traceback
        line = data.count(b"\n", 0, exc.start) + 1
        raise PaperDataError(f"{path}:{line}: byte {data[exc.start]:#04x} is not UTF-8; save the file as UTF-8 "
                             f"(the paper data is UTF-8 text)") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if expected is not None and tuple(reader.fieldnames or ()) != expected:
            raise PaperDataError(f"{path}: header is {reader.fieldnames}, expected {list(expected)}")
        return list(reader)
    except csv.Error as exc:
        # the csv reader's own count: DictReader.line_num is the last row it returned, one line short here
        raise PaperDataError(f"{path}:{reader.reader.line_num}: not valid CSV: {exc}") from None


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
def _catalog() -> dict:
    if not CLAIMS_TOML.is_file():
        raise PaperDataError(f"{CLAIMS_TOML} is missing; it is the claim catalog (see paper/README.md)")
    with CLAIMS_TOML.open("rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise PaperDataError(f"{CLAIMS_TOML} is not valid TOML: {exc}") from None


def claims() -> list[dict]:
    """Every catalog entry ([[claims]] of claims.toml), in file order (copies: safe to modify)."""
    return [dict(c) for c in _catalog().get("claims", [])]


def claim(claim_id: str) -> dict:
    """The catalog entry of one claim (id, title, statement, source, ...); LookupError with close ids."""
    entries = claims()
    for entry in entries:
        if entry.get("id") == claim_id:
            return entry
    ids = [e.get("id", "") for e in entries]
    close = difflib.get_close_matches(str(claim_id), ids, n=3, cutoff=0.4)
    hint = f"close matches: {', '.join(close)}" if close else f"known ids: {', '.join(ids)}"
    raise LookupError(f"unknown claim id {claim_id!r} in {CLAIMS_TOML}; {hint}")


def claim_of_number(n: PaperNumber) -> str:
    """The id of the one claim whose ``[claims.data] numbers`` selectors match the printed number ``n``.

    A selector is a table of PaperNumber fields to shell-style patterns (``{table = "Table 6", model =
    "R50+ViT-*"}``); it matches when every field does. LookupError when no claim or several claim ``n``:
    the claim <-> number map lives in claims.toml alone, and must say exactly one thing per number."""
    owners = [c["id"] for c in claims()
              if any(_selects(selector, n) for selector in c.get("data", {}).get("numbers", ()))]
    if len(owners) != 1:
        found = f"claims {owners}" if owners else "no claim"
        raise LookupError(f"{n.label}: {found} select(s) it in {CLAIMS_TOML.name} ([claims.data] numbers); "
                          f"exactly one must")
    return owners[0]


def _selects(selector: dict, n: PaperNumber) -> bool:
    unknown = set(selector) - set(FIELD_NAMES)
    if unknown:
        raise PaperDataError(f"{CLAIMS_TOML.name}: a numbers selector names unknown fields {sorted(unknown)}; "
                             f"known: {', '.join(FIELD_NAMES)}")
    return all(fnmatch.fnmatchcase(str(getattr(n, field)), str(pattern)) for field, pattern in selector.items())


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


# ---------------------------------------------------------------- derived.csv: values the text implies

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


_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
              ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


def evaluate_formula(formula: str, values: dict[str, float]) -> float:
    """Arithmetic (+ − × / **, parentheses, numbers, names bound in ``values``) — nothing else is evaluated."""
    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise PaperDataError(f"formula {formula!r} uses {node.id!r}, which its inputs do not bind")
            return float(values[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](walk(node.left), walk(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise PaperDataError(f"formula {formula!r}: {ast.dump(node)[:60]} is not plain arithmetic")

    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise PaperDataError(f"formula {formula!r} does not parse: {exc.msg}") from None
    return walk(tree)


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


def as_dict(n: PaperNumber) -> dict:
    """JSON-safe dict of a paper number (for records and reports)."""
    return asdict(n)


# Independent measurements beside the paper's cells (paper/references.py); imported last: it reads this module's helpers.
from paper.references import Reference, references

__all__ = [
    "DATASETS",
    "DERIVED_COLUMNS",
    "METRICS",
    "MODELS",
    "PRETRAININGS",
    "DerivedNumber",
    "PaperDataError",
    "PaperNumber",
    "Reference",
    "as_dict",
    "claim",
    "claims",
    "derived",
    "derived_numbers",
    "discrepancies",
    "evaluate_formula",
    "inconsistencies",
    "load_derived",
    "number",
    "numbers",
    "references",
]
