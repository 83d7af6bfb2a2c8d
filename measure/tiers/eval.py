"""The eval tier: the authors' ImageNet fine-tunes, run as published, on ImageNet val and ImageNet-ReaL.

Top-1 correctness per validation image against the ILSVRC-2012 label, or — for ReaL (Beyer et al.
2020) — whether the top-1 class is in the image's ReaL label set (images without ReaL labels are not
scored). ImageNet and ReaL are the same images in the same order, so one cached prediction entry per
checkpoint serves both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from measure.tiers.catalog import EVAL
from measure.tiers.results import TierResult

IMAGENET_CLASSES = 1000


class EvalTier:
    scope = EVAL

    def memo_key(self, spec: Any, dataset: str) -> tuple:
        return (spec.key, dataset)

    def measure(self, runner: Any, spec: Any, dataset: str) -> TierResult:
        from measure.data import imagenet
        from measure.data.fingerprint import dataset_fingerprint, examples_identity
        from measure.run.inference import logits_outputs
        from measure.tiers.provenance import checkpoint_provenance, json_safe

        if getattr(spec, "finetuned_on", "") != "imagenet":
            raise ValueError(f"{spec.key} is not an ImageNet fine-tune; the eval tier runs classifiers as published")
        loaded, opened = runner.resources(spec, spec.num_classes or IMAGENET_CLASSES, [(dataset, "val")])
        data = opened[(dataset, "val")]
        fingerprint = dataset_fingerprint(data)
        inference = runner.infer(loaded, data, "imagenet", "val", {"tier": "eval", "output": "top5"},
                                 logits_outputs, fingerprint)
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
                  "preprocessing": "timm eval transform of the checkpoint's data_config", "scoring": scoring}
        provenance = checkpoint_provenance(loaded)
        metadata = {"tier": "eval", "tier_label": "eval", "dataset": dataset, "split": "val", "examples": examples,
                    "recipe": recipe, "checkpoint": provenance, "preprocessing": json_safe(loaded.data_config),
                    "inference": json_safe(dict(inference.meta))}
        return TierResult(tier="eval", label="eval", dataset=dataset, checkpoint=spec.key,
                          correct=np.asarray(correct, dtype=bool), examples=examples,
                          provenance=provenance["provenance"], recipe=recipe, metadata=metadata)
