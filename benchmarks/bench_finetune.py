"""Speed of the finetune tier: evaluation and fine-tune-step images/s, peak memory and MFU.

For each model, two rows measured in the same process, same shape / precision / batch:

* ``model alone`` — synthetic uint8 tensors already on the device, in the micro-batches the pipeline's training
  loop chose: the ceiling (timm's benchmark.py idea);
* ``pipeline``    — the suite's own code on JPEG images decoded by DataLoader workers: training through
  ``measure.train.loop.train`` (micro-batching, clipping, fused SGD, checkpointing off), evaluation through
  ``measure.run.inference.run_inference``. The gap to the ceiling is what the data pipeline costs.

MFU = FLOPs actually needed ÷ time ÷ the GPU's peak dense bf16 FLOP/s. Forward FLOPs are counted by
``measure.studies.flops.forward_flops`` (torch FlopCounterMode on the meta device, multiply-add = 2); a training
step is counted as 3 × forward (backward ≈ 2 × forward).

    python benchmarks/bench_finetune.py                                   # ViT-B/16 and ViT-L/16 at 384, bf16
    python benchmarks/bench_finetune.py --model vit_tiny_patch16_224 --img-size 64 --batch 4 --steps 2 --device cpu

Not a timed test: numbers go to a JSON file (``--out``) and a printed table.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from PIL import Image
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure.run.cache import ChunkCache
from measure.run.inference import logits_outputs, run_inference
from measure.studies.flops import forward_flops
from measure.train.loop import accumulate_gradients, clip_gradients, make_optimizer, train
from measure.train.recipe import paper_recipe
from measure.train.settings import Runtime
from measure.train.stream import eval_transform, train_transform
from measure.train.surgery import prepare_model, with_normalization

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' datasheets, matched on torch's device name.
PEAK_BF16_FLOPS = (
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),      # SXM5 (device name "NVIDIA H100 80GB HBM3")
    ("H200", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("L4", 121e12),
    ("RTX 4090", 165e12),
)

DEFAULT_MODELS = ("vit_base_patch16_224", "vit_large_patch16_224")


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """One benchmark configuration (the command line of this script; benchmarks/gpu_check.py builds its own)."""

    img_size: int = 384
    batch: int = 512             # effective batch (the recipe's)
    micro_batch: int | None = None  # None: the training loop's own choice (largest that fits)
    steps: int = 10              # timed steps, after `warmup` untimed ones
    warmup: int = 2
    workers: int = 8
    images: int = 1024           # synthetic JPEGs in each pipeline dataset
    num_classes: int = 100
    compile: bool = False


def peak_flops(device: torch.device) -> tuple[str, float | None]:
    if device.type != "cuda":
        return platform.processor() or "cpu", None
    name = torch.cuda.get_device_name(device)
    return name, next((peak for key, peak in PEAK_BF16_FLOPS if key in name), None)


def forward_flops_per_image(model_name: str, img_size: int, num_classes: int) -> float:
    with torch.device("meta"):
        model = timm.create_model(model_name, pretrained=False, num_classes=num_classes, img_size=img_size)
    return forward_flops(model, img_size=img_size, batch=1).per_image


class SyntheticJpegs(Dataset):
    """JPEG-encoded noise images decoded on every access, like a real dataset read from disk."""

    def __init__(self, n: int, num_classes: int, size: tuple[int, int] = (500, 375), transform=None) -> None:
        rng = np.random.default_rng(0)
        self.targets = [i % num_classes for i in range(n)]
        self.blobs = []
        for _ in range(n):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, "JPEG", quality=90)
            self.blobs.append(buffer.getvalue())
        self.transform = transform

    def __len__(self) -> int:
        return len(self.blobs)

    def __getitem__(self, i: int):
        image = Image.open(io.BytesIO(self.blobs[i])).convert("RGB")
        return (self.transform(image) if self.transform else image), self.targets[i]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> int | None:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def _build(args: BenchSettings, model_name: str, device: torch.device) -> torch.nn.Sequential:
    model = timm.create_model(model_name, pretrained=False, num_classes=0, img_size=args.img_size)
    model = prepare_model(model, args.num_classes, args.img_size)
    return with_normalization(model, {"mean": (0.5,) * 3, "std": (0.5,) * 3}).to(device)


def bench_model_alone(args: BenchSettings, model_name: str, device: torch.device, bf16: bool,
                      micro: int) -> dict[str, Any]:
    """Synthetic uint8 tensors already on the device, through the same micro-batches as the pipeline row."""
    net = _build(args, model_name, device)
    x = torch.randint(0, 256, (args.batch, 3, args.img_size, args.img_size), dtype=torch.uint8, device=device)
    y = torch.randint(0, args.num_classes, (args.batch,), device=device)
    forward = torch.compile(net) if args.compile else net

    net.eval()
    _reset_peak(device)
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            _sync(device)
            start = time.perf_counter()
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            forward(x)
    _sync(device)
    eval_s, eval_peak = time.perf_counter() - start, _peak(device)

    net.train()
    recipe = paper_recipe("cifar100").scaled(batch=args.batch, resolution=args.img_size)
    optimizer = make_optimizer(net, recipe, 0.01, device)
    _reset_peak(device)
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            _sync(device)
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        accumulate_gradients(forward, x, y, batch_size=args.batch, micro_batch=micro, autocast=bf16)
        clip_gradients(net, recipe.grad_clip_norm)
        optimizer.step()
    _sync(device)
    train_s, train_peak = time.perf_counter() - start, _peak(device)
    images = args.batch * args.steps
    return {"eval_images_per_s": images / eval_s, "eval_peak_memory_bytes": eval_peak,
            "train_images_per_s": images / train_s, "train_peak_memory_bytes": train_peak, "micro_batch": micro}


def bench_pipeline(args: BenchSettings, model_name: str, device: torch.device, bf16: bool) -> dict[str, Any]:
    recipe = dataclasses.replace(paper_recipe("cifar100").scaled(steps=args.warmup + args.steps, batch=args.batch,
                                                                 resolution=args.img_size), warmup_steps=1)
    n_images = max(2 * args.batch, args.images)
    train_data = SyntheticJpegs(n_images, args.num_classes, transform=train_transform(recipe))
    eval_data = SyntheticJpegs(n_images, args.num_classes, transform=eval_transform(recipe))
    stamps: dict[int, float] = {}

    def stamp(step: int) -> None:
        _sync(device)
        stamps[step] = time.perf_counter()

    runtime = Runtime(device=device, num_workers=args.workers, micro_batch=args.micro_batch, compile=args.compile,
                         bf16=bf16, checkpoint_every=10**9, progress=False, on_step=stamp)
    net = _build(args, model_name, device)
    _reset_peak(device)
    stats = train(net, train_data, recipe, base_lr=0.01, seed=0, runtime=runtime, state_path=None)
    first, last = args.warmup, args.warmup + args.steps
    train_ips = args.batch * args.steps / (stamps[last] - stamps[first]) if args.warmup else stats.images_per_s

    _reset_peak(device)
    with tempfile.TemporaryDirectory() as folder:
        inference = run_inference(net, eval_data, outputs=logits_outputs, cache=ChunkCache(folder), key={"bench": 1},
                                  batch_size=args.batch, device=device, num_workers=args.workers,
                                  chunk_size=len(eval_data))
    return {"eval_images_per_s": inference.meta["images_per_s"], "eval_peak_memory_bytes": _peak(device),
            "eval_precision": inference.meta["precision"],
            "train_images_per_s": train_ips, "train_peak_memory_bytes": stats.peak_memory_bytes,
            "micro_batch": stats.micro_batch, "oom_backoffs": stats.oom_backoffs,
            "workers": args.workers, "source_images": "JPEG 500x375, decoded per access"}


def measure_model(args: BenchSettings, model_name: str, device: torch.device, bf16: bool,
                  peak: float | None) -> dict[str, Any]:
    """Both rows for one model, with MFU. The pipeline runs first: its training loop picks the micro-batch
    that fits (halving on out-of-memory), and the model-alone row reuses it — ViT-L/16 at 384 px does not
    take a batch of 512 in one forward-backward on any GPU."""
    flops = forward_flops_per_image(model_name, args.img_size, args.num_classes)
    pipeline = bench_pipeline(args, model_name, device, bf16)
    rows = {"model alone": bench_model_alone(args, model_name, device, bf16, pipeline["micro_batch"]),
            "pipeline": pipeline}
    for row in rows.values():
        row["eval_mfu"] = row["eval_images_per_s"] * flops / peak if peak and row["eval_images_per_s"] else None
        row["train_mfu"] = row["train_images_per_s"] * 3 * flops / peak if peak and row["train_images_per_s"] else None
    return {"model": model_name, "img_size": args.img_size, "batch": args.batch, "steps": args.steps,
            "precision": "bf16" if bf16 else "fp32", "forward_gflops_per_image": flops / 1e9, **rows}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="timm architecture name (repeatable); "
                        "default: vit_base_patch16_224 and vit_large_patch16_224 built at --img-size")
    parser.add_argument("--img-size", type=int, default=384)
    parser.add_argument("--batch", type=int, default=512, help="effective batch (the recipe's is 512)")
    parser.add_argument("--micro-batch", type=int, default=None, help="default: auto (largest that fits)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after --warmup untimed ones)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--images", type=int, default=None,
                        help="synthetic JPEGs in the pipeline dataset (default 1024 on GPU, 4 batches on CPU)")
    parser.add_argument("--num-classes", type=int, default=100)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", default="reports/bench_finetune.json")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    settings = BenchSettings(
        img_size=args.img_size, batch=args.batch, micro_batch=args.micro_batch, steps=args.steps, warmup=args.warmup,
        workers=args.workers if device.type == "cuda" else 0, num_classes=args.num_classes, compile=args.compile,
        images=args.images or (1024 if device.type == "cuda" else 4 * args.batch))
    # The suite autocasts to bf16 on CUDA only (measure.run.device.uses_bf16); CPUs without bf16 units
    # would measure a slow emulation, so a CPU smoke run measures float32 in both rows.
    bf16 = args.precision == "bf16" and device.type == "cuda"
    device_name, peak = peak_flops(device)
    results = [measure_model(settings, model_name, device, bf16, peak) for model_name in args.model or DEFAULT_MODELS]
    report = {"environment": {"device": str(device), "device_name": device_name, "peak_bf16_flops": peak,
                              "torch": torch.__version__, "timm": timm.__version__, "compile": args.compile},
              "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print_table(report)
    print(f"\nwritten to {out}")
    return report


def print_table(report: dict[str, Any]) -> None:
    env = report["environment"]
    peak = f"{env['peak_bf16_flops'] / 1e12:.0f} TFLOP/s bf16 peak" if env["peak_bf16_flops"] else "no peak known: MFU n/a"
    print(f"{env['device_name']} ({env['device']}), {peak}; torch {env['torch']}, timm {env['timm']}")
    header = f"{'model':<24}{'res':>5}{'batch':>6}{'GFLOP/img':>10}  {'row':<12}{'eval img/s':>11}{'train img/s':>12}" \
             f"{'eval MFU':>9}{'train MFU':>10}{'peak mem (train)':>18}"
    print(header)
    print("-" * len(header))

    def pct(v: float | None) -> str:
        return f"{100 * v:.1f}%" if v is not None else "n/a"

    for r in report["results"]:
        for label in ("model alone", "pipeline"):
            row = r[label]
            mem = f"{row['train_peak_memory_bytes'] / 2**30:.1f} GiB" if row["train_peak_memory_bytes"] else "n/a"
            print(f"{r['model']:<24}{r['img_size']:>5}{r['batch']:>6}{r['forward_gflops_per_image']:>10.2f}  "
                  f"{label:<12}{row['eval_images_per_s']:>11.1f}{row['train_images_per_s']:>12.1f}"
                  f"{pct(row['eval_mfu']):>9}{pct(row['train_mfu']):>10}{mem:>18}")


if __name__ == "__main__":
    main()
