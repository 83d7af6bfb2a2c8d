"""Table 9 (App. D.10): the VTAB-1k score of each of the 19 tasks behind Table 2's VTAB column.

The JFT-300M rows (ViT-H/14, ViT-L/16) are untestable and listed by test_jft_untestable.py under claim
table2-jft. The ImageNet-21k row is ViT-L/16 as released — public — fine-tuned with VTAB's protocol (App. B.1.1:
800 + 200 examples per task, lr 0.01, 2500 steps, 384 px), which this suite does not implement: not run, each
cell saying so (claim table2-i21k, beside Table 2's VTAB mean).
"""

from __future__ import annotations

import pytest

import paper
from pytest_claims import Plan

pytestmark = pytest.mark.claim("table2-i21k")

I21K = paper.numbers(table="Table 9", row="ViT-L/16 (I21k)")
STEPS = paper.number(table="Table 4", row="VTAB (19 tasks)", column="Steps")
LR = paper.number(table="Table 4", row="VTAB (19 tasks)", column="Base LR")
RESOLUTION = paper.number(table="Appendix B.1.1", row="all models", column="fine-tuning resolution")
NEED = (f"the VTAB-1k fine-tuning protocol (App. B.1.1: 1000 examples per task, lr {LR.value:g}, {STEPS.value:g} "
        f"steps, {RESOLUTION.value:g} px) and the 19 VTAB-1k datasets, which this suite does not implement")


def _id(n: paper.PaperNumber) -> str:
    return n.column.lower().replace("-", "_")


@pytest.mark.parametrize("number", I21K, ids=[_id(n) for n in I21K])
def test_table9_i21k_task_value(claim_check, number):
    task = "the mean over the 19 tasks" if number.column == "Mean" else f"VTAB-1k task {number.column}"
    claim_check.not_run(
        f"{number.label}: ViT-L/16 (ImageNet-21k) fine-tuned on {task} — the public checkpoint exists, but "
        f"fine-tuning on the VTAB-1k tasks is not implemented in this suite", paper=number, needs=[NEED],
        plan=Plan(kind="value", tier="finetune on the 19 VTAB-1k tasks (not implemented)", tolerance="accuracy",
                  description=f"ViT-L/16 I21k top-1 on {task} against {number.label}"))
