"""Few-shot orderings over repeated draws: a simulation that the decision holds its error rate over draws as
well as examples, and still finds a real difference.

Two "models" are two feature generators for the same images: a class centre, a per-image component both
share (images differ in difficulty), and each model's own noise. With equal noise the models are equally
good — their features come from one distribution — and "A better than B" must be verified or refuted in at
most α of the simulated pairs; with A's noise lower, A is better by about 2 points, and the ordering must be
verified in most pairs, at the paper's test-set size (CIFAR: 10,000 images). The readout is the suite's
(`measure.readout`: big_vision's few-shot regression on `FEWSHOT_DRAWS` draws of 5 shots), mirrored in numpy
for speed and checked against it; the decision is the plugin's (`pytest_claims.draws`). The old rule — one
draw's classifier, exact McNemar over examples — is run on the same pairs to show what the new one fixes.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from measure import readout
from pytest_claims.draws import repeated_draws_rule

ALPHA = 0.05
CLASSES, DIM, PER_CLASS, TEST = 10, 16, 500, 10_000  # CIFAR-10's test set; 500 of its 5,000 images per class
SHOTS, DRAWS = readout.PRIMARY_SHOTS, readout.FEWSHOT_DRAWS
NULL_PAIRS, POWER_PAIRS = 200, 50
BETTER_NOISE = 0.95  # A's own noise when A is better: about 2 points of 5-shot accuracy (measured below)


def features(seed: int, noise_a: float = 1.0) -> tuple[np.ndarray, ...]:
    """(train labels, test labels, A train, A test, B train, B test) for one simulated pair of models."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.0, size=(CLASSES, DIM))
    y_train = np.repeat(np.arange(CLASSES), PER_CLASS)
    y_test = rng.integers(0, CLASSES, TEST)
    train = centres[y_train] + 0.8 * rng.standard_normal((y_train.size, DIM))
    test = (centres[y_test] + 0.8 * rng.standard_normal((TEST, DIM))).astype(np.float32)
    out = [y_train, y_test]
    for model, noise in ((1, noise_a), (2, 1.0)):
        own = np.random.default_rng([seed, model])
        out.append(train + noise * own.standard_normal(train.shape))
        out.append(test + noise * own.standard_normal(test.shape, dtype=np.float32))
    return tuple(out)


@functools.cache
def draw_indices() -> tuple[np.ndarray, ...]:
    """The training images of every draw (the labels are the same in every simulated pair)."""
    labels = np.repeat(np.arange(CLASSES), PER_CLASS)
    return tuple(readout.shot_indices(labels, CLASSES, SHOTS, seed) for seed in range(DRAWS))


def draw_predictions(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """readout.fewshot_probe's draws at the primary shot count, in numpy: the same draws (readout.shot_indices),
    standardisation, bias constant, targets and l2."""
    out = []
    for idx in draw_indices():
        x, y = x_train[idx], y_train[idx]
        mean, std = x.mean(0), x.std(0) + 1e-5
        design = np.hstack([(x - mean) / std, np.full((len(x), 1), readout.BIAS_CONSTANT)])
        targets = 2.0 * np.eye(CLASSES)[y] - 1.0
        weights = np.linalg.solve(design.T @ design + readout.FEWSHOT_L2 * np.eye(design.shape[1]), design.T @ targets)
        scale = weights[:-1] / std[:, None]
        offset = readout.BIAS_CONSTANT * weights[-1] - mean @ scale
        out.append((x_test @ scale.astype(x_test.dtype) + offset.astype(x_test.dtype)).argmax(1))
    return np.stack(out)


def simulate(seed: int, noise_a: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    y_train, y_test, a_train, a_test, b_train, b_test = features(seed, noise_a)
    with threadpool_limits(1):  # small matrix products: one BLAS thread is many times faster on a shared CPU
        return (draw_predictions(a_train, y_train, a_test) == y_test,
                draw_predictions(b_train, y_train, b_test) == y_test)


def one_draw_mcnemar(a: np.ndarray, b: np.ndarray) -> bool:
    """The old rule: draw 0's classifier as if fixed, exact McNemar over the examples; True if it decides."""
    a_only, b_only = int((a[0] & ~b[0]).sum()), int((~a[0] & b[0]).sum())
    return stats.binomtest(a_only, a_only + b_only).pvalue < ALPHA if a_only + b_only else False


def test_the_numpy_readout_is_the_suites():
    y_train, y_test, a_train, a_test, _, _ = features(0)
    suite = readout.fewshot_probe(a_train, y_train, a_test.astype(np.float64), y_test, CLASSES, shots=(SHOTS,), seeds=1)
    mirrored = draw_predictions(a_train, y_train, a_test)
    assert suite.draws.shape == (DRAWS, TEST)
    assert (mirrored == suite.draws).mean() > 0.9999  # float32 test features: a tie may break the other way


@pytest.fixture(scope="module")
def null_runs() -> list[tuple[str, bool, float]]:
    runs = []
    for seed in range(NULL_PAIRS):
        a, b = simulate(seed)
        outcome = repeated_draws_rule(a, b, ALPHA, draw_fraction=SHOTS / PER_CLASS)
        runs.append((outcome.verdict, one_draw_mcnemar(a, b), float(a.mean(1).std(ddof=1))))
    return runs


def test_equal_models_are_ordered_in_at_most_alpha_of_the_pairs(null_runs):
    decided = sum(verdict != "inconclusive" for verdict, _, _ in null_runs)
    assert decided <= ALPHA * NULL_PAIRS, f"{decided} of {NULL_PAIRS} equal pairs ordered"
    # the draws really do spread (1-3 points of accuracy), which is what a one-draw rule ignores ...
    assert 0.01 <= np.median([spread for _, _, spread in null_runs]) <= 0.03
    # ... and why it orders equal models far more often than alpha
    assert sum(old for _, old, _ in null_runs) >= 4 * ALPHA * NULL_PAIRS


def test_a_real_two_point_difference_is_still_found_in_most_runs():
    verdicts, gaps = [], []
    for seed in range(NULL_PAIRS, NULL_PAIRS + POWER_PAIRS):
        a, b = simulate(seed, noise_a=BETTER_NOISE)
        verdicts.append(repeated_draws_rule(a, b, ALPHA, draw_fraction=SHOTS / PER_CLASS).verdict)
        gaps.append(a.mean() - b.mean())
    assert 0.015 <= np.mean(gaps) <= 0.025  # the simulated difference is about 2 points
    assert verdicts.count("refuted") == 0
    assert verdicts.count("verified") > POWER_PAIRS / 2, f"verified in {verdicts.count('verified')} of {POWER_PAIRS}"
