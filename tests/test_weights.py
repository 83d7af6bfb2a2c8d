"""Loading fails loudly when a checkpoint lacks weights the model would use (measure.models.weights): timm
state dicts and official npz files, transformers folders (pre-logits ViTModel and classifiers) — and the
pre-logits layer read from an official npz is the one the file holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import timm
import torch

from measure.models.integrity import CheckpointUnusable
from measure.models.loaders import load_model
from measure.models.registry import CheckpointSpec
from tests.fake_checkpoints import vit_npz_arrays

TINY = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
SPEC = CheckpointSpec(key="test-tiny", paper_model="ViT-Ti/16", pretraining="imagenet21k", finetuned_on="imagenet",
                      resolution=224, library="timm", hub_id=TINY, provenance="substitute", note="test-only",
                      num_classes=1000, eval_pipeline="vit_jax")
NPZ_SPEC = dataclasses.replace(SPEC, key="test-tiny-npz", finetuned_on="", library="vit_npz", pre_logits=True,
                               hub_id="https://example.invalid/ViT-Ti_16.npz", num_classes=0, eval_pipeline="",
                               timm_name="vit_tiny_patch16_224.augreg_in21k",
                               representations=("pre_logits", "class_token_final_norm"))


@pytest.fixture(scope="module")
def source() -> torch.nn.Module:
    torch.manual_seed(5)
    return timm.create_model("vit_tiny_patch16_224", num_classes=1000).eval()


def test_a_state_dict_missing_an_encoder_weight_is_refused_in_one_line(source, tmp_path):
    weights = {k: v for k, v in source.state_dict().items() if k != "blocks.3.mlp.fc1.weight"}
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file(weights, path)
    for num_classes in (1000, 0):  # features or logits: the encoder weight is used either way
        with pytest.raises(CheckpointUnusable, match=r"test-tiny: .*blocks\.3\.mlp\.fc1\.weight") as caught:
            load_model(SPEC, None, num_classes=num_classes, local_file=path)
        assert "\n" not in str(caught.value) and "--claims-checkpoint test-tiny=FILE" in str(caught.value)


def test_features_need_no_head_but_logits_do(source, tmp_path):
    path = tmp_path / "headless.safetensors"
    safetensors.torch.save_file({k: v for k, v in source.state_dict().items() if not k.startswith("head.")}, path)
    features = load_model(SPEC, None, num_classes=0, local_file=path).model
    with torch.no_grad():
        image = torch.randn(1, 3, 224, 224)
        assert torch.equal(features(image), source.forward_head(source.forward_features(image), pre_logits=True))
    with pytest.raises(CheckpointUnusable, match=r"head\.weight"):
        load_model(SPEC, None, num_classes=1000, local_file=path)


def npz(tmp_path: Path, source: torch.nn.Module, name: str, **kwargs) -> Path:
    path = tmp_path / name
    np.savez(path, **vit_npz_arrays(source.state_dict(), num_heads=3, **kwargs))
    return path


def test_the_npz_pre_logits_layer_is_read_from_the_file(source, tmp_path):
    path = npz(tmp_path, source, "ViT-Ti_16.npz", pre_logits_dim=192)
    loaded = load_model(NPZ_SPEC, None, local_file=path)
    arrays = np.load(path)
    image = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        token = source.forward_head(source.forward_features(image), pre_logits=True)
        expected = torch.tanh(token @ torch.as_tensor(arrays["pre_logits/kernel"]) + torch.as_tensor(
            arrays["pre_logits/bias"]))
        np.testing.assert_allclose(loaded.model(image).numpy(), expected.numpy(), atol=1e-5)
        np.testing.assert_allclose(loaded.model.backbone(image).numpy(), token.numpy(), atol=1e-5)
    assert loaded.data_config["input_size"] == (3, 224, 224)


def test_an_npz_without_the_pre_logits_layer_or_the_head_it_should_hold_is_refused(source, tmp_path):
    stripped = npz(tmp_path, source, "stripped.npz")
    with pytest.raises(CheckpointUnusable, match="lacks the pre-logits layer"):
        load_model(NPZ_SPEC, None, local_file=stripped)
    classifier = dataclasses.replace(NPZ_SPEC, pre_logits=False, num_classes=10, representations=())
    with pytest.raises(CheckpointUnusable, match=r"lacks a 10-class head \(found heads of \[1000\] classes\)"):
        load_model(classifier, None, num_classes=10, local_file=stripped)


@pytest.fixture(scope="module")
def hf_classifier(tmp_path_factory: pytest.TempPathFactory):
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(6)
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8, num_labels=1000)
    model = ViTForImageClassification(config).eval()
    folder = tmp_path_factory.mktemp("hf_classifier")
    model.save_pretrained(folder)
    return folder, model


HF_CLASSIFIER = dataclasses.replace(SPEC, key="test-tiny-hf", library="transformers", hub_id="test/tiny-classifier",
                                    twin_of="")
HF_PRE_LOGITS = dataclasses.replace(NPZ_SPEC, key="test-tiny-hf-pre-logits", library="transformers",
                                    hub_id="test/tiny-in21k")


def test_a_transformers_classifier_gives_its_logits(hf_classifier):
    folder, model = hf_classifier
    loaded = load_model(HF_CLASSIFIER, None, num_classes=1000, local_file=folder)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded.model(images), model(pixel_values=images).logits, atol=1e-6)
    with pytest.raises(ValueError, match="its own 1000-class logits"):
        load_model(HF_CLASSIFIER, None, num_classes=0, local_file=folder)


def test_transformers_folders_missing_the_pooler_or_the_classifier_are_refused(hf_classifier, tmp_path):
    from transformers import ViTModel

    folder, model = hf_classifier
    # A classifier checkpoint has no pooler: as a pre-logits row it would get a random one.
    with pytest.raises(CheckpointUnusable, match=r"pooler\.dense\.(weight|bias)") as caught:
        load_model(HF_PRE_LOGITS, None, local_file=folder)
    assert "initialise them at random" in str(caught.value)
    encoder_only = tmp_path / "encoder"
    ViTModel(model.config, add_pooling_layer=False).save_pretrained(encoder_only)
    with pytest.raises(CheckpointUnusable, match=r"classifier\.(weight|bias)"):
        load_model(HF_CLASSIFIER, None, num_classes=1000, local_file=encoder_only)
