"""The evaluation preprocessing pipelines the suite reads models through, each as its authors define it.

An ordering compares two models only if both saw the same pixels: one documented pipeline per comparison,
named in every record. Each pipeline here is data (what it does, where it is defined, at which commit) plus
one implementation of that definition; tests/test_pipelines.py pins each against a reference
implementation written from the definition alone.

* ``big_vision_fewshot`` — the probe tier, for every model: big_vision's few-shot evaluator
  (``configs/common_fewshot.py``: ``decode|resize(256)|central_crop(224)|value_range(-1,1)``; ``resize`` of
  ``pp/ops_image.py`` is ``tf.image.resize`` to 256×256 — the whole image, aspect ratio not kept — bilinear
  without antialiasing, cast back to uint8). The authors' group evaluates every model this way.
* ``vit_jax`` — the eval tier for the authors' ViT and hybrid fine-tunes (vision_transformer
  ``vit_jax/input_pipeline.py``: ``tf.image.resize(im, [crop_size, crop_size])`` of the whole image,
  bilinear, no antialiasing, float, then ``(im − 127.5) / 127.5``; "usage of crop_size here is intentional").
* ``bit`` — the eval tier for the BiT authors' fine-tunes (big_transfer ``input_pipeline_tf2_or_jax.py``, the
  code vit_jax's pipeline was forked from: the same operations at the BiT fine-tune's resolution).
* ``timm`` — the checkpoint's own timm preprocessing (``data_config``: shorter side to input/crop_pct, centre
  crop, the tag's interpolation and mean/std): what timm's published accuracies were measured with.

Where a model was trained with another mean/std convention than the pipeline's [−1, 1] (none of the
models of claims 1–3; EfficientNet-L2 uses ImageNet's), the probe pipeline normalises with the model's own
(``normalization="checkpoint"``): the same pixels, each model's own input scaling. torch is imported by the
transform when it runs, not with this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BIG_VISION_FEWSHOT", "BIT", "PIPELINES", "TIMM", "VIT_JAX", "Pipeline", "SquareResize", "by_name"]

MINUS_ONE_TO_ONE = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # (x/255 − 0.5)/0.5 = (x − 127.5)/127.5


@dataclass(frozen=True)
class Pipeline:
    """One evaluation preprocessing: its operations (``definition``), where they are defined, and how it
    scales pixel values (``normalization``: "[-1, 1]" fixed by the pipeline, "checkpoint" the model's own
    mean/std, or "timm" for the checkpoint's whole timm transform)."""

    name: str
    definition: str            # the operations; two pipelines with the same definition read the same pixels
    source: str                # repository, file and commit that define it
    resize: int | None = None  # square resize target; None: the model's resolution (eval pipelines)
    crop: int | None = None    # central crop after the resize; None: none
    uint8_after_resize: bool = False  # big_vision's resize casts back to the input dtype
    normalization: str = "[-1, 1]"

    def geometry(self, resolution: int | None) -> tuple[int, int | None]:
        """(square resize size, central crop or None) for a model evaluated at `resolution`.

        A resize-then-crop pipeline keeps its ratio at another resolution (big_vision's few-shot config takes
        ``target_resolution`` and ``resize_resolution``; every model of the claims is read at its 224)."""
        if self.crop is not None and resolution is not None and resolution != self.crop:
            return round(self.resize * resolution / self.crop), resolution
        size = self.resize or resolution
        if size is None:
            raise ValueError(f"the {self.name} pipeline resizes to the model's resolution: pass it")
        return size, self.crop

    def normalization_for(self, data_config: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The (mean, std) on the [0, 1] scale this pipeline feeds a model with `data_config`."""
        if self.normalization == "checkpoint":
            return tuple(map(float, data_config["mean"])), tuple(map(float, data_config["std"]))
        return MINUS_ONE_TO_ONE

    def transform(self, data_config: Mapping[str, Any], resolution: int | None = None) -> Callable:
        """PIL image -> normalised float tensor (C, H, W), for a model with this `data_config`."""
        if self.normalization == "timm":
            from measure.data.transforms import make_eval_transform

            return make_eval_transform(data_config, resolution)
        size, crop = self.geometry(resolution)
        mean, std = self.normalization_for(data_config)
        return SquareResize(size, crop, self.uint8_after_resize, mean, std)

    def describe(self, data_config: Mapping[str, Any], resolution: int | None = None) -> dict[str, Any]:
        """JSON-safe: what a model with `data_config` was fed (records and cache keys)."""
        out: dict[str, Any] = {"name": self.name, "definition": self.definition, "source": self.source}
        if self.normalization == "timm":
            from measure.data.transforms import PREPROCESSING_KEYS

            config = {k: data_config[k] for k in PREPROCESSING_KEYS if k in data_config}
            if resolution is not None:
                config["input_size"] = (3, resolution, resolution)
            return {**out, "timm_data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}}
        size, crop = self.geometry(resolution)
        mean, std = self.normalization_for(data_config)
        return {**out, "resize": [size, size], "crop": crop, "interpolation": "bilinear", "antialias": False,
                "uint8_after_resize": self.uint8_after_resize, "mean": list(mean), "std": list(std),
                "normalization": self.normalization}


class SquareResize:
    """PIL image -> float tensor: the whole image resized to size × size (bilinear, half-pixel centres, no
    antialiasing: ``tf.image.resize``'s definition), optionally cast back to uint8 (truncating, as
    ``tf.cast``), centrally cropped, then (x/255 − mean)/std. A class, not a closure: DataLoader workers
    pickle it."""

    def __init__(self, size: int, crop: int | None, uint8_after_resize: bool, mean: tuple[float, ...],
                 std: tuple[float, ...]) -> None:
        self.size, self.crop, self.uint8_after_resize = int(size), crop, uint8_after_resize
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, image: Any) -> Any:
        import numpy as np
        import torch
        import torch.nn.functional as F

        pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
        x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).unsqueeze(0).float()
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=False)[0]
        if self.uint8_after_resize:
            x = x.clamp(0, 255).to(torch.uint8).float()
        if self.crop is not None:
            top = (self.size - self.crop) // 2
            x = x[:, top:top + self.crop, top:top + self.crop]
        mean = torch.tensor(self.mean).view(3, 1, 1)
        std = torch.tensor(self.std).view(3, 1, 1)
        return (x / 255.0 - mean) / std


BIG_VISION_FEWSHOT = Pipeline(
    "big_vision_fewshot",
    "whole image resized to 256x256 (bilinear, no antialias) then cast to uint8, central crop 224, value_range(-1,1)",
    "google-research/big_vision big_vision/configs/common_fewshot.py @8ca9d84a82d40f3245b5ab2daac5c2405b223351 "
    "(pp_eval) and big_vision/pp/ops_image.py @4a12790a8696c0f6df6cf975a5839e52134f9f80 (resize)",
    resize=256, crop=224, uint8_after_resize=True, normalization="checkpoint")
VIT_JAX = Pipeline(
    "vit_jax",
    "whole image resized to the model's resolution (bilinear, no antialias, float), (x - 127.5) / 127.5",
    "google-research/vision_transformer vit_jax/input_pipeline.py @00883dd691c63a6830751563748663526e811cee "
    "(get_data, mode 'test')")
BIT = Pipeline(
    "bit",
    VIT_JAX.definition,
    "google-research/big_transfer input_pipeline_tf2_or_jax.py (mode 'test': tf.image.resize to crop_size, "
    "(im - 127.5) / 127.5; the pipeline vit_jax's was forked from) and bit_pytorch/train.py "
    "@4345c815609673eb3de58cde65dd0a3511ee7660 (val_tx: Resize((crop, crop)), Normalize(0.5, 0.5))")
TIMM = Pipeline(
    "timm",
    "the checkpoint's timm eval transform: shorter side to input/crop_pct, centre crop, the tag's interpolation "
    "and mean/std (timm.data.create_transform)",
    "huggingface/pytorch-image-models timm/data/transforms_factory.py with the tag's pretrained_cfg",
    normalization="timm")

PIPELINES: dict[str, Pipeline] = {p.name: p for p in (BIG_VISION_FEWSHOT, VIT_JAX, BIT, TIMM)}


def by_name(name: str) -> Pipeline:
    """The pipeline named `name`; ValueError listing the known ones."""
    if name not in PIPELINES:
        raise ValueError(f"unknown preprocessing pipeline {name!r}; known: {', '.join(PIPELINES)}")
    return PIPELINES[name]
