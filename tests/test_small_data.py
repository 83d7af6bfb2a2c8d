"""The small-data study's pieces: split, nested subsets, matched models, training, cache, parallel runs."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch

from measure.models import tiny as tiny_models
from measure.run.cache import ChunkCache
from measure.studies.small_data import data, pool, training
from measure.studies.small_data.design import Recipe, RunSpec, StudyDesign
from measure.studies.small_data.study import SmallDataStudy

ROOT = Path(__file__).resolve().parents[1]

# A few steps only: enough to learn something, cheap enough for the project's own tests.
QUICK = Recipe(steps_per_sqrt_image=10.0)   # 100 steps at n=100
TINY = Recipe(steps_per_sqrt_image=2.0)     # ~10 steps at n=20


@pytest.fixture(scope="module")
def split() -> data.DigitsSplit:
    return data.digits_split()


def test_split_is_disjoint_complete_and_stratified(split):
    assert np.intersect1d(split.pool_index, split.test_index).size == 0
    assert np.array_equal(np.union1d(split.pool_index, split.test_index), np.arange(split.labels.size))
    assert split.test_index.size == 500
    expected = np.bincount(split.labels) * 500 / split.labels.size
    assert np.all(np.abs(np.bincount(split.y_test) - expected) <= 1)


def test_split_is_fixed_by_its_seed():
    assert np.array_equal(data.digits_split(500, 0).test_index, data.digits_split(500, 0).test_index)
    assert not np.array_equal(data.digits_split(500, 0).test_index, data.digits_split(500, 1).test_index)


def test_the_fingerprinted_file_is_the_one_load_digits_parses(split):
    # The cache key hashes this file instead of importing scikit-learn: it must be what load_digits reads.
    import gzip

    from sklearn.datasets import load_digits

    with gzip.open(data.digits_file(), "rt") as fh:
        table = np.loadtxt(fh, delimiter=",")
    x, y = load_digits(return_X_y=True)
    assert np.array_equal(table[:, :-1], x) and np.array_equal(table[:, -1], y)
    assert split.fingerprint == data.digits_fingerprint()


def test_images_are_scaled_to_unit_range(split):
    assert split.images.shape == (1797, 1, 8, 8)
    assert split.images.min() == -1.0 and split.images.max() == 1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_subsets_are_nested_class_balanced_and_inside_the_pool(split, seed):
    sizes = [50, 100, 200, 400, split.pool_index.size]
    subsets = [data.training_subset(split, n, seed) for n in sizes]
    for smaller, larger in pairwise(subsets):
        assert np.array_equal(larger[: smaller.size], smaller)
    for n, subset in zip(sizes[:-1], subsets[:-1]):
        counts = np.bincount(split.labels[subset], minlength=10)
        assert counts.max() - counts.min() <= 1, (n, counts)
    assert np.array_equal(np.sort(subsets[-1]), split.pool_index)   # the largest size is the whole pool
    assert len(set(subsets[-1].tolist())) == subsets[-1].size       # no image twice
    assert np.intersect1d(subsets[-1], split.test_index).size == 0


def test_seeds_draw_different_subsets(split):
    assert not np.array_equal(data.training_subset(split, 50, 0), data.training_subset(split, 50, 1))


def test_subset_size_outside_the_pool_is_refused(split):
    with pytest.raises(ValueError, match="pool"):
        data.training_subset(split, split.pool_index.size + 1, 0)


def test_the_models_have_comparable_parameters_and_flops():
    cnn, vit = tiny_models.facts("resnet"), tiny_models.facts("vit")
    assert 0.8 <= cnn["params"] / vit["params"] <= 1.25
    assert 0.8 <= cnn["forward_flops_per_image"] / vit["forward_flops_per_image"] <= 1.25


def test_the_vit_is_timms_vision_transformer_on_16_patches_plus_class_token():
    from timm.models.vision_transformer import VisionTransformer

    vit = tiny_models.build("vit")
    assert type(vit) is VisionTransformer
    assert vit.patch_embed.num_patches == 16
    assert vit.pos_embed.shape[1] == 17 and vit.cls_token is not None
    assert vit(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_unknown_model_names_the_choices():
    with pytest.raises(KeyError, match="resnet"):
        tiny_models.build("mlp")


def test_steps_grow_with_the_training_size_and_double_with_the_scale():
    recipe = Recipe()
    steps = [recipe.steps(n) for n in (50, 100, 400, 1297)]
    assert steps == sorted(steps) and len(set(steps)) == 4
    assert replace(recipe, step_scale=2.0).steps(400) == 2 * recipe.steps(400)


@pytest.mark.parametrize("model, floor", [("resnet", 0.5), ("vit", 0.2)])
def test_a_short_training_run_learns_well_above_chance(model, floor):
    # chance is 10 % on 10 balanced classes; 500 test images make 20 % ~7 standard errors above it.
    result = training.train_run(RunSpec(model, 100, 0, QUICK))
    assert result.correct.shape == (500,)
    assert result.test_accuracy > floor
    assert result.stats["train_curve"]["end"]["train_loss"] < result.stats["train_curve"]["half"]["train_loss"]


def test_training_is_deterministic():
    spec = RunSpec("vit", 20, 3, TINY)
    a, b = training.train_run(spec), training.train_run(spec)
    assert np.array_equal(a.correct, b.correct)
    assert a.stats["train_curve"] == b.stats["train_curve"]


TINY_DESIGN = StudyDesign(sizes=(20,), seeds=(0,), recipe=TINY)


def test_a_second_study_reads_the_cache_instead_of_training(tmp_path, monkeypatch):
    first = SmallDataStudy(TINY_DESIGN, tmp_path, workers=1)
    expected = {m: first.correctness(m, 20) for m in TINY_DESIGN.models}

    def no_training(spec):
        raise AssertionError(f"{spec} was retrained although it is cached")

    monkeypatch.setattr(training, "train_run", no_training)
    again = SmallDataStudy(TINY_DESIGN, tmp_path, workers=1)
    for model, correct in expected.items():
        assert np.array_equal(again.correctness(model, 20), correct)
    assert again.runs("vit", 20)[0].stats["steps"] == TINY.steps(20)


def test_a_changed_recipe_is_a_different_cache_entry():
    spec = RunSpec("vit", 20, 0, TINY)
    assert pool.cache_key(spec) != pool.cache_key(replace(spec, recipe=replace(TINY, lr=1e-3)))
    assert pool.cache_key(spec) != pool.cache_key(replace(spec, seed=1))


def test_model_facts_are_cached_and_equal_a_fresh_count(tmp_path, monkeypatch):
    study = SmallDataStudy(TINY_DESIGN, tmp_path)
    assert study.model_facts("vit") == tiny_models.facts("vit")
    monkeypatch.setattr(tiny_models, "facts", lambda name: pytest.fail("counted again although cached"))
    assert SmallDataStudy(TINY_DESIGN, tmp_path).model_facts("vit")["params"] == study.model_facts("vit")["params"]


def test_a_cached_study_imports_no_torch_sklearn_or_timm(tmp_path):
    # What a fully cached run of the claim pays: reading the runs must not need the libraries that train them.
    SmallDataStudy(TINY_DESIGN, tmp_path, workers=1).correctness("vit", 20)
    code = ("import sys; from measure.studies.small_data.study import SmallDataStudy; "
            f"from measure.studies.small_data.design import *; design = {TINY_DESIGN!r}; "
            f"s = SmallDataStudy(design, {str(tmp_path)!r}, workers=1); s.correctness('vit', 20); "
            "s.correctness('resnet', 20); print(sorted(m for m in ('torch', 'timm', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_command_line_prints_the_study(tmp_path):
    # `python -m measure.studies.small_data` (the convergence check), on a cache the tests filled.
    study = SmallDataStudy(TINY_DESIGN, tmp_path / "small-data-digits", workers=1)
    study.correctness("vit", 20)
    from measure.studies.small_data.__main__ import summary

    rows = summary(study)
    assert [r["size"] for r in rows] == [20] and set(rows[0]) == {"size", "resnet", "vit"}
    help_text = subprocess.run([sys.executable, "-m", "measure.studies.small_data", "--help"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    assert "--step-scale" in help_text


def test_runs_outside_the_design_are_refused(tmp_path):
    with pytest.raises(KeyError, match="not in the study"):
        SmallDataStudy(TINY_DESIGN, tmp_path).runs("vit", 50)


def test_a_process_pool_trains_exactly_what_one_process_trains(tmp_path):
    specs = TINY_DESIGN.specs()
    pooled = pool.ensure_trained(tmp_path / "pool", specs, workers=2)
    for spec, result in zip(specs, pooled):
        assert result.spec == spec
        assert np.array_equal(result.correct, training.train_run(spec).correct)


def test_a_run_claimed_by_another_process_is_skipped_not_trained_twice(tmp_path, monkeypatch):
    from filelock import FileLock

    spec = RunSpec("vit", 20, 0, TINY)
    cache = ChunkCache(tmp_path)
    other = FileLock(str(cache.entry_dir(pool.cache_key(spec))) + ".claim")
    monkeypatch.setattr(training, "train_run", lambda s: pytest.fail("trained a run another process has claimed"))
    with other:  # as if another pytest-xdist worker were training it
        assert pool.load_or_train(tmp_path, spec, wait=False) is None


def test_xdist_workers_share_the_cores(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    alone = pool.free_cores()
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(alone * 4))
    assert pool.free_cores() == 1


def test_underfitted_lists_runs_below_the_training_accuracy_floor(tmp_path):
    # TINY trains ~10 steps: far from fitting 20 images, so a 99 % floor must catch its runs.
    study = SmallDataStudy(TINY_DESIGN, tmp_path, workers=1)
    train_acc = {(r.spec.model, r.spec.seed): r.stats["train_accuracy"] for m in TINY_DESIGN.models
                 for r in study.runs(m, 20)}
    assert len(study.underfitted((20,), 0.99)) == sum(a < 0.99 for a in train_acc.values()) > 0
    assert study.underfitted((20,), 0.0) == []
    floor = max(train_acc.values())
    assert all(r.stats["train_accuracy"] < floor for r in study.underfitted((20,), floor))
