"""Figure 6, §4.5, App. D.8: the class token's attention falls on the object.

§4.5: "Globally, we find that the model attends to image regions that are semantically relevant for classification
(Figure 6)."

App. D.8: "To compute maps of the attention from the output token to the input space (Figures 6 and 14), we used
Attention Rollout (Abnar & Zuidema, 2020). Briefly, we averaged attention weights of ViT-L/16 across all heads and
then recursively multiplied the weight matrices of all layers. This accounts for the mixing of attention across
tokens through all layers."

Read as: the region "semantically relevant for classification" is the object ImageNet's annotators boxed (the public
ILSVRC-2012 validation bounding boxes, `measure.data.imagenet_boxes`). Per image of the first 128 validation images
(the attention-distance checks' images), the share of the class token's rollout map (`measure.analysis.rollout`:
Abnar & Zuidema's definition — heads averaged, identity added for the residual, rows renormalised, layers
multiplied) inside the union of the image's boxes, against the boxes' share of the image (what a map spread evenly
would put there; the same sampling of the same boxes); the mean over images above it, paired bootstrap interval.
A few maps and their boxes are drawn in the report.

The paper's maps are ViT-L/16's: ViT-L/16 decides; every other public ImageNet-21k model (and the hybrid) is checked
too and cannot refute (`claims.analysis.not_shown`). The paper does not say which ViT-L/16 (pre-trained or
fine-tuned): the public ImageNet-21k one is read, as for Figure 7.
"""

from __future__ import annotations

import numpy as np
import pytest

from claims.analysis import MODELS, check_model
from claims.cases import slug

pytestmark = pytest.mark.claim("fig6-attention-rollout")


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_class_token_rollout_falls_inside_the_object_boxes(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "attention_rollout", "rollout mass inside the boxes, per image",
                "the boxes' share of the image (a map spread evenly)",
                "\"the model attends to image regions that are semantically relevant for classification\" (§4.5, "
                "Figure 6; App. D.8: Attention Rollout): per image, the class token's attention-rollout mass inside "
                "the ILSVRC-2012 validation boxes above the boxes' share of the image (mean over images)",
                reference=lambda result: np.asarray(result.metadata["reference"], dtype=float),
                figure=lambda result: result.metadata["figure"])
