"""The claim catalog (claims.toml): its entries, and which claim owns each printed number.

Pure standard library. `paper` re-exports `claims`, `claim` and `claim_of_number`.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import tomllib
from pathlib import Path

from paper.printed import FIELD_NAMES, PaperDataError, PaperNumber

HERE = Path(__file__).resolve().parent
CLAIMS_TOML = HERE / "claims.toml"


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
