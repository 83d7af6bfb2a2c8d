"""Evidence tiers: inference (device, OOM back-off, cache), the few-shot solver, and each tier end to end."""

from __future__ import annotations

import ast
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from torch.utils.data import TensorDataset

from fixtures.checkpoint_fixtures import CheckpointLoader
from fixtures.dataset_fixtures import DatasetOpener
from fixtures.options import SuiteOptions
from fixtures.tier_fixtures import Evidence, Model
from measure import readout as probe
from measure.data import datasets as ds_mod
from measure.data.datasets import IMAGENET_WNIDS
from measure.errors import Missing
from measure.models import representations
from measure.models.checkpoints import CheckpointSpec, HubAccess
from measure.run import inference as evaluate
from measure.run.cache import ChunkCache
from measure.tiers import runner as tiers
from tests.fake_checkpoints import folder_files, timm_hub_files, write_hf_cache_repo
from tests.fake_datasets import accept_fake_checksums, write_cifar, write_imagenet_val, write_real_labels

pytest_plugins = ["pytester"]


# -- inference ---------------------------------------------------------------------------------

class OomAbove(torch.nn.Module):
    """Wraps a model; raises CUDA out-of-memory for batches larger than `limit`, like a full GPU."""

    def __init__(self, inner: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit, self.sizes = inner, limit, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(len(x))
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated, batch {len(x)} > {self.limit})")
        return self.inner(x)


def small_data(n: int = 20) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(n, 6, generator=generator), torch.arange(n) % 3)


def linear_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(6, 3)


def test_oom_halves_the_batch_and_gives_the_same_outputs(tmp_path):
    data, model = small_data(), linear_model()
    reference = evaluate.run_inference(model, data, outputs=evaluate.logits_outputs, cache=ChunkCache(tmp_path / "a"),
                                       key={"t": 1}, batch_size=8, device=torch.device("cpu"), num_workers=0)
    wrapped = OomAbove(model, limit=3)
    backed_off = evaluate.run_inference(wrapped, data, outputs=evaluate.logits_outputs,
                                        cache=ChunkCache(tmp_path / "b"), key={"t": 1}, batch_size=8,
                                        device=torch.device("cpu"), num_workers=0)
    np.testing.assert_array_equal(backed_off.arrays["top5"], reference.arrays["top5"])
    assert backed_off.meta["oom_backoffs"] == 2 and backed_off.meta["final_batch_size"] == 2  # 8 -> 4 -> 2
    assert max(size for size in wrapped.sizes if size <= 3) == 2 and wrapped.sizes.count(8) == 1


def test_oom_at_batch_size_one_is_a_missing_resource(tmp_path):
    with pytest.raises(Missing, match="out of GPU memory .* even at batch size 1"):
        evaluate.run_inference(OomAbove(linear_model(), limit=0), small_data(4), outputs=evaluate.logits_outputs,
                               cache=ChunkCache(tmp_path), key={"t": 1}, batch_size=4,
                               device=torch.device("cpu"), num_workers=0)


def test_cache_key_ignores_batch_size_workers_and_xdist_worker(tmp_path, monkeypatch):
    cache, data = ChunkCache(tmp_path), small_data()
    first = evaluate.run_inference(linear_model(), data, outputs=evaluate.feature_outputs, cache=cache, key={"t": 1},
                                   batch_size=4, device=torch.device("cpu"), num_workers=0, chunk_size=8)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    model = OomAbove(linear_model(), limit=10**6)
    second = evaluate.run_inference(model, data, outputs=evaluate.feature_outputs, cache=cache, key={"t": 1},
                                    batch_size=16, device=torch.device("cpu"), chunk_size=8)
    assert not first.from_cache and first.cache.computed_chunks == (0, 1, 2)
    assert second.from_cache and model.sizes == []  # nothing recomputed, the model never ran
    np.testing.assert_array_equal(second.arrays["features"], first.arrays["features"])
    np.testing.assert_array_equal(second.arrays["index"], np.arange(20))
    np.testing.assert_array_equal(second.arrays["target"], np.arange(20) % 3)
    assert first.meta["images_computed"] == 20 and first.meta["images_per_s"] > 0
    assert first.meta["precision"] == "float32" and first.meta["peak_memory_bytes"] is None


def test_device_is_one_gpu_per_xdist_worker(monkeypatch):
    monkeypatch.delenv("CLAIMS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for worker, expected in (("gw0", "cuda:0"), ("gw1", "cuda:1"), ("gw3", "cuda:1")):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        assert str(evaluate.select_device()) == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert str(evaluate.select_device()) == "cpu"
    assert evaluate.precision(torch.device("cuda:0")) == "bf16-autocast"


# -- the few-shot solver -------------------------------------------------------------------------

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


# -- each tier end to end, on tiny checkpoints and datasets in the real on-disk formats ----------

ROOT = Path(__file__).resolve().parents[1]
IMAGENET_CLASSES = (IMAGENET_WNIDS[0], IMAGENET_WNIDS[281], IMAGENET_WNIDS[999])


def tiny_spec(key: str, hub_id: str, paper_model: str, finetuned_on: str = "") -> CheckpointSpec:
    # Real timm tags small enough for CPU tests, saved in the hub-cache layout the real rows use.
    return CheckpointSpec(key=key, paper_model=paper_model, pretraining="imagenet21k", finetuned_on=finetuned_on,
                          resolution=160, library="timm", hub_id=hub_id, provenance="substitute",
                          note="test-only tiny stand-in", num_classes=1000)


GOOD = tiny_spec("tiny-good", "test_vit.r160_in1k", "ViT-L/16")           # informative random features
BLIND = tiny_spec("tiny-blind", "test_vit2.r160_in1k", "R152x4")          # all weights zero: no information
GOOD_FT = tiny_spec("tiny-good-ft", "test_vit3.r160_in1k", "ViT-L/16", "imagenet")  # head fitted to the val set
BLIND_FT = tiny_spec("tiny-blind-ft", "test_resnet.r160_in1k", "R152x4", "imagenet")  # always predicts class 0


@dataclasses.dataclass(frozen=True)
class World:
    hf_cache: Path
    data: Path
    imagenet: Path
    real: Path
    cifar: object
    val_labels: list[int]
    real_table: dict[int, list[int]]
    commits: dict[str, str]


def _zeroed(model: torch.nn.Module, favourite: int | None = None) -> torch.nn.Module:
    """All weights zero: constant features; with `favourite`, logits that always pick that class."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        if favourite is not None:
            model.get_classifier().bias[favourite] = 1.0
    return model


def _fit_head(model: torch.nn.Module, images: torch.Tensor, labels: list[int]) -> torch.nn.Module:
    """Turn a random backbone into a perfect ImageNet classifier of `images` (least-squares head)."""
    with torch.no_grad():
        features = model.forward_head(model.forward_features(images), pre_logits=True)
        design = torch.cat([features, torch.ones(len(features), 1)], 1).double()
        targets = torch.full((len(labels), 1000), -1.0, dtype=torch.float64)
        targets[torch.arange(len(labels)), torch.tensor(labels)] = 1.0
        solution = torch.linalg.lstsq(design, targets).solution.float()
        model.head.weight.copy_(solution[:-1].T)
        model.head.bias.copy_(solution[-1])
    return model


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("tier_world")
    cifar = write_cifar(base / "data", "cifar10", per_batch=10, n_test=20)  # 5 train images per class
    fake_val = write_imagenet_val(base / "imagenet", wnids=IMAGENET_CLASSES, per_class=4)
    numbers = [int(name[15:23]) for name in fake_val.files["val"]]
    # ReaL: every image keeps its label except one judged unlabeled (not scored) and one with two labels.
    real_table = {n: [label] for n, label in zip(numbers, fake_val.labels["val"])}
    real_table[numbers[0]] = []
    real_table[numbers[-1]] = [fake_val.labels["val"][-1], 0]
    real = write_real_labels(base / "real.json", real_table, total=max(numbers))

    options = SuiteOptions(data_root=base / "data", imagenet_root=base / "imagenet", download=False,
                           tiers=("eval",), cache_root=base / "unused")
    torch.manual_seed(0)
    good_ft = timm.create_model(GOOD_FT.hub_id.split(".")[0], num_classes=1000).eval()
    transform = ds_mod.make_eval_transform(timm.data.resolve_model_data_config(good_ft))
    val = ds_mod.ImageNetVal(options.imagenet_root / "val", transform=transform)
    images = torch.stack([val[i][0] for i in range(len(val))])
    models = {
        GOOD: timm.create_model(GOOD.hub_id.split(".")[0], num_classes=1000),
        BLIND: _zeroed(timm.create_model(BLIND.hub_id.split(".")[0], num_classes=1000)),
        GOOD_FT: _fit_head(good_ft, images, [int(t) for t in val.targets]),
        BLIND_FT: _zeroed(timm.create_model(BLIND_FT.hub_id.split(".")[0], num_classes=1000), favourite=0),
    }
    cache = base / "hf_cache"
    commits = {spec.key: write_hf_cache_repo(cache, f"timm/{spec.hub_id}",
                                             timm_hub_files(model.eval(), base / f"export-{spec.key}"))
               for spec, model in models.items()}
    return World(cache, base / "data", base / "imagenet", real, cifar, list(val.targets), real_table, commits)


@pytest.fixture
def trusted(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The tiny datasets stand in for complete ones: their sizes are the 'real' sizes for this test."""
    accept_fake_checksums(monkeypatch, world.cifar)
    sizes = {"cifar10": {"train": 50, "test": 20}, "imagenet": {"val": 12}, "imagenet_real": {"val": 12}}
    for name, split_sizes in sizes.items():
        monkeypatch.setitem(ds_mod.DATASETS, name, dataclasses.replace(ds_mod.DATASETS[name], sizes=split_sizes))
    return world


def make_runner(world: World, cache_root: Path, tiers_selected=("eval", "probe")) -> tiers.TierRunner:
    options = SuiteOptions(data_root=world.data, imagenet_root=world.imagenet, download=False,
                           tiers=tiers_selected, cache_root=cache_root, real_labels=world.real)
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=world.hf_cache))
    return tiers.TierRunner(tiers=tiers_selected, load=lambda spec, n: loader(spec, num_classes=n),
                            open_dataset=DatasetOpener(options), cache=ChunkCache(cache_root),
                            device=torch.device("cpu"), batch_size=8, num_workers=0)


class ChunkCounter:
    """Counts inference chunks actually computed (not served from the cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = evaluate._Runner.chunk

        def counting(runner, i):
            self.calls += 1
            return original(runner, i)

        monkeypatch.setattr(evaluate._Runner, "chunk", counting)


def test_probe_tier_end_to_end_then_served_from_cache(trusted, tmp_path, monkeypatch):
    counter = ChunkCounter(monkeypatch)
    first = make_runner(trusted, tmp_path / "cache")
    good = first.probe(GOOD, "cifar10", "fewshot")
    blind = first.probe(BLIND, "cifar10", "fewshot")
    linear = first.probe(GOOD, "cifar10", "linear")
    assert counter.calls == 4  # 2 models x (train, test); the linear probe reuses the cached features
    assert good.n == blind.n == 20 and good.accuracy >= 0.8  # 5 shots of colour-coded classes
    assert blind.accuracy <= 0.2  # constant features: one class at most (2 of 20 test images)
    assert linear.accuracy >= 0.8 and linear.metadata["recipe"]["method"] == "ridge-all-train"
    meta = good.metadata
    assert meta["tier"] == "probe" and meta["recipe"]["l2"] == 2.0**10 and meta["recipe"]["primary_shots"] == 5
    assert meta["checkpoint"]["hub_id"] == GOOD.hub_id and meta["checkpoint"]["revision"] == trusted.commits[GOOD.key]
    assert meta["inference"]["train"]["images_computed"] == 50 and meta["inference"]["test"]["images_per_s"] > 0
    assert meta["probe_details"]["accuracy_per_seed"]["5shot"][0] == good.accuracy  # seed 0 gives correctness
    json.dumps(meta)  # JSON-safe, as records must be

    second = make_runner(trusted, tmp_path / "cache")  # a new session: only the disk cache is shared
    again = second.probe(GOOD, "cifar10", "fewshot")
    assert counter.calls == 4  # nothing recomputed
    assert again.metadata["inference"]["test"]["from_cache"] and again.metadata["probe_from_cache"]
    np.testing.assert_array_equal(again.correct, good.correct)


def test_eval_tier_end_to_end_imagenet_and_real(trusted, tmp_path, monkeypatch):
    counter = ChunkCounter(monkeypatch)
    runner = make_runner(trusted, tmp_path / "cache")
    top1 = runner.eval(GOOD_FT, "imagenet")
    real = runner.eval(GOOD_FT, "imagenet_real")
    blind = runner.eval(BLIND_FT, "imagenet")
    assert counter.calls == 2  # ImageNet and ReaL share one prediction entry per checkpoint
    assert top1.n == 12 and top1.accuracy == 1.0
    assert real.n == 11 and real.accuracy == 1.0  # one image has no ReaL label: not scored
    np.testing.assert_array_equal(blind.correct, np.asarray(trusted.val_labels) == 0)  # always class 0
    assert top1.metadata["inference"]["precision"] == "float32"
    assert top1.metadata["checkpoint"]["finetuned_on"] == "imagenet"


def test_unselected_tier_and_missing_resources_say_what_to_provide(trusted, tmp_path):
    runner = make_runner(trusted, tmp_path / "cache", tiers_selected=("eval",))
    with pytest.raises(tiers.TierNotSelected, match=r"tier probe not selected \(--claims-tier\)"):
        runner.probe(GOOD, "cifar10", "fewshot")
    absent = dataclasses.replace(GOOD, key="tiny-absent", hub_id="test_convnext.r160_in1k")  # not in the cache
    options = SuiteOptions(data_root=tmp_path / "nodata", imagenet_root=None, download=False,
                           tiers=("probe",), cache_root=tmp_path / "c")
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=trusted.hf_cache))
    empty = tiers.TierRunner(tiers=("probe",), load=lambda spec, n: loader(spec, num_classes=n),
                             open_dataset=DatasetOpener(options), cache=ChunkCache(tmp_path / "c"),
                             device=torch.device("cpu"))
    with pytest.raises(tiers.MissingResources) as caught:
        empty.probe(absent, "cifar10", "fewshot")
    text = str(caught.value)
    assert "--claims-checkpoint tiny-absent=FILE" in text and "HF_HOME" in text  # the checkpoint
    assert "--claims-data DIR" in text and "--claims-download" in text            # the dataset
    assert len(caught.value.parts) == 2  # train and test name the same folder once
    # one short need per thing to provide, without this run's cache path or network state
    checkpoint, dataset = caught.value.needs
    assert checkpoint == ("checkpoint tiny-absent (timm test_convnext.r160_in1k): in the Hugging Face cache "
                          "(run once with internet, or set HF_HOME), or pass --claims-checkpoint tiny-absent=FILE")
    assert dataset.startswith("CIFAR-10") and "--claims-data DIR" in dataset


class RecordingCheck:
    """Stands in for `claim_check` where a test expects a measurement: any early ending is a failure."""

    def not_run(self, reason, paper=None, needs=None):
        raise AssertionError(f"not run: {reason}")

    def untestable(self, reason, paper=None):
        raise AssertionError(f"untestable: {reason}")


@pytest.fixture(scope="module")
def hf_twin(world: World) -> tuple[CheckpointSpec, torch.nn.Module]:
    """A tiny Hugging Face ViT with its pooler (the pre-logits layer), in the hub-cache layout of the
    `google/vit-*-in21k` rows: the pre-logits twin of the ViT-L/16 stand-in."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(4)
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)
    source = ViTModel(config, add_pooling_layer=True).eval()
    folder = world.hf_cache.parent / "export-tiny-hf"
    source.save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    spec = CheckpointSpec(key="tiny-good-hf", paper_model="ViT-L/16", pretraining="imagenet21k", finetuned_on="",
                          resolution=32, library="transformers", hub_id="test/tiny-vit-in21k", provenance="substitute",
                          note="test-only tiny stand-in", pre_logits=True)
    write_hf_cache_repo(world.hf_cache, spec.hub_id, folder_files(folder))
    return spec, source


def test_probe_reads_the_paper_pre_logits_where_a_public_checkpoint_keeps_them(trusted, hf_twin, tmp_path):
    spec, source = hf_twin
    runner = make_runner(trusted, tmp_path / "cache", tiers_selected=("probe",))
    rows = {("ViT-L/16", None): GOOD, ("ViT-L/16", "transformers"): spec, ("R152x4", None): BLIND}

    def find(paper_model, pretraining, finetuned_on="", *, resolution=None, library=None):
        if (paper_model, library) not in rows:
            raise LookupError(f"no {library} row for {paper_model}")
        return rows[(paper_model, library)]

    evidence = Evidence(runner, find)
    vit, cnn = evidence.measure(RecordingCheck(), "probe", [Model("ViT-L/16", "imagenet21k"),
                                                           Model("R152x4", "imagenet21k")], "cifar10", "fewshot")
    # ViT-L/16 is read through its pre-logits twin; the stand-in without one falls back to its timm row
    assert (vit.checkpoint, cnn.checkpoint) == ("tiny-good-hf", "tiny-blind")
    assert vit.metadata["representation"]["key"] == "pre_logits_hf_pooler" and vit.metadata["representation"]["pre_logits"]
    assert not cnn.metadata["representation"]["pre_logits"]  # test_vit2: average-pooled tokens, no pre-logits
    assert vit.metadata["recipe"]["features"] == "pre-logits (HF pooler)"
    assert evidence.tier(vit, cnn) == ("probe (fewshot): pre-logits (HF pooler) vs "
                                       "avg-pooled tokens (timm; no pre-logits layer)")
    assert evidence.tier(vit) == vit.metadata["tier_label"] == "probe (fewshot): pre-logits (HF pooler)"

    # The features the probe read (the same cache entry) are the pooler output, not the LN class token.
    loaded_spec, opened = runner._resources(spec, 0, [("cifar10", "test")])
    read = runner._infer(loaded_spec, opened[("cifar10", "test")], "cifar10", "test",
                         tiers._feature_recipe(representations.describe(loaded_spec)), evaluate.feature_outputs,
                         tiers.dataset_fingerprint(opened[("cifar10", "test")]))
    assert read.from_cache and read.cache.key["recipe"]["representation"] == "pre_logits_hf_pooler"
    loaded = CheckpointLoader(HubAccess(offline=True, cache_dir=trusted.hf_cache))(spec)
    data = DatasetOpener(SuiteOptions(data_root=trusted.data, imagenet_root=None, download=False, tiers=("probe",),
                                      cache_root=tmp_path / "unused"))(
        "cifar10", "test", ds_mod.make_eval_transform(loaded.data_config))
    images = torch.stack([data[i][0] for i in range(len(data))])
    with torch.no_grad():
        out = source(pixel_values=images)
    features = read.arrays["features"].astype(np.float32)
    np.testing.assert_allclose(features, out.pooler_output.numpy(), atol=2e-3, rtol=0)
    assert np.abs(features - out.last_hidden_state[:, 0].numpy()).max() > 0.1  # tanh(dense(·)) moved it


# -- the claim tests themselves, through the plugin's claim_check (pytester) --------------------

SUITE_CONFTEST = '''
import json
from pathlib import Path

import pytest

from measure.models.checkpoints import CheckpointSpec, HubAccess
from fixtures.tier_fixtures import Evidence

pytest_plugins = PROJECT_PLUGINS
WORLD = json.loads(Path(__file__).with_name("world.json").read_text())


@pytest.fixture(scope="session")
def hub_access():
    return HubAccess(offline=True, cache_dir=WORLD["hf_cache"])


@pytest.fixture(scope="session")
def evidence(tier_runner):
    # The claim tests' own paper models, resolved to the tiny stand-ins instead of the registry rows.
    specs = {tuple(key.split("|")): CheckpointSpec(**row) for key, row in WORLD["specs"].items()}

    def find(paper_model, pretraining, finetuned_on="", *, resolution=None, library=None):
        if (paper_model, pretraining, finetuned_on) not in specs:
            raise LookupError(f"no tiny stand-in for {paper_model} / {pretraining} / {finetuned_on}")
        spec = specs[(paper_model, pretraining, finetuned_on)]
        if library not in (None, spec.library):
            raise LookupError(f"no {library} stand-in for {paper_model}")
        return spec

    return Evidence(tier_runner, find)
'''

def project_plugins() -> list[str]:
    """The project conftest's plugin list, so the synthetic suite loads exactly what the real one does."""
    tree = ast.parse((ROOT / "conftest.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytest_plugins" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("conftest.py defines no pytest_plugins")


SELECTED = ("(better_or_comparable_to_bit_m_r152x4_probe and cifar10-) "
            "or better_or_comparable_to_bit_m_r152x4_imagenet "
            "or imagenet21k-imagenet-vit-b16 or imagenet21k-imagenet_real-vit-b16")


def claim_suite(pytester: pytest.Pytester, world: World) -> None:
    pytester.makepyprojecttoml((ROOT / "pyproject.toml").read_text())  # the project's tolerances and margins
    pytester.mkdir("paper")
    for name in ("claims.toml", "seed_discrepancies.csv", "inconsistencies.csv"):
        (pytester.path / "paper" / name).write_bytes((ROOT / "paper" / name).read_bytes())
    pytester.mkdir("claims")
    for name in ("test_claim1_vit_vs_cnn.py", "test_claim2_pretraining_size.py", "test_claim3_hybrids.py"):
        (pytester.path / "claims" / name).write_bytes((ROOT / "claims" / name).read_bytes())
    stand_ins = {("ViT-L/16", "imagenet21k", ""): GOOD, ("R152x4", "imagenet21k", ""): BLIND,
                 ("ViT-L/16", "imagenet21k", "imagenet"): GOOD_FT, ("ViT-B/16", "imagenet21k", "imagenet"): BLIND_FT,
                 ("R152x4", "imagenet21k", "imagenet"): BLIND_FT}
    (pytester.path / "world.json").write_text(json.dumps({
        "hf_cache": str(world.hf_cache),
        "specs": {"|".join(key): dataclasses.asdict(spec) for key, spec in stand_ins.items()}}))
    pytester.makeconftest(SUITE_CONFTEST.replace("PROJECT_PLUGINS", repr(project_plugins())))


def run_suite(pytester: pytest.Pytester, world: World, cache: Path, *args: str) -> pytest.RunResult:
    # --opt=PATH: a bare path argument would move pytest's rootdir away from the suite
    return pytester.runpytest("-p", "no:unraisableexception", f"--claims-data={world.data}",
                              f"--claims-imagenet={world.imagenet}", f"--claims-real-labels={world.real}",
                              f"--claims-cache={cache}", "--claims-tier=eval,probe", *args)


def checks(pytester: pytest.Pytester) -> dict[str, dict]:
    doc = json.loads((pytester.path / "reports" / "claims.json").read_text())
    return {check["id"]: check for claim in doc["claims"] for check in claim["checks"]}


def test_claim_tests_reach_verdicts_on_both_tiers_then_rerun_from_cache(pytester, trusted, tmp_path, monkeypatch):
    claim_suite(pytester, trusted)
    counter = ChunkCounter(monkeypatch)
    result = run_suite(pytester, trusted, tmp_path / "cache", "-k", SELECTED)
    # ViT stand-in vs blind CNN: "better or comparable" verified on CIFAR-10 (few-shot, linear) and on
    # ImageNet / ReaL; the blind classifier standing in for ViT-B/16 scores 4/12 on ImageNet (Wilson
    # 95 % interval 14-61 %) against Table 5's 83.97 (and low on ReaL against 88.35): refuted.
    result.assert_outcomes(passed=4, failed=2)
    recorded = checks(pytester)
    probe = recorded["test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_probe[cifar10-fewshot]"]
    assert probe["verdict"] == "verified" and probe["measured"]["n"] == 20
    assert probe["tier"] == ("probe (fewshot): class token after final LayerNorm (timm; no public pre-logits) vs "
                             "avg-pooled tokens (timm; no pre-logits layer)")
    assert probe["details"]["tiny-good"]["representation"]["key"] == "class_token_final_layernorm"
    assert probe["details"]["tiny-good"]["inference"]["test"]["images_per_s"] > 0
    assert probe["details"]["tiny-good"]["checkpoint"]["revision"] == trusted.commits["tiny-good"]
    real = recorded["test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_imagenet[imagenet_real]"]
    assert real["verdict"] == "verified" and real["measured"]["n"] == 11 and real["tier"] == "eval"
    value = recorded["test_table5_value[imagenet21k-imagenet-vit-b16]"]
    assert value["verdict"] == "refuted" and value["kind"] == "value"
    assert value["measured"]["value"] == pytest.approx(100 * 4 / 12) and value["paper"]["value"] == 83.97
    assert value["measured"]["high"] < 83.97 - 1.0  # the whole interval below the paper's band
    computed = counter.calls
    assert computed == 6  # 2 probe models x (train, test) + 2 eval models (ImageNet and ReaL share)

    rerun = run_suite(pytester, trusted, tmp_path / "cache", "-k", SELECTED)
    rerun.assert_outcomes(passed=4, failed=2)
    assert counter.calls == computed  # the second run is served from the cache: nothing recomputed
    again = checks(pytester)["test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_probe[cifar10-fewshot]"]
    assert again["details"]["tiny-good"]["inference"]["train"]["from_cache"] is True
    assert again["measured"] == probe["measured"]


def test_offline_machine_lists_every_check_undecided_with_what_to_provide(pytester, trusted, tmp_path, monkeypatch):
    """No checkpoints, no data, no hub: every check of claims 1-3 is not run or untestable, fast."""
    claim_suite(pytester, trusted)
    # the project's own plugins: the real registry and HubAccess
    (pytester.path / "conftest.py").write_text(f"pytest_plugins = {project_plugins()!r}\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hf_cache"))
    monkeypatch.setenv("CLAIMS_CHECKPOINTS", str(tmp_path / "no_files"))
    start = time.perf_counter()
    result = pytester.runpytest("-p", "no:unraisableexception", f"--claims-data={tmp_path / 'no_data'}",
                                f"--claims-cache={tmp_path / 'cache'}")
    elapsed = time.perf_counter() - start
    outcomes = result.parseoutcomes()
    assert set(outcomes) <= {"skipped", "warnings"} and outcomes["skipped"] > 250
    recorded = checks(pytester)
    assert {c["verdict"] for c in recorded.values()} <= {"not_run", "untestable"}
    for check in recorded.values():
        reason, needs = check["reason"], check["needs"]
        if check["verdict"] != "not_run" or "VTAB" in reason:
            continue
        if "TPUv3" in reason:  # Table 2's pre-training cost: needs a pre-training run, not a download
            assert needs == [load_claim_module("test_claim1_vit_vs_cnn").TPU_NEED], needs
            continue
        if "not selected (--claims-tier)" in reason:
            assert needs == ["select tier finetune: --claims-tier eval,finetune,probe"], needs
            continue
        assert "--claims-checkpoint" in reason and "HF_HOME" in reason or "CLAIMS_CHECKPOINTS" in reason, reason
        assert "--claims-data DIR" in reason or "--claims-imagenet DIR" in reason, reason
        assert "CUDA GPU" in reason, reason
        # one need per thing to provide: each checkpoint by its key, each dataset folder, the GPU once
        assert [n for n in needs if "CUDA GPU" in n] == [needs[-1]], needs
        assert all(n.startswith("checkpoint ") and "--claims-checkpoint " in n
                   for n in needs if "Hugging Face cache" in n or "CLAIMS_CHECKPOINTS" in n), needs
        assert len(needs) == len(set(needs)) and 3 <= len(needs) <= 5, needs
    probes = [c for c in recorded.values() if "better_or_comparable_to_bit_m_r152x4_probe" in c["id"]]
    assert probes and all(c["needs"][0].startswith("checkpoint vit_l16-i21k-hf (Hugging Face google/vit-large-")
                          for c in probes)  # the probe asks for the pre-logits twin, not the timm row
    assert elapsed < 60  # dominated by collection; the hub is never waited on


# -- the content fingerprint: cache keys and pairing ---------------------------------------------

def reversed_opener(world: World):
    """Opens the same tiny CIFAR-10 with its examples in reverse order: same size, same images, other order."""
    options = SuiteOptions(data_root=world.data, imagenet_root=None, download=False, tiers=("probe",),
                           cache_root=world.data / "unused")
    opener = DatasetOpener(options)

    def open_reversed(name, split, transform=None):
        data = opener(name, split, transform)
        data.data, data.targets = data.data[::-1].copy(), list(data.targets)[::-1]
        return data

    return open_reversed


def test_reordered_dataset_of_the_same_size_misses_the_old_cache_entry(trusted, tmp_path, monkeypatch):
    counter = ChunkCounter(monkeypatch)
    original = make_runner(trusted, tmp_path / "cache").probe(GOOD, "cifar10", "fewshot")
    assert counter.calls == 2  # train and test features
    runner = make_runner(trusted, tmp_path / "cache")
    runner.open_dataset = reversed_opener(trusted)
    reordered = runner.probe(GOOD, "cifar10", "fewshot")
    assert counter.calls == 4  # same name, split and size, other order: both splits recomputed, not served
    assert reordered.n == original.n and reordered.examples["n"] == original.examples["n"] == 20
    assert reordered.examples["fingerprint"] != original.examples["fingerprint"]
    assert not reordered.metadata["inference"]["test"]["from_cache"]
    # the two results must never be paired by an ordering: a clear error, not a verdict
    with pytest.raises(tiers.ExampleMismatch, match="over different examples"):
        tiers.require_same_examples(original, reordered)
    tiers.require_same_examples(original, make_runner(trusted, tmp_path / "cache").probe(BLIND, "cifar10", "fewshot"))


def test_fingerprint_is_content_not_location_or_transform(trusted, tmp_path):
    opener = DatasetOpener(SuiteOptions(data_root=trusted.data, imagenet_root=trusted.imagenet, download=False,
                                        tiers=("eval",), cache_root=tmp_path))
    first, again = opener("cifar10", "test"), opener("cifar10", "test", lambda image: image)
    assert tiers.dataset_fingerprint(first) == tiers.dataset_fingerprint(again)
    relabelled = opener("cifar10", "test")
    relabelled.targets = [(t + 1) % 10 for t in relabelled.targets]
    assert tiers.dataset_fingerprint(relabelled) != tiers.dataset_fingerprint(first)
    val = opener("imagenet", "val")
    fingerprint = tiers.dataset_fingerprint(val)
    val.samples = [(str(path).replace(str(trusted.imagenet), "/elsewhere"), t) for path, t in val.samples]
    val.root = str(val.root).replace(str(trusted.imagenet), "/elsewhere")
    assert tiers.dataset_fingerprint(val) == fingerprint  # relative paths: a moved folder is the same data


# -- Evidence: what is untestable, what is an error, what an ordering may conclude -------------------

class Ended(Exception):
    """How the fake claim_check ends a test (the real one raises pytest's Skipped/Failed)."""


class FakeCheck:
    """Records every call like claim_check; untestable / not run end the test, a verified value returns."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict]] = []

    def value(self, measured, paper, tolerance, tier, details=None, cannot_refute=None):
        self.records.append(("value", {"measured": measured, "paper": paper, "tier": tier}))
        return "verified"  # returns normally, as a verified check does

    def ordering(self, a, b, tier, margin=None, a_label="A", b_label="B", details=None, cannot_refute=None):
        self.records.append(("ordering", {"cannot_refute": cannot_refute}))
        return "verified"

    def untestable(self, reason, paper=None):
        self.records.append(("untestable", {"reason": reason}))
        raise Ended(reason)

    def not_run(self, reason, paper=None, needs=None):
        self.records.append(("not_run", {"reason": reason, "needs": needs}))
        raise Ended(reason)


def fake_result(tier="finetune", dataset="cifar10", key="fake", n=100, fingerprint="fp", **metadata) -> tiers.TierResult:
    meta = {"tier_label": f"{tier} (fake)", "checkpoint": {"provenance": "authors"},
            "examples": {"dataset": dataset, "split": "test", "n": n, "fingerprint": fingerprint}, **metadata}
    return tiers.TierResult(tier, dataset, key, np.arange(n) % 10 != 0, meta)


class FakeEvidence:
    """The `evidence` fixture's surface, in one of the modes a value test can meet."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def paper_recipe_or_not_run(self, claim_check, dataset, paper):
        if self.mode in ("tier not selected", "shortened"):
            claim_check.not_run(self.mode, paper=paper, needs=[self.mode])
        return object()

    def measure(self, claim_check, tier, models, dataset, method=None):
        if self.mode == "missing":
            claim_check.not_run("checkpoint missing", needs=["checkpoint"])
        return [fake_result(tier, dataset) for _ in models]


def load_claim_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_claim_module_{name}", ROOT / "claims" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VALUE_TESTS = [("test_claim1_vit_vs_cnn", "test_table2_i21k_value", "TABLE2_I21K"),
               ("test_claim2_pretraining_size", "test_table5_value", "TABLE5")]


@pytest.mark.parametrize("module,test,numbers", VALUE_TESTS, ids=[t for _, t, _ in VALUE_TESTS])
def test_value_tests_record_exactly_one_check_on_every_path(module, test, numbers):
    """claim_check.value returns when verified: a test that goes on afterwards would record a second check
    (an error). Every cell x every way the evidence can end must record exactly one."""
    claim = load_claim_module(module)
    kinds = {}
    for number in getattr(claim, numbers):
        for mode in ("measured", "tier not selected", "shortened", "missing"):
            check = FakeCheck()
            try:
                getattr(claim, test)(check, FakeEvidence(mode), number)
            except Ended:
                pass
            assert len(check.records) == 1, (number.dataset, number.pretraining, mode, check.records)
            kinds.setdefault((number.pretraining, number.dataset), set()).add(check.records[0][0])
    # every branch was driven: untestable cells, value checks (finetune and eval), not-run cells
    assert {kind for found in kinds.values() for kind in found} == {"untestable", "value", "not_run"}
    if test == "test_table2_i21k_value":
        assert kinds[("imagenet21k", "imagenet")] == {"untestable"} and kinds[("imagenet21k", "vtab")] == {"not_run"}
        assert kinds[("imagenet21k", "cifar10")] == {"value", "not_run"}
    else:
        assert kinds[("imagenet", "cifar10")] == {"untestable"}
        assert kinds[("imagenet21k", "imagenet")] == {"value", "not_run"}  # eval tier: no recipe to shorten
        assert kinds[("imagenet21k", "pets")] == {"value", "not_run"}


def test_unknown_checkpoint_combination_is_an_error_not_untestable():
    rows = {("ViT-L/16", "imagenet21k", ""): tiny_spec("ok", "x", "ViT-L/16"),
            ("ViT-L/16", "jft300m", ""): dataclasses.replace(tiny_spec("gone", "", "ViT-L/16"),
                                                              provenance="unreleased", note="never released")}

    def find(paper_model, pretraining, finetuned_on="", *, resolution=None, library=None):
        if (paper_model, pretraining, finetuned_on) not in rows:
            raise LookupError(f"no checkpoint for {paper_model} / {pretraining} / {finetuned_on}")
        return rows[(paper_model, pretraining, finetuned_on)]

    evidence = Evidence(runner=None, find=find)
    with pytest.raises(LookupError, match="no checkpoint for ViT-L/61"):  # a typo must surface
        evidence.checkpoint(FakeCheck(), Model("ViT-L/61", "imagenet21k"))
    for model, why in ((Model("ViT-L/16", "jft300m"), "never released"),  # a registry row marked unreleased
                       (Model("ViT-H/14", "imagenet21k", "imagenet", 384), "ImageNet-21k ViT-H/14 is public")):  # listed
        check = FakeCheck()
        with pytest.raises(Ended, match=why):
            evidence.checkpoint(check, model)
        assert [kind for kind, _ in check.records] == ["untestable"]
    assert evidence.checkpoint(FakeCheck(), Model("ViT-L/16", "imagenet21k")).key == "ok"


class FakeRunner:
    device = torch.device("cpu")

    def __init__(self, results=None, error=None) -> None:
        self.results, self.error = list(results or []), error

    def eval(self, spec, dataset):
        if self.error:
            raise self.error
        return self.results.pop(0)


def test_measure_turns_unreleased_into_untestable_and_refuses_to_pair_different_examples():
    from measure.models.checkpoints import Unreleased

    spec = tiny_spec("ok", "x", "ViT-L/16", "imagenet")
    check = FakeCheck()
    with pytest.raises(Ended, match="weights withdrawn"):
        Evidence(FakeRunner(error=Unreleased("weights withdrawn")), lambda *a, **k: spec).measure(
            check, "eval", [Model("ViT-L/16", "imagenet21k", "imagenet")], "imagenet")
    assert [kind for kind, _ in check.records] == ["untestable"]

    models = [Model("ViT-L/16", "imagenet21k", "imagenet")] * 2
    same = [fake_result("eval", "imagenet"), fake_result("eval", "imagenet", key="other")]
    assert len(Evidence(FakeRunner(same), lambda *a, **k: spec).measure(FakeCheck(), "eval", models, "imagenet")) == 2
    differ = [fake_result("eval", "imagenet"), fake_result("eval", "imagenet", fingerprint="changed")]
    with pytest.raises(tiers.ExampleMismatch, match="cannot pair fake and fake on imagenet"):
        Evidence(FakeRunner(differ), lambda *a, **k: spec).measure(FakeCheck(), "eval", models, "imagenet")


def test_cannot_refute_names_substitutes_biased_against_the_claim_and_shortened_recipes():
    recipe = {"steps": 200, "batch_size": 128, "paper_steps": 10000, "paper_batch_size": 512}
    authors, sam = fake_result(), fake_result(key="vit_b16-i1k-sam", checkpoint={"provenance": "substitute"})
    assert Evidence.cannot_refute(authors, sam) is None  # the paper's recipe, no bias named: may refute
    assert Evidence.cannot_refute(authors, authors, biased=authors, bias="x") is None  # not a substitute
    text = Evidence.cannot_refute(authors, sam, biased=sam, bias="SAM makes it stronger")
    assert text == "substitute checkpoint vit_b16-i1k-sam: SAM makes it stronger"
    short = fake_result(shortened=True, recipe=recipe)
    both = Evidence.cannot_refute(short, sam, biased=sam, bias="SAM makes it stronger")
    assert both.startswith("substitute checkpoint") and "shortened recipe (200 steps, batch 128" in both


def test_value_checks_judge_the_mean_over_fine_tuning_seeds():
    runs = tuple(np.arange(1000) % 100 >= miss for miss in (10, 12, 20))  # 90, 88, 80 % correct
    result = dataclasses.replace(fake_result(n=1000), correct=runs[0], seeds_correct=runs)
    measured = tiers.accuracy_measurement(result)
    assert measured.value == pytest.approx(86.0) and measured.n == 3000
    std = float(np.std([90.0, 88.0, 80.0], ddof=1))  # 5.29: wider than the pooled Wilson interval here
    assert measured.low == pytest.approx(86.0 - std) and measured.high == pytest.approx(86.0 + std)
    assert measured.extra["interval"]["low_from"] == "mean_pm_std" and measured.extra["seed_accuracies"][2] == 80.0
    close = tuple(np.arange(1000) % 100 >= miss for miss in (10, 10, 11))  # seeds agree: Wilson is wider
    wide = tiers.accuracy_measurement(dataclasses.replace(result, correct=close[0], seeds_correct=close))
    assert wide.extra["interval"]["low_from"] == wide.extra["interval"]["high_from"] == "wilson_pooled"
    single = tiers.accuracy_measurement(fake_result(n=1000))
    assert single.value == pytest.approx(90.0) and single.n == 1000  # one run: its Wilson interval, as before
