"""The analysis tier: what §4.5 / Figure 7 / App. D.7 say about trained weights, read off the weights.

Each method hands back per-unit scores (higher: more as the paper says) for a claim to judge with an interval:

* ``posemb_distance`` (dataset ``weights``: no images) — per patch, −Spearman's rho between the cosine
  similarity of its position embedding with every other patch's and the grid distance (`measure.analysis.posemb`);
* ``posemb_row_column`` (``weights``) — per patch, how much more similar same-row/column patches are than
  other patches at the same distance;
* ``attention_depth`` (``imagenet``) — per image, Spearman's rho between layer and mean attention distance over the
  layer's heads (App. D.7's definition, `measure.analysis.attention`);
* ``attention_lowest_layer`` (``imagenet``) — per image, the distance (px) of the first layer's most global head,
  chosen on the other images (two-fold cross-fitting: an unbiased reading of "some head");
* ``attention_early_local`` (``imagenet``) — per image, the distance (px) of each of the first quarter of the
  layers' most local head (chosen on the other images), averaged;
* ``attention_local_depth`` (``imagenet``) — per image, Spearman's rho between layer and the layer's most local
  head's distance (chosen on the other images);
* ``attention_second_half_wide`` (``imagenet``) — per image, the share of the heads of the second half of the
  layers reaching farther than a head spread evenly over the nearer half of the image;
* ``embedding_filters`` (``weights``) and ``attention_rollout`` (``imagenet``, with the ILSVRC-2012 val boxes) —
  Figure 7 (left) and Figure 6 / App. D.8, in `measure.tiers.analysis_maps`.

Every attention method leaves out the heads that attend mostly to the class token (more than half their weight on
average: `measure.analysis.attention.CLASS_TOKEN_DOMINATED`) and records each head's class-token mass. The
references the scores are read against (uniform, nearer half, nearest eighth of the image, px) are in the metadata.

The attention methods read the first `IMAGES` ImageNet validation images (the paper: "128 example images", not
named) through the vit_jax evaluation pipeline at the checkpoint's resolution; the per-image, per-layer,
per-head distances are cached (one entry per checkpoint and image set) and every attention method reads them.
Needs no GPU: a CPU does ViT-H/14 on 128 images in minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from measure.tiers.protocol import TierBase
from measure.tiers.results import TierResult
from measure.tiers.scopes import ANALYSIS

IMAGES = 128  # App. D.7: "Attention distance was computed for 128 example images"
WEIGHTS_METHODS = ("posemb_distance", "posemb_row_column", "embedding_filters")


class AnalysisTier(TierBase):
    """Statistics of trained weights and attention maps, per unit (patch, image), judged with an interval."""

    scope = ANALYSIS

    def parameters(self, side: Any, *, method: str | None = None, pipeline: str = "") -> dict[str, Any]:
        return {"method": method}

    def needs(self, rows: Sequence[Any]) -> list[Any]:
        """Figure 7 / App. D.7: the pre-trained ImageNet-21k ViTs and hybrids, read as published."""
        from measure.tiers.paper_models import Model, resolve

        chosen = (resolve(Model(spec.paper_model, spec.pretraining)) for spec in super().needs(rows)
                  if spec.pretraining == "imagenet21k" and "ViT" in spec.paper_model)
        return list({spec.key: spec for spec in chosen}.values())

    def memo_key(self, spec: Any, dataset: str, method: str) -> tuple:
        return (spec.key, dataset, method)

    def measure(self, runner: Any, spec: Any, dataset: str, method: str) -> TierResult:
        wanted = "weights" if method in WEIGHTS_METHODS else "imagenet"
        if dataset != wanted:
            raise ValueError(f"analysis method {method} reads {wanted!r}, not {dataset!r}")
        if method in ("embedding_filters", "attention_rollout"):  # Figure 7 (left), Figure 6 / App. D.8
            from measure.tiers import analysis_maps

            return getattr(analysis_maps, method)(runner, spec)
        if method in WEIGHTS_METHODS:
            return self._position_embeddings(runner, spec, method)
        return self._attention(runner, spec, method)

    # -- position embeddings (Figure 7, center) --------------------------------------------------

    def _position_embeddings(self, runner: Any, spec: Any, method: str) -> TierResult:
        from measure.analysis import posemb
        from measure.tiers.provenance import checkpoint_provenance

        loaded, _ = runner.resources(spec, 0, [])
        grid = posemb.grid_embeddings(loaded.model)
        rows, cols = grid.shape[:2]
        similarity = posemb.cosine_similarity(grid)
        if method == "posemb_distance":
            per_patch = -posemb.distance_falloff(similarity, rows, cols)
            what = "−Spearman rho between cosine similarity and grid distance, per patch"
        else:
            per_patch = posemb.row_column_excess(similarity, rows, cols)
            what = ("same-row/column similarity minus off-axis similarity interpolated at the same distance, mean "
                    "per patch (patches without a bracketed partner left out)")
        kept = np.isfinite(per_patch)
        examples = {"dataset": "weights", "split": "position embeddings", "n": int(kept.sum()),
                    "fingerprint": f"{spec.key}:{rows}x{cols}"}
        provenance = checkpoint_provenance(loaded)
        label = "analysis: position embeddings (weights only)"
        metadata = {"tier": "analysis", "tier_label": label, "method": method, "statistic": what,
                    "grid": [rows, cols], "dim": int(grid.shape[-1]), "examples": examples, "checkpoint": provenance,
                    "figure": {"kind": "heatmaps", "title": f"{spec.paper_model}: cosine similarity of position "
                                                            f"embeddings (sample of query patches)",
                               "vmin": -1.0, "vmax": 1.0, **posemb.similarity_maps(similarity, rows, cols)}}
        return TierResult(tier="analysis", label=label, dataset="weights", checkpoint=spec.key, correct=None,
                          scores=per_patch[kept], examples=examples, provenance=provenance["provenance"],
                          method=method, metadata=metadata)

    # -- attention distance (Figure 7, right; App. D.7) ------------------------------------------

    def _attention(self, runner: Any, spec: Any, method: str) -> TierResult:
        from torch.utils.data import Subset

        from measure.analysis import attention
        from measure.data.fingerprint import dataset_fingerprint
        from measure.data.pipelines import VIT_JAX
        from measure.tiers.provenance import checkpoint_provenance

        loaded, opened = runner.resources(spec, 0, [("imagenet", "val")], pipeline=VIT_JAX, resolution=spec.resolution)
        data = opened[("imagenet", "val")]
        images = Subset(data, range(min(IMAGES, len(data))))
        fingerprint = dataset_fingerprint(images)
        distances, class_mass = self.distances(runner, loaded, images, fingerprint, spec.resolution)
        rows, cols, pixels = attention.grid_of(loaded.model, spec.resolution)
        references = {"uniform": attention.uniform_distance(rows, cols, pixels),
                      "nearer_half": attention.nearer_half_distance(rows, cols, pixels),
                      "local": attention.local_distance(rows, cols, pixels)}
        scores, what = attention_statistic(method, distances, class_mass, references)
        examples = {"dataset": "imagenet", "split": "val", "n": len(images), "fingerprint": fingerprint}
        provenance = checkpoint_provenance(loaded)
        preprocessing = VIT_JAX.describe(loaded.data_config, spec.resolution)
        label = f"analysis: attention distance (App. D.7) on {len(images)} ImageNet val images"
        metadata = {"tier": "analysis", "tier_label": label, "method": method, "statistic": what,
                    "grid": [rows, cols], "pixels_per_patch": pixels, "layers": int(distances.shape[1]),
                    "heads": int(distances.shape[2]), "references_px": references, "examples": examples,
                    "checkpoint": provenance, "pipeline": preprocessing,
                    "per_layer_mean_px": [round(float(v), 2) for v in distances.mean(axis=(0, 2))],
                    "class_token": attention.class_token_summary(class_mass),
                    "figure_series": attention.per_head_figure(distances, spec.paper_model)}
        return TierResult(tier="analysis", label=label, dataset="imagenet", checkpoint=spec.key, correct=None,
                          scores=scores, examples=examples, provenance=provenance["provenance"],
                          method=method, metadata=metadata, pipeline=preprocessing)

    @staticmethod
    def distances(runner: Any, loaded: Any, images: Any, fingerprint: str, resolution: int) -> tuple[np.ndarray, np.ndarray]:
        """(images, layers, heads) mean attention distances and class-token masses, computed once per checkpoint
        and image set."""
        import torch

        from measure.analysis import attention
        from measure.data.pipelines import VIT_JAX
        from measure.run.cache import source_version

        vit = loaded.model
        layers, heads = len(vit.blocks), int(vit.blocks[0].attn.num_heads)
        size = layers * heads

        class Probe(torch.nn.Module):
            """The model's attention distances and class-token masses as its output, so the batched, cached
            inference runs it."""

            def __init__(self) -> None:
                super().__init__()
                self.vit = vit

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                distance, mass = attention.attention_distances(self.vit, x, resolution)
                return torch.from_numpy(np.concatenate([distance.reshape(len(x), -1), mass.reshape(len(x), -1)], 1))

        recipe = {"tier": "analysis", "output": "attention_distance+class_token_mass",
                  "code": source_version(attention)}
        inference = runner.infer(loaded, images, "imagenet", "val", recipe,
                                 lambda d: {"distance": d[:, :size], "class_token_mass": d[:, size:]}, fingerprint,
                                 preprocessing=VIT_JAX.describe(loaded.data_config, resolution), model=Probe())
        return tuple(np.asarray(inference.arrays[name], dtype=np.float64).reshape(-1, layers, heads)
                     for name in ("distance", "class_token_mass"))


def attention_statistic(method: str, distances: np.ndarray, class_mass: np.ndarray,
                        references: dict[str, float]) -> tuple[np.ndarray, str]:
    """The per-image scores of attention `method` and what they are, from the (images, layers, heads) distances
    and class-token masses and the grid's references (px)."""
    from measure.analysis import attention

    early, late = attention.early_layers(distances.shape[1]), attention.second_half(distances.shape[1])
    wide = references["nearer_half"]
    dropped = f"heads with class-token mass above {attention.CLASS_TOKEN_DOMINATED} left out"
    chosen = f"{dropped}; each head chosen on the other fold of the images (even/odd positions)"
    statistics = {
        "attention_depth": (lambda: attention.depth_trend(distances, class_mass),
                            (f"Spearman rho between layer and the layer's mean attention distance over its heads, "
                             f"per image ({dropped})")),
        "attention_lowest_layer": (lambda: attention.lowest_layer_widest(distances, class_mass),
                                   (f"mean attention distance (px) of the first layer's most global head, per image "
                                    f"({chosen})")),
        "attention_early_local": (lambda: attention.low_layers_local(distances, class_mass),
                                  (f"mean attention distance (px) of each of the first {early} layer(s)' most local "
                                   f"head, averaged, per image ({chosen})")),
        "attention_local_depth": (lambda: attention.local_depth_trend(distances, class_mass),
                                  (f"Spearman rho between layer and the layer's most local head's mean attention "
                                   f"distance, per image ({chosen})")),
        "attention_second_half_wide": (lambda: attention.second_half_wide_share(distances, class_mass, wide),
                                       (f"share of the heads of layers {late.start}-{late.stop - 1} (from 0) reaching "
                                        f"farther than {wide:.1f} px (a head spread evenly over the nearer half of "
                                        f"the image), per image ({dropped})")),
    }
    if method not in statistics:
        raise ValueError(f"unknown attention method {method!r}: one of {', '.join(statistics)}")
    compute, what = statistics[method]
    return compute(), what
