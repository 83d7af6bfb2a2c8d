"""The paper's fine-tuning protocol (App. B.1.1): the lr sweep on (train − held-out) judged on the held-out
part, then the final run(s) on the full training set judged on the test set, one per seed.

Every run (train + predict) goes through `measure.run.cache`, so a finished run is never trained again; its
key holds the recipe, lr, seed, splits, precision and the code version of every module that decides what a
run computes (surgery, normalize, stream, loop, this one, recipe).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from measure.data.opening import dataset_labels
from measure.data.splits import held_out_split
from measure.errors import Missing
from measure.run.cache import ChunkCache, code_version, stable_hash
from measure.run.device import xdist_worker_index
from measure.run.inference import logits_outputs, run_inference
from measure.train.loop import train
from measure.train.recipe import FinetuneRecipe
from measure.train.settings import FinetuneSettings, Runtime
from measure.train.stream import eval_transform, train_transform
from measure.train.surgery import prepare_model, with_normalization

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset

# What decides the numbers a run computes: editing any of these invalidates the cached runs. Named, not
# imported here, because measure.train.normalize imports torch.
FINETUNE_CODE = ("measure.train.surgery", "measure.train.normalize", "measure.train.stream", "measure.train.loop",
                 __name__, "measure.train.recipe")

# ------------------------------------------------------------------------------------------------
# One run = train + predict, cached
@dataclass(frozen=True)
class FinetuneRun:
    """One fine-tuning run (one lr, one seed): its per-example predictions on what it was evaluated on."""

    base_lr: float
    seed: int
    trained_on: str           # "train" | "train minus held-out"
    evaluated_on: str         # "test" | "held-out"
    correct: np.ndarray       # bool per evaluated example, dataset order
    top1: np.ndarray
    meta: Mapping[str, Any]
    from_cache: bool

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if self.correct.size else float("nan")


@dataclass(frozen=True)
class RunRequest:
    """Everything one training run needs; `finetune` builds these, `run_one` executes them."""

    make_model: Callable[[], nn.Module]   # a fresh copy of the pre-trained backbone
    data_config: Mapping[str, Any]        # mean/std of the checkpoint
    num_classes: int
    train_data: Dataset                   # augmenting transform
    eval_data: Dataset                    # evaluation transform
    recipe: FinetuneRecipe
    base_lr: float
    seed: int
    trained_on: str
    evaluated_on: str
    key: Mapping[str, Any]                # what identifies the run in the cache (no lr/seed yet)
    desc: str = "finetune"


def run_key(request: RunRequest, runtime: Runtime) -> dict[str, Any]:
    """The cache key of one run: what it trains on, how, and the code that does it (never worker counts)."""
    return {**request.key, "kind": "finetune-run", "recipe": request.recipe.to_key(), "base_lr": request.base_lr,
            "seed": request.seed, "trained_on": request.trained_on, "n_train": len(request.train_data),
            "evaluated_on": request.evaluated_on, "n_eval": len(request.eval_data), "precision": runtime.precision,
            "compiled": runtime.compile, "finetune_code": code_version(*map(importlib.import_module, FINETUNE_CODE))}


def run_one(request: RunRequest, cache: ChunkCache, runtime: Runtime) -> FinetuneRun:
    """Train one (lr, seed) and predict its evaluation examples — or read both from the cache."""
    key = run_key(request, runtime)
    digest = stable_hash(key)
    state_path = cache.root / "finetune-state" / f"{digest}.pt"
    stats: dict[str, Any] = {}

    def compute(_: int) -> dict[str, np.ndarray]:
        model = prepare_model(request.make_model(), request.num_classes, request.recipe.resolution)
        net = with_normalization(model, request.data_config)
        ema = None
        if request.recipe.polyak_decay:
            from timm.utils import ModelEmaV3
            ema = ModelEmaV3(net, decay=request.recipe.polyak_decay)
        stats["train"] = train(net, request.train_data, request.recipe, base_lr=request.base_lr, seed=request.seed,
                               runtime=runtime, state_path=state_path, run_key=digest, desc=request.desc,
                               ema=ema).as_dict()
        evaluated = ema.module if ema is not None else net
        inference = run_inference(evaluated, request.eval_data, outputs=logits_outputs, cache=cache,
                                  key={**key, "stage": "predictions"}, batch_size=runtime.eval_batch_size,
                                  device=runtime.device, num_workers=runtime.num_workers,
                                  desc=f"{request.desc} predict")
        stats["inference"] = dict(inference.meta)
        return {name: inference.arrays[name] for name in ("top5", "target", "index")}

    result = cache.get_or_compute(key, 1, compute, meta=lambda: dict(stats))
    if not runtime.keep_state:
        state_path.unlink(missing_ok=True)  # the predictions are cached: the weights are no longer needed
    top1 = result.arrays["top5"][:, 0]
    return FinetuneRun(base_lr=request.base_lr, seed=request.seed, trained_on=request.trained_on,
                       evaluated_on=request.evaluated_on, correct=top1 == result.arrays["target"], top1=top1,
                       meta={**result.meta, "cache_entry": result.digest}, from_cache=result.from_cache)


# ------------------------------------------------------------------------------------------------
# The paper's protocol: lr sweep on held-out, final run(s) on the full training set
def select_lr(held_out_accuracy: Mapping[float, float]) -> float:
    """The lr with the best held-out accuracy; a tie goes to the smaller lr (a fixed, stated rule)."""
    if not held_out_accuracy:
        raise ValueError("no learning rate was evaluated")
    return min(held_out_accuracy, key=lambda lr: (-held_out_accuracy[lr], lr))


def _worker_order(grid: Sequence[float]) -> list[float]:
    """Rotate the grid by the xdist worker index: workers on the same model x dataset train different lrs."""
    shift = xdist_worker_index() % len(grid)
    return list(grid[shift:]) + list(grid[:shift])


@dataclass(frozen=True)
class FinetuneResult:
    """The protocol's outcome: the lr sweep on the held-out part and the final run per seed."""

    recipe: FinetuneRecipe
    held_out: Mapping[float, float]       # lr -> held-out accuracy (empty: single-value grid)
    best_lr: float
    finals: tuple[FinetuneRun, ...]       # one per seed, in the order asked

    @property
    def correct(self) -> np.ndarray:
        """Per-example correctness of the first seed's final run (what orderings compare)."""
        return self.finals[0].correct

    @property
    def accuracies(self) -> list[float]:
        return [r.accuracy for r in self.finals]

    def spread(self) -> dict[str, Any]:
        acc = np.array(self.accuracies)
        return {"seeds": [r.seed for r in self.finals], "accuracies": acc.tolist(), "mean": float(acc.mean()),
                "std": float(acc.std(ddof=1)) if acc.size > 1 else None, "min": float(acc.min()),
                "max": float(acc.max())}

    def metadata(self) -> dict[str, Any]:
        return {"recipe": self.recipe.to_key(), "recipe_label": self.recipe.label(),
                "recipe_sources": dict(self.recipe.sources), "shortened": self.recipe.shortened,
                "lr_selection": {"held_out_accuracy": {f"{lr:g}": acc for lr, acc in self.held_out.items()},
                                 "best_lr": self.best_lr, "rule": "max held-out accuracy, ties to the smaller lr"},
                "seeds": self.spread(),
                "runs": [{"base_lr": r.base_lr, "seed": r.seed, "trained_on": r.trained_on,
                          "evaluated_on": r.evaluated_on, "accuracy": r.accuracy, "from_cache": r.from_cache,
                          "meta": r.meta} for r in self.finals]}


def finetune(*, make_model: Callable[[], nn.Module], data_config: Mapping[str, Any], num_classes: int,
             open_split: Callable[[str, Callable], Dataset], recipe: FinetuneRecipe, seeds: Sequence[int],
             cache: ChunkCache, key: Mapping[str, Any], runtime: Runtime | None = None,
             desc: str = "finetune") -> FinetuneResult:
    """App. B.1.1: pick the lr on the held-out part of the training split, then train on all of it per seed.

    `open_split(split, transform)` opens "train" or "test" of the dataset; `key` identifies the checkpoint
    and dataset for the cache. The sweep uses the first seed.
    """
    from torch.utils.data import Subset

    runtime = runtime or Runtime()
    if not seeds:
        raise ValueError("at least one seed is needed")
    train_aug = open_split("train", train_transform(recipe))
    train_eval = open_split("train", eval_transform(recipe))
    test = open_split("test", eval_transform(recipe))
    fit, held = held_out_split(dataset_labels(train_aug), recipe.held_out_fraction, recipe.split_seed)

    def request(lr: float, seed: int, final: bool) -> RunRequest:
        return RunRequest(make_model=make_model, data_config=data_config, num_classes=num_classes,
                          train_data=train_aug if final else Subset(train_aug, fit.tolist()),
                          eval_data=test if final else Subset(train_eval, held.tolist()),
                          recipe=recipe, base_lr=lr, seed=seed,
                          trained_on="train" if final else "train minus held-out",
                          evaluated_on="test" if final else "held-out",
                          key={**key, "held_out": {"fraction": recipe.held_out_fraction, "seed": recipe.split_seed,
                                                   "indices_sha": stable_hash({"held": held.tolist()})}},
                          desc=f"{desc} lr={lr:g} seed={seed}{'' if final else ' (held-out)'}")

    held_out: dict[float, float] = {}
    if len(recipe.lr_grid) > 1:
        for lr in _worker_order(recipe.lr_grid):
            held_out[lr] = run_one(request(lr, seeds[0], final=False), cache, runtime).accuracy
        held_out = {lr: held_out[lr] for lr in recipe.lr_grid}
    best = select_lr(held_out) if held_out else recipe.lr_grid[0]
    finals = tuple(run_one(request(best, seed, final=True), cache, runtime) for seed in seeds)
    return FinetuneResult(recipe=recipe, held_out=held_out, best_lr=best, finals=finals)


def fresh_copy(model: nn.Module) -> Callable[[], nn.Module]:
    """A factory of independent copies of `model` (each run starts from the pre-trained weights)."""
    return lambda: copy.deepcopy(model)


def finetune_checkpoint(loaded: Any, dataset: str, num_classes: int, open_dataset: Callable[[str, str, Callable], Dataset],
                        cache: ChunkCache, settings: FinetuneSettings, runtime: Runtime) -> FinetuneResult:
    """The paper's fine-tuning protocol on a loaded pre-trained checkpoint (measure.models.checkpoints.LoadedModel)."""
    if not hasattr(loaded.model, "reset_classifier"):
        raise Missing(f"{loaded.spec.key}: the finetune tier fine-tunes timm models; this row loads through "
                      f"{loaded.spec.library} — use the checkpoint's timm row")
    spec = loaded.spec
    key = {"checkpoint": {"hub_id": spec.hub_id, "revision": str(loaded.revision), "library": spec.library},
           "dataset": dataset, "num_classes": num_classes}
    return finetune(make_model=fresh_copy(loaded.model), data_config=loaded.data_config, num_classes=num_classes,
                    open_split=lambda split, transform: open_dataset(dataset, split, transform),
                    recipe=settings.recipe(dataset), seeds=settings.seeds, cache=cache, key=key,
                    runtime=settings.runtime or runtime, desc=f"{spec.key} {dataset}")
