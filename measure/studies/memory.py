"""Memory per image of the paper's models, counted on the meta device (App. D.5, Figure 12 right).

App. D.5: "Another quantity of interest is the largest batch-size each model can fit onto a core, larger being
better for scaling to large datasets. Figure 12 (right) shows this quantity for the same set of models. This
shows that large ViT models have a clear advantage in terms of memory-efficiency over ResNet models."

Counting. Models are built on the **meta device** (``measure.models.architectures.build``): every tensor has a
shape and a dtype (float32) but no storage, so counting costs no memory and runs in well under a second per model.
Two quantities are counted per (model, image size, batch):

* **inference** — the peak of the bytes of live activations during one ``torch.no_grad()`` forward: a
  ``TorchDispatchMode`` sees every tensor each aten op returns, adds its storage's bytes once (views share a
  storage) and subtracts them when the storage is freed (a weak-reference finaliser; the input counts from the
  start). Parameters and buffers are not activations and are counted separately.
* **training** — what a backward pass keeps: the bytes of the distinct storages that autograd saves for backward
  during a forward with gradients (``torch.autograd.graph.saved_tensors_hooks``), parameters and buffers excluded.
  This is the activation memory a training step holds at the end of its forward, its peak up to the transients of
  the backward itself.

On meta, ``F.scaled_dot_product_attention`` has no fused kernel and runs the math path: the N×N attention matrix is
materialised (and saved for backward), as in the 2020 TPU implementation of the paper (no fused attention); a fused
kernel (FlashAttention) would remove that term, see ``measure.studies.flops``.

Per image. Memory at batch b is fixed + b × per-image for both quantities: what depends on the input scales with
the batch (no op of these models mixes images: GroupNorm and LayerNorm are per image), what is computed from
parameters alone does not (e.g. the weight-standardised kernels of BiT's StdConv2d). One count gives both: every
storage an op creates is marked as depending on the input when any of the op's tensor arguments does (the input
itself seeds the mark). Inference is counted at batch 1, training at batch 2 and halved (``COUNTED_BATCH``: a
batch of one saves views where larger batches save copies). ``tests/test_memory.py`` pins the counts to
hand-computed sizes of small models and checks the counts are linear in the batch.

Largest batch per core. The states that do not scale with the batch are counted from the parameters: inference
holds the parameters; a training step holds parameters, their gradients and Adam's two moments (the paper
pre-trains with Adam, §4.1 / App. B.1), i.e. 4 × the parameter bytes. The largest batch is
⌊(core memory − states − fixed) / per-image⌋ (0 when nothing fits). The core memory is a stated input: a TPUv3
core has 16 GiB of HBM (Cloud TPU v3: 32 GiB HBM2 per chip, two TensorCores per chip). Everything is float32 (the
paper does not say its precision); bfloat16 would halve every model's per-image bytes alike, not the fixed states
of a training step held in float32.

Speed: a meta forward runs every kernel's shape logic as Python decompositions; outputs of an op already run on
the same argument shapes (BiT's repeated blocks) are re-created instead (``measure.studies.meta_shapes``, same
counts).

Caching: like ``measure.studies.flops``, each (model, size, mode) is counted once and kept in the suite's cache.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from measure.models.architectures import build
from measure.studies.meta_shapes import ShapeMemo
from measure.studies.study_cache import ArchitectureRecords

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "ADAM_STATE_FACTOR",
    "CACHE_FOLDER",
    "COUNTED_BATCH",
    "MODES",
    "TPUV3_CORE_BYTES",
    "Bytes",
    "MemoryCount",
    "MemoryCounts",
    "largest_batch",
    "model_memory",
    "peak_inference_bytes",
    "saved_for_backward_bytes",
]

CACHE_FOLDER = "memory"                 # under the suite's --claims-cache
TPUV3_CORE_BYTES = 16 * 2**30           # 32 GiB HBM2 per TPUv3 chip / 2 TensorCores (Cloud TPU v3 docs)
ADAM_STATE_FACTOR = 4                   # parameters + gradients + Adam's first and second moments


@dataclass(frozen=True)
class Bytes:
    """Bytes of one count, split by what they scale with: ``per_batch`` is what depends on the input (scales with
    the batch), ``fixed`` what is computed from parameters and buffers alone (e.g. BiT's standardised kernels)."""

    per_batch: int
    fixed: int


class _Tracker:
    """Storages created during a forward, each marked as depending on the input or not (taint propagation:
    an op's outputs depend on the input when any of its tensor arguments does)."""

    def __init__(self, model: nn.Module) -> None:
        self.static = {id(t.untyped_storage()) for t in (*model.parameters(), *model.buffers())}
        self.live: dict[int, tuple[int, bool]] = {}    # storage id -> (bytes, depends on the input)
        self.current = {True: 0, False: 0}
        self.peak = {True: 0, False: 0}

    def depends(self, t) -> bool:
        entry = self.live.get(id(t.untyped_storage()))
        return entry is not None and entry[1]

    def track(self, t, depends: bool) -> None:
        st = t.untyped_storage()
        key = id(st)
        if key in self.live or key in self.static:
            return
        self.live[key] = (st.nbytes(), depends)
        self.current[depends] += st.nbytes()
        self.peak[depends] = max(self.peak[depends], self.current[depends])
        weakref.finalize(st, self.free, key)

    def free(self, key: int) -> None:
        nbytes, depends = self.live.pop(key, (0, False))
        self.current[depends] -= nbytes

    @contextlib.contextmanager
    def mode(self, memo: bool = True):
        """Track every storage an op returns while the block runs; ``memo``: under a ``ShapeMemo`` (entered first,
        so this mode sees every op before it)."""
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_leaves

        tracker = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                depends = any(tracker.depends(a) for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor))
                out = func(*args, **kwargs)
                for leaf in tree_leaves(out):
                    if isinstance(leaf, torch.Tensor):
                        tracker.track(leaf, depends)
                return out

        with ShapeMemo() if memo else contextlib.nullcontext(), Mode():
            yield


def peak_inference_bytes(model: nn.Module, shape: tuple[int, ...], memo: bool = True) -> Bytes:
    """Peak bytes of live activations during one no-grad forward of ``model`` on an input of ``shape`` (e.g.
    batch × 3 × size × size) on the model's device: ``per_batch`` the peak of those that depend on the input (the
    input included), ``fixed`` the peak of those computed from parameters alone. Parameters and buffers are not
    counted. b × per-image + fixed bounds the peak at batch b from above (the two peaks may fall at different ops).
    ``memo``: re-create the outputs of a meta kernel already run on the same argument shapes
    (``measure.studies.meta_shapes``) instead of running it again; the counts are the same
    (``tests/test_memory.py``), several times faster."""
    import torch

    tracker = _Tracker(model)
    with torch.no_grad():
        x = torch.empty(shape, device=next(model.parameters()).device)
        with tracker.mode(memo):
            tracker.track(x, True)
            out = model(x)
        del out, x
    return Bytes(per_batch=tracker.peak[True], fixed=tracker.peak[False])


def saved_for_backward_bytes(model: nn.Module, shape: tuple[int, ...], memo: bool = True) -> Bytes:
    """Bytes of the distinct storages autograd saves for backward during one forward of ``model`` with gradients
    (parameters and buffers excluded): the activations a training step keeps until its backward, split into those
    that depend on the input and those computed from parameters alone. ``memo``: as for ``peak_inference_bytes``."""
    import torch

    tracker = _Tracker(model)
    saved: dict[int, tuple[int, bool]] = {}
    keep: list = []  # saved storages stay alive until the backward anyway; holding them keeps their ids unique

    def pack(t: torch.Tensor):
        st = t.untyped_storage()
        if id(st) not in tracker.static and id(st) not in saved:
            saved[id(st)] = (st.nbytes(), tracker.depends(t))
            keep.append(st)
        return t

    x = torch.empty(shape, device=next(model.parameters()).device)
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), tracker.mode(memo):
        tracker.track(x, True)
        model(x)
    return Bytes(per_batch=sum(n for n, d in saved.values() if d), fixed=sum(n for n, d in saved.values() if not d))


MODES = ("inference", "training")
# Batch counted per mode. Inference counts are linear in the batch from batch 1; saved-for-backward counts of the
# ViTs are not at batch 1 (some tensors of a batch of one are views that become copies from batch 2 on: ViT-B/32 at
# 128 px saves 11.70 MB at batch 1, 20.89 / 41.78 / 83.57 MB at 2 / 4 / 8), so training counts are taken at batch 2
# and halved: the slope of the line, which is what the largest batch depends on.
COUNTED_BATCH = {"inference": 1, "training": 2}
STATE_FACTOR = {"inference": 1, "training": ADAM_STATE_FACTOR}   # × parameter bytes held besides activations


@dataclass(frozen=True)
class MemoryCount:
    """One model at one image size, one mode: activation bytes per image and fixed, and the parameters."""

    mode: str            # "inference" (peak live, no-grad forward) | "training" (saved for backward)
    img_size: int
    batch: int           # the batch counted (per image = its count / batch)
    params: int
    param_bytes: int
    per_image: int
    fixed: int
    device: str = "meta"
    dtype: str = "float32"

    @property
    def state_bytes(self) -> int:
        """Bytes held besides activations: parameters (inference); + gradients + Adam's moments (training)."""
        return STATE_FACTOR[self.mode] * self.param_bytes

    def largest_batch(self, core_bytes: int = TPUV3_CORE_BYTES) -> int:
        return largest_batch(core_bytes, self.state_bytes + self.fixed, self.per_image)

    def describe(self) -> str:
        what = ("peak live activations of a no-grad forward" if self.mode == "inference"
                else "tensors saved for backward by a forward with gradients")
        states = ("parameters" if self.mode == "inference" else "parameters + gradients + Adam's two moments")
        return (f"{self.per_image / 2**20:.2f} MiB/image ({what}, counted at batch {self.batch}), fixed "
                f"{self.fixed / 2**20:.1f} MiB, {states} {self.state_bytes / 2**20:.0f} MiB; {self.dtype} on "
                f"{self.device} at {self.img_size}px, no head")


def largest_batch(core_bytes: int, fixed_bytes: int, per_image_bytes: int) -> int:
    """The largest batch b with fixed + b × per-image ≤ core memory (0 when not even one image fits)."""
    if per_image_bytes <= 0:
        raise ValueError(f"per-image bytes must be positive, got {per_image_bytes}")
    return max(0, (core_bytes - fixed_bytes) // per_image_bytes)


def model_memory(name: str, img_size: int, mode: str) -> MemoryCount:
    """Memory count of the paper model ``name`` (no head) at ``img_size`` px in ``mode``, on the meta device
    (computed, not cached)."""
    from measure.models.architectures import count_params

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    model = build(name, num_classes=0, img_size=img_size, device="meta")
    batch = COUNTED_BATCH[mode]
    shape = (batch, 3, img_size, img_size)
    if mode == "inference":
        counted = peak_inference_bytes(model, shape)
    else:
        model.train()  # dropout rates are 0 in these builds; GroupNorm and LayerNorm have no train mode
        counted = saved_for_backward_bytes(model, shape)
    params = count_params(model)
    return MemoryCount(mode=mode, img_size=img_size, batch=batch, params=params, param_bytes=4 * params,
                       per_image=counted.per_batch // batch, fixed=counted.fixed)


class MemoryCounts:
    """``model_memory`` of the paper models, each (model, size, mode) counted once and kept in the suite's cache."""

    def __init__(self, cache_root: Path | str) -> None:
        self.records = {mode: ArchitectureRecords(cache_root, f"{CACHE_FOLDER}-{mode}", __name__) for mode in MODES}

    def count(self, name: str, img_size: int, mode: str) -> MemoryCount:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        return MemoryCount(**self.records[mode].get(name, img_size,
                                                    lambda: asdict(model_memory(name, img_size, mode))))
