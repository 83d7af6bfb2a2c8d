"""Memory counting on the meta device (App. D.5): hand-computed sizes, linearity in the batch, the largest batch,
and the claim checks on planted counts (a planted advantage verifies, its reverse refutes)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from measure.studies.memory import (
    ADAM_STATE_FACTOR,
    TPUV3_CORE_BYTES,
    MemoryCount,
    MemoryCounts,
    largest_batch,
    model_memory,
    peak_inference_bytes,
    saved_for_backward_bytes,
)
from tests.claim_modules import load_claim_module
from tests.test_analysis import judged

D5 = load_claim_module("test_d5_computational_costs")
F32 = 4


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_mlp_counts_match_a_hand_computation(device):
    with torch.device(device):
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    # batch 3: input 3×4, first linear 3×8, ReLU 3×8 (not in place), second linear 3×2 (float32 bytes)
    # peak: while ReLU runs, input + linear + ReLU outputs are alive = 12 + 24 + 24 values
    inference = peak_inference_bytes(model, (3, 4))
    assert (inference.per_batch, inference.fixed) == ((12 + 24 + 24) * F32, 0)
    # saved for backward: the first linear's input (3×4) and the ReLU's output (3×8, also the second linear's input,
    # one storage); weights are parameters, not counted
    training = saved_for_backward_bytes(model, (3, 4))
    assert (training.per_batch, training.fixed) == ((12 + 24) * F32, 0)


def test_convolution_counts_its_input_and_output_feature_maps():
    with torch.device("meta"):
        model = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    inference = peak_inference_bytes(model, (2, 3, 16, 16))
    assert inference.per_batch == (2 * 3 * 16 * 16 + 2 * 8 * 8 * 8) * F32
    assert saved_for_backward_bytes(model, (2, 3, 16, 16)).per_batch == 2 * 3 * 16 * 16 * F32  # its input


def test_freed_activations_leave_the_running_total():
    # Linear 4→16→4→16 on one example: 16, 64, 16, 64 bytes. Each output is freed once the next layer has run, so
    # the peak is input + two consecutive outputs (+ the input) = 16 + 64 + 16 = 96, not the sum of all, 160.
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 4), nn.Linear(4, 16))
    assert peak_inference_bytes(model, (1, 4)).per_batch == 96


class _Standardised(nn.Module):
    """A layer whose weight is transformed before use, as BiT's weight-standardised convolutions are, after a plain
    linear layer (so that its input needs a gradient and the transformed weight is saved for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.pre = nn.Linear(5, 5, bias=False)
        self.weight = nn.Parameter(torch.empty(6, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pre(x)
        y = h @ (self.weight * 2.0).t()
        return torch.tanh(y)


def test_tensors_computed_from_parameters_alone_are_fixed_not_per_batch():
    with torch.device("meta"):
        model = _Standardised()
    inference = peak_inference_bytes(model, (3, 5))
    assert inference.fixed == 30 * F32                       # weight × 2: 6×5, whatever the batch
    assert inference.per_batch == (15 + 15 + 18 + 18) * F32  # at tanh: input 3×5, h 3×5, y 3×6, tanh 3×6
    training = saved_for_backward_bytes(model, (3, 5))
    assert training.fixed == 30 * F32                        # the transformed weight, saved for h's gradient
    # x (for pre's weight gradient; x itself needs none, so pre's weight is not saved), h (for the transformed
    # weight's gradient) and tanh's output
    assert training.per_batch == (15 + 15 + 18) * F32


def test_counts_of_paper_models_are_linear_in_the_batch():
    from measure.models.architectures import build

    for name, size in (("ViT-B/32", 64), ("R50x1", 64)):
        model = build(name, img_size=size)
        one, two = (peak_inference_bytes(model, (b, 3, size, size)) for b in (1, 2))
        assert two.per_batch == 2 * one.per_batch and two.fixed == one.fixed, name
        model.train()
        two, four = (saved_for_backward_bytes(model, (b, 3, size, size)) for b in (2, 4))
        assert four.per_batch == 2 * two.per_batch and four.fixed == two.fixed, name


@pytest.mark.parametrize("name,size", [("ViT-B/16", 224), ("R50x1", 64), ("R50+ViT-B/16", 64)])
def test_reusing_kernel_output_shapes_changes_no_count(name, size):
    # re-creating outputs from recorded shapes must not turn a storage an op shares with its input (timm's attention
    # reshapes go through aten._unsafe_view, which declares no alias) into a new one, nor drop one
    from measure.models.architectures import build

    model = build(name, img_size=size)
    shape = (1, 3, size, size)
    assert peak_inference_bytes(model, shape, memo=True) == peak_inference_bytes(model, shape, memo=False)
    model.train()
    shape = (2, 3, size, size)
    assert saved_for_backward_bytes(model, shape, memo=True) == saved_for_backward_bytes(model, shape, memo=False)


def test_largest_batch_is_the_floor_of_what_is_left_over_per_image():
    assert largest_batch(100, 10, 30) == 3
    assert largest_batch(100, 101, 1) == 0
    with pytest.raises(ValueError, match="positive"):
        largest_batch(100, 0, 0)
    count = MemoryCount(mode="training", img_size=224, batch=2, params=10, param_bytes=40, per_image=100, fixed=60)
    assert count.state_bytes == ADAM_STATE_FACTOR * 40
    assert count.largest_batch(1000) == (1000 - 160 - 60) // 100
    assert MemoryCount(**{**count.__dict__, "mode": "inference"}).largest_batch(1000) == (1000 - 40 - 60) // 100
    assert TPUV3_CORE_BYTES == 16 * 2**30


def test_vit_b32_at_224_counts_its_tokens():
    # ViT-B/32 at 224 px: 50 tokens × 768 × float32 = 153,600 bytes per token-sized activation; its per-image
    # inference peak is a small multiple of that (the MLP's 4× hidden activation and its GELU, the residual, ...)
    count = model_memory("ViT-B/32", 224, "inference")
    token_activation = 50 * 768 * F32
    assert count.params == 87_455_232 and count.param_bytes == 4 * count.params
    assert 5 * token_activation <= count.per_image <= 20 * token_activation


def test_each_vit_is_paired_with_the_figure12_resnet_nearest_in_flops():
    from measure.studies.flops import model_forward_flops

    resnets = ("R50x1", "R50x2", "R152x4")  # Figure 12's ResNets
    flops = {name: model_forward_flops(name, 224).per_image for name in (*resnets, *D5.FIGURE12_VITS)}
    for vit, resnet in D5.SIMILAR_PAIRS:
        nearest = min(resnets, key=lambda r: abs(math.log(flops[vit] / flops[r])))
        assert resnet == nearest, (vit, {r: flops[r] / 1e9 for r in resnets}, flops[vit] / 1e9)
    assert {v for v, _ in D5.SIMILAR_PAIRS} == set(D5.FIGURE12_VITS)


class _PlantedCounts:
    """MemoryCounts stand-in: per-image bytes by family, parameters equal, so only activations decide."""

    def __init__(self, vit_per_image: int, resnet_per_image: int) -> None:
        self.per_image = {"vit": vit_per_image, "resnet": resnet_per_image}

    def count(self, name: str, img_size: int, mode: str) -> MemoryCount:
        family = "vit" if name.startswith("ViT") else "resnet"
        return MemoryCount(mode=mode, img_size=img_size, batch=1, params=1000, param_bytes=4000,
                           per_image=self.per_image[family], fixed=0)


@pytest.mark.parametrize("test", [D5.test_large_vit_fits_a_larger_inference_batch_per_core,
                                  D5.test_large_vit_fits_a_larger_training_batch_per_core])
def test_memory_check_verifies_a_planted_advantage_and_refutes_its_reverse(test):
    verdicts = {}
    for kind, counts in (("planted", _PlantedCounts(2**20, 2**22)), ("reversed", _PlantedCounts(2**22, 2**20)),
                         ("tie", _PlantedCounts(2**21, 2**21))):
        record = judged("d5-memory-efficiency", test, counts, "ViT-L/16", "R152x4", 224)
        assert record.tier == D5.MEMORY_TIER and record.kind == "ordering"
        verdicts[kind] = record.verdict
    assert verdicts == {"planted": "verified", "reversed": "refuted", "tie": "inconclusive"}
    # the known value: (16 GiB − 4000 B of parameters (× 4 with gradients and Adam's moments)) // 1 MiB per image
    record = judged("d5-memory-efficiency", test, _PlantedCounts(2**20, 2**22), "ViT-L/16", "R152x4", 224)
    states = 4000 if test is D5.test_large_vit_fits_a_larger_inference_batch_per_core else 16000
    assert record.details["ViT-L/16"]["largest_batch"] == (TPUV3_CORE_BYTES - states) // 2**20


def test_memory_counts_are_cached_per_model_size_and_mode(tmp_path):
    counts = MemoryCounts(tmp_path)
    first = counts.count("ViT-B/32", 64, "inference")
    assert MemoryCounts(tmp_path).records["inference"].is_complete("ViT-B/32", 64)
    assert not MemoryCounts(tmp_path).records["training"].is_complete("ViT-B/32", 64)
    assert MemoryCounts(tmp_path).count("ViT-B/32", 64, "inference") == first
    with pytest.raises(ValueError, match="mode"):
        counts.count("ViT-B/32", 64, "backward")
