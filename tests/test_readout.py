"""The linear read-outs of frozen features: the few-shot ridge regression (§4.1) and the full linear probe."""

from __future__ import annotations

import numpy as np
import pytest

from measure import readout as probe


def reference_ridge(x: np.ndarray, y: np.ndarray, num_classes: int, l2: float) -> np.ndarray:
    """The textbook primal solution W = (XᵀX + l2·I)⁻¹ XᵀY on standardised features + bias 100."""
    mean, std = x.mean(0), x.std(0) + 1e-5
    design = np.hstack([(x - mean) / std, np.full((len(x), 1), probe.BIAS_CONSTANT)])
    targets = 2.0 * np.eye(num_classes)[y] - 1.0
    return np.linalg.solve(design.T @ design + l2 * np.eye(design.shape[1]), design.T @ targets)


@pytest.mark.parametrize("n,d", [(40, 5), (6, 30)], ids=["primal-n>=d", "dual-d>n"])
def test_ridge_matches_the_closed_form_solution(n, d):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(n, d)), np.arange(n) % 3
    for l2 in (0.5, probe.FEWSHOT_L2):
        solver = probe.RidgeToSigns(x, y, 3)
        np.testing.assert_allclose(solver.weights(l2).numpy(), reference_ridge(x, y, 3, l2), rtol=1e-6, atol=1e-9)


def test_shot_indices_take_k_per_class_reproducibly():
    labels = np.repeat(np.arange(4), 7)
    idx = probe.shot_indices(labels, 4, 5, seed=0)
    assert np.bincount(labels[idx]).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(idx, probe.shot_indices(labels, 4, 5, seed=0))
    assert not np.array_equal(idx, probe.shot_indices(labels, 4, 5, seed=1))


def separable(n_per_class: int, num_classes: int, d: int, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(num_classes, d))
    y = np.repeat(np.arange(num_classes), n_per_class)
    return centres[y] + rng.normal(scale=noise, size=(len(y), d)), y


def test_fewshot_probe_learns_separable_classes_and_reports_every_shot():
    x, y = separable(40, 4, 8, 0.3, seed=0)
    test = np.arange(len(y)) % 4 == 0
    x_train, y_train, x_test, y_test = x[~test], y[~test], x[test], y[test]
    result = probe.fewshot_probe(x_train, y_train, x_test, y_test, 4, shots=(1, 5, 10, 25, 50), l2=1.0)
    assert result.accuracy == 1.0 and result.correct.shape == (40,)
    assert len(result.details["accuracy_per_seed"]["5shot"]) == 3
    assert result.details["skipped_shots"] == ["50shot"]  # more shots than the smallest class has


def test_fewshot_probe_is_at_chance_on_random_labels():
    rng = np.random.default_rng(0)
    x_train, x_test = rng.normal(size=(200, 8)), rng.normal(size=(2000, 8))
    result = probe.fewshot_probe(x_train, rng.integers(0, 4, 200), x_test, rng.integers(0, 4, 2000), 4)
    assert 0.18 < result.accuracy < 0.32  # a solver that leaked test labels would score far above 1/4


def test_linear_probe_picks_l2_on_held_out_training_data():
    x, y = separable(80, 3, 6, 2.0, seed=2)
    train, test = np.arange(len(y)) % 2 == 0, np.arange(len(y)) % 2 == 1
    result = probe.linear_probe(x[train], y[train], x[test], y[test], 3)
    assert result.details["chosen_l2"] in probe.LINEAR_L2_GRID
    assert result.accuracy > 0.6 and set(result.details["holdout_accuracy"]) == {f"{v:g}" for v in probe.LINEAR_L2_GRID}


def test_fewshot_probe_keeps_every_draw_at_the_primary_shots():
    x, y = separable(30, 4, 8, 1.5, seed=3)
    test = np.arange(len(y)) % 3 == 0
    result = probe.fewshot_probe(x[~test], y[~test], x[test], y[test], 4)
    assert result.draws.shape == (probe.FEWSHOT_DRAWS, int(test.sum()))
    np.testing.assert_array_equal(result.draws[0], result.predictions)  # draw 0 is big_vision's seed 0
    draws = result.details["draws"]
    # big_vision's three seeds are the first three draws
    assert draws["accuracy"][:3] == result.details["accuracy_per_seed"]["5shot"]
    assert draws["fraction_of_pool"] == 5 / 20 and len(set(map(tuple, result.draws.tolist()))) > 1  # draws differ
    assert result.recipe["draws"] == probe.FEWSHOT_DRAWS
    assert probe.linear_probe(x[~test], y[~test], x[test], y[test], 4).draws is None
