"""Which public checkpoint stands for a paper model: `Model` (what a claim names) → a registry row.

A claim test names models in the paper's terms (ViT-L/16 pre-trained on ImageNet-21k, fine-tuned on
ImageNet at 384 px); the registry (`measure/models/checkpoints.csv`) says which public weights are
that model, with their provenance. Rows marked `unreleased` make a check untestable; a combination
the registry does not know at all is a bug (a typo, a missing row) and raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from measure.tiers.results import Unavailable

PRETRAINING_LABEL = {"imagenet": "I1k", "imagenet21k": "I21k", "jft300m": "JFT"}


@dataclass(frozen=True)
class Model:
    """A paper model under one pre-training (and, for the eval tier, an ImageNet fine-tune)."""

    paper_model: str
    pretraining: str
    finetuned_on: str = ""
    resolution: int | None = None  # where a fine-tune exists at several (Table 5 is at 384)

    @property
    def label(self) -> str:
        tail = f"→{self.finetuned_on}" if self.finetuned_on else ""
        tail += f"@{self.resolution}" if self.resolution else ""
        return f"{self.paper_model} {PRETRAINING_LABEL.get(self.pretraining, self.pretraining)}{tail}"

    def describe(self) -> str:
        what = f"{self.paper_model} pre-trained on {self.pretraining}"
        what += f" and fine-tuned on {self.finetuned_on}" if self.finetuned_on else ""
        return what + (f" at {self.resolution} px" if self.resolution else "")


Finder = Callable[..., Any]  # measure.models.registry.find's signature


def default_finder() -> Finder:
    from measure.models.registry import find

    return find


def resolve(model: Model, *, pre_logits: bool = False, find: Finder | None = None) -> Any:
    """The registry row for `model` (a CheckpointSpec), or Unavailable(untestable) when its row says
    nothing public exists. With `pre_logits`, the twin that keeps the paper's pre-logits layer where one
    is public (§4.1 reads that layer). A LookupError (no row at all) propagates: it is a defect."""
    find = find or default_finder()
    spec = find(model.paper_model, model.pretraining, model.finetuned_on, resolution=model.resolution)
    if not spec.released:
        return Unavailable.untestable(f"no public checkpoint of {model.describe()} ({spec.key}): {spec.note}")
    return (_pre_logits_twin(model, find) or spec) if pre_logits else spec


def _pre_logits_twin(model: Model, find: Finder) -> Any | None:
    # Only some conversions keep the pre-logits layer (the Hugging Face ViTs, the official npz read with it).
    # Chosen by the registry, never by what happens to be cached: a missing twin is not run, not silently
    # swapped for the timm row.
    try:
        twin = find(model.paper_model, model.pretraining, model.finetuned_on, resolution=model.resolution,
                    pre_logits=True)
    except LookupError:
        return None
    return twin if twin.released and twin.pre_logits else None
