"""App. D.5's speed sentences: the FLOP exponent (known values on planted FLOP scalings, both ways) and the
measured-speed checks that are not run here (each says what it would measure and what to provide)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.claim_modules import load_claim_module
from tests.test_analysis import judged

D5 = load_claim_module("test_d5_computational_costs")


@dataclass(frozen=True)
class _Count:
    per_image: float
    attention: float = 0.0
    total: float = 1.0

    def describe(self) -> str:
        return f"{self.per_image / 1e9:.3f} GFLOPs/image (planted)"


class _PlantedFlops:
    """FlopCounts stand-in: FLOPs = scale × size ** exponent, per model."""

    def __init__(self, exponents: dict[str, float], scale: dict[str, float] | None = None) -> None:
        self.exponents, self.scale = exponents, scale or {}

    def forward(self, name: str, img_size: int) -> _Count:
        return _Count(per_image=self.scale.get(name, 1.0) * img_size ** self.exponents.get(name, 2.0))


@pytest.mark.parametrize("exponent", [2.0, 2.5, 4.0])
def test_flop_exponent_recovers_a_planted_power_law(exponent):
    value, _ = D5.flop_exponent(_PlantedFlops({"ViT-H/14": exponent}), "ViT-H/14")
    assert value == pytest.approx(exponent)


def test_quadratic_flops_verify_and_biquadratic_flops_cannot_refute():
    test = D5.test_flops_of_the_largest_vits_scale_closer_to_quadratic_than_biquadratic
    quadratic = judged("d5-inference-speed", test, _PlantedFlops({"ViT-H/14": 2.0}), "ViT-H/14")
    assert quadratic.verdict == "verified" and quadratic.tier == D5.FLOP_TIER
    assert quadratic.measured.value == pytest.approx(1.0)  # 3 − 2
    biquadratic = judged("d5-inference-speed", test, _PlantedFlops({"ViT-H/14": 4.0}), "ViT-H/14")
    assert biquadratic.verdict == "inconclusive" and biquadratic.rule["rule_verdict"] == "refuted"
    assert "not counted as a refutation" in biquadratic.reason


def test_largest_model_steepest_verifies_when_planted_and_its_reverse_cannot_refute():
    test = D5.test_flops_of_the_largest_vit_scale_most_steeply_at_the_largest_sizes
    planted = judged("d5-inference-speed", test, _PlantedFlops({"ViT-H/14": 2.3, "ViT-B/16": 2.1}), "ViT-B/16")
    assert planted.verdict == "verified" and planted.measured.value == pytest.approx(0.2)
    reverse = judged("d5-inference-speed", test, _PlantedFlops({"ViT-H/14": 2.1, "ViT-B/16": 2.3}), "ViT-B/16")
    assert reverse.verdict == "inconclusive" and reverse.rule["rule_verdict"] == "refuted"


def test_vit_b32_flop_reading_both_ways():
    test = D5.test_vit_b32_needs_fewer_flops_than_resnet50
    fewer = judged("d5-inference-speed", test, _PlantedFlops({}, {"R50x1": 2.0, "ViT-B/32": 1.0}))
    assert fewer.verdict == "verified"
    more = judged("d5-inference-speed", test, _PlantedFlops({}, {"R50x1": 1.0, "ViT-B/32": 2.0}))
    assert more.verdict == "inconclusive" and more.rule["rule_verdict"] == "refuted"


@pytest.mark.parametrize("test,args", [
    (D5.test_vit_inference_speed_comparable_to_similar_resnet, ("ViT-L/16", "R152x4")),
    (D5.test_vit_b32_faster_than_resnet50_measured, ()),
    (D5.test_biquadratic_scaling_only_for_the_largest_models_measured, ()),
])
def test_measured_speed_checks_are_not_run_and_say_what_to_provide(test, args):
    record = judged("d5-inference-speed", test, *args)
    assert record.verdict == "not_run" and list(record.needs) == D5.SPEED_NEEDS
    assert record.plan.kind == "ordering" and record.plan.tier == D5.SPEED_TIER
    assert "bf16" in record.needs[0] and "peak" in record.needs[0]
    assert "cannot refute" in record.plan.description
    if args:
        assert record.plan.margin == "comparable_speed" and record.plan.margin_value == pytest.approx(0.2)
