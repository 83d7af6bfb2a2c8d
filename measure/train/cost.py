"""What a fine-tune costs, from FLOPs: the GPU-hours a not-run ImageNet cell names, and docs/FINETUNE.md's table.

FLOPs are counted as measure/studies/flops.py counts them (matmuls and convolutions, a multiply-add = 2 FLOPs, no
head): for a plain ViT that is a closed form in Table 1's dimensions (`vit_forward_flops`, tested against the
counter), so a claim can state the cost offline without importing torch. Training = 3 × forward FLOPs × steps ×
batch (the flops study's convention); evaluation = forward FLOPs × images.

Time = FLOPs / (peak × model-FLOP utilisation). The peak and the utilisations are **assumptions**, not
measurements (no GPU has run this suite's fine-tuning yet): one H100 SXM, 989 TFLOP/s dense bf16; 40 % MFU for
ViTs, 30 % for hybrids, 25 % for BiT ResNets (GroupNorm and weight standardisation are memory-bound).
`benchmarks/bench_finetune.py` measures the real MFU on a GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import paper
from measure.train.recipe import FinetuneRecipe

PEAK_FLOPS = 989e12           # H100 SXM, dense bf16 (NVIDIA's datasheet); an assumption of every estimate here
PEAK_NAME = "H100"
ASSUMED_MFU = {"vit": 0.40, "hybrid": 0.30, "resnet": 0.25}
FORWARD_BACKWARD = 3          # as measure.studies.flops.FORWARD_BACKWARD_FACTOR (not imported: that imports torch)
_VARIANTS = {"B": "ViT-Base", "L": "ViT-Large", "H": "ViT-Huge"}


def family(paper_model: str) -> str:
    """vit | hybrid | resnet, from the paper's model name."""
    if paper_model.startswith("ViT-"):
        return "vit"
    return "hybrid" if "+ViT" in paper_model else "resnet"


def vit_forward_flops(paper_model: str, resolution: int) -> float:
    """Forward FLOPs per image of the plain ViT `paper_model` (e.g. "ViT-L/16") at `resolution` px, without the
    head: per block the q/k/v and output projections (8·N·D²), the MLP (4·N·D·M) and attention's Q·Kᵀ and A·V
    (4·N²·D), over N = (resolution/patch)² + 1 tokens, plus the patch embedding — D, M and the depth from Table 1."""
    match = re.fullmatch(r"ViT-([BLH])/(\d+)", paper_model)
    if match is None:
        raise ValueError(f"{paper_model!r} is not a plain ViT (ViT-B/32 ... ViT-H/14)")
    row, patch = _VARIANTS[match.group(1)], int(match.group(2))

    def dim(metric: str) -> int:
        return int(paper.number(table="Table 1", row=row, metric=metric).value)

    depth, width, mlp = dim("layers"), dim("hidden_size"), dim("mlp_size")
    grid = (resolution // patch) ** 2
    tokens = grid + 1
    block = 8 * tokens * width * width + 4 * tokens * width * mlp + 4 * tokens * tokens * width
    return float(depth * block + 2 * grid * 3 * patch * patch * width)


@dataclass(frozen=True)
class FinetuneCost:
    """GPU-hours of fine-tuning one model on one dataset with one recipe (one seed), at an assumed MFU."""

    forward_flops: float      # per image, at the recipe's resolution
    recipe: FinetuneRecipe
    train_images: int         # the training split (the sweep holds out recipe.held_out_fraction of it)
    test_images: int
    mfu: float

    @property
    def flops_per_second(self) -> float:
        return PEAK_FLOPS * self.mfu

    @property
    def held_out_images(self) -> int:
        return self.train_images - int(self.train_images * (1 - self.recipe.held_out_fraction) + 0.5)

    def run_hours(self, eval_images: int) -> float:
        """One run: training (steps × batch images, forward + backward) and predicting `eval_images`."""
        flops = self.forward_flops * (FORWARD_BACKWARD * self.recipe.steps * self.recipe.batch_size + eval_images)
        return flops / self.flops_per_second / 3600

    @property
    def sweep_runs(self) -> int:
        return len(self.recipe.lr_grid) if len(self.recipe.lr_grid) > 1 else 0

    @property
    def tier_hours(self) -> float:
        """The lr sweep (one run per lr, judged on the held-out part) and the final run on the test split."""
        return self.sweep_runs * self.run_hours(self.held_out_images) + self.run_hours(self.test_images)

    def describe(self, gpus: int = 8) -> str:
        """One phrase for a plan or a need: GPU-hours and the wall time on `gpus` GPUs."""
        runs = f"{self.sweep_runs}-lr sweep + final run" if self.sweep_runs else "one run"
        return (f"≈ {self.tier_hours:,.0f} {PEAK_NAME}-hours ({runs}, one seed; FLOPs estimate at an assumed "
                f"{self.mfu:.0%} MFU), ≈ {self.tier_hours / gpus:,.1f} h on {gpus} GPUs")


def vit_finetune_cost(paper_model: str, recipe: FinetuneRecipe, train_images: int, test_images: int) -> FinetuneCost:
    """`FinetuneCost` of a plain ViT (closed-form FLOPs: no torch)."""
    return FinetuneCost(vit_forward_flops(paper_model, recipe.resolution), recipe, train_images, test_images,
                        ASSUMED_MFU["vit"])


def finetune_cost(paper_model: str, recipe: FinetuneRecipe, train_images: int, test_images: int) -> FinetuneCost:
    """`FinetuneCost` of any paper model: ViTs in closed form, the others counted on the meta device (torch)."""
    if family(paper_model) == "vit":
        return vit_finetune_cost(paper_model, recipe, train_images, test_images)
    from measure.studies.flops import model_forward_flops

    flops = model_forward_flops(paper_model, recipe.resolution).per_image
    return FinetuneCost(flops, recipe, train_images, test_images, ASSUMED_MFU[family(paper_model)])
