"""App. D.3's digits analogue: the GAP ViT, the learning-rate grid, the cross-fitted tuning, and the checks planted
both ways (as the paper says: both heads alike at their own rates, each worse at the other's; reversed: GAP behind
at every rate, and each head better at the other's rate than at its own)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from measure.models import tiny
from measure.studies.small_data import pool, training
from measure.studies.small_data.design import POOLING_ANALOGUE, POOLING_RATES, STUDY, Recipe, RunSpec, SmallDataRun
from measure.studies.small_data.pooling import PoolingStudy, cross_fitted_choice
from tests.claim_modules import load_claim_module
from tests.test_analysis import judged, rule_verdict

CLAIM = "d3-class-token-vs-gap"
D3 = load_claim_module("test_d3_class_token_vs_gap")
IMAGES = 500


def test_the_gap_vit_is_the_class_token_vit_without_the_token_and_pools_the_patches():
    torch.manual_seed(0)
    gap, cls = tiny.build("vit-gap"), tiny.build("vit")
    assert gap.cls_token is None and cls.cls_token is not None and gap.global_pool == "avg"
    assert tiny.count_params(cls) - tiny.count_params(gap) == cls.embed_dim * 2  # the token and its position
    tokens = torch.randn(2, 16, gap.embed_dim)
    # the head reads the mean of the 16 patch tokens (then the LayerNorm after pooling, then the linear head)
    expected = gap.head(gap.fc_norm(tokens.mean(dim=1)))
    torch.testing.assert_close(gap.forward_head(tokens), expected)


def test_a_gap_run_is_deterministic_and_learns():
    spec = RunSpec("vit-gap", 100, 0, Recipe(steps_per_sqrt_image=10.0))
    first, second = training.train_run(spec), training.train_run(spec)
    assert np.array_equal(first.correct, second.correct) and first.test_accuracy > 0.3  # chance: 0.1


def test_the_analogue_reuses_the_small_data_class_token_runs_and_adds_fifteen():
    keys = {str(pool.cache_key(s)) for d in POOLING_ANALOGUE for s in d.specs()}
    small_data = {str(pool.cache_key(s)) for s in STUDY.specs()}
    assert POOLING_RATES == (1e-3, 3e-3, 1e-2) and 3e-3 == Recipe().lr  # the grid holds the study's own rate
    assert len(keys) == 18 and len(keys - small_data) == 15


def test_each_fold_takes_the_rate_best_on_the_other_fold():
    # 3 rates x 6 images: the even images favour rate 0, the odd ones rate 2
    by_rate = np.array([[1, 0, 1, 0, 1, 0], [0.5] * 6, [0, 1, 0, 1, 0, 1]], dtype=float)
    # even images get the rate the odd ones favour (2), odd images rate 0: each scores 0 here
    assert cross_fitted_choice(by_rate).tolist() == [2, 0, 2, 0, 2, 0]
    assert cross_fitted_choice(np.ones((3, 4))).tolist() == [0] * 4  # ties: the smaller rate
    # what the same-images choice would read: 1 everywhere (the per-image best), not what a tuned model reaches
    assert by_rate.max(axis=0).tolist() == [1.0] * 6


class PlantedStudy(PoolingStudy):
    """A PoolingStudy whose seed-averaged correctness per rate is planted (no training)."""

    def __init__(self, by_rate: dict[str, np.ndarray], train_accuracy: float = 1.0) -> None:
        super().__init__("/nonexistent")
        self.planted, self.train_accuracy = by_rate, train_accuracy

    def by_rate(self, model: str) -> np.ndarray:
        return self.planted[model]

    def runs(self, model: str, lr: float) -> list[SmallDataRun]:
        return [SmallDataRun(RunSpec(model, 1297, seed, Recipe(lr=lr)), np.ones(IMAGES, dtype=bool),
                             {"train_accuracy": self.train_accuracy, "steps": 1081}) for seed in (0, 1, 2)]

    def model_facts(self, model: str) -> dict:
        return {"params": 1}


def _rates(*accuracies: float, seed: int) -> np.ndarray:
    """(3 rates, 500 images): at each rate, the fraction of 3 seeds right per image, at the given accuracy."""
    rng = np.random.default_rng(seed)
    return np.stack([(rng.random((3, IMAGES)) < a).mean(axis=0) for a in accuracies])


# As Figure 9: the class token best at 1e-3, GAP at 1e-2, equally good there; each poor at the other's rate.
AS_PAPER = {"vit": _rates(0.97, 0.90, 0.60, seed=0), "vit-gap": _rates(0.60, 0.85, 0.97, seed=1)}
# Reversed: GAP behind at every rate.
GAP_BEHIND = {"vit": AS_PAPER["vit"], "vit-gap": _rates(0.70, 0.72, 0.71, seed=2)}
# Reversed for the learning-rate sentence: the folds disagree, so each head does better at the rate tuned for the
# other head than at its own (even images: GAP right at 1e-3, the class token's pick for them; odd: at 1e-2).
EVEN = np.arange(IMAGES) % 2 == 0
WRONG_RATES = {"vit": np.stack([~EVEN, np.full(IMAGES, 0.3), EVEN]).astype(float),
               "vit-gap": np.stack([EVEN, np.full(IMAGES, 0.5), ~EVEN]).astype(float)}


@pytest.mark.parametrize("a, b", D3.PAIRS, ids=["cls-vs-gap", "gap-vs-cls"])
def test_both_heads_alike_at_their_own_rates_verify_and_gap_behind_does_not(a, b):
    planted = judged(CLAIM, D3.test_class_token_and_gap_work_similarly_well, PlantedStudy(AS_PAPER), a, b)
    assert planted.verdict == "verified" and planted.plan.margin == "pooling_analogue", planted.reason
    assert planted.rule["margin"] == pytest.approx(0.02)
    assert planted.details["by_model"]["vit"]["tuned_lr"] == {"even_images": "0.001", "odd_images": "0.001"}
    assert planted.details["by_model"]["vit-gap"]["tuned_lr"] == {"even_images": "0.01", "odd_images": "0.01"}
    behind = judged(CLAIM, D3.test_class_token_and_gap_work_similarly_well, PlantedStudy(GAP_BEHIND), a, b)
    assert rule_verdict(behind) == ("refuted" if a == "vit-gap" else "verified")  # the class token is never behind
    assert behind.verdict == ("inconclusive" if a == "vit-gap" else "verified")  # an analogue cannot refute


@pytest.mark.parametrize("model", ["vit-gap", "vit"])
def test_each_head_worse_at_the_others_rate_verifies_and_better_there_does_not(model):
    planted = judged(CLAIM, D3.test_each_head_needs_its_own_learning_rate, PlantedStudy(AS_PAPER), model)
    assert planted.verdict == "verified", planted.reason
    own, other = (0.97, 0.60)  # each head at its best rate against at the other head's best
    assert planted.measured.value == pytest.approx(own - other, abs=0.04)
    wrong = judged(CLAIM, D3.test_each_head_needs_its_own_learning_rate, PlantedStudy(WRONG_RATES), model)
    assert rule_verdict(wrong) == "refuted" and wrong.verdict == "inconclusive"
    assert wrong.measured.value == pytest.approx(-1.0)  # 0 at its own cross-fitted rate, 1 at the other's


def test_equal_tuned_rates_cannot_show_a_learning_rate_requirement():
    same = {"vit": AS_PAPER["vit"], "vit-gap": AS_PAPER["vit"][[0, 2, 1]] * 0.99}
    record = judged(CLAIM, D3.test_each_head_needs_its_own_learning_rate, PlantedStudy(same), "vit-gap")
    assert record.verdict == "inconclusive" and record.measured.value == 0.0
    assert "the same runs" in record.details["note"]


@pytest.mark.parametrize("test, args", [(D3.test_class_token_and_gap_work_similarly_well, ("vit", "vit-gap")),
                                        (D3.test_each_head_needs_its_own_learning_rate, ("vit-gap",))])
def test_without_the_option_the_checks_are_not_run_and_say_what_they_would_check(test, args):
    record = judged(CLAIM, test, None, *args)
    assert record.verdict == "not_run" and any("--claims-pooling-analogue" in need for need in record.needs)
    assert record.plan.kind == "ordering_scores" and record.plan.tier.startswith("analogue")
    assert '"' in record.plan.description  # the paper's words


def test_a_run_at_a_tuned_rate_that_did_not_fit_is_named_and_not_judged():
    record = judged(CLAIM, D3.test_class_token_and_gap_work_similarly_well, PlantedStudy(AS_PAPER, 0.9),
                    "vit", "vit-gap")
    assert record.verdict == "not_run" and "vit lr 0.001 seed 0: 0.900" in record.reason
