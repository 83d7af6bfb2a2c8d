"""Every JFT-300M number of Tables 2, 5, 6, 7 and 9 (and §4.6's self-supervision results) that no public material can decide: untestable checks.

JFT-300M is Google's internal dataset and the JFT-300M pre-trained ViT checkpoints of the paper were
not released (the public ones are pre-trained on ImageNet-21k), so these accuracies, epochs and
TPUv3-core-days can be listed with their provenance but never measured. Table 6's exaFLOPs are not
here: they are decided by ``test_table6_compute.py``.
"""

from __future__ import annotations

import pytest

import paper
from pytest_claims import Plan

REASON = ("JFT-300M is a private Google dataset and the paper's JFT-300M pre-trained checkpoints were not "
          "released (the public ViT checkpoints are pre-trained on ImageNet-21k), so this number can neither "
          "be reproduced nor re-evaluated with public material")

TABLES = ("Table 2", "Table 5", "Table 6", "Table 7", "Table 9", "Section 4.6")  # §4.6: self-supervision on JFT
DECIDED_ELSEWHERE = {("Table 6", "exaflops")}  # measured in claims/test_table6_compute.py


def _check_id(n: paper.PaperNumber) -> str:
    table = n.table.replace("Table ", "table").replace("Section ", "sec")
    if n.table in ("Table 7", "Table 9"):  # their columns say what the canonical keys do not: optimizer, VTAB task
        column = n.column.split(" / ")[-1].lower().replace(" ", "_")
        what = f"{column}-{n.dataset or 'average'}" if n.table == "Table 7" else column
        return f"{table}-{n.model.replace('/', '')}-{what}"
    what = n.column.lower().replace(" ", "_") if n.table.startswith("Section") else (n.dataset or n.metric)
    label = n.row if n.table == "Table 6" else n.model  # Table 6 rows carry the epochs
    label = label.replace("/", "").replace(" epochs)", "ep").replace(" (", "-")
    return f"{table}-{label}-{what}"


def _cases() -> list:
    rows = [n for n in paper.numbers(pretraining="jft300m")
            if n.table in TABLES and (n.table, n.metric) not in DECIDED_ELSEWHERE]
    ids = [_check_id(n) for n in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"check ids are not unique: {duplicates}; extend _check_id")
    return [pytest.param(n, id=i, marks=pytest.mark.claim(paper.claim_of_number(n)))
            for i, n in sorted(zip(ids, rows), key=lambda p: p[0])]


TOLERANCE = {"top1": "accuracy", "mean_top1": "accuracy"}  # the tolerance a reproduction would be judged with ([tool.claims.tolerances])


def plan_of(n: paper.PaperNumber) -> Plan:
    """What a reproduction of the number would check: the value, after pre-training on JFT-300M."""
    subject = " ".join(part for part in (n.model, n.dataset or n.metric) if part)
    return Plan(kind="value", tier="pre-training on JFT-300M (private) and the paper's transfer protocol",
                tolerance=TOLERANCE.get(n.metric),
                description=f"{subject} reproduced against {n.label}")


@pytest.mark.parametrize("printed", _cases())
def test_jft_number(claim_check, printed: paper.PaperNumber) -> None:
    claim_check.untestable(f"{printed.label}: {REASON}", paper=printed, plan=plan_of(printed))
