"""How fine-tuning runs are executed (`Runtime`) and what the command line asks of them (`FinetuneSettings`).

Neither changes what is computed beyond float rounding, except a shortened recipe, which is labelled as such
and keyed apart (`FinetuneRecipe.scaled`). Importing this module costs no torch import (fixtures do it at
collection time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from measure.errors import Missing
from measure.run.device import default_workers, precision, select_device, uses_bf16
from measure.train import recipe as recipe_mod
from measure.train.distributed import World
from measure.train.recipe import FinetuneRecipe

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Runtime:
    """How a run executes. Nothing here changes what is computed beyond float rounding."""

    device: torch.device = field(default_factory=select_device)
    num_workers: int = field(default_factory=default_workers)
    micro_batch: int | None = None      # None: the largest power-of-two share of the batch that fits
    compile: bool = False
    bf16: bool | None = None            # bf16 autocast; None: the suite's rule (measure.run.device.uses_bf16)
    checkpoint_every: int = 500         # steps between saved training states
    eval_batch_size: int = 256
    progress: bool = True
    keep_state: bool = False            # keep the final training state after its predictions are cached
    on_step: Callable[[int], None] | None = field(default=None, compare=False)  # after each step (tests)
    world: World = field(default_factory=World)  # the processes of one run under torchrun (one: World())
    # Set where a run must not be trained here (the paper's ImageNet recipe on a machine without CUDA): a run
    # not already in the cache raises this instead of training; cached runs (e.g. from a torchrun launch) are read.
    refuse_training: Missing | None = field(default=None, compare=False)

    @property
    def autocast(self) -> bool:
        return uses_bf16(self.device, self.bf16)

    @property
    def precision(self) -> str:
        return precision(self.device, self.bf16)


@dataclass(frozen=True)
class FinetuneSettings:
    """What the command line asks of the finetune tier: seeds, and a shortened recipe if any."""

    seeds: tuple[int, ...] = (0,)
    steps: int | None = None          # --claims-finetune-steps (None: Table 4)
    batch: int | None = None          # --claims-finetune-batch (None: 512)
    resolution: int | None = None     # tests only (None: 384)
    runtime: Runtime | None = field(default=None, compare=False)

    def recipe(self, dataset: str, model: str | None = None, pretraining: str = "") -> FinetuneRecipe:
        """The paper's recipe for `dataset` (with `model`'s fine-tuning dropout; on ImageNet, Table 2's §4.1 setting
        for the pairs `recipe.TABLE2_IMAGENET_FINETUNES` names, else 384 px), shortened if asked. ImageNet-ReaL is
        fine-tuned as ImageNet."""
        dataset = recipe_mod.FINETUNED_ON.get(dataset, dataset)
        table2 = dataset == "imagenet" and (model, pretraining) in recipe_mod.TABLE2_IMAGENET_FINETUNES
        return recipe_mod.paper_recipe(dataset, model=model, table2_imagenet=table2).scaled(
            steps=self.steps, batch=self.batch, resolution=self.resolution)

    def recipes(self, dataset: str, model: str, train_size: int, pretraining: str = "") -> tuple[FinetuneRecipe, ...]:
        """Every recipe `model` is fine-tuned with on `dataset` (its `train_size` training images): the
        paper's, and for ResNets also BiT-HyperRule (App. B.1.1), the better kept; shortened alike if asked.
        A shortened BiT-HyperRule keeps its own resolution unless one is forced (tests)."""
        recipes = [self.recipe(dataset, model, pretraining)]
        if recipe_mod.is_resnet(model):
            bit = recipe_mod.bit_hyperrule(recipe_mod.FINETUNED_ON.get(dataset, dataset), train_size)
            recipes.append(bit.scaled(steps=self.steps, batch=self.batch, resolution=self.resolution))
        return tuple(recipes)
