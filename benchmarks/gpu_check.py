"""The prepared GPU check: one script, under 8 minutes on one H100, one JSON of figures, a verdict per section.

Sections, cheapest and most telling first; each is timed, recorded as it finishes (the JSON is rewritten
atomically after every section, so a run cut short keeps what it measured), prints its verdict (ok / failed: which
check / error / skipped), and one that crashes is recorded as an error without stopping the others:

* ``environment`` — torch / CUDA / cuDNN / NCCL / driver versions, which fused attention kernels run, /dev/shm;
* ``tiny_end_to_end`` — the eval and probe tiers end to end on the device (bf16 autocast, pinned-memory
  DataLoader workers) on random-weight checkpoints and datasets written in the real on-disk formats
  (tests/tier_world.py), with the accuracies the CPU tests pin, and per-example agreement with the same run
  on the CPU in float32 (bf16 against float32 on features and probe accuracy);
* ``bf16_vs_fp32`` — top-1 agreement of one model on fixed inputs, bf16 autocast against true float32
  (TF32 off); the authors' ViT-B/16 ImageNet fine-tune at 384 if it is in the Hugging Face cache
  (``bin/claims-fetch vit_b16-i21k-ft_in1k-384``), else the same architecture with random weights (said so);
* ``eval_pipeline`` — the eval tier's own path (uint8 loader half, device half, one loader per pass) for ViT-B/16
  at 384 (vit_jax) and BiT-R152x4 at 480 (bit): loader-only, model-alone and pipeline images/s, bytes per image,
  agreement with the float path (benchmarks/gpu_check_sections.py);
* ``finetune`` — the training loop on the device: the loss falls; interrupted and resumed equals uninterrupted;
* ``forced_oom`` — a real out-of-memory (the process's GPU memory capped): the batch halves, the outputs agree;
* ``xdist`` — two pytest-xdist workers running the eval tier, each on the GPU the suite gives it
  (``measure.run.device.select_device``: gwN -> cuda:N mod the count; on one GPU both share it);
* ``ddp`` — torchrun, 2 processes (gloo): the one-process trajectory bit for bit, micro-batch independence,
  an out-of-memory on rank 1 halving both ranks;
* ``compile`` — torch.compile (inductor) of the eval model against eager: logits and images/s;
* ``throughput`` — evaluation and fine-tune-step images/s, peak memory and MFU of ViT-B/16 and ViT-L/16 at
  384 px in bf16, the model alone on synthetic tensors beside the suite's pipeline on JPEGs, same shape,
  precision, batch and micro-batch (benchmarks/bench_finetune.py's `measure_model`).

    .venv/bin/python benchmarks/gpu_check.py                # a CUDA machine: writes reports/gpu_check.json
    .venv/bin/python benchmarks/gpu_check.py --dry-run      # CPU, tiny models, every section in seconds (CI)

Exit status 1 when a section failed a check or crashed. Not a timed test: nothing here passes or fails on speed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gpu_check_sections as sections
from bench_finetune import BenchSettings, measure_model, peak_flops

from measure.run.files import atomic_write_json, plain_data

WORKER = Path(__file__).with_name("gpu_check_worker.py")
AGREEMENT_KEY = "vit_b16-i21k-ft_in1k-384"
FULL_BENCH = BenchSettings(img_size=384, batch=512, steps=10, warmup=2, workers=8, images=1024)


@dataclass(frozen=True)
class CheckSettings:
    """What the check runs: the full GPU configuration, or the tiny CPU one of --dry-run."""

    models: tuple[str, ...] = ("vit_base_patch16_224", "vit_large_patch16_224")  # built at bench.img_size
    bench: BenchSettings = FULL_BENCH
    agreement_model: str = "vit_base_patch16_384"
    agreement_key: str = AGREEMENT_KEY
    agreement_images: int = 512
    agreement_size: int = 384
    loader_workers: int = 2      # DataLoader workers of the tiny end-to-end run (pinned memory on CUDA)
    xdist_timeout_s: int = 300
    eval_model: str = "vit_base_patch16_224"  # built at eval_resolution: ViT-B/16 at 384, the eval tier's commonest
    eval_resolution: int = 384
    bit_model: str = "resnetv2_152x4_bit"     # BiT-R152x4 at 480: most of the eval tier's time
    bit_resolution: int = 480
    eval_images: int = 512
    eval_batch: int = 128
    eval_workers: int = 8
    feature_tolerance: float = 0.05  # bf16 autocast against bf16 autocast with inputs within float rounding
    oom_images: int = 64
    oom_fit_batch: int = 8
    oom_cap_bytes: int = 600 * 2**20
    finetune_steps: int = 8
    resume_tolerance: float = 1e-5
    compile_backend: str = "inductor"
    ddp_timeout_s: int = 300
    probe_classes: int = 10          # bf16_features_probe: class-structured images, half fit, half test
    probe_per_class: int = 40
    bf16_feature_tolerance: float = 0.05  # median relative L2 difference of the features, bf16 vs float32
    bf16_probe_tolerance: float = 0.025   # probe accuracy, bf16 vs float32 (5 of 200 test images)


DRY_RUN = CheckSettings(  # every code path of the full check, on timm's smallest ViT
    models=("test_vit",),
    bench=BenchSettings(img_size=32, batch=4, steps=1, warmup=1, workers=0, images=8),
    agreement_model="test_vit", agreement_key="", agreement_images=16, agreement_size=32, loader_workers=0,
    xdist_timeout_s=120, eval_model="test_vit", eval_resolution=32, bit_model="test_resnet", bit_resolution=32,
    eval_images=12, eval_batch=4, eval_workers=0, feature_tolerance=1e-5, oom_images=8, oom_fit_batch=2,
    resume_tolerance=0.0, compile_backend="aot_eager", ddp_timeout_s=240, probe_per_class=20)


# -- sections ----------------------------------------------------------------------------------------

def tiny_end_to_end(settings: CheckSettings, device: torch.device, work: Path) -> dict[str, Any]:
    import pytest

    from tests.tier_world import BLIND, BLIND_FT, GOOD, GOOD_FT, make_runner, trust

    world = _tiny_world(work.parent / "world")
    measurements = {
        "eval top-1, fitted classifier": lambda r: r.eval(GOOD_FT, "imagenet"),
        "eval ReaL, fitted classifier": lambda r: r.eval(GOOD_FT, "imagenet_real"),
        "eval top-1, always class 0": lambda r: r.eval(BLIND_FT, "imagenet"),
        "probe 5-shot, informative": lambda r: r.probe(GOOD, "cifar10", "fewshot"),
        "probe 5-shot, blind": lambda r: r.probe(BLIND, "cifar10", "fewshot"),
        "probe linear, informative": lambda r: r.probe(GOOD, "cifar10", "linear"),
    }
    devices = [device] + ([torch.device("cpu")] if device.type != "cpu" else [])
    runs: dict[str, dict[str, Any]] = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        trust(world, monkeypatch)
        for dev in devices:
            runner = make_runner(world, work / f"cache-{dev.type}", device=dev,
                                 num_workers=settings.loader_workers if dev.type == "cuda" else 0)
            runs[dev.type] = {name: measure(runner) for name, measure in measurements.items()}
    ours = runs[device.type]
    figures = {name: {"accuracy": result.accuracy, "n": result.n,
                      "inference": plain_data(result.metadata.get("inference", {}))} for name, result in ours.items()}
    if device.type != "cpu":
        for name, result in ours.items():
            figures[name]["agreement_with_cpu_float32"] = float(np.mean(result.correct == runs["cpu"][name].correct))
    zero = np.asarray(world.val_labels) == 0
    precision = ours["eval top-1, fitted classifier"].metadata["inference"]["precision"]
    checks = {
        "the fitted classifier is perfect on ImageNet val and ReaL": ours["eval top-1, fitted classifier"].accuracy == 1.0
        and ours["eval ReaL, fitted classifier"].accuracy == 1.0,
        "the always-class-0 model is right exactly on class 0": bool(
            np.array_equal(ours["eval top-1, always class 0"].correct, zero)),
        "informative features probe >= 0.8": ours["probe 5-shot, informative"].accuracy >= 0.8
        and ours["probe linear, informative"].accuracy >= 0.8,
        "blind features probe <= 0.2": ours["probe 5-shot, blind"].accuracy <= 0.2,
        f"precision is the suite's rule for {device.type}": precision == ("bf16-autocast" if device.type == "cuda"
                                                                          else "float32"),
    }
    return {"figures": figures, "checks": checks}


@functools.cache
def _tiny_world(folder: Path) -> Any:
    """tests/tier_world.py's checkpoints and datasets in the real formats, written once per run."""
    from tests.tier_world import build_world

    return build_world(folder)


def bf16_vs_fp32(settings: CheckSettings, device: torch.device, work: Path) -> dict[str, Any]:
    model, weights, mean, std = _agreement_model(settings, device)
    generator = torch.Generator().manual_seed(0)
    size = settings.agreement_size
    images = torch.randint(0, 256, (settings.agreement_images, 3, size, size), dtype=torch.uint8, generator=generator)
    mean_t, std_t = (torch.tensor(v, device=device).view(1, 3, 1, 1) * 255 for v in (mean, std))
    logits = {"fp32": [], "bf16": []}
    matmul = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # true float32: no TF32 in the reference
    try:
        with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            for batch in images.split(64):
                x = (batch.to(device).float() - mean_t) / std_t
                logits["fp32"].append(model(x).float().cpu())
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    logits["bf16"].append(model(x).float().cpu())
    finally:
        torch.set_float32_matmul_precision(matmul)
    fp32, bf16 = (torch.cat(logits[k]) for k in ("fp32", "bf16"))
    top2 = fp32.topk(2, dim=1).values
    figures = {"weights": weights, "model": settings.agreement_model, "images": len(images),
               "inputs": f"uniform random uint8 images, seed 0, {size} px, normalised with mean {mean} / std {std}",
               "top1_agreement": float((fp32.argmax(1) == bf16.argmax(1)).float().mean()),
               "max_abs_logit_diff": float((fp32 - bf16).abs().max()),
               "mean_abs_logit_diff": float((fp32 - bf16).abs().mean()),
               "median_fp32_top1_margin": float((top2[:, 0] - top2[:, 1]).median())}
    return {"figures": figures, "checks": {"logits are finite in both precisions": bool(
        torch.isfinite(fp32).all() and torch.isfinite(bf16).all())}}


def _agreement_model(settings: CheckSettings, device: torch.device) -> tuple[torch.nn.Module, str, tuple, tuple]:
    from measure.errors import Missing
    from measure.models.hub import HubAccess
    from measure.models.loaders import CheckpointLoader

    if settings.agreement_key:
        try:
            loaded = CheckpointLoader(HubAccess(offline=True))(settings.agreement_key, num_classes=1000)
            return (loaded.model.to(device).eval(), f"{settings.agreement_key} (revision {loaded.revision})",
                    tuple(loaded.data_config["mean"]), tuple(loaded.data_config["std"]))
        except Missing:
            pass
    torch.manual_seed(0)  # the same random weights on every run: fixed inputs, fixed model
    model = timm.create_model(settings.agreement_model, pretrained=False, num_classes=1000,
                              img_size=settings.agreement_size)
    why = (f"{settings.agreement_key} is not in the Hugging Face cache (bin/claims-fetch {settings.agreement_key})"
           if settings.agreement_key else "dry run")
    weights = f"random init, seed 0 ({why}): agreement is near-tie noise, a lower bound"
    return model.to(device).eval(), weights, (0.5,) * 3, (0.5,) * 3


def xdist(settings: CheckSettings, device: torch.device, work: Path) -> dict[str, Any]:
    # -n 2 on one GPU: both workers share cuda:0 under --claims-device auto (warned; refused under cuda)
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    pickled = work / "world.pkl"
    pickled.parent.mkdir(parents=True, exist_ok=True)
    pickled.write_bytes(pickle.dumps(_tiny_world(work.parent / "world")))
    out = work / "workers"
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_DEVICE"} | {"CLAIMS_DEVICE": "auto",
        "GPU_CHECK_WORLD": str(pickled), "GPU_CHECK_OUT": str(out), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", str(WORKER), "-n", "2", "--dist", "each", "-q", "-p", "no:cacheprovider",
               "--claims-report-dir", str(work / "report")]
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=settings.xdist_timeout_s)
    records = sorted((json.loads(p.read_text()) for p in out.glob("gw*.json")), key=lambda r: r["worker"])
    expected = [f"cuda:{i % gpus}" for i in range(2)] if device.type == "cuda" else ["cpu", "cpu"]
    return {"figures": {"workers": records, "pytest_exit": done.returncode, "pytest_tail": done.stdout[-1500:]},
            "checks": {"pytest -n 2 passed": done.returncode == 0,
                       f"workers ran on {expected}": [r["device"] for r in records] == expected,
                       "each worker's fitted classifier is perfect": len(records) == 2
                       and all(r["accuracy"] == 1.0 for r in records)}}


def throughput(settings: CheckSettings, device: torch.device, work: Path) -> dict[str, Any]:
    # The suite autocasts to bf16 on CUDA only (measure.run.device.uses_bf16): a CPU dry run measures float32.
    _, peak = peak_flops(device)
    results = [measure_model(settings.bench, name, device, device.type == "cuda", peak) for name in settings.models]
    return {"figures": {"settings": asdict(settings.bench), "results": results},
            "checks": {"every row measured a positive rate": all(
                r[row][key] > 0 for r in results for row in ("model alone", "pipeline")
                for key in ("eval_images_per_s", "train_images_per_s"))}}


SECTIONS: dict[str, Callable[[CheckSettings, torch.device, Path], dict[str, Any]]] = {
    "environment": sections.environment_section, "tiny_end_to_end": tiny_end_to_end, "bf16_vs_fp32": bf16_vs_fp32,
    "bf16_features_probe": sections.bf16_features_probe,
    "eval_pipeline": sections.eval_pipeline, "finetune": sections.finetune, "forced_oom": sections.forced_oom,
    "xdist": xdist, "ddp": sections.ddp, "compile": sections.compile_section, "throughput": throughput}


# -- running -----------------------------------------------------------------------------------------

def environment(device: torch.device) -> dict[str, Any]:
    name, peak = peak_flops(device)
    info = {"device": str(device), "device_name": name, "peak_bf16_flops": peak, "torch": torch.__version__,
            "timm": timm.__version__, "python": platform.python_version(), "cpus": os.cpu_count()}
    if device.type == "cuda":
        info |= {"cuda": torch.version.cuda, "gpus": [torch.cuda.get_device_name(i)
                                                      for i in range(torch.cuda.device_count())],
                 "memory_bytes": torch.cuda.get_device_properties(device).total_memory}
    return info


def run_section(name: str, settings: CheckSettings, device: torch.device, work: Path) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = SECTIONS[name](settings, device, work / name)
    except Exception as error:  # noqa: BLE001 -- a crash is a finding: record it, go on to the next section
        result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-4000:]}
    failed = [check for check, ok in result.get("checks", {}).items() if not ok]
    result["status"] = ("error" if "error" in result else "skipped" if "skipped" in result
                        else f"failed: {'; '.join(failed)}" if failed else "ok")
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny models: every section in seconds (CI)")
    parser.add_argument("--device", default=None, help="default: cuda if available (required without --dry-run)")
    parser.add_argument("--only", action="append", choices=list(SECTIONS), help="run only these sections")
    parser.add_argument("--budget-s", type=float, default=480.0,
                        help="start no section after this many seconds (default 480: the 8-minute budget)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "gpu_check.json")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cpu" if args.dry_run or not torch.cuda.is_available() else "cuda"))
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda:0")
    if device.type != "cuda" and not args.dry_run:
        parser.error("no CUDA device: the full check needs a GPU; --dry-run runs it on CPU with tiny models")
    settings = DRY_RUN if args.dry_run else CheckSettings()
    report: dict[str, Any] = {"environment": environment(device), "dry_run": args.dry_run,
                              "settings": plain_data(asdict(settings)), "sections": {}}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        for name in args.only or SECTIONS:
            elapsed = time.perf_counter() - start
            if elapsed > args.budget_s:
                report["sections"][name] = {"status": "skipped", "skipped": f"over the {args.budget_s:g} s budget"}
            else:
                print(f"[{elapsed:6.1f} s] {name} ...", flush=True)
                report["sections"][name] = run_section(name, settings, device, Path(folder))
                print(f"[{time.perf_counter() - start:6.1f} s] {name}: {report['sections'][name]['status']}", flush=True)
            report["seconds"] = round(time.perf_counter() - start, 2)
            atomic_write_json(args.out, plain_data(report))
    bad = {name: s["status"] for name, s in report["sections"].items() if s["status"].startswith(("error", "failed"))}
    print(f"written to {args.out} ({report['seconds']} s)" + (f"; problems: {bad}" if bad else "; every section ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
