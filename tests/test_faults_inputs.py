"""The fault matrix, measurement inputs (the runs themselves: tests/test_faults.py): a checkpoint file that
cannot be loaded, a download that cannot happen, a split that is not complete. Each ends the checks that
need it with one line saying what to provide, and costs no more than it must.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch


def test_offline_download_leaves_no_empty_dataset_folder(tmp_path, monkeypatch):
    from measure.data.opening import open_dataset
    from measure.data.paths import DataPaths
    from measure.errors import Missing

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    for name in ("pets", "flowers102", "cifar10"):
        with pytest.raises(Missing, match="download into .* failed"):
            open_dataset(name, "test", DataPaths(tmp_path, download=True))
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []  # only the lock files
    with pytest.raises(Missing, match="not found under"):  # the next run says "not found", not "incomplete"
        open_dataset("pets", "test", DataPaths(tmp_path))


def test_an_incomplete_split_has_the_standard_need_of_its_dataset(world, tmp_path):
    from measure.data.datasets import DATASETS
    from measure.errors import Missing
    from tests.tier_world import make_runner

    runner = make_runner(world, tmp_path / "cache")
    with pytest.raises(Missing) as refusal:
        runner.require_complete("cifar10", "test", list(range(20)))
    assert refusal.value.need == DATASETS["cifar10"].need  # the same as for an absent or corrupt CIFAR-10
    assert "CIFAR-10 test has 20 of 10000 images" in str(refusal.value)


@pytest.fixture
def pickle_payload(tmp_path: Path) -> tuple[Path, Path]:
    witness = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (witness,))

    path = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": Payload()}, path)
    return path, witness


@pytest.mark.parametrize("kind", ["wrong-layout", "pickle-payload", "corrupt-npz"])
def test_a_bad_checkpoint_ends_every_check_using_it_in_one_line_and_is_loaded_once(
        trusted, tmp_path, monkeypatch, pickle_payload, kind):
    from measure.models import loaders
    from measure.models.hub import HubAccess
    from measure.tiers.evidence import Evidence
    from measure.tiers.paper_models import Model
    from tests.tier_world import BLIND_FT, GOOD, make_runner

    if kind == "wrong-layout":  # another architecture's weights under the ViT's key
        bad = next((trusted.hf_cache / f"models--timm--{BLIND_FT.hub_id}" / "snapshots").glob("*/model.safetensors"))
    elif kind == "pickle-payload":
        bad = pickle_payload[0]
    else:
        bad = tmp_path / "ViT-L_16.npz"
        bad.write_bytes(b"PK\x03\x04 not really a zip archive")
    loads = []
    real_load = loaders.load_model
    monkeypatch.setattr(loaders, "load_model", lambda *a, **k: loads.append(a[0].key) or real_load(*a, **k))
    runner = make_runner(trusted, tmp_path / "cache")
    loader = loaders.CheckpointLoader(HubAccess(offline=True, cache_dir=trusted.hf_cache), {GOOD.key: bad})
    runner.load = lambda spec, n: loader(spec, num_classes=n)

    def find(paper_model, pretraining, finetuned_on="", *, resolution=None, **twin):
        if twin:  # the pre-logits twin: the tiny world has none
            raise LookupError(f"no stand-in for {twin}")
        return GOOD

    evidence = Evidence(runner, find)
    models = [Model("ViT-L/16", "imagenet21k")]

    # Two checks that use the checkpoint: the few-shot and the linear probe (each its own runner measurement).
    refusals = [evidence.measure("probe", models, "cifar10", method) for method in ("fewshot", "linear")]
    for refusal in refusals:
        assert refusal.kind == "not_run"
        [line] = [part for part in refusal.reason.split("; ") if part.startswith("checkpoint tiny-good:")]
        assert str(bad) in line and "timm test_vit.r160_in1k (ViT-L/16)" in line and "\n" not in refusal.reason
        assert f"--claims-checkpoint {GOOD.key}=FILE" in refusal.reason
        assert any(need.startswith("checkpoint tiny-good: --claims-checkpoint") for need in refusal.needs)
    assert loads.count(GOOD.key) == 1  # the failure is remembered: no reload per check
    if kind == "pickle-payload":
        assert "weights_only" in refusals[0].reason and not pickle_payload[1].exists()  # refused, never run
