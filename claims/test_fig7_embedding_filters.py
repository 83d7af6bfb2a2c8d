"""Figure 7 (left), §4.5: the principal components of the learned patch-embedding filters are smooth basis functions.

§4.5: "The first layer of the Vision Transformer linearly projects the flattened patches into a lower-dimensional
space (Eq. 1). Figure 7 (left) shows the top principal components of the the learned embedding filters. The
components resemble plausible basis functions for a low-dimensional representation of the fine structure within
each patch." Caption: "Left: Filters of the initial linear embedding of RGB values of ViT-L/32." (28 components.)

Read on the weights (analysis tier, no images): the top 28 principal components of the RGB patch-embedding filters
(`measure.analysis.filters`), per component the share of its energy at spatial frequencies up to half the Nyquist
frequency (periods of 4 pixels or more), against the same statistic of the same architecture's randomly initialised
filters (timm's initialisation: what training started from), component k against component k; the mean over the 28
above the control's, paired bootstrap interval. "Plausible basis functions for a low-dimensional representation of
the fine structure" is read as: smooth at the pixel level, far more than the filters before training (white noise
puts ≈ 0.21 of its energy there on a 32 x 32 patch; the DCT, not the DFT, so that the edges of a patch do not count
as high frequencies). The 28 components are drawn in the report.

The paper shows ViT-L/32's filters: ViT-L/32 decides; the other public ImageNet-21k ViTs are checked too and cannot
refute (`claims.analysis.not_shown`). The hybrid has no RGB filters (its projection reads ResNet features).
"""

from __future__ import annotations

import numpy as np
import pytest

from claims.analysis import MODELS, check_model, not_shown
from claims.cases import slug

pytestmark = pytest.mark.claim("fig7-embedding-filters")

VITS = tuple(m for m in MODELS if "+" not in m)  # the hybrid's projection reads ResNet features, not RGB values


@pytest.mark.parametrize("model", VITS, ids=[slug(m) for m in VITS])
def test_principal_components_of_the_embedding_filters_are_smooth(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "embedding_filters",
                "low-frequency energy share of each top-28 principal component",
                "the same architecture's randomly initialised filters (component k against k)",
                "\"The components resemble plausible basis functions for a low-dimensional representation of the fine "
                "structure within each patch\" (§4.5, Figure 7 left): the top 28 principal components of the RGB "
                "patch-embedding filters put more of their energy at low spatial frequencies (periods ≥ 4 px) than "
                "those of the randomly initialised filters (mean over components)",
                reference=lambda result: np.asarray(result.metadata["reference"], dtype=float),
                # the 28 components drawn for the model the paper shows only: 5 x 28 maps would weigh on the report
                figure=lambda result: result.metadata["figure"] if not_shown(model, "filters") is None else None)
