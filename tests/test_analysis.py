"""The analysis tier and the Figure 7 checks, on tiny ViTs with planted structure in the real on-disk format.

Two worlds of checkpoints in the Hugging Face hub-cache layout of the public timm rows (`tests/planted_vits.py`):

* planted — as the paper describes: smooth 2-D position embeddings; in the first layer one global head and
  local others, attention widening with depth; a hybrid whose early layers attend globally;
* reversed — position embeddings whose similarity rises with distance and drops within a row or column;
  attention local in every head of the first layer and narrowing with depth; a hybrid attending to itself early.

Each Figure 7 check runs end to end — registry row → the suite's loader → the analysis tier on the fake ImageNet
validation folder → the claim function → the plugin's rule — and must verify on the planted world and refute on
the reversed one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import timm
import torch

from measure.analysis import attention, posemb
from measure.data.opening import DatasetOpener
from measure.models.hub import HubAccess
from measure.models.loaders import CheckpointLoader
from measure.models.registry import CheckpointSpec
from measure.run.cache import ChunkCache
from measure.tiers.evidence import Evidence
from measure.tiers.results import Unavailable
from measure.tiers.runner import TierRunner
from pytest_claims import ClaimCheck
from pytest_claims.check import RECORD_KEY
from pytest_claims.config import load_config
from tests.claim_modules import load_claim_module
from tests.fake_checkpoints import timm_hub_files, write_hf_cache_repo
from tests.planted_vits import (
    GLOBAL,
    SELF,
    early_and_late,
    local_early_global_late,
    narrowing_with_depth,
    plant,
)
from tests.tier_world import world_paths

ROOT = Path(__file__).resolve().parents[1]
VIT_TAG, HYBRID_TAG = "test_vit3.r160_in1k", "vit_tiny_r_s16_p8_224.augreg_in21k_ft_in1k"
VIT = CheckpointSpec(key="tiny-vit", paper_model="ViT-B/16", pretraining="imagenet21k", finetuned_on="",
                     resolution=160, library="timm", hub_id=VIT_TAG, provenance="substitute",
                     note="test-only tiny ViT with planted structure", num_classes=1000)
HYBRID = dataclasses.replace(VIT, key="tiny-hybrid", paper_model="R50+ViT-B/16", resolution=224, hub_id=HYBRID_TAG,
                             note="test-only tiny hybrid with planted structure")


def planted_models(kind: str) -> dict[CheckpointSpec, torch.nn.Module]:
    torch.manual_seed(0)
    vit = timm.create_model(VIT_TAG.split(".")[0], num_classes=1000)
    hybrid = timm.create_model(HYBRID_TAG.split(".")[0], num_classes=1000)
    depth, heads = len(vit.blocks), vit.blocks[0].attn.num_heads
    if kind == "planted":
        return {VIT: plant(vit, "smooth", local_early_global_late(depth, heads)),
                HYBRID: plant(hybrid, "smooth", early_and_late(hybrid, GLOBAL, GLOBAL))}
    return {VIT: plant(vit, "reversed", narrowing_with_depth(depth, heads)),
            HYBRID: plant(hybrid, "smooth", early_and_late(hybrid, SELF, GLOBAL))}


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One hub cache per world: both hold the same timm tags, with other weights."""
    out = {}
    for kind in ("planted", "reversed"):
        base = tmp_path_factory.mktemp(f"analysis-{kind}")
        for spec, model in planted_models(kind).items():
            write_hf_cache_repo(base / "hub", f"timm/{spec.hub_id}", timm_hub_files(model, base / f"export-{spec.key}"))
        out[kind] = base
    return out


def find(paper_model: str, pretraining: str, finetuned_on: str = "", *, resolution=None, **_):
    return HYBRID if paper_model.startswith("R50+") else VIT


def evidence_for(world, cache: Path, tiers=("analysis",), results: Path | None = None) -> Evidence:
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=cache / "hub"))
    runner = TierRunner(tiers=tiers, load=lambda spec, n: loader(spec, num_classes=n),
                        open_dataset=DatasetOpener(world_paths(world)), cache=ChunkCache(results or cache / "results"),
                        device=torch.device("cpu"), batch_size=6, num_workers=0)
    return Evidence(runner, find=find)


class Item:
    """What ClaimCheck needs of a pytest item."""

    def __init__(self, name: str) -> None:
        self.name, self.nodeid = name, f"tests/test_analysis.py::{name}"
        self.stash, self.user_properties = pytest.Stash(), []
        self.config = SimpleNamespace(getini=lambda key: False)

    def iter_markers(self, name: str):
        return iter(())


def judged(claim: str, test, *args):
    """The record of one claim test function run with a real ClaimCheck (the plugin's rules)."""
    item = Item(test.__name__)
    try:
        test(ClaimCheck(item, claim, load_config(ROOT)), *args)
    except (pytest.skip.Exception, pytest.fail.Exception):
        pass
    return item.stash[RECORD_KEY]


POSEMB = load_claim_module("test_fig7_position_embeddings")
ATTENTION = load_claim_module("test_fig7_attention_distance")
CHECKS = [  # claim, test function, its arguments after (claim_check, evidence)
    ("fig7-position-embeddings", POSEMB.test_closer_patches_have_more_similar_position_embeddings, ("ViT-B/16",)),
    ("fig7-position-embeddings", POSEMB.test_same_row_or_column_patches_have_more_similar_position_embeddings,
     ("ViT-B/16",)),
    ("fig7-attention-distance", ATTENTION.test_attention_distance_grows_with_depth, ("ViT-B/16",)),
    ("fig7-attention-distance", ATTENTION.test_some_heads_attend_to_most_of_the_image_in_the_lowest_layer,
     ("ViT-B/16",)),
    ("fig7-attention-distance", ATTENTION.test_hybrid_attention_is_less_local_in_early_layers, ()),
]
IDS = [test.__name__.removeprefix("test_") for _, test, _ in CHECKS]


@pytest.mark.parametrize("claim,test,args", CHECKS, ids=IDS)
def test_planted_structure_verifies_and_reversed_structure_refutes(trusted, caches, claim, test, args):
    verdicts = {}
    for kind in ("planted", "reversed"):
        record = judged(claim, test, evidence_for(trusted, caches[kind]), *args)
        assert record.kind == "ordering_scores" and record.tier.startswith("analysis"), record
        if "same_row" not in test.__name__:  # its model's similarity maps go with the distance check
            assert record.details["figure"]["kind"] in ("scatter", "heatmaps")
        verdicts[kind] = record.verdict
    assert verdicts == {"planted": "verified", "reversed": "refuted"}


def test_attention_checks_read_the_same_images_and_cache_their_distances(trusted, caches, tmp_path):
    evidence = evidence_for(trusted, caches["planted"], results=tmp_path)
    depth = evidence.measure("analysis", [_model("ViT-B/16")], "imagenet", "attention_depth")
    widest = evidence.measure("analysis", [_model("ViT-B/16")], "imagenet", "attention_lowest_layer")
    (first,), (second,) = depth, widest
    assert first.examples == second.examples and first.n == len(trusted.val_labels)  # 12 fake images < 128
    assert first.metadata["layers"] == 9 and first.metadata["heads"] == 3
    entries = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(entries) == 1  # one cached set of distances serves every attention method


def _model(name: str):
    from measure.tiers.models import Model

    return Model(name, "imagenet21k")


def test_without_the_checkpoint_the_checks_are_not_run_and_say_what_to_provide(trusted, tmp_path):
    (tmp_path / "hub").mkdir()
    evidence = evidence_for(trusted, tmp_path)
    for claim, test, args in CHECKS:
        record = judged(claim, test, evidence, *args)
        assert record.verdict == "not_run" and record.plan is not None and record.plan.tier.startswith("analysis")
        assert any(VIT_TAG in need or HYBRID_TAG in need for need in record.needs)
        assert not any("GPU" in need for need in record.needs)  # a CPU runs this tier in minutes


def test_not_selected_tier_is_not_run_with_the_option_to_give(trusted, caches):
    outcome = evidence_for(trusted, caches["planted"], tiers=("eval",)).measure(
        "analysis", [_model("ViT-B/16")], "weights", "posemb_distance")
    assert isinstance(outcome, Unavailable) and "--claims-tier" in outcome.needs[0] and "analysis" in outcome.needs[0]


# -- the library on its own ------------------------------------------------------------------------------------

def test_attention_weights_are_timms_own():
    torch.manual_seed(1)
    model = timm.create_model("test_vit", num_classes=0).eval()
    seen = {}
    for i, block in enumerate(model.blocks):
        block.attn.fused_attn = False  # timm's explicit path: its softmax goes through attn_drop
        block.attn.attn_drop.register_forward_pre_hook(lambda m, a, i=i: seen.__setitem__(("timm", i), a[0]))
        block.attn.register_forward_pre_hook(
            lambda m, a, i=i: seen.__setitem__(("ours", i), attention.attention_weights(m, a[0])))
    with torch.no_grad():
        model.forward_features(torch.randn(2, 3, 160, 160))
    for i in range(len(model.blocks)):
        torch.testing.assert_close(seen[("ours", i)], seen[("timm", i)])


def test_references_on_a_grid():
    # 2 x 2 patches of 10 px: from a corner, the others lie at 10, 10 and 14.1 px (and itself at 0).
    assert attention.uniform_distance(2, 2, 10.0) == pytest.approx((0 + 10 + 10 + 10 * np.sqrt(2)) / 4)
    assert attention.nearer_half_distance(2, 2, 10.0) == pytest.approx(5.0)  # itself and one neighbour
    assert attention.nearer_half_distance(14, 14, 16) < attention.uniform_distance(14, 14, 16)


def test_attention_distance_of_uniform_and_self_attention():
    distances = np.zeros((3, 4, 2))
    distances[:, :, 1] = 50.0
    assert attention.early_mean(distances).tolist() == [25.0] * 3  # first quarter of 4 layers: layer 0
    assert attention.lowest_layer_widest(distances).tolist() == [50.0] * 3
    rising = np.arange(4, dtype=float)[None, :, None] * np.ones((3, 4, 2))
    assert attention.depth_trend(rising).tolist() == pytest.approx([1.0] * 3)
    assert attention.depth_trend(rising[:, ::-1]).tolist() == pytest.approx([-1.0] * 3)


def test_position_embedding_statistics_see_distance_and_row_column_structure():
    from tests.planted_vits import reversed_2d, smooth_2d

    for maker, sign in ((smooth_2d, 1.0), (reversed_2d, -1.0)):
        grid = maker(8, 8, 60).reshape(8, 8, -1)
        similarity = posemb.cosine_similarity(grid)
        assert np.all(sign * -posemb.distance_falloff(similarity, 8, 8) > 0)
        excess = posemb.row_column_excess(similarity, 8, 8)
        assert np.nanmean(sign * excess) > 0
    shuffled = np.random.default_rng(0).permutation(smooth_2d(8, 8, 60)).reshape(8, 8, -1)
    rho = posemb.distance_falloff(posemb.cosine_similarity(shuffled), 8, 8)
    assert abs(rho.mean()) < 0.1  # embeddings put at random places say nothing about distance


def test_grid_embeddings_leave_out_prefix_tokens():
    model = timm.create_model("test_vit", num_classes=0)
    with torch.no_grad():
        model.pos_embed[0, 0] = 1000.0  # the class token's: must not be read as a patch
    grid = posemb.grid_embeddings(model)
    assert grid.shape == (10, 10, 64) and grid.max() < 1000.0
    maps = posemb.similarity_maps(posemb.cosine_similarity(grid), 10, 10)
    assert len(maps["maps"]) == 25 and np.array(maps["maps"][0]["z"]).shape == (10, 10)


def test_claims_fetch_names_the_rows_the_analysis_tier_reads():
    from measure.models.fetch import tier_rows
    from measure.tiers.models import resolve

    keys = {spec.key for spec in tier_rows("analysis")}
    for model in POSEMB.MODELS:
        assert resolve(_model(model)).key in keys  # every model a Figure 7 check reads can be fetched
    assert all(spec.pretraining == "imagenet21k" and not spec.finetuned_on for spec in tier_rows("analysis"))
