"""The analysis tier's readings of Figure 6 / App. D.8 (attention rollout against ImageNet's object boxes) and
Figure 7 (left) (the principal components of the patch-embedding filters), called by `AnalysisTier`.

* ``attention_rollout`` (dataset ``imagenet``) — per image, the class token's rollout mass inside the image's
  ILSVRC-2012 validation boxes (`measure.analysis.rollout`), with the boxes' area share as the paired reference
  (``reference`` in the metadata, one per image, same order as the scores). The first `IMAGES` validation images
  (as the attention-distance methods), through the vit_jax pipeline at the checkpoint's resolution; the maps are
  cached per checkpoint and image set, the boxes read each time (`measure.data.imagenet_boxes`).
* ``embedding_filters`` (dataset ``weights``) — per principal component (the top 28), the share of its energy at
  low spatial frequencies (`measure.analysis.filters`); the same statistic of the same architecture's randomly
  initialised filters is the paired reference (component k against component k).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from measure.tiers.results import TierResult

IMAGES = 128  # the attention-distance methods' images (App. D.7); Figure 6 / 14 show a "random selection"


def embedding_filters(runner: Any, spec: Any) -> TierResult:
    from measure.analysis import filters
    from measure.tiers.provenance import checkpoint_provenance

    loaded, _ = runner.resources(spec, 0, [])
    learned = filters.patch_filters(loaded.model)
    control = filters.random_init_filters(loaded.model)
    components, explained = filters.principal_components(learned)
    control_components, _ = filters.principal_components(control)
    scores = filters.low_frequency_share(components)
    reference = filters.low_frequency_share(control_components)
    size = learned.shape[-2:]
    examples = {"dataset": "weights", "split": "patch-embedding filters", "n": len(scores),
                "fingerprint": f"{spec.key}:{learned.shape[0]}x{'x'.join(str(v) for v in learned.shape[1:])}"}
    provenance = checkpoint_provenance(loaded)
    label = "analysis: patch-embedding filters (weights only)"
    what = (f"share of each of the top {len(scores)} principal components' energy (squared 2-D DCT-II coefficients, summed over RGB) at "
            f"spatial frequencies ≤ {filters.CUTOFF} cycles/pixel")
    metadata = {"tier": "analysis", "tier_label": label, "method": "embedding_filters", "statistic": what,
                "filters": list(learned.shape), "components": len(scores),
                "explained_variance": [round(float(v), 4) for v in explained],
                "reference": reference.tolist(), "reference_label": "the same architecture, randomly initialised "
                                                                   "(timm's init, seed 0)",
                "white_noise_share": round(filters.white_noise_share(*size), 4),
                "examples": examples, "checkpoint": provenance,
                "figure": filters.components_figure(components, f"{spec.paper_model}: top {len(scores)} principal "
                                                                f"components of the RGB patch-embedding filters")}
    return TierResult(tier="analysis", label=label, dataset="weights", checkpoint=spec.key, correct=None,
                      scores=scores, examples=examples, provenance=provenance["provenance"],
                      method="embedding_filters", metadata=metadata)


def attention_rollout(runner: Any, spec: Any) -> TierResult:
    from torch.utils.data import Subset

    from measure.analysis import rollout
    from measure.analysis.attention import grid_of
    from measure.data.fingerprint import dataset_fingerprint
    from measure.data.imagenet_boxes import boxes_folder, boxes_for
    from measure.data.pipelines import VIT_JAX
    from measure.errors import Missing
    from measure.tiers.provenance import checkpoint_provenance
    from measure.tiers.runner import MissingResources

    paths = getattr(runner.open_dataset, "paths", None)
    try:
        folder = boxes_folder(getattr(paths, "imagenet_boxes", None), getattr(paths, "imagenet_root", None))
        folder_missing = None
    except Missing as missing:
        folder, folder_missing = None, missing
    try:
        loaded, opened = runner.resources(spec, 0, [("imagenet", "val")], pipeline=VIT_JAX,
                                          resolution=spec.resolution)
    except MissingResources as missing:
        raise missing if folder_missing is None else _together(missing, folder_missing) from None
    if folder_missing is not None:
        raise MissingResources([folder_missing])
    data = opened[("imagenet", "val")]
    images = Subset(data, range(min(IMAGES, len(data))))
    names = [data.samples[i][0] for i in images.indices]
    boxes = boxes_for(folder, names)
    fingerprint = dataset_fingerprint(images)
    rows, cols, _ = grid_of(loaded.model, spec.resolution)
    maps = rollout_maps(runner, loaded, images, fingerprint, spec.resolution)
    coverage = np.stack([rollout.box_coverage(b.boxes, rows, cols) for b in boxes])
    mass, share = rollout.box_mass(maps, coverage), rollout.area_share(coverage)
    examples = {"dataset": "imagenet", "split": "val", "n": len(images), "fingerprint": fingerprint}
    provenance = checkpoint_provenance(loaded)
    preprocessing = VIT_JAX.describe(loaded.data_config, spec.resolution)
    label = f"analysis: attention rollout (App. D.8) on {len(images)} ImageNet val images with their boxes"
    what = ("share of the class token's attention rollout (Abnar & Zuidema 2020: heads averaged, identity added, "
            "rows renormalised, layers multiplied) inside the image's ILSVRC-2012 boxes, per image")
    short = [b.name for b in boxes]
    metadata = {"tier": "analysis", "tier_label": label, "method": "attention_rollout", "statistic": what,
                "grid": [rows, cols], "layers": len(loaded.model.blocks), "reference": share.tolist(),
                "reference_label": "the boxes' share of the image (a map spread evenly)",
                "boxes": {"folder": str(folder), "format": "ILSVRC2012_bbox_val_v3 PASCAL-VOC XML",
                          "per_image": [len(b.boxes) for b in boxes]},
                "mean_mass": round(float(mass.mean()), 4), "mean_area_share": round(float(share.mean()), 4),
                "examples": examples, "checkpoint": provenance, "pipeline": preprocessing,
                "figure": rollout.rollout_figure(maps, coverage, rows, cols, short,
                                                 f"{spec.paper_model}: attention rollout from the class token and "
                                                 f"the ImageNet boxes (first images)")}
    return TierResult(tier="analysis", label=label, dataset="imagenet", checkpoint=spec.key, correct=None,
                      scores=mass, examples=examples, provenance=provenance["provenance"],
                      method="attention_rollout", metadata=metadata, pipeline=preprocessing)


def _together(missing: Any, extra: Any) -> Any:
    """`missing` (MissingResources) with `extra` (Missing) added: every thing to provide, listed at once."""
    from measure.tiers.runner import MissingResources

    out = MissingResources([extra])
    out.parts, out.needs = (*missing.parts, *out.parts), (*missing.needs, *out.needs)
    out.args, out.need = ("; ".join(out.parts),), "; ".join(out.needs)
    return out


def rollout_maps(runner: Any, loaded: Any, images: Any, fingerprint: str, resolution: int) -> np.ndarray:
    """(images, patches) class-token rollout maps, computed once per checkpoint and image set."""
    import torch

    from measure.analysis import rollout
    from measure.data.pipelines import VIT_JAX
    from measure.run.cache import source_version

    vit = loaded.model

    class Probe(torch.nn.Module):
        """The model's rollout maps as its output, so the batched, cached inference runs it."""

        def __init__(self) -> None:
            super().__init__()
            self.vit = vit

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(rollout.attention_rollout(self.vit, x))

    recipe = {"tier": "analysis", "output": "attention_rollout", "code": source_version(rollout)}
    inference = runner.infer(loaded, images, "imagenet", "val", recipe, lambda d: {"rollout": d}, fingerprint,
                             preprocessing=VIT_JAX.describe(loaded.data_config, resolution), model=Probe())
    return np.asarray(inference.arrays["rollout"], dtype=np.float64)
