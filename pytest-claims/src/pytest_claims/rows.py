"""One flat row per check: the shape the history stores, run comparisons read and ``frame`` returns.

Pure functions of ``claims.json`` content (plain dicts); standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# The columns of a check row, in order (history's ``checks`` table adds ``run_id`` in front).
CHECK_COLUMNS = (
    "claim", "check", "nodeid", "kind", "tier", "verdict", "outcome", "executed", "expected", "reason",
    "paper_value", "paper_std", "paper_unit", "paper_table", "paper_row", "paper_column",
    "measured_value", "measured_low", "measured_high", "measured_n", "duration",
)


def check_row(check: Mapping[str, Any], duration: float | None = None) -> dict[str, Any]:
    """The flat row of one check of ``claims.json`` (its ``claims[].checks[]`` entry)."""
    paper = check.get("paper") or {}
    source = paper.get("source") or {}
    measured = check.get("measured") or {}
    return {
        "claim": check["claim"], "check": check["id"], "nodeid": check["nodeid"], "kind": check["kind"],
        "tier": check.get("tier") or "", "verdict": check["verdict"], "outcome": check.get("outcome"),
        "executed": bool(check.get("executed", True)), "expected": check.get("expected"),
        "reason": check.get("reason") or "",
        "paper_value": paper.get("value"), "paper_std": paper.get("std"), "paper_unit": paper.get("unit"),
        "paper_table": source.get("table"), "paper_row": source.get("row"), "paper_column": source.get("column"),
        "measured_value": measured.get("value"), "measured_low": measured.get("low"),
        "measured_high": measured.get("high"), "measured_n": measured.get("n"),
        "duration": duration,
    }


def iter_checks(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every check of a report document, claim by claim, in report order."""
    for claim in document.get("claims", ()):
        yield from claim.get("checks", ())


def document_rows(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The check rows of a report document, by node id (with the durations its run block recorded)."""
    durations = (document.get("run") or {}).get("durations") or {}
    return {c["nodeid"]: check_row(c, durations.get(c["nodeid"])) for c in iter_checks(document)}


def claim_verdicts(document: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Each claim's (verdict, reason) in a report document."""
    return {c["id"]: (c["verdict"], c.get("reason") or "") for c in document.get("claims", ())}
