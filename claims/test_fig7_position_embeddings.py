"""Figure 7 (center), §4.5: the learned position embeddings encode distance, with row-column structure.

"Figure 7 (center) shows that the model learns to encode distance within the image in the similarity of position
embeddings, i.e. closer patches tend to have more similar position embeddings. Further, the row-column structure
appears; patches in the same row/column have similar embeddings."

Read on the weights of every public ImageNet-21k ViT and the public hybrid (analysis tier, no images): per patch,
(1) −Spearman's rho between the cosine similarity of its embedding with each other patch's and the grid distance
(> 0: similarity falls with distance), (2) how much more similar its same-row/column patches are than other
patches at the same distance. Each check: the mean over patches above a reference, paired bootstrap interval —
0 for (1); for (2) `ROW_COLUMN_MIN`, the smallest excess counted as structure: the statistic reads ≈ 0 on an
isotropic embedding (a similarity set by distance alone), but an exactly isotropic one has no spread over its
patches, so an interpolation error of 10⁻⁴ would otherwise already count as "significant".

The paper shows ViT-L/32's position embeddings (Figure 7, center): ViT-L/32 decides; the check on every other model
cannot refute (`claims.analysis.not_shown`: App. D.4 says the pattern depends on the training hyperparameters).
"""

from __future__ import annotations

import numpy as np
import pytest

from claims.analysis import MODELS, check_model
from claims.cases import slug

pytestmark = pytest.mark.claim("fig7-position-embeddings")

# Cosine units: 30 x the largest error of the statistic's spline on exactly isotropic embeddings (3·10⁻⁴ on 7 x 7 to
# 14 x 14 grids, `measure.analysis.posemb`) and 1/200 of the figure's colour scale (−1 to 1): below any structure
# the figure could show, above anything the interpolation alone produces.
ROW_COLUMN_MIN = 0.01


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_closer_patches_have_more_similar_position_embeddings(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "posemb_distance", "−rho(similarity, distance) per patch",
                "0 (similarity unrelated to distance)",
                "\"closer patches tend to have more similar position embeddings\" (§4.5): the cosine similarity of "
                "position embeddings falls with grid distance (mean over patches of −Spearman rho above 0)",
                figure=lambda result: result.metadata["figure"])


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_same_row_or_column_patches_have_more_similar_position_embeddings(claim_check, evidence, model):
    # the similarity maps are drawn once per model, with the distance check above
    check_model(claim_check, evidence, model, "posemb_row_column", "same row/column minus other pairs at equal distance",
                f"{ROW_COLUMN_MIN} (the smallest excess counted as row-column structure)",
                "\"the row-column structure appears; patches in the same row/column have similar embeddings\" (§4.5): "
                "patches in the same row or column have more similar position embeddings (cosine) than other patches "
                f"at the same distance, by more than {ROW_COLUMN_MIN} (mean over patches)",
                reference=lambda result: np.full(result.n, ROW_COLUMN_MIN))
