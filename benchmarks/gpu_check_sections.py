"""The sections of benchmarks/gpu_check.py that follow the suite's own data and training paths on the device.

* ``environment`` — versions (torch, CUDA, cuDNN, NCCL, driver), which fused attention kernels run, /dev/shm;
* ``eval_pipeline`` — the eval tier's own path (`run_inference` with the pipeline's uint8 loader half and device
  half) for a ViT (vit_jax pipeline) and a BiT ResNet (bit pipeline): loader-only rate, model-alone rate, the
  pipeline's rate, bytes per image to the device, and agreement with the float path;
* ``finetune`` — the training loop on the device: the loss falls, and a run interrupted and resumed ends where an
  uninterrupted one ends;
* ``forced_oom`` — a real out-of-memory (the device's memory capped) in inference: the batch halves and the
  outputs equal the unconstrained run's (a simulated one on CPU);
* ``ddp`` — tests/distributed_worker.py under torchrun, 2 processes (gloo; NCCL needs two GPUs): the one-process
  trajectory, and an out-of-memory on rank 1 halving both ranks;
* ``compile`` — torch.compile of the eval model against eager;
* ``bf16_features_probe`` — the probe tier's features (pooled pre-logits, stored as the feature cache stores them)
  in float32 and under bf16 autocast, and the suite's few-shot and linear probes fitted on each: how far bf16 moves
  the features and the probe accuracies.

Each takes (settings, device, work folder) and returns {"figures": ..., "checks": {...}} (or {"skipped": why}).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--monitor-interval", "0.2"]


def environment_section(settings: Any, device: torch.device, work: Path) -> dict[str, Any]:
    from measure.run.device import default_workers, driver_version

    figures: dict[str, Any] = {"torch": torch.__version__, "timm": timm.__version__, "python": platform.python_version(),
                               "cuda_built": torch.version.cuda, "driver": driver_version(),
                               "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                               "nccl": ".".join(map(str, torch.cuda.nccl.version())) if device.type == "cuda" else None,
                               "cpus": os.cpu_count(), "loader_workers": default_workers()}
    try:
        usage = shutil.disk_usage("/dev/shm")
        figures["shm_total_bytes"], figures["shm_free_bytes"] = usage.total, usage.free
    except OSError:
        figures["shm_total_bytes"] = figures["shm_free_bytes"] = None
    figures["attention_kernels"] = _attention_kernels(device)
    checks = {"versions recorded": bool(figures["torch"] and figures["timm"])}
    if device.type == "cuda":
        checks["a fused attention kernel (flash or memory-efficient) runs"] = any(
            figures["attention_kernels"].get(k) == "ok" for k in ("FLASH_ATTENTION", "EFFICIENT_ATTENTION"))
        checks["/dev/shm holds >= 2 GiB"] = (figures["shm_free_bytes"] or 0) >= 2 * 2**30
    return {"figures": figures, "checks": checks}


def _attention_kernels(device: torch.device) -> dict[str, str]:
    """Which SDPA backends run on ViT-B/16-at-384-shaped bf16 (CUDA) or float32 (CPU) attention."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    q = torch.randn(2, 12, 577, 64, device=device, dtype=dtype)
    out = {}
    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION,
                    SDPBackend.MATH):
        try:
            with sdpa_kernel(backend):
                torch.nn.functional.scaled_dot_product_attention(q, q, q)
            out[backend.name] = "ok"
        except RuntimeError as error:
            out[backend.name] = f"unavailable: {str(error).splitlines()[0][:120]}"
    return out


# -- the eval tier's data path ------------------------------------------------------------------------------

class Jpegs(torch.utils.data.Dataset):
    def __init__(self, paths: list[Path], transform: Any) -> None:
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        with Image.open(self.paths[i]) as image:
            return self.transform(image), i % 1000


def _jpegs(work: Path, n: int) -> list[Path]:
    from bench_datapath import write_jpegs

    folder = work / "jpegs"
    folder.mkdir(parents=True, exist_ok=True)
    return write_jpegs(folder, n)


def _model(name: str, resolution: int, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    kwargs = {"img_size": resolution} if "vit" in name else {}
    return timm.create_model(name, pretrained=False, num_classes=1000, **kwargs).eval().to(device)


def eval_pipeline(settings: Any, device: torch.device, work: Path) -> dict[str, Any]:
    from measure.data.pipelines import BIT, VIT_JAX
    from measure.run.cache import ChunkCache
    from measure.run.inference import feature_outputs, run_inference

    paths = _jpegs(work, settings.eval_images)
    half = {"mean": (0.5,) * 3, "std": (0.5,) * 3}
    workers = settings.eval_workers if device.type == "cuda" else 0
    rows, checks = {}, {}
    for label, name, resolution, pipeline in (("ViT (vit_jax pipeline)", settings.eval_model, settings.eval_resolution,
                                               VIT_JAX),
                                              ("BiT ResNet (bit pipeline)", settings.bit_model, settings.bit_resolution,
                                               BIT)):
        model = _model(name, resolution, device)
        host, stage = pipeline.stages(half, resolution)
        loader = torch.utils.data.DataLoader(Jpegs(paths, host), batch_size=settings.eval_batch, num_workers=workers,
                                             pin_memory=device.type == "cuda", collate_fn=stage.collate)
        start = time.perf_counter()
        for images, _ in loader:  # the loader and the device half, no model: the data path's own ceiling
            stage(images, device)
        _sync(device)
        loader_rate = len(paths) / (time.perf_counter() - start)
        alone = _model_alone_rate(model, settings.eval_batch, resolution, device)
        common = {"outputs": feature_outputs, "key": {"section": label}, "batch_size": settings.eval_batch,
                  "device": device, "num_workers": workers, "chunk_size": max(settings.eval_batch, len(paths) // 2)}
        staged = run_inference(model, Jpegs(paths, host), cache=ChunkCache(work / f"cache-u-{name}"), stage=stage,
                               **common)
        floats = run_inference(model, Jpegs(paths, pipeline.transform(half, resolution)),
                               cache=ChunkCache(work / f"cache-f-{name}"), **common)
        a, b = (x.arrays["features"].astype(np.float64) for x in (staged, floats))
        relative = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
        rows[label] = {"model": name, "resolution": resolution, "images": len(paths),
                       "loader_only_images_per_s": round(loader_rate, 1),
                       "model_alone_images_per_s": round(alone, 1),
                       "pipeline_images_per_s": staged.meta["images_per_s"],
                       "float_path_images_per_s": floats.meta["images_per_s"],
                       "bytes_to_device_per_image": staged.meta["bytes_to_device_per_image"],
                       "float_path_bytes_per_image": floats.meta["bytes_to_device_per_image"],
                       "channels_last": staged.meta["channels_last"], "max_relative_feature_diff": relative}
        checks[f"{label}: uint8 path gives the float path's features (rel. diff <= {settings.feature_tolerance:g})"] = (
            relative <= settings.feature_tolerance)
        # the decoded uint8 image, or its float32 resize where that is smaller (tiny resolutions): never more
        checks[f"{label}: no more bytes per image to the device than the float path"] = (
            staged.meta["bytes_to_device_per_image"] <= floats.meta["bytes_to_device_per_image"])
        del model
    return {"figures": rows, "checks": checks}


def _model_alone_rate(model: torch.nn.Module, batch: int, resolution: int, device: torch.device) -> float:
    x = torch.randn(batch, 3, resolution, resolution, device=device)
    if device.type == "cuda" and sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) > 1:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        model(x)
        _sync(device)
        start = time.perf_counter()
        for _ in range(3):
            model(x)
        _sync(device)
    return 3 * batch / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- training on the device --------------------------------------------------------------------------------

class _Stop(Exception):
    pass


def finetune(settings: Any, device: torch.device, work: Path) -> dict[str, Any]:
    full = _train(device, work / "full", stop_at=None)
    with_stop = work / "resumed"
    try:
        _train(device, with_stop, stop_at=settings.finetune_steps // 2)
    except _Stop:
        pass
    resumed = _train(device, with_stop, stop_at=None)
    losses = list(full["loss"].values())
    diff = max(float((full["model"][k].float() - resumed["model"][k].float()).abs().max()) for k in full["model"])
    return {"figures": {"loss": full["loss"], "resumed_from": resumed["resumed_from"], "max_weight_diff_resumed": diff,
                        "micro_batch": full["micro_batch"], "images_per_s": full["images_per_s"],
                        "peak_memory_bytes": full["peak_memory_bytes"]},
            "checks": {"the loss falls (last < first)": losses[-1] < losses[0],
                       "the interrupted run resumed from its saved state": resumed["resumed_from"] > 0,
                       "the resumed run ends where the uninterrupted one ends": diff <= settings.resume_tolerance}}


def _train(device: torch.device, folder: Path, stop_at: int | None) -> dict[str, Any]:
    from timm.models.vision_transformer import VisionTransformer

    from measure.train.loop import polyak_average, train
    from measure.train.protocol import set_dropout
    from measure.train.recipe import FinetuneRecipe
    from measure.train.settings import Runtime
    from measure.train.stream import train_transform
    from measure.train.surgery import prepare_model, with_normalization
    from tests.distributed_worker import Colours

    folder.mkdir(parents=True, exist_ok=True)
    recipe = FinetuneRecipe(dataset="cifar10", steps=8, lr_grid=(0.05,), held_out_fraction=0.2, warmup_steps=1,
                            batch_size=8, resolution=32, dropout=0.1, mixup_alpha=0.2, polyak_decay=0.9,
                            shortened=True, paper_steps=10)
    torch.manual_seed(0)
    model = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=0)
    prepare_model(model, num_classes=3, resolution=32)
    torch.nn.init.normal_(model.head.weight, std=0.1)
    set_dropout(model, recipe.dropout)
    net = with_normalization(model, {"mean": (0.5,) * 3, "std": (0.5,) * 3}).to(device)
    ema = polyak_average(net, recipe.polyak_decay)

    def stop(step: int) -> None:
        if step == stop_at:
            raise _Stop

    runtime = Runtime(device=device, num_workers=0, checkpoint_every=2, progress=False, on_step=stop)
    stats = train(net, Colours(train_transform(recipe)), recipe, base_lr=0.05, seed=3, runtime=runtime,
                  state_path=folder / "state.pt", run_key="gpu-check", ema=ema)
    return {**stats.as_dict(), "model": {k: v.detach().cpu() for k, v in net.state_dict().items()}}


# -- out of memory, several processes, compile --------------------------------------------------------------

class _SimulatedOom(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit = inner, limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated: batch {len(x)} > {self.limit})")
        return self.inner(x)


def forced_oom(settings: Any, device: torch.device, work: Path) -> dict[str, Any]:
    from measure.data.pipelines import VIT_JAX
    from measure.run.cache import ChunkCache
    from measure.run.inference import feature_outputs, run_inference

    paths = _jpegs(work, settings.oom_images)
    host, stage = VIT_JAX.stages({"mean": (0.5,) * 3, "std": (0.5,) * 3}, settings.eval_resolution)
    model = _model(settings.eval_model, settings.eval_resolution, device)
    common = {"outputs": feature_outputs, "key": {"section": "oom"}, "device": device, "num_workers": 0,
              "chunk_size": len(paths), "stage": stage}
    reference = run_inference(model, Jpegs(paths, host), cache=ChunkCache(work / "reference"),
                              batch_size=settings.oom_fit_batch, **common)
    if device.type == "cuda":
        fraction = settings.oom_cap_bytes / torch.cuda.get_device_properties(device).total_memory
        how = f"real: the process's GPU memory capped at {settings.oom_cap_bytes / 2**20:.0f} MiB"
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(fraction, device)
        try:
            squeezed = run_inference(model, Jpegs(paths, host), cache=ChunkCache(work / "squeezed"),
                                     batch_size=len(paths), **common)
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0, device)
    else:
        how = "simulated (no GPU): the model raises CUDA's out-of-memory above a batch of 2"
        squeezed = run_inference(_SimulatedOom(model, 2), Jpegs(paths, host), cache=ChunkCache(work / "squeezed"),
                                 batch_size=len(paths), **common)
    a, b = (x.arrays["features"].astype(np.float64) for x in (squeezed, reference))
    relative = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
    return {"figures": {"how": how, "first_batch": len(paths), "final_batch": squeezed.meta["final_batch_size"],
                        "backoffs": squeezed.meta["oom_backoffs"], "max_relative_feature_diff": relative},
            "checks": {"the batch was halved at least once": squeezed.meta["oom_backoffs"] >= 1,
                       "outputs equal the unconstrained run's": relative <= settings.feature_tolerance}}


def ddp(settings: Any, device: torch.device, work: Path) -> dict[str, Any]:
    worker = ROOT / "tests" / "distributed_worker.py"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    runs, tails = {}, {}
    for label, head, extra in (("one process", [sys.executable], []),
                               ("two processes", [*TORCHRUN, "--nproc-per-node", "2"], []),
                               ("one process, micro-batch 2", [sys.executable], ["--micro", "2"]),
                               ("two processes, OOM on rank 1", [*TORCHRUN, "--nproc-per-node", "2"],
                                ["--oom-rank", "1"])):
        folder = work / label.replace(" ", "_").replace(",", "")
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([*head, str(worker), "loop", str(folder), *extra], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=settings.ddp_timeout_s, check=False)
        tails[label] = (done.stdout + done.stderr)[-800:] if done.returncode else ""
        runs[label] = torch.load(folder / "result.pt") if done.returncode == 0 else None
        if label.endswith("rank 1") and done.returncode == 0:
            runs[label]["ranks"] = [torch.load(folder / f"rank{r}.pt") for r in (0, 1)]
    ok = all(r is not None for r in runs.values())

    def same(a: str, b: str) -> bool:
        return ok and runs[a]["loss"] == runs[b]["loss"] and all(
            torch.equal(t, runs[b]["model"][k]) for k, t in runs[a]["model"].items())

    def close(a: str, b: str) -> bool:
        return ok and np.allclose(list(runs[a]["loss"].values()), list(runs[b]["loss"].values()), rtol=1e-5)

    figures = {"backend": "gloo on the CPU (NCCL needs one GPU per process: not exercised here)",
               "nccl": ".".join(map(str, torch.cuda.nccl.version())) if device.type == "cuda" else None,
               "failures": {k: v for k, v in tails.items() if v},
               "losses": {k: (v["loss"] if v else None) for k, v in runs.items()},
               "oom_ranks": runs["two processes, OOM on rank 1"]["ranks"] if ok else None}
    return {"figures": figures, "checks": {
        "every launch finished": ok,
        "two processes follow one process bit for bit": same("one process", "two processes"),
        "micro-batch 2 trains what micro-batch 4 trains (float rounding)": close("one process",
                                                                                "one process, micro-batch 2"),
        "an OOM on rank 1 halves both ranks": ok and figures["oom_ranks"] == [{"micro_batch": 2, "oom_backoffs": 1}] * 2}}


def compile_section(settings: Any, device: torch.device, work: Path) -> dict[str, Any]:
    model = _model(settings.eval_model, settings.eval_resolution, device)
    x = torch.randn(settings.eval_batch, 3, settings.eval_resolution, settings.eval_resolution, device=device)
    compiled = torch.compile(model, backend=settings.compile_backend)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        start = time.perf_counter()
        out_c = compiled(x).float()
        _sync(device)
        first_call = time.perf_counter() - start
        eager = model(x).float()
    relative = float((out_c - eager).abs().max() / eager.abs().max().clamp_min(1e-12))
    rates = {"eager": _model_alone_rate(model, settings.eval_batch, settings.eval_resolution, device),
             "compiled": _model_alone_rate(compiled, settings.eval_batch, settings.eval_resolution, device)}
    return {"figures": {"backend": settings.compile_backend, "compile_seconds": round(first_call, 2),
                        "images_per_s": {k: round(v, 1) for k, v in rates.items()}, "max_relative_logit_diff": relative},
            "checks": {f"compiled logits equal eager ones (rel. diff <= {settings.feature_tolerance:g})":
                       relative <= settings.feature_tolerance}}


# -- precision: what bf16 autocast does to the probe tier's features and accuracies -------------------------

def bf16_features_probe(settings: Any, device: torch.device, work: Path) -> dict[str, Any]:
    """The probe tier's question in both precisions: one model's pooled pre-logits features of class-structured
    images computed in float32 (no TF32) and under bf16 autocast (the suite's GPU rule), each stored as the feature
    cache stores them (`feature_outputs`), and the suite's own few-shot and linear probes (`measure.readout`) fitted
    on each. bf16 is acceptable for the probe tier when the features agree within ``bf16_feature_tolerance``
    (median relative L2 difference) and the probes' accuracies within ``bf16_probe_tolerance``."""
    from measure import readout
    from measure.run.inference import feature_outputs

    model, weights = _feature_model(settings, device)
    images, labels = class_images(settings.probe_classes, settings.probe_per_class, settings.eval_resolution, seed=0)
    mean = std = torch.full((1, 3, 1, 1), 0.5 * 255, device=device)
    features: dict[str, np.ndarray] = {}
    matmul = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # true float32: no TF32 in the reference
    try:
        for name, bf16 in (("fp32", False), ("bf16", True)):
            parts = []
            with (torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False),
                  torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)):
                for batch in images.split(settings.eval_batch):
                    x = (batch.to(device).float() - mean) / std
                    parts.append(feature_outputs(_pre_logits(model, x))["features"].float().cpu().numpy())
            features[name] = np.concatenate(parts)
    finally:
        torch.set_float32_matmul_precision(matmul)
    fp32, bf16 = features["fp32"].astype(np.float64), features["bf16"].astype(np.float64)
    relative = np.linalg.norm(fp32 - bf16, axis=1) / np.maximum(np.linalg.norm(fp32, axis=1), 1e-12)
    train = (np.arange(len(labels)) // settings.probe_classes) % 2 == 0  # every other image of each class: half fit
    probes: dict[str, dict[str, float]] = {}
    predictions: dict[str, dict[str, np.ndarray]] = {}
    shots = min(5, settings.probe_per_class // 2)
    for name, x in (("fp32", fp32), ("bf16", bf16)):
        fewshot = readout.fewshot_probe(x[train], labels[train], x[~train], labels[~train], settings.probe_classes,
                                        shots=(shots,), seeds=1, primary_shots=shots, draws=1)
        linear = readout.linear_probe(x[train], labels[train], x[~train], labels[~train], settings.probe_classes)
        probes[name] = {f"{shots}-shot": fewshot.accuracy, "linear": linear.accuracy}
        predictions[name] = {f"{shots}-shot": fewshot.predictions, "linear": linear.predictions}
    gaps = {method: abs(probes["bf16"][method] - probes["fp32"][method]) for method in probes["fp32"]}
    chance = 1 / settings.probe_classes
    figures = {"model": settings.eval_model, "weights": weights, "resolution": settings.eval_resolution,
               "images": len(labels), "classes": settings.probe_classes, "test_images": int((~train).sum()),
               "inputs": "per class a fixed random 4x4 colour pattern, upsampled, plus uniform noise ±48 (seed 0)",
               "features": int(fp32.shape[1]), "median_relative_feature_diff": float(np.median(relative)),
               "max_relative_feature_diff": float(relative.max()),
               "min_cosine": float(np.min(np.sum(fp32 * bf16, axis=1) / np.maximum(
                   np.linalg.norm(fp32, axis=1) * np.linalg.norm(bf16, axis=1), 1e-12))),
               "probe_accuracy": probes, "probe_accuracy_gap": gaps,
               "probe_prediction_agreement": {m: float(np.mean(predictions["fp32"][m] == predictions["bf16"][m]))
                                              for m in probes["fp32"]}}
    checks = {
        "features are finite in both precisions": bool(np.isfinite(fp32).all() and np.isfinite(bf16).all()),
        "bf16 does round (the two precisions really differ)": bool(relative.max() > 0),
        f"median relative feature difference <= {settings.bf16_feature_tolerance:g}":
            float(np.median(relative)) <= settings.bf16_feature_tolerance,
        f"the fp32 probes read the classes (linear above {2 * chance:g})": probes["fp32"]["linear"] > 2 * chance,
        f"probe accuracies within {settings.bf16_probe_tolerance:g} of fp32's":
            all(gap <= settings.bf16_probe_tolerance for gap in gaps.values()),
    }
    return {"figures": figures, "checks": checks}


def class_images(classes: int, per_class: int, size: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """uint8 images whose class is visible: each class a fixed random 4x4 colour pattern upsampled to `size`, each
    image that pattern plus its own uniform noise. Labels 0..classes-1, `per_class` each, interleaved."""
    generator = torch.Generator().manual_seed(seed)
    patterns = torch.randint(48, 208, (classes, 3, 4, 4), generator=generator).float()
    patterns = torch.nn.functional.interpolate(patterns, size=(size, size), mode="bilinear", align_corners=False)
    labels = np.tile(np.arange(classes), per_class)
    noise = torch.randint(-48, 49, (len(labels), 3, size, size), generator=generator).float()
    return (patterns[torch.from_numpy(labels)] + noise).clamp(0, 255).to(torch.uint8), labels


def _feature_model(settings: Any, device: torch.device) -> tuple[torch.nn.Module, str]:
    """The eval model with random weights (seed 0): the same architecture and arithmetic the probe tier runs; its
    features are not a pre-trained model's, which the figures say."""
    torch.manual_seed(0)
    model = timm.create_model(settings.eval_model, pretrained=False, num_classes=0, img_size=settings.eval_resolution)
    return model.eval().to(device), "random init, seed 0 (the architecture's arithmetic, not pre-trained features)"


def _pre_logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model.forward_head(model.forward_features(x), pre_logits=True)
