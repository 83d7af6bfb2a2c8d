"""The vtab tier: App. B.1.1's VTAB-1k protocol on the 19 tasks of Table 9, for a public pre-trained checkpoint.

Each task is fine-tuned on VTAB-1k's 1000 training examples (train800 + val200, `measure/data/vtab.py`, read from the
folders `bin/prepare-vtab` writes once) with the one setting the paper uses for every task (`measure.train.recipe.
vtab_recipe`: Table 4's VTAB row — 2500 steps, lr 0.01, batch 512 — at 384 px), once per fine-tuning seed, through the
suite's fine-tuning loop and its cache (`measure.train.protocol.finetune`: one lr, so nothing is swept), and scored on
the task's test split. `correct` is the first seed's test correctness, `seeds_correct` every seed's; `vtab_score`
averages the 19 tasks as Table 2's VTAB column does.

The paper's recipe is never trained on a machine without CUDA (≈ 1 H100-hour per task and seed for ViT-L/16, days on
a CPU): there the tier reads the runs from the cache, or says what it needs — the task folders, the prepare command,
a GPU. A shortened recipe (`--claims-finetune-steps/-batch`) trains anywhere and is labelled as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import paper
from measure.data.vtab import GROUPS, NEED, VTAB_OPTION, VTAB_TASKS, VtabTask
from measure.errors import Missing
from measure.tiers.protocol import TierBase
from measure.tiers.results import TierResult
from measure.tiers.scopes import VTAB
from measure.train.cost import FinetuneCost, finetune_cost
from measure.train.recipe import FinetuneRecipe, vtab_recipe

SEEDS_NEEDED = 2  # a spread between seeds needs two; the paper's ± is over 3 fine-tuning runs (Table 2's caption)


def recipe_for(paper_model: str | None, settings: Any = None) -> FinetuneRecipe:
    """The VTAB-1k recipe this run fine-tunes `paper_model` with: App. B.1.1's, or shortened as the run asks."""
    recipe = vtab_recipe(paper_model)
    if settings is None:
        return recipe
    return recipe.scaled(steps=settings.steps, batch=settings.batch, resolution=settings.resolution)


def setting(recipe: FinetuneRecipe) -> str:
    """The protocol in one phrase, from the recipe's own values."""
    lr = ", ".join(f"{lr:g}" for lr in recipe.lr_grid)
    return (f"VTAB-1k: train800 + val200, {recipe.steps:,} steps x batch {recipe.batch_size} at lr {lr}, "
            f"{recipe.resolution} px")


def tier_label(recipe: FinetuneRecipe) -> str:
    if recipe.is_paper:
        return f"vtab (App. B.1.1's VTAB-1k protocol, {setting(recipe)})"
    return (f"vtab (SHORTENED recipe: {recipe.steps} steps x batch {recipe.batch_size} at {recipe.resolution}px, "
            f"not the paper's {recipe.paper_steps} x {recipe.paper_batch_size})")


@dataclass(frozen=True)
class VtabCost:
    """GPU-hours of the 19 tasks for one model, one seed each (FLOPs estimate, `measure.train.cost`)."""

    tasks: tuple[FinetuneCost, ...]

    @property
    def hours(self) -> float:
        return sum(cost.tier_hours for cost in self.tasks)

    def describe(self, seeds: int = 1) -> str:
        first = self.tasks[0]
        return (f"≈ {self.hours * seeds:,.0f} H100-hours for the 19 tasks x {seeds} seed{'s' if seeds != 1 else ''} "
                f"(≈ {self.hours / len(self.tasks):.1f} h per task and seed; FLOPs estimate at an assumed "
                f"{first.mfu:.0%} MFU)")


def vtab_cost(paper_model: str, recipe: FinetuneRecipe | None = None) -> VtabCost:
    """What fine-tuning `paper_model` on the 19 tasks costs with `recipe` (default: the paper's), one seed."""
    recipe = recipe or vtab_recipe(paper_model)
    return VtabCost(tuple(finetune_cost(paper_model, recipe, 1000, task.test_size) for task in VTAB_TASKS.values()))


def _vtab_root(runner: Any) -> Path | None:
    paths = getattr(runner.open_dataset, "paths", None)
    return getattr(paths, "vtab_root", None)


def gpu_need(paper_model: str, seeds: Sequence[int]) -> str:
    """The one need item for training App. B.1.1's VTAB-1k recipe: a CUDA GPU, and what it will take."""
    cost = vtab_cost(paper_model)
    return (f"a CUDA GPU to fine-tune {paper_model} on the 19 VTAB-1k tasks ({setting(vtab_recipe())}): "
            f"{cost.describe(len(seeds))}; run the suite there with --claims-tier vtab {VTAB_OPTION} DIR "
            f"--claims-seeds {','.join(map(str, seeds))}")


def prerequisites(runner: Any, paper_model: str, dataset: str) -> list[Missing]:
    """What the tier would still lack for `dataset` besides being selected: the task folder (checked, not read), and
    a GPU where the paper's recipe would have to be trained without CUDA. A not-run check lists them all at once."""
    from measure.data import vtab

    lacking = []
    try:
        vtab.read_manifest(vtab.task_folder(_vtab_root(runner), VTAB_TASKS[dataset]), VTAB_TASKS[dataset])
    except Missing as missing:
        lacking.append(missing)
    settings = runner.finetune_settings
    if recipe_for(paper_model, settings).is_paper and runner.device.type != "cuda":
        need = gpu_need(paper_model, settings.seeds)
        lacking.append(Missing(need, need=need))
    return lacking


class VtabTier(TierBase):
    """App. B.1.1's VTAB-1k protocol on one task, over the run's seeds."""

    scope = VTAB
    repeats = "seeds"

    def plan(self, specs: Sequence[Any], *, pipeline: str = "", dataset: str = "", settings: Any = None) -> Any:
        from measure.tiers.reading import Reading, SideRead

        sides = []
        for spec in specs:
            recipe = recipe_for(spec.paper_model, settings)
            sides.append(SideRead(spec.key, f"{recipe.name} evaluation", recipe.eval_preprocessing, recipe.resolution,
                                  recipes=(recipe.describe_evaluation(),), resolutions=(recipe.resolution,)))
        return Reading(self.name, tuple(sides))

    def words(self, method: str | None = None) -> str:
        return f"vtab (App. B.1.1's VTAB-1k protocol, {setting(vtab_recipe())})"

    def pairing(self, method: str | None = None) -> str:
        return (f"per-example correctness paired, over the fine-tuning seeds paired by seed (at least {SEEDS_NEEDED} "
                f"seeds; the paper's 3)")

    def needs(self, rows: Sequence[Any]) -> list[Any]:
        """The pre-trained rows of the models Table 9 prints for a public pre-training (ViT-L/16, ImageNet-21k)."""
        wanted = {(n.model, n.pretraining) for n in paper.numbers(table="Table 9") if n.pretraining != "jft300m"}
        return [spec for spec in super().needs(rows) if (spec.paper_model, spec.pretraining) in wanted]

    def memo_key(self, spec: Any, dataset: str) -> tuple:
        return (spec.key, dataset)

    def measure(self, runner: Any, spec: Any, dataset: str) -> TierResult:
        from measure.data import vtab
        from measure.data.fingerprint import dataset_fingerprint, examples_identity
        from measure.tiers.provenance import checkpoint_provenance, plain_data
        from measure.tiers.runner import MissingResources
        from measure.train import protocol as ft_mod

        task = VTAB_TASKS[dataset]
        root = _vtab_root(runner)
        # Opened once up front (no transform: nothing is decoded) to list everything missing at once and fingerprint
        # the contents; fine-tuning opens them again with its own transforms, which must be the same examples.
        problems: list[Missing] = []
        loaded = opened = None
        try:
            loaded = runner.loaded(spec, 0)
        except Missing as missing:
            problems.append(missing)
        try:
            opened = {"train": vtab.open_training_set(root, task), "test": vtab.open_split(root, task, "test")}
        except Missing as missing:
            problems.append(missing)
        if problems:
            raise MissingResources(problems)
        if not hasattr(loaded.model, "reset_classifier"):
            raise Missing(f"{spec.key}: the vtab tier fine-tunes timm models; this row loads through "
                          f"{spec.library} — use the checkpoint's timm row")
        fingerprints = {split: dataset_fingerprint(data) for split, data in opened.items()}

        def open_split(split: str, transform: Callable) -> Any:
            data = (vtab.open_training_set(root, task, transform) if split == "train"
                    else vtab.open_split(root, task, "test", transform))
            if dataset_fingerprint(data) != fingerprints[split]:
                raise RuntimeError(f"{task.column} {split} changed on disk during the run (content fingerprint differs)")
            return data

        settings = runner.finetune_settings
        runtime = settings.runtime or ft_mod.Runtime(
            device=runner.device, eval_batch_size=runner.batch_size,
            **({} if runner.num_workers is None else {"num_workers": runner.num_workers}))
        recipe = recipe_for(spec.paper_model, settings)
        if recipe.is_paper and runtime.device.type != "cuda":
            runtime = dataclasses.replace(runtime, bf16=True, refuse_training=self._refusal(runner, spec, task, settings))
        cache = runner.cache.scoped({"examples": fingerprints})
        key = {"checkpoint": {"hub_id": spec.hub_id, "revision": str(loaded.revision), "library": spec.library},
               "dataset": task.key, "num_classes": task.num_classes, "vtab_splits": task.splits}
        result = ft_mod.finetune(make_model=ft_mod.fresh_copy(loaded.model), data_config=loaded.data_config,
                                 num_classes=task.num_classes, open_split=open_split, recipe=recipe,
                                 seeds=settings.seeds, cache=cache, key=key, runtime=runtime,
                                 desc=f"{spec.key} {task.key}")
        seeds_correct = tuple(np.asarray(run.correct, dtype=bool) for run in result.finals)
        examples = examples_identity(task.key, "test", opened["test"], fingerprint=fingerprints["test"])
        provenance = checkpoint_provenance(loaded)
        label = tier_label(recipe)
        metadata = plain_data({
            "tier": self.name, "tier_label": label, "dataset": task.key, "split": "test", "examples": examples,
            "task": {"column": task.column, "group": task.group, "vtab": task.vtab, "tfds": task.tfds,
                     "splits": task.splits, "num_classes": task.num_classes, "source": task.source},
            "trained_on": "train800 + val200 (1000 examples)", "checkpoint": provenance,
            "preprocessing": loaded.data_config, "evaluation": recipe.evaluation(),
            "pairing": "orderings pair the seeds' test predictions seed by seed; value checks judge the seeds' mean",
            **result.metadata()})
        return TierResult(tier=self.name, label=label, dataset=task.key, checkpoint=spec.key,
                          correct=seeds_correct[0], examples=examples, provenance=provenance["provenance"],
                          recipe=metadata.get("recipe", {}), metadata=metadata, seeds_correct=seeds_correct,
                          shortened=recipe.shortened, pipeline=metadata["evaluation"])

    @staticmethod
    def _refusal(runner: Any, spec: Any, task: VtabTask, settings: Any) -> Missing:
        need = gpu_need(spec.paper_model, settings.seeds)
        return Missing(f"{spec.key} fine-tuned on VTAB-1k {task.column} is not in the cache under {runner.cache.root}, "
                       f"and App. B.1.1's VTAB-1k recipe is not trained without CUDA; {need}", need=need)


# ------------------------------------------------------------------------------------------------
# Table 2's VTAB column: the mean over the 19 tasks
@dataclass(frozen=True)
class VtabScore:
    """The mean accuracy over tasks (fractions), per seed and overall, with the errors a value check needs."""

    tasks: tuple[str, ...]
    seeds: int
    per_seed: tuple[float, ...]        # the mean over tasks of each seed's accuracies
    mean: float                        # the mean of `per_seed` = the mean over tasks of each task's seed mean
    seed_std: float | None             # std (ddof 1) of `per_seed`: the paper's ± is this over 3 runs
    sampling_se: float                 # the standard error of `mean` from the finite test sets (binomial, pooled seeds)
    task_means: dict[str, float]
    group_means: dict[str, float]      # VTAB's groups, where every task of the group is present
    n: int                             # test predictions behind `mean` (examples x seeds, all tasks)

    def interval(self, confidence: float = 0.95) -> tuple[float, float, dict[str, Any]]:
        """The wider on each side of mean ± z·sampling_se and mean ± seed_std (as `accuracy_measurement` does for
        one task), and which bound came from which."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + confidence / 2))
        sampling = (self.mean - z * self.sampling_se, self.mean + z * self.sampling_se)
        spread = (self.mean - self.seed_std, self.mean + self.seed_std) if self.seed_std is not None else sampling
        low, high = min(sampling[0], spread[0]), max(sampling[1], spread[1])
        return low, high, {"sampling": list(sampling), "mean_pm_seed_std": list(spread), "z": z,
                           "low_from": "sampling" if sampling[0] <= spread[0] else "mean_pm_seed_std",
                           "high_from": "sampling" if sampling[1] >= spread[1] else "mean_pm_seed_std"}


def vtab_score(results: Sequence[TierResult]) -> VtabScore:
    """Table 2's VTAB number from one result per task: each seed's mean over the tasks, then their mean. Every task
    must have the same number of seeds (paired runs), and each task counts once."""
    tasks = tuple(r.dataset for r in results)
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"a task appears twice: {tasks}")
    runs = [tuple(r.seeds_correct) or (r.correct,) for r in results]
    seeds = {len(r) for r in runs}
    if len(seeds) != 1:
        raise ValueError(f"every task needs the same seeds; got {sorted(seeds)} runs per task")
    accuracy = np.array([[float(np.mean(run)) for run in task_runs] for task_runs in runs])  # tasks x seeds
    per_seed = accuracy.mean(axis=0)
    task_means = accuracy.mean(axis=1)
    sizes = np.array([np.asarray(task_runs[0]).size for task_runs in runs], dtype=float)
    variance = np.sum(task_means * (1 - task_means) / (sizes * accuracy.shape[1])) / len(tasks) ** 2
    by_task = dict(zip(tasks, task_means.tolist()))
    group_means = {}
    for group in GROUPS:
        members = [t.key for t in VTAB_TASKS.values() if t.group == group]
        if members and all(m in by_task for m in members):
            group_means[group] = float(np.mean([by_task[m] for m in members]))
    return VtabScore(tasks=tasks, seeds=accuracy.shape[1], per_seed=tuple(per_seed.tolist()),
                     mean=float(per_seed.mean()),
                     seed_std=float(per_seed.std(ddof=1)) if accuracy.shape[1] > 1 else None,
                     sampling_se=float(np.sqrt(variance)), task_means=by_task, group_means=group_means,
                     n=int(sizes.sum() * accuracy.shape[1]))


__all__ = ["NEED", "SEEDS_NEEDED", "VtabCost", "VtabScore", "VtabTier", "gpu_need", "prerequisites", "recipe_for",
           "setting", "tier_label", "vtab_cost", "vtab_score"]
