"""Appendix D.5 / Figure 12, empirical computational costs, and §4.3's "ViT-B/32 is slightly faster than ResNet50".

Figure 12 (arXiv 2010.11929 v2) plots eight models — its legend: R50x1, R50x2, ViT-B/32, ViT-L/32, ViT-B/16,
ViT-L/16, ViT-H/14, R152x4 — at input sizes 64, 128, 224, 384 and 512 px (its x axis), measured on TPUv3 cores.

``d5-memory-efficiency`` — "large ViT models have a clear advantage in terms of memory-efficiency over ResNet
models" (Figure 12 right: "Largest per-core batch-size fitting on device"). Decided here from memory counted on
the meta device (``measure.studies.memory``): the largest batch that fits a 16 GiB TPUv3 core, for each large ViT
(Large and Huge widths of Table 1 in Figure 12: ViT-L/32, ViT-L/16, ViT-H/14) against the ResNet of Figure 12
whose forward FLOPs at 224 px are nearest (in log scale; the "similar ResNets" of the caption): ViT-L/32 ↔ R50x2
(30.8 vs 32.2 GFLOPs), ViT-L/16 ↔ R152x4 and ViT-H/14 ↔ R152x4 (123.1 and 334.6 vs 365.5 GFLOPs; also the
paper's own pairing in Table 2, BiT-L = R152x4). Figure 12 does not say whether its batch is one of inference or
of training. Inference (what Figure 12's left panel times) is judged at every input size of the figure; training
(activations saved for backward, plus parameters, gradients and Adam's moments) at the pre-training resolution,
224 px (App. B.1) only — each count costs a meta-device forward (R152x4: ~1 s), and the five
sizes of both readings would take the CPU main job past its budget. Counted numbers have no spread: the two
largest batches are compared as counted, a tie (e.g. neither fits) being inconclusive.

``d5-inference-speed`` — "ViT models have speed comparable to similar ResNets"; "the theoretical bi-quadratic
scaling of ViT with image size only barely starts happening for the largest models at the largest resolutions";
§4.3 "ViT-B/32 is slightly faster than ResNet50". These are measured throughput on TPUv3: on this machine they are
not run, each with the plan a throughput tier would follow. What CPU can read is their FLOP counterpart
(consistency family), which cannot refute them — App. D.5 itself says real-world speed "is not always well
predicted by theoretical FLOPs due to details like lane widths and cache sizes".
"""

from __future__ import annotations

import math

import pytest

from measure.studies.flops import FlopCounts
from measure.studies.memory import TPUV3_CORE_BYTES, MemoryCount, MemoryCounts
from pytest_claims import Plan, Summary

MEMORY_TIER = "architecture (counted memory on the meta device, float32; largest batch on a 16 GiB TPUv3 core)"
FLOP_TIER = "consistency (FLOPs counted on the meta device as the reading of a sentence about measured speed)"
SPEED_TIER = "device (peak inference images/s measured on an accelerator, bf16)"

FIGURE12_SIZES = (64, 128, 224, 384, 512)          # Figure 12's x axis, "Input size [px]"
TRAINING_SIZES = (224,)                              # App. B.1: "all training is done on resolution 224"
# Each large ViT of Figure 12 and the Figure 12 ResNet nearest in forward FLOPs at 224 px (tests/test_memory.py
# recounts the pairing).
LARGE_VIT_PAIRS = (("ViT-L/32", "R50x2"), ("ViT-L/16", "R152x4"), ("ViT-H/14", "R152x4"))
# Every ViT of Figure 12 and its similar ResNet, as above: the pairs of "speed comparable to similar ResNets".
SIMILAR_PAIRS = (("ViT-B/32", "R50x1"), ("ViT-B/16", "R50x2"), *LARGE_VIT_PAIRS)
FIGURE12_VITS = ("ViT-B/32", "ViT-L/32", "ViT-B/16", "ViT-L/16", "ViT-H/14")
LARGEST_VIT = "ViT-H/14"
EXPONENT_SIZES = (384, 512)                          # Figure 12's two largest sizes: "the largest resolutions"
HALF_WAY_EXPONENT = 3.0                              # between quadratic (2) and bi-quadratic (4) in the image side

FLOPS_CANNOT_REFUTE = ("the sentence is about measured throughput on TPUv3 cores, which App. D.5 says theoretical "
                       "FLOPs do not always predict ('due to details like lane widths and cache sizes')")
SPEED_NEED = ("a throughput tier on an accelerator (not in this suite yet): peak inference images/s per model and "
              "input size, bf16, the maximum over batch sizes 1, 2, 4, … up to the largest that fits, timm models "
              "with random weights")
SPEED_NEEDS = [SPEED_NEED]
SPEED_REASON = ("measured inference speed needs an accelerator and a throughput tier this suite does not have; the "
                "paper timed TPUv3 cores, so a GPU measurement could support the sentence but not refute it")


def _slug(name: str) -> str:
    return name.replace("/", "").replace("-", "_").lower()


def _pair_cases(sizes: tuple[int, ...]) -> list:
    return [pytest.param(vit, resnet, size, id=f"{_slug(vit)}-{_slug(resnet)}-{size}px")
            for vit, resnet in LARGE_VIT_PAIRS for size in sizes]


def _memory_details(vit: MemoryCount, resnet: MemoryCount, vit_name: str, resnet_name: str) -> dict:
    return {"core_bytes": TPUV3_CORE_BYTES, "core_memory": "16 GiB: TPUv3, 32 GiB HBM2 per chip, 2 TensorCores",
            vit_name: {"largest_batch": vit.largest_batch(), "per_image_bytes": vit.per_image,
                       "fixed_bytes": vit.fixed, "state_bytes": vit.state_bytes, "params": vit.params,
                       "counted": vit.describe()},
            resnet_name: {"largest_batch": resnet.largest_batch(), "per_image_bytes": resnet.per_image,
                          "fixed_bytes": resnet.fixed, "state_bytes": resnet.state_bytes, "params": resnet.params,
                          "counted": resnet.describe()}}


def _memory_ordering(claim_check, counts: MemoryCounts, vit: str, resnet: str, size: int, mode: str) -> None:
    a, b = counts.count(vit, size, mode), counts.count(resnet, size, mode)
    what = ("a no-grad forward (peak live activations + parameters)" if mode == "inference" else
            "a training step (activations saved for backward + parameters, gradients, Adam's two moments)")
    claim_check.ordering_summary(
        Summary(float(a.largest_batch()), source="counted"), Summary(float(b.largest_batch()), source="counted"),
        tier=MEMORY_TIER,
        a_label=f"{vit} largest batch ({mode}, {size}px)", b_label=f"{resnet} largest batch ({mode}, {size}px)",
        details=_memory_details(a, b, vit, resnet),
        description=(f"Figure 12 right at {size}px: the largest batch of {what} fitting a 16 GiB TPUv3 core, "
                     f"{vit} larger than {resnet} (the Figure 12 ResNet nearest in FLOPs); counted, so compared "
                     f"as counted, a tie inconclusive"))


@pytest.mark.claim("d5-memory-efficiency")
@pytest.mark.parametrize("vit,resnet,size", _pair_cases(FIGURE12_SIZES))
def test_large_vit_fits_a_larger_inference_batch_per_core(claim_check, memory_counts: MemoryCounts, vit, resnet,
                                                           size) -> None:
    _memory_ordering(claim_check, memory_counts, vit, resnet, size, "inference")


@pytest.mark.claim("d5-memory-efficiency")
@pytest.mark.parametrize("vit,resnet,size", _pair_cases(TRAINING_SIZES))
def test_large_vit_fits_a_larger_training_batch_per_core(claim_check, memory_counts: MemoryCounts, vit, resnet,
                                                         size) -> None:
    _memory_ordering(claim_check, memory_counts, vit, resnet, size, "training")


def flop_exponent(flops: FlopCounts, model: str, sizes: tuple[int, int] = EXPONENT_SIZES) -> tuple[float, dict]:
    """Local exponent of forward FLOPs in the image side between two sizes: 2 for FLOPs linear in the number of
    tokens, 4 for FLOPs quadratic in it ("bi-quadratic" in the image side)."""
    lo, hi = (flops.forward(model, s) for s in sizes)
    exponent = math.log(hi.per_image / lo.per_image) / math.log(sizes[1] / sizes[0])
    return exponent, {f"{s}px": {"gflops": c.per_image / 1e9, "attention_gflops": c.attention / 1e9,
                                 "attention_share": c.attention / c.total} for s, c in zip(sizes, (lo, hi))}


@pytest.mark.claim("d5-inference-speed")
@pytest.mark.parametrize("vit", ["ViT-L/16", "ViT-H/14"], ids=_slug)
def test_flops_of_the_largest_vits_scale_closer_to_quadratic_than_biquadratic(claim_check, flop_counts: FlopCounts,
                                                                             vit) -> None:
    exponent, extra = flop_exponent(flop_counts, vit)
    lo, hi = EXPONENT_SIZES
    claim_check.ordering_summary(
        Summary(HALF_WAY_EXPONENT, source="threshold"), Summary(exponent, source="counted"), tier=FLOP_TIER,
        a_label=f"exponent {HALF_WAY_EXPONENT:g} (half way from quadratic to bi-quadratic)",
        b_label=f"{vit} FLOPs exponent {lo}→{hi}px", details={"model": vit, "exponent": exponent, **extra},
        cannot_refute=FLOPS_CANNOT_REFUTE,
        description=(f"'bi-quadratic scaling … only barely starts happening for the largest models at the largest "
                     f"resolutions', read in FLOPs: {vit}'s forward FLOPs grow with the image side between {lo} and "
                     f"{hi}px with an exponent below 3 (2: linear in tokens, 4: quadratic in tokens)"))


@pytest.mark.claim("d5-inference-speed")
@pytest.mark.parametrize("other", [m for m in FIGURE12_VITS if m != LARGEST_VIT], ids=_slug)
def test_flops_of_the_largest_vit_scale_most_steeply_at_the_largest_sizes(claim_check, flop_counts: FlopCounts,
                                                                          other) -> None:
    largest, extra_a = flop_exponent(flop_counts, LARGEST_VIT)
    smaller, extra_b = flop_exponent(flop_counts, other)
    lo, hi = EXPONENT_SIZES
    claim_check.ordering_summary(
        Summary(largest, source="counted"), Summary(smaller, source="counted"), tier=FLOP_TIER,
        a_label=f"{LARGEST_VIT} FLOPs exponent {lo}→{hi}px", b_label=f"{other} FLOPs exponent {lo}→{hi}px",
        details={LARGEST_VIT: {"exponent": largest, **extra_a}, other: {"exponent": smaller, **extra_b}},
        cannot_refute=FLOPS_CANNOT_REFUTE,
        description=(f"'… for the largest models': in FLOPs, the steepest growth with image size between {lo} and "
                     f"{hi}px is {LARGEST_VIT}'s (the largest model of Figure 12), above {other}'s"))


@pytest.mark.claim("d5-inference-speed")
def test_vit_b32_needs_fewer_flops_than_resnet50(claim_check, flop_counts: FlopCounts) -> None:
    vit, resnet = flop_counts.forward("ViT-B/32", 224), flop_counts.forward("R50x1", 224)
    claim_check.ordering_summary(
        Summary(resnet.per_image / 1e9, source="counted"), Summary(vit.per_image / 1e9, source="counted"),
        tier=FLOP_TIER,
        a_label="R50x1 GFLOPs/image at 224px", b_label="ViT-B/32 GFLOPs/image at 224px",
        details={"R50x1": resnet.describe(), "ViT-B/32": vit.describe()}, cannot_refute=FLOPS_CANNOT_REFUTE,
        description=("§4.3 'ViT-B/32 is slightly faster than ResNet50', read in FLOPs: ResNet50 (BiT R50x1) needs "
                     "more forward FLOPs per image than ViT-B/32 at the pre-training resolution, 224px"))


@pytest.mark.claim("d5-inference-speed")
@pytest.mark.parametrize("vit,resnet", SIMILAR_PAIRS, ids=[f"{_slug(v)}-{_slug(r)}" for v, r in SIMILAR_PAIRS])
def test_vit_inference_speed_comparable_to_similar_resnet(claim_check, vit, resnet) -> None:
    sizes = ", ".join(map(str, FIGURE12_SIZES))
    claim_check.not_run(SPEED_REASON, needs=SPEED_NEEDS, plan=Plan(
        "ordering", tier=SPEED_TIER, a_label=f"{vit} peak images/s", b_label=f"{resnet} peak images/s",
        margin="comparable_speed",
        description=(f"Figure 12 left: {vit}'s peak inference images/s at least (1 − comparable_speed) × {resnet}'s "
                     f"at each of {sizes}px (the ResNet nearest in FLOPs); cannot refute: measured on another "
                     f"accelerator than the paper's TPUv3")))


@pytest.mark.claim("d5-inference-speed")
def test_vit_b32_faster_than_resnet50_measured(claim_check) -> None:
    claim_check.not_run(SPEED_REASON, needs=SPEED_NEEDS, plan=Plan(
        "ordering", tier=SPEED_TIER, a_label="ViT-B/32 peak images/s", b_label="R50x1 peak images/s",
        description=("§4.3 'ViT-B/32 is slightly faster than ResNet50': peak inference images/s at 224px (the "
                     "pre-training resolution), ViT-B/32 above BiT R50x1; cannot refute: another accelerator")))


@pytest.mark.claim("d5-inference-speed")
def test_biquadratic_scaling_only_for_the_largest_models_measured(claim_check) -> None:
    lo, hi = EXPONENT_SIZES
    claim_check.not_run(SPEED_REASON, needs=SPEED_NEEDS, plan=Plan(
        "ordering", tier=SPEED_TIER, a_label=f"{LARGEST_VIT} slowdown exponent {lo}→{hi}px",
        b_label=f"each smaller ViT's slowdown exponent {lo}→{hi}px",
        description=(f"Figure 12 left: the exponent of peak images/s in the image side between {lo} and {hi}px "
                     f"(−log(speed ratio)/log({hi}/{lo})) is largest for {LARGEST_VIT} and below 3 for every ViT, "
                     f"compared with each model's FLOP exponent; cannot refute: another accelerator")))
