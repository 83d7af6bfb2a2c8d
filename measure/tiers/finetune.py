"""The finetune tier: the paper's fine-tuning recipe (App. B.1.1, Table 4) on the four small datasets, and on
ImageNet for the value cells that no released fine-tune reproduces.

The lr (and for ResNets the recipe: the paper's or BiT-HyperRule) is picked on the held-out split, then
the final run(s) train on the full training set and are scored on the test set (`measure/train/`); a
recipe that could not run is the result's `handicap`. `correct` is the first seed's test correctness,
`seeds_correct` every seed's (orderings pair them seed by seed; value checks average them); `pipeline` is how
the kept recipe evaluated (resolution, resize kernel, antialiasing: `FinetuneRecipe.evaluation`). A shortened recipe
(`--claims-finetune-steps/-batch`) is labelled as such in the result, never passed off as the paper's.

ImageNet: trained on the ILSVRC-2012 train folder (1 % held out for the lr sweep, App. B.1.1), scored on val;
ImageNet-ReaL is the same fine-tune's val predictions scored against the ReaL labels. Which paper setting a
model is fine-tuned in (Table 2's 512 px + Polyak, or 384 px) is `measure.train.recipe.TABLE2_IMAGENET_FINETUNES`.
The paper's ImageNet recipe (10⁷ forward-backward passes at 384-512 px: tens of GPU-hours per run) is never
trained on a machine without CUDA: there the tier reads the runs from the cache, where a torchrun launch
(`python -m measure.train.launch`, docs/FINETUNE.md) put them, or says what it needs (`ImagenetFinetune`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from measure.data.datasets import DATASETS, IMAGENET_NEED, IMAGENET_SIZES, IMAGENET_TRAIN_NEED
from measure.errors import Missing
from measure.tiers.protocol import TierBase
from measure.tiers.results import TierResult
from measure.tiers.scopes import FINETUNE, FINETUNE_IMAGENET
from measure.train.cost import FinetuneCost, finetune_cost
from measure.train.recipe import FINETUNED_ON, FinetuneRecipe
from measure.train.settings import FinetuneSettings

PAPER_LABEL = "finetune (paper recipe, App. B.1.1)"
LAUNCH = "torchrun --nproc-per-node 8 -m measure.train.launch"
SEEDS_NEEDED = 2  # an ordering's spread between seeds needs two; the paper's values are over 3 (--claims-seeds 0,1,2)


def tier_label(recipe: Any) -> str:
    if recipe.is_paper:
        if recipe.polyak_decay:
            return (f"finetune (paper recipe, App. B.1.1, in Table 2's ImageNet setting, §4.1: {recipe.resolution} px, "
                    f"Polyak averaging {recipe.polyak_decay:g})")
        return PAPER_LABEL
    return (f"finetune (SHORTENED recipe: {recipe.steps} steps x batch {recipe.batch_size} at "
            f"{recipe.resolution}px, not the paper's)")


@dataclass(frozen=True)
class ImagenetFinetune:
    """What fine-tuning `paper_model` (pre-trained on `pretraining`) on ImageNet takes: the setting, the data, the
    GPUs. Offline and without torch for ViTs, so a claim can name it in a plan or a not-run reason."""

    paper_model: str
    pretraining: str
    recipe: FinetuneRecipe
    cost: FinetuneCost

    @property
    def setting(self) -> str:
        if self.recipe.polyak_decay:
            return (f"Table 2's setting, §4.1: {self.recipe.resolution} px, Polyak averaging {self.recipe.polyak_decay:g}, "
                    f"{self.recipe.steps:,} steps x batch {self.recipe.batch_size}")
        return (f"App. B.1.1 / Table 5's setting: {self.recipe.resolution} px, {self.recipe.steps:,} steps x batch "
                f"{self.recipe.batch_size}")

    @property
    def gpu_need(self) -> str:
        """One need item, the same wherever this fine-tune is missing."""
        return (f"GPUs to fine-tune {self.paper_model} on ImageNet ({self.setting}): {self.cost.describe()}; train it "
                f"with `{LAUNCH}` (docs/FINETUNE.md), then the suite reads the cached runs")

    @property
    def needs(self) -> tuple[str, ...]:
        """Everything besides the tier: the training and validation images, and the GPUs."""
        return (IMAGENET_TRAIN_NEED, IMAGENET_NEED, self.gpu_need)

    @property
    def tier(self) -> str:
        """The tier a plan names."""
        return f"finetune on the ImageNet train folder ({self.setting})"


def imagenet_finetune(paper_model: str, pretraining: str, settings: FinetuneSettings | None = None) -> ImagenetFinetune:
    """How the finetune tier fine-tunes `paper_model` on ImageNet, and what that takes."""
    recipe = (settings or FinetuneSettings()).recipe("imagenet", paper_model, pretraining)
    # ILSVRC-2012's sizes, not the catalog spec's: the GPU-hours are the real fine-tune's (tests shrink the spec)
    cost = finetune_cost(paper_model, recipe, IMAGENET_SIZES["train"], IMAGENET_SIZES["val"])
    return ImagenetFinetune(paper_model, pretraining, recipe, cost)


def _gpu_only(recipe: FinetuneRecipe, dataset: str) -> bool:
    """The paper's ImageNet recipe: months on a CPU, so only ever read from the cache there."""
    return dataset == "imagenet" and recipe.is_paper


class FinetuneTier(TierBase):
    """The paper's fine-tuning recipe, over the run's seeds; each side evaluated as its kept recipe evaluates."""

    # The runner accepts what `scope.datasets` lists: the ordering datasets and ImageNet's value cells.
    scope = dataclasses.replace(FINETUNE, datasets=FINETUNE.datasets + FINETUNE_IMAGENET)
    repeats = "seeds"  # orderings are judged over the fine-tuning seeds, paired by seed

    def plan(self, specs: Sequence[Any], *, pipeline: str = "", dataset: str = "", settings: Any = None) -> Any:
        from measure.tiers.reading import finetune_reading

        return finetune_reading(specs, dataset, settings)

    def words(self, method: str | None = None) -> str:
        return PAPER_LABEL

    def pairing(self, method: str | None = None) -> str:
        return (f"per-example correctness paired, over the fine-tuning seeds paired by seed (at least {SEEDS_NEEDED} "
                f"seeds; the paper's 3)")

    def memo_key(self, spec: Any, dataset: str) -> tuple:
        return (spec.key, dataset)

    def measure(self, runner: Any, spec: Any, dataset: str) -> TierResult:
        from measure.data.fingerprint import dataset_fingerprint, examples_identity
        from measure.tiers.provenance import checkpoint_provenance, plain_data
        from measure.train import protocol as ft_mod

        source = FINETUNED_ON.get(dataset, dataset)  # the dataset fine-tuned on (ReaL: ImageNet)
        test = "test" if "test" in DATASETS[source].splits else "val"
        needed = [(source, "train"), (source, test)] + ([(dataset, test)] if dataset != source else [])
        # Opened once up front (no transform: nothing is decoded) to list everything missing at once, refuse
        # a partial split and fingerprint the contents; fine-tuning opens the splits again with its own
        # transforms, which must be the same examples.
        loaded, opened = runner.resources(spec, 0, needed)
        fingerprints = {split: dataset_fingerprint(opened[(source, name)])
                        for split, name in (("train", "train"), ("test", test))}

        def open_complete(name: str, split: str, transform: Callable) -> Any:
            split = test if split == "test" else split
            data = runner.open_dataset(name, split, transform)
            runner.require_complete(name, split, data)
            if dataset_fingerprint(data) != fingerprints["test" if split == test else split]:
                raise RuntimeError(f"{name}/{split} changed on disk during the run (content fingerprint differs)")
            return data

        settings = runner.finetune_settings
        runtime = settings.runtime or ft_mod.Runtime(
            device=runner.device, eval_batch_size=runner.batch_size,
            **({} if runner.num_workers is None else {"num_workers": runner.num_workers}))
        recipe = settings.recipe(source, spec.paper_model, spec.pretraining)
        if _gpu_only(recipe, source) and runtime.device.type != "cuda":
            runtime = dataclasses.replace(runtime, bf16=True, refuse_training=self._refusal(runner, spec, settings))
        # Every cache entry of the run (sweep, finals, predictions) is keyed by the datasets' contents too.
        cache = runner.cache.scoped({"examples": fingerprints})
        result = ft_mod.finetune_checkpoint(loaded, source, DATASETS[source].num_classes, open_complete,
                                            cache, settings, runtime)
        recipe = result.recipe
        label = tier_label(recipe)
        if dataset == "imagenet_real":
            from measure.data import imagenet

            data = opened[(dataset, test)]
            labels = imagenet.real_labels(data)
            seeds_correct = tuple(imagenet.real_correct(run.top1, labels) for run in result.finals)
            examples = examples_identity(dataset, test, data, n=len(seeds_correct[0]), extra=labels,
                                         fingerprint=dataset_fingerprint(data))
        else:
            seeds_correct = tuple(np.asarray(run.correct, dtype=bool) for run in result.finals)
            examples = examples_identity(dataset, test, opened[(dataset, test)], fingerprint=fingerprints["test"])
        provenance = checkpoint_provenance(loaded)
        evaluation = recipe.evaluation()  # the kept recipe's: resolution, resize kernel, antialiasing
        metadata = plain_data({
            "tier": "finetune", "tier_label": label, "dataset": dataset, "split": test, "examples": examples,
            "checkpoint": provenance, "preprocessing": loaded.data_config,
            "evaluation": evaluation,
            "pairing": "orderings pair the seeds' test predictions seed by seed (judged over seeds and examples); "
                       "every seed's accuracy is in `seeds`, and value checks judge the seeds' mean",
            **result.metadata()})
        return TierResult(tier="finetune", label=label, dataset=dataset, checkpoint=spec.key,
                          correct=seeds_correct[0], examples=examples,
                          provenance=provenance["provenance"], recipe=metadata.get("recipe", {}), metadata=metadata,
                          seeds_correct=seeds_correct, shortened=not recipe.is_paper, handicap=result.handicap,
                          pipeline=metadata["evaluation"])

    @staticmethod
    def _refusal(runner: Any, spec: Any, settings: FinetuneSettings) -> Missing:
        plan = imagenet_finetune(spec.paper_model, spec.pretraining, settings)
        seeds = ",".join(map(str, settings.seeds))
        return Missing(f"{spec.key} fine-tuned on ImageNet ({plan.setting}) is not in the cache under "
                       f"{runner.cache.root}, and the paper's ImageNet recipe is not trained without CUDA "
                       f"({plan.cost.describe()}); train it on GPUs: `{LAUNCH} {spec.key} imagenet --claims-imagenet "
                       f"DIR --claims-cache {runner.cache.root} --claims-seeds {seeds}` (several nodes: "
                       f"docs/FINETUNE.md), then run the suite again", need=plan.gpu_need)
