"""`Evidence`: what claim tests ask for — paper models measured under a tier, or why they cannot be.

`reading(tier, models, ...)` plans how the tier object (`measure.tiers.protocol`) would read each side — once per
check; `measure(tier, models, dataset, method, reading=...)` takes that plan, resolves each paper model to its
public checkpoint (`measure/tiers/paper_models.py`; the tier says which row: the probe reads the pre-logits twin
where one is public), reads every side
the same way where the registry allows it (`measure/tiers/reading.py`: one pipeline, one representation kind
for the probe; each fine-tune through its authors' evaluation pipeline; after the finetune tier, each side's
kept recipe names its evaluation resolution and resize), measures them with the session's
`TierRunner`, and returns either one `TierResult` per model (a `Measured` list that carries the plan it was read
with) — over the same examples, in the same order, or it raises `ExampleMismatch` (a defect, never a verdict) — or
one `Unavailable` (`measure.errors`: the form a missing input has from the library to the check):

* untestable — a model has no public checkpoint (a registry row marked `unreleased`);
* not run — the tier was not selected, or checkpoints / dataset folders are missing: everything to
  provide in one reason, each thing on its own in `needs` (the report counts the checks waiting on
  each), plus the GPU hint on a machine without CUDA.

It never judges and never ends a test: the claim test decides what an `Unavailable` means for its
check and hands results to the plugin's rules.
"""

from __future__ import annotations

from typing import Any

from measure.errors import Missing, Unreleased
from measure.tiers.paper_models import Finder, Model, default_finder, resolve
from measure.tiers.protocol import Tier
from measure.tiers.protocol import tier as standard_tier
from measure.tiers.reading import Reading
from measure.tiers.results import TierResult, Unavailable, require_same_examples


class Measured(list):
    """One `TierResult` per side, in the order asked, with the `reading` (the plan) they were measured by."""

    def __init__(self, results: list[TierResult], reading: Reading) -> None:
        super().__init__(results)
        self.reading = reading


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

    def tier_of(self, name: str) -> Tier:
        """The tier object called `name`: the runner's own where it has one, else the standard one."""
        return standard_tier(name, getattr(self.runner, "available", None))

    def checkpoint(self, model: Model, *, pre_logits: bool = False) -> Any:
        """The registry row for `model`, or Unavailable(untestable); see measure.tiers.paper_models.resolve."""
        return resolve(model, pre_logits=pre_logits, find=self.find)

    def specs(self, tier: str, models: list[Model]) -> list[Any] | Unavailable:
        """The registry row each model is measured with under `tier`, or why one cannot be."""
        specs = []
        for model in models:
            spec = self.checkpoint(model, pre_logits=self.tier_of(tier).pre_logits)
            if isinstance(spec, Unavailable):
                return spec
            specs.append(spec)
        return specs

    def reading(self, tier: str, models: list[Model], pipeline: str = "", dataset: str = "") -> Reading:
        """How `tier` would read each model (pipeline, representation; after fine-tuning on `dataset`, each
        recipe's evaluation resolution and resize) — from the registry and the run's recipes, offline; a model
        with nothing public is its unreleased row (which gives no representation)."""
        handler = self.tier_of(tier)
        specs = []
        for model in models:
            spec = self.checkpoint(model, pre_logits=handler.pre_logits)
            if isinstance(spec, Unavailable):
                spec = self.find(model.paper_model, model.pretraining, model.finetuned_on, resolution=model.resolution)
            specs.append(spec)
        return handler.plan(specs, pipeline=pipeline, dataset=dataset,
                            settings=getattr(self.runner, "finetune_settings", None))

    def reading_rows(self, tier: str, specs: list[Any], pipeline: str = "") -> Reading:
        """`reading` for registry rows named directly."""
        return self.tier_of(tier).plan(specs, pipeline=pipeline)

    def measure(self, tier: str, models: list[Model], dataset: str, method: str | None = None,
                pipeline: str = "", reading: Reading | None = None) -> Measured | Unavailable:
        """Each model measured on `dataset` under `tier`, or one Unavailable saying why not. `pipeline`: the
        eval tier's preprocessing for every side instead of each row's own (e.g. "timm"); `reading`: the plan
        `reading(...)` gave for these models (planned here when not given)."""
        specs = self.specs(tier, models)
        if isinstance(specs, Unavailable):
            return specs
        return self.measure_rows(tier, specs, dataset, method, pipeline,
                                 reading=reading or self.reading(tier, models, pipeline, dataset))

    def measure_rows(self, tier: str, specs: list[Any], dataset: str, method: str | None = None,
                     pipeline: str = "", reading: Reading | None = None) -> Measured | Unavailable:
        """`measure` for registry rows named directly (e.g. a checkpoint and its transformers twin)."""
        from measure.tiers.runner import GPU_HINT, MissingResources, TierNotSelected

        unreleased = next((spec for spec in specs if not spec.released), None)
        if unreleased is not None:
            return Unavailable.untestable(f"no public checkpoint {unreleased.key}: {unreleased.note}")
        handler = self.tier_of(tier)
        reading = reading or handler.plan(specs, pipeline=pipeline)
        results, problems, needs = [], [], []
        for spec, side in zip(specs, reading.sides):
            try:
                results.append(self.runner.measure(tier, spec, dataset,
                                                   **handler.parameters(side, method=method, pipeline=pipeline)))
            except Unreleased as unreleased:  # the loader knows a row has no public weights
                return Unavailable.untestable(f"no public checkpoint of {spec.paper_model} ({spec.key}): {unreleased}")
            except TierNotSelected as missing:
                return missing
            except MissingResources as missing:
                problems += missing.parts
                needs += missing.needs
            except Missing as missing:
                problems.append(str(missing))
                needs.append(missing.need)
        if problems:
            if handler.scope.needs_gpu and self.runner.device.type != "cuda":
                problems.append(GPU_HINT)  # not required: a CPU with the data and cache can run it
                needs.append(GPU_HINT)
            return Unavailable.not_run("; ".join(dict.fromkeys(problems)), needs)
        require_same_examples(*results)  # an ordering pairs them example by example
        return Measured(results, reading)

    def finetune_recipe(self, dataset: str, paper_model: str = "", pretraining: str = "") -> Any:
        """The recipe this run fine-tunes `paper_model` on `dataset` with: the paper's, or a labelled shortened one."""
        return self.runner.finetune_recipe(dataset, paper_model, pretraining)

    def selected(self, tier: str) -> Unavailable | None:
        """None if the run selected `tier`, else why the check is not run."""
        from measure.tiers.runner import TierNotSelected

        try:
            self.runner.require(tier)
        except TierNotSelected as missing:
            return missing
        return None

    # -- how results are described in records (descriptions, not judgements) ----------------------

    @staticmethod
    def tier(*results: TierResult) -> str:
        """The evidence tier of a check on `results`, as their tier describes it (the probe: the representation
        each side read, in the order given, as the ordering's A vs B)."""
        try:
            handler = standard_tier(results[0].tier)
        except ValueError:  # a tier outside the standard set labels its own results
            return results[0].label
        return handler.describe(results)

    @staticmethod
    def label(model: Model, result: TierResult) -> str:
        return f"{model.label} ({result.metadata['checkpoint']['hub_id']})"

    @staticmethod
    def details(*results: TierResult) -> dict[str, Any]:
        return {result.checkpoint: dict(result.metadata) for result in results}
