"""Claim 2 (§4.3, Figure 3) read against Table 5: a consistency check of the paper's own numbers, not a reproduction.

Table 5 prints one value per cell, without ±, so the cells are compared as printed (a tie is inconclusive).

* ImageNet-21k pre-training above ImageNet pre-training, for every ViT both were run for and every dataset
  ("The performance ... improves with the increase of the pretraining dataset size", the seeds' claim 2; §4.3:
  "While large ViT models perform worse than BiT ResNets ... when pre-trained on small datasets, they shine when
  pre-trained on larger datasets").
  This is the seeds' wording of claim 2, read for the step the checks were first written for; the paper's
  sentence is about Large against Base (below). The step ImageNet-21k → JFT-300M is not read this way: Table 5
  prints JFT-300M at or below ImageNet-21k in 6 of its 30 cells (ViT-B/32 on CIFAR-10, CIFAR-100, ImageNet and
  ReaL; ViT-L/16 on Flowers; ViT-L/32 on CIFAR-100), and the paper does not claim that every cell improves.
* Large against Base after each pre-training set, on ImageNet (Figure 3 is "Transfer to ImageNet"), pairs at equal
  patch size (equal sequence length): "When pre-trained on the smallest dataset, ImageNet, ViT-Large models
  underperform compared to ViT-Base models ... With ImageNet-21k pre-training, their performances are similar.
  Only with JFT-300M, do we see the full benefit of larger models." — Base above Large after ImageNet; after
  ImageNet-21k "similar" is two-sided: Large better than or comparable to Base *and* Base better than or
  comparable to Large, margin `similar_accuracy` (0.5 pt; its reason is in pyproject.toml); Large above Base, and
  ViT-H/14 above ViT-L/16, after JFT-300M. (`test_large_against_base_after_each_pretraining_set_in_table5`'s
  ImageNet-21k ids read one direction with `comparable_accuracy`; `test_base_comparable_to_large_after_i21k_in_table5`
  reads the other.)
* Across all three pre-training sets (ImageNet → ImageNet-21k → JFT-300M), "only with JFT-300M ... the full benefit
  of larger models": the printed advantage of Large over Base (Large − Base, ImageNet top-1) grows at each step
  (`test_large_advantage_grows_with_the_pretraining_set_in_table5`), and every model larger than Base that Table 5
  prints after both ImageNet-21k and JFT-300M (ViT-L/16, ViT-L/32, ViT-H/14) transfers better to ImageNet after
  JFT-300M (`test_larger_models_gain_from_jft_over_i21k_in_table5`).
"""

from __future__ import annotations

import itertools

import pytest

import paper
from claims.cases import slug
from claims.consistency import CONSISTENCY_TIER, cells, summary
from pytest_claims import Summary

pytestmark = pytest.mark.claim("claim2-pretraining-size")

FRACTION = 0.01  # Table 5 prints %; the margins of [tool.claims] are fractions of 1
BOTH = sorted({(n.model, n.dataset) for n in paper.numbers(table="Table 5", pretraining="imagenet")})


def _cell(pretraining: str, model: str, dataset: str) -> paper.PaperNumber:
    return paper.number(table="Table 5", pretraining=pretraining, model=model, dataset=dataset)


@pytest.mark.parametrize("model,dataset", BOTH, ids=[f"{slug(m)}-{d}" for m, d in BOTH])
def test_i21k_pretraining_above_i1k_in_table5(claim_check, model, dataset):
    larger, smaller = _cell("imagenet21k", model, dataset), _cell("imagenet", model, dataset)
    # in fractions, as every other check of this claim (one unit per table of the report)
    claim_check.ordering_summary(summary(larger, FRACTION), summary(smaller, FRACTION), tier=CONSISTENCY_TIER,
                                 a_label=f"{model} I21k", b_label=f"{model} I1k", details=cells(larger, smaller),
                                 description=f"Table 5 {dataset}: {model} pre-trained on ImageNet-21k above the same "
                                             f"model pre-trained on ImageNet, as printed (top-1 as a fraction)")


SIZES = {  # id -> (pre-training, A, B, margin): "A better than B" (margin None) or "A better or comparable"
    "i1k-vit_b16>vit_l16": ("imagenet", "ViT-B/16", "ViT-L/16", None),
    "i1k-vit_b32>vit_l32": ("imagenet", "ViT-B/32", "ViT-L/32", None),
    "i21k-vit_l16>=vit_b16": ("imagenet21k", "ViT-L/16", "ViT-B/16", "comparable_accuracy"),
    "i21k-vit_l32>=vit_b32": ("imagenet21k", "ViT-L/32", "ViT-B/32", "comparable_accuracy"),
    "jft-vit_l16>vit_b16": ("jft300m", "ViT-L/16", "ViT-B/16", None),
    "jft-vit_l32>vit_b32": ("jft300m", "ViT-L/32", "ViT-B/32", None),
    "jft-vit_h14>vit_l16": ("jft300m", "ViT-H/14", "ViT-L/16", None),
}


def _compare(claim_check, pretraining: str, first: str, second: str, margin: str | None) -> None:
    a, b = _cell(pretraining, first, "imagenet"), _cell(pretraining, second, "imagenet")
    relation = "above" if margin is None else "better than or comparable to"
    claim_check.ordering_summary(summary(a, FRACTION), summary(b, FRACTION), tier=CONSISTENCY_TIER, margin=margin,
                                 a_label=f"{first} {a.row.split(' / ')[0]}", b_label=f"{second} {b.row.split(' / ')[0]}",
                                 details=cells(a, b),
                                 description=f"Table 5 ImageNet (Figure 3), pre-trained on {a.row.split(' / ')[0]}: "
                                             f"{first} {relation} {second}, as printed (top-1 as a fraction)")


@pytest.mark.parametrize("case", sorted(SIZES))
def test_large_against_base_after_each_pretraining_set_in_table5(claim_check, case):
    _compare(claim_check, *SIZES[case])


SIMILAR = {"vit_b16>=vit_l16": ("ViT-B/16", "ViT-L/16"), "vit_b32>=vit_l32": ("ViT-B/32", "ViT-L/32")}
NOT_SIMILAR = {  # established by the printed cells themselves: the run stays green, the record keeps "refuted"
    "vit_b16>=vit_l16": "Table 5 prints ViT-L/16 85.15 and ViT-B/16 83.97 on ImageNet after ImageNet-21k: Large ahead "
                        "by 1.18 pt, beyond the 0.5 pt the paper's numbers resolve (similar_accuracy), and close to the "
                        "1.38 pt by which the same sentence has ViT-L/16 'underperform' ViT-B/16 after ImageNet",
}


@pytest.mark.parametrize("case", [pytest.param(c, id=c, marks=[pytest.mark.xfail(strict=True, reason=NOT_SIMILAR[c])]
                                               if c in NOT_SIMILAR else []) for c in sorted(SIMILAR)])
def test_base_comparable_to_large_after_i21k_in_table5(claim_check, case):
    """"With ImageNet-21k pre-training, their performances are similar": the direction that
    `test_large_against_base_after_each_pretraining_set_in_table5[i21k-…]` does not read — Base better than or
    comparable to Large — so that a Large model well ahead is not read as "similar"."""
    _compare(claim_check, "imagenet21k", *SIMILAR[case], "similar_accuracy")


PRETRAININGS = ("imagenet", "imagenet21k", "jft300m")  # smallest to largest, as Figure 3's x axis
PAIRS = {"vit_l16-vit_b16": ("ViT-L/16", "ViT-B/16"), "vit_l32-vit_b32": ("ViT-L/32", "ViT-B/32")}
STEPS = {f"{pair}-{smaller}<{larger}": (*PAIRS[pair], smaller, larger) for pair in PAIRS
         for smaller, larger in itertools.pairwise(PRETRAININGS)}


def _advantage(large: str, base: str, pretraining: str) -> tuple[float, list[paper.PaperNumber]]:
    """Large − Base, ImageNet top-1 as printed (a fraction), after `pretraining`, and the two cells."""
    a, b = _cell(pretraining, large, "imagenet"), _cell(pretraining, base, "imagenet")
    return (a.value - b.value) * FRACTION, [a, b]


@pytest.mark.parametrize("step", sorted(STEPS))
def test_large_advantage_grows_with_the_pretraining_set_in_table5(claim_check, step):
    """Underperform (ImageNet) → similar (ImageNet-21k) → "only with JFT-300M ... the full benefit of larger models":
    Large's printed advantage over Base after the larger pre-training set above the one after the smaller."""
    large, base, smaller, larger = STEPS[step]
    after_larger, larger_cells = _advantage(large, base, larger)
    after_smaller, smaller_cells = _advantage(large, base, smaller)
    name = {p: _cell(p, large, "imagenet").row.split(" / ")[0] for p in (smaller, larger)}
    claim_check.ordering_summary(
        Summary(after_larger, source="derived"), Summary(after_smaller, source="derived"), tier=CONSISTENCY_TIER,
        a_label=f"{large} − {base} after {name[larger]}", b_label=f"{large} − {base} after {name[smaller]}",
        details={**cells(*larger_cells, *smaller_cells), "advantage_after_larger": after_larger,
                 "advantage_after_smaller": after_smaller},
        description=f"Table 5 ImageNet (Figure 3): {large}'s printed advantage over {base} (top-1, a fraction) larger "
                    f"after {name[larger]} than after {name[smaller]}, as printed")


LARGER = ("ViT-H/14", "ViT-L/16", "ViT-L/32")  # every model above Base printed after ImageNet-21k and JFT-300M


@pytest.mark.parametrize("model", LARGER, ids=[slug(m) for m in LARGER])
def test_larger_models_gain_from_jft_over_i21k_in_table5(claim_check, model):
    """"Only with JFT-300M, do we see the full benefit of larger models": each larger model transfers better to
    ImageNet after JFT-300M than after ImageNet-21k (the step ImageNet-21k → JFT-300M, as printed)."""
    jft, i21k = _cell("jft300m", model, "imagenet"), _cell("imagenet21k", model, "imagenet")
    claim_check.ordering_summary(summary(jft, FRACTION), summary(i21k, FRACTION), tier=CONSISTENCY_TIER,
                                 a_label=f"{model} JFT-300M", b_label=f"{model} ImageNet-21k", details=cells(jft, i21k),
                                 description=f"Table 5 ImageNet (Figure 3): {model} pre-trained on JFT-300M above the "
                                             f"same model pre-trained on ImageNet-21k, as printed (top-1 as a fraction)")
