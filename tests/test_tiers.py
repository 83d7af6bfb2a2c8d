"""Each evidence tier end to end, on tiny checkpoints and datasets in the real on-disk formats; the content
fingerprint that keys caches and pairs orderings; Evidence reading the paper's pre-logits where a public
checkpoint keeps them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from measure import readout
from measure.data.fingerprint import dataset_fingerprint
from measure.data.opening import DatasetOpener
from measure.data.paths import DataPaths
from measure.data.pipelines import BIG_VISION_FEWSHOT
from measure.models import representations
from measure.models.hub import HubAccess
from measure.models.loaders import CheckpointLoader
from measure.models.registry import CheckpointSpec
from measure.run import inference as evaluate
from measure.run.cache import ChunkCache
from measure.tiers import probe as probe_tier
from measure.tiers.evidence import Evidence
from measure.tiers.paper_models import Model
from measure.tiers.protocol import plan_reading
from measure.tiers.reading import unlike
from measure.tiers.results import ExampleMismatch, require_same_examples
from measure.tiers.runner import MissingResources, TierNotSelected, TierRunner
from tests.fake_checkpoints import folder_files, write_hf_cache_repo
from tests.tier_world import BLIND, BLIND_FT, GOOD, GOOD_FT, ChunkCounter, World, make_runner, world_paths


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
    with pytest.raises(TierNotSelected, match=r"tier probe not selected \(--claims-tier\)"):
        runner.probe(GOOD, "cifar10", "fewshot")
    absent = dataclasses.replace(GOOD, key="tiny-absent", hub_id="test_convnext.r160_in1k")  # not in the cache
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=trusted.hf_cache))
    empty = TierRunner(tiers=("probe",), load=lambda spec, n: loader(spec, num_classes=n),
                       open_dataset=DatasetOpener(DataPaths(tmp_path / "nodata", None, False)),
                       cache=ChunkCache(tmp_path / "c"), device=torch.device("cpu"))
    with pytest.raises(MissingResources) as caught:
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
    rows = {("ViT-L/16", False): GOOD, ("ViT-L/16", True): spec, ("R152x4", False): BLIND}

    def find(paper_model, pretraining, finetuned_on="", *, resolution=None, library=None, pre_logits=False):
        if (paper_model, pre_logits) not in rows:
            raise LookupError(f"no {'pre-logits ' if pre_logits else ''}row for {paper_model}")
        return rows[(paper_model, pre_logits)]

    evidence = Evidence(runner, find)
    vit, cnn = evidence.measure("probe", [Model("ViT-L/16", "imagenet21k"), Model("R152x4", "imagenet21k")],
                                "cifar10", "fewshot")
    # ViT-L/16 is read through its pre-logits twin; the stand-in without one falls back to its timm row
    assert (vit.checkpoint, cnn.checkpoint) == ("tiny-good-hf", "tiny-blind")
    assert vit.metadata["representation"]["key"] == "pre_logits_hf_pooler" and vit.metadata["representation"]["pre_logits"]
    assert not cnn.metadata["representation"]["pre_logits"]  # test_vit2: average-pooled tokens, no pre-logits
    assert vit.metadata["recipe"]["features"] == "pre-logits (HF pooler)"
    assert evidence.tier(vit, cnn) == ("probe (fewshot): pre-logits (HF pooler) vs "
                                       "avg-pooled tokens (timm; no pre-logits layer)")
    assert evidence.tier(vit) == vit.metadata["tier_label"] == "probe (fewshot): pre-logits (HF pooler)"

    # The features the probe read (the same cache entry) are the pooler output, not the LN class token.
    loaded_spec, opened = runner.resources(spec, 0, [("cifar10", "test")], pipeline=BIG_VISION_FEWSHOT,
                                           resolution=spec.resolution)
    read = runner.infer(loaded_spec, opened[("cifar10", "test")], "cifar10", "test",
                        probe_tier.feature_recipe(representations.describe(loaded_spec)), evaluate.feature_outputs,
                        dataset_fingerprint(opened[("cifar10", "test")]),
                        preprocessing=BIG_VISION_FEWSHOT.describe(loaded_spec.data_config, spec.resolution))
    assert read.from_cache and read.cache.key["recipe"]["representation"] == "pre_logits_hf_pooler"
    loaded = CheckpointLoader(HubAccess(offline=True, cache_dir=trusted.hf_cache))(spec)
    data = DatasetOpener(world_paths(trusted))("cifar10", "test",
                                               BIG_VISION_FEWSHOT.transform(loaded.data_config, spec.resolution))
    images = torch.stack([data[i][0] for i in range(len(data))])
    with torch.no_grad():
        out = source(pixel_values=images)
    features = read.arrays["features"].astype(np.float32)
    np.testing.assert_allclose(features, out.pooler_output.numpy(), atol=2e-3, rtol=0)
    assert np.abs(features - out.last_hidden_state[:, 0].numpy()).max() > 0.1  # tanh(dense(·)) moved it


# -- the content fingerprint: cache keys and pairing ---------------------------------------------

def reversed_opener(world: World):
    """Opens the same tiny CIFAR-10 with its examples in reverse order: same size, same images, other order."""
    opener = DatasetOpener(world_paths(world))

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
    with pytest.raises(ExampleMismatch, match="over different examples"):
        require_same_examples(original, reordered)
    require_same_examples(original, make_runner(trusted, tmp_path / "cache").probe(BLIND, "cifar10", "fewshot"))


def test_fingerprint_is_content_not_location_or_transform(trusted, tmp_path):
    opener = DatasetOpener(world_paths(trusted))
    first, again = opener("cifar10", "test"), opener("cifar10", "test", lambda image: image)
    assert dataset_fingerprint(first) == dataset_fingerprint(again)
    relabelled = opener("cifar10", "test")
    relabelled.targets = [(t + 1) % 10 for t in relabelled.targets]
    assert dataset_fingerprint(relabelled) != dataset_fingerprint(first)
    val = opener("imagenet", "val")
    fingerprint = dataset_fingerprint(val)
    val.samples = [(str(path).replace(str(trusted.imagenet), "/elsewhere"), t) for path, t in val.samples]
    val.root = str(val.root).replace(str(trusted.imagenet), "/elsewhere")
    assert dataset_fingerprint(val) == fingerprint  # relative paths: a moved folder is the same data


def test_a_comparison_reads_both_sides_at_one_kind_of_representation(trusted, hf_twin, tmp_path):
    """The HF twin gives pre-logits and the class token; the other side only the class token: both are read at
    the class token after the final LayerNorm, and neither result says otherwise."""
    spec, source = hf_twin
    twin = dataclasses.replace(spec, representations=("pre_logits", "class_token_final_norm"))
    # the same tiny HF weights standing in for a row that gives only its class token (as timm's conversions do)
    token_only = dataclasses.replace(spec, key="tiny-token-only", paper_model="R50+ViT-L/32",
                                     representations=("class_token_final_norm",))
    rows = {("ViT-L/16", True): twin, ("ViT-L/16", False): GOOD, ("R50+ViT-L/32", False): token_only}

    def find(paper_model, pretraining, finetuned_on="", *, resolution=None, library=None, pre_logits=False):
        if (paper_model, pre_logits) not in rows:
            raise LookupError(f"no {'pre-logits ' if pre_logits else ''}row for {paper_model}")
        return rows[(paper_model, pre_logits)]

    evidence = Evidence(make_runner(trusted, tmp_path / "cache", tiers_selected=("probe",)), find)
    models = [Model("ViT-L/16", "imagenet21k"), Model("R50+ViT-L/32", "imagenet21k")]
    reading = evidence.reading("probe", models)
    assert [s.representation for s in reading.sides] == ["class_token_final_norm"] * 2 and not reading.unlike
    vit, hybrid = evidence.measure("probe", models, "cifar10", "fewshot")
    assert vit.representation["key"] == "class_token_final_layernorm_hf" and not vit.representation["pre_logits"]
    assert {vit.representation["kind"], hybrid.representation["kind"]} == {"class_token_final_norm"}
    assert not unlike(vit, hybrid) and vit.pipeline == hybrid.pipeline
    data = DatasetOpener(world_paths(trusted))("cifar10", "test", BIG_VISION_FEWSHOT.transform(
        {"mean": (0.5,) * 3, "std": (0.5,) * 3}, spec.resolution))
    images = torch.stack([data[i][0] for i in range(len(data))])
    loaded, _ = evidence.runner.resources(twin, 0, [])
    with torch.no_grad():
        expected = source(pixel_values=images).last_hidden_state[:, 0].numpy()
        np.testing.assert_allclose(representations.feature_module(loaded, "class_token_final_norm")(images).numpy(),
                                   expected, atol=1e-5)
    # A side that has no class token: no common kind, and the reading says why; another resolution: other pixels
    resnet = dataclasses.replace(BLIND, representations=("pre_logits",))
    mixed = plan_reading("probe", [dataclasses.replace(GOOD, representations=("class_token_final_norm",)), resnet])
    assert len(mixed.unlike) == 1 and "cannot be read at the same kind of representation" in mixed.unlike[0]
    resized = plan_reading("probe", [twin, dataclasses.replace(GOOD, representations=("class_token_final_norm",))])
    assert len(resized.unlike) == 1 and "not read through the same preprocessing" in resized.unlike[0]


def test_probe_results_carry_every_few_shot_draw_paired_across_models(trusted, tmp_path):
    runner = make_runner(trusted, tmp_path / "cache", tiers_selected=("probe",))
    good, blind = runner.probe(GOOD, "cifar10", "fewshot"), runner.probe(BLIND, "cifar10", "fewshot")
    assert len(good.draws_correct) == len(blind.draws_correct) == readout.FEWSHOT_DRAWS
    np.testing.assert_array_equal(good.draws_correct[0], good.correct)  # draw 0 is big_vision's seed 0
    assert good.draw_fraction == pytest.approx(5 / 5)  # 5 shots of the 5 training images per class
    details = good.metadata["probe_details"]["draws"]
    assert details["count"] == readout.FEWSHOT_DRAWS and len(details["accuracy"]) == readout.FEWSHOT_DRAWS
    assert good.metadata["pipeline"]["name"] == "big_vision_fewshot" and good.metadata["pipeline"]["crop"] == 160
    assert runner.probe(GOOD, "cifar10", "linear").draws_correct == ()  # the full probe has no draws


def test_eval_tier_reads_each_fine_tune_through_its_authors_pipeline(trusted, tmp_path, monkeypatch):
    counter = ChunkCounter(monkeypatch)
    runner = make_runner(trusted, tmp_path / "cache")
    official = runner.eval(dataclasses.replace(GOOD_FT, eval_pipeline="vit_jax"), "imagenet")
    timm_view = runner.measure("eval", dataclasses.replace(GOOD_FT, eval_pipeline="vit_jax"), "imagenet",
                               pipeline="timm")
    assert counter.calls == 2  # another pipeline, another cache entry
    assert official.pipeline["name"] == "vit_jax" and official.pipeline["resize"] == [160, 160]
    assert official.metadata["recipe"]["preprocessing"].startswith("vit_jax: whole image resized")
    assert timm_view.pipeline["name"] == "timm" and timm_view.accuracy == 1.0  # its head was fitted on this view
    assert runner.eval(GOOD_FT, "imagenet").pipeline["name"] == "timm"  # a stand-in without a registry pipeline
