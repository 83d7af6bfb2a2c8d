"""Table 2's and Table 5's ImageNet cells that no released fine-tune reproduces, checked by fine-tuning the public
ImageNet-21k checkpoint on ImageNet in the suite itself (finetune tier, the ILSVRC-2012 train folder).

Which cells: Table 2's ImageNet-21k column (ViT-L/16 fine-tuned at 512 px with Polyak averaging, §4.1 — the
authors released only 224/384-px fine-tunes without it) and Table 5's ImageNet-21k ViT-H/14 (its 384-px
ImageNet fine-tune was never released; the ImageNet-21k pre-training was). They need the tier, the ImageNet
training and validation folders and tens of GPU-hours; offline they are *not run* and say exactly that, with
the cost from FLOPs. Cells whose model itself was never released (the paper's ImageNet-1k ViTs, JFT) stay
untestable in their modules: no fine-tune of ours can stand in for a pre-training that is not public.
"""

from __future__ import annotations

from typing import Any

from claims.decide import references, value_after_finetuning
from measure.tiers.finetune import imagenet_finetune
from measure.tiers.paper_models import Model
from pytest_claims import Plan


def imagenet_value_plan(model: Model, number: Any) -> Plan:
    how = imagenet_finetune(model.paper_model, model.pretraining)
    return Plan(kind="value", tier=how.tier, tolerance="accuracy",
                description=f"{model.label} fine-tuned on ImageNet by the suite from the public checkpoint "
                            f"({how.setting}): top-1 on {number.dataset} against {number.label}")


def value_after_imagenet_finetuning(claim_check: Any, evidence: Any, model: Model, number: Any) -> None:
    """`number` (an ImageNet / ReaL top-1 of Table 2 or 5) against `model` fine-tuned on ImageNet by the finetune
    tier; without the tier, not run naming everything it needs (the tier, the train and val folders, the GPUs)."""
    how = imagenet_finetune(model.paper_model, model.pretraining)
    unselected = evidence.selected("finetune")
    if unselected is not None:
        refs = references(number)
        claim_check.not_run(
            f"{unselected.reason}. Fine-tuning {model.label} on ImageNet ({how.setting}) also needs the ILSVRC-2012 "
            f"train/ and val/ folders under --claims-imagenet DIR, and GPUs: {how.cost.describe()} — train it with "
            f"torchrun (python -m measure.train.launch, docs/FINETUNE.md) and the suite reads the cached runs",
            paper=number, needs=[*unselected.needs, *how.needs], plan=imagenet_value_plan(model, number),
            references=refs or None)
    value_after_finetuning(claim_check, evidence, model, number)
