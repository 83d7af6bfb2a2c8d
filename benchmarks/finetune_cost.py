"""The finetune tier's expected GPU-hours and wall time, from FLOPs — docs/FINETUNE.md's "Wall time" table.

An estimate, not a measurement: forward FLOPs as measure/studies/flops.py counts them (closed form for ViTs,
FlopCounterMode on the meta device for ResNets and hybrids), training = 3 × forward × steps × 512, evaluation =
forward × images, at an *assumed* model-FLOP utilisation of one H100 (measure/train/cost.py). Run
benchmarks/bench_finetune.py on a GPU for the real MFU and scale these by assumed/measured.

    python benchmarks/finetune_cost.py              # the markdown table docs/FINETUNE.md shows
    python benchmarks/finetune_cost.py --gpus 32    # wall time of the ImageNet tier on 32 GPUs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure.data.datasets import DATASETS  # after the path: run as a script
from measure.train.cost import ASSUMED_MFU, family, finetune_cost
from measure.train.settings import FinetuneSettings

MODELS = ("ViT-B/32", "ViT-B/16", "ViT-L/32", "ViT-L/16", "ViT-H/14", "R50x1", "R152x4", "R50+ViT-B/16",
          "R50+ViT-L/32")
SMALL = ("cifar10", "cifar100", "pets", "flowers102")


def cell(model: str, dataset: str, pretraining: str = "") -> tuple[float, float, float]:
    """(forward GFLOP per image, hours of one run, hours of the tier: sweep + final run) of the paper's recipe."""
    recipe = FinetuneSettings().recipe(dataset, model, pretraining)
    test = "test" if "test" in DATASETS[dataset].sizes else "val"
    cost = finetune_cost(model, recipe, DATASETS[dataset].sizes["train"], DATASETS[dataset].sizes[test])
    return cost.forward_flops / 1e9, cost.run_hours(DATASETS[dataset].sizes[test]), cost.tier_hours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", type=int, default=8, help="GPUs of one torchrun launch (ImageNet wall time)")
    args = parser.parse_args()
    print(f"| model | fwd GFLOP/img @384 | assumed MFU | CIFAR-10/100 (each): 1 run / tier | Pets, Flowers (each): "
          f"1 run / tier | ImageNet @384 (Table 5): 1 run / tier / tier on {args.gpus} GPUs | 4 small datasets, tier |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model in MODELS:
        flops, cifar_run, cifar_tier = cell(model, "cifar10")
        _, pets_run, pets_tier = cell(model, "pets")
        _, inet_run, inet_tier = cell(model, "imagenet")
        small = sum(cell(model, d)[2] for d in SMALL)
        print(f"| {model} | {flops:.1f} | {ASSUMED_MFU[family(model)]:.0%} | {cifar_run:.2f} h / {cifar_tier:.1f} h | "
              f"{pets_run:.2f} h / {pets_tier:.1f} h | {inet_run:.1f} h / {inet_tier:.0f} h / "
              f"{inet_tier / args.gpus:.1f} h | {small:.1f} h |")
    flops, run, tier = cell("ViT-L/16", "imagenet", "imagenet21k")
    print(f"\nTable 2's setting, ViT-L/16 I21k on ImageNet at 512 px + Polyak (§4.1): {flops:.1f} GFLOP/img, "
          f"1 run {run:.1f} h, tier {tier:.0f} h = {tier / args.gpus:.1f} h on {args.gpus} GPUs")


if __name__ == "__main__":
    main()
