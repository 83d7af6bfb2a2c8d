"""The `torch.nn.Module` wrappers a loaded checkpoint may be: one module, so the loaders that build them and the
code that inspects them (`measure.models.representations`) import them from here and not from each other.

Each class is made once per process (`functools.cache`), so `isinstance` tells which output a loaded model gives.
Stdlib at import; torch is imported when a class is first made.
"""

from __future__ import annotations

import functools
from typing import Any

# What a module over a transformers ViT returns, by the name of its class: the pooler output (the paper's
# pre-logits layer), the classifier's logits, or the class token after the final LayerNorm (ViTModel applies
# that norm to the whole sequence before the pooler reads token 0).
HF_OUTPUTS: dict[str, Any] = {
    "PreLogits": lambda out: out.pooler_output,
    "Logits": lambda out: out.logits,
    "ClassToken": lambda out: out.last_hidden_state[:, 0],
}


@functools.cache
def hf_output_class(name: str) -> type:
    """images -> one output of a transformers ViT model (`HF_OUTPUTS`); one class per name and process, so
    isinstance tells which output a loaded model gives."""
    import torch

    read = HF_OUTPUTS[name]

    def forward(self: Any, pixel_values: torch.Tensor) -> torch.Tensor:
        return read(self.vit(pixel_values=pixel_values))

    def __init__(self: Any, vit: Any) -> None:
        torch.nn.Module.__init__(self)
        self.vit = vit

    doc = f"images -> {name} of a transformers ViT (measure.models.wrappers.HF_OUTPUTS)"
    return type(name, (torch.nn.Module,), {"__init__": __init__, "forward": forward, "__doc__": doc})


def pre_logits_class() -> type:
    """The module that transformers rows load as: the paper's pre-logits layer (the ViTModel pooler)."""
    return hf_output_class("PreLogits")


@functools.cache
def npz_pre_logits_class() -> type:
    """images -> tanh(dense(class token after the final LayerNorm)): the pre-logits layer of an official
    ImageNet-21k npz on the timm model built from the same file (one class per process, for isinstance)."""
    import torch

    class NpzPreLogits(torch.nn.Module):
        def __init__(self, backbone: torch.nn.Module, kernel: Any, bias: Any) -> None:
            super().__init__()
            self.backbone = backbone  # head-less timm ViT: its output is the class token after the final norm
            self.dense = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
            with torch.no_grad():
                self.dense.weight.copy_(torch.as_tensor(kernel).T)  # flax kernels are (in, out)
                self.dense.bias.copy_(torch.as_tensor(bias))

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.dense(self.backbone(images)))

    return NpzPreLogits


def classifier_class() -> type:
    """images -> logits of a transformers ViTForImageClassification (one class per process)."""
    return hf_output_class("Logits")


def class_token_class() -> type:
    """images -> the class token after the final LayerNorm of a transformers ViTModel (one class per process)."""
    return hf_output_class("ClassToken")
