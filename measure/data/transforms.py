"""The evaluation preprocessing of a checkpoint, as timm defines it for that checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PREPROCESSING_KEYS = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode")


def make_eval_transform(data_config: dict[str, Any], resolution: int | None = None) -> Callable:
    """timm's evaluation preprocessing for a checkpoint's own config (mean/std/crop_pct/interpolation).

    ``resolution`` replaces the config's input size, e.g. to evaluate a 224 checkpoint at 384 (§3.2).
    Only the keys that describe preprocessing are used, so a full pretrained_cfg can be passed.
    """
    from timm.data import create_transform

    config = {key: data_config[key] for key in PREPROCESSING_KEYS if key in data_config}
    if resolution is not None:
        config["input_size"] = (3, resolution, resolution)
    return create_transform(**config, is_training=False)
