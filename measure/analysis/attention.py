"""App. D.7: mean attention distance per image, layer and head, and the statistics the claims of §4.5 read.

D.7 / Figure 11: "Attention distance was computed for 128 example images by averaging the distance between the
query pixel and all other pixels, weighted by the attention weight." Here, per image, layer and head: for every
patch token as query, its attention weights over the patch tokens times the distance between the two patches'
centres in pixels of the model input, summed; then averaged over the queries. The attention weights are
recomputed from each block's input exactly as timm's `Attention` computes them (qkv projection, q/k norms, scale,
softmax), so fused attention kernels, which never materialise them, need not be switched off.

The class token (and any other prefix token) has no place in the image: it is never a query, and the weight a
patch puts on it is recorded apart, per image, layer and head, as the head's *class-token mass*; the distance is
taken over the patches with the weights renormalised over them (where in the image the head looks, whatever share
it gives the class token). A head whose class-token mass averages more than `CLASS_TOKEN_DOMINATED` (one half)
mostly reads the class token, so its distance over the patches describes a minority of its attention: such a head
counts as neither global nor local — it is left out of every statistic below (and listed in the records) rather
than read as a uniform, "global" head (≈116 px on a 14 x 14 grid of 16-pixel patches) once the class token is
dropped.

Per-image statistics (the evidence of the checks, each ordered with an interval over the images):

* `depth_trend` — Spearman's rho between layer index and the layer's mean distance over its heads;
* `lowest_layer_widest` — the distance of the first layer's most global head;
* `low_layers_local` — the distance of each of the first quarter of the layers' most local head, averaged;
* `local_depth_trend` — Spearman's rho between layer index and that layer's most local head's distance (App. D.7:
  "attention distance increases for all heads": the nearest head of each layer reaches farther with depth);
* `second_half_wide_share` — the share of the heads of the second half of the layers that reach farther than a
  reference.

"The most global / most local head" is chosen without the image it is judged on (two-fold cross-fitting,
`chosen_heads`): the images are split in two folds (even and odd positions), a layer's head is picked by its
mean distance over one fold's images, and its distances on the other fold's images are the scores; each fold in
turn. Taking the largest head per image instead reads the maximum of noisy values — with 16 heads that each
average 60 px (image-to-image sd 15 px) the per-image maximum averages ≈88 px, while no head reaches 63 px.

References on the same grid: `uniform_distance` (attention spread evenly over every patch), `nearer_half_distance`
(spread evenly over the half of the patches nearest each query: "most of the image" means farther than this) and
`local_distance` (spread evenly over the nearest eighth of the patches: "small attention distances" means nearer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

CLASS_TOKEN_DOMINATED = 0.5  # a head putting more than this share of its attention on the class token
LOCAL_SHARE = 1 / 8          # "small regions at or near the query location" (D.7): within the nearest eighth


def patch_distances(rows: int, cols: int, pixels_per_patch: float) -> np.ndarray:
    """(N, N) distance between patch centres in pixels, patches in raster order."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return pixels_per_patch * np.hypot(r[:, None] - r[None, :], c[:, None] - c[None, :])


def uniform_distance(rows: int, cols: int, pixels_per_patch: float) -> float:
    """Mean attention distance of a head that attends to every patch equally."""
    return float(patch_distances(rows, cols, pixels_per_patch).mean())


def nearest_share_distance(rows: int, cols: int, pixels_per_patch: float, share: float) -> float:
    """Mean attention distance of a head that attends equally to the nearest `share` of the patches (its own
    included, ceil(share x N) of them) and not at all to the rest."""
    distances = np.sort(patch_distances(rows, cols, pixels_per_patch), axis=1)
    return float(distances[:, : math.ceil(rows * cols * share)].mean())


def nearer_half_distance(rows: int, cols: int, pixels_per_patch: float) -> float:
    """A head farther than this attends beyond the nearer half of the image ("most of the image")."""
    return nearest_share_distance(rows, cols, pixels_per_patch, 0.5)


def local_distance(rows: int, cols: int, pixels_per_patch: float) -> float:
    """A head nearer than this attends within the nearest eighth of the image (a small region at the query)."""
    return nearest_share_distance(rows, cols, pixels_per_patch, LOCAL_SHARE)


def grid_of(model: Any, resolution: int) -> tuple[int, int, float]:
    """(rows, cols, pixels per patch) of a timm ViT (or hybrid) fed `resolution`-pixel square images."""
    rows, cols = (int(v) for v in model.patch_embed.grid_size)
    return rows, cols, resolution / cols


def patch_attention(weights: Any, prefix: int, distances: Any) -> tuple[Any, Any]:
    """(distance, class-token mass), each (..., heads): of attention `weights` (..., heads, tokens, tokens),
    softmax over the keys, the `prefix` non-patch tokens first and the patches after them in raster order;
    `distances` (patches, patches) in pixels. Per patch query: the weight on the prefix tokens, and the
    distance to the patches weighted by the weights renormalised over the patches; both averaged over the
    queries. torch tensors in, torch tensors out."""
    queries = weights[..., prefix:, :]
    if queries.shape[-2] != distances.shape[0] or queries.shape[-1] - prefix != distances.shape[1]:
        raise ValueError(f"{queries.shape[-1] - prefix} patch tokens (after {prefix} prefix token(s)) for "
                         f"{distances.shape[0]} patches of the grid")
    class_mass = queries[..., :prefix].sum(-1)
    to_patches = queries[..., prefix:]
    to_patches = to_patches / to_patches.sum(-1, keepdim=True).clamp_min(1e-30)
    return (to_patches * distances).sum(-1).mean(-1), class_mass.mean(-1)


def attention_distances(model: Any, images: Any, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """(distance in pixels, class-token mass), each (images, layers, heads), of a timm ViT on a batch of images."""
    import torch

    rows, cols, pixels = grid_of(model, resolution)
    distances = torch.as_tensor(patch_distances(rows, cols, pixels), dtype=torch.float32, device=images.device)
    prefix = int(getattr(model, "num_prefix_tokens", 1))

    def read(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        distance, mass = patch_attention(weights, prefix, distances)
        return distance.cpu(), mass.cpu()  # (images, heads) each

    per_layer = each_block_attention(model, images, read)
    return (torch.stack([d for d, _ in per_layer], dim=1).numpy(),
            torch.stack([m for _, m in per_layer], dim=1).numpy())


def each_block_attention(model: Any, images: Any, read: Callable[[Any], Any]) -> list:
    """``read(weights)`` of every block's attention weights (images, heads, tokens, tokens; float32), in block
    order, over one no-grad forward of a timm ViT: the one place the analyses hook a model's attention."""
    import torch

    per_layer: list = []

    def record(attn: Any, inputs: tuple) -> None:
        per_layer.append(read(attention_weights(attn, inputs[0]).float()))

    handles = [block.attn.register_forward_pre_hook(record) for block in model.blocks]
    try:
        with torch.no_grad():
            model.forward_features(images)
    finally:
        for handle in handles:
            handle.remove()
    return per_layer


def attention_weights(attn: Any, x: Any) -> Any:
    """Softmax attention weights (batch, heads, tokens, tokens) of a timm `Attention` module on its input."""
    batch, tokens, _ = x.shape
    qkv = attn.qkv(x).reshape(batch, tokens, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


# -- which heads count ---------------------------------------------------------------------------------------

def class_token_dominated(class_mass: np.ndarray) -> np.ndarray:
    """(layers, heads): the heads whose class-token mass, averaged over the images, exceeds one half."""
    return class_mass.mean(axis=0) > CLASS_TOKEN_DOMINATED


def image_heads(distances: np.ndarray, class_mass: np.ndarray) -> np.ndarray:
    """`distances` with the class-token-dominated heads set to NaN (they count as neither global nor local)."""
    return np.where(class_token_dominated(class_mass)[None], np.nan, distances)


def folds(n_images: int) -> np.ndarray:
    """The fold (0 or 1) of each image: even and odd positions."""
    if n_images < 2:
        raise ValueError(f"choosing a head on other images than those it is judged on needs 2 images, got {n_images}")
    return np.arange(n_images) % 2


def chosen_heads(distances: np.ndarray, class_mass: np.ndarray, layers: Sequence[int],
                 pick: Callable[[np.ndarray], int]) -> np.ndarray:
    """(images, len(layers)): per image and layer, the distance of the head `pick` (np.nanargmax: the most global,
    np.nanargmin: the most local) chooses by its mean distance over the *other* fold's images, among the heads
    whose class-token mass over those images averages at most one half; NaN where the layer has no such head."""
    fold = folds(distances.shape[0])
    out = np.full((distances.shape[0], len(layers)), np.nan)
    for judged in (0, 1):
        chosen_on = fold != judged
        means = distances[chosen_on].mean(axis=0)
        counted = class_mass[chosen_on].mean(axis=0) <= CLASS_TOKEN_DOMINATED
        for j, layer in enumerate(layers):
            if counted[layer].any():
                head = pick(np.where(counted[layer], means[layer], np.nan))
                out[fold == judged, j] = distances[fold == judged, layer, head]
    return out


def _no_head(what: str) -> ValueError:
    return ValueError(f"no head to judge: {what} attend(s) mostly to the class token (class-token mass above "
                      f"{CLASS_TOKEN_DOMINATED})")


# -- per-image statistics --------------------------------------------------------------------------------------

def early_layers(n_layers: int) -> int:
    """How many layers count as low: the first quarter of the depth (at least one)."""
    return max(1, math.ceil(n_layers / 4))


def second_half(n_layers: int) -> range:
    """The layers of the second half of the network (an odd depth's middle layer belongs to neither half)."""
    return range(math.ceil(n_layers / 2), n_layers)


def _spearman_per_image(values: np.ndarray) -> np.ndarray:
    """Per image (row): Spearman's rho between layer index and the row's values, NaN layers left out."""
    from scipy.stats import spearmanr

    layers = np.arange(values.shape[1])
    return np.array([spearmanr(layers[np.isfinite(row)], row[np.isfinite(row)]).statistic for row in values])


def depth_trend(distances: np.ndarray, class_mass: np.ndarray) -> np.ndarray:
    """Per image: Spearman's rho between layer index and the layer's mean distance over its counted heads."""
    counted = image_heads(distances, class_mass)
    layers = [layer for layer in range(counted.shape[1]) if np.isfinite(counted[0, layer]).any()]
    return _spearman_per_image(np.nanmean(counted[:, layers], axis=2))


def lowest_layer_widest(distances: np.ndarray, class_mass: np.ndarray) -> np.ndarray:
    """Per image: the distance of the first layer's most global head, chosen on the other fold's images."""
    widest = chosen_heads(distances, class_mass, [0], np.nanargmax)[:, 0]
    if not np.isfinite(widest).all():
        raise _no_head("every head of the first layer")
    return widest


def low_layers_local(distances: np.ndarray, class_mass: np.ndarray) -> np.ndarray:
    """Per image: the distance of each low layer's most local head (chosen on the other fold's images), averaged
    over the first quarter of the layers (layers without a counted head left out)."""
    local = chosen_heads(distances, class_mass, range(early_layers(distances.shape[1])), np.nanargmin)
    kept = np.isfinite(local).all(axis=0)
    if not kept.any():
        raise _no_head("every head of the low layers")
    return local[:, kept].mean(axis=1)


def local_depth_trend(distances: np.ndarray, class_mass: np.ndarray) -> np.ndarray:
    """Per image: Spearman's rho between layer index and the distance of the layer's most local head (chosen on
    the other fold's images)."""
    local = chosen_heads(distances, class_mass, range(distances.shape[1]), np.nanargmin)
    return _spearman_per_image(local[:, np.isfinite(local).all(axis=0)])


def second_half_wide_share(distances: np.ndarray, class_mass: np.ndarray, reference: float) -> np.ndarray:
    """Per image: the share of the counted heads of the second half of the layers whose distance exceeds
    `reference` (px)."""
    late = image_heads(distances, class_mass)[:, second_half(distances.shape[1])]
    counted = np.isfinite(late[0])
    if not counted.any():
        raise _no_head("every head of the second half of the layers")
    return (late[:, counted] > reference).mean(axis=1)


def per_head_figure(distances: np.ndarray, label: str) -> dict[str, Any]:
    """One series of the report's version of Figure 7 (right): a dot per head and layer, the mean over images."""
    means = distances.mean(axis=0)  # (layers, heads)
    layers, heads = means.shape
    return {"label": label, "x": [float(layer) for layer in range(layers) for _ in range(heads)],
            "y": [round(float(v), 2) for v in means.reshape(-1)]}


def class_token_summary(class_mass: np.ndarray) -> dict[str, Any]:
    """What a record keeps of the class token: each head's mass (mean over images, layers x heads) and the heads
    left out as dominated by it ([layer, head], counted from 0)."""
    means = class_mass.mean(axis=0)
    return {"threshold": CLASS_TOKEN_DOMINATED, "mass": np.round(means, 3).tolist(),
            "dominated": [[int(layer), int(head)] for layer, head in np.argwhere(means > CLASS_TOKEN_DOMINATED)]}
