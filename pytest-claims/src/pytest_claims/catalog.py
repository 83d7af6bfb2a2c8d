"""The claim catalog: which claims exist, their quoted statements, and appendix tables.

Format (TOML)::

    [paper]                                    # optional: the paper, shown in the report's header and title
    title = "Deep Residual Learning for Image Recognition"
    authors = "He, Zhang, Ren, Sun"            # optional, as are year, arxiv, url
    arxiv = "1512.03385"

    [[appendix]]                               # optional, any number: title + CSV file (relative to the catalog)
    title = "..."
    file = "..."

    [[claims]]
    id = "table1-variants"
    title = "..."
    statement = "..."                          # quoted from the source
    source = "Section 4.1, Table 1"
    caveats = "..."                            # any further plain key: shown with the claim as a note
    [claims.data]                              # optional: the project's own data, never shown
    tables = ["Table 1"]
    [[claims.alternates]]                      # optional, any number: another wording of the statement
    source = "..."                             #   where that wording comes from
    text = "..."                               #   shown "also stated as (source): text"
"""

from __future__ import annotations

import csv
import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ClaimsError
from .records import Alternate, json_safe

REQUIRED = ("id", "title", "statement", "source")
STRUCTURED = ("alternates", "data")  # claim keys with a shape of their own; every other key is a note
TOP_LEVEL = ("paper", "claims", "appendix")
# [paper]: which paper the catalog is about, shown in the report's header; title required, the rest optional.
PAPER_KEYS = ("title", "authors", "year", "arxiv", "url")
ALTERNATE_KEYS = ("source", "text")


class CatalogError(ClaimsError, LookupError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    statement: str
    source: str
    alternates: tuple[Alternate, ...] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)  # the entry's other keys, e.g. caveats: shown
    data: Mapping[str, Any] = field(default_factory=dict)  # [claims.data]: for the project, never shown


@dataclass(frozen=True)
class AppendixTable:
    """Any CSV shown as a table in the report."""

    title: str
    file: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_json(self) -> dict:
        return {"title": self.title, "file": self.file, "columns": list(self.columns),
                "rows": [list(r) for r in self.rows]}

    @classmethod
    def from_json(cls, d: dict) -> AppendixTable:
        return cls(d["title"], d["file"], tuple(d["columns"]), tuple(tuple(r) for r in d["rows"]))


@dataclass(frozen=True)
class Catalog:
    path: Path
    claims: tuple[Claim, ...]
    appendix: tuple[AppendixTable, ...] = ()
    paper: Mapping[str, str] | None = None  # the [paper] table: title, authors, year, arxiv, url

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.claims)


def unknown_claim_message(claim_id: object, ids: Iterable[str], path: Path | str) -> str:
    ids = list(ids)
    close = difflib.get_close_matches(str(claim_id), ids, n=3, cutoff=0.5)
    hint = f"close matches: {', '.join(close)}" if close else f"known ids: {', '.join(ids) or '(none)'}"
    return f"unknown claim id {claim_id!r} (not in {path}); {hint}"


def read_csv_table(path: Path, title: str) -> AppendixTable:
    if not path.is_file():
        raise CatalogError(f"appendix table {title!r}: {path} not found (named in the claim catalog)")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return AppendixTable(title, path.name, (), ())
    header, body = rows[0], rows[1:]
    width = len(header)
    body = [tuple(r) + ("",) * (width - len(r)) for r in body if any(cell.strip() for cell in r)]
    return AppendixTable(title, path.name, tuple(header), tuple(body))


def _alternates(entry: Mapping, where: str) -> tuple[Alternate, ...]:
    value = entry.get("alternates", [])
    if not isinstance(value, list):
        raise CatalogError(f"{where}: alternates must be [[claims.alternates]] tables with source and text, got {value!r}")
    out = []
    for alt in value:
        if (not isinstance(alt, Mapping) or set(alt) != set(ALTERNATE_KEYS)
                or not all(isinstance(alt[k], str) and alt[k].strip() for k in ALTERNATE_KEYS)):
            raise CatalogError(f"{where}: each [[claims.alternates]] entry has exactly a non-empty source "
                               f"(where the wording comes from) and text (the wording), got {alt!r}")
        out.append(Alternate(alt["source"].strip(), alt["text"].strip()))
    return tuple(out)


def _claim(entry: Mapping, where: str) -> Claim:
    data = entry.get("data", {})
    if not isinstance(data, Mapping):
        raise CatalogError(f"{where}: data must be a table ([claims.data] with any keys), got {data!r}")
    try:
        notes = json_safe({k: v for k, v in entry.items() if k not in REQUIRED + STRUCTURED}, where)
    except TypeError as exc:
        raise CatalogError(str(exc)) from None
    return Claim(id=str(entry["id"]), title=str(entry["title"]), statement=str(entry["statement"]),
                 source=str(entry["source"]), alternates=_alternates(entry, where), notes=notes, data=dict(data))


def parse_paper(table: Any, where: str = "[paper]") -> dict[str, str] | None:
    """The catalog's ``[paper]`` table (``title`` and any of authors, year, arxiv, url: texts), or None."""
    if table is None:
        return None
    if not isinstance(table, Mapping) or set(table) - set(PAPER_KEYS) or not str(table.get("title", "")).strip():
        raise CatalogError(f"{where} takes title (required) and any of {', '.join(PAPER_KEYS[1:])}, got {table!r}")
    return {k: str(table[k]).strip() for k in PAPER_KEYS if k in table}


def load_catalog(path: Path) -> Catalog:
    path = Path(path)
    if not path.is_file():
        raise CatalogError(
            f"claim catalog {path} not found; create it or point [tool.claims] catalog in pyproject.toml at it"
        )
    with path.open("rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"claim catalog {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:  # e.g. a table named at the top level: it must be an [[appendix]] entry to be shown
        raise CatalogError(f"unknown top-level key(s) {unknown} in claim catalog {path}; it holds only "
                           f"[paper], [[claims]] and [[appendix]] (title + file) entries")
    paper = parse_paper(data.get("paper"), f"[paper] in {path}")

    claims: list[Claim] = []
    for i, entry in enumerate(data.get("claims", [])):
        missing = [k for k in REQUIRED if not str(entry.get(k, "")).strip()]
        if missing:
            raise CatalogError(f"claim #{i + 1} ({entry.get('id', '?')}) in {path} lacks {missing}")
        if any(c.id == entry["id"] for c in claims):
            raise CatalogError(f"claim id {entry['id']!r} appears twice in {path}")
        claims.append(_claim(entry, f"claim {entry['id']} in {path}"))

    tables = []
    for entry in data.get("appendix", []):
        if "title" not in entry or "file" not in entry:
            raise CatalogError(f"[[appendix]] entries in {path} need title and file, got {entry!r}")
        tables.append(read_csv_table(path.parent / entry["file"], str(entry["title"])))
    return Catalog(path=path, claims=tuple(claims), appendix=tuple(tables), paper=paper)
