"""Figure 7 (center), §4.5: the learned position embeddings encode distance, with row-column structure.

"Figure 7 (center) shows that the model learns to encode distance within the image in the similarity of position
embeddings, i.e. closer patches tend to have more similar position embeddings. Further, the row-column structure
appears; patches in the same row/column have similar embeddings."

Read on the weights of every public ImageNet-21k ViT and the public hybrid (analysis tier, no images): per patch,
(1) −Spearman's rho between the cosine similarity of its embedding with each other patch's and the grid distance
(> 0: similarity falls with distance), (2) how much more similar its same-row/column patches are than other
patches at the same distance. Each check: the mean over patches above 0, paired bootstrap interval.
"""

from __future__ import annotations

import pytest

from claims.analysis import MODELS, check_model
from claims.cases import slug

pytestmark = pytest.mark.claim("fig7-position-embeddings")


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_closer_patches_have_more_similar_position_embeddings(claim_check, evidence, model):
    check_model(claim_check, evidence, model, "posemb_distance", "−rho(similarity, distance) per patch",
                "0 (similarity unrelated to distance)",
                "the cosine similarity of position embeddings falls with grid distance (mean over patches of "
                "−Spearman rho above 0)", figure=lambda result: result.metadata["figure"])


@pytest.mark.parametrize("model", MODELS, ids=[slug(m) for m in MODELS])
def test_same_row_or_column_patches_have_more_similar_position_embeddings(claim_check, evidence, model):
    # the similarity maps are drawn once per model, with the distance check above
    check_model(claim_check, evidence, model, "posemb_row_column", "same row/column minus other pairs at equal distance",
                "0 (no row-column structure)",
                "patches in the same row or column have more similar position embeddings than other patches at the "
                "same distance (mean over patches above 0)")
