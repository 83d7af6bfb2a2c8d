"""Build a ViT checkpoint at the pre-training resolution, move it to the fine-tuning one by both paths, measure.

Only the weights a measured value depends on are given values: the position-embedding grid (the smooth
field), and the class token with its position embedding (fixed-seed random, so that a path that moved
them shows). The model is built on the meta device and every other weight is zero, instead of timm's
random initialisation of 86M parameters (seconds each time, for values no check reads). The two loaded
models skip timm's initialisation too (``weight_init="skip"``): loading overwrites every weight.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file
from torch import nn

from measure.studies.posemb.design import PATHS, PathResult, ResolutionTransfer
from measure.studies.posemb.field import LowFrequencyField, grid_agreement
from measure.train.surgery import resample_position_embeddings

__all__ = ["transfer_resolution"]

TOKEN_STD = 0.02  # the class token and its position embedding: timm's scale for position embeddings


class _FirstBlockReached(Exception):
    """Raised by the hook on the first block: its input is all the forward pass is run for."""


def _forward_tokens(model: nn.Module, resolution: int, generator: torch.Generator) -> int:
    """Sequence length the first transformer block receives in a forward pass at ``resolution``.

    The pass stops at the first block's input (patch embedding, prefix tokens and position embeddings
    have run): the rest of the network cannot change the length it was given.
    """
    seen: list[int] = []

    def record(_module: nn.Module, args: tuple) -> None:
        seen.append(int(args[0].shape[1]))
        raise _FirstBlockReached

    handle = model.blocks[0].register_forward_pre_hook(record)
    try:
        with torch.no_grad():
            model(torch.randn(1, 3, resolution, resolution, generator=generator))
    except _FirstBlockReached:
        pass
    finally:
        handle.remove()
    if len(seen) != 1:
        raise RuntimeError(f"expected one call of the first block, saw {len(seen)}")
    return seen[0]


def _measure(path: str, before: nn.Module, after: nn.Module, field: LowFrequencyField, finetune_res: int,
             seed: int) -> PathResult:
    prefix = before.num_prefix_tokens
    old = tuple(before.patch_embed.grid_size)
    rows = int(after.state_dict()["pos_embed"].shape[1])
    side = finetune_res // before.patch_embed.patch_size[0]
    with torch.no_grad():
        cls_change = max(float((after.cls_token - before.cls_token).abs().max()),
                         float((after.pos_embed[0, :prefix] - before.pos_embed[0, :prefix]).abs().max()))
        # The grid is read as side × side from the state dict's rows: a wrong row count is an error here.
        grid = grid_agreement(after.pos_embed[0, prefix:], field, old, (side, side), PATHS[path][1])
    tokens = _forward_tokens(after, finetune_res, torch.Generator().manual_seed(seed))
    return PathResult(path=path, resampler=PATHS[path][0], pos_embed_rows=rows, forward_patch_tokens=tokens - prefix,
                      forward_prefix_tokens=prefix, cls_max_abs_change=cls_change, grid=grid)


def _synthetic_checkpoint(timm_name: str, resolution: int, seed: int) -> tuple[nn.Module, LowFrequencyField]:
    """``timm_name`` at ``resolution`` holding a low-frequency field as its grid, a random class token, zeros
    elsewhere; and the field."""
    with torch.device("meta"):
        model = timm.create_model(timm_name, pretrained=False, img_size=resolution, weight_init="skip")
    model = model.to_empty(device="cpu").eval()
    field = LowFrequencyField.random(model.embed_dim, seed=seed + 1)
    g = torch.Generator().manual_seed(seed)
    prefix = model.num_prefix_tokens
    with torch.no_grad():
        for tensor in (*model.parameters(), *model.buffers()):
            tensor.zero_()
        model.cls_token.copy_(torch.randn(model.cls_token.shape, generator=g) * TOKEN_STD)
        model.pos_embed[0, :prefix] = torch.randn(prefix, model.embed_dim, generator=g) * TOKEN_STD
        model.pos_embed[0, prefix:] = field.at(*model.patch_embed.grid_size)
    return model, field


def transfer_resolution(timm_name: str, pretrain_res: int, finetune_res: int, workdir: Path | None = None,
                        seed: int = 0, resample: Callable[[nn.Module, int], None] = resample_position_embeddings,
                        ) -> ResolutionTransfer:
    """Build ``timm_name`` at ``pretrain_res``, save it, move it to ``finetune_res`` by both paths, measure.

    The checkpoint is written to ``workdir`` (kept) or, without one, to a temporary folder (deleted).
    """
    before, field = _synthetic_checkpoint(timm_name, pretrain_res, seed)
    name = f"{timm_name}-{pretrain_res}-seed{seed}.safetensors"
    with nullcontext(workdir) if workdir is not None else tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / name
        save_file({k: v.contiguous() for k, v in before.state_dict().items()}, str(checkpoint))
        overlay = {"file": str(checkpoint)}
        # weight_init="skip": load_pretrained (strict) overwrites every weight timm would initialise.
        loaded = timm.create_model(timm_name, pretrained=True, img_size=finetune_res, pretrained_cfg_overlay=overlay,
                                   weight_init="skip")
        finetuned = timm.create_model(timm_name, pretrained=True, img_size=pretrain_res,
                                      pretrained_cfg_overlay=overlay, weight_init="skip")
    resample(finetuned, finetune_res)
    paths = {"timm-load": _measure("timm-load", before, loaded.eval(), field, finetune_res, seed),
             "finetune-tier": _measure("finetune-tier", before, finetuned.eval(), field, finetune_res, seed)}
    return ResolutionTransfer(
        timm_name=timm_name, pretrain_res=pretrain_res, finetune_res=finetune_res,
        grid_before=tuple(before.patch_embed.grid_size), grid_after=tuple(loaded.patch_embed.grid_size),
        checkpoint=name, paths=paths,
    )
