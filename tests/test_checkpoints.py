"""The checkpoint registry and every loading path, offline, on checkpoints built here in the real formats.

No real weights are downloaded: the hub is either a closed / dropping loopback port or `FakeHub`,
a loopback server answering like huggingface.co; caches and npz files are written by tests/fake_checkpoints.py.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import safetensors.torch
import timm
import timm.models
import torch

from fixtures.measurement import parse_checkpoint_overrides
from measure.errors import Missing, Unreleased
from measure.models.hub import HubAccess
from measure.models.loaders import CheckpointLoader, load_model
from measure.models.pins import pinned_version
from measure.models.registry import PRETRAININGS, CheckpointSpec, by_key, find, registry
from tests.fake_checkpoints import (
    ConnectionCounter,
    FakeHub,
    SilentPort,
    bit_npz_arrays,
    folder_files,
    timm_hub_files,
    vit_npz_arrays,
    write_hf_cache_repo,
)

ROOT = Path(__file__).resolve().parents[1]
SPECS = registry()
RELEASED = sorted(k for k, s in SPECS.items() if s.released)

# Which architecture each paper model is, written independently of checkpoints.csv (paper §3.1,
# Table 1, §4.1; BiT = ResNetV2 with GroupNorm + weight standardisation).
PAPER_ARCH = {
    "ViT-B/32": ("vit_base_patch32_", "google/vit-base-patch32-224-in21k", "ViT-B_32"),
    "ViT-B/16": ("vit_base_patch16_", "google/vit-base-patch16-224-in21k", "ViT-B_16"),
    "ViT-L/32": ("vit_large_patch32_", "google/vit-large-patch32-224-in21k", "ViT-L_32"),
    "ViT-L/16": ("vit_large_patch16_", "google/vit-large-patch16-224-in21k", "ViT-L_16"),
    "ViT-H/14": ("vit_huge_patch14_", "google/vit-huge-patch14-224-in21k", "ViT-H_14"),
    "R50+ViT-B/16": ("vit_base_r50_s16_", None, "R50+ViT-B_16"),
    "R50+ViT-L/32": ("vit_large_r50_s32_", None, None),
    "R50x1": ("resnetv2_50x1_bit", None, "BiT-S-R50x1"),
    "R101x1": ("resnetv2_101x1_bit", None, "BiT-S-R101x1"),
    "R152x2": ("resnetv2_152x2_bit", None, "BiT-S-R152x2"),
    "R152x4": ("resnetv2_152x4_bit", None, "BiT-S-R152x4"),
    "EfficientNet-L2": ("tf_efficientnet_l2", None, None),
}
VIT_NPZ_URL = re.compile(r"https://storage\.googleapis\.com/vit_models/(imagenet21k\+imagenet2012|sam|imagenet21k)/"
                         r"(?P<name>(R50\+)?ViT-[BLH]_\d+)(?P<res224>-224)?\.npz")
BIT_S_URL = re.compile(r"https://storage\.googleapis\.com/bit_models/(?P<name>BiT-S-R\d+x\d+)\.npz")

# A real timm tag small enough to save and load in a test; it goes through the same code as the
# registry's timm rows. It is deliberately not a registry row.
TINY = "vit_tiny_patch16_224.augreg_in21k"
TINY_SPEC = CheckpointSpec(
    key="test-vit_ti16-i21k", paper_model="ViT-Ti/16", pretraining="imagenet21k", finetuned_on="",
    resolution=224, library="timm", hub_id=TINY, provenance="substitute",
    note="test-only stand-in for the loading path, never in the registry", num_classes=21843)


def assert_same_weights(model: torch.nn.Module, reference: dict[str, torch.Tensor], skip: str = "^$") -> None:
    state = model.state_dict()
    compared = [k for k in reference if not re.match(skip, k)]
    assert compared and set(compared) <= set(state)
    for key in compared:
        assert torch.equal(state[key], reference[key]), key


# -- the registry as data -----------------------------------------------------------------------

def test_every_row_is_explicit_and_well_formed() -> None:
    assert len(SPECS) == len({s.key for s in SPECS.values()})
    for spec in SPECS.values():
        assert spec.pretraining in PRETRAININGS and spec.finetuned_on in ("", "imagenet"), spec.key
        assert spec.note, spec.key
        if spec.released:
            assert spec.hub_id and spec.library, spec.key
        else:
            assert not spec.hub_id and not spec.library, spec.key
        if spec.library == "timm":
            name, _, tag = spec.hub_id.partition(".")
            assert tag and timm.is_model(name), spec.key  # never timm's untagged default


def test_every_paper_model_and_pretraining_has_a_row() -> None:
    # Claims may ask for any (model, pre-training) of the paper's tables and get a checkpoint or a
    # row that says why there is none.
    with (ROOT / "paper" / "numbers.csv").open(newline="") as f:
        models = {row["model"] for row in csv.DictReader(f) if row["model"]}
    models -= {"ViT-Base", "ViT-Large", "ViT-Huge", "EfficientNet-L2"}  # Table 1 names; Noisy Student
    assert {s.paper_model for s in SPECS.values()} <= models | {"EfficientNet-L2"}
    for model in sorted(models):
        for pretraining in sorted(PRETRAININGS):
            assert find(model, pretraining).paper_model == model


@pytest.mark.parametrize("key", sorted(k for k in RELEASED if SPECS[k].library == "timm"))
def test_timm_row_is_a_pretrained_cfg_with_hub_weights(key: str) -> None:
    spec = SPECS[key]
    cfg = timm.models.get_pretrained_cfg(spec.hub_id)
    assert cfg is not None and spec.hub_id in timm.list_pretrained(spec.hub_id)
    assert cfg.hf_hub_id == f"timm/{spec.hub_id}"
    assert cfg.num_classes == spec.num_classes
    assert cfg.input_size[-1] == spec.resolution
    arch, tag = spec.hub_id.split(".")
    assert arch.startswith(PAPER_ARCH[spec.paper_model][0])
    assert ("in21k" in tag) == (spec.pretraining == "imagenet21k")
    assert bool(re.search(r"(ft|jft)_in1k", tag)) == (spec.finetuned_on == "imagenet")
    assert tag.startswith(("orig_", "goog_", "ns_")) == (spec.provenance == "authors")


@pytest.mark.parametrize("key", sorted(k for k in RELEASED if SPECS[k].library in ("bit_npz", "vit_npz")))
def test_npz_row_is_an_official_file_for_a_timm_architecture(key: str) -> None:
    spec = SPECS[key]
    assert timm.models.get_pretrained_cfg(spec.timm_name) is not None
    assert spec.timm_name.startswith(PAPER_ARCH[spec.paper_model][0])
    assert spec.timm_name.split(".")[0].endswith(f"_{spec.resolution}") or spec.library == "bit_npz"
    match = (BIT_S_URL if spec.library == "bit_npz" else VIT_NPZ_URL).fullmatch(spec.hub_id)
    assert match and match["name"] == PAPER_ARCH[spec.paper_model][2]
    if spec.library == "bit_npz":  # BiT-S: ImageNet-1k, the paper's BiT baseline there
        assert (spec.pretraining, spec.finetuned_on, spec.num_classes) == ("imagenet", "", 1000)
    elif "/sam/" in spec.hub_id:
        assert (spec.pretraining, spec.provenance) == ("imagenet", "substitute")
    elif "/imagenet21k/" in spec.hub_id:  # read from the npz for the pre-logits layer timm's conversion drops
        assert (spec.pretraining, spec.finetuned_on, spec.pre_logits) == ("imagenet21k", "", True)
        assert find(spec.paper_model, spec.pretraining).key == spec.twin_of
    else:  # imagenet21k+imagenet2012 files are 384 px unless suffixed -224
        assert (spec.pretraining, spec.finetuned_on) == ("imagenet21k", "imagenet")
        assert spec.resolution == (224 if match["res224"] else 384)


@pytest.mark.parametrize("key", sorted(k for k in RELEASED if SPECS[k].library == "transformers" and SPECS[k].pre_logits))
def test_transformers_row_is_the_pre_logits_twin_of_a_timm_row(key: str) -> None:
    spec = SPECS[key]
    assert spec.hub_id == PAPER_ARCH[spec.paper_model][1]
    assert spec.pre_logits and spec.num_classes == 0
    twin = find(spec.paper_model, spec.pretraining)  # default: the timm row
    assert twin.library == "timm" and spec.timm_name == twin.hub_id and spec.twin_of == twin.key


@pytest.mark.parametrize("key", sorted(k for k in RELEASED if SPECS[k].library == "transformers"
                                       and not SPECS[k].pre_logits))
def test_transformers_classifier_row_is_the_twin_of_an_authors_imagenet_fine_tune(key: str) -> None:
    spec, twin = SPECS[key], SPECS[SPECS[key].twin_of]
    size, patch = re.fullmatch(r"ViT-([BL])/(\d+)", spec.paper_model).groups()
    width = {"B": "base", "L": "large"}[size]
    assert spec.hub_id == f"google/vit-{width}-patch{patch}-{spec.resolution}"
    assert (spec.finetuned_on, spec.num_classes, spec.provenance) == ("imagenet", 1000, "authors")
    assert find(spec.paper_model, spec.pretraining, "imagenet", resolution=spec.resolution) == twin
    assert spec.timm_name == twin.model_name


def test_all_of_timms_original_paper_weights_are_registered() -> None:
    registered = {s.hub_id for s in SPECS.values() if s.library == "timm"}
    for pattern in ("*.orig_in21k", "*.orig_in21k_ft_in1k", "vit_*.sam_in1k"):
        assert set(timm.list_pretrained(pattern)) <= registered, pattern
    bit = {n for n in timm.list_pretrained("resnetv2_*_bit.goog_in21k*")
           if n.split(".")[1] in ("goog_in21k", "goog_in21k_ft_in1k")
           and any(n.startswith(PAPER_ARCH[m][0]) for m in ("R50x1", "R101x1", "R152x2", "R152x4"))}
    assert len(bit) == 8 and bit <= registered


def test_find_picks_the_timm_row_and_the_papers_fine_tune_resolution() -> None:
    assert find("ViT-L/16", "imagenet21k").hub_id == "vit_large_patch16_224.orig_in21k"
    hf = find("ViT-L/16", "imagenet21k", library="transformers")
    assert hf.hub_id == "google/vit-large-patch16-224-in21k" and hf.pre_logits
    assert find("ViT-B/16", "imagenet21k", "imagenet").hub_id == "vit_base_patch16_384.orig_in21k_ft_in1k"
    assert find("ViT-B/16", "imagenet21k", "imagenet", resolution=224).resolution == 224
    assert find("R152x4", "imagenet21k").hub_id == "resnetv2_152x4_bit.goog_in21k"
    assert find("R50x1", "imagenet").library == "bit_npz"
    assert find("ViT-B/16", "imagenet").provenance == "substitute"
    assert find("ViT-L/16", "jft300m").provenance == "unreleased"


def test_never_released_fine_tune_is_a_row_that_says_why() -> None:
    # Table 5 lists ViT-H/14 (ImageNet-21k) fine-tuned at 384 px on ImageNet; nothing of it is public.
    spec = find("ViT-H/14", "imagenet21k", "imagenet")
    assert spec == find("ViT-H/14", "imagenet21k", "imagenet", resolution=384) == by_key("vit_h14-i21k-ft_in1k-384")
    assert (spec.provenance, spec.released, spec.resolution) == ("unreleased", False, 384)
    assert "no ImageNet fine-tune of the authors' ImageNet-21k ViT-H/14 is public" in spec.note
    with pytest.raises(Unreleased, match="ViT-H/14 is public"):
        load_model(spec, None)


def test_find_and_by_key_name_close_matches() -> None:
    with pytest.raises(LookupError, match=re.escape("unknown pretraining; close matches: ['imagenet21k'")):
        find("ViT-L/16", "imagenet-21k")
    with pytest.raises(LookupError, match=re.escape("unknown model; close matches: ['ViT-L/16'")):
        find("ViT-L16", "imagenet21k")
    with pytest.raises(LookupError, match=re.escape("vit_h14-i21k (imagenet21k, -, 224, timm)")) as info:
        find("ViT-H/14", "imagenet21k", "imagenet", resolution=224)  # no such row: the message lists what exists
    assert "vit_h14-i21k-ft_in1k-384 (imagenet21k, imagenet, 384, unreleased)" in str(info.value)
    with pytest.raises(LookupError, match="vit_l16-i21k"):
        by_key("vit_l16_i21k")


HEAVY = ("torch", "torchvision", "timm", "transformers", "sklearn", "safetensors", "huggingface_hub")


@pytest.mark.parametrize("module", ["measure.errors", "measure.models.registry", "measure.models.hub",
                                    "measure.models.loaders", "measure.models.pins"])
def test_importing_the_registry_and_loaders_imports_no_torch(module: str) -> None:
    # Claim modules resolve checkpoints at collection time; torch would cost seconds and ~1 GB per process.
    code = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


# -- loading through the real on-disk formats ----------------------------------------------------

@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, torch.Tensor], dict[str, bytes]]:
    torch.manual_seed(0)
    source = timm.create_model(TINY.split(".")[0], num_classes=21843)
    return source.state_dict(), timm_hub_files(source, tmp_path_factory.mktemp("tiny_export"))


@pytest.fixture(scope="module")
def tiny_vit_cache(tmp_path_factory: pytest.TempPathFactory, tiny_vit) -> tuple[Path, str]:
    cache = tmp_path_factory.mktemp("hf_cache")
    return cache, write_hf_cache_repo(cache, f"timm/{TINY}", tiny_vit[1])


@pytest.fixture(scope="module")
def bit_source() -> torch.nn.Module:
    torch.manual_seed(1)
    return timm.create_model("resnetv2_50x1_bit", num_classes=1000)  # BiT-S has an ImageNet head


@pytest.fixture(scope="module")
def tiny_hf_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(2)
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)
    source = ViTModel(config, add_pooling_layer=True).eval()
    folder = tmp_path_factory.mktemp("hf_vit")
    source.save_pretrained(folder)  # config.json + model.safetensors
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder, source


def test_timm_name_loads_from_the_hub_cache_offline(tiny_vit, tiny_vit_cache, monkeypatch) -> None:
    reference, _ = tiny_vit
    cache, commit = tiny_vit_cache
    # 1. The fake cache is what timm's own hub code expects: plain timm.create_model, hub offline.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    assert_same_weights(timm.create_model(TINY, pretrained=True), reference)
    # 2. load_model resolves the same snapshot, records its revision and the tag's preprocessing.
    hub = HubAccess(offline=True, cache_dir=cache)
    loaded = load_model(TINY_SPEC, hub)
    assert_same_weights(loaded.model, reference, skip=r"head\.")
    assert loaded.revision == commit and loaded.source_path.parent.name == commit
    assert loaded.source_path.resolve().parent.name == "blobs"
    assert loaded.model(torch.zeros(1, 3, 224, 224)).shape == (1, 192)  # num_classes=0: features
    assert loaded.data_config == {"input_size": (3, 224, 224), "interpolation": "bicubic", "mean": (0.5,) * 3,
                                  "std": (0.5,) * 3, "crop_pct": 0.9, "crop_mode": "center"}
    assert_same_weights(load_model(TINY_SPEC, hub, num_classes=21843).model, reference)
    assert hub.attempts == 0


def test_bit_m_row_loads_safetensors_from_the_hub_cache(bit_source, tmp_path) -> None:
    # timm marks BiT tags custom_load (npz reader); a hub safetensors file must still load as a state dict.
    spec = by_key("bit_m_r50x1-i21k")
    reference = {k: v for k, v in bit_source.state_dict().items() if not k.startswith("head.")}
    files = {"model.safetensors": safetensors.torch.save(reference), "config.json": b'{"architecture": '
             b'"resnetv2_50x1_bit", "num_classes": 21843}'}
    commit = write_hf_cache_repo(tmp_path, "timm/" + spec.hub_id, files)
    loaded = load_model(spec, HubAccess(offline=True, cache_dir=tmp_path))
    assert_same_weights(loaded.model, reference)
    assert loaded.revision == commit
    assert (loaded.data_config["interpolation"], loaded.data_config["crop_pct"]) == ("bilinear", 0.875)


def test_bit_s_npz_in_the_official_layout_round_trips_exactly(bit_source, tmp_path) -> None:
    spec = by_key("bit_s_r50x1-i1k")
    arrays = bit_npz_arrays(bit_source.state_dict())
    assert {"resnet/root_block/standardized_conv2d/kernel", "resnet/head/conv2d/kernel",
            "resnet/block1/unit01/a/proj/standardized_conv2d/kernel",
            "resnet/block4/unit03/c/group_norm/gamma"} <= set(arrays)
    assert arrays["resnet/root_block/standardized_conv2d/kernel"].shape == (7, 7, 3, 64)  # HWIO
    target = tmp_path / "bit_models" / "BiT-S-R50x1.npz"  # where the registry URL puts it
    target.parent.mkdir(parents=True)
    np.savez(target, **arrays)
    loaded = load_model(spec, HubAccess(offline=True, cache_dir=tmp_path / "hf", files_dir=tmp_path),
                        num_classes=1000)
    assert_same_weights(loaded.model, bit_source.state_dict())  # every tensor, head included
    assert loaded.revision.startswith("sha256:") and loaded.source_path == target


def test_vit_npz_in_the_official_layout_round_trips_exactly(tmp_path) -> None:
    torch.manual_seed(3)
    source = timm.create_model("vit_tiny_patch16_224", num_classes=1000)
    arrays = vit_npz_arrays(source.state_dict(), num_heads=3, pre_logits_dim=192)
    assert arrays["Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel"].shape == (192, 3, 64)
    path = tmp_path / "ViT-Ti_16.npz"
    np.savez(path, **arrays)
    spec = CheckpointSpec(
        key="test-vit_ti16-npz", paper_model="ViT-Ti/16", pretraining="imagenet21k", finetuned_on="imagenet",
        resolution=224, library="vit_npz", hub_id="https://example.invalid/ViT-Ti_16.npz", provenance="substitute",
        note="test-only", timm_name="vit_tiny_patch16_224.augreg_in21k_ft_in1k", num_classes=1000)
    loaded = load_model(spec, None, num_classes=1000, local_file=path)
    assert_same_weights(loaded.model, source.state_dict())
    assert loaded.source_path == path


def test_transformers_row_keeps_the_pre_logits_layer(tiny_hf_folder, tmp_path) -> None:
    folder, source = tiny_hf_folder
    spec = by_key("vit_b16-i21k-hf")
    commit = write_hf_cache_repo(tmp_path, spec.hub_id, folder_files(folder))
    loaded = load_model(spec, HubAccess(offline=True, cache_dir=tmp_path))
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = source(pixel_values=images).pooler_output
        assert torch.allclose(loaded.model(images), expected, atol=1e-6, rtol=0)
    assert torch.equal(loaded.model.vit.pooler.dense.weight, source.pooler.dense.weight)
    assert loaded.revision == commit
    assert loaded.data_config == {"input_size": (3, 32, 32), "interpolation": "bilinear", "mean": (0.5,) * 3,
                                  "std": (0.5,) * 3, "crop_pct": 1.0, "crop_mode": "center"}
    from_folder = load_model(spec, None, local_file=folder)
    assert from_folder.revision.startswith("sha256:") and from_folder.source_path == folder
    with pytest.raises(ValueError, match="pre-logits features only"):
        load_model(spec, None, num_classes=10, local_file=folder)


# -- hub access: offline, unreachable, reachable -------------------------------------------------

UNCACHED = ("vit_l16-i21k", "bit_m_r152x4-i21k", "vit_l16-i21k-hf", "bit_s_r50x1-i1k")


def test_closed_port_fails_fast_once_and_says_what_to_provide(tmp_path, monkeypatch) -> None:
    """One refused connection, then every load answers without trying again (how fast: benchmarks/bench_hub.py)."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    hub = HubAccess(offline=False, cache_dir=tmp_path / "hf", files_dir=tmp_path / "files")
    messages = []
    for key in UNCACHED:
        with pytest.raises(Missing) as missing:
            load_model(by_key(key), hub)
        messages.append(str(missing.value))
    assert hub.endpoint == "http://127.0.0.1:9" and not hub.reachable and hub.attempts == 1
    assert messages[0] == (
        f"vit_large_patch16_224.orig_in21k is not in the Hugging Face cache ({tmp_path / 'hf'}) and the hub is "
        f"unreachable ({hub.unreachable_reason}): run once with internet, or set HF_HOME to a cache that has it, "
        f"or pass --claims-checkpoint vit_l16-i21k=FILE")
    assert f"download https://storage.googleapis.com/bit_models/BiT-S-R50x1.npz to " \
           f"{tmp_path / 'files' / 'bit_models' / 'BiT-S-R50x1.npz'}" in messages[3]


def test_a_dropping_hub_is_contacted_once_per_run(tiny_vit, tiny_vit_cache, tmp_path) -> None:
    cache, commit = tiny_vit_cache
    with ConnectionCounter() as hub_port:
        hub = HubAccess(offline=False, endpoint=hub_port.url, cache_dir=cache, files_dir=tmp_path)
        for key in UNCACHED:
            with pytest.raises(Missing, match="the hub is unreachable"):
                load_model(by_key(key), hub)
        loaded = load_model(TINY_SPEC, hub)  # still served from the local cache
        time.sleep(0.1)
        assert hub_port.connections == 1 and hub.attempts == 1
    assert loaded.revision == commit


def test_a_silent_hub_costs_one_probe_timeout_per_run(tmp_path) -> None:
    """One probe (which times out) for the run, not one per checkpoint (how long: benchmarks/bench_hub.py)."""
    with SilentPort() as hub_port:
        hub = HubAccess(offline=False, endpoint=hub_port.url, cache_dir=tmp_path, probe_timeout=0.5)
        for key in UNCACHED[:2]:
            with pytest.raises(Missing, match="the hub is unreachable"):
                load_model(by_key(key), hub)
    assert hub.attempts == 1 and not hub.reachable


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_variables_mean_no_connection_at_all(variable, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv(variable, "1")
    with ConnectionCounter() as hub_port:
        monkeypatch.setenv("HF_ENDPOINT", hub_port.url)
        hub = HubAccess(cache_dir=tmp_path)
        with pytest.raises(Missing, match=re.escape("offline mode is set (HF_HUB_OFFLINE")):
            load_model(by_key("vit_b16-i21k"), hub)
        time.sleep(0.1)
        assert hub.offline and not hub.reachable and hub.attempts == 0 and hub_port.connections == 0


def test_cache_location_follows_hf_home_and_hf_hub_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert HubAccess(offline=True).cache_dir == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert HubAccess(offline=True).cache_dir == tmp_path / "cache"


def test_a_reachable_hub_fills_the_cache_that_offline_runs_read(tiny_vit, tmp_path, monkeypatch) -> None:
    reference, files = tiny_vit
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    commit = "0123456789abcdef0123456789abcdef01234567"
    npz = io.BytesIO()
    np.savez(npz, x=np.arange(3))
    with FakeHub({f"timm/{TINY}": (commit, files)}, static={"/bit_models/BiT-S-R50x1.npz": npz.getvalue()}) as server:
        online = HubAccess(offline=False, endpoint=server.url, cache_dir=tmp_path / "hf", files_dir=tmp_path / "f")
        loaded = load_model(TINY_SPEC, online)
        assert online.reachable and online.attempts == 1
        assert ("HEAD", "/") in server.requests
        assert ("GET", f"/timm/{TINY}/resolve/main/model.safetensors") in server.requests
        dest, path = online.url_file(f"{server.url}/bit_models/BiT-S-R50x1.npz")
        assert path == dest == tmp_path / "f" / "bit_models" / "BiT-S-R50x1.npz"
        assert path.read_bytes() == npz.getvalue()
    assert loaded.revision == commit
    assert_same_weights(loaded.model, reference, skip=r"head\.")
    offline = load_model(TINY_SPEC, HubAccess(offline=True, cache_dir=tmp_path / "hf"))
    assert offline.revision == commit and offline.source_path == loaded.source_path


def test_unreleased_rows_and_absent_files_raise_what_they_mean(tmp_path) -> None:
    hub = HubAccess(offline=True, cache_dir=tmp_path)
    with pytest.raises(Unreleased, match="JFT-300M is private"):
        load_model(find("ViT-H/14", "jft300m"), hub)
    with pytest.raises(Missing, match=re.escape("--claims-checkpoint vit_l16-i21k=")) as info:
        load_model(by_key("vit_l16-i21k"), hub, local_file=tmp_path / "nope.npz")
    assert "vit_l16-i21k" in info.value.need and str(tmp_path) not in info.value.need


def test_a_timm_without_the_registry_tag_says_which_timm_is_pinned(tmp_path, monkeypatch) -> None:
    spec = next(s for s in registry().values() if s.library == "timm" and s.released)
    monkeypatch.setattr(timm.models, "get_pretrained_cfg", lambda *args, **kwargs: None)
    with pytest.raises(Missing) as info:
        load_model(spec, HubAccess(offline=True, cache_dir=tmp_path))
    pinned = pinned_version("timm")
    assert pinned == "1.0.31"  # requirements.lock
    assert f"timm=={pinned}" in str(info.value) and spec.hub_id in str(info.value)
    assert f"timm=={pinned}" in info.value.need and spec.hub_id not in info.value.need  # one need for every tag


def test_pinned_version_reads_name_equals_version_lines(tmp_path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# comment\ntimm==9.9.9\nnvidia_cudnn_cu12==1.2.3 ; platform_system == 'Linux'\n")
    assert pinned_version("timm", lock) == "9.9.9"
    assert pinned_version("nvidia-cudnn-cu12", lock) == "1.2.3"
    assert pinned_version("torch", lock) is None and pinned_version("timm", tmp_path / "absent") is None


def test_claims_checkpoint_option_is_parsed_against_the_registry(tiny_hf_folder, tmp_path) -> None:
    folder, _source = tiny_hf_folder
    overrides = parse_checkpoint_overrides([f"vit_b16-i21k-hf={folder}"])
    assert overrides == {"vit_b16-i21k-hf": folder}
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=tmp_path), overrides)
    assert loader("vit_b16-i21k-hf").source_path == folder
    with pytest.raises(Missing):
        loader("vit_b32-i21k-hf")  # no override, not cached, offline
    for bad, says in ((f"vit_b16_i21k_hf={folder}", "vit_b16-i21k-hf"), ("vit_b16-i21k-hf", "KEY=FILE"),
                      (f"vit_b16-i21k-hf={tmp_path / 'absent'}", "no such file")):
        with pytest.raises(pytest.UsageError, match=re.escape(says)):
            parse_checkpoint_overrides([bad])


def test_a_fake_hub_repo_written_twice_is_the_same_snapshot(tmp_path):
    # a module-scoped fixture set up twice in one session (xdist's work stealing splits a module) writes the same
    # repo into the session's hub cache again: it must not fail on its own symlinks
    files = {"config.json": b'{"a": 1}', "model.safetensors": b"weights"}
    first = write_hf_cache_repo(tmp_path, "test/twice", files)
    assert write_hf_cache_repo(tmp_path, "test/twice", files) == first
    snapshot = tmp_path / "models--test--twice" / "snapshots" / first
    assert {p.name: p.read_bytes() for p in snapshot.iterdir()} == files
    assert all(p.is_symlink() for p in snapshot.iterdir())
