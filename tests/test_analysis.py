"""The analysis tier and the Figure 7 checks, on tiny ViTs with planted structure in the real on-disk format.

Two worlds of checkpoints in the Hugging Face hub-cache layout of the public timm rows (`tests/planted_vits.py`):

* planted — as the paper describes: smooth 2-D position embeddings; in the first layer one global head and
  local others, attention widening with depth; a hybrid whose early layers attend globally;
* reversed — position embeddings whose similarity rises with distance and drops within a row or column;
  attention at a middling distance in every head of the low layers (neither global nor local) and narrowing with
  depth; a hybrid attending to itself early.

Each Figure 7 check runs end to end — registry row → the suite's loader → the analysis tier on the fake ImageNet
validation folder → the claim function → the plugin's rule — on the model the paper shows, and must verify on the
planted world and refute on the reversed one (the hybrid comparison, which stands in for an unreleased pair, and
any model the paper does not show: inconclusive instead of refuted).

Then the statistics on their own, each against a value computed by hand or in closed form, with a negative
control where the statistic could see structure that is not there.
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
from measure.tiers.results import TierResult, Unavailable
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
    middling_then_narrowing,
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
    return {VIT: plant(vit, "reversed", middling_then_narrowing(depth, heads)),
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
SHOWN_POSEMB, SHOWN_ATTENTION = "ViT-L/32", "ViT-L/16"  # the models the paper's panels show: they decide
CHECKS = [  # claim, test function, its arguments after (claim_check, evidence)
    ("fig7-position-embeddings", POSEMB.test_closer_patches_have_more_similar_position_embeddings, (SHOWN_POSEMB,)),
    ("fig7-position-embeddings", POSEMB.test_same_row_or_column_patches_have_more_similar_position_embeddings,
     (SHOWN_POSEMB,)),
    ("fig7-attention-distance", ATTENTION.test_attention_distance_grows_with_depth, (SHOWN_ATTENTION,)),
    ("fig7-attention-distance", ATTENTION.test_some_heads_attend_to_most_of_the_image_in_the_lowest_layer,
     (SHOWN_ATTENTION,)),
    ("fig7-attention-distance", ATTENTION.test_hybrid_attention_is_less_local_in_early_layers, ()),
    ("fig7-attention-distance", ATTENTION.test_other_heads_have_small_attention_distances_in_the_low_layers,
     (SHOWN_ATTENTION,)),
    ("fig7-attention-distance", ATTENTION.test_attention_distance_increases_for_all_heads_with_depth,
     (SHOWN_ATTENTION,)),
    ("fig7-attention-distance", ATTENTION.test_most_heads_attend_widely_in_the_second_half_of_the_network,
     (SHOWN_ATTENTION,)),
]
IDS = [test.__name__.removeprefix("test_") for _, test, _ in CHECKS]


def rule_verdict(record) -> str:
    """The plugin rule's own verdict, before a `cannot_refute` turns a refutation inconclusive."""
    return record.rule.get("rule_verdict", record.verdict)


@pytest.mark.parametrize("claim,test,args", CHECKS, ids=IDS)
def test_planted_structure_verifies_and_reversed_structure_refutes(trusted, caches, claim, test, args):
    verdicts, rules = {}, {}
    for kind in ("planted", "reversed"):
        record = judged(claim, test, evidence_for(trusted, caches[kind]), *args)
        assert record.kind == "ordering_scores" and record.tier.startswith("analysis"), record
        if "same_row" not in test.__name__:  # its model's similarity maps go with the distance check
            assert record.details["figure"]["kind"] in ("scatter", "heatmaps")
        verdicts[kind], rules[kind] = record.verdict, rule_verdict(record)
    assert rules == {"planted": "verified", "reversed": "refuted"}
    stands_in = "hybrid" in test.__name__  # R50+ViT-B/16 for the unreleased R50+ViT-L/16: cannot refute
    assert verdicts == {"planted": "verified", "reversed": "inconclusive" if stands_in else "refuted"}


@pytest.mark.parametrize("claim,test", [(claim, test) for claim, test, args in CHECKS if args],
                         ids=[name for name, (_, _, args) in zip(IDS, CHECKS, strict=True) if args])
def test_a_model_the_paper_does_not_show_cannot_refute(trusted, caches, tmp_path, claim, test):
    record = judged(claim, test, evidence_for(trusted, caches["reversed"]), "ViT-B/16")
    assert rule_verdict(record) == "refuted" and record.verdict == "inconclusive"
    assert "does not show ViT-B/16" in record.reason
    (tmp_path / "hub").mkdir()
    planned = judged(claim, test, evidence_for(trusted, tmp_path), "ViT-B/16")
    assert planned.verdict == "not_run" and "cannot refute" in planned.plan.description
    decisive = judged(claim, test, evidence_for(trusted, tmp_path), SHOWN_POSEMB if "position" in claim else
                      SHOWN_ATTENTION)
    assert "cannot refute" not in decisive.plan.description
    assert decisive.plan.description.count('"') >= 2  # it quotes the paper's sentence


def test_attention_checks_read_the_same_images_and_cache_their_distances(trusted, caches, tmp_path):
    evidence = evidence_for(trusted, caches["planted"], results=tmp_path)
    depth = evidence.measure("analysis", [_model("ViT-B/16")], "imagenet", "attention_depth")
    widest = evidence.measure("analysis", [_model("ViT-B/16")], "imagenet", "attention_lowest_layer")
    (first,), (second,) = depth, widest
    assert first.examples == second.examples and first.n == len(trusted.val_labels)  # 12 fake images < 128
    assert first.metadata["layers"] == 9 and first.metadata["heads"] == 3
    # every head's class-token mass is recorded (the planted class token draws ≤ 1/101 of a head's attention)
    mass = np.array(first.metadata["class_token"]["mass"])
    assert mass.shape == (9, 3) and mass.max() <= 0.011 and first.metadata["class_token"]["dominated"] == []
    assert set(first.metadata["references_px"]) == {"uniform", "nearer_half", "local"}
    entries = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(entries) == 1  # one cached set of distances serves every attention method


def _model(name: str):
    from measure.tiers.paper_models import Model

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
    assert attention.local_distance(2, 2, 10.0) == 0.0  # the nearest eighth of 4 patches: itself
    # 14 x 14 patches of 16 px (ViT-L/16 at 224 px): the nearest eighth is 25 patches — itself, 4 at 16 px, 4 at
    # 22.6, 4 at 32, 8 at 35.8 — and 4 of the 12 at 45.3 (√8 patches), for a query far from the border.
    inner = (4 * 16 + 4 * 16 * np.sqrt(2) + 4 * 32 + 8 * 16 * np.sqrt(5) + 4 * 16 * np.sqrt(8)) / 25
    distances = np.sort(attention.patch_distances(14, 14, 16.0)[7 * 14 + 7])[:25]
    assert distances.mean() == pytest.approx(inner)
    assert attention.nearer_half_distance(14, 14, 16) == pytest.approx(73.35, abs=0.01)
    assert attention.uniform_distance(14, 14, 16) == pytest.approx(grid_mean_distance(14, 14) * 16)


def grid_mean_distance(rows: int, cols: int) -> float:
    """Mean Euclidean distance (in patches) between two patches of a rows x cols grid, drawn uniformly: counted by
    offset — (rows − |dy|)(cols − |dx|) ordered pairs lie at offset (dy, dx) — not from a distance matrix."""
    total = sum((rows - abs(dy)) * (cols - abs(dx)) * np.hypot(dy, dx)
                for dy in range(-rows + 1, rows) for dx in range(-cols + 1, cols))
    return total / (rows * cols) ** 2


def class_token_model(logit: float) -> torch.nn.Module:
    """timm's test_vit (10 x 10 patches of 16 px at 160 px, 2 heads, 6 layers) whose every patch token is one
    vector and whose class token another, orthogonal to it: in every layer, head 0 of every patch query puts
    logit `logit` on the class token and 0 on every patch; head 1 attends to all tokens alike."""
    model = timm.create_model("test_vit", num_classes=0).eval()
    dim = model.embed_dim
    patch = torch.tensor([1.0, -1.0] * (dim // 2))       # mean 0, variance 1: LayerNorm leaves it
    cls = torch.tensor([1.0, 1.0, -1.0, -1.0] * (dim // 4))  # idem, orthogonal to `patch`
    with torch.no_grad():
        model.patch_embed.proj.weight.zero_()
        model.patch_embed.proj.bias.zero_()
        model.pos_embed.zero_()
        model.pos_embed[0, 1:] = patch
        model.cls_token.copy_(cls.view(1, 1, -1))
        for block in model.blocks:
            attn = block.attn
            block.norm1.weight.fill_(1.0)
            block.norm1.bias.zero_()
            attn.qkv.weight.zero_()
            attn.qkv.bias.zero_()
            attn.qkv.bias[0] = 1.0                                  # head 0's query: e_0, for every token
            attn.qkv.weight[dim] = cls * logit / (dim * attn.scale)  # head 0's key along e_0: cls·x / dim
            attn.proj.weight.zero_()
            attn.proj.bias.zero_()
            block.mlp.fc2.weight.zero_()
            block.mlp.fc2.bias.zero_()
    return model


@pytest.mark.parametrize("cls_share", [0.25, 0.9])
def test_uniform_attention_reads_the_closed_form_distance_in_pixels_and_the_class_token_mass(cls_share):
    patches = 100
    logit = float(np.log(cls_share / (1 - cls_share) * patches))  # e^s / (e^s + 100) = cls_share
    model = class_token_model(logit)
    distance, mass = attention.attention_distances(model, torch.randn(2, 3, 160, 160), 160)
    assert distance.shape == mass.shape == (2, 6, 2)
    # over the patches both heads attend evenly: the mean distance between two patches, 16 px each
    np.testing.assert_allclose(distance, grid_mean_distance(10, 10) * 16, rtol=1e-5)
    assert grid_mean_distance(10, 10) * 16 == pytest.approx(82.99, abs=0.01)
    np.testing.assert_allclose(mass[..., 0], cls_share, rtol=1e-4)
    np.testing.assert_allclose(mass[..., 1], 1 / (patches + 1), rtol=1e-4)


def test_planted_attention_reads_the_hand_computed_distance_and_class_token_mass():
    # 2 x 2 patches of 10 px after the class token (tokens: cls, p0, p1, p2, p3). Every patch query puts 0.6 on the
    # class token; head 0 the remaining 0.4 on the diagonally opposite patch (10√2 px away), head 1 0.2 on itself
    # and 0.2 on that patch. The class token's own query looks at p3 alone: it is no query of the image.
    weights = torch.zeros(1, 2, 5, 5)
    weights[0, :, 0, 4] = 1.0
    for p, opposite in enumerate((3, 2, 1, 0)):
        weights[0, :, 1 + p, 0] = 0.6
        weights[0, 0, 1 + p, 1 + opposite] = 0.4
        weights[0, 1, 1 + p, 1 + p] = weights[0, 1, 1 + p, 1 + opposite] = 0.2
    distances = torch.as_tensor(attention.patch_distances(2, 2, 10.0), dtype=torch.float32)
    distance, mass = attention.patch_attention(weights, 1, distances)
    # renormalised over the patches: head 0 all at 10√2 px, head 1 half at 0 and half at 10√2 px
    torch.testing.assert_close(distance, torch.tensor([[10 * 2 ** 0.5, 5 * 2 ** 0.5]]))
    torch.testing.assert_close(mass, torch.tensor([[0.6, 0.6]]))
    with pytest.raises(ValueError, match="patch tokens"):
        attention.patch_attention(weights, 0, distances)  # 5 tokens are not 4 patches


def test_the_global_head_is_chosen_on_the_other_images():
    # 4 images, 1 layer, 2 heads: the even images favour head 0, the odd ones head 1.
    distances = np.array([[50.0, 10.0], [20.0, 40.0], [50.0, 10.0], [20.0, 40.0]])[:, None, :]
    no_class_token = np.zeros_like(distances)
    # even images: the head the odd ones favour (1), at 10 px; odd images: head 0, at 20 px
    assert attention.lowest_layer_widest(distances, no_class_token).tolist() == [10.0, 20.0, 10.0, 20.0]
    assert attention.chosen_heads(distances, no_class_token, [0], np.nanargmin)[:, 0].tolist() == [50.0, 40.0] * 2
    assert distances.max(axis=2).mean() == 45.0  # the per-image maximum: what each image's noise favours


def test_heads_that_each_average_60_px_do_not_attend_to_most_of_the_image():
    # 16 heads, every one 60 px on average with an image-to-image sd of 15 px, on ViT-L/16's grid (nearer half of
    # the image: 73 px). The per-image maximum over the heads reads ≈88 px; the head chosen on the other images ≈60.
    rng = np.random.default_rng(0)
    distances = rng.normal(60.0, 15.0, size=(128, 24, 16))
    class_mass = np.full_like(distances, 0.01)
    assert distances[:, 0].max(axis=1).mean() > 85.0
    widest = attention.lowest_layer_widest(distances, class_mass)
    assert abs(widest.mean() - 60.0) < 3.0
    record = judged("fig7-attention-distance", ATTENTION.test_some_heads_attend_to_most_of_the_image_in_the_lowest_layer,
                    Given(synthetic("attention_lowest_layer", distances, class_mass)), SHOWN_ATTENTION)
    assert record.plan.b_label.startswith("a head attending evenly to the nearer half")
    assert record.measured.value < 0 and record.verdict == "refuted"
    distances[:, 0, 5] += 30.0  # one head at 90 px: now some head does
    record = judged("fig7-attention-distance", ATTENTION.test_some_heads_attend_to_most_of_the_image_in_the_lowest_layer,
                    Given(synthetic("attention_lowest_layer", distances, class_mass)), SHOWN_ATTENTION)
    assert record.verdict == "verified"


def test_a_head_that_attends_to_the_class_token_counts_as_neither_global_nor_local():
    # layer 0: head 0 spreads its patch attention evenly (116 px once renormalised) but puts 0.9 on the class token;
    # heads 1 and 2 reach 40 and 20 px. Layer 1: head 0 at 5 px with 0.8 on the class token, the others 60, 70 px.
    distances = np.tile([[116.5, 40.0, 20.0], [5.0, 60.0, 70.0]], (6, 1, 1))
    class_mass = np.tile([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]], (6, 1, 1))
    assert attention.lowest_layer_widest(distances, class_mass).tolist() == [40.0] * 6
    assert attention.low_layers_local(distances, class_mass).tolist() == [20.0] * 6  # first quarter: layer 0
    assert attention.second_half_wide_share(distances, class_mass, 65.0).tolist() == [0.5] * 6  # 70 of (60, 70)
    assert attention.depth_trend(distances, class_mass).tolist() == pytest.approx([1.0] * 6)  # 30 → 65 px
    summary = attention.class_token_summary(class_mass)
    assert summary["dominated"] == [[0, 0], [1, 0]] and summary["mass"][0] == [0.9, 0.05, 0.05]
    with pytest.raises(ValueError, match="class token"):
        attention.lowest_layer_widest(distances, np.full_like(class_mass, 0.7))


def test_depth_statistics_on_hand_made_distances():
    # 4 images, 4 layers, 2 heads: head 0 rises 10, 20, 30, 40 px; head 1 stays at 100 px.
    distances = np.zeros((4, 4, 2))
    distances[:, :, 0] = [10.0, 20.0, 30.0, 40.0]
    distances[:, :, 1] = 100.0
    none = np.zeros_like(distances)
    assert attention.local_depth_trend(distances, none).tolist() == pytest.approx([1.0] * 4)
    assert attention.depth_trend(distances, none).tolist() == pytest.approx([1.0] * 4)
    assert attention.low_layers_local(distances, none).tolist() == [10.0] * 4  # first quarter of 4 layers: layer 0
    # second half: layers 2 and 3, heads at 30, 100, 40, 100 px: 2 of 4 beyond 35 px, 3 of 4 beyond 35 ... 30
    assert attention.second_half_wide_share(distances, none, 35.0).tolist() == [0.75] * 4
    assert attention.second_half_wide_share(distances, none, 50.0).tolist() == [0.5] * 4
    assert list(attention.second_half(9)) == [5, 6, 7, 8]  # the middle layer of an odd depth is in neither half
    falling = distances[:, ::-1]
    assert attention.local_depth_trend(falling, none).tolist() == pytest.approx([-1.0] * 4)


def test_cosine_similarity_ignores_the_norms():
    grid = np.array([[[3.0, 0.0], [0.0, 2.0], [1.0, 1.0]]])  # 1 x 3 patches of unequal norms
    half = np.sqrt(0.5)
    np.testing.assert_allclose(posemb.cosine_similarity(grid), [[1, 0, half], [0, 1, half], [half, half, 1]])
    from tests.planted_vits import smooth_2d

    unit = smooth_2d(8, 8, 60).reshape(8, 8, -1)
    scaled = unit * np.random.default_rng(0).uniform(0.1, 10.0, size=(8, 8, 1))  # each patch its own norm
    for statistic in (posemb.distance_falloff, posemb.row_column_excess):
        # equal up to rounding (which can break a tie of the rank correlation): a dot product differs by far more
        np.testing.assert_allclose(statistic(posemb.cosine_similarity(scaled), 8, 8),
                                   statistic(posemb.cosine_similarity(unit), 8, 8), atol=1e-3)


def test_row_column_excess_reads_a_planted_excess_exactly():
    # similarity 1 − 0.05·d − 0.004·d² for every pair, plus 0.2 within a row or column: every patch's excess is 0.2
    # (the spline reproduces a polynomial profile up to degree 3).
    rows = cols = 7
    r, c = np.divmod(np.arange(rows * cols), cols)
    d = posemb.grid_distances(rows, cols)
    same_line = ((r[:, None] == r[None, :]) | (c[:, None] == c[None, :])) & (d > 0)
    similarity = 1 - 0.05 * d - 0.004 * d ** 2 + 0.2 * same_line
    excess = posemb.row_column_excess(similarity, rows, cols)
    assert np.isfinite(excess).all()  # every patch has a partner at distance 2 or more, bracketed
    np.testing.assert_allclose(excess, 0.2, atol=1e-9)
    isotropic = posemb.row_column_excess(similarity - 0.2 * same_line, rows, cols)
    np.testing.assert_allclose(isotropic, 0.0, atol=1e-9)


def isotropic_embeddings(rows: int, cols: int, scale: float, dims: int = 2048, seed: int = 0) -> np.ndarray:
    """(rows, cols, dims) random Fourier features of the patch position with isotropic Gaussian frequencies: a
    similarity that depends on the distance alone (≈ exp(−d²/2·scale²)), no row-column structure."""
    rng = np.random.default_rng(seed)
    frequencies = rng.normal(size=(dims // 2, 2)) / scale
    r, c = np.divmod(np.arange(rows * cols), cols)
    angles = np.stack([r, c], axis=1) @ frequencies.T
    return np.concatenate([np.cos(angles), np.sin(angles)], axis=1).reshape(rows, cols, -1)


@pytest.mark.parametrize("grid,scale", [(7, 1.0), (7, 2.0), (14, 2.0), (14, 4.0)])
def test_isotropic_embeddings_show_no_row_column_structure(grid, scale):
    similarity = posemb.cosine_similarity(isotropic_embeddings(grid, grid, scale))
    excess = posemb.row_column_excess(similarity, grid, grid)
    assert abs(np.nanmean(excess)) < 0.003
    # the same comparison without matching distance: same-row/column partners are nearer, so more similar
    r, c = np.divmod(np.arange(grid * grid), grid)
    on_axis = (r[:, None] == r[None, :]) | (c[:, None] == c[None, :])
    np.fill_diagonal(on_axis, False)
    off_axis = ~on_axis & ~np.eye(grid * grid, dtype=bool)
    naive = [similarity[p][on_axis[p]].mean() - similarity[p][off_axis[p]].mean() for p in range(grid * grid)]
    assert np.mean(naive) > 0.05
    result = TierResult(tier="analysis", label="analysis: isotropic embeddings", dataset="weights",
                        checkpoint="isotropic", correct=None, scores=excess[np.isfinite(excess)],
                        examples={"dataset": "weights", "n": int(np.isfinite(excess).sum())},
                        metadata={"checkpoint": {"paper_model": SHOWN_POSEMB}, "figure": {}})
    record = judged("fig7-position-embeddings",
                    POSEMB.test_same_row_or_column_patches_have_more_similar_position_embeddings, Given(result),
                    SHOWN_POSEMB)
    assert record.verdict == "refuted"


def test_exactly_isotropic_embeddings_stay_below_the_smallest_structure():
    # a Gaussian kernel factored exactly: no sampling spread over the patches, only the interpolation's own error
    for grid in (7, 14):
        d = posemb.grid_distances(grid, grid)
        values, vectors = np.linalg.eigh(np.exp(-d ** 2 / 2))
        embeddings = (vectors * np.sqrt(values.clip(min=0))).reshape(grid, grid, -1)
        excess = posemb.row_column_excess(posemb.cosine_similarity(embeddings), grid, grid)
        assert abs(np.nanmean(excess)) < 5e-4
    assert POSEMB.ROW_COLUMN_MIN >= 20 * 5e-4  # the smallest structure the check counts is far above that error


def test_position_embedding_statistics_see_distance_and_row_column_structure():
    from tests.planted_vits import reversed_2d, smooth_2d

    for maker, sign in ((smooth_2d, 1.0), (reversed_2d, -1.0)):
        grid = maker(8, 8, 60).reshape(8, 8, -1)
        similarity = posemb.cosine_similarity(grid)
        assert np.all(sign * -posemb.distance_falloff(similarity, 8, 8) > 0)
        excess = posemb.row_column_excess(similarity, 8, 8)
        assert np.nanmean(sign * excess) > POSEMB.ROW_COLUMN_MIN
    shuffled = np.random.default_rng(0).permutation(smooth_2d(8, 8, 60)).reshape(8, 8, -1)
    rho = posemb.distance_falloff(posemb.cosine_similarity(shuffled), 8, 8)
    assert abs(rho.mean()) < 0.1  # embeddings put at random places say nothing about distance


class Given:
    """Evidence that hands back the given results, whatever it is asked."""

    def __init__(self, *results: TierResult) -> None:
        self.results = list(results)

    def measure(self, tier, models, dataset, method):
        return self.results


def synthetic(method: str, distances: np.ndarray, class_mass: np.ndarray) -> TierResult:
    """The analysis tier's result of `method` on given distances, on ViT-L/16's grid (14 x 14 patches of 16 px)."""
    from measure.tiers.analysis import attention_statistic

    references = {"uniform": attention.uniform_distance(14, 14, 16.0),
                  "nearer_half": attention.nearer_half_distance(14, 14, 16.0),
                  "local": attention.local_distance(14, 14, 16.0)}
    scores, what = attention_statistic(method, distances, class_mass, references)
    return TierResult(tier="analysis", label="analysis: synthetic attention distances", dataset="imagenet",
                      checkpoint="synthetic", correct=None, scores=scores,
                      examples={"dataset": "synthetic", "n": len(scores)},
                      metadata={"statistic": what, "references_px": references,
                                "checkpoint": {"paper_model": SHOWN_ATTENTION},
                                "class_token": attention.class_token_summary(class_mass),
                                "figure_series": attention.per_head_figure(distances, SHOWN_ATTENTION)})


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
    from measure.tiers.paper_models import resolve

    keys = {spec.key for spec in tier_rows("analysis")}
    for model in POSEMB.MODELS:
        assert resolve(_model(model)).key in keys  # every model a Figure 7 check reads can be fetched
    assert all(spec.pretraining == "imagenet21k" and not spec.finetuned_on for spec in tier_rows("analysis"))
