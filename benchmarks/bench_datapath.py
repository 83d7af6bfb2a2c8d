"""What the eval and probe data paths cost a CPU core, and how many bytes per image they hand to the device.

For each pipeline the suite reads ImageNet-sized JPEGs through (vit_jax's eval at 384 px, big_vision's few-shot at
224 px), one core (one thread, no loader workers) times:

* ``decode only`` — PIL decode + RGB conversion, the floor any pipeline pays;
* ``float path (before)`` — the whole transform in the loader, float32 to the device (`Pipeline.transform`);
* ``uint8 path (after)`` — the loader half only (`Pipeline.stages(...)[0]`): what a loader worker does now, the
  resize (vit_jax) or the normalisation (both) moved to the device.

and the bytes per image each hands to the device. Images: synthetic photographs (smooth colour fields, edges and
noise) saved as JPEG quality 90 at ImageNet val's typical sizes (500x375, 375x500, 500x333, 500x500, 640x480).

    .venv/bin/python benchmarks/bench_datapath.py [--images 200] [--out reports/bench_datapath.json]

A benchmark, not a test: nothing passes or fails on speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure.data.pipelines import BIG_VISION_FEWSHOT, VIT_JAX, DeviceStage

SIZES = [(500, 375), (375, 500), (500, 333), (500, 500), (640, 480)]
HALF = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}


def write_jpegs(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        width, height = SIZES[i % len(SIZES)]
        yy, xx = np.mgrid[0:height, 0:width]
        phase = rng.uniform(0, 6.28, 3)
        base = np.stack([128 + 100 * np.sin(xx / (9 + 3 * c) + phase[c]) * np.cos(yy / (7 + c)) for c in range(3)], -1)
        base[height // 3:height // 2, width // 4:width // 2] = rng.integers(0, 256, 3)
        pixels = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def rate(paths: list[Path], transform, repeats: int = 2) -> tuple[float, float]:
    """(images/s on one core, mean bytes per image of what `transform` returns)."""
    best, nbytes = 0.0, 0.0
    for _ in range(repeats):
        total, start = 0, time.perf_counter()
        for path in paths:
            with Image.open(path) as image:
                out = transform(image)
            total += DeviceStage.nbytes(out) if isinstance(out, torch.Tensor) else out
        seconds = time.perf_counter() - start
        best, nbytes = max(best, len(paths) / seconds), total / len(paths)
    return best, nbytes


def decode(image: Image.Image) -> int:
    return np.asarray(image.convert("RGB")).nbytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # per core
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-datapath-") as folder:
        paths = write_jpegs(Path(folder), args.images)
        per_s, nbytes = rate(paths, decode)
        rows["decode only"] = {"images_per_s_per_core": per_s, "decoded_bytes_per_image": nbytes}
        for name, pipeline, resolution in (("vit_jax eval 384", VIT_JAX, 384),
                                           ("big_vision few-shot 224", BIG_VISION_FEWSHOT, 224)):
            before = rate(paths, pipeline.transform(HALF, resolution))
            after = rate(paths, pipeline.stages(HALF, resolution)[0])
            rows[f"{name}, float path (before)"] = {"images_per_s_per_core": before[0], "bytes_to_device_per_image": before[1]}
            rows[f"{name}, uint8 path (after)"] = {"images_per_s_per_core": after[0], "bytes_to_device_per_image": after[1]}
    width = max(map(len, rows))
    print(f"{'':{width}}  images/s/core  bytes/image")
    for name, row in rows.items():
        nbytes = row.get("bytes_to_device_per_image", row.get("decoded_bytes_per_image"))
        print(f"{name:{width}}  {row['images_per_s_per_core']:13.1f}  {nbytes:11,.0f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"images": args.images, "sizes": SIZES, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
