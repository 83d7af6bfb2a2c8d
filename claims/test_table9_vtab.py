"""Table 9 (App. D.10): the VTAB-1k score of each of the 19 tasks behind Table 2's VTAB column.

The JFT-300M rows (ViT-H/14, ViT-L/16) are untestable and listed by test_jft_untestable.py under claim
table2-jft. The ImageNet-21k row is ViT-L/16 as released — public — fine-tuned with App. B.1.1's VTAB-1k protocol
by the vtab tier (`measure/tiers/vtab.py`: train800 + val200 per task, Table 4's VTAB row, 384 px, over the run's
seeds) on the task folders `bin/prepare-vtab` writes once (`--claims-vtab DIR`). Each task cell is a value check of
the seeds' mean test accuracy against Table 9; the Mean cell is judged against Table 2's VTAB cell, the same number
printed with its ± (72.72 ± 0.21; Table 9 rounds it to 72.7), as the mean over the 19 tasks of every seed's
accuracy (``claims/vtab_mean.py``, shared with Table 2's own check of that cell). The paper prints no group means
(Fig. 2 plots them, for the JFT models only) and orders nothing on this row, so the Natural / Specialized /
Structured means are recorded beside the Mean, never judged.
"""

from __future__ import annotations

import pytest

import paper
from claims.decide import accuracy_measurement, end_unless_measured, references
from claims.vtab_mean import MODEL, paper_recipe_or_end, plan_for, vtab_mean_value
from measure.data.vtab import task_for_column

pytestmark = pytest.mark.claim("table2-i21k")

I21K = paper.numbers(table="Table 9", row="ViT-L/16 (I21k)")


def _id(n: paper.PaperNumber) -> str:
    return n.column.lower().replace("-", "_")


@pytest.mark.parametrize("number", I21K, ids=[_id(n) for n in I21K])
def test_table9_i21k_task_value(claim_check, evidence, number):
    if number.column == "Mean":
        vtab_mean_value(claim_check, evidence, f"Table 9's {number.label} is this number rounded")
        return
    task = task_for_column(number.column)
    reading = evidence.reading("vtab", [MODEL], dataset=task.key)  # planned once: the plan and the measurement
    plan = plan_for(f"VTAB-1k {task.column} ({task.group}; its test split, {task.test_size:,} images)", number, reading)
    refs = references(number)
    paper_recipe_or_end(claim_check, evidence, number, plan, refs, (task.key,))
    (result,) = end_unless_measured(claim_check, evidence.measure("vtab", [MODEL], task.key, reading=reading), plan,
                                    number, refs)
    claim_check.value(measured=accuracy_measurement(result), paper=number, tolerance="accuracy", tier=result.label,
                      details={"checkpoint": result.metadata["checkpoint"], "task": result.metadata["task"],
                               "seeds": result.metadata.get("seeds")}, references=refs or None, plan=plan)
