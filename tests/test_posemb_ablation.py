"""Table 8's digits analogue: the position-encoding variants are what they say, and its checks decide as they should.

The models: no embedding is a bag of patches (permuting patches changes nothing), the 2-D embedding is
[X(column) ‖ Y(row)], the relative variant is timm's attention plus logits that depend on the offset only (with zero
embeddings it is exactly the no-embedding ViT). The checks run on planted per-image correctness through a real
ClaimCheck: planted as the paper says, they verify; reversed, the rule refutes and the analogue's limit turns that
into inconclusive (never refuted, never verified); without --claims-posemb-analogue, or with a run that did not fit
its training set, they are not run and say what to provide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from measure.models import tiny as tiny_models
from measure.models.tiny_positions import GridPositionViT, RelativePositionViT, relative_offsets
from measure.studies.small_data import pool, training
from measure.studies.small_data.design import POSEMB_ABLATION, STUDY, Recipe, RunSpec, SmallDataRun
from tests.claim_modules import load_claim_module
from tests.test_analysis import judged

ANALOGUE = load_claim_module("test_table8_posemb_analogue")
CLAIM = "posemb-ablation"
GRID = 4  # 8×8 digits, patch 2


def _built(name: str, seed: int = 0) -> torch.nn.Module:
    """A freshly initialised variant; the relative one with its offset embeddings scaled up from timm's std 0.02,
    whose effect on an untrained model's logits is below float tolerance (the tests are about structure)."""
    torch.manual_seed(seed)
    model = tiny_models.build(name).eval()
    if name == "vit-relative":
        with torch.no_grad():
            for block in model.blocks:
                block.attn.relative.mul_(50)
    return model


def _shuffle_patches(images: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """The images with their 2×2 patches moved to the raster positions ``order`` says."""
    b = images.shape[0]
    patches = images.reshape(b, 1, GRID, 2, GRID, 2).permute(0, 1, 2, 4, 3, 5).reshape(b, 1, GRID * GRID, 2, 2)
    return patches[:, :, order].reshape(b, 1, GRID, GRID, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(b, 1, 8, 8)


IMAGES = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
ORDER = torch.randperm(GRID * GRID, generator=torch.Generator().manual_seed(2))


def test_patch_shuffle_moves_patches_and_keeps_their_pixels():
    shuffled = _shuffle_patches(IMAGES, ORDER)
    assert not torch.equal(shuffled, IMAGES)
    assert torch.equal(_shuffle_patches(IMAGES, torch.arange(GRID * GRID)), IMAGES)
    # raster patch k of the shuffled image is patch ORDER[k] of the original
    k, src = 5, int(ORDER[5])
    assert torch.equal(shuffled[:, :, (k // GRID) * 2:(k // GRID) * 2 + 2, (k % GRID) * 2:(k % GRID) * 2 + 2],
                       IMAGES[:, :, (src // GRID) * 2:(src // GRID) * 2 + 2, (src % GRID) * 2:(src % GRID) * 2 + 2])


@pytest.mark.parametrize("name, bag", [("vit-none", True), ("vit", False), ("vit-2d", False), ("vit-relative", False)])
def test_only_the_vit_without_position_encoding_is_a_bag_of_patches(name, bag):
    model = _built(name)
    with torch.no_grad():
        same = torch.allclose(model(IMAGES), model(_shuffle_patches(IMAGES, ORDER)), atol=1e-5)
    assert same is bag


def test_the_2d_embedding_is_an_x_embedding_by_column_and_a_y_embedding_by_row():
    model = _built("vit-2d")
    assert isinstance(model, GridPositionViT) and model.pos_embed is None
    grid = model.grid_embedding().detach().reshape(GRID, GRID, -1)
    half = model.embed_dim // 2
    for r in range(GRID):
        for c in range(GRID):
            assert torch.equal(grid[r, c, :half], model.pos_embed_x[c].detach())
            assert torch.equal(grid[r, c, half:], model.pos_embed_y[r].detach())
    with pytest.raises(ValueError, match="odd"):
        GridPositionViT(img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=15, depth=1, num_heads=1)


def test_relative_offsets_index_each_patch_pair_by_its_raster_offset_and_class_pairs_by_one_more():
    index = relative_offsets(num_patches=4, num_prefix_tokens=1)
    assert index.shape == (5, 5)
    assert index[0].tolist() == [7] * 5 and index[:, 0].tolist() == [7] * 5
    for i in range(4):
        for j in range(4):
            assert index[1 + i, 1 + j] == i - j + 3


def test_relative_attention_with_zero_offsets_is_the_vit_without_position_encoding():
    relative = _built("vit-relative")
    assert isinstance(relative, RelativePositionViT) and relative.pos_embed is None
    none = _built("vit-none", seed=1)
    missing, unexpected = none.load_state_dict(relative.state_dict(), strict=False)
    assert missing == [] and sorted(unexpected) == [f"blocks.{i}.attn.relative" for i in range(len(relative.blocks))]
    with torch.no_grad():
        assert not torch.allclose(relative(IMAGES), none(IMAGES), atol=1e-5)  # the offsets matter ...
        for block in relative.blocks:
            block.attn.relative.zero_()
        assert torch.allclose(relative(IMAGES), none(IMAGES), atol=1e-5)  # ... and are all that differs


def test_the_variants_differ_from_the_1d_vit_only_in_their_position_parameters():
    params = {name: tiny_models.count_params(_built(name)) for name in ("vit", "vit-none", "vit-2d", "vit-relative")}
    vit = tiny_models.TINY_MODELS["vit"]
    tokens, width = GRID * GRID + 1, vit.embed_dim
    assert params["vit"] - params["vit-none"] == tokens * width                         # learned 1-D, class token too
    assert params["vit-2d"] - params["vit-none"] == 2 * GRID * (width // 2)             # X and Y tables
    assert params["vit-relative"] - params["vit-none"] == vit.depth * 2 * GRID * GRID * width  # per layer, 2·16 rows


def test_an_unknown_position_encoding_names_the_choices():
    with pytest.raises(ValueError, match="none.*2d.*relative"):
        tiny_models.TinyViTPosition(position="sinusoidal")


def test_a_relative_position_run_is_deterministic_and_learns():
    spec = RunSpec("vit-relative", 100, 0, Recipe(steps_per_sqrt_image=10.0))
    first, second = training.train_run(spec), training.train_run(spec)
    assert np.array_equal(first.correct, second.correct) and first.stats["train_loss"] == second.stats["train_loss"]
    assert first.test_accuracy > 0.3  # 10 classes: chance is 0.1


def test_the_ablation_reuses_the_small_data_studys_vit_runs_and_adds_nine():
    ablation = {str(pool.cache_key(s)) for s in POSEMB_ABLATION.specs()}
    small_data = {str(pool.cache_key(s)) for s in STUDY.specs()}
    assert len(ablation) == 12 and len(ablation - small_data) == 9
    assert {str(pool.cache_key(s)) for s in POSEMB_ABLATION.specs(models=["vit"])} <= small_data


# -- the checks --------------------------------------------------------------------------------------------------------

@dataclass
class PlantedStudy:
    """What the claim module reads of a SmallDataStudy, with per-image correctness planted by model."""

    correct: dict[str, np.ndarray]  # model → bool (seeds, images)
    train_accuracy: dict[str, float] = field(default_factory=dict)  # model → every seed's final training accuracy
    design = POSEMB_ABLATION

    def runs(self, model: str, size: int) -> list[SmallDataRun]:
        return [SmallDataRun(RunSpec(model, size, seed, self.design.recipe), row,
                             {"train_accuracy": self.train_accuracy.get(model, 1.0), "steps": 1081})
                for seed, row in zip(self.design.seeds, self.correct[model])]

    def correctness(self, model: str, size: int) -> np.ndarray:
        return self.correct[model]

    def underfitted(self, sizes, floor: float, models=None) -> list[SmallDataRun]:
        return [r for m in (models or self.design.models) for n in sizes for r in self.runs(m, n)
                if r.stats["train_accuracy"] < floor]

    def model_facts(self, model: str) -> dict:
        return {"params": 1}


def _correct(accuracy: float, seed: int, images: int = 500) -> np.ndarray:
    """(3 seeds, images) bool: the first accuracy·images images right in every seed, plus seed noise elsewhere."""
    rng = np.random.default_rng(seed)
    base = np.arange(images) < round(accuracy * images)
    return np.stack([base ^ (rng.random(images) < 0.01) for _ in POSEMB_ABLATION.seeds])


AS_PAPER = {"vit-none": _correct(0.72, 0), "vit": _correct(0.97, 1), "vit-2d": _correct(0.97, 2),
            "vit-relative": _correct(0.97, 3)}
REVERSED = {"vit-none": _correct(0.97, 0), "vit": _correct(0.72, 1), "vit-2d": _correct(0.97, 2),
            "vit-relative": _correct(0.72, 3)}
BEATS_NONE = [("vit",), ("vit-2d",), ("vit-relative",)]


def _record(test, correct, *args, **study):
    return judged(CLAIM, test, PlantedStudy(correct, **study), *args)


@pytest.mark.parametrize("args", BEATS_NONE, ids=[ANALOGUE.ENCODINGS[m] for m, in BEATS_NONE])
def test_an_encoding_ahead_of_none_or_behind_it_is_inconclusive_neither_verified_nor_refuted(args):
    planted = _record(ANALOGUE.test_position_encoding_beats_none_on_digits, AS_PAPER, *args)
    # the bag of 2×2 patches handicaps the no-embedding side in the claim's favour: ahead cannot verify
    assert planted.verdict == "inconclusive" and planted.tier.startswith("analogue"), planted.reason
    assert planted.rule["rule_verdict"] == "verified" and "2×2 patches" in planted.rule["cannot_verify"]
    assert "not counted as a verification" in planted.reason
    assert planted.measured.value == pytest.approx(AS_PAPER[args[0]].mean() - AS_PAPER["vit-none"].mean())
    reversed_ = _record(ANALOGUE.test_position_encoding_beats_none_on_digits, REVERSED, *args)
    if args[0] == "vit-2d":  # planted equal to none in REVERSED: no ordering
        assert reversed_.verdict == "inconclusive" and reversed_.rule["rule_verdict"] == "inconclusive"
    else:
        assert reversed_.verdict == "inconclusive" and reversed_.rule["rule_verdict"] == "refuted"
        assert "cannot refute" in reversed_.reason.lower() or "not a refutation" in reversed_.reason.lower()


@pytest.mark.parametrize("a, b", ANALOGUE.PAIRS, ids=[f"{ANALOGUE.ENCODINGS[a]}-vs-{ANALOGUE.ENCODINGS[b]}"
                                                      for a, b in ANALOGUE.PAIRS])
def test_equal_encodings_are_comparable_and_a_worse_one_is_not(a, b):
    planted = _record(ANALOGUE.test_position_encodings_comparable_on_digits, AS_PAPER, a, b)
    assert planted.verdict == "verified", planted.reason
    assert planted.rule["margin"] == pytest.approx(0.02) and planted.plan.margin == "posemb_analogue"
    reversed_ = _record(ANALOGUE.test_position_encodings_comparable_on_digits, REVERSED, a, b)
    worse = REVERSED[a].mean() < REVERSED[b].mean() - 0.1
    assert reversed_.rule["rule_verdict"] == ("refuted" if worse else "verified")
    assert reversed_.verdict == ("inconclusive" if worse else "verified")


@pytest.mark.parametrize("test, args", [(ANALOGUE.test_position_encoding_beats_none_on_digits, ("vit-2d",)),
                                        (ANALOGUE.test_position_encodings_comparable_on_digits, ("vit", "vit-2d"))])
def test_without_the_option_the_checks_are_not_run_and_say_what_they_would_check(test, args):
    record = judged(CLAIM, test, None, *args)
    assert record.verdict == "not_run" and any("--claims-posemb-analogue" in need for need in record.needs)
    assert record.plan.kind == "ordering_scores" and record.plan.tier.startswith("analogue")
    assert record.plan.a_label == ANALOGUE.LABELS[args[0]]
    assert record.plan.b_label == ANALOGUE.LABELS[args[1] if len(args) > 1 else "vit-none"]


def test_a_run_that_did_not_fit_its_training_set_is_named_and_no_check_on_it_is_judged():
    underfitted = {"train_accuracy": {"vit-relative": 0.9}}
    for test, args in [(ANALOGUE.test_position_encoding_beats_none_on_digits, ("vit-relative",)),
                       (ANALOGUE.test_position_encodings_comparable_on_digits, ("vit", "vit-relative"))]:
        record = _record(test, AS_PAPER, *args, **underfitted)
        assert record.verdict == "not_run" and "rather than the position encoding" in record.reason
        assert "vit-relative n=1297 seed 0: 0.900" in record.reason
    # a check judges only its own two models' runs
    assert _record(ANALOGUE.test_position_encoding_beats_none_on_digits, AS_PAPER, "vit",
                   **underfitted).rule["rule_verdict"] == "verified"
