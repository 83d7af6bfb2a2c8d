"""Claim 2 (§4.3, Figure 3, Table 5): ViT's transfer accuracy grows with the pre-training set.

Seeds' wording: "The performance of the Vision Transformer on the classification task after fine
tuning improves with the increase of the pretraining dataset size."

Public material covers two of the three pre-training sets: ImageNet-21k (the authors' ViTs, BiT-M)
and ImageNet-1k (BiT-S; for ViT only SAM-trained substitutes, Chen et al. 2021 — a different
optimizer, so they support orderings only and Table 5's ImageNet-1k column is untestable). JFT-300M
is private. A SAM ViT is *stronger* than the paper's ImageNet-1k ViT, so "ImageNet-21k beats
ImageNet-1k" and "BiT beats ViT on ImageNet-1k" measured against it are biased against the claim: a
verification holds a fortiori, a refutation would say nothing about the paper's models — those checks
pass `cannot_refute` (a refutation ends inconclusive). The same holds for any ordering on a shortened
fine-tuning recipe.
"""

from __future__ import annotations

import pytest

import paper
from fixtures.tier_fixtures import Model
from measure.tiers.runner import FINETUNE_DATASETS, PROBE_DATASETS, PROBE_METHODS, accuracy_measurement

pytestmark = pytest.mark.claim("claim2-pretraining-size")

VITS = ("ViT-B/32", "ViT-B/16", "ViT-L/32", "ViT-L/16")
PROBE_CASES = sorted((dataset, method) for dataset in PROBE_DATASETS for method in PROBE_METHODS)
# JFT-300M cells are listed (untestable) by test_jft_untestable.py, the one place for every JFT number.
TABLE5 = sorted((n for n in paper.numbers(table="Table 5", metric="top1") if n.pretraining != "jft300m"),
                key=lambda n: (n.pretraining, n.dataset, n.model))
SAM_BIAS = ("the public ImageNet-1k ViTs are SAM-trained (Chen et al. 2021), which makes a ViT trained on "
            "ImageNet-1k alone markedly stronger than the paper's ImageNet-1k ViT (Chen et al. report ViT-B/16 at "
            "79.9 % ImageNet top-1 with SAM against 74.6 % without). That favours the ImageNet-1k ViT, against this claim: a "
            "verification holds a fortiori, a refutation says nothing about the paper's ViT")


def _slug(text: str) -> str:
    return text.replace("/", "").replace("+", "_").lower()


def _cases(models: tuple[str, ...]) -> list[tuple[str, str, str]]:
    return [(model, dataset, method) for model in models for dataset, method in PROBE_CASES]


def _ids(cases: list[tuple[str, str, str]]) -> list[str]:
    return [f"{_slug(model)}-{dataset}-{method}" for model, dataset, method in cases]


I21K_VS_I1K = _cases(VITS)


@pytest.mark.parametrize("model,dataset,method", I21K_VS_I1K, ids=_ids(I21K_VS_I1K))
def test_i21k_pretraining_beats_i1k(claim_check, evidence, model, dataset, method):
    """The same ViT architecture pre-trained on ImageNet-21k transfers better than on ImageNet-1k
    (Table 5: every ViT row is higher in the ImageNet-21k column). I1k side: SAM substitute."""
    big, small = Model(model, "imagenet21k"), Model(model, "imagenet")
    a, b = evidence.measure(claim_check, "probe", [big, small], dataset, method)
    claim_check.ordering(a.correct, b.correct, tier=evidence.tier(a, b), margin=None,
                         a_label=evidence.label(big, a), b_label=evidence.label(small, b),
                         details=evidence.details(a, b),
                         cannot_refute=evidence.cannot_refute(a, b, biased=b, bias=SAM_BIAS))


BIT_ABOVE_VIT_ON_I1K = _cases(VITS)


@pytest.mark.parametrize("model,dataset,method", BIT_ABOVE_VIT_ON_I1K, ids=_ids(BIT_ABOVE_VIT_ON_I1K))
def test_bit_outperforms_vit_after_i1k_pretraining(claim_check, evidence, model, dataset, method):
    """Fig. 3, ImageNet pre-training: "The BiT CNNs outperform ViT on ImageNet". BiT side: the top of
    the BiT region, BiT-S R152x4 (ImageNet-1k); ViT side: SAM substitute (a stronger ViT than the
    paper's, so a verified ordering holds a fortiori)."""
    bit, vit = Model("R152x4", "imagenet"), Model(model, "imagenet")
    a, b = evidence.measure(claim_check, "probe", [bit, vit], dataset, method)
    claim_check.ordering(a.correct, b.correct, tier=evidence.tier(a, b), margin=None,
                         a_label=evidence.label(bit, a), b_label=evidence.label(vit, b),
                         details=evidence.details(a, b),
                         cannot_refute=evidence.cannot_refute(a, b, biased=b, bias=SAM_BIAS))


VIT_CATCHES_UP_ON_I21K = _cases(("ViT-L/16", "ViT-H/14"))


@pytest.mark.parametrize("model,dataset,method", VIT_CATCHES_UP_ON_I21K, ids=_ids(VIT_CATCHES_UP_ON_I21K))
def test_large_vit_catches_up_with_bit_after_i21k_pretraining(claim_check, evidence, model, dataset, method):
    """Fig. 3, ImageNet-21k pre-training: the large ViTs reach the top of the BiT region ("with the
    larger datasets, ViT overtakes"; at ImageNet-21k the paper's points sit at the region's top):
    ViT-L/16 / ViT-H/14 better than or comparable to BiT-M R152x4."""
    vit, bit = Model(model, "imagenet21k"), Model("R152x4", "imagenet21k")
    a, b = evidence.measure(claim_check, "probe", [vit, bit], dataset, method)
    claim_check.ordering(a.correct, b.correct, tier=evidence.tier(a, b), margin="comparable_accuracy",
                         a_label=evidence.label(vit, a), b_label=evidence.label(bit, b),
                         details=evidence.details(a, b))


def test_large_vit_underperforms_base_after_i1k_pretraining(claim_check):
    """§4.3: "When pre-trained on the smallest dataset, ImageNet, ViT-Large models underperform
    compared to ViT-Base models, despite (moderate) regularization"."""
    claim_check.untestable(
        "the paper's ImageNet-1k ViTs were never released, and the public SAM substitutes cannot stand in: SAM "
        "was designed to remove exactly the overfitting of large ViTs on ImageNet-1k that this sentence is about "
        "(Chen et al. 2021)", paper=paper.number(table="Table 5", row="ImageNet / ImageNet", column="ViT-L/16"))


SIMILAR_ON_I21K = PROBE_CASES


@pytest.mark.parametrize("dataset,method", SIMILAR_ON_I21K, ids=[f"{d}-{m}" for d, m in SIMILAR_ON_I21K])
def test_large_vit_similar_to_base_after_i21k_pretraining_probe(claim_check, evidence, dataset, method):
    """§4.3: "With ImageNet-21k pre-training, their performances are similar" — ViT-L/16 better than
    or comparable to ViT-B/16 (non-inferiority: Large no longer falls behind Base)."""
    large, base = Model("ViT-L/16", "imagenet21k"), Model("ViT-B/16", "imagenet21k")
    a, b = evidence.measure(claim_check, "probe", [large, base], dataset, method)
    claim_check.ordering(a.correct, b.correct, tier=evidence.tier(a, b), margin="comparable_accuracy",
                         a_label=evidence.label(large, a), b_label=evidence.label(base, b),
                         details=evidence.details(a, b))


@pytest.mark.parametrize("dataset", ["imagenet", "imagenet_real"])
def test_large_vit_similar_to_base_after_i21k_pretraining_imagenet(claim_check, evidence, dataset):
    """The same on ImageNet with the authors' 384-px ImageNet fine-tunes (Table 5's setting)."""
    large = Model("ViT-L/16", "imagenet21k", "imagenet", resolution=384)
    base = Model("ViT-B/16", "imagenet21k", "imagenet", resolution=384)
    a, b = evidence.measure(claim_check, "eval", [large, base], dataset)
    claim_check.ordering(a.correct, b.correct, tier="eval", margin="comparable_accuracy",
                         a_label=evidence.label(large, a), b_label=evidence.label(base, b),
                         details=evidence.details(a, b))


@pytest.mark.claim("table5-transfer")  # the table's values are a claim of their own; this module's orderings are claim 2
@pytest.mark.parametrize("number", TABLE5, ids=[f"{n.pretraining}-{n.dataset}-{_slug(n.model)}" for n in TABLE5])
def test_table5_value(claim_check, evidence, number):
    """Table 5 (fine-tuned at 384 px): ImageNet-21k → ImageNet / ReaL cells are checked against the
    authors' published 384-px ImageNet fine-tunes (eval tier), the small datasets by the finetune tier; the
    rest say why they cannot be. Every path records exactly one check (value returns when verified)."""
    if number.pretraining == "imagenet":
        claim_check.untestable(
            "the paper's ImageNet-1k ViTs were never released; the public ImageNet-1k ViTs are SAM-trained "
            "substitutes (different optimizer, Chen et al. 2021) and support orderings only", paper=number)
    elif number.dataset in FINETUNE_DATASETS:
        evidence.paper_recipe_or_not_run(claim_check, number.dataset, number)
        (result,) = evidence.measure(claim_check, "finetune", [Model(number.model, "imagenet21k")], number.dataset)
        claim_check.value(measured=accuracy_measurement(result), paper=number, tolerance="accuracy",
                          tier=result.metadata["tier_label"], details={"checkpoint": result.metadata["checkpoint"],
                                                                       "seeds": result.metadata.get("seeds")})
    else:
        model = Model(number.model, "imagenet21k", "imagenet", resolution=384)
        (result,) = evidence.measure(claim_check, "eval", [model], number.dataset)
        claim_check.value(measured=accuracy_measurement(result), paper=number, tolerance="accuracy", tier="eval",
                          details={"checkpoint": result.metadata["checkpoint"]})


# -- the same orderings after fine-tuning with the paper's recipe (finetune tier) ------------------------
FT_DATASETS = sorted(FINETUNE_DATASETS)
FT_ORDERINGS = {  # id -> (A, B, margin, SAM side biased against the claim): "A better than B" (margin None)
    #                     or "A better or comparable" (margin)
    **{f"{_slug(m)}_i21k>i1k": (Model(m, "imagenet21k"), Model(m, "imagenet"), None, True) for m in VITS},
    **{f"bit_s_r152x4>{_slug(m)}_i1k": (Model("R152x4", "imagenet"), Model(m, "imagenet"), None, True) for m in VITS},
    **{f"{_slug(m)}_i21k>=bit_m_r152x4": (Model(m, "imagenet21k"), Model("R152x4", "imagenet21k"),
                                          "comparable_accuracy", False) for m in ("ViT-L/16", "ViT-H/14")},
    "vitl16_i21k>=vitb16_i21k": (Model("ViT-L/16", "imagenet21k"), Model("ViT-B/16", "imagenet21k"),
                                 "comparable_accuracy", False),
}
FT_CASES = sorted((name, dataset) for name in FT_ORDERINGS for dataset in FT_DATASETS)


@pytest.mark.parametrize("ordering,dataset", FT_CASES, ids=[f"{o}-{d}" for o, d in FT_CASES])
def test_pretraining_orderings_after_finetuning(claim_check, evidence, ordering, dataset):
    """The orderings above (I21k > I1k; BiT > ViT on I1k; large ViTs catch up with BiT on I21k; L ≈ B on
    I21k), each model fine-tuned with the paper's recipe; labelled with the recipe actually used."""
    first, second, margin, sam_biased = FT_ORDERINGS[ordering]
    a, b = evidence.measure(claim_check, "finetune", [first, second], dataset)
    cannot_refute = evidence.cannot_refute(a, b, biased=b if sam_biased else None, bias=SAM_BIAS)
    claim_check.ordering(a.correct, b.correct, tier=a.metadata["tier_label"], margin=margin,
                         a_label=evidence.label(first, a), b_label=evidence.label(second, b),
                         details=evidence.details(a, b), cannot_refute=cannot_refute)
