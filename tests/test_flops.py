"""FLOP counting: the convention, attention on the meta device, the exaFLOPs formula, matched compute."""

from __future__ import annotations

import math

import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from measure.studies.flops import (
    FLOPS_PER_MULTIPLY_ADD,
    FlopCounts,
    compute_at_matched_accuracy,
    forward_flops,
    model_forward_flops,
    pretraining_exaflops,
)


class _Linear(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d_in, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_linear_layer_counts_two_flops_per_multiply_add(device):
    with torch.device(device):
        model = _Linear(3 * 4 * 4, 10)
    count = forward_flops(model, img_size=4, batch=5)
    assert FLOPS_PER_MULTIPLY_ADD == 2
    assert count.total == 2 * 48 * 10 * 5
    assert count.per_image == 2 * 48 * 10


def test_convolution_counts_every_output_position():
    with torch.device("meta"):
        model = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    count = forward_flops(model, img_size=16, batch=2)
    assert count.total == 2 * (3 * 3 * 3) * 8 * (8 * 8) * 2


def test_sdpa_on_meta_is_counted_as_two_batched_matmuls():
    b, h, n, d = 2, 4, 17, 8
    q = k = v = torch.empty(b, h, n, d, device="meta")
    counter = FlopCounterMode(display=False)
    with counter:
        F.scaled_dot_product_attention(q, k, v)
    counts = {str(op): c for op, c in counter.get_flop_counts()["Global"].items()}
    assert counts == {"aten.bmm": 2 * (2 * b * h * n * n * d)}


def _tiny_vit(device: str = "meta") -> nn.Module:
    with torch.device(device):
        return timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=64).eval()


def test_attention_flops_are_included_on_meta():
    count = forward_flops(_tiny_vit(), img_size=64)
    n, d, depth = (64 // 16) ** 2 + 1, 192, 12
    assert count.attention == depth * 4 * n * n * d
    assert count.by_op["aten.bmm"] == count.attention  # the math path: Q·Kᵀ and A·V as bmm


def test_vit_b16_forward_flops_match_the_closed_form():
    # Per block: qkv 2·N·D·3D, proj 2·N·D·D, MLP 2·2·N·D·4D, attention 4·N²·D; patch embedding 2·(N−1)·3P²·D.
    n, d, depth, p = 197, 768, 12, 16
    block = 2 * n * d * 3 * d + 2 * n * d * d + 2 * 2 * n * d * 4 * d + 4 * n * n * d
    expected = depth * block + 2 * (n - 1) * 3 * p * p * d
    assert model_forward_flops("ViT-B/16", 224).total == expected


def test_flop_counts_are_cached_and_equal_a_fresh_count(tmp_path, monkeypatch):
    fresh = model_forward_flops("ViT-B/32", 224)
    first = FlopCounts(tmp_path).forward("ViT-B/32", 224)
    assert (first.total, first.by_op, first.per_image, first.device) == (fresh.total, fresh.by_op, fresh.per_image, "meta")

    def no_counting(*args, **kwargs):
        raise AssertionError("counted again although the count is cached")

    monkeypatch.setattr("measure.studies.flops.model_forward_flops", no_counting)
    again = FlopCounts(tmp_path).forward("ViT-B/32", 224)
    assert (again.total, again.by_op) == (first.total, first.by_op)
    with pytest.raises(AssertionError, match="counted again"):
        FlopCounts(tmp_path).forward("ViT-B/32", 384)  # another resolution is another entry


def test_a_changed_architecture_is_another_flop_cache_entry(tmp_path):
    counts = FlopCounts(tmp_path)
    assert counts.records.key("R152x2", 224) != counts.records.key("R152x4", 224)
    other_folder = FlopCounts(tmp_path / "other")
    assert counts.records.key("R152x2", 224) == other_folder.records.key("R152x2", 224)  # keys name no folder


def test_flops_are_per_image():
    model = _tiny_vit()
    one, two = forward_flops(model, img_size=64, batch=1), forward_flops(model, img_size=64, batch=2)
    assert two.total == 2 * one.total and two.per_image == one.per_image


def test_meta_and_cpu_count_the_same_model_alike():
    torch.manual_seed(0)
    cpu = forward_flops(_tiny_vit("cpu"), img_size=64)
    meta = forward_flops(_tiny_vit("meta"), img_size=64)
    assert meta.total == cpu.total, (meta.by_op, cpu.by_op)
    assert meta.attention == cpu.attention > 0


def test_pretraining_exaflops_formula():
    # 1 GFLOP forward × 3 (forward + backward) × 2 epochs × 1M images = 6e15 FLOPs = 0.006 exaFLOPs.
    assert math.isclose(pretraining_exaflops(1e9, epochs=2, images=1e6), 6e-3, rel_tol=1e-12)
    assert math.isclose(pretraining_exaflops(1e9, epochs=2, images=1e6, factor=1), 2e-3, rel_tol=1e-12)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_pretraining_exaflops_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        pretraining_exaflops(bad, epochs=7, images=1e6)
    with pytest.raises(ValueError):
        pretraining_exaflops(1e9, epochs=bad, images=1e6)


def test_matched_compute_recovers_a_constant_factor():
    a = [(1.0, 80.0), (10.0, 85.0), (100.0, 90.0)]
    b = [(3.0 * c, acc) for c, acc in a]
    m = compute_at_matched_accuracy(a, b)
    assert all(math.isclose(r, 3.0, rel_tol=1e-9) for r in m.ratios)
    assert math.isclose(m.geometric_mean, 3.0, rel_tol=1e-9)


def test_matched_compute_drops_dominated_points_and_does_not_extrapolate():
    a = [(1.0, 80.0), (10.0, 90.0), (5.0, 79.0)]          # (5, 79) costs more than (1, 80): dominated
    b = [(4.0, 84.0), (40.0, 95.0)]
    m = compute_at_matched_accuracy(a, b)
    assert m.frontier_a == ((1.0, 80.0), (10.0, 90.0))
    assert m.accuracies[0] == 84.0 and m.accuracies[-1] == 90.0  # overlap only
    assert m.low > 1.0


def test_matched_compute_refuses_disjoint_accuracy_ranges():
    with pytest.raises(ValueError, match="do not overlap"):
        compute_at_matched_accuracy([(1.0, 70.0), (2.0, 75.0)], [(1.0, 80.0), (2.0, 85.0)])


def test_matched_compute_sees_which_family_is_cheaper():
    cheap = [(1.0, 80.0), (10.0, 90.0)]
    dear = [(2.0, 80.0), (20.0, 90.0)]
    assert compute_at_matched_accuracy(cheap, dear).low == pytest.approx(2.0)
    assert compute_at_matched_accuracy(dear, cheap).high == pytest.approx(0.5)


def test_compute_factor_band_reproduces_the_printed_range():
    # §4.4 "approximately 2 − 4×" is judged as midpoint ± compute_factor_band: the band must be half the range.
    import tomllib
    from pathlib import Path

    import paper

    with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as fh:
        band = tomllib.load(fh)["tool"]["claims"]["tolerances"]["compute_factor_band"]
    low = paper.number(table="Section 4.4", column="compute factor (low)").value
    high = paper.number(table="Section 4.4", column="compute factor (high)").value
    assert band == {"abs": (high - low) / 2}


@pytest.mark.parametrize("name,size", [("ViT-B/16", 224), ("R50x1", 64), ("R50+ViT-B/16", 64)])
def test_reusing_kernel_output_shapes_changes_no_flop_count(name, size):
    # the memo is entered before the counter, so the counter still sees every op; entered after it, the ops it
    # re-creates would go uncounted and this fails
    from measure.models.architectures import build

    model = build(name, img_size=size)
    fresh, memo = forward_flops(model, img_size=size, memo=False), forward_flops(model, img_size=size, memo=True)
    assert (memo.total, memo.by_op) == (fresh.total, fresh.by_op)


def test_the_shape_memo_reruns_no_kernel_for_shapes_it_has_seen():
    from measure.studies.meta_shapes import ShapeMemo

    with torch.device("meta"):
        blocks = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.GELU()) for _ in range(4)])
    memo, x = ShapeMemo(), torch.empty(2, 8, device="meta")
    with memo, torch.no_grad():
        out = blocks(x)
    assert out.shape == (2, 8) and out.device.type == "meta"
    # addmm and gelu run once, then are re-created for the 3 repeated blocks (6 hits); each block's weight
    # transpose is a view of that block's weight, which is never re-created (4 misses)
    assert memo.hits == 6 and memo.misses == 2 + 4
