"""BiT-HyperRule as the second recipe for ResNets (App. B.1.1), the better of the two kept and both recorded,
and dropout as a recorded recipe choice following vit_jax per model."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import timm
import torch

from measure.train import protocol
from measure.train.protocol import FinetuneRun, finetune, set_dropout, unsupported
from measure.train.recipe import FINETUNE_DROPOUT, bit_hyperrule, is_resnet, paper_recipe
from measure.train.settings import FinetuneSettings


def bit_reference_lr(step: int, dataset_size: int, base_lr: float = 0.003) -> float | None:
    """bit_hyperrule.get_lr, written from its definition: linear warm-up to the first support, /10 after each
    later support passed (strictly), None at the end."""
    supports = ([100, 200, 300, 400, 500] if dataset_size < 20_000 else
                [500, 3000, 6000, 9000, 10_000] if dataset_size < 500_000 else [500, 6000, 12_000, 18_000, 20_000])
    if step < supports[0]:
        return base_lr * step / supports[0]
    if step >= supports[-1]:
        return None
    return base_lr / 10 ** sum(1 for s in supports[1:] if s < step)


@pytest.mark.parametrize("dataset,size", [("cifar10", 50_000), ("cifar100", 50_000), ("pets", 3_680),
                                          ("flowers102", 1_020), ("imagenet", 1_281_167)])
def test_bit_hyperrule_follows_the_released_rule(dataset, size):
    recipe = bit_hyperrule(dataset, size)
    small = size < 20_000
    assert recipe.name == "bit-hyperrule" and recipe.lr_grid == (0.003,) and recipe.batch_size == 512
    assert (recipe.momentum, recipe.weight_decay, recipe.nesterov) == (0.9, 0.0, False)
    assert math.isinf(recipe.grad_clip_norm) and recipe.to_key()["grad_clip_norm"] is None  # no clipping
    assert recipe.mixup_alpha == (0.0 if small else 0.1)
    assert (recipe.train_resize, recipe.resolution) == ((160, 128) if dataset.startswith("cifar") else (512, 480))
    assert recipe.steps == {True: 500, False: 20_000 if size >= 500_000 else 10_000}[small]
    for step in range(recipe.steps):  # every update's lr is the rule's
        assert recipe.lr_at(step, 0.003) == pytest.approx(bit_reference_lr(step, size), rel=1e-12, abs=1e-15)
    assert bit_reference_lr(recipe.steps, size) is None


def test_resnets_get_both_recipes_and_every_model_its_dropout():
    settings = FinetuneSettings()
    paper, bit = settings.recipes("pets", "R152x4", 3_680)
    assert (paper.name, bit.name) == ("vit-paper-finetune", "bit-hyperrule") and paper.dropout == 0.0
    (vit,) = settings.recipes("pets", "ViT-L/16", 3_680)
    (hybrid,) = settings.recipes("pets", "R50+ViT-B/16", 3_680)  # hybrids are fine-tuned like ViTs
    assert (vit.dropout, hybrid.dropout, settings.recipe("pets", "ViT-B/16").dropout) == (0.1, 0.1, 0.0)
    assert FINETUNE_DROPOUT["ViT-H/14"] == 0.1 and FINETUNE_DROPOUT["ViT-L/32"] == 0.0
    assert vit.to_key()["dropout"] == 0.1 != paper_recipe("pets").to_key()["dropout"]  # in every cache key
    assert "dropout 0.1" in vit.label() and "vit_jax configs/models.py" in vit.sources["dropout"]
    assert is_resnet("R50x1") and not is_resnet("R50+ViT-B/16") and not is_resnet("ViT-B/16")
    short = FinetuneSettings(steps=50).recipes("pets", "R50x1", 3_680)[1]
    assert short.shortened and short.decay_steps == (20, 30, 40) and short.warmup_steps == 10


def test_dropout_goes_where_vit_jax_puts_it():
    model = timm.create_model("vit_tiny_patch16_224", num_classes=10)
    set_dropout(model, 0.1)
    rates = {name: module.p for name, module in model.named_modules() if isinstance(module, torch.nn.Dropout)}
    assert rates["pos_drop"] == rates["blocks.0.attn.proj_drop"] == rates["blocks.11.mlp.drop2"] == 0.1
    assert rates["blocks.0.attn.attn_drop"] == 0.0 and rates.get("head_drop", 0.0) == 0.0
    resnet = timm.create_model("resnetv2_50x1_bit", num_classes=10)
    before = [type(m).__name__ for m in resnet.modules()]
    set_dropout(resnet, 0.1)
    assert before == [type(m).__name__ for m in resnet.modules()]


class Scripted:
    """run_one stand-in: the held-out accuracy of each (recipe, lr) from a table; finals record their recipe."""

    def __init__(self, held_out: dict[tuple[str, float], float]) -> None:
        self.held_out, self.calls = held_out, []

    def __call__(self, request, cache, runtime):
        self.calls.append((request.recipe.name, request.base_lr, request.evaluated_on))
        accuracy = self.held_out[(request.recipe.name, request.base_lr)] if request.evaluated_on == "held-out" else 0.9
        correct = np.arange(100) < round(100 * accuracy)
        return FinetuneRun(base_lr=request.base_lr, seed=request.seed, trained_on=request.trained_on,
                           evaluated_on=request.evaluated_on, correct=correct, top1=correct.astype(int), meta={},
                           from_cache=False, recipe=request.recipe.name)


class Split(list):
    """A 40-example training split of two classes (what dataset_labels reads)."""

    @property
    def targets(self) -> list[int]:
        return [i % 2 for i in range(len(self))]


def run_protocol(monkeypatch, held_out, dataset="pets", size=3_680, alter=lambda recipe: recipe):
    scripted = Scripted(held_out)
    monkeypatch.setattr(protocol, "run_one", scripted)
    paper, bit = FinetuneSettings().recipes(dataset, "R50x1", size)
    result = finetune(make_model=lambda: None, data_config={}, num_classes=2,
                      open_split=lambda split, transform: Split(range(40)), recipe=paper, alternatives=[alter(bit)],
                      seeds=[0], cache=None, key={"checkpoint": "x"})
    return result, scripted


def test_the_better_recipe_on_the_development_split_is_kept_and_both_are_recorded(monkeypatch):
    lrs = paper_recipe("pets").lr_grid
    table = {**{("vit-paper-finetune", lr): 0.80 + i / 100 for i, lr in enumerate(lrs)}, ("bit-hyperrule", 0.003): 0.90}
    result, scripted = run_protocol(monkeypatch, table)
    assert result.recipe.name == "bit-hyperrule" and result.best_lr == 0.003 and not result.handicap
    assert scripted.calls[-1] == ("bit-hyperrule", 0.003, "test")  # the final run uses the winner
    meta = result.metadata()
    assert meta["chosen_recipe"] == "bit-hyperrule" and set(meta["recipes"]) == {"vit-paper-finetune", "bit-hyperrule"}
    assert meta["recipes"]["vit-paper-finetune"]["held_out_accuracy"]["0.03"] == pytest.approx(0.83)
    table[("bit-hyperrule", 0.003)] = 0.5  # now the paper's sweep wins, at its best lr
    result, _ = run_protocol(monkeypatch, table)
    assert (result.recipe.name, result.best_lr) == ("vit-paper-finetune", lrs[-1])


def test_bit_hyperrule_runs_on_cifar_with_its_mixup_and_handicaps_nothing(monkeypatch):
    """Issue 12: the loop mixes up (measure/train/stream.py Mixup), so BiT-HyperRule's CIFAR runs are no longer
    skipped and the ResNet side is no longer handicapped there (claims' cannot_verify no longer applies)."""
    lrs = paper_recipe("cifar10").lr_grid
    bit = bit_hyperrule("cifar10", 50_000)
    assert bit.mixup_alpha == 0.1 and unsupported(bit) is None
    table = {**{("vit-paper-finetune", lr): 0.5 for lr in lrs}, ("bit-hyperrule", 0.003): 0.6}
    result, scripted = run_protocol(monkeypatch, table, "cifar10", 50_000)
    assert ("bit-hyperrule", 0.003, "held-out") in scripted.calls and not result.skipped and not result.handicap
    assert result.recipe.name == "bit-hyperrule" and result.metadata()["handicap"] is None


def test_a_recipe_the_loop_cannot_run_is_recorded_and_handicaps_the_model(monkeypatch):
    lrs = paper_recipe("cifar10").lr_grid
    smoothed = lambda recipe: dataclasses.replace(recipe, label_smoothing=0.1)  # the loop has no label smoothing
    result, scripted = run_protocol(monkeypatch, {("vit-paper-finetune", lr): 0.5 for lr in lrs}, "cifar10", 50_000,
                                    alter=smoothed)
    assert unsupported(smoothed(bit_hyperrule("cifar10", 50_000))).startswith("bit-hyperrule needs label smoothing")
    assert "bit-hyperrule" not in {name for name, _, _ in scripted.calls}
    assert result.recipe.name == "vit-paper-finetune" and result.skipped["bit-hyperrule"]
    assert result.handicap.startswith("bit-hyperrule not run: bit-hyperrule needs label smoothing")
    assert "can only lower it" in result.handicap and result.metadata()["handicap"] == result.handicap
