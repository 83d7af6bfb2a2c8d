"""App. D.8: attention rollout (Abnar & Zuidema, 2020) from the class token to the patches, and how much of it
falls inside an image's object boxes.

D.8: "we used Attention Rollout (Abnar & Zuidema, 2020). Briefly, we averaged attention weights of ViT-L/16 across
all heads and then recursively multiplied the weight matrices of all layers. This accounts for the mixing of
attention across tokens through all layers."

Abnar & Zuidema's rollout, as they define it: per layer, the attention averaged over the heads, W; the residual
connection added as the identity and the rows renormalised, Ã = (W + I) / 2 (each row of W sums to 1); the layers
multiplied from the first up, R = Ã_L ··· Ã_2 Ã_1. Row 0 of R (the class token, the token the classifier reads) over
the patch tokens, renormalised over the patches, is the map Figure 6 draws (`class_token_map`).

How much of the map lies on the object (`box_mass`): each patch's share inside the union of the image's boxes
(`box_coverage`, sampled on a fine grid in the model input's coordinates: the vit_jax pipeline resizes the whole
image to the model's square input, so a box keeps its place as a fraction of the width and height), the map's mass
weighted by those shares; against it the boxes' area share of the image, measured on the same samples
(`area_share`), what a map spread evenly over the image would put inside. A uniform map reads exactly the area
share: the statistic's negative control.

numpy for the statistics, torch only inside `attention_rollout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SAMPLES_PER_PATCH = 8  # box coverage sampled on 8 x 8 points per patch: a box edge is placed to 1/16 of a patch


def rollout(layers: Sequence[np.ndarray]) -> np.ndarray:
    """(..., tokens, tokens) rollout of per-layer head-averaged attention `layers` (each (..., tokens, tokens), rows
    summing to 1, first layer first): the product Ã_L ··· Ã_1 with Ã = (W + I) / 2."""
    if not layers:
        raise ValueError("attention rollout needs at least one layer")
    tokens = layers[0].shape[-1]
    eye = np.eye(tokens)
    out = None
    for weights in layers:
        mixed = (np.asarray(weights, dtype=np.float64) + eye) / 2.0
        mixed = mixed / mixed.sum(-1, keepdims=True)  # already 1 for softmax rows; exact for any row sums
        out = mixed if out is None else mixed @ out
    return out


def class_token_map(rolled: np.ndarray, prefix: int = 1) -> np.ndarray:
    """(..., patches): the class token's (token 0) row of a rollout over the patch tokens (after the `prefix`
    non-patch tokens), renormalised to sum to 1."""
    row = rolled[..., 0, prefix:]
    return row / row.sum(-1, keepdims=True)


def attention_rollout(model: Any, images: Any) -> np.ndarray:
    """(images, patches) class-token rollout maps of a timm ViT on a batch of images (patches in raster order)."""

    from measure.analysis.attention import each_block_attention

    if getattr(model, "cls_token", None) is None:
        raise ValueError("attention rollout reads the class token's row: this model has no class token")
    prefix = int(getattr(model, "num_prefix_tokens", 1))
    per_layer = each_block_attention(model, images, lambda weights: weights.mean(1).cpu().double().numpy())
    return class_token_map(rollout(per_layer), prefix)


def box_coverage(boxes: Sequence[Sequence[float]], rows: int, cols: int,
                 samples: int = SAMPLES_PER_PATCH) -> np.ndarray:
    """(rows * cols,) share of each patch inside the union of `boxes`, each (x0, y0, x1, y1) as fractions of the
    image's width and height; sampled at `samples` x `samples` evenly spaced points per patch."""
    ys = (np.arange(rows * samples) + 0.5) / (rows * samples)
    xs = (np.arange(cols * samples) + 0.5) / (cols * samples)
    inside = np.zeros((ys.size, xs.size), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        inside |= ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]
    return inside.reshape(rows, samples, cols, samples).mean(axis=(1, 3)).reshape(-1)


def box_mass(maps: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Per image, the share of the map inside the boxes: sum over patches of map x coverage over the map's sum."""
    maps = np.asarray(maps, dtype=np.float64)
    return (maps * coverage).sum(-1) / maps.sum(-1)


def area_share(coverage: np.ndarray) -> np.ndarray:
    """Per image, the boxes' share of the image on the same samples: what an evenly spread map puts inside."""
    return np.asarray(coverage, dtype=np.float64).mean(-1)


def rollout_figure(maps: np.ndarray, coverage: np.ndarray, rows: int, cols: int, names: Sequence[str],
                   title: str, count: int = 4) -> dict[str, Any]:
    """The report's Figure 6: for the first `count` images, the rollout map (scaled to its maximum) beside the
    boxes' coverage of each patch, as `heatmaps` on one 0..1 scale."""
    out = []
    for i in range(min(count, len(maps))):
        peak = float(maps[i].max()) or 1.0
        out.append({"label": f"{names[i]}: rollout", "z": np.round(maps[i].reshape(rows, cols) / peak, 2).tolist()})
        out.append({"label": f"{names[i]}: boxes", "z": np.round(coverage[i].reshape(rows, cols), 2).tolist()})
    return {"kind": "heatmaps", "title": title, "maps": out, "rows": max(1, len(out) // 2), "cols": 2,
            "vmin": 0.0, "vmax": 1.0, "colorbar": "rollout / its maximum; share of the patch inside a box"}
