"""Tiny timm ViTs whose weights carry a planted structure, for the analysis tier's tests.

Every token is its position embedding (the patch projection is scaled down to a whisper, so attention varies a
little from image to image but is decided by position) and every block adds nothing to the residual stream (attention
output and MLP output projections zero), so each layer's attention is set by its own q/k weights alone. A position
embedding is laid out as [g, −g, a·c, −a·c, 0…]: zero mean and the same norm for every patch, so LayerNorm only
rescales it; g is the structure the position-embedding checks read, c = (cos ωx, sin ωx, cos ωy, sin ωy) the
coordinates the attention is built on, a small enough that c does not change what g says.

* position embeddings: `smooth_2d` (sinusoids of row and column, as the paper's 2-D variant, so similarity falls
  with distance, and narrow bumps along each axis, so patches of the same row/column are clearly more similar:
  excess ≈ 0.16 on a 10 x 10 grid) or `reversed_2d` (similarities built to *rise* with distance and to be *lower*
  within a row or column, factored to the model's width);
* attention: per layer and head a locality β — 0 is a head attending to every patch alike, large β a head
  attending to its neighbourhood (logits β·(cos ωΔx + cos ωΔy)); on the 10 x 10 grid of 16-pixel patches
  β = 0, 1, 4, 64 reach ≈83, 59, 30 and 2 px (nearer half of the image: 52 px, nearest eighth: 24 px).

Saved in the hub-cache layout of the public timm checkpoints (`tests/fake_checkpoints.py`), they go through the
suite's own loader and the analysis tier end to end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

AMPLITUDE = 0.03  # of the coordinate part: its share of a cosine similarity stays below 0.002
NOISE = 3e-4      # std of a token's image part per dimension: images move attention a little, positions decide it
LOCAL, GLOBAL, SELF = 64.0, 0.0, 4096.0  # SELF: a head that attends to its own patch alone
MIDDLING = 4.0  # ≈30 px on a 10 x 10 grid of 16-pixel patches: beyond the nearest eighth, within the nearer half


def local_early_global_late(n_layers: int, heads: int) -> list[list[float]]:
    """As the paper describes: in the first layer one head global and the others local, then the most local
    layer, then locality relaxing layer by layer to global heads in the last layer."""
    relaxing = [LOCAL * 0.25 ** i for i in range(n_layers - 2)][:-1] + [GLOBAL]
    return [[GLOBAL] + [LOCAL] * (heads - 1), [LOCAL] * heads] + [[beta] * heads for beta in relaxing]


def middling_then_narrowing(n_layers: int, heads: int) -> list[list[float]]:
    """The reverse: every head of the first quarter of the layers at a middling distance (`MIDDLING`: neither
    global nor local), then ever more local with depth."""
    first = max(1, math.ceil(n_layers / 4))
    return [[MIDDLING * 2 ** max(0, i - first + 1)] * heads for i in range(n_layers)]


def coordinates(rows: int, cols: int) -> np.ndarray:
    """(N, 4): cos/sin of row and column at a frequency that keeps cos(ωΔ) falling across the grid."""
    omega = 0.9 * math.pi / (max(rows, cols) - 1)
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.stack([np.cos(omega * c), np.sin(omega * c), np.cos(omega * r), np.sin(omega * r)], axis=1)


def smooth_2d(rows: int, cols: int, dims: int, line_width: float = 0.5) -> np.ndarray:
    """(N, dims) unit rows: a quarter of the dims sinusoids of the column and a quarter of the row (frequencies up
    to half a cycle across the grid, so similarity falls monotonically along each axis), the other half narrow
    Gaussian bumps (width `line_width` patches) along the column and along the row, equal in weight to the
    sinusoids, so that two patches of one row or column share half their embedding."""
    per_axis = dims // 4
    freqs = np.arange(1, per_axis // 2 + 1) / (per_axis // 2) * math.pi / (max(rows, cols) - 1)
    r, c = np.divmod(np.arange(rows * cols), cols)

    def sinusoids(v: np.ndarray) -> np.ndarray:
        angles = v[:, None] * freqs[None, :]
        return np.concatenate([np.cos(angles), np.sin(angles)], axis=1)

    def bumps(v: np.ndarray, n: int) -> np.ndarray:
        centres = np.linspace(0, n - 1, per_axis)
        return np.exp(-(v[:, None] - centres[None, :]) ** 2 / (2 * line_width ** 2))

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    both = np.concatenate([unit(np.concatenate([sinusoids(c), sinusoids(r)], axis=1)),
                           unit(np.concatenate([bumps(c, cols), bumps(r, rows)], axis=1))], axis=1)
    out = np.zeros((rows * cols, dims))
    out[:, : both.shape[1]] = both
    return unit(out)


def reversed_2d(rows: int, cols: int, dims: int, eps: float = 0.005, penalty: float = 1.0) -> np.ndarray:
    """(N, dims) unit rows whose cosine similarities rise with grid distance and drop within a row or column:
    the Gram matrix I + eps·(distance − penalty·[same row/column]) (positive definite for small eps),
    factored by its top `dims` eigenvectors."""
    n = rows * cols
    r, c = np.divmod(np.arange(n), cols)
    distance = np.hypot(r[:, None] - r[None, :], c[:, None] - c[None, :])
    same_line = (r[:, None] == r[None, :]) | (c[:, None] == c[None, :])
    target = distance - penalty * same_line
    np.fill_diagonal(target, 0.0)
    values, vectors = np.linalg.eigh(np.eye(n) + eps * target)
    top = np.argsort(values)[::-1][:dims]
    out = np.zeros((n, dims))
    out[:, : len(top)] = vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def layout(structure: str, rows: int, cols: int, width: int) -> tuple[np.ndarray, slice]:
    """(N, width) position embeddings with the named structure, and where the coordinate features sit."""
    g_dims = (width - 8) // 2
    g = (smooth_2d if structure == "smooth" else reversed_2d)(rows, cols, g_dims)
    c = AMPLITUDE * coordinates(rows, cols)
    out = np.zeros((rows * cols, width))
    out[:, :g_dims], out[:, g_dims: 2 * g_dims] = g, -g
    start = 2 * g_dims
    out[:, start: start + 4], out[:, start + 4: start + 8] = c, -c
    return out, slice(start, start + 4)


def plant(model: torch.nn.Module, posemb: str, locality: Sequence[Sequence[float]]) -> torch.nn.Module:
    """`model` (a timm ViT or hybrid, modified in place) with position embeddings of structure `posemb`
    ("smooth" | "reversed") and layer l's head h attending with locality `locality[l][h]`."""
    rows, cols = (int(v) for v in model.patch_embed.grid_size)
    width = model.embed_dim
    emb, coords = layout(posemb, rows, cols, width)
    sigma = float(np.sqrt((emb ** 2).mean(axis=1)).mean())  # LayerNorm's divisor: the same for every patch
    torch.manual_seed(0)
    with torch.no_grad():
        model.pos_embed.zero_()
        model.pos_embed[0, model.num_prefix_tokens:] = torch.tensor(emb, dtype=torch.float32)
        for prefix in (model.cls_token, getattr(model, "reg_token", None)):  # class / register tokens
            if prefix is not None:
                prefix.zero_()
        proj = model.patch_embed.proj
        resolution = model.patch_embed.img_size
        probe = torch.rand(2, 3, *resolution) * 2 - 1
        backbone = getattr(model.patch_embed, "backbone", None)  # a hybrid: the projection reads ResNet features
        inputs = backbone(probe) if backbone is not None else probe
        inputs = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
        fan_in = proj.weight[0].numel()
        proj.weight.copy_(NOISE / (float(inputs.std()) * math.sqrt(fan_in)) * torch.randn_like(proj.weight))
        proj.bias.zero_()
        for block, heads in zip(model.blocks, locality, strict=True):
            block.norm1.weight.fill_(1.0)
            block.norm1.bias.zero_()
            attn = block.attn
            attn.qkv.weight.zero_()
            if attn.qkv.bias is not None:
                attn.qkv.bias.zero_()
            for h, beta in enumerate(heads):
                for i in range(4):  # q·k·scale = beta·(c·c'): LayerNorm turned a·c into a·c/sigma
                    q_row, k_row = h * attn.head_dim + i, width + h * attn.head_dim + i
                    attn.qkv.weight[q_row, coords.start + i] = beta / attn.scale * sigma / AMPLITUDE
                    attn.qkv.weight[k_row, coords.start + i] = sigma / AMPLITUDE
            attn.proj.weight.zero_()
            attn.proj.bias.zero_()
            block.mlp.fc2.weight.zero_()
            block.mlp.fc2.bias.zero_()
    return model.eval()


def early_and_late(model: torch.nn.Module, early: float, late: float) -> list[list[float]]:
    """Locality `early` for every head of the first quarter of the layers, `late` for the rest."""
    n, heads = len(model.blocks), model.blocks[0].attn.num_heads
    first = max(1, math.ceil(n / 4))
    return [[early if i < first else late] * heads for i in range(n)]
