"""Meta-device forwards without re-running a kernel's shape logic for argument shapes it has already seen.

Counting FLOPs or memory on the meta device computes nothing but shapes, yet each aten op runs its meta kernel as
Python decompositions (elementwise type promotion, broadcasting, GroupNorm's reference implementation), and that is
most of a count's time. The paper's models repeat the same block many times (R152x4's 36 identical stage-3 blocks,
ViT-H's 32 layers), so the same op meets the same argument shapes again and again.

``ShapeMemo`` is a ``TorchDispatchMode`` that records what an op returned for a given key of its arguments'
metadata (``shape_key``) and, when the key comes again, creates new empty meta tensors of the recorded sizes,
strides and dtypes instead of running the kernel. Only ops whose outputs are fresh tensors are memoised: no
mutation, no alias in the schema, and outputs that each own a storage of exactly their own extent (``fresh_specs``;
``aten._unsafe_view`` declares no alias yet returns its input's storage). Counting modes stack above it (entered
after it), so they see every op and its arguments and outputs as before; ``tests/test_memory.py`` and
``tests/test_flops.py`` check the counts are the same with and without it.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["Fresh", "ShapeMemo", "fresh_specs", "shape_key"]


class Fresh(tuple):
    """(size, stride, dtype) of an output that owns a storage of exactly its own extent."""


def shape_key(func, args, kwargs) -> tuple | None:
    """A key under which a meta kernel's outputs are fully determined by its arguments' metadata, or None.

    An op whose outputs are fresh tensors (no view, no in-place write: no alias in its schema) on meta tensors
    returns the same shapes for the same argument shapes, strides, dtypes and storage offsets and the same
    plain (non-tensor) arguments."""
    import torch
    from torch.utils._pytree import tree_flatten

    schema = func._schema
    if schema.is_mutable or any(r.alias_info is not None for r in schema.returns):
        return None
    flat, tree = tree_flatten((args, kwargs))
    parts = []
    for a in flat:
        if isinstance(a, torch.Tensor):
            if a.device.type != "meta":
                return None
            parts.append(("T", tuple(a.shape), a.stride(), a.dtype, a.storage_offset()))
        elif isinstance(a, (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
                            torch.memory_format)):
            parts.append(("V", type(a).__name__, a))
        else:
            return None
    return func, str(tree), tuple(parts)


def fresh_specs(flat: list, inputs: set[int]) -> list | None:
    """The outputs as re-creatable specs, or None when one of them is not a fresh, exactly sized meta tensor
    (``inputs``: the storage ids of the op's tensor arguments, which an output must not share)."""
    import torch

    specs, seen = [], set(inputs)
    for t in flat:
        if not isinstance(t, torch.Tensor):
            specs.append(t)
            continue
        st = t.untyped_storage()
        needed = (1 + sum((n - 1) * s for n, s in zip(t.shape, t.stride()))) * t.element_size() if t.numel() else 0
        if t.device.type != "meta" or t.storage_offset() != 0 or st.nbytes() != needed or id(st) in seen:
            return None
        seen.add(id(st))
        specs.append(Fresh((tuple(t.shape), t.stride(), t.dtype)))
    return specs


@functools.cache
def _shape_memo_class():
    from torch.utils._python_dispatch import TorchDispatchMode

    class ShapeMemoMode(TorchDispatchMode):
        """See the module docstring. ``hits`` / ``misses``: how many ops were re-created / run."""

        def __init__(self) -> None:
            super().__init__()
            self.shapes: dict[tuple, tuple[list, Any]] = {}
            self.hits = 0
            self.misses = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            import torch
            from torch.utils._pytree import tree_flatten, tree_leaves, tree_unflatten

            kwargs = kwargs or {}
            key = shape_key(func, args, kwargs)
            if key is not None and key in self.shapes:
                self.hits += 1
                specs, tree = self.shapes[key]
                return tree_unflatten([torch.empty_strided(s[0], s[1], dtype=s[2], device="meta")
                                       if isinstance(s, Fresh) else s for s in specs], tree)
            self.misses += 1
            out = func(*args, **kwargs)
            if key is not None:
                flat, tree = tree_flatten(out)
                inputs = {id(a.untyped_storage()) for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)}
                specs = fresh_specs(flat, inputs)
                if specs is not None:
                    self.shapes[key] = (specs, tree)
            return out

    return ShapeMemoMode


def ShapeMemo():  # used like a class; torch is imported only when one is made
    """A new ``ShapeMemoMode`` (a ``TorchDispatchMode``): enter it *before* a counting mode."""
    return _shape_memo_class()()
