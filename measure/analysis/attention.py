"""App. D.7: mean attention distance per image, layer and head, and the statistics the claims of §4.5 read.

D.7 / Figure 11: "Attention distance was computed for 128 example images by averaging the distance between the
query pixel and all other pixels, weighted by the attention weight." Here, per image, layer and head: for every
patch token as query, the attention weights over the patch tokens (the class token, which has no place in the
image, is neither query nor key; the weights are renormalised over the patches) times the distance between the
two patches' centres in pixels of the model input, summed; then averaged over the queries. The attention
weights are recomputed from each block's input exactly as timm's `Attention` computes them (qkv projection,
q/k norms, scale, softmax), so fused attention kernels, which never materialise them, need not be switched off.

Per-image statistics (the evidence of the claims, each with an interval over the images):

* `depth_trend` — Spearman's rho between layer index and the layer's head-averaged distance;
* `lowest_layer_widest` — the distance of the most global head of the first layer;
* `early_mean` — the head-averaged distance over the first quarter of the layers (how local early attention is).

References on the same grid, for "attends to most of the image": `uniform_distance` (attention spread evenly
over every patch) and `nearer_half_distance` (spread evenly over the half of the patches nearest each query).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def patch_distances(rows: int, cols: int, pixels_per_patch: float) -> np.ndarray:
    """(N, N) distance between patch centres in pixels."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return pixels_per_patch * np.hypot(r[:, None] - r[None, :], c[:, None] - c[None, :])


def uniform_distance(rows: int, cols: int, pixels_per_patch: float) -> float:
    """Mean attention distance of a head that attends to every patch equally."""
    return float(patch_distances(rows, cols, pixels_per_patch).mean())


def nearer_half_distance(rows: int, cols: int, pixels_per_patch: float) -> float:
    """Mean attention distance of a head that attends equally to the nearer half of the patches (its own
    included) and not at all to the rest: a head farther than this attends beyond half of the image."""
    distances = np.sort(patch_distances(rows, cols, pixels_per_patch), axis=1)
    return float(distances[:, : math.ceil(rows * cols / 2)].mean())


def grid_of(model: Any, resolution: int) -> tuple[int, int, float]:
    """(rows, cols, pixels per patch) of a timm ViT (or hybrid) fed `resolution`-pixel square images."""
    rows, cols = (int(v) for v in model.patch_embed.grid_size)
    return rows, cols, resolution / cols


def attention_distances(model: Any, images: Any, resolution: int) -> np.ndarray:
    """(images, layers, heads) mean attention distance in pixels of a timm ViT on a batch of images."""
    import torch

    rows, cols, pixels = grid_of(model, resolution)
    n = rows * cols
    distances = torch.as_tensor(patch_distances(rows, cols, pixels), dtype=torch.float32, device=images.device)
    prefix = int(getattr(model, "num_prefix_tokens", 1))
    per_layer: list[torch.Tensor] = []

    def record(attn: Any, inputs: tuple) -> None:
        weights = attention_weights(attn, inputs[0])[:, :, prefix:, prefix:]
        if weights.shape[-1] != n:
            raise ValueError(f"{weights.shape[-1]} patch tokens for a {rows}x{cols} grid")
        weights = weights / weights.sum(-1, keepdim=True)
        per_layer.append((weights * distances).sum(-1).mean(-1).float().cpu())  # (images, heads)

    handles = [block.attn.register_forward_pre_hook(record) for block in model.blocks]
    try:
        with torch.no_grad():
            model.forward_features(images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack(per_layer, dim=1).numpy()


def attention_weights(attn: Any, x: Any) -> Any:
    """Softmax attention weights (batch, heads, tokens, tokens) of a timm `Attention` module on its input."""
    batch, tokens, _ = x.shape
    qkv = attn.qkv(x).reshape(batch, tokens, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


def depth_trend(distances: np.ndarray) -> np.ndarray:
    """Per image: Spearman's rho between layer index and the layer's mean distance over heads."""
    from scipy.stats import spearmanr

    per_layer = distances.mean(axis=2)
    layers = np.arange(per_layer.shape[1])
    return np.array([spearmanr(layers, row).statistic for row in per_layer])


def lowest_layer_widest(distances: np.ndarray) -> np.ndarray:
    """Per image: the mean attention distance of the first layer's most global head."""
    return distances[:, 0, :].max(axis=1)


def early_layers(n_layers: int) -> int:
    """How many layers count as early: the first quarter of the depth (at least one)."""
    return max(1, math.ceil(n_layers / 4))


def early_mean(distances: np.ndarray) -> np.ndarray:
    """Per image: the mean attention distance over every head of the first quarter of the layers."""
    return distances[:, : early_layers(distances.shape[1]), :].mean(axis=(1, 2))


def per_head_figure(distances: np.ndarray, label: str) -> dict[str, Any]:
    """One series of the report's version of Figure 7 (right): a dot per head and layer, the mean over images."""
    means = distances.mean(axis=0)  # (layers, heads)
    layers, heads = means.shape
    return {"label": label, "x": [float(layer) for layer in range(layers) for _ in range(heads)],
            "y": [round(float(v), 2) for v in means.reshape(-1)]}
