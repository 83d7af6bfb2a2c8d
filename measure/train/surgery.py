"""Model surgery before fine-tuning (App. B.1.1): a new zero-initialised head, position embeddings resampled
to the fine-tuning resolution as vit_jax does, and the input normalisation moved onto the device.

torch and timm are imported inside the functions, so that importing this module (measure.studies.posemb
does, at collection time) costs neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


def prepare_model(model: nn.Module, num_classes: int, resolution: int) -> nn.Module:
    """The pre-trained `model` made ready for fine-tuning (in place; returned for chaining)."""
    from torch import nn

    model.reset_classifier(num_classes)
    head = model.get_classifier()
    # App. B.1.1: "replace it by a single, zero-initialized linear layer" (BiT's head is a 1x1 conv: same thing).
    nn.init.zeros_(head.weight)
    if head.bias is not None:
        nn.init.zeros_(head.bias)
    resample_position_embeddings(model, resolution)
    return model


def resample_position_embeddings(model: nn.Module, resolution: int) -> None:
    """Interpolate a ViT's position-embedding grid for `resolution` (a no-op for ResNets).

    vit_jax (checkpoint.load_pretrained) zooms the grid with scipy.ndimage.zoom(order=1): linear, with the
    corner cells mapped onto the corner cells — timm's resampler with bilinear + align_corners, no antialias.
    """
    import torch
    from timm.layers import resample_abs_pos_embed
    from torch import nn

    pos_embed = getattr(model, "pos_embed", None)
    patch_embed = getattr(model, "patch_embed", None)
    if pos_embed is None or patch_embed is None:
        return
    old_grid = tuple(patch_embed.grid_size)
    patch_embed.set_input_size(img_size=(resolution, resolution))
    new_grid = tuple(patch_embed.grid_size)
    if new_grid == old_grid:
        return
    prefix = 0 if getattr(model, "no_embed_class", False) else model.num_prefix_tokens
    with torch.no_grad():
        resized = resample_abs_pos_embed(pos_embed.data, new_size=list(new_grid), old_size=list(old_grid),
                                         num_prefix_tokens=prefix, interpolation="bilinear", antialias=False,
                                         align_corners=True)
    model.pos_embed = nn.Parameter(resized, requires_grad=pos_embed.requires_grad)
    if hasattr(model, "pretrained_cfg"):
        model.pretrained_cfg = {**model.pretrained_cfg, "input_size": (3, resolution, resolution)}


def is_convolutional(model: nn.Module) -> bool:
    """ResNets and hybrids spend their time in convolutions: those run faster channels-last."""
    from torch import nn

    convs = sum(1 for m in model.modules() if isinstance(m, nn.Conv2d))
    return convs > 1  # a plain ViT has exactly one (the patch embedding)


def with_normalization(model: nn.Module, data_config: Mapping[str, Any]) -> nn.Sequential:
    """`model` behind a `Normalize` layer for its checkpoint's mean/std (channels-last for convolutional ones)."""
    import torch
    from torch import nn

    # Here, not at the top: defining an nn.Module subclass imports torch.
    from measure.train.normalize import Normalize

    convolutional = is_convolutional(model)
    if convolutional:
        model = model.to(memory_format=torch.channels_last)
    return nn.Sequential(Normalize(data_config["mean"], data_config["std"], convolutional), model)
