"""A tiny world in the real on-disk formats, shared by the tier and claim-suite tests: four tiny timm
checkpoints in the Hugging Face hub-cache layout (one informative, one blind, an ImageNet classifier fitted
to the fake validation set, one that always answers class 0), CIFAR-10 pickles, ImageNet val folders and
ReaL labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import timm
import torch

from measure.data.datasets import DATASETS
from measure.data.imagenet import ImageNetVal
from measure.data.opening import DatasetOpener
from measure.data.paths import DataPaths
from measure.data.transforms import make_eval_transform
from measure.models.hub import HubAccess
from measure.models.loaders import CheckpointLoader
from measure.models.registry import CheckpointSpec
from measure.run import inference as evaluate
from measure.run.cache import ChunkCache
from measure.tiers.runner import TierRunner
from tests.fake_checkpoints import timm_hub_files, write_hf_cache_repo
from tests.fake_datasets import (
    IMAGENET_WNIDS,
    accept_fake_checksums,
    write_cifar,
    write_imagenet_val,
    write_real_labels,
)

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


def build_world(base: Path) -> World:
    """Writes the tiny world under `base` (the `world` fixture of tests/conftest.py)."""
    cifar = write_cifar(base / "data", "cifar10", per_batch=10, n_test=20)  # 5 train images per class
    fake_val = write_imagenet_val(base / "imagenet", wnids=IMAGENET_CLASSES, per_class=4)
    numbers = [int(name[15:23]) for name in fake_val.files["val"]]
    # ReaL: every image keeps its label except one judged unlabeled (not scored) and one with two labels.
    real_table = {n: [label] for n, label in zip(numbers, fake_val.labels["val"])}
    real_table[numbers[0]] = []
    real_table[numbers[-1]] = [fake_val.labels["val"][-1], 0]
    real = write_real_labels(base / "real.json", real_table, total=max(numbers))

    torch.manual_seed(0)
    good_ft = timm.create_model(GOOD_FT.hub_id.split(".")[0], num_classes=1000).eval()
    transform = make_eval_transform(timm.data.resolve_model_data_config(good_ft))
    val = ImageNetVal(base / "imagenet" / "val", transform=transform)
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


def trust(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The tiny datasets stand in for complete ones: their sizes are the 'real' sizes for this test
    (the `trusted` fixture of tests/conftest.py)."""
    accept_fake_checksums(monkeypatch, world.cifar)
    sizes = {"cifar10": {"train": 50, "test": 20}, "imagenet": {"val": 12}, "imagenet_real": {"val": 12}}
    for name, split_sizes in sizes.items():
        monkeypatch.setitem(DATASETS, name, dataclasses.replace(DATASETS[name], sizes=split_sizes))
    return world


def world_paths(world: World) -> DataPaths:
    return DataPaths(data_root=world.data, imagenet_root=world.imagenet, download=False, real_labels=world.real)


def make_runner(world: World, cache_root: Path, tiers_selected=("eval", "probe"), *,
                device: torch.device | str | None = "cpu", num_workers: int = 0) -> TierRunner:
    """A TierRunner on the tiny world (device None: the suite's own choice, `measure.run.device.select_device`)."""
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=world.hf_cache))
    return TierRunner(tiers=tiers_selected, load=lambda spec, n: loader(spec, num_classes=n),
                      open_dataset=DatasetOpener(world_paths(world)), cache=ChunkCache(cache_root),
                      device=None if device is None else torch.device(device), batch_size=8,
                      num_workers=num_workers)


class ChunkCounter:
    """Counts inference chunks actually computed (not served from the cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = evaluate._Runner.chunk

        def counting(runner, i):
            self.calls += 1
            return original(runner, i)

        monkeypatch.setattr(evaluate._Runner, "chunk", counting)
