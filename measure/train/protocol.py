"""The paper's fine-tuning protocol (App. B.1.1): the lr sweep on (train − held-out) judged on the held-out
part, then the final run(s) on the full training set judged on the test set, one per seed. Where a model has
several recipes (ResNets: the paper's and BiT-HyperRule, "select the best results across this run and our
sweep"), every recipe's runs are judged on the same held-out part and the best recipe and lr win; a recipe
this code cannot run (`unsupported`) is recorded as skipped, and the model as handicapped by it.

Every run (train + predict) goes through `measure.run.cache`, so a finished run is never trained again; its
key holds the recipe, lr, seed, splits, precision and the code version of every module that decides what a
run computes (surgery, normalize, stream, loop, this one, recipe) — never the number of processes, so a run
trained under torchrun (`python -m measure.train.launch`) is the entry a single-process suite then reads.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from measure.data.opening import dataset_labels
from measure.data.splits import held_out_split
from measure.errors import Missing
from measure.run.cache import ChunkCache, source_version, stable_hash
from measure.run.device import xdist_worker_index
from measure.run.inference import logits_outputs, run_inference
from measure.train.loop import polyak_average, train
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
                 "measure.train.dropout", "measure.train.distributed", __name__, "measure.train.recipe",
                 "measure.data.resize")

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
    recipe: str = "vit-paper-finetune"

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
            "compiled": runtime.compile, "finetune_code": source_version(*map(importlib.import_module, FINETUNE_CODE))}


def run_one(request: RunRequest, cache: ChunkCache, runtime: Runtime) -> FinetuneRun:
    """Train one (lr, seed) and predict its evaluation examples — or read both from the cache.

    Under torchrun every rank calls this: rank 0 says whether the entry exists; if not, all ranks train together,
    rank 0 predicts and writes the entry, then every rank reads it. `runtime.refuse_training`: a missing entry
    raises it instead of training."""
    key = run_key(request, runtime)
    digest = stable_hash(key)
    state_path = cache.root / "finetune-state" / f"{digest}.pt"
    world = runtime.world
    stats: dict[str, Any] = {}

    def trained() -> nn.Module:
        model = prepare_model(request.make_model(), request.num_classes, request.recipe.resolution)
        set_dropout(model, request.recipe.dropout)
        net = with_normalization(model, request.data_config).to(runtime.device)
        ema = polyak_average(net, request.recipe.polyak_decay) if request.recipe.polyak_decay else None
        stats["train"] = train(net, request.train_data, request.recipe, base_lr=request.base_lr, seed=request.seed,
                               runtime=runtime, state_path=state_path, run_key=digest, desc=request.desc,
                               ema=ema).as_dict()
        return ema.module if ema is not None else net

    def predict(evaluated: nn.Module) -> dict[str, np.ndarray]:
        inference = run_inference(evaluated, request.eval_data, outputs=logits_outputs, cache=cache,
                                  key={**key, "stage": "predictions"}, batch_size=runtime.eval_batch_size,
                                  device=runtime.device, num_workers=runtime.num_workers,
                                  desc=f"{request.desc} predict")
        stats["inference"] = dict(inference.meta)
        return {name: inference.arrays[name] for name in ("top5", "target", "index")}

    def compute(_: int) -> dict[str, np.ndarray]:
        if world.distributed:  # training needs every rank: only the block below may start it
            raise RuntimeError(f"{request.desc}: rank {world.rank} found no cache entry after rank 0 wrote it; "
                               f"every node must see the same --claims-cache folder")
        return predict(trained())

    if runtime.refuse_training is not None and not cache.is_complete(key):
        raise runtime.refuse_training
    if world.distributed and not world.from_leader(cache.is_complete(key)):
        evaluated = trained()  # every rank: DistributedDataParallel's collectives
        if world.leader:
            cache.get_or_compute(key, 1, lambda _: predict(evaluated), meta=lambda: dict(stats))
        world.barrier()
    result = cache.get_or_compute(key, 1, compute, meta=lambda: dict(stats))
    if not runtime.keep_state and world.leader:
        state_path.unlink(missing_ok=True)  # the predictions are cached: the weights are no longer needed
    top1 = result.arrays["top5"][:, 0]
    return FinetuneRun(base_lr=request.base_lr, seed=request.seed, trained_on=request.trained_on,
                       evaluated_on=request.evaluated_on, correct=top1 == result.arrays["target"], top1=top1,
                       meta={**result.meta, "cache_entry": result.digest}, from_cache=result.from_cache,
                       recipe=request.recipe.name)


def set_dropout(model: nn.Module, rate: float) -> None:
    """The recipe's dropout in the encoder, as vit_jax places it: after the position embeddings, after
    attention and in the MLP (timm's pos_drop, attn.proj_drop, mlp.drop1/2); attention-weight dropout and the
    head's stay off (vit_jax: attention_dropout_rate 0, no dropout before the head). A model without dropout
    layers (ResNets) is unchanged."""
    from torch import nn

    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout) and not name.endswith(("attn_drop", "head_drop")):
            module.p = rate


def unsupported(recipe: FinetuneRecipe) -> str | None:
    """Why this code cannot run `recipe` as written (None: it can). Every recipe of the paper runs today (mixup,
    BiT-HyperRule's on CIFAR, is in the loop); what remains is what the loop has never had."""
    if recipe.optimizer != "sgd":
        return f"{recipe.name} needs the {recipe.optimizer} optimizer; the training loop runs SGD only"
    if recipe.label_smoothing:
        return f"{recipe.name} needs label smoothing {recipe.label_smoothing:g}, which the training loop does not apply"
    return None


def transforms(recipe: FinetuneRecipe) -> tuple[Callable, Callable]:
    """(train, eval) transforms of `recipe`: the paper's (vit_jax: inception crop + flip; resize) or
    BiT-HyperRule's (bit_pytorch: resize to train_resize, random crop, flip; resize): training images as uint8
    tensors, evaluation images as float32 on the 0-255 scale (tf.image.resize is not rounded back)."""
    if not recipe.train_resize:
        return train_transform(recipe), eval_transform(recipe)
    from torchvision import transforms as T

    bilinear = T.InterpolationMode.BILINEAR
    train = T.Compose([T.Resize((recipe.train_resize, recipe.train_resize), interpolation=bilinear),
                       T.RandomCrop(recipe.resolution), T.RandomHorizontalFlip(recipe.train_hflip), T.PILToTensor()])
    return train, eval_transform(recipe)


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
    """The protocol's outcome: the lr sweep on the held-out part and the final run per seed, with the recipe
    that won among those tried (`candidates`: recipe name -> lr -> held-out accuracy; `skipped`: recipe
    name -> why it could not run)."""

    recipe: FinetuneRecipe
    held_out: Mapping[float, float]       # lr -> held-out accuracy of the winning recipe (empty: nothing swept)
    best_lr: float
    finals: tuple[FinetuneRun, ...]       # one per seed, in the order asked
    candidates: Mapping[str, Mapping[float, float]] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    tried: tuple[FinetuneRecipe, ...] = ()

    @property
    def handicap(self) -> str:
        """Why the model was tuned over fewer recipes than it should have been ("": none)."""
        return "; ".join(f"{name} not run: {why} — the model is tuned over the other recipe only, which can "
                         f"only lower it" for name, why in self.skipped.items())

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
                "recipes": {r.name: {"label": r.label(), "key": r.to_key(), "sources": dict(r.sources),
                                     "held_out_accuracy": {f"{lr:g}": a for lr, a in self.candidates.get(r.name, {}).items()},
                                     "skipped": self.skipped.get(r.name)} for r in self.tried or (self.recipe,)},
                "chosen_recipe": self.recipe.name, "handicap": self.handicap or None,
                "lr_selection": {"held_out_accuracy": {f"{lr:g}": acc for lr, acc in self.held_out.items()},
                                 "best_lr": self.best_lr,
                                 "rule": "max held-out accuracy over every recipe and lr, ties to the first recipe "
                                         "and the smaller lr"},
                "seeds": self.spread(),
                "runs": [{"base_lr": r.base_lr, "seed": r.seed, "trained_on": r.trained_on,
                          "evaluated_on": r.evaluated_on, "accuracy": r.accuracy, "from_cache": r.from_cache,
                          "meta": r.meta} for r in self.finals]}


def finetune(*, make_model: Callable[[], nn.Module], data_config: Mapping[str, Any], num_classes: int,
             open_split: Callable[[str, Callable], Dataset], recipe: FinetuneRecipe, seeds: Sequence[int],
             cache: ChunkCache, key: Mapping[str, Any], runtime: Runtime | None = None,
             desc: str = "finetune", alternatives: Sequence[FinetuneRecipe] = ()) -> FinetuneResult:
    """App. B.1.1: pick the lr (and, with `alternatives`, the recipe) on the held-out part of the training
    split, then train on all of it per seed.

    `open_split(split, transform)` opens "train" or "test" of the dataset; `key` identifies the checkpoint
    and dataset for the cache. The sweep uses the first seed; with one recipe of one lr nothing is swept.
    """
    from torch.utils.data import Subset

    runtime = runtime or Runtime()
    if not seeds:
        raise ValueError("at least one seed is needed")
    tried = (recipe, *alternatives)
    opened: dict[str, tuple[Any, Any, Any]] = {}
    fit = held = None

    def splits(r: FinetuneRecipe) -> tuple[Any, Any, Any]:
        nonlocal fit, held
        if r.name not in opened:
            train_tx, eval_tx = transforms(r)
            opened[r.name] = (open_split("train", train_tx), open_split("train", eval_tx), open_split("test", eval_tx))
            if held is None:  # one development split for every recipe: the selection compares like with like
                fit, held = held_out_split(dataset_labels(opened[r.name][0]), r.held_out_fraction, r.split_seed)
        return opened[r.name]

    def request(r: FinetuneRecipe, lr: float, seed: int, final: bool) -> RunRequest:
        train_aug, train_eval, test = splits(r)
        return RunRequest(make_model=make_model, data_config=data_config, num_classes=num_classes,
                          train_data=train_aug if final else Subset(train_aug, fit.tolist()),
                          eval_data=test if final else Subset(train_eval, held.tolist()),
                          recipe=r, base_lr=lr, seed=seed,
                          trained_on="train" if final else "train minus held-out",
                          evaluated_on="test" if final else "held-out",
                          key={**key, "held_out": {"fraction": r.held_out_fraction, "seed": r.split_seed,
                                                   "indices_sha": stable_hash({"held": held.tolist()})}},
                          desc=f"{desc} {r.name} lr={lr:g} seed={seed}{'' if final else ' (held-out)'}")

    candidates: dict[str, dict[float, float]] = {}
    skipped = {r.name: why for r in tried if (why := unsupported(r))}
    runnable = [r for r in tried if r.name not in skipped]
    if not runnable:
        raise ValueError(f"none of the recipes can run: {skipped}")
    sweep = len(runnable) > 1 or len(runnable[0].lr_grid) > 1
    for r in runnable if sweep else ():
        scores = {lr: run_one(request(r, lr, seeds[0], final=False), cache, runtime).accuracy
                  for lr in _worker_order(r.lr_grid)}
        candidates[r.name] = {lr: scores[lr] for lr in r.lr_grid}
    if candidates:  # the best held-out accuracy over recipes, then lrs; ties: the earlier recipe, the smaller lr
        best_score = max(max(scores.values()) for scores in candidates.values())
        chosen = next(r for r in runnable if max(candidates[r.name].values()) == best_score)
        best = select_lr(candidates[chosen.name])
    else:
        chosen, best = runnable[0], runnable[0].lr_grid[0]
    finals = tuple(run_one(request(chosen, best, seed, final=True), cache, runtime) for seed in seeds)
    return FinetuneResult(recipe=chosen, held_out=candidates.get(chosen.name, {}), best_lr=best, finals=finals,
                          candidates=candidates, skipped=skipped, tried=tried)


def fresh_copy(model: nn.Module) -> Callable[[], nn.Module]:
    """A factory of independent copies of `model` (each run starts from the pre-trained weights)."""
    return lambda: copy.deepcopy(model)


def finetune_checkpoint(loaded: Any, dataset: str, num_classes: int, open_dataset: Callable[[str, str, Callable], Dataset],
                        cache: ChunkCache, settings: FinetuneSettings, runtime: Runtime) -> FinetuneResult:
    """The paper's fine-tuning protocol on a loaded pre-trained checkpoint (measure.models.checkpoints.LoadedModel),
    executed as `runtime` says (the tier passes `settings.runtime` where a test or the launcher set one)."""
    if not hasattr(loaded.model, "reset_classifier"):
        raise Missing(f"{loaded.spec.key}: the finetune tier fine-tunes timm models; this row loads through "
                      f"{loaded.spec.library} — use the checkpoint's timm row")
    from measure.data.datasets import DATASETS

    spec = loaded.spec
    key = {"checkpoint": {"hub_id": spec.hub_id, "revision": str(loaded.revision), "library": spec.library},
           "dataset": dataset, "num_classes": num_classes}
    first, *others = settings.recipes(dataset, spec.paper_model, DATASETS[dataset].sizes["train"], spec.pretraining)
    return finetune(make_model=fresh_copy(loaded.model), data_config=loaded.data_config, num_classes=num_classes,
                    open_split=lambda split, transform: open_dataset(dataset, split, transform),
                    recipe=first, alternatives=others, seeds=settings.seeds, cache=cache, key=key,
                    runtime=runtime, desc=f"{spec.key} {dataset}")
