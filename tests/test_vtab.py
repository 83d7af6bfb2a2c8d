"""The VTAB-1k tier: VTAB's task definitions and label rules, the folders bin/prepare-vtab writes, App. B.1.1's recipe,
Table 2's mean over tasks, and the tier end to end on tiny task folders in that exact format."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import timm
import torch

import paper
from measure.data import vtab
from measure.data.opening import DatasetOpener, dataset_labels
from measure.data.paths import DataPaths
from measure.errors import Missing
from measure.models.hub import HubAccess
from measure.models.loaders import CheckpointLoader
from measure.models.registry import CheckpointSpec
from measure.run.cache import ChunkCache
from measure.tiers.evidence import Evidence
from measure.tiers.results import TierResult, Unavailable
from measure.tiers.runner import GPU_HINT, TierRunner
from measure.tiers.vtab import VtabTier, prerequisites, vtab_cost, vtab_score
from measure.train.cost import ASSUMED_MFU, PEAK_FLOPS, vit_forward_flops
from measure.train.recipe import vtab_recipe
from measure.train.settings import FinetuneSettings, Runtime
from pytest_claims import ClaimCheck
from pytest_claims.check import RECORD_KEY
from pytest_claims.config import load_config
from tests.claim_modules import load_claim_module
from tests.fake_checkpoints import timm_hub_files, write_hf_cache_repo

TABLE9_COLUMNS = [n.column for n in paper.numbers(table="Table 9", row="ViT-L/16 (I21k)") if n.column != "Mean"]


# -- VTAB's 19 tasks as data ------------------------------------------------------------------------------------
def test_the_19_tasks_are_table9s_columns_in_order_with_vtabs_groups_and_classes():
    assert [t.column for t in vtab.VTAB_TASKS.values()] == TABLE9_COLUMNS
    assert {g: len(keys) for g, keys in vtab.groups().items()} == {"Natural": 7, "Specialized": 4, "Structured": 8}
    classes = {t.folder: t.num_classes for t in vtab.VTAB_TASKS.values()}
    # VTAB-1k's class counts (task_adaptation's num_classes of each configuration)
    assert classes == {"caltech101": 102, "cifar100": 100, "dtd": 47, "flowers102": 102, "pets": 37, "sun397": 397,
                       "svhn": 10, "camelyon": 2, "eurosat": 10, "resisc45": 45, "retinopathy": 5, "clevr_count": 8,
                       "clevr_dist": 6, "dmlab": 6, "dspr_loc": 16, "dspr_ori": 16, "kitti_dist": 4,
                       "snorb_azim": 18, "snorb_elev": 9}
    assert all(t.splits["train800"] == "train[:800]" and t.sizes["train800"] == 800 and t.sizes["val200"] == 200
               for t in vtab.VTAB_TASKS.values())


# task_adaptation's percentages: VTAB's val split starts at pct % of the tfds split (integer division), its test
# split (where carved out of train) after train + val
BOUNDARIES = {"caltech101": (90, None), "cifar100": (90, None), "pets": (80, None), "svhn": (90, None),
              "eurosat": (60, 20), "resisc45": (60, 20), "clevr_count": (90, None), "clevr_dist": (90, None),
              "dspr_loc": (80, 10), "dspr_ori": (80, 10)}


@pytest.mark.parametrize("folder", sorted(BOUNDARIES))
def test_written_out_split_boundaries_are_task_adaptations_percentages_of_the_assumed_sizes(folder):
    task = next(t for t in vtab.VTAB_TASKS.values() if t.folder == folder)
    train_pct, val_pct = BOUNDARIES[folder]
    total = task.assumes["train"]
    start = train_pct * total // 100
    assert task.splits["val200"] == f"train[{start}:{start + 200}]"
    if val_pct is not None:  # test = the rest after train + val
        rest = start + val_pct * total // 100
        assert task.splits["test"] == f"train[{rest}:]" and task.test_size == total - rest


def test_smallnorb_val_and_test_are_the_halves_of_tfds_test():
    for folder in ("snorb_azim", "snorb_elev"):
        task = next(t for t in vtab.VTAB_TASKS.values() if t.folder == folder)
        half = task.assumes["test"] // 2
        assert task.splits == {"train800": "train[:800]", "val200": "test[:200]", "test": f"test[{half}:]"}
        assert task.test_size == half


# -- labels and images as task_adaptation derives them (hand-computed) ------------------------------------------
def _task(folder: str) -> vtab.VtabTask:
    return next(t for t in vtab.VTAB_TASKS.values() if t.folder == folder)


def test_clevr_labels_count_from_three_objects_and_bin_the_closest_depth():
    five = {"objects": {"size": np.zeros(5), "pixel_coords": np.array([[0, 0, 12.0], [0, 0, 9.2], [0, 0, 30.0],
                                                                       [0, 0, 11.0], [0, 0, 10.5]])}}
    assert vtab.example_label(_task("clevr_count"), five) == 2              # 5 objects - 3
    assert vtab.example_label(_task("clevr_dist"), five) == 3              # 9.2: above 0, 8, 8.5, 9
    near = {"objects": {"pixel_coords": np.array([[0, 0, 7.9]])}}
    assert vtab.example_label(_task("clevr_dist"), near) == 0


def test_kitti_label_is_the_closest_vehicles_depth_bin_or_no_vehicle():
    task = _task("kitti_dist")
    car_at_15 = {"objects": {"type": np.array([0, 4]), "location": np.array([[1.0, 0, 15.0], [0, 0, 3.0]])}}
    assert vtab.example_label(task, car_at_15) == 1                        # the pedestrian at 3 m does not count
    no_vehicle = {"objects": {"type": np.array([4]), "location": np.array([[0, 0, 3.0]])}}
    assert vtab.example_label(task, no_vehicle) == 3
    truck_at_5 = {"objects": {"type": np.array([2]), "location": np.array([[0, 0, 5.0]])}}
    assert vtab.example_label(task, truck_at_5) == 0


def test_dsprites_bins_32_positions_and_40_orientations_into_16_classes():
    assert vtab.example_label(_task("dspr_loc"), {"label_x_position": 31}) == 15
    assert vtab.example_label(_task("dspr_loc"), {"label_x_position": 3}) == 1
    assert vtab.example_label(_task("dspr_ori"), {"label_orientation": 39}) == 15
    assert vtab.example_label(_task("dspr_ori"), {"label_orientation": 5}) == 2    # floor(5 / 2.5)
    assert vtab.example_label(_task("snorb_azim"), {"label_azimuth": 17, "label": 4}) == 17


def test_a_label_outside_the_tasks_classes_is_refused():
    with pytest.raises(ValueError, match="outside"):
        vtab.example_label(_task("snorb_elev"), {"label_elevation": 9})


def test_grey_images_are_tiled_to_rgb_and_dsprites_scaled_to_255():
    binary = np.array([[[0], [1]]], dtype=np.uint8)
    rgb = vtab.example_image(_task("dspr_loc"), {"image": binary})
    assert rgb.shape == (1, 2, 3) and rgb[0, 1].tolist() == [255, 255, 255] and rgb[0, 0].tolist() == [0, 0, 0]
    grey = vtab.example_image(_task("snorb_azim"), {"image": np.array([[[7]]], dtype=np.uint8)})
    assert grey.tolist() == [[[7, 7, 7]]]


# -- the folders: written as bin/prepare-vtab writes them, read back, refused when not VTAB's -------------------
SIZES = {"train800": 8, "val200": 2, "test": 6}


def _examples(n: int, num_classes: int, offset: int) -> list[dict]:
    rng = np.random.default_rng(offset)
    return [{"image": rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), "label": (i + offset) % num_classes}
            for i in range(n)]


def small_task(monkeypatch, folder: str = "eurosat") -> vtab.VtabTask:
    """`folder`'s task with the tiny sizes of the fake folders standing in for VTAB's (as tests/tier_world.trust)."""
    task = dataclasses.replace(_task(folder), sizes=dict(SIZES))
    monkeypatch.setitem(vtab.VTAB_TASKS, task.key, task)
    return task


def write_fake(root, task: vtab.VtabTask):
    return vtab.write_task_folder(root, task, {split: _examples(n, task.num_classes, i)
                                               for i, (split, n) in enumerate(SIZES.items())}, "2.0.0")


def test_written_folder_reads_back_in_order_with_its_labels(tmp_path, monkeypatch):
    task = small_task(monkeypatch)
    folder = write_fake(tmp_path, task)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == vtab.FORMAT and manifest["counts"] == SIZES
    assert manifest["tfds"] == {"name": "eurosat/rgb", "version": "2.0.0", "splits": task.splits}
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "test", "test.csv", "train800",
                                                        "train800.csv", "val200", "val200.csv"]
    test = vtab.open_split(tmp_path, task, "test")
    assert len(test) == 6 and dataset_labels(test).tolist() == [(i + 2) % 10 for i in range(6)]
    image, label = test[1]
    assert image.size == (16, 12) and label == 3
    np.testing.assert_array_equal(np.asarray(image), _examples(6, 10, 2)[1]["image"])  # PNG: lossless
    train = vtab.open_training_set(tmp_path, task)
    assert len(train) == 10 and dataset_labels(train).tolist() == [i % 10 for i in range(8)] + [1, 2]


def test_no_folder_names_the_option_and_the_prepare_command(monkeypatch):
    task = small_task(monkeypatch)
    with pytest.raises(Missing) as missing:
        vtab.open_split(None, task, "test")
    assert "--claims-vtab" in missing.value.need and "bin/prepare-vtab" in missing.value.need
    assert "bin/prepare-vtab DIR" in str(missing.value)


def test_a_folder_with_other_splits_a_lost_image_or_a_short_split_is_refused(tmp_path, monkeypatch):
    task = small_task(monkeypatch)
    folder = write_fake(tmp_path, task)
    other = dataclasses.replace(task, splits={**task.splits, "val200": "train[:200]"})
    with pytest.raises(Missing, match="not VTAB's"):
        vtab.open_split(tmp_path, other, "test")
    (folder / "test" / "000003.png").unlink()
    with pytest.raises(Missing, match="1 listed images are missing"):
        vtab.open_split(tmp_path, task, "test")
    monkeypatch.setitem(vtab.VTAB_TASKS, task.key, dataclasses.replace(task, sizes={**SIZES, "val200": 3}))
    with pytest.raises(Missing, match="VTAB's split has 3"):
        vtab.open_split(tmp_path, vtab.VTAB_TASKS[task.key], "val200")


# -- App. B.1.1's recipe, read from the paper ---------------------------------------------------------------------
def test_vtab_recipe_is_table4s_vtab_row_at_384_px_with_no_sweep():
    recipe = vtab_recipe("ViT-L/16")
    steps = paper.number(table="Table 4", row="VTAB (19 tasks)", column="Steps").value
    lr = paper.number(table="Table 4", row="VTAB (19 tasks)", column="Base LR").value
    assert (recipe.steps, recipe.lr_grid) == (steps, (lr,)) == (2500, (0.01,))
    assert (recipe.batch_size, recipe.resolution, recipe.momentum, recipe.weight_decay, recipe.grad_clip_norm,
            recipe.schedule) == (512, 384, 0.9, 0.0, 1.0, "cosine")
    assert recipe.is_paper and recipe.dropout == 0.1  # ViT-L/16's fine-tuning dropout (vit_jax)
    # no random crop, no flip: the counting / position / orientation labels survive augmentation
    assert (recipe.train_resize, recipe.train_hflip) == (recipe.resolution, 0.0)
    assert vtab_cost("ViT-L/16").tasks[0].sweep_runs == 0


def test_vtab_gpu_hours_are_the_closed_form_flops_of_19_tasks():
    recipe = vtab_recipe("ViT-L/16")
    flops = vit_forward_flops("ViT-L/16", 384)
    tests = sum(t.test_size for t in vtab.VTAB_TASKS.values())
    expected = flops * (19 * 3 * 2500 * 512 + tests) / (PEAK_FLOPS * ASSUMED_MFU["vit"]) / 3600
    assert vtab_cost("ViT-L/16", recipe).hours == pytest.approx(expected)
    assert 18 < expected < 22  # ≈ 1 H100-hour per task and seed at 40 % MFU


# -- Table 2's mean over tasks ------------------------------------------------------------------------------------
def _result(dataset: str, *seeds: list[int]) -> TierResult:
    runs = tuple(np.array(s, dtype=bool) for s in seeds)
    return TierResult(tier="vtab", label="vtab", dataset=dataset, checkpoint="x", correct=runs[0],
                      examples={"dataset": dataset}, seeds_correct=runs)


def test_vtab_score_is_the_mean_over_tasks_of_each_seed_then_over_seeds():
    a = _result("vtab-caltech101", [1, 1, 0, 0], [1, 1, 1, 0])   # 0.5, 0.75
    b = _result("vtab-cifar100", [1, 1], [0, 1])                  # 1.0, 0.5
    score = vtab_score([a, b])
    assert score.per_seed == pytest.approx((0.75, 0.625))
    assert score.mean == pytest.approx(0.6875)     # pooling the 12 predictions would give 8/12: tasks weigh alike
    assert score.seed_std == pytest.approx(0.125 / math.sqrt(2))
    # binomial standard error of a mean of two task means, each over its examples x 2 seeds
    assert score.sampling_se == pytest.approx(math.sqrt((0.625 * 0.375 / 8 + 0.75 * 0.25 / 4) / 4))
    low, _, how = score.interval()
    assert low == pytest.approx(0.6875 - 1.959964 * score.sampling_se, abs=1e-6) and how["low_from"] == "sampling"
    assert score.group_means == {} and score.n == 12  # a group is averaged only when all its tasks are present


def test_vtab_score_refuses_unpaired_seeds_and_a_task_twice():
    with pytest.raises(ValueError, match="same seeds"):
        vtab_score([_result("vtab-dtd", [1], [0]), _result("vtab-pets", [1])])
    with pytest.raises(ValueError, match="twice"):
        vtab_score([_result("vtab-dtd", [1]), _result("vtab-dtd", [0])])


# -- the tier end to end on tiny task folders -----------------------------------------------------------------------
TINY = CheckpointSpec(key="tiny-vit-i21k", paper_model="ViT-L/16", pretraining="imagenet21k", finetuned_on="",
                      resolution=160, library="timm", hub_id="test_vit.r160_in1k", provenance="substitute",
                      note="test-only tiny stand-in", num_classes=1000)


@pytest.fixture
def vtab_world(tmp_path, monkeypatch):
    task = small_task(monkeypatch)
    write_fake(tmp_path / "vtab", task)
    torch.manual_seed(0)
    model = timm.create_model("test_vit", num_classes=1000).eval()
    write_hf_cache_repo(tmp_path / "hf", f"timm/{TINY.hub_id}", timm_hub_files(model, tmp_path / "export"))
    return tmp_path, task


def session(world, *, vtab_root=True, steps: int | None = 2, trained: list | None = None) -> TierRunner:
    """A new pytest session on the tiny world: nothing shared with another but the disk cache."""
    base, _ = world
    runtime = Runtime(device=torch.device("cpu"), num_workers=0, progress=False, eval_batch_size=8,
                      on_step=None if trained is None else trained.append)
    settings = FinetuneSettings(seeds=(0, 1), steps=steps, batch=4 if steps else None,
                                resolution=32 if steps else None, runtime=runtime)
    paths = DataPaths(data_root=base / "data", vtab_root=base / "vtab" if vtab_root else None)
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=base / "hf"))
    return TierRunner(tiers=("vtab",), load=lambda spec, n: loader(spec, num_classes=n),
                      open_dataset=DatasetOpener(paths), cache=ChunkCache(base / "cache"),
                      device=torch.device("cpu"), batch_size=8, num_workers=0, finetune=settings)


def test_vtab_tier_fine_tunes_each_seed_on_train800_and_val200_scores_the_test_split_then_reads_the_cache(vtab_world):
    _, task = vtab_world
    trained: list[int] = []
    result = session(vtab_world, trained=trained).measure("vtab", TINY, task.key)
    assert trained == [1, 2, 1, 2]                          # 2 seeds x 2 steps (on_step counts from 1), no sweep
    assert result.n == SIZES["test"] and len(result.seeds_correct) == 2
    assert result.shortened and "SHORTENED" in result.label
    meta = result.metadata
    assert [r["seed"] for r in meta["runs"]] == [0, 1] and {r["trained_on"] for r in meta["runs"]} == {"train"}
    assert meta["task"]["splits"] == task.splits and meta["lr_selection"]["held_out_accuracy"] == {}
    assert meta["recipe"]["steps"] == 2 and meta["recipe"]["lr_grid"] == [0.01]
    assert result.pipeline["resize"] == [32, 32] and result.examples["n"] == SIZES["test"]

    trained.clear()
    again = session(vtab_world, trained=trained).measure("vtab", TINY, task.key)
    assert trained == [] and all(r["from_cache"] for r in again.metadata["runs"])
    for first, second in zip(result.seeds_correct, again.seeds_correct):
        np.testing.assert_array_equal(first, second)


def test_the_paper_recipe_is_never_trained_without_cuda_and_says_what_gpu_it_needs(vtab_world):
    _, task = vtab_world
    trained: list[int] = []
    with pytest.raises(Missing) as refused:
        session(vtab_world, steps=None, trained=trained).measure("vtab", TINY, task.key)
    assert trained == []
    assert "not trained without CUDA" in str(refused.value) and "H100-hours" in refused.value.need
    assert "--claims-tier vtab --claims-vtab DIR --claims-seeds 0,1" in refused.value.need


def test_without_folders_the_tier_is_not_run_naming_the_folder_the_prepare_command_and_a_gpu(vtab_world):
    _, task = vtab_world
    runner = session(vtab_world, vtab_root=False, steps=None)
    outcome = Evidence(runner).measure_rows("vtab", [TINY], task.key)
    assert isinstance(outcome, Unavailable) and outcome.kind == "not_run"
    assert vtab.NEED in outcome.needs and GPU_HINT in outcome.needs
    assert "bin/prepare-vtab DIR" in outcome.reason
    lacking = prerequisites(runner, "ViT-L/16", task.key)   # what an unselected tier's checks list besides the tier
    assert [m.need for m in lacking[:1]] == [vtab.NEED] and "a CUDA GPU" in lacking[1].need


def test_the_tier_plans_offline_and_names_itself_from_the_recipe():
    tier = VtabTier()
    reading = tier.plan([TINY], dataset="vtab-dtd")
    assert reading.tier == "vtab" and reading.sides[0].resolution == 384 and not reading.unlike
    assert re.search(r"2,500 steps x batch 512 at lr 0.01, 384 px", tier.words())
    assert tier.repeats == "seeds" and tier.scope.datasets == vtab.TASK_KEYS


# -- the claim file, through the plugin's real rules: planted accuracies verify, reversed ones refute -------------
CLAIM = load_claim_module("test_table9_vtab")
ROOT = Path(__file__).resolve().parents[1]


class Item:
    """What ClaimCheck needs of a pytest item."""

    def __init__(self, name: str) -> None:
        self.name, self.nodeid = name, f"tests/test_vtab.py::{name}"
        self.stash, self.user_properties = pytest.Stash(), []
        self.config = SimpleNamespace(getini=lambda key: False)

    def iter_markers(self, name: str):
        return iter(())


def judged(number, evidence) -> dict:
    item = Item("test_table9_i21k_task_value")
    try:
        CLAIM.test_table9_i21k_task_value(ClaimCheck(item, "table2-i21k", load_config(ROOT)), evidence, number)
    except (pytest.skip.Exception, pytest.fail.Exception):
        pass
    return item.stash[RECORD_KEY]


def _planted(accuracy: float, n: int, seed: int) -> np.ndarray:
    """n predictions, exactly round(accuracy * n) correct, in a seeded order."""
    correct = np.zeros(n, dtype=bool)
    correct[:round(accuracy * n)] = True
    return np.random.default_rng(seed).permutation(correct)


class StubEvidence:
    """The `evidence` fixture's surface for the vtab claim: every task measured with the planted accuracies
    (`shift` points off Table 9), or `missing` tasks unavailable."""

    def __init__(self, shift: float = 0.0, missing: tuple[str, ...] = (), selected: bool = True) -> None:
        self.shift, self.missing, self.is_selected = shift, missing, selected
        self.runner = SimpleNamespace(finetune_settings=FinetuneSettings(seeds=(0, 1, 2)),
                                      device=torch.device("cuda"), open_dataset=None)
        self.asked: list[str] = []

    def selected(self, tier):
        return None if self.is_selected else Unavailable.not_run(f"tier {tier} not selected", [f"select {tier}"])

    def reading(self, tier, models, pipeline="", dataset=""):
        return VtabTier().plan([TINY], dataset=dataset)

    def measure(self, tier, models, dataset, method=None, pipeline="", reading=None):
        self.asked.append(dataset)
        task = vtab.VTAB_TASKS[dataset]
        if dataset in self.missing:
            return Unavailable.not_run(f"{task.column} folder missing", [vtab.NEED])
        paper_value = paper.number(table="Table 9", row="ViT-L/16 (I21k)", column=task.column).value
        n = 2000
        seeds = tuple(_planted((paper_value + self.shift + d) / 100, n, s) for s, d in enumerate((-0.1, 0.0, 0.1)))
        result = TierResult(tier="vtab", label="vtab (planted)", dataset=dataset, checkpoint="planted",
                            correct=seeds[0], examples={"dataset": dataset, "n": n}, seeds_correct=seeds,
                            metadata={"checkpoint": {"hub_id": "planted"}, "task": {"column": task.column},
                                      "seeds": {}, "runs": [{"seed": s} for s in range(3)]})
        return [result]


NUMBERS = {n.column: n for n in CLAIM.I21K}


@pytest.mark.parametrize("column", ["DMLab", "Mean"])
def test_planted_table9_accuracies_verify_and_ten_points_less_refute(column):
    verified = judged(NUMBERS[column], StubEvidence())
    assert verified.verdict == "verified", verified.reason
    refuted = judged(NUMBERS[column], StubEvidence(shift=-10.0))
    assert refuted.verdict == "refuted", refuted.reason
    assert refuted.plan.description and refuted.plan.tier.startswith("vtab")


def test_the_mean_is_judged_against_table2s_cell_over_all_19_tasks_with_groups_recorded():
    evidence = StubEvidence()
    record = judged(NUMBERS["Mean"], evidence)
    assert evidence.asked == list(vtab.VTAB_TASKS)               # every task measured, once
    assert (record.paper.value, record.paper.std) == (72.72, 0.21)   # Table 2's cell, not Table 9's rounded 72.7
    # the planted tasks sit at Table 9's values: their mean is Table 9's 72.7 (to rounding)
    assert record.measured.value == pytest.approx(np.mean([n.value for c, n in NUMBERS.items() if c != "Mean"]),
                                                  abs=0.01)
    groups = record.measured.extra["groups (recorded, not judged: the paper prints none for this row)"]
    assert set(groups) == {"Natural", "Specialized", "Structured"}


def test_a_missing_task_leaves_the_mean_not_run_with_its_need_and_a_task_not_run_names_what_to_provide():
    record = judged(NUMBERS["Mean"], StubEvidence(missing=("vtab-dtd", "vtab-dmlab")))
    assert record.verdict == "not_run" and "DTD folder missing" in record.reason and "DMLab" in record.reason
    assert record.needs == (vtab.NEED,) and record.paper.value == 72.72
    unselected = judged(NUMBERS["DTD"], StubEvidence(selected=False))
    assert unselected.verdict == "not_run" and unselected.needs[0] == "select vtab"
    assert vtab.NEED in unselected.needs                          # no --claims-vtab: the folder and the command too
    assert unselected.plan.kind == "value" and "DTD" in unselected.plan.description


def test_a_shortened_recipe_is_never_judged_against_the_paper():
    evidence = StubEvidence()
    evidence.runner.finetune_settings = FinetuneSettings(seeds=(0, 1), steps=2, batch=4)
    record = judged(NUMBERS["Pets"], evidence)
    assert record.verdict == "not_run" and "shortened recipe" in record.reason and "at 384 px" in record.reason
    assert evidence.asked == []                                    # refused before anything is measured


CLAIM1 = load_claim_module("test_claim1_vit_vs_cnn")


def judged_table2_vtab_cell(evidence) -> dict:
    (number,) = [n for n in CLAIM1.TABLE2_I21K if n.dataset == "vtab"]
    item = Item("test_table2_i21k_value")
    try:
        CLAIM1.test_table2_i21k_value(ClaimCheck(item, "table2-i21k", load_config(ROOT)), evidence, number)
    except (pytest.skip.Exception, pytest.fail.Exception):
        pass
    return item.stash[RECORD_KEY]


def test_table2s_vtab_cell_is_judged_by_the_vtab_tier_like_table9s_mean():
    # it used to be "not run: not implemented"; now the 19-task mean, planted at Table 9's values, verifies it …
    evidence = StubEvidence()
    record = judged_table2_vtab_cell(evidence)
    assert record.verdict == "verified", record.reason
    assert evidence.asked == list(vtab.VTAB_TASKS) and (record.paper.value, record.paper.std) == (72.72, 0.21)
    assert record.measured.value == pytest.approx(judged(NUMBERS["Mean"], StubEvidence()).measured.value)
    # … ten points less refutes it, and with the tier unselected it is not run, naming the tier and the folders
    assert judged_table2_vtab_cell(StubEvidence(shift=-10.0)).verdict == "refuted"
    unselected = judged_table2_vtab_cell(StubEvidence(selected=False))
    assert unselected.verdict == "not_run" and "not implemented" not in unselected.reason
    assert unselected.needs[0] == "select vtab" and vtab.NEED in unselected.needs
