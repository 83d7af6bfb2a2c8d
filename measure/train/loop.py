"""The training loop of the paper's fine-tuning recipe (App. B.1.1, measure/train/recipe.py).

SGD + momentum, global-norm clipping, warm-up + cosine (or BiT's steps), mixup where the recipe asks for it,
gradient accumulation over micro-batches (the effective batch is the recipe's whatever the GPU holds), bf16
autocast and fused SGD on CUDA, channels-last for convolutional models (measure/train/surgery.py), optional
`torch.compile`, Polyak averaging (§4.1) on the training device, and one run over several processes
(`Runtime.world`, measure/train/distributed.py): the global batch stays the recipe's, each rank trains on its share
of it, and the gradients are averaged once per step after every rank has finished its share — so an out-of-memory
on one rank is agreed on by all, which halve the micro-batch together and retry the step.

Nothing the loop draws depends on history or on the micro-batch: the data and their augmentation are functions of
(seed, position) (measure/train/stream.py), mixup's λ and pairs of (seed, step), and each example's dropout masks
of (seed, its position) (measure/train/dropout.py). So the state saved atomically every `checkpoint_every` steps
(weights, optimizer, scheduler, step, Polyak average) is all a resumed run needs — on one process or many, after a
lost process or node, with the micro-batch another card holds — and on CPU it ends bit for bit where an
uninterrupted run with the same micro-batch ends. torch is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from measure.errors import Missing
from measure.run.device import is_out_of_memory
from measure.run.files import atomic_torch_save, plain_data
from measure.train.recipe import FinetuneRecipe
from measure.train.settings import Runtime
from measure.train.stream import ExampleStream, Mixup, ShardPositions

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.data import Dataset

log = logging.getLogger(__name__)

STATE_FORMAT = 2  # 2: no RNG states (nothing depends on them), Polyak average, world-size independent


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


@dataclass(frozen=True)
class MixedBatch:
    """This rank's examples' mixup partners and the step's λ (measure.train.stream.Mixup)."""

    lam: float
    images: torch.Tensor
    targets: torch.Tensor


def accumulate_gradients(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, *, batch_size: int,
                         micro_batch: int, autocast: bool = False, mixed: MixedBatch | None = None,
                         positions: torch.Tensor | None = None, seed: int = 0) -> float:
    """Backward of the mean cross-entropy over `batch_size` examples, `micro_batch` at a time.

    Each micro-batch contributes sum(loss)/batch_size, so the accumulated gradient is the big-batch
    gradient whatever the split (up to float summation order). Returns the batch's mean loss.
    `mixed`: mixup — the input λ·x + (1−λ)·x', the loss λ·CE(y) + (1−λ)·CE(y'). `positions`: the stream position
    of each example; dropout masks are then drawn per example from (`seed`, position) (measure.train.dropout), so
    any micro-batch gives the same step. No collective runs here: under torchrun the caller averages the
    gradients once every rank has finished (or agrees to retry after an out-of-memory).
    """
    import torch
    import torch.nn.functional as F

    from measure.train.dropout import example_positions

    total = 0.0
    parts = list(zip(images.split(micro_batch), targets.split(micro_batch)))
    partners = (list(zip(mixed.images.split(micro_batch), mixed.targets.split(micro_batch))) if mixed is not None
                else [None] * len(parts))
    where = positions.split(micro_batch) if positions is not None else [None] * len(parts)
    for (x, y), partner, at in zip(parts, partners, where):
        if partner is not None:
            x = mixed.lam * x.float() + (1.0 - mixed.lam) * partner[0].float()
        with (example_positions(seed, at) if at is not None else contextlib.nullcontext(),
              torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast)):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, reduction="sum")
        if partner is not None:
            loss = mixed.lam * loss + (1.0 - mixed.lam) * F.cross_entropy(logits.float(), partner[1],
                                                                           reduction="sum")
        loss = loss / batch_size
        loss.backward()
        total += float(loss.detach())
    return total


def has_running_statistics(net: nn.Module) -> bool:
    """Whether a forward in training mode changes a buffer (BatchNorm's running statistics): only then must the
    replicas' buffers be made rank 0's after each step (ViTs and BiT's GroupNorm have none)."""
    from torch.nn.modules.batchnorm import _BatchNorm

    return any(isinstance(m, _BatchNorm) and m.track_running_stats for m in net.modules())


def polyak_average(net: nn.Module, decay: float) -> nn.Module:
    """§4.1's Polyak averaging of `net` (timm's ModelEmaV3), its copy made where `net` lives — so build it after
    `net` is on the training device: an average left on the CPU fails at the first update against CUDA weights."""
    from timm.utils import ModelEmaV3

    return ModelEmaV3(net, decay=decay, device=next(net.parameters()).device)


@dataclass(frozen=True)
class TrainStats:
    """What one `train` call did; stored (as `as_dict()`) with the run's cache entry."""

    steps: int
    resumed_from: int                   # 0 for a fresh run
    steps_this_call: int
    micro_batch: int                    # per process
    processes: int                      # torchrun world size (1: one process)
    oom_backoffs: int
    seconds: float
    images_per_s: float | None
    peak_memory_bytes: int | None
    loss: dict[int, float]              # mean loss at logged steps
    grad_norm: dict[int, float]         # global grad norm before clipping at logged steps

    def as_dict(self) -> dict[str, Any]:
        return plain_data(asdict(self))


def _first_micro_batch(recipe: FinetuneRecipe, runtime: Runtime, per_rank: int) -> int:
    """The micro-batch the first step tries: the runtime's, else this rank's whole share on CUDA (out-of-memory
    halves it, agreed by every rank, during the first real steps — with the optimizer state and the Polyak average
    already allocated, so what fits then fits for the run), else the largest power-of-two divisor <= 32 on CPU."""
    if runtime.micro_batch:
        if per_rank % runtime.micro_batch:
            raise ValueError(f"micro-batch {runtime.micro_batch} must divide this process's share of the batch "
                             f"({per_rank} of {recipe.batch_size})")
        return runtime.micro_batch
    size = per_rank
    while runtime.device.type != "cuda" and size % 2 == 0 and size > 32:
        size //= 2
    return size


def allocate_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """SGD's momentum buffers as zeros now, not at the first step: the memory of a real step exists before the
    first micro-batch runs, so an out-of-memory is met inside the guarded part. Exact: with dampening 0 the first
    update computes m·0 + g = g, what torch's lazily created buffer (a copy of g) holds."""
    import torch

    for group in optimizer.param_groups:
        if not group.get("momentum"):
            continue
        if group.get("dampening", 0):
            raise ValueError("pre-allocated momentum needs dampening 0 (the paper's SGD)")
        for param in group["params"]:
            state = optimizer.state[param]
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)


def train(net: nn.Module, dataset: Dataset, recipe: FinetuneRecipe, *, base_lr: float, seed: int,
          runtime: Runtime, state_path: Path | None, run_key: str = "", desc: str = "finetune",
          ema: nn.Module | None = None) -> TrainStats:
    """Fine-tune `net` in place for `recipe.steps` steps; resumes from `state_path` if it holds this run.

    `ema`: a Polyak average of `net` (`polyak_average`, built on the training device), updated after every step.
    Under torchrun (`runtime.world`) every rank calls this with the same arguments; rank 0 saves the state.
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    device, world = runtime.device, runtime.world
    net.to(device).train()
    if ema is not None and next(ema.parameters()).device != next(net.parameters()).device:
        raise ValueError(f"{desc}: the Polyak average lives on {next(ema.parameters()).device}, the model on "
                         f"{device}; build it with polyak_average after the model is on its device")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    per_rank = world.share(recipe.batch_size)
    micro = _first_micro_batch(recipe, runtime, per_rank)
    from measure.train.dropout import per_example_dropout

    per_example_dropout(net)  # masks follow the examples, not the micro-batch (measure/train/dropout.py)
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
            step, history = state["step"], state["history"]
            log.info("%s: resuming at step %d of %d from %s", desc, step, recipe.steps, state_path)
        else:
            log.warning("%s: training state %s belongs to another run; starting afresh", desc, state_path)
    world.same(step, f"the step to resume {desc} at")
    allocate_optimizer_state(optimizer)
    world.broadcast_module(net, device)  # every replica starts from rank 0's weights
    sync_buffers = world.distributed and has_running_statistics(net)
    resumed_from = step
    forward = torch.compile(net) if runtime.compile else net
    mixup = Mixup(recipe.mixup_alpha, recipe.batch_size, seed) if recipe.mixup_alpha else None
    stream = ExampleStream(dataset, seed, mixup)
    workers = runtime.num_workers
    # One loader batch is this rank's whole share of a step: the batch arrives pinned and is copied asynchronously
    # as it is (a torch.cat of pinned parts would be pageable memory, every copy synchronous).
    loader = DataLoader(stream, batch_size=per_rank,
                        sampler=ShardPositions(step, recipe.steps, recipe.batch_size, world.rank, world.size),
                        num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0,
                        prefetch_factor=2 if workers > 0 else None,
                        generator=torch.Generator().manual_seed(seed))  # leaves the global RNG alone
    progress = tqdm(total=recipe.steps, initial=step, desc=desc, unit="step", mininterval=5, file=sys.stderr,
                    leave=False, disable=not runtime.progress or not world.leader)
    backoffs, start_time, images_seen = 0, time.perf_counter(), 0
    batches = iter(loader)
    log_every = max(1, recipe.steps // 100)
    try:
        while step < recipe.steps:
            columns = [column.to(device, non_blocking=True) for column in next(batches)]
            images, targets = columns[0], columns[1]
            mixed = MixedBatch(mixup.draw(step)[0], columns[2], columns[3]) if mixup is not None else None
            first = step * recipe.batch_size + world.rank * per_rank  # this rank's first stream position
            positions = torch.arange(first, first + per_rank, dtype=torch.int64)
            while True:
                out_of_memory = False
                optimizer.zero_grad(set_to_none=True)
                try:
                    loss = accumulate_gradients(forward, images, targets, batch_size=per_rank, micro_batch=micro,
                                                autocast=runtime.autocast, mixed=mixed, positions=positions,
                                                seed=seed)
                except RuntimeError as exc:  # torch's OutOfMemoryError and cuBLAS / cuDNN allocation failures
                    if not is_out_of_memory(exc):
                        raise
                    out_of_memory = True
                # Every rank learns whether any ran out of memory before any gradient is exchanged: then all halve
                # together and retry the step; none waits in a collective another rank will never join.
                if not world.any(out_of_memory, device):
                    break
                optimizer.zero_grad(set_to_none=True)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                if micro == 1:
                    raise Missing(f"{desc}: out of GPU memory on {device} even at micro-batch 1"
                                  + (f" (on some rank of {world.size})" if world.distributed else "")
                                  + "; run on a GPU with more memory") from None
                micro //= 2
                backoffs += 1
                log.warning("%s: CUDA out of memory%s; micro-batch now %d on every rank", desc,
                            f" on rank {world.rank}" if out_of_memory and world.distributed else "", micro)
            world.average_gradients(net)  # each rank's loss is over its share: DDP's mean, after all finished
            loss = world.mean(loss, device)
            norm = clip_gradients(net, recipe.grad_clip_norm)  # after the all-reduce: the same on every rank
            optimizer.step()
            scheduler.step()
            if sync_buffers:
                world.broadcast_module(net, device, parameters=False)  # BatchNorm statistics: rank 0's
            if ema is not None:
                ema.update(net)
            step += 1
            images_seen += recipe.batch_size
            if step % log_every == 0 or step == recipe.steps:
                history["loss"][step], history["grad_norm"][step] = round(loss, 5), round(norm, 5)
            if (world.leader and state_path is not None
                    and (step % runtime.checkpoint_every == 0 or step == recipe.steps)):
                atomic_torch_save({"format": STATE_FORMAT, "run_key": run_key, "step": step,
                                   "position": step * recipe.batch_size, "model": net.state_dict(),
                                   "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                   "ema": ema.state_dict() if ema is not None else None, "history": history},
                                  state_path)
            progress.update(1)
            if runtime.on_step is not None:
                runtime.on_step(step)
    finally:
        progress.close()
        del batches, loader  # stop the workers now, not at garbage collection
    seconds = time.perf_counter() - start_time
    return TrainStats(
        steps=step, resumed_from=resumed_from, steps_this_call=step - resumed_from, micro_batch=micro,
        processes=world.size, oom_backoffs=backoffs, seconds=round(seconds, 3),
        images_per_s=round(images_seen / seconds, 2) if images_seen and seconds > 0 else None,
        peak_memory_bytes=int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None,
        loss=dict(history["loss"]), grad_norm=dict(history["grad_norm"]))
