"""One run of the small-data study: a model trained from scratch on its subset, then tested.

A pure function of its ``RunSpec``: one torch thread, deterministic kernels, seeded initialisation and
batch order, so a run is bit-for-bit the same in the test process, in a pool worker or under xdist.

Speed (the study is most of the main job's CPU time): every model and its images are in channels-last layout
(oneDNN's convolutions, the CNN's and the ViT's patch embedding, run ~10 % faster on them), and AdamW is torch's
fused kernel (one call per step instead of a loop over parameters). Both are the same arithmetic in another
order, for every model alike; ``benchmarks/bench_small_data_step.py`` measures the step time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from timm.scheduler import CosineLRScheduler

from measure.models import tiny as tiny_models
from measure.studies.small_data.data import digits_split, training_subset
from measure.studies.small_data.design import Recipe, RunSpec, SmallDataRun

__all__ = ["images", "model_and_optimizer", "train_run"]


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless stream of batches: consecutive slices of fresh permutations (an epoch never repeats an image)."""
    stream = torch.empty(0, dtype=torch.long)
    while True:
        while stream.numel() < batch_size:
            stream = torch.cat([stream, torch.randperm(n, generator=generator)])
        yield stream[:batch_size]
        stream = stream[batch_size:]


def _evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    model.eval()
    with torch.no_grad():
        logits = model(x)
    model.train()
    pred = logits.argmax(1)
    return float(F.cross_entropy(logits, y)), float((pred == y).float().mean()), pred


class _OneThread:
    """One torch thread and deterministic kernels for the duration of a run, then the caller's settings."""

    def __enter__(self) -> None:
        self.threads = torch.get_num_threads()
        self.deterministic = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(self.deterministic)


def images(array) -> torch.Tensor:
    """A batch of digits (N × 1 × 8 × 8, float32) as a tensor in the models' layout."""
    return torch.from_numpy(array).contiguous(memory_format=torch.channels_last)


def model_and_optimizer(model_name: str, recipe: Recipe) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A freshly initialised study model (from torch's current seed) in channels-last layout, and its AdamW."""
    model = tiny_models.build(model_name).to(memory_format=torch.channels_last)
    return model, torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, fused=True)


def train_run(spec: RunSpec) -> SmallDataRun:
    """Train ``spec.model`` from scratch on its subset; predict the test split. Pure function of ``spec``."""
    split = digits_split(spec.test_size, spec.split_seed)
    subset = training_subset(split, spec.size, spec.seed)
    x = images(split.images[subset])
    y = torch.from_numpy(split.labels[subset])
    recipe = spec.recipe
    steps = recipe.steps(spec.size)
    checkpoints = {steps // 2: "half", (3 * steps) // 4: "three_quarters", steps: "end"}
    started = time.perf_counter()
    with _OneThread():
        torch.manual_seed(spec.seed)
        model, optimizer = model_and_optimizer(spec.model, recipe)
        warmup = max(1, round(recipe.warmup_fraction * steps))
        scheduler = CosineLRScheduler(optimizer, t_initial=steps, warmup_t=warmup, warmup_lr_init=recipe.lr / warmup,
                                      lr_min=0.0, t_in_epochs=False)
        batches = _batches(spec.size, min(recipe.batch_size, spec.size), torch.Generator().manual_seed(spec.seed))
        model.train()
        curve: dict[str, dict[str, float]] = {}
        for step in range(1, steps + 1):
            index = next(batches)
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step_update(step)
            if step in checkpoints:  # full-subset loss in eval mode: the plateau evidence
                train_loss, train_acc, _ = _evaluate(model, x, y)
                curve[checkpoints[step]] = {"step": step, "train_loss": train_loss, "train_accuracy": train_acc}
        _, _, pred = _evaluate(model, images(split.images[split.test_index]), torch.from_numpy(split.y_test))
    stats = {"steps": steps, "batch_size": min(recipe.batch_size, spec.size),
             "params": tiny_models.count_params(model), "train_curve": curve,
             "train_loss": curve["end"]["train_loss"], "train_accuracy": curve["end"]["train_accuracy"],
             "seconds": round(time.perf_counter() - started, 2)}
    return SmallDataRun(spec=spec, correct=pred.numpy() == split.y_test, stats=stats)
