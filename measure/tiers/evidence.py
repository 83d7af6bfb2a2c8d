"""`Evidence`: what claim tests ask for — paper models measured under a tier, or why they cannot be.

`measure(tier, models, dataset, method)` resolves each paper model to its public checkpoint
(`measure/tiers/models.py`; the probe tier reads the pre-logits twin where one is public), reads every side
the same way where the registry allows it (`measure/tiers/reading.py`: one pipeline, one representation kind
for the probe; each fine-tune through its authors' evaluation pipeline; after the finetune tier, each side's
kept recipe names its evaluation resolution and resize), measures them with the session's
`TierRunner`, and returns either one `TierResult` per model — over the same examples, in the same order, or
it raises `ExampleMismatch` (a defect, never a verdict) — or one `Unavailable`:

* untestable — a model has no public checkpoint (a registry row marked `unreleased`);
* not run — the tier was not selected, or checkpoints / dataset folders are missing: everything to
  provide in one reason, each thing on its own in `needs` (the report counts the checks waiting on
  each), plus the GPU hint on a machine without CUDA.

It never judges and never ends a test: the claim test decides what an `Unavailable` means for its
check and hands results to the plugin's rules.
"""

from __future__ import annotations

from typing import Any

from measure.errors import Missing
from measure.tiers.models import Finder, Model, default_finder, resolve
from measure.tiers.reading import Reading, plan_reading
from measure.tiers.results import TierResult, Unavailable, require_same_examples


class Evidence:
    """Measurements for claim tests, over one `TierRunner` and the checkpoint registry."""

    def __init__(self, runner: Any, find: Finder | None = None) -> None:
        self.runner = runner
        self._find = find

    @property
    def find(self) -> Finder:
        if self._find is None:
            self._find = default_finder()
        return self._find

    def checkpoint(self, model: Model, *, pre_logits: bool = False) -> Any:
        """The registry row for `model`, or Unavailable(untestable); see measure.tiers.models.resolve."""
        return resolve(model, pre_logits=pre_logits, find=self.find)

    def specs(self, tier: str, models: list[Model]) -> list[Any] | Unavailable:
        """The registry row each model is measured with under `tier`, or why one cannot be."""
        specs = []
        for model in models:
            spec = self.checkpoint(model, pre_logits=tier == "probe")
            if isinstance(spec, Unavailable):
                return spec
            specs.append(spec)
        return specs

    def reading(self, tier: str, models: list[Model], pipeline: str = "", dataset: str = "") -> Reading:
        """How `tier` would read each model (pipeline, representation; after fine-tuning on `dataset`, each
        recipe's evaluation resolution and resize) — from the registry and the run's recipes, offline; a model
        with nothing public is its unreleased row (which gives no representation)."""
        specs = []
        for model in models:
            spec = self.checkpoint(model, pre_logits=tier == "probe")
            if isinstance(spec, Unavailable):
                spec = self.find(model.paper_model, model.pretraining, model.finetuned_on, resolution=model.resolution)
            specs.append(spec)
        return plan_reading(tier, specs, pipeline, dataset, getattr(self.runner, "finetune_settings", None))

    @staticmethod
    def reading_rows(tier: str, specs: list[Any], pipeline: str = "") -> Reading:
        """`reading` for registry rows named directly."""
        return plan_reading(tier, specs, pipeline)

    def measure(self, tier: str, models: list[Model], dataset: str, method: str | None = None,
                pipeline: str = "") -> list[TierResult] | Unavailable:
        """Each model measured on `dataset` under `tier`, or one Unavailable saying why not. `pipeline`: the
        eval tier's preprocessing for every side instead of each row's own (e.g. "timm")."""
        specs = self.specs(tier, models)
        if isinstance(specs, Unavailable):
            return specs
        return self.measure_rows(tier, specs, dataset, method, pipeline)

    def measure_rows(self, tier: str, specs: list[Any], dataset: str, method: str | None = None,
                     pipeline: str = "") -> list[TierResult] | Unavailable:
        """`measure` for registry rows named directly (e.g. a checkpoint and its transformers twin)."""
        from measure.errors import Unreleased
        from measure.tiers.runner import GPU_HINT, MissingResources, TierNotSelected

        unreleased = next((spec for spec in specs if not spec.released), None)
        if unreleased is not None:
            return Unavailable.untestable(f"no public checkpoint {unreleased.key}: {unreleased.note}")
        reading = plan_reading(tier, specs, pipeline)
        results, problems, needs = [], [], []
        for spec, side in zip(specs, reading.sides):
            params: dict[str, Any] = {}
            if tier == "probe":
                params = {"method": method or "fewshot", "representation": side.representation}
            elif tier == "eval" and pipeline:
                params = {"pipeline": pipeline}
            elif tier == "analysis":
                params = {"method": method}
            try:
                results.append(self.runner.measure(tier, spec, dataset, **params))
            except Unreleased as unreleased:  # the loader knows a row has no public weights
                return Unavailable.untestable(f"no public checkpoint of {spec.paper_model} ({spec.key}): {unreleased}")
            except TierNotSelected as missing:
                return Unavailable.not_run(str(missing), [missing.need])
            except MissingResources as missing:
                problems += missing.parts
                needs += missing.needs
            except Missing as missing:
                problems.append(str(missing))
                needs.append(missing.need)
        if problems:
            handler = getattr(self.runner, "available", {}).get(tier)
            needs_gpu = getattr(getattr(handler, "scope", None), "needs_gpu", True)
            if needs_gpu and self.runner.device.type != "cuda":
                problems.append(GPU_HINT)  # not required: a CPU with the data and cache can run it
                needs.append(GPU_HINT)
            return Unavailable.not_run("; ".join(dict.fromkeys(problems)), needs)
        require_same_examples(*results)  # an ordering pairs them example by example
        return results

    def finetune_recipe(self, dataset: str) -> Any:
        """The recipe this run fine-tunes `dataset` with: the paper's, or a labelled shortened one."""
        return self.runner.finetune_recipe(dataset)

    def selected(self, tier: str) -> Unavailable | None:
        """None if the run selected `tier`, else why the check is not run."""
        from measure.tiers.runner import TierNotSelected

        try:
            self.runner.require(tier)
        except TierNotSelected as missing:
            return Unavailable.not_run(str(missing), [missing.need])
        return None

    # -- how results are described in records (descriptions, not judgements) ----------------------

    @staticmethod
    def tier(*results: TierResult) -> str:
        """The evidence tier of a check on `results`; for the probe, the representation each side read
        (in the order given, as the ordering's A vs B)."""
        first = results[0]
        if first.tier != "probe":
            return first.label
        labels = [result.representation["label"] for result in results]
        read = " vs ".join(labels) if len(set(labels)) > 1 else labels[0] + (", both sides" if len(labels) > 1 else "")
        return f"probe ({first.method}): {read}"

    @staticmethod
    def label(model: Model, result: TierResult) -> str:
        return f"{model.label} ({result.metadata['checkpoint']['hub_id']})"

    @staticmethod
    def details(*results: TierResult) -> dict[str, Any]:
        return {result.checkpoint: dict(result.metadata) for result in results}
