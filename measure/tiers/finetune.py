"""The finetune tier: the paper's fine-tuning recipe (App. B.1.1, Table 4) on the four small datasets.

The lr (and for ResNets the recipe: the paper's or BiT-HyperRule) is picked on the held-out split, then
the final run(s) train on the full training set and are scored on the test set (`measure/train/`); a
recipe that could not run is the result's `handicap`. `correct` is the first seed's test correctness (what
orderings pair), `seeds_correct` every seed's (what value checks average). A shortened recipe
(`--claims-finetune-steps/-batch`) is labelled as such in the result, never passed off as the paper's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from measure.tiers.catalog import FINETUNE
from measure.tiers.results import TierResult

PAPER_LABEL = "finetune (paper recipe, App. B.1.1)"


def tier_label(recipe: Any) -> str:
    if recipe.is_paper:
        return PAPER_LABEL
    return (f"finetune (SHORTENED recipe: {recipe.steps} steps x batch {recipe.batch_size} at "
            f"{recipe.resolution}px, not the paper's)")


class FinetuneTier:
    scope = FINETUNE

    def memo_key(self, spec: Any, dataset: str) -> tuple:
        return (spec.key, dataset)

    def measure(self, runner: Any, spec: Any, dataset: str) -> TierResult:
        from measure.data.catalog import DATASETS
        from measure.data.fingerprint import dataset_fingerprint, examples_identity
        from measure.tiers.provenance import checkpoint_provenance, json_safe
        from measure.train import protocol as ft_mod

        # Opened once up front (no transform: nothing is decoded) to list everything missing at once, refuse
        # a partial split and fingerprint the contents; fine-tuning opens the splits again with its own
        # transforms, which must be the same examples.
        loaded, opened = runner.resources(spec, 0, [(dataset, "train"), (dataset, "test")])
        fingerprints = {split: dataset_fingerprint(opened[(dataset, split)]) for split in ("train", "test")}

        def open_complete(name: str, split: str, transform: Callable) -> Any:
            data = runner.open_dataset(name, split, transform)
            runner.require_complete(name, split, data)
            if dataset_fingerprint(data) != fingerprints[split]:
                raise RuntimeError(f"{name}/{split} changed on disk during the run (content fingerprint differs)")
            return data

        runtime = ft_mod.Runtime(device=runner.device, eval_batch_size=runner.batch_size,
                                 **({} if runner.num_workers is None else {"num_workers": runner.num_workers}))
        # Every cache entry of the run (sweep, finals, predictions) is keyed by the datasets' contents too.
        cache = runner.cache.scoped({"examples": fingerprints})
        result = ft_mod.finetune_checkpoint(loaded, dataset, DATASETS[dataset].num_classes, open_complete,
                                            cache, runner.finetune_settings, runtime)
        recipe = result.recipe
        label = tier_label(recipe)
        examples = examples_identity(dataset, "test", opened[(dataset, "test")], fingerprint=fingerprints["test"])
        provenance = checkpoint_provenance(loaded)
        metadata = json_safe({
            "tier": "finetune", "tier_label": label, "dataset": dataset, "split": "test", "examples": examples,
            "checkpoint": provenance, "preprocessing": loaded.data_config,
            "pairing": "orderings pair the first seed's test predictions; every seed's accuracy is in "
                       "`seeds`, and value checks judge the seeds' mean",
            **result.metadata()})
        return TierResult(tier="finetune", label=label, dataset=dataset, checkpoint=spec.key,
                          correct=np.asarray(result.correct, dtype=bool), examples=examples,
                          provenance=provenance["provenance"], recipe=metadata.get("recipe", {}), metadata=metadata,
                          seeds_correct=tuple(np.asarray(run.correct, dtype=bool) for run in result.finals),
                          shortened=not recipe.is_paper, handicap=result.handicap)
