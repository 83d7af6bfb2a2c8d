"""One run of the small-data study: a model trained from scratch on its subset, then tested.

A pure function of its ``RunSpec``: one torch thread, deterministic kernels, seeded initialisation and
batch order, so a run is bit-for-bit the same in the test process, in a pool worker or under xdist.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from timm.scheduler import CosineLRScheduler

from measure.models import tiny as tiny_models
from measure.studies.small_data.data import digits_split, training_subset
from measure.studies.small_data.design import RunSpec, SmallDataRun

__all__ = ["train_run"]


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


def train_run(spec: RunSpec) -> SmallDataRun:
    """Train ``spec.model`` from scratch on its subset; predict the test split. Pure function of ``spec``."""
    split = digits_split(spec.test_size, spec.split_seed)
    subset = training_subset(split, spec.size, spec.seed)
    x = torch.from_numpy(split.images[subset])
    y = torch.from_numpy(split.labels[subset])
    recipe = spec.recipe
    steps = recipe.steps(spec.size)
    checkpoints = {steps // 2: "half", (3 * steps) // 4: "three_quarters", steps: "end"}
    started = time.perf_counter()
    with _OneThread():
        torch.manual_seed(spec.seed)
        model = tiny_models.build(spec.model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
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
        _, _, pred = _evaluate(model, torch.from_numpy(split.images[split.test_index]),
                               torch.from_numpy(split.y_test))
    stats = {"steps": steps, "batch_size": min(recipe.batch_size, spec.size),
             "params": tiny_models.count_params(model), "train_curve": curve,
             "train_loss": curve["end"]["train_loss"], "train_accuracy": curve["end"]["train_accuracy"],
             "seconds": round(time.perf_counter() - started, 2)}
    return SmallDataRun(spec=spec, correct=pred.numpy() == split.y_test, stats=stats)
