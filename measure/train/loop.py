"""The training loop of the paper's fine-tuning recipe (App. B.1.1, measure/train/recipe.py).

SGD + momentum, global-norm clipping, warm-up + cosine, gradient accumulation over micro-batches (the
effective batch is the recipe's whatever the GPU holds), bf16 autocast and fused SGD on CUDA, channels-last
for convolutional models (measure/train/surgery.py), optional `torch.compile`. The full training state
(weights, optimizer, scheduler, step, RNG states, data position) is saved atomically every
`checkpoint_every` steps, so an interrupted run resumes at the saved step and — on CPU bit for bit — ends
where an uninterrupted one ends (the data stream is a function of the seed and the position:
measure/train/stream.py). torch is imported inside the functions.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from measure.errors import Missing
from measure.run.files import atomic_torch_save, json_safe
from measure.train.recipe import FinetuneRecipe
from measure.train.settings import Runtime
from measure.train.stream import ExampleStream

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.data import Dataset

log = logging.getLogger(__name__)

STATE_FORMAT = 1


def make_optimizer(model: nn.Module, recipe: FinetuneRecipe, base_lr: float, device: torch.device) -> torch.optim.Optimizer:
    """The recipe's SGD (momentum, Nesterov or not, weight decay) at `base_lr`; fused on CUDA."""
    import torch

    if recipe.optimizer != "sgd":
        raise ValueError(f"the paper fine-tunes with SGD, not {recipe.optimizer!r}")
    fused = device.type == "cuda"  # one kernel for all parameters instead of a loop of small ones
    return torch.optim.SGD(model.parameters(), lr=base_lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
                           weight_decay=recipe.weight_decay, fused=fused or None)


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: FinetuneRecipe) -> torch.optim.lr_scheduler.LambdaLR:
    """The k-th update (k = 0, 1, ...) uses base_lr x recipe.lr_factor(k): 0 at the first, as in optax."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, recipe.lr_factor)


def clip_gradients(model: nn.Module, max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most `max_norm`; returns the norm before."""
    import torch

    return float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))


def accumulate_gradients(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, *, batch_size: int,
                         micro_batch: int, autocast: bool = False) -> float:
    """Backward of the mean cross-entropy over `batch_size` examples, `micro_batch` at a time.

    Each micro-batch contributes sum(loss)/batch_size, so the accumulated gradient is the big-batch
    gradient whatever the split (up to float summation order). Returns the batch's mean loss.
    """
    import torch
    import torch.nn.functional as F

    total = 0.0
    for x, y in zip(images.split(micro_batch), targets.split(micro_batch)):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, reduction="sum") / batch_size
        loss.backward()
        total += float(loss.detach())
    return total


@dataclass(frozen=True)
class TrainStats:
    """What one `train` call did; stored (as `as_dict()`) with the run's cache entry."""

    steps: int
    resumed_from: int                   # 0 for a fresh run
    steps_this_call: int
    micro_batch: int
    oom_backoffs: int
    seconds: float
    images_per_s: float | None
    peak_memory_bytes: int | None
    loss: dict[int, float]              # mean loss at logged steps
    grad_norm: dict[int, float]         # global grad norm before clipping at logged steps

    def as_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


def _rng_states(device: torch.device) -> dict[str, Any]:
    import torch

    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _set_rng_states(states: Mapping[str, Any], device: torch.device) -> None:
    import torch

    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def _choose_micro_batch(net: nn.Module, recipe: FinetuneRecipe, runtime: Runtime) -> int:
    """Largest power-of-two divisor of the batch whose forward+backward fits (CUDA); 32 at most on CPU."""
    if runtime.micro_batch:
        if recipe.batch_size % runtime.micro_batch:
            raise ValueError(f"micro-batch {runtime.micro_batch} must divide the batch {recipe.batch_size}")
        return runtime.micro_batch
    size = recipe.batch_size
    while size % 2 == 0 and size > (32 if runtime.device.type == "cpu" else 1) and (
            runtime.device.type == "cpu" or not _fits(net, size, recipe.resolution, runtime)):
        size //= 2
    return size


def _fits(net: nn.Module, size: int, resolution: int, runtime: Runtime) -> bool:
    import torch

    try:
        x = torch.zeros(size, 3, resolution, resolution, dtype=torch.uint8, device=runtime.device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=runtime.autocast):
            net(x).float().sum().backward()
        return True
    except torch.cuda.OutOfMemoryError:
        return False
    finally:
        net.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()


def train(net: nn.Module, dataset: Dataset, recipe: FinetuneRecipe, *, base_lr: float, seed: int,
          runtime: Runtime, state_path: Path | None, run_key: str = "", desc: str = "finetune",
          ema: nn.Module | None = None) -> TrainStats:
    """Fine-tune `net` in place for `recipe.steps` steps; resumes from `state_path` if it holds this run."""
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    device = runtime.device
    net.to(device).train()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    micro = _choose_micro_batch(net, recipe, runtime)  # before any RNG is set: the probe may draw from it
    loader_batch = micro  # what the loader yields; `micro` may shrink below it on out-of-memory
    optimizer = make_optimizer(net, recipe, base_lr, device)
    scheduler = make_scheduler(optimizer, recipe)
    step, history = 0, {"loss": {}, "grad_norm": {}}
    if state_path is not None and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        if state.get("run_key") == run_key and state.get("format") == STATE_FORMAT:
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            if ema is not None and state.get("ema") is not None:
                ema.load_state_dict(state["ema"])
            _set_rng_states(state["rng"], device)
            step, history = state["step"], state["history"]
            log.info("%s: resuming at step %d of %d from %s", desc, step, recipe.steps, state_path)
        else:
            log.warning("%s: training state %s belongs to another run; starting afresh", desc, state_path)
    if step == 0:
        torch.manual_seed(seed)  # whatever draws from the global RNG (dropout, if any) depends on the seed only
    resumed_from = step
    forward = torch.compile(net) if runtime.compile else net
    stream = ExampleStream(dataset, seed)
    positions = range(step * recipe.batch_size, recipe.steps * recipe.batch_size)
    workers = runtime.num_workers
    loader = DataLoader(stream, batch_size=loader_batch, sampler=positions, num_workers=workers,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0,
                        prefetch_factor=4 if workers > 0 else None,
                        generator=torch.Generator().manual_seed(seed))  # leaves the global RNG alone
    progress = tqdm(total=recipe.steps, initial=step, desc=desc, unit="step", mininterval=5, file=sys.stderr,
                    leave=False, disable=not runtime.progress)
    backoffs, start_time, images_seen = 0, time.perf_counter(), 0
    batches = iter(loader)
    log_every = max(1, recipe.steps // 100)
    try:
        while step < recipe.steps:
            parts = [next(batches) for _ in range(recipe.batch_size // loader_batch)]
            images = torch.cat([p[0] for p in parts]).to(device, non_blocking=True)
            targets = torch.cat([p[1] for p in parts]).to(device, non_blocking=True)
            while True:
                try:
                    optimizer.zero_grad(set_to_none=True)
                    loss = accumulate_gradients(forward, images, targets, batch_size=recipe.batch_size,
                                                micro_batch=micro, autocast=runtime.autocast)
                    break
                except torch.cuda.OutOfMemoryError:
                    if micro == 1:
                        raise Missing(f"{desc}: out of GPU memory on {device} even at micro-batch 1; "
                                      "run on a GPU with more memory") from None
                    micro //= 2
                    backoffs += 1
                    optimizer.zero_grad(set_to_none=True)
                    torch.cuda.empty_cache()
                    log.warning("%s: CUDA out of memory; micro-batch now %d", desc, micro)
            norm = clip_gradients(net, recipe.grad_clip_norm)
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update(net)
            step += 1
            images_seen += recipe.batch_size
            if step % log_every == 0 or step == recipe.steps:
                history["loss"][step], history["grad_norm"][step] = round(loss, 5), round(norm, 5)
            if state_path is not None and (step % runtime.checkpoint_every == 0 or step == recipe.steps):
                atomic_torch_save({"format": STATE_FORMAT, "run_key": run_key, "step": step,
                                   "position": step * recipe.batch_size, "model": net.state_dict(),
                                   "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                   "ema": ema.state_dict() if ema is not None else None,
                                   "rng": _rng_states(device), "history": history}, state_path)
            progress.update(1)
            if runtime.on_step is not None:
                runtime.on_step(step)
    finally:
        progress.close()
        del batches, loader  # stop the workers now, not at garbage collection
    seconds = time.perf_counter() - start_time
    return TrainStats(
        steps=step, resumed_from=resumed_from, steps_this_call=step - resumed_from, micro_batch=micro,
        oom_backoffs=backoffs, seconds=round(seconds, 3),
        images_per_s=round(images_seen / seconds, 2) if images_seen and seconds > 0 else None,
        peak_memory_bytes=int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None,
        loss=dict(history["loss"]), grad_norm=dict(history["grad_norm"]))
