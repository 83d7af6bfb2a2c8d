"""Claim 1 (§4.2) read against Table 2: a consistency check of the paper's own numbers, not a reproduction.

"The smaller ViT-L/16 model pre-trained on JFT-300M outperforms BiT-L (which is pre-trained on the same
dataset) on all tasks, while requiring substantially less computational resources to train. The larger model,
ViT-H/14, further improves the performance, especially on the more challenging datasets – ImageNet, CIFAR-100,
and the VTAB suite. Interestingly, this model still took substantially less compute to pre-train than prior
state of the art."

"Outperforms on all tasks" is read task by task: on each, ViT-L/16's printed mean must be above BiT-L's
beyond the printed run-to-run spread (± = std of 3 fine-tuning runs, Table 2's caption; Welch's t). A tie as
printed (ImageNet ReaL: 90.54 and 90.54, BiT-L without ±) or a difference within the spread (VTAB: 76.28 ± 0.46
vs 76.29 ± 1.70) is *inconclusive*: it does not show ViT-L/16 ahead, so "on all tasks" is not supported there,
but it is no evidence that BiT-L is ahead either; only BiT-L ahead beyond the spread would refute. The JFT
models themselves are untestable (test_claim1_vit_vs_cnn.py, test_jft_untestable.py).
"""

from __future__ import annotations

import pytest

import paper
from claims.consistency import CONSISTENCY_TIER, cells, summary

pytestmark = pytest.mark.claim("claim1-vit-vs-sota")

VIT_L16, VIT_H14, BIT_L = "Ours-JFT (ViT-L/16)", "Ours-JFT (ViT-H/14)", "BiT-L (ResNet152x4)"
NOISY_STUDENT = "Noisy Student (EfficientNet-L2)"
TASKS = sorted({n.dataset for n in paper.numbers(table="Table 2", column=VIT_L16, metric="top1")})
CHALLENGING = ["cifar100", "imagenet", "vtab"]  # "especially on the more challenging datasets – ImageNet, CIFAR-100, and the VTAB suite"
TIES = ("'outperforms on all tasks' read per task: ahead beyond the printed spread verifies; a tie as printed "
        "or a difference within the spread is inconclusive (not ahead, but not behind); only behind beyond "
        "the spread refutes")


def _cell(column: str, dataset: str) -> paper.PaperNumber:
    return paper.number(table="Table 2", column=column, dataset=dataset, metric="top1")


@pytest.mark.parametrize("dataset", TASKS)
def test_vit_l16_jft_outperforms_bit_l_in_table2(claim_check, dataset):
    vit, bit = _cell(VIT_L16, dataset), _cell(BIT_L, dataset)
    claim_check.ordering_summary(summary(vit), summary(bit), tier=CONSISTENCY_TIER, a_label="ViT-L/16 (JFT)",
                                 b_label="BiT-L (JFT)", details=cells(vit, bit),
                                 description=f"Table 2 {vit.row}: ViT-L/16 (JFT) above BiT-L as printed; {TIES}")


@pytest.mark.parametrize("dataset", CHALLENGING)
def test_vit_h14_further_improves_on_the_challenging_datasets_in_table2(claim_check, dataset):
    larger, smaller = _cell(VIT_H14, dataset), _cell(VIT_L16, dataset)
    claim_check.ordering_summary(summary(larger), summary(smaller), tier=CONSISTENCY_TIER,
                                 a_label="ViT-H/14 (JFT)", b_label="ViT-L/16 (JFT)", details=cells(larger, smaller),
                                 description=f"Table 2 {larger.row}: ViT-H/14 above ViT-L/16 beyond the printed spread")


COMPUTE = {"bit_l>vit_l16": (BIT_L, VIT_L16), "bit_l>vit_h14": (BIT_L, VIT_H14),
           "noisy_student>vit_h14": (NOISY_STUDENT, VIT_H14)}


@pytest.mark.parametrize("case", sorted(COMPUTE))
def test_vit_takes_less_pretraining_compute_in_table2(claim_check, case):
    """"while requiring substantially less computational resources" (ViT-L/16) and "still took substantially
    less compute to pre-train than prior state of the art" (ViT-H/14: BiT-L and Noisy Student). The paper does
    not quantify "substantially": the check is "less", the ratio is recorded."""
    rival_column, vit_column = COMPUTE[case]
    rival = paper.number(table="Table 2", row="TPUv3-core-days", column=rival_column)
    vit = paper.number(table="Table 2", row="TPUv3-core-days", column=vit_column)
    ratio = rival.value / vit.value
    claim_check.ordering_summary(
        summary(rival), summary(vit), tier=CONSISTENCY_TIER, a_label=f"{rival.model} TPUv3-core-days (k)",
        b_label=f"{vit.model} (JFT) TPUv3-core-days (k)", details={**cells(rival, vit), "ratio": ratio},
        description=f"Table 2 TPUv3-core-days: {vit.model} (JFT) pre-trained with less compute than {rival.model} "
                    f"('substantially' is not quantified by the paper; printed ratio {ratio:.1f}x, recorded)")
