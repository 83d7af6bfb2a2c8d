"""The paper's architectures: what is built, how it is counted, and that the hand-built ones follow timm's recipes."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from measure.models.architectures import ARCHITECTURES, TIMM_REGISTERED, build, count_params, spec
from measure.studies.table1 import Table1Counts, table1_facts


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_count_params_counts_weights_and_biases_not_buffers():
    model = nn.BatchNorm1d(4)  # 4 weights + 4 biases; running stats are buffers
    assert count_params(nn.Linear(3, 4)) == 16
    assert count_params(model) == 8


def test_vit_b16_parameters_match_the_closed_form():
    # patch embedding 3·P²·D + D, class token D, 197 position embeddings, L blocks of 12D² + 13D, final norm 2D.
    d, depth, p, tokens = 768, 12, 16, 197
    expected = 3 * p * p * d + d + d + tokens * d + depth * (12 * d * d + 13 * d) + 2 * d
    facts = table1_facts("ViT-B/16")
    assert facts.params_no_head == expected
    assert facts.params_head_1k == expected + d * 1000 + 1000
    assert facts.tokens == tokens


@pytest.mark.parametrize("name, layers, hidden, mlp, heads", [
    ("ViT-B/32", 12, 768, 3072, 12), ("ViT-L/16", 24, 1024, 4096, 16), ("ViT-H/14", 32, 1280, 5120, 16),
])
def test_table1_facts_are_read_from_the_module(name, layers, hidden, mlp, heads):
    f = table1_facts(name)
    assert (f.layers, f.hidden_size, f.mlp_size, f.heads) == (layers, hidden, mlp, heads)


def test_table1_facts_refuse_a_model_that_is_not_a_plain_vit():
    with pytest.raises(ValueError, match="not a plain ViT"):
        table1_facts("R50+ViT-B/16")


def _rebuilt_by_hand(name: str) -> nn.Module:
    """``name`` built by our own code path (as if timm had no registered model for it)."""
    s = spec(name)
    assert s.timm_name is not None, f"{name} is already built by hand"
    hand = s.__class__(**{**s.__dict__, "timm_name": None})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("measure.models.architectures.ARCHITECTURES", dict(ARCHITECTURES, __probe__=hand))
        return build("__probe__")


@pytest.mark.parametrize("name", ["R50x1", "R101x1", "R152x2"])
def test_hand_built_resnets_follow_timms_bit_recipe(name):
    assert _shapes(_rebuilt_by_hand(name)) == _shapes(build(name))


@pytest.mark.parametrize("name", ["R50+ViT-B/16", "R50+ViT-L/32"])
def test_hand_built_hybrids_follow_timms_recipe(name):
    assert _shapes(_rebuilt_by_hand(name)) == _shapes(build(name))


@pytest.mark.parametrize("name, depth", [("R50x1", 50), ("R101x1", 101), ("R152x1", 152), ("R200x3", 200)])
def test_resnet_depth_counts_weight_layers(name, depth):
    # He et al.'s depth: stem conv + 3 convs per bottleneck + final FC (projection shortcuts not counted).
    model = build(name, num_classes=1000)
    assert isinstance(model.get_classifier(), nn.Conv2d)  # timm's BiT head is a 1×1 conv: counted below
    weight_layers = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and "downsample" not in n]
    assert len(weight_layers) == depth


@pytest.mark.parametrize("name, width", [("R50x2", 2), ("R152x4", 4), ("R200x3", 3)])
def test_resnet_width_factor_scales_the_channels(name, width):
    assert build(name).num_features == 2048 * width


@pytest.mark.parametrize("name, grid", [("R50+ViT-B/32", 7), ("R50+ViT-B/16", 14), ("R50+ViT-L/32", 7),
                                        ("R50+ViT-L/16", 14), ("ViT-B/32", 7), ("ViT-H/14", 16)])
def test_sequence_length_follows_the_total_stride(name, grid):
    model = build(name)
    assert tuple(model.patch_embed.grid_size) == (grid, grid)
    assert model.pos_embed.shape[1] == grid * grid + 1


def test_hybrid_l16_has_the_resnet50_layer_count_with_stage4_folded_into_stage3():
    # §4.1 option (ii): remove stage 4, place the same number of layers in stage 3.
    stages = build("R50+ViT-L/16").patch_embed.backbone.stages
    assert [len(s.blocks) for s in stages] == [3, 4, 9]
    assert [len(s.blocks) for s in build("R50+ViT-L/32").patch_embed.backbone.stages] == [3, 4, 6, 3]


def test_meta_build_allocates_nothing_and_cpu_build_is_seeded():
    assert all(p.is_meta for p in build("ViT-B/32").parameters())
    a = build("ViT-B/32", device="cpu", seed=3)
    b = build("ViT-B/32", device="cpu", seed=3)
    assert torch.equal(a.pos_embed, b.pos_embed)


def test_every_timm_name_is_registered_and_nothing_is_downloaded():
    for s in ARCHITECTURES.values():
        assert s.timm_name is None or s.timm_name in timm.list_models(), s
    assert "ViT-B/16" in ARCHITECTURES and ARCHITECTURES["R200x3"].timm_name is None


def test_the_written_down_registrations_are_timms():
    # TIMM_REGISTERED replaces asking timm at import time: it must say exactly what timm registers of the
    # paper's ResNets and hybrids, or a model would be hand-built that timm has (or the reverse).
    candidates = {f"resnetv2_{s.depth}x{s.width}_bit" for s in ARCHITECTURES.values() if s.family == "resnet"}
    candidates |= {f"vit_{'base' if s.variant == 'B' else 'large'}_r50_s{s.patch}_224"
                   for s in ARCHITECTURES.values() if s.family == "hybrid"}
    assert {name for name in candidates if name in timm.list_models()} == TIMM_REGISTERED


def test_meta_builds_skip_initialisation_and_cpu_builds_do_not():
    # On meta there are no values: timm's init is skipped there, and only there.
    assert build("ViT-B/32").weight_init_mode == "reset"  # timm's record of weight_init="skip"
    assert build("R50+ViT-B/32").weight_init_mode == "reset"
    assert build("ViT-B/32", device="cpu", seed=0).weight_init_mode == ""
    assert float(build("ViT-B/32", device="cpu", seed=0).pos_embed.detach().std()) > 0.01  # trunc_normal(std=0.02) ran


def test_table1_counts_are_cached_and_equal_a_fresh_count(tmp_path, monkeypatch):
    first = Table1Counts(tmp_path).facts("ViT-B/32")
    assert first == table1_facts("ViT-B/32")

    def no_counting(*args, **kwargs):
        raise AssertionError("counted again although the count is cached")

    monkeypatch.setattr("measure.studies.table1.table1_facts", no_counting)
    assert Table1Counts(tmp_path).facts("ViT-B/32") == first
    with pytest.raises(AssertionError, match="counted again"):
        Table1Counts(tmp_path).facts("ViT-B/32", img_size=256)  # another resolution is another entry


def test_unknown_architecture_lists_close_matches():
    with pytest.raises(KeyError, match="ViT-B/16"):
        spec("ViT-B16")
