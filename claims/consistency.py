"""Consistency checks: a sentence of the paper read against the paper's own printed numbers.

Not a reproduction — nothing is measured — and labelled so in every record's tier (`CONSISTENCY_TIER`): such a
check can show that the paper's text and tables agree, or where they do not. The plugin judges two printed
summaries (`claim_check.ordering_summary`): with Welch's t where both sides print a ± over runs (Table 2: the
std of 3 fine-tuning runs, its caption), as printed where a side prints none (Tables 5, 6, 7), a tie as printed
being inconclusive.
"""

from __future__ import annotations

from typing import Any

import paper
from pytest_claims import Summary

CONSISTENCY_TIER = "consistency (the paper's own printed numbers; not a reproduction)"
TABLE2_RUNS = paper.number(table="Table 2", row="caption", column="fine-tuning runs per cell")


def summary(n: paper.PaperNumber, scale: float = 1.0) -> Summary:
    """A printed cell as the plugin reads it: Table 2's ± is the std of its caption's 3 runs; elsewhere no
    spread is printed. `scale` converts units (% → fraction, to match the margins of [tool.claims])."""
    if n.std is not None and n.table == "Table 2":
        return Summary(n.value * scale, n.std * scale, int(TABLE2_RUNS.value))
    return Summary(n.value * scale)


def cells(*numbers: paper.PaperNumber) -> dict[str, Any]:
    """What a consistency check read, for its record."""
    return {"paper_cells": [{"cell": n.label, "value": n.value, "std": n.std, "unit": n.unit} for n in numbers],
            "runs_per_cell": TABLE2_RUNS.label if any(n.table == "Table 2" and n.std is not None for n in numbers)
            else None}
