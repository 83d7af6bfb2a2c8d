"""One fine-tune across several processes (GPUs, machines): who this process is, and the few collectives it needs.

torchrun starts one process per GPU and tells each its place through the environment (RANK, WORLD_SIZE,
LOCAL_RANK); `World.from_env` reads it, `World.init` joins the process group (NCCL on CUDA, gloo on CPU), and the
training loop averages the gradients over the ranks once per step (`World.average_gradients`: DistributedDataParallel's
arithmetic, after every rank has finished, so that all can agree on an out-of-memory first). Everything the loop
computes stays a function of the global batch: each rank trains on its contiguous share of every batch of 512
(`measure.train.stream.ShardPositions`), so a run gives the same result on 1, 2 or 64 processes up to float
summation order — and bit for bit where the micro-batches line up (tests/test_distributed.py).

`World()` is the single process (rank 0 of 1): every method is then a no-op and torch.distributed is never
touched. A failure on any rank is printed by that rank, every line prefixed with its rank (`rank_errors`), so the
log of a multi-process run says which process failed and why, not only the leader's view of a lost peer. torch is
imported inside the methods.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

# A rank waits at a barrier while rank 0 predicts the evaluation split (ImageNet val at 512 px: minutes on one
# GPU); NCCL's default 10 minutes would end a healthy run. $CLAIMS_DIST_TIMEOUT_MIN overrides.
DEFAULT_TIMEOUT_MIN = 120


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run (rank 0 of 1 when not distributed)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.size:
            raise ValueError(f"rank {self.rank} outside a world of {self.size} processes")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> World:
        """The world torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK); one process otherwise."""
        env = os.environ if environ is None else environ
        return cls(rank=int(env.get("RANK", 0)), size=int(env.get("WORLD_SIZE", 1)),
                   local_rank=int(env.get("LOCAL_RANK", 0)))

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def leader(self) -> bool:
        """Rank 0: the one process that writes the training state and the cache entries."""
        return self.rank == 0

    def share(self, batch: int) -> int:
        """Examples of each global batch this rank trains on (the batch split evenly: the global batch is the recipe's)."""
        if batch % self.size:
            raise ValueError(f"the batch of {batch} cannot be split evenly over {self.size} processes; use a "
                             f"process count that divides it (512 = 2^9: 1, 2, 4, ... 512 processes)")
        return batch // self.size

    def device(self) -> torch.device:
        """This rank's device: cuda:LOCAL_RANK where CUDA is available, else the CPU."""
        import torch

        if self.distributed and torch.cuda.is_available():
            return torch.device(f"cuda:{self.local_rank}")
        from measure.run.device import select_device

        return select_device()

    def init(self, device: torch.device) -> None:
        """Join the process group (NCCL for CUDA, gloo for CPU); a no-op for one process or when already joined."""
        import torch
        import torch.distributed as dist

        if not self.distributed or dist.is_initialized():
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        timeout = datetime.timedelta(minutes=float(os.environ.get("CLAIMS_DIST_TIMEOUT_MIN", DEFAULT_TIMEOUT_MIN)))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=self.rank, world_size=self.size,
                                timeout=timeout, store=self._attempt_store(timeout))

    def _attempt_store(self, timeout: datetime.timedelta) -> Any:
        """torchrun's key-value store, under a prefix of this restart attempt (None: the env:// default).

        After a lost process torchrun restarts every worker against the same agent store, which still holds the
        previous attempt's gloo/NCCL addresses under the same keys: the new group would connect to dead ports
        (seen with torch 2.15, gloo). A prefix per TORCHELASTIC_RESTART_COUNT keeps the attempts apart."""
        import torch.distributed as dist

        env = os.environ
        if env.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or "TORCHELASTIC_RESTART_COUNT" not in env:
            return None
        agent = dist.TCPStore(env["MASTER_ADDR"], int(env["MASTER_PORT"]), self.size, is_master=False,
                              timeout=timeout)
        return dist.PrefixStore(f"claims/attempt-{env['TORCHELASTIC_RESTART_COUNT']}", agent)

    def close(self) -> None:
        import torch.distributed as dist

        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()

    # -- collectives (no-ops for one process) ----------------------------------------------------------

    def _require_group(self) -> None:
        import torch.distributed as dist

        if not dist.is_initialized():
            raise RuntimeError(f"rank {self.rank} of {self.size}: the process group is not initialised; start the "
                               f"run with torchrun (python -m measure.train.launch does World.init)")

    def mean(self, value: float, device: torch.device) -> float:
        """The mean of `value` over the ranks (float64: a sum of two floats is exact in either order)."""
        if not self.distributed:
            return value
        import torch
        import torch.distributed as dist

        self._require_group()
        total = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(total)
        return float(total.item()) / self.size

    def from_leader(self, value: Any) -> Any:
        """Rank 0's `value` on every rank (what rank 0 saw decides, e.g. whether a cache entry is complete)."""
        if not self.distributed:
            return value
        import torch.distributed as dist

        self._require_group()
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def same(self, value: int, what: str) -> None:
        """Fail loudly unless every rank holds the same `value` (e.g. the step a resumed state was saved at:
        ranks that read different state files — a cache folder not shared between nodes — would diverge)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        self._require_group()
        values: list[Any] = [None] * self.size
        dist.all_gather_object(values, value)
        if len(set(values)) > 1:
            raise RuntimeError(f"the ranks disagree on {what}: {values}; every node must see the same --claims-cache "
                               f"folder (a shared file system), where the training state is saved")

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            self._require_group()
            dist.barrier()

    @property
    def prefix(self) -> str:
        return f"[rank {self.rank} of {self.size}]"

    def any(self, flag: bool, device: torch.device) -> bool:
        """Whether `flag` is true on any rank (every rank gets the same answer)."""
        if not self.distributed:
            return flag
        import torch
        import torch.distributed as dist

        self._require_group()
        value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def broadcast_module(self, net: nn.Module, device: torch.device, parameters: bool = True) -> None:
        """Rank 0's parameters (and buffers) on every rank; buffers only with `parameters=False`."""
        if not self.distributed:
            return
        import torch.distributed as dist

        self._require_group()
        tensors = [*(net.parameters() if parameters else ()), *net.buffers()]
        for tensor in tensors:
            dist.broadcast(tensor.data, src=0)

    def average_gradients(self, net: nn.Module, bucket_elements: int = 2**25) -> None:
        """Every parameter's gradient replaced by its mean over the ranks, in flat buckets (DistributedDataParallel's
        all-reduce, after the whole step rather than overlapped with the last backward: that lets the ranks agree
        on an out-of-memory first). Each rank's gradient is divided by the world size before the sum, as DDP does."""
        if not self.distributed:
            return
        import torch
        import torch.distributed as dist

        self._require_group()
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        bucket: list[torch.Tensor] = []

        def flush() -> None:
            if not bucket:
                return
            flat = torch.cat([g.reshape(-1) for g in bucket]).div_(self.size)
            dist.all_reduce(flat)
            offset = 0
            for g in bucket:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()
            bucket.clear()

        size = 0
        for grad in grads:
            if bucket and (size + grad.numel() > bucket_elements or grad.dtype != bucket[0].dtype):
                flush()
                size = 0
            bucket.append(grad)
            size += grad.numel()
        flush()


PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "NCCL communicator was aborted",
             "Broken pipe", "ProcessGroupNCCL", "recvBytes", "Socket Timeout")


@contextlib.contextmanager
def rank_errors(world: World, stream: Any = None) -> Iterator[None]:
    """Print any exception leaving the block on *this* rank's stderr, every line prefixed with the rank, then let it
    propagate (torchrun's summary then names this rank). A rank whose error is a lost peer says so: the cause is
    another rank's message."""
    try:
        yield
    except BaseException as error:
        if isinstance(error, (SystemExit, KeyboardInterrupt)) or not world.distributed:
            raise
        out = stream or sys.stderr
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        peer = any(mark in text for mark in PEER_LOST)
        head = (f"{world.prefix} failed: {type(error).__name__}: {error}"
                + (" — a peer process was lost; its own [rank N] message above is the cause" if peer else ""))
        print("\n".join([head, *(f"{world.prefix} {line}" for line in text.rstrip().splitlines())]), file=out,
              flush=True)
        raise
