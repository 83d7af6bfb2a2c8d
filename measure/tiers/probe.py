"""The probe tier: frozen pre-trained features read out linearly on CIFAR-10/100, Pets, Flowers-102.

Few-shot (§4.1: closed-form regression to {-1, 1}^K on k examples per class, over `readout.FEWSHOT_DRAWS`
draws of the k examples) or a full linear probe (`measure/readout.py`). Every model is read through one
pipeline, big_vision's few-shot evaluation (`measure.data.pipelines.BIG_VISION_FEWSHOT`), at the
representation kind the comparison chose (`measure.models.representations.choose`); the result names both,
and both are part of the feature cache key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from measure.tiers.protocol import TierBase
from measure.tiers.results import TierResult
from measure.tiers.scopes import PROBE


def feature_recipe(representation: Any) -> dict[str, Any]:
    # The representation is part of the cache key: the same weights read at another layer are other features.
    return {"tier": "probe", "output": "features", "representation": representation.key}


class ProbeTier(TierBase):
    """Frozen features read out linearly; every side at the representation kind the comparison shares."""

    scope = PROBE
    pre_logits = True  # §4.1 reads the pre-logits layer: the registry's twin that keeps it, where one is public
    repeats = "draws"  # few-shot: repeated draws of the k training examples, paired by draw

    def plan(self, specs: Sequence[Any], *, pipeline: str = "", dataset: str = "", settings: Any = None) -> Any:
        from measure.tiers.reading import probe_reading

        return probe_reading(specs)

    def parameters(self, side: Any, *, method: str | None = None, pipeline: str = "") -> dict[str, Any]:
        return {"method": method or "fewshot", "representation": side.representation}

    def describe(self, results: Sequence[Any]) -> str:
        """The method and the representation each side read (in the order given, as the ordering's A vs B)."""
        labels = [result.representation["label"] for result in results]
        read = " vs ".join(labels) if len(set(labels)) > 1 else labels[0] + (", both sides" if len(labels) > 1 else "")
        return f"probe ({results[0].method}): {read}"

    def needs(self, rows: Sequence[Any]) -> list[Any]:
        """Per pre-trained model, the twin that keeps the paper's pre-logits layer where one is public."""
        from measure.tiers.paper_models import Model, resolve

        chosen = (resolve(Model(spec.paper_model, spec.pretraining), pre_logits=True) for spec in super().needs(rows))
        return list({spec.key: spec for spec in chosen}.values())

    def words(self, method: str | None = None) -> str:
        return f"probe ({method or 'fewshot'})"

    def how(self, method: str | None = None) -> str:
        return f" ({method})"

    def pairing(self, method: str | None = None) -> str:
        if (method or "fewshot") == "fewshot":
            return "per-example correctness paired, over repeated few-shot draws paired by draw"
        return super().pairing(method)

    def memo_key(self, spec: Any, dataset: str, method: str, representation: str = "") -> tuple:
        return (spec.key, dataset, method, representation)

    def measure(self, runner: Any, spec: Any, dataset: str, method: str, representation: str = "") -> TierResult:
        from measure import readout
        from measure.data.datasets import DATASETS
        from measure.data.fingerprint import dataset_fingerprint, examples_identity
        from measure.data.pipelines import BIG_VISION_FEWSHOT
        from measure.models import representations
        from measure.run.cache import source_version
        from measure.run.inference import feature_outputs
        from measure.tiers.provenance import checkpoint_provenance, plain_data

        pipeline = BIG_VISION_FEWSHOT
        # uint8 to the device, normalised there (measure.data.pipelines.DeviceStage)
        loaded, opened = runner.resources(spec, 0, [(dataset, "train"), (dataset, "test")],
                                          pipeline=pipeline.staged(), resolution=spec.resolution)
        stage = pipeline.stages(loaded.data_config, spec.resolution)[1]
        module = representations.feature_module(loaded, representation)
        read = representations.describe(loaded, representation)
        preprocessing = pipeline.describe(loaded.data_config, spec.resolution)
        fingerprints = {split: dataset_fingerprint(opened[(dataset, split)]) for split in ("train", "test")}
        splits = {split: runner.infer(loaded, opened[(dataset, split)], dataset, split, feature_recipe(read),
                                      feature_outputs, fingerprints[split], preprocessing=preprocessing, model=module,
                                      stage=stage)
                  for split in ("train", "test")}
        num_classes = DATASETS[dataset].num_classes
        train, test = splits["train"].arrays, splits["test"].arrays
        solve = readout.fewshot_probe if method == "fewshot" else readout.linear_probe
        method_recipe = readout.FEWSHOT_RECIPE if method == "fewshot" else readout.LINEAR_RECIPE
        device = runner.device if runner.device.type == "cuda" else "cpu"

        def compute(_: int) -> dict[str, np.ndarray]:
            result = solve(train["features"], train["target"], test["features"], test["target"],
                           num_classes, device=device)
            compute.details = result.details  # type: ignore[attr-defined]
            arrays = {"predictions": result.predictions}
            if result.draws is not None:
                arrays["draw_predictions"] = result.draws.astype(np.int16)
            return arrays

        key = {"kind": "probe", "method": method, "recipe": method_recipe, "num_classes": num_classes,
               "train_features": splits["train"].cache.digest, "test_features": splits["test"].cache.digest,
               "probe_code": source_version(readout)}
        solved = runner.cache.get_or_compute(key, 1, compute, meta=lambda: {"details": compute.details})
        predictions = solved.arrays["predictions"]
        draws = tuple(row == test["target"] for row in solved.arrays["draw_predictions"]) \
            if "draw_predictions" in solved.arrays else ()
        details = plain_data(solved.meta.get("details", {}))
        label = f"probe ({method}): {read.label}"
        examples = examples_identity(dataset, "test", opened[(dataset, "test")], fingerprint=fingerprints["test"])
        recipe = {"tier": "probe", "features": read.label, "preprocessing": pipeline.name, **method_recipe}
        provenance = checkpoint_provenance(loaded)
        metadata = {
            "tier": "probe", "tier_label": label, "dataset": dataset, "split": "test", "method": method,
            "examples": examples, "representation": read.to_json(), "recipe": recipe, "pipeline": preprocessing,
            "probe_details": details, "probe_from_cache": solved.from_cache,
            "checkpoint": provenance, "checkpoint_data_config": plain_data(loaded.data_config),
            "inference": {split: plain_data(dict(inf.meta)) for split, inf in splits.items()},
        }
        return TierResult(tier="probe", label=label, dataset=dataset, checkpoint=spec.key,
                          correct=predictions == test["target"], examples=examples,
                          provenance=provenance["provenance"], recipe=recipe,
                          representation=read.to_json(), method=method, metadata=metadata, draws_correct=draws,
                          draw_fraction=float((details.get("draws") or {}).get("fraction_of_pool") or 0.0),
                          pipeline=preprocessing)
