"""Where a measurement runs and in which precision — the policy every GPU-using step follows, written once.

* device: `$CLAIMS_DEVICE` if set; else one GPU per pytest-xdist worker (gwN → cuda:N mod count); else CPU;
* precision: bf16 autocast on CUDA, float32 elsewhere (a CPU without bf16 units would measure a slow
  emulation); the precision's label is part of every cache key, since the numerics differ;
* loader workers: the machine's cores shared between xdist workers.

The xdist worker index and count come from the environment variables pytest-xdist sets in its workers,
so this module imports neither pytest nor torch (torch only inside `select_device`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

BF16 = "bf16-autocast"
FLOAT32 = "float32"


def xdist_worker_index() -> int:
    """This pytest-xdist worker's number (gwN → N); 0 outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def xdist_worker_count() -> int:
    """How many pytest-xdist workers share this machine; 1 outside xdist."""
    return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))


def default_workers() -> int:
    """Share the CPU cores between xdist workers; 0 (load in-process) on small machines."""
    per_worker = (os.cpu_count() or 1) // xdist_worker_count()
    return max(0, min(8, per_worker - 1)) if per_worker > 2 else 0


def select_device() -> torch.device:
    """`$CLAIMS_DEVICE` if set; else one GPU per xdist worker (gwN -> cuda:N mod count); else CPU."""
    import torch

    if forced := os.environ.get("CLAIMS_DEVICE"):
        return torch.device(forced)
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device(f"cuda:{xdist_worker_index() % torch.cuda.device_count()}")


def uses_bf16(device: torch.device, override: bool | None = None) -> bool:
    """Whether to autocast to bf16 on `device`: on CUDA only, unless `override` says otherwise."""
    return device.type == "cuda" if override is None else override


def precision(device: torch.device, override: bool | None = None) -> str:
    """The label of `uses_bf16(device, override)`; numerics differ between the two, so it keys every cache entry."""
    return BF16 if uses_bf16(device, override) else FLOAT32
