"""Dropout whose mask is a function of the example, not of the batch it happens to be computed in.

A micro-batch follows the accelerator's memory (H100 and H200 pick different ones, an out-of-memory halves it),
so masks drawn per micro-batch from a generator made the step — and so the fine-tune — depend on the card (ViT-L/16
step-1 loss 1.021 with micro-batch 4 against 1.111 with 2). Here each example's mask is a counter-based hash of
(run seed, the example's stream position, the layer, the element): the same example gets the same mask in a
micro-batch of 1, 4 or 512, on one process or many, fresh or resumed — so any micro-batch gives the same step up
to float summation order. Outside a training step that sets the positions (`example_positions`), it is torch's
ordinary dropout.

The hash is lowbias32 (C. Wellons' integer hash, 32-bit, full avalanche) in int32 arithmetic, which wraps in
torch on every device: one mask costs a few element-wise kernels and 4 bytes per activation, transiently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

_M1, _M2 = 0x7FEB352D, 0x846CA68B - (1 << 32)  # lowbias32's multipliers as int32
_GOLDEN = 0x9E3779B9 - (1 << 32)
_state: dict[str, torch.Tensor | None] = {"keys": None}


def _shr(x: torch.Tensor, k: int) -> torch.Tensor:
    return (x >> k) & ((1 << (32 - k)) - 1)  # logical shift of an int32


def mix32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 of an int32 tensor (a bijection of 32-bit words)."""
    x = x ^ _shr(x, 16)
    x = x * _M1
    x = x ^ _shr(x, 15)
    x = x * _M2
    return x ^ _shr(x, 16)


def example_keys(seed: int, positions: torch.Tensor) -> torch.Tensor:
    """One int32 key per example from (run seed, stream position): what its dropout masks are drawn from."""
    base = torch.as_tensor(positions, dtype=torch.int64)
    high = (base >> 31).to(torch.int32)  # positions beyond 2^31 (a 20k-step ImageNet run reaches 10^7) stay distinct
    low = (base & 0x7FFFFFFF).to(torch.int32)
    return mix32(mix32(low ^ mix32(torch.full_like(low, seed & 0x7FFFFFFF))) ^ mix32(high + _GOLDEN))


@contextlib.contextmanager
def example_positions(seed: int, positions: torch.Tensor) -> Iterator[None]:
    """Within this block, `ExampleDropout` layers draw the masks of the examples at `positions` (one per row)."""
    previous = _state["keys"]
    _state["keys"] = example_keys(seed, positions)
    try:
        yield
    finally:
        _state["keys"] = previous


class ExampleDropout(nn.Dropout):
    """nn.Dropout with per-example masks inside `example_positions` (see the module docstring); `layer` tells the
    layers of one model apart."""

    def __init__(self, p: float = 0.5, layer: int = 0) -> None:
        super().__init__(p)
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keys = _state["keys"]
        if not self.training or self.p == 0 or keys is None:
            return super().forward(x)
        if keys.shape[0] != x.shape[0]:
            raise ValueError(f"dropout layer {self.layer}: {x.shape[0]} examples, positions for {keys.shape[0]}")
        per_example = x[0].numel()
        layer_key = mix32(torch.tensor(self.layer * 0x632BE5AB & 0x7FFFFFFF, dtype=torch.int32))
        keys = mix32(keys.to(x.device) ^ layer_key.to(x.device)).view(-1, 1)
        words = mix32(torch.arange(per_example, dtype=torch.int32, device=x.device).view(1, -1) * _GOLDEN + keys)
        threshold = int(self.p * 2**31)
        keep = (words & 0x7FFFFFFF) >= threshold  # 31 uniform bits: P(keep) = 1 - p to 2^-31
        return x * keep.view(x.shape).to(x.dtype) * (1.0 / (1.0 - self.p))


def per_example_dropout(model: nn.Module) -> nn.Module:
    """Every nn.Dropout of `model` replaced in place by an `ExampleDropout` of the same rate (layer ids in module
    order); returns `model`."""
    targets = [(name, module) for name, module in model.named_modules()
               if isinstance(module, nn.Dropout) and not isinstance(module, ExampleDropout)]
    for layer, (name, module) in enumerate(targets):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        replacement = ExampleDropout(module.p, layer)
        replacement.train(module.training)
        setattr(parent, child, replacement)
    return model
