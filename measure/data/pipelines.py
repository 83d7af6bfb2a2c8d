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

__all__ = ["BIG_VISION_FEWSHOT", "BIT", "PIPELINES", "TIMM", "VIT_JAX", "DeviceStage", "HostStage", "Pipeline",
           "SquareResize", "Staged", "by_name"]

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

    def stages(self, data_config: Mapping[str, Any], resolution: int | None = None) -> tuple[Callable, DeviceStage | None]:
        """(loader transform, device stage) with the arithmetic of `transform`, split so that uint8 crosses to the
        device and the float work happens there (`DeviceStage`); the device stage is None for the timm pipeline
        (its float transform runs whole in the loader)."""
        transform = self.transform(data_config, resolution)
        if isinstance(transform, SquareResize):
            return transform.host, transform.device
        return transform, None

    def staged(self) -> Staged:
        """This pipeline as its loader half: what `TierRunner.resources` opens datasets with when the device half
        (`stages(...)[1]`) is handed to inference."""
        return Staged(self)

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


@dataclass(frozen=True)
class Staged:
    """A pipeline read as its loader half (`Pipeline.stages`): `transform` is the uint8 host stage."""

    pipeline: Pipeline

    def transform(self, data_config: Mapping[str, Any], resolution: int | None = None) -> Callable:
        return self.pipeline.stages(data_config, resolution)[0]

    def device_stage(self, data_config: Mapping[str, Any], resolution: int | None = None) -> Any:
        return self.pipeline.stages(data_config, resolution)[1]


class SquareResize:
    """PIL image -> float tensor: the whole image resized to size × size (bilinear, half-pixel centres, no
    antialiasing: ``tf.image.resize``'s definition), optionally cast back to uint8 (truncating, as
    ``tf.cast``), centrally cropped, then (x/255 − mean)/std. A class, not a closure: DataLoader workers
    pickle it. It is its two halves in a row: `host` (what a loader worker does) then `device` (what the
    accelerator does) — the suite's eval and probe tiers run them apart (`Pipeline.stages`)."""

    def __init__(self, size: int, crop: int | None, uint8_after_resize: bool, mean: tuple[float, ...],
                 std: tuple[float, ...]) -> None:
        self.size, self.crop, self.uint8_after_resize = int(size), crop, uint8_after_resize
        self.mean, self.std = tuple(mean), tuple(std)
        self.host = HostStage(self.size, crop, uint8_after_resize)
        self.device = DeviceStage(self.size, crop, uint8_after_resize, self.mean, self.std)

    def __call__(self, image: Any) -> Any:
        return self.device.one(self.host(image))


def _resize(x: Any, size: int) -> Any:
    """tf.image.resize(bilinear, antialias=False) of a float (1, C, H, W) batch: torch's bilinear with half-pixel
    centres (align_corners=False) and no antialiasing is that definition (tests/test_pipelines.py)."""
    import torch.nn.functional as F

    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)


class HostStage:
    """The loader worker's half of `SquareResize`: PIL image -> uint8 (C, H, W) tensor, 4x fewer bytes to the
    device than float32.

    * resize-then-uint8 pipelines (big_vision): the resize, the cast to uint8 and the crop happen here — the
      pipeline's own uint8 image;
    * float pipelines (vit_jax, BiT): the decoded image itself, resized on the device; an image larger than its
      float32 resize would be (more than 4·size² pixels) is resized here and sent as float32 — the same
      arithmetic, fewer bytes."""

    def __init__(self, size: int, crop: int | None, uint8_after_resize: bool) -> None:
        self.size, self.crop, self.uint8_after_resize = size, crop, uint8_after_resize

    def __call__(self, image: Any) -> Any:
        import numpy as np
        import torch

        pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1)
        if not self.uint8_after_resize and pixels.shape[1] * pixels.shape[2] <= 4 * self.size * self.size:
            return pixels.contiguous()
        x = _resize(pixels.unsqueeze(0).float(), self.size)[0]
        if not self.uint8_after_resize:
            return x
        x = x.clamp(0, 255).to(torch.uint8)
        if self.crop is not None:
            top = (self.size - self.crop) // 2
            x = x[:, top:top + self.crop, top:top + self.crop]
        return x.contiguous()


class DeviceStage:
    """The accelerator's half of `SquareResize`: a batch of `HostStage` outputs (a stacked uint8 tensor, or a list
    of images of different sizes) -> the normalised float batch, on `device`. The copies are asynchronous from the
    loader's pinned memory. `collate` is the DataLoader's (images of different sizes stay a list)."""

    def __init__(self, size: int, crop: int | None, uint8_after_resize: bool, mean: tuple[float, ...],
                 std: tuple[float, ...]) -> None:
        self.size, self.crop, self.uint8_after_resize = size, crop, uint8_after_resize
        self.mean, self.std = tuple(mean), tuple(std)

    def one(self, x: Any) -> Any:
        """Host output(s), (C, H, W) or a stacked (B, C, H, W), -> normalised float, where they lie."""
        import torch

        batched = x.dim() == 4
        x = x if batched else x.unsqueeze(0)
        if not self.uint8_after_resize and x.dtype == torch.uint8:
            x = _resize(x.float(), self.size)
        else:
            x = x.float()
        if self.crop is not None and x.shape[-1] != self.crop:
            top = (self.size - self.crop) // 2
            x = x[..., top:top + self.crop, top:top + self.crop]
        mean = torch.tensor(self.mean, device=x.device).view(3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(3, 1, 1)
        x = (x / 255.0 - mean) / std
        return x if batched else x[0]

    def __call__(self, batch: Any, device: Any) -> Any:
        """A collated batch (a stacked tensor, or a list of images of different sizes) -> the float batch on
        `device`."""
        import torch

        if isinstance(batch, torch.Tensor):
            return self.one(batch.to(device, non_blocking=True))
        return torch.stack([self.one(x.to(device, non_blocking=True)) for x in batch])

    @staticmethod
    def collate(samples: list) -> tuple[Any, Any]:
        """(images, targets): images stacked where they share shape and dtype, else a list."""
        import torch

        images, targets = zip(*samples)
        same = all(x.shape == images[0].shape and x.dtype == images[0].dtype for x in images)
        return (torch.stack(images) if same else list(images)), torch.as_tensor(targets)

    @staticmethod
    def nbytes(batch: Any) -> int:
        """Bytes of `batch` handed to the device."""
        items = [batch] if hasattr(batch, "element_size") else batch
        return sum(x.numel() * x.element_size() for x in items)


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
