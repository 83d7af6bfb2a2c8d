"""Where a measurement runs and in which precision — the policy every GPU-using step follows, written once.

* device policy (``--claims-device`` / ``$CLAIMS_DEVICE``): ``cuda`` (a GPU or a usage error naming the driver,
  torch's CUDA version and the fix), ``cpu``, or ``auto`` (a GPU if one is usable, else the CPU with a warning);
  an explicit ``cuda:N`` pins one GPU. Under CUDA each pytest-xdist worker gets one GPU (gwN → cuda:N mod the
  count), made its *current* device (`torch.cuda.set_device`), so pin-memory threads and cuBLAS handles open no
  context on GPU 0;
* precision: bf16 autocast on CUDA, float32 elsewhere (a CPU without bf16 units would measure a slow
  emulation); the precision's label is part of every cache key, since the numerics differ;
* loader workers: the machine's cores shared between xdist workers and torchrun's local processes;
* shared memory: DataLoader workers hand batches over through /dev/shm; a container's default 64 MB dies with a
  bus error in the middle of a run, so the room is checked before one starts (`check_shared_memory`).

The xdist worker index and count come from the environment variables pytest-xdist sets in its workers,
so this module imports neither pytest nor torch (torch only inside the functions that need it).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from measure.errors import Missing

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

BF16 = "bf16-autocast"
FLOAT32 = "float32"
POLICIES = ("auto", "cuda", "cpu")
DEVICE_ENV = "CLAIMS_DEVICE"
# The oldest Linux driver each CUDA major version of torch's wheels runs on (NVIDIA's CUDA compatibility table:
# minor-version compatibility within a major version).
MIN_DRIVER = {11: "450.80", 12: "525.60", 13: "580.65"}
SHM = "/dev/shm"


class DeviceUnavailable(Missing):
    """``cuda`` was asked for and no GPU is usable: what the driver and torch say, and the fix."""


def xdist_worker_index() -> int:
    """This pytest-xdist worker's number (gwN → N); 0 outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def xdist_worker_count() -> int:
    """How many pytest-xdist workers share this machine; 1 outside xdist."""
    return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))


def local_world_size() -> int:
    """How many torchrun processes share this machine (LOCAL_WORLD_SIZE); 1 outside torchrun."""
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))


def default_workers() -> int:
    """Share the CPU cores between the processes of this machine (xdist workers, torchrun's local ranks);
    0 (load in-process) on small machines."""
    per_process = (os.cpu_count() or 1) // (xdist_worker_count() * local_world_size())
    return max(0, min(8, per_process - 1)) if per_process > 2 else 0


def device_policy(value: str | None = None) -> str:
    """The policy `value` (default ``$CLAIMS_DEVICE``, else auto): auto, cuda, cpu or an explicit cuda:N."""
    text = (value if value is not None else os.environ.get(DEVICE_ENV, "")).strip().lower() or "auto"
    if text in POLICIES or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise ValueError(f"device policy {text!r}: choose cuda, cpu or auto (or cuda:N for one GPU)")


def driver_version() -> str | None:
    """The NVIDIA driver's version as nvidia-smi reports it; None where there is no driver (or no nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split()
    return lines[0] if done.returncode == 0 and lines else None


def cuda_problem() -> str | None:
    """Why no GPU is usable here, in one line with the fix; None where CUDA works."""
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        return None
    built = torch.version.cuda
    if built is None:
        return (f"torch {torch.__version__} is a CPU-only build; install the CUDA wheel of the same version "
                f"(requirements.lock) or run with --claims-device cpu")
    driver = driver_version()
    major = int(built.split(".")[0])
    need = MIN_DRIVER.get(major, "a newer one")
    if driver is None:
        return (f"no NVIDIA driver found (nvidia-smi absent or failing) while torch {torch.__version__} is built "
                f"for CUDA {built} (driver >= {need}); install the driver, expose the GPUs to the container "
                f"(--gpus all), or run with --claims-device cpu")
    return (f"torch {torch.__version__} is built for CUDA {built}, which needs driver >= {need}; this machine's "
            f"driver is {driver} (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); upgrade "
            f"the driver, install torch built for the driver's CUDA, or run with --claims-device cpu")


def check_xdist_workers(policy: str, workers: int) -> str | None:
    """With `workers` xdist workers under `policy`: a warning when they outnumber the GPUs (they share them:
    memory contention, not speed); raises DeviceUnavailable under ``cuda`` (an explicit GPU run)."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if policy == "cpu" or gpus == 0 or workers <= gpus:
        return None
    text = (f"-n {workers} runs {workers} pytest-xdist workers on {gpus} GPU(s): workers would share GPUs "
            f"(gwN -> cuda:N mod {gpus}), each holding its own models and batches; use -n {gpus}")
    if policy == "cuda":
        raise DeviceUnavailable(text + " (or --claims-device auto to share them anyway)")
    return text


def select_device(policy: str | None = None) -> torch.device:
    """The device of this process under `policy` (default `$CLAIMS_DEVICE`, else auto): an explicit cuda:N; else
    one GPU per xdist worker (gwN -> cuda:N mod count) under auto/cuda, made current; else the CPU.
    Raises DeviceUnavailable under ``cuda`` without a usable GPU."""
    import torch

    policy = device_policy(policy)
    if policy == "cpu":
        return torch.device("cpu")
    problem = cuda_problem()
    if problem is not None:
        if policy != "auto":
            raise DeviceUnavailable(f"--claims-device {policy}: {problem}")
        return torch.device("cpu")
    if policy.startswith("cuda:"):
        device = torch.device(policy)
    else:
        device = torch.device(f"cuda:{xdist_worker_index() % torch.cuda.device_count()}")
        if (shared := check_xdist_workers(policy, xdist_worker_count())) and xdist_worker_index() == 0:
            log.warning(shared)
    torch.cuda.set_device(device)  # this worker's context, pinned-memory thread and handles on its own GPU
    return device


def uses_bf16(device: torch.device, override: bool | None = None) -> bool:
    """Whether to autocast to bf16 on `device`: on CUDA only, unless `override` says otherwise."""
    return device.type == "cuda" if override is None else override


def precision(device: torch.device, override: bool | None = None) -> str:
    """The label of `uses_bf16(device, override)`; numerics differ between the two, so it keys every cache entry."""
    return BF16 if uses_bf16(device, override) else FLOAT32


def check_shared_memory(needed_bytes: int, what: str, folder: str = SHM) -> None:
    """Raise Missing, with the fix, when `folder` (/dev/shm) cannot hold `needed_bytes` of batches in flight:
    DataLoader workers would die with a bus error in the middle of the run. No-op where the folder is absent."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if needed_bytes > free:
        raise Missing(f"{what}: DataLoader workers need ~{needed_bytes / 2**20:,.0f} MiB of shared memory for the "
                      f"batches in flight, {folder} has {free / 2**20:,.0f} MiB free; start the container with "
                      f"--shm-size={max(1, -(-2 * needed_bytes // 2**30))}g (or --ipc=host), or load in-process "
                      f"with fewer/no workers")


# What CUDA raises when it cannot allocate: torch's OutOfMemoryError, and the RuntimeErrors of cuBLAS and cuDNN when
# a handle or its workspace finds no memory (created lazily, on a model's first matmul or convolution).
OUT_OF_MEMORY = ("CUDA out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_NOT_INITIALIZED",
                 "CUDNN_STATUS_ALLOC_FAILED", "CUDNN_STATUS_NOT_INITIALIZED")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is the GPU running out of memory, however the library that allocated says it."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(text in str(exc) for text in OUT_OF_MEMORY)


def open_handles(device: torch.device, convolutions: bool) -> None:
    """Create the cuBLAS (and, for a convolutional model, cuDNN) handles of `device` now, with one tiny matmul and
    convolution, so that a GPU too full for them fails where the caller guards it, not inside a later call.
    No-op off CUDA."""
    import torch

    if device.type != "cuda":
        return
    x = torch.ones(8, 8, device=device)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=uses_bf16(device)):  # cuBLASLt under bf16 too
        (x @ x).sum().item()
    if convolutions:
        torch.nn.functional.conv2d(x.view(1, 1, 8, 8), torch.ones(1, 1, 3, 3, device=device)).sum().item()
