"""Claim 2 (§4.3, Figure 3) read against Table 5: a consistency check of the paper's own numbers, not a reproduction.

Table 5 prints one value per cell, without ±, so the cells are compared as printed (a tie is inconclusive).

* ImageNet-21k pre-training above ImageNet pre-training, for every ViT both were run for and every dataset
  ("The performance ... improves with the increase of the pretraining dataset size", the seeds' claim 2; §4.3:
  "While large ViT models perform worse than BiT ResNets ... when pre-trained on small datasets, they shine when
  pre-trained on larger datasets").
* Large against Base after each pre-training set, on ImageNet (Figure 3 is "Transfer to ImageNet"): "When
  pre-trained on the smallest dataset, ImageNet, ViT-Large models underperform compared to ViT-Base models ...
  With ImageNet-21k pre-training, their performances are similar. Only with JFT-300M, do we see the full benefit
  of larger models." — Base above Large after ImageNet; Large better than or comparable to Base after
  ImageNet-21k (margin `comparable_accuracy`, as this suite's other "similar" checks); Large above Base, and
  ViT-H/14 above ViT-L/16, after JFT-300M.
"""

from __future__ import annotations

import pytest

import paper
from claims.cases import slug
from claims.consistency import CONSISTENCY_TIER, cells, summary

pytestmark = pytest.mark.claim("claim2-pretraining-size")

FRACTION = 0.01  # Table 5 prints %; the margins of [tool.claims] are fractions of 1
BOTH = sorted({(n.model, n.dataset) for n in paper.numbers(table="Table 5", pretraining="imagenet")})


def _cell(pretraining: str, model: str, dataset: str) -> paper.PaperNumber:
    return paper.number(table="Table 5", pretraining=pretraining, model=model, dataset=dataset)


@pytest.mark.parametrize("model,dataset", BOTH, ids=[f"{slug(m)}-{d}" for m, d in BOTH])
def test_i21k_pretraining_above_i1k_in_table5(claim_check, model, dataset):
    larger, smaller = _cell("imagenet21k", model, dataset), _cell("imagenet", model, dataset)
    claim_check.ordering_summary(summary(larger), summary(smaller), tier=CONSISTENCY_TIER,
                                 a_label=f"{model} I21k", b_label=f"{model} I1k", details=cells(larger, smaller),
                                 description=f"Table 5 {dataset}: {model} pre-trained on ImageNet-21k above the same "
                                             f"model pre-trained on ImageNet, as printed")


SIZES = {  # id -> (pre-training, A, B, margin): "A better than B" (margin None) or "A better or comparable"
    "i1k-vit_b16>vit_l16": ("imagenet", "ViT-B/16", "ViT-L/16", None),
    "i1k-vit_b32>vit_l32": ("imagenet", "ViT-B/32", "ViT-L/32", None),
    "i21k-vit_l16>=vit_b16": ("imagenet21k", "ViT-L/16", "ViT-B/16", "comparable_accuracy"),
    "i21k-vit_l32>=vit_b32": ("imagenet21k", "ViT-L/32", "ViT-B/32", "comparable_accuracy"),
    "jft-vit_l16>vit_b16": ("jft300m", "ViT-L/16", "ViT-B/16", None),
    "jft-vit_l32>vit_b32": ("jft300m", "ViT-L/32", "ViT-B/32", None),
    "jft-vit_h14>vit_l16": ("jft300m", "ViT-H/14", "ViT-L/16", None),
}


@pytest.mark.parametrize("case", sorted(SIZES))
def test_large_against_base_after_each_pretraining_set_in_table5(claim_check, case):
    pretraining, first, second, margin = SIZES[case]
    a, b = _cell(pretraining, first, "imagenet"), _cell(pretraining, second, "imagenet")
    relation = "above" if margin is None else "better than or comparable to"
    claim_check.ordering_summary(summary(a, FRACTION), summary(b, FRACTION), tier=CONSISTENCY_TIER, margin=margin,
                                 a_label=f"{first} {a.row.split(' / ')[0]}", b_label=f"{second} {b.row.split(' / ')[0]}",
                                 details=cells(a, b),
                                 description=f"Table 5 ImageNet (Figure 3), pre-trained on {a.row.split(' / ')[0]}: "
                                             f"{first} {relation} {second}, as printed (top-1 as a fraction)")
