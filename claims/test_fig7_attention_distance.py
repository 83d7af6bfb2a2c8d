"""Figure 7 (right), §4.5, App. D.7 (Figure 11): how far attention reaches, by layer and head.

§4.5: "We find that some heads attend to most of the image already in the lowest layers, showing that the ability
to integrate information globally is indeed used by the model. Other attention heads have consistently small
attention distances in the low layers. This highly localized attention is less pronounced in hybrid models that
apply a ResNet before the Transformer (Figure 7, right), suggesting that it may serve a similar function as early
convolutional layers in CNNs. Further, the attention distance increases with network depth."

App. D.7: "Average attention distance is highly variable across heads in lower layers, with some heads attending
to much of the image, while others attend to small regions at or near the query location. As depth increases,
attention distance increases for all heads. In the second half of the network, most heads attend widely across
tokens."

Mean attention distance per image, layer and head (App. D.7's definition, on the first 128 ImageNet validation
images; `measure.analysis.attention`) of every public ImageNet-21k ViT and the public hybrid. Heads that put more
than half their attention on the class token count as neither global nor local and are left out (their
class-token mass is in the record). "A head" that is the most global or the most local of its layer is chosen on
half of the images and judged on the other half (two-fold cross-fitting), so that the pick does not favour the
claim. Each check orders per-image statistics with a paired bootstrap interval over the images:

* some heads attend to most of the image already in the lowest layers — the first layer's most global head
  farther than a head spread evenly over the nearer half of the patches (`nearer_half_distance`);
* other heads have consistently small distances in the low layers — each of the first quarter of the layers'
  most local head nearer than a head spread evenly over the nearest eighth of the patches (`local_distance`);
* less pronounced in hybrids — those same local heads farther in R50+ViT-B/16 than in ViT-B/16, same images;
* increases with depth — Spearman's rho between layer and the layer's mean distance over its heads, above 0;
* increases for all heads (D.7) — Spearman's rho between layer and the layer's most local head's distance, above 0;
* in the second half most heads attend widely (D.7) — the share of the second half's heads farther than the
  nearer-half reference, above one half.

The paper shows ViT-L/16 (Figure 7, right; Figure 11) and R50+ViT-L/16 (Figure 11, never released): ViT-L/16 decides;
every other model's check cannot refute (`claims.analysis.not_shown`), and so cannot the hybrid comparison, which
stands in R50+ViT-B/16 against ViT-B/16 for the unreleased pair.
"""

from __future__ import annotations

import numpy as np
import pytest

from claims.analysis import MODELS, attention_figure, check_model, details, measured, plan
from claims.cases import slug
from measure.tiers.paper_models import Model

pytestmark = pytest.mark.claim("fig7-attention-distance")


def _figure(result, lines: bool = False):
    references = result.metadata["references_px"]
    return attention_figure([result], f"{result.metadata['checkpoint'].get('paper_model')}: mean attention distance "
                                      f"by head and layer",
                            {"nearer half of the image": references["nearer_half"],
                             "nearest eighth of the image": references["local"],
                             "whole image (uniform)": references["uniform"]} if lines else None)


def _reference(name: str):
    return lambda result: np.full(result.n, result.metadata["references_px"][name])


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_attention_distance_grows_with_depth(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "attention_depth", "rho(layer, mean attention distance) per image",
                "0 (no trend with depth)",
                "\"the attention distance increases with network depth\" (§4.5): per image, Spearman rho between layer "
                "and the layer's mean distance over its heads; mean over images above 0", figure=_figure)


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_some_heads_attend_to_most_of_the_image_in_the_lowest_layer(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "attention_lowest_layer",
                "first layer's most global head (px) per image, chosen on the other images",
                "a head attending evenly to the nearer half of the image (px)",
                "\"some heads attend to most of the image already in the lowest layers\" (§4.5): the first layer's "
                "most global head (chosen on one half of the images, judged on the other) farther than a head spread "
                "evenly over the nearer half of the patches",
                reference=_reference("nearer_half"), figure=lambda result: _figure(result, lines=True))


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_other_heads_have_small_attention_distances_in_the_low_layers(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "attention_early_local",
                "a head attending evenly to the nearest eighth of the image (px)",
                "the low layers' most local heads (px) per image, chosen on the other images",
                "\"Other attention heads have consistently small attention distances in the low layers\" (§4.5): each "
                "of the first quarter of the layers' most local head (chosen on one half of the images, judged on the "
                "other) nearer than a head spread evenly over the nearest eighth of the patches",
                reference=_reference("local"), reference_first=True, figure=lambda result: _figure(result, lines=True))


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_attention_distance_increases_for_all_heads_with_depth(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "attention_local_depth",
                "rho(layer, the layer's most local head's distance) per image", "0 (no trend with depth)",
                "\"As depth increases, attention distance increases for all heads\" (App. D.7): per image, Spearman "
                "rho between layer and the distance of the layer's most local head (chosen on the other images) — "
                "the nearest-reaching head of each layer reaches farther with depth; mean over images above 0",
                figure=_figure)


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_most_heads_attend_widely_in_the_second_half_of_the_network(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "attention_second_half_wide",
                "share of the second half's heads reaching farther than the nearer half of the image, per image",
                "one half of the heads",
                "\"In the second half of the network, most heads attend widely across tokens\" (App. D.7): the share "
                "of the heads of the second half of the layers farther than a head spread evenly over the nearer half "
                "of the patches, above one half",
                reference=lambda result: np.full(result.n, 0.5), figure=lambda result: _figure(result, lines=True))


HYBRID, VIT = Model("R50+ViT-B/16", "imagenet21k"), Model("ViT-B/16", "imagenet21k")
HYBRID_LIMIT = ("the paper's hybrid panel (Figure 11) is R50+ViT-L/16, never released: R50+ViT-B/16 against ViT-B/16 "
                "(both 16-pixel tokens at 224 px) stands in for it, so a failure here cannot refute the paper")


def test_hybrid_attention_is_less_local_in_early_layers(claim_check, evidence):
    planned = plan("attention_early_local", f"{HYBRID.label}: the low layers' most local heads (px)",
                   f"{VIT.label}: the low layers' most local heads (px)",
                   "\"This highly localized attention is less pronounced in hybrid models that apply a ResNet before the "
                   "Transformer\" (§4.5): the local heads — each of the first quarter of the layers' most local head, "
                   "chosen on the other half of the images — reach farther in the hybrid than in ViT-B/16, per image "
                   f"on the same images; {HYBRID_LIMIT}")
    hybrid, vit = measured(claim_check, evidence, [HYBRID, VIT], "attention_early_local", planned)
    figure = attention_figure([hybrid, vit], "R50+ViT-B/16 and ViT-B/16: mean attention distance by head and layer")
    claim_check.ordering_scores(hybrid.scores, vit.scores, metric="mean", tier=hybrid.label, a_label=planned.a_label,
                                b_label=planned.b_label, cannot_refute=HYBRID_LIMIT, plan=planned,
                                details=details(hybrid, vit, figure=figure))
