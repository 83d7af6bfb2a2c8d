"""Figure 7 (center): how similar the learned position embeddings of two patches are, against where the patches sit.

§4.5: "the model learns to encode distance within the image in the similarity of position embeddings, i.e.
closer patches tend to have more similar position embeddings. Further, the row-column structure appears;
patches in the same row/column have similar embeddings." The paper shows the cosine similarity of every
patch's embedding with every other's and quantifies neither sentence; the statistics here do, per patch, so a
claim can put an interval on them over the patches:

* `distance_falloff` — for each patch, Spearman's rank correlation between the similarity to every other patch
  and the Euclidean grid distance to it (negative: similarity falls with distance);
* `row_column_excess` — for each patch, how much more similar its same-row / same-column partners are than
  other patches *at the same distance*: each such partner's similarity minus the similarity of the off-axis
  patches at that partner's distance — their mean similarity at each distance they occur at, interpolated by a
  cubic spline in distance — averaged; partners whose distance the off-axis distances do not bracket (the
  nearest neighbours, at distance 1 < √2) are left out, so nothing is extrapolated.

Similarity is the cosine (`cosine_similarity`), as the paper's figure shows it: the norms of the embeddings do
not enter. On embeddings with no row-column structure — an isotropic similarity, a function of the distance alone
— `row_column_excess` reads ≈ 0: the spline's error at the on-axis distances stays below 3·10⁻⁴ on Gaussian and
exponential kernels over 7 x 7 to 14 x 14 grids (linear interpolation: up to 10⁻²), while comparing same-row/column
partners with all other patches regardless of distance reads +0.06 to +0.25 there (the partners are nearer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAPS_PER_AXIS = 5  # the report's panel: similarity maps of a 5 x 5 sample of query patches (the paper shows all)


def grid_embeddings(model: Any) -> np.ndarray:
    """The position embeddings of a timm ViT's patches as a (rows, cols, dim) array, in raster order; the
    class token's (and any other prefix token's) embedding has no place in the grid and is left out."""
    rows, cols = (int(v) for v in model.patch_embed.grid_size)
    pos = model.pos_embed.detach().float().cpu().numpy()[0]
    prefix = 0 if getattr(model, "no_embed_class", False) else int(getattr(model, "num_prefix_tokens", 1))
    patches = pos[prefix:]
    if patches.shape[0] != rows * cols:
        raise ValueError(f"{type(model).__name__}: {patches.shape[0]} patch position embeddings for a "
                         f"{rows}x{cols} grid (prefix tokens {prefix})")
    return patches.reshape(rows, cols, -1)


def cosine_similarity(grid: np.ndarray) -> np.ndarray:
    """(N, N) cosine similarity between the N = rows x cols embeddings of `grid`, raster order."""
    flat = grid.reshape(-1, grid.shape[-1]).astype(np.float64)
    unit = flat / np.linalg.norm(flat, axis=1, keepdims=True).clip(min=1e-12)
    return unit @ unit.T


def grid_distances(rows: int, cols: int) -> np.ndarray:
    """(N, N) Euclidean distance between patch centres, in patches."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.hypot(r[:, None] - r[None, :], c[:, None] - c[None, :])


def distance_falloff(similarity: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Per patch: Spearman's rho between its similarity to each other patch and the grid distance to it."""
    from scipy.stats import spearmanr

    distances = grid_distances(rows, cols)
    others = ~np.eye(rows * cols, dtype=bool)
    return np.array([spearmanr(similarity[p][others[p]], distances[p][others[p]]).statistic
                     for p in range(rows * cols)])


def row_column_excess(similarity: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Per patch: mean over its same-row/column partners of (their similarity − the off-axis similarity
    interpolated, by a cubic spline over the off-axis distances, at their distance); NaN for a patch without a
    bracketed partner."""
    from scipy.interpolate import CubicSpline

    r, c = np.divmod(np.arange(rows * cols), cols)
    distances = grid_distances(rows, cols)
    out = np.full(rows * cols, np.nan)
    for p in range(rows * cols):
        others = np.arange(rows * cols) != p
        on_axis = others & ((r == r[p]) | (c == c[p]))
        off_axis = others & ~on_axis
        if not off_axis.any() or not on_axis.any():
            continue
        levels, index = np.unique(distances[p][off_axis], return_inverse=True)
        profile = np.bincount(index, weights=similarity[p][off_axis]) / np.bincount(index)
        d_on = distances[p][on_axis]
        inside = (d_on >= levels[0]) & (d_on <= levels[-1])
        if inside.any():
            expected = CubicSpline(levels, profile)(d_on[inside]) if len(levels) > 1 else profile
            out[p] = float(np.mean(similarity[p][on_axis][inside] - expected))
    return out


def similarity_maps(similarity: np.ndarray, rows: int, cols: int, per_axis: int = MAPS_PER_AXIS) -> dict[str, Any]:
    """The report's version of Figure 7 (center): for a per_axis x per_axis sample of query patches, each
    one's similarity to every patch, as a rows x cols map (JSON-safe, 3 decimals)."""
    picks_r = sorted({round(float(x)) for x in np.linspace(0, rows - 1, min(per_axis, rows))})
    picks_c = sorted({round(float(x)) for x in np.linspace(0, cols - 1, min(per_axis, cols))})
    maps = [{"label": f"row {i + 1}, col {j + 1}",
             "z": np.round(similarity[i * cols + j].reshape(rows, cols), 3).tolist()}
            for i in picks_r for j in picks_c]
    return {"maps": maps, "rows": len(picks_r), "cols": len(picks_c), "grid": [rows, cols]}
