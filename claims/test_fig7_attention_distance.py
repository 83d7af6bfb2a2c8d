"""Figure 7 (right), §4.5, App. D.7: how far attention reaches, by layer and head.

"We find that some heads attend to most of the image already in the lowest layers ... This highly localized
attention is less pronounced in hybrid models that apply a ResNet before the Transformer (Figure 7, right) ...
Further, the attention distance increases with network depth."

Mean attention distance per image, layer and head (App. D.7's definition, on the first 128 ImageNet validation
images; `measure.analysis.attention`) of every public ImageNet-21k ViT and the public hybrid. Each check orders
per-image statistics with a paired bootstrap interval over the images:

* grows with depth — Spearman's rho between layer and head-averaged distance, above 0;
* some head of the first layer attends to most of the image — the first layer's most global head farther than a
  head attending evenly to the nearer half of the image (same grid; `nearer_half_distance`);
* less local early in the hybrid — R50+ViT-B/16's mean distance over the first quarter of its layers above
  ViT-B/16's, on the same images (both 16-pixel tokens at 224 px).
"""

from __future__ import annotations

import numpy as np
import pytest

from claims.analysis import MODELS, attention_figure, check_model, details, measured, plan
from claims.cases import slug
from measure.tiers.models import Model

pytestmark = pytest.mark.claim("fig7-attention-distance")


def _figure(result, lines: bool = False):
    references = result.metadata["references_px"]
    return attention_figure([result], f"{result.metadata['checkpoint'].get('paper_model')}: mean attention distance "
                                      f"by head and layer",
                            {"nearer half of the image": references["nearer_half"],
                             "whole image (uniform)": references["uniform"]} if lines else None)


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_attention_distance_grows_with_depth(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "attention_depth", "rho(layer, mean attention distance) per image",
                "0 (no trend with depth)",
                "mean attention distance grows with depth (per image, Spearman rho between layer and head-averaged "
                "distance; mean over images above 0)", figure=_figure)


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_some_heads_attend_to_most_of_the_image_in_the_lowest_layer(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "attention_lowest_layer", "first layer's most global head (px) per image",
                "a head attending evenly to the nearer half of the image (px)",
                "in the first layer some head attends to most of the image — farther than a head spread evenly over "
                "the nearer half of the patches",
                reference=lambda result: np.full(result.n, result.metadata["references_px"]["nearer_half"]),
                figure=lambda result: _figure(result, lines=True))


HYBRID, VIT = Model("R50+ViT-B/16", "imagenet21k"), Model("ViT-B/16", "imagenet21k")


def test_hybrid_attention_is_less_local_in_early_layers(claim_check, evidence):
    planned = plan("attention_early", f"{HYBRID.label}: early-layer mean attention distance (px)",
                   f"{VIT.label}: early-layer mean attention distance (px)",
                   "the hybrid's attention is less local than ViT-B/16's over the first quarter of the layers, per image "
                   "on the same images")
    hybrid, vit = measured(claim_check, evidence, [HYBRID, VIT], "attention_early", planned)
    figure = attention_figure([hybrid, vit], "R50+ViT-B/16 and ViT-B/16: mean attention distance by head and layer")
    claim_check.ordering_scores(hybrid.scores, vit.scores, metric="mean", tier=hybrid.label, a_label=planned.a_label,
                                b_label=planned.b_label, details=details(hybrid, vit, figure=figure))
