"""The eval tier: the authors' ImageNet fine-tunes, run as published, on ImageNet val and ImageNet-ReaL.

Top-1 correctness per validation image against the ILSVRC-2012 label, or — for ReaL (Beyer et al.
2020) — whether the top-1 class is in the image's ReaL label set (images without ReaL labels are not
scored). ImageNet and ReaL are the same images in the same order, so one cached prediction entry per
checkpoint and pipeline serves both.

Each checkpoint is read through the evaluation pipeline its authors used, named by its registry row
(``eval_pipeline``: vit_jax for the ViT and hybrid fine-tunes, BiT's own for BiT's; `measure.data.pipelines`),
at its fine-tuning resolution; a caller may ask for another (the harness check reads timm's published
numbers through timm's own preprocessing). The record names the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from measure.tiers.protocol import TierBase
from measure.tiers.results import TierResult
from measure.tiers.scopes import EVAL

IMAGENET_CLASSES = 1000


def reader_name(spec: Any, pipeline: str = "") -> str:
    """The pipeline `spec` is evaluated through: the one asked for, else its registry row's; a spec outside the
    registry (a test stand-in) without one is read through its own timm preprocessing."""
    return pipeline or getattr(spec, "eval_pipeline", "") or "timm"


class EvalTier(TierBase):
    """The authors' ImageNet fine-tunes as published; `pipeline` reads every side through one named pipeline."""

    scope = EVAL

    def plan(self, specs: Sequence[Any], *, pipeline: str = "", dataset: str = "", settings: Any = None) -> Any:
        from measure.data.pipelines import by_name
        from measure.tiers.reading import eval_reading

        return eval_reading(specs, [by_name(reader_name(s, pipeline)) for s in specs])

    def parameters(self, side: Any, *, method: str | None = None, pipeline: str = "") -> dict[str, Any]:
        return {"pipeline": pipeline} if pipeline else {}

    def needs(self, rows: Sequence[Any]) -> list[Any]:
        """The ImageNet fine-tunes."""
        return [spec for spec in rows if spec.finetuned_on]

    def memo_key(self, spec: Any, dataset: str, pipeline: str = "") -> tuple:
        return (spec.key, dataset, reader_name(spec, pipeline))

    def measure(self, runner: Any, spec: Any, dataset: str, pipeline: str = "") -> TierResult:
        from measure.data import imagenet
        from measure.data.fingerprint import dataset_fingerprint, examples_identity
        from measure.data.pipelines import by_name
        from measure.run.inference import logits_outputs
        from measure.tiers.provenance import checkpoint_provenance, plain_data

        if getattr(spec, "finetuned_on", "") != "imagenet":
            raise ValueError(f"{spec.key} is not an ImageNet fine-tune; the eval tier runs classifiers as published")
        reader = by_name(reader_name(spec, pipeline))
        # uint8 to the device, the pipeline's float arithmetic there (measure.data.pipelines.DeviceStage)
        loaded, opened = runner.resources(spec, spec.num_classes or IMAGENET_CLASSES, [(dataset, "val")],
                                          pipeline=reader.staged(), resolution=spec.resolution)
        data = opened[(dataset, "val")]
        fingerprint = dataset_fingerprint(data)
        preprocessing = reader.describe(loaded.data_config, spec.resolution)
        inference = runner.infer(loaded, data, "imagenet", "val", {"tier": "eval", "output": "top5"},
                                 logits_outputs, fingerprint, preprocessing=preprocessing,
                                 stage=reader.stages(loaded.data_config, spec.resolution)[1])
        top1 = inference.arrays["top5"][:, 0]
        if dataset == "imagenet_real":
            labels = imagenet.real_labels(data)
            correct = imagenet.real_correct(top1, labels)
            scoring = "ReaL (Beyer et al. 2020): top-1 in the image's ReaL label set; unlabeled images not scored"
            examples = examples_identity(dataset, "val", data, n=len(correct), extra=labels, fingerprint=fingerprint)
        else:
            correct = top1 == inference.arrays["target"]
            scoring = "top-1 == ILSVRC-2012 validation label"
            examples = examples_identity(dataset, "val", data, fingerprint=fingerprint)
        recipe = {"tier": "eval", "model": "checkpoint as published, with its own ImageNet head",
                  "preprocessing": f"{reader.name}: {reader.definition}", "scoring": scoring}
        provenance = checkpoint_provenance(loaded)
        metadata = {"tier": "eval", "tier_label": "eval", "dataset": dataset, "split": "val", "examples": examples,
                    "recipe": recipe, "checkpoint": provenance, "pipeline": preprocessing,
                    "checkpoint_data_config": plain_data(loaded.data_config), "inference": plain_data(dict(inference.meta))}
        return TierResult(tier="eval", label="eval", dataset=dataset, checkpoint=spec.key,
                          correct=np.asarray(correct, dtype=bool), examples=examples,
                          provenance=provenance["provenance"], recipe=recipe, metadata=metadata,
                          pipeline=preprocessing)
