"""The evaluation resize of the authors' fine-tuning code: ``tf.image.resize(im, [size, size])``, bilinear.

vit_jax ``input_pipeline.py`` (mode 'test') and big_transfer ``input_pipeline_tf2_or_jax.py`` resize the whole
image straight to size × size with TF2's default ``tf.image.resize``: bilinear, **no antialiasing**, half-pixel
centres (output pixel i samples the input at (i + ½)·in/out − ½, clamped to the edge), in float — no rounding
back to uint8 before ``(im − 127.5) / 127.5``. PIL's (and torchvision's) bilinear resize antialiases when it
shrinks (a triangle filter as wide as the scale), so it sees other pixels. torch's
``F.interpolate(mode="bilinear", align_corners=False, antialias=False)`` computes TF's formula for up- and
downsampling (pinned against a direct implementation of it in tests/test_resize.py). torch is imported when a
resize runs, not with this module.
"""

from __future__ import annotations

from typing import Any

TF_BILINEAR = {"interpolation": "bilinear", "antialias": False, "half_pixel_centers": True,
               "dtype": "float32 (not rounded to uint8)"}
DEFINITION = ("whole image resized to resolution x resolution (bilinear, no antialias, half-pixel centres: "
              "tf.image.resize), float, no crop")
SOURCE = ("google-research/vision_transformer vit_jax/input_pipeline.py @00883dd691c63a6830751563748663526e811cee "
          "(mode 'test': tf.image.resize(im, [crop_size, crop_size])); google-research/big_transfer "
          "input_pipeline_tf2_or_jax.py (the same for BiT)")


def tf_bilinear_resize(x: Any, size: int) -> Any:
    """(C, H, W) or (N, C, H, W) tensor -> the same resized to size × size as ``tf.image.resize`` bilinear
    (antialias False, half-pixel centres), in float32."""
    import torch.nn.functional as F

    batched = x.dim() == 4
    out = F.interpolate((x if batched else x.unsqueeze(0)).float(), size=(int(size), int(size)), mode="bilinear",
                        align_corners=False, antialias=False)
    return out if batched else out[0]


class TFResize:
    """PIL image -> float32 tensor (3, size, size) on the 0–255 scale, resized as ``tf.image.resize`` does
    (the model's input layer normalises it, as it does uint8 images). A class, not a closure: DataLoader
    workers pickle it."""

    def __init__(self, size: int) -> None:
        self.size = int(size)

    def __call__(self, image: Any) -> Any:
        import numpy as np
        import torch

        pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
        return tf_bilinear_resize(torch.from_numpy(pixels.copy()).permute(2, 0, 1), self.size)

    def __repr__(self) -> str:
        return f"TFResize({self.size}, bilinear, antialias=False, half_pixel_centers=True)"
